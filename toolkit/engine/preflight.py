"""``toolkit broker check``: is this broker account ready to trade? Asked before a schedule is trusted.

Every check reads; none places an order. The rows say ``ok``, ``warn`` or ``fail`` with
what was seen: credentials accepted, the account's status, buying power, the
pattern-day-trader flag and day-trade count, the market clock, and for Schwab the
refresh token's days left (a warning under 2 days, a failure once expired, with how to
log in again). With params, also: the broker's mode matches, real money is confirmed,
and every traded symbol has a latest trade.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from toolkit.connections import token_health
from toolkit.engine.live import pdt_risk
from toolkit.errors import BrokerAuthError, BrokerError

if TYPE_CHECKING:  # pragma: no cover
    from toolkit.brokers.base import RemoteBroker
    from toolkit.ledger import Ledger
    from toolkit.params.live import LiveParams

__all__ = ["Check", "preflight"]

OK, WARN, FAIL = "ok", "warn", "fail"


@dataclass(frozen=True)
class Check:
    """One line of the preflight table."""

    name: str
    status: str
    detail: str


def preflight(broker: RemoteBroker, *, params: LiveParams | None = None, ledger: Ledger | None = None) -> list[Check]:
    """Every check, in the order a person reads them; a broker error becomes a failed row, not a traceback."""
    rows: list[Check] = []
    days = broker.token_days_left()  # read from the token file: no call, so it is known even when expired
    if days is not None:
        health = token_health(days)
        rows.append(Check("login token", {"ok": OK, "warn": WARN}.get(health.level, FAIL), health.message))
    try:
        info = broker.account()
    except BrokerAuthError as exc:
        return [*rows, Check("credentials", FAIL, str(exc))]
    except BrokerError as exc:  # reachable or not is not a question of credentials
        return [*rows, Check("connection", FAIL, str(exc))]
    rows.append(Check("credentials", OK, f"{broker.name} accepted them ({broker.mode.value})"))
    blocked = info.trading_blocked or info.status.upper() not in ("ACTIVE", "OPEN")
    rows.append(Check("account", FAIL if blocked else OK,
                      f"status {info.status}{', trading blocked' if info.trading_blocked else ''}, "
                      f"equity {info.equity:,.2f} {info.currency}"))
    rows.append(Check("buying power", OK if info.buying_power > 0 else FAIL,
                      f"{info.buying_power:,.2f} (cash {info.cash:,.2f}, margin multiplier "
                      f"{'-' if info.multiplier is None else info.multiplier}, shorting "
                      f"{'-' if info.shorting_enabled is None else 'on' if info.shorting_enabled else 'off'})"))
    count = info.daytrade_count
    at_risk = pdt_risk(info)
    rows.append(Check("day trading", WARN if info.pattern_day_trader or at_risk else OK,
                      f"pattern day trader {'yes' if info.pattern_day_trader else 'no'}, day trades in 5 sessions "
                      f"{'-' if count is None else count}"
                      + ("; a 4th day trade under $25,000 flags the account" if at_risk else "")))
    try:
        clock = broker.clock()
        rows.append(Check("market clock", OK, f"{'open' if clock.is_open else 'closed'} at {clock.timestamp}; "
                                              f"next open {clock.next_open}, next close {clock.next_close}"))
    except BrokerError as exc:
        rows.append(Check("market clock", FAIL, str(exc)))
    if params is not None:
        rows.extend(_params_checks(broker, params, ledger))
    return rows


def _params_checks(broker: RemoteBroker, params: LiveParams, ledger: Ledger | None) -> list[Check]:
    rows = [Check("mode", OK if broker.mode.value == params.mode else FAIL,
                  f"params {params.mode}, broker {broker.mode.value}")]
    if params.mode == "online_live":
        confirmed = ledger.live_confirmation(params.account) if ledger is not None else None
        rows.append(Check("live confirmation", OK if confirmed else FAIL,
                          f"confirmed by {confirmed['user']} at {confirmed['at']}" if confirmed else
                          f"none recorded: run `toolkit live confirm --account {params.account}`"))
    symbols = list(params.data.symbols)
    try:
        quotes = broker.latest_trades(symbols)
    except BrokerError as exc:
        return [*rows, Check("latest trades", FAIL, str(exc))]
    missing = [s for s in symbols if s not in quotes]
    seen = ", ".join(f"{q.symbol} {Decimal(q.price):f} at {q.timestamp}" for q in quotes.values())
    rows.append(Check("latest trades", FAIL if missing else OK,
                      seen + (f"; none for {', '.join(missing)}" if missing else "")))
    return rows
