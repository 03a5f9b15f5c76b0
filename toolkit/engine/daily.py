"""The scheduled daily dry run: open the ledger, load the bars, restore the venue, run one session.

What ``notebooks/daily_dry_run.ipynb`` calls (through :func:`run_daily`), and the
helpers a replay shares with it: :func:`load_data` and :func:`session_clock`.
"""

from __future__ import annotations

import datetime as dt
import functools
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from toolkit.engine.market import MarketCursor
from toolkit.engine.result import SessionError, SessionResult
from toolkit.engine.session import run_session
from toolkit.engine.venue import load_simulated_broker
from toolkit.errors import ToolkitError
from toolkit.time import FixedClock, execution_instant, is_session

if TYPE_CHECKING:  # pragma: no cover
    from toolkit.data.dataset import Dataset
    from toolkit.data.intraday import MinuteBook
    from toolkit.params.daily_dry_run import DailyDryRunParams
    from toolkit.strategies.base import Strategy

__all__ = ["DEFAULT_LEDGER", "THROWAWAY_LEDGER", "choose_ledger", "describe_ledger", "load_data", "load_minutes",
           "run_daily", "session_clock"]

#: The notebook's ``ledger`` choices besides a SQLAlchemy URL (see :func:`choose_ledger`).
THROWAWAY_LEDGER = "throwaway"
DEFAULT_LEDGER = "default"


def choose_ledger(params: DailyDryRunParams, ledger: str | None) -> DailyDryRunParams:
    """``params`` with the ledger a dry-run notebook records its session in, chosen explicitly.

    ``ledger`` is the notebook's parameter:

    * ``"throwaway"`` (or None; the default when the notebook is opened and run by
      hand): the params' ``db_url`` if they name one, else a temporary SQLite ledger
      this kernel deletes when it exits. Trying a notebook never writes into the
      scheduled dry run's ledger by surprise.
    * ``"default"`` (what ``toolkit run`` passes): the params' ``db_url``, else
      ``$TOOLKIT_DB_URL``, else outputs/ledger.sqlite.
    * anything else: a SQLAlchemy URL, used as given.
    """
    if ledger is None or ledger == THROWAWAY_LEDGER:
        return params if params.db_url else params.model_copy(update={"db_url": throwaway_ledger_url()})
    if ledger == DEFAULT_LEDGER:
        return params
    return params.model_copy(update={"db_url": ledger})


@functools.cache
def throwaway_ledger_url() -> str:
    """A SQLite ledger in a temporary folder, the same for the whole process, removed when it exits."""
    import atexit
    import shutil
    import tempfile
    from pathlib import Path

    folder = tempfile.mkdtemp(prefix="toolkit-throwaway-ledger-")
    atexit.register(shutil.rmtree, folder, True)
    return f"sqlite:///{Path(folder) / 'ledger.sqlite'}"


def describe_ledger(params: DailyDryRunParams) -> str:
    """One line for the report: the ledger that holds the session, its URL with any password hidden.

    Without a ``db_url`` in the params the session used ``$TOOLKIT_DB_URL``, else
    outputs/ledger.sqlite: the line names which one it resolved to, as the engine did
    (:func:`toolkit.ledger.db.resolve_url`), so a reader knows where to look.
    """
    from toolkit.ledger.db import resolve_url, shown_url

    url = params.db_url
    if url is not None and throwaway_ledger_url.cache_info().currsize and url == throwaway_ledger_url():
        return ("Ledger: a throwaway one, deleted when the kernel stops (set `ledger = \"default\"` or a URL "
                "in the parameters cell to keep the session).")
    shown = shown_url(resolve_url(url))
    if url is None:
        return f"Ledger: `{shown}` (the default: $TOOLKIT_DB_URL, else outputs/ledger.sqlite)."
    return f"Ledger: `{shown}`."


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


def load_data(params: DailyDryRunParams, strategy: Strategy[Any] | None = None) -> Dataset:
    """The bars of ``params.data`` (with the strategy's optional symbols), or a SessionError saying what to fix."""
    from toolkit.data.dataset import load_dataset
    from toolkit.params import repo_root
    from toolkit.strategies import registry

    if strategy is None:
        strategy = registry.create(params.strategy, params.strategy_params, symbols=params.data.symbols)
    try:
        return load_dataset(params.data, base_dir=repo_root(), optional=strategy.optional_symbols())
    except ToolkitError as exc:
        raise SessionError(
            f"data could not be loaded ({exc}); no order was sent. Fix or refresh the data source named in "
            "data: (source, path, symbols), then run again"
        ) from None


def load_minutes(params: DailyDryRunParams, symbols: list[str], start: Any, end: Any) -> MinuteBook | None:
    """The minute bars of ``data.intraday`` for ``symbols`` over the sessions ``start..end`` (None when unset).

    Only intraday execution times use them (``close`` is priced by the daily bar), so
    nothing is read for a run at ``close``. A source that cannot serve them is a
    SessionError before anything runs.
    """
    from toolkit.data.intraday import MinuteBook, MinuteRequest, minute_sources
    from toolkit.engine.intraday import MINUTE_PRICED_TIMES
    from toolkit.model import ExecutionTime
    from toolkit.params import repo_root

    spec = params.data.intraday
    if spec is None or ExecutionTime.parse(params.execution_time) not in MINUTE_PRICED_TIMES:
        return None
    path = None
    if spec.path is not None:
        path = Path(spec.path) if Path(spec.path).is_absolute() else repo_root() / spec.path
    request = MinuteRequest(list(symbols), pd.Timestamp(start).date(), pd.Timestamp(end).date(), params.data.prices,
                            path, spec.path, spec.feed)
    try:
        return MinuteBook(minute_sources()[spec.source]().load(request))
    except ToolkitError as exc:
        raise SessionError(f"minute bars could not be loaded ({exc}); no order was sent. Fix data.intraday, or "
                           "leave it out to price at the daily bar") from None


def run_daily(
    params: DailyDryRunParams,
    *,
    data: Dataset | pd.DataFrame | None = None,
    notebook_run_id: str | None = None,
) -> SessionResult:
    """The scheduled dry run: open the ledger, apply the account's overrides, load the bars, run ``as_of``.

    The clock is fixed at the execution instant of the session (see
    :func:`session_clock`), so a re-run writes exactly what the first run wrote.
    ``params.db_url`` (else ``$TOOLKIT_DB_URL``, else outputs/ledger.sqlite) names
    the ledger; a ledger written by a newer toolkit is refused before anything runs.
    The account's config overrides in that ledger
    (:mod:`~toolkit.engine.account_overrides`) apply before anything uses the params;
    the bars are loaded after them (``data`` given: used as given) and kept on the
    result (``result.dataset``, None for a bare frame).
    """
    from toolkit.engine.account_overrides import apply_account_overrides
    from toolkit.engine.run_lock import hold_run_lock
    from toolkit.ledger import LedgerError, make_run_key, open_ledger
    from toolkit.strategies import registry

    try:
        ledger = open_ledger(params.db_url)
    except LedgerError as exc:
        raise SessionError(f"{exc}. No order was sent") from None
    try:
        params, overrides = apply_account_overrides("daily_dry_run", params, ledger)
        strategy = registry.create(params.strategy, params.strategy_params, symbols=params.data.symbols)
        if data is None:
            data = load_data(params, strategy)
        market = MarketCursor(data if isinstance(data, pd.DataFrame) else data.panel)
        if params.as_of is None:
            params = params.model_copy(update={"as_of": market.last_date})
        if params.data.intraday is not None:
            market = MarketCursor(market.panel, load_minutes(params, market.symbols, params.as_of, params.as_of))
        run_key = make_run_key(params.strategy, params.account, params.as_of or market.last_date,
                               params.execution_time)
        # One run of this slot at a time (a cron firing, a catch-up, a person): see engine/run_lock.py.
        with hold_run_lock(ledger, run_key, wait_seconds=params.lock_wait_seconds) as lock:
            broker = load_simulated_broker(ledger, params)
            clock = session_clock(params.as_of, params.execution_time)
            result = run_session(params, ledger=ledger, broker=broker, clock=clock, market=market,
                                 strategy=strategy, notebook_run_id=notebook_run_id, overrides=overrides,
                                 notes=lock.notes)
        result.dataset = data if not isinstance(data, pd.DataFrame) else None
        return result
    finally:
        ledger.close()
