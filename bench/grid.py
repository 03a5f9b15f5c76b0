"""Grid evaluation benchmarks (issue 14), wired into ``bench/run.py``.

Why these figures: a walk-forward or a sweep is where a quant waits, and the only
honest yardsticks are the peer the toolkit builds on (vectorbt) and what the machine
can do (a hand-written numba loop). All three run in ONE process on the same 5,000
daily bars (the NASDAQ sample of ``params/walk_forward/bench_10x500.yaml``), the same
1,000 SMA crossover combinations and the same fees:

a. the toolkit: :func:`toolkit.optimize.evaluate.evaluate_task` over chunks, the way a
   walk-forward runs its folds (every metric an objective or constraint may use);
b. raw vectorbt: SMAs from ``vbt.MA.run``, crossover entries/exits, ONE
   ``Portfolio.from_signals`` call with all columns, then total return, Sharpe and
   max drawdown;
c. a minimal single-threaded numba loop: SMA crossover, long/flat, equity, total
   return, Sharpe, max drawdown, trades.

Each is printed as bar-combinations per second (bars x combinations / seconds), with
the ratios toolkit/vectorbt and numba/toolkit. Then, each in a fresh subprocess:

* the first grid call of a fresh interpreter with the disk cache warm (goal < 1 s);
* a sweep of 1,000,000 combinations over the 5,000 bars: time and peak RSS
  (``VmHWM`` of /proc/self/status; goal < 2 GiB). Without the fused kernels the vectorbt path would
  take a long time, so a smaller sweep is measured and the 1M time extrapolated,
  labelled as such.

Prints figures; asserts nothing (DESIGN.md: never timed asserts in tests).
"""

from __future__ import annotations

import importlib.util
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
BENCH_PARAMS = "params/walk_forward/bench_10x500.yaml"
#: 20 fast x 50 slow lengths = 1,000 combinations, all with fast < slow.
GRID_SPEC = {"fast": {"start": 5, "stop": 100, "step": 5}, "slow": {"start": 105, "stop": 595, "step": 10}}
#: 1,000 fast x 1,000 slow lengths = 1,000,000 combinations, all with fast < slow.
SWEEP_SPEC = {"fast": {"start": 1, "stop": 1000, "step": 1}, "slow": {"start": 1001, "stop": 2000, "step": 1}}
INITIAL_CASH = 100_000.0
FEES_BPS = 10.0
CHUNK = 250  # the vectorbt path's chunk (and the walk-forward's default before fused kernels)


def auto_chunk(n_bars: int) -> int:
    """The walk-forward's default chunk (``chunk_size: auto``) for this grid."""
    from toolkit.optimize.evaluate import chunk_size_for

    return chunk_size_for("auto", "sma_crossover", n_bars)


def kernels_available(strategy: str = "sma_crossover") -> bool:
    """True when ``strategy`` has a fused grid kernel (:data:`toolkit.optimize.kernels.KERNELS`)."""
    if importlib.util.find_spec("toolkit.optimize.kernels") is None:
        return False
    from toolkit.optimize.kernels import KERNELS

    return strategy in KERNELS


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("NUMBA_CACHE_DIR", str(ROOT / ".numba_cache"))
    return env


def _bars():
    from toolkit import params as P
    from toolkit.data.dataset import load_dataset

    p = P.load("walk_forward", ROOT / BENCH_PARAMS)
    return load_dataset(p.data, base_dir=ROOT).panel


def _tasks(grid, n_bars: int, chunk: int):
    from toolkit.optimize.evaluate import GridTask
    from toolkit.optimize.grid import chunks

    return [GridTask(1, i, 0, 0, n_bars, c, "sma_crossover", {}, ("NASDAQ",), INITIAL_CASH, FEES_BPS, 0.0, "close")
            for i, c in enumerate(chunks(grid, chunk))]


# --------------------------------------------------------------------------- (a) toolkit


def run_toolkit(bars, grid, chunk: int = CHUNK) -> float:
    """Seconds for the toolkit's grid evaluation of ``grid`` (after one warm-up chunk).

    The indicator tables and market arrays the warm-up kept for the window are dropped
    before timing (:func:`toolkit.optimize.kernels.reuse.clear`): a walk-forward meets
    each fold's window once, so the timed run computes them, as a fold does.
    """
    from toolkit.optimize.evaluate import evaluate_task
    from toolkit.optimize.executors import LocalExecutor

    tasks = _tasks(grid, len(bars), chunk)
    evaluate_task(tasks[0], bars)  # imports, compilation or cache load
    if kernels_available():
        from toolkit.optimize.kernels.reuse import clear

        clear()
    t = time.perf_counter()
    LocalExecutor().map(evaluate_task, tasks, bars)
    return time.perf_counter() - t


# --------------------------------------------------------------------------- (b) vectorbt


def run_vectorbt(close: np.ndarray, fast: np.ndarray, slow: np.ndarray) -> tuple[float, float]:
    """Seconds for raw vectorbt (signals, one from_signals call, 3 metrics), and of those the from_signals call."""
    import pandas as pd
    import vectorbt as vbt

    price = pd.Series(close, index=pd.date_range("2000-01-03", periods=len(close), freq="D"))

    def once() -> tuple[float, float]:
        t0 = time.perf_counter()
        windows = np.unique(np.concatenate([fast, slow]))
        ma = vbt.MA.run(price, window=list(windows)).ma.to_numpy()
        pos = {int(w): i for i, w in enumerate(windows)}
        f = ma[:, [pos[int(w)] for w in fast]]
        s = ma[:, [pos[int(w)] for w in slow]]
        with np.errstate(invalid="ignore"):
            above = f > s
        before = np.zeros_like(above)
        before[1:] = above[:-1]
        entries, exits = above & ~before, ~above & before
        t1 = time.perf_counter()
        pf = vbt.Portfolio.from_signals(price, entries, exits, fees=FEES_BPS / 1e4, init_cash=INITIAL_CASH, freq="1D")
        t2 = time.perf_counter()
        pf.total_return(), pf.sharpe_ratio(), pf.max_drawdown()
        return time.perf_counter() - t0, t2 - t1

    once()  # warm: numba dispatch and vectorbt's caches
    return once()


# --------------------------------------------------------------------------- (c) numba


def _numba_loop():
    from numba import njit

    @njit(cache=True)
    def sma_cross_grid(close, fast, slow, fee, init_cash, out):  # pragma: no cover - compiled
        n = close.shape[0]
        for c in range(fast.shape[0]):
            nf, ns = fast[c], slow[c]
            sf = ss = 0.0
            cash, shares, prev, peak, mdd = init_cash, 0.0, init_cash, init_cash, 0.0
            s1 = s2 = 0.0
            trades = 0
            eq = init_cash
            for t in range(n):
                p = close[t]
                sf += p
                ss += p
                if t >= nf:
                    sf -= close[t - nf]
                if t >= ns:
                    ss -= close[t - ns]
                long = t >= ns - 1 and sf / nf > ss / ns
                if long and shares == 0.0:
                    shares = cash / (p * (1.0 + fee))
                    cash = 0.0
                    trades += 1
                elif not long and shares > 0.0:
                    cash = shares * p * (1.0 - fee)
                    shares = 0.0
                eq = cash + shares * p
                r = eq / prev - 1.0
                s1 += r
                s2 += r * r
                prev = eq
                peak = max(peak, eq)
                mdd = min(mdd, eq / peak - 1.0)
            mean = s1 / n
            var = (s2 - n * mean * mean) / (n - 1)
            out[c, 0] = eq / init_cash - 1.0
            out[c, 1] = mean / math.sqrt(var) * math.sqrt(252.0) if var > 0 else np.nan
            out[c, 2] = mdd
            out[c, 3] = trades

    return sma_cross_grid


def run_numba(close: np.ndarray, fast: np.ndarray, slow: np.ndarray) -> float:
    """Seconds for the hand-written single-threaded loop over every combination."""
    fn = _numba_loop()
    out = np.empty((len(fast), 4))
    fn(close, fast[:2], slow[:2], FEES_BPS / 1e4, INITIAL_CASH, out)  # compile or load from cache
    t = time.perf_counter()
    fn(close, fast, slow, FEES_BPS / 1e4, INITIAL_CASH, out)
    return time.perf_counter() - t


# --------------------------------------------------------------------------- throughput


def _rate(n_bars: int, n_combos: int, seconds: float) -> str:
    return f"{n_bars * n_combos / seconds / 1e6:,.1f} M bar-combinations/s"


def bench_grid_throughput() -> None:
    """The three evaluations side by side, in this process, on the same bars, grid and fees."""
    from toolkit.optimize.grid import expand_grid

    bars = _bars()
    grid = expand_grid(GRID_SPEC)
    close = bars[("NASDAQ", "close")].to_numpy(dtype=float)
    fast, slow = grid["fast"].to_numpy(np.int64), grid["slow"].to_numpy(np.int64)
    n, c = len(bars), len(grid)
    auto = auto_chunk(n)
    tk = run_toolkit(bars, grid, chunk=auto)
    tk_250 = run_toolkit(bars, grid, chunk=CHUNK)
    vb, vb_sim = run_vectorbt(close, fast, slow)
    nb = run_numba(close, fast, slow)
    engine = "fused kernels" if kernels_available() else "vectorbt from_orders path, no fused kernels yet"
    print(f"grid evaluation, {c:,} SMA crossover combinations x {n:,} bars, fees {FEES_BPS:g} bps:")
    print(f"  toolkit evaluate_task ({engine}, chunk_size auto = {min(auto, c):,}, every metric): {tk:.2f} s, "
          f"{_rate(n, c, tk)} (chunks of {CHUNK}: {_rate(n, c, tk_250)})")
    print(f"  raw vectorbt from_signals (MA.run signals + one call, all columns + 3 metrics): {vb:.2f} s, "
          f"{_rate(n, c, vb)} (the from_signals call alone {_rate(n, c, vb_sim)})")
    print(f"  hand-written numba loop (1 thread, SMA cross + long/flat + equity + 4 metrics): {nb:.3f} s, "
          f"{_rate(n, c, nb)}")
    print(f"  ratios: toolkit/vectorbt {vb / tk:.2f}x with vectorbt's signals and metrics, {vb_sim / tk:.2f}x against "
          f"its from_signals call alone (goal >= 10x); numba/toolkit {tk / nb:.1f}x")


# --------------------------------------------------------------------------- first call

#: A fresh interpreter: imports, then the first grid (250 combinations x 5,000 bars), then the same again.
_FIRST_CALL_SCRIPT = r"""
import sys, time
t0 = time.perf_counter()
from toolkit.optimize.evaluate import evaluate_task
from toolkit.optimize.grid import expand_grid
t1 = time.perf_counter()
sys.path.insert(0, sys.argv[1])
import grid as B
bars = B._bars()
task = B._tasks(expand_grid(B.GRID_SPEC).iloc[:250], len(bars), 250)[0]
t2 = time.perf_counter()
evaluate_task(task, bars)
t3 = time.perf_counter()
evaluate_task(task, bars)
t4 = time.perf_counter()
print(f"{t1 - t0:.3f} {t3 - t2:.3f} {t4 - t3:.3f} {int('vectorbt' in sys.modules)}")
"""


def _warm_disk_cache() -> str:
    """Fill the kernels' disk cache the way ``make setup`` does (a no-op before the kernels exist)."""
    if importlib.util.find_spec("toolkit.optimize.kernels.warm") is None:
        return "no kernels.warm module yet: cache warmed by a first run"
    subprocess.run([sys.executable, "-m", "toolkit.optimize.kernels.warm"], check=True, cwd=ROOT, env=_env(),
                   capture_output=True)
    return "cache warmed by python -m toolkit.optimize.kernels.warm"


def bench_grid_first_call() -> None:
    """First grid call of a fresh interpreter, disk cache warm (goal < 1 s)."""
    how = _warm_disk_cache()
    cmd = [sys.executable, "-c", _FIRST_CALL_SCRIPT, str(Path(__file__).parent)]
    subprocess.run(cmd, check=True, cwd=ROOT, env=_env(), capture_output=True)  # warm the caches
    out = subprocess.run(cmd, check=True, cwd=ROOT, env=_env(), capture_output=True, text=True).stdout.split()
    imports, first, second, vbt_loaded = float(out[-4]), float(out[-3]), float(out[-2]), out[-1] == "1"
    print(f"first grid call in a fresh process ({how}): import {imports:.2f} s, first evaluate_task "
          f"(250 combos x 5,000 bars) {first:.2f} s, second {second:.2f} s -> start-up cost {first - second:.2f} s "
          f"(goal < 1 s); vectorbt imported: {'yes' if vbt_loaded else 'no'}")


def bench_v35b_grid_path() -> None:
    """Say which path hierarchical_adaptive_v3_5b's grids take."""
    if kernels_available("hierarchical_adaptive_v3_5b"):
        print("hierarchical_adaptive_v3_5b: grids run on a fused kernel")
    else:
        print("hierarchical_adaptive_v3_5b: no fused kernel. Its parameters feed its adaptive Kalman trend filter "
              "(measurement noise scaled by a 500-innovation history, WMA smoothing, volume adjustment), a "
              "volatility-regime latch with a vol-crush override and a 6-cell allocator with a bond overlay: "
              "its costly part is sequential state that depends on the combination (unlike the other kernels' "
              "indicator tables, computed once per distinct value and shared); "
              "a kernel would be a bit-exact numba port of ~1,500 lines of scalar Python (strategy, Kalman filter, "
              "allocator). Its grids run v3.5b's vectorised decisions() once per combination "
              "(grid_decisions_one_by_one), then the vectorbt simulation")


# --------------------------------------------------------------------------- scale

#: A fresh interpreter so its VmHWM is this sweep's peak: expand the grid, its warm-up,
#: every chunk through evaluate_task, the metrics of every combination in one frame.
_SWEEP_SCRIPT = r"""
import sys, time
def peak_rss_kb():
    # VmHWM: this process's own peak. ru_maxrss would also count the bench process that
    # started it (Linux carries the parent's high-water mark across fork and exec).
    with open('/proc/self/status') as f:
        return next(int(l.split()[1]) for l in f if l.startswith('VmHWM:'))
import pandas as pd
sys.path.insert(0, sys.argv[1])
import grid as B
from toolkit.optimize.evaluate import evaluate_task, grid_warmup
from toolkit.optimize.executors import LocalExecutor
from toolkit.optimize.grid import expand_grid
n_combos, chunk = int(sys.argv[2]), int(sys.argv[3])
bars = B._bars()
evaluate_task(B._tasks(expand_grid(B.GRID_SPEC).iloc[:2], len(bars), 2)[0], bars)  # imports and compilation
base = peak_rss_kb()
t = time.perf_counter()
grid = expand_grid(B.SWEEP_SPEC).iloc[:n_combos]
warmup = grid_warmup("sma_crossover", grid, {}, ["NASDAQ"])
t_grid = time.perf_counter() - t
results = LocalExecutor().map(evaluate_task, B._tasks(grid, len(bars), chunk), bars)
metrics = pd.concat([r.metrics for r in results])
elapsed = time.perf_counter() - t
peak = peak_rss_kb()
print(len(metrics), len(bars), base, peak, f"{t_grid:.2f}", f"{elapsed:.2f}", warmup)
"""


def bench_grid_sweep_1m(n_combos: int | None = None, chunk: int | None = None) -> None:
    """1,000,000 combinations x 5,000 bars in a fresh process: time and peak RSS (goal < 2 GiB).

    Without the fused kernels only ``n_combos`` (default 20,000) are run and the time
    is extrapolated to 1M (memory is bounded per chunk, so the peak is measured, not scaled).
    """
    full = 1_000_000
    fused = kernels_available()
    n = n_combos or (full if fused else 20_000)
    size = chunk or (auto_chunk(5_000) if fused else CHUNK)
    cmd = [sys.executable, "-c", _SWEEP_SCRIPT, str(Path(__file__).parent), str(n), str(size)]
    out = subprocess.run(cmd, check=True, cwd=ROOT, env=_env(), capture_output=True, text=True).stdout.split()
    got, n_bars, base_kb, peak_kb, t_grid, elapsed = int(out[-7]), int(out[-6]), int(out[-5]), int(out[-4]), \
        float(out[-3]), float(out[-2])
    rate = got * n_bars / elapsed
    head = f"sweep {got:,} combinations x {n_bars:,} bars (chunks of {size:,}): {elapsed:.1f} s " \
           f"(grid + warm-up {t_grid:.1f} s), {rate / 1e6:,.1f} M bar-combinations/s, peak RSS " \
           f"{peak_kb / 1024 ** 2:.2f} GiB (after imports {base_kb / 1024 ** 2:.2f} GiB)  goal < 2 GiB"
    if got < full:
        head += f"; EXTRAPOLATED to 1,000,000 combinations at this rate: {full * n_bars / rate:,.0f} s " \
                f"(measured {got:,}, not 1M: no fused kernels yet)"
    print(head)


def bench_grid() -> None:
    """Every grid figure (the entry point bench/run.py calls)."""
    for fn in (bench_grid_throughput, bench_grid_first_call, bench_v35b_grid_path, bench_grid_sweep_1m):
        fn()
        sys.stdout.flush()


if __name__ == "__main__":
    only = sys.argv[1:]
    for fn in (bench_grid_throughput, bench_grid_first_call, bench_v35b_grid_path, bench_grid_sweep_1m):
        if not only or any(o in fn.__name__ for o in only):
            fn()
            sys.stdout.flush()
