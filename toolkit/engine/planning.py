"""Decision -> order intents -> risk guards -> every allowed order recorded ``new``, in ONE transaction.

The orders of a run are written to the ledger, all of them and in one transaction,
BEFORE the first broker call. A resumed run trades exactly those orders (it does
not re-decide from a half-traded portfolio, which would size the remaining buys
differently).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pandas as pd

from toolkit.engine.costs import session_cost_model
from toolkit.engine.guards import GuardReport, MarketState, PortfolioState, RiskEngine
from toolkit.engine.market import SessionPrices
from toolkit.engine.snapshots import before_session
from toolkit.engine.translator import OrderIntent, SkippedIntent, translate
from toolkit.model import client_order_id

if TYPE_CHECKING:  # pragma: no cover
    from toolkit.ledger import Ledger
    from toolkit.params.daily_dry_run import DailyDryRunParams
    from toolkit.strategies.base import Decision

__all__ = ["OrderPlan", "plan_orders", "why_trade_without_rebalance"]


@dataclass
class OrderPlan:
    """What the translator and the guards made of a decision (the allowed orders are in the ledger)."""

    intents: list[OrderIntent] = field(default_factory=list)
    skipped: list[SkippedIntent] = field(default_factory=list)
    report: GuardReport | None = None
    message: str | None = None


def why_trade_without_rebalance(
    perf: dict[str, Any],
    targets: dict[str, float],
    positions: dict[str, Decimal],
    prices: dict[str, Decimal],
) -> str | None:
    """Why a session must trade to the targets although the strategy asks for no rebalance (None: it need not).

    A strategy without a rebalance today "keeps its targets": that holds only if the
    account holds them. It does not (1) on the account's first session (``perf`` is
    empty), (2) after a session whose orders guards stopped (``perf["owed"]``, e.g. the
    kill switch was on when the strategy last rebalanced), (3) when the actual holdings
    contradict the targets: a symbol with a target weight not held, a symbol held
    against a zero target, or held on the other side. Weights that merely drifted with
    prices are not a reason (the backtest does not trade them either, and parity with it
    is the point of the daily path). Only symbols with a price today are compared.
    """
    if not perf:
        return "first session of this account: trading to the strategy's current targets"
    if perf.get("owed"):
        return ("guards stopped the orders of the last session (halted or blocked): "
                "trading back to the strategy's targets")
    off = []
    for sym, w in sorted(targets.items()):
        if sym not in prices or w is None or math.isnan(w):  # NaN: no target
            continue
        held = positions.get(sym, Decimal(0))
        if (w > 0 and held <= 0) or (w < 0 and held >= 0) or (w == 0 and held != 0):
            off.append(f"{sym} target {w:.0%}, held {held:f}")
    if off:
        return "holdings differ from the strategy's targets (" + "; ".join(off) + "): trading to the targets"
    return None


def plan_orders(
    params: DailyDryRunParams,
    *,
    ledger: Ledger,
    risk: RiskEngine,
    decision: Decision,
    positions: dict[str, Decimal],
    cash: Decimal,
    prices: SessionPrices,
    last_bar: Callable[[str], pd.Timestamp | None],
    perf: dict[str, Any],
    session_date: dt.date,
    run_key: str,
    now: dt.datetime,
    data_as_of: pd.Timestamp | None = None,
) -> OrderPlan:
    """Translate a rebalancing decision, run the guards, record allowed orders and audit the rest.

    ``last_bar`` gives a symbol's newest visible bar (for the stale-data guard).
    A decision without ``rebalance`` plans nothing. ``data_as_of``: when the prices
    were quoted (a live session's oldest latest trade, a replay's oldest minute bar),
    for ``guards.max_data_age``.
    """
    plan = OrderPlan()
    if not decision.rebalance:
        return plan
    costs = session_cost_model(params.costs)
    value_prices = {**prices.marks, **prices.prices}
    # A zero target for an instrument the data lacks (a switched-off optional leg) is no order.
    targets = {s: w for s, w in decision.target_weights.items() if s in value_prices or w}
    intents = translate(
        targets,
        positions=positions,
        cash=cash,
        prices=value_prices,
        min_order_fraction=params.guards.min_order_fraction,
        costs=costs,
        instruments={s: spec.spec() for s, spec in params.instruments.items()} or None,
    )
    plan.intents = list(intents)
    plan.skipped = list(intents.skipped)
    equity = cash + sum((q * value_prices[s] for s, q in positions.items() if q), Decimal(0))
    sod, peak = before_session(perf, session_date)
    portfolio = PortfolioState(
        cash=cash, positions=positions, equity=equity,
        start_of_day_equity=None if sod is None else Decimal(sod),
        peak_equity=None if peak is None else Decimal(peak),
    )
    last_ts = {s: last_bar(s) for s in {i.symbol for i in intents}}
    market = MarketState(prices=value_prices, session_date=session_date,
                         execution_time=params.execution_time, last_bar_ts=last_ts, now=pd.Timestamp(now),
                         data_as_of=data_as_of)
    report = risk.check(list(intents), portfolio, market)
    plan.report = report
    with ledger.transaction():
        for halt in report.halts:
            ledger.audit("guard_halt", {"run_key": run_key, "guard": halt.guard, "reason": halt.reason}, at=now)
        if not report.halts:
            for b in report.blocked:
                ledger.audit("guard_block", {"run_key": run_key, "guard": b.guard, "reason": b.reason,
                                             "order": b.intent.describe()}, at=now)
        for i in report.allowed:
            coid = client_order_id(params.strategy, params.account, session_date, params.execution_time,
                                   i.symbol, i.side)
            ledger.record_order(
                client_order_id=coid, run_key=run_key, mode=params.mode, strategy=params.strategy,
                account=params.account, symbol=i.symbol, side=i.side.value, quantity=i.quantity,
                decision_price=i.reference_price, reason=i.reason[:500], at=now,
            )
    if report.halts:
        plan.message = "halted, no order sent: " + "; ".join(h.reason for h in report.halts)
    elif report.blocked:
        plan.message = "blocked by guards: " + "; ".join(b.reason for b in report.blocked)
    return plan
