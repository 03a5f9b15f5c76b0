"""Tearsheet sections on what was held and traded: exposure, holdings, contribution, trades, regime cells, decisions.

Numbers from :mod:`toolkit.backtest.exposure`, :mod:`toolkit.backtest.round_trips`
and :mod:`toolkit.backtest.regime_stats`. Long tables are shown whole, scrolling, with
a link to the CSV the run archived beside the report (``trades.csv``,
``decisions.csv``); a table that shows only part of one says so.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

import pandas as pd

from toolkit.backtest.exposure import contribution_to_return, exposure_over_time, holdings_weights, symbol_pnl
from toolkit.backtest.regime_stats import regime_cell_stats
from toolkit.backtest.round_trips import round_trip_table
from toolkit.report.decision_table import decisions_display
from toolkit.report.html_table import Column, html_table
from toolkit.report.plot_data import chart_series, chart_x, chart_y

if TYPE_CHECKING:  # pragma: no cover
    from plotly.graph_objects import Figure

    from toolkit.backtest.job import BacktestReport

__all__ = ["CONTRIBUTION_COLUMNS", "REGIME_TABLE_COLUMNS", "TRADE_COLUMNS", "TRADE_ROWS_SHOWN", "closes",
           "contribution_html", "decisions_html", "exposure_figure", "holdings_figure", "regime_cell_label",
           "regime_cells_html", "regime_figure",
           "round_trips", "trade_prices_figure", "trades_html"]

_MARGIN = dict(l=70, r=20, t=50, b=30)


def exposure_figure(report: BacktestReport) -> Figure:
    """Gross (leverage) and net exposure over time as fractions of equity, with long and short when there are shorts."""
    import plotly.graph_objects as go

    exp = exposure_over_time(report.result.holdings_value, report.result.equity)
    fig = go.Figure()
    shown = ["gross", "net"] + (["long", "short"] if bool((exp["short"] < 0).any()) else [])
    styles = {"gross": dict(width=1.4, color="#1f77b4"), "net": dict(width=1, color="#2ca02c", dash="dot"),
              "long": dict(width=0.8, color="#17becf"), "short": dict(width=0.8, color="#d62728")}
    for col in shown:
        s = chart_series(exp[col])
        fig.add_trace(go.Scatter(x=chart_x(s.index), y=chart_y(s), name=col, line=styles[col]))
    fig.update_yaxes(tickformat=".0%", title_text="of equity")
    fig.update_layout(title="Exposure: gross (leverage) and net", height=300, margin=_MARGIN,
                      legend=dict(orientation="h"))
    return fig


def holdings_figure(report: BacktestReport) -> Figure:
    """Each symbol's holding as a fraction of equity over time (stacked areas)."""
    import plotly.graph_objects as go

    w = holdings_weights(report.result.holdings_value, report.result.equity)
    fig = go.Figure()
    for sym in w.columns:
        s = chart_series(w[sym])
        fig.add_trace(go.Scatter(x=chart_x(s.index), y=chart_y(s), name=str(sym), stackgroup="w",
                                 line=dict(width=0.6)))
    fig.update_yaxes(tickformat=".0%", title_text="weight")
    fig.update_layout(title="Holdings per symbol (share of equity)", height=300, margin=_MARGIN,
                      legend=dict(orientation="h"))
    return fig


#: Columns of the per-symbol contribution table.
CONTRIBUTION_COLUMNS = (
    Column("pnl", "P&L", "money", "symbol.pnl"),
    Column("contribution", "contribution to return", "percent", "symbol.contribution"),
)


def contribution_html(report: BacktestReport) -> str:
    """Per symbol: P&L over the run and its contribution to the total return (they add up to it)."""
    pnl = symbol_pnl(report.result.holdings_value, report.result.orders)
    table = contribution_to_return(pnl, report.result.initial_cash)
    return html_table(table, CONTRIBUTION_COLUMNS, index=Column("symbol", "symbol"),
                      caption=f"Contributions add up to the total return, "
                              f"{table['contribution'].sum() * 100:,.2f}%")


def closes(report: BacktestReport) -> pd.DataFrame:
    """Closing prices of the run's symbols on the backtest's bars, one column per symbol."""
    panel = report.dataset.panel
    close = cast(pd.DataFrame, panel.xs("close", axis=1, level=1))
    return close.reindex(report.result.equity.index)


def round_trips(report: BacktestReport) -> pd.DataFrame:
    """The round trips with holding period and MAE / MFE (:func:`~toolkit.backtest.round_trips.round_trip_table`)."""
    return round_trip_table(report.result.trades, closes(report), fill=report.params.fill)


def trade_prices_figure(report: BacktestReport) -> Figure:
    """Each traded symbol's close with its round trips' entries (▲) and exits (▼); a menu picks the symbol.

    Markers sit at the round trip's average entry and exit price (an exit of a round
    trip still open is not drawn). One symbol shows at a time; with one, no menu.
    """
    import plotly.graph_objects as go

    trades = report.result.trades
    prices = closes(report)
    symbols = [s for s in dict.fromkeys(trades["symbol"]) if s in prices.columns] if len(trades) else []
    fig = go.Figure()
    per_symbol = 3
    for i, sym in enumerate(symbols):
        t = trades[trades["symbol"] == sym]
        closed = t[t["status"] != "open"]
        s = chart_series(prices[sym].dropna())
        visible = i == 0
        fig.add_trace(go.Scatter(x=chart_x(s.index), y=chart_y(s), name=f"{sym} close", visible=visible,
                                 line=dict(width=1, color="#555")))
        fig.add_trace(go.Scatter(x=chart_x(pd.DatetimeIndex(t["entry_time"])), y=chart_y(t["entry_price"]),
                                 mode="markers", name="entry", visible=visible,
                                 marker=dict(symbol="triangle-up", size=9, color="#2ca02c")))
        fig.add_trace(go.Scatter(x=chart_x(pd.DatetimeIndex(closed["exit_time"])), y=chart_y(closed["exit_price"]),
                                 mode="markers", name="exit", visible=visible,
                                 marker=dict(symbol="triangle-down", size=9, color="#d62728")))
    if len(symbols) > 1:
        buttons = [dict(label=str(sym), method="update",
                        args=[{"visible": [j // per_symbol == i for j in range(per_symbol * len(symbols))]}])
                   for i, sym in enumerate(symbols)]
        fig.update_layout(updatemenus=[dict(buttons=buttons, direction="down", x=0, xanchor="left", y=1.15,
                                            yanchor="top")])
    title = "Entries and exits on the price" + (f" of {symbols[0]}" if len(symbols) == 1 else " (pick a symbol)")
    fig.update_layout(title=dict(text=title, x=0.5 if len(symbols) > 1 else 0.05), height=380, margin=_MARGIN,
                      legend=dict(orientation="h"))
    fig.update_yaxes(title_text="close")
    return fig


#: Columns of the trade list.
TRADE_COLUMNS = (
    Column("symbol", "symbol"),
    Column("entry_time", "entry", "date"),
    Column("exit_time", "exit", "date"),
    Column("status", "status"),
    Column("size", "size", "quantity"),
    Column("entry_price", "entry price", "money"),
    Column("exit_price", "exit price", "money"),
    Column("pnl", "P&L", "money", "trade.pnl"),
    Column("return", "return", "percent", "trade.return"),
    Column("holding_days", "held (days)", "days", "trade.holding_days"),
    Column("holding_bars", "held (bars)", "count", "trade.holding_bars"),
    Column("mae", "MAE", "percent", "trade.mae"),
    Column("mfe", "MFE", "percent", "trade.mfe"),
    Column("partial_exits", "partial exits", "count", "n_partial_exits"),
)


#: Round trips the archived report shows before paging: the first and last half of them, the rest in trades.csv.
TRADE_ROWS_SHOWN = 500


def trades_html(report: BacktestReport, *, archived: bool = True) -> str:
    """The round trips, oldest first, scrolling past 20 rows; ``archived``: link the run's ``trades.csv``.

    ``trades.csv`` holds the same round trips (MAE / MFE and holding periods are the report's).
    Archived, a run with more than :data:`TRADE_ROWS_SHOWN` round trips shows the first and
    last of them and says so (a high-turnover run has thousands); not archived (the
    notebook, with no CSV to point at), every one is shown.
    """
    csv = "trades.csv" if archived else None
    table = round_trips(report)
    table.index = pd.RangeIndex(1, len(table) + 1)
    return html_table(table, TRADE_COLUMNS, index=Column("n", "#", "count"), csv=csv, what="round trips",
                      max_rows=TRADE_ROWS_SHOWN,
                      caption=f"{len(report.result.orders):,} orders; a position still held at the end is "
                              "marked open")


#: Columns of the regime-cell table.
REGIME_TABLE_COLUMNS = (
    Column("days", "bars", "count", "regime.days"),
    Column("share", "share of time", "percent", "regime.share"),
    Column("annual_return", "annual return", "percent", "regime.annual_return"),
    Column("volatility", "volatility", "percent", "regime.volatility"),
    Column("sharpe", "Sharpe", "ratio", "regime.sharpe"),
    Column("max_drawdown", "max drawdown", "percent", "regime.max_drawdown"),
)


def regime_cell_label(report: BacktestReport, cell: object) -> str:
    """``cell`` as the strategy names it (``3: sideways / low vol (Drift)``); its number alone when unnamed."""
    number = int(cast(float, cell)) if float(cast(float, cell)).is_integer() else cell
    return report.strategy.regime_cells.get(cast(int, number), str(number))


def regime_figure(report: BacktestReport) -> Figure:
    """The regime band under the equity curve, each cell named in the legend as the strategy's spec names it."""
    from toolkit.report.plots import regime_timeline

    return regime_timeline(report.result.equity, report.decisions.context["cell"],
                           names=report.strategy.regime_cells)


def regime_cells_html(report: BacktestReport) -> str:
    """Per regime cell, named by the strategy's spec: time spent there and the return, risk and drawdown earned there.

    A bar's return is earned under the cell decided on the bar before (see
    :mod:`toolkit.backtest.regime_stats`), so the decisions' cells are shifted by one bar.
    """
    cells = report.decisions.context["cell"].reindex(report.result.equity.index).shift(1)
    table = regime_cell_stats(report.result.returns, cells, risk_free_rate=report.params.risk_free_rate)
    table.index = [regime_cell_label(report, c) for c in table.index]
    caption = ("Bars are return bars: a bar counts for the cell decided on the bar before, so a cell can "
               "count one bar fewer here than in the regime band above, which colours the bar it was decided on.")
    return html_table(table, REGIME_TABLE_COLUMNS, index=Column("cell", "cell", "text", "regime.cell"),
                      caption=caption)


def decisions_html(report: BacktestReport, *, last: int = 10, archived: bool = True) -> str:
    """The last ``last`` bars of the decisions table, saying so; ``archived``: link the run's ``decisions.csv``.

    Target weights in percent, flags as yes/no, whole numbers as counts and each
    indicator column at one precision (:mod:`toolkit.report.decision_table`).
    """
    csv = "decisions.csv" if archived else None
    t = report.decisions_table()
    tail = t.tail(last)
    shown, cols = decisions_display(t, tail)
    return html_table(shown, cols, index=Column("timestamp", "bar", "date"), csv=csv,
                      caption=f"The last {len(tail):,} of {len(t):,} bars")
