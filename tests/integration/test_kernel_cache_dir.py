"""A process started without ``NUMBA_CACHE_DIR`` loads the kernels ``make setup`` compiled.

Review of issue 14, finding 2: only the Makefile exported ``NUMBA_CACHE_DIR``, so
``.venv/bin/toolkit run ...`` from a plain shell, a JupyterLab started by hand or a
``dask worker`` looked in ``__pycache__`` and compiled for about 20 s. The kernels
package now points numba at the checkout's ``.numba_cache`` itself. These tests run
real subprocesses with the variable removed from their environment (and another
working directory), and read numba's own compile statistics of every kernel driver:
loads from the on-disk cache are counted as hits, compilations as misses. No timing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".numba_cache"

#: Runs every kernel as ``make setup`` does, then reports each driver's cache statistics.
_WARM_AND_REPORT = """
import importlib, json
from toolkit.optimize.kernels import KERNELS
from toolkit.optimize.kernels.warm import warm
warm()
report = {}
for strategy, name in KERNELS.items():
    module = importlib.import_module(name)
    driver = module.sma_grid if strategy == "sma_crossover" else module.grid_kernel
    stats = driver.stats
    report[strategy] = {"path": stats.cache_path, "hits": sum(stats.cache_hits.values()),
                        "misses": sum(stats.cache_misses.values())}
print(json.dumps(report))
"""


def _run(code: str, env: dict[str, str], cwd: Path) -> str:
    done = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip().splitlines()[-1]


def _files(directory: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(directory)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in directory.rglob("*") if p.is_file()}


def _without_cache_variable() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}


def test_a_plain_shell_process_loads_the_setup_cache_without_compiling(tmp_path: Path) -> None:
    env = _without_cache_variable()
    # The first process fills the cache if a kernel source changed since `make setup`
    # (it uses the same directory as the Makefile), so the second one meets a warm cache.
    _run(_WARM_AND_REPORT, env, tmp_path)
    before = _files(CACHE)
    report = json.loads(_run(_WARM_AND_REPORT, env, tmp_path))

    assert set(report) == {"sma_crossover", "ema_breakout", "mean_reversion", "atr_momentum"}
    for strategy, stats in report.items():
        assert Path(stats["path"]).is_relative_to(CACHE), (strategy, stats["path"])
        assert stats["hits"] >= 1 and stats["misses"] == 0, (strategy, stats)
    assert _files(CACHE) == before, "a warm process must not write the cache"


def test_an_explicit_numba_cache_dir_is_respected(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    code = ("from toolkit.optimize.kernels import kernel_module\n"
            "from toolkit.optimize.kernels.cache import project_cache_dir\n"
            "module = kernel_module('sma_crossover')\n"
            "print(module.sma_grid.stats.cache_path + '|' + str(project_cache_dir()))")
    path, project = _run(code, _without_cache_variable() | {"NUMBA_CACHE_DIR": str(elsewhere)}, tmp_path).split("|")
    assert Path(path).is_relative_to(elsewhere)
    assert Path(project) == CACHE
