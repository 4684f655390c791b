"""Dashboards: each report a role may run, as charts with their numbers in tables, for a period and
a filter (e.g. a region), in the reader's language; with downloads (CSV, XLSX, JSON)."""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from engine import i18n
from engine.i18n import _
from engine.service import exports, reports
from engine.service.context import Context
from engine.service.errors import NotFound, ServiceError
from engine.web import downloads
from engine.web.pages.common import Posted, choice_label, error_page, field_label, page, render, with_form
from renderers.html import charts


def _year_back(today: date) -> tuple[str, str]:
    """The default period: the twelve months up to today."""
    return date(today.year - 1, today.month, 1).isoformat(), today.isoformat()


async def report_index(request: Request) -> Response:
    def work(ctx: Context) -> Response:
        tr = i18n.current()
        items = [
            {
                "id": r.id,
                "title": tr.text(f"reports/{r.id}/title", r.title)[0],
                "description": tr.text(f"reports/{r.id}/description", r.description)[0] if r.description else "",
                "audience": r.audience,
            }
            for r in reports.available(ctx)
        ]
        record_types = [
            {"id": rt.id, "title": tr.text(f"record_types/{rt.id}/title", rt.title)[0]}
            for rt in ctx.module.record_types.values()
            if ctx.policy.may_on_type(ctx.actor, rt.id, "read")
        ]
        layouts = [
            {"id": d.id, "title": tr.text(f"exports/{d.id}/title", d.title)[0]}
            for d in ctx.module.exports.values()
            if exports.may_export(ctx, d)
        ]
        return render(
            request,
            "reports.html",
            ctx,
            title=_("Reports"),
            reports=items,
            can_export=exports.may_export(ctx),
            record_types=record_types,
            layouts=layouts,
        )

    return await page(request, work)


@with_form(10)
async def export_submit(request: Request, form: Posted) -> Response:
    """The export form of the reports page: the file, or the page again with the reason."""
    spec: dict[str, Any] = {
        "format": form.get("format") or "csv",
        "deidentified": form.get("deidentified") == "yes",
        "password": form.get("password") or None,
    }
    if form.get("export"):
        spec["export"] = form.get("export")
    else:
        spec["record_type"] = form.get("record_type")
    try:
        return await downloads.export_response(request, spec)
    except ServiceError as exc:
        refused = exc.message
        return await error_page(request, exc.status, lambda: _("That did not work"), lambda: refused)


async def report_page(request: Request) -> Response:
    report_id = request.path_params["report"]
    qp = request.query_params

    def work(ctx: Context) -> Response:
        report = ctx.module.reports.get(report_id)
        if report is None or report not in reports.available(ctx):
            raise NotFound("no such report")
        start_default, end_default = _year_back(date.today())
        start, end = qp.get("from") or start_default, qp.get("to") or end_default
        chosen = {name: qp.get(name, "") for name in report.filters}
        result = reports.run(ctx, report.id, start, end, chosen)
        rt = ctx.module.record_types[report.record_type]
        rtl = i18n.locale_direction(ctx.locale) == "rtl"
        for t in result["tables"]:
            t["svg"] = charts.chart(t, rtl)
            t["grid"] = _grid(t)
        filters = [
            {
                "id": name,
                "label": field_label(rt.scope.fields[name]),
                "options": [
                    {"value": c.value, "label": choice_label(rt.scope.fields[name], c.value)}
                    for c in rt.scope.fields[name].choices or ()
                ],
                "value": chosen[name],
            }
            for name in report.filters
        ]
        query = urlencode({"from": start, "to": end, **{k: v for k, v in chosen.items() if v}})
        tr = i18n.current()
        return render(
            request,
            "report.html",
            ctx,
            title=result["title"],
            result=result,
            description=tr.text(f"reports/{report.id}/description", report.description)[0]
            if report.description
            else "",
            start=start,
            end=end,
            filters=filters,
            downloads=[
                ("CSV", f"/api/v1/reports/{report.id}?{query}&format=csv"),
                ("XLSX", f"/api/v1/reports/{report.id}?{query}&format=xlsx"),
                ("JSON", f"/api/v1/reports/{report.id}?{query}"),
            ],
        )

    return await page(request, work)


def _grid(t: dict[str, Any]) -> dict[str, Any]:
    """The table for the page: one dimension down the side (a count per line), or the last
    dimension across and the others down, with totals where the cells add up."""
    keys = t["dimensions"]
    value = "average_days" if t.get("measure") else "count"
    value_name = t.get("measure") or _("Count")
    found = {tuple(str(r[k]) for k in keys): r for r in t["rows"]}
    labels = t["labels"]["values"]
    names = [t["labels"]["dimensions"].get(k, k) for k in keys]
    cats = {k: [str(c) for c in t["categories"].get(k, [])] for k in keys}
    empty: Any = 0 if value == "count" else "—"
    if len(keys) <= 1:
        if not keys:
            only = t["rows"][0] if t["rows"] else {}
            rows = [{"heads": [], "cells": [only.get(value, empty)], "total": None}]
        else:
            k = keys[0]
            rows = [
                {
                    "heads": [labels.get(k, {}).get(c, c)],
                    "cells": [(found.get((c,)) or {}).get(value, empty)],
                    "total": None,
                }
                for c in cats[k]
            ]
        totals = {"cells": [t["total"]], "total": None} if t.get("additive") else None
        return {"row_names": names, "columns": [value_name], "rows": rows, "totals": totals, "row_totals": False}
    col_key, row_keys = keys[-1], keys[:-1]
    combos: list[tuple[str, ...]] = [()]
    for k in row_keys:
        combos = [(*c, code) for c in combos for code in cats[k]]
    row_totals = {tuple(str(r[k]) for k in row_keys): r["count"] for r in t.get("row_totals", [])}
    rows = []
    for combo in combos:
        cells = [(found.get((*combo, c)) or {}).get(value, empty) for c in cats[col_key]]
        if all(c in (0, "—") for c in cells):
            continue  # a line with nothing in it
        rows.append(
            {
                "heads": [labels.get(k, {}).get(code, code) for k, code in zip(row_keys, combo, strict=True)],
                "cells": cells,
                "total": row_totals.get(combo) if t.get("additive") else None,
            }
        )
    totals = None
    if t.get("additive"):
        column_totals = {str(x[col_key]): x["count"] for x in t.get("column_totals", [])}
        totals = {"cells": [column_totals.get(c, 0) for c in cats[col_key]], "total": t["total"]}
    return {
        "row_names": names[:-1],
        "columns": [labels.get(col_key, {}).get(c, c) for c in cats[col_key]],
        "column_name": names[-1],
        "rows": rows,
        "totals": totals,
        "row_totals": bool(t.get("additive")),
    }
