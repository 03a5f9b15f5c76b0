"""Money and quantities as exact ``Decimal``: parsing, rounding to the ledger's places, printing.

Research arrays are float64; everything that moves money is ``Decimal`` (DESIGN.md,
Money and time). Floats enter through their shortest ``repr`` so ``0.1`` is
``Decimal('0.1')``, computations that must match to the cent run at
:data:`DECIMAL_PREC` digits, and amounts are stored at :data:`SCALE` places
(``Numeric(18, 6)`` in the ledger) with banker's rounding.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

from toolkit.errors import InvalidInput

__all__ = ["DECIMAL_PREC", "QUANTUM", "SCALE", "money", "qty_str", "quantize", "to_decimal"]

#: Precision for money arithmetic: enough that products of prices, quantities and
#: basis points are exact, so translator estimates equal broker charges to the cent.
DECIMAL_PREC = 50
#: Decimal places of a stored amount (the ledger's Numeric(18, 6)).
SCALE = 6
QUANTUM = Decimal(1).scaleb(-SCALE)  # Decimal("0.000001")


def to_decimal(value: Any, field: str) -> Decimal:
    """Convert money or a quantity to ``Decimal`` without float noise.

    Floats go through ``repr`` (shortest round-trip form), so ``0.1`` becomes
    ``Decimal('0.1')`` rather than ``Decimal('0.1000000000000000055511...')``.
    NaN and infinities are refused: they have no place in a ledger.
    """
    if isinstance(value, bool):
        raise InvalidInput(field, value, "a number (Decimal, int, float or numeric string)")
    try:
        if isinstance(value, Decimal):
            out = value
        elif isinstance(value, int):
            out = Decimal(value)
        elif isinstance(value, float):
            out = Decimal(repr(value))
        elif isinstance(value, str):
            out = Decimal(value.strip())
        else:
            # numpy scalars and the like
            out = Decimal(repr(float(value)))
    except (InvalidOperation, TypeError, ValueError):
        raise InvalidInput(field, value, "a number (Decimal, int, float or numeric string)") from None
    if not out.is_finite():
        raise InvalidInput(field, value, "a finite number")
    return out


def quantize(value: Decimal) -> Decimal:
    """Round a computed amount (e.g. ``qty * price``) to the stored :data:`SCALE` places.

    Banker's rounding, so systematic rounding drift cancels over many fills.
    """
    return value.quantize(QUANTUM, rounding=ROUND_HALF_EVEN)


def money(x: Decimal | float) -> str:
    """``$812,400`` for whole amounts, ``$1,234.57`` otherwise (for human reasons)."""
    d = Decimal(str(x))
    sign, d = ("-", -d) if d < 0 else ("", d)
    if d == d.to_integral_value():
        return f"{sign}${d:,.0f}"
    return f"{sign}${d:,.2f}"


def qty_str(q: Decimal) -> str:
    """A quantity without trailing zeros or exponent: ``120``, ``0.01234``."""
    return format(q.normalize(), "f")
