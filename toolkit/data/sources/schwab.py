"""``data.source: schwab``: daily price history from Schwab's market data API (schwab-py), cached locally.

``get_price_history_every_day`` per symbol, on a client opened from the token file while
this process holds its lock (:func:`toolkit.connections.open_schwab_client`). Schwab publishes
one price set: prices as traded, not adjusted for dividends, so only ``data.prices: raw``
is offered (``adjusted`` is refused when the params are read). Schwab may restate its
history for a split; the cache treats the data as revisable and fetches a symbol again
when a bar it holds comes back different.

Credentials (``SCHWAB_API_KEY``, ``SCHWAB_APP_SECRET``, ``SCHWAB_TOKEN_PATH``) are read
only when the cache lacks something. schwab-py returns the raw HTTP response and raises
nothing: every status is checked here, with the broker adapter's reading of Schwab's
answers and its secrets scrubbed from every message (:mod:`toolkit.connections.schwab_calls`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toolkit.connections import SchwabCredentials, open_schwab_client
from toolkit.connections.schwab import LOGIN_HOW
from toolkit.data.cache import CacheSpec, cached_bars, request_range
from toolkit.data.sources.base import BarRequest, Source
from toolkit.data.sources.registry import register
from toolkit.data.sources.remote import api_range, bars_from_records, fetch_dates, require_bars
from toolkit.errors import BrokerAuthError, BrokerError, BrokerUnavailable, ParamsError
from toolkit.time import Clock, SystemClock

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["PRICES_NOTE", "REQUEST_TIMEOUT", "SchwabSource", "daily_bars"]

#: Seconds before a price-history request that gets no answer fails.
REQUEST_TIMEOUT = 30.0
PRICES_NOTE = "Schwab's price history is not adjusted for dividends; alpaca and csv offer adjusted prices"
_FIELDS = {"open": "open", "high": "high", "low": "low", "close": "close", "volume": "volume"}


@register
class SchwabSource(Source):
    """Daily bars of Schwab's price history (see the module docstring)."""

    name = "schwab"
    price_choices = ("raw",)
    prices_note = PRICES_NOTE

    def __init__(self, *, clock: Clock | None = None, environ: Mapping[str, str] | None = None,
                 cache_root: Path | None = None) -> None:
        self._clock = clock
        self._environ = environ
        self._cache_root = cache_root

    def load(self, request: BarRequest) -> dict[str, pd.DataFrame]:
        if request.prices not in self.price_choices:
            raise ParamsError("data.prices", request.prices, f"raw (data.source: schwab: {PRICES_NOTE})")
        start, end = fetch_dates(request, self.name)
        frames = daily_bars(request.symbols, start, end, clock=self._clock, environ=self._environ,
                            cache_root=self._cache_root)
        return require_bars(frames, request, self.name, "Schwab daily bars")


def daily_bars(symbols: list[str], start: Any, end: Any = None, *, clock: Clock | None = None,
               environ: Mapping[str, str] | None = None, cache_root: Path | None = None) -> dict[str, pd.DataFrame]:
    """Canonical daily bars of ``symbols`` from Schwab (dates ``start`` to ``end`` included; None: today).

    Today's bar appears once the session has closed by the exchange calendar. A
    symbol Schwab has no bar for gets an empty frame.
    """
    now = (clock or SystemClock()).now()
    lo, hi = request_range("1Day", start, end, now)
    spec = CacheSpec("schwab", None, "raw", "1Day", revisable=True)
    return cached_bars(spec, list(symbols), lo, hi, _SchwabBars(environ), now=now, root=cache_root)


class _SchwabBars:
    """The cache's fetch: one price-history request per symbol, on one client per range."""

    def __init__(self, environ: Mapping[str, str] | None) -> None:
        self.environ = environ

    def __call__(self, symbols: list[str], start: pd.Timestamp, end: pd.Timestamp) -> dict[str, pd.DataFrame]:
        credentials = SchwabCredentials.from_env(self.environ)
        out = {}
        first, last = api_range(True, start, end)
        # The token file's lock is held while the client lives: schwab-py writes refreshed tokens to it.
        client, lock = open_schwab_client(credentials)
        try:
            client.set_timeout(REQUEST_TIMEOUT)
            for sym in symbols:
                body = _price_history(client, sym, first, last, credentials.account_number)
                candles = (body.get("candles") or []) if isinstance(body, dict) else []
                out[sym] = bars_from_records(sym, candles, time_key="datetime", unit="ms", fields=_FIELDS,
                                             daily=True)
        finally:
            client.session.close()
            lock.release()
        return out


def _price_history(client: Any, symbol: str, start: dt.datetime, end: dt.datetime, account: str | None) -> Any:
    """One ``get_price_history_every_day`` call, its status checked, its JSON body returned.

    Not retried: a data load that fails is run again by a person or the next schedule.
    """
    import httpx
    from authlib.common.errors import AuthlibBaseError

    from toolkit.connections.schwab_calls import (
        MAX_BODY_SHOWN,
        client_secrets,
        error_text,
        is_transient,
        refuses_login,
    )
    from toolkit.connections.scrub import scrub_line

    def shown(text: str) -> str:
        return scrub_line(text, list(client_secrets(client, account)), MAX_BODY_SHOWN)

    try:
        resp = client.get_price_history_every_day(symbol, start_datetime=start, end_datetime=end)
    except AuthlibBaseError as exc:  # the token endpoint refused the refresh token
        raise BrokerAuthError("schwab", f"token refresh refused ({shown(str(exc))}); {LOGIN_HOW}") from None
    except httpx.HTTPError as exc:
        raise BrokerUnavailable("schwab", f"price history request failed ({type(exc).__name__}: "
                                          f"{shown(str(exc))}); run again later") from None
    status = resp.status_code
    if status == 200:
        try:
            return resp.json()
        except ValueError:
            raise BrokerError("schwab", f"price history of {symbol}: the answer is not JSON "
                                        f"({shown(resp.text)})", status=status) from None
    said = error_text(resp)
    said = f"{status}: {shown(resp.text if said is None else said)}"
    if refuses_login(status):
        raise BrokerAuthError("schwab", f"price history refused ({said}); {LOGIN_HOW}", status=status)
    if is_transient(status):
        raise BrokerUnavailable("schwab", f"price history unavailable ({said}); run again later", status=status)
    raise BrokerError("schwab", f"price history of {symbol} refused ({said})", status=status)
