"""Charles Schwab through schwab-py: real money only, and no client order id.

Two facts shape this adapter:

* **Schwab has no paper account**: :attr:`SchwabBroker.mode` is always ``online_live``,
  and an order in any other mode is refused before anything is sent.
* **Schwab has no client order id.** Our ``client_order_id`` is bound to Schwab's order
  id through the ledger's :class:`~toolkit.brokers.base.OrderIdBook` (the engine hands it
  over with :meth:`~SchwabBroker.bind_order_ids`; without one nothing is submitted). The
  id comes back in the ``Location`` header of the POST and is remembered before anything
  else happens. When that id is unknown (a timeout, a 5xx or a connection error on the
  POST, a 201 without ``Location``, a crash between the POST and the write),
  :meth:`~SchwabBroker.find_order` searches the orders entered since the order was
  created (within its New York session day) for the same symbol, BUY/SELL, quantity and
  type, leaving out ids the ledger already gave to other orders: one match is ours and
  is remembered, none means nothing was placed, more than one stops with
  :class:`~toolkit.errors.AmbiguousOrder` for a person to check. A POST whose outcome is
  unknown is never sent again without that search (promise 8).

Every call has an httpx timeout, its status checked (schwab-py raises nothing),
transient failures retried with the injected ``sleep`` (see
:mod:`toolkit.connections.schwab_calls`), and an expired login (401, Authlib's "refresh
token invalid", or a token file older than 7 days) reported as
:class:`~toolkit.errors.BrokerAuthError` saying how to log in again. One process owns
the token file at a time (:class:`~toolkit.connections.TokenFileLock`, taken by
:meth:`SchwabBroker.from_env` and released by :meth:`SchwabBroker.close`).

Orders read back from Schwab are model orders rebuilt from its JSON
(:func:`toolkit.brokers.schwab_orders.broker_view`). An order of the account that this
process cannot tie to one of ours (entered by hand, or ours from an earlier process,
not looked up here) carries ``client_order_id = "schwab-<orderId>"``: match those by
``broker_order_id``.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar

import httpx
import pandas as pd
from schwab.utils import Utils

from toolkit.brokers.base import AccountInfo, MarketClock, OrderAck, OrderIdBook, Quote, RemoteBroker, SessionHours
from toolkit.brokers.schwab_orders import (
    WORKING,
    broker_view,
    check_terms,
    entered_at,
    flatten,
    is_equity_order,
    matches,
    order_id_of,
    order_spec,
    timestamp,
)
from toolkit.connections.schwab import (
    REFRESH_TOKEN_SECONDS,
    SchwabCredentials,
    TokenFileLock,
    open_schwab_client,
    token_days_left,
    token_health,
)
from toolkit.connections.schwab_calls import OutcomeUnknown, SchwabCalls, backoff, body_message, client_secrets
from toolkit.errors import AmbiguousOrder, BrokerAuthError, BrokerError, BrokerUnavailable, UnsupportedOrder
from toolkit.model import (
    NEW_YORK,
    Fill,
    Order,
    OrderAccepted,
    OrderFilled,
    OrderRejected,
    OrderStatus,
    OrderType,
    TradingMode,
    to_decimal,
)

__all__ = ["SchwabBroker"]

BROKER = "schwab"
#: The prefix of the client order id given to a Schwab order this process cannot tie to one of ours.
UNBOUND_PREFIX = "schwab-"


def _utc_now() -> pd.Timestamp:
    return pd.Timestamp.now(tz="UTC")


class SchwabBroker(RemoteBroker):
    """A Schwab brokerage account, live, through a schwab-py ``Client``."""

    name = "schwab"
    supported_order_types: ClassVar[frozenset[OrderType]] = frozenset({
        OrderType.MARKET, OrderType.LIMIT, OrderType.STOP, OrderType.STOP_LIMIT, OrderType.TRAILING_STOP,
        OrderType.BRACKET,
    })
    #: Timeout of every HTTP call (schwab-py's default is 30 s; a session at 15:55 cannot wait that long).
    request_timeout: ClassVar[httpx.Timeout] = httpx.Timeout(15.0, connect=5.0)
    #: An order's entry at Schwab is searched from this long before its ``created_at`` (clock differences).
    entry_skew: ClassVar[pd.Timedelta] = pd.Timedelta(minutes=5)
    #: How far back :meth:`get_orders` looks (Schwab answers at most 60 days).
    lookback: ClassVar[pd.Timedelta] = pd.Timedelta(days=60)
    #: Seconds to wait before searching for an order whose POST outcome is unknown (Schwab lists it late).
    settle_seconds: ClassVar[float] = 2.0
    #: Searches (2, 4, 8 s apart) for an order whose POST may have reached Schwab before giving up
    #: WITHOUT sending it again.
    unknown_searches: ClassVar[int] = 3

    def __init__(self, client: Any, *, account_number: str | None = None,
                 sleep: Callable[[float], None] = time.sleep, max_attempts: int = 4, token_path: Path | None = None,
                 lock: TokenFileLock | None = None, now: Callable[[], pd.Timestamp] | None = None) -> None:
        self._client = client
        self._account_number = account_number
        self._sleep = sleep
        self._max_attempts = max_attempts
        self._token_path = None if token_path is None else Path(token_path)
        self._lock = lock
        self._now = now or _utc_now
        self._book: OrderIdBook | None = None
        self._hash: str | None = None
        self._numbers: list[str] = []
        #: Orders this process submitted or looked up, by our id; and our id by Schwab's order id.
        self._ours: dict[str, Order] = {}
        self._coid_of: dict[str, str] = {}
        self._calls = SchwabCalls(sleep=sleep, max_attempts=max_attempts, secrets=self._secrets,
                                  before=self._check_login)
        client.set_timeout(self.request_timeout)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SchwabBroker:
        """The account of ``SCHWAB_API_KEY``/``SCHWAB_APP_SECRET``/``SCHWAB_TOKEN_PATH`` (+ ``SCHWAB_ACCOUNT_NUMBER``).

        Takes the token file's lock (a second process gets a clear error) and opens the
        client from the token file, never with a browser login; :meth:`close` releases it.
        """
        credentials = SchwabCredentials.from_env(environ)
        client, lock = open_schwab_client(credentials)
        try:
            return cls(client, account_number=credentials.account_number, token_path=credentials.token_path,
                       lock=lock)
        except BaseException:
            lock.release()
            raise

    @property
    def mode(self) -> TradingMode:
        return TradingMode.ONLINE_LIVE

    # ------------------------------------------------------------------ login and account

    def token_days_left(self) -> float | None:
        """Days before the refresh token expires (negative: expired), from the token file's creation time."""
        now = self._now().timestamp()
        if self._token_path is not None:
            return token_days_left(self._token_path, now=now)
        created = getattr(getattr(self._client, "token_metadata", None), "creation_timestamp", None)
        return None if created is None else (REFRESH_TOKEN_SECONDS - (now - float(created))) / 86400

    def _check_login(self) -> None:
        days = self.token_days_left()
        if days is not None and token_health(days).expired:
            raise BrokerAuthError(BROKER, token_health(days).message)

    def _secrets(self) -> Iterator[str]:
        return client_secrets(self._client, self._account_number, *self._numbers)

    def _account_hash(self) -> str:
        """The hash Schwab's API names the account by: the one account, or the one named."""
        if self._hash is not None:
            return self._hash
        data = self._calls.json("account numbers", self._client.get_account_numbers)
        pairs = [(str(d["accountNumber"]), str(d["hashValue"])) for d in data if isinstance(d, dict)
                 and d.get("accountNumber") and d.get("hashValue")] if isinstance(data, list) else []
        self._numbers = [n for n, _ in pairs]
        listing = ", ".join(f"ending {n[-4:]}" for n, _ in pairs) or "none"
        if self._account_number is not None:
            chosen = [h for n, h in pairs if n == self._account_number]
            if not chosen:
                raise BrokerError(BROKER, f"SCHWAB_ACCOUNT_NUMBER: the account ending {self._account_number[-4:]} "
                                          f"is not one this login sees ({listing}); set it to one of them")
            self._hash = chosen[0]
        elif len(pairs) == 1:
            self._hash = pairs[0][1]
        elif not pairs:
            raise BrokerError(BROKER, "this Schwab login sees no account; check the app's account access")
        else:
            raise BrokerError(BROKER, f"this Schwab login sees {len(pairs)} accounts ({listing}); set "
                                      "SCHWAB_ACCOUNT_NUMBER to the one to trade")
        return self._hash

    def _account_data(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """``securitiesAccount`` (balances and positions) and ``aggregatedBalance`` of the account."""
        h = self._account_hash()
        fields = [self._client.Account.Fields.POSITIONS]
        data = self._calls.json("account", lambda: self._client.get_account(h, fields=fields))
        account = data.get("securitiesAccount") if isinstance(data, dict) else None
        if not isinstance(account, dict):
            raise BrokerError(BROKER, "account: Schwab's answer has no securitiesAccount")
        return account, (data.get("aggregatedBalance") or {}) if isinstance(data, dict) else {}

    def account(self) -> AccountInfo:
        """Balances and day-trading figures; the margin multiplier follows the account type (Reg T)."""
        acc, aggregated = self._account_data()
        bal = acc.get("currentBalances") or {}
        kind = str(acc.get("type") or "").upper()
        pdt = bool(acc.get("isDayTrader", False))
        cash = _amount(bal, "cashBalance", "totalCash") or Decimal(0)
        buying_power = _amount(bal, "buyingPower", "cashAvailableForTrading")
        equity = _amount(bal, "liquidationValue", "equity") or _amount(aggregated, "liquidationValue")
        multiplier = {"CASH": Decimal(1), "MARGIN": Decimal(4) if pdt else Decimal(2)}.get(kind)
        blocked = bool(acc.get("isClosingOnlyRestricted", False))
        trips = acc.get("roundTrips")
        number = str(acc.get("accountNumber") or self._account_number or "")
        return AccountInfo(
            account_id=f"ending {number[-4:]}" if number else "unknown", status="CLOSING_ONLY" if blocked else "ACTIVE",
            currency="USD", cash=cash, buying_power=cash if buying_power is None else buying_power,
            equity=cash if equity is None else equity, pattern_day_trader=pdt,
            daytrade_count=None if trips is None else int(trips), multiplier=multiplier,
            shorting_enabled=None if not kind else kind == "MARGIN", trading_blocked=blocked,
        )

    def get_positions(self) -> dict[str, Decimal]:
        out: dict[str, Decimal] = {}
        for p in self._account_data()[0].get("positions") or []:
            symbol = str((p.get("instrument") or {}).get("symbol") or "")
            quantity = (to_decimal(p.get("longQuantity", 0), "longQuantity")
                        - to_decimal(p.get("shortQuantity", 0), "shortQuantity"))
            if symbol and quantity:
                out[symbol] = out.get(symbol, Decimal(0)) + quantity
        return {s: _plain(q) for s, q in sorted(out.items()) if q}

    def get_cash(self) -> Decimal:
        return _amount(self._account_data()[0].get("currentBalances") or {}, "cashBalance", "totalCash") or Decimal(0)

    # ------------------------------------------------------------------ market

    def _session(self, day: dt.date) -> SessionHours | None:
        """The regular equity session of ``day`` from Schwab's market hours, None when closed."""
        market = self._client.MarketHours.Market.EQUITY
        data = self._calls.json(f"market hours {day}", lambda: self._client.get_market_hours([market], date=day))
        products = (data.get("equity") or {}) if isinstance(data, dict) else {}
        product = products.get("EQ") or next(iter(products.values()), None)
        if not isinstance(product, dict) or not product.get("isOpen"):
            return None
        regular = (product.get("sessionHours") or {}).get("regularMarket") or []
        if not regular:
            return None
        opens, closes = timestamp(regular[0].get("start")), timestamp(regular[-1].get("end"))
        if opens is None or closes is None:
            return None
        return SessionHours(date=day, open=opens, close=closes)

    def calendar(self, start: dt.date, end: dt.date) -> list[SessionHours]:
        """Sessions from ``start`` to ``end``: one market-hours call per weekday (Schwab answers one date at a time)."""
        out = []
        day = start
        while day <= end:
            if day.weekday() < 5 and (s := self._session(day)) is not None:
                out.append(s)
            day += dt.timedelta(days=1)
        return out

    def clock(self) -> MarketClock:
        """Now (this machine's clock: Schwab has none to ask), whether the market is open, next open and close."""
        now = self._now()
        today = now.tz_convert(NEW_YORK).date()
        is_open = False
        next_open = next_close = None
        for offset in range(12):
            day = today + dt.timedelta(days=offset)
            if day.weekday() >= 5 or (s := self._session(day)) is None:
                continue
            is_open = is_open or s.open <= now < s.close
            next_close = next_close if next_close is not None or s.close <= now else s.close
            next_open = next_open if next_open is not None or s.open <= now else s.open
            if next_open is not None and next_close is not None:
                return MarketClock(timestamp=now, is_open=is_open, next_open=next_open, next_close=next_close)
        raise BrokerError(BROKER, f"clock: Schwab's market hours show no session in the 12 days from {today}")

    def latest_trades(self, symbols: Iterable[str]) -> dict[str, Quote]:
        """The last trade of each symbol from Schwab's quotes (``lastPrice`` at ``tradeTime``)."""
        wanted = list(dict.fromkeys(symbols))
        if not wanted:
            return {}
        fields = [self._client.Quote.Fields.QUOTE]
        data = self._calls.json("quotes", lambda: self._client.get_quotes(wanted, fields=fields))
        out: dict[str, Quote] = {}
        for symbol in wanted:
            entry = data.get(symbol) if isinstance(data, dict) else None
            quote = entry.get("quote") if isinstance(entry, dict) else None
            if not isinstance(quote, dict) or quote.get("lastPrice") is None or quote.get("tradeTime") is None:
                continue
            price = to_decimal(quote["lastPrice"], "lastPrice")
            at = timestamp(quote["tradeTime"])
            if price > 0 and at is not None:
                out[symbol] = Quote(symbol, price, at, "schwab:quote:lastPrice")
        return out

    # ------------------------------------------------------------------ orders: reading

    def bind_order_ids(self, book: OrderIdBook) -> None:
        self._book = book

    def _require_book(self) -> OrderIdBook:
        if self._book is None:
            raise BrokerError(BROKER, "no order id book bound: call bind_order_ids(book) with the ledger's book "
                                      "first (Schwab has no client order id, so its order ids must be recorded "
                                      "durably); nothing was sent")
        return self._book

    def _list_orders(self, since: pd.Timestamp, until: pd.Timestamp) -> list[dict[str, Any]]:
        h = self._account_hash()
        start, end = since.tz_convert("UTC").to_pydatetime(), until.tz_convert("UTC").to_pydatetime()
        data = self._calls.json("orders", lambda: self._client.get_orders_for_account(
            h, from_entered_datetime=start, to_entered_datetime=end))
        if not isinstance(data, list):
            raise BrokerError(BROKER, "orders: Schwab's answer is not a list of orders")
        return [d for d in data if isinstance(d, dict)]

    def _fetch(self, broker_order_id: str, client_order_id: str) -> Order:
        h = self._account_hash()
        resp = self._calls.read(f"order {client_order_id}",
                                lambda: self._client.get_order(broker_order_id, h), missing_ok=True)
        if resp is None:
            raise BrokerError(BROKER, f"order {client_order_id}: Schwab has no order {broker_order_id}, the id the "
                                      "ledger recorded for it; check the account before anything is resubmitted")
        try:
            data = resp.json()
        except ValueError:
            raise BrokerError(BROKER, f"order {client_order_id}: {body_message(resp)}") from None
        return self._view(data, client_order_id)

    def _view(self, data: dict[str, Any], client_order_id: str | None = None) -> Order:
        oid = order_id_of(data)
        coid = client_order_id or self._coid_of.get(oid) or f"{UNBOUND_PREFIX}{oid}"
        return broker_view(data, coid, ours=self._ours.get(coid))

    def get_order(self, client_order_id: str) -> Order | None:
        """Schwab's view of our order, by the id in the book; an order this process sent but never bound is searched."""
        oid = self._require_book().broker_order_id(client_order_id)
        if oid is None:
            ours = self._ours.get(client_order_id)
            return None if ours is None else self.find_order(ours)
        self._coid_of[oid] = client_order_id
        return self._fetch(oid, client_order_id)

    def get_orders(self, *, open_only: bool = False) -> list[Order]:
        """The account's equity orders of 60 days (a bracket's exits included); open = Schwab's working statuses.

        One call for all statuses, filtered here: Schwab's status filter takes one status per
        call. The window ends a few minutes after now, so a clock behind Schwab's misses nothing.
        Option and multi-leg orders of the account are left out: the toolkit does not trade them.
        """
        now = self._now()
        orders = flatten(self._list_orders(now - self.lookback, now + self.entry_skew))
        return [self._view(d) for d in orders
                if is_equity_order(d) and (not open_only or str(d.get("status")) in WORKING)]

    def get_fills(self, client_order_id: str | None = None) -> list[Fill]:
        if client_order_id is not None:
            order = self.get_order(client_order_id)
            orders = [] if order is None else [order]
        else:
            orders = self.get_orders()
        fills = [e.fill for o in orders for e in o.events if isinstance(e, OrderFilled)]
        return sorted(fills, key=lambda f: (f.timestamp, f.fill_id))

    def find_order(self, order: Order) -> Order | None:
        """Does Schwab already have ``order``? By the book's id, else by symbol, side, quantity, type and entry time.

        One match is remembered in the book and returned; none returns None (nothing was
        placed: safe to submit); several raise :class:`~toolkit.errors.AmbiguousOrder`.
        """
        book = self._require_book()
        coid = order.client_order_id
        self._ours.setdefault(coid, order.copy())
        known = book.broker_order_id(coid)
        if known is not None:
            self._coid_of[known] = coid
            return self._fetch(known, coid)
        since, until = self._entry_window(order)
        claimed = book.claimed()
        candidates = [d for d in self._list_orders(since, until)
                      if order_id_of(d) not in claimed and matches(order, d) and _entered_within(d, since, until)]
        if not candidates:
            return None
        if len(candidates) > 1:
            ids = ", ".join(order_id_of(d) for d in candidates)
            raise AmbiguousOrder(BROKER, f"order {coid} ({order.side.value} {order.quantity} {order.symbol} "
                                         f"{order.order_type.value}): {len(candidates)} Schwab orders entered between "
                                         f"{since.isoformat()} and {until.isoformat()} could be it (ids {ids}); a "
                                         "person must check the account and record the right one; nothing was sent")
        oid = order_id_of(candidates[0])
        book.remember(coid, oid)
        self._coid_of[oid] = coid
        return broker_view(candidates[0], coid, ours=self._ours.get(coid))

    def _entry_window(self, order: Order) -> tuple[pd.Timestamp, pd.Timestamp]:
        """From ``created_at`` minus the skew to now plus the skew, kept inside that New York day."""
        now = self._now()
        created = order.created_at if order.created_at is not None else now
        created = created.tz_localize("UTC") if created.tzinfo is None else created.tz_convert("UTC")
        local_day = created.tz_convert(NEW_YORK).normalize()
        day_start = local_day.tz_convert("UTC")
        day_end = (local_day.tz_localize(None) + pd.Timedelta(days=1)).tz_localize(NEW_YORK).tz_convert("UTC")
        since = max(created - self.entry_skew, day_start)
        until = min(max(now, created) + self.entry_skew, day_end)
        return since, max(until, since + self.entry_skew)

    # ------------------------------------------------------------------ orders: changing

    def check_order(self, order: Order) -> None:
        """Refuse, before any call, a type, term or mode Schwab's API does not take."""
        super().check_order(order)
        if order.mode is not TradingMode.ONLINE_LIVE:
            raise UnsupportedOrder(BROKER, f"mode: got {order.mode.value!r} for {order.client_order_id}; allowed: "
                                           "online_live (Schwab has no paper account: every order is real money); "
                                           "nothing was sent")
        check_terms(order)

    def submit_order(self, order: Order) -> OrderAck:
        """Place ``order`` once: the book or a search first, then one POST, and a search after any unknown outcome."""
        self.check_order(order)
        coid = order.client_order_id
        self._require_book()
        self._ours[coid] = order.copy()
        existing = self.find_order(order)
        if existing is not None:
            return _ack(existing, duplicate=True)
        spec = order_spec(order)
        h = self._account_hash()
        last = ""
        for _ in range(self._max_attempts):
            try:
                resp = self._calls.once(f"place order {coid}", lambda: self._client.place_order(h, spec))
            except OutcomeUnknown as e:
                last = e.reason
                found = self._settle_and_search(order, e)
                if found is not None:
                    return _ack(found, duplicate=False)
                if e.maybe_processed:  # Schwab may hold it and list it late: never a second blind POST
                    raise BrokerUnavailable(BROKER, (
                        f"order {coid}: outcome unknown ({e.reason}) and Schwab lists no matching order after "
                        f"{self.unknown_searches} searches; it was NOT sent again (Schwab has no client order id, "
                        "so a second POST could double it). The next session looks for it before anything is "
                        "sent; check Schwab's order list if it is urgent")) from None
                continue
            if resp.is_success:
                return self._placed(order, resp)
            refused = order.copy()
            refused.apply(OrderRejected(coid, f"Schwab refused the order: HTTP {resp.status_code} "
                                              f"({self._calls.scrub(body_message(resp))})", self._now()))
            return _ack(refused, duplicate=False)
        raise BrokerUnavailable(BROKER, f"order {coid}: not placed ({last}) on {self._max_attempts} attempts, and "
                                        "Schwab lists no matching order; it is safe to submit it again later")

    def _settle_and_search(self, order: Order, e: OutcomeUnknown) -> Order | None:
        """Wait (Retry-After, else a growing settle time) and search; an order Schwab may hold is searched again."""
        searches = self.unknown_searches if e.maybe_processed else 1
        for i in range(searches):
            self._sleep(max(self.settle_seconds * 2 ** i, backoff(1, e.retry_after) if i == 0 else 0.0))
            found = self._look_up_after(order, e.reason)
            if found is not None:
                return found
        return None

    def _look_up_after(self, order: Order, reason: str) -> Order | None:
        try:
            return self.find_order(order)
        except BrokerUnavailable as e:
            raise BrokerUnavailable(BROKER, f"order {order.client_order_id}: outcome unknown ({reason}) and the "
                                            f"search for it failed ({e}); run find_order before any resubmit") from None

    def _placed(self, order: Order, resp: httpx.Response) -> OrderAck:
        """A 2xx on the POST: remember Schwab's id at once, then read the order back."""
        coid = order.client_order_id
        book = self._require_book()
        try:
            oid = Utils(self._client, self._account_hash()).extract_order_id(resp)
        except ValueError:
            oid = None
        if oid is not None:
            book.remember(coid, str(oid))
            self._coid_of[str(oid)] = coid
            try:
                return _ack(self._fetch(str(oid), coid), duplicate=False)
            except BrokerError as e:  # placed and remembered: Schwab's view can be read later
                if isinstance(e, BrokerAuthError):
                    raise
                accepted = order.copy()
                accepted.apply(OrderAccepted(coid, self._now(), str(oid)))
                return _ack(accepted, duplicate=False)
        for attempt in range(1, self._max_attempts + 1):
            found = self.find_order(order)
            if found is not None:
                return _ack(found, duplicate=False)
            if attempt < self._max_attempts:
                self._sleep(max(self.settle_seconds, backoff(attempt)))
        raise AmbiguousOrder(BROKER, f"order {coid}: Schwab took it (HTTP {resp.status_code}) without an order id "
                                     f"(no Location header) and lists no matching order after {self._max_attempts} "
                                     "searches; a person must check the account and record its id before anything "
                                     "is resubmitted; nothing more was sent")

    def cancel(self, client_order_id: str) -> Order:
        """Ask Schwab to cancel; returns Schwab's view after the request (``PENDING_CANCEL`` is still open)."""
        order = self.get_order(client_order_id)
        if order is None or order.broker_order_id is None:
            raise BrokerError(BROKER, f"cancel {client_order_id}: no Schwab order is known for it (none recorded in "
                                      "the ledger's book and none found); nothing was sent")
        if order.is_terminal:
            return order
        oid, h = order.broker_order_id, self._account_hash()
        try:
            self._calls.read(f"cancel order {client_order_id}", lambda: self._client.cancel_order(oid, h))
        except BrokerError as e:
            if isinstance(e, BrokerUnavailable | BrokerAuthError) or e.status not in (400, 404, 409, 422):
                raise
            # Schwab refuses to cancel an order that has just ended: the order read below says how.
        return self._fetch(oid, client_order_id)

    # ------------------------------------------------------------------ lifetime

    def close(self) -> None:
        """Close the HTTP session and release the token file's lock (idempotent)."""
        session = getattr(self._client, "session", None)
        if session is not None and hasattr(session, "close"):
            session.close()
        if self._lock is not None:
            self._lock.release()

    def __enter__(self) -> SchwabBroker:
        return self

    def __exit__(self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        shown = f"ending {self._account_number[-4:]}" if self._account_number else "the login's only account"
        return f"SchwabBroker(name='schwab', mode='online_live', account={shown!r})"


def _ack(order: Order, *, duplicate: bool) -> OrderAck:
    rejected = order.status is OrderStatus.REJECTED
    return OrderAck(client_order_id=order.client_order_id, status=order.status, accepted=not rejected,
                    duplicate=duplicate, order=order, reason=order.status_reason if rejected else None,
                    broker_order_id=order.broker_order_id)


def _amount(balances: Mapping[str, Any], *names: str) -> Decimal | None:
    """The first of ``names`` present in a balances block, as Decimal."""
    for name in names:
        if balances.get(name) is not None:
            return to_decimal(balances[name], name)
    return None


def _plain(quantity: Decimal) -> Decimal:
    """``10`` rather than ``10.0`` (Schwab sends quantities as floats)."""
    whole = quantity.to_integral_value()
    return whole if quantity == whole else quantity.normalize()


def _entered_within(data: dict[str, Any], since: pd.Timestamp, until: pd.Timestamp) -> bool:
    """Schwab filters by entry time too; checked again here (an order without a time is kept: it could be ours)."""
    at = entered_at(data)
    return at is None or since <= at <= until
