"""The backtest report's tables (``notebooks/backtest.ipynb``).

:func:`toolkit.backtest.job.run_backtest_job` returns a
:class:`~toolkit.backtest.job.BacktestReport` holding the numbers; how they are shown
lives here, on top of research.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from toolkit.report import tables

if TYPE_CHECKING:  # pragma: no cover
    from toolkit.backtest.job import BacktestReport

__all__ = ["metrics_table", "params_table"]


def metrics_table(report: BacktestReport) -> pd.DataFrame:
    """Strategy and benchmark metrics side by side."""
    return tables.metrics_side_by_side(
        report.metrics,
        report.benchmark_metrics,
        label="strategy",
        benchmark_label=f"buy & hold {report.benchmark_symbol}",
    )


def params_table(report: BacktestReport) -> pd.DataFrame:
    """Resolved params flattened to ``key: value`` rows for the report."""
    return tables.params_table(report.params)
