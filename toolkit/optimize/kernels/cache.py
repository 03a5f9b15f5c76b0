"""Where numba caches the compiled kernels, and keeping that cache in step with their source.

Where: ``make setup`` compiles the kernels into the project's ``.numba_cache``
(:mod:`.warm`). numba looks there only when told: without ``NUMBA_CACHE_DIR`` it
uses ``__pycache__`` beside the sources, which nothing fills, so a user running
``.venv/bin/toolkit run walk_forward`` from a plain shell, a JupyterLab started
outside make, or a ``dask worker`` paid about 20 s of compilation on its first grid.
:func:`use_project_cache_dir` therefore points numba's ``config.CACHE_DIR`` at the
project's ``.numba_cache`` when nothing names a directory; numba reads that setting
when a cached function is DEFINED (its cache locator is built at decoration), so it
is set by this package's ``__init__`` before any kernel module is imported. An
explicit ``NUMBA_CACHE_DIR`` (or numba config file) wins. Outside a source checkout
(no ``pyproject.toml`` two levels above ``toolkit/``) numba's own default stays.

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

#: The checkout's root: toolkit/optimize/kernels/cache.py -> parents[3].
_ROOT = Path(__file__).resolve().parents[3]

_FINGERPRINT = "toolkit-kernels.fingerprint"
#: Set once this process has checked the cache (a dict, so no ``global`` statement is needed).
_STATE = {"checked": False}


def project_cache_dir() -> Path | None:
    """The checkout's ``.numba_cache`` (the Makefile's ``NUMBA_CACHE_DIR``), or None outside a checkout."""
    if (_ROOT / "pyproject.toml").is_file() and (_ROOT / "toolkit" / "optimize" / "kernels").is_dir():
        return _ROOT / ".numba_cache"
    return None


def use_project_cache_dir() -> str:
    """Point numba at :func:`project_cache_dir` unless a cache directory is configured; returns numba's setting.

    Called before the kernel modules are imported (numba binds a function's cache
    directory when the function is defined). Idempotent and cheap; it sets numba's
    config, not the environment, so child processes are not changed behind the
    caller's back (they import this package and make the same choice).
    """
    from numba.core import config

    # numba's config attributes are created at run time from the environment
    if not getattr(config, "CACHE_DIR", ""):
        default = project_cache_dir()
        if default is not None:
            setattr(config, "CACHE_DIR", str(default))  # noqa: B010
    return str(getattr(config, "CACHE_DIR", ""))


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
