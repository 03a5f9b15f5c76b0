"""The broker interface the engine talks to, and the registry of implementations.

The engine never imports a concrete broker: it holds a :class:`Broker` and calls the
methods below, so the dry run (simulated), paper and live runs share one code path.
Implementations live one per module (``simulated``, later ``alpaca``, ``schwab``)
and are found by name through :func:`create_broker`; the registry stores import
paths rather than classes so that naming a broker never imports an SDK the run does
not use.

Contract every implementation keeps:

* ``submit_order`` is idempotent on ``client_order_id``: submitting an id the
  broker already knows returns that order (``ack.duplicate is True``) and never
  places a second one. This is what makes re-runs and crash resumes safe.
* Methods return copies; mutating a returned :class:`Order` changes nothing.
* Quantities and money are ``Decimal``.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from toolkit.errors import InvalidInput
from toolkit.model import Fill, Order, OrderStatus, TradingMode

__all__ = ["Broker", "OrderAck", "available_brokers", "create_broker", "register_broker"]


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

    #: Short registry name (``"simulated"``, ``"alpaca"``).
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
        """The broker's view of an order, or None if the id is unknown."""

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


_REGISTRY: dict[str, str] = {
    "simulated": "toolkit.brokers.simulated:SimulatedBroker",
}


def register_broker(name: str, target: str) -> None:
    """Register ``"package.module:ClassName"`` under ``name`` (imported on first use)."""
    if ":" not in target:
        raise InvalidInput("target", target, "'package.module:ClassName'")
    _REGISTRY[name] = target


def available_brokers() -> list[str]:
    return sorted(_REGISTRY)


def create_broker(name: str, **options: Any) -> Broker:
    """Instantiate the broker registered as ``name`` with its own keyword options."""
    if name not in _REGISTRY:
        raise InvalidInput("broker", name, "one of " + ", ".join(available_brokers()))
    module, _, cls_name = _REGISTRY[name].partition(":")
    cls = getattr(importlib.import_module(module), cls_name)
    return cls(**options)
