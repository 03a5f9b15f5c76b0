"""``data.intraday: {source: alpaca}``: Alpaca's minute bars through alpaca-py and the cache, faked with ``responses``.

The fake (``tests/fake_market_data.py``) serves the real QQQ minute file of
../shared/data/minute/intraday in Alpaca's JSON shape, so alpaca-py runs its real code
path; the price at 15:55 must be that file's 15:55 close, as with the CSV source.
"""

from __future__ import annotations

import datetime as dt
import warnings
from pathlib import Path

import pandas as pd
import pytest
import responses
from fake_market_data import FakeAlpacaData, real_minutes

from toolkit import params as P
from toolkit.data.intraday import AlpacaMinuteSource, MinuteBook, MinuteRequest
from toolkit.engine.daily import run_daily
from toolkit.engine.intraday import minute_quotes
from toolkit.engine.market import price_decimal


@pytest.fixture
def minutes(shared_data: Path) -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return real_minutes(shared_data, ["QQQ"])["QQQ"]


def test_alpaca_minute_bars_price_1555_and_come_from_the_cache_the_second_time(minutes, alpaca_env, cache_dir):
    from toolkit.data.sources.alpaca import FEEDS

    assert AlpacaMinuteSource.feeds == FEEDS
    fake = FakeAlpacaData({}, minutes={"QQQ": minutes})
    request = MinuteRequest(["QQQ"], dt.date(2019, 12, 18), dt.date(2019, 12, 20), "raw", feed="iex")
    with responses.RequestsMock() as rsps:
        fake.install(rsps)
        bars = AlpacaMinuteSource().load(request)
        again = AlpacaMinuteSource().load(request)  # on disk now: nothing asked
    (ask,) = fake.asks
    assert ask.params["timeframe"] == "1Min" and ask.params["feed"] == "iex" and ask.params["adjustment"] == "raw"
    pd.testing.assert_frame_equal(bars.frames["QQQ"], again.frames["QQQ"])
    q = minute_quotes(MinuteBook(bars), ["QQQ"], "2019-12-19", "5min_before_close")["QQQ"]
    assert q.price == minutes.at[pd.Timestamp("2019-12-19 15:55", tz="America/New_York"), "close"]
    assert q.source == "minute bar 15:55 America/New_York from Alpaca iex minute bars"


def test_a_dry_run_priced_by_alpaca_minute_bars(minutes, alpaca_env, cache_dir, tmp_path):
    """Daily bars from a CSV, the 15:55 price from Alpaca (faked): the fill is the minute's close."""
    ny = minutes.tz_convert("America/New_York")
    g = ny.groupby(ny.index.date)
    daily = pd.DataFrame({"open": g["open"].first(), "high": g["high"].max(), "low": g["low"].min(),
                          "close": g["close"].last(), "volume": g["volume"].sum()})
    daily.index.name = "date"
    daily.to_csv(tmp_path / "QQQ.csv")
    p = P.validate("daily_dry_run", {
        "strategy": "sma_crossover", "strategy_params": {"fast": 1, "slow": 2},
        "data": {"source": "csv", "path": str(tmp_path), "symbols": ["QQQ"], "prices": "raw",
                 "intraday": {"source": "alpaca"}},
        "account": "alpaca-minutes", "execution_time": "5min_before_close", "as_of": "2019-12-20",
        "costs": {"fees_bps": 0, "slippage_bps": 0}, "db_url": f"sqlite:///{tmp_path / 'l.sqlite'}"})
    fake = FakeAlpacaData({}, minutes={"QQQ": minutes})
    with responses.RequestsMock() as rsps:
        fake.install(rsps)
        result = run_daily(p)
    minute = minutes.at[pd.Timestamp("2019-12-20 15:55", tz="America/New_York"), "close"]
    assert result.prices == {"QQQ": price_decimal(minute)}
    assert result.price_sources["QQQ"].source == "minute bar 15:55 America/New_York from Alpaca iex minute bars"
    assert result.minute_priced and [a.params["timeframe"] for a in fake.asks] == ["1Min"]
    assert result.fills and all(f.price == price_decimal(minute) for f in result.fills)
