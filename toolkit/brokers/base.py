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

A :class:`SimulatedVenue` is a broker with no market of its own: the engine gives it
the prices of the moment, ends its sessions and stores its whole state in the
ledger. Those hooks are an explicit subclass the engine checks with ``isinstance``,
never methods a real broker is probed for.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from toolkit.model import Fill, Order, OrderStatus, TradingMode

__all__ = ["Broker", "OrderAck", "SimulatedVenue"]


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
    def to_dict(self) -> dict[str, Any]:
        """The whole state as JSON-safe values, stored in the ledger with the fills it produced."""

    @classmethod
    @abstractmethod
    def from_dict(cls, d: dict[str, Any]) -> SimulatedVenue:
        """Rebuild a venue saved with :meth:`to_dict`."""
