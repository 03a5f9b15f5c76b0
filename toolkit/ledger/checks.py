"""Input checks shared by the ledger's methods.

Each check raises a :class:`LedgerError` that names the field, the value seen
and what is allowed (promise 6), and runs before any write.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from toolkit.ledger.errors import LedgerError
from toolkit.ledger.types import DecimalLike, to_amount


def choice(field: str, value: Any, allowed: tuple[str, ...]) -> str:
    """``value`` if it is one of ``allowed`` (modes, sides, statuses)."""
    if value not in allowed:
        raise LedgerError(f"{field}: got {value!r}; allowed: {', '.join(allowed)}")
    return str(value)


def text(field: str, value: Any, *, max_length: int = 128, optional: bool = False) -> str | None:
    """A non-blank string that fits its column (``None`` allowed when ``optional``)."""
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value.strip():
        raise LedgerError(f"{field}: got {value!r}; allowed: a non-empty string")
    if len(value) > max_length:
        raise LedgerError(f"{field}: got a string of {len(value)} characters; allowed: at most {max_length}")
    return value


def positive(field: str, value: DecimalLike) -> Decimal:
    d = to_amount(value, field)
    if d <= 0:
        raise LedgerError(f"{field}: got {value!r}; allowed: a number > 0")
    return d


def non_negative(field: str, value: DecimalLike) -> Decimal:
    d = to_amount(value, field)
    if d < 0:
        raise LedgerError(f"{field}: got {value!r}; allowed: a number >= 0")
    return d


def optional_price(field: str, value: DecimalLike | None) -> Decimal | None:
    return None if value is None else positive(field, value)


def ratio(field: str, value: float | None) -> float | None:
    """A return or drawdown as float64 (ratios are not money; floats round-trip exactly)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise LedgerError(f"{field}: got {value!r}; allowed: a number or None")
    return float(value)
