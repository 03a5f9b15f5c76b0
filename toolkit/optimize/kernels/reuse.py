"""What the chunks of one window share, computed once per process and reused.

Why: a walk-forward (or a sweep) evaluates a window's grid in chunks, and every
chunk used to rebuild the same things from the same bars: the market arrays of the
traded bars (pandas column look-ups, carried prices) and the indicator tables (an
SMA of one length is the same array in every chunk that uses it). Rebuilding cost
more than simulating the chunk. Entries are keyed by a fingerprint of the window's
CONTENT (values, timestamps, column labels), never by object identity, so a panel
edited in place, or another panel that happens to reuse a freed object's address,
can never be served a stale array. Least recently used entries go first once the
cache holds more than :data:`BUDGET_BYTES` of arrays; a single entry larger than the
budget is computed and returned, not kept.

Cached arrays are shared between calls: callers (the kernels) only read them.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

import numpy as np
import pandas as pd

__all__ = ["BUDGET_BYTES", "cached", "clear", "fingerprint", "remember", "used_bytes"]

#: Bytes of arrays kept at most (a 5,000-bar SMA table of one length is 40 KB).
BUDGET_BYTES = 256 * 2**20

T = TypeVar("T")
_ENTRIES: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
_USED = {"bytes": 0}


def fingerprint(frame: pd.DataFrame) -> str:
    """blake2b of a panel's values, timestamps and column labels (about 1 ms per MB)."""
    h = hashlib.blake2b(digest_size=20)
    values = frame.to_numpy(dtype=np.float64)
    h.update(str(values.shape).encode())
    h.update(np.ascontiguousarray(values).view(np.uint8).data)
    index = frame.index
    if isinstance(index, pd.DatetimeIndex):
        h.update(str(index.tz).encode())
        h.update(np.ascontiguousarray(index.as_unit("ns").asi8).view(np.uint8).data)
    else:
        h.update(repr(index.tolist()).encode())
    h.update(repr(list(frame.columns)).encode())
    return h.hexdigest()


def _nbytes(value: Any) -> int:
    if isinstance(value, np.ndarray):
        return int(value.nbytes)
    if isinstance(value, tuple | list):
        return sum(_nbytes(v) for v in value)
    return 64


def remember(key: Hashable, build: Callable[[], T]) -> T:
    """The value cached under ``key``, or ``build()`` (then cached within the budget)."""
    hit = _ENTRIES.get(key)
    if hit is not None:
        _ENTRIES.move_to_end(key)
        return hit[0]
    value = build()
    size = _nbytes(value)
    if size > BUDGET_BYTES:
        return value
    _ENTRIES[key] = (value, size)
    _USED["bytes"] += size
    while _USED["bytes"] > BUDGET_BYTES:
        _, (_, dropped) = _ENTRIES.popitem(last=False)
        _USED["bytes"] -= dropped
    return value


def clear() -> None:
    """Forget every cached entry (benchmarks measure a cold window with it)."""
    _ENTRIES.clear()
    _USED["bytes"] = 0


def cached(key: Hashable) -> bool:
    """Whether ``key`` is cached now."""
    return key in _ENTRIES


def used_bytes() -> int:
    """Bytes of arrays the cache holds now."""
    return _USED["bytes"]
