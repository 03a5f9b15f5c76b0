"""The one sizing rule (toolkit.model.sizing), by hand-computed cases.

The translator's own tests check its validation and wording; these check the rule
both the translator and the stepped backtest follow.
"""

from __future__ import annotations

from decimal import Decimal as D

import numpy as np
import pandas as pd

from toolkit.model import CostModel, Instrument, OrderSide, size_orders


def plan(weights, *, held=None, cash, prices, **kw):
    out = size_orders({s: D(str(w)) for s, w in weights.items()}, held=held or {}, cash=D(str(cash)),
                      prices={s: D(str(p)) for s, p in prices.items()}, **kw)
    return {(o.symbol, o.side): o for o in out.orders}, out


def test_targets_floor_and_sells_ceil_so_no_position_ends_above_target():
    # equity 1000 + 15 x 100 = 2500; AAA target 0.43 x 2500 / 100 = 10.75 -> 10: sell 5 (not 4)
    got, _ = plan({"AAA": 0.43}, held={"AAA": D(15)}, cash=1000, prices={"AAA": 100})
    assert got["AAA", OrderSide.SELL].quantity == 5 and got["AAA", OrderSide.SELL].target == 10


def test_largest_buy_absorbs_the_cost_shortfall_others_land_on_target():
    # equity 10,000, three buys whose targets cost more than cash once fees are added
    costs = CostModel(fee_bps=10, slippage_bps=5)
    got, out = plan({"A": 0.2, "B": 0.3, "C": 0.5}, cash=10_000, prices={"A": 10, "B": 10, "C": 10}, costs=costs)
    assert got["A", OrderSide.BUY].quantity == 200 and got["A", OrderSide.BUY].cut_from is None
    assert got["B", OrderSide.BUY].quantity == 300 and got["B", OrderSide.BUY].cut_from is None
    c = got["C", OrderSide.BUY]
    assert c.cut_from == 500 and c.quantity < 500
    spent = sum(costs.buy_cost(o.quantity, o.price) for o in out.orders)
    assert spent <= 10_000
    # one more share of C would not have fitted
    assert spent + costs.buy_cost(D(1), D(10)) - costs.fixed_fee > 10_000


def test_buys_funded_smallest_first_later_ones_skipped_when_cash_is_gone():
    costs = CostModel(fixed_fee=D(5))
    got, _ = plan({"A": 0.01, "B": 0.99}, cash=1000, prices={"A": 1, "B": 1}, costs=costs)
    assert got["A", OrderSide.BUY].quantity == 10
    # B: 990 wanted; cash left 1000 - 15 = 985, minus its own fixed fee -> 980
    assert got["B", OrderSide.BUY].quantity == 980
    # C (250 + 50 fee) then A (300 + 50) leave 350; B's one share costs 450 + 50: skipped
    got, out = plan({"A": 0.3, "B": 0.45, "C": 0.25}, cash=1000, prices={"A": 1, "B": 450, "C": 1},
                    costs=CostModel(fixed_fee=D(50)))
    assert {k: o.quantity for k, o in got.items()} == {("A", OrderSide.BUY): 300, ("C", OrderSide.BUY): 250}
    assert [(s.symbol, s.quantity, s.reason) for s in out.skipped] == [
        ("B", D(1), "not enough cash after sells, fees and slippage")]


def test_sell_proceeds_fund_buys_net_of_costs():
    costs = CostModel(fee_bps=20, slippage_bps=50)
    got, _ = plan({"A": 0.0, "B": 1.0}, held={"A": D(100)}, cash=0, prices={"A": 10, "B": 10}, costs=costs)
    assert got["A", OrderSide.SELL].quantity == 100
    assert got["B", OrderSide.BUY].quantity == 98  # proceeds 993.0 - fee 1.99 buy ~10.07 a share


def test_lot_steps_and_min_notional():
    btc = Instrument.crypto("0.00001", "10")
    got, out = plan({"BTC": 0.5, "ETH": 0.001}, cash=1000, prices={"BTC": "43123.45", "ETH": 2000},
                    instruments={"BTC": btc, "ETH": Instrument.crypto("0.0001", "10")})
    assert got["BTC", OrderSide.BUY].quantity == D("0.01159")
    assert [(s.symbol, "min_notional" in s.reason) for s in out.skipped] == [("ETH", True)]


def test_cut_buy_under_minimum_is_skipped_and_its_cash_stays():
    costs = CostModel(fee_bps=100)
    got, out = plan({"A": 0.5, "B": 0.5}, cash=1000, prices={"A": 100, "B": 10}, costs=costs,
                    min_order_fraction=D("0.45"))
    # A: 5 x 100 (cost 505) first, then B: 50 x 10 cut to 49 (490, above the 450 minimum)
    assert got["B", OrderSide.BUY].quantity == 49
    got, out = plan({"A": 0.5, "B": 0.5}, cash=1000, prices={"A": 100, "B": 10}, costs=costs,
                    min_order_fraction=D("0.495"))
    assert ("B", OrderSide.BUY) not in got and "min_order_fraction" in out.skipped[0].reason


def test_stepped_backtest_books_the_rules_amounts():
    """run_backtest(whole_shares) trades what size_orders says on a 2-symbol toy portfolio."""
    from toolkit.backtest.engine import run_backtest

    idx = pd.date_range("2020-01-01", periods=4, freq="D", tz="UTC", name="timestamp")
    closes = {"A": [10.0, 11.0, 12.0, 13.0], "B": [20.0, 19.0, 21.0, 22.0]}
    bars = pd.DataFrame({(s, f): c for s, c in closes.items() for f in ("open", "high", "low", "close")}, index=idx)
    w = pd.DataFrame({"A": [0.5, np.nan, 0.2, np.nan], "B": [0.5, np.nan, 0.8, np.nan]}, index=idx)
    res = run_backtest(bars, w, initial_cash=1000.0, fees_bps=10, slippage_bps=5, whole_shares=True)
    costs = CostModel(fee_bps=10, slippage_bps=5)
    first, out = plan({"A": 0.5, "B": 0.5}, cash=1000, prices={"A": 10, "B": 20}, costs=costs)
    assert res.positions["A"].iloc[0] == float(first["A", OrderSide.BUY].quantity)
    assert res.positions["B"].iloc[0] == float(first["B", OrderSide.BUY].quantity)
    cash = D(1000) - sum(costs.buy_cost(o.quantity, o.price) for o in out.orders)
    assert res.cash.iloc[0] == float(cash) or abs(res.cash.iloc[0] - float(cash)) < 1e-9
    held = {s: first[s, OrderSide.BUY].quantity for s in ("A", "B")}
    second, _ = plan({"A": 0.2, "B": 0.8}, held=held, cash=cash, prices={"A": 12, "B": 21}, costs=costs)
    for (sym, side), o in second.items():
        assert res.positions[sym].iloc[2] == float(held[sym] + side.sign * o.quantity)


def test_booked_cash_flow_is_what_the_ledger_books():
    """The stepped backtest sizes from the cash the ledger would hold, to the last digit."""
    from toolkit.ledger.accounting import fill_cash_flow
    from toolkit.model import booked_cash_flow, quantize

    costs = CostModel(fee_bps=D("7.5"), slippage_bps=D("3"), fixed_fee=D("0.35"))
    got, _ = plan({"A": 0.0, "B": 0.7}, held={"A": D("12.345")}, cash="1234.5678",
                  prices={"A": "40.499741", "B": "99.269611"}, costs=costs,
                  instruments={"A": Instrument.crypto("0.001"), "B": Instrument.crypto("0.001")})
    assert len(got) == 2
    for o in got.values():
        fill_price = costs.fill_price(o.side, o.price)
        fee = costs.fee(o.quantity * fill_price)  # what the simulated broker charges
        ledger = fill_cash_flow(o.side.value, o.quantity, quantize(fill_price), quantize(fee))
        assert booked_cash_flow(o, costs) == ledger
