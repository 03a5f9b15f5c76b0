"""An order and everything that happened to it, changed only by applying events.

Borrowed from nautilus_trader: an order moves through an explicit state machine
(:data:`~toolkit.model.status.TRANSITIONS`) and only by applying an event
(:mod:`toolkit.model.events`). There is no status setter: ``status`` is read-only,
:meth:`Order.apply` checks the move against the table BEFORE any field changes and
raises :class:`~toolkit.errors.IllegalTransition` for anything else, so an illegal
transition cannot happen rather than being found in a later audit.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pandas as pd

from toolkit.errors import IllegalTransition, InvalidInput
from toolkit.model.events import OrderAccepted, OrderCancelled, OrderEvent, OrderFilled, OrderRejected
from toolkit.model.fill import Fill
from toolkit.model.money import to_decimal
from toolkit.model.status import TRANSITIONS, OrderStatus, allowed_from
from toolkit.model.trading import OrderSide, OrderType, TimeInForce, TradingMode

__all__ = ["Order"]


def _ts(value: Any) -> pd.Timestamp | None:
    return None if value is None else pd.Timestamp(value)


def _iso(value: pd.Timestamp | None) -> str | None:
    return None if value is None else value.isoformat()


@dataclass(frozen=True)
class _Applied:
    """One applied event with the status and ``updated_at`` it left the order in."""

    event: OrderEvent
    status: OrderStatus
    at: pd.Timestamp | None


@dataclass(eq=False)
class Order:
    """An order and everything that happened to it.

    ``reference_price`` is the price the decision was made at (the slippage guard
    compares against it). ``reason`` says why the order exists (from the
    translator); the reason of a rejection or cancellation is kept in
    ``status_reason``. :attr:`events` lists the events applied, oldest first.
    """

    client_order_id: str
    symbol: str
    side: OrderSide
    quantity: Decimal
    reference_price: Decimal | None = None
    order_type: OrderType = OrderType.MARKET
    limit_price: Decimal | None = None
    mode: TradingMode = TradingMode.OFFLINE_MOCK
    reason: str = ""
    created_at: pd.Timestamp | None = None
    broker_order_id: str | None = None
    #: Trigger of a stop or stop-limit order.
    stop_price: Decimal | None = None
    #: A trailing stop trails by a percent of the price or by a price amount (one of them).
    trail_percent: Decimal | None = None
    trail_price: Decimal | None = None
    #: A bracket's exits: the take-profit limit and the stop-loss trigger.
    take_profit_price: Decimal | None = None
    stop_loss_price: Decimal | None = None
    time_in_force: TimeInForce = TimeInForce.DAY
    _status: OrderStatus = field(default=OrderStatus.NEW, init=False, repr=False)
    _filled_quantity: Decimal = field(default=Decimal(0), init=False)
    _filled_notional: Decimal = field(default=Decimal(0), init=False)
    _fees: Decimal = field(default=Decimal(0), init=False)
    _status_reason: str | None = field(default=None, init=False)
    _updated_at: pd.Timestamp | None = field(default=None, init=False)
    _history: list[_Applied] = field(default_factory=list, init=False, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.client_order_id, str) or not self.client_order_id:
            raise InvalidInput("client_order_id", self.client_order_id, "a non-empty string")
        if not isinstance(self.symbol, str) or not self.symbol:
            raise InvalidInput("symbol", self.symbol, "a non-empty string")
        try:
            self.side = OrderSide(self.side)
        except ValueError:
            raise InvalidInput("side", self.side, "'buy' or 'sell'") from None
        self.order_type = OrderType(self.order_type)
        self.mode = TradingMode(self.mode)
        self.quantity = to_decimal(self.quantity, "quantity")
        if self.reference_price is not None:
            self.reference_price = to_decimal(self.reference_price, "reference_price")
        if self.limit_price is not None:
            self.limit_price = to_decimal(self.limit_price, "limit_price")
        for name in ("stop_price", "trail_percent", "trail_price", "take_profit_price", "stop_loss_price"):
            if getattr(self, name) is not None:
                setattr(self, name, to_decimal(getattr(self, name), name))
        self.time_in_force = TimeInForce(self.time_in_force)
        _check_terms(self)
        self.created_at = _ts(self.created_at)

    # -- state ---------------------------------------------------------------------
    @property
    def status(self) -> OrderStatus:
        return self._status

    @property
    def events(self) -> tuple[OrderEvent, ...]:
        """The events applied to this order, oldest first (what a broker reports to the ledger)."""
        return tuple(a.event for a in self._history)

    @property
    def remaining_quantity(self) -> Decimal:
        return self.quantity - self.filled_quantity

    @property
    def filled_quantity(self) -> Decimal:
        """Sum of the fills applied (changes only by applying ``OrderFilled``)."""
        return self._filled_quantity

    @property
    def filled_notional(self) -> Decimal:
        """Sum of quantity x price over the fills applied."""
        return self._filled_notional

    @property
    def fees(self) -> Decimal:
        """Fees of the fills applied."""
        return self._fees

    @property
    def status_reason(self) -> str | None:
        """Why the order was rejected or cancelled (from the event that did it)."""
        return self._status_reason

    @property
    def updated_at(self) -> pd.Timestamp | None:
        """When the last event applied happened."""
        return self._updated_at

    @property
    def is_open(self) -> bool:
        return self._status.is_open

    @property
    def is_terminal(self) -> bool:
        return self._status.is_terminal

    def apply(self, event: OrderEvent) -> None:
        """Move the order by ``event``, or raise (``IllegalTransition``, ``InvalidInput``) changing nothing."""
        if event.client_order_id != self.client_order_id:
            raise InvalidInput("event.client_order_id", event.client_order_id, f"'{self.client_order_id}'")
        if isinstance(event, OrderFilled):
            self._apply_fill(event)
            return
        target = event.status
        self._require(target)
        self._status = target
        if event.at is not None:
            self._updated_at = _ts(event.at)
        if isinstance(event, OrderRejected | OrderCancelled) and event.reason is not None:
            self._status_reason = event.reason
        if isinstance(event, OrderAccepted | OrderRejected) and event.broker_order_id is not None:
            self.broker_order_id = event.broker_order_id
        self._history.append(_Applied(event, target, self.updated_at))

    def _apply_fill(self, event: OrderFilled) -> None:
        fill = event.fill
        if fill.side is not self.side or fill.symbol != self.symbol:
            raise InvalidInput("fill", f"{fill.side.value} {fill.symbol}", f"{self.side.value} {self.symbol}")
        if fill.quantity <= 0:
            raise InvalidInput("fill.quantity", str(fill.quantity), f"> 0 and <= remaining {self.remaining_quantity}")
        filled = self.filled_quantity + fill.quantity
        target = OrderStatus.FILLED if filled == self.quantity else OrderStatus.PARTIALLY_FILLED
        self._require(target)  # a fill on a new or finished order is an illegal transition
        if fill.quantity > self.remaining_quantity:
            raise InvalidInput("fill.quantity", str(fill.quantity), f"> 0 and <= remaining {self.remaining_quantity}")
        self._status = target
        if fill.timestamp is not None:
            self._updated_at = _ts(fill.timestamp)
        self._filled_quantity = filled
        self._filled_notional += fill.notional
        self._fees += fill.fee
        self._history.append(_Applied(event, target, self.updated_at))

    def _require(self, target: OrderStatus) -> None:
        if target not in TRANSITIONS[self._status]:
            raise IllegalTransition(self.client_order_id, self._status.value, target.value, allowed_from(self._status))

    def _terms(self) -> dict[str, Any]:
        return {"stop_price": self.stop_price, "trail_percent": self.trail_percent, "trail_price": self.trail_price,
                "take_profit_price": self.take_profit_price, "stop_loss_price": self.stop_loss_price,
                "time_in_force": self.time_in_force}

    def _set_terms(self) -> dict[str, str]:
        """The terms in use, as text: unused ones are left out, so a stored market order reads as before."""
        out = {k: str(v) for k, v in self._terms().items() if v is not None and k != "time_in_force"}
        if self.time_in_force is not TimeInForce.DAY:
            out["time_in_force"] = self.time_in_force.value
        return out

    # -- persistence ---------------------------------------------------------------
    def copy(self) -> Order:
        """An independent snapshot (brokers hand out copies, never their own state)."""
        out = Order(
            client_order_id=self.client_order_id, symbol=self.symbol, side=self.side, quantity=self.quantity,
            reference_price=self.reference_price, order_type=self.order_type, limit_price=self.limit_price,
            mode=self.mode, reason=self.reason, created_at=self.created_at, broker_order_id=self.broker_order_id,
            **self._terms(),
        )
        out._status = self._status
        out._filled_quantity = self.filled_quantity
        out._filled_notional = self.filled_notional
        out._fees = self.fees
        out._status_reason = self.status_reason
        out._updated_at = self.updated_at
        out._history = list(self._history)  # entries are immutable
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe state; events are stored as ``{status, at, reason}`` (fills are stored by the caller)."""

        def dec(v: Decimal | None) -> str | None:
            return None if v is None else str(v)

        return {
            "client_order_id": self.client_order_id,
            "symbol": self.symbol,
            "side": self.side.value,
            "quantity": str(self.quantity),
            "reference_price": dec(self.reference_price),
            "order_type": self.order_type.value,
            "limit_price": dec(self.limit_price),
            "mode": self.mode.value,
            "reason": self.reason,
            "created_at": _iso(self.created_at),
            "broker_order_id": self.broker_order_id,
            "status": self._status.value,
            "filled_quantity": str(self.filled_quantity),
            "filled_notional": str(self.filled_notional),
            "fees": str(self.fees),
            "status_reason": self.status_reason,
            "updated_at": _iso(self.updated_at),
            **self._set_terms(),
            "events": [{"status": a.status.value, "at": _iso(a.at), "reason": _reason(a.event)} for a in self._history],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any], fills: Iterable[Fill] = ()) -> Order:
        """Rebuild an order saved by :meth:`to_dict`; ``fills`` are its fills, oldest first.

        This is the one way to set a status without applying an event: restoring a
        state that was reached legally before it was saved.
        """
        order = cls(
            client_order_id=d["client_order_id"],
            symbol=d["symbol"],
            side=OrderSide(d["side"]),
            quantity=Decimal(d["quantity"]),
            reference_price=None if d.get("reference_price") is None else Decimal(d["reference_price"]),
            order_type=OrderType(d.get("order_type", "market")),
            limit_price=None if d.get("limit_price") is None else Decimal(d["limit_price"]),
            mode=TradingMode(d.get("mode", TradingMode.OFFLINE_MOCK.value)),
            reason=d.get("reason", ""),
            created_at=d.get("created_at"),
            broker_order_id=d.get("broker_order_id"),
            **{k: None if d.get(k) is None else Decimal(d[k])
               for k in ("stop_price", "trail_percent", "trail_price", "take_profit_price", "stop_loss_price")},
            time_in_force=TimeInForce(d.get("time_in_force", "day")),
        )
        order._status = OrderStatus(d.get("status", "new"))
        order._filled_quantity = Decimal(d.get("filled_quantity", "0"))
        order._filled_notional = Decimal(d.get("filled_notional", "0"))
        order._fees = Decimal(d.get("fees", "0"))
        order._status_reason = d.get("status_reason")
        order._updated_at = _ts(d.get("updated_at"))
        pending_fills = iter(fills)
        for e in d.get("events", []):
            status, at, reason = OrderStatus(e["status"]), _ts(e.get("at")), e.get("reason")
            event: OrderEvent
            if status is OrderStatus.SUBMITTED:
                event = OrderAccepted(order.client_order_id, at, order.broker_order_id)
            elif status is OrderStatus.REJECTED:
                event = OrderRejected(order.client_order_id, reason, at, order.broker_order_id)
            elif status is OrderStatus.CANCELLED:
                event = OrderCancelled(order.client_order_id, reason, at)
            else:
                fill = next(pending_fills, None)
                if fill is None:
                    raise InvalidInput("fills", f"no fill for a {status.value} event of order {order.client_order_id}",
                                       "the order's fills, oldest first")
                event = OrderFilled(fill)
            order._history.append(_Applied(event, status, at))
        return order

    def __repr__(self) -> str:
        return (
            f"Order({self.client_order_id!r}, {self.side.value} {self.quantity} {self.symbol}, "
            f"status={self._status.value}, filled={self.filled_quantity})"
        )


#: The price terms each order type needs (``limit_price`` is optional on a bracket's entry).
_REQUIRED: dict[OrderType, tuple[str, ...]] = {
    OrderType.LIMIT: ("limit_price",),
    OrderType.STOP: ("stop_price",),
    OrderType.STOP_LIMIT: ("stop_price", "limit_price"),
    OrderType.BRACKET: ("take_profit_price", "stop_loss_price"),
}


def _check_terms(order: Order) -> None:
    """Every price term the order type needs is there and positive; a trailing stop has exactly one trail."""
    for name in _REQUIRED.get(order.order_type, ()):
        if getattr(order, name) is None:
            raise InvalidInput(name, None, f"a price for a {order.order_type.value} order")
    for name in ("limit_price", "stop_price", "trail_percent", "trail_price", "take_profit_price", "stop_loss_price"):
        value = getattr(order, name)
        if value is not None and value <= 0:
            raise InvalidInput(name, str(value), "a positive number")
    if order.order_type is OrderType.TRAILING_STOP and (order.trail_percent is None) == (order.trail_price is None):
        raise InvalidInput("trail_percent", order.trail_percent,
                           "exactly one of trail_percent and trail_price for a trailing_stop order")
    if order.order_type is OrderType.BRACKET:
        assert order.take_profit_price is not None and order.stop_loss_price is not None
        low, high = ((order.stop_loss_price, order.take_profit_price) if order.side is OrderSide.BUY
                     else (order.take_profit_price, order.stop_loss_price))
        if low >= high:
            raise InvalidInput("stop_loss_price", str(order.stop_loss_price),
                               f"a stop-loss on the losing side of the take-profit {order.take_profit_price} "
                               f"({'below' if order.side is OrderSide.BUY else 'above'} it for a {order.side.value})")


def _reason(event: OrderEvent) -> str | None:
    return event.reason if isinstance(event, OrderRejected | OrderCancelled) else None
