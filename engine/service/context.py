"""Who is asking, and reaching a record: the context every use case takes, and the one way to load
a record (a record the user may not reach is reported as not found)."""

from __future__ import annotations

import functools
import threading
import uuid
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import DateTime, Integer, String, bindparam, cast, event, literal, null, select, union_all
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction

from engine.i18n import _
from engine.language.model import Module, RecordType
from engine.runtime.policy import Access, Actor, Grant, Holding, Policy, Reach
from engine.service import audit
from engine.service.errors import Forbidden, NotFound
from engine.storage import sealing
from engine.storage.models import (
    Assignment,
    EmergencyGrant,
    Record,
    RecordHistory,
    RecordLink,
    Referral,
    TransitionLog,
    User,
)
from engine.storage.scope import OPEN_REFERRAL, among, live_grant

if TYPE_CHECKING:
    from engine.service.replica import Replica


@dataclass
class Context:
    """Who is asking, in which module, from where."""

    session: Session
    user: User
    actor: Actor
    module: Module
    policy: Policy
    ip: str | None = None
    locale: str = "en"
    #: records read under an emergency grant in this unit of work (each audited once)
    emergency_reads: set[str] = field(default_factory=set)
    #: where reports count (service/replica.py); None: in this unit of work, on the main database
    replica: Replica | None = None

    def __post_init__(self) -> None:
        sealing.register(self.module)  # which answers are sealed at rest (once per module)


def find_type(ctx: Context, record_type: str) -> RecordType:
    rt = ctx.module.record_types.get(record_type)
    if rt is None:
        raise NotFound(f"there is no record type '{record_type}'")
    return rt


@functools.cache
def _holders_query() -> Any:
    """Active assignments, open referrals and live emergency grants of the records `:ids` at `:now`,
    as one statement built once (a request only binds its parameters)."""
    forms_type, nothing = Referral.forms.type, null()
    return union_all(
        select(
            literal("referral").label("kind"),
            Referral.record_id,
            Referral.to_user_id.label("user_id"),
            Referral.to_agency_id.label("agency_id"),
            Referral.status,
            Referral.forms,
            Referral.write_forms,
        ).where(among(Referral.record_id), Referral.status.in_(OPEN_REFERRAL)),
        select(
            literal("assignment"),
            Assignment.record_id,
            Assignment.user_id,
            cast(nothing, Integer),
            cast(nothing, String),
            cast(nothing, forms_type),
            cast(nothing, forms_type),
        ).where(among(Assignment.record_id), Assignment.active.is_(True)),
        select(
            literal("emergency"),
            EmergencyGrant.record_id,
            EmergencyGrant.user_id,
            cast(nothing, Integer),
            cast(nothing, String),
            cast(nothing, forms_type),
            cast(nothing, forms_type),
        ).where(among(EmergencyGrant.record_id), live_grant(bindparam("now", type_=DateTime(timezone=True)))),
    )


class Held(Protocol):
    """What decides who holds a record, whatever it was read as (a `Record`, a row of its columns)."""

    @property
    def id(self) -> str: ...
    @property
    def owner_id(self) -> int: ...
    @property
    def agency_id(self) -> int | None: ...
    @property
    def group_id(self) -> int | None: ...


def holdings(session: Session, recs: Sequence[Held]) -> dict[str, Holding]:
    """Who holds each record (owner, agency, group, active assignees, open referrals, live
    emergency grants), in one query for all."""
    ids = [r.id for r in recs]
    assignees: dict[str, set[int]] = {i: set() for i in ids}
    emergency: dict[str, set[int]] = {i: set() for i in ids}
    referrals: dict[str, dict[int, Grant]] = {i: {} for i in ids}
    agencies: dict[str, dict[int, Grant]] = {i: {} for i in ids}
    if ids:
        query = _holders_query()
        for kind, rid, uid, agency_id, status, forms, write_forms in session.execute(
            query, {"ids": ids, "now": datetime.now(UTC)}
        ):
            if kind == "assignment":
                assignees[rid].add(uid)
            elif kind == "emergency":
                emergency[rid].add(uid)
            else:
                if uid is not None:
                    target, key = referrals[rid], uid
                elif agency_id is not None and status == "pending":
                    target, key = agencies[rid], agency_id
                else:
                    continue
                grant = Grant(frozenset(forms or ()), frozenset(write_forms or ()))
                target[key] = target[key] | grant if key in target else grant
    return {
        r.id: Holding(
            r.owner_id,
            r.agency_id,
            r.group_id,
            frozenset(assignees[r.id]),
            referrals[r.id],
            agencies[r.id],
            frozenset(emergency[r.id]),
        )
        for r in recs
    }


def access_holdings(session: Session, recs: Sequence[Held], reach: Reach) -> dict[str, Holding]:
    """Who holds each record, as far as deciding what the user of `reach` may do with it: a record
    they hold as owner, by group, by agency or by module (`Reach.holds`) needs only its own columns,
    since its assignments, referrals and grants change nothing of that user's access; the others'
    are read (`holdings`), in one query, only when there are any. Not for showing who holds a record
    (its assignees): `holdings` or `holding`. A team's or an agency's list page, and each chunk of an
    export, is then no query at all."""
    held: dict[str, Holding] = {}
    others = []
    for r in recs:
        found = reach.held(r.owner_id, r.agency_id, r.group_id)
        if found is None:
            others.append(r)
        else:
            held[r.id] = found
    if others:
        held.update(holdings(session, others))
    return held


_MEMO = "sanad_memo"
_KEPT = "sanad_kept"


def memo(session: Session, name: str) -> dict[Any, Any]:
    """A cache for one unit of work, for what a page asks several times (who holds a record, its
    workflow steps, user names). Any write forgets it (a pending change in the session, a flush, a
    bulk UPDATE/DELETE/INSERT, the end of the transaction), so no decision ever reads what a write of
    the same unit of work has changed."""
    if session.new or session.dirty or session.deleted:
        # written first: the read that fills the memo would write them anyway (autoflush), and the
        # flush would forget the memo it is about to fill, so the next ask read it all again (a save
        # read the record's steps twice)
        session.flush()
    memos: dict[str, dict[Any, Any]] | None = session.info.get(_MEMO)
    if memos is None:
        memos = session.info[_MEMO] = {}
    return memos.setdefault(name, {})


def holding(session: Session, rec: Record) -> Holding:
    """Who holds `rec`, read once per unit of work: a page that opens a record, its history, its
    referrals and its emergency grants asks several times."""
    held = memo(session, "holdings")
    found = held.get(rec.id)
    if found is None:
        found = held[rec.id] = holdings(session, [rec])[rec.id]
    return found


def created(session: Session, rec: Record, linked: Record | None) -> Holding:
    """Who holds `rec`, a record this unit of work has just created and flushed, and what else its
    view reads, known without asking: its owner, agency and group hold it and nobody else (an
    assignment, a referral or an emergency grant names a record that exists, and this one is not
    committed yet), it has taken no workflow step, and it is linked to `linked` alone (the record it
    was created from, if any). Kept as the unit of work's memo, until its next write: the view of a
    new record read them from the database, three round trips of eleven."""
    hold = Holding(rec.owner_id, rec.agency_id, rec.group_id)
    memo(session, "holdings")[rec.id] = hold
    memo(session, "parts")[rec.id] = ([], [] if linked is None else [Linked.of(linked)])
    return hold


@dataclass(frozen=True)
class Step:
    """A workflow step taken on a record, read as plain columns (its sealed texts opened)."""

    transition: str
    from_stage: str | None
    to_stage: str | None
    user_id: int
    at: datetime
    comment: str | None
    override_reason: str | None


@dataclass(frozen=True)
class Linked:
    """A record linked to another: what a link shows of it, and what decides who may read it."""

    id: str
    short_id: str
    record_type: str
    stage: str | None
    owner_id: int
    agency_id: int | None
    group_id: int | None

    @classmethod
    def of(cls, rec: Any, prefix: str = "") -> Linked:
        """The link to a record, or to a row holding its columns (each named `prefix` + a field)."""
        return cls(*(getattr(rec, prefix + name) for name in _LINKED_FIELDS))


#: a Step's and a Linked's fields, which name their columns when they are read as columns
STEP_FIELDS = tuple(f.name for f in fields(Step))
_LINKED_FIELDS = tuple(f.name for f in fields(Linked))


def step_of_row(session: Session, record_id: str, row: Any, prefix: str = "") -> Step:
    """The step of a row that holds its columns (each named `prefix` + a Step's field), its sealed
    texts (comment, reason) opened for the record `record_id`."""
    found = {name: getattr(row, prefix + name) for name in STEP_FIELDS}
    for column in sealing.TEXT_COLUMNS[TransitionLog]:
        found[column] = sealing.opened_text(session, TransitionLog, column, record_id, found[column])
    return Step(**found)


_STEP_PART = [TransitionLog.id.label("step_id"), *(getattr(TransitionLog, name) for name in STEP_FIELDS)]
_LINK_PART = [getattr(Record, name).label(f"linked_{name}") for name in _LINKED_FIELDS]


def _nothing(columns: list[Any]) -> list[Any]:
    """NULLs of the columns' types, under their names: another part's columns in a part's rows."""
    return [cast(null(), c.type).label(c.name) for c in columns]


#: a record's workflow steps and the records linked to it (one part for each direction of a link: one
#: join on `from = id OR to = id` made PostgreSQL weigh every index of `records` for both sides of the
#: `OR`), in one statement: the view of a record shows both, and they were a round trip each
_PARTS = union_all(
    select(*_STEP_PART, *_nothing(_LINK_PART)).where(TransitionLog.record_id == bindparam("rid")),
    select(*_nothing(_STEP_PART), *_LINK_PART)
    .join(RecordLink, Record.id == RecordLink.to_id)
    .where(RecordLink.from_id == bindparam("rid")),
    select(*_nothing(_STEP_PART), *_LINK_PART)
    .join(RecordLink, Record.id == RecordLink.from_id)
    .where(RecordLink.to_id == bindparam("rid")),
)


def parts_of(session: Session, rec: Record) -> tuple[list[Step], list[Linked]]:
    """Every workflow step taken on `rec`, oldest first, and every record linked to it (either
    direction; who may read each is the caller's to decide), read together once per unit of work (the
    page of a record asks for its request, its latest decision, every step's comment and its links)."""
    kept = memo(session, "parts")
    found = kept.get(rec.id)
    if found is None:
        steps: list[tuple[int, Step]] = []
        linked: list[Linked] = []
        for row in session.execute(_PARTS, {"rid": rec.id}):
            if row.step_id is not None:
                steps.append((row.step_id, step_of_row(session, rec.id, row)))
            else:
                linked.append(Linked.of(row, "linked_"))
        found = kept[rec.id] = ([step for _, step in sorted(steps, key=lambda x: x[0])], linked)
    return list(found[0]), list(found[1])


def steps_of(session: Session, rec: Record) -> list[Step]:
    """Every workflow step taken on `rec`, oldest first (`parts_of`)."""
    return parts_of(session, rec)[0]


@event.listens_for(Session, "after_flush")
def _forget_after_flush(session: Session, _flush_context: Any) -> None:
    session.info.pop(_MEMO, None)


@event.listens_for(Session, "after_transaction_end")
def _forget_after_transaction(session: Session, _transaction: SessionTransaction) -> None:
    session.info.pop(_MEMO, None)
    session.info.pop(_KEPT, None)


@event.listens_for(Session, "do_orm_execute")
def _forget_after_write(state: ORMExecuteState) -> None:
    if not state.is_select:
        state.session.info.pop(_MEMO, None)


def is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except (ValueError, AttributeError, TypeError):
        return False
    return True


def load(ctx: Context, record_type: str, record_id: str, *, who_holds: bool = True) -> tuple[Record, Holding]:
    """The record (by id or short id) and who holds it, if it is of this type and module and the
    user may read it; NotFound otherwise. A record reached through an emergency grant (break the
    glass) is audited as `emergency.read`, once per unit of work.

    Without `who_holds`, who holds it only as far as deciding the user's access (`access_holdings`):
    a record the user holds as owner, by group, by agency or by module is not asked for its
    assignees, referrals and grants, which change nothing of that user's access (a form page, which
    shows none of them, then reads one statement less). Not for showing who holds a record."""
    rec = ctx.session.get(Record, record_id) if is_uuid(record_id) else None
    if rec is None:
        rec = ctx.session.scalar(select(Record).where(Record.short_id == record_id.upper()))
    if rec is None or rec.module != ctx.module.id or rec.record_type != record_type:
        raise NotFound("no such record")
    # held for the rest of the unit of work: the session's identity map holds records weakly, and a
    # page that opens a record several times (its view, history, referrals) would read it again
    ctx.session.info.setdefault(_KEPT, {})[rec.id] = rec
    # (a holding of its columns alone is not kept as who holds it)
    columns = None if who_holds else ctx.policy.reach(ctx.actor).held(rec.owner_id, rec.agency_id, rec.group_id)
    hold = holding(ctx.session, rec) if columns is None else columns
    found = ctx.policy.access(ctx.actor, record_type, hold)
    if found is None:
        raise NotFound("no such record")
    if found.relation == "emergency":
        audit_emergency_read(ctx, rec)
    return rec, hold


def audit_emergency_read(ctx: Context, rec: Record, **details: Any) -> None:
    """Record a read of `rec` under an emergency grant (once per unit of work)."""
    if rec.id in ctx.emergency_reads:
        return
    grant = ctx.session.scalar(
        select(EmergencyGrant)
        .where(EmergencyGrant.user_id == ctx.user.id, EmergencyGrant.record_id == rec.id, live_grant())
        .order_by(EmergencyGrant.id.desc())
        .limit(1)
    )
    audit.record(
        ctx.session,
        "emergency.read",
        user=ctx.user,
        ip=ctx.ip,
        record_id=rec.id,
        grant=grant.id if grant is not None else None,
        expires_at=audit.iso(grant.expires_at) if grant is not None else None,
        **details,
    )
    ctx.emergency_reads.add(rec.id)


def access(ctx: Context, rec: Record, hold: Holding) -> Access:
    """The user's capabilities on a record they may open."""
    found = ctx.policy.access(ctx.actor, rec.record_type, hold)
    if found is None:  # pragma: no cover - load() let them open it
        raise NotFound("no such record")
    return found


def refusal(ctx: Context, rec: Record, hold: Holding | None, message: str) -> Forbidden:
    """The refusal of a change or a step: under emergency access always the same reason (it is for
    reading only), else `message`."""
    found = ctx.policy.access(ctx.actor, rec.record_type, hold) if hold is not None else None
    if found is not None and found.relation == "emergency":
        return Forbidden(
            _(
                "Emergency access is for reading only: you cannot change this record, take its steps, assign or refer it."
            )
        )
    return Forbidden(message)


def load_any(ctx: Context, record_id: str) -> Record | None:
    """A record of any type of the module that the user may read, or None."""
    for other_type in ctx.module.record_types:
        try:
            return load(ctx, other_type, record_id)[0]
        except NotFound:
            continue
    return None


_NAMES = select(User.id, User.username).where(among(User.id, "ids", Integer()))


def usernames(session: Session, ids: set[int]) -> dict[int, str]:
    """The names of these users. A username never changes once the account exists (accounts are
    disabled, never renamed or deleted), so names found are kept per database for the life of the
    process; an id not found is asked again next time."""
    bind = session.get_bind()
    with _names_lock:
        known = _known_names.setdefault(bind, {})
        missing = {i for i in ids if i not in known}
    if missing:
        found = {uid: name for uid, name in session.execute(_NAMES, {"ids": sorted(missing)})}
        with _names_lock:
            known.update(found)
            if len(known) > NAMES_KEPT:
                known.clear()
                known.update(found)
    return {i: name for i in ids if (name := known.get(i)) is not None}


#: user names kept per database (a national deployment has a few thousand accounts)
NAMES_KEPT = 50_000
_known_names: weakref.WeakKeyDictionary[Any, dict[int, str]] = weakref.WeakKeyDictionary()
_names_lock = threading.Lock()


def requested_by(session: Session, rec: Record) -> int | None:
    """Who moved the record into its current stage (the requester, for an approval)."""
    last = next((log for log in reversed(steps_of(session, rec)) if log.to_stage == rec.stage), None)
    return last.user_id if last else None


def add_history(ctx: Context, rec: Record, at: datetime, action: str, changes: list[dict[str, Any]]) -> None:
    """One history entry for the record's current version (in the caller's transaction)."""
    ctx.session.add(
        RecordHistory(record_id=rec.id, version=rec.version, user_id=ctx.user.id, at=at, action=action, changes=changes)
    )


def diff(old: dict[str, Any], new: dict[str, Any]) -> list[dict[str, Any]]:
    keys = list(dict.fromkeys([*old, *new]))
    return [{"field": k, "old": old.get(k), "new": new.get(k)} for k in keys if old.get(k) != new.get(k)]
