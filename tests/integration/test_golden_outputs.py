"""Nothing changes for a user: archived results equal those recorded before a redesign.

Each case runs a notebook's default params (through papermill, as ``toolkit run`` does)
or a replay (through the CLI) and compares what a user keeps of it, byte for byte,
with ``tests/fixtures/golden/``: ``metrics.json``, the CSV tables, the small JSON/YAML
results and a canonical dump of the ledger. The fixtures were generated from the code
before the issue-8 redesign; a refactoring must leave them untouched.

When a change of results is intended (a bug fix that moves numbers), regenerate with
``TOOLKIT_UPDATE_GOLDEN=1 pytest tests/integration/test_golden_outputs.py`` and explain
the difference in the commit message.

Files up to 64 KiB are stored verbatim (a failing comparison shows the difference);
larger ones by their sha256 and size.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from pathlib import Path

import pytest

from toolkit.cli import main as cli_main
from toolkit.runner import run_notebook

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "fixtures" / "golden"
UPDATE = os.environ.get("TOOLKIT_UPDATE_GOLDEN") == "1"
VERBATIM_LIMIT = 64 * 1024

#: What a user keeps of each run: tables and figures, not the notebook, HTML or manifest
#: (those hold times, versions and paths).
KEPT_SUFFIXES = (".json", ".csv", ".yaml")
NOT_KEPT = {"manifest.json"}

NOTEBOOK_CASES = {
    "backtest_sma_crossover": ("backtest", "params/backtest/sma_crossover.yaml"),
    "backtest_v35b": ("backtest", "params/backtest/hierarchical_adaptive_v3_5b.yaml"),
    "walk_forward_sma_crossover": ("walk_forward", "params/walk_forward/sma_crossover.yaml"),
    "daily_dry_run_sma_crossover": ("daily_dry_run", "params/daily_dry_run/sma_crossover.yaml"),
    "daily_dry_run_v35b": ("daily_dry_run", "params/daily_dry_run/hierarchical_adaptive_v3_5b.yaml"),
}

REPLAY_CASES = {
    "replay_sma_crossover": ("params/daily_dry_run/sma_crossover.yaml", "2016-01-04", "2018-12-31"),
    "replay_v35b": ("params/daily_dry_run/hierarchical_adaptive_v3_5b.yaml", "2017-01-03", "2018-12-31"),
}
#: ``toolkit replay`` exits 1 when its parity check fails. Both replays pass it: the
#: multi-symbol v3.5b replay failed (exit 1) until one sizing rule served both paths.
REPLAY_EXIT = {"replay_sma_crossover": 0, "replay_v35b": 0}

#: Ledger columns that name the papermill run (its id holds the wall-clock start time).
VOLATILE_LEDGER_COLUMNS = {("runs", "notebook_run_id")}


def ledger_dump(path: Path) -> str:
    """Every table of a SQLite ledger, rows in insertion order, as canonical JSON."""
    con = sqlite3.connect(path)
    try:
        tables = [r[0] for r in con.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
        out: dict[str, dict[str, object]] = {}
        for table in tables:
            cur = con.execute(f'SELECT * FROM "{table}" ORDER BY rowid')
            cols = [d[0] for d in cur.description]
            keep = [i for i, c in enumerate(cols) if (table, c) not in VOLATILE_LEDGER_COLUMNS]
            rows = [[row[i] for i in keep] for row in cur]
            out[table] = {"columns": [cols[i] for i in keep], "rows": rows}
    finally:
        con.close()
    return json.dumps(out, indent=1, sort_keys=True, default=str)


def kept_files(run_dir: Path) -> dict[str, bytes]:
    """The run's kept files, its id (which holds the start time) replaced by ``<run_id>``."""
    run_id = run_dir.name.encode()
    return {p.name: p.read_bytes().replace(run_id, b"<run_id>") for p in sorted(run_dir.iterdir())
            if p.suffix in KEPT_SUFFIXES and p.name not in NOT_KEPT}


def compare(case: str, produced: dict[str, bytes]) -> None:
    """Assert ``produced`` equals the stored fixture of ``case`` (or store it when updating)."""
    folder = GOLDEN / case
    index_path = folder / "index.json"
    if UPDATE:
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.iterdir():
            old.unlink()
        index = {}
        for name, data in produced.items():
            index[name] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
            if len(data) <= VERBATIM_LIMIT:
                (folder / name).write_bytes(data)
        index_path.write_text(json.dumps(index, indent=1, sort_keys=True) + "\n")
        return
    index = json.loads(index_path.read_text())
    assert sorted(produced) == sorted(index), f"{case}: files differ from the golden run"
    for name, data in produced.items():
        stored = folder / name
        if stored.exists():
            assert data.decode() == stored.read_text(), f"{case}/{name} differs from the golden run"
        assert hashlib.sha256(data).hexdigest() == index[name]["sha256"], (
            f"{case}/{name} differs from the golden run ({len(data)} bytes vs {index[name]['size']})")


@pytest.fixture
def ledger_url(tmp_path, monkeypatch):
    db = tmp_path / "ledger.sqlite"
    monkeypatch.setenv("TOOLKIT_DB_URL", f"sqlite:///{db}")
    return db


@pytest.mark.parametrize("case", sorted(NOTEBOOK_CASES))
def test_notebook_defaults_give_the_golden_results(case, tmp_path, ledger_url):
    notebook, params = NOTEBOOK_CASES[case]
    rec = run_notebook(notebook, ROOT / params, outputs_root=tmp_path / "outputs", log=lambda _m: None)
    assert rec.status == "completed", rec.error
    produced = kept_files(rec.run_dir)
    if ledger_url.exists():
        produced["ledger.json"] = ledger_dump(ledger_url).encode()
    compare(case, produced)


@pytest.mark.parametrize("case", sorted(REPLAY_CASES))
def test_replay_gives_the_golden_ledger(case, tmp_path, ledger_url, capsys):
    params, start, end = REPLAY_CASES[case]
    parity = tmp_path / "parity.csv"
    code = cli_main(["replay", "--params", str(ROOT / params), "--start", start, "--end", end,
                     "--parity-csv", str(parity)])
    capsys.readouterr()
    assert code == REPLAY_EXIT[case]
    compare(case, {"ledger.json": ledger_dump(ledger_url).encode(), "parity.csv": parity.read_bytes()})
