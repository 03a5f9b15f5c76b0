"""Tearsheet sections on returns: cumulative returns against the benchmark, drawdowns, yearly returns.

The numbers come from :mod:`toolkit.backtest.drawdowns` and
:mod:`toolkit.backtest.period_returns`; this module only draws and lays them out
(figures through :mod:`toolkit.report.plot_data`, tables through
:mod:`toolkit.report.html_table`, every column linked to the glossary).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from toolkit.backtest.drawdowns import underwater, worst_drawdowns
from toolkit.backtest.period_returns import yearly_returns_table
from toolkit.report.axis_ticks import adaptive_log_axis
from toolkit.report.html_table import Column, html_table
from toolkit.report.plot_data import chart_series, chart_x, chart_y

if TYPE_CHECKING:  # pragma: no cover
    from plotly.graph_objects import Figure

    from toolkit.backtest.job import BacktestReport

__all__ = ["DRAWDOWN_TABLE_COLUMNS", "YEARLY_TABLE_COLUMNS", "cumulative_returns_figure", "underwater_figure",
           "worst_drawdowns_html", "yearly_returns_html"]

_MARGIN = dict(l=70, r=20, t=50, b=30)
_BENCH_LINE = dict(width=1, dash="dot", color="#7f7f7f")


def _bench_label(report: BacktestReport) -> str:
    return f"buy & hold {report.benchmark_symbol}"


def cumulative_returns_figure(report: BacktestReport) -> Figure:
    """Equity of the strategy and the benchmark on a log axis (1-2-5 ticks), over cumulative return on a linear one."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    cash = report.result.initial_cash
    series = {"strategy": report.result.equity.astype(float),
              _bench_label(report): report.benchmark_equity.astype(float)}
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.6, 0.4], vertical_spacing=0.05,
                        subplot_titles=("Equity (log scale)", "Cumulative return (linear scale)"))
    for name, eq in series.items():
        s = chart_series(eq, how="minmax")  # the trough drawn is the max drawdown's, not a week-end's
        line = dict(width=1.6, color="#1f77b4") if name == "strategy" else _BENCH_LINE
        fig.add_trace(go.Scatter(x=chart_x(s.index), y=chart_y(s), name=name, line=line, legendgroup=name),
                      row=1, col=1)
        fig.add_trace(go.Scatter(x=chart_x(s.index), y=chart_y(s / cash - 1.0), name=name, line=line,
                                 legendgroup=name, showlegend=False), row=2, col=1)
    values = pd.concat(series.values()).dropna()
    fig.update_yaxes(**adaptive_log_axis(float(values.min()), float(values.max())), title_text="equity",
                     row=1, col=1)
    fig.update_yaxes(tickformat=".0%", title_text="cumulative return", row=2, col=1)
    fig.update_layout(height=560, margin=_MARGIN, legend=dict(orientation="h", y=-0.08))
    return fig


def underwater_figure(report: BacktestReport) -> Figure:
    """How far below its running peak each curve is, strategy filled, benchmark as a line."""
    import plotly.graph_objects as go

    fig = go.Figure()
    strat = chart_series(underwater(report.result.equity, report.result.initial_cash), how="min")
    fig.add_trace(go.Scatter(x=chart_x(strat.index), y=chart_y(strat), name="strategy", fill="tozeroy",
                             line=dict(width=0.8, color="#d62728")))
    bench = report.benchmark_equity.dropna()
    b = chart_series(underwater(bench, float(bench.iloc[0])), how="min")
    fig.add_trace(go.Scatter(x=chart_x(b.index), y=chart_y(b), name=_bench_label(report), line=_BENCH_LINE))
    fig.update_yaxes(tickformat=".0%", title_text="below peak")
    fig.update_layout(title="Underwater (drawdown from the running peak)", height=320, margin=_MARGIN,
                      legend=dict(orientation="h"))
    return fig


#: Columns of the worst-drawdowns table.
DRAWDOWN_TABLE_COLUMNS = (
    Column("start", "start (peak)", "date", "drawdown.start"),
    Column("trough", "trough", "date", "drawdown.trough"),
    Column("recovery", "recovery", "date", "drawdown.recovery"),
    Column("depth", "depth", "percent", "drawdown.depth"),
    Column("length_days", "length (days)", "days", "drawdown.length_days"),
    Column("recovery_days", "trough to recovery (days)", "days", "drawdown.recovery_days"),
)


def _deepest(n: int) -> str:
    """The caption's count in words that agree with it: "The deepest drawdown", "The 5 deepest drawdowns"."""
    if n == 0:
        return "No drawdown"
    return "The deepest drawdown" if n == 1 else f"The {n} deepest drawdowns"


def worst_drawdowns_html(report: BacktestReport, n: int = 5) -> str:
    """The ``n`` deepest drawdowns of the strategy (a recovery of "—" means not recovered by the last bar)."""
    table = worst_drawdowns(report.result.equity, report.result.initial_cash, n=n)
    return html_table(table, DRAWDOWN_TABLE_COLUMNS, index=Column("rank", "rank", "count"),
                      caption=f"{_deepest(len(table))}; a recovery of \u2014 means not yet recovered")


#: Columns of the yearly returns table.
YEARLY_TABLE_COLUMNS = (
    Column("strategy", "strategy", "percent", "yearly.return"),
    Column("benchmark", "benchmark", "percent", "yearly.return"),
    Column("difference", "difference", "percent", "yearly.difference"),
)


def yearly_returns_html(report: BacktestReport) -> str:
    """Each calendar year's return, strategy beside the benchmark (partial first and last years as they are)."""
    table = yearly_returns_table(report.result.equity, report.benchmark_equity, report.result.initial_cash)
    cols = list(YEARLY_TABLE_COLUMNS)
    cols[1] = Column("benchmark", _bench_label(report), "percent", "yearly.return")
    return html_table(table, cols, index=Column("year", "year"))
