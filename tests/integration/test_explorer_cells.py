"""Under papermill the explorer cells leave no trace: the archive is today's static report.

``toolkit run backtest`` and ``toolkit run walk_forward`` on their default params (real
processes, real papermill): the explorer cell is in the executed notebook but has no
output, no widget view appears anywhere in it, and ``report.html`` has exactly the
sections it had before the explorers (the explorer's own heading is tagged
interactive-only and left out). The golden test checks that the numbers did not move.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import nbformat
import pytest

from toolkit.runner import INTERACTIVE_ONLY_TAG

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"

#: The report's headings (h1 title, then h2 sections), both as issue 13 laid them out.
SECTIONS = {
    "backtest": ["Backtest report", "Summary", "Cumulative returns", "Drawdowns", "Yearly returns",
                 "Monthly returns", "Metrics", "Against the benchmark", "Rolling statistics", "Return distribution",
                 "Exposure and holdings", "Trades", "Regime", "Decisions", "Appendix: parameters", "Appendix: data",
                 "Metric glossary"],
    "walk_forward": ["Walk-forward report", "Summary", "Stitched out-of-sample equity",
                     "Degradation: in-sample vs out-of-sample Sharpe", "Against hindsight: the full-sample optimum",
                     "Folds", "Parameter stability", "In-sample vs out-of-sample", "Objective heatmap",
                     "Overfitting diagnostics", "Recommended parameters", "Trials", "Appendix: parameters",
                     "Appendix: data", "Metric glossary"],
}
EXPLORER_CALL = {"backtest": "backtest_explorer(p, report, output_dir)",
                 "walk_forward": "walk_forward_explorer(p, report, output_dir)"}


@pytest.fixture(scope="module", params=["backtest", "walk_forward"])
def archived(request: pytest.FixtureRequest, default_run: Callable) -> tuple[str, Path]:
    """``toolkit run NOTEBOOK`` on its default params (the run the golden test compares, see conftest.py)."""
    notebook = request.param
    return notebook, default_run(notebook).run_dir


def headings(html: str) -> list[str]:
    """The text of the report's h1 and h2 headings, in order (nbconvert adds an anchor link)."""
    found = re.findall(r"<h([12])[^>]*>(.*?)</h\1>", html, flags=re.S)
    return [re.sub(r"<[^>]+>", "", text).replace("¶", "").strip() for _, text in found]


def test_explorer_cell_ran_and_left_no_output(archived: tuple[str, Path]) -> None:
    notebook, run_dir = archived
    nb = nbformat.read(run_dir / "notebook.ipynb", as_version=4)
    cells = [c for c in nb.cells if c.cell_type == "code" and EXPLORER_CALL[notebook] in c.source]
    assert len(cells) == 1
    cell = cells[0]
    assert INTERACTIVE_ONLY_TAG in cell.metadata.get("tags", [])
    assert cell.execution_count is not None  # it ran (and returned None) ...
    assert cell.outputs == []  # ... and showed nothing


def test_no_widget_anywhere_in_the_archived_notebook(archived: tuple[str, Path]) -> None:
    _, run_dir = archived
    text = (run_dir / "notebook.ipynb").read_text(encoding="utf-8")
    assert WIDGET_VIEW not in text
    assert "application/vnd.jupyter.widget-state+json" not in text


def test_report_has_the_same_sections_as_before(archived: tuple[str, Path]) -> None:
    notebook, run_dir = archived
    html = (run_dir / "report.html").read_text(encoding="utf-8")
    assert headings(html) == SECTIONS[notebook]
    assert "Interactive only" not in html and WIDGET_VIEW not in html
