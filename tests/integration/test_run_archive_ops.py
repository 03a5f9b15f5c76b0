"""The run index, ``runs diff`` and ``runs prune`` on runs made by the real runner (papermill).

Four real runs with an injected start time: two backtests (one old, one recent) and two old
dry runs into one SQLite ledger, on 2018-06-01 (the SMA crossover buys: one order) and
2018-06-04 (nothing to do: no order). A paper session's archive is built beside them the
way the live notebook leaves one that stopped before trading, with its ledger run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import pandas as pd
import pytest
import yaml

from toolkit.ledger import open_ledger
from toolkit.params import params_hash, repo_root
from toolkit.runner import git_state, make_run_id, package_versions, run_notebook

ROOT = repo_root()
OLD, RECENT = pd.Timestamp("2026-01-05T21:00:00Z"), pd.Timestamp("2026-02-20T21:00:00Z")
NOW = "2026-03-01T00:00:00Z"  # --keep-days 30: the cut is 2026-01-30


@dataclass(frozen=True)
class Archive:
    outputs: Path
    db: str
    old_backtest: Path
    recent_backtest: Path
    dry_with_order: Path
    dry_without_order: Path
    paper: Path


def _paper_session(outputs: Path, db: str) -> Path:
    """A live notebook's archive of a paper session stopped before trading (the run info live_tables
    writes then), with the runner's run id, git state and package versions."""
    # The params file as written (resolving it would ask Alpaca for bars: no network in tests).
    resolved = json.loads(json.dumps(yaml.safe_load((ROOT / "params/live/alpaca_paper.yaml").read_text()),
                                     default=str))
    assert resolved["mode"] == "paper"
    phash = params_hash(resolved)
    run_id = make_run_id("live", OLD, phash, outputs)
    run_dir = outputs / "live" / run_id
    run_dir.mkdir(parents=True)
    manifest = {"run_id": run_id, "notebook": "notebooks/live.ipynb", "params": resolved, "params_hash": phash,
                "git": git_state(ROOT), "packages": package_versions(), "started_utc": OLD.isoformat(),
                "ended_utc": OLD.isoformat(), "status": "failed", "error": "SessionStopped: reconciliation mismatch",
                "session": {"status": "stopped", "mode": "paper", "stopped": "reconciliation mismatch"}}
    (run_dir / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))
    with open_ledger(db) as ledger:  # the ledger's run of that session names the archive
        key = f"{resolved['strategy']}|{resolved['account']}|2018-06-01|{resolved['execution_time']}"
        ledger.start_run(key, mode="paper", notebook_run_id=run_id)
    return run_dir


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Archive:
    tmp = tmp_path_factory.mktemp("archive")
    outputs, db = tmp / "outputs", f"sqlite:///{tmp / 'ledger.sqlite'}"
    bt, dry = ROOT / "params/backtest/sma_crossover.yaml", ROOT / "params/daily_dry_run/sma_crossover.yaml"

    def run(notebook: str, params: Path, overrides: list[str], at: pd.Timestamp) -> Path:
        rec = run_notebook(notebook, params, overrides, outputs_root=outputs, clock=lambda: at)
        assert rec.status == "completed", rec.error
        return rec.run_dir

    short = ["data.start=2016-01-04"]
    return Archive(
        outputs, db,
        old_backtest=run("backtest", bt, [*short, "strategy_params.fast=10"], OLD),
        recent_backtest=run("backtest", bt, [*short, "strategy_params.fast=12"], RECENT),
        dry_with_order=run("daily_dry_run", dry, ["as_of=2018-06-01", f"db_url={db}"], OLD),
        dry_without_order=run("daily_dry_run", dry, ["as_of=2018-06-04", f"db_url={db}"], OLD),
        paper=_paper_session(outputs, db),
    )


def _links(html: str) -> list[str]:
    found: list[str] = []

    class Links(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            found.extend(v or "" for k, v in attrs if tag == "a" and k == "href")

    Links().feed(html)
    return found


def test_the_runner_rewrites_the_index_after_every_run(archive: Archive) -> None:
    index = archive.outputs / "index.html"
    text = index.read_text()
    real = [archive.old_backtest, archive.recent_backtest, archive.dry_with_order, archive.dry_without_order]
    for run_dir in real:  # the paper session was built by hand after the last run: not yet in it
        assert f'href="{run_dir.parent.name}/{run_dir.name}/report.html"' in text
    assert archive.paper.name not in text
    for href in _links(text):
        assert (archive.outputs / unquote(href)).exists(), href
    assert "https://" not in text and "http://" not in text
    snaps = [json.loads((d / "snapshot.json").read_text()) for d in (archive.dry_with_order, archive.dry_without_order)]
    assert [s["orders"] for s in snaps] == [1, 0]


def test_runs_index_rebuilds_it_with_every_archive(archive: Archive, toolkit_cli) -> None:
    done = toolkit_cli(["runs", "index", "--outputs", str(archive.outputs)])
    assert done.returncode == 0 and done.stdout.strip() == str(archive.outputs / "index.html")
    text = (archive.outputs / "index.html").read_text()
    assert archive.paper.name in text and "reconciliation mismatch" in text
    assert text.count('<tr data-notebook="') == 5


def test_diff_of_two_real_backtests(archive: Archive, toolkit_cli, tmp_path: Path) -> None:
    page = tmp_path / "diff.html"
    done = toolkit_cli(["runs", "diff", archive.old_backtest.name, archive.recent_backtest.name,
                        "--outputs", str(archive.outputs), "--html", str(page)])
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "params: 1 of " in out and "strategy_params.fast" in out
    fast = next(line for line in out.splitlines() if line.strip().startswith("strategy_params.fast"))
    assert fast.split() == ["strategy_params.fast", "10", "12"]
    # One checkout, one data set, one environment: said in one word each.
    assert "code version: same" in out and "data fingerprint: same" in out and "package versions: same" in out
    a = json.loads((archive.old_backtest / "metrics.json").read_text())
    b = json.loads((archive.recent_backtest / "metrics.json").read_text())
    sharpe = next(line for line in out.splitlines() if line.strip().startswith("sharpe "))
    assert sharpe.split()[1:4] == [str(a["sharpe"]), str(b["sharpe"]), f"{b['sharpe'] - a['sharpe']:+,.6g}"]
    html = page.read_text()
    assert html.count('<p class="same">same') == 3 and "https://" not in html
    for href in _links(html):
        assert (page.parent / unquote(href)).resolve().is_file(), href


def test_prune_keeps_what_the_ledger_needs_and_says_why(archive: Archive, toolkit_cli) -> None:
    out = str(archive.outputs)
    prune = ["runs", "prune", "--keep-days", "30", "--now", NOW, "--outputs", out]
    every = sorted(p.parent for p in archive.outputs.glob("*/*/manifest.json"))
    assert len(every) == 5

    for bad, field in ((["--keep-days", "-3"], "--keep-days"), (["--keep-days", "30", "--now", "soon"], "--now")):
        done = toolkit_cli(["runs", "prune", *bad, "--outputs", out])
        assert done.returncode == 2 and done.stderr.startswith(f"error: {field}: got ") and done.stderr.count("\n") == 1
    assert sorted(p.parent for p in archive.outputs.glob("*/*/manifest.json")) == every

    # A ledger that is not there is not created, and no session archive goes without it.
    missing = archive.outputs.parent / "nowhere.sqlite"
    blind = toolkit_cli([*prune, "--dry-run", "--db-url", f"sqlite:///{missing}"])
    assert blind.returncode == 0, blind.stderr
    assert not missing.exists()
    assert "would remove 1 run started before 2026-01-30 00:00 UTC:" in blind.stdout
    assert archive.old_backtest.name in blind.stdout.split("kept")[0]
    assert blind.stdout.count("cannot tell whether orders refer to it") == 2

    dry = toolkit_cli([*prune, "--dry-run"])  # each session's own ledger: its params' db_url
    assert dry.returncode == 0, dry.stderr
    assert sorted(p.parent for p in archive.outputs.glob("*/*/manifest.json")) == every  # nothing removed
    lines = dry.stdout.splitlines()
    assert lines[0] == "would remove 2 runs started before 2026-01-30 00:00 UTC:"
    assert {line.split()[0] for line in lines[1:3]} == {
        f"backtest/{archive.old_backtest.name}", f"daily_dry_run/{archive.dry_without_order.name}"}
    reasons = {line.split()[0]: " ".join(line.split()[1:]) for line in lines if line.startswith("  ")}
    assert reasons[f"daily_dry_run/{archive.dry_with_order.name}"] == (
        "1 ledger order of run sma_crossover|dry-run|2018-06-01|close refers to it")
    assert reasons[f"live/{archive.paper.name}"] == "a live session (mode paper)"
    assert "kept 1 run started within the last 30 days" in dry.stdout
    assert dry.stdout.rstrip().endswith("dry run: nothing was removed")

    done = toolkit_cli(prune)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[:3] == [lines[0].replace("would remove", "removed"), *lines[1:3]]
    left = sorted(p.parent for p in archive.outputs.glob("*/*/manifest.json"))
    assert left == sorted([archive.recent_backtest, archive.dry_with_order, archive.paper])
    index = (archive.outputs / "index.html").read_text()
    assert archive.old_backtest.name not in index and archive.dry_without_order.name not in index
    assert archive.dry_with_order.name in index and archive.paper.name in index
    again = toolkit_cli(prune)
    assert again.stdout.splitlines()[0] == "removed 0 runs started before 2026-01-30 00:00 UTC"
