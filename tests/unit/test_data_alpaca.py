"""``data.source: alpaca`` through alpaca-py's real client, against Alpaca's bars API faked with ``responses``.

The fake serves the real SPY/AGG daily files and the real QQQ minute file of
``../shared/data`` in Alpaca's JSON shape (daily bars stamped at midnight New York), so
these tests prove the request alpaca-py sends (feed, adjustment, keys, timeout, pages)
and that the bars come back as the toolkit's canonical frames, stamped like every other
daily source.
"""

from __future__ import annotations

import pandas as pd
import pytest
import requests
import responses
from fake_market_data import FakeAlpacaData, real_daily, real_minutes

from toolkit.data import load_dataset
from toolkit.data.sources import BarRequest, registry
from toolkit.data.sources.alpaca import REQUEST_TIMEOUT, AlpacaSource, bars
from toolkit.errors import BrokerAuthError, BrokerError, BrokerUnavailable, ParamsError
from toolkit.params import DataParams
from toolkit.params.backtest import BacktestParams
from toolkit.time import FixedClock

NY = "America/New_York"
LATER = FixedClock("2026-12-01T12:00Z")  # long after the files end: every bar is final


@pytest.fixture
def daily(shared_data):
    return {"raw": real_daily(shared_data, ["SPY", "AGG"], "raw"),
            "adjusted": real_daily(shared_data, ["SPY", "AGG"], "adjusted")}


@pytest.fixture
def fake(daily):
    fake = FakeAlpacaData(daily["raw"], daily["adjusted"], page_size=100)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        fake.install(rsps)
        fake.rsps = rsps
        yield fake


def test_daily_bars_are_the_real_prices_stamped_at_midnight_utc_of_the_session(fake, daily, alpaca_env, cache_dir,
                                                                                assert_canonical):
    got = bars(["SPY", "AGG"], "2015-01-02", "2015-12-31", clock=LATER)
    assert list(got) == ["SPY", "AGG"]
    for sym in ("SPY", "AGG"):
        want = daily["raw"][sym].loc["2015-01-02":"2015-12-31"]
        assert_canonical(got[sym])
        # Alpaca sent 05:00Z in winter and 04:00Z in summer (midnight New York): both are
        # the session date at midnight UTC, as the CSV and sample sources stamp it.
        pd.testing.assert_frame_equal(got[sym], want, check_freq=False)
    assert (got["SPY"].index == got["SPY"].index.normalize()).all() and len(got["SPY"]) == 252


def test_the_request_is_iex_raw_daily_with_the_keys_and_a_timeout(fake, alpaca_env, cache_dir):
    bars(["SPY"], "2015-06-01", "2015-06-30", clock=LATER)
    (ask,) = fake.asks
    assert ask.params["feed"] == "iex" and ask.params["adjustment"] == "raw" and ask.params["timeframe"] == "1Day"
    assert ask.symbols == ("SPY",)
    # From midnight New York of the first date to just before midnight after the last.
    assert ask.start.tz_convert(NY) == pd.Timestamp("2015-06-01", tz=NY)
    assert ask.end.tz_convert(NY) == pd.Timestamp("2015-06-30 23:59:59", tz=NY)
    assert fake.headers[0]["APCA-API-KEY-ID"] == alpaca_env["APCA_API_KEY_ID"]
    assert fake.rsps.calls[0].request.req_kwargs["timeout"] == REQUEST_TIMEOUT  # alpaca-py sets none itself


def test_adjusted_prices_ask_for_every_adjustment_and_sip_is_asked_when_chosen(fake, daily, alpaca_env, cache_dir):
    got = bars(["SPY"], "2015-06-01", "2015-06-30", feed="sip", prices="adjusted", clock=LATER)
    (ask,) = fake.asks
    assert ask.params["adjustment"] == "all" and ask.params["feed"] == "sip"
    pd.testing.assert_frame_equal(got["SPY"], daily["adjusted"]["SPY"].loc["2015-06"], check_freq=False)


def test_every_page_is_walked(daily, alpaca_env, cache_dir):
    fake = FakeAlpacaData(daily["raw"], page_size=37)
    with responses.RequestsMock() as rsps:
        fake.install(rsps)
        got = bars(["SPY", "AGG"], "2014-01-02", "2015-12-31", clock=LATER)
    assert len(fake.asks) == 1 and len(fake.requests) == -(-(2 * 504) // 37)  # one request, 28 pages
    for sym in ("SPY", "AGG"):
        pd.testing.assert_frame_equal(got[sym], daily["raw"][sym].loc["2014":"2015"], check_freq=False)


def test_apca_api_data_url_points_the_client_elsewhere(daily, alpaca_env, cache_dir, monkeypatch):
    monkeypatch.setenv("APCA_API_DATA_URL", "http://127.0.0.1:8765")
    fake = FakeAlpacaData(daily["raw"])
    with responses.RequestsMock() as rsps:  # a call to Alpaca's own URL would fail: not registered
        fake.install(rsps, base_url="http://127.0.0.1:8765")
        got = bars(["AGG"], "2016-01-04", "2016-01-08", clock=LATER)
    assert len(got["AGG"]) == 5 and len(fake.asks) == 1


def test_minute_bars_of_a_new_york_day(shared_data, alpaca_env, cache_dir):
    minutes = real_minutes(shared_data, ["QQQ"])["QQQ"]
    fake = FakeAlpacaData({}, minutes={"QQQ": minutes})
    with responses.RequestsMock() as rsps:
        fake.install(rsps)
        got = bars(["QQQ"], "2019-12-18", "2019-12-18", "1Min", clock=LATER)["QQQ"]
    day = minutes.loc[(minutes.index >= pd.Timestamp("2019-12-18", tz=NY))
                      & (minutes.index < pd.Timestamp("2019-12-19", tz=NY))]
    assert len(day) == 387 and fake.asks[0].params["timeframe"] == "1Min"  # the file lacks 3 of the 390 minutes
    pd.testing.assert_frame_equal(got, day, check_freq=False)


def test_minute_bars_still_forming_are_left_out_and_fetched_later(shared_data, alpaca_env, cache_dir):
    minutes = real_minutes(shared_data, ["QQQ"])["QQQ"]
    fake = FakeAlpacaData({}, minutes={"QQQ": minutes})
    with responses.RequestsMock() as rsps:
        fake.install(rsps)
        noon = FixedClock(pd.Timestamp("2019-12-18 12:00:30", tz=NY))
        got = bars(["QQQ"], "2019-12-18", "2019-12-18", "1Min", clock=noon)["QQQ"]
        # The 11:59 bar may still receive late prints: the last one returned is 11:58.
        assert got.index[-1] == pd.Timestamp("2019-12-18 11:58", tz=NY)
        close = FixedClock(pd.Timestamp("2019-12-18 16:10", tz=NY))
        got = bars(["QQQ"], "2019-12-18", "2019-12-18", "1Min", clock=close)["QQQ"]
    day = minutes.loc[(minutes.index >= pd.Timestamp("2019-12-18", tz=NY))
                      & (minutes.index < pd.Timestamp("2019-12-19", tz=NY))]
    pd.testing.assert_frame_equal(got, day, check_freq=False)
    assert fake.asks[1].start == pd.Timestamp("2019-12-18 11:59", tz=NY)  # only what was missing


def test_without_credentials_nothing_is_sent_and_the_error_names_the_variables(fake, cache_dir, monkeypatch):
    monkeypatch.delenv("APCA_API_KEY_ID", raising=False)
    monkeypatch.delenv("APCA_API_SECRET_KEY", raising=False)
    with pytest.raises(BrokerAuthError) as ei:
        bars(["SPY"], "2015-06-01", "2015-06-30", clock=LATER)
    assert "APCA_API_KEY_ID, APCA_API_SECRET_KEY" in str(ei.value) and "\n" not in str(ei.value)
    assert fake.requests == []


@pytest.mark.parametrize(("status", "body", "error", "words"), [
    (403, '{"message": "forbidden"}', BrokerAuthError, "market data refused (403: forbidden)"),
    (422, '{"code": 42210000, "message": "invalid start"}', BrokerError, "(422: invalid start)"),
    (500, "<html><body><h1>500 Internal Server Error</h1></body></html>", BrokerUnavailable,
     "unavailable (500: <html>"),
])
def test_http_errors_are_one_line_broker_errors_without_secrets(fake, alpaca_env, cache_dir, status, body, error,
                                                                 words):
    fake.fail_with = (status, body)
    with pytest.raises(error) as ei:
        bars(["SPY"], "2015-06-01", "2015-06-30", clock=LATER)
    text = str(ei.value)
    assert words in text and text.startswith("alpaca: ") and "\n" not in text and ei.value.status == status
    assert not any(secret in text for secret in alpaca_env.values())
    assert not list(cache_dir.rglob("*.parquet"))  # nothing cached from a failed request


@pytest.mark.parametrize(("status", "template", "error"), [
    (403, '{{"message": "key {key} with secret {secret} may not read the sip feed"}}', BrokerAuthError),
    (422, '{{"message": "bad request from {key}:{secret}"}}', BrokerError),
    (502, "<html><body>upstream refused APCA-API-KEY-ID={key} APCA-API-SECRET-KEY={secret}</body></html>",
     BrokerUnavailable),
])
def test_an_error_answer_echoing_the_keys_shows_neither(fake, alpaca_env, cache_dir, status, template, error):
    """Promise 7: a server or proxy echoing the request's headers must not put the keys in our message."""
    key, secret = alpaca_env["APCA_API_KEY_ID"], alpaca_env["APCA_API_SECRET_KEY"]
    fake.fail_with = (status, template.format(key=key, secret=secret))
    with pytest.raises(error) as ei:
        bars(["SPY"], "2015-06-01", "2015-06-30", clock=LATER)
    text = str(ei.value)
    assert key not in text and secret not in text and "***" in text and ei.value.status == status


def test_a_connection_error_echoing_the_key_shows_it_not(alpaca_env, cache_dir):
    key = alpaca_env["APCA_API_KEY_ID"]
    with responses.RequestsMock() as rsps:
        rsps.add("GET", "https://data.alpaca.markets/v2/stocks/bars",
                 body=requests.ConnectionError(f"proxy refused a request with APCA-API-KEY-ID: {key}"))
        with pytest.raises(BrokerUnavailable) as ei:
            bars(["SPY"], "2015-06-01", "2015-06-30", clock=LATER)
    assert key not in str(ei.value) and "APCA-API-KEY-ID: ***" in str(ei.value)


@pytest.mark.parametrize("exc", [requests.ConnectTimeout("timed out"), requests.ConnectionError("reset by peer")])
def test_timeouts_and_connection_errors_are_broker_unavailable(alpaca_env, cache_dir, exc):
    with responses.RequestsMock() as rsps:
        rsps.add("GET", "https://data.alpaca.markets/v2/stocks/bars", body=exc)
        with pytest.raises(BrokerUnavailable, match=f"alpaca: market data request failed \\({type(exc).__name__}"):
            bars(["SPY"], "2015-06-01", "2015-06-30", clock=LATER)


# --------------------------------------------------------------------------- as a data source


def test_data_feed_defaults_to_iex_and_is_checked(cache_dir):
    assert DataParams(source="alpaca", start="2015-01-01").feed == "iex"
    assert DataParams(source="alpaca", start="2015-01-01", feed="sip").feed == "sip"
    assert DataParams(source="sample").feed is None
    with pytest.raises(ParamsError) as ei:
        BacktestParams.parse({"data": {"source": "alpaca", "feed": "nasdaq"}})
    assert str(ei.value) == "data.feed: got 'nasdaq'; allowed: one of iex, sip (the feeds of data.source: alpaca)"
    with pytest.raises(ParamsError) as ei:
        BacktestParams.parse({"data": {"source": "sample", "feed": "sip"}})
    assert str(ei.value) == ("data.feed: got 'sip'; allowed: no feed with data.source: sample "
                             "(only alpaca take a feed)")


def test_the_source_needs_a_start_and_refuses_a_symbol_alpaca_lacks(fake, alpaca_env, cache_dir):
    with pytest.raises(ParamsError) as ei:
        registry.get("alpaca").load(BarRequest(["SPY"], "raw"))
    assert ei.value.field == "data.start" and "fetches bars from data.start" in str(ei.value)
    with pytest.raises(ParamsError) as ei:
        AlpacaSource(clock=LATER).load(BarRequest(["SPY", "NOPE"], "raw", start=pd.Timestamp("2015-01-02").date(),
                                                  end=pd.Timestamp("2015-01-30").date()))
    assert (ei.value.field, ei.value.value) == ("data.symbols", "NOPE")
    assert "Alpaca iex bars between 2015-01-02 and 2015-01-30" in str(ei.value)


def test_a_dataset_from_alpaca_lines_up_with_the_same_bars_from_files(fake, daily, alpaca_env, cache_dir,
                                                                      shared_data):
    """The same real prices through data.source alpaca and data.source csv give the same panel."""
    alpaca = load_dataset(DataParams(source="alpaca", symbols=["SPY", "AGG"], start="2014-01-02",
                                     end="2015-12-31", prices="raw"), base_dir=shared_data)
    files = load_dataset(DataParams(source="csv", path=str(shared_data / "daily" / "qstrader"),
                                    symbols=["SPY", "AGG"], start="2014-01-02", end="2015-12-31", prices="raw"),
                         base_dir=shared_data)
    pd.testing.assert_frame_equal(alpaca.panel, files.panel, check_freq=False)
    assert set(alpaca.cache_sha256) == {"SPY", "AGG"} and not files.cache_sha256
