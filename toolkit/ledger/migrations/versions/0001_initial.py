"""Initial ledger schema: orders, events, fills, lots, positions, cash, snapshots, config, state, runs, audit.

Revision ID: 0001_initial
Revises:
Create Date: 2025-01-01

The migration spells its tables out instead of importing the models, so it
keeps building the 0001 schema when the models move on. Only the column types
(exact money, UTC time) are shared with the models.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from toolkit.ledger.types import Money, UTCDateTime

revision = "0001_initial"
down_revision = None
branch_labels = None
depends_on = None

MODES = "mode IN ('offline_mock', 'paper', 'online_live')"


def upgrade() -> None:
    op.create_table(
        "orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_order_id", sa.String(128), nullable=False),
        sa.Column("parent_order_id", sa.Integer(), nullable=True),
        sa.Column("run_key", sa.String(256), nullable=True),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("strategy", sa.String(128), nullable=False),
        sa.Column("account", sa.String(128), nullable=False),
        sa.Column("symbol", sa.String(32), nullable=False),
        sa.Column("side", sa.String(4), nullable=False),
        sa.Column("quantity", Money(), nullable=False),
        sa.Column("order_type", sa.String(32), nullable=False),
        sa.Column("limit_price", Money(), nullable=True),
        sa.Column("decision_price", Money(), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("broker_order_id", sa.String(128), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.CheckConstraint(MODES, name=op.f("ck_orders_mode")),
        sa.CheckConstraint("side IN ('buy', 'sell')", name=op.f("ck_orders_side")),
        sa.CheckConstraint(
            "status IN ('new', 'submitted', 'partially_filled', 'filled', 'cancelled', 'rejected')",
            name=op.f("ck_orders_status"),
        ),
        sa.ForeignKeyConstraint(["parent_order_id"], ["orders.id"], name=op.f("fk_orders_parent_order_id_orders")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
        sa.UniqueConstraint("client_order_id", name=op.f("uq_orders_client_order_id")),
    )
    op.create_index(op.f("ix_orders_run_key"), "orders", ["run_key"])
    op.create_index(op.f("ix_orders_account_mode"), "orders", ["account", "mode"])

    op.create_table(
        "order_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("from_status", sa.String(20), nullable=True),
        sa.Column("to_status", sa.String(20), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name=op.f("fk_order_events_order_id_orders")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_events")),
    )
    op.create_index(op.f("ix_order_events_order_id"), "order_events", ["order_id"])

    op.create_table(
        "fills",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("fill_id", sa.String(128), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("quantity", Money(), nullable=False),
        sa.Column("price", Money(), nullable=False),
        sa.Column("fees", Money(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.CheckConstraint(MODES, name=op.f("ck_fills_mode")),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name=op.f("fk_fills_order_id_orders")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fills")),
        sa.UniqueConstraint("fill_id", name=op.f("uq_fills_fill_id")),
    )
    op.create_index(op.f("ix_fills_order_id"), "fills", ["order_id"])

    op.create_table(
        "position_lots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account", sa.String(128), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("symbol", sa.String(32), nullable=False),
        sa.Column("fill_id", sa.Integer(), nullable=False),
        sa.Column("original_quantity", Money(), nullable=False),
        sa.Column("open_quantity", Money(), nullable=False),
        sa.Column("cost_price", Money(), nullable=False),
        sa.Column("opened_at", UTCDateTime(), nullable=False),
        sa.Column("closed_at", UTCDateTime(), nullable=True),
        sa.CheckConstraint(MODES, name=op.f("ck_position_lots_mode")),
        sa.ForeignKeyConstraint(["fill_id"], ["fills.id"], name=op.f("fk_position_lots_fill_id_fills")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_position_lots")),
    )
    op.create_index(op.f("ix_position_lots_account_mode_symbol"), "position_lots", ["account", "mode", "symbol"])

    op.create_table(
        "positions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account", sa.String(128), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("symbol", sa.String(32), nullable=False),
        sa.Column("quantity", Money(), nullable=False),
        sa.Column("avg_cost", Money(), nullable=False),
        sa.Column("realised_pnl", Money(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint(MODES, name=op.f("ck_positions_mode")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_positions")),
        sa.UniqueConstraint("account", "mode", "symbol", name=op.f("uq_positions_account_mode_symbol")),
    )

    op.create_table(
        "cash_balances",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account", sa.String(128), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("initial_amount", Money(), nullable=False),
        sa.Column("amount", Money(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint(MODES, name=op.f("ck_cash_balances_mode")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cash_balances")),
        sa.UniqueConstraint("account", "mode", name=op.f("uq_cash_balances_account_mode")),
    )

    op.create_table(
        "performance_snapshots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account", sa.String(128), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("strategy", sa.String(128), nullable=False),
        sa.Column("session_date", sa.Date(), nullable=False),
        sa.Column("equity", Money(), nullable=False),
        sa.Column("cash", Money(), nullable=False),
        sa.Column("daily_return", sa.Float(), nullable=True),
        sa.Column("cumulative_return", sa.Float(), nullable=True),
        sa.Column("drawdown", sa.Float(), nullable=True),
        sa.Column("strategy_cell", sa.String(128), nullable=True),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint(MODES, name=op.f("ck_performance_snapshots_mode")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_performance_snapshots")),
        sa.UniqueConstraint(
            "account", "mode", "strategy", "session_date",
            name=op.f("uq_performance_snapshots_account_mode_strategy_session_date"),
        ),
    )

    op.create_table(
        "config_overrides",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(256), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("set_at", UTCDateTime(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_config_overrides")),
    )
    op.create_index(op.f("ix_config_overrides_key"), "config_overrides", ["key"])

    op.create_table(
        "config_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(256), nullable=False),
        sa.Column("old", sa.JSON(), nullable=True),
        sa.Column("new", sa.JSON(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_config_history")),
    )
    op.create_index(op.f("ix_config_history_key"), "config_history", ["key"])

    op.create_table(
        "system_state",
        sa.Column("key", sa.String(128), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_system_state")),
    )

    op.create_table(
        "runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_key", sa.String(256), nullable=False),
        sa.Column("strategy", sa.String(128), nullable=False),
        sa.Column("account", sa.String(128), nullable=False),
        sa.Column("session_date", sa.Date(), nullable=False),
        sa.Column("execution_time", sa.String(32), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.Column("notebook_run_id", sa.String(128), nullable=True),
        sa.Column("summary", sa.JSON(), nullable=True),
        sa.CheckConstraint(MODES, name=op.f("ck_runs_mode")),
        sa.CheckConstraint(
            "status IN ('started', 'completed', 'failed', 'market_closed')", name=op.f("ck_runs_status")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_runs")),
        sa.UniqueConstraint("run_key", name=op.f("uq_runs_run_key")),
    )

    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("action", sa.String(128), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(op.f("ix_audit_log_action"), "audit_log", ["action"])


def downgrade() -> None:
    for table in (
        "audit_log",
        "runs",
        "system_state",
        "config_history",
        "config_overrides",
        "performance_snapshots",
        "cash_balances",
        "positions",
        "position_lots",
        "fills",
        "order_events",
        "orders",
    ):
        op.drop_table(table)
