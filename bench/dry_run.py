"""Benchmarks of the daily dry run and the replay (wired into bench/run.py by the lead).

Figures only, never asserts: `make bench` prints them.
"""

from __future__ import annotations

import datetime as dt
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOOLKIT = str(Path(sys.executable).with_name("toolkit"))


def bench_dry_run_papermill() -> None:
    """One `toolkit run daily_dry_run` end to end (papermill, ledger, HTML); goal <= 10 s warm."""
    import os

    with tempfile.TemporaryDirectory() as out:
        env = {**os.environ, "TOOLKIT_DB_URL": f"sqlite:///{out}/ledger.sqlite"}

        def once(as_of: str) -> float:
            t = time.perf_counter()
            subprocess.run([TOOLKIT, "run", "daily_dry_run", "--params", "params/daily_dry_run/sma_crossover.yaml",
                            "--set", f"as_of={as_of}", "--outputs", out], check=True, cwd=ROOT, env=env,
                           capture_output=True)
            return time.perf_counter() - t

        warm = once("2018-06-01")
        times = [once(d) for d in ("2018-06-04", "2018-06-05", "2018-06-06")]
    print(f"toolkit run daily_dry_run (papermill + ledger + HTML): warm-up {warm:.2f} s, median of 3 "
          f"{statistics.median(times):.2f} s  (runs: {', '.join(f'{t:.2f}' for t in times)})  goal <= 10 s")


def bench_replay() -> None:
    """Replay of the whole bundled history through run_session; goal >= 250 sessions/s."""
    from toolkit import params as tkparams
    from toolkit.data.dataset import load_dataset
    from toolkit.engine.replay import replay
    from toolkit.ledger import open_ledger

    p = tkparams.load("daily_dry_run", ROOT / "params/daily_dry_run/sma_crossover.yaml",
                      ["guards.daily_loss_limit=null", "data.start=1999-01-04"])
    ds = load_dataset(p.data, base_dir=ROOT)
    with tempfile.TemporaryDirectory() as out, open_ledger(f"sqlite:///{out}/ledger.sqlite") as ledger:
        res = replay(p, start=dt.date(1999, 1, 4), end=dt.date(2018, 12, 31), ledger=ledger, data=ds)
        t = time.perf_counter()
        again = replay(p, start=dt.date(1999, 1, 4), end=dt.date(2018, 12, 31), ledger=ledger, data=ds)
        rerun = time.perf_counter() - t
    print(f"replay of the bundled history (sma_crossover 20/100, NASDAQ): {res.sessions} sessions, "
          f"{len(res.trades)} fills in {res.elapsed_s:.1f} s = {res.sessions_per_second:.0f} sessions/s "
          f"(goal >= 250/s); re-run (all already done) {again.sessions / rerun:.0f} sessions/s; "
          f"problems: {len(res.problems)}")


if __name__ == "__main__":  # pragma: no cover
    bench_replay()
    bench_dry_run_papermill()
