"""`make bench`: scripted benchmarks that print figures (never timed asserts in tests).

Each section prints what it measured; the README and the issue notes quote them.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOOLKIT = str(Path(sys.executable).with_name("toolkit"))


def _wall(cmd: list[str]) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=ROOT, capture_output=True)
    return time.perf_counter() - t


def bench_backtest_run() -> None:
    with tempfile.TemporaryDirectory() as out:
        cmd = [TOOLKIT, "run", "backtest", "--params", "params/backtest/sma_crossover.yaml", "--outputs", out]
        warm = _wall(cmd)
        times = [_wall(cmd) for _ in range(3)]
    print(f"toolkit run backtest (default params, papermill + HTML): warm-up {warm:.2f} s, "
          f"median of 3 {statistics.median(times):.2f} s  (runs: {', '.join(f'{t:.2f}' for t in times)})  goal <= 12 s")


def bench_backtest_in_process() -> None:
    from toolkit.backtest.job import run_backtest_job
    from toolkit.params import load

    p = load("backtest", ROOT / "params/backtest/sma_crossover.yaml")
    run_backtest_job(p)  # warm: imports and caches
    times = []
    for _ in range(5):
        t = time.perf_counter()
        run_backtest_job(p)
        times.append(time.perf_counter() - t)
    print(f"one backtest in process (load, decide, simulate, metrics): median of 5 {statistics.median(times) * 1000:.1f} ms")


SECTIONS = [bench_backtest_in_process, bench_backtest_run]

if __name__ == "__main__":
    only = sys.argv[1:]
    for fn in SECTIONS:
        if not only or any(o in fn.__name__ for o in only):
            fn()
            sys.stdout.flush()
