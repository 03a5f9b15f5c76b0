"""Weights -> order intents: shares, crypto steps, minimums, ordering, cash safety."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from toolkit.engine.translator import translate
from toolkit.errors import InvalidInput
from toolkit.model import CostModel, Instrument, OrderSide

BTC = Instrument.crypto("0.00001", "10")


def by_symbol(intents):
    return {i.symbol: i for i in intents}


def test_whole_shares_floor_to_spend_no_more_than_target():
    out = translate({"SPY": 0.5, "QQQ": 0.5}, positions={}, cash=D("10000"), prices={"SPY": D("270.13"), "QQQ": D("163.7")})
    got = by_symbol(out)
    assert got["SPY"].quantity == 18  # 5000 / 270.13 = 18.5
    assert got["QQQ"].quantity == 30  # 5000 / 163.7 = 30.5
    for i in out:
        assert i.side is OrderSide.BUY and i.quantity == i.quantity.to_integral_value()
        assert i.notional <= D("5000")
        assert i.reference_price in (D("270.13"), D("163.7"))
        assert "50.00%" in i.reason


def test_sell_to_target_and_close_on_zero():
    out = translate({"SPY": 0.0, "QQQ": 0.2}, positions={"SPY": D(10), "QQQ": D(100)}, cash=D(0),
                    prices={"SPY": D(100), "QQQ": D(100)})
    got = by_symbol(out)
    assert got["SPY"].side is OrderSide.SELL and got["SPY"].quantity == 10
    # equity 11,000 x 0.2 = 2,200 -> 22 shares; sell 78
    assert got["QQQ"].side is OrderSide.SELL and got["QQQ"].quantity == 78


def test_untargeted_holdings_are_left_alone():
    out = translate({"SPY": 0.5}, positions={"MANUAL": D(5)}, cash=D(1000), prices={"SPY": D(10), "MANUAL": D(100)})
    assert [i.symbol for i in out] == ["SPY"]
    assert out[0].quantity == 75  # equity 1500 x 0.5 / 10


def test_crypto_rounds_down_to_step():
    out = translate({"BTCUSDT": 0.5}, positions={}, cash=D("1000"), prices={"BTCUSDT": D("43123.45")},
                    instruments={"BTCUSDT": BTC})
    (i,) = out
    assert i.quantity == D("0.01159")  # 500 / 43123.45 = 0.011594...
    assert i.quantity % D("0.00001") == 0
    assert i.notional <= 500


def test_crypto_under_min_notional_dropped():
    out = translate({"BTCUSDT": 0.005}, positions={}, cash=D("1000"), prices={"BTCUSDT": D("40000")},
                    instruments={"BTCUSDT": BTC})
    assert list(out) == []
    assert out.skipped and "min_notional" in out.skipped[0].reason


def test_crypto_sell_ceils_to_step_within_holding():
    # held 0.012345 (off-step dust), equity 493.80 -> target floor(0.0061725) = 0.00617;
    # selling 0.006175 is off-step, so sell ceil = 0.00618 and end at 0.006165 <= target
    out = translate({"BTCUSDT": 0.5}, positions={"BTCUSDT": D("0.012345")}, cash=D(0), prices={"BTCUSDT": D("40000")},
                    instruments={"BTCUSDT": Instrument.crypto("0.00001", "0")})
    (i,) = out
    assert i.side is OrderSide.SELL and i.quantity == D("0.00618")
    assert i.target_quantity == D("0.00617")


def test_min_order_fraction_drops_small_orders():
    kw = dict(positions={"SPY": D(49)}, cash=D("5100"), prices={"SPY": D(100), "QQQ": D(100)})
    out = translate({"SPY": 0.5, "QQQ": 0.01}, min_order_fraction=0.02, **kw)
    # SPY: target 50 vs held 49 -> 100$ < 2% of 10,000; QQQ 100$ too
    assert list(out) == []
    assert {s.symbol for s in out.skipped} == {"SPY", "QQQ"}
    assert all("min_order_fraction" in s.reason for s in out.skipped)
    assert len(translate({"SPY": 0.5, "QQQ": 0.01}, min_order_fraction=0.0, **kw)) == 2


def test_sells_come_before_buys():
    out = translate({"AAA": 0.9, "ZZZ": 0.0}, positions={"ZZZ": D(50)}, cash=D(0), prices={"AAA": D(10), "ZZZ": D(10)})
    assert [(i.symbol, i.side) for i in out] == [("ZZZ", OrderSide.SELL), ("AAA", OrderSide.BUY)]
    assert out[1].quantity == 45


def test_buys_scaled_so_cash_never_negative_with_fees_and_slippage():
    costs = CostModel(slippage_bps=10, fee_bps=10, fixed_fee=D("1"))
    prices = {"AAA": D(10), "BBB": D(20)}
    out = translate({"AAA": 0.5, "BBB": 0.5}, positions={}, cash=D(1000), prices=prices, costs=costs)
    spent = sum(costs.buy_cost(i.quantity, i.reference_price) for i in out)
    assert spent <= 1000
    # the unscaled plan (50 + 25) does not fit; the scaled one is within a few shares
    got = by_symbol(out)
    assert got["AAA"].quantity + 2 * got["BBB"].quantity >= 95
    assert any("scaled down" in i.reason for i in out)


def test_buys_funded_by_sell_proceeds_net_of_costs():
    costs = CostModel(slippage_bps=50, fee_bps=20)
    out = translate({"AAA": 0.0, "BBB": 1.0}, positions={"AAA": D(100)}, cash=D(0),
                    prices={"AAA": D(10), "BBB": D(10)}, costs=costs)
    sell, buy = out
    proceeds = costs.sell_proceeds(sell.quantity, sell.reference_price)
    assert costs.buy_cost(buy.quantity, buy.reference_price) <= proceeds
    assert buy.quantity == 98
    no_proceeds = translate({"AAA": 0.0, "BBB": 1.0}, positions={"AAA": D(100)}, cash=D(0),
                            prices={"AAA": D(10), "BBB": D(10)}, costs=costs, use_sell_proceeds=False)
    assert [i.side for i in no_proceeds] == [OrderSide.SELL]


def test_scaling_is_deterministic():
    args = dict(positions={}, cash=D("997.3"), prices={"A": D("3.3"), "B": D("7.1"), "C": D("11.9")},
                costs=CostModel(fee_bps=25, fixed_fee=D("0.5")))
    runs = [[(i.symbol, i.quantity) for i in translate({"A": 0.3, "B": 0.3, "C": 0.4}, **args)] for _ in range(3)]
    assert runs[0] == runs[1] == runs[2]


def test_missing_price_names_symbol():
    with pytest.raises(ValueError, match=r"prices\[QQQ\]"):
        translate({"SPY": 0.5, "QQQ": 0.5}, positions={}, cash=D(1000), prices={"SPY": D(100)})


def test_held_symbol_without_price_needs_equity():
    with pytest.raises(InvalidInput, match=r"prices\[OLD\]"):
        translate({"SPY": 0.5}, positions={"OLD": D(1)}, cash=D(1000), prices={"SPY": D(100)})
    out = translate({"SPY": 0.5}, positions={"OLD": D(1)}, cash=D(1000), prices={"SPY": D(100)}, equity=D(1200))
    assert out[0].quantity == 6


@pytest.mark.parametrize("weights,match", [
    ({"SPY": -0.1}, "long-only"),
    ({"SPY": float("nan")}, "finite"),
    ({"SPY": 0.7, "QQQ": 0.7}, "at most 1"),
])
def test_bad_weights(weights, match):
    with pytest.raises(InvalidInput, match=match):
        translate(weights, positions={}, cash=D(1000), prices={"SPY": D(1), "QQQ": D(1)})

