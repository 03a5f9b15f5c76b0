"""Target weights -> order intents, by the model's one sizing rule.

The strategy says *what fraction of equity* it wants in each instrument; a broker
needs *how many units to buy or sell*. :func:`translate` validates its inputs, sizes
the orders with :func:`toolkit.model.sizing.size_orders` (THE rule, shared with the
backtest so that a replay trades what was backtested: floor targets to whole shares
or lot steps, sells first, skips under the minimums, and when cash is short the
largest buy absorbs the fees and slippage; see that module) and dresses the result
as intents with the reason a trader reads. It is pure: positions, cash and prices
come in, intents come out. Dry run, replay and live all call it.

Whether to rebalance at all is the strategy's rule, applied upstream: the engine
calls :func:`translate` only when the decision says ``rebalance``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pandas as pd

from toolkit.errors import InvalidInput
from toolkit.model import (
    CostModel,
    Instrument,
    OrderSide,
    SizedOrder,
    money,
    qty_str,
    size_orders,
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


class OrderIntents(list[OrderIntent]):
    """A ``list[OrderIntent]`` (sells first) that also remembers what was skipped."""

    def __init__(self, intents: Iterable[OrderIntent] = (), skipped: list[SkippedIntent] | None = None) -> None:
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
            rows = "".join(
                f"<li>{s.side.value} {qty_str(s.quantity)} {s.symbol}: {s.reason}</li>" for s in self.skipped
            )
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

    for sym in sorted(held):
        if equity is None and held[sym] and sym not in px:
            raise InvalidInput(f"prices[{sym}]", None, f"a price for held {sym} (needed to value equity)")
    plan = size_orders(
        weights, held=held, cash=cash_d, prices=px,
        equity=None if equity is None else to_decimal(equity, "equity"),
        costs=costs, instruments=instruments,
        min_order_fraction=to_decimal(min_order_fraction, "min_order_fraction"),
        use_sell_proceeds=use_sell_proceeds,
    )
    intents = [_intent(o, plan.equity) for o in plan.orders]
    skipped = [SkippedIntent(k.symbol, k.side, k.quantity, k.reason) for k in plan.skipped]
    return OrderIntents(intents, skipped)


def _intent(order: SizedOrder, equity: Decimal) -> OrderIntent:
    why = (f"target {float(order.weight):.2%} of equity {money(equity)} -> "
           f"{qty_str(order.target)} {order.symbol} (held {qty_str(order.held)})")
    if order.cut_from is not None:
        why += (f"; scaled down from {qty_str(order.cut_from)} to {qty_str(order.quantity)} to keep cash >= 0 "
                "(the largest buy absorbs fees and slippage)")
    return OrderIntent(order.symbol, order.side, order.quantity, order.price, why, order.held, order.target,
                       float(order.weight))
