"""Combine per-symbol frames: a (symbol, field) panel, a fingerprint and a summary.

The panel puts every symbol on ONE calendar (the calendar symbol's bars) without filling
gaps: a symbol that did not trade yet is NaN, never a made-up price, and a bar on a date
the calendar lacks is dropped rather than inventing a row for the others. Strategies see
exactly what existed.

The fingerprint goes into every run's ``manifest.json`` (promise 5): equal fingerprints
mean equal data, bit for bit, whatever order the dict was built in.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

import numpy as np
import pandas as pd

from toolkit.data.validate import CANONICAL_FIELDS
from toolkit.errors import ParamsError

__all__ = ["describe", "dropped_bars", "fingerprint", "missing_bars", "panel"]

_FINGERPRINT_VERSION = b"toolkit.data.fingerprint/v1"


def panel(frames: Mapping[str, pd.DataFrame], *, calendar: str | None = None) -> pd.DataFrame:
    """Return one frame with column MultiIndex ``(symbol, field)`` on the calendar's index.

    ``calendar`` names the symbol whose timestamps become the index (default: the first
    symbol of ``frames``). Other symbols are reindexed onto it WITHOUT filling.
    """
    if not frames:
        raise ParamsError("data.symbols", [], "at least one symbol")
    symbols = list(frames)
    cal = symbols[0] if calendar is None else calendar
    if cal not in frames:
        raise ParamsError("data.calendar", cal, "one of " + ", ".join(symbols))
    index = frames[cal].index
    fields = list(CANONICAL_FIELDS)
    parts = [frames[sym][fields].reindex(index) for sym in symbols]
    out = pd.concat(parts, axis=1, keys=symbols, names=["symbol", "field"])
    out.index.name = index.name
    return out


def missing_bars(bars: pd.DataFrame) -> dict[str, pd.DatetimeIndex]:
    """Per symbol, the rows of the panel after its first bar where it has no bar (NaN close).

    These are the gaps the strategies' gap policy deals with (``toolkit/strategies/base.py``:
    indicators skip them, the position is held); rows before a symbol's first bar are not
    gaps (it did not trade yet). Symbols without a gap are left out.
    """
    out: dict[str, pd.DatetimeIndex] = {}
    for sym in dict.fromkeys(bars.columns.get_level_values(0)):
        if (sym, "close") not in bars.columns:
            continue
        close = bars[(sym, "close")].to_numpy(dtype=float)
        valid = ~np.isnan(close)
        if not valid.any():
            continue
        gap = ~valid
        gap[: int(np.argmax(valid))] = False
        if gap.any():
            out[str(sym)] = pd.DatetimeIndex(bars.index[gap])
    return out


def dropped_bars(frames: Mapping[str, pd.DataFrame], index: pd.Index) -> dict[str, pd.DatetimeIndex]:
    """Per symbol, its bars on dates the panel's calendar lacks (left out of the panel)."""
    out: dict[str, pd.DatetimeIndex] = {}
    for sym, frame in frames.items():
        extra = frame.index.difference(index)
        if len(extra):
            out[sym] = pd.DatetimeIndex(extra)
    return out


def fingerprint(frames: Mapping[str, pd.DataFrame], *, files: Mapping[str, str] | None = None) -> str:
    """Return a sha256 hex digest of symbols, timestamps and values.

    Symbols are hashed in sorted order, so two dicts holding the same data agree whatever
    their insertion order. Timestamps are hashed as UTC nanoseconds and values as float64
    with one canonical NaN, so the digest does not depend on the index's time unit or on
    NaN payload bits.

    ``files`` (symbol -> content hash of the file its bars were read from, e.g. a local
    cache file) joins the digest when given, so a changed file changes the fingerprint;
    without it the digest is what it always was.
    """
    digest = hashlib.sha256(_FINGERPRINT_VERSION)
    for sym in sorted(frames):
        frame = frames[sym]
        columns = [str(c) for c in frame.columns]
        index = pd.DatetimeIndex(frame.index)
        if index.tz is not None:
            index = index.tz_convert("UTC")
        values = np.ascontiguousarray(frame.to_numpy(dtype=np.float64, na_value=np.nan))
        values = np.where(np.isnan(values), np.nan, values)
        for chunk in (
            sym.encode(),
            ",".join(columns).encode(),
            str(values.shape).encode(),
            index.as_unit("ns").asi8.astype("<i8").tobytes(),
            values.astype("<f8").tobytes(),
        ):
            digest.update(len(chunk).to_bytes(8, "little"))
            digest.update(chunk)
    for sym in sorted(files or {}):
        for chunk in (b"file", sym.encode(), str((files or {})[sym]).encode()):
            digest.update(len(chunk).to_bytes(8, "little"))
            digest.update(chunk)
    return digest.hexdigest()


def describe(frames: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Return one row per symbol: first, last, bars, first_close, last_close, synthetic.

    ``synthetic`` is true for frames built by :func:`~toolkit.data.proxies.leveraged_proxy`
    (read from ``frame.attrs``), so a report cannot present a proxy as a real fund.
    """
    rows = []
    for sym, frame in frames.items():
        close = frame["close"]
        rows.append(
            {
                "symbol": sym,
                "first": frame.index[0] if len(frame) else pd.NaT,
                "last": frame.index[-1] if len(frame) else pd.NaT,
                "bars": len(frame),
                "first_close": float(close.iloc[0]) if len(frame) else np.nan,
                "last_close": float(close.iloc[-1]) if len(frame) else np.nan,
                "synthetic": bool(frame.attrs.get("synthetic", False)),
            }
        )
    columns = ["symbol", "first", "last", "bars", "first_close", "last_close", "synthetic"]
    return pd.DataFrame(rows, columns=columns).set_index("symbol")
