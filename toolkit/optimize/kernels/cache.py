"""Keep numba's on-disk cache of the kernels in step with their source.

Why: numba invalidates a cached function when ITS file changes, not when a function
it calls from another file does. ``sma_grid`` (sma_crossover.py) compiles
``simulate_combo`` (simulate.py) into itself, so after an edit of simulate.py alone
the cache would keep serving the old core inside the old driver. Before the first
kernel runs in a process, :func:`ensure_fresh_cache` compares a fingerprint of every
kernel source file with the one stored beside the cached code and, when they differ,
drops this package's cached code (numba then recompiles and re-caches it).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

_FINGERPRINT = "toolkit-kernels.fingerprint"
#: Set once this process has checked the cache (a dict, so no ``global`` statement is needed).
_STATE = {"checked": False}


def source_fingerprint() -> str:
    """sha256 over the kernels package's Python sources (name and content, in name order)."""
    h = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def ensure_fresh_cache() -> None:
    """Drop this package's cached kernels if any kernel source changed since they were cached (once per process)."""
    if _STATE["checked"]:
        return
    from toolkit.optimize.kernels.simulate import simulate_combo

    cache_dir = Path(simulate_combo._cache._cache_path)  # type: ignore[attr-defined]
    stamp = cache_dir / _FINGERPRINT
    current = source_fingerprint()
    try:
        stored = stamp.read_text()
    except OSError:
        stored = ""
    if stored != current:
        for pattern in ("*.nbi", "*.nbc"):
            for f in cache_dir.glob(pattern):
                f.unlink(missing_ok=True)
        try:
            cache_dir.mkdir(parents=True, exist_ok=True)
            stamp.write_text(current)
        except OSError:
            pass  # a read-only cache: numba itself then compiles in memory
    _STATE["checked"] = True
