"""``data.source: alpaca``: bars from Alpaca's market data API (alpaca-py), through the local cache.

Daily bars for a run's ``data:`` (``data.feed``: ``iex``, free and the default, or
``sip``, every exchange, which needs a paid plan; ``data.prices``: ``raw`` is
``Adjustment.RAW``, ``adjusted`` is ``Adjustment.ALL``, splits and dividends), and
:func:`bars` for any caller that wants daily or minute bars (``timeframe="1Min"``: the
price at an execution time). alpaca-py's ``StockHistoricalDataClient.get_stock_bars``
walks the pages itself; every request here has a timeout (alpaca-py sets none) and an
error answer is read the way the broker adapter reads it, secrets scrubbed
(:mod:`toolkit.connections.alpaca_http`).

Credentials come from the environment (``APCA_API_KEY_ID``, ``APCA_API_SECRET_KEY``;
``APCA_API_DATA_URL`` points the client at another server, a local stand-in in tests)
and are read only when the cache lacks something: a range already on disk runs offline.
Alpaca stamps a daily bar at midnight New York; it is stamped here at midnight UTC of
that session date, like every other daily source.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toolkit.connections import AlpacaCredentials
from toolkit.data.cache import CacheSpec, cached_bars, request_range
from toolkit.data.sources.base import BarRequest, Source
from toolkit.data.sources.registry import register
from toolkit.data.sources.remote import api_range, bars_from_records, fetch_dates, require_bars
from toolkit.data.validate import check_prices
from toolkit.errors import BrokerAuthError, BrokerError, BrokerUnavailable, ParamsError
from toolkit.time import Clock, SystemClock

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    from alpaca.common.exceptions import APIError
    from alpaca.data.historical.stock import StockHistoricalDataClient

__all__ = ["FEEDS", "REQUEST_TIMEOUT", "TIMEFRAMES", "AlpacaSource", "bars"]

#: ``data.feed`` choices, the default first.
FEEDS = ("iex", "sip")
#: Bar lengths :func:`bars` fetches.
TIMEFRAMES = ("1Day", "1Min")
#: Seconds before a data request that gets no answer fails (alpaca-py would wait for ever).
REQUEST_TIMEOUT = 30.0
#: Alpaca's spelling of a bar's fields.
_FIELDS = {"open": "o", "high": "h", "low": "l", "close": "c", "volume": "v"}


@register
class AlpacaSource(Source):
    """Daily bars of Alpaca's market data API (see the module docstring).

    ``clock`` says what "now" is (which daily bar is still forming), ``environ`` where
    the credentials are read (both default to the real ones; tests pass theirs).
    """

    name = "alpaca"
    feeds = FEEDS

    def __init__(self, *, clock: Clock | None = None, environ: Mapping[str, str] | None = None,
                 cache_root: Path | None = None) -> None:
        self._clock = clock
        self._environ = environ
        self._cache_root = cache_root

    def load(self, request: BarRequest) -> dict[str, pd.DataFrame]:
        start, end = fetch_dates(request, self.name)
        feed = request.feed or FEEDS[0]
        frames = bars(request.symbols, start, end, "1Day", feed=feed, prices=request.prices, clock=self._clock,
                      environ=self._environ, cache_root=self._cache_root)
        return require_bars(frames, request, self.name, f"Alpaca {feed} bars")


def bars(symbols: list[str], start: Any, end: Any = None, timeframe: str = "1Day", *, feed: str = "iex",
         prices: str = "raw", clock: Clock | None = None, environ: Mapping[str, str] | None = None,
         cache_root: Path | None = None) -> dict[str, pd.DataFrame]:
    """Canonical bars of ``symbols`` from Alpaca, through the local cache (:mod:`toolkit.data.cache`).

    ``timeframe``: ``"1Day"`` (``start``/``end`` are dates, both included; ``end`` None
    is today) or ``"1Min"`` (dates are New York days; timezone-aware timestamps are
    instants, ``end`` excluded; ``end`` None is now). Bars still forming at the clock's
    now are left out: today's daily bar appears once the session has closed. Minute
    bars are stamped at the start of their minute, extended hours included as Alpaca
    sends them. A symbol Alpaca has no bar for gets an empty frame.
    """
    if timeframe not in TIMEFRAMES:
        raise ParamsError("timeframe", timeframe, "one of " + ", ".join(TIMEFRAMES))
    if feed not in FEEDS:
        raise ParamsError("data.feed", feed, "one of " + ", ".join(FEEDS))
    check_prices(prices)
    now = (clock or SystemClock()).now()
    lo, hi = request_range(timeframe, start, end, now)
    spec = CacheSpec("alpaca", feed, prices, timeframe, revisable=prices == "adjusted")
    return cached_bars(spec, list(symbols), lo, hi, _AlpacaBars(feed, prices, timeframe, environ), now=now,
                       root=cache_root)


class _AlpacaBars:
    """The cache's fetch: one ``get_stock_bars`` call per range, the client opened on first use."""

    def __init__(self, feed: str, prices: str, timeframe: str, environ: Mapping[str, str] | None) -> None:
        self.feed, self.prices, self.timeframe, self.environ = feed, prices, timeframe, environ
        self._client: StockHistoricalDataClient | None = None
        self._secrets: tuple[str, ...] = ()

    def __call__(self, symbols: list[str], start: pd.Timestamp, end: pd.Timestamp) -> dict[str, pd.DataFrame]:
        import requests
        from alpaca.common.exceptions import APIError
        from alpaca.data.enums import Adjustment, DataFeed
        from alpaca.data.requests import StockBarsRequest
        from alpaca.data.timeframe import TimeFrame

        from toolkit.connections.alpaca_http import MAX_DETAIL
        from toolkit.connections.scrub import scrub_line

        client = self._client or self._open()
        first, last = api_range(self.timeframe == "1Day", start, end)
        request = StockBarsRequest(
            symbol_or_symbols=symbols,
            timeframe=TimeFrame.Day if self.timeframe == "1Day" else TimeFrame.Minute,
            start=first,
            end=last,
            adjustment=Adjustment.ALL if self.prices == "adjusted" else Adjustment.RAW,
            feed=DataFeed(self.feed),
        )
        try:
            raw: Any = client.get_stock_bars(request)
        except APIError as exc:
            raise _api_error(exc, self.feed, self._secrets) from None
        except requests.RequestException as exc:
            said = scrub_line(str(exc), self._secrets, MAX_DETAIL)
            raise BrokerUnavailable("alpaca", f"market data request failed ({type(exc).__name__}: {said}); "
                                              "run again later") from None
        return {sym: bars_from_records(sym, raw.get(sym) or [], time_key="t", fields=_FIELDS,
                                       daily=self.timeframe == "1Day") for sym in symbols}

    def _open(self) -> StockHistoricalDataClient:
        from alpaca.data.historical.stock import StockHistoricalDataClient

        from toolkit.connections.alpaca_http import set_timeout

        creds = AlpacaCredentials.from_env(self.environ)
        client = StockHistoricalDataClient(creds.key_id, creds.secret_key, raw_data=True, url_override=creds.data_url)
        set_timeout(client, REQUEST_TIMEOUT)
        self._client, self._secrets = client, creds.secrets()
        return client


def _api_error(exc: APIError, feed: str, secrets: tuple[str, ...]) -> BrokerError:
    """alpaca-py's APIError as one line: the status and Alpaca's message (an HTML body is cut short), no secret."""
    from toolkit.connections.alpaca_http import FailureKind, answer_text, classify

    status = exc.status_code
    failure = classify(exc, posting_order=False, timeout=REQUEST_TIMEOUT, secrets=secrets)
    kind = failure.kind if failure is not None else FailureKind.OTHER
    said = f"{status}: {answer_text(exc, secrets)}"
    if kind is FailureKind.AUTH:
        return BrokerAuthError("alpaca", f"market data refused ({said}); check APCA_API_KEY_ID and "
                                         f"APCA_API_SECRET_KEY, and that the account's plan includes the {feed} "
                                         "feed (data.feed)", status=status)
    if kind is FailureKind.TRANSIENT and status is not None:
        return BrokerUnavailable("alpaca", f"market data unavailable ({said}); run again later", status=status)
    return BrokerError("alpaca", f"market data request refused ({said})", status=status)
