"""Running reports: which reports a user may run, the records they count (the user's reach, or the
whole organisation's database from the command line), the counts from the database, small cells
suppressed, labels in the reader's language, and an audit entry for every run.

The result is the documented JSON contract (docs/reports.md):
`{"report", "title", "from", "to", "tables": [{"id", "title", "dimensions": [ids],
"rows": [{<dimension>: <code>, ..., "count": <int or "<5" or "x">}], ...}]}`."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import date
from itertools import product
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy.orm import Session

from engine import i18n
from engine.i18n import _
from engine.language.model import Dimension, Field, Module, RecordType, ReportDefinition, ReportTable
from engine.runtime.suppression import Table, below, shown_count, suppress, suppress_together
from engine.runtime.workflow import state_label
from engine.service import audit
from engine.service.context import Context
from engine.service.errors import BadRequest, Forbidden, NotFound
from engine.storage import aggregate
from engine.storage.models import Agency, Record
from engine.storage.scope import records_held

NOT_RECORDED = ""  # the code of "no answer" in rows


def may_run(
    module: Module, role_id: str, can_read_reports: bool, aggregate_only: bool, report: ReportDefinition
) -> bool:
    """A report listed in its `roles` is for those roles; one without is for every role with
    reports.read. Internal reports are never for a role that sees aggregates only."""
    if report.audience == "internal" and aggregate_only:
        return False
    return role_id in report.roles if report.roles else can_read_reports


def available(ctx: Context) -> list[ReportDefinition]:
    role = ctx.actor.role
    return [
        r
        for r in ctx.module.reports.values()
        if may_run(ctx.module, role.id, role.can("reports.read"), role.aggregate_only, r)
    ]


def parse_period(start: Any, end: Any) -> tuple[date | None, date | None]:
    out: list[date | None] = []
    for name, value in (("from", start), ("to", end)):
        if value in (None, ""):
            out.append(None)
            continue
        try:
            day = date.fromisoformat(str(value))
        except ValueError:
            raise BadRequest(_("Dates are written YYYY-MM-DD.") + f" ({name})") from None
        if not 1900 <= day.year <= 9000:
            raise BadRequest(_("Dates are written YYYY-MM-DD, between 1900 and 9000."))
        out.append(day)
    if out[0] and out[1] and out[0] > out[1]:
        raise BadRequest(_("The period ends before it starts."))
    return out[0], out[1]


def run(
    ctx: Context,
    report_id: str,
    start: Any = None,
    end: Any = None,
    filters: dict[str, str] | None = None,
    file_format: str | None = None,
) -> dict[str, Any]:
    """A report over the records this user reaches through their agency, suppressed; audited (with
    the format it leaves in: json, csv, xlsx; None for a page)."""
    report = ctx.module.reports.get(report_id)
    if report is None:
        raise NotFound("no such report")
    if report not in available(ctx):
        raise Forbidden(_("Your role may not run this report."))
    first, last = parse_period(start, end)
    chosen = _filters(ctx.module, report, filters or {})
    scope = [records_held(ctx.policy.reach(ctx.actor)), *aggregate.filters_sql(chosen)]
    # counted on the replica when there is one; decided above and audited below on the main database
    with ctx.replica.reading(ctx.session) if ctx.replica else nullcontext(ctx.session) as reader:
        result = compute(reader, ctx.module, report, first, last, scope)
    result["filters"] = chosen
    audit.record(
        ctx.session,
        "report.run",
        user=ctx.user,
        ip=ctx.ip,
        report=report.id,
        period_from=result["from"],
        period_to=result["to"],
        records=result["records"],
        filters=chosen or None,
        format=file_format,
    )
    return result


def _filters(module: Module, report: ReportDefinition, given: dict[str, str]) -> dict[str, str]:
    """The reader's filters, checked: only the report's filter fields, only their options."""
    rt = module.record_types[report.record_type]
    out = {}
    for name, value in given.items():
        if not value:
            continue
        f = rt.scope.fields.get(name)
        if name not in report.filters or f is None or value not in (f.choice_values or frozenset()):
            wrong = f"{name}={value}"
            raise BadRequest(_("This report cannot be filtered by '%(filter)s'.", filter=wrong))
        out[name] = value
    return out


def run_for_organisation(
    session: Session,
    module: Module,
    report_id: str,
    start: Any = None,
    end: Any = None,
    agency: str | None = None,
    file_format: str | None = None,
) -> dict[str, Any]:
    """A report over every record of the module in this database (the organisation's own), or of
    one agency; for the command line (audited as run from it, with the format it is written in)."""
    report = module.reports.get(report_id)
    if report is None:
        raise NotFound(f"there is no report '{report_id}'")
    first, last = parse_period(start, end)
    scope: list[ColumnElement[bool]] = []
    if agency is not None:
        row = session.query(Agency).filter(Agency.code == agency).one_or_none()
        if row is None:
            raise NotFound(f"there is no agency '{agency}'")
        scope.append(Record.agency_id == row.id)
    result = compute(session, module, report, first, last, scope)
    audit.record(
        session,
        "report.run",
        username="(command line)",
        report=report.id,
        period_from=result["from"],
        period_to=result["to"],
        records=result["records"],
        agency=agency,
        format=file_format,
    )
    return result


def compute(
    session: Session,
    module: Module,
    report: ReportDefinition,
    start: date | None,
    end: date | None,
    scope: Sequence[ColumnElement[bool]],
) -> dict[str, Any]:
    rt = module.record_types[report.record_type]
    base = [Record.module == module.id, Record.record_type == rt.id, *scope, *aggregate.period_sql(report, start, end)]
    t = report.suppress_below
    tr = i18n.current()
    # the records counted and every table's counts in one statement (tables with a measure apart)
    plain = [table for table in report.tables if table.measure is None]
    records, raw = aggregate.count_tables(session, report, plain, rt, base)
    counted = {table.id: _grid(module, report, table, rt, raw[table.id]) for table in plain}
    # the tables that count each record once are suppressed together: a count hidden in one table is
    # hidden wherever another shows it or parts of it (the report's count of records included)
    linked = [table for table in plain if table.additive]
    together = suppress_together(
        [Table((), {(): records}, _universe(None))]
        + [Table(tuple(_dimension(d) for d in tb.dimensions), counted[tb.id], _universe(tb)) for tb in linked],
        t,
    )
    records_shown, suppressed = together[0].total, dict(zip([tb.id for tb in linked], together[1:], strict=True))
    tables = []
    for table in report.tables:
        if table.measure is not None:
            tables.append(_measure_table(session, module, report, table, rt, base))
            continue
        grid = counted[table.id]
        shown = suppressed.get(table.id) or suppress(grid, t, additive=False)
        keys = [k for d in table.dimensions for k in _keys(d)]
        rows = [
            {**dict(zip(keys, key, strict=True)), "count": shown.cells[key]}
            for key in grid
            if grid.get(key, 0) or isinstance(shown.cells[key], str)
        ]
        tables.append(
            {
                "id": table.id,
                "title": tr.text(f"reports/{report.id}/tables/{table.id}/title", table.title)[0],
                "description": _description(report, table),
                "dimensions": keys,
                "rows": rows,
                "total": shown.total if table.additive else records_shown,
                "additive": table.additive,
                "chart": table.chart,
                "labels": _labels(module, report, table, rt, grid),
                "categories": {k: _ordered(grid, i) for i, k in enumerate(keys)},
                "row_totals": [
                    {**dict(zip(keys[:-1], _as_key(r), strict=True)), "count": v} for r, v in shown.row_totals.items()
                ]
                if len(keys) >= 2
                else [],
                "column_totals": [{keys[-1]: c, "count": v} for c, v in shown.column_totals.items()],
            }
        )
    return {
        "report": report.id,
        "title": tr.text(f"reports/{report.id}/title", report.title)[0],
        "module": module.id,
        "record_type": rt.id,
        "audience": report.audience,
        "from": start.isoformat() if start else None,
        "to": end.isoformat() if end else None,
        "suppress_below": t,
        "records": records_shown,
        "tables": tables,
    }


def _universe(table: ReportTable | None) -> Hashable:
    """Which records a table counts, beyond the report's own rule: tables that count the same
    records show the same numbers for the same categories."""
    if table is None:
        return (None, ())
    return (table.where.source if table.where is not None else None, tuple(sorted(table.stages)))


def _dimension(d: Dimension) -> Hashable:
    """What a dimension means, the same way in every table of a report."""
    return (d.kind, d.field, d.subform, d.fields, d.value_id)


def _description(report: ReportDefinition, table: ReportTable) -> str | None:
    if not table.description:
        return None
    return i18n.current().text(f"reports/{report.id}/tables/{table.id}/description", table.description)[0]


def _as_key(value: Hashable) -> tuple[Hashable, ...]:
    return value if isinstance(value, tuple) else (value,)


def _keys(d: Dimension) -> list[str]:
    return [d.id, d.value_id] if d.kind == "fields" and d.value_id else [d.id]


def _ordered(grid: dict[tuple[Hashable, ...], int], i: int) -> list[Any]:
    seen: dict[Any, None] = {}
    for key in grid:
        seen.setdefault(key[i], None)
    return list(seen)


def _field_of(rt: RecordType, d: Dimension) -> Field | None:
    if d.kind == "field" and d.field:
        return rt.scope.fields.get(d.field)
    if d.kind == "row" and d.subform and d.field:
        sub = rt.scope.fields.get(d.subform)
        return sub.subform.fields.get(d.field) if sub is not None and sub.subform is not None else None
    if d.kind == "fields" and d.fields:
        return rt.scope.fields.get(d.fields[0])
    return None


def _categories(
    module: Module, report: ReportDefinition, d: Dimension, rt: RecordType, seen: set[str]
) -> list[list[str]]:
    """Every category of a dimension in display order (options first, then 'not recorded' if any
    record has no answer), one list per key of the dimension."""
    if d.kind in ("field", "row"):
        f = _field_of(rt, d)
        codes = [c.value for c in (f.choices or ())] if f is not None else []
        return [codes + sorted(x for x in seen if x not in codes)]
    if d.kind == "stage":
        wf = module.workflow_for(rt.id)
        codes = list(wf.states) if wf else []
        return [codes + sorted(x for x in seen if x not in codes)]
    if d.kind == "flags":
        return [list(d.fields)]
    if d.kind == "fields":
        f = _field_of(rt, d)
        values = [c.value for c in (f.choices or ())] if f is not None else []
        return [list(d.fields), values + sorted(x for x in seen if x not in values and x not in d.fields)]
    return [sorted(seen)]  # month, owner


def _grid(
    module: Module,
    report: ReportDefinition,
    table: ReportTable,
    rt: RecordType,
    counts: dict[tuple[Hashable, ...], int],
) -> dict[tuple[Hashable, ...], int]:
    """Every cell of the table, zeros included, in display order."""
    axes: list[list[str]] = []
    i = 0
    for d in table.dimensions:
        width = len(_keys(d))
        seen = [{str(k[i + j]) for k in counts} for j in range(width)]
        cats = _categories(module, report, d, rt, set().union(*seen))
        for j in range(width):
            extra = sorted(x for x in seen[j] if x not in cats[j])
            axes.append(cats[j] + extra)
        i += width
    if not axes:
        return {(): counts.get((), 0)}
    return {key: counts.get(key, 0) for key in product(*axes)}


def _labels(
    module: Module, report: ReportDefinition, table: ReportTable, rt: RecordType, grid: dict[tuple[Hashable, ...], int]
) -> dict[str, Any]:
    """Translated names of the dimensions and their categories."""
    tr = i18n.current()
    names: dict[str, str] = {}
    values: dict[str, dict[str, str]] = {}
    base = f"reports/{report.id}/tables/{table.id}/dimensions"
    wf = module.workflow_for(rt.id)
    for d in table.dimensions:
        f = _field_of(rt, d)
        if d.kind in ("field", "row") and f is not None:
            names[d.id] = tr.text(f"{i18n.field_path(f)}/label", f.label)[0]
            values[d.id] = _choice_labels(f)
        elif d.kind == "month":
            names[d.id] = _("Month")
        elif d.kind == "stage":
            names[d.id] = _("Stage")
            values[d.id] = {s: state_label(wf, s) for s in wf.states} if wf is not None else {}
        elif d.kind == "owner":
            names[d.id] = _("Caseworker")
        else:
            names[d.id] = tr.text(f"{base}/{d.id}/label", d.label or d.id)[0]
            values[d.id] = {
                name: tr.text(f"{i18n.field_path(rt.scope.fields[name])}/label", rt.scope.fields[name].label)[0]
                for name in d.fields
            }
            if d.kind == "fields" and d.value_id:
                names[d.value_id] = tr.text(f"{base}/{d.id}/value/label", d.value_label or d.value_id)[0]
                values[d.value_id] = _choice_labels(f) if f is not None else {}
    for key in names:
        values.setdefault(key, {})[NOT_RECORDED] = _("Not recorded")
    return {"dimensions": names, "values": values}


def _choice_labels(f: Field) -> dict[str, str]:
    tr = i18n.current()
    out = {}
    for c in f.choices or ():
        out[c.value] = tr.gettext(c.label) if f.type == "yes_no" else tr.text(i18n.choice_path(f, c), c.label)[0]
    return out


def _measure_table(
    session: Session,
    module: Module,
    report: ReportDefinition,
    table: ReportTable,
    rt: RecordType,
    base: Sequence[ColumnElement[bool]],
) -> dict[str, Any]:
    assert table.measure is not None
    tr = i18n.current()
    t = report.suppress_below
    found = aggregate.days_until(session, report, table, rt, base)
    keys = [d.id for d in table.dimensions]
    rows = []
    for key, (n, avg) in found.items():
        small = 0 < n < t
        rows.append(
            {
                **dict(zip(keys, key, strict=True)),
                "count": below(t) if small else n,
                "average_days": None if small else round(avg, 1),
            }
        )
    return {
        "id": table.id,
        "title": tr.text(f"reports/{report.id}/tables/{table.id}/title", table.title)[0],
        "dimensions": keys,
        "rows": rows,
        "total": shown_count(sum(n for n, _avg in found.values()), t),
        "additive": False,
        "chart": table.chart,
        "measure": tr.text(f"reports/{report.id}/tables/{table.id}/measure/label", table.measure.label)[0],
        "labels": _labels(module, report, table, rt, {k: 0 for k in found}),
        "categories": {k: sorted({str(key[i]) for key in found}) for i, k in enumerate(keys)},
        "row_totals": [],
        "column_totals": [],
    }


@dataclass(frozen=True)
class ReportInfo:
    id: str
    title: str
    record_type: str
    audience: str
    tables: int


def listing(module: Module) -> list[ReportInfo]:
    tr = i18n.current()
    return [
        ReportInfo(r.id, tr.text(f"reports/{r.id}/title", r.title)[0], r.record_type, r.audience, len(r.tables))
        for r in module.reports.values()
    ]
