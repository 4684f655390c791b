"""The expression conformance vectors (tests/conformance/expressions.yaml) on the Python evaluator."""

from __future__ import annotations

import math
from typing import Any

import pytest

from tests.conformance_support import catalogue, load_vectors, run_vector

DATA = load_vectors()
RT = catalogue(DATA)


def _same(want: Any, got: Any) -> bool:
    if isinstance(want, bool) or isinstance(got, bool):
        return want is got
    if isinstance(want, (int, float)) and isinstance(got, (int, float)):
        return math.isclose(want, got, rel_tol=1e-9, abs_tol=1e-9)
    return bool(want == got) and type(want) is type(got)


def test_there_are_enough_vectors() -> None:
    assert len(DATA["vectors"]) >= 150
    assert len({v["name"] for v in DATA["vectors"]}) == len(DATA["vectors"])


@pytest.mark.parametrize("vector", DATA["vectors"], ids=[v["name"] for v in DATA["vectors"]])
def test_vector(vector: dict[str, Any]) -> None:
    kind, result = run_vector(RT, vector, DATA["today"])
    if "error" in vector:
        assert vector["error"] in result, f"{vector['expr']!r}: expected {vector['error']}, got {result}"
    else:
        assert kind == "value", f"{vector['expr']!r} did not compile: {result}"
        assert _same(vector["expect"], result), f"{vector['expr']!r}: expected {vector['expect']!r}, got {result!r}"
