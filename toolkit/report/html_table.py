"""Report tables as self-contained HTML: every cell written by its kind, headers linked to the glossary.

A pandas ``DataFrame`` displayed as it is prints raw floats (``0.4198``), ``None`` and
``NaT`` and, past 60 rows, cuts itself without saying so. The backtest tearsheet shows
its tables through :func:`html_table` instead:

* each column has a kind (:data:`CellKind`): percentages, ratios, whole counts, money
  with thousands separators, dates as dates, text; a missing value is an em dash;
* a column (or a metric row) with a glossary key links its header to the definition
  (``<a href="#metric-...">``, see :mod:`toolkit.report.glossary`);
* a table longer than ``scroll_rows`` rows scrolls inside a box of fixed height and
  says how many rows it has; ``csv`` adds a link to the archived file holding it in full;
* a table longer than ``max_rows`` with a ``csv`` is paged: its first and last rows are
  shown, a row in between and the note say which rows are left out and that the CSV holds
  them all (a high-turnover run has thousands of trades; the report stays a few MB).

Cells carry no attributes: a column's alignment is one CSS rule per table
(``table.tk-al-... td:nth-child(n)``), so a row costs its text, not a class per cell. The
left-aligned default names ``.tk-table`` twice: the exported page right-aligns every cell
with a two-class rule (``:not(.jp-RenderedMarkdown).jp-RenderedHTMLCommon td``).

Only scoped CSS, no script, nothing external: the report opens offline.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd

from toolkit.report.glossary import glossary_anchor
from toolkit.report.metric_format import MISSING, format_value

__all__ = ["CSS", "CellKind", "Column", "MetricRow", "format_cell", "html_table", "linked_label", "metric_rows_table"]

#: How a cell is written: the kinds of :mod:`toolkit.report.metric_format`, plus dates, text and
#: quantities (shares held or traded, possibly fractional: always two decimals, ``25.00``, ``38.50``,
#: so a column of them lines up) and figures (numbers already written by their own rule, e.g. a
#: strategy's indicators in :mod:`toolkit.report.decision_table`: shown as given, right-aligned).
CellKind = Literal["percent", "ratio", "count", "days", "money", "number", "quantity", "figure", "date", "text"]

#: Scoped styles of every table the tearsheet draws (class ``tk-table``).
CSS = """
.tk-table{font:13px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;color:#222;margin:.4em 0 1em}
.tk-table .tk-scroll{overflow:auto;border:1px solid #e3e3e3;display:inline-block;max-width:100%;vertical-align:top}
.tk-table table{border-collapse:collapse}
.tk-table th,.tk-table td{border-bottom:1px solid #eee;padding:3px 10px;white-space:nowrap}
.tk-table thead th{background:#f6f6f6;font-weight:600;position:sticky;top:0}
.tk-table.tk-table td,.tk-table.tk-table th{text-align:left}
.tk-table td.tk-num{text-align:right;font-variant-numeric:tabular-nums}
.tk-table th.tk-num{text-align:right}
.tk-table td.tk-text,.tk-table th.tk-text{text-align:left}
.tk-table table tr.tk-gap td{text-align:center;color:#555;font-style:italic}
.tk-table a{color:inherit;text-decoration:underline dotted}
.tk-table .tk-note{color:#555;margin:.2em 0}
"""

_NUMERIC = {"percent", "ratio", "count", "days", "money", "number", "quantity", "figure"}


@dataclass(frozen=True)
class Column:
    """One column: the frame's column ``key``, its header ``label``, its ``kind``, its ``glossary`` key if any."""

    key: str
    label: str
    kind: CellKind = "text"
    glossary: str | None = None


@dataclass(frozen=True)
class MetricRow:
    """One row of a metric table: a label, the glossary key it links to, its kind and one value per column."""

    label: str
    kind: CellKind
    values: tuple[Any, ...]
    glossary: str | None = None


def _missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def format_cell(value: Any, kind: CellKind) -> str:
    """``value`` as the report writes a ``kind`` cell; :data:`~toolkit.report.metric_format.MISSING` when there is none.

    Dates read ``2008-10-09`` (with the time when it is not midnight), months ``2008-10``.
    """
    if kind == "date":
        if _missing(value):
            return MISSING
        if isinstance(value, pd.Period):
            return str(value)
        ts = pd.Timestamp(value)
        if ts.tzinfo is not None:
            ts = ts.tz_convert("UTC").tz_localize(None)
        return ts.strftime("%Y-%m-%d") if ts == ts.normalize() else ts.strftime("%Y-%m-%d %H:%M")
    if kind == "quantity":
        return format_value(value, "money")  # the same two decimals with thousands separators, no currency
    if kind == "text" or kind == "figure":  # noqa: PLR1714 (two comparisons narrow the Literal for mypy)
        return MISSING if _missing(value) or str(value).strip() == "" else str(value)
    return format_value(value, kind)


def linked_label(label: str, glossary: str | None) -> str:
    """``label`` escaped, as a link to its glossary entry when it has one."""
    text = html.escape(label)
    return f'<a href="#{glossary_anchor(glossary)}">{text}</a>' if glossary else text


def _align(kind: CellKind) -> str:
    return "tk-num" if kind in _NUMERIC else "tk-text"


def _align_rules(cols: Sequence[Column]) -> tuple[str, str]:
    """(table class, CSS) right-aligning the numeric columns by position: one rule per table, none per cell.

    The class is the columns' alignments spelled out (``tk-al-lrrl``), so tables of the
    same shape share it and the rules are the same text wherever they repeat.
    """
    spelled = "".join("r" if c.kind in _NUMERIC else "l" for c in cols)
    cls = f"tk-al-{spelled}"
    numeric = [i + 1 for i, ch in enumerate(spelled) if ch == "r"]
    if not numeric:
        return cls, ""
    sel = ",".join(f".tk-table table.{cls} td:nth-child({i})" for i in numeric)
    head = ",".join(f".tk-table table.{cls} th:nth-child({i})" for i in numeric)
    return cls, f"{sel}{{text-align:right;font-variant-numeric:tabular-nums}}{head}{{text-align:right}}"


def _wrap(body: str, *, n_rows: int, scroll_rows: int, csv: str | None, what: str, caption: str | None,
          shown: str | None = None, extra_css: str = "") -> str:
    notes = []
    if caption:
        notes.append(html.escape(caption))
    if shown is not None:
        notes.append(shown)
    elif n_rows > scroll_rows:
        notes.append(f"{n_rows:,} {what}, all shown (scroll inside the table)")
    if csv:
        notes.append(f'full table: <a href="{html.escape(csv)}">{html.escape(csv)}</a>')
    note = f'<p class="tk-note">{"; ".join(notes)}.</p>' if notes else ""
    height = f' style="max-height:{26 * scroll_rows + 30}px"' if n_rows > scroll_rows else ""
    return (f'<div class="tk-table"><style>{CSS}{extra_css}</style>{note}<div class="tk-scroll"{height}>{body}'
            "</div></div>")


def _page(n_rows: int, max_rows: int | None, csv: str | None) -> tuple[int, int] | None:
    """(rows shown at the top, rows shown at the bottom) when the table is paged, else None.

    Only a table with its full CSV linked is paged: a table is never cut silently.
    """
    if max_rows is None or csv is None or n_rows <= max_rows:
        return None
    top = (max_rows + 1) // 2
    return top, max_rows - top


def html_table(frame: pd.DataFrame, columns: Sequence[Column], *, index: Column | None = None,
               scroll_rows: int = 20, csv: str | None = None, what: str = "rows", caption: str | None = None,
               max_rows: int | None = None) -> str:
    """``frame``'s ``columns`` (and its index as ``index``, when given) as a formatted HTML table.

    Every row of ``frame`` is shown: past ``scroll_rows`` the table scrolls and says how
    many rows it holds. ``csv`` names the archived file with the full table (a relative
    link: the report sits beside it in the run folder). With ``csv`` and ``max_rows``, a
    longer table shows ``max_rows`` rows, the first half and the last half, a row marking
    the ones left out between them, and a note naming the rows shown and the CSV holding
    them all. Without ``csv`` every row is shown whatever ``max_rows`` says.
    """
    cols = ([index] if index is not None else []) + list(columns)
    cls, rules = _align_rules(cols)
    head = "".join(f"<th>{linked_label(c.label, c.glossary)}</th>" for c in cols)
    n = len(frame)
    page = _page(n, max_rows, csv)
    sub = frame if page is None else frame.iloc[list(range(page[0])) + list(range(n - page[1], n))]
    rows = []
    for k, (idx, row) in enumerate(zip(sub.index, sub.itertuples(index=False), strict=True)):
        if page is not None and k == page[0]:
            rows.append(f'<tr class="tk-gap"><td colspan="{len(cols)}">… rows {page[0] + 1:,}–{n - page[1]:,} '
                        f"not shown: all {n:,} {html.escape(what)} are in {html.escape(str(csv))} …</td></tr>")
        values = dict(zip(frame.columns, row, strict=True))
        cells = "".join(
            f"<td>{html.escape(format_cell(idx if index is not None and c is index else values[c.key], c.kind))}</td>"
            for c in cols)
        rows.append(f"<tr>{cells}</tr>")
    body = f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
    shown = None
    if page is not None:
        shown = (f"rows 1–{page[0]:,} and {n - page[1] + 1:,}–{n:,} of {n:,} {html.escape(what)} shown; "
                 f"all in {html.escape(str(csv))}")
    return _wrap(body, n_rows=n, scroll_rows=scroll_rows, csv=csv, what=what, caption=caption, shown=shown,
                 extra_css=rules)


def metric_rows_table(rows: Sequence[MetricRow], headers: Sequence[str], *, first_header: str = "Metric",
                      caption: str | None = None) -> str:
    """One row per metric (its label linked to the glossary), one column per ``headers`` entry.

    Rows whose values are all missing are left out: a table never shows a row of dashes.
    """
    head = f'<th class="tk-text">{html.escape(first_header)}</th>' + "".join(
        f'<th class="tk-num">{html.escape(h)}</th>' for h in headers)
    body_rows = []
    for r in rows:
        if len(r.values) != len(headers):
            raise ValueError(f"metric row {r.label!r}: got {len(r.values)} values; allowed: {len(headers)}")
        if all(_missing(v) for v in r.values):
            continue
        cells = "".join(f'<td class="{_align(r.kind)}">{html.escape(format_cell(v, r.kind))}</td>' for v in r.values)
        body_rows.append(f'<tr><td class="tk-text">{linked_label(r.label, r.glossary)}</td>{cells}</tr>')
    body = f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body_rows)}</tbody></table>"
    return _wrap(body, n_rows=len(body_rows), scroll_rows=10_000, csv=None, what="rows", caption=caption)
