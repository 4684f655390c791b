"""Export Sanad forms as an XLSForm (survey, choices and settings sheets) that pyxform converts.

    export_forms(module, ["gbv_incident"]) -> XlsformExport   (rows and warnings, no file yet)
    write_xlsform(module, ["gbv_incident"], "incident.xlsx")  -> the warnings

What maps to what (docs/xlsform.md, "Export"):

- field types: text, integer, decimal, date, select_one, select_multiple, note and calculate keep
  their names; `textarea` is `text` with `appearance: multiline`; `datetime` is `dateTime`; `yes_no`
  is `select_one yes_no` (a list with Yes and No); a `subform` is a `begin repeat`/`end repeat`, a
  `section` a `begin group`/`end group`. Exporting several forms wraps each in a group.
- option lists: a lookup becomes a list named after it, inline choices a list named after their
  field; filter keys become extra columns of the choices sheet.
- relevant, required (+ required_message), constraint (+ constraint_message), calculation,
  choice_filter, default and read_only; `min`/`max` of numbers and dates are and-ed into the
  constraint.
- expressions are written in XLSForm's XPath where the two differ (`true` → `true()`, a bare choice
  key `value` → `name`, `coalesce()` of more than two arguments nested, `days-between()` of dates
  through `decimal-date-time()`, `any()`/`all()` as counts of a filtered repeat, `sum()` of a row
  field as `sum()` of that field). A function without an XLSForm equivalent (`age()`,
  `years-between()`, `join()`, `sum()` of a computed row value), a reference to a field outside the
  exported forms, or a datetime in `days-between()` leaves the column empty with a warning naming
  the field; a `calculate` left without its calculation is exported as `hidden` (pyxform refuses
  an empty calculation).
- translations: `label::Language (code)`, `hint::…`, `required_message::…`, `constraint_message::…`
  for each of the module's locales, from its gettext catalogs, English where a text has no
  translation (as Sanad shows it).
- whatever XLSForm cannot say, or says differently, is kept in `sanad::<key>` columns, which pyxform
  and the phones ignore and `sanad import-xlsform` reads back (engine/xlsform/convert.py), so the
  round trip gives the form back as it was: the Sanad expression of every column left empty or
  written differently (`sanad::relevant`, `sanad::required`, `sanad::constraint`, `sanad::calculation`,
  `sanad::choice_filter`), `sanad::type` when the type changed, `sanad::min`/`sanad::max`,
  `sanad::sensitivity`, `sanad::choices` (`inline` choices; a calculate's list), a subform's
  `sanad::required` and `sanad::required_message::…`; in the settings sheet the form's
  `sanad::form_relevant`, `sanad::form_title::…` and `sanad::description::…`, the lookups'
  `sanad::list_titles::…`, `sanad::choice_keys` (true/false and number keys), `sanad::settings`
  (what setting() reads), `sanad::module` and `sanad::record_type`. References in them are written
  `#{field}` (`restore()` turns them back), because pyxform checks the `${…}` of every column.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from babel import Locale, UnknownLocaleError

from engine.expressions.compiler import Expression
from engine.i18n.translator import Translator, choice_path, field_path, translator_for
from engine.language.model import YES_NO_CHOICES, Choice, Field, Form, Module, RecordType, Section

Node = dict[str, Any]
_REF = re.compile(r"\$\{(\.\./)*[A-Za-z_][A-Za-z0-9_]*\}")
_SETTING = re.compile(r"""setting\(\s*['"]([A-Za-z_][A-Za-z0-9_]*)['"]\s*\)""")
_KEPT = re.compile(r"#\{(\.\./)*[A-Za-z_][A-Za-z0-9_]*\}")

_TYPES = {
    "text": "text",
    "textarea": "text",
    "integer": "integer",
    "decimal": "decimal",
    "date": "date",
    "datetime": "dateTime",
    "note": "note",
    "calculate": "calculate",
}
_PREC = {"or": 1, "and": 2, "cmp": 3, "+": 4, "-": 4, "*": 5, "div": 5, "mod": 5, "neg": 6}
_SAME = frozenset(
    {"selected", "count-selected", "count", "if", "concat", "string-length", "regex", "today", "date", "int"}
)
_NO_EQUIVALENT = {
    "age": "age() has no exact XLSForm equivalent",
    "years-between": "years-between() has no exact XLSForm equivalent",
    "join": "join() skips empty values; XLSForm's join() does not",
}
TRANSLATED_KEYS = ("label", "hint", "required_message", "constraint_message")


class Untranslatable(Exception):
    """An expression that XLSForm cannot say; the message says why."""


@dataclass
class XlsformExport:
    """The rows of the three sheets (header first) and the warnings, before anything is written."""

    survey: list[list[Any]]
    choices: list[list[Any]]
    settings: list[list[Any]]
    warnings: list[str] = field(default_factory=list)

    def workbook(self) -> Any:
        from openpyxl import Workbook

        wb = Workbook()
        ws = wb.active
        assert ws is not None
        ws.title = "survey"
        for row in self.survey:
            ws.append(row)
        for title, rows in (("choices", self.choices), ("settings", self.settings)):
            sheet = wb.create_sheet(title)
            for row in rows:
                sheet.append(row)
        return wb

    def save(self, dest: str) -> None:
        self.workbook().save(dest)


def language_column(code: str) -> str:
    """'Français (fr)': the language's own name and its code, as XLSForm columns name them."""
    try:
        name = Locale.parse(code).get_display_name(code) or code
    except (UnknownLocaleError, ValueError):
        name = code
    return f"{name[:1].upper()}{name[1:]} ({code})"


class _Expressions:
    """Sanad expressions (their checked AST) written as XLSForm XPath with ${name} references."""

    def __init__(self, rt: RecordType, exported: set[str]) -> None:
        self.rt = rt
        self.exported = exported

    def translate(self, expr: Expression) -> str:
        return self.node(expr.ast, None)

    def node(self, n: Node, row: Field | None) -> str:
        op = n["op"]
        if op == "lit":
            return _literal(n["value"])
        if op == "ref":
            return self.ref(n, row)
        if op == "dot":
            return "."
        if op == "choice":
            return "name" if n["name"] == "value" else str(n["name"])
        if op == "neg":
            return "-" + self.wrap(n["args"][0], _PREC["neg"], row)
        if op == "not":
            return f"not({self.node(n['args'][0], row)})"
        if op in ("and", "or"):
            p = _PREC[op]
            return f"{self.wrap(n['args'][0], p, row)} {op} {self.wrap(n['args'][1], p + 1, row)}"
        if op == "cmp":
            p = _PREC["cmp"]
            left, right = n["args"]
            if _choice_key_and_bool(left, right) or _choice_key_and_bool(right, left):
                # the choices sheet holds a true/false key as the text 'true'/'false'; in XPath a
                # node compared with true() is true whenever the choice has the column at all
                return f"{self.choice_side(left)} {n['cmp']} {self.choice_side(right)}"
            return f"{self.wrap(left, p + 1, row)} {n['cmp']} {self.wrap(right, p + 1, row)}"
        if op == "arith":
            p = _PREC[n["arith"]]
            return f"{self.wrap(n['args'][0], p, row)} {n['arith']} {self.wrap(n['args'][1], p + 1, row)}"
        if op == "call":
            return self.call(n, row)
        raise Untranslatable(f"the expression node '{op}' has no XLSForm form")  # pragma: no cover

    def choice_side(self, n: Node) -> str:
        if n["op"] == "lit":
            return "'true'" if n["value"] else "'false'"
        return self.node(n, None)

    def wrap(self, n: Node, needed: int, row: Field | None) -> str:
        text = self.node(n, row)
        return f"({text})" if _prec(n) < needed else text

    def target(self, n: Node) -> Field:
        f = self.rt.all_fields.get(n["name"])
        if f is None or f.id not in self.exported:
            raise Untranslatable(f"it reads ${{{n['name']}}}, a field of another form")
        return f

    def ref(self, n: Node, row: Field | None) -> str:
        f = self.target(n)
        if row is not None:  # inside a filter of a repeat's rows: the row's own fields by name
            if n["up"] == 0:
                return str(n["name"])
            if f.scope.owner is not None:
                raise Untranslatable(f"it reads ${{{n['name']}}} of an outer repeat inside a row condition")
        return f"${{{n['name']}}}"

    def call(self, n: Node, row: Field | None) -> str:
        fn, args = n["fn"], n["args"]
        if fn in _NO_EQUIVALENT:
            raise Untranslatable(_NO_EQUIVALENT[fn])
        if fn in _SAME:
            return f"{fn}({', '.join(self.node(a, row) for a in args)})"
        if fn in ("min", "max"):
            return f"{fn}({', '.join(self.node(a, row) for a in args)})"
        if fn == "round":
            digits = self.node(args[1], row) if len(args) > 1 else "0"
            return f"round({self.node(args[0], row)}, {digits})"
        if fn == "coalesce":
            out = self.node(args[-1], row)
            for a in reversed(args[:-1]):
                out = f"coalesce({self.node(a, row)}, {out})"
            return out if len(args) > 1 else f"coalesce({out}, '')"
        if fn == "days-between":
            if not all(self.is_date(a) for a in args):
                raise Untranslatable("days-between() of date-times has no exact XLSForm equivalent")
            d1, d2 = (self.node(a, row) for a in args)
            return f"int(decimal-date-time({d2}) - decimal-date-time({d1}))"
        if fn in ("any", "all", "sum"):
            if row is not None:
                raise Untranslatable(f"{fn}() inside a row condition has no XLSForm equivalent")
            sub = self.node(args[0], row)
            owner = self.target(args[0])
            if fn == "sum":
                inner = args[1]
                if inner["op"] == "ref" and inner["up"] == 0:
                    return f"sum({sub}/{inner['name']})"
                raise Untranslatable("sum() of a computed row value has no XLSForm equivalent")
            cond = self.node(args[1], owner)
            if fn == "any":
                return f"count({sub}[{cond}]) > 0"
            return f"count({sub}[not({cond})]) = 0"
        raise Untranslatable(f"{fn}() has no XLSForm equivalent")

    def is_date(self, n: Node) -> bool:
        if n["op"] == "call":
            return bool(n["fn"] in ("today", "date"))
        if n["op"] == "ref":
            f = self.rt.all_fields.get(n["name"])
            return f is not None and f.type == "date"
        return False


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true()" if value else "false()"
    if isinstance(value, (int, float)):
        return repr(value)
    text = str(value)
    return f'"{text}"' if "'" in text else f"'{text}'"


def _choice_key_and_bool(key: Node, lit: Node) -> bool:
    return key["op"] == "choice" and lit["op"] == "lit" and isinstance(lit["value"], bool)


def _prec(n: Node) -> int:
    op = n["op"]
    if op == "arith":
        return _PREC[n["arith"]]
    if op == "lit" and isinstance(n["value"], (int, float)) and not isinstance(n["value"], bool) and n["value"] < 0:
        return _PREC["neg"]
    return _PREC.get(op, 9)


class _Exporter:
    def __init__(self, module: Module, forms: list[Form], locales: Sequence[str]) -> None:
        self.module = module
        self.forms = forms
        self.locales = list(locales)
        self.rt = module.record_types[forms[0].record_type]
        self.translators: dict[str, Translator] = {loc: translator_for(module, loc) for loc in self.locales}
        self.columns = {loc: language_column(loc) for loc in self.locales}
        exported: set[str] = set()
        for form in forms:
            exported.update(f.id for f in form.walk())
        self.xp = _Expressions(self.rt, exported)
        self.rows: list[dict[str, Any]] = []
        self.lists: dict[str, tuple[Field | None, tuple[Choice, ...]]] = {}
        self.list_of: dict[int, str] = {}
        self.warnings: list[str] = []

    # -- texts --------------------------------------------------------------------------------------
    def texts(self, row: dict[str, Any], key: str, path: str, english: str | None) -> None:
        if not english:
            return
        for loc, tr in self.translators.items():
            row[f"{key}::{self.columns[loc]}"] = tr.text(path, english)[0]

    # -- expressions ----------------------------------------------------------------------------------
    def expression(
        self, row: dict[str, Any], column: str, expr: Any, where: str, key: str, own: tuple[Node, str] | None = None
    ) -> str | None:
        """Write `expr` (or `own`: an AST and its source) in `column`; a warning if XLSForm cannot say it."""
        if own is None and (expr is None or isinstance(expr, bool)):
            return None
        node, source = own if own is not None else (expr.ast, expr.source)
        try:
            text = self.xp.node(node, None)
        except Untranslatable as exc:
            self.warnings.append(
                f"{where}: {key} not exported ({exc}): '{' '.join(source.split())}'; the column is left empty"
            )
            row[f"sanad::{key}"] = keep(source)
            return None
        row[column] = text
        if not _same(text, source):
            row[f"sanad::{key}"] = keep(source)
        return text

    # -- the survey -------------------------------------------------------------------------------------
    def run(self) -> XlsformExport:
        several = len(self.forms) > 1
        for form in self.forms:
            if several:
                row: dict[str, Any] = {"type": "begin group", "name": form.id}
                self.texts(row, "label", f"forms/{form.id}/title", form.title)
                self.expression(row, "relevant", form.relevant, f"form {form.id}", "relevant")
                self.rows.append(row)
            elif form.relevant is not None:
                self.warnings.append(
                    f"form {form.id}: relevant not exported (XLSForm has no whole-form condition): "
                    f"'{' '.join(form.relevant.source.split())}'"
                )  # kept as sanad::form_relevant in the settings sheet
            self.items(form.layout)
            if several:
                self.rows.append({"type": "end group", "name": form.id})
        return self.sheets()

    def items(self, items: Sequence[Field | Section]) -> None:
        for item in items:
            if isinstance(item, Section):
                self.section(item)
            else:
                self.field(item)

    def section(self, s: Section) -> None:
        row: dict[str, Any] = {"type": "begin group", "name": s.id}
        base = f"forms/{s.form_id}/sections/{s.id}"
        self.texts(row, "label", f"{base}/label", s.label)
        hint = s.raw.get("hint")
        self.texts(row, "hint", f"{base}/hint", hint if isinstance(hint, str) else None)
        self.expression(row, "relevant", s.relevant, s.id, "relevant")
        self.rows.append(row)
        self.items(s.items)
        self.rows.append({"type": "end group", "name": s.id})

    def field(self, f: Field) -> None:
        row: dict[str, Any] = {"name": f.id}
        path = field_path(f)
        self.texts(row, "label", f"{path}/label", f.label)
        self.texts(row, "hint", f"{path}/hint", f.hint)
        self.relevant(row, f)
        if f.sensitivity != "none":
            row["sanad::sensitivity"] = f.sensitivity
        if f.type == "subform":
            row["type"] = "begin repeat"
            if f.min is not None or f.max is not None:
                self.warnings.append(f"{f.id}: min/max rows not exported (XLSForm repeats have no such limit)")
                row["sanad::min"], row["sanad::max"] = f.min, f.max
            if f.required is not False:  # at least one row: XLSForm repeats cannot require one
                self.warnings.append(f"{f.id}: required not exported (XLSForm repeats cannot require a row)")
                row["sanad::required"] = "true" if f.required is True else keep(f.required.source)
                self.texts(row, "sanad::required_message", f"{path}/required_message", f.required_message)
            self.rows.append(row)
            assert f.subform is not None
            for child in f.subform.fields.values():
                self.field(child)
            self.rows.append({"type": "end repeat", "name": f.id})
            return
        if f.type in ("select_one", "select_multiple", "yes_no"):
            kind = "select_multiple" if f.type == "select_multiple" else "select_one"
            row["type"] = f"{kind} {self.choice_list(f)}"
            if f.type == "yes_no":
                row["sanad::type"] = "yes_no"
            elif not f.lookup_id:
                row["sanad::choices"] = "inline"
            self.expression(row, "choice_filter", f.choice_filter, f.id, "choice_filter")
        else:
            row["type"] = _TYPES[f.type]
            if f.type == "textarea":
                row["appearance"] = "multiline"
            if f.type == "calculate" and f.choices:  # XLSForm's calculate names no list: kept for Sanad
                name = self.choice_list(f)
                row["sanad::choices"] = name if f.lookup_id else f"inline {name}"
        if f.required is True:
            row["required"] = "yes"
        else:
            self.expression(row, "required", f.required, f.id, "required")
        if f.required is not False:
            self.texts(row, "required_message", f"{path}/required_message", f.required_message)
        self.constraint(row, f)
        if f.constraint is not None or f.min is not None or f.max is not None:
            self.texts(row, "constraint_message", f"{path}/constraint_message", f.constraint_message)
        if f.type == "calculate" and self.expression(row, "calculation", f.calculate, f.id, "calculation") is None:
            row["type"] = "hidden"
            row["sanad::type"] = "calculate"
        if f.default is not None:
            row["default"] = " ".join(f.default) if isinstance(f.default, (list, tuple)) else _default(f.default)
        if f.read_only and f.type != "calculate":
            row["read_only"] = "yes"
        self.rows.append(row)

    def relevant(self, row: dict[str, Any], f: Field) -> None:
        """The field's own condition: the loader has and-ed its sections' conditions into it (their
        groups carry them here), the field's own last: ((s1) and (s2)) and (own)."""
        outer = [s for s in (f.section.chain() if f.section else []) if s.relevant is not None]
        if f.relevant is None or not outer:
            self.expression(row, "relevant", f.relevant, f.id, "relevant")
            return
        own = f.raw.get("relevant")
        if isinstance(own, str) and f.relevant.ast["op"] == "and":
            self.expression(row, "relevant", None, f.id, "relevant", (f.relevant.ast["args"][1], own))

    def constraint(self, row: dict[str, Any], f: Field) -> None:
        parts: list[str] = []
        if f.constraint is not None:
            try:
                own = self.xp.translate(f.constraint)
            except Untranslatable as exc:
                self.warnings.append(
                    f"{f.id}: constraint not exported ({exc}): '{' '.join(f.constraint.source.split())}'; "
                    "the column is left empty"
                )
                row["sanad::constraint"] = keep(f.constraint.source)
                return
            parts.append(own)
            if not _same(own, f.constraint.source):
                row["sanad::constraint"] = keep(f.constraint.source)
        bounds: list[str] = []
        for value, cmp in ((f.min, ">="), (f.max, "<=")):
            if value is None:
                continue
            lit = f"date('{value}')" if f.type == "date" else _literal(value)
            bounds.append(f". {cmp} {lit}")
        if bounds:
            if f.constraint is not None:
                row["sanad::constraint"] = keep(f.constraint.source)
                parts = [f"({parts[0]})"]
            row["sanad::min"], row["sanad::max"] = f.min, f.max
        parts.extend(bounds)
        if parts:
            row["constraint"] = " and ".join(parts)

    def choice_list(self, f: Field) -> str:
        choices = f.choices or ()
        if f.type == "yes_no":
            name = "yes_no" if "yes_no" not in self.module.lookups else "sanad_yes_no"
            self.lists.setdefault(name, (None, choices))
            return name
        if f.lookup_id:
            self.lists.setdefault(f.lookup_id, (f, choices))
            return f.lookup_id
        name = f.id if f.id not in self.module.lookups else f"{f.id}_choices"
        self.lists[name] = (f, choices)
        return name

    def settings_read(self) -> dict[str, Any]:
        """The module settings that the exported forms' rules read with setting('name')."""
        sources: list[str] = []
        for form in self.forms:
            exprs: list[Any] = [form.relevant, *(s.relevant for s in form.sections())]
            for f in form.walk():
                exprs += [f.relevant, f.required, f.constraint, f.calculate, f.choice_filter]
            sources += [e.source for e in exprs if isinstance(e, Expression)]
        names = dict.fromkeys(m.group(1) for src in sources for m in _SETTING.finditer(src))
        return {n: self.module.settings[n] for n in names if n in self.module.settings}

    # -- the sheets -------------------------------------------------------------------------------------
    def sheets(self) -> XlsformExport:
        survey_cols = _columns(self.rows, ["type", "name"])
        survey = [survey_cols] + [[r.get(c) for c in survey_cols] for r in self.rows]
        choice_rows: list[dict[str, Any]] = []
        kinds: dict[str, dict[str, str]] = {}  # list -> filter key -> boolean | number
        yes_no = dict(YES_NO_CHOICES)
        for name, (owner, options) in self.lists.items():
            for c in options:
                row: dict[str, Any] = {"list_name": name, "name": c.value}
                if owner is None:  # Yes and No: interface strings
                    for loc, tr in self.translators.items():
                        row[f"label::{self.columns[loc]}"] = tr.gettext(yes_no.get(c.value, c.label))
                else:
                    self.texts(row, "label", choice_path(owner, c), c.label)
                for key, value in c.keys.items():
                    row[key] = _default(value)
                    if not isinstance(value, str):  # the sheet holds it as text: its kind, for Sanad
                        kinds.setdefault(name, {})[key] = "boolean" if isinstance(value, bool) else "number"
                choice_rows.append(row)
        choice_cols = _columns(choice_rows, ["list_name", "name"])
        choices = [choice_cols] + [[r.get(c) for c in choice_cols] for r in choice_rows]
        form = self.forms[0]
        title = form.title if len(self.forms) == 1 else self.rt.title
        settings_row: dict[str, Any] = {
            "form_title": title,
            "form_id": form.id if len(self.forms) == 1 else self.rt.id,
            "version": self.module.version,
            "default_language": self.columns.get(self.module.default_locale, self.columns[self.locales[0]]),
            "sanad::module": self.module.id,
            "sanad::record_type": self.rt.id,
        }
        if len(self.forms) == 1:
            if form.relevant is not None:
                settings_row["sanad::form_relevant"] = keep(form.relevant.source)
            self.texts(settings_row, "sanad::form_title", f"forms/{form.id}/title", form.title)
            self.texts(settings_row, "sanad::description", f"forms/{form.id}/description", form.description)
        read = self.settings_read()
        if read:  # module settings its rules read with setting(): XLSForm has their values written in
            settings_row["sanad::settings"] = json.dumps(read, ensure_ascii=False)
        titles = {name: lk.title for name in self.lists if (lk := self.module.lookups.get(name)) and lk.title}
        if titles:  # the lookups' titles, in each language: the choices sheet has no place for them
            for loc, tr in self.translators.items():
                translated = {name: tr.text(f"lookups/{name}/title", t)[0] for name, t in titles.items()}
                settings_row[f"sanad::list_titles::{self.columns[loc]}"] = json.dumps(translated, ensure_ascii=False)
        if kinds:  # pyxform turns a choices column with '::' into a translated text: kept here instead
            settings_row["sanad::choice_keys"] = json.dumps(kinds, ensure_ascii=False)
        settings = [list(settings_row), list(settings_row.values())]
        return XlsformExport(survey, choices, settings, self.warnings)


def keep(source: str) -> str:
    """A Sanad expression kept in a sanad:: column, its references written #{field}: pyxform checks
    the ${…} references of every column, so they would fail where they name a field left out."""
    return _REF.sub(lambda m: "#" + m.group(0)[1:], source)


def restore(kept: str) -> str:
    """The Sanad expression of a sanad:: column (the inverse of keep())."""
    return _KEPT.sub(lambda m: "$" + m.group(0)[1:], kept)


def _same(xpath: str, source: str) -> bool:
    """True when the XPath written says what the Sanad source says, as written (spacing aside)."""
    return " ".join(xpath.split()) == " ".join(source.split())


def _default(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _columns(rows: list[dict[str, Any]], first: list[str]) -> list[str]:
    """The columns in a stable order: `first`, then the others as they first appear, sanad:: last."""
    seen = dict.fromkeys(first)
    for r in rows:
        seen.update(dict.fromkeys(r))
    plain = [c for c in seen if not c.startswith("sanad::")]
    return plain + [c for c in seen if c.startswith("sanad::")]


def export_forms(module: Module, form_ids: Sequence[str], locales: Sequence[str] | None = None) -> XlsformExport:
    """The XLSForm of one form, or of several forms of one record type (each as a group).

    Raises ValueError for an unknown form, forms of different record types or an unknown locale."""
    if not form_ids:
        raise ValueError("name at least one form")
    forms = []
    for fid in form_ids:
        if fid not in module.forms:
            known = ", ".join(sorted(module.forms))
            raise ValueError(f"the module '{module.id}' has no form '{fid}' (its forms: {known})")
        forms.append(module.forms[fid])
    if len({f.record_type for f in forms}) > 1:
        raise ValueError("the forms exported together must belong to the same record type")
    chosen = list(locales) if locales else list(module.locales)
    unknown = [loc for loc in chosen if loc not in module.locales]
    if unknown:
        raise ValueError(
            f"the module '{module.id}' is not offered in {', '.join(unknown)} (its locales: {', '.join(module.locales)})"
        )
    if module.default_locale not in chosen:
        chosen.insert(0, module.default_locale)
    return _Exporter(module, forms, chosen).run()


def write_xlsform(
    module: Module, form_ids: Sequence[str], dest: str, locales: Sequence[str] | None = None
) -> list[str]:
    """Write the XLSForm of `form_ids` to `dest` (.xlsx); returns the warnings."""
    result = export_forms(module, form_ids, locales)
    result.save(dest)
    return result.warnings
