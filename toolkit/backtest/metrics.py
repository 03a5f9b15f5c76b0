"""Performance metrics, defined the way empyrical / quantstats / vectorbt define them.

All ratios use daily returns of the equity curve, 252 trading days a year and a
risk-free rate of 0 unless ``risk_free_rate`` (annual) is given, turned into a daily
rate as ``(1 + rf) ** (1 / 252) - 1``.

=============================  ==============================================================
total_return                   final equity / initial cash - 1
cagr                           (final / initial) ** (252 / bars) - 1   (empyrical annual_return)
volatility                     std(daily returns, ddof=1) * sqrt(252)
sharpe                         mean(r - rf) / std(r - rf, ddof=1) * sqrt(252)
sortino                        mean(r - rf) * 252 / (sqrt(mean(min(r - rf, 0) ** 2)) * sqrt(252))
calmar                         cagr / |max_drawdown|
max_drawdown                   min(equity / running peak - 1)   (a negative fraction; the initial
                               cash is the first peak, as in empyrical)
max_drawdown_duration_days     longest peak-to-recovery span in calendar days (to the last bar
                               when not recovered)
win_rate                       winning closed round trips / closed round trips
profit_factor                  gross profit / gross loss of closed round trips (null without losses)
exposure                       share of bars with any open position (time in market)
avg_gross_exposure             mean of gross position value / equity
turnover                       traded value / 2 / mean equity / years (annual, one-way)
n_trades                       round trips, open ones included
n_partial_exits                sells that trim a position without closing it (rebalances)
final_equity                   equity on the last bar
=============================  ==============================================================

A **round trip** (a "trade") is one instrument's position from the order that opens it
from flat to the order that brings it back to flat, whatever the trims and top-ups in
between (:func:`toolkit.backtest.engine.run_backtest`'s ``trades`` table). A
multi-instrument strategy that rebalances retargets every holding, which sells a
little of each winner: counting each of those sells as a trade would report many
small "wins" that are only rebalancing. They are counted on their own as
``n_partial_exits`` (a sell that leaves shares held; positions are long only, so
``sells = closed round trips + partial exits``).

**Turnover** is one-way: the value bought and sold, halved (a full switch from one
holding to another turns the portfolio over once, not twice), over the mean equity,
per year. Buying once and holding for a year is a turnover of 0.5.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from toolkit.data.validate import bar_index

TRADING_DAYS = 252


def _finite(x: float) -> float | None:
    """JSON-safe float: NaN and infinities become None (null)."""
    x = float(x)
    return x if math.isfinite(x) else None


def daily_risk_free(risk_free_rate: float) -> float:
    """The daily rate of an annual risk-free rate: ``(1 + rf) ** (1 / 252) - 1`` (compounding, not rf / 252)."""
    return (1.0 + risk_free_rate) ** (1.0 / TRADING_DAYS) - 1.0


def daily_returns(equity: pd.Series, initial_cash: float) -> pd.Series:
    """Bar returns, the first bar measured against the initial cash."""
    prev = equity.shift(1)
    prev.iloc[0] = initial_cash
    return equity / prev - 1.0


def _peaks(equity: pd.Series, initial_cash: float | None) -> pd.Series:
    """Running peak of equity, the initial cash counting as the first peak when given."""
    peak = equity.cummax()
    return peak if initial_cash is None else peak.clip(lower=initial_cash)


def max_drawdown(equity: pd.Series, initial_cash: float | None = None) -> float:
    """Deepest fall below a running peak (a negative fraction).

    With ``initial_cash`` the money the run started with is the first peak, as the
    first bar's return is measured against it (empyrical's convention): a loss on
    the first bar is a drawdown.
    """
    return float((equity / _peaks(equity, initial_cash) - 1.0).min())


def max_drawdown_duration_days(equity: pd.Series, initial_cash: float | None = None) -> float:
    """Longest time (calendar days) spent below a previous peak (``initial_cash`` as in :func:`max_drawdown`;
    a drawdown from the initial cash starts at the first bar)."""
    peak = _peaks(equity, initial_cash)
    under = (equity < peak).to_numpy()
    idx = equity.index
    longest = pd.Timedelta(0)
    start = None
    for i, flag in enumerate(under):
        if flag and start is None:
            start = idx[i - 1] if i > 0 else idx[i]  # the peak bar
        elif not flag and start is not None:
            longest = max(longest, idx[i] - start)
            start = None
    if start is not None:
        longest = max(longest, idx[-1] - start)
    return longest / pd.Timedelta(days=1)


def return_metrics(equity: pd.Series, initial_cash: float, *, risk_free_rate: float = 0.0) -> dict[str, float | None]:
    """The return-based metrics of an equity curve.

    Means and standard deviations are numpy's, on plain arrays: pandas would hand
    them to bottleneck where it is installed, whose different summation order moves
    the last digits, so results would depend on an optional package.
    """
    r = daily_returns(equity, initial_cash).to_numpy(dtype=float)
    n = len(r)
    rf = daily_risk_free(risk_free_rate)
    ex = r - rf
    total = equity.iloc[-1] / initial_cash - 1.0
    cagr = (equity.iloc[-1] / initial_cash) ** (TRADING_DAYS / n) - 1.0 if equity.iloc[-1] > 0 else -1.0
    std = float(ex.std(ddof=1)) if n > 1 else float("nan")
    vol = float(r.std(ddof=1)) * math.sqrt(TRADING_DAYS) if n > 1 else float("nan")
    sharpe = ex.mean() / std * math.sqrt(TRADING_DAYS) if std > 0 else float("nan")
    downside = math.sqrt(float((np.minimum(ex, 0.0) ** 2).mean())) * math.sqrt(TRADING_DAYS)
    sortino = ex.mean() * TRADING_DAYS / downside if downside > 0 else float("nan")
    mdd = max_drawdown(equity, initial_cash)
    calmar = cagr / abs(mdd) if mdd < 0 else float("nan")
    return {
        "total_return": _finite(total),
        "cagr": _finite(cagr),
        "volatility": _finite(vol),
        "sharpe": _finite(sharpe),
        "sortino": _finite(sortino),
        "calmar": _finite(calmar),
        "max_drawdown": _finite(mdd),
        "max_drawdown_duration_days": _finite(max_drawdown_duration_days(equity, initial_cash)),
    }


def trade_metrics(trades: pd.DataFrame) -> dict[str, float | int | None]:
    """Win rate, profit factor and counts of round trips (``pnl``, ``status``, ``partial_exits``).

    ``trades`` holds flat-to-flat round trips (see the module docstring), so a
    rebalance trim is not a trade: it is one of the round trip's ``partial_exits``.
    """
    closed = trades[trades["status"] == "closed"] if len(trades) else trades
    wins = closed["pnl"][closed["pnl"] > 0].sum() if len(closed) else 0.0
    losses = -closed["pnl"][closed["pnl"] < 0].sum() if len(closed) else 0.0
    partial = int(trades["partial_exits"].sum()) if "partial_exits" in trades and len(trades) else 0
    return {
        "win_rate": _finite((closed["pnl"] > 0).mean()) if len(closed) else None,
        "profit_factor": _finite(wins / losses) if losses > 0 else None,
        "n_trades": len(trades),
        "n_partial_exits": partial,
    }


def turnover(traded_value: float, mean_equity: float, n_bars: int) -> float | None:
    """Annual one-way turnover: ``traded_value / 2 / mean_equity / years`` (None without bars)."""
    years = n_bars / TRADING_DAYS
    return _finite(traded_value / 2.0 / mean_equity / years) if years > 0 else None


def compute_metrics(result, *, risk_free_rate: float = 0.0) -> dict[str, float | int | None]:
    """Every metric of ``metrics.json`` from a :class:`~toolkit.backtest.engine.BacktestResult`."""
    eq = result.equity
    out = return_metrics(eq, result.initial_cash, risk_free_rate=risk_free_rate)
    out.update(trade_metrics(result.trades))
    held = result.positions.abs().sum(axis=1) > 0
    out["exposure"] = _finite(held.mean())
    out["avg_gross_exposure"] = _finite(result.gross_exposure.mean())
    traded = result.orders["value"].abs().sum() if len(result.orders) else 0.0
    out["turnover"] = turnover(float(traded), float(eq.mean()), len(eq))
    out["final_equity"] = _finite(eq.iloc[-1])
    return out


def buy_and_hold(close: pd.Series, initial_cash: float, *, risk_free_rate: float = 0.0) -> tuple[pd.Series, dict]:
    """Equity and return metrics of holding ``close`` from the first bar (no costs)."""
    eq = (close / close.iloc[0] * initial_cash).rename("buy_and_hold")
    return eq, return_metrics(eq, initial_cash, risk_free_rate=risk_free_rate)


def monthly_returns(equity: pd.Series, initial_cash: float) -> pd.DataFrame:
    """Year x month table of compounded returns for the heatmap."""
    r = daily_returns(equity, initial_cash)
    idx = bar_index(r)
    idx = idx.tz_convert(None) if idx.tz is not None else idx
    m = (1 + pd.Series(r.to_numpy(), index=idx)).groupby([idx.year, idx.month]).prod() - 1
    table = m.unstack(level=1)
    table.index.name = "year"
    table.columns = [pd.Timestamp(2000, int(c), 1).strftime("%b") for c in table.columns]
    return table
