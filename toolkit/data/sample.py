"""The bundled real sample: daily S&P 500, NASDAQ Composite and VIX from ``arch``.

The ``arch`` package ships these series inside its wheel (read here straight from its
``csv.gz`` files, without importing ``arch`` itself), so demos and tests run offline
on real prices with nothing to download (promise 3 of the design). ``SP500`` and
``NASDAQ`` are daily OHLCV 1999-2018; ``VIX`` is a close-only daily series 2014-2019
(open = high = low = close, volume unknown) whose exchange-holiday rows (NaN in the
package, which uses a weekday grid) are dropped: no session, no bar.

Loaded frames are cached in-process (the CSVs are parsed once per kernel) and every call
returns copies, so a notebook that edits its frame cannot corrupt the next caller's.
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from toolkit.data.validate import CANONICAL_FIELDS, adjust_to_close, check_prices, validate_bars
from toolkit.errors import DataError, ParamsError

SAMPLE_SYMBOLS: tuple[str, ...] = ("SP500", "NASDAQ", "VIX")

_FILES = {"SP500": "sp500", "NASDAQ": "nasdaq", "VIX": "vix"}

__all__ = ["SAMPLE_SYMBOLS", "load_sample", "sample_range"]


def load_sample(
    symbols: list[str] | None = None, *, prices: str = "raw"
) -> dict[str, pd.DataFrame]:
    """Return canonical daily bars of the bundled sample, one frame per symbol.

    ``symbols`` defaults to all of :data:`SAMPLE_SYMBOLS`, in that order. ``prices``
    is ``"raw"`` (the ``Close`` column) or ``"adjusted"`` (``Adj Close``, with open, high
    and low scaled by ``Adj Close / Close``, the usual Yahoo adjustment). The index
    sample's adjusted and raw closes coincide; VIX has no adjusted series and loads the
    same either way.
    """
    check_prices(prices)
    return {sym: _load(sym, prices).copy() for sym in _check_symbols(symbols)}


def sample_range(symbol: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    """Return the first and last timestamp of a sample symbol (for params validation).

    Served from the in-process cache, so checking a requested date range costs one
    parse per kernel at most.
    """
    (sym,) = _check_symbols([symbol])
    index = _load(sym, "raw").index
    return index[0], index[-1]


def _check_symbols(symbols: list[str] | str | None) -> list[str]:
    """Return the requested symbols (deduplicated, in order) or raise ``ParamsError``."""
    if symbols is None:
        return list(SAMPLE_SYMBOLS)
    if isinstance(symbols, str):
        symbols = [symbols]
    allowed = "one of " + ", ".join(SAMPLE_SYMBOLS)
    if len(symbols) == 0:
        raise ParamsError("data.symbols", list(symbols), "at least one symbol, " + allowed)
    for sym in symbols:
        if sym not in _FILES:
            raise ParamsError("data.symbols", sym, allowed)
    return list(dict.fromkeys(symbols))


@lru_cache(maxsize=None)
def _load(symbol: str, prices: str) -> pd.DataFrame:
    """Parse one sample series into a validated canonical frame (cached; do not mutate)."""
    raw = pd.read_csv(_sample_file(symbol), na_values=["."])
    raw.columns = [str(c).strip().lower() for c in raw.columns]
    raw.index = pd.to_datetime(raw.pop("date"), format="%m/%d/%Y")
    if "close" in raw.columns:
        frame = raw[["open", "high", "low", "close", "volume"]].astype(np.float64)
        if prices == "adjusted" and "adj close" in raw.columns:
            open_, high, low, close = (frame[f].to_numpy() for f in ("open", "high", "low", "close"))
            adjusted = adjust_to_close(open_, high, low, close, raw["adj close"].to_numpy(dtype=np.float64))
            for field, values in zip(("open", "high", "low", "close"), adjusted):
                frame[field] = values
    else:  # close-only series (VIX): levels on a weekday grid, "." (NaN) on holidays
        close = raw.iloc[:, 0].astype(np.float64).dropna()
        frame = pd.DataFrame({f: close for f in ("open", "high", "low", "close")})
        frame["volume"] = np.nan
    frame.index = pd.DatetimeIndex(frame.index).normalize().tz_localize("UTC")
    return validate_bars(frame[list(CANONICAL_FIELDS)], symbol)


def _sample_file(symbol: str) -> Path:
    """Locate ``arch/data/<name>/<name>.csv.gz`` WITHOUT importing ``arch``.

    ``import arch`` pulls in its whole econometrics stack (seconds on a cold start, paid
    by every papermill kernel); the sample only needs three small CSV files it ships.
    """
    name = _FILES[symbol]
    spec = importlib.util.find_spec("arch")
    roots = list(spec.submodule_search_locations or []) if spec is not None else []
    for root in roots:
        path = Path(root) / "data" / name / f"{name}.csv.gz"
        if path.is_file():
            return path
    raise DataError(
        symbol, None, "the bundled sample is installed",
        f"arch/data/{name}/{name}.csv.gz not found; install the 'arch' package",
    )
