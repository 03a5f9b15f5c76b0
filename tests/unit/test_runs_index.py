"""The run index's text (toolkit.ops.runs) on small hand-made archives: what the end-to-end
tests cannot reach cheaply (a run without figures yet, ambiguous run ids, where a browser exists)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from toolkit.errors import ParamsError
from toolkit.ops.runs import browser_available, key_figures, outcome_line, resolve_run, runs_table
from toolkit.runner import list_runs, run_summary


def _run(root: Path, notebook: str, run_id: str, status: str = "completed", **files: dict) -> Path:
    run_dir = root / notebook / run_id
    run_dir.mkdir(parents=True)
    manifest = {"run_id": run_id, "notebook": f"notebooks/{notebook}.ipynb", "status": status,
                "started_utc": f"2026-01-0{run_id[-1]}T00:00:00+00:00", "params": {"strategy": "sma_crossover"},
                "error": "ValueError: bad\nmore" if status == "failed" else None}
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    for name, content in files.items():
        (run_dir / f"{name}.json").write_text(json.dumps(content))
    return run_dir


def test_key_figures_per_notebook_and_status(tmp_path: Path) -> None:
    bt = _run(tmp_path, "backtest", "r1", metrics={"final_equity": 123456.789, "sharpe": 0.5, "max_drawdown": -0.25})
    wf = _run(tmp_path, "walk_forward", "r2", metrics={"sharpe": 1.234, "final_equity": 2e5,
                                                        "deflated_sharpe": {"dsr": 0.97, "psr": 0.99}})
    dry = _run(tmp_path, "daily_dry_run", "r3", snapshot={"session_date": "2018-06-01", "orders": 0})
    failed = _run(tmp_path, "backtest", "r4", status="failed")
    running = _run(tmp_path, "backtest", "r5", status="running")
    assert key_figures(run_summary(bt)) == "final equity 123,456.79, Sharpe 0.50, max drawdown -25.0%"
    assert key_figures(run_summary(wf)) == "out-of-sample Sharpe 1.23, DSR 0.97, PSR 0.99, final equity 200,000.00"
    assert key_figures(run_summary(dry)) == "session 2018-06-01, 0 orders"
    assert key_figures(run_summary(failed)) == "error: ValueError: bad"
    assert outcome_line(run_summary(running)) == "backtest sma_crossover running"  # nothing to show yet, no crash
    table = runs_table(tmp_path).splitlines()
    assert [line.split()[0] for line in table[1:]] == ["r5", "r4", "r3", "r2", "r1"]  # newest first
    assert all("-" in line.split()[-1] for line in table[1:])  # no report.html yet: a dash, not 'None'


def test_list_runs_skips_what_is_not_a_run(tmp_path: Path) -> None:
    _run(tmp_path, "backtest", "r1")
    (tmp_path / "backtest" / "junk").mkdir()
    (tmp_path / "backtest" / "junk" / "manifest.json").write_text("{not json")
    assert list(list_runs(tmp_path)["run_id"]) == ["r1"]


def test_resolve_run_by_id_prefix_directory_or_last(tmp_path: Path) -> None:
    a = _run(tmp_path, "backtest", "20260101T000000Z-aaaa1")
    b = _run(tmp_path, "walk_forward", "20260101T000000Z-bbbb2")
    assert resolve_run("last", tmp_path) == b
    assert resolve_run("last", tmp_path, notebook="backtest") == a
    assert resolve_run("20260101T000000Z-a", tmp_path) == a
    assert resolve_run("walk_forward/20260101T000000Z-bbbb2", tmp_path) == b
    assert resolve_run(str(a), tmp_path / "elsewhere") == a
    with pytest.raises(ParamsError, match="matches several .*give more of the run id"):
        resolve_run("20260101", tmp_path)
    with pytest.raises(ParamsError, match="a run id listed by `toolkit runs`"):
        resolve_run("nope", tmp_path)
    with pytest.raises(ParamsError, match="there is none under"):
        resolve_run("last", tmp_path, notebook="daily_dry_run")


@pytest.mark.parametrize(("env", "platform", "expected"), [
    ({}, "linux", False),  # a headless server: print the path, launch no text browser
    ({"DISPLAY": ":0"}, "linux", True),
    ({"WAYLAND_DISPLAY": "wayland-0"}, "linux", True),
    ({"BROWSER": "firefox"}, "linux", True),  # the user said which
    ({}, "darwin", True),
    ({}, "win32", True),
])
def test_browser_available(env: dict[str, str], platform: str, expected: bool) -> None:
    assert browser_available(env, platform) is expected
