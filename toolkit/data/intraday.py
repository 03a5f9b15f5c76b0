"""Minute bars (``data.intraday``): where they come from, and positional reads of them.

A daily bar has no price at 15:55. When a run trades at an intraday execution time, the
dry run and the replay can price it from minute bars instead (the rule itself lives in
:mod:`toolkit.engine.intraday`); this module gets those bars and reads them fast.

Sources are a small registry, like :mod:`toolkit.data.sources` for daily bars: a
:class:`MinuteSource` turns a :class:`MinuteRequest` into :class:`MinuteBars` (canonical
frames, see :mod:`toolkit.data.validate`, plus a one-line origin per symbol that the
report shows next to the price). Built in: ``csv``, the user's CSV/Parquet minute files,
read by :func:`toolkit.data.files.load_files_with_paths` in their publisher's layout
(yfinance-style ``Datetime`` with a New York offset, duplicate rows, dividend-only rows
are all handled there); ``alpaca``, Alpaca's 1-minute bars through the local Parquet
cache (:func:`toolkit.data.sources.alpaca.bars` with ``timeframe="1Min"``: only missing
ranges are fetched, credentials are read only then). Another source registers a
:class:`MinuteSource` from a module listed in :data:`MINUTE_SOURCE_MODULES`.

Minute bars are stamped at the START of their minute (yfinance, Alpaca, Polygon all do):
the bar stamped 15:55 New York holds the trades from 15:55:00 to 15:55:59, and its close
is the last of them. A file of daily bars given as minute bars is refused.
"""

from __future__ import annotations

import datetime as dt
import importlib
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import pandas as pd

from toolkit.data.files import load_files_with_paths
from toolkit.errors import ParamsError

if TYPE_CHECKING:  # pragma: no cover
    from toolkit.time import Clock

__all__ = [
    "MINUTE_SOURCE_MODULES",
    "AlpacaMinuteSource",
    "FilesMinuteSource",
    "MinuteBars",
    "MinuteBook",
    "MinuteRequest",
    "MinuteSource",
    "allowed_minute_sources",
    "minute_sources",
    "register_minute_source",
]

#: Modules that register minute sources, imported on first lookup. The Alpaca data
#: source (toolkit/data/sources/alpaca.py) joins this list when it registers one.
MINUTE_SOURCE_MODULES: list[str] = ["toolkit.data.intraday"]

_REGISTRY: dict[str, type[MinuteSource]] = {}


@dataclass(frozen=True)
class MinuteRequest:
    """The minute bars a run asks for: ``symbols`` over the sessions ``start..end`` (New York dates).

    ``path`` is the resolved ``data.intraday.path`` (sources that read files);
    ``shown_path`` is the same path as the params spelled it, for origins in reports
    (no machine's absolute path in an archived report). A source may return more
    dates than asked for.
    """

    symbols: list[str]
    start: dt.date
    end: dt.date
    prices: str = "adjusted"
    path: Path | None = None
    shown_path: str | None = None
    feed: str | None = None


@dataclass
class MinuteBars:
    """Canonical minute frames per symbol and where each came from (a file, a cache)."""

    frames: dict[str, pd.DataFrame]
    origins: dict[str, str] = field(default_factory=dict)


class MinuteSource(ABC):
    """A provider of minute bars, known to params files by :attr:`name` (``data.intraday.source``)."""

    name: ClassVar[str]
    #: Whether the source reads files at ``data.intraday.path`` (required then, refused otherwise).
    takes_path: ClassVar[bool] = False
    #: ``data.intraday.feed`` choices, the default first (empty: the source has no feeds).
    feeds: ClassVar[tuple[str, ...]] = ()

    @abstractmethod
    def load(self, request: MinuteRequest) -> MinuteBars:
        """Minute bars of every requested symbol, or a ParamsError naming the ``data.intraday`` field."""


def register_minute_source(cls: type[MinuteSource]) -> type[MinuteSource]:
    """Class decorator: make ``cls`` available as ``data.intraday.source: <cls.name>``."""
    if cls.name in _REGISTRY and _REGISTRY[cls.name] is not cls:
        raise ValueError(f"minute source name {cls.name!r} registered twice")
    _REGISTRY[cls.name] = cls
    return cls


def minute_sources() -> dict[str, type[MinuteSource]]:
    """Every registered minute source by name (the modules of :data:`MINUTE_SOURCE_MODULES` imported first)."""
    for mod in MINUTE_SOURCE_MODULES:
        importlib.import_module(mod)
    return dict(_REGISTRY)


def allowed_minute_sources() -> str:
    """What ``data.intraday.source`` may be, said for an error message."""
    return ", ".join(minute_sources())


@register_minute_source
class FilesMinuteSource(MinuteSource):
    """``data.intraday: {path: FILE_OR_DIR}``: CSV/Parquet minute files, one symbol per file or a long table."""

    name = "csv"
    takes_path = True

    def load(self, request: MinuteRequest) -> MinuteBars:
        if request.path is None:
            raise ParamsError("data.intraday.path", None, "a file or folder of minute bars (data.intraday.source: csv)")
        shown = request.shown_path if request.shown_path is not None else str(request.path)
        try:
            found = load_files_with_paths(request.path, request.symbols, prices=request.prices)
        except ParamsError as exc:
            if exc.field == "data.symbols":  # the files lack a symbol of the run
                raise ParamsError("data.intraday.path", shown,
                                  f"minute bars of every symbol of the run; {exc.value} is missing "
                                  f"(the files hold {exc.allowed.removeprefix('one of ')})") from None
            if exc.field == "data.path":
                raise ParamsError("data.intraday.path", shown, exc.allowed) from None
            raise
        frames: dict[str, pd.DataFrame] = {}
        origins: dict[str, str] = {}
        for sym, (file, frame) in found.items():
            idx = pd.DatetimeIndex(frame.index)
            if len(idx) and bool((idx == idx.normalize()).all()):
                raise ParamsError("data.intraday.path", shown,
                                  f"minute bars (timestamps with a time of day); {file.name} holds daily bars")
            frames[sym] = frame
            origins[sym] = shown if request.path.is_file() else str(PurePath(shown) / file.name)
        return MinuteBars(frames, origins)


@register_minute_source
class AlpacaMinuteSource(MinuteSource):
    """``data.intraday: {source: alpaca}``: Alpaca's 1-minute bars through the local cache.

    ``feed``: ``iex`` (free, the default) or ``sip``. IEX sees a fraction of the trades, so
    a thinly traded fund can go minutes without a bar; the staleness rule then stops a
    session rather than use an old one (``guards.max_data_age`` widens it). Extended-hours
    bars come along and are ignored: only the session's regular hours price it.
    """

    name = "alpaca"
    feeds = ("iex", "sip")

    def __init__(self, *, clock: Clock | None = None, environ: Mapping[str, str] | None = None,
                 cache_root: Path | None = None) -> None:
        self._clock = clock
        self._environ = environ
        self._cache_root = cache_root

    def load(self, request: MinuteRequest) -> MinuteBars:
        from toolkit.data.sources.alpaca import bars

        feed = request.feed or self.feeds[0]
        frames = bars(request.symbols, request.start, request.end, "1Min", feed=feed, prices=request.prices,
                      clock=self._clock, environ=self._environ, cache_root=self._cache_root)
        got = {sym: frame for sym, frame in frames.items() if len(frame)}
        return MinuteBars(got, {sym: f"Alpaca {feed} minute bars" for sym in got})


class MinuteBook:
    """Minute bars of several symbols as numpy arrays, read by position (no pandas per lookup).

    One ``searchsorted`` finds the bars of a symbol between two instants; a replay asks
    this for every session, so it must not cost a DataFrame slice each time.
    """

    def __init__(self, bars: MinuteBars) -> None:
        self._stamps: dict[str, np.ndarray] = {}
        self._values: dict[str, np.ndarray] = {}
        self.origins: dict[str, str] = dict(bars.origins)
        for sym, frame in bars.frames.items():
            self._stamps[sym] = pd.DatetimeIndex(frame.index).as_unit("ns").asi8
            self._values[sym] = frame[["open", "high", "low", "close", "volume"]].to_numpy(dtype=np.float64)
        #: Symbols with minute bars, in the order given.
        self.symbols: list[str] = list(bars.frames)

    def has(self, symbol: str) -> bool:
        return symbol in self._stamps

    def origin(self, symbol: str) -> str:
        return self.origins.get(symbol, "data.intraday")

    def span(self, symbol: str, start_ns: int, end_ns: int) -> tuple[int, int]:
        """Positions ``[i, j)`` of ``symbol``'s bars stamped in ``[start_ns, end_ns]`` (UTC nanoseconds)."""
        stamps = self._stamps.get(symbol)
        if stamps is None:
            return 0, 0
        return int(stamps.searchsorted(start_ns, side="left")), int(stamps.searchsorted(end_ns, side="right"))

    def stamp(self, symbol: str, i: int) -> pd.Timestamp:
        """The UTC stamp of bar ``i`` of ``symbol`` (the start of its minute)."""
        return pd.Timestamp(int(self._stamps[symbol][i]), tz="UTC")

    def values(self, symbol: str, i: int, j: int) -> np.ndarray:
        """Rows ``i..j-1`` of ``symbol`` as a ``(rows, 5)`` float array: open, high, low, close, volume."""
        return self._values[symbol][i:j]
