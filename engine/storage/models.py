"""Tables. Every write to a record is one transaction: record + history + audit entry."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

JSONType = JSON().with_variant(JSONB(), "postgresql")

#: indexes the migrations make on PostgreSQL only (SQLite has no operator classes or GIN): prefix
#: search of short ids and ids (0009), containment search of answers (0001) and blind indexes (0009)
POSTGRESQL_ONLY_INDEXES = (
    "ix_records_short_id_pattern",
    "ix_records_id_pattern",
    "ix_records_blind",
    "ix_records_data",
)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Agency(Base):
    __tablename__ = "agencies"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    #: the code the agency reports under in shared layouts (the Incident Recorder's "reporting agency
    #: code", as agreed with the GBVIMS coordination); None: its `code`
    reporting_code: Mapped[str | None] = mapped_column(String(64))


class Group(Base):
    """A team of one agency: (agency, code) is its identity, so two agencies may both have a team_north."""

    __tablename__ = "groups"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"))
    __table_args__ = (UniqueConstraint("agency_id", "code", name="uq_groups_agency_code"),)


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(300))
    module: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(64))
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"))
    full_name: Mapped[str | None] = mapped_column(String(200))
    locale: Mapped[str | None] = mapped_column(String(16))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    password_changed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: the second factor (TOTP, RFC 6238; service/second_factor.py): the base32 secret, kept from the
    #: start of enrolment and active once a first code confirmed it (totp_enabled_at); the last time
    #: step accepted, so a code is accepted once; the argon2 hashes of the unused recovery codes
    totp_secret: Mapped[str | None] = mapped_column(String(255))
    totp_enabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    totp_last_step: Mapped[int | None] = mapped_column(Integer)
    recovery_codes: Mapped[list[str] | None] = mapped_column(JSONType)


class UserGroup(Base):
    __tablename__ = "user_groups"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id"), primary_key=True)


class Session(Base):
    """A signed-in browser or client; the cookie holds only this row's random id."""

    __tablename__ = "sessions"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ip: Mapped[str | None] = mapped_column(String(64))


class Record(Base):
    __tablename__ = "records"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    short_id: Mapped[str] = mapped_column(String(16), unique=True)
    module: Mapped[str] = mapped_column(String(64))
    record_type: Mapped[str] = mapped_column(String(64))
    stage: Mapped[str | None] = mapped_column(String(64))
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"))
    group_id: Mapped[int | None] = mapped_column(ForeignKey("groups.id"))
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    definitions_version: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    # the forms saved at least once (None: saved before this was kept; see service.views.form_state)
    saved_forms: Mapped[list[str] | None] = mapped_column(JSONType, nullable=True)
    # the key its sealed answers, history and comments are sealed with (None: not sealed yet), and
    # the blind indexes of its direct answers shown in lists (see storage.sealing)
    key_id: Mapped[str | None] = mapped_column(String(16), nullable=True, index=True)
    blind: Mapped[dict[str, str] | None] = mapped_column(JSONType, nullable=True)
    # the transition of its latest workflow step that moved it (the latest `transitions` row with a
    # `to_stage`; None: none yet), kept by service.transitions.log_transition (0013): a home page finds
    # the records sent back to their user among hers without reading each one's steps
    last_step: Mapped[str | None] = mapped_column(String(64), nullable=True)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy's declarative API
    __table_args__ = (Index("ix_records_group", "group_id"),)


# lists: a stage's list, and the two orders with their tie-breaker (storage/migrations 0009)
Index("ix_records_list", Record.module, Record.record_type, Record.stage, Record.updated_at.desc(), Record.id)
Index("ix_records_updated", Record.module, Record.record_type, Record.updated_at.desc(), Record.id)
Index("ix_records_created", Record.module, Record.record_type, Record.created_at.desc(), Record.id)
#: an agency's records of one type, and of one type and stage, in list order (0012): a manager's list
#: walks her agency's records and stops at a page, where it sorted every record of the agency
Index("ix_records_agency", Record.agency_id, Record.module, Record.record_type, Record.updated_at.desc(), Record.id)
Index(
    "ix_records_agency_stage",
    Record.agency_id,
    Record.module,
    Record.record_type,
    Record.stage,
    Record.updated_at.desc(),
    Record.id,
)
#: a caseworker's own records of one type and stage, in list order (0011): her list, her home page's
#: open cases and the records sent back to her find her cases, not every record she ever owned
Index(
    "ix_records_owner",
    Record.owner_id,
    Record.module,
    Record.record_type,
    Record.stage,
    Record.updated_at.desc(),
    Record.id,
)


class RecordLink(Base):
    __tablename__ = "record_links"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    from_id: Mapped[str] = mapped_column(ForeignKey("records.id"), index=True)
    to_id: Mapped[str] = mapped_column(ForeignKey("records.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    __table_args__ = (UniqueConstraint("from_id", "to_id", name="uq_record_links_pair"),)


class RecordHistory(Base):
    __tablename__ = "record_history"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    record_id: Mapped[str] = mapped_column(ForeignKey("records.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    action: Mapped[str] = mapped_column(String(32))
    changes: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)


class TransitionLog(Base):
    __tablename__ = "transitions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    record_id: Mapped[str] = mapped_column(ForeignKey("records.id"), index=True)
    transition: Mapped[str] = mapped_column(String(64))
    from_stage: Mapped[str | None] = mapped_column(String(64))
    to_stage: Mapped[str | None] = mapped_column(String(64))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    comment: Mapped[str | None] = mapped_column(Text)
    override_reason: Mapped[str | None] = mapped_column(Text)


class Assignment(Base):
    __tablename__ = "assignments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    record_id: Mapped[str] = mapped_column(ForeignKey("records.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    by_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    comment: Mapped[str | None] = mapped_column(Text)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ended_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    __table_args__ = (Index("ix_assignments_user_active", "user_id", "active", "record_id"),)


class Referral(Base):
    __tablename__ = "referrals"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    record_id: Mapped[str] = mapped_column(ForeignKey("records.id"), index=True)
    transition: Mapped[str] = mapped_column(String(64))
    to_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    to_agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"), index=True)  # until someone accepts
    by_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    forms: Mapped[list[str]] = mapped_column(JSONType, default=list)  # shared: the recipient reads these
    write_forms: Mapped[list[str] | None] = mapped_column(JSONType, default=list)  # of those, the ones they may write
    status: Mapped[str] = mapped_column(String(16))  # pending | accepted | declined | revoked | closed
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    comment: Mapped[str | None] = mapped_column(Text)
    override_reason: Mapped[str | None] = mapped_column(Text)
    responded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    response_comment: Mapped[str | None] = mapped_column(Text)
    __table_args__ = (
        Index("ix_referrals_to_user_status", "to_user_id", "status", "record_id"),
        Index("ix_referrals_to_agency_status", "to_agency_id", "status", "record_id"),
    )


class AuditEntry(Base):
    """Append-only: the code has no UPDATE or DELETE path, and database triggers refuse both."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    username: Mapped[str | None] = mapped_column(String(100))
    ip: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64), index=True)
    record_id: Mapped[str | None] = mapped_column(String(36), index=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    #: the acting user's agency (for a failed sign-in, the named account's), and the record's: an
    #: auditor of an agency reads the entries of either
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"), index=True)
    record_agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"), index=True)
    #: the hash chain (storage.chain): the entry's place in it, the previous entry's hash, its own
    #: (None: written before the chain began)
    seq: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    prev_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    __table_args__ = (Index("ix_audit_log_seq", "seq", unique=True),)


class AuditChain(Base):
    """The end of the audit log's hash chain: one row, locked by every transaction that adds entries,
    so entries are chained one after another."""

    __tablename__ = "audit_chain"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, nullable=False)
    hash: Mapped[str] = mapped_column(String(64), nullable=False)


class AuditCheckpoint(Base):
    """Where `sanad audit verify` last found the chain intact: the next run starts there."""

    __tablename__ = "audit_checkpoints"
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    hash: Mapped[str] = mapped_column(String(64), nullable=False)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class SealingKey(Base):
    """A key this database's data was sealed with, by id, with a check value: opening the database
    with another key file is refused instead of failing on the first sealed answer."""

    __tablename__ = "sealing_keys"
    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    check: Mapped[str] = mapped_column(String(64), nullable=False)
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class Throttle(Base):
    """Sign-in attempts counted per key (account and address, address, account) in a window: shared
    by every server process, updated atomically."""

    __tablename__ = "throttle"
    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    count: Mapped[int] = mapped_column(Integer, nullable=False)


class SyncChange(Base):
    """A change sent by an offline client, by its client-chosen id: a change sent again (a lost
    answer, a double tap, two tabs) gets the first answer back instead of being applied twice."""

    __tablename__ = "sync_changes"
    change_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    record_id: Mapped[str | None] = mapped_column(String(36))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    result: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)


class EmergencyGrant(Base):
    """Break the glass: a user whose role has `emergency_access` opened a record of their agency
    outside their scope, giving a reason. Until it expires or is ended it adds the record to the
    user's reach, read-only (runtime.policy, storage.scope)."""

    __tablename__ = "emergency_grants"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    record_id: Mapped[str] = mapped_column(ForeignKey("records.id"), index=True)
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    #: ended early, by the user or a supervisor of the record (None: it runs until it expires)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    ended_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    __table_args__ = (Index("ix_emergency_grants_user_record", "user_id", "record_id"),)
