"""One trading session, start to finish: the ONE path of dry run, replay and live.

:func:`run_session` takes validated :class:`~toolkit.params.daily_dry_run.DailyDryRunParams`,
a ledger, a broker, a clock and a :class:`~toolkit.engine.market.MarketCursor`, and walks
the steps every context shares::

    market open? -> run key -> already done? -> bars through as_of (fresh? sound?)
    -> strategy.decide(history) -> translate -> risk guards
    -> ledger: every order ``new`` (one transaction)         [crash point order_recorded]
    -> broker submit, order by order                        [crash point broker_submitted]
    -> ledger: broker events + venue state (one transaction) [crash point fills_recorded]
    -> ledger: performance snapshot                         [crash point snapshot_recorded]
    -> ledger: run completed (or halted / blocked when guards stopped its orders)

Why it is shaped this way (promise 4, nothing lost, nothing doubled):

* The run key ``strategy|account|session|execution_time`` names the decision slot.
  A completed run is never traded again ("already done").
* The orders of a run are recorded before the first broker call
  (:mod:`~toolkit.engine.planning`), sent by deterministic id and reconciled by id
  (:mod:`~toolkit.engine.execution`); the simulated venue's state is stored with the
  fills it produced (:mod:`~toolkit.engine.venue`).

Market data (which bars the decision sees, execution prices) is the cursor's
(:mod:`~toolkit.engine.market`), with minute bars at intraday execution times by the one
rule of :mod:`~toolkit.engine.intraday`; the end-of-day figures are
:mod:`~toolkit.engine.snapshots`'; the ledger-vs-broker check is
:func:`~toolkit.engine.reconcile.reconcile`. No vectorbt or plotly here: a daily run
should not pay for them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pandas as pd

from toolkit.engine.crash import crash_point
from toolkit.engine.execution import execute
from toolkit.engine.follow import FollowPolicy, follow_orders
from toolkit.engine.guards import RiskEngine
from toolkit.engine.intraday import ExecutionQuote, quote_age_limit, quote_problems
from toolkit.engine.planning import plan_orders, why_trade_without_rebalance
from toolkit.engine.reconcile import reconcile
from toolkit.engine.result import (
    ALREADY_DONE,
    SessionError,
    SessionResult,
    json_safe,
)
from toolkit.engine.run_params import records_params, session_params, with_params
from toolkit.engine.snapshots import perf_key, take_snapshot
from toolkit.model import OrderStatus, RunStatus
from toolkit.time import is_session

if TYPE_CHECKING:  # pragma: no cover
    from toolkit.brokers.base import Broker
    from toolkit.engine.account_overrides import AppliedOverride
    from toolkit.engine.market import MarketCursor
    from toolkit.ledger import Ledger
    from toolkit.params.daily_dry_run import DailyDryRunParams
    from toolkit.strategies.base import Strategy
    from toolkit.time import Clock

__all__ = ["run_session"]


def run_session(
    params: DailyDryRunParams,
    *,
    ledger: Ledger,
    broker: Broker,
    clock: Clock,
    market: MarketCursor,
    strategy: Strategy[Any] | None = None,
    check_consistency: bool | None = None,
    notebook_run_id: str | None = None,
    notes: list[str] | None = None,
    follow: FollowPolicy | None = None,
    data_as_of: pd.Timestamp | None = None,
    record_params: bool | None = None,
    quotes: Mapping[str, ExecutionQuote] | None = None,
    overrides: Sequence[AppliedOverride] = (),
) -> SessionResult:
    """Run one decision slot (see the module doc); safe to call again after any crash.

    ``market``: the cursor over the bars (a replay passes the same one to every
    session); ``params.as_of`` defaults to its last bar. ``strategy``: an instance to
    reuse across sessions (a replay's, so a stateful strategy keeps its cache);
    created from the params when omitted. ``check_consistency`` (default
    ``params.check_consistency``) re-derives the account from its fills at the end
    and reconciles broker and ledger positions. ``record_params``: write the session's
    parameters into its run summary when it starts, for ``toolkit parity`` (default:
    paper and live sessions only; see :mod:`toolkit.engine.run_params`).

    ``notes`` go first into the session's messages (a live run's decision prices and
    their source). ``follow``: a real broker's orders are followed until they end or
    the policy's deadline (:mod:`~toolkit.engine.follow`), the remainder cancelled.
    ``data_as_of``: when the execution prices were quoted (``guards.max_data_age``).
    ``quotes``: the execution-time prices taken outside the cursor (a live session's
    latest trades, :func:`~toolkit.engine.intraday.quote_from_trade`); without them the
    cursor's minute bars price the session where they cover it. Either way one rule
    follows (:mod:`~toolkit.engine.intraday`): the traded symbols need fresh quotes, the
    decision sees today's provisional bar at those prices, and the orders fill at them.
    ``overrides``: the account's config overrides already applied to ``params``
    (:func:`~toolkit.engine.account_overrides.apply_account_overrides`), recorded in the
    run summary.

    Raises :class:`SessionError` (nothing sent, the run recorded as failed) on data
    that is missing, corrupt or stale.
    """
    from toolkit.ledger import LedgerError, make_run_key
    from toolkit.strategies import registry

    mode = params.mode
    if broker.mode.value != mode:
        raise SessionError(f"broker mode {broker.mode.value} differs from params mode {mode}; nothing was sent")
    if strategy is None:
        strategy = registry.create(params.strategy, params.strategy_params, symbols=params.data.symbols)
    as_of = params.as_of if params.as_of is not None else market.last_date
    run_key = make_run_key(params.strategy, params.account, as_of, params.execution_time)
    result = SessionResult(run_key, as_of, params.execution_time, mode, RunStatus.COMPLETED,
                           overrides=tuple(overrides))
    result.messages.extend(notes or [])
    now = clock.now().to_pydatetime()
    recorded = session_params(params) if records_params(mode, record_params) else None

    existing = ledger.get_run(run_key)
    # A halted run is tried again (the kill switch may be off now); a blocked one is final.
    if existing is not None and existing.status in (RunStatus.COMPLETED, RunStatus.BLOCKED, RunStatus.MARKET_CLOSED):
        result.status = RunStatus.MARKET_CLOSED if existing.status == RunStatus.MARKET_CLOSED else ALREADY_DONE
        result.messages.append(f"already done: run {run_key} is {existing.status} in the ledger; nothing was sent")
        result.orders = ledger.order_records(run_key=run_key)
        return result

    if not is_session(as_of):
        with ledger.transaction():
            ledger.start_run(run_key, mode=mode, notebook_run_id=notebook_run_id, at=now)
            ledger.finish_run(run_key, RunStatus.MARKET_CLOSED, summary={"message": f"{as_of} is not an NYSE session"},
                              at=now)
        result.status = RunStatus.MARKET_CLOSED
        result.messages.append(f"market closed: {as_of} is not an NYSE session; nothing was traded or changed")
        return result

    check = params.check_consistency if check_consistency is None else check_consistency
    if existing is not None:
        result.resumed = True
        result.messages.append(f"resuming run {run_key} (it was {existing.status})")

    # -- data: bars the decision may see ------------------------------------------
    end = market.visible_end(as_of, params.execution_time)
    # Optional instruments absent from the data (v3.5b's bond leg on the sample) are off.
    traded = [s for s in strategy.instruments() if market.has(s)]
    problems = market.bar_problems(end, traded, as_of, params.execution_time, params.guards.stale_bar_check)
    # The price of the moment: the caller's quotes (live), else minute bars (data.intraday)
    # where they cover the session; a stale one stops it.
    max_age = quote_age_limit(params.guards.max_data_age)
    if quotes is not None:
        problems += quote_problems(quotes, traded, clock.now(), max_age)
    else:
        quotes, stale = market.session_quotes(as_of, params.execution_time, end, max_age, clock.now())
        problems += stale
    if problems:
        msg = ("; ".join(problems) + ". No order was sent: update the data (or fix the bad bar) and run again, "
               "or choose an as_of the data covers")
        _fail_run(ledger, run_key, mode, msg, now, notebook_run_id, recorded)
        raise SessionError(msg)
    history = market.history(end, quotes, as_of, params.execution_time)
    prices = market.prices(as_of, params.execution_time, quotes)
    result.prices = prices.prices
    result.price_basis, result.price_sources = prices.basis, prices.origins
    result.minute_priced = prices.minute_priced
    if prices.basis:
        result.messages.append(prices.basis)
    if prices.note:
        result.messages.append(prices.note)
    # Gap policy (strategies/base.py, engine/market.py): a symbol without a bar is held.
    for sym in market.missing_bars(end, traded):
        result.messages.append(f"{sym} has no bar on {history.index[-1].date()}: the strategy holds its target "
                               f"from its last bar")
    held = prices.held(traded)
    if held:
        result.messages.append(f"no {params.execution_time} price on {as_of} for {', '.join(held)} (a missing bar): "
                               f"position held, no order for {'it' if len(held) == 1 else 'them'}; the other "
                               f"symbols trade")

    # -- decide (always: the report shows the context even when resuming) ---------
    decision = strategy.decide(history)
    result.decision = decision
    risk = RiskEngine(params.guards, clock=clock)

    # Phase A, one transaction: open the run, fund a new account, plan and record every
    # order as ``new``. A session without orders also records its snapshot and closes
    # here, so a quiet day costs one commit.
    done = False
    with ledger.transaction():
        ledger.start_run(run_key, mode=mode, notebook_run_id=notebook_run_id, summary=with_params(None, recorded),
                         at=now)
        try:
            cash = ledger.cash(params.account, mode)
        except LedgerError:  # never funded: the first session of this account
            cash = ledger.set_initial_cash(params.account, mode, Decimal(str(params.initial_cash)), at=now)
        perf = ledger.get_state(perf_key(params.strategy, params.account, mode)) or {}
        position_records = ledger.positions(params.account, mode)
        positions = {s: p.quantity for s, p in position_records.items()}
        result.current_positions = dict(positions)
        planned = ledger.order_records(run_key=run_key) if existing is not None else []
        kill = ledger.kill_switch()
        if kill.on:
            # The kill switch stops the whole session, whatever the strategy decided and
            # whatever a crashed run left to send: nothing is planned or sent until it is
            # reset, and the run is halted (so the next run of the slot tries again).
            result.status = RunStatus.HALTED
            reason = f"kill_switch: ON since {kill.at} by {kill.actor} ({kill.reason})"
            result.blocked = [reason]
            result.messages.append(f"halted, no order sent: {reason}. The session runs again once the kill switch "
                                   "is reset with a reason (toolkit killswitch off --reason TEXT, or the panel)")
            ledger.audit("guard_halt", {"run_key": run_key, "guard": "kill_switch", "reason": reason}, at=now)
            result.orders = planned
            result.snapshot = take_snapshot(params, ledger, decision, prices.marks, perf, as_of, now,
                                            known=None if planned else (position_records, cash), owed=True)
            done = True
            if not check:
                _finish(ledger, result, now, recorded)
        else:
            if not planned and not decision.rebalance:
                # The strategy keeps its targets, but is the account AT them? Not on its first
                # session, not after a session whose orders a guard stopped, not when a target
                # position is missing from (or an exited one still in) the holdings. Trade to the
                # targets then rather than wait for the strategy's next rebalance, weeks away.
                why = why_trade_without_rebalance(perf, decision.target_weights, positions,
                                                  {**prices.marks, **prices.prices})
                if why is not None:
                    decision = replace(decision, rebalance=True)
                    result.decision = decision
                    result.messages.append(why)
            if planned:
                result.messages.append(f"{len(planned)} order(s) of this run are already in the ledger: resuming them")
            else:
                # A held symbol is left out of the targets: the translator leaves it alone.
                tradable = replace(decision, target_weights={s: w for s, w in decision.target_weights.items()
                                                             if s not in held}) if held else decision
                plan = plan_orders(params, ledger=ledger, risk=risk, decision=tradable, positions=positions, cash=cash,
                                   prices=prices, last_bar=lambda s: market.last_bar_stamp(end, s), perf=perf,
                                   session_date=as_of, run_key=run_key, now=now,
                                   data_as_of=data_as_of if data_as_of is not None else
                                   min(q.at for q in quotes.values()) if quotes else None)
                result.intents, result.skipped, result.guard_report = plan.intents, plan.skipped, plan.report
                if plan.report is not None:
                    result.blocked = plan.report.reasons
                    if plan.report.blocked:  # orders were stopped: the session did not do what it meant to
                        result.status = RunStatus.HALTED if plan.report.halts else RunStatus.BLOCKED
                if plan.message:
                    result.messages.append(plan.message)
                planned = ledger.order_records(run_key=run_key) if plan.report and plan.report.allowed else []
            pending = [o for o in planned if not OrderStatus(o.status).is_terminal]
            if not pending:
                result.orders = planned
                known = (position_records, cash) if not planned else None
                result.snapshot = take_snapshot(params, ledger, decision, prices.marks, perf, as_of, now, known=known,
                                                owed=result.status in (RunStatus.HALTED, RunStatus.BLOCKED))
                done = True
                if not check:
                    _finish(ledger, result, now, recorded)
    if done:
        if check:
            _reconcile_into(result, params, ledger, broker, prices.marks)
            _finish(ledger, result, now, recorded)
        return result
    crash_point("order_recorded")

    # -- execute -------------------------------------------------------------------
    volumes = market.volumes(end, [o.symbol for o in pending]) if params.broker.max_participation else None
    execute(account=params.account, mode=mode, ledger=ledger, broker=broker, risk=risk, pending=pending,
            prices=prices.prices, clock=clock, now=now, volumes=volumes)
    if follow is not None:
        result.messages.extend(follow_orders(ledger=ledger, broker=broker, client_order_ids=[
            o.client_order_id for o in pending], clock=clock, policy=follow, account=params.account, mode=mode,
            now=now))
    result.orders = ledger.order_records(run_key=run_key)

    # -- snapshot and close --------------------------------------------------------
    result.snapshot = take_snapshot(params, ledger, decision, prices.marks, perf, as_of, now,
                                    owed=result.status in (RunStatus.HALTED, RunStatus.BLOCKED))
    crash_point("snapshot_recorded")
    if check:
        _reconcile_into(result, params, ledger, broker, prices.marks)
    _finish(ledger, result, now, recorded)
    return result


def _reconcile_into(result: SessionResult, params: DailyDryRunParams, ledger: Ledger, broker: Broker,
                    marks: dict[str, Decimal]) -> None:
    result.problems = reconcile(ledger, broker, account=params.account, mode=params.mode, marks=marks)
    if result.problems:
        result.messages.append("ledger check found problems: " + "; ".join(result.problems))


def _finish(ledger: Ledger, result: SessionResult, now: dt.datetime, recorded: dict[str, Any] | None) -> None:
    """Close the run with its status and summary (the last write of a session).

    ``completed``, or ``halted`` / ``blocked`` when guards stopped orders the session
    meant to send (the next session then trades back to the targets).
    """
    if result.orders:
        result.fills = [f for o in result.orders for f in ledger.fill_records(client_order_id=o.client_order_id)]
    elif result.decision is not None and not result.decision.rebalance:
        result.messages.append("no rebalance today: the strategy keeps its targets")
    equity = result.snapshot.equity if result.snapshot is not None else None
    result.messages.append(f"{result.status}: {len(result.orders)} order(s), {len(result.fills)} fill(s), "
                           f"equity {equity}")
    summary = with_params(json_safe(result.summary()), recorded)
    ledger.finish_run(result.run_key, result.status, summary=summary, at=now)


def _fail_run(ledger: Ledger, run_key: str, mode: str, msg: str, now: dt.datetime, nb: str | None,
              recorded: dict[str, Any] | None) -> None:
    with ledger.transaction():
        ledger.start_run(run_key, mode=mode, notebook_run_id=nb, summary=with_params(None, recorded), at=now)
        summary = with_params({"error": msg}, recorded)
        ledger.finish_run(run_key, RunStatus.FAILED, summary=summary, at=now)
        ledger.audit("session_stopped", {"run_key": run_key, "reason": msg}, at=now)
