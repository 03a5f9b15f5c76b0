"""Replay: drive :func:`~toolkit.engine.session.run_session` session by session over history.

A replay is the daily dry run fast-forwarded: one ledger, one simulated broker,
the same strategy object, and for every NYSE session between ``start`` and
``end`` exactly the call a scheduled dry run makes on that day, with a clock set
to the session's execution instant. Nothing is replay-specific in the trading
path, which is the point: if the replay's trades equal the backtest's (the parity
test), the daily path trades what was backtested.

Re-running a replay over the same ledger re-sends nothing (every session is
"already done"); extending ``end`` trades only the new sessions.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

import pandas as pd

from toolkit.engine.daily import session_clock
from toolkit.engine.market import MarketCursor
from toolkit.engine.reconcile import reconcile
from toolkit.engine.result import SessionResult
from toolkit.engine.session import run_session
from toolkit.engine.venue import load_simulated_broker
from toolkit.time import sessions_in_range

if TYPE_CHECKING:  # pragma: no cover
    from toolkit.data.dataset import Dataset
    from toolkit.ledger import Ledger
    from toolkit.params.daily_dry_run import DailyDryRunParams

__all__ = ["ReplayResult", "replay"]


@dataclass
class ReplayResult:
    """Counts, timings and the ledger's view of what the replay traded."""

    sessions: int
    statuses: dict[str, int]
    elapsed_s: float
    trades: pd.DataFrame
    snapshots: pd.DataFrame
    problems: list[str] = field(default_factory=list)
    last: SessionResult | None = None

    @property
    def sessions_per_second(self) -> float:
        return self.sessions / self.elapsed_s if self.elapsed_s > 0 else float("inf")

    @property
    def equity(self) -> pd.Series:
        """Equity per session (float, UTC midnight index like the bars)."""
        s = self.snapshots
        if s.empty:
            return pd.Series(dtype=float, name="equity")
        idx = pd.DatetimeIndex(pd.to_datetime(s["session_date"])).tz_localize("UTC")
        return pd.Series(s["equity"].astype(float).to_numpy(), index=idx, name="equity")

    def summary_line(self) -> str:
        return (f"replay: {self.sessions} sessions ({', '.join(f'{k} {v}' for k, v in sorted(self.statuses.items()))}), "
                f"{len(self.trades)} fills, {self.sessions_per_second:.0f} sessions/s")


def replay(
    params: DailyDryRunParams,
    *,
    start: Any,
    end: Any,
    ledger: Ledger,
    data: Dataset | pd.DataFrame | None = None,
    progress: Callable[[SessionResult], None] | None = None,
    commit_every: int = 50,
) -> ReplayResult:
    """Run every NYSE session from ``start`` to ``end`` (inclusive) through ``run_session``.

    Sessions after the data's last bar are not replayed (a replay is history; the
    dry run is what meets fresh data). ``commit_every`` sessions share one ledger
    transaction (``1`` = a commit per step, exactly as a daily run). The ledger is checked for consistency once at
    the end (every fill belongs to an order; cash + positions = equity).
    """
    from toolkit.data.dataset import load_dataset
    from toolkit.params import repo_root
    from toolkit.strategies import registry

    strategy = registry.create(params.strategy, params.strategy_params, symbols=params.data.symbols)
    if data is None:
        data = load_dataset(params.data, base_dir=repo_root(), optional=strategy.optional_symbols())
    market = MarketCursor(data if isinstance(data, pd.DataFrame) else data.panel)
    strategy = registry.create(params.strategy, params.strategy_params,
                               symbols=[s for s in params.data.symbols if market.has(s)])
    last_bar = pd.Timestamp(market.last_date)
    first_bar = pd.Timestamp(market.first_date)
    days = [d for d in sessions_in_range(start, end) if first_bar <= d <= last_bar]
    if not days:
        from toolkit.errors import ParamsError

        raise ParamsError("--start/--end", f"{start}..{end}",
                          f"a range holding NYSE sessions within the data ({first_bar.date()} to {last_bar.date()})")
    broker = load_simulated_broker(ledger, params)
    statuses: dict[str, int] = {}
    res: SessionResult | None = None
    t0 = time.perf_counter()
    for i in range(0, len(days), max(int(commit_every), 1)):
        # Sessions commit in batches: the broker is the simulated one, whose state the
        # ledger stores in the same transaction as its fills, so a crash rolls back
        # ledger and broker together to the last batch and a re-run resumes from there.
        # (A real broker would need the per-order commits run_session does on its own.)
        with ledger.transaction():
            for day in days[i : i + max(int(commit_every), 1)]:
                as_of = day.date()
                p = params.model_copy(update={"as_of": as_of})
                res = run_session(p, ledger=ledger, broker=broker, clock=session_clock(as_of, params.execution_time),
                                  market=market, strategy=strategy, check_consistency=False)
                statuses[res.status] = statuses.get(res.status, 0) + 1
                if progress is not None:
                    progress(res)
    elapsed = time.perf_counter() - t0
    problems: list[str] = []
    if res is not None and res.prices:
        marks = {s: v for s, v in res.prices.items()}
        # The same reconciliation a daily session runs (and a paper or live session will run first).
        problems = reconcile(ledger, broker, account=params.account, mode=params.mode, marks=marks)
    return ReplayResult(
        sessions=len(days),
        statuses=statuses,
        elapsed_s=elapsed,
        trades=ledger.trades(account=params.account, mode=params.mode),
        snapshots=ledger.snapshots(account=params.account, mode=params.mode, strategy=params.strategy),
        problems=problems,
        last=res,
    )


def parse_day(value: str, field: str) -> dt.date:
    """``YYYY-MM-DD`` from the command line, or a ParamsError naming the option."""
    from toolkit.errors import ParamsError

    try:
        return dt.date.fromisoformat(value)
    except (TypeError, ValueError):
        raise ParamsError(field, value, "a date such as 2018-06-01") from None
