"""Target weights -> order intents: whole shares, lot steps, minimums, cash safety.

The strategy says *what fraction of equity* it wants in each instrument; a broker
needs *how many units to buy or sell*. This module is that translation, shared by
the dry run, replay and live so that all three send the same orders for the same
decision. It is pure: positions, cash and prices come in, intents come out.

Rules, in the order they are applied:

1. ``target_qty = floor_to_step(weight x equity / price)``: the position that
   spends no more than the target (whole shares for equities, the instrument's
   ``step_size`` for crypto).
2. Buy ``floor_to_step(target - held)``; sell ``ceil_to_step(held - target)``
   capped at the holding, or the whole holding when the target is zero. Held
   symbols absent from ``target_weights`` are left alone (pass an explicit 0 to
   close them) so that positions the strategy does not own are never touched.
3. Orders under the instrument's ``min_notional`` or under
   ``min_order_fraction x equity``, and sells whose fees would exceed their
   proceeds, are skipped (kept in ``result.skipped``).
4. Sells come first (their proceeds fund the buys); buys are then scaled down,
   proportionally and then one step at a time from the largest, until cash after
   fees and slippage (:class:`CostModel`, the same formulas the simulated broker
   charges) cannot go negative.

Whether to rebalance at all is the strategy's rule, applied upstream: the engine
calls :func:`translate` only when the decision says ``rebalance``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from decimal import Decimal, localcontext
from typing import Any

import pandas as pd

from toolkit.errors import InvalidInput
from toolkit.model import (
    DECIMAL_PREC,
    EQUITY,
    CostModel,
    Instrument,
    OrderSide,
    money,
    qty_str,
    to_decimal,
)

__all__ = [
    "OrderIntent",
    "OrderIntents",
    "SkippedIntent",
    "translate",
]

_WEIGHT_TOLERANCE = 1e-6


@dataclass(frozen=True)
class OrderIntent:
    """An order the engine means to place, before it has an id or a broker.

    ``reference_price`` is the decision price (what the slippage guard compares the
    quote with); ``reason`` is the human explanation a trader reads in the report.
    """

    symbol: str
    side: OrderSide
    quantity: Decimal
    reference_price: Decimal
    reason: str
    current_quantity: Decimal = Decimal(0)
    target_quantity: Decimal = Decimal(0)
    target_weight: float = 0.0

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "side", OrderSide(self.side))
        except ValueError:
            raise InvalidInput("side", self.side, "'buy' or 'sell'") from None
        for name in ("quantity", "reference_price", "current_quantity", "target_quantity"):
            object.__setattr__(self, name, to_decimal(getattr(self, name), name))

    @property
    def notional(self) -> Decimal:
        return self.quantity * self.reference_price

    @property
    def signed_quantity(self) -> Decimal:
        return self.side.sign * self.quantity

    def describe(self) -> str:
        """``BUY 120 NASDAQ`` (the form guard messages use)."""
        return f"{self.side.value.upper()} {qty_str(self.quantity)} {self.symbol}"


@dataclass(frozen=True)
class SkippedIntent:
    """An order the translator considered and did not emit, and why."""

    symbol: str
    side: OrderSide
    quantity: Decimal
    reason: str


class OrderIntents(list):
    """A ``list[OrderIntent]`` (sells first) that also remembers what was skipped."""

    def __init__(self, intents: list[OrderIntent] = (), skipped: list[SkippedIntent] | None = None) -> None:
        super().__init__(intents)
        self.skipped: list[SkippedIntent] = list(skipped or [])

    def to_frame(self) -> pd.DataFrame:
        rows = [
            {
                "symbol": i.symbol,
                "side": i.side.value,
                "quantity": i.quantity,
                "reference_price": i.reference_price,
                "notional": i.notional,
                "reason": i.reason,
            }
            for i in self
        ]
        return pd.DataFrame(rows, columns=["symbol", "side", "quantity", "reference_price", "notional", "reason"])

    def _repr_html_(self) -> str:  # pragma: no cover - display only
        html = self.to_frame().to_html(index=False)
        if self.skipped:
            rows = "".join(f"<li>{s.side.value} {qty_str(s.quantity)} {s.symbol}: {s.reason}</li>" for s in self.skipped)
            html += f"<p>Skipped:</p><ul>{rows}</ul>"
        return html


def _check_inputs(
    target_weights: dict[str, float],
    positions: dict[str, Decimal],
    cash: Any,
    prices: dict[str, Any],
    min_order_fraction: float,
) -> tuple[dict[str, Decimal], dict[str, Decimal], Decimal, dict[str, Decimal]]:
    weights: dict[str, Decimal] = {}
    for sym, w in target_weights.items():
        try:
            wf = float(w)
        except (TypeError, ValueError):
            raise InvalidInput(f"target_weights[{sym}]", w, "a number between 0 and 1") from None
        if not math.isfinite(wf) or wf < 0:
            raise InvalidInput(f"target_weights[{sym}]", w, "a finite weight >= 0 (long-only, cash account)")
        weights[sym] = to_decimal(wf, f"target_weights[{sym}]")
    total = sum(float(w) for w in target_weights.values())
    if total > 1 + _WEIGHT_TOLERANCE:
        raise InvalidInput("target_weights", f"sum {total:.6f}", "weights summing to at most 1 (no leverage)")
    held: dict[str, Decimal] = {}
    for sym, q in positions.items():
        qd = to_decimal(q, f"positions[{sym}]")
        if qd < 0:
            raise InvalidInput(f"positions[{sym}]", str(qd), ">= 0 (long-only)")
        held[sym] = qd
    px: dict[str, Decimal] = {}
    for sym, p in prices.items():
        if p is None or (isinstance(p, float) and math.isnan(p)):
            continue  # treated as missing
        pd_ = to_decimal(p, f"prices[{sym}]")
        if pd_ <= 0:
            raise InvalidInput(f"prices[{sym}]", str(pd_), "a price > 0")
        px[sym] = pd_
    for sym in sorted(weights):
        if sym not in px:
            raise InvalidInput(f"prices[{sym}]", None, f"a price for {sym}, which has a target weight")
    if not (0.0 <= float(min_order_fraction) < 1.0):
        raise InvalidInput("min_order_fraction", min_order_fraction, "a fraction in [0, 1)")
    return weights, held, to_decimal(cash, "cash"), px


def translate(
    target_weights: dict[str, float],
    *,
    positions: dict[str, Decimal],
    cash: Decimal,
    prices: dict[str, Decimal],
    equity: Decimal | None = None,
    instruments: dict[str, Instrument] | None = None,
    min_order_fraction: float = 0.0,
    costs: CostModel | None = None,
    use_sell_proceeds: bool = True,
) -> OrderIntents:
    """Turn target weights into order intents (sells first, then buys), see module doc.

    ``equity`` defaults to ``cash + sum(held x price)`` (every held symbol then needs
    a price). ``costs`` is the slippage and fee allowance; pass the same
    :class:`CostModel` the broker charges and cash can never go negative.
    ``use_sell_proceeds=False`` funds buys from current cash only (for accounts where
    unsettled proceeds cannot be spent).
    """
    costs = costs or CostModel()
    instruments = instruments or {}
    weights, held, cash_d, px = _check_inputs(target_weights, positions, cash, prices, min_order_fraction)

    with localcontext() as ctx:
        ctx.prec = DECIMAL_PREC
        if equity is None:
            for sym in sorted(held):
                if held[sym] and sym not in px:
                    raise InvalidInput(f"prices[{sym}]", None, f"a price for held {sym} (needed to value equity)")
            equity_d = cash_d + sum((held[s] * px[s] for s in held if held[s]), Decimal(0))
        else:
            equity_d = to_decimal(equity, "equity")
        min_value = to_decimal(min_order_fraction, "min_order_fraction") * max(equity_d, Decimal(0))

        sells: list[OrderIntent] = []
        buys: list[OrderIntent] = []
        skipped: list[SkippedIntent] = []

        def keep(intent: OrderIntent, spec: Instrument) -> bool:
            if intent.notional < spec.min_notional:
                skipped.append(SkippedIntent(intent.symbol, intent.side, intent.quantity,
                                             f"notional {money(intent.notional)} below min_notional {money(spec.min_notional)}"))
                return False
            if min_value and intent.notional < min_value:
                skipped.append(SkippedIntent(intent.symbol, intent.side, intent.quantity,
                                             f"notional {money(intent.notional)} below min_order_fraction "
                                             f"{float(min_order_fraction):.2%} of equity ({money(min_value)})"))
                return False
            return True

        for sym in sorted(weights):
            spec = instruments.get(sym, EQUITY)
            price = px[sym]
            current = held.get(sym, Decimal(0))
            target_value = max(weights[sym] * equity_d, Decimal(0))
            target_qty = spec.floor(target_value / price)
            delta = target_qty - current
            why = (f"target {float(weights[sym]):.2%} of equity {money(equity_d)} -> "
                   f"{qty_str(target_qty)} {sym} (held {qty_str(current)})")
            if delta > 0:
                qty = spec.floor(delta)
                side = OrderSide.BUY
            elif delta < 0:
                qty = current if target_qty == 0 else min(spec.ceil(-delta), current)
                side = OrderSide.SELL
            else:
                continue
            if qty <= 0:
                continue
            intent = OrderIntent(sym, side, qty, price, why, current, target_qty, float(weights[sym]))
            if side is OrderSide.SELL and costs.sell_proceeds(qty, price) <= 0:
                skipped.append(SkippedIntent(sym, side, qty, "fees would exceed the sale proceeds"))
                continue
            if keep(intent, spec):
                (buys if side is OrderSide.BUY else sells).append(intent)

        available = cash_d
        if use_sell_proceeds:
            available += sum((costs.sell_proceeds(s.quantity, s.reference_price) for s in sells), Decimal(0))
        buys = _fit_buys_to_cash(buys, available, costs, instruments, keep, skipped)

    return OrderIntents(sells + buys, skipped)


def _fit_buys_to_cash(
    buys: list[OrderIntent],
    available: Decimal,
    costs: CostModel,
    instruments: dict[str, Instrument],
    keep: Any,
    skipped: list[SkippedIntent],
) -> list[OrderIntent]:
    """Scale buys down until their total cost fits ``available`` cash.

    First proportionally (keeps the relative weights), then one step at a time from
    the buy with the largest cost (ties broken by symbol) to absorb rounding. Fully
    deterministic: same inputs, same quantities.
    """

    def total(items: list[OrderIntent]) -> Decimal:
        return sum((costs.buy_cost(b.quantity, b.reference_price) for b in items), Decimal(0))

    if not buys or total(buys) <= available:
        return buys
    original = {b.symbol: b.quantity for b in buys}
    fixed_total = costs.fixed_fee * len(buys)
    variable = total(buys) - fixed_total
    factor = max(available - fixed_total, Decimal(0)) / variable if variable > 0 else Decimal(0)
    qty = {b.symbol: instruments.get(b.symbol, EQUITY).floor(b.quantity * factor) for b in buys}

    def current() -> list[OrderIntent]:
        return [replace(b, quantity=qty[b.symbol]) for b in buys if qty[b.symbol] > 0]

    items = current()
    while items and total(items) > available:
        largest = max(items, key=lambda b: (costs.buy_cost(b.quantity, b.reference_price), b.symbol))
        qty[largest.symbol] -= instruments.get(largest.symbol, EQUITY).step_size
        items = current()

    out: list[OrderIntent] = []
    for b in buys:
        q = qty[b.symbol]
        if q <= 0:
            skipped.append(SkippedIntent(b.symbol, b.side, original[b.symbol], "not enough cash after sells, fees and slippage"))
            continue
        scaled = b
        if q != original[b.symbol]:
            scaled = replace(
                b, quantity=q,
                reason=f"{b.reason}; scaled down from {qty_str(original[b.symbol])} to {qty_str(q)} to keep cash >= 0",
            )
        if keep(scaled, instruments.get(b.symbol, EQUITY)):
            out.append(scaled)
    return out
