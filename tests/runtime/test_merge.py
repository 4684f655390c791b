"""The merge rules of offline and stale edits, on the vectors the browser's copy also passes."""

from __future__ import annotations

import os
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from engine.runtime.merge import merge

VECTORS = os.path.join(os.path.dirname(os.path.dirname(__file__)), "conformance", "merge.yaml")
with open(VECTORS, encoding="utf-8") as fh:
    CASES: list[dict[str, Any]] = yaml.safe_load(fh)["cases"]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_merge_vector(case: dict[str, Any]) -> None:
    write, conflicts = merge(case["base"], case["theirs"], case["changes"])
    assert write == case["expect"]["write"]
    assert [c.path for c in conflicts] == case["expect"]["conflicts"]


answers = st.dictionaries(st.sampled_from(["a", "b", "c", "d"]), st.one_of(st.none(), st.integers(0, 3)))


@given(answers, answers)
def test_an_edit_on_the_current_copy_is_written_as_it_is(theirs: dict[str, Any], changes: dict[str, Any]) -> None:
    write, conflicts = merge(theirs, theirs, changes)
    assert conflicts == []
    assert write == {k: v for k, v in changes.items() if v != theirs.get(k) and not (v is None and k not in theirs)}


@given(answers, answers, answers)
def test_nothing_others_changed_is_overwritten_silently(
    base: dict[str, Any], theirs: dict[str, Any], changes: dict[str, Any]
) -> None:
    write, conflicts = merge(base, theirs, changes)
    conflicted = {c.path for c in conflicts}
    for k in write:
        assert k not in conflicted
        changed_by_others = (theirs.get(k) or None) != (base.get(k) or None)
        assert not changed_by_others or (write[k] or None) == (theirs.get(k) or None)
