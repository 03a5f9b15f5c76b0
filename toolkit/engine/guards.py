"""Pre-trade risk checks: the last thing between a decision and a broker.

A :class:`RiskEngine` looks at the intents the translator produced, the portfolio
and the market, and returns a :class:`GuardReport` that splits intents into allowed
and blocked, each block carrying the guard's name and a sentence a trader can act on
(``max_order_notional: BUY 120 NASDAQ = $812,400 > limit $500,000``).

Two kinds of guard:

* **Halting guards** stop every order of the run: the kill switch, the daily loss
  limit, the drawdown limit and stale data. When one trips, the account or the data
  is in a state no single order can be trusted in.
* **Order guards** block one order and let the rest through: order notional,
  position weight after the trade, gross exposure after the trade. Sells are only
  subject to the notional limit: reducing a position never raises risk.

Stale data is checked fail-closed: a traded symbol without a bar timestamp, or a
run without a session date and execution time, halts rather than trades blind.
The slippage abort is a separate call (:func:`slippage_ok`) because it needs the
live quote, which the broker path has at submit time and this pre-trade check has not.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, localcontext
from typing import Any

import pandas as pd

from toolkit.engine.translator import OrderIntent
from toolkit.errors import InvalidInput
from toolkit.model import DECIMAL_PREC, OrderSide, money, to_decimal
from toolkit.params.guards import GuardSettings
from toolkit.time import Clock, expected_bar_date, last_bar_is_fresh

__all__ = [
    "BlockedIntent",
    "GuardBreach",
    "GuardReport",
    "GuardSettings",
    "MarketState",
    "PortfolioState",
    "RiskEngine",
    "slippage_fraction",
    "slippage_ok",
]


@dataclass(frozen=True)
class PortfolioState:
    """What the account holds. Missing ``start_of_day_equity``/``peak_equity`` mean
    "same as now" (a first run has no history), so those guards see no loss."""

    cash: Decimal
    positions: dict[str, Decimal] = field(default_factory=dict)
    equity: Decimal | None = None
    start_of_day_equity: Decimal | None = None
    peak_equity: Decimal | None = None


@dataclass(frozen=True)
class MarketState:
    """What the market looks like at decision time.

    ``last_bar_ts`` maps symbols (traded and signal-only) to their newest bar's
    timestamp; ``data_as_of`` is when the quotes were taken, compared with ``now``
    for ``max_data_age``.
    """

    prices: dict[str, Decimal] = field(default_factory=dict)
    session_date: Any = None
    execution_time: str | None = None
    last_bar_ts: dict[str, Any] = field(default_factory=dict)
    now: pd.Timestamp | None = None
    data_as_of: pd.Timestamp | None = None


@dataclass(frozen=True)
class GuardBreach:
    """A halting guard that tripped."""

    guard: str
    reason: str


@dataclass(frozen=True)
class BlockedIntent:
    intent: OrderIntent
    guard: str
    reason: str


@dataclass
class GuardReport:
    """Allowed and blocked intents, plus the halting guards that tripped (if any)."""

    allowed: list[OrderIntent]
    blocked: list[BlockedIntent]
    halts: list[GuardBreach] = field(default_factory=list)

    @property
    def halted(self) -> bool:
        return bool(self.halts)

    @property
    def ok(self) -> bool:
        """Nothing blocked, nothing halted."""
        return not self.blocked and not self.halts

    @property
    def reasons(self) -> list[str]:
        out = [h.reason for h in self.halts]
        seen = set(out)
        for b in self.blocked:
            if b.reason not in seen:
                out.append(b.reason)
                seen.add(b.reason)
        return out

    def to_frame(self) -> pd.DataFrame:
        rows = [{"symbol": i.symbol, "side": i.side.value, "quantity": i.quantity, "status": "allowed",
                 "guard": "", "reason": ""} for i in self.allowed]
        rows += [{"symbol": b.intent.symbol, "side": b.intent.side.value, "quantity": b.intent.quantity,
                  "status": "blocked", "guard": b.guard, "reason": b.reason} for b in self.blocked]
        return pd.DataFrame(rows, columns=["symbol", "side", "quantity", "status", "guard", "reason"])

    def _repr_html_(self) -> str:  # pragma: no cover - display only
        head = "<b>HALTED</b><ul>" + "".join(f"<li>{h.reason}</li>" for h in self.halts) + "</ul>" if self.halts else ""
        return head + self.to_frame().to_html(index=False)


def slippage_fraction(decision_price: Any, quote_price: Any) -> Decimal:
    """``|quote - decision| / decision``, the relative move since the decision."""
    d = to_decimal(decision_price, "decision_price")
    q = to_decimal(quote_price, "quote_price")
    if d <= 0:
        raise InvalidInput("decision_price", str(d), "a price > 0")
    if q <= 0:
        raise InvalidInput("quote_price", str(q), "a price > 0")
    with localcontext() as ctx:
        ctx.prec = DECIMAL_PREC
        return abs(q - d) / d


def slippage_ok(decision_price: Any, quote_price: Any, limit: float | Decimal | None) -> bool:
    """True when the quote (or fill) is within ``limit`` of the decision price.

    Moves in either direction count: a large favourable gap is as much a sign of a
    bad quote or a halted market as an adverse one. ``limit=None`` disables it.
    """
    if limit is None:
        return True
    return slippage_fraction(decision_price, quote_price) <= to_decimal(limit, "slippage_abort")


def _pct(x: Decimal | float) -> str:
    return f"{float(x):.2%}"


class RiskEngine:
    """Configurable pre-trade checks (see the module doc for which guard does what)."""

    def __init__(self, settings: GuardSettings | None = None, *, clock: Clock | None = None) -> None:
        self.settings = settings or GuardSettings()
        #: Used for ``max_data_age`` when the market state carries no ``now``.
        self.clock = clock
        self._kill_reason: str | None = "kill switch set in settings" if self.settings.kill_switch else None

    # -- kill switch ---------------------------------------------------------------
    def engage_kill_switch(self, reason: str = "engaged manually") -> None:
        """Halt every order from now on (the control panel's red button)."""
        self._kill_reason = reason

    # -- slippage (called on the broker path) -------------------------------------
    def slippage_ok(self, decision_price: Any, quote_price: Any) -> bool:
        return slippage_ok(decision_price, quote_price, self.settings.slippage_abort)

    # -- pre-trade check -----------------------------------------------------------
    def check(self, intents: list[OrderIntent], portfolio: PortfolioState, market: MarketState) -> GuardReport:
        """Split ``intents`` into allowed and blocked; halting guards block them all."""
        intents = list(intents)
        with localcontext() as ctx:
            ctx.prec = DECIMAL_PREC
            prices = {s: to_decimal(p, f"prices[{s}]") for s, p in market.prices.items() if p is not None}
            held = {s: to_decimal(q, f"positions[{s}]") for s, q in portfolio.positions.items()}
            for i in intents:
                prices.setdefault(i.symbol, i.reference_price)
            equity = self._equity(portfolio, held, prices)
            halts = self._halts(intents, portfolio, market, equity)
            if halts:
                label = halts[0]
                return GuardReport([], [BlockedIntent(i, label.guard, label.reason) for i in intents], halts)
            return self._order_guards(intents, held, prices, equity)

    @staticmethod
    def _equity(portfolio: PortfolioState, held: dict[str, Decimal], prices: dict[str, Decimal]) -> Decimal:
        if portfolio.equity is not None:
            return to_decimal(portfolio.equity, "equity")
        total = to_decimal(portfolio.cash, "cash")
        for sym in sorted(held):
            if held[sym]:
                if sym not in prices:
                    raise InvalidInput(f"prices[{sym}]", None, f"a price for held {sym} (needed to value equity)")
                total += held[sym] * prices[sym]
        return total

    def _halts(self, intents: list[OrderIntent], portfolio: PortfolioState, market: MarketState,
               equity: Decimal) -> list[GuardBreach]:
        s = self.settings
        out: list[GuardBreach] = []
        if self._kill_reason is not None:
            out.append(GuardBreach("kill_switch", f"kill_switch: engaged ({self._kill_reason}); no orders are sent"))
        if s.daily_loss_limit is not None and portfolio.start_of_day_equity is not None:
            sod = to_decimal(portfolio.start_of_day_equity, "start_of_day_equity")
            if sod > 0:
                loss = (sod - equity) / sod
                if loss >= to_decimal(s.daily_loss_limit, "daily_loss_limit"):
                    out.append(GuardBreach("daily_loss_limit",
                        f"daily_loss_limit: equity {money(equity)} is {_pct(loss)} below start of day "
                        f"{money(sod)} >= limit {_pct(s.daily_loss_limit)}"))
        if s.max_drawdown_limit is not None and portfolio.peak_equity is not None:
            peak = to_decimal(portfolio.peak_equity, "peak_equity")
            if peak > 0:
                dd = (peak - equity) / peak
                if dd >= to_decimal(s.max_drawdown_limit, "max_drawdown_limit"):
                    out.append(GuardBreach("max_drawdown_limit",
                        f"max_drawdown_limit: equity {money(equity)} is {_pct(dd)} below peak "
                        f"{money(peak)} >= limit {_pct(s.max_drawdown_limit)}"))
        if s.stale_bar_check:
            out.extend(self._stale(intents, market))
        if s.max_data_age is not None:
            now = market.now if market.now is not None else (self.clock.now() if self.clock is not None else None)
            if now is None or market.data_as_of is None:
                out.append(GuardBreach("max_data_age", "max_data_age: now (market.now or a clock) or market.data_as_of "
                                                       "not given, data age unknown"))
            else:
                age = pd.Timestamp(now) - pd.Timestamp(market.data_as_of)
                if age > pd.Timedelta(s.max_data_age):
                    out.append(GuardBreach("max_data_age",
                        f"max_data_age: data as of {pd.Timestamp(market.data_as_of).isoformat()} is {age} old "
                        f"> limit {pd.Timedelta(s.max_data_age)}"))
        return out

    @staticmethod
    def _stale(intents: list[OrderIntent], market: MarketState) -> list[GuardBreach]:
        symbols = sorted(set(market.last_bar_ts) | {i.symbol for i in intents})
        if not symbols:
            return []
        if market.session_date is None or market.execution_time is None:
            return [
                GuardBreach("stale_data", "stale_data: session_date and execution_time not given, freshness unknown")
            ]
        expected = expected_bar_date(market.session_date, market.execution_time).date()
        stale: list[str] = []
        for sym in symbols:
            ts = market.last_bar_ts.get(sym)
            if ts is None:
                stale.append(f"{sym} has no bar timestamp")
            elif not last_bar_is_fresh(ts, market.session_date, market.execution_time):
                stale.append(f"{sym} last bar {pd.Timestamp(ts).date()}")
        if not stale:
            return []
        when = f"{market.execution_time} on {pd.Timestamp(market.session_date).date()}"
        reason = f"stale_data: {'; '.join(stale)}; a decision at {when} needs the {expected} bar"
        return [GuardBreach("stale_data", reason)]

    def _order_guards(self, intents: list[OrderIntent], held: dict[str, Decimal], prices: dict[str, Decimal],
                      equity: Decimal) -> GuardReport:
        s = self.settings
        allowed: list[OrderIntent] = []
        blocked: list[BlockedIntent] = []
        position = dict(held)
        gross = sum((abs(q) * prices[sym] for sym, q in held.items() if q and sym in prices), Decimal(0))
        max_notional = None if s.max_order_notional is None else to_decimal(s.max_order_notional, "max_order_notional")
        for i in intents:
            price = prices[i.symbol]
            guard, reason = None, None
            if max_notional is not None and i.notional > max_notional:
                guard = "max_order_notional"
                reason = f"max_order_notional: {i.describe()} = {money(i.notional)} > limit {money(max_notional)}"
            elif i.side is OrderSide.BUY:
                after = (position.get(i.symbol, Decimal(0)) + i.quantity) * price
                gross_after = gross + i.quantity * price
                if s.max_position_weight is not None and (
                    equity <= 0 or after / equity > to_decimal(s.max_position_weight, "max_position_weight")
                ):
                    guard = "max_position_weight"
                    weight = "n/a (equity <= 0)" if equity <= 0 else _pct(after / equity)
                    reason = (f"max_position_weight: {i.describe()} -> {money(after)} = {weight} of equity "
                              f"> limit {_pct(s.max_position_weight)}")
                elif s.max_gross_exposure is not None and (
                    equity <= 0 or gross_after / equity > to_decimal(s.max_gross_exposure, "max_gross_exposure")
                ):
                    guard = "max_gross_exposure"
                    weight = "n/a (equity <= 0)" if equity <= 0 else _pct(gross_after / equity)
                    reason = (f"max_gross_exposure: {i.describe()} -> gross {money(gross_after)} = {weight} of equity "
                              f"> limit {_pct(s.max_gross_exposure)}")
            if guard is not None:
                blocked.append(BlockedIntent(i, guard, reason or guard))
                continue
            allowed.append(i)
            position[i.symbol] = position.get(i.symbol, Decimal(0)) + i.signed_quantity
            gross += i.signed_quantity * price
        return GuardReport(allowed, blocked, [])
