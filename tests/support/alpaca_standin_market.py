"""Market data and time of the Alpaca stand-in (see ``alpaca_standin.py``): bars, calendar, trades.

Bars come from real files through ``toolkit.data``'s loader; the calendar is
``exchange_calendars``' XNYS, early closes included. Nothing later than the stand-in's "now"
is ever served: that is what lets a test run a session "at 15:45" on history.
Also the small helpers every part of the stand-in shares (Alpaca's error shape, times, numbers).
"""

from __future__ import annotations

import base64
import json
import re
import threading
import uuid
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

NY = ZoneInfo("America/New_York")
#: Namespace of the stand-in's ids: the same calls give the same ids, run after run.
ID_SPACE = uuid.UUID("5a1f0c3e-2b7d-4c8e-9f10-a1b2c3d4e5f6")
TIMEFRAMES = {"1Day": "day", "1D": "day", "1Min": "min", "1T": "min"}


class ApiError(Exception):
    """An answer other than 2xx, in Alpaca's ``{"code", "message"}`` shape."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def invalid(message: str) -> ApiError:
    return ApiError(422, 40010001, message)


# --------------------------------------------------------------------------- small helpers


def utc_text(t: datetime) -> str:
    """RFC-3339 in UTC with microseconds, as Alpaca stamps orders and fills."""
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def ns_text(ns: int) -> str:
    """A bar or trade time: RFC-3339 in UTC, seconds (with microseconds when there are any)."""
    t = datetime.fromtimestamp(ns // 10**9, UTC) + timedelta(microseconds=(ns % 10**9) // 1000)
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ" if t.microsecond else "%Y-%m-%dT%H:%M:%SZ")


def to_ns(t: datetime) -> int:
    return int(t.timestamp()) * 10**9 + t.microsecond * 1000


def parse_time(text: Any, field: str) -> datetime:
    """An RFC-3339 time (naive = UTC) or a YYYY-MM-DD date (= midnight New York), in UTC."""
    raw = str(text).strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
        return datetime.combine(date.fromisoformat(raw), time(), NY).astimezone(UTC)
    if re.search(r" \d{2}:?\d{2}$", raw):  # an unescaped "+" in a query string arrives as a space
        raw = raw[:-6] + "+" + raw[-5:] if raw[-3] == ":" else raw[:-5] + "+" + raw[-4:]
    try:
        t = datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise invalid(f"{field} {raw!r} is not an RFC-3339 time or a YYYY-MM-DD date") from None
    return (t if t.tzinfo else t.replace(tzinfo=UTC)).astimezone(UTC)


def parse_date(text: Any, field: str) -> date:
    try:
        return date.fromisoformat(str(text).strip()[:10])
    except ValueError:
        raise invalid(f"{field} {text!r} is not a YYYY-MM-DD date") from None


def dec(value: Any, field: str) -> Decimal:
    try:
        d = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise invalid(f"{field} {value!r} is not a number") from None
    if not d.is_finite():
        raise invalid(f"{field} {value!r} is not a finite number")
    return d


def num(d: Decimal | None) -> str | None:
    """Alpaca's number strings: ``"10"``, ``"201.02"``, never an exponent."""
    if d is None:
        return None
    text = format(d.normalize(), "f")
    return "0" if text in ("-0", "0") else text


def price_of(x: float) -> Decimal:
    """A float read from a file as the decimal it was written as (``201.02``, not ``201.0199...``)."""
    return Decimal(repr(float(x)))


def flag(value: Any, field: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no", ""):
        return False
    raise invalid(f"{field} {value!r} is not true or false")


def whole(value: Any, field: str, low: int, high: int) -> int:
    try:
        n = int(str(value))
    except ValueError:
        raise invalid(f"invalid {field} {value!r}, {field} must be between {low} and {high}") from None
    if not low <= n <= high:
        raise invalid(f"invalid {field}, {field} must be between {low} and {high}")
    return n


def stable_id(*parts: Any) -> str:
    return str(uuid.uuid5(ID_SPACE, ":".join(str(p) for p in parts)))


# --------------------------------------------------------------------------- calendar


@dataclass(frozen=True)
class Sessions:
    """XNYS sessions as arrays: ``opens``/``closes`` in UTC nanoseconds, early closes included."""

    dates: list[date]
    opens: np.ndarray
    closes: np.ndarray
    index: dict[date, int]

    def containing_or_next(self, now_ns: int) -> int:
        """Index of the first session that has not closed at ``now_ns``."""
        i = int(np.searchsorted(self.closes, now_ns, side="right"))
        if i >= len(self.dates):
            raise ApiError(500, 50010000, "the stand-in's calendar ends before now")
        return i

    def is_open(self, now_ns: int) -> bool:
        i = int(np.searchsorted(self.closes, now_ns, side="right"))
        return i < len(self.dates) and self.opens[i] <= now_ns

    def hours(self, day: date) -> tuple[int, int]:
        """Open and close of ``day``; a date that is no session gets 09:30-16:00 New York."""
        i = self.index.get(day)
        if i is not None:
            return int(self.opens[i]), int(self.closes[i])
        return (to_ns(datetime.combine(day, time(9, 30), NY)), to_ns(datetime.combine(day, time(16), NY)))


@lru_cache(maxsize=1)
def xnys() -> Sessions:
    """Built once per process (about 0.3 s): 1990 to a year past today."""
    import exchange_calendars as xc
    import pandas as pd

    schedule = xc.get_calendar("XNYS", start="1990-01-01").schedule
    dates = [d.date() for d in schedule.index]
    opens = pd.DatetimeIndex(schedule["open"]).asi8.copy()
    closes = pd.DatetimeIndex(schedule["close"]).asi8.copy()
    return Sessions(dates, opens, closes, {d: i for i, d in enumerate(dates)})


def settlement_days(day: date) -> int:
    """T+3 until 2017-09-05, T+2 until 2024-05-28, then T+1 (SEC rules)."""
    return 3 if day < date(2017, 9, 5) else 2 if day < date(2024, 5, 28) else 1


# --------------------------------------------------------------------------- market data


@dataclass(frozen=True)
class Bars:
    """One symbol's bars as arrays; ``t`` is what Alpaca stamps (daily: midnight New York)."""

    t: np.ndarray
    o: np.ndarray
    h: np.ndarray
    lo: np.ndarray
    c: np.ndarray
    v: np.ndarray
    opens: np.ndarray | None = None  # daily only: session open and close, for what "now" may see
    closes: np.ndarray | None = None

    def take(self, stop: int, last: tuple[float, float, float, float, float] | None = None) -> Bars:
        """The first ``stop`` bars, the last of them replaced by ``last`` (o, h, l, c, v) when given."""
        cols = [a[:stop].copy() for a in (self.o, self.h, self.lo, self.c, self.v)]
        if last is not None and stop:
            for col, value in zip(cols, last, strict=True):
                col[-1] = value
        return Bars(self.t[:stop], *cols)


@lru_cache(maxsize=32)
def _read_bars(path: str, prices: str) -> dict[str, Any]:
    """Every symbol in a file or folder through the toolkit's own loader (cached per process).

    The loader's cleaning warnings (duplicate rows in the minute files) are about the files,
    which their README documents, not about the stand-in: they are not repeated here.
    """
    from toolkit.data.files import load_files

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_files(path, prices=prices)


class Market:
    """Daily and minute bars per symbol from ``--bars`` paths, and what "now" may see of them."""

    def __init__(self, paths: Sequence[str | Path], symbols: Sequence[str] | None = None) -> None:
        self.paths = [str(Path(p).resolve()) for p in paths]
        self.wanted = {s.strip().upper() for s in symbols if s.strip()} if symbols else None
        self.sessions = xnys()
        self._bars: dict[tuple[str, str, str], Bars] = {}
        self._loaded: set[str] = set()
        self._lock = threading.Lock()
        self._load("raw")
        if self.wanted:
            missing = sorted(self.wanted - self.symbols)
            if missing:
                have = ", ".join(sorted(self.symbols)) or "none"
                raise ValueError(f"--symbols {','.join(missing)} not found in --bars {self.paths} (they hold {have})")

    @property
    def symbols(self) -> set[str]:
        return {sym for sym, _, prices in self._bars if prices == "raw"}

    def _load(self, prices: str) -> None:
        """Read every path for one price set; ``adjusted`` falls back to raw where a file has none."""
        with self._lock:
            if prices in self._loaded:
                return
            for path in self.paths:
                try:
                    frames = _read_bars(path, prices)
                except Exception:
                    if prices == "raw":
                        raise
                    frames = _read_bars(path, "raw")
                for name, frame in frames.items():
                    sym = str(name).upper()
                    if self.wanted is not None and sym not in self.wanted:
                        continue
                    index = frame.index
                    kind = "min" if bool((index != index.normalize()).any()) else "day"
                    key = (sym, kind, prices)
                    if key in self._bars:
                        raise ValueError(f"{sym}: {kind} bars found in two --bars paths; give one of them")
                    self._bars[key] = self._arrays(frame, kind)
            self._loaded.add(prices)

    def _arrays(self, frame: Any, kind: str) -> Bars:
        o, h, lo, c, v = (frame[col].to_numpy(dtype=float) for col in ("open", "high", "low", "close", "volume"))
        if kind == "min":
            return Bars(frame.index.asi8.copy(), o, h, lo, c, v)
        days = [ts.date() for ts in frame.index]
        hours = [self.sessions.hours(d) for d in days]
        stamps = np.array([to_ns(datetime.combine(d, time(), NY)) for d in days], dtype=np.int64)
        return Bars(stamps, o, h, lo, c, v, opens=np.array([h[0] for h in hours], dtype=np.int64),
                    closes=np.array([h[1] for h in hours], dtype=np.int64))

    def has(self, symbol: str) -> bool:
        return symbol in self.symbols

    def _get(self, symbol: str, kind: str, prices: str) -> Bars | None:
        if prices not in self._loaded:
            self._load(prices)
        return self._bars.get((symbol, kind, prices))

    def minute_view(self, symbol: str, prices: str, now_ns: int) -> Bars | None:
        bars = self._get(symbol, "min", prices)
        if bars is None:
            return None
        return bars.take(int(np.searchsorted(bars.t, now_ns, side="right")))

    def daily_view(self, symbol: str, prices: str, now_ns: int) -> Bars | None:
        """Daily bars whose session has opened by now; a session under way is built from its minutes."""
        bars = self._get(symbol, "day", prices)
        if bars is None or bars.opens is None or bars.closes is None:
            return None
        stop = int(np.searchsorted(bars.opens, now_ns, side="right"))
        if stop == 0 or now_ns >= bars.closes[stop - 1]:
            return bars.take(stop)
        minutes = self._get(symbol, "min", prices)
        if minutes is None:
            return bars.take(stop)
        lo = int(np.searchsorted(minutes.t, bars.opens[stop - 1], side="left"))
        hi = int(np.searchsorted(minutes.t, now_ns, side="right"))
        if hi <= lo:
            return bars.take(stop)
        forming = (float(minutes.o[lo]), float(minutes.h[lo:hi].max()), float(minutes.lo[lo:hi].min()),
                   float(minutes.c[hi - 1]), float(minutes.v[lo:hi].sum()))
        return bars.take(stop, forming)

    def last_trade(self, symbol: str, now_ns: int) -> tuple[Decimal, int] | None:
        """Close and stamp of the last minute bar at or before now, else of the last daily bar shown."""
        found: list[tuple[int, Decimal]] = []
        for view in (self.minute_view(symbol, "raw", now_ns), self.daily_view(symbol, "raw", now_ns)):
            if view is not None and len(view.t):
                found.append((int(view.t[-1]), price_of(view.c[-1])))
        if not found:
            return None
        stamp, price = max(found, key=lambda pair: pair[0])
        return price, stamp

    def bars_page(self, query: dict[str, str], now_ns: int, page_cap: int) -> dict[str, Any]:
        """One page of ``GET /v2/stocks/bars``: symbols in name order, one limit across all of them."""
        symbols = sorted({s.strip().upper() for s in query.get("symbols", "").split(",") if s.strip()})
        if not symbols:
            raise ApiError(400, 40010001, "missing symbols")
        timeframe = query.get("timeframe", "")
        kind = TIMEFRAMES.get(timeframe)
        if kind is None:
            raise ApiError(400, 42210000, f"invalid timeframe {timeframe!r}: the stand-in serves 1Day and 1Min")
        adjustment = query.get("adjustment", "raw")
        if adjustment not in ("raw", "split", "dividend", "all"):
            raise ApiError(400, 42210000, f"invalid adjustment {adjustment!r}")
        prices = "raw" if adjustment == "raw" else "adjusted"
        feed = query.get("feed", "sip")
        if feed not in ("sip", "iex", "otc", "boats", "delayed_sip"):
            raise ApiError(400, 42210000, f"invalid feed {feed!r}")
        limit = whole(query.get("limit") or 1000, "limit", 1, 10_000)
        per_page = min(limit, page_cap)
        end_ns = min(to_ns(parse_time(query["end"], "end")), now_ns) if query.get("end") else now_ns
        day_start = datetime.combine(datetime.fromtimestamp(now_ns / 1e9, NY).date(), time(), NY)
        start_ns = to_ns(parse_time(query["start"], "start")) if query.get("start") else to_ns(day_start)
        descending = query.get("sort", "asc") == "desc"
        after = _decode_token(query["page_token"]) if query.get("page_token") else None

        out: dict[str, list[dict[str, Any]]] = {}
        taken, last, more = 0, None, False
        for sym in symbols:
            if after is not None and sym < after[0]:
                continue
            view = self.daily_view(sym, prices, now_ns) if kind == "day" else self.minute_view(sym, prices, now_ns)
            if view is None:
                continue
            lo = int(np.searchsorted(view.t, start_ns, side="left"))
            hi = int(np.searchsorted(view.t, end_ns, side="right"))
            if after is not None and sym == after[0]:
                if descending:
                    hi = min(hi, int(np.searchsorted(view.t, after[1], side="left")))
                else:
                    lo = max(lo, int(np.searchsorted(view.t, after[1], side="right")))
            rows = range(hi - 1, lo - 1, -1) if descending else range(lo, hi)
            for i in rows:
                if taken == per_page:
                    more = True
                    break
                out.setdefault(sym, []).append(_bar_json(view, i))
                taken, last = taken + 1, (sym, int(view.t[i]))
            if more:
                break
        token = _encode_token(last) if more and last is not None else None
        return {"bars": out, "next_page_token": token}


def _bar_json(view: Bars, i: int) -> dict[str, Any]:
    """Alpaca's bar keys; ``n`` (trade count) is unknown from the files (0), ``vw`` is (h+l+c)/3."""
    volume = float(view.v[i])
    o, h, lo, c = (float(a[i]) for a in (view.o, view.h, view.lo, view.c))
    return {"t": ns_text(int(view.t[i])), "o": o, "h": h, "l": lo, "c": c,
            "v": int(volume) if volume.is_integer() else volume, "n": 0, "vw": round((h + lo + c) / 3, 4)}


def _encode_token(last: tuple[str, int]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(last)).encode()).decode()


def _decode_token(token: str) -> tuple[str, int]:
    try:
        sym, stamp = json.loads(base64.urlsafe_b64decode(token.encode()))
        return str(sym), int(stamp)
    except (ValueError, TypeError):
        raise ApiError(400, 42210000, "invalid page_token") from None
