"""A fast yes/no answer to "does this document satisfy its JSON Schema?", for the documents that do.

`jsonschema` walks a document keyword by keyword, building a new validator object for every value it
descends into and looking every `$ref` up in its registry again: checking the definition files of a
module was more than half the time of loading it. Almost every file a module is loaded from is valid,
and a valid file needs no error messages, so schema.check() first asks this checker, which compiles
each schema once into plain Python closures; only a document it finds invalid is walked again by
`jsonschema`, whose errors (and their wording, in schema.py) stay the only ones reported.

The checker answers exactly as `jsonschema` does (Draft 2020-12, no format assertions) for the
keywords it knows; a schema using any other keyword is not compiled (compile_schema raises
Unsupported) and is always left to `jsonschema`. tests/language/test_quickcheck.py compares the two
on every definition file of the repository and on many broken variants of them.
"""

from __future__ import annotations

import itertools
import numbers
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

Check = Callable[[Any], bool]

# keywords that only annotate: no effect on validity
_ANNOTATIONS = frozenset(
    {"$schema", "$id", "$defs", "$comment", "title", "description", "default", "examples", "deprecated"}
)


class Unsupported(Exception):
    """The schema uses something this checker does not implement: leave it to jsonschema."""


def _is_integer(x: Any) -> bool:
    if isinstance(x, bool):
        return False
    if isinstance(x, float):
        return x.is_integer()
    return isinstance(x, int)


def _is_number(x: Any) -> bool:
    return isinstance(x, numbers.Number) and not isinstance(x, bool)


# jsonschema's Draft 2020-12 type checker
_TYPES: dict[str, Check] = {
    "string": lambda x: isinstance(x, str),
    "object": lambda x: isinstance(x, dict),
    "array": lambda x: isinstance(x, list),
    "boolean": lambda x: isinstance(x, bool),
    "null": lambda x: x is None,
    "integer": _is_integer,
    "number": _is_number,
}


# jsonschema's equality (jsonschema._utils.equal / uniq): True and 1 differ, sequences and mappings compare deeply
def _unbool(x: Any, true: object = object(), false: object = object()) -> Any:
    if x is True:
        return true
    if x is False:
        return false
    return x


def _equal(one: Any, two: Any) -> bool:
    if one is two:
        return True
    if isinstance(one, str) or isinstance(two, str):
        return bool(one == two)
    if isinstance(one, Sequence) and isinstance(two, Sequence):
        return len(one) == len(two) and all(_equal(i, j) for i, j in zip(one, two, strict=True))
    if isinstance(one, Mapping) and isinstance(two, Mapping):
        return one.keys() == two.keys() and all(_equal(one[k], two[k]) for k in one)
    return bool(_unbool(one) == _unbool(two))


def _unique(items: list[Any]) -> bool:
    if all(isinstance(i, str) for i in items):
        return len(set(items)) == len(items)
    try:
        ordered = sorted(_unbool(i) for i in items)
        return not any(_equal(i, j) for i, j in itertools.pairwise(ordered))
    except (NotImplementedError, TypeError):
        seen: list[Any] = []
        for e in items:
            e = _unbool(e)
            if any(_equal(i, e) for i in seen):
                return False
            seen.append(e)
        return True


def _always(_: Any) -> bool:
    return True


def _never(_: Any) -> bool:
    return False


def _all(checks: list[Check]) -> Check:
    if not checks:
        return _always
    if len(checks) == 1:
        return checks[0]

    def every(x: Any) -> bool:
        for c in checks:
            if not c(x):
                return False
        return True

    return every


class _Compiler:
    def __init__(self, root: dict[str, Any]) -> None:
        self.root = root
        self.refs: dict[str, Check] = {}

    def ref(self, ref: str) -> Check:
        if not ref.startswith("#"):
            raise Unsupported(f"$ref {ref}")
        if ref in self.refs:
            return self.refs[ref]
        target: Any = self.root
        for part in ref[1:].split("/")[1:]:
            part = part.replace("~1", "/").replace("~0", "~")
            if "%" in part:
                raise Unsupported(f"$ref {ref}")
            if isinstance(target, dict) and part in target:
                target = target[part]
            elif isinstance(target, list) and part.isdigit() and int(part) < len(target):
                target = target[int(part)]
            else:
                raise Unsupported(f"$ref {ref}")
        if isinstance(target, dict) and "$id" in target and target is not self.root:
            raise Unsupported("an embedded $id")
        compiled: list[Check] = []

        def forward(x: Any) -> bool:  # for a schema that refers to itself, through the cell filled below
            return compiled[0](x)

        self.refs[ref] = forward
        compiled.append(self.compile(target))
        self.refs[ref] = compiled[0]
        return compiled[0]

    def compile(self, schema: Any) -> Check:
        if schema is True:
            return _always
        if schema is False:
            return _never
        if not isinstance(schema, dict):
            raise Unsupported(f"a schema that is a {type(schema).__name__}")
        unknown = set(schema) - _ANNOTATIONS - _KEYWORDS
        if unknown:
            raise Unsupported(", ".join(sorted(unknown)))
        if "$id" in schema and schema is not self.root:
            raise Unsupported("an embedded $id")
        checks: list[Check] = []
        if "type" in schema:
            checks.append(_type(schema["type"]))
        if "enum" in schema:
            checks.append(_enum(schema["enum"]))
        if "const" in schema:
            checks.append(_enum([schema["const"]]))
        for part in (self._object(schema), self._array(schema), _string(schema), _number(schema)):
            if part is not None:
                checks.append(part)
        if "$ref" in schema:
            checks.append(self.ref(schema["$ref"]))
        if "allOf" in schema:
            checks.append(_all([self.compile(s) for s in schema["allOf"]]))
        if "anyOf" in schema:
            alternatives = [self.compile(s) for s in schema["anyOf"]]
            checks.append(lambda x: any(c(x) for c in alternatives))
        if "oneOf" in schema:
            options = [self.compile(s) for s in schema["oneOf"]]
            checks.append(lambda x: sum(1 for c in options if c(x)) == 1)
        if "not" in schema:
            negated = self.compile(schema["not"])
            checks.append(lambda x: not negated(x))
        if "if" in schema:
            condition = self.compile(schema["if"])
            then = self.compile(schema.get("then", True))
            other = self.compile(schema.get("else", True))
            checks.append(lambda x: then(x) if condition(x) else other(x))
        return _all(checks)

    def _object(self, schema: dict[str, Any]) -> Check | None:
        if not _OBJECT_KEYWORDS & schema.keys():
            return None
        props = {k: self.compile(v) for k, v in schema.get("properties", {}).items()}
        extra_schema = schema.get("additionalProperties", True)
        extra = None if extra_schema is True else self.compile(extra_schema)
        required = tuple(schema.get("required", ()))
        min_props = schema.get("minProperties", 0)
        max_props = schema.get("maxProperties")
        names = self.compile(schema["propertyNames"]) if "propertyNames" in schema else None

        def check(x: Any) -> bool:
            if not isinstance(x, dict):
                return True
            for key in required:
                if key not in x:
                    return False
            if len(x) < min_props or (max_props is not None and len(x) > max_props):
                return False
            for key, value in x.items():
                c = props.get(key)
                if c is None:
                    if extra is not None and not extra(value):
                        return False
                elif not c(value):
                    return False
                if names is not None and not names(key):
                    return False
            return True

        return check

    def _array(self, schema: dict[str, Any]) -> Check | None:
        if not _ARRAY_KEYWORDS & schema.keys():
            return None
        each = self.compile(schema["items"]) if "items" in schema else None
        if isinstance(schema.get("items"), list):
            raise Unsupported("items as a list")
        least, most = schema.get("minItems", 0), schema.get("maxItems")
        unique = schema.get("uniqueItems", False)

        def check(x: Any) -> bool:
            if not isinstance(x, list):
                return True
            if len(x) < least or (most is not None and len(x) > most):
                return False
            if each is not None:
                for item in x:
                    if not each(item):
                        return False
            return not unique or _unique(x)

        return check


_OBJECT_KEYWORDS = frozenset(
    {"properties", "additionalProperties", "required", "minProperties", "maxProperties", "propertyNames"}
)
_ARRAY_KEYWORDS = frozenset({"items", "minItems", "maxItems", "uniqueItems"})
_STRING_KEYWORDS = frozenset({"pattern", "minLength", "maxLength"})
_NUMBER_KEYWORDS = frozenset({"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"})
_KEYWORDS = (
    _OBJECT_KEYWORDS
    | _ARRAY_KEYWORDS
    | _STRING_KEYWORDS
    | _NUMBER_KEYWORDS
    | {"type", "enum", "const", "$ref", "allOf", "anyOf", "oneOf", "not", "if", "then", "else"}
)


def _type(t: Any) -> Check:
    names = t if isinstance(t, list) else [t]
    for name in names:
        if name not in _TYPES:
            raise Unsupported(f"type {name!r}")
    if len(names) == 1:
        return _TYPES[names[0]]
    tests = [_TYPES[n] for n in names]
    return lambda x: any(c(x) for c in tests)


def _enum(values: list[Any]) -> Check:
    if all(isinstance(v, str) for v in values):
        allowed = frozenset(values)
        return lambda x: isinstance(x, str) and x in allowed
    return lambda x: any(_equal(v, x) for v in values)


def _string(schema: dict[str, Any]) -> Check | None:
    if not _STRING_KEYWORDS & schema.keys():
        return None
    search = re.compile(schema["pattern"]).search if "pattern" in schema else None
    least, most = schema.get("minLength", 0), schema.get("maxLength")

    def check(x: Any) -> bool:
        if not isinstance(x, str):
            return True
        if len(x) < least or (most is not None and len(x) > most):
            return False
        return search is None or search(x) is not None

    return check


def _number(schema: dict[str, Any]) -> Check | None:
    if not _NUMBER_KEYWORDS & schema.keys():
        return None
    low, high = schema.get("minimum"), schema.get("maximum")
    above, below = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")

    def check(x: Any) -> bool:
        if not _is_number(x):
            return True
        return not (
            (low is not None and x < low)
            or (high is not None and x > high)
            or (above is not None and x <= above)
            or (below is not None and x >= below)
        )

    return check


def compile_schema(schema: dict[str, Any]) -> Check:
    """A function telling whether a document satisfies `schema` (refs only within it); raises
    Unsupported for a schema using what this checker does not implement."""
    return _Compiler(schema).compile(schema)
