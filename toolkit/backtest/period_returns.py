"""Calendar-period returns: monthly series, yearly table beside a benchmark, best and worst periods.

Periods compound the daily returns of :func:`toolkit.backtest.metrics.daily_returns`
(the first bar measured against the initial cash) and group them by calendar month
or year of the bar's UTC timestamp, exactly as the monthly heatmap
(:func:`toolkit.backtest.metrics.monthly_returns`) does: a month here is a cell
there, and the monthly series is that table read row by row.

A benchmark's returns (:func:`benchmark_returns`) start at its first bar with a
return of 0: buy and hold enters at that bar's close, which is what
:func:`toolkit.backtest.metrics.buy_and_hold` values.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from toolkit.backtest.metrics import daily_returns, monthly_returns
from toolkit.data.validate import bar_index

__all__ = ["BestWorst", "benchmark_returns", "best_worst", "monthly_return_series", "yearly_returns",
           "yearly_returns_table"]

_MONTH_NUMBER = {pd.Timestamp(2000, m, 1).strftime("%b"): m for m in range(1, 13)}


def benchmark_returns(benchmark_equity: pd.Series) -> pd.Series:
    """Daily returns of a benchmark equity curve over its own bars (leading gaps dropped), 0 on its first bar."""
    b = benchmark_equity.dropna()
    return daily_returns(b, float(b.iloc[0]))


def _utc_naive(index: pd.DatetimeIndex) -> pd.DatetimeIndex:
    return index.tz_convert(None) if index.tz is not None else index


def monthly_return_series(equity: pd.Series, initial_cash: float) -> pd.Series:
    """Compounded return of each calendar month with bars, indexed by a monthly ``PeriodIndex`` (``month``).

    The heatmap table of :func:`~toolkit.backtest.metrics.monthly_returns`, read row by row.
    """
    table = monthly_returns(equity, initial_cash)
    stacked = table.stack().dropna()
    periods = pd.PeriodIndex(
        [pd.Period(year=int(y), month=_MONTH_NUMBER[str(m)], freq="M") for y, m in stacked.index], name="month"
    )
    return pd.Series(stacked.to_numpy(dtype=float), index=periods, name="return")


def _yearly(returns: pd.Series) -> pd.Series:
    idx = _utc_naive(bar_index(returns))
    r = pd.Series(returns.to_numpy(dtype=float), index=idx)
    out = (1.0 + r).groupby(idx.year).prod() - 1.0
    out.index.name = "year"
    return out.rename("return")


def yearly_returns(equity: pd.Series, initial_cash: float) -> pd.Series:
    """Compounded return of each calendar year with bars, indexed by the year (int)."""
    return _yearly(daily_returns(equity, initial_cash))


def yearly_returns_table(equity: pd.Series, benchmark_equity: pd.Series, initial_cash: float) -> pd.DataFrame:
    """Yearly returns of the strategy and the benchmark side by side, with the difference.

    Columns ``strategy``, ``benchmark``, ``difference`` (strategy minus benchmark, in
    return points); a year where the benchmark has no bars shows NaN for it.
    """
    strat = yearly_returns(equity, initial_cash)
    bench = _yearly(benchmark_returns(benchmark_equity)).reindex(strat.index)
    return pd.DataFrame({"strategy": strat, "benchmark": bench, "difference": strat - bench})


@dataclass(frozen=True)
class BestWorst:
    """Best and worst day, month and year, each with when it happened.

    Days are bar timestamps, months ``Period('2008-10', 'M')``, years ints.
    """

    best_day: float
    best_day_when: pd.Timestamp
    worst_day: float
    worst_day_when: pd.Timestamp
    best_month: float
    best_month_when: pd.Period
    worst_month: float
    worst_month_when: pd.Period
    best_year: float
    best_year_when: int
    worst_year: float
    worst_year_when: int

    def to_frame(self) -> pd.DataFrame:
        """Rows day, month, year; columns best, best_when, worst, worst_when (for a report table)."""
        rows = {
            p: [getattr(self, f"best_{p}"), getattr(self, f"best_{p}_when"),
                getattr(self, f"worst_{p}"), getattr(self, f"worst_{p}_when")]
            for p in ("day", "month", "year")
        }
        return pd.DataFrame.from_dict(rows, orient="index", columns=["best", "best_when", "worst", "worst_when"])


def best_worst(equity: pd.Series, initial_cash: float) -> BestWorst:
    """Best and worst daily, monthly and yearly return (the first occurrence on ties).

    Partial first and last months and years count as they are (a run starting in
    June has a first "year" of seven months), as in the monthly heatmap.
    """
    d = daily_returns(equity, initial_cash)
    m = monthly_return_series(equity, initial_cash)
    y = yearly_returns(equity, initial_cash)

    def ends(s: pd.Series) -> tuple[float, object, float, object]:
        values = s.to_numpy(dtype=float)
        hi, lo = int(values.argmax()), int(values.argmin())
        return float(values[hi]), s.index[hi], float(values[lo]), s.index[lo]

    bd, bdw, wd, wdw = ends(d)
    bm, bmw, wm, wmw = ends(m)
    by, byw, wy, wyw = ends(y)
    return BestWorst(
        best_day=bd, best_day_when=pd.Timestamp(bdw), worst_day=wd, worst_day_when=pd.Timestamp(wdw),  # type: ignore[arg-type]
        best_month=bm, best_month_when=bmw, worst_month=wm, worst_month_when=wmw,  # type: ignore[arg-type]
        best_year=by, best_year_when=int(byw), worst_year=wy, worst_year_when=int(wyw),  # type: ignore[call-overload]
    )
