"""Readable ticks for a log axis, at every zoom: ``50k, 100k, 200k``, never ``2, 100k, 9, 8, 7``.

Left to itself, plotly labels a log axis spanning less than a decade or two with its
minor digits ("2, 100k, 9, 8, 7, 6, 5, 4, 3"): the reader cannot tell 300k from 3M.
Fixed ``tickvals`` would cure that but not follow a zoom in the browser (zoom into a
year of a twenty-year curve and no tick is left, or one). :func:`adaptive_log_axis`
keeps plotly's own tick choice, which plotly.js redoes on every zoom, holds it to
readable cases with the tick count, and makes it label every tick in full. What the
browser draws from it is checked in tests/browser/test_reports.py.
"""

from __future__ import annotations

import math

__all__ = ["LOG_AXIS_NTICKS", "adaptive_log_axis"]


#: The ``nticks`` of :func:`adaptive_log_axis` (why 3: see there).
LOG_AXIS_NTICKS = 3


def adaptive_log_axis(low: float, high: float) -> dict[str, object]:
    """Settings of a plotly log axis whose ticks stay readable at every zoom (``fig.update_yaxes(**...)``).

    plotly.js picks a log axis's ticks from the shown span ``s`` (decades) and ``nticks``
    (``t = s / nticks``), again after every zoom or pan: powers of ten every
    ``ceil(t)`` decades when ``t > 0.7``; round values a linear 1-2-5 step apart
    (``120k, 140k, 160k``) when ``s < 1``; otherwise 1-2-5 values (``dtick "D2"``) when
    ``t > 0.3``, or every digit (``"D1"``: ``20k ... 90k, 100k``, crowded near each
    power) when not. With ``nticks = 3`` the last case cannot happen (``t <= 0.3``
    means ``s < 1``), so the ticks are powers of ten, 1-2-5 values or round linear steps.

    By default plotly labels the in-between ticks with their first digit only
    ("2, 100k, 9, 8"); a ``tickformat`` makes it write every tick in full: d3's ``~s``
    (``50k``, ``1.5M``; ``G`` for a billion) for values of 1 and above, ``~g``
    (``0.5``, ``1.05``) when the curve goes below 1 (a growth of 1), where ``~s`` would
    write ``500m``. ``low`` and ``high`` are the values the axis draws (positive).
    """
    lo, hi = float(low), float(high)
    if not (math.isfinite(lo) and math.isfinite(hi) and lo > 0 and hi > 0):
        raise ValueError(f"adaptive_log_axis: got low={low!r}, high={high!r}; allowed: finite numbers > 0 (a log axis)")
    return {"type": "log", "tickmode": "auto", "nticks": LOG_AXIS_NTICKS, "tickformat": "~s" if lo >= 1 else "~g"}
