"""A strategy's decisions as a person reads them: weights in percent, indicators at one precision per column.

A decisions table (``decisions.csv``: a ``weight_<instrument>`` column per instrument,
``rebalance``, then the strategy's context) and a session's decision hold figures of
different kinds side by side. Written as bare numbers they read ``0`` for a 0% weight and
``0.3333`` for a third, ``-0.106`` beside ``-0.1808`` and ``7090`` without a separator. Each
column (each context field of a single decision) is written by what it holds:

=============  ==========================================  ===========================
kind           columns                                     written as
=============  ==========================================  ===========================
weight         ``weight_*``, an allocator's ``share_*``,   ``33.33%``, ``0.00%``
               a decision's target weights
return         ``return_*`` (an allocator's sub-returns)   ``1.25%``
count          whole-number columns (v3.5b's ``cell``)     ``4``, ``1,200``
flag           booleans (``rebalance``, ``valid``)         ``yes`` / ``no``
indicator      every other number                          4 significant digits of the
                                                           column's largest value, the
                                                           same decimals down the column
                                                           (``7,090``, ``313.5``,
                                                           ``-0.1060``)
text           anything else                               as it is
=============  ==========================================  ===========================

A column of indicators shares its decimals so its figures line up; an indicator below
0.001 in magnitude (every value of its column) is written in scientific notation
(``1.234e-04``) rather than as a run of zeros. A missing value is an em dash.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from toolkit.report.html_table import Column, html_table
from toolkit.report.metric_format import MISSING, format_value

if TYPE_CHECKING:  # pragma: no cover
    from toolkit.strategies.base import Decision

__all__ = [
    "DecisionKind",
    "column_label",
    "decision_html",
    "decision_kind",
    "decisions_display",
    "format_context_field",
    "format_decision_value",
    "format_indicator",
    "indicator_decimals",
]

DecisionKind = Literal["weight", "return", "count", "flag", "indicator", "text"]

#: Column name prefixes of fractions of equity (target weights; an allocator's strategy shares).
WEIGHT_PREFIXES = ("weight_", "share_")
#: Column name prefixes of returns (an allocator's sub-strategy returns).
RETURN_PREFIXES = ("return_",)
#: Significant digits of an indicator column's largest value; its decimals never exceed MAX_DECIMALS.
SIGNIFICANT_DIGITS = 4
MAX_DECIMALS = 4


def _is_flag(value: Any) -> bool:
    return isinstance(value, (bool, np.bool_))


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, Decimal, np.integer, np.floating)) and not _is_flag(value)


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def decision_kind(name: str, values: pd.Series | Iterable[Any]) -> DecisionKind:
    """The kind of the column ``name`` holding ``values`` (see the module table)."""
    s = values if isinstance(values, pd.Series) else pd.Series(list(values), dtype=object)
    present = [v for v in s if not _is_missing(v)]
    if pd.api.types.is_bool_dtype(s) or (present and all(_is_flag(v) for v in present)):
        return "flag"
    numeric = pd.api.types.is_numeric_dtype(s) or (present and all(_is_number(v) for v in present))
    if not numeric:
        return "text"
    if name.startswith(WEIGHT_PREFIXES):
        return "weight"
    if name.startswith(RETURN_PREFIXES):
        return "return"
    if pd.api.types.is_integer_dtype(s) or (present and all(isinstance(v, (int, np.integer)) for v in present)):
        return "count"
    return "indicator"


def indicator_decimals(values: Iterable[Any]) -> int | None:
    """Decimals giving the largest finite magnitude of ``values`` its 4 significant digits (0 to 4).

    None when every value is below 0.001 in magnitude but not all are zero: those are
    written in scientific notation.
    """
    finite = [abs(float(v)) for v in values if _is_number(v) and math.isfinite(float(v))]
    largest = max(finite, default=0.0)
    if largest == 0.0:
        return 0
    if largest < 10.0 ** -(MAX_DECIMALS - 1):
        return None
    return min(MAX_DECIMALS, max(0, SIGNIFICANT_DIGITS - 1 - math.floor(math.log10(largest))))


def format_indicator(value: Any, decimals: int | None) -> str:
    """``value`` with ``decimals`` decimals and thousands separators (scientific when ``decimals`` is None)."""
    if not _is_number(value) or not math.isfinite(float(value)):
        return MISSING
    x = float(value)
    text = f"{x:.3e}" if decimals is None else f"{x:,.{decimals}f}"
    return text[1:] if text.startswith("-") and float(text.replace(",", "")) == 0 else text  # no "-0.0000"


def format_decision_value(value: Any, kind: DecisionKind, decimals: int | None = 0) -> str:
    """One cell of a ``kind`` column (``decimals``: the column's, for indicators)."""
    if _is_missing(value):
        return MISSING
    if kind == "flag":
        return "yes" if bool(value) else "no"
    if kind == "weight":
        return format_value(value, "percent")
    if kind == "return":
        return format_value(value, "percent")
    if kind == "count":
        return format_value(value, "count")
    if kind == "indicator":
        return format_indicator(value, decimals)
    text = str(value).strip()
    return text or MISSING


def decisions_display(frame: pd.DataFrame, rows: pd.DataFrame | None = None) -> tuple[pd.DataFrame, list[Column]]:
    """``rows`` (default all of ``frame``) written column by column, and the :class:`Column` of each.

    Kinds and indicator decimals come from the whole of ``frame``, so the last bars of a
    long table are written as the table is. Numbers are right-aligned (``figure``).
    """
    shown = frame if rows is None else rows
    out = pd.DataFrame(index=shown.index)
    cols = []
    for name in frame.columns:
        key = str(name)
        kind = decision_kind(key, frame[name])
        decimals = indicator_decimals(frame[name]) if kind == "indicator" else 0
        out[key] = [format_decision_value(v, kind, decimals) for v in shown[name]]
        cols.append(Column(key, column_label(key), "text" if kind == "text" else "figure"))
    return out, cols


#: Words of indicator names written in capitals (``sma_fast_NASDAQ`` -> ``SMA fast NASDAQ``).
ACRONYMS = frozenset({"sma", "ema", "atr", "rsi", "macd", "adx", "vix", "pnl"})


def column_label(name: str) -> str:
    """A decisions column as a header reads: ``weight_NASDAQ`` -> ``weight NASDAQ``, ``sma_fast_NASDAQ`` -> ``SMA fast
    NASDAQ``. Underscores become spaces and the usual indicator abbreviations capitals; symbols keep their case."""
    words = str(name).split("_")
    return " ".join(w.upper() if w.lower() in ACRONYMS and w.islower() else w for w in words if w != "")


def format_context_field(name: str, value: Any) -> str:
    """One field of a single decision's context, written by the kind of its value (a dict or list item by item)."""
    if isinstance(value, Mapping):
        return ", ".join(f"{k}: {format_context_field(str(k), v)}" for k, v in value.items()) or MISSING
    if isinstance(value, (list, tuple)):
        return ", ".join(format_context_field(name, v) for v in value) or MISSING
    kind = decision_kind(name, [value])
    return format_decision_value(value, kind, indicator_decimals([value]) if kind == "indicator" else 0)


def decision_html(decision: Decision, *, outcome: str | None = None) -> str:
    """One decision as a two-column table: each target weight, whether it rebalances, each context field.

    Every field is written by its own kind (:func:`format_context_field`), so the
    strategy's weights read ``50.00%`` and its indicators ``313.5`` or ``-0.1060``.
    ``outcome`` (a session's: ``1 order sent``, ``no order needed``) follows a "yes", so
    a rebalance that needed no order does not read as if one were missing.
    """
    rows = [(f"target weight {sym}", format_decision_value(w, "weight")) for sym, w in decision.target_weights.items()]
    flag = format_decision_value(bool(decision.rebalance), "flag")
    if decision.rebalance and outcome:
        flag = f"{flag} ({outcome})"
    rows.append(("rebalance", flag))
    rows += [(column_label(name), format_context_field(name, value)) for name, value in decision.context.items()]
    t = pd.DataFrame(rows, columns=["name", "value"])
    return html_table(t, [Column("name", "field"), Column("value", "value")])
