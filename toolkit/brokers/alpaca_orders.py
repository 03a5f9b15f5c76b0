"""Orders between the toolkit's words and Alpaca's: what may be sent, the request to send, the view back.

Three pieces, kept apart from the HTTP so each reads on its own:

* :func:`refusal` says why an order cannot go to Alpaca at all, before anything is
  sent (promise 6): a time in force Alpaca does not take for that type, a fractional
  quantity outside Alpaca's fractional rules, or a paper order aimed at a live account.
* :func:`order_request` builds alpaca-py's request model for an order that passed.
* :func:`order_view` rebuilds a model :class:`~toolkit.model.Order` from Alpaca's order
  and its executions: accepted (with Alpaca's id), one fill per execution, then
  cancelled or rejected. Fills come first whatever order the reports arrived in, and
  the closing event waits until the executions Alpaca lists add up to the quantity it
  says was filled, so a fill reported after the cancel is never refused by the ledger.

Order types (``supported`` below): market, limit, stop, stop_limit, trailing_stop and
bracket as Alpaca has them; ``market_on_open`` and ``market_on_close`` are Alpaca's
market orders with time in force ``opg`` and ``cls`` (a limit order with ``opg``/``cls``
is a limit-on-open/close). Fractional quantities are sent only as market or limit
orders with time in force ``day``, Alpaca's rule for fractional trading.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

import pandas as pd
from alpaca.trading.enums import OrderClass
from alpaca.trading.enums import OrderSide as AlpacaSide
from alpaca.trading.enums import OrderStatus as AlpacaStatus
from alpaca.trading.enums import OrderType as AlpacaType
from alpaca.trading.enums import TimeInForce as AlpacaTif
from alpaca.trading.models import Order as AlpacaOrder
from alpaca.trading.requests import (
    LimitOrderRequest,
    MarketOrderRequest,
    OrderRequest,
    StopLimitOrderRequest,
    StopLossRequest,
    StopOrderRequest,
    TakeProfitRequest,
    TrailingStopOrderRequest,
)

from toolkit.errors import BrokerError
from toolkit.model import (
    Fill,
    Order,
    OrderAccepted,
    OrderCancelled,
    OrderFilled,
    OrderRejected,
    OrderSide,
    OrderStatus,
    OrderType,
    TimeInForce,
    TradingMode,
    qty_str,
    to_decimal,
)

__all__ = ["ALLOWED_TIME_IN_FORCE", "SUPPORTED", "TERMINAL_AT_ALPACA", "as_utc", "fill_from_activity", "order_request",
           "order_view", "refusal"]

_ANY = frozenset(TimeInForce)
_DAY_GTC = frozenset({TimeInForce.DAY, TimeInForce.GTC})

#: Time in force Alpaca takes per order type (``day`` on an on-open/on-close order means "the auction").
ALLOWED_TIME_IN_FORCE: dict[OrderType, frozenset[TimeInForce]] = {
    OrderType.MARKET: _ANY,
    OrderType.LIMIT: _ANY,
    OrderType.MARKET_ON_OPEN: frozenset({TimeInForce.DAY, TimeInForce.OPG}),
    OrderType.MARKET_ON_CLOSE: frozenset({TimeInForce.DAY, TimeInForce.CLS}),
    OrderType.STOP: _DAY_GTC,
    OrderType.STOP_LIMIT: _DAY_GTC,
    OrderType.TRAILING_STOP: _DAY_GTC,
    OrderType.BRACKET: _DAY_GTC,
}
SUPPORTED: frozenset[OrderType] = frozenset(ALLOWED_TIME_IN_FORCE)
#: Fractional quantities: Alpaca fills them only for these types, with time in force day.
FRACTIONAL_TYPES = frozenset({OrderType.MARKET, OrderType.LIMIT})
#: Alpaca takes quantities with at most 9 decimal places.
MAX_QTY_PLACES = 9

#: Alpaca statuses after which the order never changes again.
TERMINAL_AT_ALPACA = frozenset({AlpacaStatus.FILLED, AlpacaStatus.CANCELED, AlpacaStatus.EXPIRED,
                                AlpacaStatus.REPLACED, AlpacaStatus.REJECTED})
#: Statuses that end the order with (part of) its quantity unfilled, and how the ledger words them.
_ENDED = {
    AlpacaStatus.CANCELED: "cancelled at Alpaca",
    AlpacaStatus.EXPIRED: "expired at Alpaca (its time in force ran out)",
    AlpacaStatus.DONE_FOR_DAY: "done for the day at Alpaca",
    AlpacaStatus.REPLACED: "replaced at Alpaca by another order (not one the toolkit sent)",
}


def refusal(order: Order, broker_mode: TradingMode) -> str | None:
    """Why ``order`` cannot be sent to Alpaca (one line: field, value, what is allowed), or None."""
    cid = order.client_order_id
    if TradingMode.ONLINE_LIVE in (order.mode, broker_mode) and order.mode is not broker_mode:
        return (f"mode: order {cid} is {order.mode.value} but this Alpaca account is {broker_mode.value}; "
                "allowed: the same mode on both (real money only for online_live orders)")
    allowed = ALLOWED_TIME_IN_FORCE.get(order.order_type)
    if allowed is None:
        return None  # the type itself is refused by RemoteBroker.check_order
    if order.time_in_force not in allowed:
        return (f"time_in_force: got {order.time_in_force.value!r} for {order.order_type.value} order {cid}; "
                f"allowed: {', '.join(t.value for t in TimeInForce if t in allowed)}")
    if order.quantity <= 0:
        return f"quantity: got {qty_str(order.quantity)} for order {cid}; allowed: a number > 0"
    exponent = order.quantity.normalize().as_tuple().exponent
    places = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    if places > MAX_QTY_PLACES:
        return f"quantity: got {qty_str(order.quantity)} for order {cid}; allowed: at most 9 decimal places"
    if places and (order.order_type not in FRACTIONAL_TYPES or order.time_in_force is not TimeInForce.DAY):
        return (f"quantity: got fractional {qty_str(order.quantity)} for a {order.order_type.value} "
                f"{order.time_in_force.value} order {cid}; allowed: whole shares, or a fractional quantity on a "
                "market or limit order with time_in_force day")
    return None


def _f(value: Decimal | None) -> float | None:
    """alpaca-py's request models take floats; Decimal -> float keeps the shortest form (100.1 stays 100.1)."""
    return None if value is None else float(value)


def order_request(order: Order) -> OrderRequest:
    """alpaca-py's request for an order :func:`refusal` let through."""
    tif = AlpacaTif(order.time_in_force.value)
    common: dict[str, Any] = {"symbol": order.symbol, "qty": float(order.quantity),
                              "side": AlpacaSide(order.side.value), "time_in_force": tif,
                              "client_order_id": order.client_order_id}
    kind = order.order_type
    if kind is OrderType.MARKET:
        return MarketOrderRequest(**common)
    if kind is OrderType.MARKET_ON_OPEN:
        return MarketOrderRequest(**(common | {"time_in_force": AlpacaTif.OPG}))
    if kind is OrderType.MARKET_ON_CLOSE:
        return MarketOrderRequest(**(common | {"time_in_force": AlpacaTif.CLS}))
    if kind is OrderType.LIMIT:
        return LimitOrderRequest(**common, limit_price=_f(order.limit_price))
    if kind is OrderType.STOP:
        return StopOrderRequest(**common, stop_price=_f(order.stop_price))
    if kind is OrderType.STOP_LIMIT:
        return StopLimitOrderRequest(**common, stop_price=_f(order.stop_price), limit_price=_f(order.limit_price))
    if kind is OrderType.TRAILING_STOP:
        return TrailingStopOrderRequest(**common, trail_percent=_f(order.trail_percent),
                                        trail_price=_f(order.trail_price))
    if kind is OrderType.BRACKET:
        legs: dict[str, Any] = {"order_class": OrderClass.BRACKET,
                                "take_profit": TakeProfitRequest(limit_price=float(order.take_profit_price or 0)),
                                "stop_loss": StopLossRequest(stop_price=float(order.stop_loss_price or 0))}
        if order.limit_price is not None:
            return LimitOrderRequest(**common, **legs, limit_price=_f(order.limit_price))
        return MarketOrderRequest(**common, **legs)
    raise BrokerError("alpaca", f"order_type: got {kind.value!r} for {order.client_order_id}; nothing was sent")


# ----------------------------------------------------------------------------- Alpaca -> model


def as_utc(value: Any) -> pd.Timestamp:
    """A timestamp from Alpaca as tz-aware UTC (alpaca-py's convention: naive means UTC)."""
    ts = pd.Timestamp(value)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _dec(value: Any, field: str) -> Decimal | None:
    return None if value is None or value == "" else to_decimal(value if isinstance(value, str) else str(value), field)


def _order_type(raw: AlpacaOrder) -> OrderType:
    if raw.order_class is OrderClass.BRACKET:
        return OrderType.BRACKET
    kind = raw.type or raw.order_type
    if kind is None:
        raise BrokerError("alpaca", f"order {raw.client_order_id} has no order type (a multi-leg option order?); "
                                    "the toolkit trades stocks only: handle it in the Alpaca dashboard")
    if kind is AlpacaType.MARKET and raw.time_in_force is AlpacaTif.OPG:
        return OrderType.MARKET_ON_OPEN
    if kind is AlpacaType.MARKET and raw.time_in_force is AlpacaTif.CLS:
        return OrderType.MARKET_ON_CLOSE
    return OrderType(kind.value)


def _bracket_prices(raw: AlpacaOrder) -> dict[str, Decimal | None]:
    take_profit = stop_loss = None
    for leg in raw.legs or []:
        if leg.type is AlpacaType.LIMIT:
            take_profit = _dec(leg.limit_price, "take_profit_price")
        elif leg.type in (AlpacaType.STOP, AlpacaType.STOP_LIMIT):
            stop_loss = _dec(leg.stop_price, "stop_loss_price")
    if take_profit is None or stop_loss is None:
        raise BrokerError("alpaca", f"bracket order {raw.client_order_id}: Alpaca returned it without its "
                                    "take-profit and stop-loss legs; look it up again (nested) or check the dashboard")
    return {"take_profit_price": take_profit, "stop_loss_price": stop_loss}


def _blank(raw: AlpacaOrder, mode: TradingMode) -> Order:
    """The order as it was sent (status new), from Alpaca's description of it."""
    kind = _order_type(raw)
    if raw.symbol is None or raw.side is None:
        raise BrokerError("alpaca", f"order {raw.client_order_id} has no symbol or side (a multi-leg option "
                                    "order?); the toolkit trades stocks only: handle it in the Alpaca dashboard")
    quantity = _dec(raw.qty, "qty")
    if quantity is None:  # a notional order placed elsewhere: its size is what filled
        quantity = _dec(raw.filled_qty, "filled_qty") or Decimal(0)
    terms: dict[str, Any] = {"limit_price": _dec(raw.limit_price, "limit_price")}
    if kind is OrderType.BRACKET:
        terms |= _bracket_prices(raw)
    elif kind is OrderType.TRAILING_STOP:
        terms |= {"trail_percent": _dec(raw.trail_percent, "trail_percent"),
                  "trail_price": _dec(raw.trail_price, "trail_price")}
    elif kind in (OrderType.STOP, OrderType.STOP_LIMIT):
        terms["stop_price"] = _dec(raw.stop_price, "stop_price")
    tif = TimeInForce(raw.time_in_force.value)
    if kind in (OrderType.MARKET_ON_OPEN, OrderType.MARKET_ON_CLOSE):
        tif = TimeInForce.DAY  # how the toolkit sends them (the auction is in the type)
    return Order(client_order_id=raw.client_order_id, symbol=raw.symbol, side=OrderSide(raw.side.value),
                 quantity=quantity, order_type=kind, mode=mode, created_at=as_utc(raw.created_at),
                 time_in_force=tif, **terms)


def fill_from_activity(activity: Mapping[str, Any], client_order_id: str, mode: TradingMode) -> Fill:
    """One FILL activity of Alpaca's account activities as a model fill of order ``client_order_id``.

    The activity id is the fill id (stable and unique at Alpaca), so the ledger records
    each execution once however often it is reported. The fee is 0: Alpaca charges no
    commission on stock trades (regulatory pass-through fees are not in the activity).
    A ``sell_short`` execution is a sell.
    """
    side = OrderSide.SELL if str(activity["side"]).startswith("sell") else OrderSide.BUY
    return Fill(fill_id=str(activity["id"]), client_order_id=client_order_id, symbol=str(activity["symbol"]),
                side=side, quantity=to_decimal(str(activity["qty"]), "qty"),
                price=to_decimal(str(activity["price"]), "price"), fee=Decimal(0),
                timestamp=as_utc(activity["transaction_time"]), mode=mode)


def _fill_key(activity: Mapping[str, Any]) -> tuple[pd.Timestamp, Decimal, str]:
    return (as_utc(activity["transaction_time"]), to_decimal(str(activity.get("cum_qty") or 0), "cum_qty"),
            str(activity["id"]))


def order_view(raw: AlpacaOrder, activities: Iterable[Mapping[str, Any]], mode: TradingMode) -> Order:
    """Alpaca's order and its FILL activities as a model order whose ``events`` say what happened.

    Events: accepted (Alpaca's id), each execution once (by activity id, oldest first),
    then cancelled or rejected. A cancel, expiry or end of day waits until the
    executions listed add up to Alpaca's ``filled_qty``: activities can lag the order's
    status, and a fill after a recorded cancel would be lost.
    """
    order = _blank(raw, mode)
    order.apply(OrderAccepted(order.client_order_id, as_utc(raw.submitted_at), str(raw.id)))
    unique = {str(a["id"]): a for a in activities}
    for activity in sorted(unique.values(), key=_fill_key):
        fill = fill_from_activity(activity, order.client_order_id, mode)
        if fill.quantity <= 0:
            continue
        if fill.quantity > order.remaining_quantity:
            raise BrokerError("alpaca", f"order {order.client_order_id}: Alpaca lists executions of more than its "
                                        f"{qty_str(order.quantity)} shares (activity {fill.fill_id}); nothing was "
                                        "recorded from it: compare the order with the account's activities")
        order.apply(OrderFilled(fill))
    status = raw.status
    at = as_utc(raw.updated_at)
    if status is AlpacaStatus.REJECTED and order.status is OrderStatus.SUBMITTED:
        order.apply(OrderRejected(order.client_order_id, "rejected by Alpaca after it was accepted "
                                  "(the order carries no reason; see the Alpaca dashboard)",
                                  as_utc(raw.failed_at or raw.updated_at), str(raw.id)))
        return order
    ended = _ENDED.get(status)
    if status is AlpacaStatus.DONE_FOR_DAY and raw.time_in_force is AlpacaTif.GTC:
        ended = None  # a gtc order done for today works again tomorrow
    if status is AlpacaStatus.REJECTED:
        ended = "rejected by Alpaca after a partial fill"
    if ended is not None and order.is_open:
        alpaca_filled = _dec(raw.filled_qty, "filled_qty") or Decimal(0)
        if order.filled_quantity >= alpaca_filled:
            if status is AlpacaStatus.REPLACED and raw.replaced_by is not None:
                ended = f"replaced at Alpaca by order {raw.replaced_by} (not one the toolkit sent)"
            when = raw.canceled_at or raw.expired_at or raw.replaced_at
            order.apply(OrderCancelled(order.client_order_id, ended, as_utc(when) if when is not None else at))
    return order
