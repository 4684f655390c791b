"""Reading what a client sends, strictly: every number, page, date and id parsed to its exact form
(ASCII digits, within the range the databases hold), every text free of NUL characters and lone
surrogates, JSON nested no deeper than any real document. Bad input is a clear 4xx, never a 500."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from engine.service.errors import BadRequest, Invalid, NotFound, ServiceError

#: ids and versions: below 2**31, the 32-bit integer columns that hold them on PostgreSQL (a larger
#: one was a 500 there, found by tests/security/test_20_api_fuzz.py), exact in JSON numbers everywhere
MAX_ID = 2**31
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


def moment(raw: str | None, name: str) -> datetime | None:
    """A date or a date and time in a query (`2026-11-01`, `2026-11-01T08:00`), in UTC unless it
    says otherwise; anything else is refused with a message, never silently ignored."""
    if raw is None or raw == "":
        return None
    try:
        at = datetime.fromisoformat(raw)
    except ValueError:
        raise BadRequest(f"'{name}' takes a date like 2026-11-01 or 2026-11-01T08:00") from None
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


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


class UnsupportedMediaType(ServiceError):
    status = 415


def is_json(content_type: str | None) -> bool:
    """Is this Content-Type JSON (application/json, with or without parameters such as charset)?"""
    return (content_type or "").split(";", 1)[0].strip().lower() == "application/json"


def parse_json(raw: bytes, content_type: str | None) -> dict[str, Any]:
    """A JSON object from a request body: finite numbers, no deeper than MAX_DEPTH, clean texts.

    A body that is not declared as JSON is refused (415) whatever it holds: a browser sends JSON
    only after asking the server (a CORS preflight), so no page of another site can post it. An
    empty body is an empty object, with or without a Content-Type."""
    if raw.strip() and not is_json(content_type):
        raise UnsupportedMediaType("send the body as JSON, with Content-Type: application/json")
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


# -- what a JSON body holds ------------------------------------------------------------------------------
def _and(keys: tuple[str, ...]) -> str:
    return keys[0] if len(keys) == 1 else ", ".join(keys[:-1]) + " and " + keys[-1]


def _takes(required: tuple[str, ...], optional: tuple[str, ...]) -> str:
    if required and optional:
        return f"send {_and(required)}, and optionally {_and(optional)}"
    if required:
        return f"send {_and(required)}"
    return f"send nothing, or {_and(optional)}" if optional else "send nothing"


def check_keys(body: dict[str, Any], required: tuple[str, ...], optional: tuple[str, ...] = ()) -> None:
    """Refuse (400) a body holding a key the address does not take, or missing one it needs: a
    misspelt key is an error, never silently ignored."""
    extra = sorted(set(body) - {*required, *optional})
    if extra:
        raise BadRequest(f"unknown keys: {', '.join(extra)} ({_takes(required, optional)})")
    missing = [k for k in required if k not in body]
    if missing:
        raise BadRequest(f"'{missing[0]}' is missing ({_takes(required, optional)})")


def optional_text(body: dict[str, Any], key: str) -> str | None:
    """A text, or None when the key is missing or null; anything else is a 400."""
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise BadRequest(f"'{key}' must be a text")
    return value


def optional_texts(body: dict[str, Any], key: str) -> list[str] | None:
    """A list of texts, or None when the key is missing or null; anything else is a 400."""
    value = body.get(key)
    if value is not None and not (isinstance(value, list) and all(isinstance(x, str) for x in value)):
        raise BadRequest(f"'{key}' must be a list of texts")
    return value


def version_of(body: dict[str, Any]) -> int:
    """The `version` a change was made on: a whole number from 1, within the database's integers."""
    value = body.get("version")
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value < MAX_ID:
        raise BadRequest(f"'version' (the version you edited) is required, as a whole number from 1 to {MAX_ID - 1}")
    return value
