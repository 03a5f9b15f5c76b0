"""What can happen to an order: the events that move it through its state machine.

A broker reports what it did with an order as these events, in order; the
in-memory :class:`~toolkit.model.Order` and the ledger both change only by applying
them (``order.apply(event)``, ``ledger.apply(event)``), so a status is never copied
from one side to the other by comparing strings. Each event names its order by
``client_order_id``; ``at`` is when it happened at the broker (``None`` when the
broker had no clock yet).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import pandas as pd

from toolkit.model.fill import Fill
from toolkit.model.status import OrderStatus

__all__ = ["OrderAccepted", "OrderCancelled", "OrderEvent", "OrderFilled", "OrderRejected"]


@dataclass(frozen=True)
class OrderAccepted:
    """The broker took the order (new -> submitted) under its own ``broker_order_id``."""

    client_order_id: str
    at: pd.Timestamp | None = None
    broker_order_id: str | None = None
    status: ClassVar[OrderStatus] = OrderStatus.SUBMITTED


@dataclass(frozen=True)
class OrderRejected:
    """The broker refused the order (new or submitted -> rejected); ``reason`` says why."""

    client_order_id: str
    reason: str | None = None
    at: pd.Timestamp | None = None
    broker_order_id: str | None = None
    status: ClassVar[OrderStatus] = OrderStatus.REJECTED


@dataclass(frozen=True)
class OrderCancelled:
    """The order stopped before filling completely (on request, at the end of a session, a guard)."""

    client_order_id: str
    reason: str | None = None
    at: pd.Timestamp | None = None
    status: ClassVar[OrderStatus] = OrderStatus.CANCELLED


@dataclass(frozen=True)
class OrderFilled:
    """One execution: the order becomes partially filled or filled, from its cumulative quantity."""

    fill: Fill

    @property
    def client_order_id(self) -> str:
        return self.fill.client_order_id

    @property
    def at(self) -> pd.Timestamp | None:
        return self.fill.timestamp


OrderEvent = OrderAccepted | OrderRejected | OrderCancelled | OrderFilled
