"""Runtime semantics of expression values (docs/expressions.md, "Semantics").

Values are '' (unanswered), bool, int/float, str (texts, dates as ISO text), list[str] (a
select_multiple) or list[dict] (subform rows). These helpers never raise for odd inputs.
"""

from __future__ import annotations

import math
import re
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

_NUMERIC = re.compile(r"^\s*-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*$")
_DATE = re.compile(r"^([0-9]{4})-([0-9]{2})-([0-9]{2})")


def truth(v: Any) -> bool:
    if v is True or v is False:
        return v
    if v == "" or v is None:
        return False
    if isinstance(v, (int, float)):
        return v != 0 and not (isinstance(v, float) and math.isnan(v))
    if isinstance(v, list):
        return len(v) > 0
    return True


def is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def as_number(v: Any) -> int | float | None:
    """The number `v` stands for, or None ('' , booleans, lists and non-numeric texts)."""
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return v
    if isinstance(v, str) and _NUMERIC.match(v):
        text = v.strip()
        try:
            return float(text) if "." in text else int(text)
        except ValueError:  # more digits than Python converts (over 4,300): not a usable number
            return None
    return None


def tidy(n: float | int) -> int | float | str:
    """Integral floats become ints, so 6 div 2 is 3 in every evaluator and in JSON; a result too
    large to be a number (infinity) is unanswered ('')."""
    if isinstance(n, float):
        if not math.isfinite(n):
            return ""
        if n.is_integer() and abs(n) < 2**53:
            return int(n)
    return n


def eq(a: Any, b: Any) -> bool:
    if type(a) is type(b) and not isinstance(a, list):
        return bool(a == b)
    if isinstance(a, bool) or isinstance(b, bool):
        return truth(a) == truth(b)
    if isinstance(a, list) or isinstance(b, list):
        if isinstance(a, list) and isinstance(b, list):
            return sorted(map(str, a)) == sorted(map(str, b))
        lst, other = (a, b) if isinstance(a, list) else (b, a)
        if other == "" or other is None:
            return len(lst) == 0
        return len(lst) == 1 and str(lst[0]) == _text(other)
    if a is None:
        a = ""
    if b is None:
        b = ""
    if is_number(a) or is_number(b):
        na, nb = as_number(a), as_number(b)
        return na is not None and nb is not None and na == nb
    return _text(a) == _text(b)


def _text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return str(tidy(v))
    return str(v)


def order(a: Any, b: Any) -> int | None:
    """-1, 0 or 1 comparing a with b, or None when they cannot be ordered."""
    if a == "" or b == "" or a is None or b is None or isinstance(a, (bool, list)) or isinstance(b, (bool, list)):
        return None
    if is_number(a) or is_number(b):
        na, nb = as_number(a), as_number(b)
        if na is None or nb is None:
            return None
        return (na > nb) - (na < nb)
    if isinstance(a, str) and isinstance(b, str):
        na, nb = as_number(a), as_number(b)
        if na is not None and nb is not None:
            return (na > nb) - (na < nb)
        return (a > b) - (a < b)
    return None


def arith(op: str, a: Any, b: Any) -> Any:
    x, y = as_number(a), as_number(b)
    if x is None or y is None:
        return ""
    if op == "+":
        return tidy(x + y)
    if op == "-":
        return tidy(x - y)
    if op == "*":
        return tidy(x * y)
    if op == "div":
        return "" if y == 0 else tidy(x / y)
    if op == "mod":
        if y == 0:
            return ""
        if isinstance(x, int) and isinstance(y, int):
            return int(math.fmod(x, y))
        return tidy(math.fmod(x, y))
    raise ValueError(op)


def negate(a: Any) -> Any:
    x = as_number(a)
    return "" if x is None else tidy(-x)


def parse_date(v: Any) -> date | None:
    if not isinstance(v, str):
        return None
    m = _DATE.match(v)
    if not m:
        return None
    try:
        return date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return None


def age(d: Any, today: str) -> Any:
    born, now = parse_date(d), parse_date(today)
    if born is None or now is None:
        return ""
    return now.year - born.year - ((now.month, now.day) < (born.month, born.day))


def years_between(a: Any, b: Any) -> Any:
    """Whole years from date a to date b (negative when b is earlier), as age() counts them."""
    d1, d2 = parse_date(a), parse_date(b)
    if d1 is None or d2 is None:
        return ""
    if d2 < d1:
        return -(d1.year - d2.year - ((d1.month, d1.day) < (d2.month, d2.day)))
    return d2.year - d1.year - ((d2.month, d2.day) < (d1.month, d1.day))


def days_between(a: Any, b: Any) -> Any:
    d1, d2 = parse_date(a), parse_date(b)
    if d1 is None or d2 is None:
        return ""
    return (d2 - d1).days


def round_half_away(x: Any, digits: Any = 0) -> Any:
    n, d = as_number(x), as_number(digits)
    if n is None or d is None:
        return ""
    try:
        q = Decimal(1).scaleb(-int(d))
        return tidy(float(Decimal(repr(n)).quantize(q, rounding=ROUND_HALF_UP)))
    except (ArithmeticError, ValueError):  # InvalidOperation, Overflow, …: not a usable number
        return ""


def trunc(x: Any) -> Any:
    n = as_number(x)
    return "" if n is None else int(n)


def text_of(v: Any) -> str:
    if isinstance(v, list):
        return " ".join(map(str, v))
    return _text(v)
