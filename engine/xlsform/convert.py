"""Build Sanad definition dicts (a form, its lookups, translations) from an XLSForm's rows.

Nothing is silently dropped: each row, column or expression Sanad cannot represent gives a finding
naming FILE:sheet:ROW, and is mapped to the nearest construct or left out.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any

from engine.xlsform import expressions as xp
from engine.xlsform.findings import Findings, ImportFailure
from engine.xlsform.reader import Row, Sheet, Workbook

ID = re.compile(r"^[a-z][a-z0-9_]*$")
LOCALE = re.compile(r"^[a-z]{2,3}(_[A-Z]{2})?$")

# XLSForm type -> (Sanad type or None to leave the row out, why it is only the nearest, or None)
TYPES: dict[str, tuple[str | None, str | None]] = {
    "text": ("text", None),
    "string": ("text", None),
    "integer": ("integer", None),
    "int": ("integer", None),
    "decimal": ("decimal", None),
    "date": ("date", None),
    "datetime": ("datetime", None),
    "select_one": ("select_one", None),
    "select_multiple": ("select_multiple", None),
    "note": ("note", None),
    "calculate": ("calculate", None),
    "acknowledge": ("yes_no", None),
    "trigger": ("yes_no", None),
    "hidden": ("text", None),
    "range": ("decimal", "a range (slider) is imported as a number box"),
    "time": ("text", "Sanad has no time-of-day question; imported as a text question"),
    "rank": ("select_multiple", "Sanad has no ranking question; imported as select_multiple (the order is lost)"),
    "geopoint": ("text", "Sanad has no location question; imported as a text question for the coordinates"),
    "geotrace": ("text", "Sanad has no line-on-a-map question; imported as a text question"),
    "geoshape": ("text", "Sanad has no shape-on-a-map question; imported as a text question"),
    "barcode": ("text", "Sanad does not scan barcodes; imported as a text question for the code"),
    "select_one_from_file": ("text", "choices from an external file are not imported; imported as a text question"),
    "select_multiple_from_file": (
        "text",
        "choices from an external file are not imported; imported as a text question",
    ),
    "select_one_external": ("text", "external choices are not imported; imported as a text question"),
    "image": (None, "Sanad does not store photos or images; the question is left out"),
    "audio": (None, "Sanad does not store sound recordings; the question is left out"),
    "background-audio": (None, "Sanad does not record sound; the question is left out"),
    "video": (None, "Sanad does not store videos; the question is left out"),
    "file": (None, "Sanad does not store uploaded files; the question is left out"),
    "signature": (None, "Sanad does not store signatures; the question is left out"),
    "xml-external": (None, "external data files are not imported; the row is left out"),
    "csv-external": (None, "external data files are not imported; the row is left out"),
}
METADATA = {
    "start",
    "end",
    "today",
    "deviceid",
    "imei",
    "subscriberid",
    "simserial",
    "phonenumber",
    "username",
    "email",
    "audit",
    "start-geopoint",
    "instanceid",
    "uri:deviceid",
    "uri:email",
    "uri:username",
    "uri:phonenumber",
    "uri:subscriberid",
    "uri:simserial",
}
_TYPE_ALIASES = {
    "select one": "select_one",
    "select all that apply": "select_multiple",
    "select multiple": "select_multiple",
    "select_one_from_file": "select_one_from_file",
    "datetime": "datetime",
    "date time": "datetime",
    "begin_group": "begin group",
    "end_group": "end group",
    "begin_repeat": "begin repeat",
    "end_repeat": "end repeat",
    "add note prompt": "note",
    "note": "note",
    "q note": "note",
    "decimal": "decimal",
    "integer": "integer",
}
# Appearances that only change the look on a phone: Sanad lays forms out itself, so nothing is lost.
COSMETIC_APPEARANCES = {
    "field-list",
    "minimal",
    "horizontal",
    "horizontal-compact",
    "compact",
    "quick",
    "quickcompact",
    "likert",
    "list",
    "list-nolabel",
    "label",
    "no-calendar",
    "table-list",
    "multiline",
    "autocomplete",
    "search",
    "columns",
    "columns-pack",
    "columns-flex",
    "no-buttons",
    "",
}
_KNOWN_COLUMNS = {
    "type",
    "name",
    "label",
    "hint",
    "relevant",
    "required",
    "required_message",
    "constraint",
    "constraint_message",
    "calculation",
    "choice_filter",
    "default",
    "read_only",
    "appearance",
    "trigger",
    "repeat_count",
    "parameters",
}
# Columns that only matter to phones or to data pipelines; ignored without a warning (documented).
_IGNORED_COLUMNS = {"guidance_hint", "tag", "comments", "comment", "notes", "instance::", "disabled"}
_LANGUAGE_NAMES = {
    "english": "en",
    "french": "fr",
    "français": "fr",
    "francais": "fr",
    "arabic": "ar",
    "عربى": "ar",
    "العربية": "ar",
    "spanish": "es",
    "español": "es",
    "espanol": "es",
    "portuguese": "pt",
    "português": "pt",
    "swahili": "sw",
    "kiswahili": "sw",
    "german": "de",
    "deutsch": "de",
    "italian": "it",
    "russian": "ru",
    "chinese": "zh",
    "hindi": "hi",
    "nepali": "ne",
    "indonesian": "id",
    "dari": "prs",
    "pashto": "ps",
    "urdu": "ur",
    "persian": "fa",
    "farsi": "fa",
    "amharic": "am",
    "somali": "so",
    "hausa": "ha",
    "yoruba": "yo",
    "igbo": "ig",
    "czech": "cs",
    "japanese": "ja",
    "vietnamese": "vi",
    "kinyarwanda": "rw",
    "khmer": "km",
    "turkish": "tr",
    "bengali": "bn",
    "burmese": "my",
    "tigrinya": "ti",
    "oromo": "om",
    "luganda": "lg",
}
TEXT_KEYS = ("label", "hint", "required_message", "constraint_message")
EXPRESSION_KEYS = ("relevant", "required", "constraint", "calculate", "choice_filter")


def sanitize_id(name: str) -> str:
    s = re.sub(r"[^a-z0-9_]+", "_", name.strip().lower()).strip("_")
    s = re.sub(r"_+", "_", s)
    if not s or not s[0].isalpha() or not s.isascii():
        s = "f_" + s if s and s.isascii() else "f_" + str(abs(hash(name)) % 100000)
    return s


def language_code(header: str) -> str | None:
    """'fr' for 'Français (fr)' or 'French'; None when it cannot be told."""
    m = re.search(r"\(\s*([A-Za-z]{2,3}(?:[-_][A-Za-z]{2,4})?)\s*\)\s*$", header)
    raw = m.group(1) if m else header.strip()
    parts = re.split(r"[-_]", raw)
    code = parts[0].lower()
    if len(parts) > 1 and len(parts[1]) == 2:
        code += "_" + parts[1].upper()
    if LOCALE.match(code) and (m or len(raw) <= 3):
        return code
    name = re.sub(r"\(.*\)", "", header).strip().lower()
    return _LANGUAGE_NAMES.get(name)


@dataclass
class Node:
    """Pass 1: what a survey row becomes, before its expressions are translated."""

    row: Row
    kind: str  # question | begin_group | end_group | begin_repeat | end_repeat | skip
    xtype: str = ""
    sanad_type: str | None = None
    list_name: str | None = None
    or_other: bool = False
    name: str = ""
    sid: str = ""
    scope: tuple[str, ...] = ()  # the repeats (XLSForm names) it is inside


@dataclass
class ExprSite:
    """One expression cell of the workbook and where its translation went."""

    row: int
    column: str
    source: str
    owner: dict[str, Any]  # the field dict that holds it
    key: str
    kept: bool = False


@dataclass
class Conversion:
    form_id: str
    title: str
    form: dict[str, Any]
    lookups: dict[str, dict[str, Any]]
    default_locale: str
    locales: list[str]
    #: locale -> context path (without the module id) -> translation
    translations: dict[str, dict[str, str]]
    rows: int
    questions: int
    version: str = "1.0"
    sites: list[ExprSite] = field(default_factory=list)
    rows_of: dict[int, int] = field(default_factory=dict)  # id(field dict) -> survey row

    @property
    def expressions_total(self) -> int:
        return len(self.sites)

    @property
    def expressions_kept(self) -> int:
        return sum(1 for s in self.sites if s.kept)


class Converter:
    def __init__(
        self,
        book: Workbook,
        findings: Findings,
        *,
        form_id: str | None = None,
        record_type: str = "case",
        taken_ids: set[str] | None = None,
        taken_lookups: set[str] | None = None,
        prefer_locale: str | None = None,
    ) -> None:
        self.book = book
        self.f = findings
        self.record_type = record_type
        self.taken = set(taken_ids or ())
        self.taken_lookups = set(taken_lookups or ())
        self.prefer_locale = prefer_locale
        self.form_id_arg = form_id
        self.survey = self._sheet("survey")
        self.choices_sheet = book.sheets.get("choices")
        settings = book.sheets.get("settings")
        self.settings: dict[str, str] = dict(settings.rows[0].cells) if settings and settings.rows else {}
        self.by_name: dict[str, Node] = {}
        self.repeat_ids: dict[str, str] = {}
        self.lists: dict[str, list[Row]] = {}
        self.lookup_ids: dict[str, str] = {}
        self.lookups: dict[str, dict[str, Any]] = {}
        self.choice_keys: dict[str, str] = {}
        self.translations: dict[str, dict[str, str]] = {}
        self.sites: list[ExprSite] = []
        self.rows_of: dict[int, int] = {}
        self.form_id = ""

    # -- sheets and languages ------------------------------------------------------------------------
    def _sheet(self, name: str) -> Sheet:
        sheet = self.book.sheets.get(name)
        if sheet is None:
            have = ", ".join(s.name for s in self.book.sheets.values()) or "none"
            raise self.f.fail(
                "xlsform.no-survey", f"the workbook has no '{name}' sheet (its sheets: {have})", None, None
            )
        for col in ("type", "name"):
            if col not in sheet.columns:
                raise self.f.fail(
                    "xlsform.missing-column",
                    f"the survey sheet has no '{col}' column (its first row must name the columns)",
                    sheet.name,
                    1,
                )
        if not sheet.rows:
            raise self.f.fail("xlsform.no-survey", "the survey sheet has no questions", sheet.name, None)
        return sheet

    def _languages(self) -> None:
        headers: list[str] = []
        for sheet in (self.survey, self.choices_sheet):
            if sheet is not None:
                headers += [h for h in sheet.languages if h not in headers]
        self.codes: dict[str, str] = {}
        for h in headers:
            code = language_code(h)
            if code is None:
                self.f.add(
                    "xlsform.language",
                    f"the language '{h}' has no code Sanad can tell; write it as 'Name (code)', "
                    f"e.g. 'label::Français (fr)'. Its columns are left out",
                    self.survey.name,
                    1,
                )
            else:
                self.codes[h] = code
        plain = "label" in self.survey.columns and any(r.cells.get("label") for r in self.survey.rows)
        setting = self.settings.get("default_language", "")
        default = None
        if setting:
            default = self.codes.get(setting) or language_code(setting)
        if self.prefer_locale and (self.prefer_locale in self.codes.values() or not plain):
            default = self.prefer_locale if self.prefer_locale in self.codes.values() else default
        if default is None:
            codes = list(self.codes.values())
            default = "en" if ("en" in codes or plain or not codes) else codes[0]
        self.default = default
        self.locales = [default] + [c for c in dict.fromkeys(self.codes.values()) if c != default]

    def text(self, row: Row, column: str) -> str:
        """The text of `column` in the default language (falling back on any language)."""
        plain = row.cells.get(column, "")
        if plain:
            return plain
        tr = row.translations.get(column, {})
        for h, code in self.codes.items():
            if code == self.default and tr.get(h):
                return tr[h]
        for v in tr.values():
            if v:
                return v
        return ""

    def translate_texts(self, row: Row, column: str, context: str) -> None:
        for h, text in row.translations.get(column, {}).items():
            code = self.codes.get(h)
            if code and code != self.default and text:
                self.translations.setdefault(code, {})[context] = text

    # -- names --------------------------------------------------------------------------------------
    def new_id(self, name: str, row: Row, sheet: str) -> str:
        base = sanitize_id(name) if name else f"row_{row.number}"
        sid = base
        n = 2
        while sid in self.taken:
            sid = f"{base}_{n}"
            n += 1
        self.taken.add(sid)
        if sid != name:
            why = "is already used in the record type" if base != sid else "is not a Sanad id"
            self.f.add(
                "xlsform.renamed",
                f"'{name or '(no name)'}' {why}; it is '{sid}' in Sanad (expressions are updated)",
                sheet,
                row.number,
            )
        return sid

    # -- pass 1 -------------------------------------------------------------------------------------
    def _type(self, row: Row) -> tuple[str, str | None, bool]:
        raw = re.sub(r"\s+", " ", row.get("type").strip())
        low = raw.lower()
        for prefix in ("begin group", "begin_group", "end group", "end_group"):
            if low.startswith(prefix):
                return _TYPE_ALIASES.get(prefix, prefix), None, False
        for prefix in ("begin repeat", "begin_repeat", "end repeat", "end_repeat"):
            if low.startswith(prefix):
                return _TYPE_ALIASES.get(prefix, prefix), None, False
        parts = raw.split(" ")
        head = parts[0].lower()
        if head in ("select", "select1") or low.startswith(("select one ", "select multiple ")):
            if low.startswith("select one "):
                head, parts = "select_one", ["select_one", *parts[2:]]
            elif low.startswith(("select multiple ", "select all that apply ")):
                skip = 3 if low.startswith("select multiple ") else 5
                head, parts = "select_multiple", ["select_multiple", *raw.split(" ")[skip - 1 :]]
        if head == "datetime" or head == "datetime":
            head = "datetime"
        if head in ("select_one", "select_multiple", "rank"):
            rest = [p for p in parts[1:] if p]
            or_other = bool(rest) and rest[-1].lower() == "or_other"
            if or_other:
                rest = rest[:-1]
            return head, (rest[0] if rest else None), or_other
        if head.startswith("select_one_from_file") or head.startswith("select_multiple_from_file"):
            return head, None, False
        return head, None, False

    def pass1(self) -> list[Node]:
        nodes: list[Node] = []
        stack: list[tuple[str, str]] = []  # (kind, xlsform name)
        s = self.survey.name
        for row in self.survey.rows:
            if not row.get("type"):
                if row.get("name") or row.cells.get("label"):
                    self.f.add("xlsform.unknown-type", "the row has no type; it is left out", s, row.number)
                continue
            xtype, list_name, or_other = self._type(row)
            scope = tuple(n for k, n in stack if k == "repeat")
            name = row.get("name")
            if xtype in ("begin group", "begin repeat"):
                kind = "begin_group" if xtype == "begin group" else "begin_repeat"
                node = Node(row, kind, xtype, name=name, scope=scope)
                node.sid = self.new_id(name, row, s)
                if name:
                    self.by_name.setdefault(name, node)
                if kind == "begin_repeat":
                    self.repeat_ids[name or node.sid] = node.sid
                stack.append(("repeat" if kind == "begin_repeat" else "group", name or node.sid))
                nodes.append(node)
                continue
            if xtype in ("end group", "end repeat"):
                want = "group" if xtype == "end group" else "repeat"
                if not stack or stack[-1][0] != want:
                    open_kind = stack[-1][0] if stack else "nothing"
                    self.f.add(
                        "xlsform.structure",
                        f"'{xtype}' closes a {open_kind}, not a {want}; the row is ignored",
                        s,
                        row.number,
                    )
                    continue
                stack.pop()
                nodes.append(Node(row, "end_group" if want == "group" else "end_repeat", xtype, scope=scope))
                continue
            head = xtype.lower()
            if head in METADATA:
                self.f.add(
                    "xlsform.unsupported-type",
                    f"'{head}' is metadata a phone records; Sanad records who changed a record and when "
                    "itself. The row is left out",
                    s,
                    row.number,
                )
                continue
            if head.startswith(("select_one_from_file", "select_multiple_from_file")):
                head = "select_one_from_file" if head.startswith("select_one") else "select_multiple_from_file"
            mapped = TYPES.get(head)
            if mapped is None:
                self.f.add(
                    "xlsform.unknown-type",
                    f"the question type '{row.get('type')}' is not an XLSForm type Sanad knows; the row is left out",
                    s,
                    row.number,
                )
                continue
            sanad_type, why = mapped
            if why:
                self.f.add("xlsform.unsupported-type", f"'{head}': {why}", s, row.number)
            if sanad_type is None:
                continue
            node = Node(row, "question", head, sanad_type, list_name, or_other, name, scope=scope)
            node.sid = self.new_id(name, row, s)
            if name:
                self.by_name.setdefault(name, node)
            nodes.append(node)
            if or_other:
                self.new_id(f"{node.sid}_other", row, s)
        for kind, name in reversed(stack):
            self.f.add(
                "xlsform.structure",
                f"the {kind} '{name}' is never closed ('end {kind}' is missing); it ends with the form",
                s,
                None,
            )
        return nodes

    # -- choices ------------------------------------------------------------------------------------
    def _read_choices(self) -> None:
        sheet = self.choices_sheet
        if sheet is None:
            return
        for col in sheet.columns:
            if col in ("list_name", "name", "label", "image", "hint") or col.startswith("media::"):
                continue
            if col in ("audio", "video", "big-image", "order", "comments"):
                continue
            self.choice_keys[col] = sanitize_id(col)
        for row in sheet.rows:
            ln = row.get("list_name")
            if not ln:
                if row.get("name"):
                    self.f.add("xlsform.choice", "the choice has no list_name; it is left out", sheet.name, row.number)
                continue
            self.lists.setdefault(ln, []).append(row)

    def lookup_for(self, list_name: str, or_other: bool) -> str | None:
        key = f"{list_name}\0{or_other}"
        if key in self.lookup_ids:
            return self.lookup_ids[key]
        rows = self.lists.get(list_name)
        if rows is None:
            return None
        base = sanitize_id(list_name) + ("_or_other" if or_other else "")
        lid = base
        n = 2
        while lid in self.taken_lookups:
            lid = f"{base}_{n}"
            n += 1
        self.taken_lookups.add(lid)
        self.lookup_ids[key] = lid
        sheet = self.choices_sheet.name if self.choices_sheet else "choices"
        choices: list[dict[str, Any]] = []
        seen: set[str] = set()
        for row in rows:
            value = row.get("name")
            if not value:
                self.f.add(
                    "xlsform.choice", f"a choice of '{list_name}' has no name; it is left out", sheet, row.number
                )
                continue
            if value in seen:
                self.f.add(
                    "xlsform.choice",
                    f"the value '{value}' appears twice in the list '{list_name}'; the later one is left out",
                    sheet,
                    row.number,
                )
                continue
            seen.add(value)
            label = self.text(row, "label") or value
            choice: dict[str, Any] = {"value": value, "label": label}
            for col, k in self.choice_keys.items():
                v = row.get(col)
                if v and k not in ("value", "label"):
                    choice[k] = v
            choices.append(choice)
            self.translate_texts(row, "label", f"lookups/{lid}/choices/{value}/label")
        if or_other and "other" not in seen:
            choices.append({"value": "other", "label": "Other"})
        if not choices:
            self.f.add("xlsform.choice", f"the list '{list_name}' has no usable choices", sheet, None)
            return None
        self.lookups[lid] = {"id": lid, "title": list_name, "choices": choices}
        return lid

    # -- pass 2 -------------------------------------------------------------------------------------
    def resolve(self, name: str) -> tuple[str, tuple[str, ...], bool] | None:
        node = self.by_name.get(name)
        if node is None or node.kind in ("begin_group",):
            return None
        return node.sid, node.scope, node.kind == "begin_repeat"

    def type_of(self, name: str) -> str | None:
        node = self.by_name.get(name)
        if node is None or node.kind != "question":
            return None
        if node.sanad_type in ("select_one", "select_multiple") and not (
            node.list_name and node.list_name in self.lists
        ):
            return "text"
        return node.sanad_type

    def expression(
        self,
        owner: dict[str, Any],
        key: str,
        row: Row,
        column: str,
        scope: tuple[str, ...],
        *,
        choice_filter: bool = False,
    ) -> None:
        source = re.sub(r"\s+", " ", row.get(column)).strip()
        if not source:
            return
        site = ExprSite(row.number, column, source, owner, key)
        self.sites.append(site)
        ctx = xp.Context(
            self.resolve,
            scope,
            choice_filter=choice_filter,
            choice_key=lambda c: self.choice_keys.get(c),
            sanad_id=lambda n: self.repeat_ids.get(n, sanitize_id(n)),
            type_of=self.type_of,
        )
        try:
            owner[key] = xp.translate(source, ctx)
            site.kept = True
        except xp.Unsupported as exc:
            self.f.add(
                "xlsform.unsupported-expression",
                f"the {column} '{_short(source)}' is left out: {exc}",
                self.survey.name,
                row.number,
            )

    def question(self, node: Node, path: str) -> list[dict[str, Any]]:
        row, s = node.row, self.survey.name
        t = node.sanad_type or "text"
        appearance = row.get("appearance").strip()
        if t == "text" and "multiline" in appearance.split():
            t = "textarea"
        label = self.text(row, "label")
        if not label:
            label = node.name or node.sid
        f: dict[str, Any] = {"id": node.sid, "type": t, "label": label}
        self.rows_of[id(f)] = row.number
        ctx_path = f"{path}/fields/{node.sid}"
        self.translate_texts(row, "label", f"{ctx_path}/label")
        hint = self.text(row, "hint")
        if hint:
            f["hint"] = hint
            self.translate_texts(row, "hint", f"{ctx_path}/hint")
        if t in ("select_one", "select_multiple"):
            lid = self.lookup_for(node.list_name, node.or_other) if node.list_name else None
            if lid is None:
                self.f.add(
                    "xlsform.unknown-list",
                    f"the choice list '{node.list_name or ''}' is not on the choices sheet; "
                    "imported as a text question",
                    s,
                    row.number,
                )
                f["type"] = t = "text"
            else:
                f["choices"] = lid
        answers = t not in ("note", "calculate")
        scope = node.scope
        self.expression(f, "relevant", row, "relevant", scope)
        req = row.get("required").strip()
        if req and answers:
            low = req.lower()
            if low in ("yes", "true", "true()", "1", "y"):
                f["required"] = True
            elif low not in ("no", "false", "false()", "0", "n"):
                self.expression(f, "required", row, "required", scope)
            if "required" in f and self.text(row, "required_message"):
                f["required_message"] = self.text(row, "required_message")
                self.translate_texts(row, "required_message", f"{ctx_path}/required_message")
        elif req and req.lower() not in ("no", "false", "false()", "0"):
            self._ignored(row, "required", f"a {node.xtype} has no answer to require")
        if row.get("constraint"):
            if answers:
                self.expression(f, "constraint", row, "constraint", scope)
                if "constraint" in f and self.text(row, "constraint_message"):
                    f["constraint_message"] = self.text(row, "constraint_message")
                    self.translate_texts(row, "constraint_message", f"{ctx_path}/constraint_message")
            else:
                self._ignored(row, "constraint", f"a {node.xtype} has no answer to check")
        if row.get("calculation"):
            if t == "calculate":
                self.expression(f, "calculate", row, "calculation", scope)
            else:
                self.sites.append(ExprSite(row.number, "calculation", row.get("calculation"), f, "calculate"))
                self._ignored(
                    row, "calculation", f"Sanad computes only calculate fields, not a {node.xtype} question's answer"
                )
        if t == "calculate" and "calculate" not in f:
            f["type"] = "text"
            f["read_only"] = True
        if row.get("choice_filter"):
            if t in ("select_one", "select_multiple"):
                self.expression(f, "choice_filter", row, "choice_filter", scope, choice_filter=True)
            else:
                self._ignored(row, "choice_filter", "the question is no longer a select")
        default = row.get("default")
        if default:
            self._default(f, default, row)
        ro = row.get("read_only").strip().lower()
        if ro in ("yes", "true", "true()", "1") and t not in ("note", "calculate"):
            f["read_only"] = True
        elif ro and ro not in ("no", "false", "false()", "0"):
            self._ignored(row, "read_only", "Sanad's read_only is true or false, not an expression")
        if node.xtype == "hidden":
            f["read_only"] = True
        if row.get("trigger"):
            self._ignored(row, "trigger", "Sanad recomputes calculations whenever an answer they read changes")
        if row.get("repeat_count"):
            self._ignored(row, "repeat_count", "only repeats have it")
        self._appearance(row, appearance)
        if label and re.search(r"\$\{[^}]+\}", label):
            self._ignored(row, "label", "Sanad shows ${…} in a label as written, not the answer it names")
        self._other_columns(row)
        out = [f]
        if node.or_other and "choices" in f:
            oid = f"{node.sid}_other"
            cond = f"${{{node.sid}}} = 'other'" if t == "select_one" else f"selected(${{{node.sid}}}, 'other')"
            other: dict[str, Any] = {"id": oid, "type": "text", "label": "Specify other.", "relevant": cond}
            self.rows_of[id(other)] = row.number
            out.append(other)
        return out

    def _ignored(self, row: Row, column: str, why: str) -> None:
        self.f.add(
            "xlsform.unsupported-column",
            f"the {column} '{_short(row.get(column))}' is left out: {why}",
            self.survey.name,
            row.number,
        )

    def _appearance(self, row: Row, appearance: str) -> None:
        for word in appearance.split():
            w = word.lower()
            if w in COSMETIC_APPEARANCES or re.match(r"^(w\d+|columns-\d+|search\(.*|autocomplete.*)$", w):
                continue
            self.f.add(
                "xlsform.unsupported-column",
                f"the appearance '{word}' has no Sanad equivalent; the question is shown as usual",
                self.survey.name,
                row.number,
            )

    def _other_columns(self, row: Row) -> None:
        for col, value in row.cells.items():
            if col in _KNOWN_COLUMNS or col in _IGNORED_COLUMNS or col.startswith("media::") or not value:
                continue
            if col in ("image", "audio", "video", "big-image"):
                self._ignored(row, col, "Sanad does not show media in forms")
            elif col in ("body::accuracythreshold", "accuracythreshold", "intent", "instance::"):
                self._ignored(row, col, "it applies to phones only")

    def _default(self, f: dict[str, Any], default: str, row: Row) -> None:
        t = f["type"]
        value: Any = None
        if "${" in default or "(" in default:
            value = None
        elif t in ("text", "textarea", "select_one"):
            value = default
        elif t == "integer" and re.fullmatch(r"-?\d+", default):
            value = int(default)
        elif t == "decimal" and re.fullmatch(r"-?\d+(\.\d+)?", default):
            value = float(default) if "." in default else int(default)
        elif t == "date" and re.fullmatch(r"\d{4}-\d{2}-\d{2}", default):
            value = default
        elif t == "select_multiple":
            value = default.split()
        if value is None or t in ("note", "calculate", "subform"):
            self.f.add(
                "xlsform.bad-default",
                f"the default '{_short(default)}' is not a plain answer of this {t} question; it is left out",
                self.survey.name,
                row.number,
            )
            return
        f["default"] = value

    def build(self, nodes: list[Node]) -> list[dict[str, Any]]:
        path0 = f"forms/{self.form_id}"
        root: list[dict[str, Any]] = []
        # frames: (kind, fields list, container dict, translation path, extra relevant for flattened groups)
        stack: list[tuple[str, list[dict[str, Any]], dict[str, Any] | None, str, list[str]]] = [
            ("root", root, None, path0, [])
        ]
        s = self.survey.name
        for node in nodes:
            _kind, fields, _, path, conds = stack[-1]
            in_repeat = any(k == "repeat" for k, *_ in stack)
            if node.kind == "question":
                for f in self.question(node, path):
                    if conds:
                        f["relevant"] = _and(conds + ([f["relevant"]] if "relevant" in f else []))
                    fields.append(f)
            elif node.kind == "begin_group" and in_repeat:
                self.f.add(
                    "xlsform.structure",
                    f"the group '{node.name}' is inside a repeat, where Sanad has no sections; its questions "
                    "are imported without the heading (its relevant applies to each of them)",
                    s,
                    node.row.number,
                )
                holder: dict[str, Any] = {}
                self.rows_of[id(holder)] = node.row.number
                self.expression(holder, "relevant", node.row, "relevant", node.scope)
                extra = [*conds, holder["relevant"]] if "relevant" in holder else list(conds)
                stack.append(("flat", fields, None, path, extra))
            elif node.kind in ("begin_group", "begin_repeat"):
                label = self.text(node.row, "label") or node.name or node.sid
                is_repeat = node.kind == "begin_repeat"
                c: dict[str, Any] = {
                    "id": node.sid,
                    "type": "subform" if is_repeat else "section",
                    "label": label,
                }
                self.rows_of[id(c)] = node.row.number
                tpath = f"{path}/fields/{node.sid}" if is_repeat else f"{path0}/sections/{node.sid}"
                self.translate_texts(node.row, "label", f"{tpath}/label")
                hint = self.text(node.row, "hint")
                if hint:
                    c["hint"] = hint
                    self.translate_texts(node.row, "hint", f"{tpath}/hint")
                self.expression(c, "relevant", node.row, "relevant", node.scope)
                if conds and is_repeat:
                    c["relevant"] = _and(conds + ([c["relevant"]] if "relevant" in c else []))
                if is_repeat and node.row.get("repeat_count"):
                    count = node.row.get("repeat_count")
                    if re.fullmatch(r"\d+", count):
                        c["max"] = int(count)
                    else:
                        self._ignored(node.row, "repeat_count", "Sanad lets people add rows as needed")
                self._appearance(node.row, node.row.get("appearance"))
                c["fields"] = []
                fields.append(c)
                new_path = f"{path}/fields/{node.sid}" if is_repeat else path
                stack.append(("repeat" if is_repeat else "group", c["fields"], c, new_path, [] if is_repeat else conds))
            elif node.kind in ("end_group", "end_repeat"):
                if len(stack) > 1:
                    stack.pop()
        return _prune(root, self.f, s, self.rows_of)

    def convert(self) -> Conversion:
        self._languages()
        self._read_choices()
        fid = self.form_id_arg or self.settings.get("form_id") or self.settings.get("id_string") or ""
        if not fid:
            fid = os.path.splitext(os.path.basename(self.book.path))[0]
        self.form_id = fid if ID.match(fid) else sanitize_id(fid)
        title = self.settings.get("form_title") or os.path.splitext(os.path.basename(self.book.path))[0]
        nodes = self.pass1()
        fields = self.build(nodes)
        if not fields:
            raise ImportFailure("no question of the survey sheet could be imported")
        form = {"id": self.form_id, "title": title, "record_type": self.record_type, "fields": fields}
        questions = sum(1 for n in nodes if n.kind == "question")
        return Conversion(
            self.form_id,
            title,
            form,
            self.lookups,
            self.default,
            self.locales,
            self.translations,
            len(self.survey.rows),
            questions,
            self.settings.get("version") or "1.0",
            self.sites,
            self.rows_of,
        )


def _and(conds: list[str]) -> str:
    return " and ".join(f"({c})" for c in conds) if len(conds) > 1 else conds[0]


def _prune(fields: list[dict[str, Any]], f: Findings, sheet: str, rows_of: dict[int, int]) -> list[dict[str, Any]]:
    """Sections and subforms left without questions are left out (Sanad needs fields in them)."""
    out = []
    for fd in fields:
        if fd["type"] in ("section", "subform"):
            fd["fields"] = _prune(fd["fields"], f, sheet, rows_of)
            if not fd["fields"]:
                kind = "group" if fd["type"] == "section" else "repeat"
                f.add(
                    "xlsform.structure",
                    f"the {kind} '{fd['id']}' has no question Sanad can import; it is left out",
                    sheet,
                    rows_of.get(id(fd)),
                )
                continue
        out.append(fd)
    return out


def _short(text: str, n: int = 80) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= n else text[: n - 1] + "…"
