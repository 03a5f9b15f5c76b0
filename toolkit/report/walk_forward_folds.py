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

__all__ = ["describe_params", "fold_curves_figure", "fold_heatmap_figure", "fold_label", "fold_metrics_table"]


def describe_params(values: Mapping[str, Any]) -> str:
    """``fast=10, slow=50``."""
    return ", ".join(f"{k}={v}" for k, v in values.items())


def fold_label(report: WalkForwardReport, fold: int) -> str:
    """``fold 3: in sample 2003-01-02 .. 2005-12-30, out of sample 2006-01-03 .. 2006-12-29``."""
    f = next(f for f in report.folds if f.number == fold)
    day = "%Y-%m-%d"
    return (f"fold {fold}: in sample {f.is_start:{day}} .. {f.is_end:{day}}, "
            f"out of sample {f.oos_start:{day}} .. {f.oos_end:{day}}")


def _chosen_values(report: WalkForwardReport, fold: int) -> dict[str, Any] | None:
    row = report.fold_results[report.fold_results["fold"] == fold].iloc[0]
    if pd.isna(row["combination"]):
        return None
    return {name: row[name] for name in report.grid_params}


def fold_heatmap_figure(
    report: WalkForwardReport,
    fold: int,
    axes: tuple[str, str],
    others: Mapping[str, Any],
    selected: Mapping[str, Any] | None = None,
) -> go.Figure:
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
    fig = go.Figure(go.Heatmap(
        z=table.to_numpy(), x=[str(v) for v in xs], y=[str(v) for v in ys], colorscale="RdYlGn",
        colorbar=dict(title=str(report.objective)),
        hovertemplate=f"{y_name} %{{y}}, {x_name} %{{x}}: %{{z:.3f}}<extra></extra>",
    ))
    chosen = _chosen_values(report, fold)
    on_slice = chosen is not None and all(chosen[k] == v for k, v in others.items())
    fig.add_trace(go.Scatter(
        x=[str(chosen[x_name])] if chosen and on_slice else [], y=[str(chosen[y_name])] if chosen and on_slice else [],
        mode="markers", marker=dict(symbol="x", size=12, color="black"), name="the fold's choice",
        hovertemplate="the fold's choice<extra></extra>",
    ))
    fig.add_trace(go.Scatter(
        x=[str(selected[x_name])] if selected else [], y=[str(selected[y_name])] if selected else [],
        mode="markers", marker=dict(symbol="circle-open", size=18, color="#1f77b4", line=dict(width=3)),
        name="shown below", hovertemplate="shown below<extra></extra>",
    ))
    where = f" ({describe_params(others)})" if others else ""
    fig.update_layout(
        title=f"Fold {fold}: in-sample {report.objective} by {y_name} and {x_name}{where}; click a cell",
        xaxis_title=x_name, yaxis_title=y_name, height=460, margin=dict(l=60, r=20, t=50, b=40),
        xaxis=dict(type="category"), yaxis=dict(type="category"), legend=dict(orientation="h"),
    )
    return fig


def fold_curves_figure(report: WalkForwardReport, replay: FoldReplay | None) -> go.Figure:
    """Growth of 1 of ``replay``'s in-sample and out-of-sample runs, beside the fold's choice out of sample.

    Each run is divided by its own starting equity (the initial cash in sample, the
    equity the previous fold handed over out of sample) so both read as returns. The
    choice's curve is the recorded stitched equity over the fold's window. Three
    traces always; empty before anything is picked.
    """
    fig = go.Figure()
    if replay is None:
        for name in ("in sample", "out of sample", "the fold's choice, out of sample"):
            fig.add_trace(go.Scatter(x=[], y=[], mode="lines", name=name))
        fig.update_layout(title="Pick a point of the heatmap to draw its curves", height=380)
        return fig
    f = next(f for f in report.folds if f.number == replay.fold)
    recorded = report.oos.equity[report.oos_fold == replay.fold]
    start = report.fold_results.loc[report.fold_results["fold"] == replay.fold, "oos_start_equity"].iloc[0]
    series = (
        ("in sample", replay.in_sample / report.params.initial_cash, dict(width=1.6, color="#7f7f7f")),
        ("out of sample", replay.out_of_sample / replay.out_of_sample_start_equity, dict(width=1.8, color="#1f77b4")),
        ("the fold's choice, out of sample", recorded / float(start), dict(width=1, dash="dot", color="black")),
    )
    for name, s, line in series:
        x = pd.DatetimeIndex(s.index).tz_convert(None)
        fig.add_trace(go.Scatter(x=x, y=s.to_numpy(), mode="lines", name=name, line=line))
    fig.add_vline(x=f.oos_start.tz_convert(None), line=dict(width=0.8, dash="dot", color="#999"))
    fig.update_layout(
        title=f"Fold {replay.fold}, {describe_params(_searched(report, replay.params))}: growth of 1",
        yaxis_title="growth of 1", height=380, margin=dict(l=60, r=20, t=50, b=30), legend=dict(orientation="h"),
    )
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
