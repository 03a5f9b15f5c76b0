"""Indicator values checked by hand, the one rolling-window rule, and resume-equals-full."""

from __future__ import annotations

import numpy as np
import pytest

from toolkit.strategies import indicators as ind
from toolkit.strategies.indicators import recursive, windows

CLOSE = np.array([10.0, 11.0, 10.5, 11.5, 12.0, 11.0, 11.5])


def col(values) -> np.ndarray:
    return np.asarray(values, dtype=float)[:, None]


def test_ema_seeds_with_sma_then_recurses():
    out, _ = ind.ema(col(CLOSE), 3)
    a = 2 / 4
    seed = (10.0 + 11.0 + 10.5) / 3  # 10.5
    e3 = a * 11.5 + (1 - a) * seed  # 11.0
    e4 = a * 12.0 + (1 - a) * e3  # 11.5
    e5 = a * 11.0 + (1 - a) * e4  # 11.25
    e6 = a * 11.5 + (1 - a) * e5  # 11.375
    assert np.isnan(out[:2, 0]).all()
    assert out[2:, 0].tolist() == pytest.approx([10.5, 11.0, 11.5, 11.25, 11.375], abs=1e-12)
    assert out[2:, 0].tolist() == pytest.approx([seed, e3, e4, e5, e6], abs=1e-12)


def test_rsi_wilder_by_hand():
    # Changes: +1, -0.5, +1, +0.5, -1, +0.5 ; n = 3
    out, _ = ind.rsi(col(CLOSE), 3)
    g = (1 + 0 + 1) / 3
    lo = (0 + 0.5 + 0) / 3
    expected = [100 - 100 / (1 + g / lo)]  # bar 3: 80.0
    for gain, loss in [(0.5, 0.0), (0.0, 1.0), (0.5, 0.0)]:
        g = (g * 2 + gain) / 3
        lo = (lo * 2 + loss) / 3
        expected.append(100 - 100 / (1 + g / lo))
    assert np.isnan(out[:3, 0]).all()
    assert out[3:, 0].tolist() == pytest.approx(expected, rel=1e-12)
    assert out[3, 0] == pytest.approx(80.0)


def test_rsi_all_gains_is_100_and_flat_is_50():
    up, _ = ind.rsi(col([1, 2, 3, 4, 5]), 3)
    flat, _ = ind.rsi(col([5, 5, 5, 5, 5]), 3)
    assert up[-1, 0] == 100.0
    assert flat[-1, 0] == 50.0


def test_atr_wilder_by_hand():
    high = col([10.0, 11.0, 12.0, 11.5, 13.0])
    low = col([9.0, 9.5, 10.5, 10.0, 11.0])
    close = col([9.5, 10.5, 11.0, 10.5, 12.5])
    out, _ = ind.atr(high, low, close, 3)
    # TR: 1.0 (first bar: high-low), max(1.5, 1.5, 0)=1.5, max(1.5, 1.5, 0)=1.5,
    #     max(1.5, 0.5, 1.0)=1.5, max(2.0, 2.5, 0.5)=2.5
    seed = (1.0 + 1.5 + 1.5) / 3
    a3 = (seed * 2 + 1.5) / 3
    a4 = (a3 * 2 + 2.5) / 3
    assert np.isnan(out[:2, 0]).all()
    assert out[2:, 0].tolist() == pytest.approx([seed, a3, a4], rel=1e-12)


def test_rolling_windows_by_hand():
    x = col([1.0, 2.0, 4.0, 8.0])
    assert ind.rolling_mean(x, 2)[:, 0].tolist()[1:] == [1.5, 3.0, 6.0]
    mean, std = ind.rolling_mean_std(x, 3)
    assert mean[2, 0] == pytest.approx(7 / 3)
    assert std[2, 0] == pytest.approx(np.std([1.0, 2.0, 4.0]))
    prev_max = ind.rolling_max(x, 2, lag=1)[:, 0]
    assert np.isnan(prev_max[:2]).all() and prev_max[2:].tolist() == [2.0, 4.0]
    assert ind.lagged(x, 2)[:, 0].tolist()[2:] == [1.0, 2.0]


def test_windows_on_a_tail_equal_the_full_computation():
    rng = np.random.default_rng(1)
    x = rng.normal(100, 5, (300, 4))
    for fn in (ind.rolling_mean, ind.rolling_max):
        full = fn(x, 20, lag=1)
        assert np.array_equal(fn(x, 20, start=250, lag=1), full[250:], equal_nan=True)
    m, s = ind.rolling_mean_std(x, 20)
    m2, s2 = ind.rolling_mean_std(x, 20, start=299)
    assert m2[0].tobytes() == m[299].tobytes() and s2[0].tobytes() == s[299].tobytes()


def _with_gaps(rng, T=400, N=3):
    x = rng.normal(100, 3, (T, N)).cumsum(axis=0) / 10 + 100
    x[:50, 1] = np.nan  # starts late
    x[rng.random((T, N)) < 0.03] = np.nan  # holidays of one market only
    return x


@pytest.mark.parametrize("cut", [1, 7, 60, 199, 399])
def test_recursions_resume_exactly(cut):
    rng = np.random.default_rng(cut)
    x = _with_gaps(rng)
    h, lo = x + 1.0, x - 1.0
    for fn in (lambda a, s=None: ind.ema(a, 10, s), lambda a, s=None: ind.wilder(a, 10, s),
               lambda a, s=None: ind.rsi(a, 14, s)):
        full, _ = fn(x)
        head, state = fn(x[:cut])
        tail, _ = fn(x[cut:], state)
        assert np.array_equal(np.vstack([head, tail]), full, equal_nan=True)
    full, _ = ind.atr(h, lo, x, 14)
    head, state = ind.atr(h[:cut], lo[:cut], x[:cut], 14)
    tail, _ = ind.atr(h[cut:], lo[cut:], x[cut:], 14, state)
    assert np.array_equal(np.vstack([head, tail]), full, equal_nan=True)


def test_scalar_and_vector_smoothers_agree_bit_for_bit(monkeypatch):
    rng = np.random.default_rng(7)
    x = _with_gaps(rng, T=300, N=5)
    scalar, s_state = ind.ema(x, 12)
    monkeypatch.setattr(recursive, "SCALAR_MAX_SYMBOLS", 0)
    vector, v_state = ind.ema(x, 12)
    assert scalar.tobytes() == vector.tobytes()
    assert np.array_equal(s_state.count, v_state.count)
    rsi_vector, _ = ind.rsi(x, 14)
    monkeypatch.setattr(recursive, "SCALAR_MAX_SYMBOLS", 100)
    rsi_scalar, _ = ind.rsi(x, 14)
    assert rsi_scalar.tobytes() == rsi_vector.tobytes()


def test_seq_sum_adds_left_to_right():
    x = np.array([[1e16, 1.0, -1e16, 1.0]])
    assert ind.seq_sum(x)[0] == ((1e16 + 1.0) - 1e16) + 1.0


# ----------------------------------------------------------------------------- the window rule


@pytest.mark.parametrize("n", [1, 2, 7, 8, 9, 20, 63, 100, 128, 129, 140, 300])
def test_rolling_mean_is_numpys_mean_of_each_window(n):
    """The rule (indicators/windows.py): a window's mean is ``np.mean`` of its 1-D values.

    That is what ``sma_crossover``'s bar-by-bar path computed before the library was
    unified, so its results did not move; sizes around numpy's pairwise blocks (8, 128)
    are included because that is where a different summation order would show.
    """
    rng = np.random.default_rng(n)
    x = 100 * np.exp(np.cumsum(rng.normal(0, 0.02, (700, 3)), axis=0))
    got = ind.rolling_mean(x, n)
    want = np.full_like(x, np.nan)
    for t in range(n - 1, len(x)):
        for j in range(x.shape[1]):
            want[t, j] = np.mean(x[t - n + 1 : t + 1, j])
    assert got.tobytes() == want.tobytes()
    # Any memory layout of the caller's array gives the same bits.
    assert ind.rolling_mean(np.asfortranarray(x), n).tobytes() == got.tobytes()
    # One window alone (the live path) equals the same window among all of them.
    assert ind.rolling_mean(x, n, start=len(x) - 1)[0].tobytes() == got[-1].tobytes()


def test_rolling_std_is_the_two_pass_deviation_of_each_window():
    rng = np.random.default_rng(3)
    x = rng.normal(0, 0.01, (400, 2))
    for ddof in (0, 1):
        mean, std = ind.rolling_mean_std(x, 63, ddof=ddof, lag=1)
        for t in (63, 200, 399):
            w = x[t - 63 : t, 0]
            d = w - np.mean(w)
            assert mean[t, 0] == np.mean(w)
            assert std[t, 0] == np.sqrt(np.sum(d * d) / (63 - ddof))
        # The row helpers v3.5b uses give the same bits on the same windows.
        rows = ind.trailing_windows(np.ascontiguousarray(x[:, 0]), np.arange(62, 399), 63)
        m2, s2 = ind.row_mean_std(rows, ddof)
        assert m2.tobytes() == mean[63:, 0].tobytes() and s2.tobytes() == std[63:, 0].tobytes()


def test_window_blocks_do_not_change_a_value(monkeypatch):
    """Windows are copied a block at a time; each row is reduced alone, so blocks are invisible."""
    rng = np.random.default_rng(4)
    x = rng.normal(100, 5, (500, 2))
    whole = ind.rolling_mean_std(x, 40, lag=1)
    monkeypatch.setattr(windows, "_BLOCK_VALUES", 97)
    blocked = ind.rolling_mean_std(x, 40, lag=1)
    assert all(a.tobytes() == b.tobytes() for a, b in zip(whole, blocked))


def test_a_missing_bar_is_skipped_not_averaged():
    """Gap policy (issue 9, point 4): a window is the symbol's last n BARS, so a NaN row
    (a day the symbol lacks) has no value itself and never poisons the windows after it.
    Before the policy rows 2 and 3 were both NaN here, and a real SMA stayed NaN for
    ``slow`` bars after one missing day."""
    x = col([1.0, 2.0, np.nan, 4.0, 5.0, 6.0])
    got = ind.rolling_mean(x, 2)[:, 0]
    assert np.isnan(got[[0, 2]]).all()
    assert got[[1, 3, 4, 5]].tolist() == [1.5, 3.0, 4.5, 5.5]  # row 3: mean of 2 and 4
    assert ind.rolling_max(x, 2, lag=1)[:, 0][3:].tolist() == [2.0, 4.0, 5.0]
    lag = ind.lagged(x, 2)[:, 0]
    assert np.isnan(lag[[0, 1, 2]]).all() and lag[3:].tolist() == [1.0, 2.0, 4.0]


@pytest.mark.parametrize("n", [1, 3, 8, 20, 129])
def test_windows_over_own_bars_equal_the_windows_of_the_bars_alone(n):
    """With gaps, each column's values equal the plain rule applied to that column's bars
    alone (the NaN rows removed), bit for bit, also from any ``start`` (the live path)."""
    rng = np.random.default_rng(n)
    x = _with_gaps(rng, T=500, N=3)
    for lag in (0, 1):
        mean, std = ind.rolling_mean_std(x, n, lag=lag)
        top = ind.rolling_max(x, n, lag=lag)
        for j in range(3):
            bars = np.flatnonzero(~np.isnan(x[:, j]))
            alone_m, alone_s = ind.rolling_mean_std(np.ascontiguousarray(x[bars, j]), n, lag=lag)
            assert mean[bars, j].tobytes() == alone_m.tobytes()
            assert std[bars, j].tobytes() == alone_s.tobytes()
            assert top[bars, j].tobytes() == ind.rolling_max(x[bars, j], n, lag=lag).tobytes()
            assert np.isnan(mean[np.isnan(x[:, j]), j]).all()
        for start in (1, 260, 499):
            assert ind.rolling_mean(x, n, start=start, lag=lag).tobytes() == ind.rolling_mean(x, n, lag=lag)[start:].tobytes()
            assert ind.lagged(x, n, start).tobytes() == ind.lagged(x, n)[start:].tobytes()


def test_hold_gaps_carries_each_symbols_last_value():
    v = np.array([[1.0, 5.0], [2.0, 6.0], [3.0, 7.0], [4.0, 8.0]])
    missing = np.array([[True, False], [False, True], [True, True], [False, False]])
    out = ind.hold_gaps(v, missing, previous=np.array([9.0, 9.0]))
    assert out.tolist() == [[9.0, 5.0], [2.0, 5.0], [2.0, 5.0], [4.0, 8.0]]
    grid = ind.hold_gaps(np.stack([v, 10 * v], axis=1), missing)
    assert grid[:, 1, :].tolist() == [[0.0, 50.0], [20.0, 50.0], [20.0, 50.0], [40.0, 80.0]]
    last = ind.last_value(np.where(missing, np.nan, v), 1)
    assert last.tolist() == [[2.0, 5.0], [2.0, 5.0], [4.0, 8.0]]
