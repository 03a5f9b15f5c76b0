"""Benchmarks of the paper session against the local Alpaca stand-in (figures only, never asserts).

* one ``toolkit run live`` end to end through papermill (adapter, ledger, report), goal <= 10 s;
* the adapter's per-order overhead against the stand-in over local HTTP: submit (lookup by
  client id first, POST), lookup (the order and its fills), record (the events into a
  SQLite ledger).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOOLKIT = str(Path(sys.executable).with_name("toolkit"))
SHARED = ROOT.parent / "shared" / "data" / "daily" / "qstrader"
NOW = "2015-12-01T20:55:00Z"
PRICES = {"SPY": 210.679993, "AGG": 108.57}
KEYS = {"APCA_API_KEY_ID": "PKBENCHKEY000000001", "APCA_API_SECRET_KEY": "bench-secret"}


def _standin():
    sys.path.insert(0, str(ROOT / "tests"))
    from support.alpaca_standin import StandIn

    running = StandIn.start(bars=[SHARED], symbols=["SPY", "AGG"], now=NOW)
    running.set_prices(PRICES)
    return running


def bench_paper_session_papermill() -> None:
    """`toolkit run live` on params/live/alpaca_paper.yaml against a fresh stand-in each time."""
    if not SHARED.is_dir():
        print("paper session: skipped (../shared/data is absent)")
        return

    def once(out: str) -> tuple[float, int]:
        standin = _standin()
        try:
            env = {**os.environ, **KEYS, "APCA_API_BASE_URL": standin.base_url,
                   "APCA_API_DATA_URL": standin.base_url, "TOOLKIT_CACHE_DIR": f"{out}/cache",
                   "TOOLKIT_DB_URL": f"sqlite:///{out}/ledger-{time.perf_counter_ns()}.sqlite"}
            t = time.perf_counter()
            subprocess.run([TOOLKIT, "run", "live", "--params", "params/live/alpaca_paper.yaml", "--outputs", out],
                           check=True, cwd=ROOT, env=env, capture_output=True)
            return time.perf_counter() - t, len(standin.state()["post_counts"])
        finally:
            standin.stop()

    with tempfile.TemporaryDirectory() as out:
        warm, _ = once(out)
        runs = [once(out) for _ in range(3)]
    times = [t for t, _ in runs]
    print(f"toolkit run live (paper, papermill + Alpaca stand-in + ledger + HTML, {runs[0][1]} orders): "
          f"warm-up {warm:.2f} s, median of 3 {statistics.median(times):.2f} s "
          f"(runs: {', '.join(f'{t:.2f}' for t in times)})  goal <= 10 s")


def bench_adapter_overhead() -> None:
    """Per order: AlpacaBroker.submit_order, get_order, and record_outcome into a SQLite ledger."""
    if not SHARED.is_dir():
        print("adapter overhead: skipped (../shared/data is absent)")
        return
    import datetime as dt

    from toolkit.brokers.alpaca import AlpacaBroker
    from toolkit.connections import AlpacaCredentials
    from toolkit.engine.execution import record_outcome
    from toolkit.ledger import open_ledger
    from toolkit.model import Order, OrderSide

    n = 60
    standin = _standin()
    try:
        creds = AlpacaCredentials(KEYS["APCA_API_KEY_ID"], KEYS["APCA_API_SECRET_KEY"], standin.base_url,
                                  standin.base_url)
        broker = AlpacaBroker(creds, paper=True)
        with tempfile.TemporaryDirectory() as tmp, open_ledger(f"sqlite:///{tmp}/l.sqlite") as ledger:
            ledger.set_initial_cash("bench", "paper", 100_000)
            now = dt.datetime(2015, 12, 1, 20, 55, tzinfo=dt.UTC)
            submit, lookup, record = [], [], []
            for i in range(n):
                coid = f"bench-order-{i:04d}"
                ledger.record_order(client_order_id=coid, run_key=None, mode="paper", strategy="bench",
                                    account="bench", symbol="AGG", side="buy", quantity=1, at=now)
                order = Order(coid, "AGG", OrderSide.BUY, 1, mode="paper")
                t0 = time.perf_counter()
                broker.submit_order(order)
                t1 = time.perf_counter()
                seen = broker.get_order(coid)
                t2 = time.perf_counter()
                record_outcome(ledger, broker, coid, now, account="bench", mode="paper", order=seen)
                t3 = time.perf_counter()
                submit.append(t1 - t0)
                lookup.append(t2 - t1)
                record.append(t3 - t2)
        broker.close()
    finally:
        standin.stop()
    med = {k: statistics.median(v) * 1000 for k, v in (("submit", submit), ("lookup", lookup), ("record", record))}
    print(f"Alpaca adapter per order over local HTTP ({n} orders, medians): submit {med['submit']:.1f} ms "
          f"(lookup by client id + POST), lookup {med['lookup']:.1f} ms (order + fills), record "
          f"{med['record']:.1f} ms (ledger), total {sum(med.values()):.1f} ms")
