"""The one sizing rule: target weights, holdings, cash and prices -> order quantities.

The daily path (the engine's translator: dry run, replay, paper, live) and the
backtest (whenever it trades in whole shares or lot steps) both size orders with
:func:`size_orders`, so a replay trades what was backtested, fill for fill. The rule,
in the order it is applied:

1. **Equity** ``E = cash + sum(held x price)`` at the decision prices, computed once
   before any order (or given by the caller).
2. **Targets**: ``target_qty = floor_to_step(weight x E / price)``, the largest
   position, in whole shares or the instrument's ``step_size``, that is worth no more
   than its target weight. A zero weight is a full exit.
3. **Orders**: buy ``target - held``; sell ``held - target`` rounded UP to a step and
   capped at the holding (so a position never ends above its target even when it was
   not a whole number of steps). Held symbols without a weight are left alone.
4. **Skips**: sells whose fees would exceed their proceeds; orders under the
   instrument's ``min_notional`` or under ``min_order_fraction x E``, each kept with
   its reason (a buy cut for cash is checked again after the cut).
5. **Sells first**: their proceeds, net of slippage and fees (:class:`CostModel`,
   exactly what the simulated broker charges), fund the buys.
6. **Cash short** (targets are sized on ``E`` but buys also pay slippage and fees):
   buys are funded from the smallest to the largest cost (ties by symbol); each buy
   that fits is placed whole, the first that does not is cut to the largest number of
   steps that the remaining cash pays for, fees included, and any later buy gets what
   is then left (usually nothing: skipped, with the reason). So every position but
   the largest buy lands exactly on its floored target, and the cost allowance
   (a few basis points of the buys) comes out of the largest buy, where one lot moves
   the weight least; cash never goes negative and at most one lot of the cut
   symbol stays uninvested. This is also what vectorbt's ``targetpercent`` does with
   cash sharing (sells first, buys by ascending value, the last one capped by cash),
   less its float rounding of each order: the backtest therefore hands vectorbt the
   amounts computed here instead of percentages.

Arithmetic is exact (50-digit :class:`~decimal.Decimal`): same inputs, same quantities,
bit for bit, whichever path asks. The function is pure: nothing is read or written.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal, localcontext

from toolkit.model.costs import CostModel
from toolkit.model.instrument import EQUITY, Instrument
from toolkit.model.money import DECIMAL_PREC, money, quantize
from toolkit.model.trading import OrderSide

__all__ = ["SizedOrder", "Sizing", "SkippedOrder", "booked_cash_flow", "size_orders"]


@dataclass(frozen=True)
class SizedOrder:
    """One order of the plan: what to trade and the target it trades towards.

    ``cut_from`` is the quantity before the cash cut (rule 6), ``None`` when the order
    was not cut.
    """

    symbol: str
    side: OrderSide
    quantity: Decimal
    price: Decimal
    held: Decimal
    target: Decimal
    weight: Decimal
    cut_from: Decimal | None = None


@dataclass(frozen=True)
class SkippedOrder:
    """An order the rule considered and did not place, and why (plain words)."""

    symbol: str
    side: OrderSide
    quantity: Decimal
    reason: str


@dataclass(frozen=True)
class Sizing:
    """The plan: sells (by symbol), then buys (by symbol), what was skipped, the equity used."""

    orders: tuple[SizedOrder, ...]
    skipped: tuple[SkippedOrder, ...]
    equity: Decimal

    @property
    def sells(self) -> tuple[SizedOrder, ...]:
        return tuple(o for o in self.orders if o.side is OrderSide.SELL)

    @property
    def buys(self) -> tuple[SizedOrder, ...]:
        return tuple(o for o in self.orders if o.side is OrderSide.BUY)


def size_orders(
    weights: Mapping[str, Decimal],
    *,
    held: Mapping[str, Decimal],
    cash: Decimal,
    prices: Mapping[str, Decimal],
    equity: Decimal | None = None,
    costs: CostModel | None = None,
    instruments: Mapping[str, Instrument] | None = None,
    min_order_fraction: Decimal = Decimal(0),
    use_sell_proceeds: bool = True,
) -> Sizing:
    """Size the orders that move ``held`` towards ``weights`` (see the module doc for the rule).

    Inputs are trusted (the translator validates user input): weights >= 0 summing to
    at most 1, a price > 0 for every weighted symbol (and every held one when
    ``equity`` is not given), holdings >= 0. Symbols not in ``instruments`` trade in
    whole shares. ``use_sell_proceeds=False`` funds buys from ``cash`` alone.
    """
    costs = costs or CostModel()
    specs = instruments or {}
    skipped: list[SkippedOrder] = []
    sells: list[SizedOrder] = []
    buys: list[SizedOrder] = []
    with localcontext() as ctx:
        ctx.prec = DECIMAL_PREC
        if equity is None:
            equity = cash + sum((q * prices[s] for s, q in sorted(held.items()) if q), Decimal(0))
        base = max(equity, Decimal(0))
        min_value = min_order_fraction * base

        def too_small(o: SizedOrder) -> bool:
            spec = specs.get(o.symbol, EQUITY)
            notional = o.quantity * o.price
            if notional < spec.min_notional:
                reason = f"notional {money(notional)} below min_notional {money(spec.min_notional)}"
            elif min_value and notional < min_value:
                reason = (f"notional {money(notional)} below min_order_fraction {float(min_order_fraction):.2%} "
                          f"of equity ({money(min_value)})")
            else:
                return False
            skipped.append(SkippedOrder(o.symbol, o.side, o.quantity, reason))
            return True

        for sym in sorted(weights):
            spec = specs.get(sym, EQUITY)
            price = prices[sym]
            current = held.get(sym, Decimal(0))
            target = spec.floor(weights[sym] * base / price)
            if target > current:
                side, qty = OrderSide.BUY, spec.floor(target - current)
            elif target < current:
                side = OrderSide.SELL
                qty = current if target == 0 else min(spec.ceil(current - target), current)
            else:
                continue
            if qty <= 0:
                continue
            order = SizedOrder(sym, side, qty, price, current, target, weights[sym])
            if side is OrderSide.SELL and costs.sell_proceeds(qty, price) <= 0:
                skipped.append(SkippedOrder(sym, side, qty, "fees would exceed the sale proceeds"))
            elif not too_small(order):
                (buys if side is OrderSide.BUY else sells).append(order)

        available = cash
        if use_sell_proceeds:
            available += sum((costs.sell_proceeds(o.quantity, o.price) for o in sells), Decimal(0))
        funded: list[SizedOrder] = []
        for want in sorted(buys, key=lambda o: (costs.buy_cost(o.quantity, o.price), o.symbol)):
            order = want
            cost = costs.buy_cost(want.quantity, want.price)
            if cost > available:
                qty = _affordable(want, available, costs, specs.get(want.symbol, EQUITY))
                if qty <= 0:
                    skipped.append(SkippedOrder(want.symbol, want.side, want.quantity,
                                                "not enough cash after sells, fees and slippage"))
                    continue
                order = replace(want, quantity=qty, cut_from=want.quantity)
                if too_small(order):
                    continue
                cost = costs.buy_cost(qty, want.price)
            available -= cost
            funded.append(order)
    return Sizing(tuple(sells) + tuple(sorted(funded, key=lambda o: o.symbol)), tuple(skipped), equity)


def _affordable(order: SizedOrder, available: Decimal, costs: CostModel, spec: Instrument) -> Decimal:
    """The most steps of ``order`` (at most its quantity) whose cost, fees included, fits ``available``."""
    unit = costs.buy_cost(Decimal(1), order.price) - costs.fixed_fee
    if available <= costs.fixed_fee or unit <= 0:
        return Decimal(0)
    qty = min(spec.floor((available - costs.fixed_fee) / unit), order.quantity)
    while qty > 0 and costs.buy_cost(qty, order.price) > available:  # exact arithmetic: at most a step
        qty -= spec.step_size
    return max(qty, Decimal(0))



def booked_cash_flow(order: SizedOrder, costs: CostModel) -> Decimal:
    """Cash a fully filled ``order`` moves, as the ledger books it.

    The broker charges the fee on the exact notional; the ledger keeps the fill price
    and the fee at its 6 places and books ``-sign x quantize(qty x price) - fee``. A
    simulation that sizes its next orders from this cash (the stepped backtest)
    therefore sees, to the last digit, the cash the daily path sizes from.
    """
    with localcontext() as ctx:
        ctx.prec = DECIMAL_PREC
        fill_price = costs.fill_price(order.side, order.price)
        fee = quantize(costs.fee(order.quantity * fill_price))
        return -order.side.sign * quantize(order.quantity * quantize(fill_price)) - fee
