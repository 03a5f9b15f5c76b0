"""leveraged_proxy arithmetic on a hand-made 5-bar series."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from toolkit.data import describe, leveraged_proxy, load_sample, validate_bars
from toolkit.errors import ParamsError

DAYS = ["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05", "2024-01-08"]
BASE = {
    "open": [99.0, 101.0, 103.0, 98.0, 100.0],
    "high": [101.0, 103.0, 104.0, 100.0, 105.0],
    "low": [98.0, 100.0, 98.0, 97.0, 99.0],
    "close": [100.0, 102.0, 99.0, 99.0, 104.94],
    "volume": [1e6, 2e6, 3e6, 4e6, 5e6],
}


@pytest.fixture
def base() -> pd.DataFrame:
    return validate_bars(pd.DataFrame(BASE, index=pd.DatetimeIndex(DAYS, tz="UTC")), "BASE")


def expected(k: float, cost: float, start: float = 100.0) -> pd.DataFrame:
    """The documented rule, written as a plain loop."""
    rows, prev_proxy, prev_base = [], start, BASE["close"][0]
    for t in range(5):
        c_cost = 0.0 if t == 0 else cost
        def g(x: float) -> float:
            return prev_proxy * (1 + k * (x / prev_base - 1) - c_cost)
        close = start if t == 0 else g(BASE["close"][t])
        o, a, b = g(BASE["open"][t]), g(BASE["high"][t]), g(BASE["low"][t])
        rows.append([o, max(a, b, o, close), min(a, b, o, close), close, BASE["volume"][t]])
        prev_proxy, prev_base = close, BASE["close"][t]
    return pd.DataFrame(rows, columns=list(BASE))


def test_three_x_with_cost(base, assert_canonical):
    out = leveraged_proxy(base, 3, annual_cost_bps=252.0)  # 252 bps a year = 1 bp a day
    assert_canonical(out)
    np.testing.assert_allclose(out.to_numpy(), expected(3, 1e-4).to_numpy(), rtol=1e-13)
    assert out["close"].iloc[0] == 100.0
    assert out["close"].iloc[1] == pytest.approx(100 * (1 + 3 * 0.02 - 1e-4))  # 105.99
    # first bar relative to its own close: open 99 -> 97, high 101 -> 103, low 98 -> 94
    assert out.iloc[0, :3].tolist() == pytest.approx([97.0, 103.0, 94.0])
    assert out["volume"].tolist() == BASE["volume"]
    assert out.index.equals(base.index)


def test_inverse_with_cost_swaps_high_and_low(base, assert_canonical):
    out = leveraged_proxy(base, -1, annual_cost_bps=252.0)
    assert_canonical(out)
    np.testing.assert_allclose(out.to_numpy(), expected(-1, 1e-4).to_numpy(), rtol=1e-13)
    bar = out.iloc[1]
    assert bar["close"] == pytest.approx(97.99)
    assert bar["high"] == pytest.approx(99.99)  # from the base LOW (100 vs prev close 100)
    assert bar["low"] == pytest.approx(96.99)  # from the base HIGH (103)


def test_start_price_and_no_cost(base):
    out = leveraged_proxy(base, 2, start_price=50.0)
    r = np.array(BASE["close"][1:]) / np.array(BASE["close"][:-1]) - 1
    np.testing.assert_allclose(out["close"].to_numpy(), 50 * np.cumprod(np.r_[1.0, 1 + 2 * r]), rtol=1e-13)


def test_marked_synthetic(base):
    out = leveraged_proxy(base, 3)
    assert out.attrs["synthetic"] is True and "synthetic" in out.attrs["description"]
    assert describe({"TQQQ~": out}).loc["TQQQ~", "synthetic"]
    assert "SYNTHETIC" in leveraged_proxy.__doc__


def test_wipe_out_stays_positive_with_a_warning(base):
    crash = base.copy()
    crash.loc[crash.index[2], ["open", "low", "close"]] = [60.0, 55.0, 60.0]  # -41%
    with pytest.warns(UserWarning, match="loss of 100% or more"):
        out = leveraged_proxy(crash, 3)
    assert (out[["open", "high", "low", "close"]] > 0).all().all()


def test_bad_arguments(base):
    for kwargs, field in [
        ({"leverage": 0}, "leverage"),
        ({"leverage": float("nan")}, "leverage"),
        ({"leverage": True}, "leverage"),
        ({"leverage": 3, "annual_cost_bps": -1}, "annual_cost_bps"),
        ({"leverage": 3, "start_price": 0}, "start_price"),
    ]:
        with pytest.raises(ParamsError) as info:
            leveraged_proxy(base, **kwargs)
        assert info.value.field == field
    intraday = base.set_axis(base.index + pd.Timedelta("14h30min"))
    with pytest.raises(ParamsError, match="daily bars"):
        leveraged_proxy(intraday, 3)


def test_on_the_sample(assert_canonical):
    nasdaq = load_sample(["NASDAQ"])["NASDAQ"]
    assert_canonical(leveraged_proxy(nasdaq, 3, annual_cost_bps=95))
    assert_canonical(leveraged_proxy(nasdaq, -3, annual_cost_bps=95))
