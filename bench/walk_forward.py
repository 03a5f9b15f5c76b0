"""Walk-forward benchmarks (wired into ``bench/run.py`` as ``bench_walk_forward``).

1. End to end: ``toolkit run walk_forward --params params/walk_forward/bench_10x500.yaml``
   (10 folds x 500 SMA crossover combinations on 5,000 daily bars, through papermill,
   with the HTML report), wall time of the command. Goal < 8 s (issue 14).
2. Peak memory of evaluating 20,000 combinations (100 fast x 200 slow lengths) on the
   same 5,000 bars in chunks, measured in a fresh subprocess with
   its ``VmHWM`` (/proc/self/status; ru_maxrss would include the parent's peak). Goal < 2 GiB.

Prints figures; asserts nothing (DESIGN.md: never timed asserts in tests).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOOLKIT = str(Path(sys.executable).with_name("toolkit"))
BENCH_PARAMS = "params/walk_forward/bench_10x500.yaml"

#: Run in a fresh interpreter so its VmHWM is the peak of this evaluation alone.
_MEMORY_SCRIPT = r"""
import sys, time
def peak_rss_kb():
    # VmHWM: this process's own peak. ru_maxrss would also count the bench process that
    # started it (Linux carries the parent's high-water mark across fork and exec).
    with open('/proc/self/status') as f:
        return next(int(l.split()[1]) for l in f if l.startswith('VmHWM:'))
import numpy as np
import pandas as pd
from toolkit import params as P
from toolkit.data.dataset import load_dataset
from toolkit.optimize.evaluate import GridTask, evaluate_task, grid_warmup
from toolkit.optimize.executors import LocalExecutor
from toolkit.optimize.grid import chunks, expand_grid

p = P.load("walk_forward", P.repo_root() / "params/walk_forward/bench_10x500.yaml")
bars = load_dataset(p.data, base_dir=P.repo_root()).panel
import vectorbt  # imported before the baseline so the figure below isolates the evaluation
base = peak_rss_kb()
grid = expand_grid({"fast": {"start": 1, "stop": 100, "step": 1}, "slow": {"start": 101, "stop": 300, "step": 1}})
chunk_size = int(sys.argv[1])
tasks = [GridTask(1, i, 0, 0, len(bars), c, "sma_crossover", {}, ("NASDAQ",), 100_000.0, 10.0, 0.0, "close")
         for i, c in enumerate(chunks(grid, chunk_size))]
t = time.perf_counter()
results = LocalExecutor().map(evaluate_task, tasks, bars)
elapsed = time.perf_counter() - t
metrics = pd.concat([r.metrics for r in results])
peak = peak_rss_kb()
print(f"{len(metrics)} {len(bars)} {base} {peak} {elapsed:.2f}")
"""


def _wall(cmd: list[str]) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=ROOT, capture_output=True)
    return time.perf_counter() - t


def bench_walk_forward_run(repeats: int = 2) -> None:
    """``toolkit run walk_forward`` on the 10 x 500 bench params: wall time per run."""
    times, inner = [], []
    with tempfile.TemporaryDirectory() as out:
        cmd = [TOOLKIT, "run", "walk_forward", "--params", BENCH_PARAMS, "--outputs", out]
        warm = _wall(cmd)
        for _ in range(repeats):
            times.append(_wall(cmd))
        for mf in sorted(Path(out).glob("walk_forward/*/manifest.json")):
            m = json.loads(mf.read_text())
            inner.append((m.get("duration_s"), m.get("walk_forward_seconds")))
    last_nb, last_job = inner[-1] if inner else (None, None)
    print(
        f"toolkit run walk_forward (10 folds x 500 combos, 5,000 bars, papermill + HTML): warm-up {warm:.2f} s, "
        f"median of {repeats} {statistics.median(times):.2f} s (runs: {', '.join(f'{t:.2f}' for t in times)}); "
        f"last run: notebook {last_nb} s, of which walk-forward job {last_job} s  goal < 8 s"
    )


def bench_walk_forward_memory(chunk_size: int = 250) -> None:
    """Peak RSS of evaluating 20,000 combinations on 5,000 bars, in a subprocess."""
    proc = subprocess.run([sys.executable, "-c", _MEMORY_SCRIPT, str(chunk_size)], check=True, cwd=ROOT,
                          capture_output=True, text=True)
    n, n_bars, base_kb, peak_kb, elapsed = proc.stdout.split()[-5:]
    print(
        f"evaluate {int(n):,} combinations x {int(n_bars):,} bars (chunks of {chunk_size}): peak RSS "
        f"{int(peak_kb) / 1024 ** 2:.2f} GiB (after imports {int(base_kb) / 1024 ** 2:.2f} GiB), "
        f"{float(elapsed):.1f} s  goal < 2 GiB"
    )


def bench_walk_forward() -> None:
    """Both walk-forward figures (the entry point bench/run.py calls)."""
    bench_walk_forward_run()
    sys.stdout.flush()
    bench_walk_forward_memory()


if __name__ == "__main__":
    bench_walk_forward()
