"""Compile every fused kernel into numba's on-disk cache: ``python -m toolkit.optimize.kernels.warm``.

Why: compiling the kernels costs tens of seconds, and every papermill run is a fresh
process. ``make setup`` runs this once, into the project's ``.numba_cache`` (the directory
every process uses: :func:`toolkit.optimize.kernels.cache.use_project_cache_dir`), so a fresh
process loads the compiled code from disk instead. A tiny synthetic input suffices:
numba compiles per argument types, and the inputs here have exactly the types
:func:`toolkit.optimize.kernels.inputs.prepare_inputs` produces (one and several
instruments, both fills share them).
"""

from __future__ import annotations

import sys
import time

import numpy as np
import pandas as pd


def _bars(symbols: list[str], n: int = 40) -> pd.DataFrame:
    idx = pd.date_range("2020-01-01", periods=n, freq="D", tz="UTC", name="timestamp")
    rng = np.random.default_rng(0)
    cols: dict[tuple[str, str], np.ndarray] = {}
    for s in symbols:
        close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
        for field, values in (("open", close), ("high", close), ("low", close), ("close", close), ("volume", close)):
            cols[(s, field)] = values
    columns = pd.MultiIndex.from_tuples(list(cols), names=["symbol", "field"])
    return pd.DataFrame(np.column_stack(list(cols.values())), index=idx, columns=columns)


def warm() -> list[str]:
    """Run every registered kernel once on a tiny input; returns the strategies warmed."""
    from toolkit.optimize.evaluate import GridTask, evaluate_task
    from toolkit.optimize.kernels import KERNELS
    from toolkit.strategies import registry

    warmed = []
    for strategy in KERNELS:
        cls = registry.get(strategy)
        for symbols in (["A"], ["A", "B"]):
            bars = _bars(symbols)
            combos = pd.DataFrame([cls.Params().model_dump()])  # the default parameters
            combos.index = pd.RangeIndex(1, name="combination")
            task = GridTask(
                key=0, chunk=0, decide_start=0, start=5, stop=len(bars), combos=combos, strategy=strategy,
                fixed={}, symbols=tuple(symbols), initial_cash=1e5, fees_bps=1.0, slippage_bps=1.0, fill="close",
            )  # fmt: skip
            evaluate_task(task, bars, engine="fused")
        warmed.append(strategy)
    return warmed


def main() -> int:
    t0 = time.perf_counter()
    warmed = warm()
    print(f"numba kernels cached for {', '.join(warmed)} in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
