"""The engine against a 10-bar example computed by hand (fees, all-in sizing, next-open fills)."""

import numpy as np
import pandas as pd
import pytest

from toolkit.backtest.engine import run_backtest

CLOSES = [10, 11, 12, 11, 10, 12, 13, 12, 14, 15]
OPENS = [10, 10.5, 11.5, 11.5, 10.5, 11, 12.5, 12.5, 13, 14.5]


def _bars(symbols=("AAA",), closes=CLOSES, opens=OPENS):
    idx = pd.date_range("2020-01-01", periods=len(closes), freq="D", tz="UTC", name="timestamp")
    cols = {}
    for s in symbols:
        c = np.asarray(closes, dtype=float)
        o = np.asarray(opens, dtype=float)
        cols.update({(s, "open"): o, (s, "high"): np.maximum(o, c), (s, "low"): np.minimum(o, c), (s, "close"): c, (s, "volume"): 1e6})
    return pd.DataFrame(cols, index=idx)


def _weights(bars, values):
    return pd.DataFrame({"AAA": values}, index=bars.index, dtype=float)


def test_hand_computed_close_fills_with_fees():
    bars = _bars()
    w = _weights(bars, [1.0, np.nan, np.nan, np.nan, 0.0, 0.5, np.nan, np.nan, np.nan, np.nan])
    res = run_backtest(bars, w, initial_cash=1000.0, fees_bps=10)
    fee = 0.001
    # Bar 0: all in at 10; cash must also pay the fee, so size = 1000 / (10 * 1.001).
    size0 = 1000 / (10 * (1 + fee))
    # Bar 4: sell everything at 10.
    cash4 = size0 * 10 * (1 - fee)
    # Bar 5: half of equity (all cash) into the stock at 12.
    size5 = cash4 * 0.5 / 12
    cash5 = cash4 - size5 * 12 * (1 + fee)
    expected_final = cash5 + size5 * 15
    assert res.equity.iloc[-1] == pytest.approx(expected_final, rel=1e-12)
    assert res.equity.iloc[3] == pytest.approx(size0 * 11, rel=1e-12)
    assert list(res.orders["side"]) == ["buy", "sell", "buy"]
    assert res.orders["fees"].sum() == pytest.approx(fee * (size0 * 10 + size0 * 10 + size5 * 12), rel=1e-12)
    assert list(res.trades["status"]) == ["closed", "open"]
    assert res.trades["pnl"].iloc[0] == pytest.approx(cash4 - 1000, rel=1e-9)


def test_next_open_fill_uses_following_bar_open():
    bars = _bars()
    w = _weights(bars, [1.0, np.nan, np.nan, np.nan, 0.0, np.nan, np.nan, np.nan, np.nan, 1.0])
    res = run_backtest(bars, w, initial_cash=1000.0, fees_bps=0, fill="next_open")
    # Decided on bar 0, bought at bar 1's open (10.5); sold at bar 5's open (11).
    assert list(res.orders["price"]) == [10.5, 11.0]
    assert res.equity.iloc[-1] == pytest.approx(1000 / 10.5 * 11, rel=1e-12)
    # The order decided on the last bar has no next bar and is dropped.
    assert len(res.orders) == 2


def test_slippage_worsens_both_sides():
    bars = _bars()
    w = _weights(bars, [1.0, np.nan, np.nan, np.nan, 0.0] + [np.nan] * 5)
    res = run_backtest(bars, w, initial_cash=1000.0, slippage_bps=50)
    buy, sell = res.orders["price"]
    assert buy == pytest.approx(10 * 1.005) and sell == pytest.approx(10 * 0.995)


def test_several_symbols_share_cash_and_sell_before_buy():
    bars = _bars(("AAA", "BBB"))
    w = pd.DataFrame({"AAA": [1.0, np.nan, 0.0] + [np.nan] * 7, "BBB": [0.0, np.nan, 1.0] + [np.nan] * 7}, index=bars.index)
    res = run_backtest(bars, w, initial_cash=1000.0)
    rec = res.portfolio.orders.values
    on_bar2 = rec[rec["idx"] == 2]
    assert list(on_bar2["side"]) == [1, 0]  # executed in this order: sell AAA, then buy BBB
    # Selling AAA first funds the BBB buy completely: all cash is invested at bar 2.
    assert res.cash.iloc[2] == pytest.approx(0.0, abs=1e-9)
    assert res.positions["BBB"].iloc[2] == pytest.approx(1000 / 10 * 12 / 12, rel=1e-12)


def test_whole_shares_rounds_down():
    bars = _bars()
    w = _weights(bars, [1.0] + [np.nan] * 9)
    res = run_backtest(bars, w, initial_cash=1005.0, fees_bps=10, whole_shares=True)
    assert res.positions["AAA"].iloc[0] == 100.0


def test_no_order_where_instrument_has_no_price():
    bars = _bars(("AAA", "BBB"))
    bars.loc[bars.index[:3], [("BBB", f) for f in ("open", "high", "low", "close", "volume")]] = np.nan
    w = pd.DataFrame({"AAA": [0.5] + [np.nan] * 9, "BBB": [0.5] + [np.nan] * 3 + [0.5] + [np.nan] * 5}, index=bars.index)
    res = run_backtest(bars, w, initial_cash=1000.0)
    bbb = res.orders[res.orders["symbol"] == "BBB"]
    assert list(bbb["timestamp"]) == [bars.index[4]]
    assert np.isfinite(res.equity).all()


def test_matches_numba_engine():
    """Rust engine results equal vectorbt's numba engine on the same orders."""
    import vectorbt as vbt

    bars = _bars()
    w = _weights(bars, [1.0, np.nan, 0.3, np.nan, 0.0, 0.5, np.nan, 1.0, np.nan, 0.0])
    res = run_backtest(bars, w, initial_cash=1000.0, fees_bps=10, slippage_bps=5)
    close = bars[("AAA", "close")]
    pf = vbt.Portfolio.from_orders(close, w["AAA"], size_type="targetpercent", fees=0.001, slippage=0.0005,
                                   init_cash=1000.0, direction="longonly", engine="numba", freq="1D")
    np.testing.assert_allclose(res.equity.to_numpy(), pf.value().to_numpy(), rtol=1e-13)
