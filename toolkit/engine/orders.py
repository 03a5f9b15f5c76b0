"""Trading domain types: sides, the order state machine, orders, fills, order ids.

Borrowed from nautilus_trader: the words a trader uses name the code, and an order
moves through an explicit state machine. :class:`Order` exposes ``status`` read-only;
the only way to change it is :meth:`Order.transition` (or :meth:`Order.apply_fill`,
which transitions for you), and anything outside :data:`TRANSITIONS` raises
:class:`IllegalTransition` at the moment it is attempted, not in a later audit.

:func:`client_order_id` is the idempotency key of promise 4 (nothing lost, nothing
doubled): the same (strategy, account, session, execution time, symbol, side) always
gives the same id, so a re-run or a resumed run re-submits under the same id and the
broker (simulated or real) answers with the existing order instead of a second one.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Any

import pandas as pd

from toolkit.errors import ParamsError, ToolkitError

__all__ = [
    "Fill",
    "IllegalTransition",
    "InvalidInput",
    "Order",
    "OrderSide",
    "OrderStatus",
    "OrderType",
    "TRANSITIONS",
    "TradingMode",
    "client_order_id",
    "to_decimal",
]


class InvalidInput(ParamsError, ValueError):
    """Bad input to the engine: names the field, the value seen and what is allowed.

    It is both a :class:`~toolkit.errors.ParamsError` (so the runner reports it like
    any parameter error) and a ``ValueError`` (so plain Python callers can catch it).
    """


class IllegalTransition(ToolkitError):
    """An order was asked to move to a status its current status cannot reach."""

    def __init__(self, client_order_id: str, current: OrderStatus, target: OrderStatus) -> None:
        self.client_order_id = client_order_id
        self.current = current
        self.target = target
        allowed = ", ".join(s.value for s in sorted(TRANSITIONS[current], key=_STATUS_ORDER.index)) or "none (terminal)"
        super().__init__(
            f"order {client_order_id}: illegal transition {current.value} -> {target.value}; "
            f"allowed from {current.value}: {allowed}"
        )


class TradingMode(str, Enum):
    """Where orders go; stored on every order and fill (DESIGN.md, Trading modes)."""

    OFFLINE_MOCK = "offline_mock"
    PAPER = "paper"
    ONLINE_LIVE = "online_live"


class OrderSide(str, Enum):
    BUY = "buy"
    SELL = "sell"

    @property
    def sign(self) -> int:
        """+1 for a buy, -1 for a sell: the direction of the position change."""
        return 1 if self is OrderSide.BUY else -1


class OrderType(str, Enum):
    MARKET = "market"
    LIMIT = "limit"


class OrderStatus(str, Enum):
    NEW = "new"
    SUBMITTED = "submitted"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"

    @property
    def is_terminal(self) -> bool:
        """No further transition is possible (filled, cancelled, rejected)."""
        return not TRANSITIONS[self]

    @property
    def is_open(self) -> bool:
        """The order may still fill (submitted or partially filled)."""
        return self in (OrderStatus.SUBMITTED, OrderStatus.PARTIALLY_FILLED)


_STATUS_ORDER = list(OrderStatus)

#: The order state machine. Anything not listed here raises IllegalTransition.
TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.NEW: frozenset({OrderStatus.SUBMITTED, OrderStatus.REJECTED, OrderStatus.CANCELLED}),
    OrderStatus.SUBMITTED: frozenset(
        {OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.REJECTED}
    ),
    OrderStatus.PARTIALLY_FILLED: frozenset(
        {OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED, OrderStatus.CANCELLED}
    ),
    OrderStatus.FILLED: frozenset(),
    OrderStatus.CANCELLED: frozenset(),
    OrderStatus.REJECTED: frozenset(),
}


def to_decimal(value: Any, field: str) -> Decimal:
    """Convert money or a quantity to ``Decimal`` without float noise.

    Floats go through ``repr`` (shortest round-trip form), so ``0.1`` becomes
    ``Decimal('0.1')`` rather than ``Decimal('0.1000000000000000055511...')``.
    NaN and infinities are refused: they have no place in a ledger.
    """
    if isinstance(value, bool):
        raise InvalidInput(field, value, "a number (Decimal, int, float or numeric string)")
    try:
        if isinstance(value, Decimal):
            out = value
        elif isinstance(value, int):
            out = Decimal(value)
        elif isinstance(value, float):
            out = Decimal(repr(value))
        elif isinstance(value, str):
            out = Decimal(value.strip())
        else:
            # numpy scalars and the like
            out = Decimal(repr(float(value)))
    except (InvalidOperation, TypeError, ValueError):
        raise InvalidInput(field, value, "a number (Decimal, int, float or numeric string)") from None
    if not out.is_finite():
        raise InvalidInput(field, value, "a finite number")
    return out


def _ts(value: Any) -> pd.Timestamp | None:
    return None if value is None else pd.Timestamp(value)


def _iso(value: pd.Timestamp | None) -> str | None:
    return None if value is None else value.isoformat()


@dataclass(frozen=True)
class Fill:
    """One execution against an order. ``price`` includes slippage; ``fee`` is separate."""

    fill_id: str
    client_order_id: str
    symbol: str
    side: OrderSide
    quantity: Decimal
    price: Decimal
    fee: Decimal
    timestamp: pd.Timestamp
    mode: TradingMode = TradingMode.OFFLINE_MOCK

    @property
    def notional(self) -> Decimal:
        """quantity x price (before fees)."""
        return self.quantity * self.price

    @property
    def cash_flow(self) -> Decimal:
        """Signed cash effect: negative for a buy, positive for a sell, net of the fee."""
        return -self.side.sign * self.notional - self.fee

    def to_dict(self) -> dict[str, Any]:
        return {
            "fill_id": self.fill_id,
            "client_order_id": self.client_order_id,
            "symbol": self.symbol,
            "side": self.side.value,
            "quantity": str(self.quantity),
            "price": str(self.price),
            "fee": str(self.fee),
            "timestamp": _iso(self.timestamp),
            "mode": self.mode.value,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Fill:
        return cls(
            fill_id=d["fill_id"],
            client_order_id=d["client_order_id"],
            symbol=d["symbol"],
            side=OrderSide(d["side"]),
            quantity=Decimal(d["quantity"]),
            price=Decimal(d["price"]),
            fee=Decimal(d["fee"]),
            timestamp=pd.Timestamp(d["timestamp"]),
            mode=TradingMode(d["mode"]),
        )


@dataclass(eq=False)
class Order:
    """An order and everything that happened to it.

    ``status`` is read-only; change it with :meth:`transition`. ``reference_price``
    is the price the decision was made at (the slippage guard compares against
    it). ``reason`` says why the order exists (from the translator); the reason for
    a rejection or cancellation is kept in ``status_reason`` and in ``events``.
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
    _status: OrderStatus = field(default=OrderStatus.NEW, init=False, repr=False)
    filled_quantity: Decimal = field(default=Decimal(0), init=False)
    filled_notional: Decimal = field(default=Decimal(0), init=False)
    fees: Decimal = field(default=Decimal(0), init=False)
    status_reason: str | None = field(default=None, init=False)
    updated_at: pd.Timestamp | None = field(default=None, init=False)
    events: list[dict[str, Any]] = field(default_factory=list, init=False, repr=False)

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
        if self.order_type is OrderType.LIMIT and self.limit_price is None:
            raise InvalidInput("limit_price", None, "a price for a limit order")
        self.created_at = _ts(self.created_at)

    # -- state machine -------------------------------------------------------------
    @property
    def status(self) -> OrderStatus:
        return self._status

    @property
    def remaining_quantity(self) -> Decimal:
        return self.quantity - self.filled_quantity

    @property
    def average_fill_price(self) -> Decimal | None:
        """Volume-weighted fill price, or None before the first fill."""
        if not self.filled_quantity:
            return None
        return self.filled_notional / self.filled_quantity

    @property
    def is_open(self) -> bool:
        return self._status.is_open

    @property
    def is_terminal(self) -> bool:
        return self._status.is_terminal

    def can_transition(self, to: OrderStatus | str) -> bool:
        return OrderStatus(to) in TRANSITIONS[self._status]

    def transition(self, to: OrderStatus | str, *, at: Any = None, reason: str | None = None) -> None:
        """Move to status ``to`` or raise :class:`IllegalTransition`."""
        target = OrderStatus(to)
        if target not in TRANSITIONS[self._status]:
            raise IllegalTransition(self.client_order_id, self._status, target)
        self._status = target
        self.updated_at = _ts(at) if at is not None else self.updated_at
        if reason is not None:
            self.status_reason = reason
        self.events.append({"status": target.value, "at": _iso(self.updated_at), "reason": reason})

    def apply_fill(self, fill: Fill) -> None:
        """Book ``fill`` on this order and transition to partially_filled or filled."""
        if fill.client_order_id != self.client_order_id:
            raise InvalidInput("fill.client_order_id", fill.client_order_id, f"'{self.client_order_id}'")
        if fill.side is not self.side or fill.symbol != self.symbol:
            raise InvalidInput("fill", f"{fill.side.value} {fill.symbol}", f"{self.side.value} {self.symbol}")
        if fill.quantity <= 0 or fill.quantity > self.remaining_quantity:
            raise InvalidInput("fill.quantity", str(fill.quantity), f"> 0 and <= remaining {self.remaining_quantity}")
        filled = self.filled_quantity + fill.quantity
        target = OrderStatus.FILLED if filled == self.quantity else OrderStatus.PARTIALLY_FILLED
        self.transition(target, at=fill.timestamp)  # raises before any field changes
        self.filled_quantity = filled
        self.filled_notional += fill.notional
        self.fees += fill.fee

    # -- persistence ---------------------------------------------------------------
    def copy(self) -> Order:
        """An independent snapshot (brokers hand out copies, never their own state)."""
        return Order.from_dict(self.to_dict())

    def to_dict(self) -> dict[str, Any]:
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
            "events": [dict(e) for e in self.events],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Order:
        """Rebuild an order saved by :meth:`to_dict` (the one way to set status directly:
        restoring a state that was reached legally before it was saved)."""
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
        )
        order._status = OrderStatus(d.get("status", "new"))
        order.filled_quantity = Decimal(d.get("filled_quantity", "0"))
        order.filled_notional = Decimal(d.get("filled_notional", "0"))
        order.fees = Decimal(d.get("fees", "0"))
        order.status_reason = d.get("status_reason")
        order.updated_at = _ts(d.get("updated_at"))
        order.events = [dict(e) for e in d.get("events", [])]
        return order

    def __repr__(self) -> str:
        return (
            f"Order({self.client_order_id!r}, {self.side.value} {self.quantity} {self.symbol}, "
            f"status={self._status.value}, filled={self.filled_quantity})"
        )


# -- idempotency key ---------------------------------------------------------------

_EXEC_CODES = {
    "open": "O",
    "15min_after_open": "O15",
    "15min_before_close": "C15",
    "5min_before_close": "C5",
    "close": "C",
}
_SLUG = re.compile(r"[^A-Za-z0-9]+")
#: Upper bound of :func:`client_order_id` (Alpaca accepts 128; shorter ids read better).
CLIENT_ORDER_ID_MAX_LEN = 48


def _slug(text: str, width: int) -> str:
    return _SLUG.sub("", text)[:width] or "x"


def _session_iso(session_date: Any) -> str:
    try:
        ts = pd.Timestamp(session_date)
    except (TypeError, ValueError):
        raise InvalidInput("session_date", session_date, "a date such as '2018-11-23'") from None
    if ts is pd.NaT:
        raise InvalidInput("session_date", session_date, "a date such as '2018-11-23'")
    if ts.tzinfo is not None:
        ts = ts.tz_localize(None)
    return ts.normalize().date().isoformat()


def client_order_id(
    strategy: str,
    account: str,
    session_date: Any,
    execution_time: str,
    symbol: str,
    side: OrderSide | str,
) -> str:
    """The deterministic idempotency key of one order.

    ``<strategy>-<YYYYMMDD>-<exec>-<symbol>-<B|S>-<12 hex of sha256>``, at most 48
    characters, only ``[A-Za-z0-9-]`` (safe for Alpaca, Schwab and file names).
    The readable prefix is for humans; uniqueness comes from the hash of the full,
    untruncated tuple. The account appears only inside the hash, so account numbers
    never show up in order ids, logs or broker dashboards.

    Because the key has no quantity in it, a run that decides again for the same
    session, execution time, symbol and side re-uses the id, and the broker returns
    the order already placed: a re-run can never double an order. A deliberate second
    order in the same slot needs a different strategy or account label.
    """
    for name, value in (("strategy", strategy), ("account", account), ("symbol", symbol)):
        if not isinstance(value, str) or not value.strip():
            raise InvalidInput(name, value, "a non-empty string")
    if execution_time not in _EXEC_CODES:
        raise InvalidInput("execution_time", execution_time, "one of " + ", ".join(_EXEC_CODES))
    try:
        side_v = OrderSide(side)
    except ValueError:
        raise InvalidInput("side", side, "'buy' or 'sell'") from None
    session = _session_iso(session_date)
    canonical = "\x1f".join(["v1", strategy, account, session, execution_time, symbol, side_v.value])
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:12]
    readable = "-".join(
        [
            _slug(strategy, 10),
            session.replace("-", ""),
            _EXEC_CODES[execution_time],
            _slug(symbol, 8),
            "B" if side_v is OrderSide.BUY else "S",
        ]
    )
    out = f"{readable}-{digest}"
    assert len(out) <= CLIENT_ORDER_ID_MAX_LEN, out  # 10+8+3+8+1+12+5 separators = 47
    return out
