"""Slippage and fees: one cost model for the translator's cash allowance and the broker's fills."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, localcontext

from toolkit.errors import InvalidInput
from toolkit.model.money import DECIMAL_PREC, to_decimal
from toolkit.model.trading import OrderSide

__all__ = ["CostModel"]

_BPS = Decimal(10_000)


@dataclass(frozen=True)
class CostModel:
    """Slippage and fees, in one place for the translator's allowance and the broker's fills.

    Buys pay ``price x (1 + slippage_bps / 10^4)``, sells receive
    ``price x (1 - slippage_bps / 10^4)``; the fee is ``fee_bps`` of the fill
    notional plus ``fixed_fee`` once per order (the simulated broker charges it on
    the order's first fill). Arithmetic is exact (50-digit Decimal), so the
    translator's allowance equals what the simulated broker charges to the last digit.
    """

    slippage_bps: Decimal = Decimal(0)
    fee_bps: Decimal = Decimal(0)
    fixed_fee: Decimal = Decimal(0)

    def __post_init__(self) -> None:
        for name in ("slippage_bps", "fee_bps", "fixed_fee"):
            v = to_decimal(getattr(self, name), name)
            if v < 0:
                raise InvalidInput(name, str(v), ">= 0")
            object.__setattr__(self, name, v)
        if self.slippage_bps >= _BPS:
            raise InvalidInput("slippage_bps", str(self.slippage_bps), "< 10000 (100%)")

    def fill_price(self, side: OrderSide, price: Decimal) -> Decimal:
        """The price after slippage: buys pay up, sells receive less."""
        with localcontext() as ctx:
            ctx.prec = DECIMAL_PREC
            return price * (1 + OrderSide(side).sign * self.slippage_bps / _BPS)

    def variable_fee(self, notional: Decimal) -> Decimal:
        """The basis-point part of the fee (what later partial fills pay)."""
        with localcontext() as ctx:
            ctx.prec = DECIMAL_PREC
            return notional * self.fee_bps / _BPS

    def fee(self, notional: Decimal) -> Decimal:
        """The fee of a whole order of this notional: basis points plus the fixed fee."""
        with localcontext() as ctx:
            ctx.prec = DECIMAL_PREC
            return self.variable_fee(notional) + self.fixed_fee

    def buy_cost(self, qty: Decimal, price: Decimal) -> Decimal:
        """Cash a buy of ``qty`` at reference ``price`` consumes, fees included."""
        with localcontext() as ctx:
            ctx.prec = DECIMAL_PREC
            notional = qty * self.fill_price(OrderSide.BUY, price)
            return notional + self.fee(notional)

    def sell_proceeds(self, qty: Decimal, price: Decimal) -> Decimal:
        """Cash a sell of ``qty`` at reference ``price`` brings in, net of fees."""
        with localcontext() as ctx:
            ctx.prec = DECIMAL_PREC
            notional = qty * self.fill_price(OrderSide.SELL, price)
            return notional - self.fee(notional)
