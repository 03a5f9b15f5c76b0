"""A local Parquet cache of fetched bars: a broker's API is asked only for what is not on disk.

Sources that fetch over the network (``alpaca``, ``schwab``) read through
:func:`cached_bars`. Each (source, feed, prices, timeframe, symbol) has one file,
``<cache dir>/<source>/<feed>-<prices>-<timeframe>/<SYMBOL>.parquet``; the cache dir is
``outputs/cache/`` under the project root, or ``$TOOLKIT_CACHE_DIR`` (tests point it at a
temporary folder). A file holds the bars AND the range the source was asked for (its
coverage, in the Parquet metadata), so a range the source answered with no bars (before
a fund was listed, a holiday) is not asked again.

* A request inside the coverage asks nothing; a wider one asks only for the part before
  the covered start and the part after the covered end (a gap between a request and the
  coverage is bridged, so the coverage stays one range).
* Bars still forming are never cached, nor returned: a daily bar only once its session
  has closed by the exchange calendar (early closes included), a minute bar one minute
  after its minute ended. "Now" comes from the caller's clock.
* Adjusted prices change after the fact (a dividend rescales all earlier bars). For such
  "revisable" data every extension asks again for the cached bar next to it; when that
  bar comes back different, the whole file is fetched again rather than stitching two
  adjustments together.
* Writes are atomic (a temporary file in the same folder, fsynced, then renamed), so a
  crash leaves the old file or the new one, never half of one. An unreadable or invalid
  file is fetched again, with a warning.
* Every frame returned carries ``attrs[CACHE_SHA256]``, the sha256 of its file's bytes:
  :func:`toolkit.data.load_dataset` folds it into the run's data fingerprint (manifest.json).

Ranges are half-open UTC instants ``[start, end)`` on the bars' own timestamps (daily bars
are stamped at midnight UTC of their session date, see :mod:`toolkit.data.validate`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from toolkit.data.validate import PRICE_FIELDS, bar_frame, validate_bars
from toolkit.errors import ParamsError
from toolkit.model.timestamps import NEW_YORK
from toolkit.time import execution_instant, is_session, previous_session, session_date

__all__ = [
    "CACHE_ENV",
    "CACHE_FILE",
    "CACHE_SHA256",
    "TIMEFRAMES",
    "CacheSpec",
    "CachedBars",
    "Fetch",
    "cache_dir",
    "cached_bars",
    "complete_before",
    "empty_bars",
    "missing_ranges",
    "read_cached",
    "request_range",
    "write_cached",
]

#: Environment variable naming another cache folder (tests; a shared disk).
CACHE_ENV = "TOOLKIT_CACHE_DIR"
#: ``frame.attrs`` keys of a cached frame: its file's sha256 and path.
CACHE_SHA256 = "cache_sha256"
CACHE_FILE = "cache_file"
#: Bar lengths the cache knows how to tell finished from forming.
TIMEFRAMES = ("1Day", "1Min")

_META_KEY = b"toolkit.cache"
_FORMAT = 1
_DAY = pd.Timedelta(days=1)
_MINUTE = pd.Timedelta(minutes=1)
#: A minute bar is final one minute after its minute ended (late prints reach the feed).
_MINUTE_SETTLE = pd.Timedelta(minutes=1)
#: How far past an anchor bar's stamp a range reaches to include it (bars are whole minutes apart).
_ANCHOR_SLACK = pd.Timedelta(seconds=1)

#: ``fetch(symbols, start, end)``: bars of each symbol stamped in ``[start, end)`` (more is dropped).
Fetch = Callable[[list[str], pd.Timestamp, pd.Timestamp], Mapping[str, pd.DataFrame]]


def cache_dir() -> Path:
    """``$TOOLKIT_CACHE_DIR``, else ``outputs/cache`` under the project root."""
    env = os.environ.get(CACHE_ENV, "").strip()
    if env:
        return Path(env).expanduser()
    from toolkit.params.files import repo_root

    return repo_root() / "outputs" / "cache"


@dataclass(frozen=True)
class CacheSpec:
    """What a cache file holds besides its symbol: where the bars come from and in what form.

    ``revisable``: the source may restate earlier bars later (adjusted prices), so an
    extension re-checks the cached bar next to it (see the module docstring).
    """

    source: str
    feed: str | None
    prices: str
    timeframe: str = "1Day"
    revisable: bool = False

    def __post_init__(self) -> None:
        if self.timeframe not in TIMEFRAMES:
            raise ParamsError("timeframe", self.timeframe, "one of " + ", ".join(TIMEFRAMES))

    def path(self, symbol: str, root: Path | None = None) -> Path:
        """The file of ``symbol``'s bars (under ``root``, else :func:`cache_dir`)."""
        folder = f"{self.feed or 'default'}-{self.prices}-{self.timeframe}"
        return (root or cache_dir()) / _safe(self.source) / folder / f"{_safe(symbol)}.parquet"

    def meta(self, symbol: str) -> dict[str, Any]:
        return {"format": _FORMAT, "source": self.source, "feed": self.feed, "prices": self.prices,
                "timeframe": self.timeframe, "symbol": symbol}


@dataclass(frozen=True)
class CachedBars:
    """One cache file: its bars, the range ``[start, end)`` the source was asked for, its sha256."""

    bars: pd.DataFrame
    start: pd.Timestamp
    end: pd.Timestamp
    sha256: str
    path: Path


def _safe(name: str) -> str:
    """A file name for a symbol (``BRK/B`` -> ``BRK%2FB``): letters, digits, ``. _ -`` kept."""
    out = re.sub(r"[^A-Za-z0-9._-]", lambda m: "%" + "".join(f"{b:02X}" for b in m.group().encode()), name)
    return "%2E" + out[1:] if out.startswith(".") else out


def empty_bars() -> pd.DataFrame:
    """A canonical bar frame with no rows."""
    return bar_frame(np.empty((0, 5)), pd.DatetimeIndex([], tz="UTC", name="timestamp"))


# --------------------------------------------------------------------------- files


def read_cached(spec: CacheSpec, symbol: str, *, root: Path | None = None) -> CachedBars | None:
    """The cache file of ``symbol``, or None when there is none (or it cannot be used: warned)."""
    import pyarrow.parquet as pq

    path = spec.path(symbol, root)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        table = pq.read_table(_buffer(data))
        meta = json.loads((table.schema.metadata or {})[_META_KEY])
        if {k: meta.get(k) for k in spec.meta(symbol)} != spec.meta(symbol):
            raise ValueError(f"it holds {meta.get('source')}/{meta.get('symbol')} bars, not {spec.source}/{symbol}")
        bars = validate_bars(table.to_pandas(), symbol)
        start, end = pd.Timestamp(meta["start"]), pd.Timestamp(meta["end"])
    except Exception as exc:  # pyarrow, json and validation errors share no base; the file is fetched again
        text = str(exc).strip().splitlines()
        warnings.warn(f"{path}: unusable cache file ({text[0] if text else type(exc).__name__}); "
                      "its bars are fetched again", stacklevel=2)
        return None
    return CachedBars(bars, start, end, hashlib.sha256(data).hexdigest(), path)


def _buffer(data: bytes) -> Any:
    """``data`` as a pyarrow buffer reader (what ``pq.read_table`` takes without a file)."""
    import pyarrow as pa

    return pa.BufferReader(data)


def write_cached(spec: CacheSpec, symbol: str, bars: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp,
                 *, root: Path | None = None) -> CachedBars:
    """Write ``bars`` covering ``[start, end)`` as ``symbol``'s cache file, atomically."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(bars, preserve_index=True)
    meta = {**spec.meta(symbol), "start": start.isoformat(), "end": end.isoformat()}
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), _META_KEY: json.dumps(meta).encode()})
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    data = sink.getvalue().to_pybytes()
    path = spec.path(symbol, root)
    atomic_write(path, data)
    return CachedBars(bars, start, end, hashlib.sha256(data).hexdigest(), path)


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


# --------------------------------------------------------------------------- time


def complete_before(timeframe: str, now: pd.Timestamp) -> pd.Timestamp:
    """The first bar stamp that may still be forming at ``now``: bars stamped before it are final.

    Daily: midnight UTC after the last session whose close (by the exchange calendar,
    early closes included) is at or before ``now``. Minute: one settle minute before the
    start of the current minute.
    """
    if timeframe == "1Min":
        return now.floor("min") - _MINUTE_SETTLE
    today = session_date(now)
    closed = is_session(today) and now >= execution_instant(today, "close")
    last = today if closed else previous_session(today)
    return pd.Timestamp(last).tz_localize("UTC") + _DAY


def request_range(timeframe: str, start: Any, end: Any, now: pd.Timestamp) -> tuple[pd.Timestamp, pd.Timestamp]:
    """``[start, end)`` in bar stamps for dates or instants as a caller writes them.

    Daily: ``start`` and ``end`` are dates, both included (``end`` None: today in New
    York). Minute: a date means that New York day (``end`` included), a timezone-aware
    timestamp an instant (``end`` excluded); ``end`` None is ``now``. A naive timestamp
    with a time of day is refused: New York or UTC is not ours to guess.
    """
    if timeframe == "1Day":
        first = _date(start, "start")
        last = session_date(now).date() if end is None else _date(end, "end")
        lo = pd.Timestamp(first).tz_localize("UTC")
        return lo, pd.Timestamp(last).tz_localize("UTC") + _DAY
    lo = _instant(start, "start", next_day=False)
    hi = now if end is None else _instant(end, "end", next_day=True)
    return lo, hi


def _timestamp(value: Any, field: str) -> pd.Timestamp:
    allowed = "a date such as 2016-01-04 or a timestamp with a timezone"
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError):
        raise ParamsError(field, value, allowed) from None
    if pd.isna(ts):
        raise ParamsError(field, value, allowed)
    return ts


def _date(value: Any, field: str) -> dt.date:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    ts = _timestamp(value, field)
    if ts.tzinfo is not None:
        ts = ts.tz_convert(NEW_YORK).tz_localize(None)
    return ts.date()


def _instant(value: Any, field: str, *, next_day: bool) -> pd.Timestamp:
    ts = _timestamp(value, field)
    if ts.tzinfo is not None:
        return ts.tz_convert("UTC")
    if ts != ts.normalize():
        raise ParamsError(field, value, "a date, or a timestamp with a timezone (naive times are ambiguous)")
    day = ts + _DAY if next_day else ts
    return day.tz_localize(NEW_YORK).tz_convert("UTC")


# --------------------------------------------------------------------------- fetching


def missing_ranges(cached: CachedBars | None, start: pd.Timestamp, end: pd.Timestamp
                   ) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """The parts of ``[start, end)`` the cache does not cover: before its start, after its end."""
    if cached is None:
        return [(start, end)] if end > start else []
    out = []
    if start < cached.start:
        out.append((start, cached.start))
    if end > cached.end:
        out.append((cached.end, end))
    return out


def _anchors(spec: CacheSpec, cached: CachedBars | None, ranges: list[tuple[pd.Timestamp, pd.Timestamp]]
             ) -> list[pd.Timestamp | None]:
    """Per missing range, the cached bar asked again with it (revisable data only): the first
    cached bar for the range before the coverage, the last one for the range after it."""
    if not spec.revisable or cached is None or not len(cached.bars):
        return [None] * len(ranges)
    first, last = cached.bars.index[0], cached.bars.index[-1]
    return [first if b == cached.start else last for _, b in ranges]


def _asks(ranges: list[tuple[pd.Timestamp, pd.Timestamp]], anchors: list[pd.Timestamp | None]
          ) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """The missing ranges, each widened to include its anchor bar (if any)."""
    out = []
    for (a, b), anchor in zip(ranges, anchors, strict=True):
        if anchor is None:
            out.append((a, b))
        elif anchor >= b:  # the range before the coverage: up to and including its first bar
            out.append((a, anchor + _ANCHOR_SLACK))
        else:  # the range after it: from its last bar on
            out.append((anchor, b))
    return out


def _within(frame: pd.DataFrame | None, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    if frame is None or not len(frame):
        return empty_bars()
    index = pd.DatetimeIndex(frame.index)
    return frame.loc[(index >= start) & (index < end)]


def _anchors_hold(cached: pd.DataFrame, fetched: pd.DataFrame, anchors: list[pd.Timestamp]) -> bool:
    """True when the source sent every anchor bar again with the prices the cache holds."""
    wanted = pd.DatetimeIndex(anchors)
    if not wanted.isin(fetched.index).all():
        return False
    old = cached.loc[wanted, list(PRICE_FIELDS)].to_numpy()
    new = fetched.loc[wanted, list(PRICE_FIELDS)].to_numpy()
    return bool(np.allclose(old, new, rtol=1e-9, atol=0.0))


def cached_bars(spec: CacheSpec, symbols: list[str], start: pd.Timestamp, end: pd.Timestamp, fetch: Fetch, *,
                now: pd.Timestamp, root: Path | None = None) -> dict[str, pd.DataFrame]:
    """Bars of ``symbols`` stamped in ``[start, end)``, final at ``now``, through the cache.

    ``fetch`` is called only for what the cache lacks, once per distinct missing range
    with every symbol that lacks exactly that range (one request for a portfolio whose
    files cover the same dates). A symbol with no bar at all gets an empty frame and no
    file. Each returned frame that has a file carries ``attrs[CACHE_SHA256]`` and
    ``attrs[CACHE_FILE]``.
    """
    end = min(end, complete_before(spec.timeframe, now))
    if end <= start:
        return {sym: empty_bars() for sym in symbols}
    cached = {sym: read_cached(spec, sym, root=root) for sym in symbols}
    groups: dict[tuple[tuple[pd.Timestamp, pd.Timestamp], ...], list[str]] = {}
    anchors: dict[str, list[pd.Timestamp]] = {}
    for sym in symbols:
        ranges = missing_ranges(cached[sym], start, end)
        marks = _anchors(spec, cached[sym], ranges)
        anchors[sym] = [m for m in marks if m is not None]
        asks = tuple(_asks(ranges, marks))
        if asks:
            groups.setdefault(asks, []).append(sym)
    fetched: dict[str, list[pd.DataFrame]] = {}
    for asks, syms in groups.items():
        for a, b in asks:
            got = fetch(list(syms), a, b)
            for sym in syms:
                fetched.setdefault(sym, []).append(_within(got.get(sym), a, b))
    out: dict[str, pd.DataFrame] = {}
    for sym in symbols:
        entry = cached[sym]
        if sym in fetched:
            entry = _merge(spec, sym, entry, fetched[sym], anchors[sym], start, end, fetch, root)
        if entry is None:
            out[sym] = empty_bars()
            continue
        frame = _within(entry.bars, start, end).copy()
        frame.attrs[CACHE_SHA256] = entry.sha256
        frame.attrs[CACHE_FILE] = str(entry.path)
        out[sym] = frame
    return out


def _merge(spec: CacheSpec, symbol: str, cached: CachedBars | None, parts: list[pd.DataFrame],
           anchors: list[pd.Timestamp], start: pd.Timestamp, end: pd.Timestamp, fetch: Fetch,
           root: Path | None) -> CachedBars | None:
    """Join freshly fetched parts to the cached bars and write the file (None: no bar at all)."""
    parts = [p for p in parts if len(p)]
    new = pd.concat(parts) if parts else empty_bars()
    new = new.loc[~new.index.duplicated(keep="last")]  # one anchor bar can come with both ranges
    if cached is None:
        lo, hi, old = start, end, empty_bars()
    else:
        lo, hi, old = min(start, cached.start), max(end, cached.end), cached.bars
        if anchors and not _anchors_hold(old, new, anchors):
            warnings.warn(f"{symbol}: {spec.source} restated bars already cached (a split or dividend since "
                          f"they were fetched): its {spec.prices} history is fetched again", stacklevel=3)
            new, old = _within(fetch([symbol], lo, hi).get(symbol), lo, hi), empty_bars()
    new = new.loc[~new.index.isin(old.index)]
    bars = pd.concat([old, new]).sort_index(kind="stable") if len(new) else old
    if not len(bars):
        return None
    return write_cached(spec, symbol, validate_bars(bars, symbol), lo, hi, root=root)
