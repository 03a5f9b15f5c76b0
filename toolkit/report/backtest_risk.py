"""Tearsheet sections on risk and the benchmark: metric tables, rolling figures, return distributions.

Numbers from :func:`toolkit.backtest.metrics.compute_metrics` (``metrics.json``),
:func:`toolkit.backtest.tearsheet_stats.tearsheet_metrics`,
:func:`toolkit.backtest.benchmark_stats.rolling_stats` and
:mod:`toolkit.backtest.distribution`; labels and kinds from the glossary, so a row
reads as its definition says and links to it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from toolkit.backtest.benchmark_stats import ROLLING_WINDOWS, aligned_returns, rolling_stats
from toolkit.backtest.distribution import return_distribution
from toolkit.backtest.metrics import daily_returns
from toolkit.backtest.period_returns import best_worst, monthly_return_series
from toolkit.backtest.tearsheet_stats import BENCHMARK_RELATIVE_KEYS, tearsheet_metrics
from toolkit.report.glossary import glossary_entry
from toolkit.report.html_table import Column, MetricRow, format_cell, html_table, metric_rows_table
from toolkit.report.metric_format import METRIC_FORMATS
from toolkit.report.plot_data import chart_series, chart_x, chart_y

if TYPE_CHECKING:  # pragma: no cover
    from plotly.graph_objects import Figure

    from toolkit.backtest.job import BacktestReport

__all__ = ["RELATIVE_ROWS", "benchmark_relative_html", "best_worst_html", "key_metrics_html", "relative_stats",
           "return_distribution_figure", "rolling_figure"]

_MARGIN = dict(l=70, r=20, t=50, b=30)

#: Rows of the benchmark-relative table, in order (keys of :func:`tearsheet_metrics`).
RELATIVE_ROWS = ("alpha", "beta", "correlation", "tracking_error", "information_ratio", "capture", "up_capture",
                 "down_capture", "up_down_capture",
                 "tail_ratio", "daily_skew", "daily_excess_kurtosis", "best_day", "worst_day",
                 "best_month", "worst_month", "best_year", "worst_year", "longest_flat_days")


def _bench_label(report: BacktestReport) -> str:
    return f"buy & hold {report.benchmark_symbol}"


def _row(key: str, values: tuple[Any, ...]) -> MetricRow:
    entry = glossary_entry(key)
    return MetricRow(entry.name, entry.kind, values, glossary=key)


def key_metrics_html(report: BacktestReport) -> str:
    """Every figure of ``metrics.json``, strategy beside benchmark, written by kind and linked to the glossary.

    Trade figures have no benchmark value (buy and hold does not trade): a dash.
    """
    bench = {**report.benchmark_metrics, "final_equity": float(report.benchmark_equity.dropna().iloc[-1])}
    rows = [MetricRow(fmt.label, fmt.kind, (report.metrics.get(key), bench.get(key)), glossary=key)
            for key, fmt in METRIC_FORMATS.items() if key in report.metrics]
    return metric_rows_table(rows, ["strategy", _bench_label(report)])


def relative_stats(report: BacktestReport) -> dict[str, dict[str, float | None]]:
    """``{"strategy": ..., "benchmark": ...}``: :func:`tearsheet_metrics` of each (relative keys: strategy only)."""
    p = report.params
    strat = tearsheet_metrics(report.result.equity, report.result.initial_cash,
                              benchmark_equity=report.benchmark_equity, risk_free_rate=p.risk_free_rate)
    bench_eq = report.benchmark_equity.dropna()
    bench = tearsheet_metrics(bench_eq, float(bench_eq.iloc[0]), risk_free_rate=p.risk_free_rate)
    return {"strategy": strat, "benchmark": bench}


def benchmark_relative_html(report: BacktestReport) -> str:
    """Alpha, beta, correlation, IR, capture, tail ratio, best / worst day, month, year, longest flat period."""
    stats = relative_stats(report)
    rows = [_row(k, (stats["strategy"].get(k), None if k in BENCHMARK_RELATIVE_KEYS else stats["benchmark"].get(k)))
            for k in RELATIVE_ROWS]
    return metric_rows_table(rows, ["strategy", _bench_label(report)],
                             caption="Alpha to up/down capture: the strategy against the benchmark")


def _when(value: Any) -> str:
    return str(value) if isinstance(value, (int, np.integer)) else format_cell(value, "date")


def best_worst_html(report: BacktestReport) -> str:
    """Best and worst day, month and year of the strategy, with when each happened."""
    bw = best_worst(report.result.equity, report.result.initial_cash).to_frame()
    bw = bw.assign(best_when=bw["best_when"].map(_when), worst_when=bw["worst_when"].map(_when))
    cols = [Column("best", "best", "percent", "best_day"), Column("best_when", "when"),
            Column("worst", "worst", "percent", "worst_day"), Column("worst_when", "when")]
    return html_table(bw, cols, index=Column("period", "period"))


def rolling_figure(report: BacktestReport) -> Figure:
    """Trailing 6- and 12-month Sharpe, volatility and beta to the benchmark, one panel each.

    A run shorter than the 6-month window (126 bars) has no value to draw: the figure says so.
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    pair = aligned_returns(report.result.equity, report.benchmark_equity, report.result.initial_cash)
    fig = make_subplots(rows=3, cols=1, shared_xaxes=True, vertical_spacing=0.05,
                        subplot_titles=("Rolling Sharpe ratio", "Rolling volatility (annual)",
                                        f"Rolling beta to {report.benchmark_symbol}"))
    colours = {"6m": "#ff7f0e", "12m": "#1f77b4"}
    for label, window in ROLLING_WINDOWS.items():
        stats = rolling_stats(pair["strategy"], pair["benchmark"], window=window,
                              risk_free_rate=report.params.risk_free_rate)
        for row, col in enumerate(("sharpe", "volatility", "beta"), start=1):
            s = chart_series(stats[col])
            fig.add_trace(go.Scatter(x=chart_x(s.index), y=chart_y(s), name=f"{label} ({window} bars)",
                                     legendgroup=label, showlegend=row == 1,
                                     line=dict(width=1.2, color=colours.get(label))), row=row, col=1)
    fig.update_yaxes(tickformat=".0%", row=2, col=1)
    fig.update_layout(height=640, margin=_MARGIN, legend=dict(orientation="h", y=-0.06))
    shortest = min(ROLLING_WINDOWS.values())
    if len(pair) < shortest:  # every window still filling: say why the panels are empty rather than draw nothing
        fig.add_annotation(text=f"Rolling statistics need at least {shortest} bars; this run has {len(pair):,}.",
                           xref="paper", yref="paper", x=0.5, y=0.5, showarrow=False, font=dict(size=14))
    return fig


def _histogram(returns: pd.Series, bins: int) -> tuple[np.ndarray, np.ndarray, float]:
    r = returns.dropna().to_numpy(dtype=float)
    counts, edges = np.histogram(r, bins=bins)
    return counts, edges, float(edges[1] - edges[0])


def return_distribution_figure(report: BacktestReport) -> Figure:
    """Histograms of daily and monthly returns with the normal of the same mean and standard deviation over each."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    eq, cash = report.result.equity, report.result.initial_cash
    series = {"daily": daily_returns(eq, cash), "monthly": monthly_return_series(eq, cash)}
    dists = {k: return_distribution(v) for k, v in series.items()}
    fig = make_subplots(rows=1, cols=2, subplot_titles=tuple(
        f"{k.capitalize()} returns (skew {format_cell(d.skew, 'ratio')}, excess kurtosis "
        f"{format_cell(d.excess_kurtosis, 'ratio')})" for k, d in dists.items()))
    for col, (name, r) in enumerate(series.items(), start=1):
        d = dists[name]
        counts, edges, width = _histogram(r, 80 if name == "daily" else 30)
        mids = (edges[:-1] + edges[1:]) / 2
        fig.add_trace(go.Bar(x=chart_y(mids), y=counts, width=width, name=f"{name} returns", marker_color="#1f77b4",
                             opacity=0.75, showlegend=col == 1), row=1, col=col)
        if d.n > 1 and d.std > 0:
            grid = np.linspace(edges[0], edges[-1], 200)
            fig.add_trace(go.Scatter(x=chart_y(grid), y=chart_y(d.normal_pdf(grid) * d.n * width), name="normal",
                                     line=dict(color="#d62728", width=1.4), showlegend=col == 1), row=1, col=col)
        fig.update_xaxes(tickformat=".1%", row=1, col=col)
    fig.update_yaxes(title_text="count", row=1, col=1)
    fig.update_layout(height=360, margin=_MARGIN, bargap=0, legend=dict(orientation="h", y=-0.15))
    return fig
