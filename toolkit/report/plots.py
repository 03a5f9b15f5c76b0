"""Plotly figures for the notebook reports.

``use_offline_renderer`` makes figures embed plotly.js once in the notebook output,
so the nbconvert HTML report stays interactive and opens without a network.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from toolkit.report.axis_ticks import adaptive_log_axis
from toolkit.report.plot_data import chart_x, chart_y

#: Cell colours of regime strategies (v3.5b cells 1-6).
CELL_COLOURS = {1: "#1a9850", 2: "#91cf60", 3: "#d9ef8b", 4: "#fee08b", 5: "#fc8d59", 6: "#d73027"}


def use_offline_renderer(*, headless: bool = False) -> None:
    """Render figures so the nbconvert HTML report is interactive offline.

    Interactive sessions get JupyterLab's plotly mimetype plus self-contained HTML;
    a headless papermill run (``headless=True``) only needs the HTML, which halves
    the size of the archived notebook and the time spent writing and converting it.
    """
    import plotly.io as pio

    pio.renderers.default = "notebook" if headless else "plotly_mimetype+notebook"


def _naive(idx: pd.Index) -> pd.Index:
    return idx.tz_convert(None) if isinstance(idx, pd.DatetimeIndex) and idx.tz is not None else idx


def equity_drawdown(equity: pd.Series, benchmark: pd.Series | None = None, *, title: str = "Equity and drawdown"):
    """Equity (log scale) over drawdown, strategy against buy and hold."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.7, 0.3], vertical_spacing=0.04)
    x = _naive(equity.index)
    fig.add_trace(go.Scatter(x=x, y=equity.to_numpy(), name="strategy", line=dict(width=1.6)), row=1, col=1)
    if benchmark is not None:
        fig.add_trace(
            go.Scatter(x=x, y=benchmark.to_numpy(), name=f"{benchmark.name}", line=dict(width=1, dash="dot")),
            row=1, col=1,
        )
    dd = equity / equity.cummax() - 1
    fig.add_trace(
        go.Scatter(x=x, y=dd.to_numpy(), name="drawdown", fill="tozeroy", line=dict(width=0.8, color="#d62728")),
        row=2, col=1,
    )
    if benchmark is not None:
        bdd = benchmark / benchmark.cummax() - 1
        fig.add_trace(
            go.Scatter(x=x, y=bdd.to_numpy(), name="benchmark drawdown", line=dict(width=0.8, color="#7f7f7f")),
            row=2, col=1,
        )
    # Readable ticks at every zoom (50k, 100k, 200k): plotly's default reads "2, 100k, 9, 8" on a short log range.
    shown = pd.concat([equity, benchmark]) if benchmark is not None else equity
    shown = shown[np.isfinite(shown) & (shown > 0)]
    if len(shown):
        fig.update_yaxes(**adaptive_log_axis(float(shown.min()), float(shown.max())), row=1, col=1)
    fig.update_yaxes(type="log", title_text="equity", row=1, col=1)
    fig.update_yaxes(tickformat=".0%", title_text="drawdown", row=2, col=1)
    fig.update_layout(title=title, height=520, margin=dict(l=60, r=20, t=50, b=30), legend=dict(orientation="h"))
    return fig


def _percent_text(value: float) -> str:
    """A heatmap cell's label: one decimal, a month that rounds to zero reads 0.0%, never -0.0%."""
    if pd.isna(value):
        return ""
    text = f"{value:.1%}"
    return "0.0%" if text == "-0.0%" else text


def monthly_heatmap(table: pd.DataFrame, *, title: str = "Monthly returns"):
    """Year x month heatmap of compounded monthly returns."""
    import plotly.graph_objects as go

    z = table.to_numpy()
    text = [[_percent_text(v) for v in row] for row in z]
    lim = float(pd.DataFrame(z).abs().max().max() or 0.1)
    fig = go.Figure(
        go.Heatmap(z=z, x=list(table.columns), y=[str(y) for y in table.index], text=text, texttemplate="%{text}",
                   colorscale="RdYlGn", zmid=0, zmin=-lim, zmax=lim, colorbar=dict(tickformat=".0%"))
    )
    fig.update_layout(title=title, height=max(300, 22 * len(table) + 120), yaxis=dict(autorange="reversed"),
                      margin=dict(l=60, r=20, t=50, b=30))
    return fig


def regime_timeline(equity: pd.Series, cells: pd.Series, *, title: str = "Equity with regime cells",
                    names: Mapping[int, str] | None = None):
    """Equity curve (log axis with 1-2-5 ticks) over a strip coloured by the strategy's regime cell on each bar.

    ``names``: each cell's legend entry (a strategy's ``regime_cells``, ``3: sideways / low
    vol (Drift)``); an unnamed cell reads ``cell 3``.
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.8, 0.2], vertical_spacing=0.03)
    x = np.asarray(chart_x(equity.index), dtype=object)  # short date strings: the page stays small
    fig.add_trace(
        go.Scatter(x=list(x), y=chart_y(equity), name="strategy", line=dict(width=1.4, color="#1f77b4")), row=1, col=1
    )
    c = cells.reindex(equity.index)
    for cell, colour in CELL_COLOURS.items():
        mask = (c == cell).to_numpy()
        if mask.any():
            fig.add_trace(go.Bar(x=list(x[mask]), y=np.ones(int(mask.sum()), dtype=np.int8),
                                 name=(names or {}).get(cell, f"cell {cell}"), marker_color=colour,
                                 marker_line_width=0, width=86_400_000), row=2, col=1)
    fig.update_yaxes(**adaptive_log_axis(float(equity.min()), float(equity.max())), row=1, col=1)
    fig.update_yaxes(visible=False, row=2, col=1)
    fig.update_layout(title=title, barmode="stack", bargap=0, height=480, margin=dict(l=60, r=20, t=50, b=30),
                      legend=dict(orientation="h"))
    return fig


def cell_statistics(cells: pd.Series, returns: pd.Series) -> pd.DataFrame:
    """Time spent in each regime cell and the return earned there.

    ``returns`` are the strategy's bar returns; bar t's return is earned by the
    position set at the end of bar t-1, so it is attributed to bar t-1's cell.
    ``contribution`` is the sum of log returns earned in the cell: contributions add
    up to the log of total growth.
    """
    import numpy as np

    held_cell = cells.shift(1)
    df = pd.DataFrame({"cell": held_cell, "r": returns}).dropna()
    logr = np.log1p(df["r"])
    g = df.assign(logr=logr).groupby("cell")
    out = pd.DataFrame(
        {
            "bars": g.size(),
            "share_of_time": g.size() / len(df),
            "compounded_return": g["logr"].sum().map(np.expm1),
            "log_contribution": g["logr"].sum(),
        }
    )
    out.index = out.index.astype(int)
    return out


def snapshot_equity(snapshots: pd.DataFrame, *, title: str = "Equity from the ledger's snapshots"):
    """Equity per session from the ledger's performance snapshots (dry run and live)."""
    import plotly.graph_objects as go

    x = pd.to_datetime(snapshots["session_date"])
    fig = go.Figure(go.Scatter(x=x, y=snapshots["equity"].astype(float), mode="lines+markers", name="equity"))
    fig.update_layout(title=title, yaxis_title="equity", height=350, margin=dict(l=60, r=20, t=50, b=30))
    return fig
