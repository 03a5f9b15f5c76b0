"""Indicator building blocks shared by strategies.

Each helper is written so that the bar-by-bar path (``Strategy.decide``) and the
vectorised path (``Strategy.decisions``) run the *same* float arithmetic and so agree
bit for bit (see the parity tests): the Kalman filter is a plain-Python scalar loop
used by both paths, and the window statistics reduce C-contiguous rows with numpy.
"""

from toolkit.strategies.indicators.kalman import KalmanTrend
from toolkit.strategies.indicators.windows import row_mean, row_std, trailing_windows

__all__ = ["KalmanTrend", "row_mean", "row_std", "trailing_windows"]
