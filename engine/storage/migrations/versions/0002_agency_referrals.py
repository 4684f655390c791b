"""Referrals to an agency: the receiving agency's managers see it and one of them accepts it.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("referrals") as batch:
        batch.alter_column("to_user_id", existing_type=sa.Integer(), nullable=True)
        batch.add_column(sa.Column("to_agency_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_referrals_to_agency_id_agencies", "agencies", ["to_agency_id"], ["id"])
        batch.create_index("ix_referrals_to_agency_id", ["to_agency_id"])


def downgrade() -> None:
    with op.batch_alter_table("referrals") as batch:
        batch.drop_index("ix_referrals_to_agency_id")
        batch.drop_constraint("fk_referrals_to_agency_id_agencies", type_="foreignkey")
        batch.drop_column("to_agency_id")
        batch.alter_column("to_user_id", existing_type=sa.Integer(), nullable=False)
