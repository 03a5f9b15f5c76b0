"""The backtest report's first screen and its appendix: headline summary, parameters, data.

A reader opening the report wants, in one glance, what ran (strategy, period, data)
and how it did against buying and holding the benchmark: :func:`headline_html` is
that summary, shown before any table. The full parameter table and the data
description follow at the end (:func:`params_html`, :func:`data_html`): a strategy
with 30+ parameters shows every one of them, grouped by section in collapsible
blocks, and a parameter left unset is named once in a line, not as a ``None`` row.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import pandas as pd
from pydantic import BaseModel

from toolkit.data import describe
from toolkit.report.html_table import CSS, Column, MetricRow, format_cell, html_table, metric_rows_table

if TYPE_CHECKING:  # pragma: no cover
    from toolkit.backtest.job import BacktestReport
    from toolkit.data.dataset import Dataset

__all__ = ["HEADLINE_METRICS", "HasParams", "data_caveats", "data_html", "dataset_html", "headline_html",
           "params_groups", "params_html"]

#: The headline's figures: (metrics.json key, label, kind), strategy beside benchmark.
HEADLINE_METRICS = (
    ("final_equity", "Final equity", "money"),
    ("total_return", "Total return", "percent"),
    ("cagr", "CAGR", "percent"),
    ("sharpe", "Sharpe ratio", "ratio"),
    ("max_drawdown", "Max drawdown", "percent"),
)


class HasParams(Protocol):
    """Any run report with resolved params (a backtest's, a walk-forward's): what the parameter appendix reads."""

    @property
    def params(self) -> BaseModel: ...


def _benchmark_final_equity(report: BacktestReport) -> float:
    return float(report.benchmark_equity.dropna().iloc[-1])


def data_caveats(report: BacktestReport) -> str:
    """What the data line must not hide, as `` (...)``: which symbols are synthetic proxies of what, which are missing.

    Both come from what loading the data recorded (:class:`~toolkit.data.dataset.Dataset`'s
    ``proxies``, the symbols it could not find), the same facts the appendix's data notes
    spell out in full; an empty string when the data is real and complete.
    """
    p = report.params
    by_base: dict[str, list[str]] = {}
    for name in report.dataset.proxies:
        spec = p.data.proxies.get(name)
        by_base.setdefault(spec.base if spec is not None else "?", []).append(name)
    parts = [f"synthetic proxies of {base}: {', '.join(names)}" for base, names in by_base.items()]
    wanted = list(dict.fromkeys([*report.strategy.optional_symbols(), *p.data.optional_symbols]))
    missing = [s for s in wanted if s not in report.dataset.frames]
    if missing:
        parts.append(f"{', '.join(missing)} missing: the parts of the strategy that need "
                     f"{'it' if len(missing) == 1 else 'them'} are off")
    return f" ({'; '.join(parts)})" if parts else ""


def headline_html(report: BacktestReport) -> str:
    """Strategy, period, data and the key figures beside the benchmark's, as one HTML block."""
    p = report.params
    eq = report.result.equity
    first, last = format_cell(eq.index[0], "date"), format_cell(eq.index[-1], "date")
    bench_label = f"buy & hold {report.benchmark_symbol}"
    bench = {**report.benchmark_metrics, "final_equity": _benchmark_final_equity(report)}
    rows = [MetricRow(label, kind, (report.metrics.get(key), bench.get(key)), glossary=key)  # type: ignore[arg-type]
            for key, label, kind in HEADLINE_METRICS]
    title = p.title or p.strategy
    lines = [
        f"<b>Strategy</b> <code>{html.escape(p.strategy)}</code>: {html.escape(report.strategy.description)}",
        f"<b>Period</b> {first} to {last} ({len(eq):,} bars)",
        f"<b>Data</b> {html.escape(', '.join(report.dataset.symbols))} from <code>{html.escape(p.data.source)}</code>"
        f"{html.escape(data_caveats(report))}; "
        f"initial cash {format_cell(p.initial_cash, 'money')}, fees {format_cell(p.fees_bps, 'number')} bps, "
        f"slippage {format_cell(p.slippage_bps, 'number')} bps, fill at <code>{html.escape(p.fill)}</code>",
        f"<b>Benchmark</b> {html.escape(bench_label)} (no costs)",
    ]
    table = metric_rows_table(rows, ["strategy", bench_label])
    return (f'<div class="tk-headline"><h3 style="margin:.2em 0">{html.escape(title)}</h3>'
            + "".join(f'<p style="margin:.15em 0">{line}</p>' for line in lines) + table + "</div>")


def _flat(value: Any, prefix: str, out: dict[str, Any]) -> None:
    if isinstance(value, dict) and value:
        for k, v in value.items():
            _flat(v, f"{prefix}.{k}" if prefix else str(k), out)
    else:
        out[prefix] = value


def _unset_value(value: Any) -> bool:
    """None or an empty list / mapping: a parameter with nothing in it, named in the "not set" line, not a row."""
    return value is None or (isinstance(value, (list, dict)) and len(value) == 0)


def _param_text(value: Any) -> str:
    """A parameter's value as the table writes it: lists joined by commas, numbers without a trailing ``.0``."""
    if isinstance(value, list):
        return ", ".join(_param_text(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:,.10g}"
    return str(value)


def _full_key(group: str, parameter: str) -> str:
    """The dotted params key of a row (``guards.daily_loss_limit``; a ``run`` row is its own key)."""
    return parameter if group == "run" else f"{group}.{parameter}"


def params_groups(report: HasParams) -> dict[str, pd.DataFrame]:
    """The resolved params as ``{group: table}``: one group per section (``run`` for top-level keys).

    Each table has the columns ``parameter`` and ``value`` (lists joined with commas);
    unset parameters (``None``, an empty list) are not rows (see :func:`params_html`).
    """
    dumped = report.params.model_dump(mode="json")
    groups: dict[str, dict[str, Any]] = {}
    for key, value in dumped.items():
        nested = isinstance(value, dict) and bool(value)
        flat: dict[str, Any] = {}
        _flat(value, "" if nested else key, flat)
        groups.setdefault(key if nested else "run", {}).update(flat)
    out = {}
    for group, items in groups.items():
        rows = [(k, _param_text(v)) for k, v in items.items() if not _unset_value(v)]
        out[group] = pd.DataFrame(rows, columns=["parameter", "value"])
    return out


def _unset(report: HasParams) -> list[str]:
    flat: dict[str, Any] = {}
    _flat(report.params.model_dump(mode="json"), "", flat)
    return [k for k, v in flat.items() if _unset_value(v)]


def params_html(report: HasParams, *, marked: Mapping[str, str] | None = None) -> str:
    """Every resolved parameter, one collapsible block per group (the strategy's open), unset ones named once.

    ``marked`` maps a dotted key (``guards.daily_loss_limit``) to a note written after its
    value, e.g. a session's config override and the params file's value it replaced; a group
    holding a marked row opens and says how many it holds.
    """
    marks = dict(marked or {})
    parts = [f"<style>{CSS}</style>"]
    for group, table in params_groups(report).items():
        if table.empty:
            continue
        keys = [_full_key(group, str(k)) for k in table["parameter"]]
        hits = sum(1 for k in keys if k in marks)
        shown = table if not hits else table.assign(
            value=[f"{v} ({marks[k]})" if k in marks else v for k, v in zip(keys, table["value"], strict=True)])
        is_open = " open" if group in ("strategy_params", "run") or hits else ""
        inner = html_table(shown.astype({"value": str}), [Column("parameter", "parameter"), Column("value", "value")],
                           scroll_rows=200)  # one block per group, folded by a click: no box inside it
        note = f", {hits} overridden" if hits else ""
        parts.append(f"<details{is_open}><summary><b>{html.escape(group)}</b> ({len(table)} parameters{note})"
                     f"</summary>{inner}</details>")
    unset = _unset(report)
    if unset:
        parts.append('<p class="tk-note" style="color:#555">Not set (their defaults apply): '
                     + ", ".join(f"<code>{html.escape(k)}</code>" for k in unset) + ".</p>")
    return "".join(parts)


def data_html(report: BacktestReport) -> str:
    """One row per symbol: first and last bar, bars, first and last close, whether it is a synthetic proxy."""
    return dataset_html(report.dataset, report.notes)


def dataset_html(dataset: Dataset, notes: Sequence[str] = ()) -> str:
    """:func:`data_html` of any loaded dataset (a dry-run or live session's too), its notes below the table."""
    d = describe(dataset.frames)
    d = d.assign(synthetic=d["synthetic"].map({True: "yes (proxy)", False: "no"}))
    cols = [Column("first", "first bar", "date"), Column("last", "last bar", "date"), Column("bars", "bars", "count"),
            Column("first_close", "first close", "money"), Column("last_close", "last close", "money"),
            Column("synthetic", "synthetic")]
    text = "".join(f"<blockquote><b>Note.</b> {html.escape(n)}</blockquote>" for n in notes)
    return html_table(d, cols, index=Column("symbol", "symbol")) + text
