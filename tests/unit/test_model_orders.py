"""Order state machine (orders move only by events), fills on orders, and the client order id."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pandas as pd
import pytest

from toolkit.errors import IllegalTransition, InvalidInput
from toolkit.model import (
    TRANSITIONS,
    Fill,
    Order,
    OrderAccepted,
    OrderCancelled,
    OrderFilled,
    OrderRejected,
    OrderSide,
    OrderStatus,
    client_order_id,
    to_decimal,
)

S = OrderStatus
LEGAL = {
    (S.NEW, S.SUBMITTED), (S.NEW, S.REJECTED), (S.NEW, S.CANCELLED),
    (S.SUBMITTED, S.PARTIALLY_FILLED), (S.SUBMITTED, S.FILLED), (S.SUBMITTED, S.CANCELLED), (S.SUBMITTED, S.REJECTED),
    (S.PARTIALLY_FILLED, S.PARTIALLY_FILLED), (S.PARTIALLY_FILLED, S.FILLED), (S.PARTIALLY_FILLED, S.CANCELLED),
}


def event_to(o: Order, target: OrderStatus, at=None, reason=None):
    """The event that moves ``o`` to ``target`` (a fill of 1 share, or of the rest, for the fill statuses)."""
    n = len(o.events) + 1
    if target is S.SUBMITTED:
        return OrderAccepted(o.client_order_id, at, f"B-{n}")
    if target is S.REJECTED:
        return OrderRejected(o.client_order_id, reason, at)
    if target is S.CANCELLED:
        return OrderCancelled(o.client_order_id, reason, at)
    qty = "1" if target is S.PARTIALLY_FILLED else str(o.remaining_quantity or o.quantity)
    return OrderFilled(Fill(f"id-1-F{n}", "id-1", "SPY", OrderSide.BUY, Decimal(qty), Decimal("100"), Decimal(0),
                            at or pd.Timestamp("2018-01-02T21:00Z")))


EVENT_TYPES = (OrderAccepted, OrderRejected, OrderCancelled)


def make_order(status: OrderStatus = S.NEW, qty: str = "10") -> Order:
    o = Order(client_order_id="id-1", symbol="SPY", side=OrderSide.BUY, quantity=Decimal(qty))
    path = {
        S.NEW: [], S.SUBMITTED: [S.SUBMITTED], S.PARTIALLY_FILLED: [S.SUBMITTED, S.PARTIALLY_FILLED],
        S.FILLED: [S.SUBMITTED, S.FILLED], S.CANCELLED: [S.CANCELLED], S.REJECTED: [S.REJECTED],
    }[status]
    for step in path:
        o.apply(event_to(o, step))
    return o


def test_transition_table_is_exactly_the_documented_one():
    got = {(a, b) for a, targets in TRANSITIONS.items() for b in targets}
    assert got == LEGAL


@pytest.mark.parametrize("current,target", list(itertools.product(OrderStatus, OrderStatus)))
def test_every_pair_is_legal_or_raises(current, target):
    o = make_order(current)
    if target is S.NEW:  # no event leads back to new: the move cannot even be asked for
        assert (current, target) not in LEGAL
        assert all(t.status is not S.NEW for t in EVENT_TYPES)
        return
    event = event_to(o, target, at=pd.Timestamp("2018-01-02T15:00Z"), reason="test")
    if (current, target) in LEGAL:
        o.apply(event)
        assert o.status is target
        assert o.events[-1] is event and o.to_dict()["events"][-1]["status"] == target.value
    else:
        before = o.to_dict()
        with pytest.raises(IllegalTransition) as err:
            o.apply(event)
        assert current.value in str(err.value) and target.value in str(err.value)
        assert o.status is current and o.to_dict() == before


def test_there_is_no_status_setter():
    assert not hasattr(Order, "transition") and not hasattr(Order, "apply_fill")


def test_event_for_another_order_is_refused():
    o = make_order()
    with pytest.raises(InvalidInput, match="client_order_id"):
        o.apply(OrderAccepted("id-2"))


def test_status_cannot_be_assigned():
    o = make_order()
    with pytest.raises(AttributeError):
        o.status = S.FILLED  # type: ignore[misc]


def test_terminal_flags():
    assert {s for s in OrderStatus if s.is_terminal} == {S.FILLED, S.CANCELLED, S.REJECTED}
    assert {s for s in OrderStatus if s.is_open} == {S.SUBMITTED, S.PARTIALLY_FILLED}


def _fill(qty: str, price: str, n: int = 1) -> Fill:
    return Fill(f"id-1-F{n}", "id-1", "SPY", OrderSide.BUY, Decimal(qty), Decimal(price), Decimal("1"),
                pd.Timestamp("2018-01-02T21:00Z"))


def test_apply_fill_partial_then_full():
    o = make_order(S.SUBMITTED)
    o.apply(OrderFilled(_fill("4", "100")))
    assert o.status is S.PARTIALLY_FILLED and o.remaining_quantity == 6
    o.apply(OrderFilled(_fill("6", "110", 2)))
    assert o.status is S.FILLED
    assert o.filled_notional / o.filled_quantity == Decimal("106") and o.fees == 2


def test_apply_fill_needs_submitted_and_respects_remaining():
    with pytest.raises(IllegalTransition):
        make_order(S.NEW).apply(OrderFilled(_fill("1", "100")))
    o = make_order(S.SUBMITTED)
    with pytest.raises(InvalidInput, match="remaining"):
        o.apply(OrderFilled(_fill("11", "100")))
    assert o.filled_quantity == 0


def test_order_round_trip():
    o = make_order(S.SUBMITTED)
    fill = _fill("4", "100")
    o.apply(OrderFilled(fill))
    back = Order.from_dict(o.to_dict(), fills=[fill])
    assert back.to_dict() == o.to_dict() and back.status is S.PARTIALLY_FILLED
    assert back.events == o.events


def test_to_decimal_avoids_float_noise_and_refuses_nan():
    assert to_decimal(0.1, "x") == Decimal("0.1")
    with pytest.raises(InvalidInput, match="finite"):
        to_decimal(float("nan"), "x")


# -- client order id -------------------------------------------------------------------

ARGS = ("sma_crossover", "ACC-123456", "2018-11-23", "15min_before_close", "NASDAQ", "buy")


def test_client_order_id_is_deterministic_and_readable():
    a = client_order_id(*ARGS)
    assert a == client_order_id(*ARGS)
    assert a == client_order_id("sma_crossover", "ACC-123456", pd.Timestamp("2018-11-23"), "15min_before_close",
                                "NASDAQ", OrderSide.BUY)
    assert a.startswith("smacrossov-20181123-C15-NASDAQ-B-")
    assert len(a) <= 48
    assert "123456" not in a  # the account only enters through the hash


def test_client_order_id_differs_in_every_component():
    base = client_order_id(*ARGS)
    variants = [
        ("sma_crossover2", *ARGS[1:]),
        (ARGS[0], "ACC-2", *ARGS[2:]),
        (*ARGS[:2], "2018-11-26", *ARGS[3:]),
        (*ARGS[:3], "close", *ARGS[4:]),
        (*ARGS[:4], "SPX", ARGS[5]),
        (*ARGS[:5], "sell"),
    ]
    ids = {client_order_id(*v) for v in variants}
    assert len(ids) == len(variants) and base not in ids


def test_client_order_id_unique_when_readable_parts_truncate():
    # symbols sharing the first 8 characters still differ through the hash
    a = client_order_id("s", "a", "2018-01-02", "open", "VERYLONGSYMBOL_A", "buy")
    b = client_order_id("s", "a", "2018-01-02", "open", "VERYLONGSYMBOL_B", "buy")
    assert a != b and a[:-12] == b[:-12]


def test_client_order_id_unique_over_a_year_of_sessions():
    days = pd.bdate_range("2018-01-01", "2018-12-31")
    ids = {client_order_id("s", "a", d, et, sym, side)
           for d in days for et in ("open", "close") for sym in ("SPY", "QQQ") for side in ("buy", "sell")}
    assert len(ids) == len(days) * 8


def test_client_order_id_bad_input():
    with pytest.raises(InvalidInput, match="execution_time"):
        client_order_id("s", "a", "2018-01-02", "lunch", "SPY", "buy")
    with pytest.raises(InvalidInput, match="side"):
        client_order_id("s", "a", "2018-01-02", "open", "SPY", "short")
    with pytest.raises(InvalidInput, match="account"):
        client_order_id("s", "", "2018-01-02", "open", "SPY", "buy")


def test_params_literals_match_the_model_enums() -> None:
    """Params models spell modes and execution times as literals; they must be the model's."""
    from typing import get_args

    from toolkit.model import EXECUTION_TIMES, ExecutionTimeName, TradingMode, TradingModeName

    assert get_args(ExecutionTimeName) == EXECUTION_TIMES
    assert get_args(TradingModeName) == tuple(m.value for m in TradingMode)


def test_execution_state_changes_only_by_events() -> None:
    """No field of an order's execution can be set from outside: only applying an event moves it."""
    o = Order(client_order_id="x", symbol="SPY", side="buy", quantity=10)
    for name, value in (("filled_quantity", Decimal(10)), ("filled_notional", Decimal(1)), ("fees", Decimal(1)),
                        ("status_reason", "done"), ("updated_at", None), ("status", OrderStatus.FILLED)):
        with pytest.raises(AttributeError):
            setattr(o, name, value)
    assert o.status is OrderStatus.NEW and o.filled_quantity == 0
