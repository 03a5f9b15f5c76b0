"""SimulatedBroker: fills, slippage, fees, partial fills, rejections, idempotency, FIFO, resume."""

from __future__ import annotations

import json
from decimal import Decimal as D

import pandas as pd
import pytest

from toolkit.brokers import Broker, SimulatedVenue
from toolkit.brokers.simulated import SimulatedBroker
from toolkit.engine.translator import translate
from toolkit.errors import InvalidInput
from toolkit.model import (
    CostModel,
    Instrument,
    Order,
    OrderAccepted,
    OrderFilled,
    OrderSide,
    OrderStatus,
    TradingMode,
    client_order_id,
)

T1 = pd.Timestamp("2018-07-02T20:00Z")  # 2018-07-02 close
T2 = pd.Timestamp("2018-07-03T17:00Z")  # 2018-07-03 (early close 13:00 NY)
T3 = pd.Timestamp("2018-07-05T20:00Z")


def order(coid: str, sym: str, side: str, qty, **kw) -> Order:
    return Order(client_order_id=coid, symbol=sym, side=OrderSide(side), quantity=D(str(qty)), **kw)


def intent_order(i) -> Order:
    """The order a session sends for a translator intent (its deterministic id, its decision price)."""
    coid = client_order_id("s", "a", "2018-07-02", "close", i.symbol, i.side)
    return Order(client_order_id=coid, symbol=i.symbol, side=i.side, quantity=i.quantity,
                 reference_price=i.reference_price, reason=i.reason)


def broker(**kw) -> SimulatedBroker:
    b = SimulatedBroker(initial_cash=kw.pop("initial_cash", D(10_000)), **kw)
    b.set_market({"SPY": D(100), "QQQ": D(50)}, at=T1)
    return b


def test_interface():
    b = SimulatedBroker(initial_cash=D(1))
    assert isinstance(b, Broker) and b.mode is TradingMode.OFFLINE_MOCK and b.name == "simulated"
    assert isinstance(b, SimulatedVenue)  # the engine drives its market and stores its state


def test_market_buy_fills_at_price_with_slippage_and_fees():
    b = broker(slippage_bps=10, fee_bps=5, fixed_fee=D("1"))
    ack = b.submit_order(order("o1", "SPY", "buy", 10))
    assert ack.accepted and not ack.duplicate and ack.status is OrderStatus.FILLED
    (f,) = b.get_fills()
    assert f.price == D("100.1")  # buys pay up 10 bps
    assert f.fee == D("1.5005")  # 5 bps of 1001 + 1 fixed
    assert b.get_cash() == D(10_000) - D("1001") - D("1.5005")
    assert b.get_positions() == {"SPY": D(10)}
    assert [type(e) for e in ack.order.events] == [OrderAccepted, OrderFilled]
    assert [e["status"] for e in ack.order.to_dict()["events"]] == ["submitted", "filled"]


def test_sell_receives_less_and_realises_fifo_pnl():
    b = broker(slippage_bps=10)
    b.submit_order(order("b1", "SPY", "buy", 10))  # at 100.1
    b.set_market({"SPY": D(110)}, at=T2)
    b.submit_order(order("b2", "SPY", "buy", 10))  # at 110.11
    b.set_market({"SPY": D(120)}, at=T3)
    b.submit_order(order("s1", "SPY", "sell", 15))  # at 119.88
    assert b.get_fills("s1")[0].price == D("119.88")
    # FIFO: 10 from the first lot, 5 from the second
    pos = b.position("SPY")
    assert pos.realised_pnl == 10 * (D("119.88") - D("100.1")) + 5 * (D("119.88") - D("110.11"))
    # what is left is the second lot's last 5 shares, at its price
    assert pos.quantity == 5 and pos.cost_basis == 5 * D("110.11")
    assert pos.unrealised_pnl == 5 * (D(120) - D("110.11"))
    fees = sum((f.fee for f in b.get_fills()), D(0))
    assert b.get_cash() + 5 * D(120) == D(10_000) - fees + pos.realised_pnl + pos.unrealised_pnl


def test_fixed_fee_charged_once_per_order_across_partial_fills():
    b = SimulatedBroker(initial_cash=D(10_000), fee_bps=10, fixed_fee=D(2), max_participation=0.1)
    b.set_market({"SPY": D(100)}, {"SPY": 40}, at=pd.Timestamp("2018-07-02T14:30Z"))
    ack = b.submit_order(order("o1", "SPY", "buy", 10))
    assert ack.status is OrderStatus.PARTIALLY_FILLED and ack.order.filled_quantity == 4
    fills = b.set_market({"SPY": D(101)}, {"SPY": 100}, at=pd.Timestamp("2018-07-02T19:45Z"))  # same session
    assert [f.quantity for f in fills] == [6]
    f1, f2 = b.get_fills("o1")
    assert f1.fee == D("2.4") and f2.fee == D("0.606")
    assert b.get_order("o1").status is OrderStatus.FILLED


def test_partial_fill_remainder_cancelled_at_end_of_session():
    b = SimulatedBroker(initial_cash=D(10_000), max_participation=0.01)
    b.set_market({"SPY": D(100)}, {"SPY": 500}, at=T1)
    ack = b.submit_order(order("o1", "SPY", "buy", 12))
    assert ack.status is OrderStatus.PARTIALLY_FILLED and ack.order.filled_quantity == 5
    assert [o.client_order_id for o in b.get_orders(open_only=True)] == ["o1"]
    b.set_market({"SPY": D(100)}, {"SPY": 500}, at=T2)  # next session: cancelled first, no fill
    o = b.get_order("o1")
    assert o.status is OrderStatus.CANCELLED and o.filled_quantity == 5
    assert "end of session" in o.status_reason and "7" in o.status_reason
    assert len(b.get_fills()) == 1 and b.get_positions() == {"SPY": D(5)}


def test_explicit_end_session():
    b = SimulatedBroker(initial_cash=D(10_000), max_participation=0.5)
    b.set_market({"SPY": D(100)}, {"SPY": 0}, at=T1)
    ack = b.submit_order(order("o1", "SPY", "buy", 3))
    assert ack.status is OrderStatus.SUBMITTED  # no volume, nothing filled yet
    (cancelled,) = b.end_session()
    assert cancelled.status is OrderStatus.CANCELLED


@pytest.mark.parametrize("o,reason", [
    (order("r1", "TSLA", "buy", 1), "unknown symbol TSLA"),
    (order("r2", "SPY", "buy", 0), "quantity must be > 0"),
    (order("r3", "SPY", "buy", -3), "quantity must be > 0"),
    (order("r4", "SPY", "buy", "1.5"), "not a multiple of step 1"),
    (order("r5", "SPY", "buy", 101), "insufficient cash"),
    (order("r6", "SPY", "sell", 1), "only 0 held"),
    (order("r7", "SPY", "buy", 1, mode="paper"), "does not match broker mode"),
])
def test_rejections(o, reason):
    b = broker()
    ack = b.submit_order(o)
    assert not ack.accepted and ack.status is OrderStatus.REJECTED
    assert reason in ack.reason
    assert b.get_order(o.client_order_id).status is OrderStatus.REJECTED
    assert b.get_cash() == D(10_000) and b.get_fills() == []


def test_reject_before_any_market():
    ack = SimulatedBroker(initial_cash=D(1)).submit_order(order("x", "SPY", "buy", 1))
    assert ack.status is OrderStatus.REJECTED and "set_market" in ack.reason


def test_open_sells_reserve_the_position():
    b = SimulatedBroker(initial_cash=D(10_000), max_participation=0.01)
    b.set_market({"SPY": D(100)}, at=T1)  # no volumes: no cap
    b.submit_order(order("b", "SPY", "buy", 10))
    b.set_market({"SPY": D(100)}, {"SPY": 300}, at=T1 + pd.Timedelta("1min"))
    assert b.submit_order(order("s1", "SPY", "sell", 8)).status is OrderStatus.PARTIALLY_FILLED
    ack = b.submit_order(order("s2", "SPY", "sell", 3))
    assert ack.status is OrderStatus.REJECTED and "net of open sells" in ack.reason


def test_margin_account_may_borrow():
    b = broker(cash_account=False)
    assert b.submit_order(order("m", "SPY", "buy", 150)).status is OrderStatus.FILLED
    assert b.get_cash() == D(-5000)


def test_idempotent_submit_never_fills_twice():
    b = broker()
    first = b.submit_order(order("same", "SPY", "buy", 10))
    again = b.submit_order(order("same", "SPY", "buy", 10))
    changed = b.submit_order(order("same", "QQQ", "buy", 99))  # same id, different content
    assert again.duplicate and changed.duplicate and not first.duplicate
    assert again.order.to_dict() == first.order.to_dict() == changed.order.to_dict()
    assert len(b.get_fills()) == 1 and b.get_positions() == {"SPY": D(10)}
    # a rejected id stays rejected on resubmission too
    b.submit_order(order("bad", "SPY", "sell", 100))
    assert b.submit_order(order("bad", "SPY", "sell", 1)).status is OrderStatus.REJECTED


def test_returned_orders_are_copies():
    b = broker()
    ack = b.submit_order(order("o", "SPY", "buy", 1))
    ack.order.reason = "tampered"
    assert b.get_order("o").reason == ""


def test_cancel():
    b = SimulatedBroker(initial_cash=D(10_000), max_participation=0.5)
    b.set_market({"SPY": D(100)}, {"SPY": 2}, at=T1)
    b.submit_order(order("o", "SPY", "buy", 5))
    assert b.cancel("o").status is OrderStatus.CANCELLED
    assert b.cancel("o").status is OrderStatus.CANCELLED  # terminal: unchanged
    with pytest.raises(InvalidInput, match="client_order_id"):
        b.cancel("unknown")


def test_limit_order_waits_for_price():
    b = broker()
    ack = b.submit_order(order("l", "SPY", "buy", 1, order_type="limit", limit_price=D(95)))
    assert ack.status is OrderStatus.SUBMITTED
    fills = b.set_market({"SPY": D(94)}, at=T1 + pd.Timedelta("1min"))
    assert [f.price for f in fills] == [D(94)]


def test_market_time_must_not_go_back_and_needs_tz():
    b = broker()
    with pytest.raises(InvalidInput, match="at"):
        b.set_market({"SPY": D(1)}, at=T1 - pd.Timedelta("1s"))
    with pytest.raises(InvalidInput, match="timezone"):
        b.set_market({"SPY": D(1)}, at="2018-07-02 16:00")


def test_crypto_fractional_fills():
    spec = {"BTCUSDT": Instrument.crypto("0.00001", "10")}
    b = SimulatedBroker(initial_cash=D(1000), instruments=spec, fee_bps=10)
    b.set_market({"BTCUSDT": D("6400.5")}, at=T1)
    intents = translate({"BTCUSDT": 0.9}, positions={}, cash=b.get_cash(), prices={"BTCUSDT": D("6400.5")},
                        instruments=spec, costs=b.costs)
    o = intent_order(intents[0])
    assert b.submit_order(o).status is OrderStatus.FILLED
    assert b.get_positions()["BTCUSDT"] == D("0.14061")
    assert b.get_cash() >= 0


def test_translator_and_broker_agree_on_costs_to_the_last_cent():
    b = SimulatedBroker(initial_cash=D(1000), slippage_bps=7, fee_bps=13, fixed_fee=D("0.35"))
    prices = {"A": D("9.87"), "B": D("23.45")}
    b.set_market(prices, at=T1)
    intents = translate({"A": 0.5, "B": 0.5}, positions={}, cash=b.get_cash(), prices=prices, costs=b.costs)
    for i in intents:
        ack = b.submit_order(intent_order(i))
        assert ack.status is OrderStatus.FILLED
    assert b.get_cash() == D(1000) - sum(b.costs.buy_cost(i.quantity, i.reference_price) for i in intents)
    assert b.get_cash() >= 0


def test_state_round_trips_through_json_and_resumes():
    b = SimulatedBroker(initial_cash=D(10_000), slippage_bps=5, fee_bps=2, fixed_fee=D(1), max_participation=0.01,
                        instruments={"BTCUSDT": Instrument.crypto("0.00001", "10")})
    b.set_market({"SPY": D(100), "BTCUSDT": D(6000)}, {"SPY": 500}, at=T1)
    b.submit_order(order("a", "SPY", "buy", 12))  # partial: 5
    b.submit_order(order("c", "BTCUSDT", "buy", "0.1"))
    state = json.loads(json.dumps(b.to_dict()))
    r = SimulatedBroker.from_dict(state)
    assert r.to_dict() == b.to_dict()
    # both continue identically
    for x in (b, r):
        x.set_market({"SPY": D(101), "BTCUSDT": D(6100)}, {"SPY": 1000}, at=T1 + pd.Timedelta("1min"))
        x.submit_order(order("a", "SPY", "buy", 12))  # duplicate after resume: no second order
        x.set_market({"SPY": D(102), "BTCUSDT": D(6200)}, at=T2)
        x.submit_order(order("d", "SPY", "sell", 3))
    assert r.to_dict() == b.to_dict()
    assert r.get_order("a").filled_quantity == 12 and len(r.get_orders()) == 3


def test_cost_model_is_shared():
    b = SimulatedBroker(initial_cash=D(1), slippage_bps=3, fee_bps=4, fixed_fee=1)
    assert b.costs == CostModel(slippage_bps=3, fee_bps=4, fixed_fee=1)
