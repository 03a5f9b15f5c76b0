"""Checks every table cell and glossary link of a rendered report (the dry-run and live reports, issue 13).

A cell must read as a person writes it: no ``None``/``nan``/``NaT``, no blank cell
(a missing value is an em dash), no text cut with ``...``, no raw float with six
decimals (``7076.549805``, ``0.991699``), no pandas index header. Every ``href="#x"``
must name an ``id="x"`` of the same page.
"""

from __future__ import annotations

import base64
import html
import json
import re
from typing import Any

import numpy as np

_RAW_FLOAT = re.compile(r"(?<![\w.])-?\d+\.\d{5,}(?![\w])")


def table_cells(text: str) -> list[str]:
    """The text of every ``<th>``/``<td>`` of the page (scripts and styles left out), unescaped.

    A paged table's gap row (``tr.tk-gap``: "… rows 101–1,324 not shown: all 1,424 trials
    are in trials.csv …") is html_table's note of the rows left out, not a cut cell: it
    is left out too (see :func:`gap_rows`).
    """
    body = re.sub(r"<(script|style)[^>]*>.*?</\1>", "", text, flags=re.S)
    body = re.sub(r'<tr class="tk-gap">.*?</tr>', "", body, flags=re.S)
    return [html.unescape(re.sub(r"<[^>]+>", "", c)).strip()
            for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", body, flags=re.S)]


def gap_rows(text: str) -> list[str]:
    """The text of each paged table's gap row (the rows it leaves out and the CSV holding them)."""
    return [html.unescape(re.sub(r"<[^>]+>", "", r)).strip()
            for r in re.findall(r'<tr class="tk-gap">(.*?)</tr>', text, flags=re.S)]


def bad_cells(text: str) -> list[str]:
    """The cells that break the rules above (empty when the report is clean)."""
    bad = []
    for c in table_cells(text):
        if (c in ("", "None", "nan", "NaN", "NaT", "<NA>") or c.endswith("...") or "\u2026" in c
                or _RAW_FLOAT.search(c) or re.search(r"\+00:00$", c)):
            bad.append(c)
    return bad


def dangling_anchors(text: str) -> list[str]:
    """``#x`` links of the page without an ``id="x"`` on it."""
    ids = set(re.findall(r'\bid="([^"]+)"', text))
    return sorted({a for a in re.findall(r'href="#([^"]+)"', text) if a not in ids})


def assert_report_tables_clean(text: str, *, min_cells: int, links: tuple[str, ...] = ()) -> None:
    """Every cell clean, at least ``min_cells`` of them, every anchor resolving and each of ``links`` linked."""
    cells = table_cells(text)
    assert len(cells) >= min_cells, len(cells)
    assert not bad_cells(text), bad_cells(text)[:20]
    assert not dangling_anchors(text), dangling_anchors(text)
    for key in links:
        assert f'href="#{key}"' in text, key


_NEW_PLOT = re.compile(r"Plotly\.newPlot\(\s*\"[^\"]+\",\s*")


def _decoded(value: Any) -> Any:
    """Plotly's typed arrays (``{"dtype": "f4", "bdata": "..."}``) as lists; everything else as it is."""
    if isinstance(value, dict):
        if set(value) >= {"dtype", "bdata"}:
            arr = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
            shape = value.get("shape")
            if shape:
                arr = arr.reshape([int(n) for n in str(shape).split(",")])
            return arr.tolist()
        return {k: _decoded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decoded(v) for v in value]
    return value


def plotly_figures(text: str) -> list[dict[str, Any]]:
    """Every figure of a report page as ``{"data": [...], "layout": {...}}``, typed arrays decoded."""
    decoder = json.JSONDecoder()
    figures = []
    for match in _NEW_PLOT.finditer(text):
        data, end = decoder.raw_decode(text, match.end())
        layout, _ = decoder.raw_decode(text, end + len(text[end:]) - len(text[end:].lstrip(" \n,")))
        figures.append({"data": _decoded(data), "layout": _decoded(layout)})
    return figures
