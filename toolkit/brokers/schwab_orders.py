"""Our orders in Schwab's words and back: the order spec sent, and the model Order read from Schwab's JSON.

Out: :func:`order_spec` builds the spec with schwab-py's own ``OrderBuilder`` (and
``first_triggers_second`` + ``one_cancels_other`` for a bracket), after
:func:`check_terms` has refused what Schwab's API does not take (fractional shares,
sub-penny prices, opening/closing-auction time in force).

Back: :func:`broker_view` rebuilds a model :class:`~toolkit.model.Order` from one
order of ``GET /orders``: ``OrderAccepted`` (Schwab's order id), one ``OrderFilled`` per
execution leg of ``orderActivityCollection`` (``fill_id = "{orderId}:{activityId}:{legId}"``,
so a leg reported twice is one fill, and legs are replayed oldest first whatever order
Schwab lists them in), then ``OrderCancelled`` (CANCELED, EXPIRED, REPLACED) or
``OrderRejected`` (REJECTED, with Schwab's ``statusDescription``). The status is never
copied: it follows from applying those events.

:func:`matches` is the crash-recovery question "could this Schwab order be ours?":
same symbol, instruction (BUY/SELL), quantity and order type.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pandas as pd
from schwab.orders.common import (
    Duration,
    EquityInstruction,
    OrderStrategyType,
    Session,
    StopPriceLinkBasis,
    StopPriceLinkType,
    StopType,
    first_triggers_second,
    one_cancels_other,
)
from schwab.orders.common import OrderType as SchwabType
from schwab.orders.generic import OrderBuilder

from toolkit.errors import BrokerError, IllegalTransition, InvalidInput, UnsupportedOrder
from toolkit.model import (
    Fill,
    Order,
    OrderAccepted,
    OrderCancelled,
    OrderEvent,
    OrderFilled,
    OrderRejected,
    OrderSide,
    OrderType,
    TimeInForce,
    TradingMode,
    to_decimal,
)

__all__ = ["ENDED", "WORKING", "broker_view", "check_terms", "entered_at", "fills_of", "flatten", "is_equity_order",
           "matches", "order_id_of", "order_spec", "timestamp"]

BROKER = "schwab"

#: Schwab statuses of an order that may still fill: what "open" means at Schwab.
WORKING = frozenset({
    "AWAITING_PARENT_ORDER", "AWAITING_CONDITION", "AWAITING_STOP_CONDITION", "AWAITING_MANUAL_REVIEW",
    "ACCEPTED", "AWAITING_UR_OUT", "PENDING_ACTIVATION", "QUEUED", "WORKING", "PENDING_CANCEL",
    "PENDING_REPLACE", "NEW", "AWAITING_RELEASE_TIME", "PENDING_ACKNOWLEDGEMENT", "PENDING_RECALL",
})
#: Schwab statuses that end an order without (all of) its fills, and the reason recorded.
ENDED = {
    "CANCELED": "cancelled at Schwab",
    "EXPIRED": "expired at Schwab (end of its time in force)",
    "REPLACED": "replaced at Schwab by another order (changed by hand); the replacement is not this order",
}

#: Our single-order types and Schwab's ``orderType`` for them.
SCHWAB_TYPE: dict[OrderType, str] = {
    OrderType.MARKET: "MARKET",
    OrderType.LIMIT: "LIMIT",
    OrderType.STOP: "STOP",
    OrderType.STOP_LIMIT: "STOP_LIMIT",
    OrderType.TRAILING_STOP: "TRAILING_STOP",
}
MODEL_TYPE = {v: k for k, v in SCHWAB_TYPE.items()} | {"MARKET_ON_CLOSE": OrderType.MARKET_ON_CLOSE}
DURATION: dict[TimeInForce, Duration] = {
    TimeInForce.DAY: Duration.DAY,
    TimeInForce.GTC: Duration.GOOD_TILL_CANCEL,
    TimeInForce.IOC: Duration.IMMEDIATE_OR_CANCEL,
    TimeInForce.FOK: Duration.FILL_OR_KILL,
}
TIME_IN_FORCE = {d.value: t for t, d in DURATION.items()}
PRICE_FIELDS = ("limit_price", "stop_price", "trail_price", "take_profit_price", "stop_loss_price")


# ----------------------------------------------------------------------------- out


def check_terms(order: Order) -> None:
    """Refuse, before anything is sent, what Schwab's order API does not take."""
    coid = order.client_order_id
    if order.quantity <= 0 or order.quantity != order.quantity.to_integral_value():
        raise UnsupportedOrder(BROKER, f"quantity: got {order.quantity} for {coid}; allowed: a whole number of "
                                       "shares above 0 (Schwab's API takes no fractional quantities); nothing was sent")
    if order.time_in_force not in DURATION:
        allowed = ", ".join(t.value for t in DURATION)
        raise UnsupportedOrder(BROKER, f"time_in_force: got {order.time_in_force.value!r} for {coid}; allowed: "
                                       f"{allowed}; nothing was sent")
    for name in PRICE_FIELDS:
        price = getattr(order, name)
        if price is not None and price != price.quantize(_tick(price)):
            raise UnsupportedOrder(BROKER, f"{name}: got {price} for {coid}; allowed: whole cents at or above $1, "
                                           "4 decimals below (Schwab's price increments); nothing was sent")
    if order.trail_percent is not None and order.trail_percent != order.trail_percent.quantize(Decimal("0.01")):
        raise UnsupportedOrder(BROKER, f"trail_percent: got {order.trail_percent} for {coid}; allowed: a percent "
                                       "with at most 2 decimals; nothing was sent")


def order_spec(order: Order) -> dict[str, Any]:
    """The JSON Schwab's ``POST /orders`` takes for ``order`` (call :func:`check_terms` first)."""
    duration = DURATION[order.time_in_force]
    quantity = int(order.quantity)
    buy = order.side is OrderSide.BUY
    instruction = EquityInstruction.BUY if buy else EquityInstruction.SELL
    if order.order_type is OrderType.BRACKET:
        assert order.take_profit_price is not None and order.stop_loss_price is not None
        entry_type = SchwabType.LIMIT if order.limit_price is not None else SchwabType.MARKET
        entry = _single(instruction, order.symbol, quantity, entry_type, duration, price=order.limit_price)
        exit_instruction = EquityInstruction.SELL if buy else EquityInstruction.BUY
        take = _single(exit_instruction, order.symbol, quantity, SchwabType.LIMIT, duration,
                       price=order.take_profit_price)
        stop = _single(exit_instruction, order.symbol, quantity, SchwabType.STOP, duration,
                       stop=order.stop_loss_price)
        spec: dict[str, Any] = first_triggers_second(entry, one_cancels_other(take, stop)).build()
        return spec
    builder = _single(instruction, order.symbol, quantity, SchwabType[SCHWAB_TYPE[order.order_type]], duration,
                      price=order.limit_price, stop=order.stop_price)
    if order.order_type is OrderType.TRAILING_STOP:
        percent = order.trail_percent is not None
        offset = order.trail_percent if percent else order.trail_price
        assert offset is not None
        (builder.set_stop_price_link_basis(StopPriceLinkBasis.LAST)
         .set_stop_price_link_type(StopPriceLinkType.PERCENT if percent else StopPriceLinkType.VALUE)
         .set_stop_price_offset(float(offset))
         .set_stop_type(StopType.STANDARD))
    out: dict[str, Any] = builder.build()
    return out


def _single(instruction: EquityInstruction, symbol: str, quantity: int, kind: SchwabType, duration: Duration, *,
            price: Decimal | None = None, stop: Decimal | None = None) -> OrderBuilder:
    builder = (OrderBuilder()
               .set_order_type(kind)
               .set_session(Session.NORMAL)
               .set_duration(duration)
               .set_order_strategy_type(OrderStrategyType.SINGLE)
               .add_equity_leg(instruction, symbol, quantity))
    if price is not None:
        builder.set_price(_price_text(price))
    if stop is not None:
        builder.set_stop_price(_price_text(stop))
    return builder


def _tick(price: Decimal) -> Decimal:
    return Decimal("0.01") if price >= 1 else Decimal("0.0001")


def _price_text(price: Decimal) -> str:
    """Prices go to schwab-py as text: it truncates floats (and warns that floats are deprecated)."""
    return format(price.quantize(_tick(price)), "f")


# ----------------------------------------------------------------------------- back


def timestamp(value: Any) -> pd.Timestamp | None:
    """A Schwab time (ISO text such as ``2026-12-01T15:55:02+0000``, or epoch milliseconds) as UTC."""
    if value is None or value == "":
        return None
    ts = pd.Timestamp(int(value), unit="ms") if isinstance(value, int | float) else pd.Timestamp(value)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def order_id_of(data: dict[str, Any]) -> str:
    return str(data.get("orderId"))


def entered_at(data: dict[str, Any]) -> pd.Timestamp | None:
    return timestamp(data.get("enteredTime"))


def flatten(orders: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every order and, after it, its child orders (a bracket's exits are orders of their own at Schwab)."""
    for data in orders:
        yield data
        yield from flatten(list(data.get("childOrderStrategies") or []))


def _leg(data: dict[str, Any]) -> dict[str, Any] | None:
    legs = data.get("orderLegCollection") or []
    return legs[0] if len(legs) == 1 and isinstance(legs[0], dict) else None


def _symbol_side(data: dict[str, Any]) -> tuple[str, OrderSide, str] | None:
    leg = _leg(data)
    if leg is None:
        return None
    symbol = str((leg.get("instrument") or {}).get("symbol") or "")
    instruction = str(leg.get("instruction") or "")
    if not symbol or instruction not in ("BUY", "SELL", "BUY_TO_COVER", "SELL_SHORT"):
        return None
    return symbol, OrderSide.BUY if instruction.startswith("BUY") else OrderSide.SELL, instruction


def is_equity_order(data: dict[str, Any]) -> bool:
    """A single-leg BUY/SELL/SELL_SHORT/BUY_TO_COVER order: what the toolkit trades (options and spreads are not)."""
    return _symbol_side(data) is not None


def _quantity(data: dict[str, Any]) -> Decimal:
    leg = _leg(data) or {}
    return to_decimal(data.get("quantity", leg.get("quantity")), "quantity")


def matches(order: Order, data: dict[str, Any]) -> bool:
    """Could Schwab order ``data`` be ``order``? Same symbol, BUY/SELL, quantity and order type."""
    found = _symbol_side(data)
    if found is None:
        return False
    symbol, _, instruction = found
    if symbol != order.symbol or instruction != ("BUY" if order.side is OrderSide.BUY else "SELL"):
        return False
    try:
        if _quantity(data) != order.quantity:
            return False
    except InvalidInput:
        return False
    trigger = data.get("orderStrategyType") == "TRIGGER"
    if order.order_type is OrderType.BRACKET:
        return trigger and data.get("orderType") == ("LIMIT" if order.limit_price is not None else "MARKET")
    return not trigger and data.get("orderType") == SCHWAB_TYPE.get(order.order_type)


def _bracket_exits(data: dict[str, Any]) -> tuple[Decimal, Decimal] | None:
    """Take-profit limit and stop-loss trigger of a TRIGGER order whose child is an OCO of a limit and a stop."""
    for child in data.get("childOrderStrategies") or []:
        if child.get("orderStrategyType") != "OCO":
            continue
        take = stop = None
        for leg in child.get("childOrderStrategies") or []:
            if leg.get("orderType") == "LIMIT" and leg.get("price") is not None:
                take = to_decimal(leg["price"], "price")
            elif leg.get("orderType") == "STOP" and leg.get("stopPrice") is not None:
                stop = to_decimal(leg["stopPrice"], "stopPrice")
        if take is not None and stop is not None:
            return take, stop
    return None


def _kind_and_terms(data: dict[str, Any]) -> tuple[OrderType, dict[str, Decimal | None], str]:
    """Our order type and price terms for Schwab order ``data``, and a note for a type we do not model."""
    schwab_type = str(data.get("orderType") or "")
    price = None if data.get("price") is None else to_decimal(data["price"], "price")
    if data.get("orderStrategyType") == "TRIGGER" and schwab_type in ("MARKET", "LIMIT"):
        exits = _bracket_exits(data)
        if exits is not None:
            return OrderType.BRACKET, {"limit_price": price if schwab_type == "LIMIT" else None,
                                       "take_profit_price": exits[0], "stop_loss_price": exits[1]}, ""
    kind = MODEL_TYPE.get(schwab_type)
    stop = None if data.get("stopPrice") is None else to_decimal(data["stopPrice"], "stopPrice")
    if kind is OrderType.TRAILING_STOP and data.get("stopPriceOffset") is not None:
        offset = to_decimal(data["stopPriceOffset"], "stopPriceOffset")
        name = "trail_percent" if data.get("stopPriceLinkType") == "PERCENT" else "trail_price"
        return kind, {name: offset}, ""
    if kind in (OrderType.LIMIT, OrderType.STOP, OrderType.STOP_LIMIT, OrderType.MARKET, OrderType.MARKET_ON_CLOSE):
        terms: dict[str, Decimal | None] = {}
        if kind in (OrderType.LIMIT, OrderType.STOP_LIMIT):
            terms["limit_price"] = price
        if kind in (OrderType.STOP, OrderType.STOP_LIMIT):
            terms["stop_price"] = stop
        return kind, terms, ""
    # A type the toolkit does not send (entered by hand): shown as a market order, named in the reason.
    return OrderType.MARKET, {}, f"; Schwab order type {schwab_type or 'unknown'}"


def fills_of(data: dict[str, Any], client_order_id: str, symbol: str, side: OrderSide) -> list[Fill]:
    """One fill per execution leg, each once, oldest first (Schwab may list them twice or out of order)."""
    oid = order_id_of(data)
    entered = entered_at(data)
    found: dict[str, tuple[tuple[Any, ...], Fill]] = {}
    for activity in data.get("orderActivityCollection") or []:
        if activity.get("activityType", "EXECUTION") != "EXECUTION":
            continue
        if activity.get("executionType", "FILL") != "FILL":
            continue
        activity_id = activity.get("activityId")
        for leg in activity.get("executionLegs") or []:
            fill_id = f"{oid}:{activity_id}:{leg.get('legId')}"
            if fill_id in found:
                continue
            quantity = to_decimal(leg.get("quantity"), "executionLegs.quantity")
            if quantity <= 0:
                continue
            at = timestamp(leg.get("time")) or entered
            if at is None:
                raise BrokerError(BROKER, f"order {oid}: execution {fill_id} has no time; cannot record it")
            fill = Fill(fill_id, client_order_id, symbol, side, quantity, to_decimal(leg.get("price"), "price"),
                        Decimal(0), at, TradingMode.ONLINE_LIVE)
            key = (at, _number(activity_id), _number(leg.get("legId")))
            found[fill_id] = (key, fill)
    return [fill for _, fill in sorted(found.values(), key=lambda kf: kf[0])]


def _number(value: Any) -> tuple[int, str]:
    text = str(value)
    return (int(text), "") if text.isdigit() else (0, text)


def _events(data: dict[str, Any], order: Order) -> Iterator[OrderEvent]:
    oid = order_id_of(data)
    coid = order.client_order_id
    status = str(data.get("status") or "")
    ended_at = timestamp(data.get("closeTime")) or timestamp(data.get("cancelTime"))
    fills = fills_of(data, coid, order.symbol, order.side)
    if status == "REJECTED" and not fills:
        reason = str(data.get("statusDescription") or "rejected by Schwab")
        yield OrderRejected(coid, f"rejected by Schwab: {reason}", ended_at or entered_at(data), oid)
        return
    yield OrderAccepted(coid, entered_at(data), oid)
    yield from (OrderFilled(f) for f in fills)
    if (status in ENDED or status == "REJECTED") and sum(f.quantity for f in fills) < order.quantity:
        reason = ENDED.get(status) or f"rejected by Schwab: {data.get('statusDescription') or 'no reason given'}"
        yield OrderCancelled(coid, reason, ended_at)


def broker_view(data: dict[str, Any], client_order_id: str, *, ours: Order | None = None) -> Order:
    """The model Order Schwab's JSON describes, under our ``client_order_id``.

    ``ours`` (the order as we sent it, when known) lends what Schwab does not keep: the
    decision price, the reason and our creation time.
    """
    oid = order_id_of(data)
    found = _symbol_side(data)
    if found is None:
        raise BrokerError(BROKER, f"order {oid}: not a single-leg equity order; the toolkit does not trade it")
    symbol, side, _ = found
    try:
        kind, terms, note = _kind_and_terms(data)
        created = entered_at(data) if ours is None or ours.created_at is None else ours.created_at
        order = Order(
            client_order_id=client_order_id, symbol=symbol, side=side, quantity=_quantity(data),
            reference_price=None if ours is None else ours.reference_price, order_type=kind,
            mode=TradingMode.ONLINE_LIVE, reason=(f"schwab order {oid}" if ours is None else ours.reason) + note,
            created_at=created, broker_order_id=oid,
            time_in_force=TIME_IN_FORCE.get(str(data.get("duration")), TimeInForce.DAY), **terms,
        )
        for event in _events(data, order):
            order.apply(event)
    except (InvalidInput, IllegalTransition) as e:
        raise BrokerError(BROKER, f"order {oid}: Schwab's report of it does not add up ({e}); check the "
                                  "order in Schwab's app") from None
    return order
