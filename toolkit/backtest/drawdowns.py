"""Drawdown episodes and flat periods of an equity curve (the tearsheet's underwater section).

The conventions are :mod:`toolkit.backtest.metrics`'s, so the tables agree with the
headline figures: with ``initial_cash`` the money the run started with is the first
peak (a loss on the first bar is a drawdown), an episode starts at the bar of the peak
it falls from (the first bar when it falls from the initial cash), and durations are
calendar days. The deepest episode's ``depth`` is ``metrics.max_drawdown`` and the
longest episode's ``length_days`` is ``metrics.max_drawdown_duration_days``.

An **episode** is a maximal run of bars below the running peak: it starts at the
peak, bottoms at its ``trough`` (the first bar at its lowest) and ends at its
``recovery``, the first bar back at or above the peak (NaT while under water at the
last bar). Episodes never overlap, so the worst N are simply the N deepest.

A **flat period** is a stretch without a new equity high: unlike a drawdown it also
counts time spent AT the peak (a strategy sitting in cash makes no new high either).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from toolkit.backtest.metrics import _peaks
from toolkit.data.validate import bar_index
from toolkit.errors import InvalidInput

__all__ = ["DRAWDOWN_COLUMNS", "FlatPeriod", "drawdown_periods", "longest_flat_period", "underwater",
           "worst_drawdowns"]

#: Columns of :func:`drawdown_periods` and :func:`worst_drawdowns`.
DRAWDOWN_COLUMNS = ("start", "trough", "recovery", "depth", "length_days", "recovery_days")

_DAY = pd.Timedelta(days=1)


def underwater(equity: pd.Series, initial_cash: float | None = None) -> pd.Series:
    """Equity over its running peak minus 1, per bar (0 at a high, negative below it): the underwater chart."""
    return (equity / _peaks(equity, initial_cash) - 1.0).rename("drawdown")


def drawdown_periods(equity: pd.Series, initial_cash: float | None = None) -> pd.DataFrame:
    """Every drawdown episode, in time order (columns :data:`DRAWDOWN_COLUMNS`).

    ``start``: the bar of the peak (the first bar for a fall from the initial cash);
    ``trough``: the first bar at the episode's lowest; ``recovery``: the first bar back
    at or above the peak, NaT when not recovered; ``depth``: the lowest equity over the
    peak minus 1 (negative); ``length_days``: calendar days from start to recovery (to
    the last bar when not recovered, as ``max_drawdown_duration_days`` counts);
    ``recovery_days``: calendar days from trough to recovery, NaN when not recovered.
    """
    idx = bar_index(equity)
    dd = underwater(equity, initial_cash).to_numpy(dtype=float)
    under = dd < 0
    rows = []
    i, n = 0, len(dd)
    while i < n:
        if not under[i]:
            i += 1
            continue
        j = i
        while j < n and under[j]:
            j += 1
        low = i + int(np.argmin(dd[i:j]))
        start = idx[i - 1] if i > 0 else idx[0]
        recovery = idx[j] if j < n else pd.NaT
        end = idx[j] if j < n else idx[-1]
        rows.append({
            "start": start,
            "trough": idx[low],
            "recovery": recovery,
            "depth": float(dd[low]),
            "length_days": (end - start) / _DAY,
            "recovery_days": (idx[j] - idx[low]) / _DAY if j < n else np.nan,
        })
        i = j
    out = pd.DataFrame(rows, columns=list(DRAWDOWN_COLUMNS))
    for col in ("start", "trough", "recovery"):
        out[col] = pd.DatetimeIndex([row[col] for row in rows], dtype=idx.dtype)
    return out.astype({"depth": float, "length_days": float, "recovery_days": float})


def worst_drawdowns(equity: pd.Series, initial_cash: float | None = None, n: int = 5) -> pd.DataFrame:
    """The ``n`` deepest drawdown episodes, deepest first (ties in time order), indexed 1..n.

    Fewer rows when the curve has fewer episodes (none for a curve that never falls).
    """
    if n < 1:
        raise InvalidInput("n", n, "a whole number >= 1")
    periods = drawdown_periods(equity, initial_cash)
    worst = periods.sort_values("depth", kind="stable").head(n).reset_index(drop=True)
    worst.index = pd.RangeIndex(1, len(worst) + 1, name="rank")
    return worst


@dataclass(frozen=True)
class FlatPeriod:
    """The longest stretch without a new equity high.

    ``start`` is the bar of the last high before it (the first bar when the run had not
    made a high yet), ``end`` the bar of the next new high or the last bar when there
    was none (``ongoing``); ``days`` are calendar days, ``bars`` bars between them.
    """

    start: pd.Timestamp
    end: pd.Timestamp
    days: float
    bars: int
    ongoing: bool


def longest_flat_period(equity: pd.Series, initial_cash: float | None = None) -> FlatPeriod:
    """The longest time the equity went without a new high (ties: the first).

    A new high is a bar above every earlier bar and, with ``initial_cash``, above the
    initial cash; a bar equal to the high is not a new one. The stretch before the
    first new high counts from the first bar, the one after the last new high runs to
    the last bar. Always at least as long as the longest drawdown.
    """
    idx = bar_index(equity)
    x = equity.to_numpy(dtype=float)
    before = np.maximum.accumulate(np.concatenate([[-np.inf], x[:-1]]))
    if initial_cash is not None:
        before = np.maximum(before, initial_cash)
    highs = [int(h) for h in np.flatnonzero(x > before)]
    marks = highs if highs and highs[0] == 0 else [0, *highs]
    ends = [*marks[1:], len(x) - 1]
    a, b = marks[0], ends[0]
    for start, end in zip(marks, ends, strict=True):
        if idx[end] - idx[start] > idx[b] - idx[a]:
            a, b = start, end
    ongoing = b == len(x) - 1 and (not highs or highs[-1] != b)
    return FlatPeriod(start=idx[a], end=idx[b], days=(idx[b] - idx[a]) / _DAY, bars=b - a, ongoing=ongoing)
