"""The strategy measured against its benchmark: alpha, beta, correlation, information ratio, capture, rolling.

Inputs are daily return series (:func:`toolkit.backtest.metrics.daily_returns` for
the strategy, :func:`toolkit.backtest.period_returns.benchmark_returns` for buy and
hold); :func:`aligned_returns` pairs them on the bars both have. Conventions are
empyrical's (the reference in the tests), 252 bars a year, the risk-free rate annual
and turned daily by :func:`toolkit.backtest.metrics.daily_risk_free`:

==================  ============================================================================
beta                cov(r, b) / var(b) of daily returns (the risk-free rate cancels)
alpha               (1 + mean(r - rf - beta (b - rf))) ** 252 - 1: the daily Jensen alpha,
                    compounded to a year
correlation         Pearson correlation of daily returns
tracking_error      std(r - b, ddof=1) * sqrt(252)
information_ratio   mean(r - b) / std(r - b, ddof=1) * sqrt(252): ANNUALISED (empyrical's
                    ``excess_sharpe`` and quantstats' ``information_ratio`` are per bar; the
                    report puts it beside the annualised Sharpe, so it is scaled like it)
capture             CAGR of r over CAGR of b (each over its number of bars)
up / down capture   the same on the bars where b > 0 / b < 0 only
rolling             Sharpe (with rf), volatility and beta over the trailing ``window`` bars,
                    labelled with the window's last bar; NaN until a window is full
==================  ============================================================================
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from toolkit.backtest.metrics import TRADING_DAYS, daily_returns, daily_risk_free
from toolkit.backtest.period_returns import benchmark_returns
from toolkit.errors import InvalidInput

__all__ = [
    "ROLLING_WINDOWS",
    "aligned_returns",
    "alpha_beta",
    "capture_ratios",
    "correlation",
    "information_ratio",
    "rolling_stats",
    "tracking_error",
]

#: The report's rolling windows: 6 and 12 months of daily bars.
ROLLING_WINDOWS = {"6m": 126, "12m": 252}


def aligned_returns(equity: pd.Series, benchmark_equity: pd.Series, initial_cash: float) -> pd.DataFrame:
    """Strategy and benchmark daily returns on the bars both have (columns ``strategy``, ``benchmark``)."""
    both = pd.concat({"strategy": daily_returns(equity, initial_cash),
                      "benchmark": benchmark_returns(benchmark_equity)}, axis=1, join="inner")
    return both.dropna()


def _pair(returns: pd.Series | np.ndarray, benchmark: pd.Series | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r, b = np.asarray(returns, dtype=float), np.asarray(benchmark, dtype=float)
    if r.shape != b.shape:
        raise InvalidInput("benchmark", f"{b.shape[0]} returns for {r.shape[0]}",
                           "one per strategy return (see aligned_returns)")
    keep = ~(np.isnan(r) | np.isnan(b))
    return r[keep], b[keep]


def _beta(r: np.ndarray, b: np.ndarray) -> float:
    if r.size < 2:
        return float("nan")
    db = b - b.mean()
    var = float((db * db).mean())
    return float((db * r).mean()) / var if var > 0 else float("nan")


def alpha_beta(returns: pd.Series | np.ndarray, benchmark: pd.Series | np.ndarray, *,
               risk_free_rate: float = 0.0) -> tuple[float, float]:
    """Annualised (compounded) Jensen alpha and beta of ``returns`` on ``benchmark`` (NaN pairs dropped)."""
    r, b = _pair(returns, benchmark)
    beta = _beta(r, b)
    if r.size < 2 or not math.isfinite(beta):
        return float("nan"), beta
    rf = daily_risk_free(risk_free_rate)
    daily_alpha = float(((r - rf) - beta * (b - rf)).mean())
    return (1.0 + daily_alpha) ** TRADING_DAYS - 1.0, beta


def correlation(returns: pd.Series | np.ndarray, benchmark: pd.Series | np.ndarray) -> float:
    """Pearson correlation of the daily returns (NaN without spread)."""
    r, b = _pair(returns, benchmark)
    if r.size < 2:
        return float("nan")
    dr, db = r - r.mean(), b - b.mean()
    denom = math.sqrt(float((dr * dr).sum()) * float((db * db).sum()))
    return float((dr * db).sum()) / denom if denom > 0 else float("nan")


def tracking_error(returns: pd.Series | np.ndarray, benchmark: pd.Series | np.ndarray) -> float:
    """Annualised standard deviation of the active return ``r - b``."""
    r, b = _pair(returns, benchmark)
    return float((r - b).std(ddof=1)) * math.sqrt(TRADING_DAYS) if r.size > 1 else float("nan")


def information_ratio(returns: pd.Series | np.ndarray, benchmark: pd.Series | np.ndarray) -> float:
    """Annualised information ratio: mean active return over its standard deviation, times sqrt(252)."""
    r, b = _pair(returns, benchmark)
    if r.size < 2:
        return float("nan")
    active = r - b
    std = float(active.std(ddof=1))
    return float(active.mean()) / std * math.sqrt(TRADING_DAYS) if std > 0 else float("nan")


def _cagr(r: np.ndarray) -> float:
    if r.size == 0:
        return float("nan")
    growth = float(np.prod(1.0 + r))
    return growth ** (TRADING_DAYS / r.size) - 1.0 if growth > 0 else -1.0


def capture_ratios(returns: pd.Series | np.ndarray, benchmark: pd.Series | np.ndarray) -> dict[str, float]:
    """``{"capture", "up_capture", "down_capture", "up_down_capture"}``.

    The first three are the strategy's CAGR over the benchmark's (all / up / down bars);
    ``up_down_capture`` is up capture / down capture, the figure Morningstar and pyfolio
    call "capture ratio" (empyrical's ``up_down_capture``): above 1, the strategy caught
    more of the rises than of the falls.
    """
    r, b = _pair(returns, benchmark)

    def ratio(mask: np.ndarray) -> float:
        den = _cagr(b[mask])
        return _cagr(r[mask]) / den if den != 0 and math.isfinite(den) else float("nan")

    up, down = ratio(b > 0), ratio(b < 0)
    up_down = up / down if down != 0 and math.isfinite(down) else float("nan")
    return {"capture": ratio(np.ones(r.size, dtype=bool)), "up_capture": up, "down_capture": down,
            "up_down_capture": up_down}


def rolling_stats(returns: pd.Series, benchmark: pd.Series, *, window: int,
                  risk_free_rate: float = 0.0) -> pd.DataFrame:
    """Trailing ``window``-bar annualised Sharpe, volatility and beta (columns ``sharpe``, ``volatility``, ``beta``).

    ``returns`` and ``benchmark`` share an index (see :func:`aligned_returns`). Each
    window is computed on its own (numpy over a sliding view, not pandas' running
    sums), so a value does not depend on the bars before its window.
    """
    if window < 2:
        raise InvalidInput("window", window, "a whole number of bars >= 2")
    if not returns.index.equals(benchmark.index):
        raise InvalidInput("benchmark", "an index unlike the returns'", "the same bars (see aligned_returns)")
    n = len(returns)
    out = pd.DataFrame(np.nan, index=returns.index, columns=["sharpe", "volatility", "beta"])
    if n < window:
        return out
    r = sliding_window_view(returns.to_numpy(dtype=float), window)
    b = sliding_window_view(benchmark.to_numpy(dtype=float), window)
    ann = math.sqrt(TRADING_DAYS)
    ex = r - daily_risk_free(risk_free_rate)
    ex_std = ex.std(axis=1, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        sharpe = np.where(ex_std > 0, ex.mean(axis=1) / ex_std * ann, np.nan)
        vol = r.std(axis=1, ddof=1) * ann
        db = b - b.mean(axis=1, keepdims=True)
        var = (db * db).mean(axis=1)
        beta = np.where(var > 0, (db * r).mean(axis=1) / var, np.nan)
    out.iloc[window - 1:] = np.column_stack([sharpe, vol, beta])
    return out
