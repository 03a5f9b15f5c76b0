"""Pre-trade risk guards: each one blocks with its name and a human reason."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D

import pandas as pd
import pytest
from pydantic import ValidationError

from toolkit.engine.guards import GuardSettings, MarketState, PortfolioState, RiskEngine, slippage_ok
from toolkit.engine.translator import OrderIntent
from toolkit.errors import InvalidInput
from toolkit.model import OrderSide
from toolkit.time import FixedClock

SESSION, ET = "2018-07-05", "close"
FRESH = {"NASDAQ": pd.Timestamp("2018-07-05", tz="UTC"), "SPX": pd.Timestamp("2018-07-05", tz="UTC")}
PRICES = {"NASDAQ": D(6770), "SPX": D(2736)}


def buy(sym: str, qty: int) -> OrderIntent:
    return OrderIntent(sym, OrderSide.BUY, D(qty), PRICES[sym], "test")


def sell(sym: str, qty: int) -> OrderIntent:
    return OrderIntent(sym, OrderSide.SELL, D(qty), PRICES[sym], "test")


def market(**kw) -> MarketState:
    base = dict(prices=PRICES, session_date=SESSION, execution_time=ET, last_bar_ts=FRESH)
    base.update(kw)
    return MarketState(**base)


def portfolio(**kw) -> PortfolioState:
    base = dict(cash=D(1_000_000), positions={})
    base.update(kw)
    return PortfolioState(**base)


def off(**kw) -> GuardSettings:
    """Settings with every default guard off except those given."""
    base = dict(daily_loss_limit=None, slippage_abort=None, stale_bar_check=False)
    base.update(kw)
    return GuardSettings(**base)


def test_defaults():
    s = GuardSettings()
    assert s.daily_loss_limit == 0.05 and s.slippage_abort == 0.01 and s.stale_bar_check and not s.kill_switch


def test_unknown_setting_is_an_error():
    with pytest.raises(ValidationError):
        GuardSettings(max_order_size=1)


def test_clean_run_allows_everything():
    rep = RiskEngine().check([buy("NASDAQ", 10)], portfolio(), market())
    assert rep.ok and [i.symbol for i in rep.allowed] == ["NASDAQ"]


def test_max_order_notional_blocks_one_order_with_reason():
    rep = RiskEngine(off(max_order_notional=D(500_000))).check([buy("NASDAQ", 120), buy("SPX", 10)], portfolio(), market())
    assert [i.symbol for i in rep.allowed] == ["SPX"]
    (b,) = rep.blocked
    assert b.guard == "max_order_notional"
    assert b.reason == "max_order_notional: BUY 120 NASDAQ = $812,400 > limit $500,000"
    assert not rep.halted


def test_max_position_weight_counts_existing_position():
    # held 50 NASDAQ (338,500) + buy 20 (135,400) = 473,900 of equity 1,338,500 = 35.4%
    p = portfolio(positions={"NASDAQ": D(50)})
    rep = RiskEngine(off(max_position_weight=0.3)).check([buy("NASDAQ", 20), buy("SPX", 10)], p, market())
    (b,) = rep.blocked
    assert b.guard == "max_position_weight" and "BUY 20 NASDAQ" in b.reason and "35.41%" in b.reason
    assert "limit 30.00%" in b.reason
    assert [i.symbol for i in rep.allowed] == ["SPX"]


def test_sells_pass_exposure_guards():
    p = portfolio(positions={"NASDAQ": D(100)})
    rep = RiskEngine(off(max_position_weight=0.1, max_gross_exposure=0.1)).check([sell("NASDAQ", 10)], p, market())
    assert rep.ok


def test_max_gross_exposure_is_cumulative_after_sells():
    # equity 1,000,000: SPX buy 200 = 547,200 ok; NASDAQ 70 = 473,900 -> gross 102% blocked
    rep = RiskEngine(off(max_gross_exposure=1.0)).check([buy("SPX", 200), buy("NASDAQ", 70)], portfolio(), market())
    assert [i.symbol for i in rep.allowed] == ["SPX"]
    (b,) = rep.blocked
    assert b.guard == "max_gross_exposure" and "102.11%" in b.reason and "limit 100.00%" in b.reason


def test_kill_switch_blocks_everything():
    intents = [sell("SPX", 1), buy("NASDAQ", 1)]
    rep = RiskEngine(off(kill_switch=True)).check(intents, portfolio(positions={"SPX": D(5)}), market())
    assert rep.halted and not rep.allowed and len(rep.blocked) == 2
    assert all(b.guard == "kill_switch" for b in rep.blocked)
    eng = RiskEngine(off())
    eng.engage_kill_switch("operator pressed stop")
    rep = eng.check(intents, portfolio(positions={"SPX": D(5)}), market())
    assert "operator pressed stop" in rep.reasons[0]


def test_daily_loss_limit_halts():
    p = portfolio(cash=D(94_000), start_of_day_equity=D(100_000))
    rep = RiskEngine(off(daily_loss_limit=0.05)).check([buy("SPX", 1)], p, market())
    assert rep.halted and rep.blocked[0].guard == "daily_loss_limit"
    assert rep.halts[0].reason == ("daily_loss_limit: equity $94,000 is 6.00% below start of day $100,000 "
                                   ">= limit 5.00%")
    ok = RiskEngine(off(daily_loss_limit=0.05)).check([buy("SPX", 1)], portfolio(cash=D(96_000), start_of_day_equity=D(100_000)), market())
    assert ok.ok


def test_drawdown_limit_halts():
    p = portfolio(cash=D(70_000), peak_equity=D(100_000))
    rep = RiskEngine(off(max_drawdown_limit=0.25)).check([buy("SPX", 1)], p, market())
    assert rep.halted and "max_drawdown_limit: equity $70,000 is 30.00% below peak $100,000" in rep.reasons[0]


def test_stale_data_halts_with_symbol_and_expected_date():
    stale = dict(FRESH, SPX=pd.Timestamp("2018-07-03", tz="UTC"))
    rep = RiskEngine(off(stale_bar_check=True)).check([buy("NASDAQ", 1)], portfolio(), market(last_bar_ts=stale))
    assert rep.halted and rep.blocked[0].guard == "stale_data"
    assert "SPX last bar 2018-07-03" in rep.reasons[0] and "2018-07-05 bar" in rep.reasons[0]
    # at an earlier execution time the previous session's bar is enough
    early = market(last_bar_ts=stale, execution_time="5min_before_close")
    assert RiskEngine(off(stale_bar_check=True)).check([buy("NASDAQ", 1)], portfolio(), early).ok


def test_stale_check_fails_closed():
    eng = RiskEngine(off(stale_bar_check=True))
    rep = eng.check([buy("NASDAQ", 1)], portfolio(), market(last_bar_ts={}))
    assert rep.halted and "NASDAQ has no bar timestamp" in rep.reasons[0]
    rep = eng.check([buy("NASDAQ", 1)], portfolio(), market(session_date=None))
    assert rep.halted and "freshness unknown" in rep.reasons[0]


def test_max_data_age():
    now = pd.Timestamp("2018-07-05T19:55Z")
    eng = RiskEngine(off(max_data_age=timedelta(minutes=5)))
    rep = eng.check([buy("SPX", 1)], portfolio(), market(now=now, data_as_of=now - pd.Timedelta("20min")))
    assert rep.halted and rep.halts[0].guard == "max_data_age" and "0 days 00:20:00" in rep.reasons[0]
    assert eng.check([buy("SPX", 1)], portfolio(), market(now=now, data_as_of=now - pd.Timedelta("1min"))).ok
    # without market.now the engine's clock is used; with neither, the check fails closed
    clocked = RiskEngine(off(max_data_age=timedelta(minutes=5)), clock=FixedClock(now))
    assert clocked.check([buy("SPX", 1)], portfolio(), market(data_as_of=now - pd.Timedelta("2min"))).ok
    assert eng.check([buy("SPX", 1)], portfolio(), market(data_as_of=now)).halted


def test_slippage_ok():
    assert slippage_ok(D(100), D("100.99"), 0.01)
    assert not slippage_ok(D(100), D("101.01"), 0.01)
    assert not slippage_ok(D(100), D("98.9"), 0.01)  # either direction
    assert slippage_ok(D(100), D(150), None)
    with pytest.raises(InvalidInput, match="decision_price"):
        slippage_ok(D(0), D(1), 0.01)
    eng = RiskEngine()
    assert not eng.slippage_ok(buy("SPX", 10).reference_price, D(2800))
    assert eng.slippage_ok(buy("SPX", 10).reference_price, D(2740))


def test_report_frame():
    rep = RiskEngine(off(max_order_notional=D(500_000))).check([buy("NASDAQ", 120), buy("SPX", 10)], portfolio(), market())
    df = rep.to_frame()
    assert list(df["status"]) == ["allowed", "blocked"] and df["guard"].iloc[1] == "max_order_notional"
