"""Fused grid kernels: one compiled pass per combination for signals, portfolio and metrics.

A strategy listed in :data:`KERNELS` has a module exposing
``grid_metrics(params, window, symbols, sim, window_key=None) -> (instruments, metrics, returns)``
(``window_key``: the window's fingerprint, for :mod:`.reuse`);
:func:`toolkit.optimize.evaluate.evaluate_task` then uses it instead of the vectorbt
path (which stays the reference: ``evaluate_task(task, bars, engine="vectorbt")``).
Both give the same metrics (relative 1e-9, trade counts exact:
``tests/unit/test_grid_kernels.py``). Kernel modules are imported only when used,
and this package only by grid evaluation, so a process that never evaluates a grid
never loads numba.

Importing this package points numba's compiled-code cache at the project's
``.numba_cache`` unless ``NUMBA_CACHE_DIR`` names another directory
(:func:`~toolkit.optimize.kernels.cache.use_project_cache_dir`: ``make setup`` fills
that directory, and numba binds a function's cache when the function is defined, so
this must run before any kernel module is imported).
"""

from __future__ import annotations

import importlib
from types import ModuleType

from toolkit.optimize.kernels.cache import ensure_fresh_cache, use_project_cache_dir

use_project_cache_dir()

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
    use_project_cache_dir()  # again: a later change of a NUMBA_* variable makes numba re-read its config
    ensure_fresh_cache()
    return importlib.import_module(name)
