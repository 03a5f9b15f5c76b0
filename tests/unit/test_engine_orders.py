"""Order state machine, fills on orders, and the client order id."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pandas as pd
import pytest

from toolkit.engine.orders import (
    TRANSITIONS,
    Fill,
    IllegalTransition,
    InvalidInput,
    Order,
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


def make_order(status: OrderStatus = S.NEW, qty: str = "10") -> Order:
    o = Order(client_order_id="id-1", symbol="SPY", side=OrderSide.BUY, quantity=Decimal(qty))
    path = {
        S.NEW: [], S.SUBMITTED: [S.SUBMITTED], S.PARTIALLY_FILLED: [S.SUBMITTED, S.PARTIALLY_FILLED],
        S.FILLED: [S.SUBMITTED, S.FILLED], S.CANCELLED: [S.CANCELLED], S.REJECTED: [S.REJECTED],
    }[status]
    for step in path:
        o.transition(step)
    return o


def test_transition_table_is_exactly_the_documented_one():
    got = {(a, b) for a, targets in TRANSITIONS.items() for b in targets}
    assert got == LEGAL


@pytest.mark.parametrize("current,target", list(itertools.product(OrderStatus, OrderStatus)))
def test_every_pair_is_legal_or_raises(current, target):
    o = make_order(current)
    if (current, target) in LEGAL:
        o.transition(target, at=pd.Timestamp("2018-01-02T15:00Z"), reason="test")
        assert o.status is target
        assert o.events[-1]["status"] == target.value
    else:
        with pytest.raises(IllegalTransition) as err:
            o.transition(target)
        assert current.value in str(err.value) and target.value in str(err.value)
        assert o.status is current


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
    o.apply_fill(_fill("4", "100"))
    assert o.status is S.PARTIALLY_FILLED and o.remaining_quantity == 6
    o.apply_fill(_fill("6", "110", 2))
    assert o.status is S.FILLED
    assert o.average_fill_price == Decimal("106") and o.fees == 2


def test_apply_fill_needs_submitted_and_respects_remaining():
    with pytest.raises(IllegalTransition):
        make_order(S.NEW).apply_fill(_fill("1", "100"))
    o = make_order(S.SUBMITTED)
    with pytest.raises(InvalidInput, match="remaining"):
        o.apply_fill(_fill("11", "100"))
    assert o.filled_quantity == 0


def test_order_round_trip():
    o = make_order(S.SUBMITTED)
    o.apply_fill(_fill("4", "100"))
    back = Order.from_dict(o.to_dict())
    assert back.to_dict() == o.to_dict() and back.status is S.PARTIALLY_FILLED


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
