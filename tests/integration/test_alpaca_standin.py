"""The local Alpaca stand-in (tests/support/alpaca_standin.py) through alpaca-py's own clients.

The stand-in is only worth having if alpaca-py parses everything it answers and if it
behaves as Alpaca does where our adapter's safety depends on it: exclusive ``until``
paging, activity page tokens, 422 on a reused client_order_id, faults that leave an order
behind, state that survives a kill. Expected prices are read from the CSV files here with
the csv module, not through the toolkit loader the stand-in uses.
"""

from __future__ import annotations

import csv
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from json import JSONDecodeError
from pathlib import Path

import pytest
import requests
from alpaca.common.exceptions import APIError
from alpaca.data.historical import StockHistoricalDataClient
from alpaca.data.requests import StockBarsRequest, StockLatestTradeRequest
from alpaca.data.timeframe import TimeFrame
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderStatus
from alpaca.trading.models import TradeActivity
from alpaca.trading.requests import GetCalendarRequest, GetOrdersRequest, LimitOrderRequest, MarketOrderRequest
from support.alpaca_standin import StandIn, spawn

NOW = "2015-12-01T20:45:00Z"  # 15:45 New York, a regular session
KEYS = ("test-key-id", "test-secret")


def csv_row(path: Path, first_cell: str) -> dict[str, str]:
    with path.open() as fh:
        for row in csv.DictReader(fh):
            if next(iter(row.values())) == first_cell:
                return row
    raise AssertionError(f"{first_cell} not in {path}")


def daily_rows(path: Path, start: str, end: str) -> list[dict[str, str]]:
    with path.open() as fh:
        return sorted((r for r in csv.DictReader(fh) if start <= r["Date"] <= end), key=lambda r: r["Date"])


@pytest.fixture
def data(shared_data: Path) -> dict[str, Path]:
    return {"daily": shared_data / "daily" / "qstrader", "minute": shared_data / "minute" / "intraday"}


@pytest.fixture
def standin(data: dict[str, Path]):
    with StandIn.start(bars=[data["daily"], data["minute"]], symbols=["SPY", "AGG"], now=NOW) as running:
        yield running


@pytest.fixture
def trading(standin: StandIn) -> TradingClient:
    return TradingClient(*KEYS, url_override=standin.base_url)


def market(symbol: str, qty: float, side: str, cid: str) -> MarketOrderRequest:
    return MarketOrderRequest(symbol=symbol, qty=qty, side=side, time_in_force="day", client_order_id=cid)


def control(standin: StandIn, name: str, body: dict) -> dict:
    """The HTTP control endpoints, as another process would call them."""
    reply = requests.post(f"{standin.base_url}/_control/{name}", json=body, timeout=5)
    assert reply.status_code == 200, reply.text
    return reply.json()


def test_account_clock_and_calendar_parse_including_an_early_close(standin: StandIn, trading: TradingClient) -> None:
    account = trading.get_account()
    assert (account.status.value, account.cash, account.buying_power, account.equity) == (
        "ACTIVE", "100000", "100000", "100000")
    assert (account.pattern_day_trader, account.daytrade_count, account.multiplier) == (False, 0, "1")
    assert (account.shorting_enabled, account.trading_blocked, account.currency) == (False, False, "USD")
    control(standin, "account", {"pattern_day_trader": True, "daytrade_count": 3, "shorting_enabled": True})
    account = trading.get_account()
    assert (account.pattern_day_trader, account.daytrade_count, account.shorting_enabled) == (True, 3, True)

    clock = trading.get_clock()
    assert clock.is_open
    assert clock.timestamp == datetime(2015, 12, 1, 20, 45, tzinfo=UTC)
    assert clock.next_close == datetime(2015, 12, 1, 21, 0, tzinfo=UTC)  # 16:00 New York
    assert clock.next_open == datetime(2015, 12, 2, 14, 30, tzinfo=UTC)

    control(standin, "now", {"now": "2016-11-25T17:30:00Z"})  # 12:30 on the day after Thanksgiving
    clock = trading.get_clock()
    assert clock.is_open and clock.next_close == datetime(2016, 11, 25, 18, 0, tzinfo=UTC)  # 13:00 New York
    control(standin, "now", {"now": "2016-11-25T18:00:00Z"})
    clock = trading.get_clock()
    assert not clock.is_open and clock.next_open == datetime(2016, 11, 28, 14, 30, tzinfo=UTC)

    days = trading.get_calendar(GetCalendarRequest(start=date(2016, 11, 23), end=date(2016, 11, 28)))
    assert [(d.date, d.open.strftime("%H:%M"), d.close.strftime("%H:%M")) for d in days] == [
        (date(2016, 11, 23), "09:30", "16:00"),  # 24th: Thanksgiving, no session
        (date(2016, 11, 25), "09:30", "13:00"),
        (date(2016, 11, 28), "09:30", "16:00"),
    ]


def test_market_orders_fill_at_the_latest_trade_and_move_cash_and_positions(
        data: dict[str, Path], trading: TradingClient) -> None:
    close = Decimal(csv_row(data["daily"] / "SPY.csv", "2015-12-01")["Close"])  # no minute bars in 2015

    reply = trading.submit_order(market("SPY", 10, "buy", "buy-1"))
    assert (reply.status, reply.filled_qty) == (OrderStatus.ACCEPTED, "0")  # answered before its fill, as Alpaca does
    order = trading.get_order_by_client_id("buy-1")
    assert (order.status, order.filled_qty, Decimal(order.filled_avg_price)) == (OrderStatus.FILLED, "10", close)
    [position] = trading.get_all_positions()
    assert (position.symbol, position.qty, Decimal(position.avg_entry_price)) == ("SPY", "10", close)
    account = trading.get_account()
    assert Decimal(account.cash) == 100_000 - 10 * close
    assert Decimal(account.equity) == 100_000  # bought at the price it is marked at

    trading.submit_order(market("SPY", 4, "sell", "sell-1"))
    assert trading.get_all_positions()[0].qty == "6"
    assert Decimal(trading.get_account().cash) == 100_000 - 6 * close

    with pytest.raises(APIError) as oversold:
        trading.submit_order(market("SPY", 7, "sell", "sell-2"))
    assert (oversold.value.status_code, oversold.value.code) == (403, 40310000)
    assert "insufficient qty available" in oversold.value.message
    with pytest.raises(APIError) as too_big:
        trading.submit_order(market("SPY", 1000, "buy", "buy-2"))
    assert (too_big.value.status_code, too_big.value.code, too_big.value.message) == (
        403, 40310000, "insufficient buying power")


def test_a_reused_client_order_id_is_refused_with_422(standin: StandIn, trading: TradingClient) -> None:
    trading.submit_order(market("AGG", 1, "buy", "once"))
    with pytest.raises(APIError) as duplicate:
        trading.submit_order(market("AGG", 1, "buy", "once"))
    assert (duplicate.value.status_code, duplicate.value.code, duplicate.value.message) == (
        422, 40010001, "client_order_id must be unique")
    trading.cancel_orders()  # not even after a cancel
    with pytest.raises(APIError):
        trading.submit_order(market("AGG", 1, "buy", "once"))
    state = standin.state()
    assert state["post_counts"] == {"once": 3}
    assert [o["client_order_id"] for o in state["orders"]] == ["once"]


def test_orders_are_paged_with_limit_and_exclusive_until(standin: StandIn, trading: TradingClient) -> None:
    for i in range(7):  # a frozen clock: the stand-in still stamps each order apart
        trading.submit_order(market("AGG", 1, "buy", f"o{i}"))
    first = trading.get_orders(GetOrdersRequest(status="all", limit=3))
    assert [o.client_order_id for o in first] == ["o6", "o5", "o4"]  # newest first, at most limit

    seen, until = [], None
    for _ in range(10):  # bounded: a server that repeats the last order must fail here, not hang
        page = trading.get_orders(GetOrdersRequest(status="all", limit=3, until=until))
        if not page:
            break
        seen += [o.client_order_id for o in page]
        until = page[-1].submitted_at
    assert seen == [f"o{i}" for i in reversed(range(7))]
    after = first[-1].submitted_at
    assert [o.client_order_id for o in trading.get_orders(GetOrdersRequest(status="all", after=after,
                                                                             direction="asc"))] == ["o5", "o6"]
    assert trading.get_orders() == []  # default status=open: all filled
    assert len(trading.get_orders(GetOrdersRequest(status="closed", limit=500))) == 7
    with pytest.raises(APIError) as too_many:
        trading.get_orders(GetOrdersRequest(status="all", limit=501))
    assert too_many.value.status_code == 422


def test_fill_activities_are_paged_by_the_last_id(standin: StandIn, trading: TradingClient) -> None:
    for i in range(5):
        trading.submit_order(market("SPY", i + 1, "buy", f"f{i}"))
    pages, token = [], None
    for _ in range(10):  # bounded, as above
        params = {"page_size": 2, "direction": "asc", **({"page_token": token} if token else {})}
        page = trading.get("/account/activities/FILL", params)
        if not page:
            break
        pages.append(page)
        token = page[-1]["id"]
    assert [len(p) for p in pages] == [2, 2, 1]
    fills = [TradeActivity(**a) for p in pages for a in p]  # alpaca-py's own model parses them
    assert [f.qty for f in fills] == [1, 2, 3, 4, 5]
    assert all(f.type.value == "fill" and f.leaves_qty == 0 and f.cum_qty == f.qty for f in fills)
    orders = {o.id: o.client_order_id for o in trading.get_orders(GetOrdersRequest(status="all"))}
    assert [orders[f.order_id] for f in fills] == [f"f{i}" for i in range(5)]
    newest = trading.get("/account/activities", {"activity_types": "FILL", "page_size": 1})
    assert newest[0]["id"] == fills[-1].id  # default direction: newest first


def test_partial_fill_leaves_the_rest_open_until_cancelled(standin: StandIn, trading: TradingClient) -> None:
    control(standin, "fill_mode", {"mode": "partial", "fraction": 0.4})
    trading.submit_order(market("SPY", 10, "buy", "part"))
    order = trading.get_order_by_client_id("part")
    assert (order.status, order.filled_qty) == (OrderStatus.PARTIALLY_FILLED, "4")
    [fill] = trading.get("/account/activities/FILL")
    assert (fill["type"], fill["qty"], fill["leaves_qty"], fill["cum_qty"]) == ("partial_fill", "4", "6", "4")
    control(standin, "now", {"now": "2015-12-01T20:50:00Z"})  # time passes: the rest stays open
    assert [o.client_order_id for o in trading.get_orders()] == ["part"]

    trading.cancel_order_by_id(order.id)
    order = trading.get_order_by_client_id("part")
    assert (order.status, order.filled_qty) == (OrderStatus.CANCELED, "4")
    assert trading.get_all_positions()[0].qty == "4"
    with pytest.raises(APIError) as again:
        trading.cancel_order_by_id(order.id)
    assert again.value.status_code == 422


def test_fill_modes_none_and_reject_and_a_fill_by_control(standin: StandIn, trading: TradingClient) -> None:
    control(standin, "fill_mode", {"mode": "none"})
    trading.submit_order(market("SPY", 3, "buy", "waits"))
    assert trading.get_order_by_client_id("waits").status == OrderStatus.NEW
    filled = control(standin, "fill", {"client_order_id": "waits", "price": 200})
    assert (filled["status"], filled["filled_avg_price"]) == ("filled", "200")
    control(standin, "fill_mode", {"mode": "reject", "symbols": ["AGG"]})
    trading.submit_order(market("AGG", 1, "buy", "refused"))
    assert trading.get_order_by_client_id("refused").status == OrderStatus.REJECTED
    assert [(p.symbol, p.qty) for p in trading.get_all_positions()] == [("SPY", "3")]


def test_a_fault_after_processing_answers_500_while_the_order_exists(standin: StandIn, trading: TradingClient) -> None:
    control(standin, "faults", {"faults": [{"method": "POST", "path": "/v2/orders", "status": 500,
                                            "after_processing": True}]})
    with pytest.raises(APIError) as failed:
        trading.submit_order(market("SPY", 2, "buy", "trap"))
    assert failed.value.status_code == 500
    found = trading.get_order_by_client_id("trap")  # the lookup before any resubmit finds it
    assert (found.status, found.filled_qty) == (OrderStatus.FILLED, "2")
    state = standin.state()
    assert state["post_counts"] == {"trap": 1} and state["faults"] == []


def test_alpaca_py_retries_a_429_post_into_a_duplicate(standin: StandIn, trading: TradingClient) -> None:
    """Why the adapter must switch alpaca-py's own retry off: the retried POST meets its first copy."""
    trading._retry_wait = 0  # alpaca-py sleeps 3 s between retries; the path is the same without it
    standin.add_faults({"method": "POST", "path": "/v2/orders", "status": 429, "after_processing": True})
    with pytest.raises(APIError) as retried:
        trading.submit_order(market("SPY", 1, "buy", "blind"))
    assert (retried.value.status_code, retried.value.message) == (422, "client_order_id must be unique")
    state = standin.state()
    assert state["post_counts"] == {"blind": 2}
    assert len(state["orders"]) == 1


def test_html_502_dropped_connection_and_timeout(standin: StandIn, trading: TradingClient) -> None:
    standin.add_faults({"path": "/v2/account", "status": 502},
                       {"path": "/v2/orders*", "method": "GET", "drop_connection": True},
                       {"path": "/v2/orders", "method": "POST", "delay_seconds": 5, "after_processing": True})
    with pytest.raises(APIError) as bad_gateway:
        trading.get_account()
    assert bad_gateway.value.status_code == 502 and "502 Bad Gateway" in str(bad_gateway.value)
    with pytest.raises(JSONDecodeError):
        _ = bad_gateway.value.code  # what an adapter meets when it reads .code on an HTML body
    with pytest.raises(requests.ConnectionError):
        trading.get_orders()
    headers = {"APCA-API-KEY-ID": KEYS[0], "APCA-API-SECRET-KEY": KEYS[1]}
    body = {"symbol": "SPY", "qty": "1", "side": "buy", "type": "market", "time_in_force": "day",
            "client_order_id": "slow"}
    with pytest.raises(requests.Timeout):
        requests.post(f"{standin.base_url}/v2/orders", json=body, headers=headers, timeout=0.2)
    assert trading.get_order_by_client_id("slow").status == OrderStatus.FILLED  # done before the delay
    assert requests.get(f"{standin.base_url}/v2/clock", timeout=5).status_code == 401  # no keys


def test_bars_are_paged_across_pages_and_symbols(standin: StandIn, data: dict[str, Path]) -> None:
    client = StockHistoricalDataClient(*KEYS, url_override=standin.base_url)
    control(standin, "limits", {"bars_page_size": 7})
    request = StockBarsRequest(symbol_or_symbols=["SPY", "AGG"], timeframe=TimeFrame.Day,
                               start=datetime(2015, 11, 2), end=datetime(2015, 12, 31), feed="iex")
    bars = client.get_stock_bars(request)
    for symbol in ("SPY", "AGG"):
        expected = daily_rows(data["daily"] / f"{symbol}.csv", "2015-11-02", "2015-12-01")  # nothing after now
        got = bars.data[symbol]
        assert [b.timestamp.astimezone(UTC).date().isoformat() for b in got] == [r["Date"] for r in expected]
        assert [b.close for b in got] == [float(r["Close"]) for r in expected]
        assert got[0].timestamp == datetime(2015, 11, 2, 5, 0, tzinfo=UTC)  # midnight New York, as Alpaca
    assert standin.state()["request_counts"]["GET /v2/stocks/bars"] == 6  # 42 bars, 7 a page

    limited = client.get_stock_bars(StockBarsRequest(symbol_or_symbols="SPY", timeframe=TimeFrame.Day,
                                                     start=datetime(2015, 11, 2), limit=10))
    assert len(limited.data["SPY"]) == 10


def test_latest_trade_comes_from_the_minute_bar_at_now(standin: StandIn, data: dict[str, Path],
                                                       trading: TradingClient) -> None:
    control(standin, "now", {"now": "2019-12-18T19:45:00Z"})  # 14:45 New York
    client = StockHistoricalDataClient(*KEYS, url_override=standin.base_url)
    trades = client.get_stock_latest_trade(StockLatestTradeRequest(symbol_or_symbols=["SPY", "AGG"]))
    minute = csv_row(data["minute"] / "SPY.csv", "2019-12-18 14:45:00-05:00")
    assert (trades["SPY"].price, trades["SPY"].timestamp) == (
        float(minute["Close"]), datetime(2019, 12, 18, 19, 45, tzinfo=UTC))
    last_agg = csv_row(data["daily"] / "AGG.csv", "2016-10-13")  # AGG's file ends there: a stale trade
    assert (trades["AGG"].price, trades["AGG"].timestamp) == (
        float(last_agg["Close"]), datetime(2016, 10, 13, 4, 0, tzinfo=UTC))

    minute_bars = client.get_stock_bars(StockBarsRequest(symbol_or_symbols="SPY", timeframe=TimeFrame.Minute,
                                                         start=datetime(2019, 12, 18, 19, 40)))
    assert [b.timestamp.minute for b in minute_bars.data["SPY"]] == [40, 41, 42, 43, 44, 45]

    control(standin, "price", {"SPY": 321.5})
    assert client.get_stock_latest_trade(StockLatestTradeRequest(symbol_or_symbols="SPY"))["SPY"].price == 321.5
    trading.submit_order(LimitOrderRequest(symbol="SPY", qty=1, side="buy", time_in_force="day",
                                           limit_price=320, client_order_id="limit"))
    assert trading.get_order_by_client_id("limit").status == OrderStatus.NEW  # 321.5 is above its limit
    control(standin, "price", {"SPY": 319.75})
    order = trading.get_order_by_client_id("limit")
    assert (order.status, order.filled_avg_price) == (OrderStatus.FILLED, "319.75")


def test_subprocess_prints_its_url_persists_and_reloads_state(tmp_path: Path, data: dict[str, Path]) -> None:
    state_file = tmp_path / "alpaca.json"
    spy = data["daily"] / "SPY.csv"
    process = spawn(bars=[spy], symbols=["SPY"], now=NOW, state=state_file)
    try:
        assert process.base_url.startswith("http://127.0.0.1:")
        trading = TradingClient(*KEYS, url_override=process.base_url)
        trading.submit_order(market("SPY", 5, "buy", "kept"))
        cash = trading.get_account().cash
    finally:
        process.kill()  # kill -9: only what was written before each answer survives
    saved = json.loads(state_file.read_text())
    assert [o["client_order_id"] for o in saved["orders"]] == ["kept"]

    with StandIn.start(bars=[spy], symbols=["SPY"], state=state_file) as again:
        trading = TradingClient(*KEYS, url_override=again.base_url)
        assert trading.get_order_by_client_id("kept").status == OrderStatus.FILLED
        assert [(p.symbol, p.qty) for p in trading.get_all_positions()] == [("SPY", "5")]
        assert trading.get_account().cash == cash
        assert trading.get_clock().timestamp == datetime(2015, 12, 1, 20, 45, tzinfo=UTC)  # its clock too
        with pytest.raises(APIError):
            trading.submit_order(market("SPY", 5, "buy", "kept"))
        assert again.state()["post_counts"] == {"kept": 2}
