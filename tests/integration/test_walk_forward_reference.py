"""The walk-forward report's figures against independent references, on a real archived run.

The run is the session's small walk-forward (tests/support/archived_runs.py:
``WALK_FORWARD_SMALL``: SMA crossover on the bundled NASDAQ sample 2012-2015, 5 (fast,
slow) configurations, 7 folds, a 2% risk-free rate, PBO on 8 blocks). Only what the run
archived is read (``oos_equity.csv``, ``folds.csv``, ``metrics.json``, ``report.html``);
the references are rebuilt here:

* the stitched out-of-sample curve's Sharpe, Sortino, CAGR, volatility, max drawdown,
  Calmar and total return, and each fold's OOS Sharpe, by empyrical-reloaded (test-only)
  on returns taken from the archived equity with pandas;
* the skew and kurtosis behind PSR and DSR from their moment definitions, and from
  quantstats' bias-corrected estimates converted back to the plain ones;
* PSR and DSR from the formulas of Bailey & Lopez de Prado (2012, eq. 11; 2014, eq. 2)
  written out here, with the configurations' Sharpes measured on the stitched OOS bars
  from five independent backtests (``toolkit.run_backtest``, the backtest engine, not
  the walk-forward's vectorised grid evaluator);
* PBO and the CSCV logits the report's histogram draws, by brute force: every one of
  the 70 ways to pick 4 of the 8 blocks, Sharpes by pandas, ranks by scipy.
"""

from __future__ import annotations

import itertools
import json
import math
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from support.archived_runs import WALK_FORWARD_SMALL
from support.report_checks import plotly_figures

import toolkit
from toolkit.params import repo_root

empyrical = pytest.importorskip("empyrical", reason="empyrical-reloaded is a test dependency (make setup)")

ROOT = repo_root()
RF_ANNUAL = WALK_FORWARD_SMALL["risk_free_rate"]
RF = (1 + RF_ANNUAL) ** (1 / 252) - 1
INITIAL_CASH = 100_000.0  # params/walk_forward/sma_crossover.yaml
RTOL = 1e-9


@pytest.fixture(scope="module")
def archive(walk_forward_archive):
    run = walk_forward_archive
    assert run.status == "completed", run.error
    d = run.run_dir
    equity = pd.read_csv(d / "oos_equity.csv", index_col=0, parse_dates=True)["equity"]
    return {
        "equity": equity,
        "returns": _returns(equity, INITIAL_CASH),
        "folds": pd.read_csv(d / "folds.csv", parse_dates=["oos_start", "oos_end"]),
        "metrics": json.loads((d / "metrics.json").read_text()),
        "html": (d / "report.html").read_text(encoding="utf-8"),
    }


def _returns(equity: pd.Series, start: float) -> pd.Series:
    """Bar returns of an equity curve that started from ``start`` (pandas, not the toolkit)."""
    values = pd.concat([pd.Series([start]), pd.Series(equity.to_numpy())], ignore_index=True)
    return pd.Series(values.pct_change().iloc[1:].to_numpy(), index=equity.index)


@pytest.fixture(scope="module")
def configurations():
    """Each configuration's daily returns over the whole sample, in excess of the risk-free rate.

    Five plain backtests with the walk-forward's data and costs: columns (fast, slow) in grid order.
    """
    grid = WALK_FORWARD_SMALL["grid"]
    cols = {}
    for fast, slow in itertools.product(grid["fast"], grid["slow"]):
        if fast >= slow:
            continue
        report = toolkit.run_backtest(toolkit.load_params("backtest", ROOT / "params/backtest/sma_crossover.yaml", {
            "data.start": WALK_FORWARD_SMALL["data.start"], "data.end": WALK_FORWARD_SMALL["data.end"],
            "strategy_params.fast": fast, "strategy_params.slow": slow, "fees_bps": 10, "slippage_bps": 0,
            "fill": "close", "initial_cash": INITIAL_CASH}))
        cols[(fast, slow)] = _returns(report.result.equity, INITIAL_CASH)
    return pd.DataFrame(cols) - RF


# --------------------------------------------------------------------------- the stitched curve


def test_stitched_oos_metrics_equal_empyrical(archive):
    r, m = archive["returns"], archive["metrics"]
    assert len(r) == m["probabilistic_sharpe"]["n_obs"]  # the record the report judges
    want = {
        "total_return": empyrical.cum_returns_final(r),
        "cagr": empyrical.annual_return(r),
        "volatility": empyrical.annual_volatility(r),
        "sharpe": empyrical.sharpe_ratio(r, risk_free=RF),
        "sortino": empyrical.sortino_ratio(r, required_return=RF),
        "max_drawdown": empyrical.max_drawdown(r),
        "calmar": empyrical.calmar_ratio(r),
    }
    for name, value in want.items():
        assert m[name] == pytest.approx(float(value), rel=RTOL, abs=1e-12), name
    assert m["final_equity"] == pytest.approx(INITIAL_CASH * (1 + float(want["total_return"])), rel=1e-12)
    assert m["max_drawdown"] < -0.05 and m["volatility"] > 0.05  # a real record, not a flat line


def test_each_folds_oos_sharpe_equals_empyrical(archive):
    folds, equity = archive["folds"], archive["equity"]
    days = pd.DatetimeIndex(equity.index)
    assert len(folds) == 7
    lengths = []
    for f in folds.itertuples():
        piece = equity[(days >= f.oos_start) & (days <= f.oos_end)]
        lengths.append(len(piece))
        r = _returns(piece, f.oos_start_equity)
        assert f.oos_sharpe == pytest.approx(empyrical.sharpe_ratio(r, risk_free=RF), rel=1e-9), f.fold
    # Six full folds of 125 bars and the partial last one: together, the whole stitched record.
    assert lengths[:-1] == [125] * 6 and sum(lengths) == len(equity)


def _plain_moments(x: np.ndarray) -> tuple[float, float]:
    """Skew and non-excess kurtosis by definition: m3 / m2^1.5 and m4 / m2^2 (central moments, divided by n)."""
    d = x - x.mean()
    m2, m3, m4 = (float(np.mean(d**k)) for k in (2, 3, 4))
    return m3 / m2**1.5, m4 / m2**2


def test_skew_and_kurtosis_behind_psr_equal_quantstats_converted(archive):
    qs = pytest.importorskip("quantstats", reason="quantstats is a test dependency (make setup)")
    warnings.filterwarnings("ignore", module="quantstats")
    excess = archive["returns"] - RF
    n = len(excess)
    skew, kurt = _plain_moments(excess.to_numpy())
    # quantstats gives pandas' bias-corrected G1 and excess G2; back to the plain g1 and g2 + 3.
    big_g1 = qs.stats.skew(pd.Series(excess.to_numpy()), prepare_returns=False)
    big_g2 = qs.stats.kurtosis(pd.Series(excess.to_numpy()), prepare_returns=False)
    g1 = big_g1 * (n - 2) / math.sqrt(n * (n - 1))
    g2 = (big_g2 * (n - 2) * (n - 3) / (n - 1) - 6) / (n + 1)
    assert g1 == pytest.approx(skew, rel=1e-9) and g2 + 3 == pytest.approx(kurt, rel=1e-9)
    for key in ("probabilistic_sharpe", "deflated_sharpe"):
        got = archive["metrics"][key]
        assert got["skew"] == pytest.approx(skew, rel=RTOL), key
        assert got["excess_kurtosis"] + 3 == pytest.approx(kurt, rel=RTOL), key  # stored as excess (4623165)
        assert got["n_obs"] == n, key
    assert skew < 0 and kurt > 3  # the record is not normal: the corrections matter


# --------------------------------------------------------------------------- PSR and DSR from the papers


def _psr(sr: float, sr_star: float, n: int, skew: float, kurt: float) -> float:
    """Bailey & Lopez de Prado (2012), eq. 11: per-bar Sharpes, non-excess kurtosis."""
    return float(stats.norm.cdf((sr - sr_star) * math.sqrt(n - 1) / math.sqrt(1 - skew * sr + (kurt - 1) / 4 * sr**2)))


def _expected_max_sharpe(n_trials: float, variance: float) -> float:
    """Bailey & Lopez de Prado (2014), eq. 2 (the False Strategy Theorem's SR0)."""
    g = np.euler_gamma
    return math.sqrt(variance) * ((1 - g) * stats.norm.ppf(1 - 1 / n_trials)
                                  + g * stats.norm.ppf(1 - 1 / (n_trials * math.e)))


def test_psr_and_dsr_equal_the_papers_formulas(archive, configurations):
    excess = (archive["returns"] - RF).to_numpy()
    n = len(excess)
    sr = excess.mean() / excess.std(ddof=1)
    skew, kurt = _plain_moments(excess)
    m = archive["metrics"]
    psr = m["probabilistic_sharpe"]
    assert psr["sharpe_per_bar"] == pytest.approx(sr, rel=RTOL) and psr["sr_benchmark_per_bar"] == 0
    assert psr["psr"] == pytest.approx(_psr(sr, 0.0, n, skew, kurt), rel=RTOL)

    # The trials: every configuration's own continuous run, over the stitched OOS bars.
    span = configurations.loc[archive["equity"].index]
    assert span.shape == (n, 5)
    trial_sr = span.mean() / span.std(ddof=1)
    variance = float(trial_sr.var(ddof=1))
    sr0 = _expected_max_sharpe(5, variance)
    dsr = m["deflated_sharpe"]
    assert dsr["n_trials"] == 5
    assert dsr["sr_variance_per_bar"] == pytest.approx(variance, rel=RTOL)
    assert dsr["sr0_per_bar"] == pytest.approx(sr0, rel=RTOL)
    assert dsr["sharpe_per_bar"] == pytest.approx(sr, rel=RTOL)
    assert dsr["dsr"] == pytest.approx(_psr(sr, sr0, n, skew, kurt), rel=RTOL)
    assert dsr["psr"] == pytest.approx(psr["psr"], rel=RTOL)
    assert 0.01 < dsr["dsr"] < dsr["psr"] < 0.99  # the charge for the search is visible, not saturated


# --------------------------------------------------------------------------- PBO by brute force


def _cscv_brute_force(perf: pd.DataFrame, n_blocks: int) -> np.ndarray:
    """Every IS/OOS split of the CSCV, one at a time: the logit of the IS winner's OOS rank per split.

    The oldest rows that do not fill a block are dropped; the IS half is any n_blocks/2
    blocks (itertools order), the OOS half the rest. Sharpe per bar with ddof 1; the IS
    winner is the first best; its OOS rank averages ties (1 = worst).
    """
    block = len(perf) // n_blocks
    rows = perf.iloc[len(perf) - block * n_blocks:].to_numpy()
    blocks = [rows[i * block:(i + 1) * block] for i in range(n_blocks)]
    logits = []
    for chosen in itertools.combinations(range(n_blocks), n_blocks // 2):
        is_rows = np.vstack([blocks[i] for i in chosen])
        oos_rows = np.vstack([blocks[i] for i in range(n_blocks) if i not in chosen])
        is_sr = is_rows.mean(axis=0) / is_rows.std(axis=0, ddof=1)
        oos_sr = oos_rows.mean(axis=0) / oos_rows.std(axis=0, ddof=1)
        winner = int(np.argmax(is_sr))
        w = stats.rankdata(oos_sr, method="average")[winner] / (perf.shape[1] + 1)
        logits.append((math.log(w / (1 - w)), oos_sr[winner]))
    return np.array(logits)


def test_pbo_and_its_histogram_equal_a_brute_force_cscv(archive, configurations):
    splits = WALK_FORWARD_SMALL["pbo_splits"]
    brute = _cscv_brute_force(configurations, splits)
    logits, oos_of_winner = brute[:, 0], brute[:, 1]
    assert len(logits) == math.comb(splits, splits // 2) == 70
    pbo = archive["metrics"]["pbo"]
    assert pbo["n_combinations"] == 70 and pbo["n_trials"] == 5
    assert pbo["n_rows_used"] == len(configurations) // splits * splits
    assert pbo["pbo"] == float(np.mean(logits <= 0))
    assert pbo["prob_oos_loss"] == float(np.mean(oos_of_winner < 0))
    assert 0 < pbo["pbo"] < 1  # both outcomes occur: the count is a real test
    # The report's histogram draws exactly these 70 logits (stored as float32 in the page).
    hist = [t for fig in plotly_figures(archive["html"]) for t in fig["data"] if t.get("type") == "histogram"]
    assert len(hist) == 1
    drawn = np.sort(np.asarray(hist[0]["x"], dtype=float))
    np.testing.assert_allclose(drawn, np.sort(logits), rtol=1e-6, atol=1e-7)
