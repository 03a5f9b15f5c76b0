"""Inline SVG charts for the control panel: equity with regime bands and drawdown, allocation bars.

Why SVG strings in an ``ipywidgets.HTML`` and not plotly: the served panel must be drawn
in under 3 s, and a plotly FigureWidget alone costs about 1.5 s in the browser (plus the
import in the kernel). An SVG of a few thousand points is a few tens of kilobytes, drawn
at once, and scales with its box (``viewBox`` with ``width:100%``), so the charts follow
the page down to a 768 px tablet.

The functions take plain sequences and return markup; they know nothing of the ledger.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import date

__all__ = ["REGIME_COLOURS", "allocation_bars", "equity_chart", "regime_palette"]

#: Band colours of the regime cells, given in the order of the sorted cell labels.
REGIME_COLOURS = ("#16a34a", "#84cc16", "#eab308", "#f97316", "#dc2626", "#7c3aed", "#0891b2", "#db2777")
_EQUITY = "#1d4ed8"
_DRAWDOWN = "#dc2626"
_TARGET = "#93c5fd"
_ACTUAL = "#1d4ed8"
_TEXT = 'font-family="sans-serif" fill="#374151"'


def _sort_key(label: str) -> tuple[int, float, str]:
    try:
        return (0, float(label), label)
    except ValueError:
        return (1, 0.0, label)


def regime_palette(cells: Sequence[str | None]) -> dict[str, str]:
    """Colour of each regime cell label (numeric labels in numeric order), stable for a given set."""
    labels = sorted({c for c in cells if c is not None and c != ""}, key=_sort_key)
    return {label: REGIME_COLOURS[i % len(REGIME_COLOURS)] for i, label in enumerate(labels)}


def _svg(width: int, height: int, body: str, title: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'style="width:100%;height:auto;display:block" role="img" aria-label="{html.escape(title)}">'
        f"<title>{html.escape(title)}</title>{body}</svg>"
    )


def _runs(cells: Sequence[str | None]) -> list[tuple[int, int, str]]:
    """Contiguous stretches of one cell as (first index, last index, cell)."""
    out: list[tuple[int, int, str]] = []
    start = 0
    for i in range(1, len(cells) + 1):
        if i == len(cells) or cells[i] != cells[start]:
            cell = cells[start]
            if cell is not None and cell != "":
                out.append((start, i - 1, cell))
            start = i
    return out


def _ticks(dates: Sequence[date], xs: Sequence[float]) -> list[tuple[float, str]]:
    """One label per year (per month when the chart spans less than two years)."""
    if not dates:
        return []
    span_days = (dates[-1] - dates[0]).days
    ticks: list[tuple[float, str]] = []
    last = None
    for d, x in zip(dates, xs, strict=True):
        key = (d.year, d.month) if span_days < 730 else (d.year, 0)
        if key != last:
            if last is not None:
                ticks.append((x, d.strftime("%Y-%m") if span_days < 730 else str(d.year)))
            last = key
    step = max(1, len(ticks) // 8)
    return ticks[::step]


def equity_chart(
    dates: Sequence[date],
    equity: Sequence[float],
    drawdown: Sequence[float | None],
    cells: Sequence[str | None] | None = None,
    *,
    width: int = 760,
    height: int = 320,
    title: str = "Equity and drawdown",
) -> str:
    """Equity line over regime-coloured bands, drawdown as a red area below it.

    ``cells``: the regime cell of each session (None where the strategy has none); each
    stretch of one cell is a band in that cell's colour, with a legend. ``drawdown`` is a
    fraction <= 0 (None = unknown, drawn as 0).
    """
    n = len(dates)
    if n == 0:
        return _svg(width, 60, f'<text x="8" y="34" font-size="13" {_TEXT}>no sessions recorded yet</text>', title)
    left, right, top = 64, 8, 18
    eq_h = int((height - top - 34) * 0.68)
    dd_top = top + eq_h + 10
    dd_h = height - dd_top - 22
    plot_w = width - left - right
    xs = [left + (plot_w * i / (n - 1) if n > 1 else plot_w / 2) for i in range(n)]
    lo, hi = min(equity), max(equity)
    if hi == lo:
        lo, hi = lo - 1, hi + 1
    ys = [top + eq_h - (v - lo) / (hi - lo) * eq_h for v in equity]
    dds = [min(0.0, d) if d is not None else 0.0 for d in drawdown]
    worst = min(dds) if min(dds) < 0 else -0.01
    dd_ys = [dd_top + d / worst * dd_h for d in dds]
    parts: list[str] = []
    palette = regime_palette(cells or [])
    half = plot_w / (2 * max(n - 1, 1))
    for first, last, cell in _runs(cells or []):
        x0 = max(left, xs[first] - half)
        x1 = min(left + plot_w, xs[last] + half)
        parts.append(f'<rect x="{x0:.1f}" y="{top}" width="{max(x1 - x0, 0.5):.1f}" height="{eq_h}" '
                     f'fill="{palette[cell]}" fill-opacity="0.16"><title>cell {html.escape(cell)}</title></rect>')
    parts.append(f'<rect x="{left}" y="{top}" width="{plot_w}" height="{eq_h}" fill="none" stroke="#d1d5db"/>')
    points = " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys, strict=True))
    parts.append(f'<polyline points="{points}" fill="none" stroke="{_EQUITY}" stroke-width="1.5"/>')
    area = " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, dd_ys, strict=True))
    parts.append(f'<polygon points="{xs[0]:.1f},{dd_top} {area} {xs[-1]:.1f},{dd_top}" fill="{_DRAWDOWN}" '
                 f'fill-opacity="0.35" stroke="{_DRAWDOWN}" stroke-width="0.8"/>')
    parts.append(f'<line x1="{left}" y1="{dd_top}" x2="{left + plot_w}" y2="{dd_top}" stroke="#9ca3af"/>')
    for y, label in ((top + 4, f"{hi:,.0f}"), (top + eq_h, f"{lo:,.0f}"),
                     (dd_top + 4, "0%"), (dd_top + dd_h, f"{worst * 100:.1f}%")):
        parts.append(f'<text x="{left - 4}" y="{y:.0f}" font-size="10" text-anchor="end" {_TEXT}>{label}</text>')
    parts.append(f'<text x="{left - 4}" y="{dd_top + dd_h / 2 + 3:.0f}" font-size="10" text-anchor="end" '
                 f'fill="{_DRAWDOWN}" font-family="sans-serif">drawdown</text>')
    for x, label in _ticks(dates, xs):
        parts.append(f'<line x1="{x:.1f}" y1="{top + eq_h}" x2="{x:.1f}" y2="{top + eq_h + 3}" stroke="#9ca3af"/>')
        parts.append(f'<text x="{x:.1f}" y="{height - 6}" font-size="10" text-anchor="middle" {_TEXT}>{label}</text>')
    legend_x = left
    for cell, colour in palette.items():
        parts.append(f'<rect x="{legend_x}" y="3" width="10" height="10" fill="{colour}" fill-opacity="0.6"/>')
        parts.append(f'<text x="{legend_x + 13}" y="12" font-size="10" {_TEXT}>cell {html.escape(cell)}</text>')
        legend_x += 22 + 7 * (len(cell) + 5)
    last_text = f"{equity[-1]:,.2f} on {dates[-1].isoformat()}"
    parts.append(f'<text x="{width - right}" y="12" font-size="10" text-anchor="end" {_TEXT}>{last_text}</text>')
    return _svg(width, height, "".join(parts), title)


def allocation_bars(
    rows: Sequence[tuple[str, float | None, float | None]],
    *,
    width: int = 480,
    title: str = "Allocation: target vs actual",
) -> str:
    """Paired horizontal bars per instrument: target (light) over actual (dark), as % of equity.

    ``rows``: (label, target weight, actual weight); None draws no bar and writes "n/a".
    """
    if not rows:
        return _svg(width, 40, f'<text x="8" y="24" font-size="13" {_TEXT}>no allocation recorded yet</text>', title)
    label_w, value_w, bar_h, gap = 70, 120, 9, 8
    row_h = 2 * bar_h + gap
    height = 22 + row_h * len(rows)
    plot_w = width - label_w - value_w
    values = [v for _, t, a in rows for v in (t, a) if v is not None]
    lo = min(0.0, *values) if values else 0.0
    hi = max(1.0, *values) if values else 1.0
    scale = plot_w / (hi - lo)
    zero_x = label_w + (0 - lo) * scale
    parts = [
        f'<rect x="{label_w}" y="4" width="10" height="8" fill="{_TARGET}"/>'
        f'<text x="{label_w + 13}" y="12" font-size="10" {_TEXT}>target</text>'
        f'<rect x="{label_w + 60}" y="4" width="10" height="8" fill="{_ACTUAL}"/>'
        f'<text x="{label_w + 73}" y="12" font-size="10" {_TEXT}>actual</text>'
    ]
    for i, (label, target, actual) in enumerate(rows):
        y = 20 + i * row_h
        parts.append(f'<text x="{label_w - 6}" y="{y + bar_h + 3}" font-size="11" text-anchor="end" {_TEXT}>'
                     f"{html.escape(label)}</text>")
        for j, (value, colour) in enumerate(((target, _TARGET), (actual, _ACTUAL))):
            by = y + j * bar_h
            if value is not None:
                x0 = min(zero_x, zero_x + value * scale)
                parts.append(f'<rect x="{x0:.1f}" y="{by}" width="{max(abs(value) * scale, 0.5):.1f}" '
                             f'height="{bar_h - 1}" fill="{colour}"/>')
        t_text = "n/a" if target is None else f"{target * 100:.1f}%"
        a_text = "n/a" if actual is None else f"{actual * 100:.1f}%"
        parts.append(f'<text x="{width - 4}" y="{y + bar_h + 3}" font-size="11" text-anchor="end" {_TEXT}>'
                     f"{t_text} / {a_text}</text>")
    parts.append(f'<line x1="{zero_x:.1f}" y1="16" x2="{zero_x:.1f}" y2="{height}" stroke="#9ca3af"/>')
    return _svg(width, height, "".join(parts), title)
