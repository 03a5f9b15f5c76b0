"""Evaluate a :class:`~toolkit.optimize.evaluate.GridTask` through a strategy's fused kernel.

The same inputs and the same :class:`~toolkit.optimize.evaluate.GridResult` as the
vectorbt path's :func:`~toolkit.optimize.evaluate.evaluate_task`: the decision window,
the traded bars and the costs are cut from the task exactly as there, so everything
downstream (walk-forward, overfitting statistics, reports) cannot tell which ran.
"""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from toolkit.optimize.kernels.inputs import prepare_inputs, prepare_market
from toolkit.optimize.kernels.reuse import fingerprint, remember
from toolkit.optimize.kernels.simulate import METRIC_NAMES

if TYPE_CHECKING:
    from toolkit.optimize.evaluate import GridResult, GridTask


def evaluate_fused(task: GridTask, bars: pd.DataFrame, module: ModuleType) -> GridResult:
    """Metrics (and returns when the task keeps them) of every combination of ``task``.

    ``module`` is the strategy's kernel module (:func:`~toolkit.optimize.kernels.kernel_module`);
    its instruments are the task's symbols unless it defines ``instruments(symbols)``.
    The market arrays and the indicator tables of the window are kept for the task's
    other chunks (:mod:`~toolkit.optimize.kernels.reuse`, keyed by the window's content).
    """
    from toolkit.optimize.evaluate import GridResult, strategy_params

    params = strategy_params(task.strategy, task.combos, task.fixed)
    window = bars.iloc[task.decide_start : task.stop]
    trade_bars = bars.iloc[task.start : task.stop]
    symbols = list(task.symbols)
    instruments_of = getattr(module, "instruments", None)
    instruments = instruments_of(symbols) if instruments_of else symbols
    key = fingerprint(window)
    offset = task.start - task.decide_start
    market = remember((key, "market", offset, tuple(instruments), task.fill),
                      lambda: prepare_market(trade_bars, instruments, task.fill))
    sim = prepare_inputs(
        trade_bars,
        instruments,
        trade_start=task.start - task.decide_start,
        initial_cash=task.initial_cash,
        fees_bps=task.fees_bps,
        slippage_bps=task.slippage_bps,
        fill=task.fill,
        risk_free_rate=task.risk_free_rate,
        keep_returns=task.keep_returns,
        market=market,
    )
    _, metrics, returns = module.grid_metrics(params, window, symbols, sim, window_key=f"{key}|{symbols!r}")
    frame = pd.DataFrame(metrics, index=task.combos.index, columns=list(METRIC_NAMES))
    for name in ("n_trades", "n_partial_exits"):
        frame[name] = frame[name].astype(np.int64)
    return GridResult(task.key, task.chunk, frame, returns if task.keep_returns else None)
