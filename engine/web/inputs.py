"""Reading what a client sends, strictly: every number, page, date and id parsed to its exact form
(ASCII digits, within the range the databases hold), every text free of NUL characters and lone
surrogates, JSON nested no deeper than any real document. Bad input is a clear 4xx, never a 500."""

from __future__ import annotations

import json
import re
from typing import Any

from engine.service.errors import BadRequest, Invalid, NotFound

MAX_ID = 2**53  # ids, versions: exact in JSON numbers everywhere, and within SQLite's integers
MAX_DEPTH = 32  # JSON nesting: a record with subforms is 4 deep
_DIGITS = re.compile(r"^[0-9]{1,16}$")


def positive_id(raw: str, what: str) -> int:
    """An id in a URL; anything else is reported as not found (there is no such thing)."""
    if not _DIGITS.match(raw) or not 0 < int(raw) < MAX_ID:
        raise NotFound(f"there is no such {what}")
    return int(raw)


def whole_number(raw: str | None, name: str, *, default: int, low: int, high: int) -> int:
    if raw is None or raw == "":
        return default
    if not _DIGITS.match(raw) or not low <= int(raw) <= high:
        raise BadRequest(f"'{name}' must be a whole number from {low} to {high}")
    return int(raw)


def bad_text(value: str) -> str | None:
    """Why a text cannot be stored (None when it can)."""
    if "\x00" in value:
        return "it holds a NUL character"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "it holds a broken character (a lone surrogate)"
    return None


def check_texts(value: Any, where: str = "") -> None:
    """Refuse (422, naming the field) any text in `value`, at any depth, that cannot be stored."""
    if isinstance(value, str):
        problem = bad_text(value)
        if problem:
            field = where or "body"
            raise Invalid(
                f"'{field}' cannot be saved: {problem}",
                errors=[{"field": field, "message": f"Remove the invisible character: {problem}."}],
            )
    elif isinstance(value, dict):
        for k, v in value.items():
            check_texts(k, where)
            check_texts(v, f"{where}.{k}" if where else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            check_texts(v, f"{where}[{i}]")


def _depth(raw: bytes) -> int:
    """The deepest nesting of [ and { in a JSON text (outside strings), in one pass."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            deepest = max(deepest, depth)
            if deepest > MAX_DEPTH:
                return deepest
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return deepest


def parse_json(raw: bytes) -> dict[str, Any]:
    """A JSON object from a request body: finite numbers, no deeper than MAX_DEPTH, clean texts."""
    if _depth(raw) > MAX_DEPTH:
        raise BadRequest(f"the JSON is nested more than {MAX_DEPTH} levels deep")
    try:
        data = json.loads(raw or b"{}", parse_constant=_no_constant, parse_float=_finite)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise BadRequest("the body is not valid JSON (numbers must be finite, with at most 4,300 digits)") from None
    if not isinstance(data, dict):
        raise BadRequest("the body must be a JSON object")
    check_texts(data)
    return data


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed")


def _finite(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError("number out of range")
    return value
