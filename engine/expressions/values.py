"""Runtime semantics of expression values (docs/expressions.md, "Semantics").

Values are '' (unanswered), bool, int/float, str (texts, dates as ISO text), list[str] (a
select_multiple) or list[dict] (subform rows). These helpers never raise for odd inputs.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
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
    """-1, 0 or 1 comparing a with b, or None when they cannot be ordered.

    A boolean orders as a number (true 1, false 0), as in XPath; then the other side must read as a
    number too."""
    if a == "" or b == "" or a is None or b is None or isinstance(a, list) or isinstance(b, list):
        return None
    if isinstance(a, bool) or isinstance(b, bool):
        na = int(a) if isinstance(a, bool) else as_number(a)
        nb = int(b) if isinstance(b, bool) else as_number(b)
        if na is None or nb is None:
            return None
        return (na > nb) - (na < nb)
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
        if op in ("+", "-"):
            return date_arith(op, a, b)
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


_EPOCH = date(1970, 1, 1).toordinal()


def day_number(v: Any) -> int | None:
    """Days since 1970-01-01 of a date (a date-time counts by its date), or None."""
    d = parse_date(v)
    return None if d is None else d.toordinal() - _EPOCH


def date_of_day(n: Any) -> str:
    """The date `n` days after 1970-01-01 (a fraction of a day is dropped toward the past), or ''."""
    x = as_number(n)
    if x is None:
        return ""
    try:
        return date.fromordinal(math.floor(x) + _EPOCH).isoformat()
    except (ValueError, OverflowError):  # before year 1 or after 9999
        return ""


def date_arith(op: str, a: Any, b: Any) -> Any:
    """A date plus or minus a number of days is a date; a date minus a date is a number of days."""
    da, db = day_number(a), day_number(b)
    x, y = as_number(a), as_number(b)
    if da is not None and db is not None:
        return da - db if op == "-" else ""
    if da is not None and y is not None:
        return date_of_day(da + y if op == "+" else da - y)
    if db is not None and x is not None and op == "+":
        return date_of_day(x + db)
    return ""


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


# --- functions of numbers and texts (docs/expressions.md, "Functions") -----------------------


def number(v: Any) -> Any:
    """number(): a number; true/false are 1/0; a date is its day count (since 1970-01-01)."""
    if isinstance(v, bool):
        return int(v)
    n = as_number(v)
    if n is not None:
        return n
    d = day_number(v)
    return "" if d is None else d


def floor(v: Any) -> Any:
    n = as_number(v)
    return "" if n is None else math.floor(n)


def absolute(v: Any) -> Any:
    n = as_number(v)
    return "" if n is None else tidy(abs(n))


def power(a: Any, b: Any) -> Any:
    x, y = as_number(a), as_number(b)
    if x is None or y is None:
        return ""
    try:
        return tidy(math.pow(x, y))
    except (ValueError, OverflowError):
        return ""


def sqrt(v: Any) -> Any:
    n = as_number(v)
    return "" if n is None or n < 0 else tidy(math.sqrt(n))


def log(v: Any) -> Any:
    n = as_number(v)
    return "" if n is None or n <= 0 else tidy(math.log(n))


def _unary(op: Callable[[float], float]) -> Callable[[Any], Any]:
    """A one-number function (ODK's sin(), exp()…): unanswered for a non-number or outside its domain."""

    def f(v: Any) -> Any:
        n = as_number(v)
        if n is None:
            return ""
        try:
            return tidy(op(n))
        except (ValueError, OverflowError):
            return ""

    return f


sin, cos, tan = _unary(math.sin), _unary(math.cos), _unary(math.tan)
asin, acos, atan = _unary(math.asin), _unary(math.acos), _unary(math.atan)
exp, exp10, log10 = _unary(math.exp), _unary(lambda n: math.pow(10, n)), _unary(math.log10)


def atan2(a: Any, b: Any) -> Any:
    y, x = as_number(a), as_number(b)
    return "" if x is None or y is None else tidy(math.atan2(y, x))


def boolean_from_string(v: Any) -> bool:
    return text_of(v) in ("true", "1")


def _index(v: Any) -> int | None:
    n = as_number(v)
    return None if n is None else math.floor(n)


def substr(s: Any, start: Any, end: Any = None) -> str:
    """substr(s, start, end): code points start (from 0) up to end (excluded), clamped to the text."""
    t = text_of(s)
    i = _index(start)
    j = len(t) if end is None else _index(end)
    if i is None or j is None:
        return ""
    i, j = max(0, min(i, len(t))), max(0, min(j, len(t)))
    return t[i:j] if i < j else ""


def substring_before(s: Any, t: Any) -> str:
    a, b = text_of(s), text_of(t)
    k = a.find(b)
    return "" if k < 0 else a[:k]


def substring_after(s: Any, t: Any) -> str:
    a, b = text_of(s), text_of(t)
    k = a.find(b)
    return "" if k < 0 else a[k + len(b) :]


def translate(s: Any, src: Any, dst: Any) -> str:
    a, f, t = text_of(s), text_of(src), text_of(dst)
    table: dict[str, str] = {}
    for k, ch in enumerate(f):
        if ch not in table:
            table[ch] = t[k] if k < len(t) else ""
    return "".join(table.get(ch, ch) for ch in a)


_XML_SPACE = re.compile(r"[ \t\r\n]+")


def normalize_space(s: Any) -> str:
    return _XML_SPACE.sub(" ", text_of(s)).strip(" ")


def selected_at(sel: Any, n: Any) -> str:
    items = sel if isinstance(sel, list) else text_of(sel).split() if isinstance(sel, str) else []
    k = as_number(n)
    if k is None or k != math.floor(k) or k < 0 or k >= len(items):
        return ""
    return str(items[int(k)])


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_TIME = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ]([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:\.([0-9]+))?)?")


def format_date(v: Any, fmt: Any) -> str:
    """ODK's format-date(): %Y %y %m %n %b %d %e %a %H %h %M %S %3 (English names); '' if v is no date."""
    d = parse_date(v)
    if d is None:
        return ""
    m = _TIME.match(v)
    hh, mm, ss, frac = (int(m[1]), int(m[2]), int(m[3] or 0), (m[4] or "") + "000") if m else (0, 0, 0, "000")
    f = text_of(fmt)
    out = []
    i = 0
    while i < len(f):
        ch = f[i]
        if ch != "%" or i + 1 >= len(f):
            out.append(ch)
            i += 1
            continue
        c = f[i + 1]
        i += 2
        rep = {
            "Y": f"{d.year:04d}",
            "y": f"{d.year % 100:02d}",
            "m": f"{d.month:02d}",
            "n": str(d.month),
            "b": _MONTHS[d.month - 1],
            "d": f"{d.day:02d}",
            "e": str(d.day),
            "a": _DAYS[d.weekday()],
            "H": f"{hh:02d}",
            "h": str(hh),
            "M": f"{mm:02d}",
            "S": f"{ss:02d}",
            "3": frac[:3],
            "%": "%",
        }.get(c)
        out.append(rep if rep is not None else "%" + c)
    return "".join(out)


# --- date-times as day counts, now(), uuid(), random() (docs/expressions.md, "Functions") -----

_DATETIME = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}(?:[T ]([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:\.[0-9]+)?)?)?")


def decimal_date_time(v: Any) -> Any:
    """decimal-date-time(): days since 1970-01-01T00:00:00, with the time of day as a fraction
    (whole seconds: a fraction of a second is dropped); '' if v is not a date or date-time."""
    d = day_number(v)
    if d is None:
        return ""
    m = _DATETIME.match(v)
    hh, mm, ss = (int(m[1] or 0), int(m[2] or 0), int(m[3] or 0)) if m else (0, 0, 0)
    if hh > 23 or mm > 59 or ss > 59:
        return ""
    return tidy(d + (hh * 3600 + mm * 60 + ss) / 86400)


def date_time(v: Any) -> str:
    """date-time(): the date-time `n` days after 1970-01-01T00:00:00 (fractions are the time of day,
    rounded to the nearest second, a half second up), written YYYY-MM-DDTHH:MM:SS; a date or date-time
    text is written the same way; '' otherwise."""
    n = v if is_number(v) else as_number(v)
    if n is None:
        if parse_date(v) is None:
            return ""
        n = decimal_date_time(v)
        if n == "":
            return ""
    try:
        seconds = math.floor(n * 86400 + 0.5)
        days, rest = divmod(seconds, 86400)
        day = date.fromordinal(days + _EPOCH).isoformat()
    except (ValueError, OverflowError):  # before year 1 or after 9999, or not finite
        return ""
    return f"{day}T{rest // 3600:02d}:{rest % 3600 // 60:02d}:{rest % 60:02d}"


def date_of(v: Any) -> str:
    """date(): a number is a day count since 1970-01-01 (a fraction dropped toward the past); a text
    is read as a date (a date-time gives its date); '' otherwise."""
    if is_number(v):
        return date_of_day(v)
    d = parse_date(v)
    return "" if d is None else d.isoformat()


def now_at(today: str) -> str:
    """now(): the current date-time YYYY-MM-DDTHH:MM:SS (local time) when `today` is today's date or
    unknown; for an evaluation on another day (a scenario's `today`), the midnight that starts it."""
    from datetime import datetime

    current = datetime.now()
    if not today or today == current.date().isoformat():
        return current.isoformat(timespec="seconds")
    d = parse_date(today)
    return "" if d is None else d.isoformat() + "T00:00:00"


def choice_label(v: Any, labels: dict[str, str]) -> str:
    """jr:choice-name(): the label of the option whose value is `v` ('' when there is none)."""
    if isinstance(v, (list, bool)) or v == "" or v is None:
        return ""
    return labels.get(text_of(v), "")
