"""The indicator library every strategy uses (one module per kind of arithmetic).

A strategy's live path (``Strategy.decide``, one bar) and its backtest path
(``Strategy.decisions``, every bar) must agree bit for bit. Each kind of indicator
follows one rule that makes this hold by construction:

* :mod:`~toolkit.strategies.indicators.windows` -- trailing-window statistics (rolling
  mean, standard deviation, maximum): a window's values are copied into one contiguous
  row and reduced by numpy, so a value is the same alone or among thousands; this is
  the ONE rolling-mean rule of the toolkit (see that module for the rule in full);
* :mod:`~toolkit.strategies.indicators.recursive` -- EMA, Wilder smoothing, RSI, ATR:
  a loop over bars that resumes from a saved state;
* :mod:`~toolkit.strategies.indicators.kalman` -- v3.5b's Kalman trend filter, a
  plain-Python scalar loop shared by both paths;
* :mod:`~toolkit.strategies.indicators.arrays` -- lags, change flags and sums across
  symbols in a fixed order.
"""

from toolkit.strategies.indicators.arrays import changed_rows, hold_gaps, lagged, last_value, seq_sum
from toolkit.strategies.indicators.kalman import KalmanTrend
from toolkit.strategies.indicators.recursive import AtrState, RsiState, SmoothState, atr, ema, rsi, wilder
from toolkit.strategies.indicators.windows import (
    rolling_max,
    rolling_mean,
    rolling_mean_std,
    row_mean,
    row_mean_std,
    row_std,
    trailing_windows,
)

__all__ = [
    "AtrState",
    "KalmanTrend",
    "RsiState",
    "SmoothState",
    "atr",
    "changed_rows",
    "ema",
    "hold_gaps",
    "lagged",
    "last_value",
    "rolling_max",
    "rolling_mean",
    "rolling_mean_std",
    "row_mean",
    "row_mean_std",
    "row_std",
    "rsi",
    "seq_sum",
    "trailing_windows",
    "wilder",
]
