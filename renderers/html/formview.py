"""A form as a tree of field views, ready for the template: values, relevance, errors, choices.

The server evaluates the record first; this view carries the result, so a page rendered without
JavaScript already shows the right questions, the computed values and the errors. The browser
then re-evaluates live from the same compiled expressions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine import i18n
from engine.expressions.compiler import Env
from engine.language.answers import ROW_ID, valid_row_id
from engine.language.model import Field, Form, Section
from engine.runtime.evaluation import Evaluation, choice_allowed

RADIO_LIMIT = 6  # up to this many options: radio buttons; more: a drop-down list


@dataclass
class ChoiceView:
    value: str
    label: str
    selected: bool
    offered: bool
    lang: str = "en"  # the language the label is in (English when it has no translation yet)


@dataclass
class FieldView:
    id: str
    name: str  # the input name: f:<id> or f:<subform>.<row>.<id>
    dom_id: str
    type: str
    label: str
    hint: str | None
    value: Any
    relevant: bool
    required: bool
    editable: bool
    errors: list[str]
    choices: list[ChoiceView] = field(default_factory=list)
    rows: list[list[FieldView]] = field(default_factory=list)  # subform rows
    row_ids: list[str] = field(default_factory=list)  # each row's stable id ('' for a row not saved yet)
    template: list[FieldView] = field(default_factory=list)  # an empty row, for "add a row"
    widget: str = "input"
    label_lang: str = "en"
    hint_lang: str = "en"
    is_section = False

    @property
    def display(self) -> str:
        if self.value in ("", None, []):
            return ""
        if self.choices:
            return i18n.current().join([c.label for c in self.choices if c.selected])
        return str(self.value)


@dataclass
class SectionView:
    """A headed part of a form, with the views of its questions and sub-sections."""

    id: str
    label: str
    hint: str | None
    relevant: bool
    items: list[FieldView | SectionView]
    label_lang: str = "en"
    depth: int = 0
    is_section = True

    @property
    def anchor(self) -> str:
        return f"sec-{self.id}"


def layout(form: Form, views: list[FieldView], ev: Evaluation) -> list[FieldView | SectionView]:
    """The views of `build` arranged in the form's sections (sections without a field the reader
    may see are left out); a form without sections is its fields, as they are."""
    by_id = {v.id: v for v in views}
    env = Env(ev.values, (), ev.today)
    tr = i18n.current()

    def arrange(items: tuple[Field | Section, ...], depth: int) -> list[FieldView | SectionView]:
        out: list[FieldView | SectionView] = []
        for item in items:
            if isinstance(item, Section):
                inner = arrange(item.items, depth + 1)
                if not inner:
                    continue
                path = f"forms/{item.form_id}/sections/{item.id}"
                label, lang = tr.text(f"{path}/label", item.label)
                raw_hint = item.raw.get("hint")
                hint = tr.text(f"{path}/hint", raw_hint)[0] if isinstance(raw_hint, str) else None
                relevant = all(s.relevant is None or s.relevant.holds(env) for s in item.chain())
                out.append(SectionView(item.id, label, hint, relevant, inner, lang, depth))
            elif item.id in by_id:
                out.append(by_id[item.id])
        return out

    return arrange(form.layout, 0)


def _display_value(v: Any) -> Any:
    return "" if v is None else v


def _widget(f: Field) -> str:
    if f.type in ("select_one", "yes_no"):
        return "radio" if len(f.choices or ()) <= RADIO_LIMIT else "select"
    if f.type == "select_multiple":
        return "checkbox"
    return {"textarea": "textarea", "note": "note", "calculate": "output", "subform": "subform"}.get(f.type, "input")


def build(
    form: Form,
    ev: Evaluation,
    values: dict[str, Any],
    editable: bool,
    visible: frozenset[str],
    submitted_errors: dict[str, list[str]] | None = None,
    show_errors: bool = True,
) -> list[FieldView]:
    """Field views for `form`. `values` are what to show (the stored answers, or the user's
    submission being re-displayed); `visible` limits the fields to those the user may see.
    `show_errors` is off for a first look at a form, so it does not open covered in warnings."""
    errors: dict[str, list[str]] = {}
    for e in ev.errors if show_errors else ():
        errors.setdefault(e.path, []).append(e.message)
    for path, msgs in (submitted_errors or {}).items():
        errors.setdefault(path, []).extend(m for m in msgs if m not in errors.get(path, []))
    return _fields(list(form.fields), ev, values, editable, visible, errors, "", Env(ev.values, (), ev.today))


def _fields(
    fields: list[Field],
    ev: Evaluation,
    values: dict[str, Any],
    editable: bool,
    visible: frozenset[str],
    errors: dict[str, list[str]],
    prefix: str,
    env: Env,
) -> list[FieldView]:
    out = []
    for f in fields:
        if f.id not in visible:
            continue
        path = prefix + f.id
        name = "f:" + (prefix.replace("[", ".").replace("]", "") + f.id)
        dom_id = "fld-" + name[2:].replace(".", "-")
        value = _display_value(values.get(f.id))
        relevant = path in ev.relevant
        tr = i18n.current()
        base = i18n.field_path(f)
        label, label_lang = tr.text(f"{base}/label", f.label)
        hint, hint_lang = tr.text(f"{base}/hint", f.hint) if f.hint else (None, "en")
        view = FieldView(
            id=f.id,
            name=name,
            dom_id=dom_id,
            type=f.type,
            label=label,
            hint=hint,
            value=value,
            relevant=relevant,
            required=path in ev.required,
            editable=editable and not f.read_only,
            errors=errors.get(path, []),
            widget=_widget(f),
            label_lang=label_lang,
            hint_lang=hint_lang,
        )
        if f.type == "calculate":
            view.value = ev.value_at(path) if relevant else ""
        if f.choices is not None:
            chosen = i18n.chosen_codes(f, view.value if f.type == "calculate" else value)
            view.choices = []
            for c in f.choices:
                if f.type == "yes_no":
                    text = tr.gettext(c.label)
                    lang = tr.locale if text != c.label or tr.locale == "en" else "en"
                else:
                    text, lang = tr.text(i18n.choice_path(f, c), c.label)
                offered = f.choice_filter is None or choice_allowed(f, c.value, env)
                view.choices.append(ChoiceView(c.value, text, c.value in chosen, offered, lang))
        if f.subform is not None:
            rows = value if isinstance(value, list) else []
            stored = ev.values.get(f.id)
            row_values: list[Any] = stored if isinstance(stored, list) else []
            for i, row in enumerate(rows):
                view.row_ids.append(str(row.get(ROW_ID, "")) if isinstance(row, dict) else "")
                rv = row_values[i] if i < len(row_values) else {}
                row_env = Env(rv, (env.v, *env.up), ev.today)
                view.rows.append(
                    _fields(
                        list(f.subform.fields.values()),
                        ev,
                        row if isinstance(row, dict) else {},
                        editable,
                        visible,
                        errors,
                        f"{path}[{i}].",
                        row_env,
                    )
                )
            view.template = _fields(
                list(f.subform.fields.values()),
                ev,
                {},
                editable,
                visible,
                {},
                f"{path}[__row__].",
                Env({}, (env.v, *env.up), ev.today),
            )
            for t in view.template:
                t.relevant = True
        out.append(view)
    return out


def parse_submission(form: Form, writable: frozenset[str], items: list[tuple[str, str]]) -> dict[str, Any]:
    """The answers a submitted HTML form holds, for the writable fields of `form`.

    Inputs are named `f:<field>` (repeated for multiple choices) and `f:<subform>.<row>.<field>`.
    An empty input clears the answer (None); a subform's rows are renumbered in order.
    """
    raw: dict[str, list[str]] = {}
    for key, val in items:
        if key.startswith("f:"):
            raw.setdefault(key[2:], []).append(val)
    present_rows = {k.split(".")[0]: True for k in raw if "." in k}
    data: dict[str, Any] = {}
    for f in form.fields:
        if f.id not in writable and f.subform is None:
            continue
        if f.subform is not None:
            if f.id not in writable:
                continue
            rows: dict[int, dict[str, Any]] = {}
            for key, vals in raw.items():
                parts = key.split(".")
                if len(parts) == 3 and parts[0] == f.id and parts[1].isascii() and parts[1].isdigit():
                    if parts[2] == ROW_ID:
                        if valid_row_id(vals[-1]):
                            rows.setdefault(int(parts[1]), {})[ROW_ID] = vals[-1]
                        continue
                    inner = f.subform.fields.get(parts[2])
                    if inner is None or parts[2] not in writable:
                        continue
                    rows.setdefault(int(parts[1]), {})[parts[2]] = _value(inner, vals)
            marker = raw.get(f"{f.id}.__rows__", [])
            for idx in (int(x) for m in marker for x in m.split(",") if x.isascii() and x.isdigit()):
                rows.setdefault(idx, {})
            if rows or present_rows.get(f.id) or marker:
                data[f.id] = [{k: v for k, v in rows[i].items() if v is not None} for i in sorted(rows)]
            continue
        if f.type in ("note", "calculate"):
            continue
        data[f.id] = _value(f, raw.get(f.id, []))
    return data


def _value(f: Field, vals: list[str]) -> Any:
    if f.type == "select_multiple":
        chosen = [v for v in vals if v]
        return chosen or None
    text = vals[-1].strip() if vals else ""
    if text == "":
        return None
    if f.type in ("integer", "decimal"):
        digits = text.translate(_DIGITS).replace(",", ".") if f.type == "decimal" else text.translate(_DIGITS)
        return digits
    return text if f.type != "textarea" else vals[-1]


# Arabic-Indic and Eastern Arabic-Indic digits typed by users are read as 0-9.
_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")
