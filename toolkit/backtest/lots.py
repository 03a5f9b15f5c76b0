"""Order amounts for a backtest in whole shares or lot steps, by the model's one sizing rule.

vectorbt's ``targetpercent`` rounds each order on its own and cuts only the last buy
with its float cash; the daily path sizes with :func:`toolkit.model.size_orders`.
To trade what the daily path trades, a stepped backtest walks its order bars here,
keeping holdings and cash exactly as the daily path's ledger books them (Decimal at
6 places, the :class:`~toolkit.model.CostModel` the simulated broker charges, see
:func:`~toolkit.model.booked_cash_flow`), asks :func:`~toolkit.model.size_orders` for the
quantities, and hands vectorbt explicit amounts: vectorbt then only books them.
Only bars with an order cost anything (cash and holdings change nowhere else).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, localcontext

import numpy as np

from toolkit.model import (
    DECIMAL_PREC,
    CostModel,
    Instrument,
    OrderSide,
    booked_cash_flow,
    quantize,
    size_orders,
    to_decimal,
)

__all__ = ["ledger_prices", "stepped_amounts"]


def ledger_prices(prices: np.ndarray) -> np.ndarray:
    """Prices at the ledger's 6 places (shortest repr, banker's rounding), as the daily path takes them."""
    flat = [float(quantize(Decimal(repr(float(x))))) if np.isfinite(x) else x for x in prices.ravel()]
    return np.asarray(flat, dtype=float).reshape(prices.shape)


def stepped_amounts(
    weights: np.ndarray,
    prices: np.ndarray,
    symbols: list[str],
    *,
    initial_cash: float,
    costs: CostModel,
    instruments: Mapping[str, Instrument],
    min_order_fraction: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Signed order amounts (+ buy, - sell, NaN = no order), ``(bars, symbols)``, and full exits.

    The second array flags the sells that close a position: vectorbt should sell its
    whole float position there (its sum of float lots can differ from the exact
    quantity in the last bits, and a dust position must not survive an exit).

    ``weights``: target fractions of equity on order bars, NaN where a symbol gets no
    order; ``prices``: the execution price of every symbol on every bar (what equity
    is valued at, as vectorbt does), taken at the ledger's 6 places as the daily path
    takes them (pass the same rounded prices to the simulation). Symbols not in
    ``instruments`` trade whole shares.
    """
    amounts = np.full(weights.shape, np.nan)
    exits = np.zeros(weights.shape, dtype=bool)
    held: dict[str, Decimal] = {}
    cash = to_decimal(float(initial_cash), "initial_cash")
    min_fraction = to_decimal(float(min_order_fraction), "min_order_fraction")
    rows = np.flatnonzero(~np.isnan(weights).all(axis=1))
    col = {s: j for j, s in enumerate(symbols)}
    with localcontext() as ctx:
        ctx.prec = DECIMAL_PREC
        for i in rows:
            row = weights[i]
            targets = {symbols[j]: to_decimal(float(row[j]), f"weights[{symbols[j]}]")
                       for j in np.flatnonzero(~np.isnan(row))}
            px = {s: quantize(to_decimal(float(prices[i, j]), f"prices[{s}]")) for j, s in enumerate(symbols)
                  if s in targets or held.get(s)}
            plan = size_orders(targets, held=held, cash=cash, prices=px, costs=costs,
                               instruments=instruments, min_order_fraction=min_fraction)
            for o in plan.orders:
                cash += booked_cash_flow(o, costs)
                if o.side is OrderSide.SELL:
                    held[o.symbol] = held[o.symbol] - o.quantity
                    amounts[i, col[o.symbol]] = -float(o.quantity)
                    exits[i, col[o.symbol]] = held[o.symbol] == 0
                else:
                    held[o.symbol] = held.get(o.symbol, Decimal(0)) + o.quantity
                    amounts[i, col[o.symbol]] = float(o.quantity)
    return amounts, exits
