"""What ``toolkit run`` does to start faster must not change what it writes.

* The HTML exporter warmed while the kernel imports (:func:`toolkit.runner.warm_html_export`)
  writes the same report, byte for byte, as a cold one.
* A kernel set up by :func:`toolkit.warm_kernel.kernel_setup` imports vectorbt without
  the test-only quantstats (and what quantstats pulls in), unless asked to keep it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from toolkit import runner


def _notebook() -> nbformat.NotebookNode:
    """Markdown with a heading, a table in HTML, a log-only cell and an interactive-only cell."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Report\n\nSome *text*, a [link](#metric-sharpe) and `code`."),
        nbformat.v4.new_code_cell("x", outputs=[nbformat.v4.new_output(
            "display_data", data={"text/html": "<table><tr><td>1,234.50</td></tr></table>", "text/plain": "t"})]),
        nbformat.v4.new_code_cell("log", outputs=[nbformat.v4.new_output("stream", text="folds: 100%\n")]),
        nbformat.v4.new_code_cell("explorer()"),
    ]
    nb.cells[2].metadata["tags"] = [runner.LOG_ONLY_TAG]
    nb.cells[3].metadata["tags"] = [runner.INTERACTIVE_ONLY_TAG]
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i}"
    return nb


def test_a_warmed_export_writes_the_same_report_as_a_cold_one(tmp_path, monkeypatch):
    monkeypatch.setattr(runner, "_EXPORTER", [])  # a process that has not exported yet
    runner.export_html(_notebook(), tmp_path / "cold.html")
    monkeypatch.setattr(runner, "_EXPORTER", [])
    runner.warm_html_export()
    assert len(runner._EXPORTER) == 1
    runner.export_html(_notebook(), tmp_path / "warm.html")
    cold, warm = (tmp_path / "cold.html").read_bytes(), (tmp_path / "warm.html").read_bytes()
    assert cold == warm
    text = warm.decode()
    assert "1,234.50" in text and "folds: 100%" not in text and "explorer()" not in text
    assert 'src="https://' not in text  # still offline


def _imports_after_setup(env_extra: dict[str, str]) -> str:
    code = ("from toolkit.warm_kernel import kernel_setup; kernel_setup()\n"
            "import sys, vectorbt\n"
            "print(sorted(m for m in ('quantstats', 'yfinance', 'peewee', 'matplotlib.pyplot') "
            "if sys.modules.get(m) is not None))\n"
            "print(hasattr(vectorbt.returns, 'qs_adapter') and 'qs_adapter' not in vectorbt.returns.__blacklist__)")
    env = {k: v for k, v in os.environ.items() if k != "TOOLKIT_KEEP_QUANTSTATS"} | env_extra
    env.setdefault("NUMBA_CACHE_DIR", str(Path(__file__).resolve().parents[2] / ".numba_cache"))
    done = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True,
                          env=env, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_a_toolkit_kernel_imports_vectorbt_without_the_test_only_quantstats():
    assert _imports_after_setup({}).split("\n")[:2] == ["[]", "False"]


def test_quantstats_stays_importable_when_asked():
    pytest.importorskip("quantstats", reason="quantstats is a test dependency (make setup)")
    code = ("from toolkit.warm_kernel import kernel_setup; kernel_setup()\n"
            "import importlib.util, sys; print(sys.modules.get('quantstats', 'absent'))\n"
            "print(importlib.util.find_spec('quantstats').name)")
    env = os.environ | {"TOOLKIT_KEEP_QUANTSTATS": "1"}
    done = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True,
                          env=env, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split("\n")[:2] == ["absent", "quantstats"]


def test_the_preload_turns_the_collector_back_on_even_when_an_import_fails():
    """gc is off while the kernel imports; a failed import must not leave it off for the notebook."""
    from toolkit.warm_kernel import preload_code

    code = (f"try:\n    exec({preload_code(('json', 'no_such_module_xyz'))!r})\nexcept ImportError:\n    pass\n"
            "import gc, sys\nprint(gc.isenabled(), gc.get_freeze_count() > 0, 'json' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["True", "True", "True"]


def test_the_warm_client_goes_to_papermill_once_then_clients_are_new():
    from toolkit.kernel_handoff import HandingKernelManager, ReadyClient

    km = HandingKernelManager(kernel_name="python3")
    warm = km.client()
    assert isinstance(warm, ReadyClient)
    km.hand_over(warm)
    assert km.client() is warm
    assert km.client() is not warm


def test_toolkit_run_in_process_leaves_the_heap_as_it_found_it():
    """`toolkit run` freezes its imports for speed; code calling main() in process gets its heap back."""
    import gc

    from toolkit.warm_kernel import imports_done, runner_heap

    assert gc.isenabled() and gc.get_freeze_count() == 0
    with runner_heap():
        assert not gc.isenabled()
        imports_done(collect=True)  # what the runner does once it waits for the kernel
        assert gc.isenabled() and gc.get_freeze_count() > 0
    assert gc.isenabled() and gc.get_freeze_count() == 0
