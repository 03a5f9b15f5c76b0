"""``data.source: schwab`` through schwab-py's real client and Authlib session, against Schwab's API faked with respx.

The fake serves the real SPY/AGG daily files in Schwab's price-history shape (candles
stamped at midnight Chicago time, epoch milliseconds). The client is opened from a real
token file while this process holds the token file's lock.
"""

from __future__ import annotations

import os

import httpx
import pandas as pd
import pytest
import respx
from fake_market_data import FakeSchwabData, real_daily, write_schwab_token

from toolkit.connections import SchwabCredentials, TokenFileLock
from toolkit.data.sources import BarRequest
from toolkit.data.sources.schwab import REQUEST_TIMEOUT, SchwabSource, daily_bars
from toolkit.errors import BrokerAuthError, BrokerError, BrokerUnavailable, ParamsError
from toolkit.params.backtest import BacktestParams
from toolkit.time import FixedClock

LATER = FixedClock("2026-12-01T12:00Z")
TOKEN_URL = "https://api.schwabapi.com/v1/oauth/token"


@pytest.fixture
def daily(shared_data):
    return real_daily(shared_data, ["SPY", "AGG"], "raw")


@pytest.fixture
def fake(daily):
    fake = FakeSchwabData(daily)
    with respx.mock(assert_all_called=False) as router:
        fake.route = fake.install(router)
        fake.router = router
        yield fake


def test_daily_bars_are_the_real_prices_stamped_at_midnight_utc_of_the_session(fake, daily, schwab_env, cache_dir,
                                                                                assert_canonical):
    got = daily_bars(["SPY", "AGG"], "2015-01-02", "2015-12-31", clock=LATER)
    for sym in ("SPY", "AGG"):
        assert_canonical(got[sym])
        # Schwab's candle at 06:00Z (midnight Chicago) is the session date at midnight UTC.
        pd.testing.assert_frame_equal(got[sym], daily[sym].loc["2015"], check_freq=False)
    assert [a.symbols for a in fake.asks] == [("SPY",), ("AGG",)]  # one request per symbol
    request = fake.router.calls[0].request
    assert request.headers["authorization"] == "Bearer fake-access-token"
    assert request.url.params["frequencyType"] == "daily" and request.url.params["periodType"] == "year"


def test_the_token_file_is_locked_while_the_client_fetches_and_released_after(fake, schwab_env, cache_dir):
    seen = []

    def history(request):
        with pytest.raises(BrokerError, match="in use by another process"):
            TokenFileLock(schwab_env).acquire()  # another user of the token is refused meanwhile
        seen.append(request.extensions["timeout"])
        return fake.handle(request)

    fake.route.mock(side_effect=history)
    assert len(daily_bars(["SPY"], "2015-01-02", "2015-01-30", clock=LATER)["SPY"]) == 20
    assert seen and seen[0]["read"] == REQUEST_TIMEOUT
    with TokenFileLock(schwab_env):  # released once the bars were fetched
        pass


def test_the_client_is_an_httpx_client_respx_can_see(schwab_env):
    from toolkit.connections import open_schwab_client

    client, lock = open_schwab_client(SchwabCredentials.from_env())
    try:
        # Authlib >= 1.8 would use httpx2 if installed, which respx does not intercept.
        assert isinstance(client.session, httpx.Client)
    finally:
        lock.release()


def test_adjusted_prices_are_refused_before_anything_is_asked(fake, schwab_env, cache_dir):
    with pytest.raises(ParamsError) as ei:
        BacktestParams.parse({"data": {"source": "schwab", "symbols": ["SPY"], "start": "2015-01-02"}})
    assert str(ei.value) == ("data.prices: got 'adjusted'; allowed: raw (data.source: schwab offers no adjusted "
                             "prices: Schwab's price history is not adjusted for dividends; alpaca and csv offer "
                             "adjusted prices)")
    data = BacktestParams.parse({"data": {"source": "schwab", "symbols": ["SPY"], "start": "2015-01-02",
                                          "prices": "raw"}}).data
    assert data.prices == "raw" and data.feed is None
    with pytest.raises(ParamsError, match=r"^data\.prices: got 'adjusted'"):
        SchwabSource(clock=LATER).load(BarRequest(["SPY"], "adjusted", start=pd.Timestamp("2015-01-02").date()))
    assert fake.requests == []


def test_an_expired_refresh_token_stops_before_any_request(fake, schwab_env, cache_dir):
    write_schwab_token(schwab_env, age_days=7.5)
    with pytest.raises(BrokerAuthError) as ei:
        daily_bars(["SPY"], "2015-01-02", "2015-01-30", clock=LATER)
    assert "refresh token expired" in str(ei.value) and "client_from_manual_flow" in str(ei.value)
    assert fake.requests == []


def test_a_refused_token_refresh_says_how_to_log_in(fake, schwab_env, cache_dir):
    token = write_schwab_token(schwab_env)
    text = token.read_text().replace('"expires_at": ', '"expires_at": 1000000000, "old_expires_at": ')
    token.write_text(text)  # the access token expired long ago: Authlib refreshes first
    refresh = fake.router.post(TOKEN_URL).mock(return_value=httpx.Response(
        400, json={"error": "invalid_client", "error_description": "refresh token invalid"}))
    with pytest.raises(BrokerAuthError) as ei:
        daily_bars(["SPY"], "2015-01-02", "2015-01-30", clock=LATER)
    assert refresh.called and "token refresh refused" in str(ei.value) and "log in again" in str(ei.value)
    assert fake.requests == []


def test_without_credentials_the_error_names_the_variables(fake, cache_dir, monkeypatch):
    for name in ("SCHWAB_API_KEY", "SCHWAB_APP_SECRET", "SCHWAB_TOKEN_PATH"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(BrokerAuthError) as ei:
        daily_bars(["SPY"], "2015-01-02", "2015-01-30", clock=LATER)
    assert "SCHWAB_API_KEY, SCHWAB_APP_SECRET, SCHWAB_TOKEN_PATH" in str(ei.value)
    assert fake.requests == []


@pytest.mark.parametrize(("status", "body", "error", "words"), [
    (401, '{"errors": [{"detail": "token invalid"}]}', BrokerAuthError, "price history refused (401: token invalid)"),
    (400, '{"message": "bad symbol"}', BrokerError, "price history of SPY refused (400: bad symbol)"),
    (429, '{"message": "slow down"}', BrokerUnavailable, "unavailable (429: slow down)"),
    (502, "<html>Bad Gateway</html>", BrokerUnavailable, "unavailable (502: <html>Bad Gateway</html>)"),
])
def test_every_status_is_checked(fake, schwab_env, cache_dir, status, body, error, words):
    fake.fail_with = (status, body)
    with pytest.raises(error) as ei:
        daily_bars(["SPY"], "2015-01-02", "2015-01-30", clock=LATER)
    assert words in str(ei.value) and str(ei.value).startswith("schwab: ") and ei.value.status == status
    assert not list(cache_dir.rglob("*.parquet"))


@pytest.mark.parametrize(("status", "error"), [(401, BrokerAuthError), (400, BrokerError),
                                               (503, BrokerUnavailable)])
def test_an_error_answer_echoing_the_keys_and_token_shows_none_of_them(fake, schwab_env, cache_dir, monkeypatch,
                                                                       status, error):
    """Promise 7: the app key, app secret, account number and access token never reach a message."""
    monkeypatch.setenv("SCHWAB_ACCOUNT_NUMBER", "12345678")
    key, secret = os.environ["SCHWAB_API_KEY"], os.environ["SCHWAB_APP_SECRET"]
    fake.fail_with = (status, f'{{"message": "app {key} secret {secret} account 12345678 '
                              f'Authorization: Bearer fake-access-token"}}')
    with pytest.raises(error) as ei:
        daily_bars(["SPY"], "2015-01-02", "2015-01-30", clock=LATER)
    text = str(ei.value)
    assert ei.value.status == status and "***" in text
    assert not any(s in text for s in (key, secret, "12345678", "fake-access-token"))


def test_an_html_error_page_echoing_the_key_shows_it_not(fake, schwab_env, cache_dir):
    key = os.environ["SCHWAB_API_KEY"]
    fake.fail_with = (502, f"<html>Bad Gateway for client_id={key}</html>")
    with pytest.raises(BrokerUnavailable) as ei:
        daily_bars(["SPY"], "2015-01-02", "2015-01-30", clock=LATER)
    assert str(ei.value).startswith("schwab: price history unavailable (502: <html>Bad Gateway for client_id=***")


def test_a_connection_error_is_broker_unavailable(schwab_env, cache_dir):
    with respx.mock() as router:
        router.get("https://api.schwabapi.com/marketdata/v1/pricehistory").mock(
            side_effect=httpx.ConnectError("connection reset"))
        with pytest.raises(BrokerUnavailable, match="schwab: price history request failed \\(ConnectError"):
            daily_bars(["SPY"], "2015-01-02", "2015-01-30", clock=LATER)


def test_the_cache_asks_schwab_only_for_new_days_and_the_last_cached_one(fake, daily, schwab_env, cache_dir):
    daily_bars(["SPY"], "2015-06-01", "2015-06-30", clock=LATER)
    got = daily_bars(["SPY"], "2015-06-01", "2015-07-31", clock=LATER)["SPY"]
    pd.testing.assert_frame_equal(got, daily["SPY"].loc["2015-06":"2015-07"], check_freq=False)
    second = fake.asks[1]
    # Schwab may restate history for a split: the last cached day is asked again and compared.
    assert second.start.tz_convert("America/New_York") == pd.Timestamp("2015-06-30", tz="America/New_York")
    daily_bars(["SPY"], "2015-06-10", "2015-07-20", clock=LATER)
    assert len(fake.asks) == 2  # inside the cached range: nothing asked
