"""An agency's reporting code: the code it reports under in shared layouts such as the GBVIMS
Incident Recorder ("reporting agency code", agreed with the coordination), when it differs from
the code Sanad knows it by. Empty: the export writes the agency's code.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("agencies") as batch:
        batch.add_column(sa.Column("reporting_code", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("agencies") as batch:
        batch.drop_column("reporting_code")
