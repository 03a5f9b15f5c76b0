"""Figures and tables of ONE fold of a walk-forward: what its explorer draws.

The static report shows the grid's objective averaged over folds
(:func:`toolkit.report.walk_forward.heatmap_figure`); looking inside a fold needs that
fold's own surface, and the curves of one of its combinations
(:class:`~toolkit.optimize.fold_replay.FoldReplay`) beside what the fold chose.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from toolkit.optimize.evaluate import METRICS

if TYPE_CHECKING:  # pragma: no cover
    from toolkit.optimize.fold_replay import FoldReplay
    from toolkit.optimize.walk_forward import WalkForwardReport

__all__ = [
    "describe_params",
    "fold_curve_traces",
    "fold_figure",
    "fold_heatmap_traces",
    "fold_label",
    "fold_metrics_table",
]


def describe_params(values: Mapping[str, Any]) -> str:
    """``fast=10, slow=50``."""
    return ", ".join(f"{k}={v}" for k, v in values.items())


def fold_label(report: WalkForwardReport, fold: int) -> str:
    """``fold 3: IS 2003-01-02 .. 2005-12-30, OOS 2006-01-03 .. 2006-12-29`` (in sample, out of sample)."""
    f = next(f for f in report.folds if f.number == fold)
    day = "%Y-%m-%d"
    return f"fold {fold}: IS {f.is_start:{day}} .. {f.is_end:{day}}, OOS {f.oos_start:{day}} .. {f.oos_end:{day}}"


def _chosen_values(report: WalkForwardReport, fold: int) -> dict[str, Any] | None:
    row = report.fold_results[report.fold_results["fold"] == fold].iloc[0]
    if pd.isna(row["combination"]):
        return None
    return {name: row[name] for name in report.grid_params}


def fold_heatmap_traces(
    report: WalkForwardReport,
    fold: int,
    axes: tuple[str, str],
    others: Mapping[str, Any],
    selected: Mapping[str, Any] | None = None,
) -> list[go.BaseTraceType]:
    """The fold's in-sample objective over ``axes`` (y, x), other searched parameters at ``others``.

    Three traces, always (so a FigureWidget can be redrawn in place and keep its click
    handlers): the heatmap, a cross on the fold's choice (empty when it lies on another
    slice) and a ring on ``selected``. Combinations the strategy rejected are blank.
    """
    y_name, x_name = axes
    grid = report.grid.grid
    t = report.trials[report.trials["fold"] == fold]
    for name, value in others.items():
        t = t[t[name] == value]
    objective = t["objective"].where(np.isfinite(t["objective"]))
    table = objective.groupby([t[y_name], t[x_name]]).mean().unstack(x_name)
    ys, xs = sorted(grid[y_name].unique().tolist()), sorted(grid[x_name].unique().tolist())
    table = table.reindex(index=ys, columns=xs)
    chosen = _chosen_values(report, fold)
    on_slice = chosen is not None and all(chosen[k] == v for k, v in others.items())
    return [
        go.Heatmap(
            z=table.to_numpy(), x=[str(v) for v in xs], y=[str(v) for v in ys], colorscale="RdYlGn",
            colorbar=dict(title=str(report.objective), len=0.5, y=1, yanchor="top"), name="in-sample objective",
            hovertemplate=f"{y_name} %{{y}}, {x_name} %{{x}}: %{{z:.3f}}<extra></extra>",
        ),
        go.Scatter(
            x=[str(chosen[x_name])] if chosen and on_slice else [],
            y=[str(chosen[y_name])] if chosen and on_slice else [],
            mode="markers", marker=dict(symbol="x", size=12, color="black"), name="the fold's choice",
            hovertemplate="the fold's choice<extra></extra>",
        ),
        go.Scatter(
            x=[str(selected[x_name])] if selected else [], y=[str(selected[y_name])] if selected else [],
            mode="markers", marker=dict(symbol="circle-open", size=18, color="#1f77b4", line=dict(width=3)),
            name="shown below", hovertemplate="shown below<extra></extra>",
        ),
    ]


def fold_curve_traces(report: WalkForwardReport, replay: FoldReplay | None) -> list[go.BaseTraceType]:
    """Growth of 1 of ``replay``'s in-sample and out-of-sample runs, beside the fold's choice out of sample.

    Each run is divided by its own starting equity (the initial cash in sample, the
    equity the previous fold handed over out of sample) so both read as returns. The
    choice's curve is the recorded stitched equity over the fold's window. Three traces
    always; empty before anything is picked.
    """
    names = ("in sample", "out of sample", "the fold's choice, out of sample")
    lines = (dict(width=1.6, color="#7f7f7f"), dict(width=1.8, color="#1f77b4"),
             dict(width=1, dash="dot", color="black"))
    if replay is None:
        return [go.Scatter(x=[], y=[], mode="lines", name=n, line=ln) for n, ln in zip(names, lines, strict=True)]
    recorded = report.oos.equity[report.oos_fold == replay.fold]
    start = report.fold_results.loc[report.fold_results["fold"] == replay.fold, "oos_start_equity"].iloc[0]
    series = (
        replay.in_sample / report.params.initial_cash,
        replay.out_of_sample / replay.out_of_sample_start_equity,
        recorded / float(start),
    )
    return [
        go.Scatter(x=pd.DatetimeIndex(s.index).tz_convert(None), y=s.to_numpy(), mode="lines", name=n, line=ln)
        for n, s, ln in zip(names, series, lines, strict=True)
    ]


def fold_figure(
    report: WalkForwardReport,
    fold: int,
    axes: tuple[str, str] | None,
    others: Mapping[str, Any],
    selected: Mapping[str, Any] | None,
    replay: FoldReplay | None,
) -> go.Figure:
    """One figure for the explorer: the fold's heatmap on top (when there are ``axes``), the curves below.

    One figure, not two: each plotly FigureWidget ships its own copy of plotly.js to the
    page, and a second one can miss anywidget's start-up deadline on a busy machine
    (its updates are then never drawn). Traces: heatmap, choice, selection, then the
    three curves (only the curves without ``axes``).
    """
    from plotly.subplots import make_subplots

    curves_title = ("Pick a point of the heatmap to draw its curves" if replay is None
                    else f"{describe_params(_searched(report, replay.params))}: growth of 1")
    if axes is None:
        fig = make_subplots(rows=1, cols=1, subplot_titles=[curves_title])
        curve_row = 1
    else:
        where = f" ({describe_params(others)})" if others else ""
        heat_title = f"In-sample {report.objective} by {axes[0]} and {axes[1]}{where}: click a cell"
        fig = make_subplots(rows=2, cols=1, row_heights=[0.55, 0.45], vertical_spacing=0.14,
                            subplot_titles=[heat_title, curves_title])
        for trace in fold_heatmap_traces(report, fold, axes, others, selected):
            fig.add_trace(trace, row=1, col=1)
        fig.update_xaxes(type="category", title_text=axes[1], row=1, col=1)
        fig.update_yaxes(type="category", title_text=axes[0], row=1, col=1)
        curve_row = 2
    for trace in fold_curve_traces(report, replay):
        fig.add_trace(trace, row=curve_row, col=1)
    fig.update_yaxes(title_text="growth of 1", row=curve_row, col=1)
    # A date axis from the start: autotyped from no data it would be linear, and the
    # first redraw would place the out-of-sample line before the dates arrive (NaN).
    fig.update_xaxes(type="date", row=curve_row, col=1)
    if replay is not None:
        f = next(f for f in report.folds if f.number == replay.fold)
        fig.add_vline(x=f.oos_start.tz_convert(None), line=dict(width=0.8, dash="dot", color="#999"),
                      row=curve_row, col=1)
    fig.update_layout(title=fold_label(report, fold), height=820 if axes else 420,
                      margin=dict(l=60, r=20, t=70, b=40), legend=dict(orientation="h"))
    return fig


def _searched(report: WalkForwardReport, params: Mapping[str, Any]) -> dict[str, Any]:
    return {k: params[k] for k in report.grid_params}


def fold_metrics_table(report: WalkForwardReport, replay: FoldReplay) -> pd.DataFrame:
    """The replayed combination's metrics beside the fold's choice as the walk-forward recorded it."""
    row = report.fold_results[report.fold_results["fold"] == replay.fold].iloc[0]
    names = ["objective", *METRICS]
    recorded_is: dict[str, Any] = {k: np.nan for k in names}
    recorded_oos = {k: row[f"oos_{k}"] for k in names}
    if not pd.isna(row["combination"]):
        t = report.trials
        trial = t[(t["fold"] == replay.fold) & (t["combination"] == row["combination"])].iloc[0]
        recorded_is = {k: trial[k] for k in names}
    return pd.DataFrame(
        {
            "in sample": [replay.in_sample_metrics[k] for k in names],
            "out of sample": [replay.out_of_sample_metrics[k] for k in names],
            "fold's choice, in sample": [recorded_is[k] for k in names],
            "fold's choice, out of sample": [recorded_oos[k] for k in names],
        },
        index=names,
    )
