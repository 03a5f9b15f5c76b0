"""The broker interface the engine talks to, and the extra hooks of a simulated venue.

The engine never imports a concrete broker: it holds a :class:`Broker` and calls the
methods below, so the dry run (simulated), paper and live runs share one code path.
Implementations live one per module (``simulated``, later ``alpaca``, ``schwab``)
and speak only :mod:`toolkit.model`.

Contract every implementation keeps:

* ``submit_order`` is idempotent on ``client_order_id``: submitting an id the
  broker already knows returns that order (``ack.duplicate is True``) and never
  places a second one. This is what makes re-runs and crash resumes safe.
* What happened to an order is in ``get_order(id).events``: the model's events
  (accepted or rejected, each fill, cancelled), oldest first. The engine hands them
  to the ledger, which applies them idempotently, so no status is ever copied.
* Methods return copies; mutating a returned :class:`~toolkit.model.Order` changes nothing.
* Quantities and money are ``Decimal``.

A :class:`RemoteBroker` is a real broker (Alpaca, Schwab) reached over HTTP: it has
its own account, clock, calendar and market, declares the order types it takes (and
refuses the others before anything is sent), and answers :meth:`Broker.find_order`,
the question asked before any order is (re)submitted (promise 8). A broker without
client order ids (Schwab) is handed an :class:`OrderIdBook`, the ledger's durable
map from our id to its id, written the moment its id is known.

A :class:`SimulatedVenue` is a broker with no market of its own: the engine gives it
the prices of the moment, ends its sessions and stores its whole state in the
ledger. Those hooks are an explicit subclass the engine checks with ``isinstance``,
never methods a real broker is probed for.
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar, Protocol

import pandas as pd

from toolkit.errors import UnsupportedOrder
from toolkit.model import Fill, Order, OrderStatus, OrderType, TradingMode

__all__ = ["AccountInfo", "Broker", "MarketClock", "OrderAck", "OrderIdBook", "Quote", "RemoteBroker",
           "SessionHours", "SimulatedVenue"]


@dataclass(frozen=True)
class OrderAck:
    """The broker's answer to a submit.

    ``accepted`` is False when the order was rejected (``reason`` says why);
    ``duplicate`` is True when the id was already known and nothing new was sent.
    ``order`` is a snapshot of the broker's order after the submit.
    """

    client_order_id: str
    status: OrderStatus
    accepted: bool
    duplicate: bool
    order: Order
    reason: str | None = None
    broker_order_id: str | None = None


class Broker(ABC):
    """What the engine may ask of a broker, and nothing more."""

    #: Short name (``"simulated"``, ``"alpaca"``).
    name: str = "broker"

    @property
    @abstractmethod
    def mode(self) -> TradingMode:
        """offline_mock, paper or online_live: stored on every order and fill."""

    @abstractmethod
    def submit_order(self, order: Order) -> OrderAck:
        """Place ``order`` (status ``new``) or return the existing one with its id."""

    @abstractmethod
    def get_order(self, client_order_id: str) -> Order | None:
        """The broker's view of an order (its ``events`` say what happened), or None if the id is unknown."""

    @abstractmethod
    def get_orders(self, *, open_only: bool = False) -> list[Order]:
        """All orders known to this broker (for reconciliation after a crash)."""

    @abstractmethod
    def get_fills(self, client_order_id: str | None = None) -> list[Fill]:
        """Executions, optionally for one order, in the order they happened."""

    @abstractmethod
    def get_positions(self) -> dict[str, Decimal]:
        """Held quantity per symbol (zero positions omitted)."""

    @abstractmethod
    def get_cash(self) -> Decimal:
        """Cash available in the account."""

    @abstractmethod
    def cancel(self, client_order_id: str) -> Order:
        """Cancel an open order; a terminal order is returned unchanged."""

    def find_order(self, order: Order) -> Order | None:
        """Does the broker already have ``order``? Asked before every (re)submit (promise 8).

        By client order id here; a broker without one (Schwab) overrides it to match by
        its own order id, else by symbol, side, quantity and entry time, and raises
        :class:`~toolkit.errors.AmbiguousOrder` when more than one order could be it.
        """
        return self.get_order(order.client_order_id)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, mode={self.mode.value!r})"


class SimulatedVenue(Broker):
    """A broker the engine drives: it is told the market, ends sessions, and is stored whole.

    A real broker has its own market, sessions and state; only a simulated venue
    needs these hooks, which is why they are not part of :class:`Broker`.
    """

    @abstractmethod
    def set_market(self, prices: dict[str, Any], volumes: dict[str, float] | None = None, *, at: Any) -> list[Fill]:
        """Prices (and bar volumes) at instant ``at``; open orders fill against them; returns the new fills."""

    @abstractmethod
    def end_session(self) -> list[Order]:
        """Cancel every open order (the session is over); return the cancelled orders."""

    @abstractmethod
    def to_dict(self, *, orders_from: int = 0, fills_from: int = 0) -> dict[str, Any]:
        """The whole state as JSON-safe values, stored in the ledger with the fills it produced.

        ``orders_from`` / ``fills_from`` leave out that many leading entries of the
        ``orders`` and ``fills`` lists: settled history stored apart (see :meth:`settled_counts`).
        """

    def settled_counts(self) -> tuple[int, int]:
        """How many leading entries of :meth:`to_dict`'s ``orders`` and ``fills`` never change again.

        Storage writes those once instead of on every save; ``(0, 0)`` (the default)
        means everything is stored every time.
        """
        return 0, 0

    def history_dicts(self, kind: str, start: int, stop: int) -> list[dict[str, Any]]:
        """Entries ``start:stop`` of :meth:`to_dict`'s ``orders`` or ``fills`` list (``kind``)."""
        return list(self.to_dict()[kind][start:stop])

    @classmethod
    @abstractmethod
    def from_dict(cls, d: dict[str, Any]) -> SimulatedVenue:
        """Rebuild a venue saved with :meth:`to_dict`."""


@dataclass(frozen=True)
class AccountInfo:
    """The account as the broker reports it (preflight, the live report's account monitor)."""

    account_id: str
    status: str
    currency: str
    cash: Decimal
    buying_power: Decimal
    equity: Decimal
    pattern_day_trader: bool
    #: Day trades in the last 5 sessions (None where the broker does not say).
    daytrade_count: int | None
    #: Margin multiplier (1 = cash account; None where the broker does not say).
    multiplier: Decimal | None
    shorting_enabled: bool | None
    trading_blocked: bool


@dataclass(frozen=True)
class MarketClock:
    """The broker's clock: now, whether the market is open, the next open and close (UTC)."""

    timestamp: pd.Timestamp
    is_open: bool
    next_open: pd.Timestamp
    next_close: pd.Timestamp


@dataclass(frozen=True)
class SessionHours:
    """One trading session of the broker's calendar; ``close`` is early on half days (UTC)."""

    date: dt.date
    open: pd.Timestamp
    close: pd.Timestamp


@dataclass(frozen=True)
class Quote:
    """A price with where and when it came from: what a live decision is made on.

    ``source`` reads like ``alpaca:latest_trade:iex`` or ``schwab:quote:lastPrice``.
    """

    symbol: str
    price: Decimal
    timestamp: pd.Timestamp
    source: str


class OrderIdBook(Protocol):
    """Durable map from our ``client_order_id`` to a broker's own order id (the ledger keeps it).

    A broker without client order ids calls :meth:`remember` the moment its id is
    known (before anything else), and :meth:`claimed` tells a crash recovery which
    broker orders already belong to another of our orders.
    """

    def broker_order_id(self, client_order_id: str) -> str | None:
        """The broker's id of our order, or None when it was never recorded."""

    def remember(self, client_order_id: str, broker_order_id: str) -> None:
        """Store the pair durably (committed) before returning."""

    def claimed(self) -> set[str]:
        """Every broker order id already bound to one of our orders."""


class RemoteBroker(Broker):
    """A real broker reached over the network (Alpaca paper or live, Schwab).

    Adds what a paper or live session needs from the broker itself: the account, the
    market clock and calendar, the latest trade price, and the order types it takes.
    Every network call has a timeout; failures are :class:`~toolkit.errors.BrokerError`
    (never a library's exception) and an order POST that failed is looked up before
    it is tried again.
    """

    #: Order types this broker takes; :meth:`check_order` refuses the others before sending.
    supported_order_types: ClassVar[frozenset[OrderType]] = frozenset({OrderType.MARKET, OrderType.LIMIT})

    def check_order(self, order: Order) -> None:
        """Raise :class:`~toolkit.errors.UnsupportedOrder` for a type this broker does not take."""
        if order.order_type not in self.supported_order_types:
            allowed = ", ".join(sorted(t.value for t in self.supported_order_types))
            raise UnsupportedOrder(self.name, f"order_type: got {order.order_type.value!r} for "
                                              f"{order.client_order_id}; allowed: {allowed}; nothing was sent")

    @abstractmethod
    def account(self) -> AccountInfo:
        """The account's status, cash, buying power and day-trading figures."""

    @abstractmethod
    def clock(self) -> MarketClock:
        """The broker's market clock."""

    @abstractmethod
    def calendar(self, start: dt.date, end: dt.date) -> list[SessionHours]:
        """Sessions from ``start`` to ``end`` inclusive, with early closes."""

    @abstractmethod
    def latest_trades(self, symbols: Iterable[str]) -> dict[str, Quote]:
        """The latest trade of each symbol (symbols without one are left out)."""

    def bind_order_ids(self, book: OrderIdBook) -> None:
        """Hand over the ledger's id book (needed by brokers without client order ids)."""

    def token_days_left(self) -> float | None:
        """Days before the login expires (Schwab's refresh token), None where logins do not expire."""
        return None

    def close(self) -> None:
        """Release what the adapter holds (HTTP sessions, a token file lock)."""
