"""Sealed at rest: what identifies a survivor never reaches the database in clear.

- Answers of `direct` fields (names, phone numbers, addresses, narratives) are sealed one by one
  (AES-GCM, the key file's current key), in the record and in its history, the answer's place (record
  id and field) bound in as associated data so a sealed answer cannot be moved to another record or
  field. Answers of other fields stay in clear: lists, filters and reports count them in SQL.
- Free-text comments of workflow steps, referrals and assignments, the reasons and comments in audit
  entries, and the answers kept for offline clients are sealed too.
- A direct text field shown in record lists gets a blind index (a keyed digest of its normalized
  value) so that searching by it still works, by equality, without storing it.

It happens here, at the edge of the database, through SQLAlchemy events: the rest of Sanad reads and
writes answers in clear, and nothing can forget to seal. Which fields are direct comes from the
module definitions (`register`); the key comes from the key file bound to the database's engine
(`bind`)."""

from __future__ import annotations

import os
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, event, inspect
from sqlalchemy.orm import Session, attributes, object_session

from engine.storage import keys
from engine.storage.keys import TOKEN, Keyring
from engine.storage.models import (
    Assignment,
    AuditEntry,
    EmergencyGrant,
    Record,
    RecordHistory,
    Referral,
    SyncChange,
    TransitionLog,
    User,
)

if TYPE_CHECKING:
    from engine.language.model import Module


# -- which answers are sealed ---------------------------------------------------------------------------
@dataclass
class Spec:
    """The direct fields of one record type: at the top level, in the rows of each subform, and the
    ones searched by a blind index."""

    fields: set[str] = field(default_factory=set)
    rows: dict[str, set[str]] = field(default_factory=dict)
    blind: set[str] = field(default_factory=set)


_specs: dict[tuple[str, str], Spec] = {}
#: the modules whose fields are learnt, held weakly: a set of their id()s, as before, kept the id of a
#: module that was gone, and a new module given the same id (Python reuses them) was taken as learnt,
#: its direct answers never sealed (seen once in the test suite, where modules come and go)
_registered: weakref.WeakSet[Module] = weakref.WeakSet()
_lock = threading.Lock()
_merged: Spec | None = None  # every module's direct fields together (spec_for), dropped by register


def register(module: Module) -> None:
    """Learn a module's direct fields (once per loaded module). Modules sharing an id (a country overlay
    of the reference module) add up: an answer direct in either is sealed."""
    global _merged
    if module in _registered:
        return
    with _lock:
        for rt in module.record_types.values():
            spec = _specs.setdefault((module.id, rt.id), Spec())
            for f in rt.scope.fields.values():
                if f.sensitivity == "direct":
                    spec.fields.add(f.id)
                    if f.id in rt.list_fields and f.type in ("text", "calculate"):
                        spec.blind.add(f.id)
                if f.subform is not None:
                    direct = {s.id for s in f.subform.fields.values() if s.sensitivity == "direct"}
                    if direct:
                        spec.rows.setdefault(f.id, set()).update(direct)
        _registered.add(module)
        _merged = None  # after the specs changed: a merge made meanwhile is dropped too


def spec_for(module: str, record_type: str) -> Spec:
    found = _specs.get((module, record_type))
    if found is not None:
        return found
    # a module this process has not loaded: seal every field known to be direct anywhere (merged once
    # per set of registered modules, not per sealed record)
    global _merged
    merged = _merged
    if merged is None:
        merged = Spec()
        for s in list(_specs.values()):
            merged.fields |= s.fields
            merged.blind |= s.blind
            for k, v in s.rows.items():
                merged.rows.setdefault(k, set()).update(v)
        _merged = merged
    return merged


def blind_scope(module: str, record_type: str, field_id: str) -> str:
    return f"{module}/{record_type}/{field_id}"


# -- the key of each database -------------------------------------------------------------------------
class KeySource:
    """A database's key file, read (or, for a database that has none yet, made) when first needed, and
    read again when it changes: after `sanad keys rotate` in another process, a running server seals
    with the new key within a second, and opens what was sealed with it at once (a key it does not
    hold yet sends it back to the file)."""

    #: how often, at most, `ring` looks at the key file for a change (seconds)
    RECHECK_S = 1.0

    def __init__(self, path: str, *, create: bool = True) -> None:
        self.path = path
        self.create = create
        self._ring: Keyring | None = None
        self._stamp: tuple[int, int, int] | None = None
        self._checked = 0.0  # time.monotonic() of the last look at the file
        self._lock = threading.Lock()

    def _file_stamp(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def exists(self) -> bool:
        return self._ring is not None or keys.read(self.path) is not None

    def ring(self) -> Keyring:
        """The keys. Called for every sealed value, so the file is looked at (one stat) at most once a
        second: a rotation made by another process is picked up within a second."""
        ring = self._ring
        now = time.monotonic()
        if ring is not None and (ring.path is None or now - self._checked < self.RECHECK_S):
            return ring
        stamp = self._file_stamp()
        if ring is None or (stamp is not None and stamp != self._stamp):
            with self._lock:
                stamp = self._file_stamp()
                if self._ring is None or (stamp != self._stamp and self._ring.path is not None):
                    found = keys.read(self.path)
                    if found is None:
                        if self._ring is not None:
                            self._checked = now
                            return self._ring  # the file went away while running: keep what was read
                        if not self.create:
                            raise keys.KeyFileError(f"there is no key file at {self.path}")
                        found = keys.create(self.path)
                    found.reread = self._reread
                    self._ring = found
                    self._stamp = self._file_stamp()
        self._checked = now
        assert self._ring is not None
        return self._ring

    def _reread(self) -> Keyring:
        """The key file now, whatever the last look found (a key asked for that the ring lacks)."""
        self._checked = 0.0
        return self.ring()

    def replace(self, ring: Keyring) -> None:
        """After a rotation: write the key file, and seal with its new current key from now on."""
        keys.write(ring, self.path)
        ring.reread = self._reread
        self._ring = ring
        self._stamp = self._file_stamp()
        self._checked = time.monotonic()


_sources: dict[int, KeySource] = {}
_default: list[Callable[[], KeySource]] = []


def bind(engine: Engine, source: KeySource) -> None:
    _sources[id(engine)] = source


def set_default(factory: Callable[[], KeySource]) -> None:
    """The key of engines nobody bound (tests and tools that open an engine directly)."""
    _default[:] = [factory]


def source_for(engine: Engine) -> KeySource:
    found = _sources.get(id(engine))
    if found is None:
        if not _default:
            raise keys.KeyFileError("no key file is known for this database")
        found = _sources[id(engine)] = _default[0]()
    return found


def ring_for(engine: Engine) -> Keyring:
    return source_for(engine).ring()


def session_ring(session: Session) -> Keyring:
    bind_ = session.get_bind()
    return ring_for(bind_ if isinstance(bind_, Engine) else bind_.engine)


# -- answers ---------------------------------------------------------------------------------------
def _empty(v: Any) -> bool:
    return v is None or v == "" or v == []


def _is_sealed(v: Any) -> bool:
    return isinstance(v, dict) and TOKEN in v and len(v) == 1


def seal_answers(ring: Keyring, spec: Spec, place: str, data: dict[str, Any]) -> dict[str, Any]:
    """A copy of `data` with every direct answer sealed (empty answers stay empty)."""
    if not spec.fields and not spec.rows:
        return data
    out = dict(data)
    for k, v in data.items():
        if _empty(v) or _is_sealed(v):
            continue
        if k in spec.fields:
            out[k] = ring.seal(v, f"{place}/{k}")
        elif k in spec.rows and isinstance(v, list):
            direct = spec.rows[k]
            out[k] = [
                {
                    c: (ring.seal(x, f"{place}/{k}.{c}") if c in direct and not _empty(x) and not _is_sealed(x) else x)
                    for c, x in row.items()
                }
                if isinstance(row, dict)
                else row
                for row in v
            ]
    return out


def open_answers(ring: Keyring, place: str, data: Any) -> Any:
    """`data` with every sealed answer opened (answers in clear are left as they are)."""
    if not isinstance(data, dict):
        return data
    out: dict[str, Any] | None = None
    for k, v in data.items():
        if _is_sealed(v):
            out = out if out is not None else dict(data)
            out[k] = ring.open(v, f"{place}/{k}")
        elif isinstance(v, list) and any(isinstance(r, dict) and any(_is_sealed(x) for x in r.values()) for r in v):
            out = out if out is not None else dict(data)
            out[k] = [
                {c: (ring.open(x, f"{place}/{k}.{c}") if _is_sealed(x) else x) for c, x in r.items()}
                if isinstance(r, dict)
                else r
                for r in v
            ]
    return data if out is None else out


def is_sealed_anywhere(data: Any) -> bool:
    if not isinstance(data, dict):
        return False
    for v in data.values():
        if _is_sealed(v):
            return True
        if isinstance(v, list) and any(isinstance(r, dict) and any(_is_sealed(x) for x in r.values()) for r in v):
            return True
    return False


def blind_index(ring: Keyring, spec: Spec, module: str, record_type: str, data: dict[str, Any]) -> dict[str, str]:
    return {
        f: ring.blind(blind_scope(module, record_type, f), v)
        for f in sorted(spec.blind)
        if isinstance(v := data.get(f), str) and v.strip()
    }


def seal_record(ring: Keyring, rec: Record, plain: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    spec = spec_for(rec.module, rec.record_type)
    return seal_answers(ring, spec, rec.id, plain), blind_index(ring, spec, rec.module, rec.record_type, plain)


def seal_changes(ring: Keyring, spec: Spec, place: str, changes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for ch in changes:
        name = ch.get("field")
        if isinstance(name, str) and (name in spec.fields or name in spec.rows):
            ch = dict(ch)
            for side in ("old", "new"):
                ch[side] = seal_answers(ring, spec, f"{place}/{side}", {name: ch.get(side)})[name]
        out.append(ch)
    return out


def open_changes(ring: Keyring, place: str, changes: Any) -> Any:
    if not isinstance(changes, list):
        return changes
    out = []
    for ch in changes:
        name = ch.get("field") if isinstance(ch, dict) else None
        if isinstance(name, str) and is_sealed_anywhere({"old": ch.get("old"), "new": ch.get("new")}):
            ch = dict(ch)
            for side in ("old", "new"):
                ch[side] = open_answers(ring, f"{place}/{side}", {name: ch.get(side)})[name]
        out.append(ch)
    return out


# -- the ORM events: sealed on the way in, opened on the way out ------------------------------------------
def _stash(target: Any, name: str, value: Any) -> None:
    target.__dict__.setdefault("_sanad_plain", {})[name] = value


def _restore(target: Any) -> None:
    plain = target.__dict__.pop("_sanad_plain", None)
    for name, value in (plain or {}).items():
        attributes.set_committed_value(target, name, value)


def _changed(target: Any, name: str) -> bool:
    return bool(inspect(target).attrs[name].history.has_changes())


@event.listens_for(Record, "before_insert")
@event.listens_for(Record, "before_update")
def _seal_record_row(_mapper: Any, connection: Any, target: Record) -> None:
    if inspect(target).persistent and not _changed(target, "data"):
        return
    ring = ring_for(connection.engine)
    plain = target.data or {}
    sealed, blind = seal_record(ring, target, plain)
    _stash(target, "data", plain)
    target.data = sealed
    target.blind = blind
    target.key_id = ring.current


@event.listens_for(RecordHistory, "before_insert")
def _seal_history_row(_mapper: Any, connection: Any, target: RecordHistory) -> None:
    ring = ring_for(connection.engine)
    session = object_session(target)
    rec = (
        session.identity_map.get(inspect(Record).identity_key_from_primary_key((target.record_id,)))
        if session
        else None
    )
    spec = spec_for(rec.module, rec.record_type) if rec is not None else spec_for("", "")
    _stash(target, "changes", target.changes)
    target.changes = seal_changes(ring, spec, f"{target.record_id}/h", target.changes or [])


#: free-text columns sealed whole, by model: the columns, and the attribute naming the row's place
#: (bound in, so a sealed value cannot be moved to another record or account)
TEXT_COLUMNS: dict[type, tuple[str, ...]] = {
    TransitionLog: ("comment", "override_reason"),
    Referral: ("comment", "override_reason", "response_comment"),
    Assignment: ("comment",),
    EmergencyGrant: ("reason",),
    User: ("totp_secret",),  # the second factor's secret: with the database alone, codes can't be made
}
PLACE_OF: dict[type, str] = {User: "username"}


def text_place(model: type, column: str, place: str) -> str:
    return f"{model.__tablename__}.{column}/{place}"  # type: ignore[attr-defined]


def _place(target: Any) -> str:
    return str(getattr(target, PLACE_OF.get(type(target), "record_id")))


def _seal_text_row(_mapper: Any, connection: Any, target: Any) -> None:
    model = type(target)
    ring = None
    for column in TEXT_COLUMNS[model]:
        value = getattr(target, column)
        if not value or (inspect(target).persistent and not _changed(target, column)):
            continue
        ring = ring or ring_for(connection.engine)
        _stash(target, column, value)
        setattr(target, column, ring.seal_text(value, text_place(model, column, _place(target))))


def _open_text_row(target: Any, context: Any, *_: Any) -> None:
    model = type(target)
    for column in TEXT_COLUMNS[model]:
        value = target.__dict__.get(column)
        if isinstance(value, str) and value.startswith(keys.TEXT_PREFIX):  # the row's place read only then
            attributes.set_committed_value(
                target, column, opened_text(context.session, model, column, _place(target), value)
            )


def opened_text(session: Session, model: type, column: str, place: str, value: str | None) -> str | None:
    """A text column read as a plain column (not through the ORM, which opens it on load), opened:
    `place` is the row's record id (its username for a user)."""
    if isinstance(value, str) and value.startswith(keys.TEXT_PREFIX):
        return session_ring(session).open_text(value, text_place(model, column, place))
    return value


def _after_write(_mapper: Any, _connection: Any, target: Any) -> None:
    _restore(target)


for _model in TEXT_COLUMNS:
    event.listen(_model, "before_insert", _seal_text_row)
    event.listen(_model, "before_update", _seal_text_row)
    event.listen(_model, "load", _open_text_row)
    event.listen(_model, "refresh", _open_text_row)

for _model in (Record, RecordHistory, SyncChange, AuditEntry, *TEXT_COLUMNS):
    event.listen(_model, "after_insert", _after_write)
    event.listen(_model, "after_update", _after_write)


@event.listens_for(Record, "load")
@event.listens_for(Record, "refresh")
def _open_record_row(target: Record, context: Any, *_: Any) -> None:
    data = target.__dict__.get("data")
    if is_sealed_anywhere(data):
        attributes.set_committed_value(target, "data", open_answers(session_ring(context.session), target.id, data))


@event.listens_for(RecordHistory, "load")
@event.listens_for(RecordHistory, "refresh")
def _open_history_row(target: RecordHistory, context: Any, *_: Any) -> None:
    changes = target.__dict__.get("changes")
    if isinstance(changes, list) and any(
        isinstance(c, dict) and is_sealed_anywhere({"old": c.get("old"), "new": c.get("new")}) for c in changes
    ):
        opened = open_changes(session_ring(context.session), f"{target.record_id}/h", changes)
        attributes.set_committed_value(target, "changes", opened)


# -- offline answers kept for a replayed change -----------------------------------------------------------
@event.listens_for(SyncChange, "before_insert")
@event.listens_for(SyncChange, "before_update")
def _seal_sync_row(_mapper: Any, connection: Any, target: SyncChange) -> None:
    if _is_sealed(target.result):
        return
    _stash(target, "result", target.result)
    target.result = ring_for(connection.engine).seal(target.result, f"sync/{target.change_id}")


@event.listens_for(SyncChange, "load")
@event.listens_for(SyncChange, "refresh")
def _open_sync_row(target: SyncChange, context: Any, *_: Any) -> None:
    result = target.__dict__.get("result")
    if isinstance(result, dict) and _is_sealed(result):
        attributes.set_committed_value(
            target, "result", session_ring(context.session).open(result, f"sync/{target.change_id}")
        )


# -- audit entries: their free-text reasons and comments ---------------------------------------------------
AUDIT_TEXT = ("reason", "comment", "override_reason")


def seal_audit_details(ring: Keyring, seq: int, details: dict[str, Any]) -> dict[str, Any]:
    out = dict(details)
    for k in AUDIT_TEXT:
        if isinstance(out.get(k), str) and out[k]:
            out[k] = ring.seal_text(out[k], f"audit/{seq}/{k}")
    return out


def open_audit_details(ring: Keyring, seq: int | None, details: dict[str, Any]) -> dict[str, Any]:
    out = dict(details)
    for k in AUDIT_TEXT:
        if isinstance(out.get(k), str) and out[k].startswith(keys.TEXT_PREFIX):
            out[k] = ring.open_text(out[k], f"audit/{seq}/{k}")
    return out


@event.listens_for(AuditEntry, "load")
@event.listens_for(AuditEntry, "refresh")
def _open_audit_row(target: AuditEntry, context: Any, *_: Any) -> None:
    details = target.__dict__.get("details")
    if isinstance(details, dict) and any(
        isinstance(details.get(k), str) and details[k].startswith(keys.TEXT_PREFIX) for k in AUDIT_TEXT
    ):
        # the stored (sealed) form stays available for the hash chain
        target.__dict__["_sanad_stored_details"] = details
        opened = open_audit_details(session_ring(context.session), target.__dict__.get("seq"), details)
        attributes.set_committed_value(target, "details", opened)


def stored_details(entry: AuditEntry) -> dict[str, Any]:
    """The details as the database holds them (sealed), which the hash chain covers."""
    stored: dict[str, Any] = entry.__dict__.get("_sanad_stored_details", entry.details)
    return stored
