"""Exports of records: every answer (or chosen forms and fields) of one record type, one line per
record, streamed from the database in bounded memory; and the fixed layouts a module declares in
exports/ (the GBVIMS Incident Recorder). The reader's access rules apply line by line (fields the
role may not see are never written). Every export is audited: who, what, which filters, how many.

De-identified exports drop every direct identifier, generalise quasi-identifiers (dates to the
month, numbers to bands — an age to an age group —, quasi-identifying texts and options such as a
small-area location dropped) and replace record ids with pseudonyms made for this export alone."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine import i18n
from engine.i18n import _
from engine.language.model import Consent, ExportColumn, ExportDefinition, Field, Module, RecordType
from engine.service import accounts, audit
from engine.service.context import Context, access_holdings
from engine.service.errors import BadRequest, Forbidden, NotFound
from engine.storage import aggregate
from engine.storage.models import Agency, Record, RecordLink
from engine.storage.scope import records_held

CHUNK = 500
Progress = Callable[[int, int], None]


@dataclass
class Plan:
    """What an export writes: its header and, for each record, its line."""

    title: str
    header: list[str]
    count: int
    lines: Iterator[list[Any]]
    sheet: str = "Records"
    details: dict[str, Any] = field(default_factory=dict)


# -- which fields ------------------------------------------------------------------------------------
def _columns(rt: RecordType, forms: list[str] | None, fields: list[str] | None) -> list[Field]:
    wanted_forms = set(forms) if forms else set(rt.form_ids)
    unknown = sorted(wanted_forms - set(rt.forms))
    if unknown:
        raise BadRequest(_("The record type has no form %(forms)s.", forms=", ".join(unknown)))
    out = [f for fid in rt.form_ids if fid in wanted_forms for f in rt.forms[fid].fields if f.has_value]
    if fields:
        missing = sorted(set(fields) - {f.id for f in out})
        if missing:
            raise BadRequest(_("There is no field %(fields)s in the forms chosen.", fields=", ".join(missing)))
        out = [f for f in out if f.id in set(fields)]
    return out


def _band(value: Any, width: int) -> str:
    try:
        n = int(float(value))
    except (TypeError, ValueError):
        return ""
    low = n // width * width
    return f"{low}-{low + width - 1}"


def _cell(f: Field, value: Any, deidentified: bool, band: int) -> Any:
    """An answer as written in an export: codes, lists joined by spaces, subforms counted."""
    if value in (None, "", []):
        return ""
    if f.subform is not None:
        return len(value) if isinstance(value, list) else ""
    if deidentified and f.sensitivity == "quasi":
        if f.type in ("date", "datetime") or (f.type == "calculate" and isinstance(value, str) and _is_date(value)):
            return str(value)[:7]
        if f.type in ("integer", "decimal") or (f.type == "calculate" and isinstance(value, (int, float))):
            return _band(value, band)
        return ""
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    return value


def _is_date(text: str) -> bool:
    try:
        date.fromisoformat(text[:10])
    except ValueError:
        return False
    return True


def _kept(f: Field, deidentified: bool) -> bool:
    """Does a de-identified export keep this field? Never a direct identifier; a quasi-identifier
    only when it can be generalised (a date, a number)."""
    if not deidentified:
        return True
    if f.sensitivity == "direct":
        return False
    if f.sensitivity == "quasi":
        return f.type in ("date", "datetime", "integer", "decimal", "calculate")
    return True


# -- records ---------------------------------------------------------------------------------------------
def _scope(ctx: Context | None, record_type: str, module: Module, agency: str | None, session: Session) -> list[Any]:
    cond: list[Any] = [Record.module == module.id, Record.record_type == record_type]
    if ctx is not None:
        cond.append(records_held(ctx.policy.reach(ctx.actor)))
    if agency is not None:
        row = accounts.find_agency(session, agency)
        if row is None:
            raise NotFound(f"there is no agency '{agency}'")
        cond.append(Record.agency_id == row.id)
    return cond


def _stream(session: Session, conditions: list[Any]) -> Iterator[list[Record]]:
    """The records, oldest first, a chunk at a time (the session forgets each chunk once written)."""
    last: tuple[Any, str] | None = None
    while True:
        q = select(Record).where(*conditions).order_by(Record.created_at, Record.id).limit(CHUNK)
        if last is not None:
            q = q.where((Record.created_at > last[0]) | ((Record.created_at == last[0]) & (Record.id > last[1])))
        chunk = list(session.scalars(q))
        if not chunk:
            return
        yield chunk
        last = (chunk[-1].created_at, chunk[-1].id)
        session.expunge_all()


def records_export(
    session: Session,
    module: Module,
    record_type: str,
    *,
    ctx: Context | None = None,
    forms: list[str] | None = None,
    fields: list[str] | None = None,
    deidentified: bool = False,
    agency: str | None = None,
) -> Plan:
    """One line per record of `record_type` the reader reaches (every record from the command line)."""
    rt = module.record_types.get(record_type)
    if rt is None:
        raise NotFound(f"there is no record type '{record_type}'")
    columns = [f for f in _columns(rt, forms, fields) if _kept(f, deidentified)]
    if ctx is not None:
        role = ctx.actor.role
        columns = [f for f in columns if role.may_read_form(f.form_id) and f.sensitivity in role.sensitivity]
    band = module.settings.get("deidentified_number_band", 5)
    band = band if isinstance(band, int) and not isinstance(band, bool) and band > 0 else 5
    conditions = _scope(ctx, record_type, module, agency, session)
    total = int(session.scalar(select(func.count()).select_from(Record).where(*conditions)) or 0)
    head = ["record"] if deidentified else ["record_id", "short_id"]
    head += ["stage", "opened" if not deidentified else "opened_month"]
    header = head + [f.id for f in columns]
    pseudonyms: dict[str, str] = {}

    def pseudonym(rid: str) -> str:
        if rid not in pseudonyms:
            pseudonyms[rid] = "R-" + secrets.token_hex(4).upper()
        return pseudonyms[rid]

    reach = ctx.policy.reach(ctx.actor) if ctx is not None else None

    def lines() -> Iterator[list[Any]]:
        for chunk in _stream(session, conditions):
            held = access_holdings(session, chunk, reach) if reach is not None else {}
            for rec in chunk:
                data = rec.data
                if ctx is not None:
                    data = ctx.policy.filter_data(ctx.actor, rt.id, held[rec.id], rec.data)
                opened = rec.created_at.date().isoformat()
                first = [pseudonym(rec.id)] if deidentified else [rec.id, rec.short_id]
                line = [*first, rec.stage or "", opened[:7] if deidentified else opened]
                line += [_cell(f, data.get(f.id), deidentified, band) for f in columns]
                yield line

    tr = i18n.current()
    return Plan(
        tr.text(f"record_types/{rt.id}/title", rt.title)[0],
        header,
        total,
        lines(),
        rt.id[:31],
        {
            "record_type": rt.id,
            "forms": forms or None,
            "fields": fields or None,
            "deidentified": deidentified,
            "agency": agency,
            "records": total,
        },
    )


def may_export(ctx: Context, definition: ExportDefinition | None = None) -> bool:
    role = ctx.actor.role
    if role.aggregate_only:
        return False
    if definition is not None and definition.roles:
        return role.id in definition.roles
    return role.can("export")


# -- declared layouts (the Incident Recorder) -----------------------------------------------------------
def _consent_now(rec: Record, consent: Consent, linked: dict[str, dict[str, Any]]) -> str:
    other = linked.get(rec.id)
    if other is not None and consent.linked_field:
        ok = other.get(consent.linked_field) == "yes" and rec.data.get(consent.field) != "no"
        withdrawn = consent.linked_withdrawn and other.get(consent.linked_withdrawn) == "yes"
    else:
        ok = rec.data.get(consent.field) == "yes"
        withdrawn = consent.withdrawn and rec.data.get(consent.withdrawn) == "yes"
    return "yes" if ok and not withdrawn else "no"


def _linked_data(session: Session, chunk: list[Record], record_type: str) -> dict[str, dict[str, Any]]:
    """For each record of the chunk, the answers of its linked record of `record_type`, if any."""
    ids = [r.id for r in chunk]
    out: dict[str, dict[str, Any]] = {}
    rows = session.execute(
        select(RecordLink.from_id, RecordLink.to_id, Record.data, Record.record_type)
        .join(Record, (Record.id == RecordLink.from_id) | (Record.id == RecordLink.to_id))
        .where((RecordLink.to_id.in_(ids)) | (RecordLink.from_id.in_(ids)))
    ).all()
    for from_id, to_id, data, rtype in rows:
        if rtype != record_type:
            continue
        mine = to_id if to_id in ids else from_id
        if mine in ids and mine not in out:
            out[mine] = data
    return out


def _record_value(
    kind: str, rec: Record, consent: Consent | None, linked: dict[str, dict[str, Any]], agency: Agency | None
) -> Any:
    """A layout's `value:` column for one record (not an answer)."""
    if kind == "agency":
        return agency.code if agency is not None else ""
    if kind == "agency_reporting_code":
        return (agency.reporting_code or agency.code) if agency is not None else ""
    if kind == "consent":
        return _consent_now(rec, consent, linked) if consent is not None else ""
    if kind == "stage":
        return rec.stage or ""
    if kind == "record_id":
        return rec.id
    if kind == "short_id":
        return rec.short_id
    if kind == "created":
        return rec.created_at.date().isoformat()
    return ""


def _answers(col: ExportColumn, data: dict[str, Any]) -> list[Any]:
    """The answers a layout column writes: its field's (each of a select_multiple), or, for several
    fields, the first answered one's (`combine: first`) or every one's (`combine: join`)."""
    out: list[Any] = []
    for src in col.sources:
        if src.subform is not None:
            rows = data.get(src.subform) or []
            pick = next(
                (r for r in rows if all(r.get(k) == v for k, v in col.row_where.items())),
                rows[0] if rows else {},
            )
            value = pick.get(src.field_id)
        else:
            value = data.get(src.field_id)
        if value in (None, "", []):
            continue
        out.extend(value if isinstance(value, list) else [value])
        if col.combine == "first":
            break
    return out


def _layout_cell(col: ExportColumn, values: list[Any]) -> Any:
    """Values as the layout writes them: each through its codes (else its label, with `unmapped:
    label`, else as it is), once each, several joined by the column's separator."""
    written: list[Any] = []
    for value in values:
        if value in (None, ""):
            continue
        key = str(value)
        out = col.codes[key] if key in col.codes else col.labels.get(key, value)
        if out not in written:
            written.append(out)
    if not written:
        return ""
    return written[0] if len(written) == 1 else col.separator.join(str(v) for v in written)


def defined_export(
    session: Session, module: Module, export_id: str, *, ctx: Context | None = None, agency: str | None = None
) -> Plan:
    """A module's declared layout, line by line, for the records the reader reaches."""
    d = module.exports.get(export_id)
    if d is None:
        raise NotFound(f"there is no export '{export_id}'")
    if ctx is not None and not may_export(ctx, d):
        raise Forbidden(_("Your role may not export these records."))
    rt = module.record_types[d.record_type]
    conditions = _scope(ctx, rt.id, module, agency, session)
    if d.where is not None:
        conditions.append(aggregate.where_sql(d.where.ast, rt))
    total = int(session.scalar(select(func.count()).select_from(Record).where(*conditions)) or 0)
    agencies = {a.id: a for a in session.scalars(select(Agency))}

    reach = ctx.policy.reach(ctx.actor) if ctx is not None else None

    def lines() -> Iterator[list[Any]]:
        for chunk in _stream(session, conditions):
            held = access_holdings(session, chunk, reach) if reach is not None else {}
            linked = (
                _linked_data(session, chunk, d.consent.linked_type)
                if d.consent is not None and d.consent.linked_type
                else {}
            )
            for rec in chunk:
                data = ctx.policy.filter_data(ctx.actor, rt.id, held[rec.id], rec.data) if ctx is not None else rec.data
                line = []
                for col in d.columns:
                    values: list[Any]
                    if col.value is not None:
                        values = [_record_value(col.value, rec, d.consent, linked, agencies.get(rec.agency_id or 0))]
                    else:
                        values = _answers(col, data)
                    line.append(_layout_cell(col, values))
                yield line

    tr = i18n.current()
    return Plan(
        tr.text(f"exports/{d.id}/title", d.title)[0],
        [c.header for c in d.columns],
        total,
        lines(),
        (d.sheet or d.id)[:31],
        {"export": d.id, "agency": agency, "records": total},
    )


def audited(
    session: Session, plan: Plan, ctx: Context | None, file_format: str, protected: bool, filters: dict[str, Any]
) -> None:
    """The audit entry of an export (written before the file, with its size in records)."""
    audit.record(
        session,
        "export.run",
        user=ctx.user if ctx else None,
        username=None if ctx else "(command line)",
        ip=ctx.ip if ctx else None,
        format=file_format,
        password_protected=protected,
        **{k: v for k, v in {**plan.details, **filters}.items() if v not in (None, [], "")},
    )
