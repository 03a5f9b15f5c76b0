"""Parameter grids, walk-forward folds and overfitting statistics.

Research code only: nothing here imports a broker, vectorbt or plotly, so it is
cheap to import and pure numpy/scipy/pandas.

* :mod:`toolkit.optimize.grid` -- :func:`expand_grid`, :func:`filter_valid`,
  :func:`chunks`: the parameter combinations a sweep runs.
* :mod:`toolkit.optimize.folds` -- :func:`walk_forward_folds`: rolling or anchored
  in-sample / out-of-sample windows.
* :mod:`toolkit.optimize.overfitting` -- :func:`probabilistic_sharpe_ratio`,
  :func:`deflated_sharpe_ratio` (and :func:`deflated_sharpe_from_trials`, the
  walk-forward's), :func:`probability_of_backtest_overfitting`: how much of the best
  backtest survives the search that found it.
"""

from toolkit.optimize.folds import Fold, folds_table, walk_forward_folds
from toolkit.optimize.grid import FilteredGrid, OptimizeInputError, chunks, expand_grid, filter_valid
from toolkit.optimize.overfitting import (
    PBO,
    DeflatedSharpe,
    ProbabilisticSharpe,
    deflated_sharpe_from_trials,
    deflated_sharpe_ratio,
    expected_max_sharpe,
    per_period_sharpe,
    probabilistic_sharpe,
    probabilistic_sharpe_ratio,
    probability_of_backtest_overfitting,
)

__all__ = [
    "PBO",
    "DeflatedSharpe",
    "FilteredGrid",
    "Fold",
    "OptimizeInputError",
    "ProbabilisticSharpe",
    "chunks",
    "deflated_sharpe_from_trials",
    "deflated_sharpe_ratio",
    "expand_grid",
    "expected_max_sharpe",
    "filter_valid",
    "folds_table",
    "per_period_sharpe",
    "probabilistic_sharpe",
    "probabilistic_sharpe_ratio",
    "probability_of_backtest_overfitting",
    "walk_forward_folds",
]
