"""Build Sanad definition dicts (a form, its lookups, translations) from an XLSForm's rows.

Nothing is silently dropped: each row, column or expression Sanad cannot represent gives a finding
naming FILE:sheet:ROW, and is mapped to the nearest construct or left out.

A workbook written by `sanad export-xlsform` also has `sanad::<key>` columns (engine/xlsform/export.py,
docs/xlsform.md "Round trip"): what XLSForm cannot say, as Sanad wrote it. They win over the XLSForm
columns, so the form comes back as it was: `sanad::relevant`, `sanad::required`, `sanad::constraint`,
`sanad::calculation` and `sanad::choice_filter` hold the Sanad expression (references written
#{field}), `sanad::type` the Sanad type (`yes_no`, `calculate` for a `hidden` row), `sanad::min` and
`sanad::max` the bounds (the `constraint` column then only repeats them), `sanad::sensitivity`,
`sanad::choices` whether the choices are the field's own (`inline`) and a calculate's list, and a
repeat's `sanad::required` and `sanad::required_message`. The settings sheet has the form's
`sanad::form_relevant`, `sanad::form_title` and `sanad::description` (in each language), the lookups'
`sanad::list_titles`, `sanad::choice_keys` (filter keys that are true/false or numbers),
`sanad::settings` (what setting() reads; writer.py adds them to the module) and `sanad::record_type`
(writer.py, when no record type is given); `sanad::module` only says where the form came from.
"""

from __future__ import annotations

import csv
import json
import os
import re
from dataclasses import dataclass, field
from typing import Any

from engine.language.model import FIELD_TYPES
from engine.xlsform import expressions as xp
from engine.xlsform.export import restore
from engine.xlsform.findings import Findings, ImportFailure
from engine.xlsform.reader import SANAD_PREFIX, Row, Sheet, Workbook

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
#: metadata Sanad can compute: the type -> (calculation, what it becomes)
METADATA_CALCULATIONS = {
    "start": ("once(now())", "the date and time the record was first saved"),
    "end": ("now()", "the date and time the record was last saved"),
    "today": ("once(today())", "the day the record was first saved"),
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
# The sanad:: columns of the survey sheet (the settings sheet's are read in Converter.convert).
SANAD_COLUMNS = frozenset(
    {
        "relevant",
        "required",
        "constraint",
        "calculation",
        "choice_filter",
        "type",
        "min",
        "max",
        "sensitivity",
        "choices",
    }
)
_GROUP_COLUMNS = frozenset({"relevant"})
_REPEAT_COLUMNS = frozenset({"relevant", "required", "required_message", "min", "max", "sensitivity"})
SENSITIVITIES = ("none", "quasi", "direct")
_SANAD_REF = re.compile(r"\$\{((?:\.\./)*)([A-Za-z_][A-Za-z0-9_]*)\}")
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
    names: set[str] = field(default_factory=set)  # the ids of the form's questions, groups and repeats
    settings: dict[str, Any] = field(default_factory=dict)  # sanad::settings: module settings its rules read

    def reads_elsewhere(self, source: str) -> bool:
        """True when a Sanad expression reads a field this form does not have, or a module setting
        (it was exported from a module where another form has them)."""
        return "setting(" in source or any(m.group(2) not in self.names for m in _SANAD_REF.finditer(source))

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
        self.settings_row = settings.rows[0] if settings and settings.rows else Row(0, {})
        self.settings: dict[str, str] = dict(self.settings_row.cells)
        self.key_kinds = self._key_kinds()
        self._titles: dict[str, dict[str, str]] | None = None
        self.by_name: dict[str, Node] = {}
        self.repeat_ids: dict[str, str] = {}
        self.lists: dict[str, list[Row]] = {}
        self.lookup_ids: dict[str, str] = {}
        self.lookups: dict[str, dict[str, Any]] = {}
        self.external: dict[str, dict[str, Any]] = {}  # file stem -> the option list it fills
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

    # -- sanad:: columns ------------------------------------------------------------------------------
    def sanad(self, row: Row, key: str) -> str:
        """The `sanad::<key>` cell of a row written by `sanad export-xlsform` ('' when there is none)."""
        return row.get(SANAD_PREFIX + key).strip()

    def kept(self, text: str) -> str:
        """The Sanad expression of a sanad:: cell, its references to renamed questions updated."""

        def ref(m: re.Match[str]) -> str:
            node = self.by_name.get(m.group(2))
            sid = node.sid if node is not None and node.kind != "begin_group" else m.group(2)
            return f"${{{m.group(1)}{sid}}}"

        return _SANAD_REF.sub(ref, restore(text))

    def _key_kinds(self) -> dict[str, dict[str, str]]:
        """list -> filter key -> 'boolean' | 'number', from the settings' sanad::choice_keys."""
        raw = self.settings.get(SANAD_PREFIX + "choice_keys", "")
        if not raw:
            return {}
        try:
            data = json.loads(raw)
        except ValueError:
            data = None
        if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
            self.f.add(
                "xlsform.unsupported-column",
                f"the sanad::choice_keys '{_short(raw)}' is not what sanad export-xlsform writes; "
                "the choices' keys are kept as text",
                self.settings_row_sheet(),
                self.settings_row.number or None,
            )
            return {}
        return {str(k): {str(n): str(t) for n, t in v.items()} for k, v in data.items()}

    def _module_settings(self) -> dict[str, Any]:
        """sanad::settings: the module settings the form's rules read with setting('name')."""
        raw = self.settings.get(SANAD_PREFIX + "settings", "")
        if not raw:
            return {}
        try:
            data = json.loads(raw)
        except ValueError:
            data = None
        if not isinstance(data, dict) or not all(isinstance(k, str) and ID.match(k) for k in data):
            self.f.add(
                "xlsform.unsupported-column",
                f"the sanad::settings '{_short(raw)}' is not what sanad export-xlsform writes; it is left out",
                self.settings_row_sheet(),
                self.settings_row.number or None,
            )
            return {}
        return data

    def settings_row_sheet(self) -> str:
        sheet = self.book.sheets.get("settings")
        return sheet.name if sheet else "settings"

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
            if head in METADATA_CALCULATIONS and name:
                calc, what = METADATA_CALCULATIONS[head]
                self.f.add(
                    "xlsform.unsupported-type",
                    f"'{head}' is metadata a phone records; it is imported as the calculation {calc}: {what}",
                    s,
                    row.number,
                )
                node = Node(row, "question", head, "calculate", None, False, name, scope=scope)
                node.sid = self.new_id(name, row, s)
                self.by_name.setdefault(name, node)
                nodes.append(node)
                continue
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
            kept_type = self.sanad(row, "type")
            if kept_type:
                if kept_type in FIELD_TYPES and kept_type not in ("section", "subform"):
                    sanad_type = kept_type
                else:
                    self._ignored(row, SANAD_PREFIX + "type", "it is not a type of a Sanad question")
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
            if col in ("list_name", "name", "label", "image", "hint") or col.startswith(("media::", SANAD_PREFIX)):
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
        choices = self.choice_list(list_name, rows, or_other, f"lookups/{lid}/choices")
        if not choices:
            return None
        titles = self.list_titles()
        title = titles.get(self.default, {}).get(list_name) or list_name
        for code, by_list in titles.items():
            if code != self.default and by_list.get(list_name):
                self.translations.setdefault(code, {})[f"lookups/{lid}/title"] = by_list[list_name]
        self.lookups[lid] = {"id": lid, "title": title, "choices": choices}
        return lid

    def lookup_columns(self, list_name: str, column: str, key: str, row: int) -> tuple[str, str, str]:
        """pulldata() and instance() lookups: (option list id, column, key column) in Sanad's terms.
        A list of the choices sheet reads its keys; another name is a CSV file beside the form
        (pulldata's 'fruits' is fruits.csv), read when it is there, else declared with the columns
        the form reads and no options (xlsform.external-data)."""
        if list_name in self.lists:
            lid = self.lookup_for(list_name, False)
            if lid is None:
                raise xp.Unsupported(f"the choice list '{list_name}' has no choice Sanad can import")

            def known(c: str) -> str:
                if c == "name":
                    return "value"
                if c == "label" or c.startswith("label::"):
                    return "label"
                if c not in self.choice_keys:
                    raise xp.Unsupported(f"the choice list '{list_name}' has no column '{c}'")
                return self.choice_keys[c]

            return lid, known(column), known(key)
        stem = os.path.splitext(list_name)[0]
        ext = self.external.get(stem)
        if ext is None:
            base, n = sanitize_id(stem), 2
            lid = base
            while lid in self.taken_lookups:
                lid, n = f"{base}_{n}", n + 1
            self.taken_lookups.add(lid)
            ext = {"id": lid, "title": stem}
            path = os.path.join(os.path.dirname(self.book.path), stem + ".csv")
            ext["choices"] = _csv_choices(path) if os.path.isfile(path) else []
            if not ext["choices"]:
                ext["columns"] = []
                self.f.add(
                    "xlsform.external-data",
                    f"the form reads '{stem}.csv', which is not beside it: the option list '{lid}' is declared "
                    "without options; add them (or the file, and import again) before the lookups give answers",
                    self.survey.name,
                    row,
                )
            self.external[stem] = ext
            self.lookups[lid] = ext

        def external(c: str) -> str:
            cid = "value" if c == "name" else "label" if c == "label" else sanitize_id(c)
            if "columns" in ext and cid not in ("value", "label") and cid not in ext["columns"]:
                ext["columns"].append(cid)
            return cid

        return ext["id"], external(column), external(key)

    def list_titles(self) -> dict[str, dict[str, str]]:
        """language -> list -> the title of the lookup it was exported from (sanad::list_titles)."""
        if self._titles is not None:
            return self._titles
        row, key = self.settings_row, SANAD_PREFIX + "list_titles"
        cells = [(self.default, row.get(key))] if row.get(key) else []
        cells += [(self.codes[h], v) for h, v in row.translations.get(key, {}).items() if h in self.codes]
        self._titles = {}
        for code, raw in cells:
            try:
                data = json.loads(raw)
            except ValueError:
                data = None
            if not isinstance(data, dict):
                self.f.add(
                    "xlsform.unsupported-column",
                    f"the {key} '{_short(raw)}' is not what sanad export-xlsform writes; it is left out",
                    self.settings_row_sheet(),
                    row.number or None,
                )
                continue
            self._titles.setdefault(code, {}).update({str(k): str(v) for k, v in data.items() if v})
        return self._titles

    def choice_list(self, list_name: str, rows: list[Row], or_other: bool, path: str) -> list[dict[str, Any]]:
        """The choices of a list, their labels' translations under `path`/<value>/label."""
        sheet = self.choices_sheet.name if self.choices_sheet else "choices"
        kinds = self.key_kinds.get(list_name, {})
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
                    choice[k] = _typed(v, kinds.get(col))
            choices.append(choice)
            self.translate_texts(row, "label", f"{path}/{value}/label")
        if or_other and "other" not in seen:
            choices.append({"value": "other", "label": "Other"})
        if not choices:
            self.f.add("xlsform.choice", f"the list '{list_name}' has no usable choices", sheet, None)
        return choices

    def inline_choices(self, list_name: str, row: Row, field_path: str) -> list[dict[str, Any]] | None:
        """A list written in the field itself in Sanad (sanad::choices: inline), not as a lookup."""
        rows = self.lists.get(list_name)
        if rows is None:
            return None
        return self.choice_list(list_name, rows, False, f"{field_path}/choices") or None

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
        kept = self.sanad(row, column)
        if kept:  # the Sanad expression itself, as exported: it wins over the XPath translation
            owner[key] = self.kept(kept)
            self.sites.append(ExprSite(row.number, SANAD_PREFIX + column, owner[key], owner, key, kept=True))
            return
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
            lookup=lambda name, column, key: self.lookup_columns(name, column, key, row.number),
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
        spec = self.sanad(row, "choices").split()
        inline = bool(spec) and spec[0] == "inline"
        if t == "calculate" and spec:  # a calculate's choices (XLSForm's calculate names no list)
            self._calculate_choices(f, row, spec, ctx_path)
        if t in ("select_one", "select_multiple") and inline and node.list_name:
            own = self.inline_choices(node.list_name, row, ctx_path)
            if own is not None:
                f["choices"] = own
        if t in ("select_one", "select_multiple") and "choices" not in f:
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
        self._sensitivity(f, row)
        req, kept_req = row.get("required").strip(), self.sanad(row, "required")
        if answers and kept_req:
            self.expression(f, "required", row, "required", scope)
        elif req and answers:
            low = req.lower()
            if low in ("yes", "true", "true()", "1", "y"):
                f["required"] = True
            elif low not in ("no", "false", "false()", "0", "n"):
                self.expression(f, "required", row, "required", scope)
        elif kept_req or (req and req.lower() not in ("no", "false", "false()", "0")):
            column = "required" if req else SANAD_PREFIX + "required"
            self._ignored(row, column, f"a {node.xtype} has no answer to require")
        if "required" in f and self.text(row, "required_message"):
            f["required_message"] = self.text(row, "required_message")
            self.translate_texts(row, "required_message", f"{ctx_path}/required_message")
        # with sanad::min/max, the constraint column only repeats the bounds (and-ed into it)
        bounded = self._bounds(f, row, t)
        if self.sanad(row, "constraint") or (row.get("constraint") and not bounded):
            if answers:
                self.expression(f, "constraint", row, "constraint", scope)
            else:
                column = "constraint" if row.get("constraint") else SANAD_PREFIX + "constraint"
                self._ignored(row, column, f"a {node.xtype} has no answer to check")
        if answers and any(k in f for k in ("constraint", "min", "max")) and self.text(row, "constraint_message"):
            f["constraint_message"] = self.text(row, "constraint_message")
            self.translate_texts(row, "constraint_message", f"{ctx_path}/constraint_message")
        if row.get("calculation") or self.sanad(row, "calculation"):
            if t == "calculate":
                self.expression(f, "calculate", row, "calculation", scope)
            else:
                column = "calculation" if row.get("calculation") else SANAD_PREFIX + "calculation"
                self.sites.append(ExprSite(row.number, column, row.get(column), f, "calculate"))
                self._ignored(
                    row, column, f"Sanad computes only calculate fields, not a {node.xtype} question's answer"
                )
        if node.xtype in METADATA_CALCULATIONS and "calculate" not in f:
            f["calculate"] = METADATA_CALCULATIONS[node.xtype][0]
        if t == "calculate" and "calculate" not in f:
            f["type"] = "text"
            f["read_only"] = True
        if row.get("choice_filter") or self.sanad(row, "choice_filter"):
            if t in ("select_one", "select_multiple"):
                self.expression(f, "choice_filter", row, "choice_filter", scope, choice_filter=True)
            else:
                column = "choice_filter" if row.get("choice_filter") else SANAD_PREFIX + "choice_filter"
                self._ignored(row, column, "the question is no longer a select")
        default = row.get("default")
        if default:
            self._default(f, default, row)
        ro = row.get("read_only").strip().lower()
        if ro in ("yes", "true", "true()", "1") and t not in ("note", "calculate"):
            f["read_only"] = True
        elif ro and ro not in ("no", "false", "false()", "0"):
            self._ignored(row, "read_only", "Sanad's read_only is true or false, not an expression")
        if node.xtype == "hidden" and f["type"] != "calculate":
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

    def _calculate_choices(self, f: dict[str, Any], row: Row, spec: list[str], ctx_path: str) -> None:
        """sanad::choices of a calculate: 'LIST' (a lookup) or 'inline LIST' (its own choices)."""
        inline = spec[0] == "inline"
        name = spec[1] if inline and len(spec) > 1 else spec[0]
        if name == "inline":
            chosen: str | list[dict[str, Any]] | None = None
        elif inline:
            chosen = self.inline_choices(name, row, ctx_path)
        else:
            chosen = self.lookup_for(name, False) if name in self.lists else None
        if chosen is None:
            self._ignored(row, SANAD_PREFIX + "choices", f"the choice list '{name}' is not on the choices sheet")
            return
        f["choices"] = chosen

    def _repeat_required(self, c: dict[str, Any], row: Row, path: str) -> None:
        """sanad::required of a repeat (at least one row) and its sanad::required_message."""
        kept = self.sanad(row, "required")
        if kept.lower() in ("true", "false"):
            if kept.lower() == "true":
                c["required"] = True
        elif kept:
            self.expression(c, "required", row, "required", ())
        message = self.text(row, SANAD_PREFIX + "required_message")
        if "required" in c and message:
            c["required_message"] = message
            self.translate_texts(row, SANAD_PREFIX + "required_message", f"{path}/required_message")

    def _bounds(self, f: dict[str, Any], row: Row, t: str) -> bool:
        """sanad::min/sanad::max (of a number, a date or a subform's rows); True if the row has any."""
        found = False
        for key in ("min", "max"):
            text = self.sanad(row, key)
            if not text:
                continue
            found = True
            value = _bound(text, t)
            if value is None:
                self._ignored(row, SANAD_PREFIX + key, f"it is not a {key} of a {t} field")
            else:
                f[key] = value
        return found

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

    def _unknown_sanad(self, row: Row, known: frozenset[str]) -> None:
        columns = [c for c, v in row.cells.items() if v] + [c for c, tr in row.translations.items() if any(tr.values())]
        for col in columns:
            if col.startswith(SANAD_PREFIX) and col[len(SANAD_PREFIX) :] not in known:
                self.f.add(
                    "xlsform.unsupported-column",
                    f"the column '{col}' is left out: Sanad does not read it on a '{row.get('type')}' row",
                    self.survey.name,
                    row.number,
                )

    def _sensitivity(self, f: dict[str, Any], row: Row) -> None:
        sensitivity = self.sanad(row, "sensitivity")
        if sensitivity in SENSITIVITIES:
            if sensitivity != "none":
                f["sensitivity"] = sensitivity
        elif sensitivity:
            self._ignored(row, SANAD_PREFIX + "sensitivity", "it is none, quasi or direct in Sanad")

    def _other_columns(self, row: Row) -> None:
        self._unknown_sanad(row, SANAD_COLUMNS)
        for col, value in row.cells.items():
            if col.startswith(SANAD_PREFIX):
                continue
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

    def _form_settings(self, form: dict[str, Any]) -> None:
        """What the settings sheet keeps of the form: its description, its title in each language and
        its own relevant (XLSForm has no whole-form condition)."""
        row, path = self.settings_row, f"forms/{self.form_id}"
        description = self.text(row, SANAD_PREFIX + "description")
        if description:
            form["description"] = description
            self.translate_texts(row, SANAD_PREFIX + "description", f"{path}/description")
        self.translate_texts(row, SANAD_PREFIX + "form_title", f"{path}/title")
        relevant = self.sanad(row, "form_relevant")
        if relevant:
            form["relevant"] = self.kept(relevant)
            self.sites.append(
                ExprSite(row.number, SANAD_PREFIX + "form_relevant", form["relevant"], form, "relevant", True)
            )

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
                if is_repeat and self._bounds(c, node.row, "subform"):
                    pass  # sanad::min/max: the rows Sanad asks for (XLSForm repeats have no such limit)
                elif is_repeat and node.row.get("repeat_count"):
                    count = node.row.get("repeat_count")
                    if re.fullmatch(r"\d+", count):
                        c["max"] = int(count)
                    else:
                        self._ignored(node.row, "repeat_count", "Sanad lets people add rows as needed")
                if is_repeat:
                    self._sensitivity(c, node.row)
                    self._repeat_required(c, node.row, tpath)
                self._appearance(node.row, node.row.get("appearance"))
                self._unknown_sanad(node.row, _REPEAT_COLUMNS if is_repeat else _GROUP_COLUMNS)
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
        form: dict[str, Any] = {"id": self.form_id, "title": title, "record_type": self.record_type}
        self._form_settings(form)
        form["fields"] = fields
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
            {n.sid for n in nodes if n.sid},
            self._module_settings(),
        )


def _csv_choices(path: str) -> list[dict[str, Any]]:
    """The rows of an external CSV (name, label and other columns) as options; [] when unreadable."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            rows = list(csv.DictReader(fh))
    except (OSError, UnicodeDecodeError, csv.Error):
        return []
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for r in rows:
        value = (r.get("name") or "").strip()
        if not value or value in seen:
            continue
        seen.add(value)
        label = next((v for k, v in r.items() if k and (k == "label" or k.startswith("label::")) and v), value)
        option: dict[str, Any] = {"value": value, "label": str(label).strip() or value}
        for k, v in r.items():
            if k and k != "name" and not (k == "label" or k.startswith("label::")) and v not in (None, ""):
                option.setdefault(sanitize_id(k), v)
        out.append(option)
    return out


def settings_of(book: Workbook) -> dict[str, str]:
    """The first row of the settings sheet (column -> text); empty when there is none."""
    sheet = book.sheets.get("settings")
    return dict(sheet.rows[0].cells) if sheet and sheet.rows else {}


def _bound(text: str, t: str) -> Any:
    """A min/max as Sanad writes it for a `t` field: a number, or a date as text; None if it is not one."""
    if t in ("integer", "subform"):
        return int(text) if re.fullmatch(r"-?\d+", text) else None
    if t == "decimal":
        if re.fullmatch(r"-?\d+", text):
            return int(text)
        return float(text) if re.fullmatch(r"-?\d+\.\d*(e-?\d+)?", text) else None
    if t in ("date", "datetime"):
        return text if re.fullmatch(r"\d{4}-\d{2}-\d{2}([T ][0-9:.]+)?", text) else None
    return None


def _typed(text: str, kind: str | None) -> Any:
    """A choice's filter key as Sanad had it (sanad::choice_keys): true/false or a number, else text."""
    if kind == "boolean" and text in ("true", "false"):
        return text == "true"
    if kind == "number" and re.fullmatch(r"-?\d+", text):
        return int(text)
    if kind == "number" and re.fullmatch(r"-?\d+\.\d+", text):
        return float(text)
    return text


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
