"""How a performance metric is labelled and written: one table, metric -> (label, kind).

``metrics.json`` keeps raw floats (``total_return 1.4198``, ``n_trades 36``) because
programs read it; a person reads "Total return 141.98%" and "Trades 36". The kind of a
metric decides how it is written, so every table that shows metrics to a person (the
explorers today) says it the same way:

=========  ===========================  =============================
kind       written as                   metrics
=========  ===========================  =============================
percent    ratio as a percentage, 2 dp  returns, rates, drawdowns, exposure, turnover
ratio      2 decimals                   sharpe, sortino, calmar, profit factor
count      whole number, separators     trades, partial exits
days       whole days, separators       drawdown duration
money      2 decimals, separators       final equity
number     4 significant digits         anything else (an objective expression)
=========  ===========================  =============================

A missing value (None, NaN, an infinity) is an em dash, never ``None`` or ``nan``; a value
that rounds to zero is written without a sign (never ``-0.00%``).
The archived report's tables still print the raw figures; this module changes nothing
they write.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd

__all__ = [
    "METRIC_FORMATS",
    "MISSING",
    "MetricFormat",
    "MetricKind",
    "format_metric",
    "format_value",
    "formatted_metrics",
    "metric_format",
    "objective_format",
]

MetricKind = Literal["percent", "ratio", "count", "days", "money", "number"]

#: What a missing or undefined figure shows.
MISSING = "\u2014"


@dataclass(frozen=True)
class MetricFormat:
    """A metric's row label and the kind that decides how its value is written."""

    label: str
    kind: MetricKind


#: Every metric of :func:`toolkit.backtest.metrics.compute_metrics`, in its order.
METRIC_FORMATS: dict[str, MetricFormat] = {
    "total_return": MetricFormat("Total return", "percent"),
    "cagr": MetricFormat("CAGR", "percent"),
    "volatility": MetricFormat("Volatility (annual)", "percent"),
    "sharpe": MetricFormat("Sharpe ratio", "ratio"),
    "sortino": MetricFormat("Sortino ratio", "ratio"),
    "calmar": MetricFormat("Calmar ratio", "ratio"),
    "max_drawdown": MetricFormat("Max drawdown", "percent"),
    "max_drawdown_duration_days": MetricFormat("Max drawdown duration (days)", "days"),
    "win_rate": MetricFormat("Win rate", "percent"),
    "profit_factor": MetricFormat("Profit factor", "ratio"),
    "n_trades": MetricFormat("Trades (round trips)", "count"),
    "n_partial_exits": MetricFormat("Partial exits", "count"),
    "exposure": MetricFormat("Exposure (time in market)", "percent"),
    "avg_gross_exposure": MetricFormat("Average gross exposure", "percent"),
    "turnover": MetricFormat("Turnover (annual, one-way)", "percent"),
    "final_equity": MetricFormat("Final equity", "money"),
}


def metric_format(name: str) -> MetricFormat:
    """``name``'s label and kind; a name the table does not know reads as words, written as a number."""
    known = METRIC_FORMATS.get(name)
    return known if known is not None else MetricFormat(name.replace("_", " ").capitalize(), "number")


def objective_format(expression: str) -> MetricFormat:
    """The walk-forward objective's row: ``Objective (sharpe)``, written as its metric when it is a bare one."""
    text = str(expression).strip()
    known = METRIC_FORMATS.get(text)
    return MetricFormat(f"Objective ({text})", known.kind if known is not None else "number")


def _finite(value: Any) -> float | None:
    """``value`` as a finite float; None when it is missing, undefined or not a number."""
    if value is None or isinstance(value, bool):
        return None
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def format_value(value: Any, kind: MetricKind) -> str:
    """``value`` written as ``kind`` says (see the module table); :data:`MISSING` when there is none."""
    x = _finite(value)
    if x is None:
        return MISSING
    return _no_negative_zero(_written(x, kind))


def _written(x: float, kind: MetricKind) -> str:
    if kind == "percent":
        return f"{x * 100:,.2f}%"
    if kind == "ratio":
        return f"{x:,.2f}"
    if kind in ("count", "days"):
        return f"{round(x):,}"
    if kind == "money":
        return f"{x:,.2f}"
    return f"{x:,.0f}" if abs(x) >= 1e4 else f"{x:.4g}"


def _no_negative_zero(text: str) -> str:
    """``-0.00%`` / ``-0.00`` / ``-0`` as ``0.00%`` / ``0.00`` / ``0``: a value that rounds to zero has no sign.

    A figure of -0.00001 written with two decimals reads as a loss that is not there
    (a flat fold's CAGR, the holding P&L of a zero position); only the written digits
    decide, so ``-0.01%`` keeps its sign.
    """
    if text.startswith("-") and not any(ch in "123456789" for ch in text.split("e", maxsplit=1)[0]):
        return text[1:]
    return text


def format_metric(name: str, value: Any) -> str:
    """``value`` of the metric ``name`` as a person reads it: ``total_return 1.4198`` -> ``141.98%``."""
    return format_value(value, metric_format(name).kind)


def formatted_metrics(table: pd.DataFrame, formats: dict[str, MetricFormat] | None = None) -> pd.DataFrame:
    """``table`` (one row per metric name, one column per run) as text, its rows labelled.

    ``formats`` adds or replaces rows' formats (the walk-forward's ``objective``).
    """
    def lookup(name: Any) -> MetricFormat:
        return formats[name] if formats and name in formats else metric_format(str(name))

    labels, cells = [], []
    for name, row in table.iterrows():
        fmt = lookup(name)
        labels.append(fmt.label)
        cells.append([format_value(v, fmt.kind) for v in row])
    return pd.DataFrame(cells, index=labels, columns=table.columns, dtype=object)
