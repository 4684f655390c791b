"""Turn a submitted answer into the value expressions see, or say why it cannot be one."""

from __future__ import annotations

import re
import secrets
from typing import TYPE_CHECKING, Any

from engine.expressions.values import as_number, parse_date, tidy

if TYPE_CHECKING:
    from engine.language.model import Field

_DATETIME = re.compile(
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?(Z|[+-][0-9]{2}:?[0-9]{2})?$"
)


def N_(message: str) -> str:
    """Mark a message for extraction into the interface catalog; it is translated where it is shown."""
    return message


_LOCAL_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")


#: the key of a subform row's stable id: answers of columns a user cannot see follow their row
ROW_ID = "_row"
_ROW_ID = re.compile(r"^[A-Za-z0-9_-]{1,36}$")
#: the largest number an answer may hold: exact in every evaluator (JavaScript's safe integers)
MAX_NUMBER = 2**53


def valid_row_id(value: Any) -> bool:
    return isinstance(value, str) and _ROW_ID.match(value) is not None


def new_row_id() -> str:
    return secrets.token_hex(6)


def text_problem(value: str) -> str | None:
    """Why a text cannot be stored as it is (NUL characters, broken surrogates), or None."""
    if "\x00" in value:
        return N_("Remove the invisible control character from this answer.")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return N_("This answer holds a broken character; type it again.")
    return None


def is_empty(value: Any) -> bool:
    return value is None or value == "" or value == []


def normalize(f: Field, value: Any) -> tuple[Any, str | None]:
    """(value, None) when `value` is a valid answer for `f`, else ('', what is wrong)."""
    if is_empty(value):
        return ([] if f.type == "subform" else ""), None
    t = f.type
    if isinstance(value, str) and t in ("integer", "decimal", "date", "datetime"):
        value = value.translate(_LOCAL_DIGITS).strip()  # Arabic-Indic digits typed by users read as 0-9
    if isinstance(value, str) and (problem := text_problem(value)):
        return ("" if t != "subform" else []), problem
    if t in ("text", "textarea"):
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            return "", N_("Expected a text.")
        return (value if isinstance(value, str) else str(tidy(value))), None
    if t == "integer":
        n = as_number(value)
        if n is None or (isinstance(n, float) and not n.is_integer()):
            return "", N_("Enter a whole number.")
        if abs(n) >= MAX_NUMBER:
            return "", N_("This number is too large.")
        return int(n), None
    if t == "decimal":
        n = as_number(value)
        if n is None:
            return "", N_("Enter a number.")
        if abs(n) >= MAX_NUMBER:
            return "", N_("This number is too large.")
        return tidy(n), None
    if t == "date":
        if isinstance(value, str) and re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value) and parse_date(value):
            return value, None
        return "", N_("Enter a date as YYYY-MM-DD.")
    if t == "datetime":
        if isinstance(value, str) and _DATETIME.match(value) and parse_date(value[:10]):
            return value, None
        return "", N_("Enter a date and time as YYYY-MM-DDTHH:MM.")
    if t == "yes_no":
        if value in ("yes", "no"):
            return value, None
        return "", N_("Answer 'yes' or 'no'.")
    if t == "select_one":
        if isinstance(value, str):
            return value, None
        return "", N_("Choose one of the options.")
    if t == "select_multiple":
        items = value.split() if isinstance(value, str) else value
        if isinstance(items, list) and all(isinstance(x, str) for x in items):
            unique = list(dict.fromkeys(items))
            return (unique if unique else ""), None
        return "", N_("Choose options from the list.")
    if t == "subform":
        if isinstance(value, list) and all(isinstance(r, dict) for r in value):
            return value, None
        return [], N_("Expected a list of rows.")
    return "", None  # note, calculate: no answer of their own
