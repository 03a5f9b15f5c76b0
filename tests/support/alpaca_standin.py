"""A local stand-in for Alpaca's trading API v2 and market-data API v2, for tests and the bench.

Why it exists: issue 10 wants a paper session run end to end, in another process, killed
after each step and resumed with no duplicate order (point 12), and a bench of that session
(point 13). Faked HTTP (``responses``) cannot be shared with another process or survive a
kill; this server can. It speaks what alpaca-py 0.44.0's ``TradingClient`` and
``StockHistoricalDataClient`` send and parse (read from their source), keeps a paper account
whose fills are deterministic, and lets a test steer the clock, prices, fills and faults.
Standard library HTTP (``ThreadingHTTPServer`` + ``json``); bars come from real files read
by ``toolkit.data``'s loader; the calendar is ``exchange_calendars``' XNYS. This file holds
the HTTP side (routes, auth, faults, controls, starting it); ``alpaca_standin_market.py`` the
bars, calendar and latest trades; ``alpaca_standin_account.py`` the orders, fills and cash.

Start it
  in process   ``with StandIn.start(bars=[DIR], symbols=["SPY", "AGG"], now="2016-06-01T19:45:00Z") as alpaca:``
               then ``TradingClient("key", "secret", url_override=alpaca.base_url)`` and
               ``StockHistoricalDataClient("key", "secret", url_override=alpaca.base_url)``.
  as a process ``python tests/support/alpaca_standin.py --port 0 --bars DIR [--bars DIR2] --symbols SPY,AGG
               --now 2016-06-01T19:45:00Z --state state.json`` prints ``http://127.0.0.1:PORT`` as its first
               stdout line, then serves until killed. :func:`spawn` does that from a test.
  With a state file the whole account (orders, fills, positions, cash, ids, POST counts, clock,
  prices, fill mode) is written atomically before every answer to a request that changed it,
  and reloaded at start, so a test can kill -9 the server and start it again. A ``--now``
  given at restart wins over the saved clock. Pending faults and request counts are not saved.

What of Alpaca it speaks (one base URL serves both clients; every ``/v2`` call needs the
``APCA-API-KEY-ID`` and ``APCA-API-SECRET-KEY`` headers, else 401 ``40110000``)
  GET  /v2/account                      every TradeAccount field; cash, buying power and equity follow fills
  GET  /v2/clock                        from the stand-in's clock (timestamps in New York time)
  GET  /v2/calendar?start=&end=         XNYS sessions, early closes included (2016-11-25 closes 13:00)
  GET  /v2/positions, /v2/positions/{symbol}, /v2/assets/{symbol}
  POST /v2/orders                       market, limit, stop, stop_limit, trailing_stop; simple or bracket;
                                        qty or notional; 422 40010001 "client_order_id must be unique";
                                        403 40310000 "insufficient buying power" / "insufficient qty available ..."
  GET  /v2/orders                       status open|closed|all (default open), limit 1..500 (default 50,
                                        422 beyond), after/until exclusive on submitted_at, direction
                                        (default desc), nested, symbols, side: a client has to page
  GET  /v2/orders/{id}, /v2/orders:by_client_order_id?client_order_id=
  DELETE /v2/orders/{id}                204; 422 42210000 when the order is no longer open; DELETE /v2/orders: 207
  GET  /v2/account/activities/FILL and /v2/account/activities?activity_types=FILL
                                        page_size 1..100 (default 100), page_token (the last id seen),
                                        direction (default desc), date, after, until (exclusive)
  GET  /v2/stocks/bars                  symbols, timeframe 1Day|1Min, start, end, limit (1..10000, default
                                        1000), page_token, sort, feed, adjustment (raw; split/dividend/all
                                        read the files' adjusted prices); one limit across all symbols
  GET  /v2/stocks/trades/latest?symbols=
Time is the stand-in's: nothing later than "now" is served. Daily bars are stamped at midnight
New York (as Alpaca does) and appear once their session has opened; the current session's bar
is built from the minute bars up to now when there are any, else it is the file's full day.
Minute bars (stamped at their start) appear when their stamp is at or before now: at 15:45
the bar stamped 15:45 counts, the minute's price a replay at 15:45 uses. The latest
trade is a price set through ``/_control/price``, else the close of the last minute bar stamped
at or before now, else the close of the last daily bar shown, stamped with that bar's time
(midnight New York: old, as a stale-data guard should notice).

Fill model (deterministic): an order reaches the market when the session is open (before that
it stays ``accepted``). A market order then fills at the latest trade price, a limit order when
that price is at or better than its limit, a stop once the price crosses its stop. The fill
mode decides how: ``full`` (default), ``partial`` (``fraction`` of what is left, rounded down to
whole shares, the rest left open until cancelled), ``none`` (stays ``new``), ``reject``. Open
orders that waited for the session or their price are tried again when the clock or a price
is moved. Cash and positions follow fills, commission free; ``slippage_bps`` moves fill prices
against the order. The POST answer shows the order as accepted, before its fill
(``post_reply: "after_fill"`` shows it after), as Alpaca's usually does.

Controls (not Alpaca's; JSON in, JSON out, no keys needed)
  POST /_control/now          {"now": "2016-06-01T19:50:00Z"}
  POST /_control/price        {"SPY": 201.5, "AGG": null}   (null drops the override)
  POST /_control/fill_mode    {"mode": "full|partial|none|reject", "fraction": 0.5, "slippage_bps": 0,
                               "post_reply": "before_fill|after_fill", "symbols": ["SPY"]}  (symbols: only those)
  POST /_control/faults       {"faults": [{"method": "POST", "path": "/v2/orders", "status": 500,
                               "after_processing": true, "delay_seconds": 0, "drop_connection": false,
                               "retry_after": 1, "body": null, "times": 1}]}  or {"clear": true}
                               Queued in order; each matching request (method + path, ``*`` wildcards)
                               takes the first. 502 answers an HTML page, 429 a Retry-After header.
                               after_processing: the request is carried out (the order IS created),
                               then the fault is delivered; otherwise the fault comes first (a delay
                               then still carries the request out, late). drop_connection resets
                               the connection with no answer.
  POST /_control/account      {"cash": "5000", "pattern_day_trader": true, "daytrade_count": 3, "multiplier": "2",
                               "shorting_enabled": true, "trading_blocked": false, "status": "ACTIVE", ...}
  POST /_control/fill         {"client_order_id" | "order_id": ..., "qty": optional, "price": optional}
                               fills an open order now (held remainders too), whatever the mode
  POST /_control/order_status {"client_order_id" | "order_id": ..., "status": "canceled|expired|rejected"}
                               what the broker does on its own (a cancel at the close, a late reject)
  POST /_control/limits       {"bars_page_size": 100}  (pages of bars smaller than Alpaca's 10000)
  GET  /_control/state        every order (with ``post_count`` for its client_order_id), ``post_counts``,
                               fills, cash, positions, account settings, prices, fill mode, pending
                               faults, ``request_counts`` per "METHOD /path" (in memory only)

What it does not do: streaming (websockets), order replace (PATCH), oco/oto/mleg classes,
options and crypto, portfolio history, trailing-stop tracking (a trailing stop rests until
``/_control/fill``), time-in-force expiry at the close (``/_control/order_status`` does it),
wash-trade and pattern-day-trader enforcement (the flags are reported, not applied), margin
beyond ``buying_power = equity * multiplier - market value - open buy orders``, quotes,
snapshots, single-symbol data routes, rate limits other than injected 429s, and daily bars
made from minute bars (a symbol with minute files only has no 1Day bars).
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import re
import select
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

if __package__ in (None, ""):  # run as a script: import the sibling modules as pytest does (tests/ on the path)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from support.alpaca_standin_account import OPEN_STATUSES, PaperAccount
from support.alpaca_standin_market import (
    NY,
    ApiError,
    Market,
    dec,
    flag,
    ns_text,
    parse_date,
    parse_time,
    settlement_days,
    stable_id,
    to_ns,
    utc_text,
    whole,
)

HTML_502 = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)
FAULT_BODIES = {
    429: {"code": 42910000, "message": "rate limit exceeded"},
    500: {"code": 50010000, "message": "internal server error occurred"},
    503: {"code": 50310000, "message": "service unavailable"},
    504: {"code": 50410000, "message": "gateway timeout"},
}



# --------------------------------------------------------------------------- faults


@dataclass
class Fault:
    """One injected failure for the next request matching ``method`` and ``path``."""

    path: str
    method: str | None = None
    status: int | None = None
    after_processing: bool = False
    delay_seconds: float = 0.0
    drop_connection: bool = False
    retry_after: int = 1
    body: str | None = None
    times: int = 1

    @classmethod
    def parse(cls, d: dict[str, Any]) -> Fault:
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(d) - known)
        if unknown:
            raise ApiError(400, 40010001, f"fault fields {unknown} unknown; allowed: {sorted(known)}")
        if not d.get("path"):
            raise ApiError(400, 40010001, "a fault needs path (e.g. /v2/orders; * matches anything)")
        fault = cls(**d)
        if fault.status is not None and not 400 <= int(fault.status) <= 599:
            raise ApiError(400, 40010001, f"fault status {fault.status}: 400 to 599")
        if fault.status is None and not fault.delay_seconds and not fault.drop_connection:
            raise ApiError(400, 40010001, "a fault needs status, delay_seconds or drop_connection")
        fault.method = fault.method.upper() if fault.method else None
        return fault

    def matches(self, method: str, path: str) -> bool:
        return (self.method in (None, method)) and fnmatch.fnmatchcase(path, self.path)

    def reply(self) -> tuple[int, bytes, dict[str, str]]:
        status = int(self.status or 500)
        headers = {"Content-Type": "application/json; charset=UTF-8"}
        if self.body is not None:
            body = self.body
            if not body.lstrip().startswith(("{", "[")):
                headers["Content-Type"] = "text/html"
        elif status == 502:
            body, headers["Content-Type"] = HTML_502, "text/html"
        else:
            body = json.dumps(FAULT_BODIES.get(status, {"code": status * 100_000, "message": "injected fault"}))
        if status == 429:
            headers["Retry-After"] = str(self.retry_after)
        return status, body.encode(), headers


# --------------------------------------------------------------------------- HTTP


@dataclass
class Reply:
    status: int
    payload: Any = None  # JSON-able; None with 204 means no body
    headers: dict[str, str] | None = None


Route = tuple[str, "re.Pattern[str]", Callable[..., Reply]]


class StandInServer(ThreadingHTTPServer):
    """The HTTP server: routes, auth, faults, persistence; the account behind one lock."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], account: PaperAccount, *, state_path: Path | None,
                 keys: tuple[str, str] | None, verbose: bool) -> None:
        super().__init__(address, _Handler)
        self.account = account
        self.state_path = state_path
        self.keys = keys
        self.verbose = verbose
        self.lock = threading.RLock()
        self.faults: list[Fault] = []
        self.request_counts: dict[str, int] = {}
        self.stopping = threading.Event()
        self.routes: list[Route] = [(m, re.compile(p + r"\Z"), f) for m, p, f in self._routes()]
        self.save()

    # ---------------------------------------------------------------- state file

    def save(self) -> None:
        """Write the whole state atomically (a kill mid-write leaves the previous file whole)."""
        if self.state_path is None:
            return
        tmp = self.state_path.with_name(self.state_path.name + ".tmp")
        tmp.write_text(json.dumps(self.account.to_dict(), indent=1))
        os.replace(tmp, self.state_path)

    # ---------------------------------------------------------------- per request

    def take_fault(self, method: str, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.matches(method, path):
                    fault.times -= 1
                    if fault.times <= 0:
                        self.faults.remove(fault)
                    return fault
        return None

    def count(self, method: str, path: str, body: Any) -> None:
        """Count every request, and every POST of an order per client_order_id (faulted ones too)."""
        with self.lock:
            key = f"{method} {path}"
            self.request_counts[key] = self.request_counts.get(key, 0) + 1
            if key == "POST /v2/orders" and isinstance(body, dict) and body.get("client_order_id"):
                cid = str(body["client_order_id"])
                self.account.post_counts[cid] = self.account.post_counts.get(cid, 0) + 1
                self.save()

    def dispatch(self, method: str, path: str, query: dict[str, str], body: Any, headers: Any) -> Reply:
        if path.startswith("/v2/"):
            key_id, secret = headers.get("APCA-API-KEY-ID"), headers.get("APCA-API-SECRET-KEY")
            authorized = (key_id and secret) or headers.get("Authorization")
            if not authorized or (self.keys is not None and (key_id, secret) != self.keys):
                return Reply(401, {"code": 40110000, "message": "request is not authorized"})
        allowed = False
        for verb, pattern, handler in self.routes:
            match = pattern.match(path)
            if match is None:
                continue
            allowed = True
            if verb != method:
                continue
            with self.lock:
                try:
                    return handler(query=query, body=body, **match.groupdict())
                except ApiError as exc:
                    return Reply(exc.status, {"code": exc.code, "message": exc.message})
                finally:
                    if method != "GET":
                        self.save()
        if allowed:
            return Reply(405, {"code": 40510000, "message": f"method {method} not allowed on {path}"})
        return Reply(404, {"code": 40410000, "message": f"endpoint {path} not found"})

    def _routes(self) -> list[tuple[str, str, Callable[..., Reply]]]:
        acc = self.account

        def ok(payload: Any) -> Reply:
            return Reply(200, payload)

        def order_or_404(order_id: str) -> dict[str, Any]:
            order = acc.by_id.get(order_id)
            if order is None:
                raise ApiError(404, 40410000, "order not found")
            return order

        def clock(**_: Any) -> Reply:
            now = acc.now()
            sessions = acc.market.sessions
            i = sessions.containing_or_next(to_ns(now))
            is_open = bool(sessions.opens[i] <= to_ns(now))
            next_open = sessions.opens[i + 1] if is_open else sessions.opens[i]
            return ok({"timestamp": now.astimezone(NY).isoformat(), "is_open": is_open,
                       "next_open": _ny_text(int(next_open)), "next_close": _ny_text(int(sessions.closes[i]))})

        def calendar(query: dict[str, str], **_: Any) -> Reply:
            sessions = acc.market.sessions
            start = parse_date(query["start"], "start") if query.get("start") else sessions.dates[0]
            end = parse_date(query["end"], "end") if query.get("end") else sessions.dates[-1]
            out = []
            for i, day in enumerate(sessions.dates):
                if start <= day <= end:
                    settle = i + settlement_days(day)
                    out.append({"date": day.isoformat(), "open": _ny_hhmm(int(sessions.opens[i])),
                                "close": _ny_hhmm(int(sessions.closes[i])), "session_open": "0400",
                                "session_close": "2000", "settlement_date": sessions.dates[settle].isoformat()
                                if settle < len(sessions.dates) else None})
            return ok(out)

        def position(symbol: str, **_: Any) -> Reply:
            sym = unquote(symbol).upper()
            if sym not in acc.positions:
                raise ApiError(404, 40410000, "position does not exist")
            return ok(acc.position_json(sym))

        def asset(symbol: str, **_: Any) -> Reply:
            sym = unquote(symbol).upper()
            if not acc.market.has(sym) and sym not in acc.prices:
                raise ApiError(404, 40410000, "asset not found")
            return ok({"id": stable_id("asset", sym), "class": "us_equity", "exchange": "ARCA", "symbol": sym,
                       "name": sym, "status": "active", "tradable": True, "marginable": True, "shortable": True,
                       "easy_to_borrow": True, "fractionable": True, "maintenance_margin_requirement": 30,
                       "attributes": []})

        def by_client_id(query: dict[str, str], **_: Any) -> Reply:
            order = acc.by_cid.get(query.get("client_order_id", ""))
            if order is None:
                raise ApiError(404, 40410000, "order not found")
            return ok(acc.order_json(order, nested=flag(query.get("nested", "false"), "nested")))

        def cancel_one(order_id: str, **_: Any) -> Reply:
            acc.cancel(order_id)
            return Reply(204)

        def cancel_all(**_: Any) -> Reply:
            out = []
            for o in acc.orders:
                if o["status"] in OPEN_STATUSES and not o["_parent"]:
                    acc.close(o, "canceled")
                    out.append({"id": o["id"], "status": 200, "body": acc.order_json(o)})
            return Reply(207, out)

        def activities(query: dict[str, str], activity_type: str | None = None, **_: Any) -> Reply:
            types = [activity_type] if activity_type else query.get("activity_types", "").split(",")
            return ok(acc.list_fills(query, types))

        def latest_trades(query: dict[str, str], **_: Any) -> Reply:
            symbols = [s.strip().upper() for s in query.get("symbols", "").split(",") if s.strip()]
            if not symbols:
                raise ApiError(400, 40010001, "missing symbols")
            out = {}
            for sym in symbols:
                found = acc.trade(sym)
                if found is not None:
                    out[sym] = {"t": ns_text(found[1]), "x": "V", "p": float(found[0]), "s": 100, "c": ["@"],
                                "i": found[1] // 10**6, "z": "B"}
            return ok({"trades": out})

        def control_now(body: Any, **_: Any) -> Reply:
            if not isinstance(body, dict) or not body.get("now"):
                raise ApiError(400, 40010001, 'control now needs {"now": "<RFC-3339 time>"}')
            acc.now_fixed = parse_time(body["now"], "now")
            acc.work_all()
            return ok({"now": utc_text(acc.now())})

        def control_faults(body: Any, **_: Any) -> Reply:
            if isinstance(body, dict) and body.get("clear"):
                self.faults.clear()
            else:
                items = body.get("faults", [body]) if isinstance(body, dict) else body
                if not isinstance(items, list) or not all(isinstance(f, dict) for f in items):
                    raise ApiError(400, 40010001,
                                   'faults: {"faults": [{...}, ...]}, one fault object or {"clear": true}')
                self.faults.extend(Fault.parse(f) for f in items)
            return ok({"faults": [vars(f) for f in self.faults]})

        def control_limits(body: Any, **_: Any) -> Reply:
            acc.bars_page_size = whole(body.get("bars_page_size", 10_000), "bars_page_size", 1, 10_000)
            return ok({"bars_page_size": acc.bars_page_size})

        def control_state(**_: Any) -> Reply:
            state = acc.state_json()
            state["faults"] = [vars(f) for f in self.faults]
            state["request_counts"] = dict(self.request_counts)
            return ok(state)

        def body_dict(fn: Callable[[dict[str, Any]], Any]) -> Callable[..., Reply]:
            def run(body: Any, **_: Any) -> Reply:
                if not isinstance(body, dict):
                    raise ApiError(400, 40010000, "request body must be a JSON object")
                return ok(fn(body))
            return run

        return [
            ("GET", "/v2/account", lambda **_: ok(acc.account_json())),
            ("GET", "/v2/clock", clock),
            ("GET", "/v2/calendar", calendar),
            ("GET", "/v2/positions", lambda **_: ok([acc.position_json(s) for s in sorted(acc.positions)])),
            ("GET", "/v2/positions/(?P<symbol>[^/]+)", position),
            ("GET", "/v2/assets/(?P<symbol>[^/]+)", asset),
            ("POST", "/v2/orders", lambda body, **_: ok(acc.submit(body))),
            ("GET", "/v2/orders", lambda query, **_: ok(acc.list_orders(query))),
            ("DELETE", "/v2/orders", cancel_all),
            ("GET", "/v2/orders:by_client_order_id", by_client_id),
            ("GET", "/v2/orders/(?P<order_id>[^/]+)",
             lambda query, order_id, **_: ok(acc.order_json(order_or_404(order_id),
                                                            nested=flag(query.get("nested", "false"), "nested")))),
            ("DELETE", "/v2/orders/(?P<order_id>[^/]+)", cancel_one),
            ("GET", "/v2/account/activities", activities),
            ("GET", "/v2/account/activities/(?P<activity_type>[^/]+)", activities),
            ("GET", "/v2/stocks/bars", lambda query, **_: ok(acc.market.bars_page(query, to_ns(acc.now()),
                                                                                 acc.bars_page_size))),
            ("GET", "/v2/stocks/trades/latest", latest_trades),
            ("POST", "/_control/now", control_now),
            ("POST", "/_control/price", body_dict(acc.control_prices)),
            ("POST", "/_control/fill_mode", body_dict(acc.control_fill_mode)),
            ("POST", "/_control/faults", control_faults),
            ("POST", "/_control/account", body_dict(acc.control_account)),
            ("POST", "/_control/fill", body_dict(acc.control_fill)),
            ("POST", "/_control/order_status", body_dict(acc.control_status)),
            ("POST", "/_control/limits", body_dict(lambda b: control_limits(b).payload)),
            ("GET", "/_control/state", control_state),
        ]

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (its timeout) is no error of ours; anything else is printed."""
        if not isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            super().handle_error(request, client_address)


def _ny_text(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, UTC).astimezone(NY).isoformat()


def _ny_hhmm(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, UTC).astimezone(NY).strftime("%H:%M")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as requests.Session expects of Alpaca
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall
    server: StandInServer

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            super().log_message(format, *args)

    def _serve(self, method: str) -> None:
        url = urlsplit(self.path)
        path = unquote(url.path).rstrip("/") or "/"
        query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw.strip() else None
        except ValueError:
            body = ValueError
        srv = self.server
        control = path.startswith("/_control/")
        fault = None if control else srv.take_fault(method, path)
        srv.count(method, path, body)
        if fault is not None and not fault.after_processing and self._deliver(fault, before=True):
            return
        if body is ValueError:
            reply = Reply(400, {"code": 40010000, "message": "request body format is invalid"})
        else:
            try:
                reply = srv.dispatch(method, path, query, body, self.headers)
            except Exception as exc:  # a bug of the stand-in: say so in the answer and on stderr
                traceback.print_exc()
                reply = Reply(500, {"code": 50010000, "message": f"stand-in error: {type(exc).__name__}: {exc}"})
        if fault is not None and fault.after_processing and self._deliver(fault, before=False):
            return
        if reply.status == 204 or (reply.payload is None and reply.status < 300):
            self._send(reply.status, b"", reply.headers or {})
        else:
            self._send(reply.status, json.dumps(reply.payload).encode(),
                       {"Content-Type": "application/json; charset=UTF-8", **(reply.headers or {})})

    def _deliver(self, fault: Fault, *, before: bool) -> bool:
        """Delay, drop or answer the fault; False when the request is to go on (a delay alone, before)."""
        if fault.delay_seconds and self.server.stopping.wait(float(fault.delay_seconds)):
            self._drop()
            return True
        if fault.drop_connection:
            self._drop()
            return True
        if fault.status is not None:
            self._send(*fault.reply())
            return True
        return False

    def _drop(self) -> None:
        """Reset the connection (RST, no answer), as a proxy dying mid-request does."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        try:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (ConnectionError, OSError):
            self.close_connection = True


# --------------------------------------------------------------------------- starting it


class StandIn:
    """A running stand-in, in this process; a context manager that stops it on exit.

    The methods below call the same code as the ``/_control`` endpoints (without HTTP).
    """

    def __init__(self, server: StandInServer, thread: threading.Thread) -> None:
        self.server = server
        self._thread = thread
        host, port = server.server_address[:2]
        self.base_url = f"http://{host.decode() if isinstance(host, bytes) else host}:{port}"

    @classmethod
    def start(cls, *, bars: str | Path | Sequence[str | Path] = (), symbols: Sequence[str] | str | None = None,
              now: str | datetime | None = None, state: str | Path | None = None, cash: Any = "100000",
              host: str = "127.0.0.1", port: int = 0, keys: tuple[str, str] | None = None,
              bars_page_size: int | None = None, verbose: bool = False) -> StandIn:
        """Load bars, restore ``state`` when its file exists, and serve on a background thread.

        ``now`` (RFC-3339; default: the wall clock, moving) wins over a restored clock.
        ``keys``: when given, requests must carry exactly this key id and secret.
        """
        paths = [bars] if isinstance(bars, str | Path) else list(bars)
        wanted = symbols.split(",") if isinstance(symbols, str) else symbols
        market = Market(paths, wanted)
        when = (now if isinstance(now, datetime) else parse_time(now, "now")) if now is not None else None
        state_path = Path(state) if state is not None else None
        if state_path is not None and state_path.exists():
            account = PaperAccount.from_dict(market, json.loads(state_path.read_text()))
            if when is not None:
                account.now_fixed = when.astimezone(UTC)
        else:
            account = PaperAccount(market, cash=dec(cash, "cash"), now=when.astimezone(UTC) if when else None)
        if bars_page_size is not None:
            account.bars_page_size = bars_page_size
        server = StandInServer((host, port), account, state_path=state_path, keys=keys, verbose=verbose)
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                  name="alpaca-standin", daemon=True)
        thread.start()
        return cls(server, thread)

    def stop(self) -> None:
        self.server.stopping.set()
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> StandIn:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def control(self, method: str, name: str, body: Any = None) -> Any:
        """Call ``/_control/<name>`` in process; raises ``ApiError`` where HTTP would answer an error."""
        reply = self.server.dispatch(method, f"/_control/{name}", {}, body, {})
        if reply.status >= 400:
            raise ApiError(reply.status, reply.payload["code"], reply.payload["message"])
        return reply.payload

    def set_now(self, now: str | datetime) -> None:
        self.control("POST", "now", {"now": now if isinstance(now, str) else now.isoformat()})

    def set_prices(self, prices: dict[str, float | str | None]) -> None:
        self.control("POST", "price", prices)

    def set_fill_mode(self, mode: str = "full", **terms: Any) -> None:
        self.control("POST", "fill_mode", {"mode": mode, **terms})

    def add_faults(self, *faults: dict[str, Any]) -> None:
        self.control("POST", "faults", {"faults": list(faults)})

    def set_account(self, **fields: Any) -> None:
        self.control("POST", "account", fields)

    def fill(self, **terms: Any) -> dict[str, Any]:
        return self.control("POST", "fill", terms)

    def state(self) -> dict[str, Any]:
        return self.control("GET", "state")


@dataclass
class StandInProcess:
    """A stand-in running as its own process (:func:`spawn`); stop() terminates, kill() is kill -9."""

    process: subprocess.Popen[str]
    base_url: str

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()

    def __enter__(self) -> StandInProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def spawn(*, bars: str | Path | Sequence[str | Path], symbols: Sequence[str] | None = None, now: str | None = None,
          state: str | Path | None = None, args: Sequence[str] = (), timeout: float = 60.0) -> StandInProcess:
    """Start ``python tests/support/alpaca_standin.py ...`` and wait for the URL on its first line."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--port", "0"]
    for path in [bars] if isinstance(bars, str | Path) else bars:
        cmd += ["--bars", str(path)]
    if symbols:
        cmd += ["--symbols", ",".join(symbols)]
    if now:
        cmd += ["--now", now]
    if state:
        cmd += ["--state", str(state)]
    cmd += list(args)
    errors = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 (read only if the start fails)
    process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=errors, text=True)
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    line = process.stdout.readline().strip() if ready else ""
    if not line.startswith("http://"):
        process.kill()
        process.wait()
        errors.seek(0)
        raise RuntimeError(f"the stand-in did not start within {timeout} s: {errors.read()[-2000:]}")
    return StandInProcess(process, line)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve a local stand-in of Alpaca's trading and market-data APIs.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (printed on the first line)")
    parser.add_argument("--bars", action="append", default=[], help="CSV/Parquet file or folder (repeatable)")
    parser.add_argument("--symbols", default=None, help="comma-separated; default: every symbol in --bars")
    parser.add_argument("--now", default=None, help="the stand-in's clock (RFC-3339); default: the wall clock")
    parser.add_argument("--state", default=None, help="JSON file written after every change, reloaded at start")
    parser.add_argument("--cash", default="100000", help="cash of a fresh account")
    parser.add_argument("--bars-page-size", type=int, default=None, help="most bars per page (Alpaca: 10000)")
    parser.add_argument("--require-keys", action="store_true",
                        help="accept only APCA_API_KEY_ID / APCA_API_SECRET_KEY from this process's environment")
    parser.add_argument("--verbose", action="store_true", help="log each request line to stderr")
    opts = parser.parse_args(argv)
    keys = None
    if opts.require_keys:
        key_id, secret = os.environ.get("APCA_API_KEY_ID"), os.environ.get("APCA_API_SECRET_KEY")
        if not key_id or not secret:
            parser.error("--require-keys needs APCA_API_KEY_ID and APCA_API_SECRET_KEY in the environment")
        keys = (key_id, secret)
    try:
        standin = StandIn.start(bars=opts.bars, symbols=opts.symbols, now=opts.now, state=opts.state, cash=opts.cash,
                                host=opts.host, port=opts.port, keys=keys, bars_page_size=opts.bars_page_size,
                                verbose=opts.verbose)
    except Exception as exc:  # bad --bars, --symbols, --now, a port in use: one line, no traceback
        print(f"alpaca_standin: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    print(standin.base_url, flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    while not done.wait(0.5):
        pass
    standin.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
