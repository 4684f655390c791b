"""The shipped JSON Schemas are valid and describe the example modules."""

from __future__ import annotations

import glob
import json
import os

import pytest
from jsonschema import Draft202012Validator

from engine.language import schema
from tests.conftest import ROOT


@pytest.mark.parametrize("kind", schema.KINDS)
def test_schema_is_valid_draft_2020_12(kind: str) -> None:
    data = schema.load_schema(kind)
    Draft202012Validator.check_schema(data)
    assert data["$id"] == f"urn:sanad:{kind}"
    assert os.path.exists(schema.schema_path(kind))


def test_schemas_are_self_contained_for_editors() -> None:
    for path in glob.glob(os.path.join(ROOT, "engine", "schemas", "*.json")):
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
        refs = [r for r in _refs(data) if not r.startswith("#")]
        assert refs == [], f"{path} refers outside itself: {refs}"


def _refs(node: object) -> list[str]:
    if isinstance(node, dict):
        return [v for k, v in node.items() if k == "$ref"] + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []
