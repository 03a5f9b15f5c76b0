"""The walk-forward report's headline, folds table and overfitting sections.

A reader opening a walk-forward report wants, in one glance, what was searched and
whether what it found survives: :func:`headline_html` puts the stitched out-of-sample
figures beside buy and hold, with the deflated Sharpe ratio and the probability of
backtest overfitting each read in one line. Below it, how much each fold's choice lost
between its in-sample and out-of-sample windows (:func:`degradation_table`,
:func:`degradation_figure`), what hindsight would have bought
(:func:`hindsight_figure`, the full-sample optimum of
:mod:`toolkit.optimize.full_sample`), and the distribution of the CSCV logits behind
PBO (:func:`logits_figure`).

Sharpe ratios are annualised everywhere here (per-bar figures times sqrt(252)), so
the DSR's SR and SR0 read like the metrics table's Sharpe; the DSR itself stays a
probability.
"""

from __future__ import annotations

import html
import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from toolkit.backtest.metrics import TRADING_DAYS
from toolkit.optimize.walk_forward import FOLD_COLUMNS
from toolkit.report.axis_ticks import adaptive_log_axis
from toolkit.report.html_table import Column, MetricRow, format_cell, html_table, metric_rows_table
from toolkit.report.plot_data import chart_x, chart_y

if TYPE_CHECKING:  # pragma: no cover
    from toolkit.optimize.full_sample import FullSampleOptimum
    from toolkit.optimize.walk_forward import WalkForwardReport

__all__ = [
    "GLOSSARY_KEYS",
    "HEADLINE_METRICS",
    "annualised_dsr_reading",
    "annualised_psr_reading",
    "degradation_figure",
    "degradation_html",
    "degradation_table",
    "folds_html",
    "folds_phrase",
    "headline_html",
    "hindsight_curves",
    "hindsight_figure",
    "logits_figure",
]

#: The headline's figures: (metrics key, label, kind), stitched OOS beside the benchmark.
HEADLINE_METRICS = (
    ("final_equity", "Final equity", "money"),
    ("total_return", "Total return", "percent"),
    ("cagr", "CAGR", "percent"),
    ("sharpe", "Sharpe ratio", "ratio"),
    ("max_drawdown", "Max drawdown", "percent"),
)

#: The glossary entries the report links to, shown in its glossary section.
#: Every metric of the metrics and trials tables (``METRICS``) is there, so each label links somewhere.
GLOSSARY_KEYS = ("final_equity", "total_return", "cagr", "volatility", "sharpe", "sortino", "calmar", "max_drawdown",
                 "max_drawdown_duration_days", "win_rate", "profit_factor", "n_trades", "n_partial_exits", "exposure",
                 "avg_gross_exposure", "turnover", "psr", "dsr", "sr0", "wf.excess_kurtosis", "pbo", "wf.is_sharpe",
                 "wf.oos_sharpe", "wf.degradation", "wf.full_sample_optimum", "pbo.logit", "wf.skew",
                 "wf.n_configurations", "wf.sharpe_spread", "wf.objective", "wf.meets_constraints", "wf.chosen")

_ANNUAL = math.sqrt(TRADING_DAYS)

#: Kind of each metric of the folds table (``is_``/``oos_`` prefixed).
_FOLD_KINDS = {"objective": "ratio", "sharpe": "ratio", "cagr": "percent", "max_drawdown": "percent",
               "n_trades": "count"}


def annualised_dsr_reading(report: WalkForwardReport) -> str:
    """The DSR in one line with SR and SR0 annualised, the probability written as the tables write it (``93.57%``).

    ``metrics.json`` stores the same reading with ``0.94``; the report writes every
    probability one way (a percentage with 2 decimals), so its lines and tables agree.
    """
    return report.dsr_reading(as_percent=True)


def annualised_psr_reading(report: WalkForwardReport) -> str:
    """The PSR in one line with its Sharpe ratio annualised, the probability as a percentage (see above)."""
    return report.psr_reading(as_percent=True)


def pbo_reading(report: WalkForwardReport) -> str:
    """The PBO in one line, the probability as a percentage (see :func:`annualised_dsr_reading`)."""
    return report.pbo_reading(as_percent=True)


def folds_phrase(report: WalkForwardReport) -> str:
    """``16 folds of 252 bars (the last 243)``: the folds' out-of-sample length, the short last one named.

    A walk-forward whose bars do not divide into whole windows ends with a shorter fold;
    "16 folds of 252 bars" would then promise more bars than the record has.
    """
    lengths = [f.n_out_of_sample for f in report.folds]
    n = len(lengths)
    word = "fold" if n == 1 else "folds"
    size = report.params.out_of_sample
    if n == 1:
        return f"1 fold of {lengths[0]} bars"
    text = f"{n} {word} of {size} bars"
    if lengths[-1] != size:
        text += f" (the last {lengths[-1]})"
    return text


def _benchmark_final_equity(report: WalkForwardReport) -> float:
    return float(report.benchmark_equity.dropna().iloc[-1])


def headline_html(report: WalkForwardReport) -> str:
    """Strategy, period, data, OOS figures beside buy and hold, DSR and PBO with their readings: one HTML block."""
    p = report.params
    eq = report.oos.equity
    first, last = format_cell(eq.index[0], "date"), format_cell(eq.index[-1], "date")
    bench_label = f"buy & hold {report.benchmark_symbol}"
    strategy = {**report.oos_metrics, "final_equity": float(eq.iloc[-1])}
    bench = {**report.benchmark_metrics, "final_equity": _benchmark_final_equity(report)}
    rows = [MetricRow(label, kind, (strategy.get(key), bench.get(key)), glossary=key)  # type: ignore[arg-type]
            for key, label, kind in HEADLINE_METRICS]
    d = report.dsr
    if d is not None:
        rows += [MetricRow("SR0 (luck of the best trial)", "ratio", (d.sr0 * _ANNUAL, None), glossary="sr0"),
                 MetricRow("DSR (probability)", "percent", (d.dsr, None), glossary="dsr")]
    if report.pbo is not None:
        rows.append(MetricRow("PBO (probability)", "percent", (report.pbo.pbo, None), glossary="pbo"))
    data = report.dataset
    lines = [
        f"<b>Strategy</b> <code>{html.escape(p.strategy)}</code>, objective <code>{html.escape(str(report.objective))}"
        f"</code>; {html.escape(report.grid.reading())}",
        f"<b>Period</b> out of sample {first} to {last} ({len(eq):,} bars, {html.escape(folds_phrase(report))}, "
        f"each chosen on the {p.in_sample} bars before it, {p.scheme} windows)",
        f"<b>Data</b> {html.escape(', '.join(data.symbols))} from <code>{html.escape(p.data.source)}</code>; initial "
        f"cash {format_cell(p.initial_cash, 'money')}, fees {format_cell(p.costs.fees_bps, 'number')} bps",
        f'<b><a href="#metric-dsr">DSR</a></b> {html.escape(annualised_dsr_reading(report))}',
        f'<b><a href="#metric-pbo">PBO</a></b> '
        f"{html.escape(pbo_reading(report))}",
    ]
    table = metric_rows_table(rows, ["walk-forward OOS", bench_label],
                              caption="Sharpe ratios annualised; DSR and PBO are probabilities")
    return ('<div class="tk-headline"><h3 style="margin:.2em 0">'
            f"{html.escape(p.strategy)} walk-forward</h3>"
            + "".join(f'<p style="margin:.15em 0">{line}</p>' for line in lines) + table + "</div>")


def degradation_table(report: WalkForwardReport) -> pd.DataFrame:
    """Per fold: OOS window, the choice's in-sample and out-of-sample Sharpe (annualised) and their difference."""
    fr = report.fold_results
    return pd.DataFrame({
        "fold": fr["fold"].astype(int).to_numpy(),
        "oos_start": fr["oos_start"].to_numpy(),
        "oos_end": fr["oos_end"].to_numpy(),
        "is_sharpe": fr["is_sharpe"].astype(float).to_numpy(),
        "oos_sharpe": fr["oos_sharpe"].astype(float).to_numpy(),
        "degradation": (fr["oos_sharpe"].astype(float) - fr["is_sharpe"].astype(float)).to_numpy(),
    })


def degradation_html(report: WalkForwardReport) -> str:
    """:func:`degradation_table` as a formatted table with the mean over folds in its caption."""
    t = degradation_table(report)
    cols = [Column("fold", "fold", "count"), Column("oos_start", "OOS from", "date"),
            Column("oos_end", "OOS to", "date"),
            Column("is_sharpe", "in-sample Sharpe", "ratio", "wf.is_sharpe"),
            Column("oos_sharpe", "out-of-sample Sharpe", "ratio", "wf.oos_sharpe"),
            Column("degradation", "OOS - IS", "ratio", "wf.degradation")]
    mean = t["degradation"].mean()
    caption = (f"mean OOS - IS over folds: {format_cell(mean, 'ratio')}; the choice kept "
               f"{format_cell(t['oos_sharpe'].mean() / t['is_sharpe'].mean(), 'percent')} of its in-sample Sharpe "
               "on average") if t["is_sharpe"].mean() else None
    return html_table(t, cols, caption=caption, what="folds")


def degradation_figure(report: WalkForwardReport) -> go.Figure:
    """In-sample against out-of-sample Sharpe of each fold's choice, side by side per fold."""
    t = degradation_table(report)
    folds = t["fold"].astype(str)
    fig = go.Figure([
        go.Bar(x=folds, y=t["is_sharpe"], name="in sample", marker_color="#9ecae1",
               hovertemplate="fold %{x}: in-sample Sharpe %{y:.2f}<extra></extra>"),
        go.Bar(x=folds, y=t["oos_sharpe"], name="out of sample", marker_color="#1f77b4",
               hovertemplate="fold %{x}: out-of-sample Sharpe %{y:.2f}<extra></extra>"),
    ])
    fig.update_layout(title="Sharpe ratio of each fold's choice: in sample vs out of sample (annualised)",
                      barmode="group", xaxis_title="fold", yaxis_title="Sharpe ratio", height=420,
                      margin=dict(l=60, r=20, t=50, b=40), legend=dict(orientation="h"))
    fig.update_xaxes(type="category")
    return fig


def hindsight_curves(report: WalkForwardReport, optimum: FullSampleOptimum) -> pd.DataFrame:
    """Growth of 1 over the OOS bars: the stitched record, the full-sample optimum, buy and hold.

    Each starts at 1 before the first out-of-sample bar: the stitched record against
    its initial cash, the optimum against its equity on the bar before (it had been
    trading since the warm-up), buy and hold against the initial cash.
    """
    idx = report.oos.equity.index
    out = pd.DataFrame(index=idx)
    out["walk-forward OOS"] = report.oos.equity / float(report.oos.initial_cash)
    if optimum.combination is not None and len(optimum.equity):
        eq = optimum.equity
        before = eq[eq.index < idx[0]]
        base = float(before.iloc[-1]) if len(before) else float(eq.iloc[0])
        out["full-sample optimum"] = eq.reindex(idx) / base
    out[f"buy & hold {report.benchmark_symbol}"] = report.benchmark_equity / float(report.params.initial_cash)
    return out


def hindsight_figure(report: WalkForwardReport, optimum: FullSampleOptimum) -> go.Figure:
    """The stitched OOS curve against the curve of the combination chosen with hindsight (log axis)."""
    curves = hindsight_curves(report, optimum)
    x = chart_x(curves.index)  # short date strings and float32 values: the page stays small
    styles = {"walk-forward OOS": dict(width=1.8, color="#1f77b4"),
              "full-sample optimum": dict(width=1.4, color="#ff7f0e"),
              f"buy & hold {report.benchmark_symbol}": dict(width=1, dash="dot", color="#7f7f7f")}
    fig = go.Figure([go.Scatter(x=x, y=chart_y(curves[c]), mode="lines", name=c, line=styles.get(c, {}))
                     for c in curves.columns])
    values = curves.to_numpy().ravel()
    values = values[np.isfinite(values) & (values > 0)]
    if len(values):
        fig.update_yaxes(**adaptive_log_axis(float(values.min()), float(values.max())))
    chosen = (", ".join(f"{k}={v}" for k, v in optimum.params.items()) if optimum.combination is not None
              else "no combination met the constraints")
    fig.update_yaxes(type="log", title_text="growth of 1")
    fig.update_layout(title=f"Stitched out-of-sample equity vs the full-sample optimum ({chosen})", height=460,
                      margin=dict(l=60, r=20, t=50, b=40), legend=dict(orientation="h"))
    return fig


def logits_figure(report: WalkForwardReport) -> go.Figure | None:
    """Histogram of the CSCV logits behind PBO: mass left of 0 is the in-sample winner ranking in the bottom half."""
    pbo = report.pbo
    if pbo is None:
        return None
    logits = np.asarray(pbo.logits, dtype=float)
    logits = logits[np.isfinite(logits)]
    # float32: thousands of splits, sent base64-encoded at half the size (a histogram needs no more digits).
    fig = go.Figure(go.Histogram(x=chart_y(logits), nbinsx=min(40, max(10, len(logits) // 10)), marker_color="#1f77b4",
                                 name="splits", hovertemplate="logit %{x}: %{y} splits<extra></extra>"))
    fig.add_vline(x=0, line=dict(color="#d62728", dash="dash", width=1.2))
    fig.update_layout(title=f"CSCV logits of the in-sample winner's out-of-sample rank (PBO {pbo.pbo:.2f} = share "
                            f"left of 0, {pbo.n_combinations:,} splits)",
                      xaxis_title="logit of the relative out-of-sample rank", yaxis_title="splits", height=400,
                      bargap=0.05, margin=dict(l=60, r=20, t=50, b=40), showlegend=False)
    return fig


def _span(start: object, end: object) -> str:
    """``2003-01-02 – 2005-12-30``: one window in one cell."""
    return f"{format_cell(start, 'date')} \u2013 {format_cell(end, 'date')}"


#: Pins the folds table's first column while it scrolls sideways (``fold`` stays in view), and lets
#: its headers wrap ("OOS max DD" over two lines): the headers, not the figures, made it too wide.
_STICKY_CSS = (".tk-wf-folds td:first-child,.tk-wf-folds th:first-child{position:sticky;left:0;background:#fff;"
               "z-index:1;box-shadow:1px 0 0 #e3e3e3}.tk-wf-folds thead th:first-child{background:#f6f6f6;z-index:2}"
               ".tk-wf-folds thead th{white-space:normal;vertical-align:bottom}")


def _objective_repeats(report: WalkForwardReport) -> bool:
    """True when the objective is a bare metric the folds table shows anyway (``sharpe``): same figures twice."""
    name = str(report.objective).strip()
    if name == "objective" or name not in FOLD_COLUMNS:
        return False
    fr = report.fold_results
    return all(np.allclose(fr[f"{p}_objective"].astype(float), fr[f"{p}_{name}"].astype(float), equal_nan=True)
               for p in ("is", "oos"))


def folds_html(report: WalkForwardReport) -> str:
    """The folds table formatted (dates, percentages, counts) in a scrolling wrapper, ``folds.csv`` linked.

    Narrow enough for a laptop page: each window is one cell (train = in sample, test
    = out of sample), the objective's columns are left out when the objective is a bare
    metric the table already shows (``sharpe``), and ``valid combinations`` moves to
    the caption when every fold has the same count. The ``fold`` column stays pinned
    when the table scrolls sideways.
    """
    fr = report.fold_results
    t = pd.DataFrame({"fold": fr["fold"].to_numpy(),
                      "train": [_span(a, b) for a, b in zip(fr["is_start"], fr["is_end"], strict=True)],
                      "test": [_span(a, b) for a, b in zip(fr["oos_start"], fr["oos_end"], strict=True)]},
                     index=fr.index)
    for name in report.grid_params:
        t[name] = fr[name]
    cols = [Column("fold", "fold", "count"), Column("train", "train (IS)"), Column("test", "test (OOS)")]
    valid = fr["n_valid"].dropna()
    constant = len(valid) == len(fr) and valid.nunique() == 1
    if not constant:
        t["n_valid"] = fr["n_valid"]
        cols.append(Column("n_valid", "valid combinations", "count"))
    cols += [Column(name, name, "number") for name in report.grid_params]
    shown = [m for m in FOLD_COLUMNS if not (m == "objective" and _objective_repeats(report))]
    for prefix, where in (("is", "IS"), ("oos", "OOS")):
        for m in shown:
            glossary = {"sharpe": f"wf.{prefix}_sharpe", "cagr": "cagr", "max_drawdown": "max_drawdown",
                        "n_trades": "n_trades"}.get(m)
            label = {"sharpe": "Sharpe", "cagr": "CAGR", "max_drawdown": "max DD", "n_trades": "trades"}.get(m, m)
            t[f"{prefix}_{m}"] = fr[f"{prefix}_{m}"]
            cols.append(Column(f"{prefix}_{m}", f"{where} {label}", _FOLD_KINDS[m],  # type: ignore[arg-type]
                               glossary))
    caption = (f"every fold had {format_cell(valid.iloc[0], 'count')} valid combinations (meeting the constraints)"
               if constant else None)
    table = html_table(t, cols, csv="folds.csv", what="folds", scroll_rows=15, caption=caption)
    return f'<div class="tk-wf-folds"><style>{_STICKY_CSS}</style>{table}</div>'
