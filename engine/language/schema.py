"""JSON Schema checks of definition files, with findings in implementer language.

Validators are built once per process (a Registry is always given, so no `$ref` is ever fetched
over the network) and each error is placed at the line and column of the offending key or value.
A document is first checked by the compiled checker of quickcheck.py, which only says whether it is
valid and is much faster; jsonschema walks only the documents it finds invalid, for their errors.
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource

from engine.diagnostics import Report, did_you_mean
from engine.language.quickcheck import Check, Unsupported, compile_schema
from engine.language.yamlfile import _TRUTHY_11, YamlDoc

ID_PATTERN = "^[a-z][a-z0-9_]*$"
_PATTERN_WORDS = {
    "^[a-z]{2,3}(_[A-Z]{2})?$": ("a language code", "use a code such as 'en', 'fr', 'ar', 'es' or 'fr_CD'"),
    "^[a-z][a-z0-9_]*(\\.[a-z][a-z0-9_]*)?$": (
        "a permission",
        "permissions are lower-case, like case.read, incident.create or export (see docs/definitions.md)",
    ),
    "^[0-9]{4}-[0-9]{2}-[0-9]{2}$": ("a date", "write the date as 'YYYY-MM-DD', in quotes"),
    "^[a-z][a-z0-9_]*(\\[[0-9]+\\]\\.[a-z][a-z0-9_]*)*$": (
        "a field path",
        "write field_id, or subform_id[0].field_id for a field of a subform row",
    ),
}
KINDS = (
    "module",
    "form",
    "lookup",
    "workflow",
    "roles",
    "scenarios",
    "demo",
    "report",
    "export",
    "form_patch",
    "lookup_patch",
    "workflow_patch",
    "roles_patch",
)
_TYPE_WORDS = {
    "string": "text",
    "number": "a number",
    "integer": "a whole number",
    "boolean": "true or false",
    "array": "a list",
    "object": "a mapping (key: value lines)",
    "null": "empty",
}


def schema_path(kind: str) -> str:
    return str(resources.files("engine.language") / "schemas" / f"{kind}.schema.json")


@cache
def load_schema(kind: str) -> dict[str, Any]:
    text = (resources.files("engine.language") / "schemas" / f"{kind}.schema.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


@cache
def validator(kind: str) -> Draft202012Validator:
    schemas = [load_schema(k) for k in KINDS]
    registry: Registry[Any] = Registry().with_resources((s["$id"], Resource.from_contents(s)) for s in schemas)
    return Draft202012Validator(load_schema(kind), registry=registry)


@cache
def quick_check(kind: str) -> Check | None:
    """The fast validity check of `kind` (quickcheck.py); None where its schema is left to jsonschema."""
    try:
        return compile_schema(load_schema(kind))
    except (Unsupported, re.error):
        return None


def _describe(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the text '{value}'" if len(value) < 40 else "a text"
    if isinstance(value, list):
        return "a list"
    return "a mapping"


def _types(schema: dict[str, Any]) -> list[str]:
    t = schema.get("type")
    if isinstance(t, list):
        return [str(x) for x in t]
    return [str(t)] if t else []


def _leaf(error: ValidationError) -> ValidationError:
    """For oneOf/anyOf, prefer the alternative that got furthest or matches the value's kind."""
    while error.validator in ("oneOf", "anyOf") and error.context:
        deeper = [e for e in error.context if len(e.absolute_path) > len(error.absolute_path)]
        if deeper:
            error = max(deeper, key=lambda e: len(e.absolute_path))
            continue
        break
    return error


def check(doc: YamlDoc, kind: str, report: Report) -> bool:
    """Report every schema breach in `doc`; True if there was none."""
    fast = quick_check(kind)
    if fast is not None:
        try:
            if fast(doc.data):
                return True  # valid: jsonschema would find nothing to report
        except RecursionError:
            pass  # nested too deep for the fast check: jsonschema decides
    ok = True
    for error in sorted(validator(kind).iter_errors(doc.data), key=lambda e: list(map(str, e.absolute_path))):
        ok = False
        _report(doc, _leaf(error), report)
    return ok


def _report(doc: YamlDoc, error: ValidationError, report: Report) -> None:
    path = tuple(error.absolute_path)
    where = path[-1] if path else None
    name = f"'{where}'" if isinstance(where, str) else "this value"
    v = error.validator
    schema = error.schema if isinstance(error.schema, dict) else {}
    if v == "required":
        missing = error.message.split("'")[1] if "'" in error.message else "?"
        report.add(
            doc.at(path), "schema.required", f"the required key '{missing}' is missing here", f"add '{missing}: …'"
        )
    elif v == "additionalProperties":
        allowed = list(schema.get("properties", {}))
        extras = [k for k in (error.instance or {}) if k not in allowed] if isinstance(error.instance, dict) else []
        for key in extras:
            hint = did_you_mean(key, allowed) or (
                f"the keys allowed here are: {', '.join(allowed)}" if allowed else None
            )
            report.add(doc.at((*path, key), key=True), "schema.unknown-key", f"unknown key '{key}'", hint)
    elif v == "type" or (v in ("oneOf", "anyOf") and not error.context):
        wanted = _types(schema) or ["the documented kind"]
        words = " or ".join(_TYPE_WORDS.get(t, t) for t in wanted)
        hint = None
        if isinstance(error.instance, str) and _TRUTHY_11.match(error.instance) and "boolean" in wanted:
            hint = "Sanad reads only true and false as booleans: write true or false"
        elif isinstance(error.instance, (int, float)) and "string" in wanted:
            hint = f"quote it: '{error.instance}'"
        elif error.instance is None:
            hint = "write a value after the colon; inside { } a comma ends the value, so quote texts with commas"
        report.add(doc.at(path), "schema.type", f"{name} must be {words}, not {_describe(error.instance)}", hint)
    elif v in ("oneOf", "anyOf"):
        alternatives = sorted(
            {w for sub in error.context for w in _types(sub.schema if isinstance(sub.schema, dict) else {})}
        )
        words = " or ".join(_TYPE_WORDS.get(t, t) for t in alternatives) or "one of the documented forms"
        hint = None
        if isinstance(error.instance, str) and _TRUTHY_11.match(error.instance):
            hint = "Sanad reads only true and false as booleans: write true or false, or an expression"
        report.add(doc.at(path), "schema.type", f"{name} must be {words}, not {_describe(error.instance)}", hint)
    elif v in ("enum", "const"):
        options = [str(o) for o in schema.get("enum", [schema.get("const")])]
        hint = did_you_mean(str(error.instance), options) if isinstance(error.instance, str) else None
        report.add(
            doc.at(path),
            "schema.enum",
            f"{name} is {_describe(error.instance)}, which is not one of: {', '.join(options)}",
            hint or f"use one of: {', '.join(options)}",
        )
    elif v == "pattern":
        value = str(error.instance)
        pattern = str(error.validator_value)
        if pattern == ID_PATTERN:
            fixed = "".join(c if c.isalnum() else "_" for c in value.lower()).strip("_")
            if fixed and not fixed[0].isalpha():
                fixed = "x_" + fixed
            report.add(
                doc.at(path),
                "schema.pattern",
                f"'{value}' is not a valid id: use lower-case letters, digits and _, starting with a letter",
                f"for example '{fixed}'" if fixed else None,
            )
        else:
            what, hint = _PATTERN_WORDS.get(pattern, ("the expected form", f"it must match {pattern}"))
            report.add(doc.at(path), "schema.pattern", f"'{value}' is not {what}", hint)
    elif v in ("minItems", "minProperties", "minLength"):
        hint = "add at least one entry"
        if path[-2:-1] == ("expect",):
            hint = "an empty list checks nothing: leave the key out" + (
                ", or write valid: true to expect no errors" if where == "errors" else ""
            )
        report.add(doc.at(path), "schema.invalid", f"{name} must not be empty", hint)
    elif v == "uniqueItems":
        report.add(doc.at(path), "schema.invalid", f"{name} lists the same value twice", "remove the repeated value")
    else:
        report.add(doc.at(path), "schema.invalid", f"{name}: {error.message}")
