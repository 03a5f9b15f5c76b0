"""One trading session, start to finish: the ONE path of dry run, replay and live.

:func:`run_session` takes validated :class:`~toolkit.params.daily_dry_run.DailyDryRunParams`,
a ledger, a broker and a clock, and walks the steps every context shares::

    market open? -> run key -> already done? -> bars through as_of (fresh? sound?)
    -> strategy.decide(history) -> translate -> risk guards
    -> ledger: every order ``new`` (one transaction)         [crash point order_recorded]
    -> broker submit, order by order                        [crash point broker_submitted]
    -> ledger: status + fills + broker state (one transaction) [crash point fills_recorded]
    -> ledger: performance snapshot                         [crash point snapshot_recorded]
    -> ledger: run completed

Why it is shaped this way (promise 4, nothing lost, nothing doubled):

* The run key ``strategy|account|session|execution_time`` names the decision slot.
  A completed run is never traded again ("already done").
* The orders of a run are written to the ledger, all of them and in one
  transaction, BEFORE the first broker call. A resumed run trades exactly those
  orders (it does not re-decide from a half-traded portfolio, which would size the
  remaining buys differently); ids are deterministic (:func:`client_order_id`), and
  the broker is asked by id before anything is (re)submitted, so a crash between
  submit and the ledger write never doubles an order.
* The simulated broker's state is stored in the ledger's ``system_state`` in the
  SAME transaction as the fills it produced. After a crash the broker therefore
  never knows a fill the ledger does not (or the reverse): either both have it, or
  neither, and the order is simply submitted again under the same id.

Prices on daily bars: ``close`` executes at the session's close; ``open`` and
``15min_after_open`` at the session's open; ``15min_before_close`` and
``5min_before_close`` at the session's close (the nearest price a daily bar has).
When the session's bar is not in the data (a morning run on data that ends
yesterday) the last close is used and the result says so. The decision at
``close`` sees the session's bar; at any earlier time it sees bars through the
previous session (no look-ahead), see :func:`~toolkit.engine.calendar.expected_bar_date`.

No vectorbt or plotly here: a daily run should not pay for them.
"""

from __future__ import annotations

import datetime as dt
import math
import os
from dataclasses import dataclass, field
from functools import lru_cache
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from toolkit.engine.calendar import execution_instant, expected_bar_date, is_session, last_bar_is_fresh
from toolkit.engine.clock import Clock, FixedClock
from toolkit.engine.guards import GuardReport, MarketState, PortfolioState, RiskEngine
from toolkit.engine.orders import Order, OrderStatus, client_order_id
from toolkit.engine.translator import CostModel, OrderIntent, translate
from toolkit.errors import ToolkitError

if TYPE_CHECKING:  # pragma: no cover
    from toolkit.data.dataset import Dataset
    from toolkit.brokers.base import Broker
    from toolkit.brokers.simulated import SimulatedBroker
    from toolkit.params.daily_dry_run import DailyDryRunParams
    from toolkit.ledger import Ledger
    from toolkit.ledger.records import Snapshot
    from toolkit.strategies.base import Decision, Strategy

__all__ = [
    "CRASH_ENV",
    "CRASH_POINTS",
    "SessionError",
    "SessionResult",
    "broker_state_key",
    "load_simulated_broker",
    "run_session",
    "session_clock",
]

#: Test hook: ``TOOLKIT_CRASH_AT=<point>`` ends the process (``os._exit``) at that point.
CRASH_ENV = "TOOLKIT_CRASH_AT"
CRASH_POINTS = ("order_recorded", "broker_submitted", "fills_recorded", "snapshot_recorded")
CRASH_EXIT_CODE = 86

ALREADY_DONE = "already_done"
COMPLETED = "completed"
MARKET_CLOSED = "market_closed"

_OPEN_TIMES = ("open", "15min_after_open")


class SessionError(ToolkitError):
    """The session stopped before any order; the message says what to do."""


@dataclass
class SessionResult:
    """What one session did, for the report and for the caller's checks."""

    run_key: str
    session_date: dt.date
    execution_time: str
    mode: str
    status: str  # completed | already_done | market_closed
    messages: list[str] = field(default_factory=list)
    decision: Decision | None = None
    prices: dict[str, Decimal] = field(default_factory=dict)
    current_positions: dict[str, Decimal] = field(default_factory=dict)
    intents: list[OrderIntent] = field(default_factory=list)
    skipped: list[Any] = field(default_factory=list)
    guard_report: GuardReport | None = None
    blocked: list[str] = field(default_factory=list)
    orders: list[dict[str, Any]] = field(default_factory=list)
    fills: list[dict[str, Any]] = field(default_factory=list)
    snapshot: Snapshot | None = None
    problems: list[str] = field(default_factory=list)
    resumed: bool = False

    @property
    def message(self) -> str:
        return " ".join(self.messages)

    def summary(self) -> dict[str, Any]:
        """JSON-safe summary (stored with the run in the ledger, written to snapshot.json)."""
        snap = self.snapshot
        return {
            "run_key": self.run_key,
            "session_date": self.session_date.isoformat(),
            "execution_time": self.execution_time,
            "mode": self.mode,
            "status": self.status,
            "messages": list(self.messages),
            "rebalance": None if self.decision is None else bool(self.decision.rebalance),
            "target_weights": None if self.decision is None else dict(self.decision.target_weights),
            "orders": len(self.orders),
            "fills": len(self.fills),
            "blocked": list(self.blocked),
            "problems": list(self.problems),
            "resumed": self.resumed,
            "equity": None if snap is None else str(snap.equity),
            "cash": None if snap is None else str(snap.cash),
        }

    def _repr_html_(self) -> str:  # pragma: no cover - display only
        return f"<b>Session {self.run_key}</b>: {self.status}<br>{self.message}"


# --------------------------------------------------------------------------- helpers


def _crash_point(step: str) -> None:
    """Die here when the crash test asks for it (never set outside tests)."""
    if os.environ.get(CRASH_ENV) == step:
        os._exit(CRASH_EXIT_CODE)


def broker_state_key(account: str, mode: str) -> str:
    """``system_state`` key holding the simulated broker of one account and mode."""
    return f"broker:simulated:{account}:{mode}"


def _perf_key(strategy: str, account: str, mode: str) -> str:
    return f"perf:{strategy}:{account}:{mode}"


def load_simulated_broker(ledger: Ledger, params: DailyDryRunParams) -> SimulatedBroker:
    """The account's simulated broker as the ledger last stored it, or a fresh one.

    Fresh: funded with ``initial_cash`` and charging the params' fees and slippage
    (the same :class:`CostModel` the translator sizes with, so no buy is rejected).
    """
    from toolkit.brokers.simulated import SimulatedBroker

    stored = ledger.get_state(broker_state_key(params.account, params.mode))
    if stored:
        return SimulatedBroker.from_dict(stored)
    return SimulatedBroker(
        initial_cash=Decimal(str(params.initial_cash)),
        fee_bps=Decimal(str(params.costs.fees_bps)),
        slippage_bps=Decimal(str(params.costs.slippage_bps)),
        fixed_fee=Decimal(str(params.costs.fixed_fee)),
        max_participation=params.broker.max_participation,
        instruments={s: spec.spec() for s, spec in params.instruments.items()} or None,
        mode=params.mode,
    )


def session_clock(as_of: Any, execution_time: str) -> FixedClock:
    """A clock at the execution instant of ``as_of`` (21:00 UTC on a closed day).

    Scheduled dry runs and replays use it so that every timestamp in the ledger is
    the simulated one, and a re-run writes exactly what the first run wrote.
    """
    if type(as_of) is dt.date and is_session(as_of):  # the calendar caches plain dates
        return FixedClock(execution_instant(as_of, execution_time))
    day = pd.Timestamp(as_of)
    if is_session(day):
        return FixedClock(execution_instant(day, execution_time))
    return FixedClock(pd.Timestamp(day.date(), tz="UTC") + pd.Timedelta(hours=21))


def _json_safe(value: Any) -> Any:
    """Context values as JSON: NaN/inf -> None, numpy scalars -> Python."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        try:
            value = value.item()
        except (AttributeError, ValueError):
            return str(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, pd.Timestamp | dt.date):
        return value.isoformat()
    return str(value)


@lru_cache(maxsize=65536)
def _dec_cached(text: str) -> Decimal:
    from toolkit.ledger.types import quantize

    return quantize(Decimal(text))


def _dec(x: float) -> Decimal:
    """A float price as the ledger's exact 6-place Decimal (the broker gets the same number)."""
    return _dec_cached(repr(float(x)))


def _load_data(params: DailyDryRunParams, strategy: Strategy) -> Dataset:
    from toolkit.data.dataset import load_dataset
    from toolkit.params import repo_root

    try:
        return load_dataset(params.data, base_dir=repo_root(), optional=strategy.optional_symbols())
    except ToolkitError as exc:
        raise SessionError(
            f"data could not be loaded ({exc}); no order was sent. Fix or refresh the data source named in "
            "data: (source, path, symbols), then run again"
        ) from None


def _as_of(params: DailyDryRunParams, panel: pd.DataFrame) -> dt.date:
    if params.as_of is not None:
        return params.as_of
    return panel.index[-1].date()


def _bar_checks(history: pd.DataFrame, symbols: list[str], as_of: dt.date, execution_time: str,
                stale_check: bool) -> list[str]:
    """Problems with the newest bar of the traded symbols (empty = sound)."""
    if history.empty:
        return [f"no bars at or before {expected_bar_date(as_of, execution_time).date()} in the data"]
    last = history.iloc[-1]
    problems = []
    when = history.index[-1].date()
    for sym in symbols:
        for fld in ("open", "close"):
            v = last.get((sym, fld))
            if v is None or not (isinstance(v, float | int) and math.isfinite(v) and v > 0):
                problems.append(f"{sym} {fld} on {when} is {v!r} (missing or corrupt)")
    if stale_check and not last_bar_is_fresh(history.index[-1], as_of, execution_time):
        need = expected_bar_date(as_of, execution_time).date()
        problems.append(
            f"stale data: the newest bar is {when}; a decision at {execution_time} on {as_of} needs the {need} bar"
        )
    return problems


_DAY_NS = 86_400 * 10**9


class _PanelView:
    """Positional lookups into one panel, built once per panel object (a replay passes the same
    panel to every session). Only structure is cached (index stamps, column positions); values
    are read from the panel at each session, so the fast paths see exactly what pandas would."""

    __slots__ = ("ref", "shape", "index", "columns", "stamps", "pos", "symbols")

    def __init__(self, panel: pd.DataFrame) -> None:
        import weakref

        self.ref = weakref.ref(panel)
        self.shape = panel.shape
        self.index = panel.index
        self.columns = panel.columns
        self.stamps = panel.index.as_unit("ns").asi8
        self.pos = {c: j for j, c in enumerate(panel.columns)}
        self.symbols = list(dict.fromkeys(panel.columns.get_level_values(0)))

    def matches(self, panel: pd.DataFrame) -> bool:
        return (self.ref() is panel and self.shape == panel.shape and self.index is panel.index
                and self.columns is panel.columns)


_PANEL_VIEW: list[_PanelView | None] = [None]


def _panel_view(panel: pd.DataFrame) -> _PanelView | None:
    """The cached view of ``panel``, or None when the fast paths do not apply to it (they need a
    unique, sorted UTC DatetimeIndex and unique two-level columns; anything else takes pandas)."""
    view = _PANEL_VIEW[0]
    if view is not None and view.matches(panel):
        return view
    idx, cols = panel.index, panel.columns
    if not (isinstance(idx, pd.DatetimeIndex) and str(idx.tz) == "UTC" and idx.is_unique
            and idx.is_monotonic_increasing and isinstance(cols, pd.MultiIndex) and cols.nlevels == 2
            and cols.is_unique and panel.shape[0] > 0 and panel.shape[1] > 0):
        return None
    view = _PanelView(panel)
    _PANEL_VIEW[0] = view
    return view


def _float_values(panel: pd.DataFrame) -> Any:
    """The panel's values as a float64 array (a view for one float block), else None."""
    import numpy as np

    arr = panel.to_numpy()
    return arr if arr.dtype == np.float64 else None


@lru_cache(maxsize=65536)
def _utc_midnight_ns(day: dt.date) -> int:
    return pd.Timestamp(day, tz="UTC").value


def _sound_bar_fast(view: _PanelView, values: Any, end: int, symbols: list[str], expected_ns: int,
                    stale_check: bool) -> bool:
    """True when :func:`_bar_checks` would find no problem (False: let it say what is wrong)."""
    if end <= 0:
        return False
    row = values[end - 1]
    pos = view.pos
    for sym in symbols:
        for fld in ("open", "close"):
            j = pos.get((sym, fld))
            if j is None:
                return False
            v = row[j]
            if not (math.isfinite(v) and v > 0):
                return False
    if stale_check:
        last = int(view.stamps[end - 1])
        if last - last % _DAY_NS < expected_ns:
            return False
    return True


def _execution_prices_fast(view: _PanelView, values: Any, as_of: dt.date, execution_time: str,
                           symbols: list[str]) -> tuple[dict[str, Decimal], dict[str, Decimal]] | None:
    """:func:`_execution_prices` by position when the session's bar is in the panel, else None."""
    stamp = _utc_midnight_ns(as_of)
    stamps = view.stamps
    i = int(stamps.searchsorted(stamp, side="left"))
    if i >= len(stamps) or stamps[i] != stamp:
        return None
    fld = "open" if execution_time in _OPEN_TIMES else "close"
    pos = view.pos
    row = values[i]
    prices: dict[str, Decimal] = {}
    marks: dict[str, Decimal] = {}
    for sym in symbols:
        jc = pos.get((sym, "close"))
        if jc is None:
            continue
        jf = pos.get((sym, fld))
        if jf is None:
            return None  # pandas raises a KeyError here; let it
        px = row[jf]
        mk = row[jc]
        if math.isfinite(px) and px > 0:
            prices[sym] = _dec(px)
        if math.isfinite(mk) and mk > 0:
            marks[sym] = _dec(mk)
    return prices, marks


def _execution_prices(panel: pd.DataFrame, as_of: dt.date, execution_time: str, symbols: list[str],
                      notes: list[str]) -> tuple[dict[str, Decimal], dict[str, Decimal]]:
    """(execution prices, marks for valuation) per symbol; see the module doc for fallbacks."""
    stamp = pd.Timestamp(as_of, tz="UTC")
    fld = "open" if execution_time in _OPEN_TIMES else "close"
    prices: dict[str, Decimal] = {}
    marks: dict[str, Decimal] = {}
    have_bar = stamp in panel.index
    for sym in symbols:
        if (sym, "close") not in panel.columns:
            continue
        if have_bar:
            px = panel.at[stamp, (sym, fld)]
            mk = panel.at[stamp, (sym, "close")]
        else:
            col = panel[(sym, "close")].loc[:stamp].dropna()
            px = mk = col.iloc[-1] if len(col) else float("nan")
        if isinstance(px, float) and math.isfinite(px) and px > 0:
            prices[sym] = _dec(px)
        if isinstance(mk, float) and math.isfinite(mk) and mk > 0:
            marks[sym] = _dec(mk)
    if not have_bar:
        notes.append(f"the {as_of} bar is not in the data: prices are the last available close")
    return prices, marks


# --------------------------------------------------------------------------- the session


def run_session(
    params: DailyDryRunParams,
    *,
    ledger: Ledger,
    broker: Broker,
    clock: Clock,
    data: Dataset | pd.DataFrame | None = None,
    strategy: Strategy | None = None,
    check_consistency: bool | None = None,
    notebook_run_id: str | None = None,
) -> SessionResult:
    """Run one decision slot (see the module doc); safe to call again after any crash.

    ``data``: a :class:`~toolkit.data.dataset.Dataset` or its panel (loaded from
    ``params.data`` when omitted; a replay passes it once for every session).
    ``strategy``: an instance to reuse across sessions (a replay's, so a stateful
    strategy keeps its cache); created from the params when omitted.
    ``check_consistency`` (default ``params.check_consistency``) re-derives the
    account from its fills at the end and compares broker and ledger positions.

    Raises :class:`SessionError` (nothing sent, the run recorded as failed) on data
    that is missing, corrupt or stale, and on a broker/ledger mismatch it cannot
    reconcile.
    """
    from toolkit.strategies import registry

    mode = params.mode
    if broker.mode.value != mode:
        raise SessionError(f"broker mode {broker.mode.value} differs from params mode {mode}; nothing was sent")
    if strategy is None:
        strategy = registry.create(params.strategy, params.strategy_params, symbols=params.data.symbols)
    panel: pd.DataFrame | None = None
    if data is not None:
        panel = data if isinstance(data, pd.DataFrame) else data.panel
    as_of = params.as_of
    if as_of is None:
        if panel is None:
            panel = _load_data(params, strategy).panel
        as_of = _as_of(params, panel)
    from toolkit.ledger import LedgerError, make_run_key

    run_key = make_run_key(params.strategy, params.account, as_of, params.execution_time)
    result = SessionResult(run_key, as_of, params.execution_time, mode, COMPLETED)
    now = clock.now().to_pydatetime()

    existing = ledger.get_run(run_key)
    if existing is not None and existing.status in (COMPLETED, MARKET_CLOSED):
        result.status = ALREADY_DONE if existing.status == COMPLETED else MARKET_CLOSED
        result.messages.append(
            f"already done: run {run_key} is {existing.status} in the ledger; nothing was sent"
        )
        result.orders = _run_orders(ledger, run_key)
        return result

    if not is_session(as_of):
        with ledger.transaction():
            ledger.start_run(run_key, mode=mode, notebook_run_id=notebook_run_id, at=now)
            ledger.finish_run(run_key, MARKET_CLOSED, summary={"message": f"{as_of} is not an NYSE session"}, at=now)
        result.status = MARKET_CLOSED
        result.messages.append(f"market closed: {as_of} is not an NYSE session; nothing was traded or changed")
        return result

    if panel is None:
        panel = _load_data(params, strategy).panel
    check = params.check_consistency if check_consistency is None else check_consistency
    if existing is not None:
        result.resumed = True
        result.messages.append(f"resuming run {run_key} (it was {existing.status})")

    # -- data: bars the decision may see ------------------------------------------
    # ``view``: positional lookups cached per panel (same values as the pandas lookups below,
    # which still run whenever the fast path is not sure: a problem to report, a missing bar).
    view = _panel_view(panel)
    values = _float_values(panel) if view is not None else None
    if values is None:
        view = None
    cutoff = pd.Timestamp(expected_bar_date(as_of, params.execution_time).date(), tz="UTC")
    if view is not None:
        end = int(view.stamps.searchsorted(cutoff.value, side="right"))
    else:
        end = int(panel.index.searchsorted(cutoff, side="right"))
    history = panel.iloc[:end]
    # Optional instruments absent from the data (v3.5b's bond leg on the sample) are off.
    if view is not None:
        traded = [s for s in strategy.instruments() if (s, "close") in view.pos]
    else:
        traded = [s for s in strategy.instruments() if (s, "close") in panel.columns]
    if view is not None and _sound_bar_fast(view, values, end, traded, cutoff.value, params.guards.stale_bar_check):
        problems = []
    else:
        problems = _bar_checks(history, traded, as_of, params.execution_time, params.guards.stale_bar_check)
    if problems:
        msg = ("; ".join(problems) + ". No order was sent: update the data (or fix the bad bar) and run again, "
               "or choose an as_of the data covers")
        _fail_run(ledger, run_key, mode, msg, now, notebook_run_id)
        raise SessionError(msg)

    notes: list[str] = []
    fast = None
    if view is not None:
        all_symbols = view.symbols
        fast = _execution_prices_fast(view, values, as_of, params.execution_time, all_symbols)
    else:
        all_symbols = list(dict.fromkeys(panel.columns.get_level_values(0)))
    prices, marks = fast if fast is not None else _execution_prices(panel, as_of, params.execution_time,
                                                                      all_symbols, notes)
    result.prices = prices
    result.messages.extend(notes)

    # -- decide (always: the report shows the context even when resuming) ---------
    decision = strategy.decide(history)
    result.decision = decision
    risk = RiskEngine(params.guards, clock=clock)

    # Phase A, one transaction: open the run, fund a new account, plan and record every
    # order as ``new``. A session without orders also records its snapshot and closes
    # here, so a quiet day costs one commit.
    done = False
    with ledger.transaction():
        ledger.start_run(run_key, mode=mode, notebook_run_id=notebook_run_id, at=now)
        try:
            cash = ledger.cash(params.account, mode)
        except LedgerError:  # never funded: the first session of this account
            cash = ledger.set_initial_cash(params.account, mode, Decimal(str(params.initial_cash)), at=now)
        perf = ledger.get_state(_perf_key(params.strategy, params.account, mode)) or {}
        position_records = ledger.positions(params.account, mode)
        positions = {s: p.quantity for s, p in position_records.items()}
        result.current_positions = dict(positions)
        planned = _run_orders(ledger, run_key) if existing is not None else []
        if not planned and not decision.rebalance and not perf:
            # The account's first session: establish the targets rather than wait for the
            # strategy's next rebalance (which may be weeks away) holding only cash.
            from dataclasses import replace

            decision = replace(decision, rebalance=True)
            result.decision = decision
            result.messages.append("first session of this account: trading to the strategy's current targets")
        if planned:
            result.messages.append(f"{len(planned)} order(s) of this run are already in the ledger: resuming them")
        else:
            _plan(params, result, ledger, risk, decision, positions, cash, prices, marks, history, perf, run_key, now)
            planned = _run_orders(ledger, run_key) if result.guard_report and result.guard_report.allowed else []
        pending = [o for o in planned if o["status"] not in ("filled", "cancelled", "rejected")]
        if not pending:
            result.orders = planned
            known = (position_records, cash) if not planned else None
            result.snapshot = _snapshot(params, ledger, decision, marks, perf, as_of, now, known=known)
            done = True
            if not check:
                _finish(ledger, result, now)
    if done:
        if check:
            _check_into(result, params, ledger, broker, marks)
            _finish(ledger, result, now)
        return result
    _crash_point("order_recorded")

    # -- execute -------------------------------------------------------------------
    volumes = _session_volumes(history, [o["symbol"] for o in pending]) if params.broker.max_participation else None
    _execute(params, ledger, broker, risk, pending, prices, clock, now, volumes)
    result.orders = _run_orders(ledger, run_key)

    # -- snapshot and close --------------------------------------------------------
    result.snapshot = _snapshot(params, ledger, decision, marks, perf, as_of, now)
    _crash_point("snapshot_recorded")
    if check:
        _check_into(result, params, ledger, broker, marks)
    _finish(ledger, result, now)
    return result


def _check_into(result: SessionResult, params: DailyDryRunParams, ledger: Ledger, broker: Broker,
                marks: dict[str, Decimal]) -> None:
    result.problems = _check(params, ledger, broker, marks)
    if result.problems:
        result.messages.append("ledger check found problems: " + "; ".join(result.problems))


def _finish(ledger: Ledger, result: SessionResult, now: dt.datetime) -> None:
    """Close the run as completed with its summary (the last write of a session)."""
    if result.orders:
        result.fills = _run_fills(ledger, [o["client_order_id"] for o in result.orders])
    elif result.decision is not None and not result.decision.rebalance:
        result.messages.append("no rebalance today: the strategy keeps its targets")
    equity = result.snapshot.equity if result.snapshot is not None else None
    result.messages.append(f"completed: {len(result.orders)} order(s), {len(result.fills)} fill(s), equity {equity}")
    ledger.finish_run(result.run_key, COMPLETED, summary=_json_safe(result.summary()), at=now)


def _fail_run(ledger: Ledger, run_key: str, mode: str, msg: str, now: dt.datetime, nb: str | None) -> None:
    with ledger.transaction():
        ledger.start_run(run_key, mode=mode, notebook_run_id=nb, at=now)
        ledger.finish_run(run_key, "failed", summary={"error": msg}, at=now)
        ledger.audit("session_stopped", {"run_key": run_key, "reason": msg}, at=now)


def _run_orders(ledger: Ledger, run_key: str) -> list[dict[str, Any]]:
    """The orders of one run in recording order (sells were recorded first)."""
    df = ledger.orders(run_key=run_key)
    return df.to_dict("records") if len(df) else []


def _run_fills(ledger: Ledger, coids: list[str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for coid in coids:
        df = ledger.fills(client_order_id=coid)
        out.extend(df.to_dict("records"))
    return out


def _plan(
    params: DailyDryRunParams,
    result: SessionResult,
    ledger: Ledger,
    risk: RiskEngine,
    decision: Decision,
    positions: dict[str, Decimal],
    cash: Decimal,
    prices: dict[str, Decimal],
    marks: dict[str, Decimal],
    history: pd.DataFrame,
    perf: dict[str, Any],
    run_key: str,
    now: dt.datetime,
) -> None:
    """Decision -> intents -> guards -> every allowed order ``new`` in ONE transaction."""
    if not decision.rebalance:
        return
    kill = ledger.kill_switch()
    if kill.on:
        risk.engage_kill_switch(f"ledger kill switch: {kill.reason}")
    costs = CostModel(slippage_bps=_dec(params.costs.slippage_bps), fee_bps=_dec(params.costs.fees_bps),
                      fixed_fee=_dec(params.costs.fixed_fee))
    value_prices = {**marks, **prices}
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
    result.intents = list(intents)
    result.skipped = list(intents.skipped)
    equity = cash + sum((q * value_prices[s] for s, q in positions.items() if q), Decimal(0))
    same_day = perf.get("session") == result.session_date.isoformat()
    sod = perf.get("prev_equity") if same_day else perf.get("equity")
    peak = perf.get("prev_peak") if same_day else perf.get("peak")
    portfolio = PortfolioState(
        cash=cash, positions=positions, equity=equity,
        start_of_day_equity=None if sod is None else Decimal(sod),
        peak_equity=None if peak is None else Decimal(peak),
    )
    last_ts = {s: history[(s, "close")].last_valid_index() for s in {i.symbol for i in intents}}
    market = MarketState(prices=value_prices, session_date=result.session_date,
                         execution_time=params.execution_time, last_bar_ts=last_ts, now=pd.Timestamp(now))
    report = risk.check(list(intents), portfolio, market)
    result.guard_report = report
    result.blocked = report.reasons
    with ledger.transaction():
        for halt in report.halts:
            ledger.audit("guard_halt", {"run_key": run_key, "guard": halt.guard, "reason": halt.reason}, at=now)
        if not report.halts:
            for b in report.blocked:
                ledger.audit("guard_block", {"run_key": run_key, "guard": b.guard, "reason": b.reason,
                                             "order": b.intent.describe()}, at=now)
        for i in report.allowed:
            coid = client_order_id(params.strategy, params.account, result.session_date, params.execution_time,
                                   i.symbol, i.side)
            ledger.record_order(
                client_order_id=coid, run_key=run_key, mode=params.mode, strategy=params.strategy,
                account=params.account, symbol=i.symbol, side=i.side.value, quantity=i.quantity,
                decision_price=i.reference_price, reason=i.reason[:500], at=now,
            )
    if report.halts:
        result.messages.append("halted, no order sent: " + "; ".join(h.reason for h in report.halts))
    elif report.blocked:
        result.messages.append("blocked by guards: " + "; ".join(b.reason for b in report.blocked))


def _execute(
    params: DailyDryRunParams,
    ledger: Ledger,
    broker: Broker,
    risk: RiskEngine,
    pending: list[dict[str, Any]],
    prices: dict[str, Decimal],
    clock: Clock,
    now: dt.datetime,
    volumes: dict[str, float] | None = None,
) -> None:
    """Send each pending ledger order (unless the broker has it already) and record the outcome.

    With a participation cap (``volumes`` given) an order may fill only in part; the
    session then ends at the broker, which cancels the remainders, and the ledger
    records those cancellations.
    """
    set_market = getattr(broker, "set_market", None)
    if set_market is not None:
        set_market({s: p for s, p in prices.items()}, volumes, at=clock.now())
    persist = hasattr(broker, "to_dict")
    for o in pending:
        coid = o["client_order_id"]
        known = broker.get_order(coid)
        if known is None:
            quote = prices.get(o["symbol"])
            ref = o["decision_price"]
            if quote is not None and ref is not None and not risk.slippage_ok(ref, quote):
                reason = (f"slippage_abort: {o['side']} {o['quantity']} {o['symbol']} quote {quote} vs decision "
                          f"price {ref} > limit {risk.settings.slippage_abort}")
                with ledger.transaction():
                    ledger.transition_order(coid, "cancelled", reason, at=now)
                    ledger.audit("guard_block", {"guard": "slippage_abort", "reason": reason}, at=now)
                continue
            broker.submit_order(Order(
                client_order_id=coid, symbol=o["symbol"], side=o["side"], quantity=o["quantity"],
                reference_price=ref, mode=params.mode, reason=o["reason"] or "", created_at=clock.now(),
            ))
            _crash_point("broker_submitted")
        _record_outcome(ledger, broker, coid, now, persist, params)
        _crash_point("fills_recorded")
    if volumes is not None and hasattr(broker, "end_session"):
        broker.end_session()
        for o in pending:
            if broker.get_order(o["client_order_id"]) is not None:
                _record_outcome(ledger, broker, o["client_order_id"], now, persist, params)


def _session_volumes(history: pd.DataFrame, symbols: list[str]) -> dict[str, float]:
    """The session bar's volume per symbol (the participation cap's denominator).

    Daily bars carry the whole session's volume, also at ``open``: the cap is a
    liquidity model of the day, not a forecast the strategy decides on.
    """
    out: dict[str, float] = {}
    for sym in dict.fromkeys(symbols):
        if (sym, "volume") in history.columns:
            v = history[(sym, "volume")].iloc[-1]
            if pd.notna(v):
                out[sym] = float(v)
    return out


def _record_outcome(ledger: Ledger, broker: Broker, coid: str, now: dt.datetime, persist: bool,
                    params: DailyDryRunParams) -> None:
    """Broker's view of one order -> ledger (fills idempotent on fill_id) + broker state, atomically."""
    from toolkit.ledger.types import quantize

    bo = broker.get_order(coid)
    if bo is None:  # pragma: no cover - a broker that forgot an order it acknowledged
        raise SessionError(f"order {coid}: the broker does not know it after submit; check the broker, then run again")
    with ledger.transaction():
        stored = ledger.get_order(coid)
        assert stored is not None
        if stored.status == "new" and bo.status in (OrderStatus.SUBMITTED, OrderStatus.PARTIALLY_FILLED,
                                                    OrderStatus.FILLED):
            ledger.transition_order(coid, "submitted", broker_order_id=bo.broker_order_id, at=now)
        for f in broker.get_fills(coid):
            # The broker computes at 50 digits; the ledger stores 6 places (Numeric(18, 6)).
            ledger.record_fill(coid, f.fill_id, quantize(f.quantity), quantize(f.price), quantize(f.fee), at=now)
        after = ledger.get_order(coid)
        assert after is not None
        if bo.status is OrderStatus.REJECTED and after.status == "new":
            ledger.transition_order(coid, "rejected", bo.status_reason, broker_order_id=bo.broker_order_id, at=now)
        elif bo.status is OrderStatus.CANCELLED and after.status in ("new", "submitted", "partially_filled"):
            ledger.transition_order(coid, "cancelled", bo.status_reason, at=now)
        if persist:
            ledger.set_state(broker_state_key(params.account, params.mode), broker.to_dict(), at=now)


def _snapshot(
    params: DailyDryRunParams,
    ledger: Ledger,
    decision: Decision,
    marks: dict[str, Decimal],
    perf: dict[str, Any],
    as_of: dt.date,
    now: dt.datetime,
    *,
    known: tuple[dict[str, Any], Decimal] | None = None,
) -> Snapshot:
    """End-of-session performance, idempotent for a re-recorded session (see ``perf`` state).

    ``known``: (positions, cash) already read in this transaction (a session without
    orders), which saves two queries per quiet session of a replay.
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
    from toolkit.ledger.types import quantize

    # Fractional lots (crypto steps) times prices carry more than the ledger's 6 places.
    equity = quantize(cash + sum((p.quantity * marks[s] for s, p in positions.items()), Decimal(0)))
    initial = Decimal(perf["initial"]) if perf.get("initial") else ledger.initial_cash(account, mode)
    same_day = perf.get("session") == as_of.isoformat()
    prev_equity = perf.get("prev_equity") if same_day else perf.get("equity")
    prev_peak = perf.get("prev_peak") if same_day else perf.get("peak")
    prev = Decimal(prev_equity) if prev_equity is not None else initial
    peak = max(Decimal(prev_peak) if prev_peak is not None else initial, equity)
    ctx = _json_safe(decision.context)
    cell = ctx.get("cell") if isinstance(ctx, dict) else None
    with ledger.transaction():
        snap = ledger.record_snapshot(
            account=account, mode=mode, strategy=params.strategy, session_date=as_of, equity=equity, cash=cash,
            daily_return=float(equity / prev - 1) if prev > 0 else None,
            cumulative_return=float(equity / initial - 1) if initial > 0 else None,
            drawdown=float(equity / peak - 1) if peak > 0 else None,
            strategy_cell=None if cell is None else str(cell),
            context={"decision": ctx, "target_weights": _json_safe(decision.target_weights),
                     "rebalance": bool(decision.rebalance), "mode": mode,
                     "marks": {s: str(marks[s]) for s in sorted(positions)}},
            at=now,
        )
        ledger.set_state(_perf_key(params.strategy, account, mode), {
            "session": as_of.isoformat(), "equity": str(equity), "peak": str(peak), "initial": str(initial),
            "prev_equity": None if prev_equity is None else str(prev_equity),
            "prev_peak": None if prev_peak is None else str(prev_peak),
        }, at=now)
    return snap


def _check(params: DailyDryRunParams, ledger: Ledger, broker: Broker, marks: dict[str, Decimal]) -> list[str]:
    """Ledger invariants plus broker vs ledger positions (the reconciliation a live run also needs)."""
    problems = list(ledger.check_consistency(params.account, params.mode, marks))
    lpos = {s: p.quantity for s, p in ledger.positions(params.account, params.mode).items()}
    bpos = {s: q for s, q in broker.get_positions().items() if q}
    for sym in sorted(set(lpos) | set(bpos)):
        if lpos.get(sym, Decimal(0)) != bpos.get(sym, Decimal(0)):
            problems.append(f"position {sym}: ledger {lpos.get(sym, 0)} vs broker {bpos.get(sym, 0)}")
    return problems


def run_daily(
    params: DailyDryRunParams,
    *,
    data: Dataset | pd.DataFrame | None = None,
    notebook_run_id: str | None = None,
) -> SessionResult:
    """The scheduled dry run: open the ledger, restore the simulated broker, run ``as_of``.

    The clock is fixed at the execution instant of the session (see
    :func:`session_clock`), so a re-run writes exactly what the first run wrote.
    ``params.db_url`` (else ``$TOOLKIT_DB_URL``, else outputs/ledger.sqlite) names
    the ledger; a ledger written by a newer toolkit is refused before anything runs.
    """
    from toolkit.ledger import LedgerError, open_ledger
    from toolkit.strategies import registry

    try:
        ledger = open_ledger(params.db_url)
    except LedgerError as exc:
        raise SessionError(f"{exc}. No order was sent") from None
    try:
        strategy = registry.create(params.strategy, params.strategy_params, symbols=params.data.symbols)
        if data is None:
            data = _load_data(params, strategy)
        panel = data if isinstance(data, pd.DataFrame) else data.panel
        if params.as_of is None:
            params = params.model_copy(update={"as_of": _as_of(params, panel)})
        broker = load_simulated_broker(ledger, params)
        return run_session(params, ledger=ledger, broker=broker, clock=session_clock(params.as_of, params.execution_time),
                           data=panel, strategy=strategy, notebook_run_id=notebook_run_id)
    finally:
        ledger.close()


# --------------------------------------------------------------------------- report helpers


def load_data(params: DailyDryRunParams) -> Dataset:
    """The bars of ``params.data`` (with the strategy's optional symbols), or a SessionError."""
    from toolkit.strategies import registry

    strategy = registry.create(params.strategy, params.strategy_params, symbols=params.data.symbols)
    return _load_data(params, strategy)


def ledger_tables(params: DailyDryRunParams) -> dict[str, pd.DataFrame]:
    """Snapshots (the equity curve) and the audit log of the params' ledger, for the report."""
    from toolkit.ledger import open_ledger

    with open_ledger(params.db_url) as ledger:
        return {
            "snapshots": ledger.snapshots(account=params.account, mode=params.mode, strategy=params.strategy),
            "audit": ledger.audit_log(200),
        }


def portfolio_table(result: SessionResult) -> pd.DataFrame:
    """Per instrument: target weight, weight before the session, quantity before and after."""
    d = result.decision
    targets = dict(d.target_weights) if d is not None else {}
    before = result.current_positions
    after: dict[str, Decimal] = dict(before)
    for f in result.fills:
        sign = 1 if f["side"] == "buy" else -1
        after[f["symbol"]] = after.get(f["symbol"], Decimal(0)) + sign * f["quantity"]
    equity = result.snapshot.equity if result.snapshot is not None else None
    rows = []
    for sym in sorted(set(targets) | set(before) | set(after)):
        px = result.prices.get(sym)
        qty0 = before.get(sym, Decimal(0))
        qty1 = after.get(sym, Decimal(0))
        rows.append({
            "symbol": sym,
            "target_weight": targets.get(sym, 0.0),
            "weight_before": float(qty0 * px / equity) if px is not None and equity else None,
            "weight_after": float(qty1 * px / equity) if px is not None and equity else None,
            "quantity_before": qty0,
            "quantity_after": qty1,
            "price": px,
        })
    return pd.DataFrame(rows, columns=["symbol", "target_weight", "weight_before", "weight_after",
                                       "quantity_before", "quantity_after", "price"])


def write_outputs(result: SessionResult, output_dir: str | Path, *, fingerprint: str | None = None) -> list[Path]:
    """orders.csv, fills.csv, snapshot.json and run_info.json (the runner folds it into the manifest)."""
    import json

    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    order_cols = ["client_order_id", "symbol", "side", "quantity", "status", "decision_price", "filled_quantity",
                  "broker_order_id", "mode", "reason", "created_at"]
    fill_cols = ["fill_id", "client_order_id", "symbol", "side", "quantity", "price", "fees", "mode", "at"]
    pd.DataFrame(result.orders, columns=order_cols).to_csv(out / "orders.csv", index=False)
    pd.DataFrame(result.fills, columns=fill_cols).to_csv(out / "fills.csv", index=False)
    snap = result.snapshot
    body = {
        **_json_safe(result.summary()),
        "snapshot": None if snap is None else {
            "session_date": snap.session_date.isoformat(), "equity": str(snap.equity), "cash": str(snap.cash),
            "daily_return": snap.daily_return, "cumulative_return": snap.cumulative_return,
            "drawdown": snap.drawdown, "strategy_cell": snap.strategy_cell, "mode": snap.context.get("mode")
            if isinstance(snap.context, dict) else result.mode,
        },
        "context": None if result.decision is None else _json_safe(result.decision.context),
    }
    (out / "snapshot.json").write_text(json.dumps(body, indent=2, sort_keys=True))
    info = {"data_fingerprint": fingerprint, "session": {"run_key": result.run_key, "status": result.status,
                                                         "mode": result.mode}}
    (out / "run_info.json").write_text(json.dumps(info, indent=2))
    return [out / n for n in ("orders.csv", "fills.csv", "snapshot.json", "run_info.json")]
