"""The research explorers: ``backtest_explorer`` and ``walk_forward_explorer``.

Each notebook ends with one cell calling its explorer with the notebook's own
variables (``p``, ``report``, ``output_dir``). Run by hand (``output_dir`` None) the
explorer returns an object that shows as widgets: controls that re-run the backtest
in place (:class:`~toolkit.widgets.backtest_explorer.BacktestExplorer`), or a fold and
a point of its heatmap with that combination's curves
(:class:`~toolkit.widgets.walk_forward_explorer.WalkForwardExplorer`).

Under papermill (``output_dir`` set) they return None before importing any widget
code: the cell has no output, the archived notebook holds no widget, and the
report is exactly the static one.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from toolkit.backtest.job import BacktestReport
    from toolkit.optimize.walk_forward import WalkForwardReport
    from toolkit.params.backtest import BacktestParams
    from toolkit.params.walk_forward import WalkForwardParams
    from toolkit.widgets.backtest_explorer import BacktestExplorer
    from toolkit.widgets.walk_forward_explorer import WalkForwardExplorer

__all__ = ["backtest_explorer", "walk_forward_explorer"]


def backtest_explorer(
    params: BacktestParams, result: BacktestReport, output_dir: str | Path | None = None
) -> BacktestExplorer | None:
    """Strategy and parameter controls that re-run the backtest and redraw it; None under papermill."""
    if output_dir:
        return None
    from toolkit.widgets.backtest_explorer import BacktestExplorer

    return BacktestExplorer(params, result)


def walk_forward_explorer(
    params: WalkForwardParams, result: WalkForwardReport, output_dir: str | Path | None = None
) -> WalkForwardExplorer | None:
    """Pick a fold and a point of its heatmap to see that combination's curves; None under papermill."""
    if output_dir:
        return None
    from toolkit.widgets.walk_forward_explorer import WalkForwardExplorer

    return WalkForwardExplorer(params, result)
