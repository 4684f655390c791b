"""Forms as JSON: fields, sections and compiled expression ASTs, for the browser evaluator, the API
and the offline client.

The browser (and later the offline client) evaluates the same expressions as the server from this
JSON, in the dependency order fixed at load, so it never parses expression text itself. Given a
translator, every text a person reads (titles, labels, hints, messages, options, section headings,
and the default messages the browser shows) is in that language, with English where a
translation is missing: the same fallback chain as the pages.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engine.expressions.compiler import Expression
from engine.i18n import N_, Translator, choice_path, field_path
from engine.language.model import Field, Form, Module, RecordType, Section

# The messages the browser builds itself; the server sends them in the reader's language.
BROWSER_MESSAGES = {
    "required": N_("This field is required."),
    "constraint": N_("This answer is not valid."),
    "summary": N_("Please check these answers"),
    "problem": N_("%(label)s: %(message)s"),
    "row": N_("%(label)s: row %(n)s"),
    "yes": N_("Yes"),
    "no": N_("No"),
}

Visible = Callable[[Field], bool]


def _ast(expr: Expression | None) -> dict[str, Any] | None:
    return expr.to_json() if expr is not None else None


def _english(_path: str, text: str) -> str:
    return text


def _texts(tr: Translator | None) -> Callable[[str, str], str]:
    if tr is None:
        return _english
    return lambda path, english: tr.text(path, english)[0]


def field_to_json(f: Field, tr: Translator | None = None, visible: Visible | None = None) -> dict[str, Any]:
    """One field; with `tr`, its texts in that language; with `visible`, subform columns filtered."""
    text = _texts(tr)
    base = field_path(f)
    out: dict[str, Any] = {"id": f.id, "type": f.type, "label": text(f"{base}/label", f.label)}
    out["sensitivity"] = f.sensitivity
    optional: dict[str, Any] = {
        "hint": text(f"{base}/hint", f.hint) if f.hint else None,
        "relevant": _ast(f.relevant),
        "required": f.required if isinstance(f.required, bool) else _ast(f.required),
        "required_message": text(f"{base}/required_message", f.required_message) if f.required_message else None,
        "constraint": _ast(f.constraint),
        "constraint_message": (
            text(f"{base}/constraint_message", f.constraint_message) if f.constraint_message else None
        ),
        "calculate": _ast(f.calculate),
        "choice_filter": _ast(f.choice_filter),
        "default": f.default,
        "min": f.min,
        "max": f.max,
    }
    out.update({k: v for k, v in optional.items() if v is not None and v is not False})
    if f.read_only:
        out["read_only"] = True
    if f.section is not None:
        out["section"] = f.section.id
    if f.choices is not None:
        out["choices"] = [
            {
                "value": c.value,
                "label": (
                    (tr.gettext(c.label) if tr else c.label) if f.type == "yes_no" else text(choice_path(f, c), c.label)
                ),
                **dict(c.keys),
            }
            for c in f.choices
        ]
    if f.subform is not None:
        inner = [x for x in f.subform.fields.values() if visible is None or visible(x)]
        out["fields"] = [field_to_json(x, tr, visible) for x in inner]
        out["order"] = [x.id for x in f.subform.order if visible is None or visible(x)]
    return out


def section_path(s: Section) -> str:
    """Where a section's texts are translated: forms/<form>/sections/<section>."""
    return f"forms/{s.form_id}/sections/{s.id}"


def layout_to_json(
    items: tuple[Field | Section, ...], tr: Translator | None = None, visible: Visible | None = None
) -> list[dict[str, Any]]:
    """The form as written: {"field": id} and {"section": id, "label", "relevant", "items"}; a
    section with no field the reader may see is left out."""
    text = _texts(tr)
    out: list[dict[str, Any]] = []
    for item in items:
        if isinstance(item, Section):
            inner = layout_to_json(item.items, tr, visible)
            if not inner:
                continue
            node: dict[str, Any] = {"section": item.id, "label": text(f"{section_path(item)}/label", item.label)}
            hint = item.raw.get("hint")
            if isinstance(hint, str):
                node["hint"] = text(f"{section_path(item)}/hint", hint)
            if item.relevant is not None:
                node["relevant"] = item.relevant.to_json()
            node["items"] = inner
            out.append(node)
        elif visible is None or visible(item):
            out.append({"field": item.id})
    return out


def browser_messages(tr: Translator | None) -> dict[str, str]:
    """The messages the browser shows without asking the server, in the reader's language."""
    return {key: (tr.plain_text(msg) if tr else msg) for key, msg in BROWSER_MESSAGES.items()}


def form_to_json(
    module: Module, form: Form, tr: Translator | None = None, visible: Visible | None = None
) -> dict[str, Any]:
    """A form for the API, the pages and the offline client: texts in `tr`'s language, only the
    fields `visible` allows."""
    text = _texts(tr)
    fields = [f for f in form.fields if visible is None or visible(f)]
    out: dict[str, Any] = {
        "module": module.id,
        "version": module.version,
        "id": form.id,
        "title": text(f"forms/{form.id}/title", form.title),
        "record_type": form.record_type,
        "description": text(f"forms/{form.id}/description", form.description) if form.description else None,
        "relevant": _ast(form.relevant),
        "fields": [field_to_json(f, tr, visible) for f in fields],
        "layout": layout_to_json(form.layout, tr, visible),
        "messages": browser_messages(tr),
        "locale": tr.locale if tr else "en",
    }
    return out


def _order(steps: tuple[Form | Field, ...]) -> list[list[str]]:
    return [["form", s.id] if isinstance(s, Form) else ["field", s.id] for s in steps]


def evaluation_order(rt: RecordType) -> list[tuple[str, str]]:
    """("form" | "field", id) in the order the record is evaluated (fixed at load)."""
    return [("form", s.id) if isinstance(s, Form) else ("field", s.id) for s in rt.steps]


def record_type_to_json(module: Module, record_type: str, tr: Translator | None = None) -> dict[str, Any]:
    rt = module.record_types[record_type]
    text = _texts(tr)
    forms = []
    for form in (rt.forms[fid] for fid in rt.form_ids):
        one = form_to_json(module, form, tr)
        forms.append(
            {
                "id": form.id,
                "title": one["title"],
                **({"description": one["description"]} if one["description"] else {}),
                **({"relevant": one["relevant"]} if one["relevant"] is not None else {}),
                "fields": one["fields"],
                "layout": one["layout"],
            }
        )
    return {
        "module": module.id,
        "version": module.version,
        "record_type": rt.id,
        "title": text(f"record_types/{rt.id}/title", rt.title),
        "forms": forms,
        "order": _order(rt.steps),
        "messages": browser_messages(tr),
    }
