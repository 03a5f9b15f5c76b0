"""How an instrument can be traded: its lot step and minimum order value."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, localcontext

from toolkit.errors import InvalidInput
from toolkit.model.money import DECIMAL_PREC, to_decimal

__all__ = ["EQUITY", "Instrument"]


@dataclass(frozen=True)
class Instrument:
    """Lot step and minimum order value of one instrument.

    The default is a US equity: whole shares, no minimum notional. Crypto pairs
    carry their exchange filters, e.g. ``Instrument.crypto("0.00001", "10")`` for
    BTCUSDT (LOT_SIZE step 0.00001, MIN_NOTIONAL 10).
    """

    step_size: Decimal = Decimal(1)
    min_notional: Decimal = Decimal(0)
    asset_class: str = "equity"

    def __post_init__(self) -> None:
        step = to_decimal(self.step_size, "step_size")
        if step <= 0:
            raise InvalidInput("step_size", str(step), "> 0")
        mn = to_decimal(self.min_notional, "min_notional")
        if mn < 0:
            raise InvalidInput("min_notional", str(mn), ">= 0")
        object.__setattr__(self, "step_size", step)
        object.__setattr__(self, "min_notional", mn)

    @classmethod
    def crypto(cls, step_size: Decimal | str, min_notional: Decimal | str = "0") -> Instrument:
        return cls(step_size=Decimal(str(step_size)), min_notional=Decimal(str(min_notional)), asset_class="crypto")

    def floor(self, qty: Decimal) -> Decimal:
        """Round down to a multiple of ``step_size`` (never below zero for qty >= 0)."""
        with localcontext() as ctx:
            ctx.prec = DECIMAL_PREC
            return (qty / self.step_size).to_integral_value(rounding=ROUND_FLOOR) * self.step_size

    def ceil(self, qty: Decimal) -> Decimal:
        """Round up to a multiple of ``step_size``."""
        with localcontext() as ctx:
            ctx.prec = DECIMAL_PREC
            return (qty / self.step_size).to_integral_value(rounding=ROUND_CEILING) * self.step_size

    def is_multiple(self, qty: Decimal) -> bool:
        return self.floor(qty) == qty


#: A US equity: whole shares, no minimum (what a symbol without its own rules trades as).
EQUITY = Instrument()
