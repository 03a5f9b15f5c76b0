"""SQLAlchemy models of the ledger (the schema at the newest migration).

The migrations in ``migrations/versions`` build this schema; a unit test checks
that Alembic's autogenerate finds no difference between the two, so neither
can drift. Money columns use :class:`~toolkit.ledger.types.Money` (exact
``Numeric(18, 6)``), timestamps :class:`~toolkit.ledger.types.UTCDateTime`.
Enumerated columns carry CHECK constraints so that even a hand-written SQL
statement cannot store an unknown mode, side or status.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from toolkit.ledger.lifecycle import ALERT_KINDS, MODES, ORDER_STATUSES, RUN_STATUSES, SIDES
from toolkit.ledger.types import Money, UTCDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    # Every mapping here is a plain Table (SQLAlchemy types ``__table__`` as the wider
    # FromClause); saying so lets the Core insert/update statements type-check.
    __table__: ClassVar[Table]


class OrderRow(Base):
    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint(_in("mode", MODES), name="mode"),
        CheckConstraint(_in("side", SIDES), name="side"),
        CheckConstraint(_in("status", ORDER_STATUSES), name="status"),
        Index(None, "run_key"),
        Index(None, "account", "mode"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_order_id: Mapped[str] = mapped_column(String(128), unique=True)
    parent_order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"))
    run_key: Mapped[str | None] = mapped_column(String(256))
    mode: Mapped[str] = mapped_column(String(16))
    strategy: Mapped[str] = mapped_column(String(128))
    account: Mapped[str] = mapped_column(String(128))
    symbol: Mapped[str] = mapped_column(String(32))
    side: Mapped[str] = mapped_column(String(4))
    quantity: Mapped[Decimal] = mapped_column(Money())
    order_type: Mapped[str] = mapped_column(String(32))
    limit_price: Mapped[Decimal | None] = mapped_column(Money())
    decision_price: Mapped[Decimal | None] = mapped_column(Money())
    status: Mapped[str] = mapped_column(String(20))
    broker_order_id: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    reason: Mapped[str | None] = mapped_column(Text)


class OrderEventRow(Base):
    __tablename__ = "order_events"
    __table_args__ = (Index(None, "order_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    detail: Mapped[str | None] = mapped_column(Text)


class FillRow(Base):
    __tablename__ = "fills"
    __table_args__ = (
        CheckConstraint(_in("mode", MODES), name="mode"),
        Index(None, "order_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    fill_id: Mapped[str] = mapped_column(String(128), unique=True)
    mode: Mapped[str] = mapped_column(String(16))
    quantity: Mapped[Decimal] = mapped_column(Money())
    price: Mapped[Decimal] = mapped_column(Money())
    fees: Mapped[Decimal] = mapped_column(Money())
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class PositionLotRow(Base):
    """One FIFO lot: what is left of one buy fill."""

    __tablename__ = "position_lots"
    __table_args__ = (
        CheckConstraint(_in("mode", MODES), name="mode"),
        Index(None, "account", "mode", "symbol"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account: Mapped[str] = mapped_column(String(128))
    mode: Mapped[str] = mapped_column(String(16))
    symbol: Mapped[str] = mapped_column(String(32))
    fill_id: Mapped[int] = mapped_column(ForeignKey("fills.id"))
    original_quantity: Mapped[Decimal] = mapped_column(Money())
    open_quantity: Mapped[Decimal] = mapped_column(Money())
    cost_price: Mapped[Decimal] = mapped_column(Money())
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class PositionRow(Base):
    __tablename__ = "positions"
    __table_args__ = (
        UniqueConstraint("account", "mode", "symbol"),
        CheckConstraint(_in("mode", MODES), name="mode"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account: Mapped[str] = mapped_column(String(128))
    mode: Mapped[str] = mapped_column(String(16))
    symbol: Mapped[str] = mapped_column(String(32))
    quantity: Mapped[Decimal] = mapped_column(Money())
    avg_cost: Mapped[Decimal] = mapped_column(Money())
    realised_pnl: Mapped[Decimal] = mapped_column(Money())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CashBalanceRow(Base):
    __tablename__ = "cash_balances"
    __table_args__ = (
        UniqueConstraint("account", "mode"),
        CheckConstraint(_in("mode", MODES), name="mode"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account: Mapped[str] = mapped_column(String(128))
    mode: Mapped[str] = mapped_column(String(16))
    initial_amount: Mapped[Decimal] = mapped_column(Money())
    amount: Mapped[Decimal] = mapped_column(Money())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PerformanceSnapshotRow(Base):
    __tablename__ = "performance_snapshots"
    __table_args__ = (
        UniqueConstraint("account", "mode", "strategy", "session_date"),
        CheckConstraint(_in("mode", MODES), name="mode"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account: Mapped[str] = mapped_column(String(128))
    mode: Mapped[str] = mapped_column(String(16))
    strategy: Mapped[str] = mapped_column(String(128))
    session_date: Mapped[date] = mapped_column(Date)
    equity: Mapped[Decimal] = mapped_column(Money())
    cash: Mapped[Decimal] = mapped_column(Money())
    # Ratios, not money: float64 round-trips exactly through REAL / DOUBLE.
    daily_return: Mapped[float | None] = mapped_column(Float)
    cumulative_return: Mapped[float | None] = mapped_column(Float)
    drawdown: Mapped[float | None] = mapped_column(Float)
    strategy_cell: Mapped[str | None] = mapped_column(String(128))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    context: Mapped[Any | None] = mapped_column(JSON(none_as_null=True))  # added in 0002


class ConfigOverrideRow(Base):
    __tablename__ = "config_overrides"
    __table_args__ = (Index(None, "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(256))
    value: Mapped[Any] = mapped_column(JSON)
    reason: Mapped[str] = mapped_column(Text)
    set_at: Mapped[datetime] = mapped_column(UTCDateTime())
    active: Mapped[bool] = mapped_column(Boolean)
    actor: Mapped[str] = mapped_column(String(128), server_default="user")  # added in 0004
    account: Mapped[str | None] = mapped_column(String(128))  # added in 0004; NULL = a global override


class ConfigHistoryRow(Base):
    __tablename__ = "config_history"
    __table_args__ = (Index(None, "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(256))
    old: Mapped[Any | None] = mapped_column(JSON(none_as_null=True))
    new: Mapped[Any | None] = mapped_column(JSON(none_as_null=True))
    reason: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(128), server_default="user")  # added in 0004
    account: Mapped[str | None] = mapped_column(String(128))  # added in 0004; NULL = a global override


class SystemStateRow(Base):
    __tablename__ = "system_state"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class RunRow(Base):
    __tablename__ = "runs"
    __table_args__ = (
        CheckConstraint(_in("status", RUN_STATUSES), name="status"),
        CheckConstraint(_in("mode", MODES), name="mode"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_key: Mapped[str] = mapped_column(String(256), unique=True)
    strategy: Mapped[str] = mapped_column(String(128))
    account: Mapped[str] = mapped_column(String(128))
    session_date: Mapped[date] = mapped_column(Date)
    execution_time: Mapped[str] = mapped_column(String(32))
    mode: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    notebook_run_id: Mapped[str | None] = mapped_column(String(128))
    summary: Mapped[Any | None] = mapped_column(JSON(none_as_null=True))


class AuditLogRow(Base):
    __tablename__ = "audit_log"
    __table_args__ = (Index(None, "action"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(128))
    detail: Mapped[Any | None] = mapped_column(JSON(none_as_null=True))


class AlertRow(Base):
    """One alert as sent (or not): kept whether or not any channel took it, so a failed
    channel is visible afterwards and never fails the run that raised the alert."""

    __tablename__ = "alerts"
    __table_args__ = (CheckConstraint(_in("kind", ALERT_KINDS), name="kind"), Index(None, "at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    kind: Mapped[str] = mapped_column(String(32))
    account: Mapped[str | None] = mapped_column(String(128))
    run_key: Mapped[str | None] = mapped_column(String(256))
    title: Mapped[str] = mapped_column(String(256))
    body: Mapped[str] = mapped_column(Text)
    #: How many channels (apprise URLs) were tried, and whether at least one took it.
    channels: Mapped[int] = mapped_column(Integer)
    delivered: Mapped[bool] = mapped_column(Boolean)
    error: Mapped[str | None] = mapped_column(Text)


class RunLockRow(Base):
    """The lock that keeps two runs of one key (strategy, account, session, execution time)
    from overlapping. A row, not a file, so that it holds across machines sharing one
    PostgreSQL ledger; ``host``/``pid``/``heartbeat_at`` let a later run see that the
    holder died and take the lock over (and say so)."""

    __tablename__ = "run_locks"

    key: Mapped[str] = mapped_column(String(256), primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    acquired_at: Mapped[datetime] = mapped_column(UTCDateTime())
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime())
    detail: Mapped[Any | None] = mapped_column(JSON(none_as_null=True))
