"""Plain, immutable records the ledger hands out: its stored rows, read back.

Callers get dataclasses (or DataFrames), never live ORM objects: a record
cannot be mutated by accident outside a transaction, and it prints usefully in
a notebook. Money is :class:`~decimal.Decimal`, time is tz-aware UTC.

The order, fill, lot and position records are the ledger's ROWS (with their ids,
account and bookkeeping columns), not a second trading vocabulary: their statuses,
sides and modes are the string values of :mod:`toolkit.model`'s enums, and
:meth:`OrderRecord.to_order` turns a recorded order into the model's
:class:`~toolkit.model.Order` a broker receives. They keep plain strings because
they are what the DataFrames, CSV files and reports show.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pandas as pd

from toolkit.model import Order, OrderSide, OrderType, TradingMode


@dataclass(frozen=True, slots=True)
class OrderRecord:
    """An order as the ledger knows it; ``filled_quantity`` is the sum of its fills."""

    id: int
    client_order_id: str
    parent_order_id: int | None
    run_key: str | None
    mode: str
    strategy: str
    account: str
    symbol: str
    side: str
    quantity: Decimal
    order_type: str
    limit_price: Decimal | None
    decision_price: Decimal | None
    status: str
    broker_order_id: str | None
    created_at: datetime
    updated_at: datetime
    reason: str | None
    filled_quantity: Decimal

    @property
    def remaining_quantity(self) -> Decimal:
        return self.quantity - self.filled_quantity

    def to_order(self) -> Order:
        """The model :class:`~toolkit.model.Order` to send: as recorded before the first broker call (status new)."""
        return Order(
            client_order_id=self.client_order_id, symbol=self.symbol, side=OrderSide(self.side),
            quantity=self.quantity, reference_price=self.decision_price, order_type=OrderType(self.order_type),
            limit_price=self.limit_price, mode=TradingMode(self.mode), reason=self.reason or "",
            created_at=None if self.created_at is None else pd.Timestamp(self.created_at),
        )


@dataclass(frozen=True, slots=True)
class OrderEventRecord:
    """One status change of an order (``from_status`` is ``None`` at creation)."""

    client_order_id: str
    from_status: str | None
    to_status: str
    at: datetime
    detail: str | None


@dataclass(frozen=True, slots=True)
class FillRecord:
    id: int
    client_order_id: str
    fill_id: str
    mode: str
    account: str
    symbol: str
    side: str
    quantity: Decimal
    price: Decimal
    fees: Decimal
    at: datetime


@dataclass(frozen=True, slots=True)
class LotRecord:
    """What is left of one buy fill; FIFO sells consume the oldest lot first."""

    id: int
    account: str
    mode: str
    symbol: str
    original_quantity: Decimal
    open_quantity: Decimal
    cost_price: Decimal
    opened_at: datetime
    closed_at: datetime | None


@dataclass(frozen=True, slots=True)
class PositionRecord:
    """Holding of one symbol; ``avg_cost`` is the average cost of the open lots.

    ``realised_pnl`` is FIFO and gross of fees (fees are on the fills), so
    ``cash + value = initial cash + realised + unrealised - fees`` holds exactly.
    """

    account: str
    mode: str
    symbol: str
    quantity: Decimal
    avg_cost: Decimal
    realised_pnl: Decimal
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Run:
    """One scheduled decision of one strategy on one account: the unit of idempotency."""

    run_key: str
    strategy: str
    account: str
    session_date: date
    execution_time: str
    mode: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    notebook_run_id: str | None
    summary: Any


@dataclass(frozen=True, slots=True)
class Snapshot:
    account: str
    mode: str
    strategy: str
    session_date: date
    equity: Decimal
    cash: Decimal
    daily_return: float | None
    cumulative_return: float | None
    drawdown: float | None
    strategy_cell: str | None
    context: Any
    recorded_at: datetime


@dataclass(frozen=True, slots=True)
class KillSwitch:
    """State of the kill switch; ``on`` stops the engine from sending orders."""

    on: bool
    reason: str | None
    at: datetime | None
    actor: str | None

    def __bool__(self) -> bool:
        return self.on
