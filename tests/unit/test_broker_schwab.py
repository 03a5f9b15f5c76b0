"""The Schwab adapter through schwab-py's real client, with Schwab's HTTP faked by respx.

The client is built by ``schwab.auth.client_from_token_file`` on a token file in
schwab-py's own format; respx answers both the trading API and the OAuth token
endpoint, so Authlib's refresh runs for real. Orders are recorded in a real ledger
(``open_ledger("sqlite://")``) the way the engine's planning records them, and its
broker order ids are the :class:`OrderIdBook`. What each test guards is a failure a
live user would pay for: a duplicate order, a lost fill, a login that dies silently.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

respx = pytest.importorskip("respx")
schwab = pytest.importorskip("schwab")

from toolkit.brokers.schwab import SchwabBroker  # noqa: E402
from toolkit.connections import SchwabCredentials, TokenFileLock, token_health  # noqa: E402
from toolkit.engine.order_ids import LedgerOrderIdBook  # noqa: E402
from toolkit.errors import AmbiguousOrder, BrokerAuthError, BrokerError, BrokerUnavailable, UnsupportedOrder  # noqa: E402
from toolkit.ledger import open_ledger  # noqa: E402
from toolkit.model import Order, OrderFilled, OrderStatus, OrderType, TradingMode  # noqa: E402

API = "https://api.schwabapi.com"
TOKEN_URL = f"{API}/v1/oauth/token"
HASH = "E5B0C1D2A3F4"
ACCOUNT = "87654321"
APP_KEY = "appkey-Zq81Lw"
APP_SECRET = "appsecret-Yp42Kv"
ACCESS = "access-token-Xr77Jm"
REFRESH = "refresh-token-Wn63Hb"
SECRETS = (APP_KEY, APP_SECRET, ACCESS, REFRESH, ACCOUNT)
#: 15:50 in New York on a Tuesday: the session is open.
NOW = pd.Timestamp("2026-12-01 20:50:00", tz="UTC")
ORDERS = f"{API}/trader/v1/accounts/{HASH}/orders"
LEDGER_ACCOUNT = "schwab-main"
LIVE = TradingMode.ONLINE_LIVE.value


def write_token(path: Path, *, created: float, access_expires_at: float | None = None) -> Path:
    """A token file exactly as schwab-py writes it: ``{"creation_timestamp", "token"}``."""
    path.write_text(json.dumps({"creation_timestamp": int(created), "token": {
        "access_token": ACCESS, "refresh_token": REFRESH, "token_type": "Bearer", "expires_in": 1800,
        "scope": "api", "id_token": "id-token-Vm12Qa",
        "expires_at": int(access_expires_at if access_expires_at is not None else time.time() + 3600)}}))
    return path


def iso(ts: pd.Timestamp) -> str:
    return ts.tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%S+0000")


def execution(activity_id: int, *legs: tuple[int, int, str, pd.Timestamp]) -> dict[str, Any]:
    """One entry of ``orderActivityCollection``: ``(legId, quantity, price, time)`` per execution leg."""
    return {"activityType": "EXECUTION", "activityId": activity_id, "executionType": "FILL",
            "quantity": sum(q for _, q, _, _ in legs),
            "executionLegs": [{"legId": leg, "quantity": float(q), "price": float(p), "time": iso(t),
                               "mismarkedQuantity": 0.0, "instrumentId": 1} for leg, q, p, t in legs]}


@dataclass
class FakeSchwab:
    """Enough of Schwab's trading API for the adapter: orders kept in memory, POSTs scripted.

    ``post_script`` says what each POST does: ``ok`` (201 + Location), ``no-location``,
    ``500-created`` / ``timeout-created`` / ``reset-created`` (the order exists, the answer
    is lost), ``500`` / ``timeout`` / ``429`` (nothing created), ``400`` / ``422`` / ``403`` (refused),
    ``refused-connection`` (no connection made).
    """

    mock: Any
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    post_script: list[str] = field(default_factory=list)
    list_script: list[Any] = field(default_factory=list)
    next_id: int = 1001
    entered: pd.Timestamp = NOW + pd.Timedelta(seconds=1)

    def __post_init__(self) -> None:
        m = self.mock
        self.token = m.post(TOKEN_URL).mock(return_value=httpx.Response(200, json={
            "access_token": "access-new-Qq11", "refresh_token": "refresh-new-Rr22", "token_type": "Bearer",
            "expires_in": 1800, "scope": "api"}))
        self.numbers = m.get(f"{API}/trader/v1/accounts/accountNumbers").mock(
            return_value=httpx.Response(200, json=[{"accountNumber": ACCOUNT, "hashValue": HASH}]))
        self.posts = m.post(ORDERS).mock(side_effect=self._post)
        self.lists = m.get(ORDERS).mock(side_effect=self._list)
        one = re.escape(ORDERS) + r"/(?P<oid>\d+)$"
        self.gets = m.get(url__regex=one).mock(side_effect=self._get)
        self.deletes = m.delete(url__regex=one).mock(side_effect=self._delete)

    def add(self, spec: dict[str, Any], *, status: str = "WORKING", entered: pd.Timestamp | None = None,
            activities: list[dict[str, Any]] | None = None) -> str:
        oid = str(self.next_id)
        self.next_id += 1
        leg = spec["orderLegCollection"][0]
        self.orders[oid] = {**spec, "orderId": int(oid), "accountNumber": int(ACCOUNT), "status": status,
                            "quantity": float(leg["quantity"]), "filledQuantity": 0.0,
                            "enteredTime": iso(entered if entered is not None else self.entered),
                            "orderActivityCollection": activities or []}
        return oid

    def _post(self, request: httpx.Request) -> httpx.Response:
        action = self.post_script.pop(0) if self.post_script else "ok"
        spec = json.loads(request.content)
        if action == "refused-connection":  # no connection was made: nothing reached Schwab
            raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
        created = None if action in ("500", "timeout", "429", "400", "422", "403") else self.add(spec)
        if action == "ok":
            return httpx.Response(201, headers={"Location": f"{ORDERS}/{created}"})
        if action == "no-location":
            return httpx.Response(201)
        if action in ("500", "500-created"):
            return httpx.Response(500, json={"message": "Internal Server Error"})
        if action in ("timeout", "timeout-created"):
            raise httpx.ReadTimeout("The read operation timed out", request=request)
        if action == "reset-created":
            raise httpx.ReadError("[Errno 104] Connection reset by peer", request=request)
        if action == "429":
            return httpx.Response(429, headers={"Retry-After": "3"}, json={"message": "Too many requests"})
        if action == "403":
            return httpx.Response(403, json={"message": "Account is not enabled for trading"})
        return httpx.Response(int(action), json={"message": "Order quantity exceeds the buying power of the account"})

    def _list(self, request: httpx.Request) -> httpx.Response:
        if self.list_script:
            step = self.list_script.pop(0)
            if isinstance(step, Exception):
                raise step
            return step
        since = pd.Timestamp(request.url.params["fromEnteredTime"]).tz_localize(None).tz_localize("UTC")
        until = pd.Timestamp(request.url.params["toEnteredTime"]).tz_localize(None).tz_localize("UTC")
        shown = [o for o in self.orders.values() if since <= pd.Timestamp(o["enteredTime"]) <= until]
        return httpx.Response(200, json=shown)

    def _get(self, request: httpx.Request, oid: str) -> httpx.Response:
        if oid not in self.orders:
            return httpx.Response(404, json={"message": "Order not found"})
        return httpx.Response(200, json=self.orders[oid])

    def _delete(self, request: httpx.Request, oid: str) -> httpx.Response:
        order = self.orders[oid]
        order["status"] = "CANCELED"
        order["closeTime"] = iso(NOW + pd.Timedelta(minutes=2))
        return httpx.Response(200)


class LedgerBook(LedgerOrderIdBook):
    """The engine's book over the ledger; ``crash_on_remember`` kills the process just before the write."""

    def __init__(self, ledger: Any, *, crash_on_remember: bool = False) -> None:
        super().__init__(ledger, account=LEDGER_ACCOUNT, mode=LIVE)
        self.crash_on_remember = crash_on_remember

    def remember(self, client_order_id: str, broker_order_id: str) -> None:
        if self.crash_on_remember:
            raise SystemExit("process killed between the POST and the ledger write")
        super().remember(client_order_id, broker_order_id)


@dataclass
class Env:
    fake: FakeSchwab
    broker: SchwabBroker
    ledger: Any
    token_path: Path
    sleeps: list[float]

    def new_broker(self, book: Any = None) -> SchwabBroker:
        """A fresh adapter (a restarted process) on the same token file and ledger."""
        client = schwab.auth.client_from_token_file(str(self.token_path), APP_KEY, APP_SECRET)
        broker = SchwabBroker(client, account_number=ACCOUNT, sleep=self.sleeps.append, token_path=self.token_path,
                              now=lambda: NOW)
        broker.bind_order_ids(book if book is not None else LedgerBook(self.ledger))
        return broker

    def order(self, coid: str = "sma-20261201-SPY-buy", *, quantity: int | str = 10, symbol: str = "SPY",
              side: str = "buy", record: bool = True, **terms: Any) -> Order:
        """An order recorded in the ledger as the engine's planning does, then handed to the broker."""
        if record:
            self.ledger.record_order(client_order_id=coid, run_key="r1", mode=LIVE, strategy="sma",
                                     account=LEDGER_ACCOUNT, symbol=symbol, side=side, quantity=Decimal(quantity),
                                     decision_price=Decimal("600.00"), reason="rebalance", at=NOW.to_pydatetime())
        return Order(coid, symbol, side, Decimal(quantity), reference_price=Decimal("600.00"),
                     mode=TradingMode.ONLINE_LIVE, created_at=NOW, reason="rebalance", **terms)

    def record(self, order: Order | None) -> None:
        """What the engine does with the broker's view: hand every event to the ledger (idempotent)."""
        assert order is not None
        for event in order.events:
            self.ledger.apply(event)

    def calls(self) -> int:
        return len(self.fake.mock.calls)


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    token = write_token(tmp_path / "token.json", created=NOW.timestamp() - 86400)
    with respx.mock(assert_all_called=False) as mock:
        fake = FakeSchwab(mock)
        ledger = open_ledger("sqlite://")
        ledger.set_initial_cash(LEDGER_ACCOUNT, LIVE, Decimal(100_000))
        sleeps: list[float] = []
        e = Env(fake, None, ledger, token, sleeps)  # type: ignore[arg-type]
        e.broker = e.new_broker()
        yield e
        e.broker.close()


def market_spec(symbol: str = "SPY", instruction: str = "BUY", quantity: int = 10) -> dict[str, Any]:
    return schwab.orders.generic.OrderBuilder().set_order_type(schwab.orders.common.OrderType.MARKET).set_session(
        schwab.orders.common.Session.NORMAL).set_duration(schwab.orders.common.Duration.DAY).set_order_strategy_type(
        schwab.orders.common.OrderStrategyType.SINGLE).add_equity_leg(
        schwab.orders.common.EquityInstruction[instruction], symbol, quantity).build()


# ----------------------------------------------------------------------------- the client and respx


def test_schwab_py_session_is_an_httpx_client_so_respx_intercepts_it(env: Env) -> None:
    """Authlib 1.8+ switches to httpx2 when it is installed, and respx then sees nothing: pin, and check."""
    session = env.broker._client.session
    assert isinstance(session, httpx.Client)
    assert type(session).__mro__[2].__module__.startswith("httpx")
    assert env.broker._client.session.timeout == SchwabBroker.request_timeout


def test_an_expired_access_token_is_refreshed_through_the_token_endpoint(env: Env) -> None:
    token = write_token(env.token_path, created=NOW.timestamp() - 86400, access_expires_at=time.time() - 60)
    broker = env.new_broker()
    env.fake.mock.get(f"{API}/trader/v1/accounts/{HASH}").mock(return_value=httpx.Response(200, json={
        "securitiesAccount": {"type": "CASH", "accountNumber": ACCOUNT, "currentBalances": {"cashBalance": 1000.5}}}))
    assert broker.get_cash() == Decimal("1000.5")
    assert env.fake.token.call_count == 1
    stored = json.loads(token.read_text())
    assert stored["token"]["access_token"] == "access-new-Qq11"
    assert stored["creation_timestamp"] == int(NOW.timestamp() - 86400)  # a refresh does not extend the 7 days


# ----------------------------------------------------------------------------- logins


def test_401_is_an_auth_error_that_says_how_to_log_in(env: Env) -> None:
    env.fake.numbers.mock(return_value=httpx.Response(401, json={"message": "Client not authorized"}))
    with pytest.raises(BrokerAuthError) as err:
        env.broker.get_orders()
    assert "HTTP 401" in str(err.value) and "client_from_manual_flow" in str(err.value)
    assert env.fake.numbers.call_count == 1  # a refused login is not retried
    assert env.sleeps == []


def test_expired_refresh_token_is_an_auth_error_and_no_order_is_sent(env: Env) -> None:
    write_token(env.token_path, created=NOW.timestamp() - 86400, access_expires_at=time.time() - 60)
    broker = env.new_broker()
    env.fake.token.mock(return_value=httpx.Response(400, json={
        "error": "invalid_client", "error_description": "refresh token invalid"}))
    with pytest.raises(BrokerAuthError) as err:
        broker.submit_order(env.order())
    text = str(err.value)
    assert "refresh token invalid" in text and "log in again" in text
    assert env.fake.posts.call_count == 0
    assert not any(s in text for s in SECRETS)


def test_token_file_older_than_7_days_fails_before_any_call(env: Env) -> None:
    write_token(env.token_path, created=NOW.timestamp() - 7.1 * 86400)
    with pytest.raises(BrokerAuthError) as err:
        env.broker.submit_order(env.order())
    assert "expired 0.1 days ago" in str(err.value) and "log in again" in str(err.value)
    assert env.calls() == 0


def test_token_days_left_warning_and_expiry_figures(env: Env) -> None:
    write_token(env.token_path, created=NOW.timestamp() - 5.5 * 86400)
    days = env.broker.token_days_left()
    assert days == pytest.approx(1.5)
    health = token_health(days)
    assert health.level == "warn" and "expires in 1.5 days (under 2)" in health.message
    write_token(env.token_path, created=NOW.timestamp() - 7.1 * 86400)
    expired = token_health(env.broker.token_days_left())
    assert expired.level == "expired" and expired.days_left == pytest.approx(-0.1)
    assert "expired 0.1 days ago" in expired.message and "client_from_manual_flow" in expired.message
    assert token_health(6.0).level == "ok"


# ----------------------------------------------------------------------------- the token lock


def _environ(tmp_path: Path, token: Path) -> dict[str, str]:
    return {"SCHWAB_API_KEY": APP_KEY, "SCHWAB_APP_SECRET": APP_SECRET, "SCHWAB_TOKEN_PATH": str(token),
            "SCHWAB_ACCOUNT_NUMBER": ACCOUNT}


def test_one_process_owns_the_token_file(tmp_path: Path) -> None:
    token = write_token(tmp_path / "token.json", created=time.time() - 86400)
    environ = _environ(tmp_path, token)
    broker = SchwabBroker.from_env(environ)
    try:
        with pytest.raises(BrokerError, match="is in use by another process"):
            SchwabBroker.from_env(environ)
        probe = ("import sys; from pathlib import Path; from toolkit.connections import TokenFileLock\n"
                 "try:\n    TokenFileLock(Path(sys.argv[1])).acquire()\n"
                 "except Exception as e:\n    print(e); sys.exit(3)\n")
        other = subprocess.run([sys.executable, "-c", probe, str(token)], check=False, capture_output=True,
                               text=True, timeout=60)
        assert other.returncode == 3, other.stderr
        assert "in use by another process" in other.stdout and "one process owns a Schwab token" in other.stdout
    finally:
        broker.close()
    SchwabBroker.from_env(environ).close()  # released: the next run may take it


def test_from_env_refuses_an_expired_token_and_releases_the_lock(tmp_path: Path) -> None:
    token = write_token(tmp_path / "token.json", created=time.time() - 8 * 86400)
    with pytest.raises(BrokerAuthError, match="log in again"):
        SchwabBroker.from_env(_environ(tmp_path, token))
    TokenFileLock(token).acquire().release()


@pytest.mark.parametrize("token", ["garbage", {"access_token": 1}, None])
def test_a_malformed_token_file_is_one_clear_error_not_a_traceback(tmp_path: Path, token: Any) -> None:
    path = tmp_path / "token.json"
    path.write_text(json.dumps({"creation_timestamp": time.time() - 3600, "token": token}))
    with pytest.raises(BrokerAuthError, match=r"SCHWAB_TOKEN_PATH: .* could not be opened as a schwab-py token"):
        SchwabBroker.from_env(_environ(tmp_path, path))
    TokenFileLock(path).acquire().release()  # the lock was let go


def test_from_env_names_missing_variables_and_never_values(tmp_path: Path) -> None:
    with pytest.raises(BrokerAuthError) as err:
        SchwabBroker.from_env({"SCHWAB_API_KEY": APP_KEY})
    assert "SCHWAB_APP_SECRET" in str(err.value) and "SCHWAB_TOKEN_PATH" in str(err.value)
    assert APP_KEY not in str(err.value)


# ----------------------------------------------------------------------------- refused before sending


@pytest.mark.parametrize(("terms", "quantity", "needle"), [
    ({"order_type": OrderType.MARKET_ON_OPEN}, 10, "order_type: got 'market_on_open'"),
    ({}, "2.5", "whole number of shares"),
    ({"order_type": OrderType.LIMIT, "limit_price": Decimal("601.234")}, 10, "limit_price: got 601.234"),
    ({"time_in_force": "opg"}, 10, "time_in_force: got 'opg'"),
])
def test_unsupported_orders_are_refused_with_zero_calls(env: Env, terms: dict[str, Any], quantity: Any,
                                                        needle: str) -> None:
    with pytest.raises(UnsupportedOrder, match=re.escape(needle)) as err:
        env.broker.submit_order(env.order(quantity=quantity, **terms))
    assert "nothing was sent" in str(err.value)
    assert env.calls() == 0


def test_a_paper_order_is_refused_schwab_is_real_money_only(env: Env) -> None:
    paper = Order("p-1", "SPY", "buy", Decimal(1), mode=TradingMode.PAPER, created_at=NOW)
    with pytest.raises(UnsupportedOrder, match="Schwab has no paper account"):
        env.broker.submit_order(paper)
    assert env.broker.mode is TradingMode.ONLINE_LIVE
    assert env.calls() == 0


def test_submit_without_an_order_id_book_is_refused(env: Env) -> None:
    broker = SchwabBroker(env.broker._client, sleep=env.sleeps.append, now=lambda: NOW)
    with pytest.raises(BrokerError, match="no order id book bound"):
        broker.submit_order(env.order())
    assert env.calls() == 0


# ----------------------------------------------------------------------------- submitting once


def test_submit_remembers_schwab_order_id_from_location(env: Env) -> None:
    order = env.order()
    ack = env.broker.submit_order(order)
    assert ack.accepted and not ack.duplicate and ack.status is OrderStatus.SUBMITTED
    assert ack.broker_order_id == "1001"
    assert env.ledger.broker_order_id_of(order.client_order_id) == "1001"
    sent = json.loads(env.fake.posts.calls[0].request.content)
    assert sent["orderType"] == "MARKET" and sent["orderLegCollection"][0]["instruction"] == "BUY"
    assert sent["orderLegCollection"][0]["quantity"] == 10 and sent["duration"] == "DAY"
    again = env.broker.submit_order(order)  # a re-run: the book knows it
    assert again.duplicate and again.broker_order_id == "1001"
    assert env.fake.posts.call_count == 1


def test_429_on_a_read_waits_retry_after_then_succeeds(env: Env) -> None:
    env.fake.numbers.mock(side_effect=[
        httpx.Response(429, headers={"Retry-After": "7"}, json={"message": "Too many requests"}),
        httpx.Response(200, json=[{"accountNumber": ACCOUNT, "hashValue": HASH}])])
    assert env.broker.get_orders() == []
    assert env.sleeps == [7.0]


def test_429_on_the_post_searches_before_sending_again_one_order(env: Env) -> None:
    env.fake.post_script = ["429", "ok"]
    ack = env.broker.submit_order(env.order())
    assert ack.accepted and ack.broker_order_id == "1001"
    assert env.fake.posts.call_count == 2 and len(env.fake.orders) == 1
    assert env.sleeps == [3.0]  # Retry-After, longer than the 2 s settle wait
    assert env.fake.lists.call_count == 2  # before the first POST, and before the second


def test_500_on_post_where_the_order_was_created_finds_it_and_sends_nothing_more(env: Env) -> None:
    env.fake.post_script = ["500-created"]
    order = env.order()
    ack = env.broker.submit_order(order)
    assert ack.accepted and not ack.duplicate and ack.broker_order_id == "1001"
    assert env.fake.posts.call_count == 1 and len(env.fake.orders) == 1
    assert env.ledger.broker_order_id_of(order.client_order_id) == "1001"
    assert env.sleeps == [SchwabBroker.settle_seconds]


def test_502_with_an_html_body_is_retried_and_reported_without_the_page(env: Env) -> None:
    page = httpx.Response(502, text="<html><body><h1>502 Bad Gateway</h1></body></html>",
                          headers={"Content-Type": "text/html"})
    env.fake.numbers.mock(return_value=page)
    with pytest.raises(BrokerUnavailable) as err:
        env.broker.get_orders()
    text = str(err.value)
    assert "HTTP 502 (an HTML page instead of JSON" in text and "after 4 attempts" in text
    assert "<html" not in text
    assert env.fake.numbers.call_count == 4 and env.sleeps == [0.5, 1.0, 2.0]


def test_timeout_on_a_read_is_retried(env: Env) -> None:
    env.fake.list_script = [httpx.ReadTimeout("timed out"), httpx.Response(200, json=[])]
    assert env.broker.get_orders(open_only=True) == []
    assert env.sleeps == [0.5]


def test_timeout_on_the_post_with_nothing_listed_is_searched_but_never_sent_again(env: Env) -> None:
    """A timed-out POST may have placed the order (Schwab can list it late): without a client order id a
    second POST could double it, so the adapter searches with growing waits, then stops unsent."""
    env.fake.post_script = ["timeout", "ok"]
    with pytest.raises(BrokerUnavailable, match="it was NOT sent again"):
        env.broker.submit_order(env.order())
    assert env.fake.posts.call_count == 1 and env.fake.orders == {}
    assert env.sleeps == [2.0, 4.0, 8.0] and env.fake.lists.call_count == 4  # before the POST, then 3 searches


def test_a_connection_never_made_is_sent_again_after_the_search(env: Env) -> None:
    env.fake.post_script = ["refused-connection", "ok"]
    ack = env.broker.submit_order(env.order())
    assert ack.accepted and ack.broker_order_id == "1001"
    assert len(env.fake.orders) == 1 and env.fake.posts.call_count == 2


def test_timeout_on_the_post_where_the_order_was_created_is_not_sent_again(env: Env) -> None:
    env.fake.post_script = ["timeout-created"]
    ack = env.broker.submit_order(env.order())
    assert ack.broker_order_id == "1001" and env.fake.posts.call_count == 1


def test_connection_reset_after_the_post_finds_the_order(env: Env) -> None:
    env.fake.post_script = ["reset-created"]
    ack = env.broker.submit_order(env.order())
    assert ack.accepted and ack.broker_order_id == "1001"
    assert env.fake.posts.call_count == 1 and len(env.fake.orders) == 1


def test_connection_reset_on_reads_runs_out_as_unavailable(env: Env) -> None:
    env.fake.numbers.mock(side_effect=httpx.ReadError("[Errno 104] Connection reset by peer"))
    with pytest.raises(BrokerUnavailable, match=r"connection failed .*ReadError"):
        env.broker.get_positions()
    assert env.fake.numbers.call_count == 4


def test_a_500_with_nothing_listed_stops_without_a_second_post(env: Env) -> None:
    env.fake.post_script = ["500"] * 4
    with pytest.raises(BrokerUnavailable, match="it was NOT sent again"):
        env.broker.submit_order(env.order())
    assert env.fake.orders == {} and env.fake.posts.call_count == 1


def test_429_every_time_stops_and_says_it_is_safe_to_submit_later(env: Env) -> None:
    env.fake.post_script = ["429"] * 4
    with pytest.raises(BrokerUnavailable, match="safe to submit it again later"):
        env.broker.submit_order(env.order())
    assert env.fake.orders == {} and env.fake.posts.call_count == 4


def test_post_failing_and_search_failing_stops_without_sending_again(env: Env) -> None:
    env.fake.post_script = ["500-created"]
    env.fake.list_script = [httpx.Response(200, json=[])] + [httpx.ConnectError("connection refused")] * 4
    with pytest.raises(BrokerUnavailable, match=r"outcome unknown .*run find_order before any resubmit"):
        env.broker.submit_order(env.order())
    assert env.fake.posts.call_count == 1


def test_placed_order_not_readable_yet_is_still_remembered_and_accepted(env: Env) -> None:
    env.fake.gets.mock(side_effect=[httpx.Response(404, json={"message": "Order not found"})])
    order = env.order()
    ack = env.broker.submit_order(order)
    assert ack.accepted and ack.status is OrderStatus.SUBMITTED and ack.broker_order_id == "1001"
    assert env.ledger.broker_order_id_of(order.client_order_id) == "1001"


def test_get_order_of_an_unknown_id_is_none_and_a_lost_schwab_order_is_an_error(env: Env) -> None:
    assert env.broker.get_order("never-sent") is None
    order = env.order()
    env.ledger.remember_broker_order_id(order.client_order_id, "999")
    with pytest.raises(BrokerError, match="Schwab has no order 999"):
        env.broker.get_order(order.client_order_id)


def test_201_without_location_is_bound_by_matching(env: Env) -> None:
    env.fake.post_script = ["no-location"]
    order = env.order()
    ack = env.broker.submit_order(order)
    assert ack.accepted and ack.broker_order_id == "1001"
    assert env.ledger.broker_order_id_of(order.client_order_id) == "1001"
    assert env.fake.posts.call_count == 1


def test_crash_between_post_and_book_write_is_recovered_without_a_second_post(env: Env) -> None:
    order = env.order()
    crashing = env.new_broker(LedgerBook(env.ledger, crash_on_remember=True))
    with pytest.raises(SystemExit):
        crashing.submit_order(order)
    assert env.fake.posts.call_count == 1 and env.ledger.broker_order_id_of(order.client_order_id) is None
    restarted = env.new_broker()  # a new process: empty memory, the ledger has no Schwab id
    order = env.ledger.get_order(order.client_order_id).to_order()  # what the engine sends after a restart
    found = restarted.find_order(order)
    assert found is not None and found.broker_order_id == "1001"
    ack = restarted.submit_order(order)
    assert ack.duplicate and ack.broker_order_id == "1001"
    assert env.fake.posts.call_count == 1
    assert env.ledger.broker_order_id_of(order.client_order_id) == "1001"


def test_ambiguous_match_stops_with_the_candidates_and_sends_nothing(env: Env) -> None:
    first = env.fake.add(market_spec())
    second = env.fake.add(market_spec(), entered=NOW + pd.Timedelta(seconds=5))
    with pytest.raises(AmbiguousOrder) as err:
        env.broker.submit_order(env.order())
    text = str(err.value)
    assert first in text and second in text and "a person must check" in text and "nothing was sent" in text
    assert env.fake.posts.call_count == 0


def test_search_leaves_out_orders_already_claimed_and_other_orders(env: Env) -> None:
    mine = env.order("sma-20261201-SPY-buy")
    env.broker.submit_order(mine)  # 1001, bound to `mine` in the ledger
    env.fake.add(market_spec(quantity=11))  # another quantity
    env.fake.add(market_spec(instruction="SELL"))  # another side
    env.fake.add(market_spec(), entered=NOW - pd.Timedelta(hours=1))  # entered before the order was created
    twin = env.order("sma2-20261201-SPY-buy")  # same symbol, side and quantity: 1001 is claimed
    assert env.broker.find_order(twin) is None
    assert env.fake.posts.call_count == 1


@pytest.mark.parametrize("status", ["400", "422"])
def test_a_refused_order_is_a_rejection_with_schwab_reason(env: Env, status: str) -> None:
    env.fake.post_script = [status]
    order = env.order()
    ack = env.broker.submit_order(order)
    assert not ack.accepted and ack.status is OrderStatus.REJECTED
    assert f"HTTP {status} (Order quantity exceeds the buying power" in (ack.reason or "")
    env.record(ack.order)
    assert env.ledger.get_order(order.client_order_id).status == "rejected"
    assert env.fake.posts.call_count == 1 and env.fake.orders == {}


def test_403_on_the_post_is_an_auth_error_and_is_not_sent_again(env: Env) -> None:
    order = env.order()
    env.fake.post_script = ["403"]
    with pytest.raises(BrokerAuthError, match=r"HTTP 403 .*not enabled for trading"):
        env.broker.submit_order(order)
    assert env.fake.posts.call_count == 1 and env.sleeps == []
    assert env.ledger.get_order(order.client_order_id).status == "new"  # nothing at Schwab, nothing recorded


# ----------------------------------------------------------------------------- what happened to the order


def test_partial_fill_then_cancel_ends_consistent_in_the_ledger(env: Env) -> None:
    order = env.order()
    env.broker.submit_order(order)
    env.fake.orders["1001"]["orderActivityCollection"] = [
        execution(501, (1, 4, "600.10", NOW + pd.Timedelta(seconds=20)))]
    seen = env.broker.get_order(order.client_order_id)
    assert seen is not None and seen.status is OrderStatus.PARTIALLY_FILLED and seen.filled_quantity == 4
    env.record(seen)
    cancelled = env.broker.cancel(order.client_order_id)
    assert env.fake.deletes.call_count == 1
    assert cancelled.status is OrderStatus.CANCELLED and cancelled.filled_quantity == 4
    assert cancelled.status_reason == "cancelled at Schwab"
    env.record(cancelled)
    stored = env.ledger.get_order(order.client_order_id)
    assert stored.status == "cancelled" and stored.filled_quantity == Decimal(4)
    fills = env.ledger.fill_records()
    assert [(f.fill_id, f.quantity, f.price) for f in fills] == [("1001:501:1", Decimal(4), Decimal("600.10"))]
    assert env.ledger.positions(LEDGER_ACCOUNT, LIVE)["SPY"].quantity == Decimal(4)
    assert env.ledger.check_consistency(LEDGER_ACCOUNT, LIVE, {"SPY": Decimal("600")}) == []
    assert env.broker.cancel(order.client_order_id).status is OrderStatus.CANCELLED  # terminal: unchanged
    assert env.fake.deletes.call_count == 1


def test_a_duplicate_fill_report_is_recorded_once(env: Env) -> None:
    order = env.order()
    env.broker.submit_order(order)
    report = execution(501, (1, 10, "600.05", NOW + pd.Timedelta(seconds=20)))
    env.fake.orders["1001"].update(status="FILLED", orderActivityCollection=[report, report])
    seen = env.broker.get_order(order.client_order_id)
    assert seen is not None and seen.status is OrderStatus.FILLED
    assert [e.fill.fill_id for e in seen.events if isinstance(e, OrderFilled)] == ["1001:501:1"]
    env.record(seen)
    env.record(env.broker.get_order(order.client_order_id))  # the engine polls again
    assert len(env.ledger.fill_records()) == 1
    assert env.ledger.get_order(order.client_order_id).status == "filled"
    assert env.ledger.check_consistency(LEDGER_ACCOUNT, LIVE, {"SPY": Decimal("600")}) == []
    assert env.broker.get_fills(order.client_order_id)[0].price == Decimal("600.05")


def test_out_of_order_updates_replay_fills_oldest_first_and_a_stale_report_changes_nothing(env: Env) -> None:
    order = env.order()
    env.broker.submit_order(order)
    early, late = NOW + pd.Timedelta(seconds=20), NOW + pd.Timedelta(seconds=40)
    env.fake.orders["1001"].update(status="FILLED", orderActivityCollection=[
        execution(502, (1, 6, "600.20", late)), execution(501, (1, 4, "600.10", early))])
    filled = env.broker.get_order(order.client_order_id)
    assert filled is not None
    assert [e.fill.fill_id for e in filled.events if isinstance(e, OrderFilled)] == ["1001:501:1", "1001:502:1"]
    env.record(filled)
    env.fake.orders["1001"].update(status="WORKING", orderActivityCollection=[  # a stale copy answers next
        execution(501, (1, 4, "600.10", early))])
    stale = env.broker.get_order(order.client_order_id)
    assert stale is not None and stale.status is OrderStatus.PARTIALLY_FILLED
    env.record(stale)
    stored = env.ledger.get_order(order.client_order_id)
    assert stored.status == "filled" and stored.filled_quantity == Decimal(10)
    assert len(env.ledger.fill_records()) == 2
    spent = Decimal(4) * Decimal("600.10") + Decimal(6) * Decimal("600.20")
    assert env.ledger.cash(LEDGER_ACCOUNT, LIVE) == Decimal(100_000) - spent
    assert env.ledger.check_consistency(LEDGER_ACCOUNT, LIVE, {"SPY": Decimal("600")}) == []


def test_a_rejection_after_acceptance_carries_schwab_description(env: Env) -> None:
    order = env.order()
    env.broker.submit_order(order)
    env.fake.orders["1001"].update(status="REJECTED", statusDescription="Symbol is not tradable",
                                   closeTime=iso(NOW + pd.Timedelta(seconds=3)))
    seen = env.broker.get_order(order.client_order_id)
    assert seen is not None and seen.status is OrderStatus.REJECTED
    assert seen.status_reason == "rejected by Schwab: Symbol is not tradable"


def test_get_orders_lists_working_orders_and_names_unbound_ones_by_schwab_id(env: Env) -> None:
    order = env.order()
    env.broker.submit_order(order)
    manual = env.fake.add(market_spec("QQQ", "SELL", 3), status="QUEUED")
    env.fake.add(market_spec("IWM"), status="FILLED", activities=[
        execution(9, (1, 10, "220", NOW))])
    option = market_spec("AAPL  261218C00200000")
    option["orderLegCollection"][0].update(instruction="BUY_TO_OPEN", instrument={
        "symbol": "AAPL  261218C00200000", "assetType": "OPTION"})
    env.fake.add(option)  # an option order of the account: not the toolkit's
    open_orders = env.broker.get_orders(open_only=True)
    assert sorted(o.client_order_id for o in open_orders) == [f"schwab-{manual}", order.client_order_id]
    assert all(o.is_open and o.mode is TradingMode.ONLINE_LIVE for o in open_orders)
    assert len(env.broker.get_orders()) == 3
    assert [f.symbol for f in env.broker.get_fills()] == ["IWM"]


# ----------------------------------------------------------------------------- order types


def test_bracket_goes_out_as_trigger_with_one_cancels_other_and_reads_back(env: Env) -> None:
    order = env.order(order_type=OrderType.BRACKET, limit_price=Decimal("600.00"),
                      take_profit_price=Decimal("630.00"), stop_loss_price=Decimal("580.00"))
    ack = env.broker.submit_order(order)
    sent = json.loads(env.fake.posts.calls[0].request.content)
    assert sent["orderStrategyType"] == "TRIGGER" and sent["orderType"] == "LIMIT" and sent["price"] == "600.00"
    oco = sent["childOrderStrategies"][0]
    assert oco["orderStrategyType"] == "OCO"
    exits = {c["orderType"]: c for c in oco["childOrderStrategies"]}
    assert exits["LIMIT"]["price"] == "630.00" and exits["STOP"]["stopPrice"] == "580.00"
    assert {c["orderLegCollection"][0]["instruction"] for c in exits.values()} == {"SELL"}
    assert ack.order.order_type is OrderType.BRACKET
    assert (ack.order.take_profit_price, ack.order.stop_loss_price) == (Decimal("630"), Decimal("580"))


@pytest.mark.parametrize(("terms", "expected"), [
    ({"order_type": OrderType.STOP, "stop_price": Decimal("590.00")}, {"orderType": "STOP", "stopPrice": "590.00"}),
    ({"order_type": OrderType.STOP_LIMIT, "stop_price": Decimal("590.00"), "limit_price": Decimal("589.50")},
     {"orderType": "STOP_LIMIT", "stopPrice": "590.00", "price": "589.50"}),
    ({"order_type": OrderType.TRAILING_STOP, "trail_percent": Decimal("2.5")},
     {"orderType": "TRAILING_STOP", "stopPriceLinkType": "PERCENT", "stopPriceOffset": 2.5,
      "stopPriceLinkBasis": "LAST"}),
    ({"order_type": OrderType.TRAILING_STOP, "trail_price": Decimal("3.00")},
     {"orderType": "TRAILING_STOP", "stopPriceLinkType": "VALUE", "stopPriceOffset": 3.0}),
])
def test_stop_and_trailing_orders_are_sent_with_their_terms(env: Env, terms: dict[str, Any],
                                                           expected: dict[str, Any]) -> None:
    order = env.order("sma-20261201-SPY-sell", side="sell", **terms)
    ack = env.broker.submit_order(order)
    sent = json.loads(env.fake.posts.calls[0].request.content)
    assert {k: sent[k] for k in expected} == expected
    assert ack.order.order_type is order.order_type


# ----------------------------------------------------------------------------- account, market


def test_account_figures_from_schwab(env: Env) -> None:
    env.fake.mock.get(f"{API}/trader/v1/accounts/{HASH}").mock(return_value=httpx.Response(200, json={
        "securitiesAccount": {
            "type": "MARGIN", "accountNumber": ACCOUNT, "roundTrips": 3, "isDayTrader": False,
            "isClosingOnlyRestricted": False,
            "positions": [{"longQuantity": 10.0, "shortQuantity": 0.0, "instrument": {"symbol": "SPY"}},
                          {"longQuantity": 0.0, "shortQuantity": 0.0, "instrument": {"symbol": "QQQ"}}],
            "currentBalances": {"cashBalance": 12000.25, "buyingPower": 30000.5, "liquidationValue": 18000.25}},
        "aggregatedBalance": {"liquidationValue": 18000.25}}))
    info = env.broker.account()
    assert (info.cash, info.buying_power, info.equity) == (Decimal("12000.25"), Decimal("30000.5"),
                                                           Decimal("18000.25"))
    assert (info.pattern_day_trader, info.daytrade_count, info.multiplier) == (False, 3, Decimal(2))
    assert info.shorting_enabled is True and not info.trading_blocked
    assert info.account_id == "ending 4321" and ACCOUNT not in repr(info)
    assert env.broker.get_positions() == {"SPY": Decimal(10)}
    assert str(env.broker.get_positions()["SPY"]) == "10"


def test_several_accounts_need_a_choice_and_show_only_last_digits(env: Env) -> None:
    env.fake.numbers.mock(return_value=httpx.Response(200, json=[
        {"accountNumber": ACCOUNT, "hashValue": HASH}, {"accountNumber": "11112222", "hashValue": "H2"}]))
    unnamed = SchwabBroker(env.broker._client, sleep=env.sleeps.append, now=lambda: NOW)
    with pytest.raises(BrokerError) as err:
        unnamed.get_orders()
    text = str(err.value)
    assert "sees 2 accounts (ending 4321, ending 2222)" in text and "set SCHWAB_ACCOUNT_NUMBER" in text
    assert ACCOUNT not in text and "11112222" not in text
    wrong = SchwabBroker(env.broker._client, account_number="99993333", sleep=env.sleeps.append, now=lambda: NOW)
    with pytest.raises(BrokerError, match="account ending 3333 is not one this login sees") as err:
        wrong.get_orders()
    assert "99993333" not in str(err.value) and ACCOUNT not in str(err.value)
    env.broker.get_orders()  # the one named in SCHWAB_ACCOUNT_NUMBER is used
    assert env.fake.lists.calls[-1].request.url.path == f"/trader/v1/accounts/{HASH}/orders"


def test_clock_and_calendar_from_market_hours(env: Env) -> None:
    def hours(request: httpx.Request) -> httpx.Response:
        day = request.url.params["date"]
        if day == "2026-12-02":  # pretend a holiday
            return httpx.Response(200, json={"equity": {"equity": {"date": day, "marketType": "EQUITY",
                                                                   "product": "equity", "isOpen": False}}})
        return httpx.Response(200, json={"equity": {"EQ": {"date": day, "marketType": "EQUITY", "isOpen": True,
            "sessionHours": {"regularMarket": [{"start": f"{day}T09:30:00-05:00", "end": f"{day}T16:00:00-05:00"}],
                             "preMarket": [{"start": f"{day}T07:00:00-05:00", "end": f"{day}T09:30:00-05:00"}]}}}})

    route = env.fake.mock.get(f"{API}/marketdata/v1/markets").mock(side_effect=hours)
    clock = env.broker.clock()
    assert clock.is_open and clock.timestamp == NOW
    assert clock.next_close == pd.Timestamp("2026-12-01 21:00", tz="UTC")
    assert clock.next_open == pd.Timestamp("2026-12-03 14:30", tz="UTC")
    assert route.calls[0].request.url.params["markets"] == "equity"
    import datetime as dt

    sessions = env.broker.calendar(dt.date(2026, 12, 1), dt.date(2026, 12, 6))
    assert [s.date for s in sessions] == [dt.date(2026, 12, 1), dt.date(2026, 12, 3), dt.date(2026, 12, 4)]


def test_latest_trades_from_quotes(env: Env) -> None:
    traded = int((NOW - pd.Timedelta(seconds=30)).timestamp() * 1000)
    route = env.fake.mock.get(f"{API}/marketdata/v1/quotes").mock(return_value=httpx.Response(200, json={
        "SPY": {"symbol": "SPY", "quote": {"lastPrice": 601.37, "tradeTime": traded, "bidPrice": 601.3}},
        "errors": {"invalidSymbols": ["NOPE"]}}))
    quotes = env.broker.latest_trades(["SPY", "NOPE"])
    assert list(quotes) == ["SPY"]
    q = quotes["SPY"]
    assert (q.price, q.timestamp, q.source) == (Decimal("601.37"), NOW - pd.Timedelta(seconds=30),
                                                "schwab:quote:lastPrice")
    assert route.calls[0].request.url.params["symbols"] == "SPY,NOPE"


# ----------------------------------------------------------------------------- secrets


def test_secrets_are_absent_from_reprs_and_errors(env: Env, tmp_path: Path) -> None:
    creds = SchwabCredentials.from_env(_environ(tmp_path, env.token_path))
    texts = [repr(creds), repr(env.broker), repr(SchwabBroker(env.broker._client, account_number=ACCOUNT))]
    env.fake.numbers.mock(return_value=httpx.Response(403, json={
        "message": f"token {ACCESS} for client {APP_KEY} not allowed on {ACCOUNT}"}))
    with pytest.raises(BrokerAuthError) as err:
        env.broker.get_positions()
    texts.append(str(err.value))
    write_token(env.token_path, created=NOW.timestamp() - 86400, access_expires_at=time.time() - 60)
    broker = env.new_broker()
    env.fake.token.mock(return_value=httpx.Response(400, json={
        "error": "invalid_client", "error_description": f"refresh token {REFRESH} invalid for {APP_SECRET}"}))
    with pytest.raises(BrokerAuthError) as err2:
        broker.get_cash()
    texts.append(str(err2.value))
    assert "***" in texts[-1] and "***" in texts[-2]
    for text in texts:
        for secret in SECRETS:
            assert secret not in text, (secret, text)


# ----------------------------------------------------------------------------- preflight (toolkit broker check)


def test_preflight_warns_two_days_before_the_login_expires_and_places_no_order(env: Env) -> None:
    from toolkit.engine.preflight import preflight

    env.fake.mock.get(f"{API}/trader/v1/accounts/{HASH}").mock(return_value=httpx.Response(200, json={
        "securitiesAccount": {"type": "CASH", "accountNumber": ACCOUNT, "roundTrips": 0, "isDayTrader": False,
                              "currentBalances": {"cashBalance": 5000.0, "buyingPower": 5000.0,
                                                  "liquidationValue": 5000.0}}}))
    day_hours = {"equity": {"EQ": {"date": "2026-12-01", "marketType": "EQUITY", "isOpen": True, "sessionHours": {
        "regularMarket": [{"start": "2026-12-01T09:30:00-05:00", "end": "2026-12-01T16:00:00-05:00"}]}}}}
    env.fake.mock.get(f"{API}/marketdata/v1/markets").mock(return_value=httpx.Response(200, json=day_hours))
    write_token(env.token_path, created=NOW.timestamp() - 5.5 * 86400)
    rows = {r.name: r for r in preflight(env.broker)}
    assert rows["login token"].status == "warn" and "expires in 1.5 days" in rows["login token"].detail
    assert rows["credentials"].status == "ok" and rows["account"].status == "ok"
    write_token(env.token_path, created=NOW.timestamp() - 7.2 * 86400)
    rows = {r.name: r for r in preflight(env.broker)}
    assert rows["login token"].status == "fail" and "client_from_manual_flow" in rows["login token"].detail
    assert not [c for c in env.fake.mock.calls if c.request.method in ("POST", "PUT", "DELETE")
                and "/orders" in str(c.request.url)]


def test_broker_check_alerts_a_token_near_expiry(env: Env, tmp_path: Path, toolkit_cli, monkeypatch) -> None:
    """`toolkit broker check` warns in its table and sends token_expiry (recorded in the ledger)."""
    from support.alert_inbox import INBOX, INBOX_URL

    env.fake.mock.get(f"{API}/trader/v1/accounts/{HASH}").mock(return_value=httpx.Response(200, json={
        "securitiesAccount": {"type": "CASH", "accountNumber": ACCOUNT, "roundTrips": 0, "isDayTrader": False,
                              "currentBalances": {"cashBalance": 5000.0, "buyingPower": 5000.0,
                                                  "liquidationValue": 5000.0}}}))
    env.fake.mock.get(f"{API}/marketdata/v1/markets").mock(return_value=httpx.Response(200, json={}))
    token = write_token(tmp_path / "cli-token.json", created=time.time() - 5.5 * 86400)
    for name, value in {**_environ(tmp_path, token), "TOOLKIT_ALERT_URLS": INBOX_URL}.items():
        monkeypatch.setenv(name, value)
    INBOX.clear()
    db = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    done = toolkit_cli(["broker", "check", "--broker", "schwab"], db)
    assert "WARN  login token" in done.stdout, done.stdout + done.stderr
    assert "alert token_expiry: delivered (1 channel(s) tried): Schwab refresh token expires in 1.5 days" in done.stderr
    assert [m["title"] for m in INBOX] == ["Schwab refresh token expires in 1.5 days"]
    with open_ledger(db) as ledger:
        assert [(r.kind, r.delivered) for r in ledger.alert_records()] == [("token_expiry", True)]
    write_token(token, created=time.time() - 86400)  # 6 days left: no alert
    assert "alert" not in toolkit_cli(["broker", "check", "--broker", "schwab"], db).stderr
    assert len(INBOX) == 1


# ----------------------------------------------------------------------------- through the engine


@pytest.mark.parametrize("refusal", ["400", "422"])
def test_a_refused_order_is_recorded_as_rejected_by_the_engine_and_never_sent_again(env: Env, refusal: str) -> None:
    """Schwab keeps no refused order: the engine records the rejection from the submit's answer."""
    from toolkit.engine.execution import execute
    from toolkit.engine.guards import RiskEngine
    from toolkit.params.guards import GuardSettings
    from toolkit.time import FixedClock

    env.order()
    pending = env.ledger.order_records(account=LEDGER_ACCOUNT, mode=LIVE)
    env.fake.post_script = [refusal]
    spy_quote = {"SPY": {"quote": {"lastPrice": 600.0, "tradeTime": int(NOW.timestamp() * 1000)}}}
    env.fake.mock.get(f"{API}/marketdata/v1/quotes").mock(return_value=httpx.Response(200, json=spy_quote))
    kwargs = dict(account=LEDGER_ACCOUNT, mode=LIVE, ledger=env.ledger, broker=env.broker,
                  risk=RiskEngine(GuardSettings(slippage_abort=None)), prices={"SPY": Decimal("600")},
                  clock=FixedClock(NOW), now=NOW.to_pydatetime())
    execute(pending=pending, **kwargs)
    stored = env.ledger.get_order(pending[0].client_order_id)
    assert stored is not None and stored.status == "rejected"
    assert "buying power" in (env.ledger.order_events(stored.client_order_id)[-1].detail or "")
    execute(pending=[o for o in env.ledger.order_records(account=LEDGER_ACCOUNT, mode=LIVE)
                     if o.status not in ("rejected", "filled", "cancelled")], **kwargs)
    assert env.fake.posts.call_count == 1  # the rejected order is final: nothing is sent again
