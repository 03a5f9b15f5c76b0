"""How a regime strategy fared in each of its cells (the statistics under the regime band).

``cells`` labels each bar's return with the cell it was earned under. Align it so:
a strategy that decides at bar t's close and fills there (``fill: close``) earns the
return of bar t+1 under the cell decided at t, so pass the decisions' ``cell``
shifted by one bar (``decisions_cell.shift(1)``); bars without a label (the warm-up)
are left out of every cell but still count in the whole run's length.

Per cell, on the returns of its bars only (taken as if chained one after another):

==============  =================================================================
days            bars labelled with the cell
share           days / all bars of the run
annual_return   (prod(1 + r)) ** (252 / days) - 1 (CAGR over the cell's bars)
volatility      std(r, ddof=1) * sqrt(252)
sharpe          mean(r - rf) / std(r - rf, ddof=1) * sqrt(252)
max_drawdown    deepest fall of the chained returns below their running peak
                (the start counts as the first peak)
==============  =================================================================

These are :func:`toolkit.backtest.metrics.return_metrics`'s definitions applied to the
cell's bars (the tests check them against empyrical on the same subsets).
"""

from __future__ import annotations

import pandas as pd

from toolkit.backtest.metrics import return_metrics
from toolkit.errors import InvalidInput

__all__ = ["REGIME_COLUMNS", "regime_cell_stats"]

#: Columns of :func:`regime_cell_stats`.
REGIME_COLUMNS = ("days", "share", "annual_return", "volatility", "sharpe", "max_drawdown")


def regime_cell_stats(returns: pd.Series, cells: pd.Series, *, risk_free_rate: float = 0.0) -> pd.DataFrame:
    """One row per cell (sorted by label), columns :data:`REGIME_COLUMNS`; undefined figures are NaN."""
    if not returns.index.equals(cells.index):
        raise InvalidInput("cells", "an index unlike the returns'", "one label per return bar (NaN = none)")
    n = len(returns)
    rows = {}
    for cell, r in returns.groupby(cells, sort=True):
        chained = (1.0 + r).cumprod()
        m = return_metrics(chained, 1.0, risk_free_rate=risk_free_rate)
        rows[cell] = {
            "days": len(r),
            "share": len(r) / n,
            "annual_return": m["cagr"],
            "volatility": m["volatility"],
            "sharpe": m["sharpe"],
            "max_drawdown": m["max_drawdown"],
        }
    out = pd.DataFrame.from_dict(rows, orient="index", columns=list(REGIME_COLUMNS)).astype(
        {"days": int, "share": float, "annual_return": float, "volatility": float, "sharpe": float,
         "max_drawdown": float})
    out.index.name = "cell"
    return out
