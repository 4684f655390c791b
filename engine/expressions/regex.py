"""regex(): patterns with Python's meaning, run in linear time.

A definition's pattern is parsed by Python's own parser of regular expressions, then written out
again for RE2, whose time grows with the answer's length and never faster: no pattern can freeze
the server. The meaning stays Python's (and the browser's, which emulates it): `\\d` is any decimal
digit (Arabic-Indic ones included), `\\w` any letter or digit, `\\s` any white space, `.` anything
but a newline, `$` the end or just before a final newline.

What RE2 cannot run is refused at load with a reason: look-around, back-references, conditional
groups, atomic groups and possessive quantifiers (they need backtracking), word boundaries `\\b`
and `\\B` (RE2's are ASCII-only: they would never match in Arabic), and a repetition above 1,000.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from typing import Any

import re2

_parser: Any = importlib.import_module("re._parser")
_c: Any = importlib.import_module("re._constants")

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False
_OPTIONS.max_mem = 8 << 20
MAX_REPEAT = 1000

# Python's white space for str patterns (as in the browser's evaluator)
_WS = r"\t\n\x{b}\f\r\x{1c}-\x{1f} \x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}"
_IN_CLASS = {
    "CATEGORY_DIGIT": r"\p{Nd}",
    "CATEGORY_NOT_DIGIT": r"\P{Nd}",
    "CATEGORY_WORD": r"\p{L}\p{N}_",
    "CATEGORY_SPACE": _WS,
}
_ALONE = {
    **{k: f"[{v}]" for k, v in _IN_CLASS.items()},
    "CATEGORY_NOT_WORD": r"[^\p{L}\p{N}_]",
    "CATEGORY_NOT_SPACE": f"[^{_WS}]",
}


class Unsupported(Exception):
    """A pattern Python reads but RE2 cannot run with the same meaning; the message says why."""


def _char(code: int) -> str:
    return f"\\x{{{code:x}}}"


def _class(items: list[tuple[Any, Any]]) -> str:
    negate = bool(items) and items[0][0] == _c.NEGATE
    body = []
    for op, av in items[1:] if negate else items:
        if op == _c.LITERAL:
            body.append(_char(av))
        elif op == _c.RANGE:
            body.append(f"{_char(av[0])}-{_char(av[1])}")
        elif op == _c.CATEGORY:
            if str(av) not in _IN_CLASS:
                raise Unsupported("\\W and \\S cannot be combined with other characters in [ ]; use [^…] instead")
            body.append(_IN_CLASS[str(av)])
        else:
            raise Unsupported("this kind of [ ] set")
    if not body:
        return "[^\\x{0}-\\x{10ffff}]" if not negate else "[\\x{0}-\\x{10ffff}]"
    return f"[{'^' if negate else ''}{''.join(body)}]"


def _emit(items: Any) -> str:
    out = []
    for op, av in items:
        if op == _c.LITERAL:
            out.append(_char(av))
        elif op == _c.NOT_LITERAL:
            out.append(f"[^{_char(av)}]")
        elif op == _c.ANY:
            out.append("[^\\n]")
        elif op == _c.IN:
            if len(av) == 1 and av[0][0] == _c.CATEGORY:
                out.append(_ALONE[str(av[0][1])])
            else:
                out.append(_class(av))
        elif op == _c.AT:
            where = str(av)
            if where == "AT_BEGINNING":
                out.append("^")
            elif where == "AT_END":
                out.append("(?:\\n?\\z)")
            elif where in ("AT_BOUNDARY", "AT_NON_BOUNDARY"):
                raise Unsupported(
                    "word boundaries (\\b, \\B) are not supported: they mean different things in each script"
                )
            else:
                raise Unsupported("\\A and \\Z are not supported; use ^ and $")
        elif op == _c.BRANCH:
            out.append("(?:" + "|".join(_emit(b) for b in av[1]) + ")")
        elif op == _c.SUBPATTERN:
            group, add_flags, del_flags, sub = av
            if add_flags or del_flags:
                raise Unsupported("inline flags such as (?i) are not supported")
            out.append(("(" if group is not None else "(?:") + _emit(sub) + ")")
        elif op in (_c.MAX_REPEAT, _c.MIN_REPEAT):
            low, high, sub = av
            if low > MAX_REPEAT or (high != _c.MAXREPEAT and high > MAX_REPEAT):
                raise Unsupported(f"a repetition above {MAX_REPEAT:,}")
            count = f"{{{low},}}" if high == _c.MAXREPEAT else f"{{{low},{high}}}"
            out.append("(?:" + _emit(sub) + ")" + count + ("?" if op == _c.MIN_REPEAT else ""))
        elif op in (_c.ASSERT, _c.ASSERT_NOT):
            raise Unsupported("look-around ((?=…), (?!…), (?<=…), (?<!…)) is not supported")
        elif op in (_c.GROUPREF, _c.GROUPREF_EXISTS):
            raise Unsupported("back-references and conditional groups are not supported")
        else:
            raise Unsupported("atomic groups and possessive quantifiers are not supported")
    return "".join(out)


def compile_regex(pattern: str) -> Callable[[str], bool]:
    """A function telling whether the pattern matches somewhere in a text (Python's re.search
    meaning), in linear time. Raises re.error for an invalid pattern, Unsupported for one RE2
    cannot run with the same meaning."""
    tree = _parser.parse(pattern)
    try:
        compiled = re2.compile(_emit(tree), options=_OPTIONS)
    except re2.error as exc:  # pragma: no cover - _emit writes only what RE2 reads
        raise Unsupported(str(exc)) from None
    return lambda text: compiled.search(text) is not None


def backtracks(pattern: str) -> bool:
    """Does the pattern repeat a repetition (`(a+)+`, `(a*)*`, `(a+){2,}`)? A backtracking engine (a
    browser's) takes time exponential in the answer's length on such a pattern."""
    try:
        tree = _parser.parse(pattern)
    except re.error:  # pragma: no cover - compiled before
        return False
    return _nested_repeat(tree, inside=False)


def _nested_repeat(items: Any, inside: bool) -> bool:
    for op, av in items:
        if op in (_c.MAX_REPEAT, _c.MIN_REPEAT):
            low, high, sub = av
            variable = high == _c.MAXREPEAT or high > max(low, 1)
            if variable and inside:
                return True
            if _nested_repeat(sub, inside or variable):
                return True
        elif op == _c.SUBPATTERN:
            if _nested_repeat(av[-1], inside):
                return True
        elif op == _c.BRANCH:
            if any(_nested_repeat(branch, inside) for branch in av[1]):
                return True
    return False
