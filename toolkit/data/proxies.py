"""SYNTHETIC leveraged and inverse funds derived from a base index's daily returns.

The bundled sample has the NASDAQ Composite but no 3x NASDAQ fund; a strategy that
rotates into TQQQ/SQQQ-like instruments can still be researched offline on a proxy
rebuilt from the index: each day the proxy returns ``k`` times the index's close-to-close
return minus a daily cost. A proxy ignores the real fund's tracking error, financing
spread, intraday rebalancing and fees beyond ``annual_cost_bps``: it is a research
stand-in, never a real price, and it is marked ``attrs["synthetic"] = True`` so reports
(see :func:`toolkit.data.panel.describe`) label it as such.
"""

from __future__ import annotations

import math
import numbers
import warnings

import numpy as np
import pandas as pd

from toolkit.data.validate import CANONICAL_FIELDS, validate_bars
from toolkit.errors import ParamsError

__all__ = ["TRADING_DAYS", "leveraged_proxy"]

TRADING_DAYS = 252
_FLOOR = 1e-9  # smallest one-day growth factor: a wiped-out proxy stays (barely) positive


def leveraged_proxy(
    base: pd.DataFrame,
    leverage: float,
    *,
    annual_cost_bps: float = 0.0,
    start_price: float = 100.0,
) -> pd.DataFrame:
    """Return canonical daily bars of a SYNTHETIC ``leverage``-x fund on ``base``.

    With ``k = leverage``, ``r_t = close_t / close_{t-1} - 1`` of the base and
    ``cost = annual_cost_bps / 1e4 / 252``::

        close_t = close_{t-1} * (1 + k * r_t - cost)        close_0 = start_price

    Open, high and low follow the same rule from the base's open/high/low relative to the
    base's previous close (on the first bar: relative to its own close, with no cost).
    For ``k < 0`` the base's high maps to the proxy's low and vice versa. The results are
    clipped so high >= max(open, close), low <= min(open, close), and a one-day growth
    factor never drops below 1e-9 (a wipe-out, warned about, keeps prices positive).
    Volume is the base's, copied.
    """
    k = _check(leverage, annual_cost_bps, start_price, base)
    cost = annual_cost_bps / 1e4 / TRADING_DAYS
    o, h, lo, c = (base[f].to_numpy(dtype=np.float64) for f in ("open", "high", "low", "close"))
    n = len(c)
    base_prev = np.empty(n)
    base_prev[0] = c[0]
    base_prev[1:] = c[:-1]
    costs = np.full(n, cost)
    costs[0] = 0.0

    def growth(x: np.ndarray) -> np.ndarray:
        return 1.0 + k * (x / base_prev - 1.0) - costs

    close_growth = growth(c)
    wiped = close_growth < _FLOOR
    if wiped.any():
        warnings.warn(
            f"{k:g}x proxy: a one-day loss of 100% or more on {base.index[int(np.argmax(wiped))]}; "
            "the proxy is floored at a tiny positive price from there on",
            stacklevel=2,
        )
    close = start_price * np.cumprod(np.maximum(close_growth, _FLOOR))
    prev = np.empty(n)
    prev[0] = start_price
    prev[1:] = close[:-1]
    from_open = prev * np.maximum(growth(o), _FLOOR)
    from_high = prev * np.maximum(growth(h), _FLOOR)
    from_low = prev * np.maximum(growth(lo), _FLOOR)
    high = np.maximum.reduce([from_high, from_low, from_open, close])
    low = np.minimum.reduce([from_high, from_low, from_open, close])
    frame = pd.DataFrame(
        {"open": from_open, "high": high, "low": low, "close": close,
         "volume": base["volume"].to_numpy(dtype=np.float64)},
        index=base.index,
        columns=list(CANONICAL_FIELDS),
    )
    label = f"{k:g}x proxy"
    out = validate_bars(frame, label)
    out.attrs.update(
        synthetic=True,
        description=f"synthetic {k:g}x daily proxy, annual cost {annual_cost_bps:g} bps",
    )
    return out


def _check(
    leverage: float, annual_cost_bps: float, start_price: float, base: pd.DataFrame
) -> float:
    """Validate the arguments; return the leverage as a float."""
    if not _real(leverage) or not math.isfinite(leverage) or leverage == 0:
        raise ParamsError("leverage", leverage, "a non-zero finite number (e.g. 3 or -1)")
    if not _real(annual_cost_bps) or not (0 <= annual_cost_bps < math.inf):
        raise ParamsError("annual_cost_bps", annual_cost_bps, "a finite number >= 0")
    if not _real(start_price) or not (0 < start_price < math.inf):
        raise ParamsError("start_price", start_price, "a finite number > 0")
    if not isinstance(base, pd.DataFrame) or len(base) == 0:
        raise ParamsError("base", type(base).__name__, "a non-empty canonical bar frame")
    missing = [f for f in CANONICAL_FIELDS if f not in base.columns]
    if missing:
        allowed = "columns open, high, low, close, volume"
        raise ParamsError("base", list(map(str, base.columns)), allowed)
    index = base.index
    if not isinstance(index, pd.DatetimeIndex) or not (index == index.normalize()).all():
        allowed = "daily bars (stamped at midnight UTC)"
        raise ParamsError("base", "intraday or undated bars", allowed)
    return float(leverage)


def _real(value: object) -> bool:
    """True for real numbers (numpy scalars included), false for bools and text."""
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))
