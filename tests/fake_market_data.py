"""Alpaca's and Schwab's market data APIs, faked over REAL prices, for the data sources' tests.

The prices are the real files in ``../shared/data`` (read in place, never copied here),
served in each broker's own JSON shape so the SDKs (alpaca-py, schwab-py) run their
real code paths: request building, paging, parsing.

* :class:`FakeAlpacaData` answers ``GET /v2/stocks/bars`` the way Alpaca does: bars
  keyed by symbol, daily bars stamped at midnight New York, ``start``/``end`` inclusive,
  ``adjustment`` raw or all, pages of at most ``page_size`` bars with a
  ``next_page_token``. It plugs into ``responses`` (:meth:`FakeAlpacaData.install`) or
  serves real HTTP on localhost (:meth:`FakeAlpacaData.serve`, for a papermill kernel,
  which ``responses`` cannot reach).
* :class:`FakeSchwabData` answers ``GET /marketdata/v1/pricehistory`` through ``respx``:
  candles stamped at midnight Chicago time in epoch milliseconds.

Both record every request (:attr:`asks` keeps the first page of each), so a test can
count what a run asked for and over which dates.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pandas as pd

ALPACA_DATA_URL = "https://data.alpaca.markets"
SCHWAB_HISTORY_URL = "https://api.schwabapi.com/marketdata/v1/pricehistory"
NEW_YORK = "America/New_York"
CHICAGO = "America/Chicago"


def real_daily(shared_data: Path, symbols: list[str], prices: str) -> dict[str, pd.DataFrame]:
    """Canonical daily bars of qstrader's real SPY/AGG/AAPL files (raw or Adj Close-adjusted)."""
    from toolkit.data import load_files

    return load_files(shared_data / "daily" / "qstrader", symbols, prices=prices)


def real_minutes(shared_data: Path, symbols: list[str]) -> dict[str, pd.DataFrame]:
    """Canonical 1-minute bars of the real intraday files (New York timestamps in the files)."""
    from toolkit.data import load_files

    return load_files(shared_data / "minute" / "intraday", symbols, prices="raw")


@dataclass(frozen=True)
class Ask:
    """One request a fake received: symbols and the range asked for (UTC), and the page token."""

    symbols: tuple[str, ...]
    start: pd.Timestamp | None
    end: pd.Timestamp | None
    params: dict[str, str]
    page_token: str | None = None


class FakeAlpacaData:
    """``GET /v2/stocks/bars`` over given canonical frames (see the module docstring)."""

    def __init__(self, raw: Mapping[str, pd.DataFrame], adjusted: Mapping[str, pd.DataFrame] | None = None, *,
                 minutes: Mapping[str, pd.DataFrame] | None = None, page_size: int = 200) -> None:
        self.daily = {"raw": dict(raw), "all": dict(adjusted or raw)}
        self.minutes = dict(minutes or {})
        self.page_size = page_size
        self.requests: list[Ask] = []
        self.headers: list[dict[str, str]] = []
        #: An answer to give instead of bars: (status, body) for the next requests (an error test).
        self.fail_with: tuple[int, str] | None = None

    @property
    def asks(self) -> list[Ask]:
        """The first page of each request (what the client asked for, paging aside)."""
        return [r for r in self.requests if r.page_token is None]

    # ------------------------------------------------------------------ the API
    def answer(self, query: Mapping[str, str], headers: Mapping[str, str]) -> tuple[int, str]:
        symbols = tuple(query["symbols"].split(","))
        start = pd.Timestamp(query["start"]).tz_convert("UTC") if "start" in query else None
        end = pd.Timestamp(query["end"]).tz_convert("UTC") if "end" in query else None
        token = query.get("page_token") or None
        self.requests.append(Ask(symbols, start, end, dict(query), token))
        self.headers.append(dict(headers))
        if self.fail_with is not None:
            return self.fail_with
        rows = [(sym, bar) for sym in symbols for bar in self._bars(sym, query["timeframe"], query.get("adjustment"),
                                                                    start, end)]
        offset = int(token or 0)
        limit = min(int(query.get("limit") or self.page_size), self.page_size)
        page = rows[offset:offset + limit]
        body: dict[str, Any] = {"bars": {}, "next_page_token": None}
        for sym, bar in page:
            body["bars"].setdefault(sym, []).append(bar)
        if offset + limit < len(rows):
            body["next_page_token"] = str(offset + limit)
        return 200, json.dumps(body)

    def _bars(self, symbol: str, timeframe: str, adjustment: str | None, start: pd.Timestamp | None,
              end: pd.Timestamp | None) -> list[dict[str, Any]]:
        if timeframe == "1Day":
            frame = self.daily["all" if adjustment == "all" else "raw"].get(symbol)
            if frame is None:
                return []
            # Alpaca stamps a daily bar at midnight New York of its session date.
            stamps = pd.DatetimeIndex(frame.index.tz_localize(None)).tz_localize(NEW_YORK).tz_convert("UTC")
        elif timeframe == "1Min":
            frame = self.minutes.get(symbol)
            if frame is None:
                return []
            stamps = pd.DatetimeIndex(frame.index)
        else:
            raise AssertionError(f"the fake serves 1Day and 1Min bars, not {timeframe}")
        keep = (stamps >= start if start is not None else True) & (stamps <= end if end is not None else True)
        out = []
        for ts, row in zip(stamps[keep], frame.loc[keep].itertuples(index=False), strict=True):
            out.append({"t": ts.strftime("%Y-%m-%dT%H:%M:%SZ"), "o": row.open, "h": row.high, "l": row.low,
                        "c": row.close, "v": int(row.volume), "n": 1, "vw": row.close})
        return out

    # ------------------------------------------------------------------ plugging in
    def install(self, rsps: Any, base_url: str = ALPACA_DATA_URL) -> None:
        """Answer the bars endpoint in a ``responses.RequestsMock``."""

        def callback(request: Any) -> tuple[int, dict[str, str], str]:
            query = {k: v[-1] for k, v in parse_qs(urlparse(request.url).query).items()}
            status, body = self.answer(query, request.headers)
            return status, {"Content-Type": "application/json"}, body

        rsps.add_callback("GET", f"{base_url}/v2/stocks/bars", callback=callback)

    @contextmanager
    def serve(self) -> Iterator[str]:
        """Serve the API on a free localhost port for the block; yields its base URL."""
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlparse(self.path)
                if url.path != "/v2/stocks/bars":
                    status, body = 404, json.dumps({"message": "not found"})
                else:
                    query = {k: v[-1] for k, v in parse_qs(url.query).items()}
                    status, body = fake.answer(query, dict(self.headers))
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}"
        finally:
            server.shutdown()
            server.server_close()
            thread.join()


class FakeSchwabData:
    """``GET /marketdata/v1/pricehistory`` over given canonical daily frames, through ``respx``."""

    def __init__(self, raw: Mapping[str, pd.DataFrame]) -> None:
        self.daily = dict(raw)
        self.requests: list[Ask] = []
        self.fail_with: tuple[int, str] | None = None

    @property
    def asks(self) -> list[Ask]:
        return list(self.requests)

    def handle(self, request: Any) -> Any:
        import httpx

        query = {k: v for k, v in request.url.params.items()}
        start = pd.Timestamp(int(query["startDate"]), unit="ms", tz="UTC") if "startDate" in query else None
        end = pd.Timestamp(int(query["endDate"]), unit="ms", tz="UTC") if "endDate" in query else None
        self.requests.append(Ask((query["symbol"],), start, end, query))
        if self.fail_with is not None:
            return httpx.Response(self.fail_with[0], text=self.fail_with[1])
        frame = self.daily.get(query["symbol"])
        candles = []
        if frame is not None:
            # Schwab stamps a daily candle at midnight Chicago time (epoch milliseconds).
            stamps = pd.DatetimeIndex(frame.index.tz_localize(None)).tz_localize(CHICAGO).tz_convert("UTC")
            keep = (stamps >= start if start is not None else True) & (stamps <= end if end is not None else True)
            for ts, row in zip(stamps[keep], frame.loc[keep].itertuples(index=False), strict=True):
                candles.append({"open": row.open, "high": row.high, "low": row.low, "close": row.close,
                                "volume": int(row.volume), "datetime": int(ts.value // 1_000_000)})
        return httpx.Response(200, json={"candles": candles, "symbol": query["symbol"], "empty": not candles})

    def install(self, router: Any) -> Any:
        """Answer the price-history endpoint in a ``respx`` router; returns the route."""
        return router.get(SCHWAB_HISTORY_URL).mock(side_effect=self.handle)


def write_schwab_token(path: Path, *, age_days: float = 1.0) -> Path:
    """A schwab-py token file created ``age_days`` ago, its access token valid for 30 more minutes."""
    now = time.time()
    token = {"access_token": "fake-access-token", "refresh_token": "fake-refresh-token", "token_type": "Bearer",
             "expires_in": 1800, "expires_at": int(now) + 1800, "scope": "api", "id_token": "fake-id-token"}
    path.write_text(json.dumps({"creation_timestamp": int(now - age_days * 86400), "token": token}))
    return path
