"""Redrawing the explorers' plotly FigureWidgets in place, their log axes' ticks, and their metrics tables.

An explorer keeps one FigureWidget per chart for its whole life and pours each new
figure (built by :mod:`toolkit.report`, the same functions as the static report)
into it: the page keeps its zoom controls and nothing flickers, and the explorer
never draws a chart its own way.
"""

from __future__ import annotations

import datetime as dt
import html
from typing import Any

import numpy as np
import pandas as pd

from toolkit.report.axis_ticks import adaptive_log_axis
from toolkit.report.metric_format import MetricFormat, formatted_metrics

__all__ = ["dates_as_text", "figure_widget", "metrics_html", "readable_log_axis", "redraw"]

_TABLE_STYLE = "border-collapse:collapse;font-size:13px;font-variant-numeric:tabular-nums;margin-top:6px"
_TH_STYLE = "padding:3px 10px;border-bottom:1px solid #d1d5db;white-space:nowrap"
_TD_STYLE = "padding:2px 10px;border-bottom:1px solid #eef0f2;white-space:nowrap"


def figure_widget(figure: Any) -> Any:
    """A plotly FigureWidget showing ``figure``."""
    import plotly.graph_objects as go

    return go.FigureWidget(dates_as_text(figure))


def dates_as_text(figure: Any) -> Any:
    """``figure`` with its traces' date arrays (and its shapes' dates) written as ISO text.

    A static figure is written to JSON by plotly, which turns numpy dates into text; a
    FigureWidget sends its arrays through the widget protocol instead, where a
    ``datetime64[ns]`` array becomes a list of integers (nanoseconds) and the time axis
    reads 1e18. Text dates are what plotly.js reads in both.
    """
    for trace in figure.data:
        for attr in ("x", "y"):
            values = getattr(trace, attr, None)
            if isinstance(values, np.ndarray) and values.dtype.kind == "M":
                setattr(trace, attr, np.datetime_as_string(values, unit="ms"))
    for shape in figure.layout.shapes:  # a vline at a date: NaN on the page otherwise
        for attr in ("x0", "x1"):
            value = getattr(shape, attr, None)
            if isinstance(value, dt.datetime | np.datetime64):
                setattr(shape, attr, pd.Timestamp(value).isoformat())
    return figure


def redraw(widget: Any, figure: Any) -> None:
    """Make ``widget`` (a FigureWidget) show ``figure``: its traces, shapes and layout.

    Traces are updated in place when their number and types are unchanged (the usual
    case: new numbers, same chart), replaced otherwise.
    """
    figure = dates_as_text(figure)
    same = len(widget.data) == len(figure.data) and all(
        type(a) is type(b) for a, b in zip(widget.data, figure.data, strict=True)
    )
    if not same:
        widget.data = ()
        widget.add_traces(figure.data)
    with widget.batch_update():
        for trace, new in zip(widget.data, figure.data, strict=True):
            trace.update(new, overwrite=True)
        widget.layout = figure.layout


def readable_log_axis(figure: Any, *series: pd.Series, row: int = 1, col: int = 1) -> Any:
    """``figure`` with its log axis at (``row``, ``col``) set by :func:`~toolkit.report.axis_ticks.adaptive_log_axis`
    over the positive values of ``series`` (what that axis draws): ``50k, 100k, 200k`` at every zoom, not
    plotly's minor digits. Unchanged when nothing is positive."""
    values = np.concatenate([np.asarray(s, dtype=float) for s in series]) if series else np.array([])
    values = values[np.isfinite(values) & (values > 0)]
    if values.size:
        figure.update_yaxes(**adaptive_log_axis(float(values.min()), float(values.max())), row=row, col=col)
    return figure


def metrics_html(table: pd.DataFrame, formats: dict[str, MetricFormat] | None = None) -> str:
    """``table`` (one row per metric, one column per run) as an HTML table a person reads:
    labelled rows, each figure written as its kind (:mod:`toolkit.report.metric_format`), right-aligned."""
    shown = formatted_metrics(table, formats)
    head = f'<th style="{_TH_STYLE};text-align:left">metric</th>' + "".join(
        f'<th style="{_TH_STYLE};text-align:right">{html.escape(str(c))}</th>' for c in shown.columns)
    rows = "".join(
        f'<tr><td style="{_TD_STYLE};text-align:left">{html.escape(str(label))}</td>'
        + "".join(f'<td style="{_TD_STYLE};text-align:right">{html.escape(text)}</td>' for text in cells)
        + "</tr>"
        for label, cells in zip(shown.index, shown.itertuples(index=False), strict=True)
    )
    return f'<table style="{_TABLE_STYLE}"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'
