"""A paper or live session at a real broker: the dry run's session, with the checks real money needs.

What ``notebooks/live.ipynb`` calls (``toolkit run live --params FILE``). In order,
each step able to stop the session before any order endpoint is called:

1. **Real money is confirmed** (``online_live``): the params say ``confirm_live:
   <account>`` (checked when they are validated) and the ledger holds the confirmation
   recorded by ``toolkit live confirm`` (checked here, before the broker is even opened).
2. **The broker** is opened with the secret store's credentials (each lookup in the
   ledger's audit log, never the value) and handed the ledger as its order-id book
   (Schwab records its own ids there the moment it knows them).
3. **Time is the broker's**: the session date and every timestamp come from the
   broker's clock (an :class:`~toolkit.time.OffsetClock`), and the market must be open
   at the execution time (not earlier than it, not after the close).
4. **Reconciliation** (promise 9): the ledger's open orders are caught up from the
   broker, then positions, cash and open orders are compared; a mismatch stops the
   session unless ``reconcile: adopt_broker``.
5. **The price of the moment**: the broker's latest trade of every traded symbol (or,
   with ``data.intraday``, the last minute bar at the execution time, as the dry run
   and the replay price it), with its time and source, recorded in the audit log; one
   older than ``guards.max_data_age`` stops the session (stale data).
6. **The session** (:func:`~toolkit.engine.session.run_session`, the dry run's very
   code) decides on the daily bars through yesterday plus today's provisional row at the
   quoted price, by the one rule a replay on minute bars follows
   (:mod:`~toolkit.engine.intraday`), records orders before the first broker call, asks the broker before every
   submit (promise 8), and follows every order until it is filled, cancelled or
   rejected, cancelling the remainder at ``order_timeout_seconds`` or the close.
7. **The account monitor**: buying power, day trades, margin, shorting, before and after.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pandas as pd

from toolkit.brokers.base import Quote
from toolkit.engine.broker_reconcile import Reconciliation, adopt_broker_state, reconcile_with_broker
from toolkit.engine.daily import load_data, load_minutes
from toolkit.engine.follow import FollowPolicy
from toolkit.engine.intraday import ExecutionQuote, minute_quotes, quote_age_limit, quote_from_trade, quote_problems
from toolkit.engine.market import MarketCursor, price_decimal
from toolkit.engine.order_ids import LedgerOrderIdBook
from toolkit.engine.result import SessionError, SessionResult
from toolkit.engine.session import run_session
from toolkit.model import RunStatus, new_york_date
from toolkit.time import OffsetClock, execution_instant, is_session

if TYPE_CHECKING:  # pragma: no cover
    from toolkit.brokers.base import AccountInfo, RemoteBroker
    from toolkit.data.dataset import Dataset
    from toolkit.engine.account_overrides import AppliedOverride
    from toolkit.ledger import Ledger
    from toolkit.params.live import LiveParams
    from toolkit.time import Clock

__all__ = ["EARLY_TOLERANCE", "LiveResult", "account_warnings", "pdt_risk", "run_live"]

#: How early before its execution time a session may start (a scheduler fires a little early).
EARLY_TOLERANCE = pd.Timedelta(minutes=2)
#: The pattern-day-trader rule: 4 day trades in 5 sessions under this equity restricts the account.
PDT_EQUITY = Decimal(25_000)


@dataclass
class LiveResult:
    """What a paper or live session did, for the report; ``stopped`` says why nothing was sent."""

    broker: str
    mode: str
    account: str
    session: SessionResult | None = None
    reconciliation: Reconciliation | None = None
    account_before: AccountInfo | None = None
    account_after: AccountInfo | None = None
    quotes: dict[str, Quote] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    stopped: str | None = None
    #: The daily bars the session decided on (loaded after the real-money check; its fingerprint
    #: goes into the archive's manifest).
    dataset: Dataset | None = None
    #: The account's config overrides in force (also on ``session``, which is None when the
    #: session stopped before it started).
    overrides: tuple[AppliedOverride, ...] = ()
    #: The params the session ran with: the params file's, with ``overrides`` applied.
    params: LiveParams | None = None

    @property
    def status(self) -> str:
        if self.stopped is not None:
            return RunStatus.FAILED.value
        return self.session.status if self.session is not None else RunStatus.FAILED.value

    def raise_if_stopped(self) -> None:
        """Fail the notebook (and the archived run) after its report showed why."""
        if self.stopped is not None:
            raise SessionError(self.stopped)

    def quotes_frame(self) -> pd.DataFrame:
        return pd.DataFrame([{"symbol": q.symbol, "price": q.price, "timestamp": q.timestamp, "source": q.source}
                             for q in self.quotes.values()], columns=["symbol", "price", "timestamp", "source"])


def pdt_risk(info: AccountInfo) -> bool:
    """3 day trades in the last 5 sessions under $25,000 of equity: one more flags the account."""
    return info.daytrade_count is not None and info.daytrade_count >= 3 and info.equity < PDT_EQUITY


def account_warnings(info: AccountInfo, *, when: str = "before the session") -> list[str]:
    """What a trader must know about the account: PDT risk, blocked trading, no buying power."""
    out = []
    if info.trading_blocked:
        out.append(f"{when}: trading is blocked on the account (status {info.status})")
    if info.status.upper() not in ("ACTIVE", "OPEN"):
        out.append(f"{when}: account status is {info.status}, not ACTIVE")
    if info.pattern_day_trader:
        out.append(f"{when}: the account is flagged as a pattern day trader")
    if pdt_risk(info):
        out.append(f"{when}: {info.daytrade_count} day trades in the last 5 sessions with equity {info.equity:,.2f} "
                   "under $25,000: a 4th day trade flags the account as a pattern day trader (restricted for 90 "
                   "days); an order that closes a position opened today is one")
    if info.buying_power <= 0:
        out.append(f"{when}: no buying power left")
    return out


def run_live(
    params: LiveParams,
    *,
    broker: RemoteBroker | None = None,
    data: Dataset | pd.DataFrame | None = None,
    clock: Clock | None = None,
    sleep: Callable[[float], None] = time.sleep,
    environ: Mapping[str, str] | None = None,
    notebook_run_id: str | None = None,
) -> LiveResult:
    """One paper or live session (see the module doc). ``broker``, ``clock`` and ``sleep`` are for tests.

    The account's config overrides in the ledger apply first, before anything uses the
    params (:mod:`~toolkit.engine.account_overrides`); ``result.params`` are the params
    the session ran with.
    """
    from toolkit.engine.account_overrides import apply_account_overrides
    from toolkit.ledger import LedgerError, open_ledger

    try:
        ledger = open_ledger(params.db_url)
    except LedgerError as exc:
        raise SessionError(f"{exc}. No order was sent") from None
    opened_here = broker is None
    try:
        params, overrides = apply_account_overrides("live", params, ledger)
        out = LiveResult(params.broker.name, params.mode, params.account, overrides=overrides, params=params)
        if params.mode == "online_live" and ledger.live_confirmation(params.account) is None:
            raise SessionError(
                f"online_live (real money) on account {params.account} needs a recorded confirmation: run "
                f"`toolkit live confirm --account {params.account}` once (it asks you to type \"I understand\"); "
                "no broker was called and nothing was sent")
        if data is None:  # after the real-money check; before the broker (a Schwab fetch takes the token lock)
            data = load_data(params)
        out.dataset = data if not isinstance(data, pd.DataFrame) else None
        if broker is None:
            from toolkit.engine.remote import open_remote_broker

            broker = open_remote_broker(params.broker.name, mode=params.mode, environ=environ, ledger=ledger)
        return _session(params, ledger, broker, out, clock=clock, sleep=sleep, data=data,
                        notebook_run_id=notebook_run_id, overrides=overrides)
    finally:
        if broker is not None and opened_here:
            broker.close()
        ledger.close()


def _session(params: LiveParams, ledger: Ledger, broker: RemoteBroker, out: LiveResult, *, clock: Clock | None,
             sleep: Callable[[float], None], data: Dataset | pd.DataFrame,
             notebook_run_id: str | None, overrides: tuple[AppliedOverride, ...]) -> LiveResult:
    from toolkit.engine.run_lock import hold_run_lock
    from toolkit.ledger import make_run_key
    from toolkit.strategies import registry

    if broker.mode.value != params.mode:
        raise SessionError(f"the {broker.name} broker is in {broker.mode.value} mode but the params say "
                           f"{params.mode}; nothing was sent")
    broker.bind_order_ids(LedgerOrderIdBook(ledger, account=params.account, mode=params.mode))
    market_clock = broker.clock()
    clock = clock or OffsetClock(market_clock.timestamp)
    now = clock.now()
    as_of = params.as_of or new_york_date(now).date()
    params = params.model_copy(update={"as_of": as_of})
    strategy = registry.create(params.strategy, params.strategy_params, symbols=params.data.symbols)
    panel = data if isinstance(data, pd.DataFrame) else data.panel
    if not is_session(as_of):  # the session records market_closed; nothing is asked of the broker
        out.session = run_session(params, ledger=ledger, broker=broker, clock=clock, market=MarketCursor(panel),
                                  strategy=strategy, notebook_run_id=notebook_run_id, overrides=overrides)
        return out
    run_key = make_run_key(params.strategy, params.account, as_of, params.execution_time)
    # One run of this slot at a time (a cron firing, a catch-up, a person): see engine/run_lock.py.
    with hold_run_lock(ledger, run_key, wait_seconds=params.lock_wait_seconds) as lock:
        out.messages.extend(lock.notes)
        return _locked_session(params, ledger, broker, out, clock=clock, now=now, as_of=as_of, run_key=run_key,
                               strategy=strategy, panel=panel, notebook_run_id=notebook_run_id, overrides=overrides,
                               market_open=market_clock.is_open, notes=lock.notes, sleep=sleep)


def _locked_session(params: LiveParams, ledger: Ledger, broker: RemoteBroker, out: LiveResult, *, clock: Clock,
                    now: pd.Timestamp, as_of: Any, run_key: str, strategy: Any, panel: pd.DataFrame,
                    notebook_run_id: str | None, overrides: tuple[AppliedOverride, ...], market_open: bool,
                    notes: list[str], sleep: Callable[[float], None]) -> LiveResult:
    """The session under its run lock: already done? at the execution time? reconciled? priced? then trade."""
    done = ledger.get_run(run_key)
    if done is not None and done.status in (RunStatus.COMPLETED, RunStatus.BLOCKED):
        out.session = run_session(params, ledger=ledger, broker=broker, clock=clock, market=MarketCursor(panel),
                                  strategy=strategy, notebook_run_id=notebook_run_id, overrides=overrides)
        return out  # already done: nothing is sent again

    instant = execution_instant(as_of, params.execution_time)
    close = execution_instant(as_of, "close")
    if now < instant - EARLY_TOLERANCE or now >= close or not market_open:
        raise SessionError(
            f"the market is not at the execution time: broker time {now.isoformat()}, {params.execution_time} on "
            f"{as_of} is {instant.isoformat()} and the close {close.isoformat()} (market "
            f"{'open' if market_open else 'closed'}); run it between those times (a schedule waits for "
            "them); nothing was sent")
    if now > instant + EARLY_TOLERANCE:
        out.messages.append(f"late: the session runs at {now.isoformat()}, {params.execution_time} was "
                            f"{instant.isoformat()}")

    out.account_before = broker.account()
    out.warnings = account_warnings(out.account_before)
    if params.mode == "online_live":
        bound = _bind_live_account(ledger, params.account, out.account_before.account_id, now)
        if bound is not None:
            return _stop(out, ledger, run_key, params, now, bound, notebook_run_id)
    activity = Decimal(str(params.broker.cash_activity_limit)) * out.account_before.equity
    recon = reconcile_with_broker(ledger, broker, account=params.account, mode=params.mode, at=now.to_pydatetime(),
                                  cash_tolerance=Decimal(str(params.broker.cash_tolerance)),
                                  cash_activity_limit=activity)
    if not recon.ok and params.reconcile == "adopt_broker":
        adopt_broker_state(ledger, broker, recon, strategy=params.strategy, at=now.to_pydatetime())
        adopted = recon.adopted
        recon = reconcile_with_broker(ledger, broker, account=params.account, mode=params.mode,
                                      at=now.to_pydatetime(), cash_tolerance=Decimal(str(params.broker.cash_tolerance)))
        recon.adopted = adopted
    out.reconciliation = recon
    if not recon.ok:
        return _stop(out, ledger, run_key, params, now,
                     "ledger and broker disagree: " + "; ".join(recon.sentences()) + ". No order was sent: fix the "
                     "difference at the broker or in the ledger, or set reconcile: adopt_broker to take the "
                     "broker's state (audited)", notebook_run_id)

    traded = [s for s in strategy.instruments() if s in set(panel.columns.get_level_values(0))]
    quotes = _prices_of_the_moment(params, broker, traded, as_of)
    out.quotes = {s: Quote(s, price_decimal(q.price), q.at, q.source) for s, q in quotes.items()}
    stale = quote_problems(quotes, traded, now, quote_age_limit(params.guards.max_data_age))
    if stale:  # the session's own rule (engine/intraday.py), asked here so the report can show why
        return _stop(out, ledger, run_key, params, now, "; ".join(stale) + ". No order was sent", notebook_run_id)
    ledger.audit("decision_prices", {"run_key": run_key, "prices": {
        q.symbol: {"price": str(q.price), "at": q.timestamp.isoformat(), "source": q.source}
        for q in out.quotes.values()}}, at=now.to_pydatetime())
    notes = [*notes, *(f"decision price {q.symbol} {q.price} at {q.timestamp.isoformat()} ({q.source})"
                       for q in out.quotes.values())]

    deadline = min(now + pd.Timedelta(seconds=params.broker.order_timeout_seconds), close)
    # The dry run's rule for the price of the moment (engine/intraday.py): the decision sees
    # today's provisional bar at these prices and the orders go out at them.
    today = pd.Timestamp(as_of, tz="UTC")
    market = MarketCursor(panel[panel.index < today])  # a forming daily bar of today would be look-ahead
    out.session = run_session(params, ledger=ledger, broker=broker, clock=clock, market=market, strategy=strategy,
                              notebook_run_id=notebook_run_id, notes=notes,
                              follow=FollowPolicy(params.broker.poll_seconds, deadline, sleep),
                              data_as_of=min(q.timestamp for q in out.quotes.values()) if out.quotes else None,
                              quotes=quotes, overrides=overrides)
    out.account_after = broker.account()
    out.warnings += account_warnings(out.account_after, when="after the session")
    return out


def _prices_of_the_moment(params: LiveParams, broker: RemoteBroker, symbols: list[str],
                          as_of: Any) -> dict[str, ExecutionQuote]:
    """Today's price of each symbol as the params ask: the last minute bar, else the broker's latest trade.

    With ``data.intraday`` (minute files, or Alpaca minute bars through the cache) the
    session decides on the last minute bar at or before the execution time, the rule of
    the dry run and the replay (:func:`~toolkit.engine.intraday.minute_quotes`), so a live
    session and its replay price the moment the same way; without it, on the broker's
    latest trade. Either way the staleness rule is the same one.
    """
    if params.data.intraday is not None:
        book = load_minutes(params, symbols, as_of, as_of)
        found = minute_quotes(book, symbols, as_of, params.execution_time) if book is not None else None
        return found or {}
    return {s: quote_from_trade(q) for s, q in broker.latest_trades(symbols).items()}


def _bind_live_account(ledger: Ledger, account: str, broker_account: str, now: pd.Timestamp) -> str | None:
    """The broker account a confirmed label trades is the one it first traded (else why not, to stop).

    ``toolkit live confirm`` confirms a label; the first real-money session binds it to the
    broker's account id (audited). Keys that later reach another real account under the
    same label stop the session: that account was never confirmed.
    """
    key = f"live_broker_account:{account}"
    bound = ledger.get_state(key)
    if bound is None:
        at = now.to_pydatetime()
        ledger.set_state(key, {"broker_account": broker_account, "at": now.isoformat()}, at=at)
        ledger.audit("live_account_bound", {"account": account, "broker_account": broker_account}, at=at)
        return None
    if bound.get("broker_account") != broker_account:
        return (f"account {account} was confirmed for real money at broker account {bound.get('broker_account')}, "
                f"but the credentials now reach {broker_account}; confirm that account with `toolkit live confirm "
                f"--account <a new label>` and use that label; nothing was sent")
    return None


def _stop(out: LiveResult, ledger: Ledger, run_key: str, params: LiveParams, now: pd.Timestamp, message: str,
          notebook_run_id: str | None) -> LiveResult:
    """Record the run as failed with the reason (and the reconciliation), send nothing, let the report show it."""
    at = now.to_pydatetime()
    summary: dict[str, Any] = {"error": message}
    if out.reconciliation is not None:
        summary["reconciliation"] = out.reconciliation.to_dict()
    with ledger.transaction():
        ledger.start_run(run_key, mode=params.mode, notebook_run_id=notebook_run_id, at=at)
        ledger.finish_run(run_key, RunStatus.FAILED, summary=summary, at=at)
        ledger.audit("session_stopped", {"run_key": run_key, "reason": message}, at=at)
    out.stopped = message
    return out
