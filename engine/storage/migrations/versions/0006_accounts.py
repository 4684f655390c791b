"""Accounts: second factor (TOTP) and the moment a password last changed.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

COLUMNS = ("password_changed_at", "totp_secret", "totp_enabled_at", "totp_last_step", "recovery_codes")


def _json() -> Any:
    from sqlalchemy.dialects.postgresql import JSONB

    return sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    # nullable columns: both databases add them in place (no copy of the users table)
    op.add_column("users", sa.Column("password_changed_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("users", sa.Column("totp_secret", sa.String(255), nullable=True))
    op.add_column("users", sa.Column("totp_enabled_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("users", sa.Column("totp_last_step", sa.Integer(), nullable=True))
    op.add_column("users", sa.Column("recovery_codes", _json(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        for column in reversed(COLUMNS):
            batch.drop_column(column)
