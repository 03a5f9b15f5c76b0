"""HTML tables for the panel: escaped, scrollable, numbers written the way a trader reads them.

ipywidgets has no table widget, and a pandas ``to_html`` writes ``17.000000`` shares and
``0.0513`` drawdowns. These tables say what each column holds (:data:`Format`) and write
quantities as integers when they are whole, money with thousands separators and two
places, ratios as percentages; every cell is HTML-escaped (an audit reason is free text),
except ``html`` cells the panel built itself (links). The wrapper scrolls both ways, so a
wide table never widens the page (the panel must fit a 768 px tablet).
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

import numpy as np

__all__ = ["Format", "cell_text", "html_table", "key_value_table", "money", "number", "percent", "quantity", "yes_no"]

#: How a column is written: ``text`` (escaped str), ``int`` (whole numbers), ``qty``
#: (whole when integral, else up to 6 places), ``money`` (2 places, separators), ``pct``
#: (a ratio as a percentage), ``num`` (a float, 4 significant places), ``date``, ``time``
#: (UTC, to the second), ``json`` (compact), ``html`` (trusted markup built by the panel).
Format = Literal["text", "int", "qty", "money", "pct", "num", "date", "time", "json", "html"]

_TABLE_STYLE = "border-collapse:collapse;font-size:12px;width:100%;font-variant-numeric:tabular-nums"
_TH_STYLE = ("position:sticky;top:0;background:#f3f4f6;text-align:left;padding:3px 6px;"
             "border-bottom:1px solid #d1d5db;white-space:nowrap")
_TD_STYLE = "padding:2px 6px;border-bottom:1px solid #eef0f2;vertical-align:top"
_NUMERIC: frozenset[str] = frozenset({"int", "qty", "money", "pct", "num"})


def _missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    if isinstance(value, Decimal) and value.is_nan():
        return True
    try:  # pandas' NaT and NA
        import pandas as pd

        return bool(pd.isna(value)) if not isinstance(value, (str, bytes, list, dict, tuple)) else False
    except (TypeError, ValueError):
        return False


def money(value: Any) -> str:
    """``1234567.891`` -> ``1,234,567.89``."""
    return f"{float(value):,.2f}"


def quantity(value: Any) -> str:
    """Whole quantities as integers (``17``), fractional ones to at most 6 places (``0.00125``)."""
    d = value if isinstance(value, Decimal) else Decimal(str(value))
    if d == d.to_integral_value():
        return f"{int(d):,}"
    return f"{d:,.6f}".rstrip("0").rstrip(".")


def percent(value: Any, places: int = 2) -> str:
    """A ratio as a percentage: ``-0.0513`` -> ``-5.13%``."""
    return f"{float(value) * 100:.{places}f}%"


def number(value: Any) -> str:
    """An indicator value as a trader reads it, never in exponent notation.

    Whole values as integers with thousands separators (``1,234``); others of size 1 or
    more to 2 decimals with separators (``12,345.67``, ``6,890.37``); smaller ones to 4
    significant digits (``0.1235``, ``-0.00001234``), so a z-score keeps its precision
    and a price level is not cut to ``6890`` or written ``1.235e+04``.
    """
    v = float(value)
    if not math.isfinite(v):
        return str(v)
    if v.is_integer() and abs(v) < 1e15:
        return f"{int(v):,}"
    if abs(v) >= 1:
        return f"{v:,.2f}"
    places = min(3 - math.floor(math.log10(abs(v))), 15)
    return f"{v:.{places}f}"


def yes_no(value: Any) -> str:
    """A flag as a person says it: ``yes`` / ``no`` (not Python's True / False)."""
    return "yes" if value else "no"


def cell_text(value: Any, fmt: Format = "text") -> str:
    """One cell as HTML (escaped unless ``fmt`` is ``html``); empty for a missing value."""
    if fmt == "html":
        return "" if value is None else str(value)
    if _missing(value):
        return ""
    if fmt in ("text", "num") and isinstance(value, (bool, np.bool_)):
        text = yes_no(value)
    elif fmt == "int":
        text = f"{int(value):,}"
    elif fmt == "qty":
        text = quantity(value)
    elif fmt == "money":
        text = money(value)
    elif fmt == "pct":
        text = percent(value)
    elif fmt == "num":
        text = number(value) if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool) else str(value)
    elif fmt == "date":
        text = value.date().isoformat() if isinstance(value, datetime) else (
            value.isoformat() if isinstance(value, date) else str(value))
    elif fmt == "time":
        text = value.strftime("%Y-%m-%d %H:%M:%S") if isinstance(value, datetime) else str(value)
    elif fmt == "json":
        import json

        text = json.dumps(value, sort_keys=True, default=str, separators=(", ", ": "))
    else:
        text = str(value)
    return html.escape(text)


def _wrap(body: str, max_height: str | None) -> str:
    height = f"max-height:{max_height};" if max_height else ""
    return f'<div style="overflow:auto;{height}max-width:100%">{body}</div>'


def html_table(
    rows: Iterable[Mapping[str, Any]],
    columns: Sequence[tuple[str, str, Format]],
    *,
    max_height: str | None = "320px",
    empty: str = "nothing recorded yet",
    note: str | None = None,
) -> str:
    """An HTML table of ``rows`` (mappings) with ``columns`` as (key, heading, format).

    Numeric columns are right-aligned. ``empty`` is shown instead of a table with no rows;
    ``note`` (escaped) goes under the table (e.g. "showing the newest 500 of 1,234").
    """
    head = "".join(
        f'<th style="{_TH_STYLE}{";text-align:right" if fmt in _NUMERIC else ""}">{html.escape(title)}</th>'
        for _, title, fmt in columns
    )
    body: list[str] = []
    for row in rows:
        cells = "".join(
            f'<td style="{_TD_STYLE}{";text-align:right;white-space:nowrap" if fmt in _NUMERIC else ""}">'
            f"{cell_text(row.get(key), fmt)}</td>"
            for key, _, fmt in columns
        )
        body.append(f"<tr>{cells}</tr>")
    if not body:
        return f'<div style="color:#6b7280;font-size:12px">{html.escape(empty)}</div>'
    table = f'<table style="{_TABLE_STYLE}"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'
    tail = f'<div style="color:#6b7280;font-size:11px">{html.escape(note)}</div>' if note else ""
    return _wrap(table, max_height) + tail


def key_value_table(pairs: Iterable[tuple[str, Any, Format]], *, empty: str = "nothing recorded yet") -> str:
    """A two-column table of (label, value, format): the regime fields, account totals."""
    rows = [{"key": k, "value": cell_text(v, fmt)} for k, v, fmt in pairs]
    return html_table(rows, [("key", "field", "text"), ("value", "value", "html")], max_height=None, empty=empty)
