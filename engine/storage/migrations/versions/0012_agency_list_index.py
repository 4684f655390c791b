"""The agency's indexes in list order (issue 16): `records (agency_id, module, record_type,
updated_at DESC, id)` instead of `(agency_id)`, and the same with the stage before the time. A
manager's list (her agency's records, by stage or all of them, newest first) walks her agency's
records in order and stops at a page; with `(agency_id)` alone it read and sorted every record of the
agency: at 500,000 cases over 50 agencies, 10,000 rows for each page of 50. Queries by agency alone
use the first column, as they used the old index.

Building them reads every record and, on PostgreSQL, holds back saves while it runs (seconds per
million records on the benchmark machine): run `sanad db upgrade` at a quiet time.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_records_agency", "records")
    op.create_index(
        "ix_records_agency", "records", ["agency_id", "module", "record_type", sa.text("updated_at DESC"), "id"]
    )
    op.create_index(
        "ix_records_agency_stage",
        "records",
        ["agency_id", "module", "record_type", "stage", sa.text("updated_at DESC"), "id"],
    )


def downgrade() -> None:
    op.drop_index("ix_records_agency_stage", "records")
    op.drop_index("ix_records_agency", "records")
    op.create_index("ix_records_agency", "records", ["agency_id"])
