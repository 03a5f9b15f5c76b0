"""The full-sample optimum: the grid's best combination chosen with hindsight over every bar.

A walk-forward's stitched out-of-sample record is what parameter selection without
hindsight delivers. The natural yardstick is the opposite: the one combination that
the same objective and constraints pick when they may look at the whole sample,
out-of-sample bars included. The gap between the two curves is what the hindsight
was worth (an in-sample optimum always looks better than anything chosen honestly).

:func:`full_sample_optimum` measures every combination of the walk-forward's grid over
the full sample with the walk-forward's own steps (one :func:`window_task` per chunk,
:func:`~toolkit.optimize.evaluate.evaluate_task`, the run's
:class:`~toolkit.optimize.evaluate.Objective` and constraints, ties to the first in
grid order as in a fold), then re-simulates the winner to keep its equity curve. It
runs on demand (the report calls it); nothing of the walk-forward's archived results
depends on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from toolkit.optimize.evaluate import (
    METRICS,
    chunk_size_for,
    constraint_mask,
    evaluate_task,
    select_best,
    simulate_task,
)
from toolkit.optimize.grid import chunks, combination
from toolkit.optimize.walk_forward import window_task

if TYPE_CHECKING:  # pragma: no cover
    from toolkit.optimize.walk_forward import WalkForwardReport

__all__ = ["FullSampleOptimum", "full_sample_optimum"]


@dataclass(frozen=True)
class FullSampleOptimum:
    """The hindsight choice: its grid row, searched values, objective, metrics and equity curve.

    ``combination`` is None when no combination met the constraints over the full
    sample (then ``equity`` is empty). ``equity`` starts at the initial cash on the
    first bar after the warm-up (the bars every combination's indicators need).
    """

    combination: int | None
    params: dict[str, Any]
    objective: float
    metrics: dict[str, float]
    equity: pd.Series
    n_valid: int


def _searched_metrics(report: WalkForwardReport, tasks: list[Any]) -> pd.DataFrame:
    bars = report.dataset.panel
    return pd.concat([evaluate_task(t, bars).metrics for t in tasks])


def full_sample_optimum(report: WalkForwardReport) -> FullSampleOptimum:
    """Best combination of ``report``'s grid by its objective and constraints over every bar (hindsight)."""
    p = report.params
    bars = report.dataset.panel
    symbols = tuple(s for s in p.data.symbols if s in report.dataset.frames)
    fixed = dict(report.fixed_params)
    grid = report.grid.grid
    start = min(report.warmup, len(bars) - 1)
    tasks = [window_task(p, 0, i, 0, start, len(bars), chunk, fixed=fixed, symbols=symbols)
             for i, chunk in enumerate(chunks(grid, chunk_size_for(p.chunk_size, p.strategy, len(bars))))]
    m = _searched_metrics(report, tasks)
    arrays = {k: m[k].to_numpy() for k in METRICS}
    objective = report.objective(arrays)
    valid = constraint_mask(arrays, p.constraints.as_dict())
    best = select_best(objective, valid)
    if best is None:
        return FullSampleOptimum(None, {}, float("nan"), {}, pd.Series(dtype=float, name="equity"), 0)
    combo = int(m.index[best])
    task = window_task(p, 0, 0, 0, start, len(bars), grid.loc[[combo]], fixed=fixed, symbols=symbols)
    pf, _, trade_bars = simulate_task(task, bars)
    value = np.asarray(pf.value().to_numpy(dtype=float)).reshape(len(trade_bars), -1)[:, 0]
    return FullSampleOptimum(
        combination=combo,
        params=combination(grid, combo),
        objective=float(objective[best]),
        metrics={k: float(m.iloc[best][k]) for k in METRICS},
        equity=pd.Series(value, index=trade_bars.index, name="equity"),
        n_valid=int(valid.sum()),
    )
