"""Alpaca (paper or live) as a :class:`~toolkit.brokers.base.RemoteBroker`, on alpaca-py's real calls.

What a session can rely on:

* **No duplicate order, ever** (promise 8). Every order goes out under its deterministic
  ``client_order_id``; alpaca-py's own retry of POSTs is switched off and every request
  has a timeout (:mod:`toolkit.connections.alpaca_http`). After a timeout, a connection
  error, a 429 (its Retry-After honoured through the injected ``sleep``), a 5xx (an HTML
  502 from a proxy included) or a 422 "client_order_id must be unique", the order is
  looked up by its client id: if Alpaca has it, the answer is that order
  (``duplicate=True``); only if it has not is the same request sent again, at most
  ``max_attempts`` POSTs in all, after which :class:`~toolkit.errors.BrokerUnavailable`
  says the order was checked and not placed. Nothing is resubmitted when the lookup
  itself cannot be made.
* **Refusals are rejections, not crashes.** An order Alpaca refuses with a reason (403
  "insufficient buying power", pattern-day-trader protection, a 422 on its terms) comes
  back as ``accepted=False`` and a model order whose last event is
  :class:`~toolkit.model.OrderRejected` with Alpaca's message; this process remembers it,
  so :meth:`AlpacaBroker.get_order` reports it although Alpaca keeps no refused order.
  Keys refused (401, a bare 403 "forbidden") raise :class:`~toolkit.errors.BrokerAuthError`.
* **Each execution once.** Fills are read from the account's FILL activities
  (``GET /v2/account/activities/FILL``, paged by ``page_token``): the activity id is the
  fill id, so a report seen twice (or a page served twice) is recorded once, and a
  cancel waits until the listed executions add up to what Alpaca says was filled. Fees
  are 0: Alpaca charges no commission on stock trades.
* **Every order, not the first 500.** Alpaca's order list returns at most 500 and does
  not paginate; :meth:`AlpacaBroker.get_orders` walks it by ``after`` (oldest first).
* **Secrets stay in the clients.** No message, repr or error carries a key.

Order types: see :mod:`toolkit.brokers.alpaca_orders` (market, limit, stop, stop_limit,
trailing_stop, bracket, and market_on_open / market_on_close as Alpaca's ``opg`` and
``cls``). A bracket's two exit legs are Alpaca orders of their own with ids Alpaca
chooses; their fills show in :meth:`AlpacaBroker.get_fills`, not in the bracket's events.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import functools
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any, ClassVar, TypeVar

import pandas as pd
from alpaca.common.enums import Sort
from alpaca.data.enums import DataFeed
from alpaca.data.historical.stock import StockHistoricalDataClient
from alpaca.data.models import Trade
from alpaca.data.requests import StockLatestTradeRequest
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderClass, PositionSide, QueryOrderStatus
from alpaca.trading.models import Calendar, Clock, Position, TradeAccount
from alpaca.trading.models import Order as AlpacaOrder
from alpaca.trading.requests import GetCalendarRequest, GetOrderByIdRequest, GetOrdersRequest

from toolkit.brokers.alpaca_orders import (
    SUPPORTED,
    TERMINAL_AT_ALPACA,
    as_utc,
    fill_from_activity,
    order_request,
    order_view,
    refusal,
)
from toolkit.brokers.base import AccountInfo, MarketClock, OrderAck, Quote, RemoteBroker, SessionHours
from toolkit.connections import AlpacaCredentials
from toolkit.connections.alpaca_http import Failure, FailureKind, classify, harden
from toolkit.errors import BrokerAuthError, BrokerError, BrokerUnavailable, InvalidInput, UnsupportedOrder
from toolkit.model import (
    NEW_YORK,
    Fill,
    Order,
    OrderFilled,
    OrderRejected,
    OrderStatus,
    OrderType,
    TradingMode,
    qty_str,
    to_decimal,
)

__all__ = ["AlpacaBroker"]

T = TypeVar("T")

#: Alpaca's largest page of orders (``GET /v2/orders``).
ORDERS_PAGE = 500
#: Alpaca's largest page of account activities.
ACTIVITIES_PAGE = 100
#: Fills are searched from this long before the earliest order's creation (clock skew between Alpaca's services).
ACTIVITY_MARGIN = pd.Timedelta(minutes=1)
#: Waits between attempts when the broker gave no Retry-After: 1, 2, 4, ... seconds, at most this.
MAX_BACKOFF = 30.0


class _Absent(Exception):
    """A lookup answered with a status the caller treats as "not there" (404, or a 422 on a cancel)."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.describe())
        self.failure = failure


class AlpacaBroker(RemoteBroker):
    """Alpaca's paper or live account through alpaca-py's ``TradingClient`` and ``StockHistoricalDataClient``.

    ``timeout`` (seconds) bounds every HTTP request; ``max_attempts`` bounds the POSTs of
    one order and the attempts of any other call; ``sleep`` is how the adapter waits
    between attempts (tests pass a recorder); ``feed`` is the market-data feed of
    :meth:`latest_trades` (``iex`` for free accounts, ``sip`` with a subscription).
    """

    name = "alpaca"
    supported_order_types: ClassVar[frozenset[OrderType]] = SUPPORTED

    def __init__(self, credentials: AlpacaCredentials, *, paper: bool = True, timeout: float = 10.0,
                 max_attempts: int = 4, sleep: Callable[[float], None] = time.sleep, feed: str = "iex") -> None:
        if not timeout > 0:
            raise InvalidInput("timeout", timeout, "a number of seconds > 0")
        if isinstance(max_attempts, bool) or not isinstance(max_attempts, int) or max_attempts < 1:
            raise InvalidInput("max_attempts", max_attempts, "a whole number >= 1")
        try:
            self._feed = DataFeed(feed)
        except ValueError:
            raise InvalidInput("feed", feed, "one of " + ", ".join(f.value for f in DataFeed)) from None
        self._paper = bool(paper)
        self._timeout = float(timeout)
        self._max_attempts = max_attempts
        self._sleep = sleep
        self._secrets = credentials.secrets()
        self._trading = TradingClient(credentials.key_id, credentials.secret_key, paper=self._paper,
                                      url_override=credentials.base_url)
        self._data = StockHistoricalDataClient(credentials.key_id, credentials.secret_key,
                                               url_override=credentials.data_url)
        harden(self._trading, self._timeout)
        harden(self._data, self._timeout)
        #: Orders Alpaca refused at submit (it keeps no record of them), by client order id.
        self._refused: dict[str, Order] = {}
        #: Alpaca order id -> client order id (stable; saves lookups when fills are listed).
        self._client_ids: dict[str, str] = {}

    @classmethod
    def from_env(cls, *, paper: bool, environ: Mapping[str, str] | None = None) -> AlpacaBroker:
        """A broker on the keys (and optional URLs) in the environment: ``APCA_API_KEY_ID``,
        ``APCA_API_SECRET_KEY``, ``APCA_API_BASE_URL`` (trading), ``APCA_API_DATA_URL`` (data)."""
        return cls(AlpacaCredentials.from_env(environ), paper=paper)

    @property
    def mode(self) -> TradingMode:
        return TradingMode.PAPER if self._paper else TradingMode.ONLINE_LIVE

    # ------------------------------------------------------------------------- account and market
    def account(self) -> AccountInfo:
        a = self._call("read the account", self._trading.get_account)
        assert isinstance(a, TradeAccount)

        def money(value: str | None, field: str) -> Decimal:
            return to_decimal(value or "0", field)

        return AccountInfo(
            account_id=a.account_number, status=a.status.value, currency=a.currency or "USD",
            cash=money(a.cash, "cash"), buying_power=money(a.buying_power, "buying_power"),
            equity=money(a.equity, "equity"), pattern_day_trader=bool(a.pattern_day_trader),
            daytrade_count=a.daytrade_count,
            multiplier=None if a.multiplier is None else to_decimal(a.multiplier, "multiplier"),
            shorting_enabled=a.shorting_enabled,
            trading_blocked=bool(a.trading_blocked or a.account_blocked or a.trade_suspended_by_user),
        )

    def get_cash(self) -> Decimal:
        return self.account().cash

    def get_positions(self) -> dict[str, Decimal]:
        rows = self._call("read the positions", self._trading.get_all_positions)
        out: dict[str, Decimal] = {}
        for p in rows:
            assert isinstance(p, Position)
            qty = abs(to_decimal(p.qty, f"positions[{p.symbol}].qty"))
            if qty:
                out[p.symbol] = -qty if p.side is PositionSide.SHORT else qty
        return out

    def clock(self) -> MarketClock:
        c = self._call("read the market clock", self._trading.get_clock)
        assert isinstance(c, Clock)
        return MarketClock(timestamp=as_utc(c.timestamp), is_open=c.is_open, next_open=as_utc(c.next_open),
                           next_close=as_utc(c.next_close))

    def calendar(self, start: dt.date, end: dt.date) -> list[SessionHours]:
        """Sessions from ``start`` to ``end`` inclusive; Alpaca's times are New York wall clock, returned in UTC."""
        days = self._call(f"read the calendar {start} to {end}",
                          lambda: self._trading.get_calendar(GetCalendarRequest(start=start, end=end)))

        def utc(value: dt.datetime) -> pd.Timestamp:
            return pd.Timestamp(value).tz_localize(NEW_YORK).tz_convert("UTC")

        out = []
        for d in days:
            assert isinstance(d, Calendar)
            out.append(SessionHours(date=d.date, open=utc(d.open), close=utc(d.close)))
        return out

    def latest_trades(self, symbols: Iterable[str]) -> dict[str, Quote]:
        wanted = list(dict.fromkeys(symbols))
        if not wanted:
            return {}
        request = StockLatestTradeRequest(symbol_or_symbols=wanted, feed=self._feed)
        trades = self._call(f"read the latest trades of {', '.join(wanted)}",
                            lambda: self._data.get_stock_latest_trade(request))
        source = f"alpaca:latest_trade:{self._feed.value}"
        out: dict[str, Quote] = {}
        for symbol in wanted:
            trade = trades.get(symbol)
            if not isinstance(trade, Trade):
                continue
            out[symbol] = Quote(symbol=symbol, price=to_decimal(trade.price, f"{symbol}.price"),
                                timestamp=as_utc(trade.timestamp), source=source)
        return out

    # ------------------------------------------------------------------------- orders
    def check_order(self, order: Order) -> None:
        """Refuse, before anything is sent, a type, time in force, quantity or mode Alpaca would not take."""
        super().check_order(order)
        problem = refusal(order, self.mode)
        if problem is not None:
            raise UnsupportedOrder(self.name, f"{problem}; nothing was sent")

    def submit_order(self, order: Order) -> OrderAck:
        """Place ``order`` under its client order id, never twice (see the module's docstring).

        Returns an accepted ack, a duplicate ack (Alpaca already had the id), or a rejected
        ack with Alpaca's reason. Raises :class:`UnsupportedOrder` (nothing sent),
        :class:`BrokerAuthError` (keys refused; not placed), :class:`BrokerUnavailable`
        (every attempt failed and Alpaca, asked after each, does not have the order) and
        :class:`BrokerError` (anything else, with what to do).
        """
        self.check_order(order)
        request = order_request(order)
        cid = order.client_order_id
        what = f"order {cid} ({order.side.value} {qty_str(order.quantity)} {order.symbol})"
        last: Failure | None = None
        for attempt in range(1, self._max_attempts + 1):
            try:
                placed = self._trading.submit_order(request)
            except Exception as exc:
                failure = self._failure(exc, posting_order=True)
                if failure is None:
                    raise
                if failure.kind is FailureKind.REFUSED:
                    return self._refused_ack(order, failure)
                if failure.kind is FailureKind.AUTH:
                    raise BrokerAuthError(self.name, f"{what} was not placed: Alpaca refused the API keys "
                                                     f"({failure.describe()}); check APCA_API_KEY_ID and "
                                                     f"APCA_API_SECRET_KEY are the {self.mode.value} keys of this "
                                                     "account, then run again", status=failure.status) from exc
                if failure.kind is FailureKind.DUPLICATE_ID:
                    existing = self._lookup_after_failure(order, what, failure)
                    if existing is None:
                        raise BrokerError(self.name, f"{what}: Alpaca says this client_order_id was used before but "
                                                     "cannot find the order; nothing was placed now and the id cannot "
                                                     "be sent again: look the id up in the Alpaca dashboard",
                                          status=failure.status) from exc
                    return self._duplicate_ack(existing)
                if failure.kind is not FailureKind.TRANSIENT:
                    raise BrokerError(self.name, f"{what} was not placed: {failure.describe()}; "
                                                 f"{self._hint(failure)}, then run again",
                                      status=failure.status) from exc
                last = failure
                self._sleep(self._delay(failure, attempt))
                existing = self._lookup_after_failure(order, what, failure)
                if existing is not None:
                    return self._duplicate_ack(existing)
                continue
            assert isinstance(placed, AlpacaOrder)
            self._client_ids[str(placed.id)] = placed.client_order_id
            view = self._view(placed, [])
            return OrderAck(client_order_id=cid, status=view.status, accepted=view.status is not OrderStatus.REJECTED,
                            duplicate=False, order=view, reason=view.status_reason, broker_order_id=str(placed.id))
        assert last is not None
        raise BrokerUnavailable(self.name, f"{what} was not placed: {self._max_attempts} attempts failed (last: "
                                           f"{last.describe()}) and Alpaca, asked by client_order_id after each, "
                                           "does not have it; run again later: it is looked up before it is sent",
                                status=last.status)

    def get_order(self, client_order_id: str) -> Order | None:
        raw = self._order_by_client_id(client_order_id)
        if raw is None:
            refused = self._refused.get(client_order_id)
            return None if refused is None else refused.copy()
        return self._view(raw, self._activities_by_order([raw]).get(str(raw.id), []))

    def get_orders(self, *, open_only: bool = False, since: dt.datetime | None = None) -> list[Order]:
        """Every order (or every open one), oldest first, walking Alpaca's pages of at most 500.

        ``since`` (tz-aware) limits the walk to orders submitted after it; by default the
        whole history, which a reconciliation after a crash needs.
        """
        raws = self._all_orders(open_only=open_only, since=since)
        activities = self._activities_by_order(raws)
        return [self._view(raw, activities.get(str(raw.id), [])) for raw in raws]

    def get_fills(self, client_order_id: str | None = None, *, since: dt.datetime | None = None) -> list[Fill]:
        """Executions, oldest first: of one order, or of the account (after ``since`` when given)."""
        if client_order_id is not None:
            order = self.get_order(client_order_id)
            return [] if order is None else [e.fill for e in order.events if isinstance(e, OrderFilled)]
        after = None if since is None else as_utc(since)
        fills = []
        for activity in self._fill_activities(after=after):
            order_id = str(activity["order_id"])
            cid = self._client_ids.get(order_id)
            if cid is None:
                cid = self._order_by_id(order_id).client_order_id
                self._client_ids[order_id] = cid
            fills.append(fill_from_activity(activity, cid, self.mode))
        return sorted(fills, key=lambda f: (f.timestamp, f.fill_id))

    def cancel(self, client_order_id: str) -> Order:
        """Ask Alpaca to cancel an open order; a finished one is returned unchanged.

        Alpaca cancels asynchronously: the order returned may still be open (pending
        cancel) and shows cancelled on a later :meth:`get_order`.
        """
        raw = self._order_by_client_id(client_order_id)
        if raw is None:
            refused = self._refused.get(client_order_id)
            if refused is not None:
                return refused.copy()
            raise BrokerError(self.name, f"cancel {client_order_id}: Alpaca has no order with this client_order_id; "
                                         "nothing to cancel: check the id in the ledger")
        if raw.status not in TERMINAL_AT_ALPACA:
            order_id = raw.id
            with contextlib.suppress(_Absent):  # filled or cancelled meanwhile: the order read below says which
                self._call(f"cancel order {client_order_id}", lambda: self._trading.cancel_order_by_id(order_id),
                           absent=(404, 422))
            raw = self._order_by_client_id(client_order_id) or raw
        return self._view(raw, self._activities_by_order([raw]).get(str(raw.id), []))

    def close(self) -> None:
        for client in (self._trading, self._data):
            client._session.close()

    # ------------------------------------------------------------------------- internals
    def _view(self, raw: AlpacaOrder, activities: list[dict[str, Any]]) -> Order:
        self._client_ids[str(raw.id)] = raw.client_order_id
        return order_view(raw, activities, self.mode)

    def _refused_ack(self, order: Order, failure: Failure) -> OrderAck:
        reason = f"refused by Alpaca ({failure.describe()})"
        refused = dataclasses.replace(order)  # the same order, status new, no events
        refused.apply(OrderRejected(order.client_order_id, reason))
        self._refused[order.client_order_id] = refused
        return OrderAck(client_order_id=order.client_order_id, status=OrderStatus.REJECTED, accepted=False,
                        duplicate=False, order=refused.copy(), reason=reason)

    def _duplicate_ack(self, existing: Order) -> OrderAck:
        return OrderAck(client_order_id=existing.client_order_id, status=existing.status,
                        accepted=existing.status is not OrderStatus.REJECTED, duplicate=True, order=existing,
                        reason=existing.status_reason, broker_order_id=existing.broker_order_id)

    def _lookup_after_failure(self, order: Order, what: str, failure: Failure) -> Order | None:
        """Alpaca's view of ``order`` after a failed POST; raises if even the lookup cannot be made.

        Once Alpaca says it has the order, a failure to read its fills does not matter
        here: the order is returned without them (the next :meth:`get_order` has them).
        """
        cid = order.client_order_id
        try:
            raw = self._order_by_client_id(cid)
        except BrokerUnavailable as exc:
            raise BrokerUnavailable(self.name, f"{what}: the submit failed ({failure.describe()}) and Alpaca could "
                                               f"not be asked whether it has the order ({exc}); nothing was sent "
                                               "again: run again later, the order is looked up before it is sent",
                                    status=exc.status) from exc
        if raw is None:
            return None
        try:
            activities = self._activities_by_order([raw]).get(str(raw.id), [])
        except BrokerUnavailable:
            activities = []
        return self._view(raw, activities)

    def _failure(self, exc: BaseException, *, posting_order: bool) -> Failure | None:
        return classify(exc, posting_order=posting_order, timeout=self._timeout, secrets=self._secrets)

    @staticmethod
    def _hint(failure: Failure) -> str:
        if failure.kind is FailureKind.NOT_FOUND:
            return ("Alpaca has no such endpoint: check APCA_API_BASE_URL / APCA_API_DATA_URL (the address only, "
                    "without /v2)")
        return "check the account and the request in the Alpaca dashboard"

    def _delay(self, failure: Failure, attempt: int) -> float:
        if failure.retry_after is not None:
            return failure.retry_after
        return float(min(2.0 ** (attempt - 1), MAX_BACKOFF))

    def _call(self, what: str, fn: Callable[[], T], *, absent: tuple[int, ...] = ()) -> T:
        """``fn()`` (one SDK call that places no order), retried on transient failures.

        Raises :class:`_Absent` for a status in ``absent``, :class:`BrokerAuthError` for
        refused keys, :class:`BrokerUnavailable` when every attempt failed, else :class:`BrokerError`.
        """
        for attempt in range(1, self._max_attempts + 1):
            try:
                return fn()
            except Exception as exc:
                failure = self._failure(exc, posting_order=False)
                if failure is None:
                    raise
                if failure.status is not None and failure.status in absent:
                    raise _Absent(failure) from exc
                if failure.kind is FailureKind.AUTH:
                    raise BrokerAuthError(self.name, f"{what}: Alpaca refused the API keys ({failure.describe()}); "
                                                     f"check APCA_API_KEY_ID and APCA_API_SECRET_KEY are the "
                                                     f"{self.mode.value} keys of this account",
                                          status=failure.status) from exc
                if failure.kind is not FailureKind.TRANSIENT:
                    raise BrokerError(self.name, f"{what}: {failure.describe()}; {self._hint(failure)}",
                                      status=failure.status) from exc
                if attempt == self._max_attempts:
                    raise BrokerUnavailable(self.name, f"{what}: {self._max_attempts} attempts failed (last: "
                                                       f"{failure.describe()}); check the network and Alpaca's "
                                                       "status page, then run again", status=failure.status) from exc
                self._sleep(self._delay(failure, attempt))
        raise AssertionError("unreachable")  # pragma: no cover

    def _order_by_client_id(self, client_order_id: str) -> AlpacaOrder | None:
        try:
            raw = self._call(f"look up order {client_order_id}",
                             lambda: self._trading.get_order_by_client_id(client_order_id), absent=(404,))
        except _Absent:
            return None
        assert isinstance(raw, AlpacaOrder)
        return self._with_legs(raw)

    def _order_by_id(self, order_id: str) -> AlpacaOrder:
        raw = self._call(f"look up Alpaca order {order_id}",
                         lambda: self._trading.get_order_by_id(order_id, GetOrderByIdRequest(nested=True)))
        assert isinstance(raw, AlpacaOrder)
        return raw

    def _with_legs(self, raw: AlpacaOrder) -> AlpacaOrder:
        """A bracket's legs (its take-profit and stop-loss prices) come only with a nested lookup by id."""
        if raw.order_class is OrderClass.BRACKET and not raw.legs:
            return self._order_by_id(str(raw.id))
        return raw

    def _all_orders(self, *, open_only: bool, since: dt.datetime | None) -> list[AlpacaOrder]:
        """Every order, oldest first: Alpaca's list stops at 500, so walk it by submission time."""
        status = QueryOrderStatus.OPEN if open_only else QueryOrderStatus.ALL
        after = None if since is None else as_utc(since).to_pydatetime()
        seen: dict[str, AlpacaOrder] = {}
        while True:
            request = GetOrdersRequest(status=status, limit=ORDERS_PAGE, direction=Sort.ASC, nested=True, after=after)
            page = self._call("list orders", functools.partial(self._trading.get_orders, request))
            fresh = [o for o in page if isinstance(o, AlpacaOrder) and str(o.id) not in seen]
            for o in fresh:
                seen[str(o.id)] = o
            if len(page) < ORDERS_PAGE:
                break
            if not fresh:
                raise BrokerError(self.name, f"list orders: more than {ORDERS_PAGE} orders share one submission time, "
                                             "so the list cannot be walked by time; pass since= a later time or "
                                             "reconcile in the Alpaca dashboard")
            last = max(as_utc(o.submitted_at) for o in page if isinstance(o, AlpacaOrder))
            # ``after`` is exclusive and alpaca-py keeps microseconds of Alpaca's nanoseconds:
            # step back one microsecond and drop the repeats by id rather than skip an order.
            after = (last - pd.Timedelta(microseconds=1)).to_pydatetime()
        return [self._with_legs(o) for o in sorted(seen.values(), key=lambda o: (as_utc(o.submitted_at), str(o.id)))]

    def _activities_by_order(self, raws: list[AlpacaOrder]) -> dict[str, list[dict[str, Any]]]:
        """The FILL activities of ``raws``, by Alpaca order id (one walk from the earliest order)."""
        if not raws:
            return {}
        ids = {str(r.id) for r in raws}
        start = min(as_utc(r.created_at) for r in raws) - ACTIVITY_MARGIN
        out: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for activity in self._fill_activities(after=start):
            if str(activity.get("order_id")) in ids:
                out[str(activity["order_id"])].append(activity)
        return out

    def _fill_activities(self, *, after: pd.Timestamp | None) -> list[dict[str, Any]]:
        """Every FILL activity (after ``after``), oldest first, each id once, through the client's own ``get``.

        Pages of 100 follow ``page_token`` (the last id seen). A page that brings nothing
        new (served twice) is asked for once more, then the walk stops: what is missing
        then is picked up by the next look, since a cancel waits for its fills.
        """
        seen: dict[str, dict[str, Any]] = {}
        token: str | None = None
        stale = 0
        while True:
            params: dict[str, Any] = {"direction": "asc", "page_size": ACTIVITIES_PAGE}
            if after is not None:
                params["after"] = after.isoformat()
            if token is not None:
                params["page_token"] = token
            page = self._call("read fill activities",
                              functools.partial(self._trading.get, "/account/activities/FILL", params))
            if not isinstance(page, list):
                raise BrokerError(self.name, "read fill activities: Alpaca answered something other than a list; "
                                             "check its API status page, then run again")
            rows = [a for a in page if isinstance(a, dict) and a.get("id") is not None]
            fresh = [a for a in rows if str(a["id"]) not in seen]
            for a in fresh:
                seen[str(a["id"])] = a
            if len(page) < ACTIVITIES_PAGE or not rows:
                break
            stale = 0 if fresh else stale + 1
            if stale >= 2:
                break
            token = str(rows[-1]["id"])
        return list(seen.values())
