"""Compact figure data, so a tearsheet with a dozen charts stays under 6 MB with plotly.js in it.

plotly.js alone is ~4.8 MB of the HTML report. A daily series of twenty years is
~4,800 points, and plotly writes each timestamp as ``"2000-01-03T00:00:00.000000000"``
(32 characters): one such trace is ~150 kB, and the tearsheet draws about twenty.
So the charts (never the tables) get:

* dates written as ``2000-01-03`` (times only where the bars have them);
* values as float32 arrays (plotly sends them base64-encoded: 5.3 characters a point);
* on a run longer than :data:`MAX_POINTS` bars, one point per calendar week: the
  week's last value for a level (rolling figures, exposure) and the week's lowest for a
  drawdown, so the underwater chart keeps every trough's depth; an equity curve keeps
  the week's lowest and highest bars, each at its own date and in time order
  (``how="minmax"``), so its trough and peak are the table's, not a week-end's.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

__all__ = ["MAX_POINTS", "chart_series", "chart_x", "chart_y"]

#: Above this many bars a chart shows weekly points.
MAX_POINTS = 1500


def _naive(idx: pd.DatetimeIndex) -> pd.DatetimeIndex:
    return idx.tz_convert(None) if idx.tz is not None else idx


def chart_x(index: pd.Index) -> list[str]:
    """Timestamps as short strings: dates when every bar is at midnight, else date and minute."""
    idx = _naive(pd.DatetimeIndex(index))
    fmt = "%Y-%m-%d" if bool((idx == idx.normalize()).all()) else "%Y-%m-%d %H:%M"
    return list(idx.strftime(fmt))


def chart_y(values: pd.Series | np.ndarray) -> np.ndarray:
    """Values as float32 (7 significant digits: plenty for a chart), NaN kept as gaps."""
    return np.asarray(values, dtype=np.float32)


def chart_series(series: pd.Series, *, how: Literal["last", "min", "minmax"] = "last",
                 max_points: int = MAX_POINTS) -> pd.Series:
    """``series`` as a chart draws it: itself up to ``max_points`` bars, else one or two points per week.

    A weekly point sits on the week's last bar; its value is the week's last (``how="last"``)
    or lowest (``how="min"``) value. ``how="minmax"`` keeps, of each week, the bar with the
    lowest and the bar with the highest value (one when they are the same bar), at their own
    dates, plus the first bar of the series: the drawn curve reaches every extreme the
    tables quote (max drawdown, the lowest equity) and starts where the run starts.
    """
    if len(series) <= max_points:
        return series
    idx = pd.DatetimeIndex(series.index)
    week = _naive(idx).to_period("W").asi8
    if how == "minmax":
        return _min_max(series, week)
    frame = pd.DataFrame({"t": idx, "v": series.to_numpy(dtype=float)})
    grouped = frame.groupby(week, sort=True)
    values = grouped["v"].min() if how == "min" else grouped["v"].last()
    return pd.Series(values.to_numpy(), index=pd.DatetimeIndex(grouped["t"].last()), name=series.name)


def _min_max(series: pd.Series, week: np.ndarray) -> pd.Series:
    """Each week's lowest and highest bar (and the series' first bar), in time order; NaN bars left out."""
    values = series.to_numpy(dtype=float)
    frame = pd.DataFrame({"pos": np.arange(len(values)), "v": values, "week": week}).dropna(subset=["v"])
    grouped = frame.groupby("week", sort=True)["v"]
    keep = np.union1d(frame.loc[grouped.idxmin(), "pos"].to_numpy(), frame.loc[grouped.idxmax(), "pos"].to_numpy())
    if len(frame):
        keep = np.union1d(keep, [int(frame["pos"].iloc[0])])
    return series.iloc[keep.astype(int)]
