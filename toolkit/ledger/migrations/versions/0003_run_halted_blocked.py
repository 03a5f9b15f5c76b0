"""Allow run statuses ``halted`` and ``blocked``: a stopped session is no longer recorded as ``completed``.

Revision ID: 0003_run_halted_blocked
Revises: 0002_snapshot_context
Create Date: 2025-01-03

Only the CHECK constraint on ``runs.status`` changes (SQLite recreates the table in
batch mode, keeping every row); existing runs keep their statuses.
"""

from __future__ import annotations

from alembic import op

revision = "0003_run_halted_blocked"
down_revision = "0002_snapshot_context"
branch_labels = None
depends_on = None

_OLD = "status IN ('started', 'completed', 'failed', 'market_closed')"
_NEW = "status IN ('started', 'completed', 'failed', 'market_closed', 'halted', 'blocked')"


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_constraint(op.f("ck_runs_status"), type_="check")
        batch.create_check_constraint(op.f("ck_runs_status"), _NEW)


def downgrade() -> None:
    # A halted or blocked run reads as completed to an older toolkit (what it was recorded as before).
    op.execute("UPDATE runs SET status = 'completed' WHERE status IN ('halted', 'blocked')")
    with op.batch_alter_table("runs") as batch:
        batch.drop_constraint(op.f("ck_runs_status"), type_="check")
        batch.create_check_constraint(op.f("ck_runs_status"), _OLD)
