"""Performance snapshots: the end-of-session equity, returns and drawdown of an account.

Each session records one snapshot; the running figures it needs (equity and peak
before the session, initial cash) are kept in the ledger's ``system_state`` under
:func:`perf_key`, next to the previous session's values, so that recording the
same session again (a resumed run) gives the same snapshot instead of counting the
session twice.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from toolkit.engine.result import SessionError, json_safe
from toolkit.model import quantize

if TYPE_CHECKING:  # pragma: no cover
    from toolkit.ledger import Ledger, PositionRecord, Snapshot
    from toolkit.params.daily_dry_run import DailyDryRunParams
    from toolkit.strategies.base import Decision

__all__ = ["before_session", "perf_key", "take_snapshot"]


def perf_key(strategy: str, account: str, mode: str) -> str:
    """``system_state`` key of the running performance figures of one strategy on one account."""
    return f"perf:{strategy}:{account}:{mode}"


def before_session(perf: dict[str, Any], session_date: dt.date) -> tuple[str | None, str | None]:
    """(equity, peak) as they stood before ``session_date``: None on an account's first session."""
    same_day = perf.get("session") == session_date.isoformat()
    if same_day:
        return perf.get("prev_equity"), perf.get("prev_peak")
    return perf.get("equity"), perf.get("peak")


def take_snapshot(
    params: DailyDryRunParams,
    ledger: Ledger,
    decision: Decision,
    marks: dict[str, Decimal],
    perf: dict[str, Any],
    as_of: dt.date,
    now: dt.datetime,
    *,
    known: tuple[dict[str, PositionRecord], Decimal] | None = None,
    owed: bool = False,
) -> Snapshot:
    """Record the end-of-session performance (idempotent for a re-recorded session).

    ``known``: (positions, cash) already read in this transaction (a session without
    orders), which saves two queries per quiet session of a replay. ``owed``: guards
    stopped orders this session meant to send, so the account is off its targets and
    the next session trades back to them (kept with the running figures).
    """
    account, mode = params.account, params.mode
    if known is not None:
        positions, cash = known
    else:
        positions = ledger.positions(account, mode)
        cash = ledger.cash(account, mode)
    missing = [s for s, p in positions.items() if s not in marks]
    if missing:
        raise SessionError(f"no price for held {', '.join(missing)} on {as_of}: add it to data.symbols and run again")
    # Fractional lots (crypto steps) times prices carry more than the ledger's 6 places.
    equity = quantize(cash + sum((p.quantity * marks[s] for s, p in positions.items()), Decimal(0)))
    initial = Decimal(perf["initial"]) if perf.get("initial") else ledger.initial_cash(account, mode)
    prev_equity, prev_peak = before_session(perf, as_of)
    prev = Decimal(prev_equity) if prev_equity is not None else initial
    peak = max(Decimal(prev_peak) if prev_peak is not None else initial, equity)
    ctx = json_safe(decision.context)
    cell = ctx.get("cell") if isinstance(ctx, dict) else None
    with ledger.transaction():
        snap = ledger.record_snapshot(
            account=account, mode=mode, strategy=params.strategy, session_date=as_of, equity=equity, cash=cash,
            daily_return=float(equity / prev - 1) if prev > 0 else None,
            cumulative_return=float(equity / initial - 1) if initial > 0 else None,
            drawdown=float(equity / peak - 1) if peak > 0 else None,
            strategy_cell=None if cell is None else str(cell),
            context={"decision": ctx, "target_weights": json_safe(decision.target_weights),
                     "rebalance": bool(decision.rebalance), "mode": mode,
                     "marks": {s: str(marks[s]) for s in sorted(positions)}},
            at=now,
        )
        ledger.set_state(perf_key(params.strategy, account, mode), {
            "session": as_of.isoformat(), "equity": str(equity), "peak": str(peak), "initial": str(initial),
            "prev_equity": None if prev_equity is None else str(prev_equity),
            "prev_peak": None if prev_peak is None else str(prev_peak),
            **({"owed": True} if owed else {}),
        }, at=now)
    return snap
