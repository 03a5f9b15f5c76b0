"""Reuse of a window's tables and market arrays across chunks, and the ``auto`` chunk size.

The reuse cache is keyed by the window's content: a chunk served from it gives the
same metrics as a cold computation, and a panel edited in place is never served the
arrays of its old values.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from toolkit.data import load_sample, panel
from toolkit.optimize.evaluate import FUSED_CHUNK, VECTORBT_CHUNK, GridTask, chunk_size_for, evaluate_task
from toolkit.optimize.kernels import reuse


@pytest.fixture(scope="module")
def nasdaq() -> pd.DataFrame:
    return panel(load_sample(["NASDAQ"], prices="adjusted")).iloc[:800]


def _task(combos: pd.DataFrame, n: int) -> GridTask:
    return GridTask(0, 0, 0, 200, n, combos, "sma_crossover", {}, ("NASDAQ",), 1e5, 10.0, 5.0, "close",
                    keep_returns=True)


def _combos(pairs: list[tuple[int, int]]) -> pd.DataFrame:
    c = pd.DataFrame(pairs, columns=["fast", "slow"])
    c.index = pd.RangeIndex(len(c), name="combination")
    return c


def test_auto_chunk_size_follows_the_engine_and_the_returns_budget():
    assert chunk_size_for(37, "sma_crossover", 5_000) == 37
    assert chunk_size_for("auto", "hierarchical_adaptive_v3_5b", 5_000) == VECTORBT_CHUNK
    assert chunk_size_for("auto", "sma_crossover", 5_000) == FUSED_CHUNK
    kept = chunk_size_for("auto", "sma_crossover", 5_000, keep_returns=True)
    assert kept * 5_000 * 8 <= 128 * 2**20 < (kept + 1) * 5_000 * 8
    assert chunk_size_for("auto", "sma_crossover", 10**9, keep_returns=True) == 1


def test_a_chunk_served_from_the_cache_equals_a_cold_one(nasdaq):
    reuse.clear()
    combos = _combos([(5, 20), (10, 50), (20, 100)])
    cold = evaluate_task(_task(combos, len(nasdaq)), nasdaq)
    assert reuse.used_bytes() > 0  # the window's SMAs and market arrays were kept
    warm = evaluate_task(_task(combos.iloc[1:], len(nasdaq)), nasdaq)
    pd.testing.assert_frame_equal(warm.metrics, cold.metrics.iloc[1:], check_exact=True)
    np.testing.assert_array_equal(warm.returns, cold.returns[1:])


def test_a_panel_edited_in_place_is_not_served_its_old_arrays(nasdaq):
    reuse.clear()
    bars = nasdaq.copy()
    combos = _combos([(5, 20), (10, 50)])
    before = evaluate_task(_task(combos, len(bars)), bars)
    bars.loc[bars.index[300:], ("NASDAQ", "close")] *= 1.5
    after = evaluate_task(_task(combos, len(bars)), bars)
    reuse.clear()
    cold = evaluate_task(_task(combos, len(bars)), bars)
    pd.testing.assert_frame_equal(after.metrics, cold.metrics, check_exact=True)
    assert not after.metrics["final_equity"].equals(before.metrics["final_equity"])


def test_the_cache_keeps_within_its_budget(monkeypatch):
    reuse.clear()
    monkeypatch.setattr(reuse, "BUDGET_BYTES", 3 * 800)
    for i in range(5):
        reuse.remember(("k", i), lambda: np.zeros(100))  # 800 bytes each
    assert reuse.used_bytes() == 3 * 800
    assert not reuse.cached(("k", 0)) and reuse.cached(("k", 4))
    big = reuse.remember(("big",), lambda: np.zeros(1000))  # larger than the budget: returned, not kept
    assert big.shape == (1000,) and not reuse.cached(("big",))
    reuse.clear()
