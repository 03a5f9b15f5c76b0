"""`make bench`: scripted benchmarks that print figures (never timed asserts in tests).

Each section prints what it measured; the README and the issue notes quote them.
"""

from __future__ import annotations

import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOOLKIT = str(Path(sys.executable).with_name("toolkit"))


def _wall(cmd: list[str]) -> float:
    return _timed(cmd)[0]


def _timed(cmd: list[str]) -> tuple[float, str]:
    """Wall time of ``cmd`` and its stdout."""
    t = time.perf_counter()
    done = subprocess.run(cmd, check=True, cwd=ROOT, capture_output=True, text=True)
    return time.perf_counter() - t, done.stdout


#: The banner at the top of plotly.js's bundle: one per copy of the library in a page.
PLOTLY_BANNER = re.compile(r"\* plotly\.js v\d+\.\d+\.\d+")


def report_size(report: Path) -> tuple[float, int]:
    """Size of an HTML report in MB (10^6 bytes) and how many copies of plotly.js it embeds."""
    return report.stat().st_size / 1e6, len(PLOTLY_BANNER.findall(report.read_text(encoding="utf-8")))


def bench_backtest_run() -> None:
    with tempfile.TemporaryDirectory() as out:
        cmd = [TOOLKIT, "run", "backtest", "--params", "params/backtest/sma_crossover.yaml", "--outputs", out]
        warm, stdout = _timed(cmd)
        times = [_wall(cmd) for _ in range(3)]
        mb, plotly_copies = report_size(Path(stdout.strip().splitlines()[-1]) / "report.html")
    print(f"toolkit run backtest (default params, papermill + HTML): warm-up {warm:.2f} s, "
          f"median of 3 {statistics.median(times):.2f} s  (runs: {', '.join(f'{t:.2f}' for t in times)})  goal < 6 s; "
          f"report.html {mb:.2f} MB with plotly.js {plotly_copies}x  goal < 6 MB, 1x")


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


def _v35b_panel():
    from toolkit.data.dataset import load_dataset
    from toolkit.params import load

    p = load("backtest", ROOT / "params/backtest/hierarchical_adaptive_v3_5b.yaml", ["data.start=1999-01-04"])
    from toolkit.strategies import registry

    strat = registry.create(p.strategy, p.strategy_params, symbols=p.data.symbols)
    return strat, load_dataset(p.data, base_dir=ROOT, optional=strat.optional_symbols()).panel


def bench_v35b_paths() -> None:
    strat, panel = _v35b_panel()
    strat.decisions(panel)  # warm
    t = time.perf_counter()
    strat.decisions(panel)
    vec = time.perf_counter() - t
    t = time.perf_counter()
    strat.decide_each(panel)
    each = time.perf_counter() - t
    print(f"v3.5b over the bundled history ({len(panel)} bars): vectorised {vec * 1000:.1f} ms, "
          f"bar by bar decide() {each:.2f} s ({each / len(panel) * 1e6:.0f} us/bar)")


def bench_allocation() -> None:
    import numpy as np
    import pandas as pd

    from toolkit.strategies.allocator import allocate

    rng = np.random.default_rng(7)
    idx = pd.bdate_range("2010-01-01", periods=2520, tz="UTC")
    syms = [f"S{i:03d}" for i in range(100)]
    weights = {f"strat{k}": pd.DataFrame(rng.random((len(idx), 100)) / 100, index=idx, columns=syms) for k in range(10)}
    returns = pd.DataFrame(rng.normal(0, 0.01, (len(idx), 10)), index=idx, columns=list(weights))
    for method in ("equal", "inverse_vol", "rank"):
        allocate(weights, method=method, returns=returns)
        times = []
        for _ in range(5):
            t = time.perf_counter()
            allocate(weights, method=method, returns=returns)
            times.append(time.perf_counter() - t)
        print(f"allocation 10 strategies x 100 symbols x {len(idx)} bars, {method}: median {statistics.median(times) * 1000:.1f} ms (goal <= 50 ms)")


from dashboard import bench_panel_live_refresh, bench_panel_load  # noqa: E402  (bench/ is on sys.path)
from dry_run import bench_dry_run_papermill, bench_replay  # noqa: E402
from grid import bench_grid_first_call, bench_grid_sweep_1m, bench_grid_throughput, bench_v35b_grid_path  # noqa: E402
from health import bench_health  # noqa: E402
from live import bench_adapter_overhead, bench_paper_session_papermill  # noqa: E402
from postgres import bench_replay_postgres  # noqa: E402
from walk_forward import bench_walk_forward_memory, bench_walk_forward_run  # noqa: E402

SECTIONS = [
    bench_backtest_in_process,
    bench_backtest_run,
    bench_v35b_paths,
    bench_allocation,
    bench_walk_forward_run,
    bench_walk_forward_memory,
    bench_grid_throughput,
    bench_grid_first_call,
    bench_v35b_grid_path,
    bench_grid_sweep_1m,
    bench_dry_run_papermill,
    bench_replay,
    bench_replay_postgres,
    bench_health,
    bench_paper_session_papermill,
    bench_adapter_overhead,
    bench_panel_load,
    bench_panel_live_refresh,
]

if __name__ == "__main__":
    only = sys.argv[1:]
    for fn in SECTIONS:
        if not only or any(o in fn.__name__ for o in only):
            fn()
            sys.stdout.flush()
