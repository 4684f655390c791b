"""Protection at rest: records know the key they are sealed with and carry blind search indexes; the
keys a database was sealed with are checked; the audit log becomes a hash chain (its end in
audit_chain, verified ground in audit_checkpoints).

Columns are added in place (no table copy), so the audit log's append-only triggers stay.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def _json() -> Any:
    from sqlalchemy.dialects.postgresql import JSONB

    return sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.add_column("records", sa.Column("key_id", sa.String(16), nullable=True))
    op.add_column("records", sa.Column("blind", _json(), nullable=True))
    op.create_index("ix_records_key_id", "records", ["key_id"])
    op.add_column("audit_log", sa.Column("seq", sa.BigInteger(), nullable=True))
    op.add_column("audit_log", sa.Column("prev_hash", sa.String(64), nullable=True))
    op.add_column("audit_log", sa.Column("hash", sa.String(64), nullable=True))
    op.create_index("ix_audit_log_seq", "audit_log", ["seq"], unique=True)
    op.create_table(
        "audit_chain",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_chain"),
    )
    op.execute("INSERT INTO audit_chain (id, seq, hash) VALUES (1, 0, '')")
    op.create_table(
        "audit_checkpoints",
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_audit_checkpoints"),
    )
    op.create_table(
        "sealing_keys",
        sa.Column("id", sa.String(16), nullable=False),
        sa.Column("check", sa.String(64), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_sealing_keys"),
    )


def downgrade() -> None:
    op.drop_table("sealing_keys")
    op.drop_table("audit_checkpoints")
    op.drop_table("audit_chain")
    op.drop_index("ix_audit_log_seq", "audit_log")
    for column in ("hash", "prev_hash", "seq"):
        op.drop_column("audit_log", column)
    op.drop_index("ix_records_key_id", "records")
    op.drop_column("records", "blind")
    op.drop_column("records", "key_id")
