"""Fused grid kernels: one compiled pass per combination for signals, portfolio and metrics.

A strategy listed in :data:`KERNELS` has a module exposing
``grid_metrics(params, window, symbols, sim, window_key=None) -> (instruments, metrics, returns)``
(``window_key``: the window's fingerprint, for :mod:`.reuse`);
:func:`toolkit.optimize.evaluate.evaluate_task` then uses it instead of the vectorbt
path (which stays the reference: ``evaluate_task(task, bars, engine="vectorbt")``).
Both give the same metrics (relative 1e-9, trade counts exact:
``tests/unit/test_grid_kernels.py``). Modules are imported only when used, so a
process that never evaluates a grid never loads numba.
"""

from __future__ import annotations

import importlib
from types import ModuleType

#: Strategy name -> module of its fused kernel.
KERNELS: dict[str, str] = {
    "sma_crossover": "toolkit.optimize.kernels.sma_crossover",
    "ema_breakout": "toolkit.optimize.kernels.ema_breakout",
    "mean_reversion": "toolkit.optimize.kernels.mean_reversion",
    "atr_momentum": "toolkit.optimize.kernels.atr_momentum",
}


def kernel_module(strategy: str) -> ModuleType | None:
    """The fused kernel module of ``strategy``, or None when it has none.

    The first call of a process also makes sure the on-disk cache matches the
    kernels' sources (:func:`~toolkit.optimize.kernels.cache.ensure_fresh_cache`).
    """
    name = KERNELS.get(strategy)
    if not name:
        return None
    from toolkit.optimize.kernels.cache import ensure_fresh_cache

    ensure_fresh_cache()
    return importlib.import_module(name)
