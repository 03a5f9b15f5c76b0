"""Redrawing the explorers' plotly FigureWidgets in place, and their HTML tables.

An explorer keeps one FigureWidget per chart for its whole life and pours each new
figure (built by :mod:`toolkit.report`, the same functions as the static report)
into it: the page keeps its zoom controls and nothing flickers, and the explorer
never draws a chart its own way.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["dates_as_text", "figure_widget", "redraw", "table_html"]


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


def table_html(table: pd.DataFrame, *, precision: int = 4) -> str:
    """``table`` as the report formats it (``precision`` decimals, ``-`` where undefined)."""
    return str(table.style.format(precision=precision, na_rep="-").to_html())
