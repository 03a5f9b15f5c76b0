"""The local Parquet cache of broker bars: only missing ranges fetched, no forming bar kept, atomic files,
and a fingerprint that changes when a cache file does.

HTTP requests are counted on Alpaca's bars API faked with ``responses`` over the real
SPY/AGG files of ``../shared/data``; the asked dates are read from each request.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest
import responses
from fake_market_data import FakeAlpacaData, real_daily

from toolkit.data import load_dataset
from toolkit.data.cache import (
    CACHE_FILE,
    CACHE_SHA256,
    CacheSpec,
    complete_before,
    read_cached,
    write_cached,
)
from toolkit.data.cache import cache_dir as where_the_cache_is
from toolkit.data.sources.alpaca import bars
from toolkit.params import DataParams
from toolkit.time import FixedClock

NY = "America/New_York"
LATER = FixedClock("2026-12-01T12:00Z")
RAW = CacheSpec("alpaca", "iex", "raw", "1Day")


def ny(day: str) -> pd.Timestamp:
    return pd.Timestamp(day, tz=NY)


def asked(fake: FakeAlpacaData) -> list[tuple[tuple[str, ...], str, str]]:
    """Each request's symbols and first and last New York date asked for."""
    return [(a.symbols, str(a.start.tz_convert(NY).date()), str(a.end.tz_convert(NY).date())) for a in fake.asks]


@pytest.fixture
def daily(shared_data):
    return {"raw": real_daily(shared_data, ["SPY", "AGG"], "raw"),
            "adjusted": real_daily(shared_data, ["SPY", "AGG"], "adjusted")}


@pytest.fixture
def fake(daily):
    fake = FakeAlpacaData(daily["raw"], daily["adjusted"], page_size=1000)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        fake.install(rsps)
        yield fake


def test_a_wider_run_asks_only_for_the_new_part_and_a_run_inside_asks_nothing(fake, daily, alpaca_env, cache_dir):
    bars(["SPY", "AGG"], "2015-03-02", "2015-06-30", clock=LATER)
    assert asked(fake) == [(("SPY", "AGG"), "2015-03-02", "2015-06-30")]

    got = bars(["SPY", "AGG"], "2015-01-02", "2015-09-30", clock=LATER)
    # Before the cached start and after the cached end, both symbols in one request each.
    assert asked(fake)[1:] == [(("SPY", "AGG"), "2015-01-02", "2015-03-01"),
                               (("SPY", "AGG"), "2015-07-01", "2015-09-30")]
    for sym in ("SPY", "AGG"):
        pd.testing.assert_frame_equal(got[sym], daily["raw"][sym].loc["2015-01-02":"2015-09-30"], check_freq=False)

    n = len(fake.requests)
    got = bars(["SPY", "AGG"], "2015-02-02", "2015-08-31", clock=LATER)
    assert len(fake.requests) == n  # inside the cached range: no HTTP request at all
    pd.testing.assert_frame_equal(got["AGG"], daily["raw"]["AGG"].loc["2015-02-02":"2015-08-31"], check_freq=False)


def test_symbols_missing_different_ranges_are_asked_separately(fake, alpaca_env, cache_dir):
    bars(["SPY"], "2015-03-02", "2015-06-30", clock=LATER)
    bars(["SPY", "AGG"], "2015-03-02", "2015-07-31", clock=LATER)
    assert asked(fake)[1:] == [(("SPY",), "2015-07-01", "2015-07-31"), (("AGG",), "2015-03-02", "2015-07-31")]


def test_a_range_the_source_had_no_bars_for_is_not_asked_again(fake, daily, alpaca_env, cache_dir):
    """AGG starts in 2006-09: asked from 2006-01, the months before it are covered, not re-asked."""
    got = bars(["AGG"], "2006-01-03", "2006-12-29", clock=LATER)["AGG"]
    assert got.index[0] == daily["raw"]["AGG"].index[0]
    bars(["AGG"], "2006-01-03", "2006-12-29", clock=LATER)
    assert len(fake.asks) == 1


def test_a_data_run_inside_the_cache_needs_no_credentials(fake, alpaca_env, cache_dir, monkeypatch):
    bars(["SPY"], "2015-01-02", "2015-12-31", clock=LATER)
    monkeypatch.delenv("APCA_API_KEY_ID")
    monkeypatch.delenv("APCA_API_SECRET_KEY")
    assert len(bars(["SPY"], "2015-06-01", "2015-06-30", clock=LATER)["SPY"]) == 22


def test_todays_bar_is_neither_cached_nor_returned_before_the_close(fake, daily, alpaca_env, cache_dir):
    """SPY's file ends 2016-01-04: the fake serves that bar while the session is still open."""
    open_ = FixedClock(ny("2016-01-04 15:55"))
    got = bars(["SPY"], "2015-12-01", None, clock=open_)["SPY"]  # end None: up to today
    assert got.index[-1] == pd.Timestamp("2015-12-31", tz="UTC")
    cached = read_cached(RAW, "SPY")
    assert cached is not None and cached.bars.index[-1] == pd.Timestamp("2015-12-31", tz="UTC")
    assert cached.end == pd.Timestamp("2016-01-01", tz="UTC")  # covered up to the last closed session

    closed = FixedClock(ny("2016-01-04 16:01"))
    got = bars(["SPY"], "2015-12-01", None, clock=closed)["SPY"]
    assert got.index[-1] == pd.Timestamp("2016-01-04", tz="UTC")
    assert asked(fake)[1] == (("SPY",), "2016-01-01", "2016-01-04")
    pd.testing.assert_frame_equal(got, daily["raw"]["SPY"].loc["2015-12-01":], check_freq=False)


@pytest.mark.parametrize(("when", "final"), [("2015-11-27 12:59", False), ("2015-11-27 13:00", True),
                                             ("2015-11-28 09:00", True), ("2015-11-26 20:00", False)])
def test_a_daily_bar_is_final_from_the_calendars_close_early_closes_included(when, final):
    """2015-11-27 (the day after Thanksgiving) closed at 13:00 New York; 11-26 was a holiday."""
    bar = pd.Timestamp("2015-11-27", tz="UTC")
    assert (bar < complete_before("1Day", ny(when).tz_convert("UTC"))) is final


def test_adjusted_history_restated_by_a_dividend_is_fetched_again_whole(fake, daily, alpaca_env, cache_dir):
    bars(["SPY"], "2015-03-02", "2015-06-30", prices="adjusted", clock=LATER)
    bars(["SPY"], "2015-03-02", "2015-07-31", prices="adjusted", clock=LATER)
    # Adjusted prices change after the fact: the last cached day is asked again, and compared.
    assert asked(fake)[1] == (("SPY",), "2015-06-30", "2015-07-31")

    restated = {sym: f.assign(**{c: f[c] * 0.99 for c in ("open", "high", "low", "close")})
                for sym, f in daily["adjusted"].items()}  # a new dividend rescales the whole history
    fake.daily["all"] = restated
    with pytest.warns(UserWarning, match="SPY: alpaca restated bars already cached"):
        got = bars(["SPY"], "2015-03-02", "2015-08-31", prices="adjusted", clock=LATER)["SPY"]
    assert asked(fake)[2:] == [(("SPY",), "2015-07-31", "2015-08-31"), (("SPY",), "2015-03-02", "2015-08-31")]
    # One adjustment throughout, never two stitched together.
    pd.testing.assert_frame_equal(got, restated["SPY"].loc["2015-03-02":"2015-08-31"], check_freq=False)


def test_one_file_per_source_feed_prices_timeframe_and_symbol(fake, alpaca_env, cache_dir, monkeypatch):
    for feed, prices in (("iex", "raw"), ("iex", "adjusted"), ("sip", "raw")):
        bars(["SPY", "AGG"], "2015-06-01", "2015-06-30", feed=feed, prices=prices, clock=LATER)
    files = sorted(str(p.relative_to(cache_dir)) for p in cache_dir.rglob("*.parquet"))
    assert files == ["alpaca/iex-adjusted-1Day/AGG.parquet", "alpaca/iex-adjusted-1Day/SPY.parquet",
                     "alpaca/iex-raw-1Day/AGG.parquet", "alpaca/iex-raw-1Day/SPY.parquet",
                     "alpaca/sip-raw-1Day/AGG.parquet", "alpaca/sip-raw-1Day/SPY.parquet"]
    assert RAW.path("BRK/B", cache_dir).name == "BRK%2FB.parquet"  # a symbol never makes a folder
    monkeypatch.delenv("TOOLKIT_CACHE_DIR")
    assert where_the_cache_is() == Path(__file__).resolve().parents[2] / "outputs" / "cache"


def test_returned_frames_name_their_file_and_its_hash(fake, alpaca_env, cache_dir):
    import hashlib

    got = bars(["SPY"], "2015-06-01", "2015-06-30", clock=LATER)["SPY"]
    path = Path(got.attrs[CACHE_FILE])
    assert path.parent.parent.parent == cache_dir
    assert got.attrs[CACHE_SHA256] == hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_failed_write_leaves_the_old_file_whole_and_no_temporary_file(daily, cache_dir, monkeypatch):
    spy = daily["raw"]["SPY"]
    first = write_cached(RAW, "SPY", spy.loc["2015-06"], pd.Timestamp("2015-06-01", tz="UTC"),
                         pd.Timestamp("2015-07-01", tz="UTC"))
    before = first.path.read_bytes()

    def crash(src, dst):  # the process dies between writing the temporary file and the rename
        raise KeyboardInterrupt

    with monkeypatch.context() as patch, pytest.raises(KeyboardInterrupt):
        patch.setattr(os, "replace", crash)
        write_cached(RAW, "SPY", spy.loc["2015"], pd.Timestamp("2015-01-01", tz="UTC"),
                     pd.Timestamp("2016-01-01", tz="UTC"))
    assert first.path.read_bytes() == before
    assert [p.name for p in first.path.parent.iterdir()] == ["SPY.parquet"]
    again = read_cached(RAW, "SPY")
    assert again is not None and again.end == pd.Timestamp("2015-07-01", tz="UTC")


def test_an_unusable_cache_file_is_fetched_again(fake, daily, alpaca_env, cache_dir):
    bars(["SPY"], "2015-06-01", "2015-06-30", clock=LATER)
    path = RAW.path("SPY")
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])  # a half file (a disk fault, a copy)
    with pytest.warns(UserWarning, match="unusable cache file"):
        got = bars(["SPY"], "2015-06-01", "2015-06-30", clock=LATER)["SPY"]
    assert len(fake.asks) == 2
    pd.testing.assert_frame_equal(got, daily["raw"]["SPY"].loc["2015-06"], check_freq=False)


def test_a_changed_cache_file_changes_the_data_fingerprint(fake, alpaca_env, cache_dir, shared_data):
    params = DataParams(source="alpaca", symbols=["SPY", "AGG"], start="2015-06-01", end="2015-06-30", prices="raw")
    first = load_dataset(params, base_dir=shared_data)
    again = load_dataset(params, base_dir=shared_data)
    assert again.fingerprint == first.fingerprint and len(fake.asks) == 1
    assert set(first.cache_sha256) == {"SPY", "AGG"}

    # A wider run grows SPY's file; this run's own bars are the same, its fingerprint is not.
    bars(["SPY"], "2015-01-02", "2015-12-31", clock=LATER)
    grown = load_dataset(params, base_dir=shared_data)
    pd.testing.assert_frame_equal(grown.panel, first.panel)
    assert grown.fingerprint != first.fingerprint
    assert grown.cache_sha256["AGG"] == first.cache_sha256["AGG"]
    assert grown.cache_sha256["SPY"] != first.cache_sha256["SPY"]
