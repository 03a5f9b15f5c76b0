"""The Alpaca adapter through alpaca-py's real code paths, against a faked Alpaca (``responses``).

``FakeAlpaca`` keeps an account's state behind the HTTP callbacks the way Alpaca does:
a client_order_id is unique for ever (422 on reuse), fills are account activities with
ids of their own, the order list stops at 500, refused orders leave no record. Faults
(timeouts, resets, 429, 5xx, HTML bodies) are queued per endpoint, some AFTER the order
was placed (the answer is lost, the order is not). Each order test feeds the broker's
events to a real ledger as the engine does (``record_outcome``) and ends with a
consistent ledger; the fixture's teardown checks that no client_order_id was ever
placed twice.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import json
import re
import uuid
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal as D
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pandas as pd
import pytest
import requests
import responses

from toolkit.brokers.alpaca import AlpacaBroker
from toolkit.connections.alpaca_http import harden
from toolkit.brokers.base import RemoteBroker
from toolkit.connections import AlpacaCredentials
from toolkit.engine.execution import execute, record_outcome
from toolkit.engine.guards import RiskEngine
from toolkit.errors import BrokerAuthError, BrokerError, BrokerUnavailable, UnsupportedOrder
from toolkit.ledger import Ledger, open_ledger
from toolkit.model import (
    Order,
    OrderAccepted,
    OrderCancelled,
    OrderFilled,
    OrderRejected,
    OrderSide,
    OrderStatus,
    OrderType,
    TimeInForce,
    TradingMode,
)
from toolkit.time import FixedClock

KEY_ID, SECRET = "PKFAKEKEYID0001", "fake-secret-do-not-print-0002"
TRADING = "https://paper-api.alpaca.markets"
LIVE = "https://api.alpaca.markets"
DATA = "https://data.alpaca.markets"
ACCOUNT, MODE = "alpaca-paper", "paper"
NOW = dt.datetime(2026, 3, 2, 20, 55, tzinfo=dt.UTC)
T0 = pd.Timestamp("2026-03-02T14:31:00Z")
TERMINAL = {"filled", "canceled", "expired", "rejected", "replaced"}
HTML_502 = ("<html><head><title>502 Bad Gateway</title></head>"
            "<body><center><h1>502 Bad Gateway</h1></center></body></html>")


@dataclass
class Fault:
    """One scripted answer: a status with a body, or an exception; ``place`` = the order lands first."""

    status: int = 500
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    exc: Exception | None = None
    place: bool = False


def _iso(ts: pd.Timestamp) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _json(status: int, payload: Any, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
    return status, {"Content-Type": "application/json", **(headers or {})}, json.dumps(payload)


class FakeAlpaca:
    """Enough of Alpaca's trading and data API, as state behind ``responses`` callbacks."""

    def __init__(self, rsps: responses.RequestsMock, base: str = TRADING, data: str = DATA) -> None:
        self.orders: dict[str, dict[str, Any]] = {}  # by Alpaca id, in Alpaca's JSON
        self.by_cid: dict[str, str] = {}
        self.activities: list[dict[str, Any]] = []
        self.posts: Counter[str] = Counter()  # POST attempts per client_order_id
        self.placed: Counter[str] = Counter()  # orders created per client_order_id
        self.faults: dict[str, deque[Fault]] = defaultdict(deque)
        self.served_twice: set[int] = set()  # activity pages (by number) answered once with the page before
        self.before_cancel: Callable[[], Any] | None = None  # what happens at Alpaca just before a DELETE lands
        self.seq = 0
        self.positions: list[dict[str, Any]] = []
        v2, d2 = f"{base}/v2", f"{data}/v2"
        add = rsps.add_callback
        add(responses.POST, re.compile(re.escape(f"{v2}/orders") + r"$"), callback=self._post_order)
        add(responses.GET, re.compile(re.escape(f"{v2}/orders:by_client_order_id") + r"(\?.*)?$"),
            callback=self._by_cid)
        add(responses.GET, re.compile(re.escape(f"{v2}/orders") + r"(\?.*)?$"), callback=self._list)
        add(responses.GET, re.compile(re.escape(f"{v2}/orders/") + r"[^/?]+(\?.*)?$"), callback=self._by_id)
        add(responses.DELETE, re.compile(re.escape(f"{v2}/orders/") + r"[^/?]+$"), callback=self._cancel)
        add(responses.GET, re.compile(re.escape(f"{v2}/account/activities/FILL") + r"(\?.*)?$"),
            callback=self._activities)
        add(responses.GET, re.compile(re.escape(f"{v2}/account") + r"$"), callback=self._account)
        add(responses.GET, re.compile(re.escape(f"{v2}/positions") + r"$"),
            callback=lambda r: self._faulted("positions") or _json(200, self.positions))
        add(responses.GET, re.compile(re.escape(f"{v2}/clock") + r"$"), callback=self._clock)
        add(responses.GET, re.compile(re.escape(f"{v2}/calendar") + r"(\?.*)?$"), callback=self._calendar)
        add(responses.GET, re.compile(re.escape(f"{d2}/stocks/trades/latest") + r"(\?.*)?$"), callback=self._latest)

    # -- helpers the tests call -----------------------------------------------------------
    def fault(self, endpoint: str, *faults: Fault) -> None:
        self.faults[endpoint].extend(faults)

    def order(self, cid: str) -> dict[str, Any]:
        return self.orders[self.by_cid[cid]]

    def fill(self, cid: str, qty: str, price: str, *, status: str | None = None) -> dict[str, Any]:
        o = self.order(cid)
        self.seq += 1
        cum = D(o["filled_qty"]) + D(qty)
        at = pd.Timestamp(o["submitted_at"]) + pd.Timedelta(seconds=self.seq)
        full = cum == D(o["qty"])
        activity = {
            "id": f"{20260302000000000 + self.seq}::{uuid.UUID(int=10**6 + self.seq)}", "activity_type": "FILL",
            "transaction_time": _iso(at), "type": "fill" if full else "partial_fill", "price": price, "qty": qty,
            "side": o["side"], "symbol": o["symbol"], "leaves_qty": str(D(o["qty"]) - cum), "order_id": o["id"],
            "cum_qty": str(cum), "order_status": "filled" if full else "partially_filled",
        }
        self.activities.append(activity)
        o["filled_qty"] = str(cum)
        o["filled_avg_price"] = price
        o["status"] = status or ("filled" if full else "partially_filled")
        o["updated_at"] = _iso(at)
        if full:
            o["filled_at"] = _iso(at)
        return activity

    def end(self, cid: str, status: str = "canceled") -> None:
        o = self.order(cid)
        o["status"] = status
        o["updated_at"] = o["canceled_at"] = _iso(pd.Timestamp(o["submitted_at"]) + pd.Timedelta(minutes=30))

    def calls(self, rsps: responses.RequestsMock, method: str, path: str) -> list[Any]:
        return [c for c in rsps.calls if c.request.method == method and urlsplit(c.request.url).path == path]

    # -- state -------------------------------------------------------------------------------
    def create(self, body: dict[str, Any], *, submitted_at: pd.Timestamp | None = None) -> dict[str, Any]:
        n = len(self.orders) + 1
        at = submitted_at if submitted_at is not None else T0 + pd.Timedelta(seconds=n)
        oid = str(uuid.UUID(int=n))
        cid = body["client_order_id"]
        o = {
            "id": oid, "client_order_id": cid, "created_at": _iso(at), "updated_at": _iso(at),
            "submitted_at": _iso(at), "filled_at": None, "expired_at": None, "canceled_at": None, "failed_at": None,
            "replaced_at": None, "replaced_by": None, "replaces": None, "asset_id": str(uuid.UUID(int=99)),
            "symbol": body["symbol"], "asset_class": "us_equity", "notional": None, "qty": str(D(str(body["qty"]))),
            "filled_qty": "0", "filled_avg_price": None, "order_class": body.get("order_class", "simple"),
            "order_type": body["type"], "type": body["type"], "side": body["side"],
            "time_in_force": body["time_in_force"], "status": "accepted", "extended_hours": False, "legs": None,
            "limit_price": _s(body.get("limit_price")), "stop_price": _s(body.get("stop_price")),
            "trail_percent": _s(body.get("trail_percent")), "trail_price": _s(body.get("trail_price")), "hwm": None,
        }
        if o["order_class"] == "bracket":
            exit_side = "sell" if body["side"] == "buy" else "buy"
            o["legs"] = [
                {**o, "id": str(uuid.UUID(int=n + 50_000)), "client_order_id": f"leg-tp-{n}", "order_class": "bracket",
                 "type": "limit", "order_type": "limit", "side": exit_side, "status": "held",
                 "limit_price": _s(body["take_profit"]["limit_price"]), "stop_price": None, "legs": None},
                {**o, "id": str(uuid.UUID(int=n + 60_000)), "client_order_id": f"leg-sl-{n}", "order_class": "bracket",
                 "type": "stop", "order_type": "stop", "side": exit_side, "status": "held", "limit_price": None,
                 "stop_price": _s(body["stop_loss"]["stop_price"]), "legs": None},
            ]
        self.orders[oid] = o
        self.by_cid[cid] = oid
        self.placed[cid] += 1
        return o

    def _faulted(self, endpoint: str, body: dict[str, Any] | None = None) -> Any:
        queue = self.faults.get(endpoint)
        if not queue:
            return None
        fault = queue.popleft()
        if fault.place and body is not None:
            self.create(body)
        if fault.exc is not None:
            return fault.exc
        payload = fault.body
        text = payload if isinstance(payload, str) else json.dumps(payload)
        ctype = "text/html" if isinstance(payload, str) else "application/json"
        return fault.status, {"Content-Type": ctype, **fault.headers}, text

    @staticmethod
    def _public(o: dict[str, Any], nested: bool) -> dict[str, Any]:
        return o if nested else {**o, "legs": None}

    # -- endpoints ----------------------------------------------------------------------------
    def _post_order(self, request: Any) -> Any:
        body = json.loads(request.body)
        cid = body["client_order_id"]
        self.posts[cid] += 1
        faulted = self._faulted("POST /orders", body)
        if faulted is not None:
            return faulted
        if cid in self.by_cid:
            return _json(422, {"code": 40010001, "message": "client_order_id must be unique"})
        return _json(200, self._public(self.create(body), nested=True))

    def _by_cid(self, request: Any) -> Any:
        faulted = self._faulted("GET /orders:by_client_order_id")
        if faulted is not None:
            return faulted
        cid = parse_qs(urlsplit(request.url).query)["client_order_id"][0]
        if cid not in self.by_cid:
            return _json(404, {"code": 40410000, "message": f"order not found for {cid}"})
        return _json(200, self._public(self.order(cid), nested=False))  # Alpaca gives no legs here

    def _by_id(self, request: Any) -> Any:
        parts = urlsplit(request.url)
        oid = parts.path.rsplit("/", 1)[1]
        nested = parse_qs(parts.query).get("nested", ["false"])[0].lower() == "true"
        if oid not in self.orders:
            return _json(404, {"code": 40410000, "message": "order not found"})
        return _json(200, self._public(self.orders[oid], nested))

    def _list(self, request: Any) -> Any:
        faulted = self._faulted("GET /orders")
        if faulted is not None:
            return faulted
        q = {k: v[0] for k, v in parse_qs(urlsplit(request.url).query).items()}
        limit = min(int(q.get("limit", 50)), 500)
        rows = list(self.orders.values())
        if q.get("status", "open") == "open":
            rows = [o for o in rows if o["status"] not in TERMINAL]
        elif q["status"] == "closed":
            rows = [o for o in rows if o["status"] in TERMINAL]
        if "after" in q:
            rows = [o for o in rows if pd.Timestamp(o["submitted_at"]) > pd.Timestamp(q["after"])]
        rows.sort(key=lambda o: pd.Timestamp(o["submitted_at"]), reverse=q.get("direction", "desc") == "desc")
        nested = q.get("nested", "false").lower() == "true"
        return _json(200, [self._public(o, nested) for o in rows[:limit]])

    def _cancel(self, request: Any) -> Any:
        oid = urlsplit(request.url).path.rsplit("/", 1)[1]
        o = self.orders.get(oid)
        if o is None:
            return _json(404, {"code": 40410000, "message": "order not found"})
        if self.before_cancel is not None:
            self.before_cancel()
        if o["status"] in TERMINAL:
            return _json(422, {"code": 42210000, "message": f"order is already in \"{o['status']}\" state"})
        self.end(o["client_order_id"])
        return 204, {}, ""

    def _activities(self, request: Any) -> Any:
        faulted = self._faulted("GET /activities")
        if faulted is not None:
            return faulted
        q = {k: v[0] for k, v in parse_qs(urlsplit(request.url).query).items()}
        rows = sorted(self.activities, key=lambda a: a["id"])
        if "after" in q:
            rows = [a for a in rows if pd.Timestamp(a["transaction_time"]) > pd.Timestamp(q["after"])]
        size = min(int(q.get("page_size", 100)), 100)
        token = q.get("page_token")
        page_no = 0 if token is None else 1 + sum(1 for a in rows if a["id"] <= token) // size
        if page_no in self.served_twice:  # the previous page once more, as a flaky cache would
            self.served_twice.discard(page_no)
            start = max(0, sum(1 for a in rows if a["id"] <= token) - size)
            return _json(200, rows[start:start + size])
        if token is not None:
            rows = [a for a in rows if a["id"] > token]
        return _json(200, rows[:size])

    def _account(self, request: Any) -> Any:
        faulted = self._faulted("GET /account")
        if faulted is not None:
            return faulted
        return _json(200, {
            "id": str(uuid.UUID(int=7)), "account_number": "PA1234567", "status": "ACTIVE", "currency": "USD",
            "cash": "24000.50", "buying_power": "48001.00", "equity": "24950.25", "pattern_day_trader": False,
            "daytrade_count": 3, "multiplier": "2", "shorting_enabled": True, "trading_blocked": False,
            "account_blocked": False, "trade_suspended_by_user": False, "transfers_blocked": False,
            "portfolio_value": "24950.25",
        })

    def _clock(self, request: Any) -> Any:
        return _json(200, {"timestamp": "2026-11-27T12:55:00.123-05:00", "is_open": True,
                           "next_open": "2026-11-30T09:30:00-05:00", "next_close": "2026-11-27T13:00:00-05:00"})

    def _calendar(self, request: Any) -> Any:
        return _json(200, [{"date": "2026-11-25", "open": "09:30", "close": "16:00"},
                           {"date": "2026-11-27", "open": "09:30", "close": "13:00"}])

    def _latest(self, request: Any) -> Any:
        faulted = self._faulted("GET /trades/latest")
        if faulted is not None:
            return faulted
        q = parse_qs(urlsplit(request.url).query)
        trades = {"SPY": {"t": "2026-03-02T20:54:59.5Z", "x": "V", "p": 581.37, "s": 100, "c": ["@"], "i": 1, "z": "B"}}
        return _json(200, {"trades": {s: trades[s] for s in q["symbols"][0].split(",") if s in trades}})


def _s(value: Any) -> str | None:
    return None if value is None else str(value)


# ----------------------------------------------------------------------------- fixtures


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def fake(rsps: responses.RequestsMock) -> Iterator[FakeAlpaca]:
    alpaca = FakeAlpaca(rsps)
    yield alpaca
    assert all(n == 1 for n in alpaca.placed.values()), f"an order was placed twice: {alpaca.placed}"


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def broker(fake: FakeAlpaca, sleeps: list[float]) -> Iterator[AlpacaBroker]:
    b = AlpacaBroker(AlpacaCredentials(KEY_ID, SECRET), paper=True, timeout=2.5, sleep=sleeps.append)
    yield b
    b.close()


class TickingClock:
    def __init__(self) -> None:
        self.t = NOW

    def __call__(self) -> dt.datetime:
        self.t += dt.timedelta(seconds=1)
        return self.t


@pytest.fixture
def ledger() -> Iterator[Ledger]:
    led = open_ledger("sqlite://", clock=TickingClock())
    led.set_initial_cash(ACCOUNT, MODE, D("100000"))
    yield led
    led.close()


def planned(ledger: Ledger, cid: str, *, qty: str = "10", side: str = "buy", order_type: str = "market",
            limit_price: str | None = None) -> Order:
    """Record the order as the engine's planning does, and return what execution would send."""
    record = ledger.record_order(client_order_id=cid, run_key="sma|alpaca-paper|2026-03-02|close", mode=MODE,
                                 strategy="sma", account=ACCOUNT, symbol="SPY", side=side, quantity=D(qty),
                                 order_type=order_type, limit_price=limit_price, decision_price=D("581"), at=NOW)
    return record.to_order()


def sync(ledger: Ledger, broker: AlpacaBroker, cid: str) -> None:
    """The broker's events of one order -> the ledger, exactly as the engine hands them over."""
    record_outcome(ledger, broker, cid, NOW, account=ACCOUNT, mode=MODE)


def assert_consistent(ledger: Ledger) -> None:
    assert ledger.check_consistency(ACCOUNT, MODE, {"SPY": D("581")}) == []


def kinds(order: Order) -> list[str]:
    return [type(e).__name__ for e in order.events]


def one_order(fake: FakeAlpaca, rsps: responses.RequestsMock, cid: str, *, posts: int) -> None:
    """Exactly one order at Alpaca for ``cid``, after ``posts`` POSTs."""
    assert fake.placed[cid] == 1
    assert fake.posts[cid] == posts
    assert len(fake.calls(rsps, "POST", "/v2/orders")) == posts


# ----------------------------------------------------------------------------- the contract


def test_alpaca_is_a_remote_broker_with_its_order_types_and_mode() -> None:
    assert issubclass(AlpacaBroker, RemoteBroker) and AlpacaBroker.name == "alpaca"
    assert AlpacaBroker.supported_order_types == frozenset(OrderType)
    creds = AlpacaCredentials(KEY_ID, SECRET)
    assert AlpacaBroker(creds).mode is TradingMode.PAPER
    assert AlpacaBroker(creds, paper=False).mode is TradingMode.ONLINE_LIVE


def test_every_request_has_the_timeout_and_the_sdk_never_retries(
        broker: AlpacaBroker, fake: FakeAlpaca, rsps: responses.RequestsMock, sleeps: list[float]) -> None:
    # alpaca-py 0.44 retries 429 itself (three times, three real seconds apart): switched off,
    # the 429 reaches the adapter, which waits through the injected sleep and asks again.
    fake.fault("GET /trades/latest", Fault(429, {"message": "too many requests"}, {"Retry-After": "2"}))
    quotes = broker.latest_trades(["SPY"])
    assert sleeps == [2.0]
    assert len(rsps.calls) == 2
    assert all(c.request.req_kwargs["timeout"] == 2.5 for c in rsps.calls)
    assert quotes["SPY"].price == D("581.37")


def test_the_sdk_version_the_retry_switch_was_checked_on_is_the_installed_one() -> None:
    # harden() switches alpaca-py's retry off through attributes of 0.44; another version must be re-checked.
    assert importlib.metadata.version("alpaca-py") == "0.44.0"
    with pytest.raises(BrokerError, match="has no _retry, _retry_codes: its own retry of order POSTs"):
        harden(SimpleNamespace(_session=requests.Session()), 1.0)  # type: ignore[arg-type]


def test_happy_path_partial_fills_reach_the_ledger_once(
        broker: AlpacaBroker, fake: FakeAlpaca, rsps: responses.RequestsMock, ledger: Ledger) -> None:
    order = planned(ledger, "c-happy")
    ack = broker.submit_order(order)
    assert (ack.accepted, ack.duplicate, ack.status) == (True, False, OrderStatus.SUBMITTED)
    assert ack.broker_order_id == fake.order("c-happy")["id"]
    sync(ledger, broker, "c-happy")
    fake.fill("c-happy", "4", "580.50")
    sync(ledger, broker, "c-happy")
    fake.fill("c-happy", "6", "581.25")
    sync(ledger, broker, "c-happy")
    sync(ledger, broker, "c-happy")  # the whole event list again: nothing doubles
    seen = broker.get_order("c-happy")
    assert seen is not None and kinds(seen) == ["OrderAccepted", "OrderFilled", "OrderFilled"]
    assert seen.events[0].broker_order_id == fake.order("c-happy")["id"]
    assert [f.fill_id for f in broker.get_fills("c-happy")] == [a["id"] for a in fake.activities]
    assert all(f.fee == 0 for f in broker.get_fills("c-happy"))
    stored = ledger.get_order("c-happy")
    assert (stored.status, stored.filled_quantity) == ("filled", D(10))
    assert len(ledger.fill_records(client_order_id="c-happy")) == 2
    assert_consistent(ledger)
    one_order(fake, rsps, "c-happy", posts=1)


# ----------------------------------------------------------------------------- failures of the POST


def test_429_honours_retry_after_then_looks_up_then_resends_once(
        broker: AlpacaBroker, fake: FakeAlpaca, rsps: responses.RequestsMock, sleeps: list[float],
        ledger: Ledger) -> None:
    fake.fault("POST /orders", Fault(429, {"code": 42910000, "message": "rate limit exceeded"}, {"Retry-After": "7"}))
    ack = broker.submit_order(planned(ledger, "c-429"))
    assert ack.accepted and not ack.duplicate
    assert sleeps == [7.0]  # no real wait: the injected sleep got Alpaca's figure
    sequence = [(c.request.method, urlsplit(c.request.url).path) for c in rsps.calls]
    assert sequence == [("POST", "/v2/orders"), ("GET", "/v2/orders:by_client_order_id"), ("POST", "/v2/orders")]
    fake.fill("c-429", "10", "581")
    sync(ledger, broker, "c-429")
    assert ledger.get_order("c-429").status == "filled"
    assert_consistent(ledger)
    one_order(fake, rsps, "c-429", posts=2)


def test_500_after_the_order_landed_is_answered_by_the_lookup(
        broker: AlpacaBroker, fake: FakeAlpaca, rsps: responses.RequestsMock, sleeps: list[float],
        ledger: Ledger) -> None:
    fake.fault("POST /orders", Fault(500, {"code": 50010000, "message": "internal server error"}, place=True))
    ack = broker.submit_order(planned(ledger, "c-500"))
    assert (ack.accepted, ack.duplicate, ack.broker_order_id) == (True, True, fake.order("c-500")["id"])
    assert sleeps == [1.0]
    sync(ledger, broker, "c-500")
    assert ledger.get_order("c-500").status == "submitted"
    assert_consistent(ledger)
    one_order(fake, rsps, "c-500", posts=1)


def test_502_with_an_html_body_is_transient_and_the_order_goes_once(
        broker: AlpacaBroker, fake: FakeAlpaca, rsps: responses.RequestsMock, sleeps: list[float],
        ledger: Ledger) -> None:
    fake.fault("POST /orders", Fault(502, HTML_502))  # alpaca-py's APIError.code raises JSONDecodeError here
    ack = broker.submit_order(planned(ledger, "c-502"))
    assert ack.accepted and not ack.duplicate
    assert sleeps == [1.0]
    fake.fill("c-502", "10", "581")
    sync(ledger, broker, "c-502")
    assert_consistent(ledger)
    one_order(fake, rsps, "c-502", posts=2)


def test_html_502_on_every_read_ends_in_a_short_one_line_error(
        broker: AlpacaBroker, fake: FakeAlpaca, sleeps: list[float]) -> None:
    fake.fault("GET /account", *[Fault(502, HTML_502)] * 4)
    with pytest.raises(BrokerUnavailable) as info:
        broker.account()
    message = str(info.value)
    assert "read the account: 4 attempts failed" in message and "'502 Bad Gateway'" in message
    assert "<" not in message and "\n" not in message and len(message) < 300
    assert sleeps == [1.0, 2.0, 4.0]


def test_timeout_after_the_order_landed_finds_it_and_sends_nothing_more(
        broker: AlpacaBroker, fake: FakeAlpaca, rsps: responses.RequestsMock, ledger: Ledger) -> None:
    fake.fault("POST /orders", Fault(exc=requests.exceptions.ReadTimeout("read timed out"), place=True))
    ack = broker.submit_order(planned(ledger, "c-timeout"))
    assert ack.duplicate and ack.accepted
    sync(ledger, broker, "c-timeout")
    assert_consistent(ledger)
    one_order(fake, rsps, "c-timeout", posts=1)


def test_timeout_before_the_order_landed_resends_the_same_id(
        broker: AlpacaBroker, fake: FakeAlpaca, rsps: responses.RequestsMock, ledger: Ledger) -> None:
    fake.fault("POST /orders", Fault(exc=requests.exceptions.ConnectTimeout("connect timed out")))
    ack = broker.submit_order(planned(ledger, "c-ct"))
    assert ack.accepted and not ack.duplicate
    bodies = [json.loads(c.request.body) for c in fake.calls(rsps, "POST", "/v2/orders")]
    assert [b["client_order_id"] for b in bodies] == ["c-ct", "c-ct"] and bodies[0] == bodies[1]
    sync(ledger, broker, "c-ct")
    assert_consistent(ledger)
    one_order(fake, rsps, "c-ct", posts=2)


def test_connection_reset_every_time_stops_after_max_attempts_with_nothing_placed(
        fake: FakeAlpaca, rsps: responses.RequestsMock, sleeps: list[float], ledger: Ledger) -> None:
    broker = AlpacaBroker(AlpacaCredentials(KEY_ID, SECRET), max_attempts=3, sleep=sleeps.append)
    reset = requests.exceptions.ConnectionError(ConnectionResetError(104, "Connection reset by peer"))
    fake.fault("POST /orders", *[Fault(exc=reset)] * 3)
    with pytest.raises(BrokerUnavailable) as info:
        broker.submit_order(planned(ledger, "c-reset"))
    message = str(info.value)
    assert "order c-reset (buy 10 SPY) was not placed: 3 attempts failed" in message
    assert "connection reset by peer" in message and "looked up before it is sent" in message
    assert sleeps == [1.0, 2.0, 4.0]
    assert fake.posts["c-reset"] == 3 and fake.placed["c-reset"] == 0
    assert len(fake.calls(rsps, "GET", "/v2/orders:by_client_order_id")) == 3  # asked after every failure
    assert ledger.get_order("c-reset").status == "new"  # nothing to record: a later run looks it up first
    assert_consistent(ledger)


def test_no_resend_when_the_lookup_itself_fails(
        broker: AlpacaBroker, fake: FakeAlpaca, rsps: responses.RequestsMock, ledger: Ledger) -> None:
    fake.fault("POST /orders", Fault(exc=requests.exceptions.ReadTimeout("read timed out"), place=True))
    fake.fault("GET /orders:by_client_order_id", *[Fault(503, {"message": "service unavailable"})] * 4)
    with pytest.raises(BrokerUnavailable, match=r"could not be asked whether it has the order.*nothing was sent again"):
        broker.submit_order(planned(ledger, "c-blind"))
    one_order(fake, rsps, "c-blind", posts=1)
    sync(ledger, broker, "c-blind")  # later, Alpaca answers: the order is there, recorded once
    assert ledger.get_order("c-blind").status == "submitted"
    assert_consistent(ledger)


def test_a_resumed_run_gets_the_existing_order_from_the_unique_id_422(
        fake: FakeAlpaca, rsps: responses.RequestsMock, ledger: Ledger) -> None:
    order = planned(ledger, "c-resume")
    AlpacaBroker(AlpacaCredentials(KEY_ID, SECRET)).submit_order(order)  # the run that crashed before recording
    fake.fill("c-resume", "10", "581")
    ack = AlpacaBroker(AlpacaCredentials(KEY_ID, SECRET)).submit_order(order)  # the resumed run, a new process
    assert ack.duplicate and ack.status is OrderStatus.FILLED
    sync(ledger, AlpacaBroker(AlpacaCredentials(KEY_ID, SECRET)), "c-resume")
    assert ledger.get_order("c-resume").filled_quantity == D(10)
    assert_consistent(ledger)
    one_order(fake, rsps, "c-resume", posts=2)


def test_a_wrong_endpoint_says_which_variable_to_fix(
        broker: AlpacaBroker, fake: FakeAlpaca, ledger: Ledger) -> None:
    fake.fault("POST /orders", Fault(404, {"message": "Not Found"}))
    with pytest.raises(BrokerError, match=r"order c-404 .* was not placed: HTTP 404: Not Found; Alpaca has no such "
                                          r"endpoint: check APCA_API_BASE_URL") as info:
        broker.submit_order(planned(ledger, "c-404"))
    assert not isinstance(info.value, BrokerUnavailable) and fake.posts["c-404"] == 1


def test_the_engine_sends_through_a_5xx_and_a_resumed_run_sends_nothing(
        broker: AlpacaBroker, fake: FakeAlpaca, rsps: responses.RequestsMock, ledger: Ledger) -> None:
    """The engine's own execute(): asks first, quotes Alpaca's latest trade, submits once, records."""
    planned(ledger, "c-engine")
    fake.fault("POST /orders", Fault(503, {"message": "service unavailable"}, place=True))
    args = {"account": ACCOUNT, "mode": MODE, "ledger": ledger, "risk": RiskEngine(), "prices": {"SPY": D("581")},
            "clock": FixedClock(NOW), "now": NOW}
    execute(broker=broker, pending=[ledger.get_order("c-engine")], **args)
    assert ledger.get_order("c-engine").status == "submitted"
    fake.fill("c-engine", "10", "581.10")
    resumed = AlpacaBroker(AlpacaCredentials(KEY_ID, SECRET), sleep=lambda s: None)  # a new process after a crash
    execute(broker=resumed, pending=[ledger.get_order("c-engine")], **args)
    stored = ledger.get_order("c-engine")
    assert (stored.status, stored.broker_order_id) == ("filled", fake.order("c-engine")["id"])
    assert_consistent(ledger)
    one_order(fake, rsps, "c-engine", posts=1)


# ----------------------------------------------------------------------------- refusals


@pytest.mark.parametrize(("status", "payload"), [
    (403, {"buying_power": "0", "code": 40310000, "cost_basis": "5810", "message": "insufficient buying power"}),
    (422, {"code": 40010001, "message": "insufficient buying power"}),
])
def test_insufficient_buying_power_is_a_recorded_rejection(
        broker: AlpacaBroker, fake: FakeAlpaca, rsps: responses.RequestsMock, sleeps: list[float], ledger: Ledger,
        status: int, payload: dict[str, Any]) -> None:
    fake.fault("POST /orders", Fault(status, payload))
    ack = broker.submit_order(planned(ledger, "c-bp"))
    assert (ack.accepted, ack.status) == (False, OrderStatus.REJECTED)
    assert ack.reason == f"refused by Alpaca (HTTP {status}: insufficient buying power)"
    seen = broker.get_order("c-bp")  # Alpaca keeps no refused order; the adapter remembers it
    assert seen is not None and kinds(seen) == ["OrderRejected"]
    sync(ledger, broker, "c-bp")
    stored = ledger.get_order("c-bp")
    assert stored.status == "rejected"
    assert ledger.order_events("c-bp")[-1].detail == ack.reason
    assert sleeps == [] and fake.posts["c-bp"] == 1 and fake.placed["c-bp"] == 0
    assert_consistent(ledger)


def test_pattern_day_trader_protection_403_is_a_rejection_with_alpacas_words(
        broker: AlpacaBroker, fake: FakeAlpaca, ledger: Ledger) -> None:
    fake.fault("POST /orders", Fault(403, {"code": 40310000,
                                           "message": "trade denied due to pattern day trading protection"}))
    ack = broker.submit_order(planned(ledger, "c-pdt"))
    assert not ack.accepted and "pattern day trading protection" in (ack.reason or "")


@pytest.mark.parametrize(("status", "payload"), [
    (403, {"message": "forbidden"}),
    (401, {"code": 40110000, "message": "request is not authorized"}),
])
def test_refused_keys_raise_an_auth_error_naming_the_variables(
        broker: AlpacaBroker, fake: FakeAlpaca, rsps: responses.RequestsMock, ledger: Ledger,
        status: int, payload: dict[str, Any]) -> None:
    fake.fault("POST /orders", Fault(status, payload))
    with pytest.raises(BrokerAuthError) as info:
        broker.submit_order(planned(ledger, "c-auth"))
    assert info.value.status == status
    assert "order c-auth (buy 10 SPY) was not placed" in str(info.value)
    assert "APCA_API_KEY_ID and APCA_API_SECRET_KEY are the paper keys" in str(info.value)
    assert fake.placed["c-auth"] == 0 and fake.posts["c-auth"] == 1
    fake.fault("GET /account", Fault(status, payload))
    with pytest.raises(BrokerAuthError, match="read the account: Alpaca refused the API keys"):
        broker.account()


# ----------------------------------------------------------------------------- fills and statuses


def test_partial_fill_then_cancel(
        broker: AlpacaBroker, fake: FakeAlpaca, rsps: responses.RequestsMock, ledger: Ledger) -> None:
    broker.submit_order(planned(ledger, "c-part"))
    fake.fill("c-part", "4", "580.75")
    sync(ledger, broker, "c-part")
    cancelled = broker.cancel("c-part")
    assert kinds(cancelled) == ["OrderAccepted", "OrderFilled", "OrderCancelled"]
    assert cancelled.status_reason == "cancelled at Alpaca"
    sync(ledger, broker, "c-part")
    stored = ledger.get_order("c-part")
    assert (stored.status, stored.filled_quantity) == ("cancelled", D(4))
    assert broker.cancel("c-part").status is OrderStatus.CANCELLED  # terminal: unchanged, no second DELETE
    assert len(fake.calls(rsps, "DELETE", f"/v2/orders/{fake.order('c-part')['id']}")) == 1
    assert_consistent(ledger)
    one_order(fake, rsps, "c-part", posts=1)


def test_cancel_of_a_filled_order_returns_it_unchanged_without_a_delete(
        broker: AlpacaBroker, fake: FakeAlpaca, rsps: responses.RequestsMock, ledger: Ledger) -> None:
    broker.submit_order(planned(ledger, "c-done"))
    fake.fill("c-done", "10", "581")
    done = broker.cancel("c-done")
    assert done.status is OrderStatus.FILLED and kinds(done) == ["OrderAccepted", "OrderFilled"]
    assert [c for c in rsps.calls if c.request.method == "DELETE"] == []
    with pytest.raises(BrokerError, match="cancel c-ghost: Alpaca has no order with this client_order_id"):
        broker.cancel("c-ghost")


def test_a_fill_that_lands_between_reading_and_cancelling_is_kept(
        broker: AlpacaBroker, fake: FakeAlpaca, rsps: responses.RequestsMock, ledger: Ledger) -> None:
    broker.submit_order(planned(ledger, "c-race"))
    fake.before_cancel = lambda: fake.fill("c-race", "10", "581")  # it fills just before Alpaca sees the DELETE
    result = broker.cancel("c-race")  # Alpaca answers 422 "already filled": not an error
    assert result.status is OrderStatus.FILLED
    sync(ledger, broker, "c-race")
    assert ledger.get_order("c-race").status == "filled"
    assert_consistent(ledger)


def test_a_duplicate_fill_report_is_recorded_once(
        broker: AlpacaBroker, fake: FakeAlpaca, rsps: responses.RequestsMock, ledger: Ledger) -> None:
    broker.submit_order(planned(ledger, "c-dup"))
    first = fake.fill("c-dup", "3", "580")
    fake.activities.append(dict(first))  # Alpaca reports the same execution twice
    fake.fill("c-dup", "7", "581")
    seen = broker.get_order("c-dup")
    assert seen is not None and kinds(seen) == ["OrderAccepted", "OrderFilled", "OrderFilled"]
    for _ in range(2):
        sync(ledger, broker, "c-dup")
    fills = ledger.fill_records(client_order_id="c-dup")
    assert sorted(f.fill_id for f in fills) == sorted({a["id"] for a in fake.activities})
    assert sum(f.quantity for f in fills) == D(10)
    assert ledger.get_order("c-dup").status == "filled"
    assert_consistent(ledger)
    one_order(fake, rsps, "c-dup", posts=1)


def test_a_fill_listed_after_the_order_shows_cancelled_is_not_lost(
        broker: AlpacaBroker, fake: FakeAlpaca, rsps: responses.RequestsMock, ledger: Ledger) -> None:
    broker.submit_order(planned(ledger, "c-late"))
    fake.fill("c-late", "2", "580")
    late = fake.fill("c-late", "4", "581")
    fake.activities.remove(late)  # the activity feed lags: the order already says 6 filled
    fake.end("c-late", "canceled")
    early = broker.get_order("c-late")
    assert early is not None and kinds(early) == ["OrderAccepted", "OrderFilled"]  # the cancel waits for its fills
    sync(ledger, broker, "c-late")
    assert ledger.get_order("c-late").status == "partially_filled"
    fake.activities.append(late)  # the late report arrives
    sync(ledger, broker, "c-late")
    stored = ledger.get_order("c-late")
    assert (stored.status, stored.filled_quantity) == ("cancelled", D(6))
    assert len(ledger.fill_records(client_order_id="c-late")) == 2
    assert_consistent(ledger)
    one_order(fake, rsps, "c-late", posts=1)


def test_expired_and_done_for_day_end_a_day_order(
        broker: AlpacaBroker, fake: FakeAlpaca, ledger: Ledger) -> None:
    for cid, status in (("c-exp", "expired"), ("c-dfd", "done_for_day")):
        broker.submit_order(planned(ledger, cid))
        fake.fill(cid, "1", "581")
        fake.end(cid, status)
        sync(ledger, broker, cid)
        assert ledger.get_order(cid).status == "cancelled"
    assert "expired at Alpaca" in (broker.get_order("c-exp").status_reason or "")
    assert_consistent(ledger)
    gtc = _order("c-gtc", OrderType.LIMIT, tif=TimeInForce.GTC, limit_price="500")
    broker.submit_order(gtc)
    fake.end("c-gtc", "done_for_day")  # a gtc order done for today works again tomorrow
    assert broker.get_order("c-gtc").status is OrderStatus.SUBMITTED


def test_an_order_rejected_after_acceptance_is_recorded_as_rejected(
        broker: AlpacaBroker, fake: FakeAlpaca, ledger: Ledger) -> None:
    broker.submit_order(planned(ledger, "c-rej"))
    fake.order("c-rej")["status"] = "rejected"
    sync(ledger, broker, "c-rej")
    seen = broker.get_order("c-rej")
    assert seen is not None and kinds(seen) == ["OrderAccepted", "OrderRejected"]
    assert seen.events[-1].broker_order_id == fake.order("c-rej")["id"]
    assert ledger.get_order("c-rej").status == "rejected"
    assert_consistent(ledger)


# ----------------------------------------------------------------------------- paging


def test_a_page_of_activities_served_twice_still_gives_each_fill_once(
        broker: AlpacaBroker, fake: FakeAlpaca, rsps: responses.RequestsMock, ledger: Ledger) -> None:
    broker.submit_order(planned(ledger, "c-paged", qty="3"))
    # the activity feed is the account's: 220 executions of another order come first
    fake.create({"client_order_id": "other", "symbol": "SPY", "qty": 220, "side": "buy", "type": "market",
                 "time_in_force": "day"})
    for _ in range(220):
        fake.fill("other", "1", "580")
    ours = [fake.fill("c-paged", "1", "581") for _ in range(3)]
    fake.served_twice = {2}
    seen = broker.get_order("c-paged")
    assert seen is not None and seen.status is OrderStatus.FILLED
    assert [e.fill.fill_id for e in seen.events if isinstance(e, OrderFilled)] == [a["id"] for a in ours]
    pages = fake.calls(rsps, "GET", "/v2/account/activities/FILL")
    assert len(pages) == 4  # the first 100, the same 100 again (no progress: asked once more), 100, 23
    assert [parse_qs(urlsplit(c.request.url).query).get("page_token") for c in pages][1:] == [
        [fake.activities[99]["id"]], [fake.activities[99]["id"]], [fake.activities[199]["id"]]]
    assert len(broker.get_orders()) == 2
    sync(ledger, broker, "c-paged")
    assert len(ledger.fill_records(client_order_id="c-paged")) == 3
    assert_consistent(ledger)


def test_every_order_is_listed_across_pages_of_500(
        broker: AlpacaBroker, fake: FakeAlpaca, rsps: responses.RequestsMock) -> None:
    for n in range(1, 1202):
        # three orders share a submission time across the first page boundary
        at = T0 + pd.Timedelta(seconds=499 if n in (499, 500, 501) else n)
        fake.create({"client_order_id": f"c-{n:04d}", "symbol": "SPY", "qty": 1, "side": "buy", "type": "market",
                     "time_in_force": "day"}, submitted_at=at)
    fake.end("c-0002", "canceled")
    orders = broker.get_orders()
    assert [o.client_order_id for o in orders] == [f"c-{n:04d}" for n in range(1, 1202)]
    assert len({o.client_order_id for o in orders}) == 1201
    listed = fake.calls(rsps, "GET", "/v2/orders")
    assert len(listed) == 3
    assert all(parse_qs(urlsplit(c.request.url).query)["limit"] == ["500"] for c in listed)
    assert all(parse_qs(urlsplit(c.request.url).query)["direction"] == ["asc"] for c in listed)
    open_ids = [o.client_order_id for o in broker.get_orders(open_only=True)]
    assert len(open_ids) == 1200 and "c-0002" not in open_ids


def test_account_fills_map_back_to_client_order_ids(
        broker: AlpacaBroker, fake: FakeAlpaca, ledger: Ledger) -> None:
    broker.submit_order(planned(ledger, "c-a", qty="2"))
    broker.submit_order(planned(ledger, "c-b", qty="3"))
    fake.fill("c-b", "3", "580")
    fake.fill("c-a", "2", "581")
    fresh = AlpacaBroker(AlpacaCredentials(KEY_ID, SECRET))  # a new process: ids learnt from Alpaca
    fills = fresh.get_fills()
    assert [(f.client_order_id, f.quantity, f.side) for f in fills] == [("c-b", D(3), OrderSide.BUY),
                                                                         ("c-a", D(2), OrderSide.BUY)]
    assert all(f.mode is TradingMode.PAPER and f.fee == 0 for f in fills)


# ----------------------------------------------------------------------------- order types


def _order(cid: str, kind: OrderType, *, qty: str = "5", tif: TimeInForce = TimeInForce.DAY,
           mode: TradingMode = TradingMode.PAPER, **terms: Any) -> Order:
    return Order(client_order_id=cid, symbol="SPY", side=OrderSide.BUY, quantity=D(qty), order_type=kind,
                 time_in_force=tif, mode=mode, **{k: D(v) for k, v in terms.items()})


@pytest.mark.parametrize(("order", "sent"), [
    (_order("t-mkt", OrderType.MARKET, qty="0.125"), {"type": "market", "time_in_force": "day", "qty": 0.125}),
    (_order("t-lmt", OrderType.LIMIT, tif=TimeInForce.GTC, limit_price="580.5"),
     {"type": "limit", "time_in_force": "gtc", "limit_price": 580.5}),
    (_order("t-moo", OrderType.MARKET_ON_OPEN), {"type": "market", "time_in_force": "opg"}),
    (_order("t-moc", OrderType.MARKET_ON_CLOSE), {"type": "market", "time_in_force": "cls"}),
    (_order("t-stp", OrderType.STOP, stop_price="570"), {"type": "stop", "stop_price": 570.0}),
    (_order("t-stl", OrderType.STOP_LIMIT, stop_price="570", limit_price="569.5"),
     {"type": "stop_limit", "stop_price": 570.0, "limit_price": 569.5}),
    (_order("t-trl", OrderType.TRAILING_STOP, tif=TimeInForce.GTC, trail_percent="1.5"),
     {"type": "trailing_stop", "trail_percent": 1.5, "time_in_force": "gtc"}),
    (_order("t-brk", OrderType.BRACKET, limit_price="581", take_profit_price="600", stop_loss_price="560"),
     {"type": "limit", "order_class": "bracket", "limit_price": 581.0, "take_profit": {"limit_price": 600.0},
      "stop_loss": {"stop_price": 560.0}}),
])
def test_each_order_type_becomes_alpacas_request_and_reads_back_the_same(
        broker: AlpacaBroker, fake: FakeAlpaca, rsps: responses.RequestsMock, order: Order,
        sent: dict[str, Any]) -> None:
    ack = broker.submit_order(order)
    body = json.loads(fake.calls(rsps, "POST", "/v2/orders")[0].request.body)
    assert body | sent == body, body
    assert body["client_order_id"] == order.client_order_id and body["side"] == "buy"
    back = broker.get_order(order.client_order_id)
    assert ack.accepted and back is not None
    assert back.order_type is order.order_type and back.quantity == order.quantity
    for name in ("limit_price", "stop_price", "trail_percent", "take_profit_price", "stop_loss_price"):
        assert getattr(back, name) == getattr(order, name), name


@pytest.mark.parametrize(("order", "words"), [
    (_order("u-stp", OrderType.STOP, qty="0.5", stop_price="570"), "fractional 0.5 for a stop day order"),
    (_order("u-gtc", OrderType.LIMIT, qty="1.5", tif=TimeInForce.GTC, limit_price="580"),
     "fractional 1.5 for a limit gtc order"),
    (_order("u-moo", OrderType.MARKET_ON_OPEN, tif=TimeInForce.GTC), "time_in_force: got 'gtc' for market_on_open"),
    (_order("u-brk", OrderType.BRACKET, tif=TimeInForce.IOC, take_profit_price="600", stop_loss_price="560"),
     "allowed: day, gtc"),
    (_order("u-trl", OrderType.TRAILING_STOP, tif=TimeInForce.FOK, trail_price="2"), "for trailing_stop order"),
    (_order("u-tiny", OrderType.MARKET, qty="0.0000000001"), "at most 9 decimal places"),
    (_order("u-live", OrderType.MARKET, mode=TradingMode.ONLINE_LIVE), "order u-live is online_live but this"),
])
def test_what_alpaca_would_not_take_is_refused_before_any_request(
        broker: AlpacaBroker, rsps: responses.RequestsMock, order: Order, words: str) -> None:
    with pytest.raises(UnsupportedOrder) as info:
        broker.submit_order(order)
    assert words in str(info.value) and "nothing was sent" in str(info.value)
    assert len(rsps.calls) == 0


def test_a_paper_order_never_reaches_a_live_account(rsps: responses.RequestsMock) -> None:
    live = AlpacaBroker(AlpacaCredentials(KEY_ID, SECRET), paper=False)
    with pytest.raises(UnsupportedOrder, match="order p-1 is paper but this Alpaca account is online_live"):
        live.submit_order(_order("p-1", OrderType.MARKET))
    assert len(rsps.calls) == 0


# ----------------------------------------------------------------------------- account, market, setup


def test_account_positions_cash_clock_calendar_and_latest_trades(
        broker: AlpacaBroker, fake: FakeAlpaca, rsps: responses.RequestsMock) -> None:
    info = broker.account()
    assert (info.account_id, info.status, info.cash, info.buying_power, info.equity) == (
        "PA1234567", "ACTIVE", D("24000.50"), D("48001.00"), D("24950.25"))
    assert (info.pattern_day_trader, info.daytrade_count, info.multiplier, info.shorting_enabled,
            info.trading_blocked) == (False, 3, D(2), True, False)
    assert broker.get_cash() == D("24000.50")
    fake.positions = [
        {"asset_id": str(uuid.UUID(int=1)), "symbol": "SPY", "exchange": "ARCA", "asset_class": "us_equity",
         "avg_entry_price": "570", "qty": "12.5", "side": "long", "cost_basis": "7125"},
        {"asset_id": str(uuid.UUID(int=2)), "symbol": "QQQ", "exchange": "NASDAQ", "asset_class": "us_equity",
         "avg_entry_price": "500", "qty": "-3", "side": "short", "cost_basis": "-1500"},
    ]
    assert broker.get_positions() == {"SPY": D("12.5"), "QQQ": D(-3)}
    clock = broker.clock()
    assert clock.is_open and clock.timestamp == pd.Timestamp("2026-11-27T17:55:00.123Z")
    assert clock.next_close == pd.Timestamp("2026-11-27T18:00Z")
    days = broker.calendar(dt.date(2026, 11, 25), dt.date(2026, 11, 27))
    assert [(d.date, d.open, d.close) for d in days] == [
        (dt.date(2026, 11, 25), pd.Timestamp("2026-11-25T14:30Z"), pd.Timestamp("2026-11-25T21:00Z")),
        (dt.date(2026, 11, 27), pd.Timestamp("2026-11-27T14:30Z"), pd.Timestamp("2026-11-27T18:00Z")),  # early close
    ]
    quotes = broker.latest_trades(["SPY", "NOPE", "SPY"])
    assert list(quotes) == ["SPY"]
    assert (quotes["SPY"].price, quotes["SPY"].timestamp, quotes["SPY"].source) == (
        D("581.37"), pd.Timestamp("2026-03-02T20:54:59.5Z"), "alpaca:latest_trade:iex")
    latest = [c for c in rsps.calls if c.request.url.startswith(DATA)]
    assert parse_qs(urlsplit(latest[0].request.url).query) == {"symbols": ["SPY,NOPE"], "feed": ["iex"]}
    assert broker.latest_trades([]) == {}


def test_from_env_points_both_clients_at_the_configured_urls() -> None:
    environ = {"APCA_API_KEY_ID": KEY_ID, "APCA_API_SECRET_KEY": SECRET,
               "APCA_API_BASE_URL": "http://127.0.0.1:8765", "APCA_API_DATA_URL": "http://127.0.0.1:8766"}
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        FakeAlpaca(mock, base="http://127.0.0.1:8765", data="http://127.0.0.1:8766")
        b = AlpacaBroker.from_env(paper=False, environ=environ)
        assert b.mode is TradingMode.ONLINE_LIVE
        assert b.clock().is_open and "SPY" in b.latest_trades(["SPY"])
        assert {urlsplit(c.request.url).port for c in mock.calls} == {8765, 8766}
        assert all(c.request.headers["APCA-API-KEY-ID"] == KEY_ID for c in mock.calls)
    with pytest.raises(BrokerAuthError, match="APCA_API_SECRET_KEY"):
        AlpacaBroker.from_env(paper=True, environ={"APCA_API_KEY_ID": KEY_ID})


def test_live_by_default_goes_to_alpacas_live_endpoint() -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        FakeAlpaca(mock, base=LIVE)
        AlpacaBroker(AlpacaCredentials(KEY_ID, SECRET), paper=False).clock()
        assert mock.calls[0].request.url == f"{LIVE}/v2/clock"


@pytest.mark.parametrize(("kwargs", "field_name"), [({"timeout": 0}, "timeout"), ({"max_attempts": 0}, "max_attempts"),
                                                    ({"feed": "nasdaq"}, "feed")])
def test_bad_settings_are_refused_with_the_field(kwargs: dict[str, Any], field_name: str) -> None:
    with pytest.raises(ValueError, match=f"^{field_name}: got"):
        AlpacaBroker(AlpacaCredentials(KEY_ID, SECRET), **kwargs)


def test_secrets_are_in_no_repr_no_error_and_no_rejection(
        broker: AlpacaBroker, fake: FakeAlpaca, ledger: Ledger) -> None:
    texts = [repr(broker), str(broker)]
    # a broker (or proxy) that echoes a key back in its message must not carry it further
    fake.fault("POST /orders", Fault(422, {"code": 40010001, "message": f"bad header APCA-API-KEY-ID={KEY_ID}"}))
    texts.append(broker.submit_order(planned(ledger, "s-1")).reason or "")
    for status, body, times in ((403, {"message": "forbidden"}, 1), (503, f"<html><title>{SECRET}</title></html>", 4)):
        fake.fault("GET /account", *[Fault(status, body)] * times)
        with pytest.raises(BrokerError) as info:
            broker.account()
        texts.append(str(info.value))
    with pytest.raises(UnsupportedOrder) as refused:
        broker.submit_order(_order("s-2", OrderType.STOP, qty="0.5", stop_price="1"))
    texts.append(str(refused.value))
    assert len(texts) == 6
    assert not [t for t in texts if KEY_ID in t or SECRET in t]
    assert "***" in texts[2] and "***" in texts[4]


def test_events_are_model_events_in_order(broker: AlpacaBroker, fake: FakeAlpaca, ledger: Ledger) -> None:
    broker.submit_order(planned(ledger, "c-ev"))
    fake.fill("c-ev", "5", "580")
    fake.end("c-ev")
    events = broker.get_order("c-ev").events
    assert isinstance(events[0], OrderAccepted) and isinstance(events[1], OrderFilled)
    assert isinstance(events[2], OrderCancelled)
    assert events[1].fill.timestamp < events[2].at
    assert not any(isinstance(e, OrderRejected) for e in events)
