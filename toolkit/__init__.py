"""Research-to-live trading toolkit.

The package backs the notebooks in ``notebooks/``: data loading and validation
(:mod:`toolkit.data`), strategies (:mod:`toolkit.strategies`), the vectorbt-backed
backtester (:mod:`toolkit.backtest`), parameter files (:mod:`toolkit.params`) and
the papermill runner that archives every run (:mod:`toolkit.runner`).

Heavy libraries (vectorbt, plotly) are imported lazily inside the functions that
need them, so importing ``toolkit`` stays cheap for the daily dry run.
"""

__version__ = "0.1.0"


def _skip_slow_optional_imports() -> None:
    """Keep a 2-3 s optional import out of every run.

    jsonschema (pulled in by nbformat, hence by papermill, nbconvert and plotly)
    probes the optional ``rfc3987_syntax`` package to validate "iri" string formats,
    and that package compiles a grammar when imported: 2.5-3 s on a 2-core machine,
    paid by the runner and again by every fresh papermill kernel. No schema the
    toolkit touches uses "iri" formats (nbformat's does not), so the package is
    marked absent before anything imports jsonschema. Set ``TOOLKIT_KEEP_RFC3987=1``
    to keep it.
    """
    import os
    import sys

    if not os.environ.get("TOOLKIT_KEEP_RFC3987") and "rfc3987_syntax" not in sys.modules:
        sys.modules["rfc3987_syntax"] = None  # type: ignore[assignment]


_skip_slow_optional_imports()
