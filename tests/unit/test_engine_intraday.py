"""The price at an intraday execution time, read from the real minute files of ../shared/data/minute.

Expected prices are read from the raw CSV text with plain pandas (not through the
toolkit's loaders), so a loader or lookup bug cannot agree with itself. The files (see
../shared/data/README.md): 1-minute bars with New York offsets, SPY/TLT/SPXL over about
four weeks around Dec 2019 including the 2019-12-24 early close (13:00), QQQ/TQQQ/SQQQ/
GLD/UPRO from 2019-12-17 11:00 (a partial first day) to 2019-12-24 10:59 (no bar after
11:00 on the early close), SPY with no bar after 10:59 on 2020-01-10.
"""

from __future__ import annotations

import datetime as dt
import math
import warnings
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from toolkit.data.intraday import FilesMinuteSource, MinuteBook, MinuteRequest
from toolkit.engine.intraday import (
    DEFAULT_MAX_QUOTE_AGE,
    bar_so_far,
    minute_quotes,
    quote_age_limit,
    quote_from_trade,
    quote_problems,
)
from toolkit.engine.market import MarketCursor, price_decimal
from toolkit.errors import ParamsError
from toolkit.time import execution_instant

SYMS = ["SPY", "TLT", "SPXL"]
QQQ_SET = ["QQQ", "TQQQ", "SQQQ", "GLD", "UPRO"]


def raw_minutes(shared: Path, symbol: str) -> pd.DataFrame:
    """A minute file as published, one row per New York minute (SPY's copies collapsed), no toolkit code."""
    df = pd.read_csv(shared / "minute" / "intraday" / f"{symbol}.csv")
    df = df.dropna(subset=["Close"])
    assert (df.groupby("Datetime")["Close"].nunique() == 1).all()  # copies agree on the price
    df = df.groupby("Datetime", sort=False).first()
    df.index = pd.DatetimeIndex(pd.to_datetime(df.index, utc=True)).tz_convert("America/New_York")
    return df.sort_index()


def ny(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="America/New_York")


def at(day: str, when: str) -> pd.Timestamp:
    """The execution instant: where a dry run's or replay's clock stands when it decides."""
    return execution_instant(day, when)


@pytest.fixture(scope="module")
def book(shared_data: Path) -> MinuteBook:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SPY's duplicate rows are announced by the loader
        bars = FilesMinuteSource().load(MinuteRequest(SYMS + QQQ_SET, dt.date(2019, 12, 1), dt.date(2020, 1, 31),
                                                      "raw", shared_data / "minute" / "intraday",
                                                      "../shared/data/minute/intraday"))
    return MinuteBook(bars)


@pytest.fixture(scope="module")
def raw(shared_data: Path) -> dict[str, pd.DataFrame]:
    return {s: raw_minutes(shared_data, s) for s in SYMS + QQQ_SET}


def test_5min_before_close_is_the_1555_bar_close_and_1255_on_the_early_close(book, raw) -> None:
    for day, hhmm in [("2019-12-18", "15:55"), ("2019-12-23", "15:55"), ("2020-01-08", "15:55"),
                      ("2019-12-24", "12:55")]:
        quotes = minute_quotes(book, SYMS, day, "5min_before_close")
        assert quotes is not None and set(quotes) == set(SYMS)
        for sym in SYMS:
            q = quotes[sym]
            expected = raw[sym].at[ny(f"{day} {hhmm}"), "Close"]
            assert q.price == expected, (sym, day)
            assert q.at == ny(f"{day} {hhmm}").tz_convert("UTC")
            assert q.source == f"minute bar {hhmm} America/New_York from ../shared/data/minute/intraday/{sym}.csv"
        assert quote_problems(quotes, SYMS, at(day, "5min_before_close"), DEFAULT_MAX_QUOTE_AGE) == []


def test_every_minute_priced_time_and_the_bar_so_far(book, raw) -> None:
    """15:45 / 12:45, 09:30, 09:45; the provisional bar holds the session through that minute."""
    tlt = raw["TLT"]
    for day, when, hhmm in [("2019-12-18", "15min_before_close", "15:45"),
                            ("2019-12-24", "15min_before_close", "12:45"),
                            ("2019-12-18", "open", "09:30"), ("2019-12-18", "15min_after_open", "09:45")]:
        q = minute_quotes(book, ["TLT"], day, when)["TLT"]
        upto = tlt.loc[ny(f"{day} 09:30"): ny(f"{day} {hhmm}")]
        assert q.price == tlt.at[ny(f"{day} {hhmm}"), "Close"]
        bar = bar_so_far(q, when)
        assert bar["close"] == q.price
        assert bar["high"] == upto["High"].max() and bar["low"] == upto["Low"].min()
        assert bar["volume"] == upto["Volume"].sum()
        # at the open the session has traded one price so far: the bar opens at it (v3.5b reads the open then)
        assert bar["open"] == (q.price if when == "open" else upto["Open"].iloc[0])
    # the close is the daily bar's own price: minute bars never price it
    assert minute_quotes(book, SYMS, "2019-12-18", "close") is None


def test_a_missing_minute_takes_the_last_one_before(shared_data: Path, tmp_path: Path, raw) -> None:
    """A gap at the instant: the 15:54 bar prices 15:55, one minute old (fresh under 5 minutes)."""
    text = (shared_data / "minute" / "intraday" / "TLT.csv").read_text().splitlines(keepends=True)
    (tmp_path / "TLT.csv").write_text("".join(r for r in text if not r.startswith("2019-12-18 15:55")))
    gap = MinuteBook(FilesMinuteSource().load(MinuteRequest(["TLT"], dt.date(2019, 12, 1), dt.date(2020, 1, 31),
                                                            "raw", tmp_path / "TLT.csv", "TLT.csv")))
    q = minute_quotes(gap, ["TLT"], "2019-12-18", "5min_before_close")["TLT"]
    assert q.price == raw["TLT"].at[ny("2019-12-18 15:54"), "Close"] == 136.49
    assert q.source == "minute bar 15:54 America/New_York from TLT.csv"
    assert quote_problems({"TLT": q}, ["TLT"], at("2019-12-18", "5min_before_close"), DEFAULT_MAX_QUOTE_AGE) == []
    (problem,) = quote_problems({"TLT": q}, ["TLT"], at("2019-12-18", "5min_before_close"), pd.Timedelta(seconds=30))
    assert "stale minute bars: TLT's newest one at or before 15:55" in problem and "1 min old" in problem


def test_an_old_minute_is_stale_never_a_price(book) -> None:
    """SPY stops at 10:59 on 2020-01-10; QQQ and its set at 10:59 on the 2019-12-24 early close."""
    quotes = minute_quotes(book, ["SPY"], "2020-01-10", "5min_before_close")
    assert quotes["SPY"].at == ny("2020-01-10 10:59").tz_convert("UTC")
    (problem,) = quote_problems(quotes, ["SPY"], at("2020-01-10", "5min_before_close"), DEFAULT_MAX_QUOTE_AGE)
    assert problem == ("stale minute bars: SPY's newest one at or before 15:55 America/New_York on 2020-01-10 is "
                       "10:59, 4 h 56 min old (more than the 5 min allowed by guards.max_data_age): no execution-time "
                       "price")
    early = minute_quotes(book, QQQ_SET, "2019-12-24", "5min_before_close")
    problems = quote_problems(early, QQQ_SET, at("2019-12-24", "5min_before_close"), DEFAULT_MAX_QUOTE_AGE)
    assert len(problems) == 5 and all("12:55 America/New_York on 2019-12-24 is 10:59, 1 h 56 min old" in p
                                      for p in problems)
    # a wider limit (guards.max_data_age) accepts them
    assert quote_problems(early, QQQ_SET, at("2019-12-24", "5min_before_close"), pd.Timedelta(hours=2)) == []


def test_coverage_partial_days_and_symbols_without_bars(book) -> None:
    # 2019-12-12: before every file: not covered, the daily bar prices the session
    assert minute_quotes(book, SYMS, "2019-12-12", "5min_before_close") is None
    # 2019-12-17 starts at 11:00 for QQQ: covered, but no bar between the open and 09:45
    quotes = minute_quotes(book, QQQ_SET, "2019-12-17", "15min_after_open")
    assert quotes == {}
    (first, *_rest) = quote_problems(quotes, QQQ_SET, at("2019-12-17", "15min_after_open"), DEFAULT_MAX_QUOTE_AGE)
    assert first.startswith("QQQ has no price at or before 09:45 America/New_York on 2019-12-17 (no minute bar "
                            "since the open")
    # 2019-12-13: SPY has bars, TLT (from 2019-12-16) none: TLT has no price, the session would stop
    quotes = minute_quotes(book, SYMS, "2019-12-13", "5min_before_close")
    assert set(quotes) == {"SPY"}
    problems = quote_problems(quotes, SYMS, at("2019-12-13", "5min_before_close"), DEFAULT_MAX_QUOTE_AGE)
    assert [p.split(" has")[0] for p in problems] == ["TLT", "SPXL"]


def test_quote_age_limit_and_a_broker_trade_use_the_same_rule() -> None:
    from toolkit.brokers.base import Quote

    assert quote_age_limit(None) == pd.Timedelta(minutes=5)
    assert quote_age_limit(dt.timedelta(minutes=2)) == pd.Timedelta(minutes=2)
    trade = Quote("SPY", Decimal("321.05"), pd.Timestamp("2019-12-18 20:54:58", tz="UTC"), "alpaca:latest_trade:iex")
    q = quote_from_trade(trade)
    assert q.price == 321.05 and q.open == q.high == q.low == 321.05 and math.isnan(q.volume)
    assert q.source == "alpaca:latest_trade:iex at 15:54:58 America/New_York"
    assert quote_problems({"SPY": q}, ["SPY"], at("2019-12-18", "5min_before_close"), pd.Timedelta(minutes=5)) == []
    late = quote_from_trade(Quote("SPY", Decimal(1), pd.Timestamp("2019-12-18 20:56", tz="UTC"), "x"))
    (problem,) = quote_problems({"SPY": late}, ["SPY"], at("2019-12-18", "5min_before_close"), pd.Timedelta(minutes=5))
    assert "after the decision" in problem
    # a live session decides at the broker's time, which may be after the instant: the age counts from then
    later = pd.Timestamp("2019-12-18 20:57", tz="UTC")
    assert quote_problems({"SPY": late}, ["SPY"], later, pd.Timedelta(minutes=5)) == []
    (problem,) = quote_problems({"SPY": q}, ["SPY"], later + pd.Timedelta(minutes=4), pd.Timedelta(minutes=5))
    assert problem.startswith("stale quote: SPY's latest trade at or before 16:01")


def test_a_daily_file_is_not_minute_bars(shared_data: Path) -> None:
    with pytest.raises(ParamsError, match=r"^data.intraday.path: got .*; allowed: minute bars .* SPY.csv holds daily"):
        FilesMinuteSource().load(MinuteRequest(["SPY"], dt.date(2010, 1, 1), dt.date(2010, 2, 1), "raw",
                                               shared_data / "daily" / "qstrader" / "SPY.csv", "SPY.csv"))
    with pytest.raises(ParamsError, match=r"^data.intraday.path: .*every symbol of the run; NOPE is missing"):
        FilesMinuteSource().load(MinuteRequest(["NOPE"], dt.date(2019, 12, 1), dt.date(2019, 12, 31), "raw",
                                               shared_data / "minute" / "intraday", "m"))


# ------------------------------------------------------------------ the cursor with minute bars


def daily_from(raw: dict[str, pd.DataFrame], symbols: list[str]) -> pd.DataFrame:
    """Daily bars (UTC midnight, (symbol, field) columns) built from the same minute files."""
    cols = {}
    for s in symbols:
        g = raw[s].groupby(raw[s].index.date)
        d = pd.DataFrame({"open": g["Open"].first(), "high": g["High"].max(), "low": g["Low"].min(),
                          "close": g["Close"].last(), "volume": g["Volume"].sum()})
        d.index = pd.DatetimeIndex(pd.to_datetime(d.index)).tz_localize("UTC").rename("timestamp")
        for f in d.columns:
            cols[(s, f)] = d[f]
    panel = pd.DataFrame(cols).sort_index()
    panel.columns = pd.MultiIndex.from_tuples(panel.columns)
    return panel.astype(float)


def test_cursor_prices_decides_and_marks_at_the_minute(book, raw) -> None:
    panel = daily_from(raw, SYMS)
    m = MarketCursor(panel, minutes=book)
    day = dt.date(2019, 12, 24)
    end = m.visible_end(day, "5min_before_close")
    quotes, problems = m.session_quotes(day, "5min_before_close", end, DEFAULT_MAX_QUOTE_AGE)
    assert problems == []
    got = m.prices(day, "5min_before_close", quotes)
    for s in SYMS:
        minute = raw[s].at[ny("2019-12-24 12:55"), "Close"]
        assert got.prices[s] == price_decimal(minute)
        assert got.marks[s] == price_decimal(panel.at[pd.Timestamp(day, tz="UTC"), (s, "close")])  # end of day
        assert got.origins[s].at == ny("2019-12-24 12:55").tz_convert("UTC")
    assert got.minute_priced and got.note is None
    assert got.basis.startswith("priced at minute bars: each symbol's close of the 12:55 America/New_York")
    # the decision's history: bars through yesterday, then today's bar so far, closing at the minute price
    hist = m.history(end, quotes, day, "5min_before_close")
    assert hist.index[-2].date() == dt.date(2019, 12, 23) and hist.index[-1] == pd.Timestamp(day, tz="UTC")
    assert hist.iloc[:-1].equals(m.history(end))
    for s in SYMS:
        assert hist[(s, "close")].iloc[-1] == raw[s].at[ny("2019-12-24 12:55"), "Close"]
        assert hist[(s, "open")].iloc[-1] == raw[s].at[ny("2019-12-24 09:30"), "Open"]
    assert hist.attrs["execution_price_source"] == "minute_bar"
    # without the daily bar of the day (a run before the close): the minute price marks too
    live = MarketCursor(panel.loc[:"2019-12-23"], minutes=book)
    quotes, problems = live.session_quotes(day, "5min_before_close", len(live), DEFAULT_MAX_QUOTE_AGE)
    got = live.prices(day, "5min_before_close", quotes)
    assert problems == [] and got.marks == got.prices and got.note is None


def test_cursor_without_minute_bars_says_it_priced_at_the_daily_bar(raw) -> None:
    panel = daily_from(raw, SYMS)
    m = MarketCursor(panel)
    day = dt.date(2019, 12, 24)
    quotes, problems = m.session_quotes(day, "5min_before_close", m.visible_end(day, "5min_before_close"),
                                        DEFAULT_MAX_QUOTE_AGE)
    assert quotes is None and problems == []
    got = m.prices(day, "5min_before_close")
    assert got.basis == "priced at the daily close: no minute bars for 2019-12-24"
    assert got.prices["SPY"] == price_decimal(raw["SPY"].at[ny("2019-12-24 13:00"), "Close"])  # the day's last bar
    assert got.origins["SPY"].source == "daily close 2019-12-24" and not got.minute_priced
    assert m.prices(day, "15min_after_open").basis == "priced at the daily open: no minute bars for 2019-12-24"
    assert m.prices(day, "close").basis is None  # the close needs no excuse
    assert np.isfinite(float(got.prices["TLT"]))


def test_a_live_sessions_latest_trades_take_the_same_path(raw) -> None:
    """Broker trades as quotes: the provisional row at the trade price with yesterday's volume, the basis says so."""
    from toolkit.brokers.base import Quote

    panel = daily_from(raw, SYMS)
    day = dt.date(2019, 12, 18)
    m = MarketCursor(panel.loc[:"2019-12-17"])
    trades = {s: quote_from_trade(Quote(s, Decimal("100.5"), pd.Timestamp("2019-12-18 20:54:59", tz="UTC"),
                                        "alpaca:latest_trade:iex")) for s in SYMS}
    hist = m.history(m.visible_end(day, "5min_before_close"), trades, day, "5min_before_close")
    last = hist.iloc[-1]
    for s in SYMS:
        assert last[(s, "open")] == last[(s, "high")] == last[(s, "low")] == last[(s, "close")] == 100.5
        assert last[(s, "volume")] == panel.at[pd.Timestamp("2019-12-17", tz="UTC"), (s, "volume")]
    assert hist.attrs["execution_price_source"] == "latest_trade"
    got = m.prices(day, "5min_before_close", trades)
    assert got.basis == "priced at the broker's latest trades at 15:55 America/New_York on 2019-12-18"
    assert not got.minute_priced and got.prices == got.marks == {s: Decimal("100.500000") for s in SYMS}
    assert got.origins["SPY"].source == "alpaca:latest_trade:iex at 15:54:59 America/New_York"
