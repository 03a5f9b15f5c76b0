"""Shared pytest fixtures.

``shared_data`` points at the real market data kept beside the repository
(``../shared/data``, see its README). A user's fresh clone does not have it, so tests
that need it skip with a reason instead of failing.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path of ``../shared/data``; skips the test when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is absent (a fresh clone): real-data tests need it")
    return SHARED_DATA


def _assert_canonical(df: pd.DataFrame) -> None:
    """Assert the canonical bar frame contract of DESIGN.md (Data)."""
    assert isinstance(df.index, pd.DatetimeIndex)
    assert str(df.index.tz) == "UTC"
    assert df.index.name == "timestamp"
    assert list(df.columns) == ["open", "high", "low", "close", "volume"]
    assert all(dtype == np.float64 for dtype in df.dtypes)
    assert df.index.is_monotonic_increasing and df.index.is_unique
    o, h, lo, c, v = df.to_numpy().T
    prices = df.to_numpy()[:, :4]
    assert not np.isnan(prices).any()
    assert (prices > 0).all()
    assert (h >= np.maximum(o, c)).all()
    assert (lo <= np.minimum(o, c)).all()
    assert not (v < 0).any()


@pytest.fixture(scope="session")
def assert_canonical() -> Callable[[pd.DataFrame], None]:
    """A checker asserting that a frame is a canonical bar frame."""
    return _assert_canonical
