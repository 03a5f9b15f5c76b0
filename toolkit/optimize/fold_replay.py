"""One combination of one walk-forward fold, re-run the way the walk-forward ran it.

The walk-forward keeps metrics, not curves: every fold's grid is measured in vectorised
chunks and only the choices trade out of sample. To look at any point of a fold's
in-sample heatmap (``walk_forward.ipynb``'s explorer), :func:`replay_fold` runs that
combination again with the walk-forward's own steps, so what it shows is what the
walk-forward measured, to the bit:

* **in sample**: the fold's task for that one combination
  (:func:`~toolkit.optimize.walk_forward.in_sample_task`), simulated by
  :func:`~toolkit.optimize.evaluate.simulate_task` and measured by
  :func:`~toolkit.optimize.evaluate.portfolio_metrics`: the figures of ``trials``;
* **out of sample**: the stitched record (:func:`~toolkit.optimize.walk_forward.stitch_oos`)
  with this fold trading the combination and every other fold its own choice, cut to
  the fold's window (:func:`~toolkit.optimize.walk_forward.slice_result`). The fold
  starts from the portfolio the previous fold ended with, as it did in the record;
  for the fold's chosen combination this is the record itself, so its metrics are the
  fold table's ``oos_`` figures.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from toolkit.backtest.metrics import compute_metrics
from toolkit.errors import ParamsError
from toolkit.optimize.evaluate import METRICS, portfolio_metrics, simulate_task
from toolkit.optimize.grid import combination
from toolkit.optimize.walk_forward import in_sample_task, slice_result, stitch_oos
from toolkit.strategies import registry

if TYPE_CHECKING:  # pragma: no cover
    from toolkit.optimize.walk_forward import WalkForwardReport

__all__ = ["FoldReplay", "chosen_combinations", "replay_fold"]


@dataclass(frozen=True)
class FoldReplay:
    """A combination's in-sample and out-of-sample run in one fold.

    ``in_sample_metrics`` holds the ``trials`` metrics plus ``objective``;
    ``out_of_sample_metrics`` the fold table's ``oos_`` metrics (NaN where undefined)
    plus ``objective``. ``out_of_sample`` starts from ``out_of_sample_start_equity``,
    the equity the previous fold handed over.
    """

    fold: int
    combination: int
    params: dict[str, Any]
    in_sample: pd.Series
    in_sample_metrics: dict[str, float]
    out_of_sample: pd.Series
    out_of_sample_metrics: dict[str, float]
    out_of_sample_start_equity: float


def chosen_combinations(report: WalkForwardReport) -> dict[int, int | None]:
    """Each fold's chosen combination number (None where none met the constraints)."""
    fr = report.fold_results
    return {int(f): (None if pd.isna(c) else int(c)) for f, c in zip(fr["fold"], fr["combination"], strict=True)}


def replay_fold(report: WalkForwardReport, fold: int, combo: int) -> FoldReplay:
    """Re-run combination ``combo`` (a row label of ``report.grid.grid``) in fold ``fold``.

    ParamsError when the fold or the combination is not one of the run's.
    """
    numbers = [f.number for f in report.folds]
    if fold not in numbers:
        raise ParamsError("fold", fold, f"a fold of this walk-forward, {numbers[0]} to {numbers[-1]}")
    grid = report.grid.grid
    if combo not in grid.index:
        raise ParamsError("combination", combo, f"a combination of the grid ({report.grid.reading()})")
    p = report.params
    bars = report.dataset.panel
    symbols = [s for s in p.data.symbols if s in report.dataset.frames]
    fixed = dict(report.fixed_params)
    params = {**fixed, **combination(grid, combo)}
    position = numbers.index(fold)
    f = report.folds[position]

    task = in_sample_task(p, f, grid.loc[[combo]], fixed=fixed, symbols=tuple(symbols), warmup=report.warmup)
    pf, instruments, trade_bars = simulate_task(task, bars)
    is_arrays, _ = portfolio_metrics(pf, n_combos=1, k=len(instruments), initial_cash=p.initial_cash,
                                     index=trade_bars.index, risk_free_rate=p.risk_free_rate)
    is_metrics = {k: float(is_arrays[k][0]) for k in METRICS}
    is_metrics["objective"] = float(report.objective({k: is_arrays[k] for k in METRICS})[0])
    # One column, or a Series when one combination of several instruments is one group.
    value = np.asarray(pf.value().to_numpy(dtype=float)).reshape(len(trade_bars), -1)[:, 0]
    is_equity = pd.Series(value, index=trade_bars.index, name="equity")

    chosen = chosen_combinations(report)
    fold_params: list[dict[str, Any] | None] = [
        None if (c := chosen[g.number]) is None else {**fixed, **combination(grid, c)} for g in report.folds
    ]
    fold_params[position] = params
    all_instruments = registry.get(p.strategy)({**fixed, **combination(grid, int(grid.index[0]))},
                                               symbols=symbols).instruments()
    stitched, _ = stitch_oos(bars, report.folds, fold_params, strategy=p.strategy, symbols=symbols,
                             instruments=all_instruments, warmup=report.warmup, p=p)
    start = sum(g.n_out_of_sample for g in report.folds[:position])
    piece = slice_result(stitched, start, start + f.n_out_of_sample)
    oos = {k: (np.nan if v is None else v) for k, v in compute_metrics(piece, risk_free_rate=p.risk_free_rate).items()}
    oos_metrics = {k: oos[k] for k in METRICS}
    oos_metrics["objective"] = float(report.objective({k: np.array([oos[k]], dtype=float) for k in METRICS})[0])
    return FoldReplay(
        fold=fold,
        combination=combo,
        params=params,
        in_sample=is_equity,
        in_sample_metrics=is_metrics,
        out_of_sample=piece.equity.rename("equity"),
        out_of_sample_metrics=oos_metrics,
        out_of_sample_start_equity=float(piece.initial_cash),
    )
