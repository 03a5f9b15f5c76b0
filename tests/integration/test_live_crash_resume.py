"""A paper session killed after each step, then resumed: no order is ever sent twice.

The stand-in Alpaca server runs in this test's process; the session runs in a real
subprocess (the real adapter, alpaca-py, over HTTP) that dies with ``os._exit`` at one
step (``TOOLKIT_CRASH_AT``, like SIGKILL). A fresh process then runs the same session:
it reconciles (catching up what the broker did with the orders the dead process sent),
completes, and the stand-in has received every order exactly once; the ledger equals
the broker. Compared with an uninterrupted session, the ledger's orders are the same.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from toolkit.engine.crash import CRASH_EXIT_CODE, CRASH_POINTS
from toolkit.ledger import open_ledger

from support.alpaca_standin import StandIn

ROOT = Path(__file__).resolve().parents[2]
NOW = "2015-12-01T20:55:00Z"
PRICES = {"SPY": 210.679993, "AGG": 108.57}
RAW = {
    "strategy": "sma_crossover", "strategy_params": {"fast": 5, "slow": 20},
    "data": {"source": "alpaca", "symbols": ["SPY", "AGG"], "start": "2015-06-01"},
    "account": "crash-paper", "mode": "paper", "execution_time": "5min_before_close",
    "broker": {"name": "alpaca", "poll_seconds": 0.2, "order_timeout_seconds": 10},
}
WORKER = r"""
import json, sys
from toolkit import params as tp
from toolkit.engine.live import run_live
raw = json.loads(sys.argv[1])
result = run_live(tp.validate("live", raw))
s = result.session
print(json.dumps({"status": result.status, "stopped": result.stopped,
                  "orders": [] if s is None else [o.client_order_id for o in s.orders]}), flush=True)
"""


def _session(raw: dict, env: dict[str, str], crash: str | None = None) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k not in ("TOOLKIT_CRASH_AT", "TOOLKIT_DB_URL")} | env
    if crash:
        environ["TOOLKIT_CRASH_AT"] = crash
    return subprocess.run([sys.executable, "-c", WORKER, json.dumps(raw)], cwd=ROOT, env=environ,
                          capture_output=True, text=True, timeout=300)


def _state(url: str) -> tuple[list[tuple], dict[str, Decimal]]:
    with open_ledger(url) as ledger:
        orders = sorted((o.client_order_id, o.symbol, o.side, str(o.quantity), o.status, str(o.filled_quantity))
                        for o in ledger.order_records(account="crash-paper", mode="paper"))
        held = {s: p.quantity for s, p in ledger.positions("crash-paper", "paper").items() if p.quantity}
        assert ledger.check_consistency("crash-paper", "paper", {s: Decimal(str(p)) for s, p in PRICES.items()}) == []
    return orders, held


@pytest.fixture
def market(shared_data: Path, alpaca_env: dict[str, str], tmp_path: Path):
    def start():
        running = StandIn.start(bars=[shared_data / "daily" / "qstrader"], symbols=["SPY", "AGG"], now=NOW)
        running.set_prices(PRICES)
        env = {**alpaca_env, "APCA_API_BASE_URL": running.base_url, "APCA_API_DATA_URL": running.base_url,
               "TOOLKIT_CACHE_DIR": str(tmp_path / "cache")}
        return running, env
    return start


def _broker_positions(standin: StandIn) -> dict[str, Decimal]:
    return {s: Decimal(p["qty"]) for s, p in standin.state()["positions"].items() if Decimal(p["qty"])}


def test_clean_paper_session_for_reference(market, tmp_path):
    standin, env = market()
    try:
        url = f"sqlite:///{tmp_path / 'clean.sqlite'}"
        done = _session({**RAW, "db_url": url}, env)
        assert done.returncode == 0, done.stderr[-2000:]
        assert json.loads(done.stdout.splitlines()[-1])["status"] == "completed"
        orders, held = _state(url)
        assert orders and held == _broker_positions(standin)
        assert set(standin.state()["post_counts"].values()) == {1}
    finally:
        standin.stop()


@pytest.mark.parametrize("point", CRASH_POINTS)
def test_killed_at_each_step_the_resumed_session_sends_nothing_twice(market, tmp_path, point):
    standin, env = market()
    try:
        url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
        raw = {**RAW, "db_url": url}
        crashed = _session(raw, env, crash=point)
        assert crashed.returncode == CRASH_EXIT_CODE, crashed.stderr[-2000:]
        resumed = _session(raw, env)
        assert resumed.returncode == 0, resumed.stderr[-2000:]
        outcome = json.loads(resumed.stdout.splitlines()[-1])
        assert outcome["stopped"] is None and outcome["status"] == "completed", outcome
        counts = standin.state()["post_counts"]
        assert counts and set(counts.values()) == {1}, counts  # every order reached Alpaca exactly once
        orders, held = _state(url)
        assert held == _broker_positions(standin)
        assert all(status == "filled" for *_, status, _ in orders), orders
        assert {o[0] for o in orders} == set(counts)
    finally:
        standin.stop()
