"""The walk-forward's deflated Sharpe separates a planted edge from noise.

Walk-forward inputs are built synthetically (fast, no backtest): a grid of
configurations whose daily returns share a common market factor, rolling folds from
:func:`walk_forward_folds`, in each fold the configuration with the best in-sample
Sharpe trading the out-of-sample window, the windows stitched. The diagnostics are
then computed by the walk-forward's own :func:`overfitting`.

The DSR and PSR formulas are checked against a computation written here from
Bailey & Lopez de Prado (2012, 2014).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from toolkit.optimize import OptimizeInputError, walk_forward_folds
from toolkit.optimize.overfitting import deflated_sharpe_from_trials, probabilistic_sharpe
from toolkit.optimize.walk_forward import overfitting

SEEDS = [0, 1, 2, 3, 4]


def synthetic_walk_forward(seed: int, *, edge: bool, n_configs: int = 30, n_folds: int = 8,
                           in_sample: int = 504, out_of_sample: int = 252, rho: float = 0.5):
    """(stitched OOS returns, configurations x bars full-sample returns, OOS span).

    Every configuration's return is a common factor (weight ``rho`` of the variance)
    plus its own noise, 1% daily volatility. With ``edge`` each configuration also
    earns a drift worth an annual Sharpe between 1 and 2.5 (a strategy with a real
    edge, some variants catching more of it); without, all drifts are zero.
    """
    rng = np.random.default_rng(seed)
    n_bars = in_sample + n_folds * out_of_sample
    common = rng.standard_normal((n_bars, 1))
    own = rng.standard_normal((n_bars, n_configs))
    returns = 0.01 * (math.sqrt(rho) * common + math.sqrt(1 - rho) * own)
    if edge:
        returns += rng.permutation(np.linspace(1.0, 2.5, n_configs)) / math.sqrt(252) * 0.01
    index = pd.bdate_range("2000-01-03", periods=n_bars, tz="UTC")
    folds = walk_forward_folds(index, scheme="rolling", in_sample=in_sample, out_of_sample=out_of_sample,
                               partial_last=False)
    assert len(folds) == n_folds
    pieces = []
    for f in folds:
        is_r = returns[f.is_slice]
        best = int(np.argmax(is_r.mean(axis=0) / is_r.std(axis=0, ddof=1)))
        pieces.append(returns[f.oos_slice, best])
    span = slice(folds[0].oos_slice.start, folds[-1].oos_slice.stop)
    return np.concatenate(pieces), returns.T, span


def _diagnostics(seed, edge):
    oos, full, span = synthetic_walk_forward(seed, edge=edge)
    return oos, overfitting(oos, full, oos_span=span, n_configurations=full.shape[0], n_splits=8, risk_free_rate=0.0)


@pytest.mark.parametrize("seed", SEEDS)
def test_a_planted_edge_passes_the_deflated_sharpe(seed):
    oos, d = _diagnostics(seed, edge=True)
    annual_sharpe = oos.mean() / oos.std(ddof=1) * math.sqrt(252)
    assert 1.5 < annual_sharpe < 3.0  # an out-of-sample Sharpe about 2
    assert d.dsr is not None and d.dsr.dsr > 0.95, d.dsr
    assert d.dsr.n_trials == 30  # distinct configurations, not folds x configurations
    assert d.psr is not None and d.psr.psr >= d.dsr.dsr


@pytest.mark.parametrize("seed", SEEDS)
def test_pure_noise_fails_the_deflated_sharpe(seed):
    _, d = _diagnostics(seed, edge=False)
    assert d.dsr is not None and d.dsr.dsr < 0.5, d.dsr
    assert d.psr is not None and d.dsr.dsr < d.psr.psr  # the search is charged for


def test_trials_are_measured_on_the_judged_horizon():
    """V is the spread of the configurations' Sharpes over the stitched OOS bars, not over the whole sample."""
    oos, full, span = synthetic_walk_forward(0, edge=True)
    d = overfitting(oos, full, oos_span=span, n_configurations=30, n_splits=8, risk_free_rate=0.0)
    on_span = full[:, span]
    srs = on_span.mean(axis=1) / on_span.std(axis=1, ddof=1)
    assert d.dsr.sr_variance == pytest.approx(srs.var(ddof=1), rel=1e-12)
    assert d.dsr.n_obs == len(oos) == span.stop - span.start


def test_risk_free_rate_is_taken_off_record_and_trials():
    oos, full, span = synthetic_walk_forward(1, edge=True)
    rf = 1.04 ** (1 / 252) - 1
    d = overfitting(oos, full, oos_span=span, n_configurations=30, n_splits=8, risk_free_rate=0.04)
    ref = deflated_sharpe_from_trials(oos - rf, full[:, span].T - rf)
    assert d.dsr.dsr == pytest.approx(ref.dsr, abs=1e-15) and d.psr.psr == pytest.approx(ref.psr, abs=1e-15)


def test_one_configuration_gives_psr_and_a_note_for_dsr():
    oos, _, span = synthetic_walk_forward(2, edge=True)
    d = overfitting(oos, None, oos_span=span, n_configurations=1, n_splits=8, risk_free_rate=0.0)
    assert d.dsr is None and "one configuration" in d.dsr_note and "PSR" in d.dsr_note
    assert d.psr is not None and d.psr.reading().startswith("PSR")
    assert d.pbo is None and d.pbo_note


# --------------------------------------------------------------------------- formulas from the paper


def _paper_dsr(record: np.ndarray, trials: np.ndarray, n_trials: int) -> tuple[float, float, float]:
    """(DSR, PSR against 0, SR0) written out from the papers.

    SR = mean / std (ddof=1) per bar; skew g3 = m3 / m2^1.5, kurtosis g4 = m4 / m2^2
    (non-excess). PSR(SR*) = Phi((SR - SR*) sqrt(T - 1) / sqrt(1 - g3 SR + (g4 - 1) / 4 SR^2))
    (2012, eq. 11). SR0 = sqrt(V) ((1 - gamma) Phi^-1(1 - 1/N) + gamma Phi^-1(1 - 1/(N e)))
    with V the variance of the trials' Sharpe ratios (2014, eq. 2); DSR = PSR(SR0).
    """
    t = len(record)
    sr = record.mean() / record.std(ddof=1)
    d = record - record.mean()
    m2, m3, m4 = (d**2).mean(), (d**3).mean(), (d**4).mean()
    g3, g4 = m3 / m2**1.5, m4 / m2**2
    trial_srs = trials.mean(axis=0) / trials.std(axis=0, ddof=1)
    v = trial_srs.var(ddof=1)
    gamma = 0.5772156649015329
    sr0 = math.sqrt(v) * ((1 - gamma) * norm.ppf(1 - 1 / n_trials) + gamma * norm.ppf(1 - 1 / (n_trials * math.e)))

    def psr(bench: float) -> float:
        return float(norm.cdf((sr - bench) * math.sqrt(t - 1) / math.sqrt(1 - g3 * sr + (g4 - 1) / 4 * sr**2)))

    return psr(sr0), psr(0.0), sr0


@pytest.mark.parametrize("n_trials", [None, 500])
def test_dsr_and_psr_equal_the_papers_formulas(n_trials):
    rng = np.random.default_rng(11)
    record = rng.standard_t(df=4, size=900) * 0.01 + 0.0006  # fat tails
    trials = rng.normal(0.0003, 0.01, size=(900, 40))
    got = deflated_sharpe_from_trials(record, trials, n_trials=n_trials)
    want_dsr, want_psr, want_sr0 = _paper_dsr(record, trials, n_trials or 40)
    assert abs(got.dsr - want_dsr) <= 1e-12 and abs(got.psr - want_psr) <= 1e-12
    assert got.sr0 == pytest.approx(want_sr0, rel=1e-12)
    assert got.n_trials == (n_trials or 40)
    alone = probabilistic_sharpe(record)
    assert abs(alone.psr - want_psr) <= 1e-12 and alone.n_obs == 900
    assert alone.reading().startswith(f"PSR {alone.psr:.2f}: over 900 bars")


@pytest.mark.parametrize(
    ("trials", "kwargs", "field"),
    [
        (np.zeros((899, 3)), {}, "trial_returns"),  # not the record's bars
        (np.zeros(900), {}, "trial_returns"),  # one trial as a 1-D array
        (np.full((900, 3), np.nan), {}, "trial_returns"),
        (np.random.default_rng(0).normal(size=(900, 3)), {"n_trials": 2}, "n_trials"),  # fewer than given
        (np.zeros((900, 3)), {}, "trial_sharpes"),  # no configuration has a Sharpe
    ],
)
def test_deflated_sharpe_from_trials_rejects(trials, kwargs, field):
    record = np.random.default_rng(1).normal(0.0005, 0.01, 900)
    with pytest.raises(OptimizeInputError, match=field):
        deflated_sharpe_from_trials(record, trials, **kwargs)
