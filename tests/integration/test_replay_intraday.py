"""A replay at ``5min_before_close`` priced by the real minute files of ../shared/data/minute/intraday.

SPY, TLT and SPXL have 1-minute bars from mid-December 2019 to mid-January 2020,
including the 2019-12-24 early close (13:00 New York). Their daily bars are built here
from the same minute files (first open, high, low, last close, volume of each New York
date), so the daily close is the 15:59 bar's (13:00 on the early close) while an order
at 5min_before_close must fill at the 15:55 bar's close (12:55 on the early close).
Expected prices are read from the raw CSV text with plain pandas.

The strategy is an SMA crossover 2/3 on the three symbols (it trades most days on so few
bars); costs are zero so a fill price is exactly the execution price.
"""

from __future__ import annotations

import datetime as dt
import json
import warnings
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from toolkit import params as P
from toolkit.engine.daily import run_daily
from toolkit.engine.market import price_decimal
from toolkit.engine.replay import replay
from toolkit.engine.result import SessionError
from toolkit.ledger import open_ledger
from toolkit.report.session_tables import prices_frame, write_outputs

SYMS = ["SPY", "TLT", "SPXL"]
MINUTES = "../shared/data/minute/intraday"  # as a user writes it: relative to the project folder
START, END = "2019-12-17", "2020-01-09"


def raw_minutes(shared: Path, symbol: str) -> pd.DataFrame:
    df = pd.read_csv(shared / "minute" / "intraday" / f"{symbol}.csv").dropna(subset=["Close"])
    df = df.groupby("Datetime", sort=False).first()  # SPY's copies agree on prices (checked in the unit tests)
    df.index = pd.DatetimeIndex(pd.to_datetime(df.index, utc=True)).tz_convert("America/New_York")
    return df.sort_index()


@pytest.fixture(scope="module")
def raw(shared_data: Path) -> dict[str, pd.DataFrame]:
    return {s: raw_minutes(shared_data, s) for s in SYMS}


@pytest.fixture(scope="module")
def daily_dir(raw, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("daily")
    for s, m in raw.items():
        g = m.groupby(m.index.date)
        d = pd.DataFrame({"open": g["Open"].first(), "high": g["High"].max(), "low": g["Low"].min(),
                          "close": g["Close"].last(), "volume": g["Volume"].sum()})
        d.index.name = "date"
        d.to_csv(out / f"{s}.csv")
    return out


def params(daily_dir: Path, *, intraday: bool, **more) -> P.DailyDryRunParams:
    data = {"source": "csv", "path": str(daily_dir), "symbols": SYMS}
    if intraday:
        data["intraday"] = {"path": MINUTES}
    return P.validate("daily_dry_run", {
        "strategy": "sma_crossover", "strategy_params": {"fast": 2, "slow": 3}, "data": data,
        "account": "minutes", "execution_time": "5min_before_close", "costs": {"fees_bps": 0, "slippage_bps": 0},
        "guards": {"daily_loss_limit": None, "slippage_abort": None}, **more})


def run_replay(p, tmp_path: Path, start: str = START, end: str = END):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SPY's duplicate minute rows are announced by the loader
        with open_ledger(f"sqlite:///{tmp_path / 'ledger.sqlite'}") as ledger:
            res = replay(p, start=start, end=end, ledger=ledger)
            runs = ledger.runs(account=p.account)
            orders = ledger.order_records()
    return res, runs, orders


@pytest.fixture(scope="module")
def minute_run(daily_dir, tmp_path_factory):
    return run_replay(params(daily_dir, intraday=True), tmp_path_factory.mktemp("minute"))


@pytest.fixture(scope="module")
def daily_run(daily_dir, tmp_path_factory):
    return run_replay(params(daily_dir, intraday=False), tmp_path_factory.mktemp("daily_only"))


def test_fills_are_the_minute_bar_closes_at_1555_and_1255_on_the_early_close(minute_run, raw) -> None:
    res, _runs, orders = minute_run
    trades = res.trades
    assert res.sessions == 16 and res.minute_sessions == 16 and res.daily_fallback_sessions == 0
    assert len(trades) >= 20, "the window should trade on most days"
    for t in trades.itertuples():
        at_ny = pd.Timestamp(t.at).tz_convert("America/New_York")
        day = at_ny.date()
        hhmm = "12:55" if day == dt.date(2019, 12, 24) else "15:55"
        assert at_ny.strftime("%H:%M") == hhmm  # the session clock stands at the execution instant
        expected = raw[t.symbol].at[pd.Timestamp(f"{day} {hhmm}", tz="America/New_York"), "Close"]
        assert Decimal(str(t.price)) == price_decimal(expected), (day, t.symbol)
    early = trades[pd.to_datetime(trades["at"]).dt.tz_convert("America/New_York").dt.date == dt.date(2019, 12, 24)]
    assert len(early) >= 1, "the early close should trade"
    # the decision price recorded with each order is the same minute price
    fills = {r.client_order_id: Decimal(str(r.price)) for r in trades.itertuples()}
    assert all(o.decision_price == fills[o.client_order_id] for o in orders)


def test_the_run_records_each_price_with_its_minute_and_file(minute_run) -> None:
    _res, runs, _orders = minute_run
    summary = runs.set_index("session_date").at[dt.date(2019, 12, 24), "summary"]
    summary = summary if isinstance(summary, dict) else json.loads(summary)
    assert summary["price_basis"].startswith("priced at minute bars: each symbol's close of the 12:55 America/New_York")
    spy = summary["price_sources"]["SPY"]
    assert spy["source"] == "minute bar 12:55 America/New_York from ../shared/data/minute/intraday/SPY.csv"
    assert spy["at"] == "2019-12-24T17:55:00+00:00"


def test_the_decision_sees_the_minute_price(minute_run, daily_dir, raw) -> None:
    """sma_fast (2 bars) on a session = (yesterday's daily close + today's 15:55 close) / 2."""
    res, _runs, _orders = minute_run
    snaps = res.snapshots.set_index("session_date")
    daily = pd.read_csv(daily_dir / "SPY.csv", index_col="date")["close"]
    for day, prev in [(dt.date(2019, 12, 18), "2019-12-17"), (dt.date(2020, 1, 8), "2020-01-07")]:
        ctx = snaps.at[day, "context"]
        ctx = ctx if isinstance(ctx, dict) else json.loads(ctx)
        minute = raw["SPY"].at[pd.Timestamp(f"{day} 15:55", tz="America/New_York"), "Close"]
        assert ctx["decision"]["sma_fast_SPY"] == pytest.approx((daily[prev] + minute) / 2, rel=0, abs=1e-9)


def test_without_minute_bars_the_daily_close_prices_it_and_says_so(daily_run, minute_run, raw) -> None:
    res, runs, _orders = daily_run
    assert res.minute_sessions == 0 and res.daily_fallback_sessions == 16
    for r in runs.itertuples():
        summary = r.summary if isinstance(r.summary, dict) else json.loads(r.summary)
        note = f"priced at the daily close: no minute bars for {r.session_date}"
        assert summary["price_basis"] == note and note in summary["messages"]
    last_bar = {"2019-12-24": "13:00"}
    for t in res.trades.itertuples():
        day = pd.Timestamp(t.at).tz_convert("America/New_York").date()
        hhmm = last_bar.get(str(day), "15:59")
        expected = raw[t.symbol].at[pd.Timestamp(f"{day} {hhmm}", tz="America/New_York"), "Close"]
        assert Decimal(str(t.price)) == price_decimal(expected)
    # the same session and symbol trades at another price with minute bars (15:55 is not the close)
    minute_prices = {(pd.Timestamp(t.at).date(), t.symbol): t.price for t in minute_run[0].trades.itertuples()}
    daily_prices = {(pd.Timestamp(t.at).date(), t.symbol): t.price for t in res.trades.itertuples()}
    both = set(minute_prices) & set(daily_prices)
    assert both and any(minute_prices[k] != daily_prices[k] for k in both)


def test_a_stale_minute_stops_the_replay_before_anything_is_written(daily_dir, tmp_path) -> None:
    """SPY has no minute bar after 10:59 on 2020-01-10: no 15:55 price, like stale daily data."""
    p = params(daily_dir, intraday=True)
    with pytest.raises(SessionError, match=r"session 2020-01-10: stale minute bars: SPY's newest one at or before "
                                           r"15:55 America/New_York on 2020-01-10 is 10:59, 4 h 56 min old") as ei:
        run_replay(p, tmp_path, "2020-01-06", "2020-01-13")
    assert "nothing was written" in str(ei.value) and "\n" not in str(ei.value)
    with open_ledger(f"sqlite:///{tmp_path / 'ledger.sqlite'}") as ledger:
        assert ledger.runs(account=p.account).empty
    # a wider guards.max_data_age lets it through (the 10:59 bar then prices 15:55: the user's call)
    loose = params(daily_dir, intraday=True, guards={"daily_loss_limit": None, "slippage_abort": None,
                                                     "max_data_age": "PT5H"}, account="loose")
    res, _runs, _orders = run_replay(loose, tmp_path, "2020-01-06", "2020-01-10")
    assert res.statuses == {"completed": 5}


def test_a_dry_run_session_reports_its_prices(daily_dir, tmp_path, raw) -> None:
    p = params(daily_dir, intraday=True, as_of="2019-12-24", db_url=f"sqlite:///{tmp_path / 'dry.sqlite'}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = run_daily(p)
    table = prices_frame(result)
    assert list(table["symbol"]) == SYMS and set(table["at_new_york"]) == {"2019-12-24 12:55"}
    spxl = table.set_index("symbol").loc["SPXL"]
    assert spxl["price"] == price_decimal(raw["SPXL"].at[pd.Timestamp("2019-12-24 12:55", tz="America/New_York"),
                                                           "Close"])
    assert spxl["source"] == "minute bar 12:55 America/New_York from ../shared/data/minute/intraday/SPXL.csv"
    write_outputs(result, tmp_path / "out")
    snap = json.loads((tmp_path / "out" / "snapshot.json").read_text())
    assert snap["price_sources"]["TLT"]["source"].endswith("TLT.csv") and snap["price_basis"].startswith("priced at")
    # a session at 2020-01-10, where SPY's minute bars stop at 10:59, stops with the reason and is recorded failed
    stale = p.model_copy(update={"as_of": dt.date(2020, 1, 10)})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(SessionError, match=r"^stale minute bars: SPY's .* No order was sent"):
            run_daily(stale)
    with open_ledger(p.db_url) as ledger:
        assert ledger.get_run("sma_crossover|minutes|2020-01-10|5min_before_close").status == "failed"


def test_sessions_the_minute_files_do_not_cover_keep_the_daily_fallback(shared_data, tmp_path) -> None:
    """2016 sessions with data.intraday set: no minute bars for them, a ledger equal to the run without it."""
    def one(intraday: bool, name: str) -> tuple[str, list[str]]:
        data = {"source": "csv", "path": str(shared_data / "daily" / "lean-tests" / "etf_closes_2008_2016.csv"),
                "symbols": ["SPY", "TLT"]}
        if intraday:
            data["intraday"] = {"path": MINUTES}
        p = P.validate("daily_dry_run", {
            "strategy": "sma_crossover", "strategy_params": {"fast": 5, "slow": 20}, "data": data,
            "account": "fallback", "execution_time": "5min_before_close",
            "costs": {"fees_bps": 0, "slippage_bps": 0}, "guards": {"daily_loss_limit": None}})
        with warnings.catch_warnings(), open_ledger(f"sqlite:///{tmp_path / name}") as ledger:
            warnings.simplefilter("ignore")  # SPY's duplicate minute rows are announced by the loader
            res = replay(p, start="2016-03-01", end="2016-06-30", ledger=ledger)
            runs = ledger.runs(account=p.account)
            assert res.daily_fallback_sessions == res.sessions > 80 and len(res.trades) > 4
            return res.trades.drop(columns=["at"]).to_csv(), [json.dumps(s, sort_keys=True) for s in runs["summary"]]

    with_minutes, without = one(True, "a.sqlite"), one(False, "b.sqlite")
    assert with_minutes == without
    assert "priced at the daily close: no minute bars for 2016-03-01" in without[1][0]
