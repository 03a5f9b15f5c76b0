"""Redrawing the explorers' plotly FigureWidgets in place, and their HTML tables.

An explorer keeps one FigureWidget per chart for its whole life and pours each new
figure (built by :mod:`toolkit.report`, the same functions as the static report)
into it: the page keeps its zoom controls and nothing flickers, and the explorer
never draws a chart its own way.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

__all__ = ["figure_widget", "redraw", "table_html"]


def figure_widget(figure: Any) -> Any:
    """A plotly FigureWidget showing ``figure``."""
    import plotly.graph_objects as go

    return go.FigureWidget(figure)


def redraw(widget: Any, figure: Any) -> None:
    """Make ``widget`` (a FigureWidget) show ``figure``: its traces, shapes and layout.

    Traces are updated in place when their number and types are unchanged (the usual
    case: new numbers, same chart), replaced otherwise.
    """
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
