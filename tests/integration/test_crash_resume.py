"""A dry run killed at any step completes on the next run: no duplicate order, a consistent ledger.

Each case runs a real subprocess that dies (``os._exit``, no cleanup, like SIGKILL)
at one step of :func:`toolkit.engine.session.run_session` through the
``TOOLKIT_CRASH_AT`` hook, then runs the same sessions again in a fresh process and
compares the ledger with a clean run's.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from toolkit.engine.crash import CRASH_EXIT_CODE, CRASH_POINTS

ROOT = Path(__file__).resolve().parents[2]

#: Day 1 (a fresh account) buys NASDAQ and SP500; day 2 sells SP500 (its SMA flipped).
DAYS = ["2018-06-01", "2018-06-29"]
RAW = {
    "strategy": "sma_crossover",
    "strategy_params": {"fast": 10, "slow": 30},
    "data": {"source": "sample", "symbols": ["NASDAQ", "SP500"], "start": "2017-06-01", "end": "2018-12-31"},
    "account": "crash-test",
    "costs": {"fees_bps": 10, "slippage_bps": 5},
    "guards": {"daily_loss_limit": None},
}

WORKER = r"""
import json, os, sys
from toolkit import params as tp
from toolkit.engine.daily import run_daily
raw, url, days, crash_day = json.loads(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3]), sys.argv[4]
crash = os.environ.pop("TOOLKIT_CRASH_AT", None)
for day in days:
    if crash and day == crash_day:
        os.environ["TOOLKIT_CRASH_AT"] = crash
    p = tp.validate("daily_dry_run", {**raw, "as_of": day, "db_url": url})
    r = run_daily(p)
    print(day, r.status, len(r.orders), r.problems, flush=True)
"""


def _run(url: str, crash: str | None = None, crash_day: str = DAYS[1]) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("TOOLKIT_CRASH_AT", "TOOLKIT_DB_URL")}
    if crash:
        env["TOOLKIT_CRASH_AT"] = crash
    return subprocess.run(
        [sys.executable, "-c", WORKER, json.dumps(RAW), url, json.dumps(DAYS), crash_day],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )


def _state(url: str) -> dict:
    from toolkit.ledger import open_ledger

    with open_ledger(url) as led:
        orders = led.orders(account="crash-test")
        fills = led.fills(account="crash-test")
        positions = {s: p.quantity for s, p in led.positions("crash-test", "offline_mock").items()}
        cash = led.cash("crash-test", "offline_mock")
        last = led.snapshots(account="crash-test").iloc[-1]
        marks = {s: Decimal(str(v)) for s, v in (last["context"] or {}).get("marks", {}).items()}
        problems = led.check_consistency("crash-test", "offline_mock", marks)
        runs = led.runs(account="crash-test")
        broker = led.get_state("broker:simulated:crash-test:offline_mock")
    return {
        "coids": list(orders["client_order_id"]),
        "statuses": list(orders["status"]),
        "fill_ids": list(fills["fill_id"]),
        "positions": positions,
        "cash": cash,
        "equity": last["equity"],
        "problems": problems,
        "runs": list(runs["status"]),
        "broker_positions": {s: sum(Decimal(lot["quantity"]) for lot in lots) for s, lots in broker["lots"].items()},
        "broker_orders": [o["client_order_id"] for o in broker["orders"]],
    }


@pytest.fixture(scope="module")
def clean_ledger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ledger file of a clean run of the sessions (no crash)."""
    path = tmp_path_factory.mktemp("clean") / "ledger.sqlite"
    done = _run(f"sqlite:///{path}")
    assert done.returncode == 0, done.stderr
    return path


@pytest.fixture(scope="module")
def clean(clean_ledger: Path) -> dict:
    state = _state(f"sqlite:///{clean_ledger}")
    assert state["problems"] == []
    assert len(state["coids"]) >= 3, "the scenario should buy on day 1 and sell on day 2"
    assert any(c.endswith(tuple("0123456789abcdef")) and "-S-" in c for c in state["coids"])
    return state


@pytest.mark.parametrize("step", CRASH_POINTS)
def test_crash_then_resume(step: str, clean: dict, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    crashed = _run(url, crash=step)
    assert crashed.returncode == CRASH_EXIT_CODE, (crashed.stdout, crashed.stderr)
    resumed = _run(url)
    assert resumed.returncode == 0, resumed.stderr
    state = _state(url)
    assert len(state["coids"]) == len(set(state["coids"])), "duplicate client_order_id"
    assert len(state["broker_orders"]) == len(set(state["broker_orders"])), "broker saw an order twice"
    assert state["problems"] == []
    for key in ("coids", "statuses", "fill_ids", "positions", "cash", "equity", "runs", "broker_positions"):
        assert state[key] == clean[key], key
    assert state["broker_positions"] == state["positions"]


def test_rerun_sends_nothing(clean: dict, clean_ledger: Path, tmp_path: Path) -> None:
    # A copy of the clean run's ledger is a first run of these sessions (its exit status is
    # asserted by ``clean_ledger``), so only the second run needs a process here.
    path = tmp_path / "ledger.sqlite"
    with sqlite3.connect(clean_ledger) as src, sqlite3.connect(path) as dst:
        src.backup(dst)  # a consistent copy whatever the WAL holds
    url = f"sqlite:///{path}"
    again = _run(url)
    assert again.returncode == 0, again.stderr
    assert "already_done" in again.stdout
    assert _state(url)["coids"] == clean["coids"]
