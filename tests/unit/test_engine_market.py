"""MarketCursor: what a session may see and the prices it trades at, read by position, equal to pandas."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from toolkit import params as tkparams
from toolkit.data.dataset import load_dataset
from toolkit.engine.market import MarketCursor, price_decimal
from toolkit.engine.reconcile import reconcile
from toolkit.errors import DataError
from toolkit.ledger import open_ledger
from toolkit.time import expected_bar_date, sessions_in_range


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    p = tkparams.validate("daily_dry_run", {"data": {"source": "sample", "symbols": ["NASDAQ", "SP500"],
                                                     "start": "2018-01-02", "end": "2018-06-29"}})
    return load_dataset(p.data, base_dir=Path.cwd()).panel


@pytest.mark.parametrize("execution_time", ["open", "15min_after_open", "5min_before_close", "close"])
def test_history_and_prices_equal_the_pandas_reading(panel, execution_time) -> None:
    m = MarketCursor(panel)
    field = "open" if execution_time in ("open", "15min_after_open") else "close"
    for day in sessions_in_range("2018-02-01", "2018-06-29"):
        as_of = day.date()
        cutoff = pd.Timestamp(expected_bar_date(as_of, execution_time).date(), tz="UTC")
        end = m.visible_end(as_of, execution_time)
        assert m.history(end).equals(panel.loc[:cutoff])
        got = m.prices(as_of, execution_time)
        stamp = pd.Timestamp(as_of, tz="UTC")
        assert got.note is None
        assert got.prices == {s: price_decimal(panel.at[stamp, (s, field)]) for s in ("NASDAQ", "SP500")}
        assert got.marks == {s: price_decimal(panel.at[stamp, (s, "close")]) for s in ("NASDAQ", "SP500")}
        assert m.volumes(end, ["SP500"]) == {"SP500": float(panel[("SP500", "volume")].loc[:cutoff].iloc[-1])}
        assert m.bar_problems(end, ["NASDAQ", "SP500"], as_of, execution_time, True) == []


def test_a_missing_session_bar_prices_at_the_last_close(panel) -> None:
    m = MarketCursor(panel.drop(index=pd.Timestamp("2018-06-29", tz="UTC")))
    got = m.prices(dt.date(2018, 6, 29), "close")
    last = panel[("NASDAQ", "close")].loc["2018-06-28"]
    assert got.prices["NASDAQ"] == got.marks["NASDAQ"] == price_decimal(last)
    assert "2018-06-29 bar is not in the data" in got.note


def test_bar_problems_name_the_bad_bar_and_stale_data(panel) -> None:
    bad = panel.copy()
    bad.loc[pd.Timestamp("2018-06-01", tz="UTC"), ("NASDAQ", "close")] = np.nan
    m = MarketCursor(bad)
    end = m.visible_end(dt.date(2018, 6, 1), "close")
    (problem,) = m.bar_problems(end, ["NASDAQ", "SP500"], dt.date(2018, 6, 1), "close", True)
    assert problem.startswith("NASDAQ close on 2018-06-01 is ") and problem.endswith("(missing or corrupt)")
    assert "BOND open on 2018-06-01 is None" in m.bar_problems(end, ["BOND"], dt.date(2018, 6, 1), "close", False)[0]
    assert m.last_bar_stamp(end, "NASDAQ") == pd.Timestamp("2018-05-31", tz="UTC")  # skips the NaN close
    stale = MarketCursor(panel.loc[:"2018-05-30"])
    end = stale.visible_end(dt.date(2018, 6, 1), "close")
    assert stale.bar_problems(end, ["NASDAQ"], dt.date(2018, 6, 1), "close", True) == [
        "stale data: the newest bar is 2018-05-30; a decision at close on 2018-06-01 needs the 2018-06-01 bar"]
    assert stale.bar_problems(0, ["NASDAQ"], dt.date(2018, 6, 1), "close", True) == [
        "no bars at or before 2018-06-01 in the data"]


def test_a_panel_that_is_not_canonical_is_refused(panel) -> None:
    with pytest.raises(DataError, match="UTC DatetimeIndex"):
        MarketCursor(panel.tz_convert("America/New_York"))
    with pytest.raises(DataError, match="symbol, field"):
        MarketCursor(panel.droplevel(0, axis=1).iloc[:, :1])


def test_reconcile_reports_a_broker_ledger_difference(tmp_path: Path) -> None:
    from toolkit.brokers.simulated import SimulatedBroker
    from toolkit.model import Order, OrderSide

    broker = SimulatedBroker(initial_cash=D(1000))
    broker.set_market({"SPY": D(100)}, at=pd.Timestamp("2018-07-02T20:00Z"))
    broker.submit_order(Order("o1", "SPY", OrderSide.BUY, D(2)))
    with open_ledger(f"sqlite:///{tmp_path / 'l.sqlite'}") as ledger:
        ledger.set_initial_cash("a", "offline_mock", D(1000))
        assert reconcile(ledger, broker, account="a", mode="offline_mock", marks={"SPY": D(100)}) == [
            "position SPY: ledger 0 vs broker 2"]


def test_a_missing_bar_is_held_not_refused_until_it_is_stale(panel) -> None:
    """Gap policy: a symbol without a bar on a session (every price NaN) is held: no problem,
    no execution price (no order), marked at its last close; a week without bars is stale."""
    day = pd.Timestamp("2018-06-01", tz="UTC")
    gap = panel.copy()
    gap.loc[day, "SP500"] = np.nan
    m = MarketCursor(gap)
    end = m.visible_end(day.date(), "close")
    assert m.bar_problems(end, ["NASDAQ", "SP500"], day.date(), "close", True) == []
    assert m.missing_bars(end, ["NASDAQ", "SP500"]) == ["SP500"]
    got = m.prices(day.date(), "close")
    assert "SP500" not in got.prices and got.held(["NASDAQ", "SP500"]) == ["SP500"]
    assert got.marks["SP500"] == price_decimal(panel[("SP500", "close")].loc["2018-05-31"])
    assert got.prices["NASDAQ"] == price_decimal(panel.at[day, ("NASDAQ", "close")])
    # More than MAX_HELD_BARS sessions in a row without a bar: stale, the session stops.
    from toolkit.engine.market import MAX_HELD_BARS

    week = panel.copy()
    days = week.loc[:day].index[-(MAX_HELD_BARS + 1):]
    week.loc[days, "SP500"] = np.nan
    m = MarketCursor(week)
    end = m.visible_end(day.date(), "close")
    (problem,) = m.bar_problems(end, ["NASDAQ", "SP500"], day.date(), "close", True)
    assert problem.startswith(f"SP500 has no bar in the last {MAX_HELD_BARS + 1} sessions") and "stale" in problem
    week.loc[days[0], "SP500"] = panel.loc[days[0], "SP500"].to_numpy()
    m = MarketCursor(week)
    assert m.bar_problems(end, ["NASDAQ", "SP500"], day.date(), "close", True) == []
