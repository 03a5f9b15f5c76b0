"""Issue 11 point 2 end to end: a config override set for the dry-run account is used by its next papermill
session (and its report says so); reverted, the next session runs on the params file again.

Real components throughout: a SQLite ledger, ``toolkit config`` and ``toolkit run daily_dry_run`` (papermill
and the HTML export) through the command's in-process entry point.
"""

from __future__ import annotations

import json
from pathlib import Path

from toolkit import params as tkparams
from toolkit.engine.daily import run_daily
from toolkit.ledger import open_ledger

PARAMS = "params/daily_dry_run/sma_crossover.yaml"  # account dry-run, strategy_params {fast: 20, slow: 100}
REASON = "slower entry signal while rates move"


def _run(toolkit_cli, db: str, outputs: Path, *sets: str) -> Path:
    args = ["run", "daily_dry_run", "--params", PARAMS, "--outputs", str(outputs)]
    for item in sets:
        args += ["--set", item]
    done = toolkit_cli(args, db)
    assert done.returncode == 0, done.stderr
    return Path(done.stdout.strip().splitlines()[-1])


def _snapshot(run_dir: Path) -> dict:
    return json.loads((run_dir / "snapshot.json").read_text())


def test_the_next_session_uses_the_override_and_says_so_until_it_is_reverted(
        toolkit_cli, dry_run_archive, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    done = toolkit_cli(["config", "set", "strategy_params.fast=50", "--params", PARAMS, "--reason", REASON,
                        "--actor", "ann"], db)
    assert done.returncode == 0, done.stderr

    overridden = _run(toolkit_cli, db, tmp_path / "out", "as_of=2018-06-01")
    direct = _run(toolkit_cli, f"sqlite:///{tmp_path / 'direct.sqlite'}", tmp_path / "direct", "as_of=2018-06-01",
                  "strategy_params.fast=50")

    # The session decided with fast=50: exactly what the same params with fast: 50 written in decide
    # and trade, and not what the file's fast: 20 gives (the shared dry run of the same day).
    snap, same = _snapshot(overridden), _snapshot(direct)
    recorded = snap.pop("overrides")
    assert snap == same
    assert (overridden / "orders.csv").read_bytes() == (direct / "orders.csv").read_bytes()
    plain = _snapshot(dry_run_archive.run_dir)
    assert plain["run_key"] == snap["run_key"] and plain["context"] != snap["context"]

    # Who, when, what and why: in snapshot.json, in the ledger's run record, and in the report.
    assert len(recorded) == 1
    assert {k: recorded[0][k] for k in ("key", "value", "base", "actor", "reason")} == {
        "key": "strategy_params.fast", "value": 50, "base": 20, "actor": "ann", "reason": REASON}
    with open_ledger(db) as ledger:
        run = ledger.get_run(snap["run_key"])
        change_id = int(ledger.config_history(account="dry-run")["id"].iloc[-1])
    assert run is not None and run.summary["overrides"] == recorded
    report = (overridden / "report.html").read_text()
    assert "Overrides in effect" in report and REASON in report and "strategy_params.fast" in report
    assert "Overrides in effect" not in (direct / "report.html").read_text()
    assert "overrides" not in same

    # Reverted: the next session runs on the file's fast: 20 again and its report shows no override.
    undo = toolkit_cli(["config", "revert", str(change_id), "--reason", "back to the params file"], db)
    assert undo.returncode == 0 and "override cleared for account dry-run" in undo.stdout
    after = _run(toolkit_cli, db, tmp_path / "out", "as_of=2018-06-04")
    snap_after = _snapshot(after)
    assert "overrides" not in snap_after
    assert "Overrides in effect" not in (after / "report.html").read_text()
    reference = run_daily(tkparams.load("daily_dry_run", PARAMS, ["as_of=2018-06-04",
                                                                  f"db_url=sqlite:///{tmp_path / 'ref.sqlite'}"]))
    assert reference.decision is not None
    assert snap_after["context"] == json.loads(json.dumps(reference.decision.context))
