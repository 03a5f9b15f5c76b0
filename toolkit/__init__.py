"""Research-to-live trading toolkit.

The package backs the notebooks in ``notebooks/``: data loading and validation
(:mod:`toolkit.data`), strategies (:mod:`toolkit.strategies`), the vectorbt-backed
backtester (:mod:`toolkit.backtest`), parameter files (:mod:`toolkit.params`) and
the papermill runner that archives every run (:mod:`toolkit.runner`).

Heavy libraries (vectorbt, plotly) are imported lazily inside the functions that
need them, so importing ``toolkit`` stays cheap for the daily dry run.
"""

__version__ = "0.1.0"
