"""Alerts as sent and per-key run locks: tables ``alerts`` and ``run_locks``.

Revision ID: 0005_alerts_run_locks
Revises: 0004_config_actor_account
Create Date: 2026-12-02

Both tables are new, so no existing row changes; a downgrade drops them (the alerts
history goes with it, as the older schema has nowhere to keep it).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from toolkit.ledger.types import UTCDateTime

revision = "0005_alerts_run_locks"
down_revision = "0004_config_actor_account"
branch_labels = None
depends_on = None

_KINDS = ("run_failed", "guard_tripped", "kill_switch_changed", "reconciliation_mismatch", "token_expiry",
          "missed_session", "test")


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("account", sa.String(length=128), nullable=True),
        sa.Column("run_key", sa.String(length=256), nullable=True),
        sa.Column("title", sa.String(length=256), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("channels", sa.Integer(), nullable=False),
        sa.Column("delivered", sa.Boolean(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.CheckConstraint(f"kind IN ({', '.join(repr(k) for k in _KINDS)})", name=op.f("ck_alerts_kind")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
    )
    op.create_index(op.f("ix_alerts_at"), "alerts", ["at"], unique=False)
    op.create_table(
        "run_locks",
        sa.Column("key", sa.String(length=256), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("acquired_at", UTCDateTime(), nullable=False),
        sa.Column("heartbeat_at", UTCDateTime(), nullable=False),
        sa.Column("detail", sa.JSON(none_as_null=True), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_run_locks")),
    )


def downgrade() -> None:
    op.drop_table("run_locks")
    op.drop_index(op.f("ix_alerts_at"), table_name="alerts")
    op.drop_table("alerts")
