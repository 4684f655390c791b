"""Need to know: groups belong to an agency, assignments can end, referrals can grant write on
named forms and be revoked or closed, the audit log knows whose agency an entry concerns, sign-in
throttling is shared by all server processes, subform rows carry stable ids, and SQLite refuses
INSERT OR REPLACE on the audit log.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import json
import secrets
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("groups") as batch:
        batch.drop_constraint("uq_groups_code", type_="unique")
        batch.create_unique_constraint("uq_groups_agency_code", ["agency_id", "code"])
    with op.batch_alter_table("assignments") as batch:
        batch.add_column(sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("ended_by", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_assignments_ended_by_users", "users", ["ended_by"], ["id"])
    with op.batch_alter_table("referrals") as batch:
        batch.add_column(sa.Column("write_forms", _json(), nullable=True))
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        # SQLite adds a foreign key only by copying the table, which drops its triggers: put them back
        with op.batch_alter_table("audit_log", recreate="always") as batch:
            batch.add_column(sa.Column("agency_id", sa.Integer(), nullable=True))
            batch.add_column(sa.Column("record_agency_id", sa.Integer(), nullable=True))
            batch.create_foreign_key("fk_audit_log_agency_id_agencies", "agencies", ["agency_id"], ["id"])
            batch.create_foreign_key("fk_audit_log_record_agency_id_agencies", "agencies", ["record_agency_id"], ["id"])
            batch.create_index("ix_audit_log_agency_id", ["agency_id"])
            batch.create_index("ix_audit_log_record_agency_id", ["record_agency_id"])
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_log_no_{verb.lower()} BEFORE {verb} ON audit_log "
                "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END"
            )
        op.execute(
            "CREATE TRIGGER audit_log_no_replace BEFORE INSERT ON audit_log "
            "WHEN EXISTS (SELECT 1 FROM audit_log WHERE id = NEW.id) "
            "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END"
        )
    else:  # PostgreSQL adds the columns in place; its trigger stays
        for column in ("agency_id", "record_agency_id"):
            op.add_column("audit_log", sa.Column(column, sa.Integer(), nullable=True))
            op.create_foreign_key(f"fk_audit_log_{column}_agencies", "audit_log", "agencies", [column], ["id"])
            op.create_index(f"ix_audit_log_{column}", "audit_log", [column])
    op.create_table(
        "throttle",
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_throttle")),
    )
    # the audit log is append-only (its triggers refuse UPDATE): entries written before this version
    # get their agencies from their user and record when they are read (service/audit.py)
    _backfill_row_ids(bind)


def _json() -> Any:
    from sqlalchemy.dialects.postgresql import JSONB

    return sa.JSON().with_variant(JSONB(), "postgresql")


def _backfill_row_ids(bind: Any) -> None:
    """Every stored subform row gets its stable id (`_row`), so hidden columns follow their row."""
    rows = bind.execute(sa.text("SELECT id, data FROM records")).fetchall()
    for rid, data in rows:
        value = json.loads(data) if isinstance(data, str) else data
        if not isinstance(value, dict):
            continue
        changed = False
        for answer in value.values():
            if isinstance(answer, list) and answer and all(isinstance(r, dict) for r in answer):
                for r in answer:
                    if "_row" not in r:
                        r["_row"] = secrets.token_hex(6)
                        changed = True
        if changed:
            bind.execute(
                sa.text("UPDATE records SET data = :data WHERE id = :id"), {"data": json.dumps(value), "id": rid}
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_replace")
    op.drop_table("throttle")
    op.drop_index("ix_audit_log_record_agency_id", "audit_log")
    op.drop_index("ix_audit_log_agency_id", "audit_log")
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("record_agency_id")
        batch.drop_column("agency_id")
    with op.batch_alter_table("referrals") as batch:
        batch.drop_column("write_forms")
    with op.batch_alter_table("assignments") as batch:
        batch.drop_constraint("fk_assignments_ended_by_users", type_="foreignkey")
        batch.drop_column("ended_by")
        batch.drop_column("ended_at")
    with op.batch_alter_table("groups") as batch:
        batch.drop_constraint("uq_groups_agency_code", type_="unique")
        batch.create_unique_constraint("uq_groups_code", ["code"])
