"""Round trips with holding period and maximum adverse / favourable excursion (MAE / MFE).

A round trip is the engine's (:func:`toolkit.backtest.engine.run_backtest`'s ``trades``
table): one symbol's long position from the order that opens it from flat to the one
that closes it back to flat, trims and top-ups in between included. Its ``entry_price``
is the average price of its buys, ``exit_price`` the average of its sells.

**MAE / MFE** say how far a trade went against / for the trader before it ended: the
lowest / highest price it could have been marked at while held, relative to its entry
price (``mae = min(0, min(path) / entry - 1)``, ``mfe = max(0, max(path) / entry - 1)``;
fractions, MAE <= 0 <= MFE). The **path** is the closes of the bars during which the
position was held, plus the exit price (the last close for a round trip still open):

* ``fill="close"`` (orders fill at the signal bar's close): closes strictly after the
  entry bar and strictly before the exit bar (the entry and exit bars' closes are the
  fills themselves);
* ``fill="next_open"`` (orders fill at the next bar's open): closes from the entry bar
  (held after its open) to the bar before the exit bar (sold at its open).

Closes, not highs and lows: a daily bar does not say whether its low came before or
after the fill, and not every data source has them. With top-ups the entry price is
the average of all buys, so MAE / MFE are measured against what the position cost on
average.

``holding_days`` are calendar days from entry to exit (to the last bar for an open
round trip), ``holding_bars`` the bars between them.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from toolkit.data.validate import bar_index
from toolkit.errors import InvalidInput

__all__ = ["ROUND_TRIP_COLUMNS", "round_trip_table"]

#: Columns of :func:`round_trip_table`.
ROUND_TRIP_COLUMNS = ("symbol", "entry_time", "exit_time", "status", "size", "entry_price", "exit_price", "pnl",
                      "return", "holding_days", "holding_bars", "mae", "mfe", "partial_exits")


def round_trip_table(trades: pd.DataFrame, close: pd.DataFrame, *,
                     fill: Literal["close", "next_open"] = "close") -> pd.DataFrame:
    """The trades table plus ``holding_days``, ``holding_bars``, ``mae``, ``mfe`` (:data:`ROUND_TRIP_COLUMNS`).

    ``trades``: the engine's round trips; ``close``: closing prices, one column per
    symbol, on the backtest's bars (gaps are carried forward, as the engine values
    positions); ``fill``: the backtest's fill rule (see the module docstring).
    """
    if fill not in ("close", "next_open"):
        raise InvalidInput("fill", fill, "close, next_open")
    idx = bar_index(close)
    prices = close.astype(float).ffill()
    missing = sorted(set(trades["symbol"]) - set(prices.columns)) if len(trades) else []
    if missing:
        raise InvalidInput("close", f"no prices for {missing}", "a column for every traded symbol")
    last = len(idx) - 1
    holding_days, holding_bars, mae, mfe = [], [], [], []
    for sym, entry_time, exit_time, status, entry_price, exit_price in zip(
        trades["symbol"], trades["entry_time"], trades["exit_time"], trades["status"], trades["entry_price"],
        trades["exit_price"], strict=True,
    ):
        is_open = status == "open"
        ends = pd.DatetimeIndex([entry_time, idx[last] if is_open else exit_time])
        entry, exit_ = (int(i) for i in idx.get_indexer(ends))
        if entry < 0 or exit_ < 0:
            raise InvalidInput("trades", f"a {sym} round trip from {entry_time} to {exit_time}",
                               "entry and exit on bars of close")
        series = prices[sym].to_numpy()
        lo = entry + 1 if fill == "close" else entry
        inside = series[lo:last + 1] if is_open else series[lo:exit_]
        end_price = series[last] if is_open else float(exit_price)
        path = np.append(inside, end_price) / float(entry_price) - 1.0
        holding_days.append((idx[exit_] - idx[entry]) / pd.Timedelta(days=1))
        holding_bars.append(exit_ - entry)
        mae.append(min(0.0, float(np.nanmin(path))))
        mfe.append(max(0.0, float(np.nanmax(path))))
    out = trades.reset_index(drop=True).copy()
    out["holding_days"] = np.asarray(holding_days, dtype=float)
    out["holding_bars"] = np.asarray(holding_bars, dtype=int)
    out["mae"] = np.asarray(mae, dtype=float)
    out["mfe"] = np.asarray(mfe, dtype=float)
    if "partial_exits" not in out:
        out["partial_exits"] = 0
    return out.loc[:, list(ROUND_TRIP_COLUMNS)]
