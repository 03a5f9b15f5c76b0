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
larger ones by their sha256 and size, with an xz-compressed copy.

Bit for bit holds on one kind of CPU, not across kinds: NumPy picks its exp/log
kernels by instruction set (AVX-512 on an Intel machine, AVX2 on an AMD one), and the
last bits of a transcendental differ. The v3.5b strategy's diagnostic context (its
z-score, Kalman trend) shows it: same orders, trades, equity and weights, context floats
apart in the 15th digit. So a file whose hash differs is compared token by token with
its stored copy: every word, integer, quoted JSON string (the ledger's exact money) and
short decimal must be equal, and only full-precision floats (13 or more significant
digits, what float repr prints) may differ, by at most 1e-9 relative.
"""

from __future__ import annotations

import hashlib
import json
import lzma
import math
import os
import re
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

#: Cases run by the session's shared ``default_run`` fixture (conftest.py): the same run serves the explorer test.
SHARED_RUNS = {"backtest_sma_crossover", "walk_forward_sma_crossover"}

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
            else:
                (folder / f"{name}.xz").write_bytes(lzma.compress(data, preset=9))
        index_path.write_text(json.dumps(index, indent=1, sort_keys=True) + "\n")
        return
    index = json.loads(index_path.read_text())
    assert sorted(produced) == sorted(index), f"{case}: files differ from the golden run"
    for name, data in produced.items():
        stored = folder / name
        if stored.exists():
            assert data.decode() == stored.read_text(), f"{case}/{name} differs from the golden run"
        if hashlib.sha256(data).hexdigest() == index[name]["sha256"]:
            continue
        copy = folder / f"{name}.xz"
        assert copy.exists(), f"{case}/{name} differs from the golden run ({len(data)} bytes vs {index[name]['size']})"
        problem = float_drift_only(lzma.decompress(copy.read_bytes()).decode(), data.decode())
        assert problem is None, f"{case}/{name} differs from the golden run: {problem}"


#: Quoted strings, numbers, and everything else (split on them).
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?')
FLOAT_RTOL = 1e-9


def _significant_digits(token: str) -> int:
    mantissa = re.split("[eE]", token)[0].lstrip("+-").replace(".", "").lstrip("0")
    return len(mantissa)


def float_drift_only(expected: str, produced: str) -> str | None:
    """None when ``produced`` equals ``expected`` but for last-digit drift of full-precision floats."""
    a, b = _TOKEN.split(expected), _TOKEN.split(produced)
    if a != b:
        return "the text around the numbers differs"
    ta, tb = _TOKEN.findall(expected), _TOKEN.findall(produced)
    if len(ta) != len(tb):
        return f"{len(tb)} values vs {len(ta)}"
    for i, (x, y) in enumerate(zip(ta, tb, strict=True)):
        if x == y:
            continue
        if x[0] == '"' and y[0] == '"':
            # A JSON column is stored as text (a snapshot's decision context): its floats sit
            # inside the quoted string, so the string is compared the same way, one level down.
            inner = float_drift_only(json.loads(x), json.loads(y))
            if inner is not None:
                return f"value {i} is {y}, the golden run has {x} ({inner})"
            continue
        full = x[0] != '"' and "." in x and min(_significant_digits(x), _significant_digits(y)) >= 13
        if not (full and math.isclose(float(x), float(y), rel_tol=FLOAT_RTOL, abs_tol=1e-12)):
            return f"value {i} is {y}, the golden run has {x}"
    return None


@pytest.fixture
def ledger_url(tmp_path, monkeypatch):
    db = tmp_path / "ledger.sqlite"
    monkeypatch.setenv("TOOLKIT_DB_URL", f"sqlite:///{db}")
    return db


@pytest.mark.parametrize("case", sorted(NOTEBOOK_CASES))
def test_notebook_defaults_give_the_golden_results(case, tmp_path, ledger_url, default_run):
    notebook, params = NOTEBOOK_CASES[case]
    if case in SHARED_RUNS and not UPDATE:
        shared = default_run(notebook)  # ``toolkit run`` on these params: the explorer test reads the same run
        run_dir, ledger_url = shared.run_dir, shared.ledger
    else:
        rec = run_notebook(notebook, ROOT / params, outputs_root=tmp_path / "outputs", log=lambda _m: None)
        assert rec.status == "completed", rec.error
        run_dir = rec.run_dir
    produced = kept_files(run_dir)
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


def test_only_last_digit_drift_of_full_precision_floats_is_tolerated():
    golden = 'ts,w,z\n2000-01-03,0.25,-0.123456789012345\n{"cash": "100000.000000", "x": 1.2345678901234567}\n'
    assert float_drift_only(golden, golden.replace("-0.123456789012345", "-0.123456789012346")) is None
    assert float_drift_only(golden, golden.replace("1.2345678901234567", "1.2345678901234569")) is None
    assert float_drift_only(golden, golden.replace("0.25", "0.26")) is not None  # a short decimal: exact
    assert float_drift_only(golden, golden.replace("100000.000000", "100000.000001")) is not None  # money
    assert float_drift_only(golden, golden.replace("-0.123456789012345", "-0.123456789912345")) is not None
    assert float_drift_only(golden, golden.replace("2000-01-03", "2000-01-04")) is not None


def test_drift_inside_a_json_text_column_is_tolerated_like_any_other():
    context = json.dumps({"z_score": -0.9942498165284323, "cell": 1, "trend": "BullStrong"})
    golden = json.dumps({"rows": [[1, context]]})
    drifted = golden.replace("0.9942498165284323", "0.9942498165284319")
    assert drifted != golden and float_drift_only(golden, drifted) is None
    assert float_drift_only(golden, golden.replace("BullStrong", "BullWeak")) is not None
    assert float_drift_only(golden, golden.replace('\\"cell\\": 1', '\\"cell\\": 2')) is not None
    assert float_drift_only(golden, golden.replace("0.9942498165284323", "0.9942498175284323")) is not None
