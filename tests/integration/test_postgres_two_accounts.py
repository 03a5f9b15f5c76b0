"""Two sessions of different accounts at once on one PostgreSQL ledger (issue 12 point 8).

Two real ``toolkit replay`` processes (the daily session loop over a year of sessions, with
a ledger write before and after every simulated broker call) share one PostgreSQL
database. Afterwards every invariant of each account holds (the ledger's consistency
check: fills, lots, positions, cash re-derived from the fills), nothing of one account
leaks into the other, and each account's books equal those of the same replay run alone,
in process, on SQLite.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import asdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from toolkit import params as tkparams
from toolkit import replay
from toolkit.ledger import open_ledger

pytestmark = pytest.mark.postgresql

ROOT = Path(__file__).resolve().parents[2]
PARAMS = "params/daily_dry_run/sma_crossover.yaml"
MODE = "offline_mock"
START, END = "2018-01-02", "2018-12-31"
#: Two accounts trading differently (a faster crossover trades more often).
ACCOUNTS = {"team-a": [], "team-b": ["strategy_params.fast=10", "strategy_params.slow=40"]}


def _books(url: str, account: str) -> dict[str, Any]:
    """An account's books read through the ledger (same Python values on both backends), without
    row ids (they differ between a shared and an own ledger) and wall-clock times."""

    def plain(record: Any) -> dict[str, Any]:
        return {k: v for k, v in asdict(record).items()
                if k not in ("id", "order_id", "parent_order_id", "recorded_at", "started_at", "finished_at")}

    with open_ledger(url) as ledger:
        snaps = ledger.snapshots(account=account)
        return {
            "orders": [plain(r) for r in ledger.order_records(account=account)],
            "fills": [plain(r) for r in ledger.fill_records(account=account)],
            "positions": {s: plain(p) for s, p in ledger.positions(account, MODE, include_flat=True).items()},
            "cash": (ledger.initial_cash(account, MODE), ledger.cash(account, MODE)),
            "snapshots": snaps.drop(columns=["id", "recorded_at"], errors="ignore").to_dict("records"),
            "runs": ledger.runs(account=account)[["run_key", "status", "session_date"]].to_dict("records"),
        }


def test_two_accounts_replayed_at_once_keep_every_invariant(postgres_fresh_url: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "TOOLKIT_DB_URL"} | {"TOOLKIT_DB_URL": postgres_fresh_url}
    toolkit = Path(sys.executable).with_name("toolkit")
    procs = {
        account: subprocess.Popen(
            [str(toolkit), "replay", "--params", PARAMS, "--start", START, "--end", END, "--account", account,
             "--no-parity", *[arg for s in sets for arg in ("--set", s)]],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for account, sets in ACCOUNTS.items()
    }
    outputs = {account: p.communicate(timeout=900) for account, p in procs.items()}
    for account, p in procs.items():
        out, err = outputs[account]
        assert p.returncode == 0, err
        assert "(completed 251)" in out and "problem" not in err
        assert "toolkit-test-only" not in out + err  # the URL's password is never printed

    with open_ledger(postgres_fresh_url) as ledger:
        assert set(ledger.run_accounts()) >= set(ACCOUNTS)
        for account in ACCOUNTS:
            # Any mark will do: cash + positions = initial + realised + unrealised - fees at every price.
            assert ledger.check_consistency(account, MODE, {"NASDAQ": Decimal("6635.28")}) == []

    for account, sets in ACCOUNTS.items():
        alone = f"sqlite:///{tmp_path / f'{account}.sqlite'}"
        p = tkparams.load("daily_dry_run", ROOT / PARAMS, sets)
        result = replay(p, START, END, db_url=alone, account=account)
        assert result.sessions == 251 and not result.problems
        together, by_itself = _books(postgres_fresh_url, account), _books(alone, account)
        assert together == by_itself
        assert len(together["snapshots"]) == 251 and len(together["fills"]) >= 2
