"""The tearsheet's extra headline figures in one call, JSON-safe like ``metrics.json``.

:func:`tearsheet_metrics` adds to :func:`toolkit.backtest.metrics.compute_metrics`
what a tearsheet shows beside it: the shape of the returns (tail ratio, skew, excess
kurtosis), best and worst day, month and year, the longest flat period and, given a
benchmark, alpha, beta, correlation, tracking error, information ratio and capture.
Every key has an entry in the metric glossary (:mod:`toolkit.report.glossary`), which
says how it is defined; the functions behind them live in their own modules:

* :mod:`toolkit.backtest.drawdowns` - underwater curve, drawdown episodes, worst N, flat periods;
* :mod:`toolkit.backtest.period_returns` - monthly series, yearly table vs benchmark, best / worst;
* :mod:`toolkit.backtest.distribution` - moments, tail ratio, the normal for a histogram;
* :mod:`toolkit.backtest.benchmark_stats` - alpha, beta, IR, capture, rolling Sharpe / vol / beta;
* :mod:`toolkit.backtest.exposure` - exposure and leverage over time, per-symbol P&L and contribution;
* :mod:`toolkit.backtest.round_trips` - round trips with holding period and MAE / MFE;
* :mod:`toolkit.backtest.regime_stats` - per-cell statistics of a regime strategy.

Values are floats or None (undefined: NaN, infinities), never NaN, so the dict can be
written as JSON as it is.
"""

from __future__ import annotations

import math

import pandas as pd

from toolkit.backtest.benchmark_stats import (
    aligned_returns,
    alpha_beta,
    capture_ratios,
    correlation,
    information_ratio,
    tracking_error,
)
from toolkit.backtest.distribution import return_distribution, tail_ratio
from toolkit.backtest.drawdowns import longest_flat_period
from toolkit.backtest.metrics import daily_returns
from toolkit.backtest.period_returns import best_worst

__all__ = ["BENCHMARK_RELATIVE_KEYS", "STANDALONE_KEYS", "tearsheet_metrics"]

#: Keys computed from the equity curve alone.
STANDALONE_KEYS = ("tail_ratio", "daily_skew", "daily_excess_kurtosis", "best_day", "worst_day", "best_month",
                   "worst_month", "best_year", "worst_year", "longest_flat_days")
#: Keys that need a benchmark.
BENCHMARK_RELATIVE_KEYS = ("alpha", "beta", "correlation", "tracking_error", "information_ratio", "capture",
                           "up_capture", "down_capture", "up_down_capture")


def _json(x: float) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


def tearsheet_metrics(equity: pd.Series, initial_cash: float, *, benchmark_equity: pd.Series | None = None,
                      risk_free_rate: float = 0.0) -> dict[str, float | None]:
    """The figures of :data:`STANDALONE_KEYS` and, with ``benchmark_equity``, :data:`BENCHMARK_RELATIVE_KEYS`.

    Relative figures use the bars both curves have (:func:`~toolkit.backtest.benchmark_stats.aligned_returns`).
    """
    r = daily_returns(equity, initial_cash)
    dist = return_distribution(r)
    bw = best_worst(equity, initial_cash)
    out: dict[str, float | None] = {
        "tail_ratio": _json(tail_ratio(r)),
        "daily_skew": _json(dist.skew),
        "daily_excess_kurtosis": _json(dist.excess_kurtosis),
        "best_day": _json(bw.best_day),
        "worst_day": _json(bw.worst_day),
        "best_month": _json(bw.best_month),
        "worst_month": _json(bw.worst_month),
        "best_year": _json(bw.best_year),
        "worst_year": _json(bw.worst_year),
        "longest_flat_days": _json(longest_flat_period(equity, initial_cash).days),
    }
    if benchmark_equity is not None:
        pair = aligned_returns(equity, benchmark_equity, initial_cash)
        s, b = pair["strategy"], pair["benchmark"]
        alpha, beta = alpha_beta(s, b, risk_free_rate=risk_free_rate)
        out.update({
            "alpha": _json(alpha),
            "beta": _json(beta),
            "correlation": _json(correlation(s, b)),
            "tracking_error": _json(tracking_error(s, b)),
            "information_ratio": _json(information_ratio(s, b)),
            **{k: _json(v) for k, v in capture_ratios(s, b).items()},
        })
    return out
