"""Replay: drive :func:`~toolkit.engine.session.run_session` session by session over history.

A replay is the daily dry run fast-forwarded: one ledger, one simulated broker,
the same strategy object, and for every NYSE session between ``start`` and
``end`` exactly the call a scheduled dry run makes on that day, with a clock set
to the session's execution instant. Nothing is replay-specific in the trading
path, which is the point: if the replay's trades equal the backtest's (the parity
test), the daily path trades what was backtested.

Re-running a replay over the same ledger re-sends nothing (every session is
"already done"); extending ``end`` trades only the new sessions.

Nothing is written before the whole range is checked (:func:`check_replay`): the
data covers every session with sound bars, the account holds no session later than
the first one to replay (a replay never back-dates sessions into an account that
has moved on), the kill switch is off and ``as_of`` is left to the replay. The
command and the facade replay into their own account, ``<account>-replay``
(:func:`replay_params`), so a replay never mixes with the dry run's account.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from toolkit.engine.daily import load_minutes, session_clock
from toolkit.engine.intraday import quote_age_limit
from toolkit.engine.market import MarketCursor
from toolkit.engine.reconcile import reconcile
from toolkit.engine.result import SessionError, SessionResult
from toolkit.engine.session import run_session
from toolkit.engine.venue import load_simulated_broker
from toolkit.time import sessions_in_range

if TYPE_CHECKING:  # pragma: no cover
    from toolkit.data.dataset import Dataset
    from toolkit.ledger import Ledger
    from toolkit.params.daily_dry_run import DailyDryRunParams

__all__ = ["REPLAY_ACCOUNT_SUFFIX", "ReplayResult", "check_replay", "replay", "replay_params"]

#: The default replay account is the params' account plus this suffix.
REPLAY_ACCOUNT_SUFFIX = "-replay"


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
    #: Sessions priced by minute bars, and at the daily bar although the time is intraday.
    minute_sessions: int = 0
    daily_fallback_sessions: int = 0

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
        statuses = ", ".join(f"{k} {v}" for k, v in sorted(self.statuses.items()))
        pricing = ""
        if self.minute_sessions or self.daily_fallback_sessions:
            pricing = (f", {self.minute_sessions} priced at minute bars, {self.daily_fallback_sessions} at the "
                       f"daily bar (no minute bars)")
        return (f"replay: {self.sessions} sessions ({statuses}){pricing}, "
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
    record_params: bool | None = None,
) -> ReplayResult:
    """Run every NYSE session from ``start`` to ``end`` (inclusive) through ``run_session``.

    Sessions after the data's last bar are not replayed (a replay is history; the
    dry run is what meets fresh data). ``commit_every`` sessions share one ledger
    transaction (``1`` = a commit per step, exactly as a daily run). The ledger is checked for consistency once at
    the end (every fill belongs to an order; cash + positions = equity).
    ``record_params``: record each session's parameters in its run summary (see
    :mod:`toolkit.engine.run_params`; default: only for paper and live modes).
    """
    from toolkit.data.dataset import load_dataset
    from toolkit.params import repo_root
    from toolkit.strategies import registry

    strategy = registry.create(params.strategy, params.strategy_params, symbols=params.data.symbols)
    if data is None:
        data = load_dataset(params.data, base_dir=repo_root(), optional=strategy.optional_symbols())
    market = MarketCursor(data if isinstance(data, pd.DataFrame) else data.panel)
    if params.data.intraday is not None:
        market = MarketCursor(market.panel, load_minutes(params, market.symbols, start, end))
    strategy = registry.create(params.strategy, params.strategy_params,
                               symbols=[s for s in params.data.symbols if market.has(s)])
    days = check_replay(params, ledger=ledger, market=market, strategy=strategy, start=start, end=end)
    broker = load_simulated_broker(ledger, params)
    statuses: dict[str, int] = {}
    minute_sessions = fallback_sessions = 0
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
                                  market=market, strategy=strategy, check_consistency=False,
                                  record_params=record_params)
                statuses[res.status] = statuses.get(res.status, 0) + 1
                if res.minute_priced:
                    minute_sessions += 1
                elif res.price_basis is not None:
                    fallback_sessions += 1
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
        minute_sessions=minute_sessions,
        daily_fallback_sessions=fallback_sessions,
    )


def replay_params(params: DailyDryRunParams, account: str | None = None) -> DailyDryRunParams:
    """``params`` with the replay's own account: ``account``, else ``<params.account>-replay``.

    A replay writes hundreds of back-dated sessions; in the dry run's own account they
    would mix with (and be refused after) the sessions the dry run recorded.
    """
    from toolkit.errors import ParamsError

    name = account if account is not None else params.account + REPLAY_ACCOUNT_SUFFIX
    if not name or len(name) > 64 or "|" in name:
        raise ParamsError("--account", name, "1 to 64 characters without '|'")
    return params.model_copy(update={"account": name})


def check_replay(
    params: DailyDryRunParams,
    *,
    ledger: Ledger,
    market: MarketCursor,
    strategy: Any,
    start: Any,
    end: Any,
) -> list[pd.Timestamp]:
    """The sessions to replay, after checking the whole range; raises before anything is written.

    * ``as_of`` is null (the replay sets it, session by session);
    * ``start`` <= ``end`` and every NYSE session between them lies within the data;
    * every session's bars are sound, and its minute bars fresh where they price it (the
      same checks each session makes before deciding);
    * the ledger's kill switch is off (every session would be halted);
    * the account holds no session later than the first session this replay has still
      to run (sessions already done in the range are skipped, so re-running or
      extending a replay is fine; back-dating an account that moved on is not).
    """
    from toolkit.errors import ParamsError
    from toolkit.ledger import make_run_key

    if params.as_of is not None:
        raise ParamsError("as_of", params.as_of.isoformat(),
                          "null: a replay trades every session from --start to --end itself")
    lo, hi = pd.Timestamp(start), pd.Timestamp(end)
    if hi < lo:
        raise ParamsError("--end", hi.date().isoformat(), f"a date on or after --start ({lo.date()})")
    first_bar, last_bar = pd.Timestamp(market.first_date), pd.Timestamp(market.last_date)
    days = list(sessions_in_range(start, end))
    coverage = f"sessions within the data ({first_bar.date()} to {last_bar.date()})"
    if not days:
        raise ParamsError("--start/--end", f"{lo.date()}..{hi.date()}", f"a range holding NYSE {coverage}")
    if days[0] < first_bar:
        raise ParamsError("--start", lo.date().isoformat(),
                          f"a date the data covers: its first bar is {first_bar.date()}")
    if days[-1] > last_bar:
        raise ParamsError("--end", hi.date().isoformat(), f"a date the data covers: its last bar is {last_bar.date()}")
    traded = [s for s in strategy.instruments() if market.has(s)]
    max_age = quote_age_limit(params.guards.max_data_age)
    bad = []
    for day in days:
        d = day.date()
        end_ = market.visible_end(d, params.execution_time)
        problems = market.bar_problems(end_, traded, d, params.execution_time, params.guards.stale_bar_check)
        problems += market.session_quotes(d, params.execution_time, end_, max_age)[1]
        if problems:
            bad.append(f"{d}: {problems[0]}")
    if bad:
        more = f" (and {len(bad) - 1} more session(s))" if len(bad) > 1 else ""
        raise SessionError(f"the data cannot drive session {bad[0]}{more}; nothing was written. "
                           "Fix or refresh the data, or replay a range it covers")
    kill = ledger.kill_switch()
    if kill.on:
        raise SessionError(f"the kill switch of ledger {ledger.shown_url} is ON ({kill.reason}): every session "
                           "would be halted; nothing was written. Turn it off (toolkit killswitch off) or replay into "
                           "another ledger (--db)")
    runs = ledger.runs(account=params.account)
    if not runs.empty:
        runs = runs[runs["mode"] == params.mode]
        done = set(runs.loc[runs["status"].isin(["completed", "blocked", "market_closed"]), "run_key"])
        todo = [d for d in days
                if make_run_key(params.strategy, params.account, d.date(), params.execution_time) not in done]
        latest = max(runs["session_date"]) if len(runs) else None
        if todo and latest is not None and todo[0].date() < latest:
            raise ParamsError(
                "--start", lo.date().isoformat(),
                f"a session after {latest}: account {params.account!r} ({params.mode}) of ledger {ledger.shown_url} "
                f"already holds sessions up to {latest}, and a replay never writes sessions before an account's "
                "last one; nothing was written. Replay into another account (--account) or ledger (--db)")
    return days


def parse_day(value: str, field: str) -> dt.date:
    """``YYYY-MM-DD`` from the command line, or a ParamsError naming the option."""
    from toolkit.errors import ParamsError

    try:
        return dt.date.fromisoformat(value)
    except (TypeError, ValueError):
        raise ParamsError(field, value, "a date such as 2018-06-01") from None
