"""The backtest report's glossary section: the definition of every figure the report shows.

Every metric label and table header of the backtest tearsheet links to ``#metric-...``;
this section holds those anchors (:func:`toolkit.report.glossary.glossary_html`). The
walk-forward's overfitting figures are left out: a backtest shows none of them.
"""

from __future__ import annotations

from toolkit.report.glossary import GLOSSARY, glossary_html

__all__ = ["BACKTEST_GLOSSARY_KEYS", "backtest_glossary_html"]

#: Every glossary entry but the walk-forward's.
BACKTEST_GLOSSARY_KEYS = tuple(k for k, e in GLOSSARY.items() if e.group != "Overfitting (walk-forward)")


def backtest_glossary_html(*, title: str | None = "Metric glossary") -> str:
    """The glossary as an HTML section of the backtest report (``title=None``: the notebook's markdown heads it)."""
    return glossary_html(BACKTEST_GLOSSARY_KEYS, title=title)
