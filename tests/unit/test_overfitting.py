"""Tests of PSR, expected max Sharpe, DSR and PBO against independent computations."""

from __future__ import annotations

import math
from itertools import combinations

import numpy as np
import pytest
from scipy import stats
from scipy.stats import norm

from toolkit.errors import ParamsError
from toolkit.optimize import (
    OptimizeInputError,
    deflated_sharpe_ratio,
    expected_max_sharpe,
    per_period_sharpe,
    probabilistic_sharpe,
    probabilistic_sharpe_ratio,
    probability_of_backtest_overfitting,
)

GAMMA = 0.5772156649015329


# --------------------------------------------------------------------------- PSR


def test_psr_equals_formula_written_out():
    """PSR = Phi((SR - SR*) sqrt(n-1) / sqrt(1 - g3 SR + (g4-1)/4 SR^2)).

    SR = 0.1, SR* = 0.02, n = 500, skew = -0.7, kurtosis = 6.5 (non-excess):
    denominator term 1 + 0.07 + 5.5/4 * 0.01 = 1.08375.
    """
    sr, sr_star, n, g3, g4 = 0.1, 0.02, 500, -0.7, 6.5
    var_term = 1 - g3 * sr + (g4 - 1) / 4 * sr**2
    assert var_term == pytest.approx(1.08375, abs=1e-15)
    expected = norm.cdf((sr - sr_star) * math.sqrt(n - 1) / math.sqrt(var_term))
    got = probabilistic_sharpe_ratio(sr, sr_star, n, g3, g4)
    assert abs(got - expected) <= 1e-12


def test_psr_properties():
    # SR equal to benchmark: exactly a coin flip.
    assert probabilistic_sharpe_ratio(0.05, 0.05, 250, -1.0, 8.0) == pytest.approx(0.5, abs=1e-15)
    # Normal defaults.
    normal = norm.cdf(0.1 * math.sqrt(99) / math.sqrt(1 + 0.005))
    assert probabilistic_sharpe_ratio(0.1, 0.0, 100) == pytest.approx(normal)
    # Longer track record -> more confidence; negative skew / fat tails -> less.
    assert probabilistic_sharpe_ratio(0.1, 0, 1000) > probabilistic_sharpe_ratio(0.1, 0, 100)
    assert probabilistic_sharpe_ratio(0.1, 0, 250, -2.0, 8.0) < probabilistic_sharpe_ratio(0.1, 0, 250, 0.0, 8.0)
    assert probabilistic_sharpe_ratio(0.1, 0, 250, 0.0, 20.0) < probabilistic_sharpe_ratio(0.1, 0, 250, 0.0, 3.0)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"n_obs": 1}, "n_obs"),
        ({"n_obs": 10.0}, "n_obs"),
        ({"skew": 3.0, "kurtosis": 2.0, "sr": -2.0}, "kurtosis"),  # kurtosis < 1 + skew^2
        ({"skew": 0.0, "kurtosis": 0.5}, "kurtosis"),  # excess kurtosis passed by mistake
        ({"sr": float("nan")}, "sr"),
    ],
)
def test_psr_rejects_bad_input(kwargs, field):
    args = {"sr": 0.1, "sr_benchmark": 0.0, "n_obs": 100, "skew": 0.0, "kurtosis": 3.0} | kwargs
    with pytest.raises(ValueError, match=field) as info:
        probabilistic_sharpe_ratio(**args)
    assert isinstance(info.value, ParamsError) and info.value.field == field


# --------------------------------------------------------------------------- E[max SR]


def test_expected_max_sharpe_formula_and_growth():
    v = 0.0004
    for n in (2, 10, 100, 1000):
        expected = math.sqrt(v) * ((1 - GAMMA) * norm.ppf(1 - 1 / n) + GAMMA * norm.ppf(1 - 1 / (n * math.e)))
        assert abs(expected_max_sharpe(n, v) - expected) <= 1e-15
    values = [expected_max_sharpe(n, v) for n in (2, 5, 10, 50, 100, 500, 1000, 10_000)]
    assert all(b > a for a, b in zip(values, values[1:]))
    # Scales with the standard deviation of the trial Sharpes; zero dispersion, zero threshold.
    assert expected_max_sharpe(100, 4 * v) == pytest.approx(2 * expected_max_sharpe(100, v), rel=1e-14)
    assert expected_max_sharpe(100, 0.0) == 0.0


def test_expected_max_sharpe_matches_monte_carlo():
    """The approximation should be within a few percent of the simulated E[max of N normals]."""
    rng = np.random.default_rng(7)
    n, sd = 100, 0.05
    sims = rng.normal(0.0, sd, size=(20_000, n)).max(axis=1).mean()
    assert expected_max_sharpe(n, sd**2) == pytest.approx(sims, rel=0.03)


@pytest.mark.parametrize(("n", "v", "field"), [(1, 0.1, "n_trials"), (0, 0.1, "n_trials"), (10, -1.0, "sr_variance")])
def test_expected_max_sharpe_rejects(n, v, field):
    with pytest.raises(ValueError, match=field):
        expected_max_sharpe(n, v)


# --------------------------------------------------------------------------- DSR


def test_dsr_published_example():
    """Bailey & Lopez de Prado (2014), "The Deflated Sharpe Ratio", numerical example.

    Inputs: 100 independent trials; the variance of their annualised Sharpes is 1/2;
    the chosen strategy has an annualised Sharpe of 2.5 over 5 years of daily data
    (T = 1250, 250 days a year), skew -3, kurtosis 10 (non-excess).

    Per-period conversion: V = 0.5 / 250 = 0.002, sqrt(V) = 0.0447214;
    SR = 2.5 / sqrt(250) = 0.1581139.

    SR0 = sqrt(V) * ((1 - g) Phi^-1(1 - 1/100) + g Phi^-1(1 - 1/(100 e)))
        = 0.0447214 * (0.4227843 * 2.3263479 + 0.5772157 * 2.6803...)
        = 0.0447214 * 2.53060... = 0.1132 (the paper's SR0, about 1.79 annualised).

    DSR = Phi((0.1581139 - 0.1131720) * sqrt(1249)
              / sqrt(1 + 3 * 0.1581139 + 9/4 * 0.025))
        = Phi(0.0449419 * 35.3412 / 1.237113) = Phi(1.28388) = 0.9004 (the paper's figure).
    """
    v = 0.5 / 250
    sr = 2.5 / math.sqrt(250)
    sr0 = expected_max_sharpe(100, v)
    assert round(sr0, 4) == 0.1132
    dsr = probabilistic_sharpe_ratio(sr, sr0, 1250, -3.0, 10.0)
    assert round(dsr, 4) == 0.9004
    z = (sr - sr0) * math.sqrt(1249) / math.sqrt(1 + 3 * sr + 9 / 4 * sr**2)
    assert abs(dsr - norm.cdf(z)) <= 1e-12


def test_dsr_from_returns_equals_hand_computation():
    """Skew and kurtosis are the plain moment estimates m3/m2^1.5 and m4/m2^2;
    SR = mean / std(ddof=1); V = var(trial SRs, ddof=1)."""
    rng = np.random.default_rng(42)
    r = rng.standard_t(df=5, size=750) * 0.01 + 0.0008
    trials = rng.normal(0.0, 0.03, size=200)
    trials[0] = r.mean() / r.std(ddof=1)

    d = r - r.mean()
    m2, m3, m4 = (d**2).mean(), (d**3).mean(), (d**4).mean()
    g3, g4 = m3 / m2**1.5, m4 / m2**2
    sr = r.mean() / r.std(ddof=1)
    v = trials.var(ddof=1)
    n = len(trials)
    sr0 = math.sqrt(v) * ((1 - GAMMA) * norm.ppf(1 - 1 / n) + GAMMA * norm.ppf(1 - 1 / (n * math.e)))
    expected = norm.cdf((sr - sr0) * math.sqrt(len(r) - 1) / math.sqrt(1 - g3 * sr + (g4 - 1) / 4 * sr**2))

    res = deflated_sharpe_ratio(r, trials)
    assert abs(res.dsr - expected) <= 1e-12
    assert res.sr == pytest.approx(sr, abs=1e-15)
    assert res.sr0 == pytest.approx(sr0, abs=1e-15)
    assert res.skew == pytest.approx(g3, abs=1e-12)
    assert res.kurtosis == pytest.approx(g4, abs=1e-12)
    assert res.skew == pytest.approx(stats.skew(r, bias=True), abs=1e-12)
    assert res.kurtosis == pytest.approx(stats.kurtosis(r, fisher=False, bias=True), abs=1e-12)
    assert res.n_trials == 200 and res.n_obs == 750
    text = res.reading()
    assert text.startswith(f"DSR {res.dsr:.2f}: ") and "after 200 trials" in text

    # More trials claimed -> higher threshold -> lower DSR.
    assert deflated_sharpe_ratio(r, trials, n_trials=5000).dsr < res.dsr


def test_dsr_reading_format():
    rng = np.random.default_rng(3)
    r = rng.normal(0.001, 0.01, 1000)
    res = deflated_sharpe_ratio(r, rng.normal(0, 0.02, 500))
    assert f"{res.dsr:.2f}" in res.reading() and "500 trials" in res.reading()


def test_readings_annualise_on_request_and_kurtosis_reads_as_excess():
    """A report quotes annualised Sharpe ratios and excess kurtosis; the statistics keep per-bar SR, raw kurtosis."""
    rng = np.random.default_rng(3)
    r = rng.standard_t(5, 1000) * 0.01 + 0.001
    res = deflated_sharpe_ratio(r, rng.normal(0, 0.02, 500))
    text = res.reading(periods_per_year=252)
    assert f"({res.sr * math.sqrt(252):.2f} annualised)" in text and f"SR0 = {res.sr0 * math.sqrt(252):.2f}" in text
    assert "per bar" not in text and "per bar" in res.reading()
    assert res.excess_kurtosis == pytest.approx(stats.kurtosis(r, fisher=True, bias=True), abs=1e-12)
    psr = probabilistic_sharpe(r)
    assert f"({psr.sr * math.sqrt(252):.2f} annualised)" in psr.reading(periods_per_year=252)
    assert psr.excess_kurtosis == pytest.approx(psr.kurtosis - 3)
    with pytest.raises(OptimizeInputError, match="periods_per_year"):
        res.reading(periods_per_year=0)


@pytest.mark.parametrize(
    ("returns", "trials", "field"),
    [
        (np.r_[0.01, -0.01, 0.02, 0.0], [0.1], "trial_sharpes"),  # fewer than 2 trials
        (np.r_[0.01, -0.01, 0.02, 0.0], [0.1, 0.1, 0.1], "trial_sharpes"),  # zero variance
        (np.r_[0.01, -0.01], [0.1, 0.2], "returns_of_chosen"),  # too few observations
        (np.r_[0.01, 0.01, 0.01, 0.01], [0.1, 0.2], "returns_of_chosen"),  # constant
        (np.r_[np.nan, 0.01, -0.01, 0.02], [0.1, 0.2], "returns_of_chosen"),  # NaN
        (np.r_[0.01, -0.01, 0.02, 0.0], [0.1, np.inf], "trial_sharpes"),
    ],
)
def test_dsr_rejects_degenerate_input(returns, trials, field):
    with pytest.raises(ValueError, match=field):
        deflated_sharpe_ratio(returns, trials)


def test_per_period_sharpe():
    x = np.array([[0.01, 0.0], [0.03, 0.0], [-0.01, 0.0]])
    out = per_period_sharpe(x)
    assert out[0] == pytest.approx(0.01 / 0.02)
    assert np.isnan(out[1])
    assert per_period_sharpe(x[:, 0]) == pytest.approx(0.5)


# --------------------------------------------------------------------------- PBO


def _pbo_reference(m: np.ndarray, s: int, metric: str = "sharpe") -> np.ndarray:
    """Straight loop-based CSCV, as in the paper, for cross-checking the fast version."""
    t, n = m.shape
    length = t // s
    m = m[t - length * s :]
    blocks = [m[i * length : (i + 1) * length] for i in range(s)]
    logits = []
    for combo in combinations(range(s), s // 2):
        is_rows = np.vstack([blocks[i] for i in combo])
        oos_rows = np.vstack([blocks[i] for i in range(s) if i not in combo])

        def score(x):
            return x.mean(axis=0) / x.std(axis=0, ddof=1) if metric == "sharpe" else x.mean(axis=0)

        is_m, oos_m = score(is_rows), score(oos_rows)
        best = int(np.argmax(is_m))
        rank = (oos_m < oos_m[best]).sum() + ((oos_m == oos_m[best]).sum() + 1) / 2
        w = rank / (n + 1)
        logits.append(math.log(w / (1 - w)))
    return np.array(logits)


def test_pbo_hand_enumerated_s4():
    """S = 4 blocks of 2 identical rows, 3 trials, metric = mean.

    Block values (trial x block):   A = [5, 6, 0, 1]
                                    B = [1, 1, 2, 0]
                                    C = [6, 1, 6, 5]
    IS blocks | IS mean A,B,C    | winner | OOS mean A,B,C   | OOS rank | w   | logit
    {0,1}     | 5.5, 1.0, 3.5    | A      | 0.5, 1.0, 5.5    | 1        | 1/4 | ln(1/3)
    {0,2}     | 2.5, 1.5, 6.0    | C      | 3.5, 0.5, 3.0    | 2        | 2/4 | 0
    {0,3}     | 3.0, 0.5, 5.5    | C      | 3.0, 1.5, 3.5    | 3        | 3/4 | ln 3
    {1,2}     | 3.0, 1.5, 3.5    | C      | 3.0, 0.5, 5.5    | 3        | 3/4 | ln 3
    {1,3}     | 3.5, 0.5, 3.0    | A      | 2.5, 1.5, 6.0    | 2        | 2/4 | 0
    {2,3}     | 0.5, 1.0, 5.5    | C      | 5.5, 1.0, 3.5    | 2        | 2/4 | 0
    (rank 1 = worst of N = 3; w = rank / (N + 1).) Logits <= 0 in 4 of 6 splits: PBO = 2/3.
    """
    values = np.array([[5, 6, 0, 1], [1, 1, 2, 0], [6, 1, 6, 5]], dtype=float)
    m = np.repeat(values.T, 2, axis=0)  # 8 rows x 3 trials
    res = probability_of_backtest_overfitting(m, n_splits=4, metric="mean")
    assert res.n_combinations == 6
    assert res.combinations.tolist() == [[0, 1], [0, 2], [0, 3], [1, 2], [1, 3], [2, 3]]
    assert res.chosen.tolist() == [0, 2, 2, 2, 0, 2]
    expected = np.array([math.log(1 / 3), 0.0, math.log(3), math.log(3), 0.0, 0.0])
    np.testing.assert_allclose(res.logits, expected, atol=1e-12)
    assert res.pbo == pytest.approx(2 / 3)
    np.testing.assert_allclose(res.is_best, [5.5, 6.0, 5.5, 3.5, 3.5, 5.5])
    np.testing.assert_allclose(res.oos_of_best, [0.5, 3.0, 3.5, 5.5, 2.5, 3.5])


@pytest.mark.parametrize("metric", ["sharpe", "mean"])
def test_pbo_matches_loop_reference(metric):
    rng = np.random.default_rng(11)
    m = rng.normal(0.0002, 0.01, size=(403, 12))  # 403 % 8 = 3 oldest rows dropped
    res = probability_of_backtest_overfitting(m, n_splits=8, metric=metric, chunk_size=7)
    ref = _pbo_reference(m, 8, metric)
    assert res.n_rows_used == 400 and res.n_combinations == 70
    np.testing.assert_allclose(res.logits, ref, atol=1e-9)
    assert res.pbo == pytest.approx(np.mean(ref <= 0))


def test_pbo_pure_noise_is_high():
    rng = np.random.default_rng(2024)
    m = rng.normal(0.0, 0.01, size=(1600, 100))
    res = probability_of_backtest_overfitting(m, n_splits=16)
    assert res.n_combinations == 12_870
    assert res.pbo > 0.4
    assert "PBO" in res.reading() and "12,870" in res.reading()


def test_pbo_genuine_drift_is_near_zero():
    rng = np.random.default_rng(2024)
    m = rng.normal(0.0, 0.01, size=(1600, 100))
    m[:, 37] += 0.004  # a real edge: per-bar Sharpe 0.4
    res = probability_of_backtest_overfitting(m, n_splits=16)
    assert res.pbo < 0.02
    assert np.mean(res.chosen == 37) > 0.98
    assert "little sign" in res.reading()


def test_pbo_is_deterministic_and_chunk_independent():
    rng = np.random.default_rng(5)
    m = rng.normal(0, 0.01, size=(320, 20))
    a = probability_of_backtest_overfitting(m, n_splits=10, chunk_size=2048)
    b = probability_of_backtest_overfitting(m, n_splits=10, chunk_size=13)
    np.testing.assert_array_equal(a.logits, b.logits)
    np.testing.assert_array_equal(a.chosen, b.chosen)


def test_pbo_constant_trials_do_not_crash():
    rng = np.random.default_rng(0)
    m = np.column_stack([np.zeros(64), np.full(64, 0.001), rng.normal(0, 0.01, 64)])
    res = probability_of_backtest_overfitting(m, n_splits=4)
    assert np.all(np.isfinite(res.logits))
    # The constant positive drift has infinite Sharpe in every window: always chosen, always best.
    assert np.all(res.chosen == 1) and res.pbo == 0.0


@pytest.mark.parametrize(
    ("shape", "kwargs", "field"),
    [
        ((100,), {}, "perf"),
        ((100, 1), {}, "perf"),
        ((100, 5), {"n_splits": 5}, "n_splits"),
        ((100, 5), {"n_splits": 0}, "n_splits"),
        ((20, 5), {"n_splits": 16}, "n_splits"),
        ((100, 5), {"metric": "sortino"}, "metric"),
    ],
)
def test_pbo_rejects_bad_input(shape, kwargs, field):
    m = np.random.default_rng(0).normal(size=shape)
    with pytest.raises(ValueError, match=field):
        probability_of_backtest_overfitting(m, **kwargs)


def test_pbo_rejects_nan():
    m = np.random.default_rng(0).normal(size=(64, 4))
    m[10, 2] = np.nan
    with pytest.raises(OptimizeInputError, match="row 10, column 2"):
        probability_of_backtest_overfitting(m, n_splits=4)
