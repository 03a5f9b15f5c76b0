"""``toolkit runs diff`` (toolkit.ops.run_diff) on run folders built the way the runner builds
them (its params resolution, hash, git state, package versions and run ids): each section says
``same`` or lists the differences, metrics with their change; the HTML page is self-contained."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from toolkit.ops.run_diff import ABSENT, diff_html, diff_runs, diff_text
from toolkit.params import load as load_params
from toolkit.params import params_hash, repo_root
from toolkit.runner import git_state, make_run_id, package_versions

PARAMS = repo_root() / "params/backtest/sma_crossover.yaml"


def _archive(root: Path, overrides: list[str], started: str, metrics: dict, *, fingerprint: str = "f" * 64,
             packages: dict | None = None) -> Path:
    resolved = load_params("backtest", PARAMS, overrides).model_dump(mode="json")
    phash = params_hash(resolved)
    run_id = make_run_id("backtest", pd.Timestamp(started), phash, root)
    run_dir = root / "backtest" / run_id
    run_dir.mkdir(parents=True)
    manifest = {"run_id": run_id, "notebook": "notebooks/backtest.ipynb", "params": resolved, "params_hash": phash,
                "git": git_state(repo_root()), "python": "3.11.7",
                "packages": {**package_versions(), **(packages or {})},
                "started_utc": pd.Timestamp(started).isoformat(), "status": "completed", "error": None,
                "data_fingerprint": fingerprint}
    (run_dir / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))
    (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True))
    (run_dir / "report.html").write_text("<html></html>")
    return run_dir


def test_sections_say_same_or_list_the_differences_with_the_change(tmp_path: Path) -> None:
    a = _archive(tmp_path, ["strategy_params.fast=10"], "2026-01-05T21:00Z",
                 {"sharpe": 0.8, "final_equity": 150000.0, "n_trades": 12, "benchmark": {"symbol": "NASDAQ"}})
    b = _archive(tmp_path, ["strategy_params.fast=12", "data.start=2010-01-04"], "2026-01-06T21:00Z",
                 {"sharpe": 1.0, "final_equity": 150000.0, "n_trades": 9, "benchmark": {"symbol": "NASDAQ"},
                  "win_rate": 0.5}, packages={"pandas": "0.0-test"})
    diff = diff_runs(a, b)
    sections = {s.title: s for s in diff.sections}
    assert list(sections) == ["params", "code version", "data fingerprint", "package versions", "metrics"]
    assert [(c.key, c.a, c.b) for c in sections["params"].changes] == [
        ("data.start", "2000-01-01", "2010-01-04"), ("strategy_params.fast", 10, 12)]
    assert sections["code version"].same and sections["data fingerprint"].same
    [pkg] = sections["package versions"].changes
    assert pkg.key == "pandas" and pkg.b == "0.0-test" and pkg.a == package_versions()["pandas"]
    changes = {c.key: c for c in sections["metrics"].changes}
    assert set(changes) == {"sharpe", "n_trades", "win_rate"}  # final_equity and the benchmark did not move
    assert changes["sharpe"].change == "+0.2 (+25.0%)"
    assert changes["n_trades"].change == "-3 (-25.0%)"
    assert changes["win_rate"].a is ABSENT and changes["win_rate"].change == "added"

    text = diff_text(diff)
    assert text.splitlines()[0].startswith(f"A  backtest/{a.name}  sma_crossover  completed  started 2026-01-05")
    assert "code version: same" in text and "data fingerprint: same" in text
    assert "params: 2 of " in text and "package versions: 1 of " in text and "metrics: 3 of 5 differ" in text
    sharpe_line = next(line for line in text.splitlines() if line.strip().startswith("sharpe"))
    assert sharpe_line.split() == ["sharpe", "0.8", "1.0", "+0.2", "(+25.0%)"]


def test_identical_runs_are_same_everywhere_and_a_new_fingerprint_shows(tmp_path: Path) -> None:
    a = _archive(tmp_path, [], "2026-01-05T21:00Z", {"sharpe": 0.8})
    b = _archive(tmp_path, [], "2026-01-05T21:00Z", {"sharpe": 0.8})  # same second, same params: run id -2
    assert b.name == a.name + "-2"
    text = diff_text(diff_runs(a, b))
    assert [line for line in text.splitlines()[2:] if line] == [
        "params: same", "code version: same", "data fingerprint: same", "package versions: same", "metrics: same"]
    c = _archive(tmp_path, [], "2026-01-07T21:00Z", {"sharpe": 0.8}, fingerprint="0" * 64)
    fp = {s.title: s for s in diff_runs(a, c).sections}["data fingerprint"]
    assert [(x.a, x.b) for x in fp.changes] == [("f" * 64, "0" * 64)]
    assert "0" * 64 in diff_text(diff_runs(a, c))  # the whole fingerprint, not cut


def test_html_page_is_self_contained_escaped_and_links_the_reports(tmp_path: Path) -> None:
    a = _archive(tmp_path, ["strategy_params.fast=10"], "2026-01-05T21:00Z", {"note": "<script>x</script>"})
    b = _archive(tmp_path, ["strategy_params.fast=12"], "2026-01-06T21:00Z", {"note": "plain"})
    pages = tmp_path / "pages"
    pages.mkdir()
    text = diff_html(diff_runs(a, b), pages)
    assert "<script>" not in text and "&lt;script&gt;x&lt;/script&gt;" in text
    assert "http://" not in text and "https://" not in text and "<link" not in text and " src=" not in text
    assert text.count('<p class="same">same') == 3  # code version, data fingerprint, package versions
    assert f'href="../backtest/{a.name}/report.html"' in text and f'href="../backtest/{b.name}/report.html"' in text
    assert (pages / f"../backtest/{a.name}/report.html").is_file()


def test_cli_diff_writes_the_page_and_refuses_a_bad_target(tmp_path: Path, toolkit_cli) -> None:
    a = _archive(tmp_path, ["strategy_params.fast=10"], "2026-01-05T21:00Z", {"sharpe": 0.8})
    b = _archive(tmp_path, ["strategy_params.fast=12"], "2026-01-06T21:00Z", {"sharpe": 0.9})
    page = tmp_path / "diff.html"
    done = toolkit_cli(["runs", "diff", a.name[:20], str(b), "--outputs", str(tmp_path), "--html", str(page)])
    assert done.returncode == 0, done.stderr
    assert "strategy_params.fast" in done.stdout and done.stdout.rstrip().endswith(f"diff page: {page}")
    assert page.is_file() and "strategy_params.fast" in page.read_text()
    bad = toolkit_cli(["runs", "diff", a.name, b.name, "--outputs", str(tmp_path), "--html",
                       str(tmp_path / "missing" / "d.html")])
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr.startswith("error: --html: got ") and bad.stderr.count("\n") == 1
    unknown = toolkit_cli(["runs", "diff", a.name, "nope", "--outputs", str(tmp_path)])
    assert unknown.returncode == 2 and unknown.stderr.startswith("error: RUN: got 'nope'")
