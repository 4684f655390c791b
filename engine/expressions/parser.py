"""Parse expression text into a small JSON-able AST (see docs/expressions.md).

The grammar is LALR (Lark); the parser is built once per process and parse results are cached per
text, so a module with thousands of identical conditions parses each distinct one once. AST nodes
are plain dicts; `at` is the character offset of the node in the text (dropped in the JSON export).
"""

from __future__ import annotations

from functools import cache, lru_cache
from typing import Any

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

Node = dict[str, Any]
MAX_LENGTH = 2000
MAX_DEPTH = 64

GRAMMAR = r"""
?start: or_expr
?or_expr: and_expr | or_expr "or" and_expr -> or_
?and_expr: comparison | and_expr "and" comparison -> and_
?comparison: sum | sum CMP sum -> cmp
?sum: product | sum ADDOP product -> arith
?product: unary | product MULOP unary -> arith
?unary: atom | MINUS unary -> neg
?atom: NUMBER -> number
     | STRING -> string
     | REF -> ref
     | DOT -> dot
     | PARENT -> parent
     | "true" -> true
     | "false" -> false
     | FUNC "(" [or_expr ("," or_expr)*] ")" -> call
     | NAME -> bare
     | "(" or_expr ")"

CMP: "!=" | "<=" | ">=" | "=" | "<" | ">"
ADDOP: "+" | "-"
MINUS: "-"
MULOP: "*" | "div" | "mod"
NUMBER: /[0-9]+(\.[0-9]*)?|\.[0-9]+/
STRING: /'[^']*'|"[^"]*"/
REF: /\$\{(\.\.\/)*[A-Za-z_][A-Za-z0-9_]*\}/
PARENT: ".."
DOT: /\.(?![0-9])/
FUNC.2: /(jr:)?[a-z][a-z0-9]*(-[a-z][a-z0-9]*)*(?=\s*\()/
NAME: /[A-Za-z_][A-Za-z0-9_]*/
%import common.WS
%ignore WS
"""


class ExpressionSyntaxError(Exception):
    def __init__(self, message: str, offset: int, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset
        self.hint = hint


@v_args(inline=True)
class _ToAst(Transformer[Token, Node]):
    def number(self, tok: Token) -> Node:
        text = str(tok)
        value: int | float = float(text) if "." in text else int(text)
        return {"op": "lit", "value": value, "at": tok.start_pos}

    def string(self, tok: Token) -> Node:
        return {"op": "lit", "value": str(tok)[1:-1], "at": tok.start_pos}

    def ref(self, tok: Token) -> Node:
        inner = str(tok)[2:-1]
        up = inner.count("../")
        return {"op": "ref", "name": inner.replace("../", ""), "up": up, "at": tok.start_pos}

    def dot(self, tok: Token) -> Node:
        return {"op": "dot", "at": tok.start_pos}

    def parent(self, tok: Token) -> Node:
        return {"op": "parent", "at": tok.start_pos}

    def true(self) -> Node:
        return {"op": "lit", "value": True, "at": -1}

    def false(self) -> Node:
        return {"op": "lit", "value": False, "at": -1}

    def bare(self, tok: Token) -> Node:
        return {"op": "choice", "name": str(tok), "at": tok.start_pos}

    def neg(self, tok: Token, operand: Node) -> Node:
        if (
            operand["op"] == "lit"
            and isinstance(operand["value"], (int, float))
            and not isinstance(operand["value"], bool)
        ):
            return {"op": "lit", "value": -operand["value"], "at": tok.start_pos}
        return {"op": "neg", "args": [operand], "at": tok.start_pos}

    def or_(self, left: Node, right: Node) -> Node:
        return {"op": "or", "args": [left, right], "at": left["at"]}

    def and_(self, left: Node, right: Node) -> Node:
        return {"op": "and", "args": [left, right], "at": left["at"]}

    def cmp(self, left: Node, op: Token, right: Node) -> Node:
        return {"op": "cmp", "cmp": str(op), "args": [left, right], "at": op.start_pos}

    def arith(self, left: Node, op: Token, right: Node) -> Node:
        return {"op": "arith", "arith": str(op), "args": [left, right], "at": op.start_pos}

    def call(self, name: Token, *args: Node | None) -> Node:
        fn = str(name).removeprefix("jr:")  # ODK's jr:choice-name(): the prefix means nothing here
        params = [a for a in args if a is not None]
        if fn == "not":
            return {"op": "not", "args": params, "at": name.start_pos}
        return {"op": "call", "fn": fn, "args": params, "at": name.start_pos}


@cache
def _parser() -> Lark:
    return Lark(GRAMMAR, parser="lalr", maybe_placeholders=False)


_EXPECT_WORDS = {
    "CMP": "a comparison (= != < <= > >=)",
    "ADDOP": "+ or -",
    "MULOP": "*, div or mod",
    "MINUS": "-",
    "NUMBER": "a number",
    "STRING": "a quoted text",
    "REF": "a field reference like ${field}",
    "DOT": "'.'",
    "PARENT": "'..'",
    "FUNC": "a function",
    "NAME": "a name",
    "LPAR": "'('",
    "RPAR": "')'",
    "COMMA": "','",
    "AND": "'and'",
    "OR": "'or'",
    "TRUE": "true",
    "FALSE": "false",
    "$END": "the end of the expression",
}


def _expected(names: set[str]) -> str:
    words = sorted({_EXPECT_WORDS.get(n, n.lower()) for n in names})
    if len(words) > 6:
        return "a value, a field reference or a function call"
    return ", ".join(words)


@lru_cache(maxsize=20_000)
def _parse_cached(text: str) -> Node:
    try:
        tree = _parser().parse(text)
    except UnexpectedEOF as exc:
        raise ExpressionSyntaxError(
            f"the expression ends too early; expected {_expected(set(exc.expected))}", len(text)
        ) from None
    except UnexpectedCharacters as exc:
        at = exc.pos_in_stream or 0
        ch = text[at] if at < len(text) else ""
        hint = None
        if ch == "$":
            hint = "a field reference is written ${field_id} (lower-case id in braces)"
        elif ch == "&" or ch == "|":
            hint = "write 'and' / 'or' instead of && / ||"
        elif ch == "!":
            hint = "write not(...) for negation; != compares"
        elif ch == "’" or ch == "‘" or ch == "“" or ch == "”":
            hint = "use straight quotes ' or \" around texts"
        raise ExpressionSyntaxError(f"unexpected character '{ch}'", at, hint) from None
    except UnexpectedToken as exc:
        tok = exc.token
        if tok.type == "$END":
            raise ExpressionSyntaxError(
                f"the expression ends too early; expected {_expected(set(exc.expected))}", len(text)
            ) from None
        shown = f"'{tok}'"
        pos = len(text) if tok.type == "$END" else (tok.start_pos or 0)
        hint = None
        if tok.type == "CMP" and str(tok) == "=" and text[:pos].rstrip().endswith("="):
            hint = "compare with a single '='"
        elif tok.type == "CMP":
            hint = "comparisons cannot be chained; join them with 'and'"
        raise ExpressionSyntaxError(f"unexpected {shown}; expected {_expected(set(exc.expected))}", pos, hint) from None
    except UnexpectedInput as exc:  # pragma: no cover - other lark errors
        raise ExpressionSyntaxError(str(exc).splitlines()[0], 0) from None
    ast = _ToAst().transform(tree)
    return ast


def depth(node: Node) -> int:
    args = node.get("args")
    if not args:
        return 1
    return 1 + max(depth(a) for a in args)


def parse(text: str) -> Node:
    """Parse `text`; raises ExpressionSyntaxError with the offset of the problem."""
    if len(text) > MAX_LENGTH:
        raise ExpressionSyntaxError(
            f"the expression is {len(text):,} characters long; the limit is {MAX_LENGTH:,}",
            0,
            "split it into calculate fields",
        )
    if text.count("(") > MAX_DEPTH * 2:  # cheap guard before the parser recurses
        raise ExpressionSyntaxError(
            f"the expression nests more than {MAX_DEPTH} levels", 0, "split it into calculate fields"
        )
    if not text.strip():
        raise ExpressionSyntaxError("the expression is empty", 0)
    try:
        ast = _parse_cached(text)
        too_deep = depth(ast) > MAX_DEPTH
    except RecursionError:  # a chain of hundreds of operators (- - - 1, 1 + 1 + …) nests as deep
        too_deep = True
    if too_deep:
        raise ExpressionSyntaxError(
            f"the expression nests more than {MAX_DEPTH} levels", 0, "split it into calculate fields"
        )
    return ast


def to_json(node: Node) -> Node:
    """The AST without source offsets, as exported to the browser."""
    out: Node = {k: v for k, v in node.items() if k != "at"}
    if "args" in out:
        out["args"] = [to_json(a) for a in out["args"]]
    return out
