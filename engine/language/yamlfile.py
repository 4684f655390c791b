"""Read definition YAML as YAML 1.2 data, keeping the line and column of every key and value.

PyYAML implements YAML 1.1, where `no`, `NO`, `on` become booleans and `2024-01-05` a date. We let
PyYAML (its C parser when available) build the node tree and convert the nodes ourselves with the
YAML 1.2 core schema: only `true`/`false` are booleans and dates stay text. Duplicate keys, merge
keys and custom tags are reported, never silently accepted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from engine.diagnostics import Position, Report

try:  # the C parser is ~10x faster; fall back to the pure-Python one
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]


Path = tuple[str | int, ...]

_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_INT = re.compile(r"^[-+]?[0-9]+$|^0o[0-7]+$|^0x[0-9a-fA-F]+$")
_FLOAT = re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$")
_SPECIAL_FLOAT = {".inf": float("inf"), "+.inf": float("inf"), "-.inf": float("-inf"), ".nan": float("nan")}
_TRUTHY_11 = re.compile(r"^(?:y|Y|yes|Yes|YES|n|N|no|No|NO|on|On|ON|off|Off|OFF)$")
_STANDARD_TAG = "tag:yaml.org,2002:"
_MERGE_TAG, _STR_TAG, _SEQ_TAG, _MAP_TAG = (_STANDARD_TAG + t for t in ("merge", "str", "seq", "map"))
MAX_NODES = 500_000
MAX_DIGITS = 100  # a plain number longer than this is reported, not converted


class _NodeLoader(_Loader):
    """Builds the node tree only. PyYAML would resolve the tag of every plain scalar against its YAML 1.1
    patterns (in Python, for each one); `_Builder` converts plain scalars itself and only reads the
    tags to spot merge keys and custom tags (which PyYAML never resolves), so every plain scalar but
    `<<` gets the string tag here, which is what the standard resolver falls back to."""

    def resolve(self, kind: type[yaml.Node], value: Any, implicit: tuple[bool, bool]) -> str:
        if kind is yaml.ScalarNode:
            return _MERGE_TAG if implicit[0] and value == "<<" else _STR_TAG
        return _SEQ_TAG if kind is yaml.SequenceNode else _MAP_TAG


@dataclass
class YamlDoc:
    """One parsed file: its data and where each part of it was written."""

    file: str
    data: Any
    values: dict[Path, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Path, tuple[int, int]] = field(default_factory=dict)
    quoted: set[Path] = field(default_factory=set)  # scalars written in quotes
    text: str = ""
    spans: dict[Path, tuple[int, int, str]] = field(default_factory=dict)  # text scalars: start, end, style
    #: for a document merged from an overlay: path prefix here -> (source document, path there)
    origins: dict[Path, tuple[YamlDoc, Path]] = field(default_factory=dict)

    def origin(self, path: Path) -> tuple[YamlDoc, Path] | None:
        """The source document and path of `path` in a merged document (None for a plain one)."""
        if not self.origins:
            return None
        for end in range(len(path), -1, -1):
            found = self.origins.get(path[:end])
            if found is not None:
                src, src_path = found
                return src, (*src_path, *path[end:])
        return None

    def at(self, path: Path, *, key: bool = False) -> Position:
        """The position of the value (or key) at `path`, or of its closest written ancestor."""
        if (src := self.origin(path)) is not None:
            return src[0].at(src[1], key=key)
        table = self.keys if key else self.values
        if path in table:
            line, col = table[path]
            return Position(self.file, line, col)
        for end in range(len(path) - 1, -1, -1):
            prefix = path[:end]
            if prefix in self.values:
                line, col = self.values[prefix]
                return Position(self.file, line, col)
        return Position(self.file, 1, 1)

    def locate(self, path: Path, value: str, offset: int) -> Position:
        """The file position of character `offset` of the text scalar at `path`, whatever its style
        (plain, quoted with escapes, folded or literal block, over several lines)."""
        if (src := self.origin(path)) is not None:
            return src[0].locate(src[1], value, offset)
        span = self.spans.get(path)
        if span is None:
            return self.at(path)
        start, end, style = span
        raw = self.text[start:end]
        r = 0
        if style in ("|", ">"):
            r = raw.find("\n") + 1  # skip the block header (|, >-, |2 …)
        for c in value[:offset]:
            while r < len(raw) and raw[r] != c and not (c in " \n" and raw[r] in " \n"):
                r += 1
            if r < len(raw) and raw[r] == "\n":  # a line break folded into a space (or kept)
                r += 1
                while r < len(raw) and raw[r] == " ":
                    r += 1
                continue
            r += 1
        if offset < len(value):  # move onto the character itself (past quotes, breaks, indentation)
            c = value[offset]
            while r < len(raw) and raw[r] != c and not (c in " \n" and raw[r] in " \n"):
                r += 1
            if c not in " \n":
                while r < len(raw) and raw[r] != c:
                    r += 1
        index = start + min(r, len(raw))
        line = self.text.count("\n", 0, index) + 1
        column = index - (self.text.rfind("\n", 0, index) + 1) + 1
        return Position(self.file, line, column)


def resolve_plain(value: str) -> Any:
    """Resolve a plain (unquoted) scalar with the YAML 1.2 core schema."""
    if _NULL.match(value):
        return None
    if value in _BOOL:
        return _BOOL[value]
    if _INT.match(value):
        if value.startswith("0o"):
            return int(value[2:], 8)
        if value.startswith("0x"):
            return int(value[2:], 16)
        return int(value)
    if _FLOAT.match(value):
        return float(value)
    if value.lower() in _SPECIAL_FLOAT:
        return _SPECIAL_FLOAT[value.lower()]
    return value


class _Builder:
    def __init__(self, doc: YamlDoc, report: Report) -> None:
        self.doc = doc
        self.report = report
        self.count = 0
        self.too_big = False

    def pos(self, node: yaml.Node) -> Position:
        return Position(self.doc.file, node.start_mark.line + 1, node.start_mark.column + 1)

    def build(self, node: yaml.Node, path: Path, active: frozenset[int] = frozenset()) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            if not self.too_big:
                self.too_big = True
                self.report.add(
                    self.pos(node),
                    "yaml.unsupported",
                    f"the file has more than {MAX_NODES:,} values (or aliases that expand to as many)",
                    "split it into several files",
                )
            return None
        self.doc.values[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
        tag = node.tag or ""
        if not tag.startswith(_STANDARD_TAG) and tag not in ("!", "?"):
            self.report.add(
                self.pos(node),
                "yaml.unsupported",
                f"the tag '{tag}' is not supported",
                "remove the tag; write the value as plain YAML",
            )
        if isinstance(node, yaml.ScalarNode):
            self.doc.spans[path] = (node.start_mark.index, node.end_mark.index, node.style or "")
            if not node.style:  # plain (the C parser says '', the Python one None)
                if _INT.match(node.value) and len(node.value) > MAX_DIGITS:
                    self.report.add(
                        self.pos(node),
                        "yaml.unsupported",
                        f"a number of {len(node.value):,} digits: no answer or setting holds one",
                        "quote it if it is a text, or write a number of at most 15 digits",
                    )
                    return None
                if _TRUTHY_11.match(node.value):
                    self.report.add(
                        self.pos(node),
                        "yaml.truthy",
                        f"unquoted '{node.value}' is read by Sanad as the text '{node.value}', "
                        "but other YAML tools read it as true/false",
                        f"quote it: '{node.value}'",
                    )
                return resolve_plain(node.value)
            if node.style in ("'", '"'):
                self.doc.quoted.add(path)
            return node.value
        if id(node) in active:  # a recursive alias
            self.report.add(self.pos(node), "yaml.unsupported", "a recursive alias", "remove the alias")
            return None
        inner = active | {id(node)}
        if isinstance(node, yaml.SequenceNode):
            return [self.build(child, (*path, i), inner) for i, child in enumerate(node.value)]
        assert isinstance(node, yaml.MappingNode)
        out: dict[str, Any] = {}
        seen: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _STANDARD_TAG + "merge":
                self.report.add(
                    self.pos(key_node),
                    "yaml.unsupported",
                    "merge keys ('<<') are not supported",
                    "write the keys out in full",
                )
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                self.report.add(self.pos(key_node), "yaml.unsupported", "a key must be a plain word", "use a text key")
                continue
            raw = resolve_plain(key_node.value) if not key_node.style else key_node.value
            key = str(raw).lower() if isinstance(raw, bool) else ("" if raw is None else str(raw))
            if key in seen:
                first = seen[key].start_mark
                self.report.add(
                    self.pos(key_node),
                    "yaml.duplicate-key",
                    f"the key '{key}' is written twice in this mapping (first on line {first.line + 1})",
                    "keep one of them; YAML would silently keep only the last",
                )
                continue
            seen[key] = key_node
            self.doc.keys[(*path, key)] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            out[key] = self.build(value_node, (*path, key), inner)
        return out


def parse_text(text: str, file: str, report: Report) -> YamlDoc | None:
    """Parse one YAML document; problems go to `report`, and None means nothing usable."""
    doc = YamlDoc(file=file, data=None, text=text)
    try:
        return _parse(doc, text, file, report)
    except RecursionError:  # brackets nested hundreds deep: no definition needs that
        report.add(
            Position(file, 1, 1),
            "yaml.syntax",
            "the file nests lists or mappings hundreds of levels deep",
            "no definition needs more than a few levels; check for brackets that are never closed",
        )
        return None


def _parse(doc: YamlDoc, text: str, file: str, report: Report) -> YamlDoc | None:
    try:
        loader = _NodeLoader(text)
        try:
            node = loader.get_single_node()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        if exc.context_mark is not None and "end of stream" in (exc.problem or ""):
            mark = exc.context_mark  # an unclosed quote or bracket: point at where it opens
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = "; ".join(filter(None, [exc.context, exc.problem])) or "invalid YAML"
        lines = text.splitlines()
        near = lines[line - 1] if 0 < line <= len(lines) else ""
        hint = "check the indentation and quoting near this place"
        if "${" in near:
            hint = 'put expressions in quotes, e.g. relevant: "${age} < 18" (a } ends a { } mapping)'
        elif "end of stream" in (exc.problem or ""):
            hint = "close the quote or bracket that opens here"
        report.add(Position(file, line, col), "yaml.syntax", problem, hint)
        return None
    except yaml.reader.ReaderError as exc:  # a control character or other unprintable character
        index = min(max(exc.position, 0), len(text))
        line = text.count("\n", 0, index) + 1
        col = index - (text.rfind("\n", 0, index) + 1) + 1
        char = f"U+{exc.character:04X}" if isinstance(exc.character, int) else repr(exc.character)
        report.add(
            Position(file, line, col),
            "yaml.syntax",
            f"the file contains the unprintable character {char}",
            "delete it; it often comes from copying text out of a word processor",
        )
        return None
    except yaml.YAMLError as exc:
        report.add(Position(file, 1, 1), "yaml.syntax", str(exc).splitlines()[0] if str(exc) else "invalid YAML")
        return None
    if node is None:
        return doc
    doc.data = _Builder(doc, report).build(node, ())
    return doc


def read_file(path: str, report: Report, display: str | None = None) -> YamlDoc | None:
    name = display or path
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError as exc:
        report.add(Position(name), "file.unreadable", f"cannot read the file: {exc.strerror}")
        return None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        col = len(raw[raw.rfind(b"\n", 0, exc.start) + 1 : exc.start].decode("utf-8", "replace")) + 1
        report.add(
            Position(name, line, col),
            "file.unreadable",
            "the file is not UTF-8 text",
            "save it as UTF-8 in your editor",
        )
        return None
    return parse_text(text, name, report)
