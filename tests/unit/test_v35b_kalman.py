"""Kalman trend filter of v3.5b: spec §3.1 and the §13.2 hand-checked numbers."""

from __future__ import annotations

import numpy as np
import pytest

from toolkit.strategies.indicators.kalman import KalmanTrend


def _kalman(**kw) -> KalmanTrend:
    args = dict(measurement_noise=3000.0, process_noise_1=0.01, process_noise_2=0.01,
                osc_smoothness=15, strength_smoothness=15)
    args.update(kw)
    return KalmanTrend(**args)


def _reference_strengths(prices, volumes, *, r0, q, n_osc, n_str, symmetric=False, double=False):
    """A literal matrix transcription of §3.1 (numpy 2x2 products, list buffers, max())."""
    F = np.array([[1.0, 1.0], [0.0, 1.0]])
    H = np.array([[1.0, 0.0]])
    Q = np.diag([q, q])
    n_osc, n_str = min(n_osc, 20), min(n_str, 500)
    X = P = None
    v_prev = None
    inn, osc, sm = [], [], []
    out = []
    for p, v in zip(prices, volumes):
        if X is None:
            X, P, v_prev = np.array([[p], [0.0]]), np.eye(2), v
            out.append(0.0)
            continue
        Xp, Pp = F @ X, F @ P @ F.T + Q
        R = r0
        if v > 0 and v_prev is not None:
            R = r0 * (v_prev / v if symmetric else v_prev / max(v_prev, v))
        S = (H @ Pp @ H.T)[0, 0] + R
        K = Pp @ H.T / S
        e = p - Xp[0, 0]
        X = Xp + K * e
        P = (np.eye(2) - K @ H) @ Pp
        v_prev = v
        inn = (inn + [abs(e)])[-500:]
        s = 0.0
        if len(inn) >= n_str:
            m = max(inn)
            osc = (osc + [100.0 * e / m if m > 0 else 0.0])[-20:]
            if len(osc) >= n_osc:
                w = np.arange(1, n_osc + 1)
                s = float(np.dot(osc[-n_osc:], w) / w.sum())
                if double:
                    sm = (sm + [s])[-20:]
                    if len(sm) >= n_str:
                        w2 = np.arange(1, n_str + 1)
                        s = float(np.dot(sm[-n_str:], w2) / w2.sum())
        out.append(s)
    return np.array(out)


def test_first_step_numbers():
    """§13.2: bar 1 close 100 -> x = [100, 0]; bar 2 close 101 with equal volumes."""
    k = _kalman()
    assert k.update(100.0, 1e6) == 0.0
    assert (k.level, k.velocity) == (100.0, 0.0)
    assert k.update(101.0, 1e6) == 0.0  # buffers not full yet
    s = 2.01 + 3000.0
    assert s == pytest.approx(3002.01)
    assert 2.01 / s == pytest.approx(6.6955e-4, rel=1e-4)
    assert 1.0 / s == pytest.approx(3.3311e-4, rel=1e-4)
    assert k.level == pytest.approx(100.000670, abs=1e-6)
    assert k.velocity == pytest.approx(0.000333, abs=1e-6)
    # P = (I - K H) P- with P- = [[2.01, 1], [1, 1.01]]
    k0, k1 = 2.01 / s, 1.0 / s
    assert k.p00 == pytest.approx((1 - k0) * 2.01)
    assert k.p11 == pytest.approx(1.01 - k1 * 1.0)


def test_volume_adjusted_measurement_noise():
    """§13.2: bar-2 volume double bar-1's -> R = 1500 (non-symmetric); halved -> 6000 (symmetric)."""
    k = _kalman()
    k.update(100.0, 1000.0)
    assert k.measurement_noise_for(2000.0) == 1500.0
    assert k.measurement_noise_for(500.0) == 3000.0  # non-symmetric: noise never rises
    ks = _kalman(symmetric_volume_adjustment=True)
    ks.update(100.0, 1000.0)
    assert ks.measurement_noise_for(500.0) == 6000.0
    assert ks.measurement_noise_for(2000.0) == 1500.0
    # v = 0 or missing -> base R0
    assert k.measurement_noise_for(0.0) == 3000.0
    assert k.measurement_noise_for(float("nan")) == 3000.0
    kn = _kalman()
    kn.update(100.0, float("nan"))  # unknown previous volume
    assert kn.measurement_noise_for(1000.0) == 3000.0


@pytest.mark.parametrize(("osc", "strength", "first"), [(15, 15, 30), (10, 15, 25), (15, 10, 25), (5, 5, 10)])
def test_strength_is_zero_until_both_smoothers_fill(osc, strength, first):
    """§3.1 timing: exactly 0 on bars 1..(n_str + n_osc - 1); first non-zero bar n_str + n_osc."""
    rng = np.random.default_rng(7)
    prices = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, 80)))
    k = _kalman(osc_smoothness=osc, strength_smoothness=strength)
    out = [k.update(p, 1e6) for p in prices]
    assert all(s == 0.0 for s in out[: first - 1]), "bars 1..first-1 must be exactly 0"
    assert out[first - 1] != 0.0, f"bar {first} is the first non-zero strength"
    assert all(-100.0 <= s <= 100.0 for s in out)


def test_osc_smoothness_is_capped_at_20():
    rng = np.random.default_rng(1)
    prices = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, 60)))
    a, b = _kalman(osc_smoothness=20), _kalman(osc_smoothness=50)
    assert [a.update(p, 1.0) for p in prices] == [b.update(p, 1.0) for p in prices]


def test_flat_prices_give_zero_strength():
    k = _kalman()
    assert all(k.update(100.0, 1e6) == 0.0 for _ in range(300))


@pytest.mark.parametrize("symmetric", [False, True])
@pytest.mark.parametrize(
    ("osc", "strength", "double"), [(15, 15, False), (10, 15, False), (10, 5, True), (15, 30, True)]
)
def test_matches_literal_matrix_transcription(symmetric, osc, strength, double):
    """The scalar filter (monotonic-queue max, unrolled 2x2 algebra) equals a literal transcription."""
    rng = np.random.default_rng(3)
    n = 1500  # > 500 so the innovation window slides
    prices = 100 * np.exp(np.cumsum(rng.normal(0, 0.015, n)))
    prices[700:760] *= 1.2  # a jump: large innovations leave the max window 500 bars later
    volumes = rng.integers(0, 3, n) * rng.uniform(1e5, 1e6, n)  # includes zero volumes
    k = _kalman(osc_smoothness=osc, strength_smoothness=strength,
                symmetric_volume_adjustment=symmetric, double_smoothing=double)
    got = np.array([k.update(p, v) for p, v in zip(prices, volumes)])
    ref = _reference_strengths(prices, volumes, r0=3000.0, q=0.01, n_osc=osc, n_str=strength,
                               symmetric=symmetric, double=double)
    np.testing.assert_allclose(got, ref, rtol=1e-9, atol=1e-9)
    assert np.count_nonzero(got) > n // 2


def test_double_smoothing_with_long_strength_never_fills():
    """strength_smoothness > 20: the second buffer (20 long) never fills, so s1 is used."""
    rng = np.random.default_rng(5)
    prices = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, 200)))
    a = _kalman(strength_smoothness=25, double_smoothing=True)
    b = _kalman(strength_smoothness=25, double_smoothing=False)
    assert [a.update(p, 1.0) for p in prices] == [b.update(p, 1.0) for p in prices]
