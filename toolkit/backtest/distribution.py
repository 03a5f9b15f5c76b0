"""The shape of a return distribution: moments, tails and the normal it is drawn against.

The report's histogram of daily and monthly returns is overlaid with the normal of
the same mean and standard deviation, so a reader sees at once how fat the tails are;
the moments say it in numbers. Conventions (those of pandas and quantstats):

* ``std``: sample standard deviation (ddof=1), per period (not annualised);
* ``skew``: the bias-corrected sample skewness (Fisher-Pearson G1), 0 for a normal;
* ``excess_kurtosis``: the bias-corrected sample excess kurtosis (G2), 0 for a
  normal. (The walk-forward's PSR/DSR use the plain moment kurtosis, 3 for a normal;
  the name says which one a figure is.)
* ``tail_ratio``: the 95th percentile over the absolute 5th (linear interpolation,
  as empyrical and quantstats): above 1, the right tail is the longer.

Moments are numpy's on plain arrays (not pandas reductions), for the reason
:func:`toolkit.backtest.metrics.return_metrics` gives: bit-for-bit stable results.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from toolkit.backtest.metrics import daily_returns
from toolkit.backtest.period_returns import monthly_return_series

__all__ = ["ReturnDistribution", "return_distribution", "return_distributions", "tail_ratio"]


def tail_ratio(returns: pd.Series | np.ndarray) -> float:
    """``|95th percentile| / |5th percentile|`` of the returns (NaN ignored; NaN without returns)."""
    r = np.asarray(returns, dtype=float)
    r = r[~np.isnan(r)]
    if r.size == 0:
        return float("nan")
    low = abs(float(np.percentile(r, 5)))
    return abs(float(np.percentile(r, 95))) / low if low > 0 else float("nan")


@dataclass(frozen=True)
class ReturnDistribution:
    """Moments of a return series and the normal density drawn over its histogram.

    The normal has mean ``mean`` and standard deviation ``std``; :meth:`normal_pdf`
    gives its density, to be scaled by ``n * bin_width`` over a count histogram.
    """

    n: int
    mean: float
    std: float
    skew: float
    excess_kurtosis: float
    minimum: float
    maximum: float

    def normal_pdf(self, x: np.ndarray | float) -> np.ndarray:
        """Density of the normal N(mean, std²) at ``x``."""
        z = (np.asarray(x, dtype=float) - self.mean) / self.std
        return np.exp(-0.5 * z * z) / (self.std * math.sqrt(2.0 * math.pi))


def return_distribution(returns: pd.Series | np.ndarray) -> ReturnDistribution:
    """Moments of ``returns`` (NaN ignored); undefined moments (too few values, no spread) are NaN."""
    r = np.asarray(returns, dtype=float)
    r = r[~np.isnan(r)]
    n = int(r.size)
    nan = float("nan")
    if n == 0:
        return ReturnDistribution(0, nan, nan, nan, nan, nan, nan)
    mean = float(r.mean())
    std = float(r.std(ddof=1)) if n > 1 else nan
    d = r - mean
    m2 = float((d**2).mean())
    skew = kurt = nan
    if m2 > 0 and n > 2:
        g1 = float((d**3).mean()) / m2**1.5
        skew = g1 * math.sqrt(n * (n - 1)) / (n - 2)
    if m2 > 0 and n > 3:
        g2 = float((d**4).mean()) / m2**2 - 3.0
        kurt = ((n + 1) * g2 + 6.0) * (n - 1) / ((n - 2) * (n - 3))
    return ReturnDistribution(n=n, mean=mean, std=std, skew=skew, excess_kurtosis=kurt,
                              minimum=float(r.min()), maximum=float(r.max()))


def return_distributions(equity: pd.Series, initial_cash: float) -> dict[str, ReturnDistribution]:
    """``{"daily": ..., "monthly": ...}``: the distribution of daily and of calendar-month returns."""
    return {
        "daily": return_distribution(daily_returns(equity, initial_cash)),
        "monthly": return_distribution(monthly_return_series(equity, initial_cash)),
    }
