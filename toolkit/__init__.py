"""Research-to-live trading toolkit: the small public facade.

>>> import toolkit
>>> p = toolkit.load_params("backtest", "params/backtest/sma_crossover.yaml",
...                         {"strategy_params.fast": 10})           # doctest: +SKIP
>>> report = toolkit.run_backtest(p)                                # doctest: +SKIP
>>> report.metrics["sharpe"]                                        # doctest: +SKIP

The names here are what a notebook or a script needs; everything else lives in the
subpackages (:mod:`toolkit.data`, :mod:`toolkit.strategies`, :mod:`toolkit.backtest`,
:mod:`toolkit.optimize`, :mod:`toolkit.engine`, :mod:`toolkit.ledger`, ...).

Importing ``toolkit`` is cheap and changes nothing outside it: each function imports
its machinery when called (a daily dry run never pays for vectorbt or plotly), and
``Strategy`` / ``register_strategy`` load the strategy base on first access.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, overload

from toolkit.errors import ToolkitError

if TYPE_CHECKING:  # pragma: no cover
    from toolkit.backtest.job import BacktestReport
    from toolkit.engine.replay import ReplayResult
    from toolkit.engine.result import SessionResult
    from toolkit.optimize.executors import ProgressMode
    from toolkit.optimize.walk_forward import WalkForwardReport
    from toolkit.params.backtest import BacktestParams
    from toolkit.params.base import NotebookParams
    from toolkit.params.daily_dry_run import DailyDryRunParams
    from toolkit.params.walk_forward import WalkForwardParams
    from toolkit.strategies.base import Strategy as Strategy
    from toolkit.strategies.registry import register as register_strategy

__version__ = "0.1.0"

__all__ = [
    "Strategy",
    "ToolkitError",
    "load_params",
    "register_strategy",
    "replay",
    "run_backtest",
    "run_daily",
    "run_walk_forward",
]

ParamsSource = str | Path | dict[str, Any]
Overrides = dict[str, Any] | list[str] | None


@overload
def load_params(notebook: Literal["backtest"], source: ParamsSource | None = ...,
                overrides: Overrides = ...) -> BacktestParams: ...
@overload
def load_params(notebook: Literal["walk_forward"], source: ParamsSource | None = ...,
                overrides: Overrides = ...) -> WalkForwardParams: ...
@overload
def load_params(notebook: Literal["daily_dry_run"], source: ParamsSource | None = ...,
                overrides: Overrides = ...) -> DailyDryRunParams: ...
@overload
def load_params(notebook: str, source: ParamsSource | None = ..., overrides: Overrides = ...) -> NotebookParams: ...
def load_params(notebook: str, source: ParamsSource | None = None, overrides: Overrides = None) -> NotebookParams:
    """Validated params of ``notebook`` (backtest, walk_forward, daily_dry_run).

    ``source`` is a YAML file or a dict of raw params (None: the model's defaults);
    ``overrides`` are dotted keys (``{"strategy_params.fast": 10}`` or
    ``["strategy_params.fast=10"]``), applied as ``toolkit run --set`` applies them.
    A bad value raises :class:`~toolkit.errors.ParamsError` naming the field.
    """
    from toolkit import params as tkparams

    if isinstance(source, dict):
        ov = overrides if isinstance(overrides, dict) else tkparams.parse_overrides(overrides)
        return tkparams.validate(notebook, tkparams.apply_overrides(source, ov))
    return tkparams.load(notebook, source, overrides)


def _params(notebook: str, params: Any) -> Any:
    """``params`` as the notebook's model: a model passes through, a path or dict is loaded."""
    from pydantic import BaseModel

    return params if isinstance(params, BaseModel) else load_params(notebook, params)


def run_backtest(params: BacktestParams | ParamsSource) -> BacktestReport:
    """Backtest in process (no papermill, nothing archived): the report object of the notebook."""
    from toolkit.backtest.job import run_backtest_job

    return run_backtest_job(_params("backtest", params))


def run_walk_forward(params: WalkForwardParams | ParamsSource, *,
                     progress: ProgressMode = "auto") -> WalkForwardReport:
    """Walk-forward optimisation in process: folds, choices, stitched out-of-sample, DSR and PBO."""
    from toolkit.optimize.walk_forward import run_walk_forward as run

    return run(_params("walk_forward", params), progress=progress)


def run_daily(params: DailyDryRunParams | ParamsSource) -> SessionResult:
    """One daily dry-run session against the simulated broker, recorded in the params' ledger."""
    from toolkit.engine.daily import run_daily as run

    return run(_params("daily_dry_run", params))


def replay(params: DailyDryRunParams | ParamsSource, start: str | dt.date, end: str | dt.date, *,
           db_url: str | None = None, account: str | None = None) -> ReplayResult:
    """Every session from ``start`` to ``end`` through the daily session loop, in its own account.

    ``db_url`` (else the params' ``db_url``, ``$TOOLKIT_DB_URL``, outputs/ledger.sqlite)
    names the ledger; ``account`` the account (default: the params' account + ``-replay``,
    never the dry run's own). The whole range is checked before anything is written;
    re-running over the same ledger sends nothing twice.
    """
    from toolkit.engine.replay import replay as run
    from toolkit.engine.replay import replay_params
    from toolkit.ledger import open_ledger

    p = replay_params(_params("daily_dry_run", params), account)
    with open_ledger(db_url or p.db_url) as ledger:
        return run(p, start=start, end=end, ledger=ledger)


def __getattr__(name: str) -> Any:
    """``Strategy`` and ``register_strategy``, imported on first access (they pull in numpy)."""
    if name == "Strategy":
        from toolkit.strategies.base import Strategy

        return Strategy
    if name == "register_strategy":
        from toolkit.strategies.registry import register

        return register
    raise AttributeError(f"module 'toolkit' has no attribute {name!r}")
