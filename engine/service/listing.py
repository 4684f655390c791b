"""Lists of records: a page of the records a user reaches, filtered, searched and sorted; counts
by stage. The records a user reaches come from the one scope rule (`storage.scope`).

Lists stay fast whatever the size of the table (issue 16): a page is found by the list order's index
(`ix_records_updated`, `ix_records_created`; a manager's agency by `ix_records_agency`, her agency
and the rest of her scope as two parts, see `storage.scope.reach_parts`), the next one from an opaque cursor past the last record
shown (keyset paging; `page=` still works, by offset), and the total is counted up to `COUNT_CAP` only
(`total_capped` says there are more). On PostgreSQL, a search by answer is served by an index on each
searched answer (`storage.search_indexes`), and a filter by answer is a containment test
(`data @> {…}`) that the GIN index of migration 0009 serves for every list field."""

from __future__ import annotations

import base64
import binascii
import functools
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    bindparam,
    func,
    literal,
    or_,
    select,
    true,
    type_coerce,
    union,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import BindParameter, UnaryExpression

from engine.i18n import _
from engine.language.model import Field
from engine.runtime.policy import Holding, Reach
from engine.service import audit
from engine.service.context import Context, access_holdings, audit_emergency_read, find_type, usernames
from engine.service.errors import BadRequest, Forbidden
from engine.storage import db, scope, sealing
from engine.storage.models import Record, User
from engine.storage.scope import records_in_reach
from engine.storage.search_indexes import column_of, searched

PAGE_SIZE = 50
MAX_PAGE_SIZE = 100
MAX_PAGE = 100_000  # far past any real list; keeps OFFSET within every database's integers
#: totals are counted up to this many records; past it a list says "more than 1,000"
COUNT_CAP = 1000
SORTS = ("updated", "created")
#: a search's answers are looked up first when at most this many records have them (see _answering)
LOOKED_UP = 1000


def list_records(
    ctx: Context,
    record_type: str,
    stage: str | None,
    q: str | None,
    page: int,
    sort: str = "updated",
    fields: tuple[str, ...] = (),
    page_size: int = PAGE_SIZE,
    filters: dict[str, str] | None = None,
    owner: str | None = None,
    created_from: str | None = None,
    created_to: str | None = None,
    after: str | None = None,
    counted: bool = True,
) -> dict[str, Any]:
    """A page of records in the user's scope; `fields` adds those answers (the ones the user may see).

    The page is the one after the cursor `after` (a `next` of an earlier page) when it is given, else
    page number `page` (then `page` only labels the page). `total` counts the matching records up to
    `COUNT_CAP`; `total_capped` is true when there are more. Without `counted` (a page that shows no
    total) the records are not counted: `total` is None."""
    rt = find_type(ctx, record_type)
    if not ctx.policy.may_on_type(ctx.actor, record_type, "read"):
        raise Forbidden(_("Your role may not read these records."))
    if sort not in SORTS:
        sort = "updated"
    postgres = ctx.session.get_bind().dialect.name == "postgresql"
    reach = ctx.policy.reach(ctx.actor)
    if not 1 <= page <= MAX_PAGE:
        raise BadRequest(_("'page' must be a whole number from 1 to %(max)s.", max=MAX_PAGE))
    # the list's own values, as its statements' parameters: which of them it has decides its form
    own: dict[str, Any] = {}
    if stage:
        own["stage"] = stage
    if owner:
        own["owner"] = owner
    if created_from:
        own["day_from"] = _day(created_from)
    if created_to:
        own["day_to"] = _day(created_to) + timedelta(days=1)
    if after:
        own["after_at"], own["after_id"] = _read_cursor(after, sort)
    skip = (page - 1) * page_size if not after else 0
    if skip:
        own["skip"] = skip
    form = _Form(ctx.module.id, record_type, sort, postgres, scope.shape_of(reach), frozenset(own), fields)
    taken = {"take": page_size + 1, "part_take": skip + page_size + 1, "count_take": COUNT_CAP + 1}
    values = {**scope.parameters(reach), **own, **taken}
    # answers a list may filter or search on: list fields this role may see (never hidden ones)
    role = ctx.actor.role
    searchable = [
        f
        for f in (rt.scope.fields.get(fid) for fid in rt.list_fields)
        if f is not None and role.may_read_form(f.form_id) and f.sensitivity in role.sensitivity
    ]
    needle = (q or "").strip()
    answers = [f for f in searchable if q and searched(f)]
    used_filters = {
        fid: value for fid, value in (filters or {}).items() if value and any(f.id == fid for f in searchable)
    }
    if q or used_filters:
        search, searched_values = _search(ctx, record_type, reach, postgres, needle, answers, used_filters)
        values |= searched_values
        statements = _searched(form, search)
    else:
        statements = _unsearched(form)
    first = page == 1 and not after
    total: int | None = None
    if counted and statements.counted_page is not None and _counted_with_page(form, first, bool(q or used_filters)):
        rows = list(ctx.session.execute(statements.counted_page, values))
        total = int(rows[0].total_counted) if rows else 0
        items: list[Any] = [r for r in rows if r.id is not None]  # an empty page is one row, no record
    else:
        items = list(ctx.session.execute(statements.page, values))
    more = len(items) > page_size
    items = items[:page_size]
    if counted and total is None:  # a first page that is the whole list is its own count
        total = len(items) if first and not more else (ctx.session.scalar(statements.counting, values) or 0)
    # only what a list shows, and who holds each record when answers are shown or a role may break the
    # glass: the answers come as stored, and only the listed ones are opened (a sealed answer costs a
    # decryption), never every answer of every record on the page
    holders = fields or ctx.actor.role.emergency_access
    held = access_holdings(ctx.session, items, reach) if holders else {}
    # a caseworker's own records need no query for their owner's name
    owners = {ctx.user.id: ctx.user.username, **usernames(ctx.session, {r.owner_id for r in items} - {ctx.user.id})}
    if ctx.actor.role.emergency_access:  # a list shows records reached by breaking the glass too
        for r in items:  # (the user may read this type: asked above)
            if reach.relation(held[r.id]) == "emergency":
                audit_emergency_read(ctx, r, via="list")
    audit.record(
        ctx.session,
        "record.list",
        user=ctx.user,
        ip=ctx.ip,
        record_type=record_type,
        page=page,
        count=len(items),
        q=q or None,
        filters=used_filters or None,
        stage=stage or None,
        owner=owner or None,
        created_from=created_from or None,
        created_to=created_to or None,
    )
    return {
        "items": [
            {
                "id": r.id,
                "short_id": r.short_id,
                "stage": r.stage,
                "version": r.version,
                "owner": owners.get(r.owner_id),
                "updated_at": audit.iso(r.updated_at),
                "created_at": audit.iso(r.created_at),
                **({"fields": _listed(ctx, r, held[r.id], fields)} if fields else {}),
            }
            for r in items
        ],
        "page": page,
        "page_size": page_size,
        "total": None if total is None else min(total, COUNT_CAP),
        "total_capped": total is not None and total > COUNT_CAP,
        "next": _cursor(sort, items[-1]) if more else None,
    }


@dataclass(frozen=True)
class _Form:
    """What decides the form of a list's statements, its values aside (they are parameters)."""

    module: str
    record_type: str
    sort: str
    postgres: bool
    shape: scope.Shape
    #: the list's own values it has (`stage`, `owner`, `day_from`, `day_to`, `after_at`, `skip`, …)
    given: frozenset[str]
    fields: tuple[str, ...]


@dataclass(frozen=True)
class _Search:
    """What decides the form of a list's search and filters, their values aside (parameters):
    whether it matches case numbers and ids by prefix (`needle_upper`, `needle_lower`); the answers
    it searches, each with the column it compares (`answer_0`, `answer_1`, …), or, `looked_up`, the
    ids of the records that have them (`answered`, see _answering); the answers it filters on, each
    with whether its value also reads as a JSON number or true/false (`filter_0`, and `filter_0_n`)."""

    text: bool
    answers: tuple[tuple[str, str], ...]
    looked_up: bool
    filters: tuple[tuple[str, bool], ...]

    def answered(self) -> ColumnElement[bool] | None:
        if self.looked_up:
            return scope.among(Record.id, "answered")
        return _answers_are(self.answers) if self.answers else None


def _search(
    ctx: Context,
    record_type: str,
    reach: Reach,
    postgres: bool,
    needle: str,
    answers: list[Field],
    filters: dict[str, str],
) -> tuple[_Search, dict[str, Any]]:
    """The form of a list's search of `needle` in `answers` and its `filters`, and its values. The
    searched answers are looked up first (see _answering) for users who hold records by owner, team
    or assignment; an agency's or module's records are many, and found by the answers' indexes anyway."""
    compared = tuple((f.id, column_of(f)) for f in answers)
    values: dict[str, Any] = {f"answer_{i}": _answer_value(ctx, record_type, f, needle) for i, f in enumerate(answers)}
    looked_up = False
    if compared and postgres and not (reach.agency_wide or reach.everything):
        ids = _answering(ctx, record_type, compared, values)
        if ids is not None:
            looked_up, values["answered"] = True, ids
    if needle or compared:
        values["needle_upper"], values["needle_lower"] = _prefix(needle.upper()), _prefix(needle.lower())
    filtered = []
    for i, (fid, value) in enumerate(filters.items()):
        also, given = _filter_values(i, fid, value, postgres)
        filtered.append((fid, also))
        values |= given
    return _Search(bool(needle or compared), compared, looked_up, tuple(filtered)), values


def _counted_with_page(form: _Form, first: bool, searched: bool) -> bool:
    """Whether a list's count comes with its page, in one statement (PostgreSQL): where it will be
    needed, after the first page, and on the first page of a team's, agency's or module's unsearched
    list, which rarely fits on one page. A search's or a caseworker's first page is most often the
    whole list and its own count: counting it anyway doubled what PostgreSQL planned and ran (a
    caseworker's search at 500,000 cases: 1.6 -> 2.0x hand-written SQL)."""
    many = form.shape.groups or form.shape.agency_wide or form.shape.everything
    return not first or (many and not searched)


class _Statements(NamedTuple):
    """A list's statements: its page, its capped count, and on PostgreSQL both in one statement
    (`counted_page`: the count as `total_counted` on every row, and one row without a record when the
    page is empty), which saves a round trip for every list that shows its total."""

    page: Select[Any]
    counting: Select[Any]
    counted_page: Select[Any] | None


def _statements(form: _Form, search: _Search | None) -> _Statements:
    """A list's page and its capped count, for every user of `form`, their values as parameters: the
    reach's (storage.scope), `stage`, `owner`, `day_from`, `day_to`, `after_at` and `after_id` (the
    cursor), `skip`, `take` (the page size and one more), `part_take` (each part's first records) and
    `count_take` (COUNT_CAP and one more).
    On PostgreSQL they are planned for their values on every run (db.PLANNED_EACH_RUN)."""
    key = Record.created_at if form.sort == "created" else Record.updated_at
    # the list's conditions but its scope and its answers', which depend on the part of the scope
    common: list[ColumnElement[bool]] = [Record.module == form.module, Record.record_type == form.record_type]
    if "stage" in form.given:
        common.append(Record.stage == bindparam("stage"))
    if "owner" in form.given:
        common.append(Record.owner_id.in_(select(User.id).where(User.username == bindparam("owner"))))
    if "day_from" in form.given:
        common.append(Record.created_at >= bindparam("day_from"))
    if "day_to" in form.given:
        common.append(Record.created_at < bindparam("day_to"))
    if "after_at" in form.given:
        at: BindParameter[Any] = bindparam("after_at")
        last_id: BindParameter[Any] = bindparam("after_id")
        common.append(and_(key <= at, or_(key < at, Record.id > last_id)))

    def part_of_scope(part: ColumnElement[bool], held: ColumnElement[bool]) -> Select[Any]:
        """The list's records in one part of the scope. Answers only filter records the user reaches
        through the agency that holds them (`held`): a referral shares chosen forms, and a search
        must not tell its recipient what the other forms say."""
        found = select(Record).where(*common, part)
        if search is None:
            return found
        if search.text:
            answered = search.answered()
            found = found.where(
                or_(
                    Record.short_id.like(bindparam("needle_upper"), escape="\\"),
                    Record.id.like(bindparam("needle_lower"), escape="\\"),
                    *([and_(held, answered)] if answered is not None else []),
                )
            )
        for i, (fid, also) in enumerate(search.filters):
            found = found.where(held, _data_is(i, fid, also, form.postgres))
        return found

    queries = [part_of_scope(part, held) for part, held in scope.reach_parts(form.shape)]
    searching = search is not None
    # SQLite walks an index in list order only for a whole agency or module, unsearched (see _unindexed)
    walk = form.postgres or ((form.shape.agency_wide or form.shape.everything) and not searching)

    def in_order(n: int) -> ColumnElement[Any]:
        """The list order for part `n` of the scope: only the first part can be a whole agency."""
        return (key if walk and (n == 0 or form.postgres) else _unindexed(key.expression)).desc()

    skip: BindParameter[Any] | None = bindparam("skip") if "skip" in form.given else None
    if len(queries) == 1:
        ordered = queries[0].order_by(in_order(0), Record.id).offset(skip).limit(bindparam("take"))
        page_ids = ordered.with_only_columns(Record.id)
    else:
        # each part's first records in list order, then the first of those: the agency's part walks
        # its index and stops at a page, where one `OR` of the parts sorts every record of the agency
        # (a manager's list at 500,000 cases). A record in two parts is one row: `UNION` keeps one.
        firsts = union(
            *(
                select(
                    found.with_only_columns(Record.id, key.label("key"))
                    .order_by(in_order(n), Record.id)
                    .limit(bindparam("part_take"))
                    .subquery()
                )
                for n, found in enumerate(queries)
            )
        ).subquery()
        first_ids = select(firsts.c.id).order_by(firsts.c.key.desc(), firsts.c.id)
        page_ids = first_ids.offset(skip).limit(bindparam("take"))
    # only the listed answers (`data -> 'field'`), never the whole answers of every row; on PostgreSQL
    # as one object per row, which the driver reads with one JSON parse instead of one per answer
    # (125 on a page of 25 records and 5 columns, a tenth of the page's CPU)
    if form.postgres and form.fields:
        pairs = [part for f in form.fields for part in (literal(f), Record.data[f])]
        listed: tuple[Any, ...] = (type_coerce(func.jsonb_build_object(*pairs), JSONB).label("listed"),)
    else:
        listed = tuple(Record.data[f].label(f"listed_{i}") for i, f in enumerate(form.fields))
    shown = (*_SHOWN, *_HOLDERS, *listed)
    if listed or len(queries) > 1:
        # the page's ids first, then the answers of those rows only: the database reads a row's
        # answers (a large value, stored apart) for the 51 records of the page, not for every record
        # in scope it sorts (a caseworker's 300 cases at 500,000: 7,600 pages read -> 1,600, 24 -> 6 ms)
        ids = page_ids.subquery()
        page_rows = select(*shown).join(ids, ids.c.id == Record.id).order_by(key.desc(), Record.id)
    else:
        page_rows = ordered.with_only_columns(*shown)
    counting = _capped_count(queries)
    if not form.postgres:
        return _Statements(page_rows, counting, None)
    page, counted = page_rows.subquery("page"), counting.subquery("counted")
    counted_page = (
        select(counted.c.total_counted, *page.c)
        .select_from(counted.outerjoin(page, true()))
        .order_by(page.c[key.key].desc(), page.c.id)
    )
    each_run = {db.PLANNED_EACH_RUN: True}
    return _Statements(
        page_rows.execution_options(**each_run),
        counting.execution_options(**each_run),
        counted_page.execution_options(**each_run),
    )


#: an unsearched list's statements, built once for each form (a list's own took half a millisecond
#: of CPU to build and for SQLAlchemy to key, on every page). About 90 KB each, keyed and compiled:
#: the 128 kept take up to 12 MB of a process; a deployment uses a few dozen forms
_unsearched = functools.lru_cache(maxsize=128)(lambda form: _statements(form, None))
#: a searched or filtered list's, built once for each form and search (its answers and filters, not
#: their values): building and keying them was a third of a search's CPU. Kept apart, so searches
#: never push the lists everyone opens out; up to 12 MB more
_searched = functools.lru_cache(maxsize=128)(_statements)


#: who holds a record (see context.holdings)
_HOLDERS = (Record.agency_id, Record.group_id)

#: the columns a list shows when it shows no answers
_SHOWN = (
    Record.id,
    Record.short_id,
    Record.stage,
    Record.version,
    Record.owner_id,
    Record.record_type,
    Record.updated_at,
    Record.created_at,
)


def _unindexed(column: ColumnElement[Any]) -> ColumnElement[Any]:
    """`+column`: the same values, but SQLite will not walk an index in this order. SQLite plans
    without statistics on an `OR`: it would walk the whole list order's index to find the few records
    of a caseworker, a team or a search, where finding them (owner, group, ids) and sorting them is
    quick. PostgreSQL weighs both plans itself."""
    return UnaryExpression(column, operator=operators.custom_op("+"), type_=column.type)


def _capped_count(queries: list[Select[Any]]) -> Select[Any]:
    """How many records the parts of a scope's `queries` find together, counted up to `count_take`
    (never a scan of a whole scope). Each part is counted up to the cap too: past it in one part, the
    parts together are past it; below it in all, their union is exact."""
    capped = [found.with_only_columns(Record.id).limit(bindparam("count_take")) for found in queries]
    counted = (capped[0] if len(capped) == 1 else union(*(select(c.subquery()) for c in capped))).subquery()
    return select(func.count().label("total_counted")).select_from(counted)


def _cursor(sort: str, rec: Record) -> str:
    """The opaque position after `rec` in a list ordered by `sort`: its time and id."""
    at = rec.created_at if sort == "created" else rec.updated_at
    raw = json.dumps([sort, at.isoformat(), rec.id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _read_cursor(text: str, sort: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        kind, at, rid = json.loads(raw)
        if kind != sort or not isinstance(rid, str) or len(rid) > 36:
            raise ValueError(kind)
        return datetime.fromisoformat(at), rid
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise BadRequest(
            _("'after' is not the position of a page of this list; start again from the first page.")
        ) from None


def _prefix(text: str) -> str:
    """A LIKE pattern for values starting with `text` (its own % and _ taken literally)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _answering(
    ctx: Context, record_type: str, answers: tuple[tuple[str, str], ...], values: dict[str, Any]
) -> list[str] | None:
    """The ids of the records of this type with one of the searched `answers` (their values in
    `values`), looked up first, on their own, by the search indexes on exactly those answers
    (`storage.search_indexes`): up to `LOOKED_UP` of them; None when there are more. For a user who
    holds records by owner, team or assignment (on PostgreSQL), the list then keeps those of the ids
    the user holds. Written as one condition next to the scope, the planner misjudged how many
    records a team holds and read every one of them to find one code (a supervisor's team, 2,764
    records at 500,000 cases: 87 ms; looked up: 0.2 ms). An answer shared by more records (an age,
    10,000 records) is searched next to the scope, among the records held: its ids, looked up
    across the country and probed one by one, took 120 ms."""
    ids = list(ctx.session.scalars(_looking_up(ctx.module.id, record_type, answers), values))
    return ids if len(ids) <= LOOKED_UP else None


@functools.lru_cache(maxsize=64)
def _looking_up(module: str, record_type: str, answers: tuple[tuple[str, str], ...]) -> Select[Any]:
    """The look-up of `_answering`, built once for each module, type and searched answers, planned for
    its values on every run (db.PLANNED_EACH_RUN): prepared, its one generic plan for every code took
    a caseworker's search from 5 to 400 ms at 20,000 cases."""
    kind = [Record.module == module, Record.record_type == record_type]
    found = select(Record.id).where(*kind, _answers_are(answers)).limit(LOOKED_UP + 1)
    return found.execution_options(**{db.PLANNED_EACH_RUN: True})


def _answers_are(answers: tuple[tuple[str, str], ...]) -> ColumnElement[bool]:
    """One of the searched answers reads as its value (`answer_0`, `answer_1`, …): `data ->> 'field'`,
    which a search index serves, or for a direct answer, which is sealed, its blind index."""
    return or_(
        *(
            (Record.blind if column == "blind" else Record.data)[fid].as_string() == bindparam(f"answer_{i}")
            for i, (fid, column) in enumerate(answers)
        )
    )


def _answer_value(ctx: Context, record_type: str, f: Field, needle: str) -> str:
    """What the answer of `f` is compared with for a search of `needle`: the needle, or for a sealed
    answer the needle's blind index (case and spacing aside)."""
    if column_of(f) != "blind":
        return needle
    ring = sealing.session_ring(ctx.session)
    return ring.blind(sealing.blind_scope(ctx.module.id, record_type, f.id), needle)


def _data_is(i: int, fid: str, also: bool, postgres: bool) -> ColumnElement[bool]:
    """The answer of `fid` read as text is the value of filter `i` (`filter_i`). On PostgreSQL: JSON
    containment of `{fid: value}`, which the GIN index on `data` serves; with `also`, of the value as a
    JSON number or true/false as well (`filter_i_n`), as `->>` compared as text matches it."""
    if not postgres:
        same: ColumnElement[bool] = Record.data[fid].as_string() == bindparam(f"filter_{i}")
        return same
    data = type_coerce(Record.data, JSONB)
    found: list[ColumnElement[bool]] = [data.contains(bindparam(f"filter_{i}", type_=JSONB))]
    if also:
        found.append(data.contains(bindparam(f"filter_{i}_n", type_=JSONB)))
    return or_(*found)


def _filter_values(i: int, fid: str, value: str, postgres: bool) -> tuple[bool, dict[str, Any]]:
    """The parameters of filter `i` (see _data_is), and whether the value also reads as a JSON number
    or true/false exactly (on PostgreSQL, where it is then matched as that too: `filter_i_n`)."""
    if not postgres:
        return False, {f"filter_{i}": value}
    try:
        parsed = json.loads(value)
    except ValueError:
        parsed = None
    if isinstance(parsed, bool | int | float) and json.dumps(parsed) == value:
        return True, {f"filter_{i}": {fid: value}, f"filter_{i}_n": {fid: parsed}}
    return False, {f"filter_{i}": {fid: value}}


def _day(text: str) -> datetime:
    """A YYYY-MM-DD date of a list filter, as the start of that day in UTC."""
    try:
        day = datetime.strptime(text, "%Y-%m-%d")
    except ValueError:
        raise BadRequest(_("Dates are written YYYY-MM-DD.")) from None
    if not 1900 <= day.year <= 9000:
        raise BadRequest(_("Dates are written YYYY-MM-DD, between 1900 and 9000."))
    return day.replace(tzinfo=UTC)


def _listed(ctx: Context, row: Any, hold: Holding, fields: tuple[str, ...]) -> dict[str, Any]:
    """The listed answers of a row (each selected as stored) that the user may see, opened."""
    values = row._mapping
    if "listed" in values:  # one object (PostgreSQL)
        stored = {f: v for f, v in (values["listed"] or {}).items() if v is not None}
    else:
        stored = {f: values[f"listed_{i}"] for i, f in enumerate(fields) if values[f"listed_{i}"] is not None}
    opened = sealing.open_answers(sealing.session_ring(ctx.session), row.id, stored)
    data = ctx.policy.filter_data(ctx.actor, row.record_type, hold, opened)
    return {f: data[f] for f in fields if f in data}


def stage_counts(ctx: Context, record_type: str) -> list[tuple[str, int]]:
    """(stage label, number of records) in the user's reach, for every stage of the workflow. Only
    agency-wide and module-wide roles get counts (aggregate roles see counts, never records)."""
    wf = ctx.module.workflow_for(record_type)
    if wf is None or ctx.actor.role.scope not in ("agency", "all"):
        return []
    q = select(Record.stage, func.count()).where(
        Record.module == ctx.module.id,
        Record.record_type == record_type,
        records_in_reach(ctx.policy.reach(ctx.actor)),
    )
    counts = {stage: n for stage, n in ctx.session.execute(q.group_by(Record.stage))}
    return [(s.label, counts.get(s.id, 0)) for s in wf.states.values()]
