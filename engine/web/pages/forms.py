"""A form of a record: shown with the record's answers (rendered by the server, live in the browser),
saved through the service, with the unsaved submission shown again on a conflict or an error."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from jinja2.utils import htmlsafe_json_dumps
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response

from engine import i18n
from engine.i18n import _
from engine.language.model import Form, RecordType
from engine.runtime.evaluation import evaluate
from engine.runtime.workflow import lock_message, locked_forms
from engine.service import evaluations, records
from engine.service.context import Context
from engine.service.errors import Conflict, Forbidden, Invalid, NotFound
from engine.web.inputs import MAX_ID
from engine.web.pages.common import Posted, cell, field_label, page, peek_flash, redirect, render, with_form
from renderers.html import formview
from renderers.json.form import evaluation_order, form_to_json


def _form_page(
    request: Request,
    ctx: Context,
    rec: records.Opened,
    form_id: str,
    values: dict[str, Any] | None = None,
    status: int = 200,
    conflict: list[dict[str, Any]] | None = None,
    server_errors: list[dict[str, Any]] | None = None,
    version: int | None = None,
    after_save: bool = False,
) -> Response:
    rt = ctx.module.record_types[rec.record_type]
    hold = rec.holding
    if form_id not in ctx.policy.readable_forms(ctx.actor, rt.id, hold):
        raise NotFound("no such form")
    form = rt.forms[form_id]
    shown = dict(rec.data) if values is None else values
    ev = evaluations.evaluated(rt, rec) if values is None else evaluate(rt, shown)
    visible = ctx.policy.visible_fields(ctx.actor, rt.id, hold)
    wf = ctx.module.workflow_for(rt.id)
    stage = rec.stage
    locked = bool(locked_forms(wf, stage, [form_id])) and wf is not None and stage is not None
    editable = form_id in ctx.policy.writable_forms(ctx.actor, rt.id, hold) and not locked
    extra: dict[str, list[str]] = {}
    for e in server_errors or []:
        extra.setdefault(e["field"], []).append(e["message"])
    attempted = values is not None or after_save  # errors show after a save, not on a first look
    fields = formview.build(form, ev, shown, editable, visible, extra, show_errors=attempted)
    items = formview.layout(form, fields, ev)
    top = [i for i in items if isinstance(i, formview.SectionView)]
    toc = top if len(top) >= 2 and len(form.fields) >= TOC_FIELDS else []
    summary = []
    if attempted:
        for f in _walk(fields):
            for m in f.errors:
                summary.append({"dom_id": f.dom_id, "label": f.label, "message": m})
    summary_title = (
        _("Saved. These answers are still needed to complete the form")
        if after_save and values is None
        else _("Please check these answers")
    )
    definition = _definition(ctx, rt, form, visible)
    record_values = ctx.policy.filter_data(ctx.actor, rt.id, hold, ev.values)
    if conflict:
        for c in conflict:
            changed = rt.all_fields.get(c["field"])
            c["label"] = field_label(changed) if changed else c["field"]
            c["new_label"] = cell(changed, c.get("new")) if changed else c.get("new")
    return render(
        request,
        "form.html",
        ctx,
        status,
        title=i18n.current().text(f"forms/{form.id}/title", form.title)[0],
        rt=rt,
        rec={"id": rec.id, "short_id": rec.short_id},
        form=form,
        fields=fields,
        items=items,
        toc=toc,
        locked=lock_message(wf, stage) if locked and wf is not None and stage is not None else None,
        summary=summary,
        summary_title=summary_title,
        editable=editable and ev.forms_relevant.get(form_id, True),
        form_relevant=ev.forms_relevant.get(form_id, True),
        version=version or rec.version,
        definition_json=definition,
        record_values=record_values,
        conflict=conflict,
        today=ev.today,
    )


TOC_FIELDS = 12  # a form with sections and at least this many questions gets a table of contents

#: the form's definition for the browser, as JSON ready for the page, by (module, its definitions
#: version, form, language, the fields the reader may see): the same for every record and request
_DEFINITIONS: OrderedDict[tuple[int, str, str, str, frozenset[str]], Markup] = OrderedDict()
_DEFINITIONS_MAX = 512
_definitions_lock = threading.Lock()


def _definition(ctx: Context, rt: RecordType, form: Form, visible: frozenset[str] | set[str]) -> Markup:
    tr = i18n.current()
    shown = frozenset(visible)
    key = (id(ctx.module), ctx.module.version, form.id, tr.locale if tr else "en", shown)
    with _definitions_lock:
        found = _DEFINITIONS.get(key)
        if found is not None:
            _DEFINITIONS.move_to_end(key)
            return found
    definition = form_to_json(ctx.module, form, tr, lambda f: f.id in shown)
    definition["order"] = [name for kind, name in evaluation_order(rt) if kind == "field" and name in shown]
    made = htmlsafe_json_dumps(definition)
    with _definitions_lock:
        _DEFINITIONS[key] = made
        while len(_DEFINITIONS) > _DEFINITIONS_MAX:
            _DEFINITIONS.popitem(last=False)
    return made


def _walk(fields: list[formview.FieldView]) -> list[formview.FieldView]:
    out = []
    for f in fields:
        if f.relevant:
            out.append(f)
            for row in f.rows:
                out.extend(_walk(row))
    return out


def _shown(stored: dict[str, Any], submitted: dict[str, Any]) -> dict[str, Any]:
    """What the form shows after a submission that was not saved: the user's answers over the stored
    ones, with the answers they cleared left empty."""
    merged = {**stored, **submitted}
    return {k: v for k, v in merged.items() if v is not None}


def _version(raw: str) -> int | None:
    """The version the form was opened at (None if missing or not a plain number: a stale save then)."""
    return int(raw) if raw.isascii() and raw.isdigit() and 0 < int(raw) < MAX_ID else None


async def form_page(request: Request) -> Response:
    p = request.path_params

    def work(ctx: Context) -> Response:
        rec = records.open_record(ctx, p["record_type"], p["id"], form=p["form"])
        return _form_page(request, ctx, rec, p["form"], after_save=bool(peek_flash(request).get("saved")))

    return await page(request, work)


@with_form(5000)
async def form_submit(request: Request, form: Posted) -> Response:
    p = request.path_params
    items = form.items
    action = next((v for k, v in items if k == "action"), "save")
    version = _version(form.get("version"))

    def work(ctx: Context) -> Response:
        rec = records.open_record(ctx, p["record_type"], p["id"])
        rt = ctx.module.record_types[rec.record_type]
        form_def = rt.forms.get(p["form"])
        if form_def is None or p["form"] not in ctx.policy.writable_forms(ctx.actor, rt.id, rec.holding):
            raise Forbidden("you may not change this form")
        writable = ctx.policy.writable_fields(ctx.actor, rt.id, rec.holding)
        data = formview.parse_submission(form_def, writable, items)
        if action.startswith(("add:", "remove:")):  # without JavaScript: change the rows, show the form again
            parts = action.split(":")
            sub = parts[1]
            rows = list(data.get(sub) or [])
            if parts[0] == "add":
                rows.append({})
            elif len(parts) == 3 and parts[2].isascii() and parts[2].isdigit() and int(parts[2]) < len(rows):
                rows.pop(int(parts[2]))
            data[sub] = rows
            return _form_page(
                request,
                ctx,
                rec,
                p["form"],
                _shown(rec.data, data),
                version=version or rec.version,
            )
        shown = _shown(rec.data, data)
        try:
            records.update(ctx, rt.id, rec.id, version, data, form=form_def.id)
        except Conflict as exc:
            if exc.details.get("code") == "form_locked":  # the stage changed while they were typing
                return _form_page(request, ctx, rec, p["form"], shown, 409, version=version)
            return _form_page(
                request,
                ctx,
                rec,
                p["form"],
                shown,
                409,
                conflict=exc.details.get("changes", []),
                version=exc.details.get("current_version"),
            )
        except Invalid as exc:
            return _form_page(
                request,
                ctx,
                rec,
                p["form"],
                shown,
                422,
                server_errors=exc.details.get("errors", []),
                version=version,
            )
        return redirect(request, f"/records/{rt.id}/{rec.id}/forms/{p['form']}", _("Saved."), saved=True)

    return await page(request, work)
