"""Break the glass: emergency access to a record outside one's scope, with a reason, for a time.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "emergency_grants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "user_id",
            sa.Integer(),
            sa.ForeignKey("users.id", name="fk_emergency_grants_user_id_users"),
            nullable=False,
        ),
        sa.Column(
            "record_id",
            sa.String(36),
            sa.ForeignKey("records.id", name="fk_emergency_grants_record_id_records"),
            nullable=False,
        ),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "ended_by",
            sa.Integer(),
            sa.ForeignKey("users.id", name="fk_emergency_grants_ended_by_users"),
            nullable=True,
        ),
        sa.PrimaryKeyConstraint("id", name="pk_emergency_grants"),
    )
    op.create_index("ix_emergency_grants_record_id", "emergency_grants", ["record_id"])
    op.create_index("ix_emergency_grants_user_record", "emergency_grants", ["user_id", "record_id"])


def downgrade() -> None:
    op.drop_index("ix_emergency_grants_user_record", "emergency_grants")
    op.drop_index("ix_emergency_grants_record_id", "emergency_grants")
    op.drop_table("emergency_grants")
