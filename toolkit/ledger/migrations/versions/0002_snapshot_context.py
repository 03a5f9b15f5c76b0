"""Add ``performance_snapshots.context``: the strategy's decision context of the session.

Revision ID: 0002_snapshot_context
Revises: 0001_initial
Create Date: 2025-01-02

Nullable, so existing snapshots stay valid without a backfill.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_snapshot_context"
down_revision = "0001_initial"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("performance_snapshots") as batch:
        batch.add_column(sa.Column("context", sa.JSON(), nullable=True))


def downgrade() -> None:
    # Drops the stored decision contexts; every other column is kept.
    with op.batch_alter_table("performance_snapshots") as batch:
        batch.drop_column("context")
