"""The walk-forward report's tables and figures (``notebooks/walk_forward.ipynb``).

The run itself (:func:`toolkit.optimize.walk_forward.run_walk_forward`) returns a
:class:`~toolkit.optimize.walk_forward.WalkForwardReport` holding the numbers; how
they are shown lives here, on top of research, so the optimiser never imports plotly.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from toolkit.backtest.metrics import TRADING_DAYS
from toolkit.optimize.evaluate import METRICS
from toolkit.report import plots, tables
from toolkit.report.glossary import GLOSSARY
from toolkit.report.html_table import Column, MetricRow, html_table, metric_rows_table
from toolkit.report.metric_format import format_value, metric_format, objective_format
from toolkit.report.plot_data import chart_x, chart_y

if TYPE_CHECKING:  # pragma: no cover
    from toolkit.optimize.walk_forward import WalkForwardReport

__all__ = [
    "equity_figure",
    "heatmap_figure",
    "metrics_html",
    "metrics_table",
    "overfitting_html",
    "overfitting_table",
    "params_table",
    "recommended_html",
    "scatter_figure",
    "stability_figure",
    "trials_html",
]

#: Rows of the trials table shown before it is paged (first and last halves; ``trials.csv`` has them all).
TRIALS_SHOWN = 200


def _glossary_key(name: str) -> str | None:
    return name if name in GLOSSARY else None


def metrics_table(report: WalkForwardReport) -> pd.DataFrame:
    """Stitched OOS metrics beside buy and hold over the same bars."""
    return tables.metrics_side_by_side(
        report.oos_metrics,
        report.benchmark_metrics,
        label="walk-forward OOS",
        benchmark_label=f"buy & hold {report.benchmark_symbol}",
    )


def metrics_html(report: WalkForwardReport) -> str:
    """:func:`metrics_table` written by kind (percentages, ratios, counts, money), labels linked to the glossary.

    The benchmark's final equity is its curve's last value (its metrics do not carry it),
    the figure the headline shows.
    """
    table = metrics_table(report)
    bench = table.columns[1]
    table.loc["final_equity", bench] = float(report.benchmark_equity.dropna().iloc[-1])
    rows = []
    for name, values in table.iterrows():
        fmt = metric_format(str(name))
        rows.append(MetricRow(fmt.label, fmt.kind, tuple(values), glossary=_glossary_key(str(name))))
    return metric_rows_table(rows, [str(c) for c in table.columns])


def overfitting_table(report: WalkForwardReport) -> pd.DataFrame:
    """PSR, DSR and PBO side by side, with what each was computed from.

    Sharpe ratios are shown annualised (per-bar figures times sqrt(252)) with 2 decimals and
    the probabilities (PSR, DSR, PBO) as percentages with 2 decimals, as the headline and the
    metrics table write them; the statistics themselves are computed per bar.
    """
    ann = math.sqrt(TRADING_DAYS)
    psr, dsr, pbo = report.psr, report.dsr, report.pbo
    prob, sharpe = (lambda x: format_value(x, "percent")), (lambda x: format_value(x, "ratio"))
    rows: list[tuple[str, str, str]] = []
    if psr is not None:
        rows.append(("PSR", prob(psr.psr), "P(true Sharpe > 0) of the stitched OOS record, search not charged"))
    else:
        rows.append(("PSR", "-", report.psr_note))
    if dsr is not None:
        rows += [
            ("DSR", prob(dsr.dsr), "P(true Sharpe > SR0): charged for the configurations searched"),
            ("OOS Sharpe (annualised)", sharpe(dsr.sr * ann), f"over {dsr.n_obs:,} bars"),
            ("SR0 (annualised)", sharpe(dsr.sr0 * ann), "what the best of N skill-less configurations shows by luck"),
            ("configurations N", f"{dsr.n_trials:,.0f}", "distinct configurations searched"),
            ("spread of their Sharpes (annualised)", sharpe(math.sqrt(dsr.sr_variance) * ann),
             "standard deviation across configurations, over the same OOS bars"),
            ("skew", f"{dsr.skew:.2f}", "of the OOS daily returns (0 for a normal)"),
            ("excess kurtosis", f"{dsr.excess_kurtosis:.2f}",
             "of the OOS daily returns: kurtosis - 3, 0 for a normal (the formula adds the 3 back)"),
        ]
    else:
        rows.append(("DSR", "-", report.dsr_note))
    if pbo is not None:
        rows.append(("PBO", prob(pbo.pbo), f"CSCV over {pbo.n_splits} blocks of {pbo.n_trials:,} configurations"))
    else:
        rows.append(("PBO", "-", report.pbo_note))
    return pd.DataFrame(rows, columns=["statistic", "value", "what"]).set_index("statistic")


#: Glossary key of each row of :func:`overfitting_table` that has one.
_OVERFITTING_GLOSSARY = {"PSR": "psr", "DSR": "dsr", "OOS Sharpe (annualised)": "wf.oos_sharpe",
                         "SR0 (annualised)": "sr0", "configurations N": "wf.n_configurations",
                         "spread of their Sharpes (annualised)": "wf.sharpe_spread", "skew": "wf.skew",
                         "excess kurtosis": "wf.excess_kurtosis", "PBO": "pbo"}


def overfitting_html(report: WalkForwardReport) -> str:
    """:func:`overfitting_table` as HTML: every row whole (nothing cut), statistics linked to the glossary."""
    table = overfitting_table(report)
    rows = [MetricRow(str(name), "text", (row["value"], row["what"]), glossary=_OVERFITTING_GLOSSARY.get(str(name)))
            for name, row in table.iterrows()]
    return metric_rows_table(rows, ["value", "what it says"], first_header="Statistic")


def trials_html(report: WalkForwardReport, max_rows: int = TRIALS_SHOWN) -> str:
    """Every trial of every fold (fold by fold, best in-sample objective first), every metric by kind.

    Past ``max_rows`` the table is paged: its first and last rows are shown, a row between
    them and the note above say which rows are left out and that ``trials.csv`` (the same
    rows in the same order, :meth:`~toolkit.optimize.walk_forward.WalkForwardReport.trials_by_fold`)
    holds them all. Shorter tables are shown whole, scrolling.
    """
    t = report.trials_by_fold()
    t["valid"] = t["valid"].map({True: "yes", False: "no"})
    t["chosen"] = t["chosen"].map({True: "yes", False: "no"})
    obj = objective_format(str(report.objective))
    cols = [Column("fold", "fold", "count")]
    cols += [Column(name, name, "number") for name in report.grid_params]
    cols.append(Column("objective", obj.label, obj.kind, "wf.objective"))
    for name in METRICS:
        fmt = metric_format(name)
        cols.append(Column(name, fmt.label, fmt.kind, _glossary_key(name)))
    cols += [Column("valid", "meets constraints", glossary="wf.meets_constraints"),
             Column("chosen", "chosen", glossary="wf.chosen")]
    n_folds = int(t["fold"].nunique())
    caption = (f"every combination of every fold: {len(t):,} trials, {n_folds:,} folds x "
               f"{report.grid.n_kept:,} combinations, each fold's best in-sample objective first")
    if len(t) > max_rows:
        caption += f"; paged: the first and last {max_rows // 2:,} rows are shown here"
    table = html_table(t, cols, caption=caption, csv="trials.csv", what="trials", scroll_rows=15, max_rows=max_rows)
    # Long metric names ("Max drawdown duration (days)") wrap in the header: the figures set the width.
    return ('<div class="tk-wf-trials"><style>.tk-wf-trials thead th{white-space:normal;vertical-align:bottom;'
            f"min-width:4em}}</style>{table}</div>")


def recommended_html(rec: dict | None) -> str:
    """The recommended strategy parameters as a two-column table (nothing when there is no recommendation)."""
    if not rec:
        return ""
    values = rec["strategy_params"]
    frame = pd.DataFrame({"parameter": list(values), "value": [str(v) for v in values.values()]})
    return html_table(frame, [Column("parameter", "parameter"), Column("value", "value")], what="parameters")


def params_table(report: WalkForwardReport) -> pd.DataFrame:
    """Resolved params flattened to ``key: value`` rows."""
    return tables.params_table(report.params)


def equity_figure(report: WalkForwardReport) -> go.Figure:
    """Stitched OOS equity against buy and hold, fold starts marked."""
    fig = plots.equity_drawdown(
        report.oos.equity,
        report.benchmark_equity.rename(f"buy & hold {report.benchmark_symbol}"),
        title="Stitched out-of-sample equity",
    )
    # Short date strings and float32 values (plot_data) in the static report: the page stays under 6 MB.
    x = chart_x(report.oos.equity.index)
    for trace in fig.data:
        trace.update(x=x, y=chart_y(np.asarray(trace.y, dtype=float)))
    for f in report.folds[1:]:
        fig.add_vline(x=f.oos_start.tz_convert(None), line=dict(width=0.6, dash="dot", color="#999"), row=1, col=1)
    return fig


def stability_figure(report: WalkForwardReport) -> go.Figure:
    """Chosen value of each searched parameter per fold: do the choices wander?"""
    from plotly.subplots import make_subplots

    names = report.grid_params
    fig = make_subplots(rows=len(names), cols=1, shared_xaxes=True, subplot_titles=names, vertical_spacing=0.08)
    fr = report.fold_results
    for i, name in enumerate(names, start=1):
        values = sorted(report.grid.grid[name].unique())
        fig.add_trace(
            go.Scatter(x=fr["fold"], y=fr[name], mode="lines+markers", name=name,
                       text=fr["oos_start"].dt.strftime("OOS from %Y-%m-%d"),
                       hovertemplate="fold %{x}: %{y}<br>%{text}"),
            row=i, col=1,
        )
        if all(isinstance(v, (int, float, np.integer, np.floating)) for v in values):
            pad = (values[-1] - values[0]) * 0.05 or 1
            fig.update_yaxes(range=[values[0] - pad, values[-1] + pad], row=i, col=1)
    fig.update_xaxes(title_text="fold", dtick=1, row=len(names), col=1)
    fig.update_layout(title="Parameter stability across folds", height=200 + 180 * len(names),
                      showlegend=False, margin=dict(l=60, r=20, t=60, b=40))
    return fig


def scatter_figure(report: WalkForwardReport) -> go.Figure:
    """In-sample against out-of-sample objective of each fold's choice."""
    fr = report.fold_results.dropna(subset=["is_objective", "oos_objective"])
    fig = go.Figure(
        go.Scatter(x=fr["is_objective"], y=fr["oos_objective"], mode="markers+text", text=fr["fold"].astype(str),
                   textposition="top center", marker=dict(size=9), name="fold",
                   hovertemplate="fold %{text}<br>IS %{x:.3f}<br>OOS %{y:.3f}")
    )
    if len(fr):
        lo = float(min(fr["is_objective"].min(), fr["oos_objective"].min()))
        hi = float(max(fr["is_objective"].max(), fr["oos_objective"].max()))
        fig.add_trace(
            go.Scatter(x=[lo, hi], y=[lo, hi], mode="lines", line=dict(dash="dot", color="#999"), name="OOS = IS")
        )
    fig.update_layout(title=f"In-sample vs out-of-sample objective ({report.objective})", xaxis_title="in sample",
                      yaxis_title="out of sample", height=450, margin=dict(l=60, r=20, t=50, b=40))
    return fig


def heatmap_figure(report: WalkForwardReport) -> go.Figure | None:
    """Objective over the two heatmap parameters; the folds' choices marked."""
    table = report.heatmap_table()
    hp = report.heatmap_params()
    if table is None or not hp:
        return None
    what = "mean over folds" if report.params.heatmap_folds == "mean" else f"fold {report.trials['fold'].max()}"
    fig = go.Figure(go.Heatmap(z=table.to_numpy(),
                               x=[str(c) for c in table.columns], y=[str(i) for i in table.index],
                               colorscale="RdYlGn", colorbar=dict(title=str(report.objective)),
                               hovertemplate=f"{hp[0]} %{{y}}, {hp[1]} %{{x}}: %{{z:.3f}}<extra></extra>"))
    chosen = report.fold_results.dropna(subset=["combination"])
    if len(chosen):
        fig.add_trace(go.Scatter(x=chosen[hp[1]].astype(str), y=chosen[hp[0]].astype(str), mode="markers",
                                 marker=dict(symbol="x", size=10, color="black"), name="chosen by a fold",
                                 text=chosen["fold"].astype(str), hovertemplate="fold %{text}<extra></extra>"))
    fig.update_layout(title=f"Objective ({report.objective}) by {hp[0]} and {hp[1]}, {what}", xaxis_title=hp[1],
                      yaxis_title=hp[0], height=520, margin=dict(l=60, r=20, t=50, b=40),
                      xaxis=dict(type="category"), yaxis=dict(type="category"))
    return fig
