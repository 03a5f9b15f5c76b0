"""Readable ticks for a log axis: 1-2-5 values with short labels (``50k``, ``100k``, ``200k``, ``1M``).

Left to itself, plotly labels a log axis spanning less than a decade or two with its
minor digits ("2, 100k, 9, 8, 7, 6, 5, 4, 3"): the reader cannot tell 300k from 3M.
:func:`log_ticks` picks the values instead, for a plotly axis's ``tickvals`` and
``ticktext``:

* 1-2-5 values (``..., 50k, 100k, 200k, 500k, 1M, ...``) when that gives between
  ``min_ticks`` and ``max_ticks`` of them inside the range;
* powers of ten (every second, third, ... one on a very wide range) when 1-2-5 gives
  too many;
* on a range too narrow for 1-2-5 to place ``min_ticks``, the finer log series
  1-1.5-2-3-5-7 (about evenly spaced on a log axis: ``50k, 70k, 100k, 150k``), and
  if even that places too few, evenly spaced round values a 1-2-5 step apart
  (``96k, 98k, 100k, 102k``).

Pure arithmetic, no plotly: it is tested on its own.

Fixed ``tickvals`` do not follow a zoom in the browser, though: zoom into a year of
a twenty-year curve and no tick is left, or one. The charts therefore use
:func:`adaptive_log_axis`: plotly's own tick choice, which plotly.js redoes on every
zoom, held to the same three cases by the tick count, with every tick labelled in
full (see its docstring). :func:`log_ticks` stays for labels computed outside a browser.
"""

from __future__ import annotations

import math
from typing import NamedTuple

__all__ = ["LOG_AXIS_NTICKS", "AxisTicks", "adaptive_log_axis", "log_ticks", "short_number"]

_SCALES: tuple[tuple[float, str], ...] = ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k"))
_REL = 1e-9  # a tick this close (relatively) to an end of the range is inside it


class AxisTicks(NamedTuple):
    """Tick positions in data units (what plotly's ``tickvals`` takes, also on a log axis) and their labels."""

    values: tuple[float, ...]
    labels: tuple[str, ...]


def short_number(value: float, digits: int = 6) -> str:
    """``value`` in the short, currency-less form of an axis label: ``50k``, ``1.25M``, ``0.5``, ``2e-5``.

    k, M, B and T from a thousand to below a thousand trillion; plain digits between one
    thousandth and a thousand; a power-of-ten form beyond either end. At most ``digits``
    significant digits, trailing zeros dropped.
    """
    x = float(value)
    if not math.isfinite(x):
        raise ValueError(f"short_number: got {value!r}; allowed: a finite number")
    a = abs(float(f"{x:.{digits}g}"))  # rounded first, so 999999.99 reads 1M, not 1000k
    if a == 0:
        return "0"
    if a >= 1e15 or a < 1e-3:
        mantissa, exponent = f"{x:.{digits - 1}e}".split("e")
        if "." in mantissa:
            mantissa = mantissa.rstrip("0").rstrip(".")
        return f"{mantissa}e{int(exponent)}"
    for scale, suffix in _SCALES:
        if a >= scale:
            return f"{x / scale:.{digits}g}{suffix}"
    return f"{x:.{digits}g}"


#: Mantissas of the log series, from the sparsest.
_POWERS = ("1",)
_ONE_TWO_FIVE = ("1", "2", "5")
_FINER = ("1", "1.5", "2", "3", "5", "7")


def _decimal(mantissa: int | str, exponent: int) -> float:
    """``mantissa * 10**exponent`` as the float nearest the decimal (``3e-2`` is 0.03, not 0.030000000000000002)."""
    return float(f"{mantissa}e{exponent}")


def _inside(values: list[float], low: float, high: float) -> list[float]:
    return [v for v in values if low * (1 - _REL) <= v <= high * (1 + _REL)]


def _decade_ticks(low: float, high: float, mantissas: tuple[str, ...]) -> list[float]:
    first, last = math.floor(math.log10(low)), math.ceil(math.log10(high))
    return _inside([_decimal(m, e) for e in range(first, last + 1) for m in mantissas], low, high)


def _even_ticks(low: float, high: float, max_ticks: int) -> list[float]:
    """Round values a 1-2-5 step apart, the smallest step that places at most ``max_ticks``."""
    span = high - low
    exponent = math.floor(math.log10(span / max(max_ticks - 1, 1))) - 1
    while True:
        for mantissa in (1, 2, 5):
            step = _decimal(mantissa, exponent)
            first, last = math.ceil(low / step - _REL), math.floor(high / step + _REL)
            if last - first + 1 <= max_ticks:
                return [_decimal(k * mantissa, exponent) for k in range(first, last + 1)]
        exponent += 1


def log_ticks(low: float, high: float, *, min_ticks: int = 3, max_ticks: int = 8) -> AxisTicks:
    """Ticks for a log axis showing ``low`` to ``high`` (positive): 1-2-5 values and :func:`short_number` labels.

    See the module docstring for the three cases. A flat range (``low == high``) gets
    one tick at its value.
    """
    lo, hi = float(low), float(high)
    if not (math.isfinite(lo) and math.isfinite(hi) and lo > 0 and hi > 0):
        raise ValueError(f"log_ticks: got low={low!r}, high={high!r}; allowed: finite numbers > 0 (a log axis)")
    if lo > hi:
        raise ValueError(f"log_ticks: got low={low!r} above high={high!r}; allowed: low <= high")
    if not 1 <= min_ticks <= max_ticks:
        raise ValueError(f"log_ticks: got min_ticks={min_ticks}, max_ticks={max_ticks}; "
                         "allowed: 1 <= min_ticks <= max_ticks")
    if lo == hi:
        values = [lo]
    else:
        values = _decade_ticks(lo, hi, _ONE_TWO_FIVE)
        if len(values) > max_ticks:
            powers = _decade_ticks(lo, hi, _POWERS)
            every = math.ceil(len(powers) / max_ticks)
            values = powers[::every]
        elif len(values) < min_ticks:
            finer = _decade_ticks(lo, hi, _FINER)
            values = finer if min_ticks <= len(finer) <= max_ticks else _even_ticks(lo, hi, max_ticks)
    return AxisTicks(tuple(values), _labels(values))


def _labels(values: list[float]) -> tuple[str, ...]:
    """Short labels with as few digits as keep them apart (a narrow range needs more than 6)."""
    for digits in range(6, 16):
        labels = tuple(short_number(v, digits) for v in values)
        if len(set(labels)) == len(labels):
            return labels
    return labels


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
    means ``s < 1``), so the three cases are those of :func:`log_ticks`.

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
