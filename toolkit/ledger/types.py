"""Column types and value checks that keep money exact and time in UTC.

Why custom types:

* Money. ``Numeric(18, 6)`` on SQLite is stored with NUMERIC affinity, which
  SQLite turns into a 64-bit float: ``999999999999.999999`` comes back as
  ``1000000000000``. :class:`Money` therefore stores the quantized decimal as
  text on SQLite (exact for all 18 digits) and as a native ``NUMERIC(18, 6)``
  elsewhere (PostgreSQL), and always reads back a :class:`~decimal.Decimal`
  with exactly six decimal places.
* Time. SQLite has no time-zone aware timestamp; :class:`UTCDateTime` refuses
  naive datetimes, stores UTC and hands back tz-aware UTC datetimes on every
  backend, so ledger times compare correctly with exchange-calendar times.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import DateTime, Numeric, String
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

from toolkit.errors import InvalidInput
from toolkit.ledger.errors import LedgerError
from toolkit.model import QUANTUM, SCALE, quantize, to_decimal

LIMIT = Decimal(10) ** (18 - SCALE)  # Numeric(18, 6): |value| < 10**12

DecimalLike = Decimal | int | str | float


def fit_amount(value: Decimal) -> Decimal:
    """A computed amount (e.g. ``qty * price``) at the ledger's 6 places, refused if it does not fit.

    The rounding is the model's :func:`~toolkit.model.quantize` (banker's, so drift
    cancels over many fills); the size check is the ledger's ``Numeric(18, 6)``.
    """
    q = quantize(value)
    if abs(q) >= LIMIT:
        raise LedgerError(f"amount {value} does not fit Numeric(18, 6): allowed |value| < {LIMIT}")
    return q


def to_amount(value: Any, field: str) -> Decimal:
    """Turn a user-given amount into an exact 6-place :class:`Decimal`.

    Parsed by the model's :func:`~toolkit.model.to_decimal` (floats through their
    shortest ``repr``, NaN and infinities refused). ``Decimal``, ``int`` and numeric
    ``str`` must already fit six decimal places: silently rounding a quantity or
    price would make the ledger disagree with the broker. A ``float`` has no exact
    decimal meaning, so it is rounded to six places.
    """
    if value is None or not isinstance(value, Decimal | int | str | float) or isinstance(value, bool):
        raise LedgerError(f"{field}: got {value!r}; allowed: a decimal number (Decimal, int, str or float)")
    try:
        d = to_decimal(value, field)
    except InvalidInput as exc:
        raise LedgerError(f"{field}: got {value!r}; allowed: {exc.allowed}") from None
    if isinstance(value, float):
        return fit_amount(d)
    q = quantize(d)
    if q != d:
        raise LedgerError(f"{field}: got {value!r}; allowed: at most {SCALE} decimal places")
    if abs(q) >= LIMIT:
        raise LedgerError(f"{field}: got {value!r}; allowed: |value| < {LIMIT} (Numeric(18, 6))")
    return q


def ensure_utc(value: datetime, field: str = "timestamp") -> datetime:
    """Return ``value`` in UTC; naive datetimes are refused because they are ambiguous."""
    if not isinstance(value, datetime):
        raise LedgerError(f"{field}: got {value!r}; allowed: a timezone-aware datetime")
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise LedgerError(
            f"{field}: got naive datetime {value.isoformat()}; allowed: a timezone-aware datetime "
            "(e.g. datetime.now(UTC) or a pandas Timestamp with tz)"
        )
    return value.astimezone(UTC)


class Money(TypeDecorator[Decimal]):
    """Exact ``Numeric(18, 6)`` amount, read back as a 6-place ``Decimal``."""

    impl = Numeric(18, SCALE, asdecimal=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            # TEXT affinity: SQLite keeps the string as is, so no float rounding.
            return dialect.type_descriptor(String(32))
        return dialect.type_descriptor(Numeric(18, SCALE, asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        d = fit_amount(value if isinstance(value, Decimal) else to_amount(value, "amount"))
        return format(d, "f") if dialect.name == "sqlite" else d

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return Decimal(str(value)).quantize(QUANTUM)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware timestamp stored in UTC on every backend."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        utc = ensure_utc(value)
        if hasattr(utc, "to_pydatetime"):  # pandas Timestamp
            utc = utc.to_pydatetime()
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
