"""Is the best backtest real? Statistics that charge for the trials it took to find it.

Searching a parameter grid and keeping the best backtest inflates its Sharpe ratio:
the maximum of many noisy estimates is high even when every strategy is worthless.
This module implements three corrections from the literature:

* :func:`probabilistic_sharpe_ratio` -- Bailey & Lopez de Prado (2012), "The Sharpe
  Ratio Efficient Frontier", *Journal of Risk* 15(2). The probability that the true
  Sharpe exceeds a benchmark, given the track record length and the skew and
  kurtosis of the returns (a short, negatively skewed, fat-tailed record earns
  less confidence than a long normal one with the same Sharpe). Against a benchmark
  of 0 it is the PSR a report shows beside the DSR: the confidence in the record
  before any charge for the search (:func:`probabilistic_sharpe`).
* :func:`deflated_sharpe_ratio` -- Bailey & Lopez de Prado (2014), "The Deflated
  Sharpe Ratio: Correcting for Selection Bias, Backtest Overfitting and
  Non-Normality", *Journal of Portfolio Management* 40(5). The PSR against the
  Sharpe that the *best* of N skill-less trials would reach by luck
  (:func:`expected_max_sharpe`, the "False Strategy Theorem").
* :func:`probability_of_backtest_overfitting` -- Bailey, Borwein, Lopez de Prado &
  Zhu, "The Probability of Backtest Overfitting" (SSRN 2326253, 2013-2015; *Journal
  of Computational Finance* 20(4), 2017). Combinatorially symmetric cross
  validation (CSCV): how often the in-sample winner ranks in the bottom half out
  of sample.

Deflating a walk-forward (:func:`deflated_sharpe_from_trials`)
--------------------------------------------------------------
The paper's SR0 is the expected maximum of N Sharpe estimates with variance V; it
is only meaningful when the N estimates are *comparable trials*: distinct
configurations, measured on the same bars as the record being judged, their spread
being the dispersion a selection among them exploits. A walk-forward judges its
stitched out-of-sample record (T bars), so:

* **N = the number of distinct configurations** searched, not folds x
  configurations: a configuration re-evaluated in every fold is one strategy tried,
  and its fold Sharpes are not independent trials.
* **V = the cross-sectional variance of the configurations' Sharpe ratios over the
  same T bars** (each configuration's own continuous run, restricted to the stitched
  out-of-sample span). Pooling the in-sample Sharpes of all folds, as this module
  once did, mixes in the spread *between* folds (different market periods, not
  luck of selection) and measures every Sharpe on a short in-sample window, whose
  estimation noise (about 1/T_in per period squared) is far larger than that of
  the long stitched record: SR0 came out higher than a real edge could clear. On
  synthetic walk-forwards with a planted out-of-sample Sharpe of about 2 (30
  configurations, 8 folds of 504 in-sample / 252 out-of-sample bars) the pooled
  method gave DSRs of 0.06 to 0.90 over five seeds, and 0.0000 to 0.07 with 16
  folds of 252 / 126 bars; this method gives 0.97 to 1.0 (0.88 to 1.0), and at
  most 0.44 on pure noise over twenty seeds.
* SR, skew, kurtosis and T come from the stitched record itself.

Why not per-fold in-sample variances, rescaled: turning a variance measured on
T_in bars into one for T bars assumes all of the spread is estimation noise
shrinking like 1/T, but part of it is true differences between configurations,
which do not shrink. Measuring on the judged horizon needs no such assumption.

What the DSR then says, and does not: the stitched record was chosen in sample and
traded out of sample, so it carries no selection bias of its own; the DSR asks the
stricter question whether it beats what the luckiest configuration would show on
the same bars by chance. Two choices keep it conservative, as in the paper:
neighbouring configurations of a grid are correlated, so N overstates the number of
independent trials, and V includes true differences in skill as well as luck.
The PSR beside it makes no charge for the search; a large gap between the two says
how much of the confidence the search used up.

Conventions (the same everywhere in this module):

* Sharpe ratios are **per period** (per bar), not annualised, and not excess of a
  risk-free rate unless the returns you pass already are: ``mean / std`` with the
  sample standard deviation (``ddof=1``), see :func:`per_period_sharpe`. The PSR
  formula is stated in per-period units; annualising first would be wrong.
* ``kurtosis`` is the **non-excess** (Pearson) kurtosis: 3 for a normal
  distribution. Skew and kurtosis of returns are the plain moment estimates
  (``scipy.stats.skew``/``kurtosis(fisher=False)`` with ``bias=True``), which
  always satisfy ``kurtosis >= 1 + skew**2`` and so keep the PSR's variance term
  positive.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import combinations
from typing import Any, Literal

import numpy as np
from scipy.special import ndtr, ndtri

from toolkit.optimize.grid import OptimizeInputError, _is_int

__all__ = [
    "EULER_GAMMA",
    "PBO",
    "DeflatedSharpe",
    "ProbabilisticSharpe",
    "deflated_sharpe_from_trials",
    "deflated_sharpe_ratio",
    "expected_max_sharpe",
    "per_period_sharpe",
    "probabilistic_sharpe",
    "probabilistic_sharpe_ratio",
    "probability_of_backtest_overfitting",
]

#: The Euler-Mascheroni constant gamma.
EULER_GAMMA = 0.5772156649015329

#: Fewest return observations accepted to estimate a Sharpe, skew and kurtosis.
MIN_OBSERVATIONS = 3


def _annual_scale(periods_per_year: float) -> float:
    """sqrt(periods per year): a per-bar Sharpe ratio times it is the annualised one."""
    ppy = _real("periods_per_year", periods_per_year)
    if ppy <= 0:
        raise OptimizeInputError("periods_per_year", periods_per_year, "a number of bars per year > 0, e.g. 252")
    return math.sqrt(ppy)


def _lead(p: float, as_percent: bool) -> str:
    """A reading's probability: ``0.94`` (metrics.json's readings, unchanged) or, for a report, ``93.57%``."""
    return f"{p * 100:.2f}%" if as_percent else f"{p:.2f}"


def _likely(p: float, as_percent: bool) -> str:
    """The probability in a reading's prose: as the lead writes it in a report, rounded (``94%``) otherwise."""
    return f"{p * 100:.2f}%" if as_percent and math.isfinite(p) else _pct(p)


def _pct(p: float) -> str:
    """0.93 -> '93%'; keeps one decimal near the ends so 0.996 does not read '100%'."""
    if not math.isfinite(p):
        return "nan"
    if 0.999 <= p < 1:
        return ">99.9%"
    if 0 < p < 0.001:
        return "<0.1%"
    if 0.99 < p < 1 or 0 < p < 0.01:
        return f"{p:.1%}"
    return f"{p:.0%}"


def _real(field: str, value: Any) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise OptimizeInputError(field, value, "a finite number") from None
    if not math.isfinite(x):
        raise OptimizeInputError(field, value, "a finite number")
    return x


def _returns_1d(field: str, values: Any) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise OptimizeInputError(field, type(values).__name__, "a 1-D array of numbers") from None
    if arr.ndim != 1:
        raise OptimizeInputError(field, f"array of shape {arr.shape}", "a 1-D array of numbers")
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        raise OptimizeInputError(
            field,
            f"{arr[bad[0]]} at position {bad[0]} ({bad.size} non-finite values)",
            "finite numbers only (drop the leading NaN of a return series with .dropna())",
        )
    return arr


# --------------------------------------------------------------------------- PSR


def _moments(r: np.ndarray) -> tuple[float, float]:
    """Skew and non-excess kurtosis as plain moment estimates ``m3/m2**1.5``, ``m4/m2**2``
    (what ``scipy.stats.skew`` / ``kurtosis(fisher=False)`` return with ``bias=True``)."""
    d = r - r.mean()
    m2 = float(np.mean(d * d))
    m3 = float(np.mean(d * d * d))
    m4 = float(np.mean((d * d) ** 2))
    return m3 / m2**1.5, m4 / (m2 * m2)


def per_period_sharpe(returns: Any, *, axis: int = 0) -> np.ndarray | float:
    """Per-period Sharpe ratio ``mean / std(ddof=1)`` along ``axis``.

    Use it to compute the trial Sharpes fed to :func:`deflated_sharpe_ratio` so that
    they share the chosen strategy's convention. A zero standard deviation gives
    NaN (a constant series has no Sharpe ratio).
    """
    arr = np.asarray(returns, dtype=float)
    mean = arr.mean(axis=axis)
    std = arr.std(axis=axis, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        sr = np.where(std > 0, mean / np.where(std > 0, std, 1.0), np.nan)
    return float(sr) if np.ndim(sr) == 0 else sr


def probabilistic_sharpe_ratio(
    sr: float,
    sr_benchmark: float,
    n_obs: int,
    skew: float = 0.0,
    kurtosis: float = 3.0,
) -> float:
    """Probability that the true Sharpe ratio exceeds ``sr_benchmark`` (PSR).

    Bailey & Lopez de Prado (2012), eq. 11 (Mertens' 2002 standard error of the
    Sharpe ratio under non-normal i.i.d. returns)::

        PSR = Phi( (SR - SR*) * sqrt(n - 1)
                   / sqrt(1 - skew * SR + (kurtosis - 1) / 4 * SR**2) )

    All Sharpe ratios are per period (not annualised); ``kurtosis`` is non-excess
    (3 for normal returns). Why not just compare SR with SR*: the estimate's noise
    grows with negative skew and fat tails and shrinks with the number of
    observations, so the same SR is more convincing from a long, well-behaved
    track record.

    Raises ``OptimizeInputError`` (a ``ValueError``) for ``n_obs < 2`` or for skew
    and kurtosis that no distribution has (``kurtosis < 1 + skew**2``), which would
    make the variance term non-positive.
    """
    sr = _real("sr", sr)
    sr_benchmark = _real("sr_benchmark", sr_benchmark)
    skew = _real("skew", skew)
    kurtosis = _real("kurtosis", kurtosis)
    if not _is_int(n_obs) or n_obs < 2:
        raise OptimizeInputError("n_obs", n_obs, "an int >= 2 (number of return observations)")
    if kurtosis < 1.0 + skew * skew - 1e-9:
        raise OptimizeInputError(
            "kurtosis",
            kurtosis,
            f"non-excess kurtosis >= 1 + skew**2 = {1 + skew * skew:.4g} (no distribution has less; "
            "3 for normal returns, so pass excess kurtosis + 3)",
        )
    var_term = 1.0 - skew * sr + (kurtosis - 1.0) / 4.0 * sr * sr
    if var_term <= 0:
        raise OptimizeInputError(
            "kurtosis",
            kurtosis,
            f"non-excess kurtosis >= 1 + skew**2 = {1 + skew * skew:.4g} (3 for normal returns); "
            f"the PSR variance term 1 - skew*SR + (kurtosis-1)/4*SR**2 is {var_term:.4g}",
        )
    z = (sr - sr_benchmark) * math.sqrt(n_obs - 1) / math.sqrt(var_term)
    return float(ndtr(z))


def _record(field: str, returns: Any) -> np.ndarray:
    """A track record's returns: 1-D, finite, at least MIN_OBSERVATIONS, not constant."""
    r = _returns_1d(field, returns)
    if r.size < MIN_OBSERVATIONS:
        raise OptimizeInputError(field, f"{r.size} observations", f"at least {MIN_OBSERVATIONS} returns")
    if np.all(r == r[0]):
        raise OptimizeInputError(field, "constant returns", "returns that vary (a Sharpe ratio needs a std > 0)")
    return r


@dataclass(frozen=True)
class ProbabilisticSharpe:
    """Result of :func:`probabilistic_sharpe`: the PSR of one track record.

    ``psr`` is the probability that the record's true Sharpe exceeds
    ``sr_benchmark`` (0 by default), with no charge for how the record was found.
    ``sr`` and ``sr_benchmark`` are per period; ``kurtosis`` is non-excess.
    """

    psr: float
    sr: float
    sr_benchmark: float
    skew: float
    kurtosis: float
    n_obs: int

    @property
    def excess_kurtosis(self) -> float:
        """``kurtosis - 3``: 0 for a normal, the convention every report quotes (the formula takes the raw one)."""
        return self.kurtosis - 3.0

    def reading(self, periods_per_year: float | None = None, *, as_percent: bool = False) -> str:
        """One line of English for a report.

        With ``periods_per_year`` (252 for daily bars) the Sharpe ratios read annualised,
        as a report's other Sharpe ratios do; without, per bar. ``as_percent`` writes the
        probability as the report's tables do (``98.53%``); metrics.json keeps ``0.99``.
        """
        if periods_per_year is None:
            sharpe = f"{self.sr:.3f} per bar"
            bench = f"{self.sr_benchmark:g}"
        else:
            scale = _annual_scale(periods_per_year)
            sharpe = f"{self.sr * scale:.2f} annualised"
            bench = f"{self.sr_benchmark * scale:g}"
        return (
            f"PSR {_lead(self.psr, as_percent)}: over {self.n_obs:,} bars the Sharpe ratio ({sharpe}) is "
            f"{_likely(self.psr, as_percent)} likely to be genuinely above {bench}, before any charge for "
            "the search that found it."
        )

    def __str__(self) -> str:
        return self.reading()


def probabilistic_sharpe(returns: Any, sr_benchmark: float = 0.0) -> ProbabilisticSharpe:
    """PSR of a return series: its Sharpe, skew, kurtosis and length in :func:`probabilistic_sharpe_ratio`.

    Raises ``OptimizeInputError`` for fewer than ``MIN_OBSERVATIONS`` returns,
    non-finite or constant returns.
    """
    r = _record("returns", returns)
    sr = float(per_period_sharpe(r))
    skew, kurt = _moments(r)
    bench = _real("sr_benchmark", sr_benchmark)
    psr = probabilistic_sharpe_ratio(sr, bench, int(r.size), skew, kurt)
    return ProbabilisticSharpe(psr=psr, sr=sr, sr_benchmark=bench, skew=skew, kurtosis=kurt, n_obs=int(r.size))


# --------------------------------------------------------------------------- E[max SR]


def expected_max_sharpe(n_trials: float, sr_variance: float) -> float:
    """Expected maximum Sharpe of ``n_trials`` skill-less trials (False Strategy Theorem).

    Bailey & Lopez de Prado (2014), eq. 2 (also Lopez de Prado, *Advances in
    Financial Machine Learning*, 2018, s. 14.7)::

        E[max SR] ~= sqrt(V) * ((1 - g) * Phi^-1(1 - 1/N) + g * Phi^-1(1 - 1/(N e)))

    with ``g`` the Euler-Mascheroni constant, ``N = n_trials`` and ``V`` the variance
    of the Sharpe ratios across trials (per-period units squared). Even if every
    trial has a true Sharpe of zero, the best of ``N`` has this expected Sharpe:
    the threshold a selected strategy must beat. It grows with ``N`` (roughly like
    ``sqrt(2 ln N)``) and with the dispersion ``V``.

    ``n_trials`` may be a float (an effective number of independent trials, for
    instance from clustering correlated trials) but must be >= 2: with one trial
    there is no selection to correct for.
    """
    n = _real("n_trials", n_trials)
    if n < 2:
        raise OptimizeInputError("n_trials", n_trials, "a number of trials >= 2 (selection needs at least two)")
    v = _real("sr_variance", sr_variance)
    if v < 0:
        raise OptimizeInputError("sr_variance", sr_variance, "a variance >= 0")
    z1 = ndtri(1.0 - 1.0 / n)
    z2 = ndtri(1.0 - 1.0 / (n * math.e))
    return float(math.sqrt(v) * ((1.0 - EULER_GAMMA) * z1 + EULER_GAMMA * z2))


# --------------------------------------------------------------------------- DSR


@dataclass(frozen=True)
class DeflatedSharpe:
    """Result of :func:`deflated_sharpe_ratio`.

    ``dsr`` is the probability that the chosen strategy's true Sharpe exceeds
    ``sr0``, the Sharpe the best of ``n_trials`` skill-less trials would show by
    luck; ``psr`` the same probability against 0 (no charge for the trials).
    ``sr`` and ``sr0`` are per period; ``kurtosis`` is non-excess.
    """

    dsr: float
    psr: float
    sr: float
    sr0: float
    n_trials: float
    sr_variance: float
    skew: float
    kurtosis: float
    n_obs: int

    @property
    def excess_kurtosis(self) -> float:
        """``kurtosis - 3``: 0 for a normal, the convention every report quotes (the formula takes the raw one)."""
        return self.kurtosis - 3.0

    def reading(self, periods_per_year: float | None = None, *, as_percent: bool = False) -> str:
        """One line of English for a report.

        With ``periods_per_year`` (252 for daily bars) SR and SR0 read annualised, as a
        report's other Sharpe ratios do; without, per bar. The DSR is a probability either way:
        ``as_percent`` writes it as the report's tables do (``93.57%``); metrics.json keeps ``0.94``.
        """
        n = f"{self.n_trials:,.0f}" if float(self.n_trials).is_integer() else f"{self.n_trials:,.1f}"
        verdict = "passes" if self.dsr >= 0.95 else "falls short of"
        if periods_per_year is not None:
            scale = _annual_scale(periods_per_year)
            return (
                f"DSR {_lead(self.dsr, as_percent)}: the chosen Sharpe ratio ({self.sr * scale:.2f} annualised) "
                f"is {_likely(self.dsr, as_percent)} likely to beat SR0 = {self.sr0 * scale:.2f} (annualised), "
                f"what the luckiest of {n} trials would show by chance; it {verdict} the usual 95% bar."
            )
        return (
            f"DSR {_lead(self.dsr, as_percent)}: the chosen Sharpe ({self.sr:.3f} per bar) is "
            f"{_likely(self.dsr, as_percent)} likely "
            f"to be genuinely positive after {n} trials, whose luckiest would show {self.sr0:.3f} per bar "
            f"by chance; {verdict} the usual 95% bar."
        )

    def __str__(self) -> str:
        return self.reading()

    def _repr_html_(self) -> str:  # pragma: no cover - display only
        rows = "".join(
            f"<tr><td>{k}</td><td>{v:.6g}</td></tr>"
            for k, v in (
                ("DSR", self.dsr),
                ("PSR (against 0)", self.psr),
                ("SR (per bar)", self.sr),
                ("SR0 threshold (per bar)", self.sr0),
                ("trials", self.n_trials),
                ("variance of trial SRs", self.sr_variance),
                ("skew", self.skew),
                ("excess kurtosis", self.excess_kurtosis),
                ("observations", self.n_obs),
            )
        )
        return f"<p>{self.reading()}</p><table>{rows}</table>"


def deflated_sharpe_ratio(
    returns_of_chosen: Any,
    trial_sharpes: Any,
    *,
    n_trials: float | None = None,
) -> DeflatedSharpe:
    """Deflated Sharpe ratio of the strategy chosen from a set of trials.

    Bailey & Lopez de Prado (2014): ``DSR = PSR(SR0)`` where
    ``SR0 = expected_max_sharpe(N, V)``, ``V`` the variance of the trial Sharpe
    ratios (``ddof=1``) and ``N`` the number of trials. Skew, kurtosis, the number
    of observations and SR come from ``returns_of_chosen``. It answers: after
    trying ``N`` configurations, how likely is it that the one we kept is better
    than the best a pure-noise search would have found?

    Parameters
    ----------
    returns_of_chosen:
        Per-bar returns of the selected configuration (1-D, finite).
    trial_sharpes:
        Per-period Sharpe ratio of every configuration tried, the chosen one
        included (see :func:`per_period_sharpe`); all in the same units as
        ``returns_of_chosen``.
    n_trials:
        Number of independent trials ``N``. Defaults to ``len(trial_sharpes)``;
        pass a smaller effective number when trials are strongly correlated
        (neighbouring grid points), or a larger one when you tried more
        configurations than you kept Sharpes for.

    Raises
    ------
    OptimizeInputError (a ``ValueError``)
        Fewer than 2 trial Sharpes, non-finite values, zero variance across trials
        (all trials identical: nothing was selected, use
        :func:`probabilistic_sharpe_ratio` against 0), fewer than
        ``MIN_OBSERVATIONS`` returns or constant returns.
    """
    r = _record("returns_of_chosen", returns_of_chosen)
    srs = _returns_1d("trial_sharpes", trial_sharpes)
    if srs.size < 2:
        raise OptimizeInputError("trial_sharpes", f"{srs.size} Sharpe ratio(s)", "at least 2 trials")
    variance = float(np.var(srs, ddof=1))
    if np.all(srs == srs[0]) or not variance > 0:
        raise OptimizeInputError(
            "trial_sharpes",
            "all equal",
            "Sharpe ratios that vary across trials (identical trials are one trial: "
            "use probabilistic_sharpe_ratio against 0 instead)",
        )
    n = float(srs.size) if n_trials is None else _real("n_trials", n_trials)

    sr = float(per_period_sharpe(r))
    skew, kurt = _moments(r)
    sr0 = expected_max_sharpe(n, variance)
    dsr = probabilistic_sharpe_ratio(sr, sr0, int(r.size), skew, kurt)
    return DeflatedSharpe(
        dsr=dsr,
        psr=probabilistic_sharpe_ratio(sr, 0.0, int(r.size), skew, kurt),
        sr=sr,
        sr0=sr0,
        n_trials=n,
        sr_variance=variance,
        skew=skew,
        kurtosis=kurt,
        n_obs=int(r.size),
    )


def deflated_sharpe_from_trials(
    returns_of_chosen: Any,
    trial_returns: Any,
    *,
    n_trials: float | None = None,
) -> DeflatedSharpe:
    """DSR of a record against the configurations searched, all measured on the record's bars.

    The walk-forward method of the module docstring: ``trial_returns`` is the
    ``T x K`` matrix of per-bar returns of K distinct configurations over exactly
    the ``T`` bars of ``returns_of_chosen`` (same units, e.g. both in excess of the
    risk-free rate). Each configuration's Sharpe over those bars gives the trial
    Sharpes whose variance ``V`` sets the threshold SR0; ``n_trials`` (default K)
    is the number of distinct configurations searched, which may exceed K when
    only a sample of them was kept. A configuration with constant returns over the
    span (never in the market) has no Sharpe: it is left out of ``V`` but still
    counted in ``N``.

    Raises ``OptimizeInputError`` for a matrix of another length than the record,
    fewer than two configurations with a Sharpe, or what
    :func:`deflated_sharpe_ratio` refuses.
    """
    r = _record("returns_of_chosen", returns_of_chosen)
    try:
        m = np.asarray(trial_returns, dtype=float)
    except (TypeError, ValueError):
        raise OptimizeInputError("trial_returns", type(trial_returns).__name__, "a T x K array of returns") from None
    if m.ndim != 2 or m.shape[0] != r.size:
        raise OptimizeInputError(
            "trial_returns", f"array of shape {m.shape}", f"a {r.size} x K array: the record's {r.size} bars x K trials"
        )
    bad = np.argwhere(~np.isfinite(m))
    if bad.size:
        row, col = bad[0]
        raise OptimizeInputError("trial_returns", f"{m[row, col]} at row {row}, column {col}", "finite returns only")
    srs = np.atleast_1d(per_period_sharpe(m, axis=0))
    srs = srs[np.isfinite(srs)]
    n = float(m.shape[1]) if n_trials is None else _real("n_trials", n_trials)
    if n < m.shape[1]:
        raise OptimizeInputError("n_trials", n_trials, f"at least the {m.shape[1]} configurations given")
    return deflated_sharpe_ratio(r, srs, n_trials=n)


# --------------------------------------------------------------------------- PBO


@dataclass(frozen=True)
class PBO:
    """Result of :func:`probability_of_backtest_overfitting`.

    ``pbo``: share of CSCV splits whose in-sample winner ranks at or below the
    median out of sample (logit <= 0). ``logits``: one ``lambda = ln(w / (1 - w))``
    per split, ``w`` the winner's relative OOS rank in (0, 1). ``chosen``: index of
    the IS winner per split; ``is_best`` / ``oos_of_best``: its metric in and out
    of sample (their scatter shows performance degradation). ``combinations``: the
    IS blocks of each split, in :func:`itertools.combinations` order.
    """

    pbo: float
    logits: np.ndarray
    n_combinations: int
    n_splits: int
    n_trials: int
    n_rows_used: int
    metric: str
    chosen: np.ndarray
    is_best: np.ndarray
    oos_of_best: np.ndarray
    combinations: np.ndarray

    @property
    def prob_oos_loss(self) -> float:
        """Share of splits where the IS winner's OOS metric is negative."""
        return float(np.mean(self.oos_of_best < 0))

    def reading(self, *, as_percent: bool = False) -> str:
        """One line of English for a report (``as_percent``: the probability as ``62.47%``, as tables write it)."""
        if self.pbo < 0.1:
            verdict = "little sign of overfitting"
        elif self.pbo < 0.5:
            verdict = "some risk that the selection is overfit"
        else:
            verdict = "the selection is likely overfit (no better than picking at random)"
        return (
            f"PBO {_lead(self.pbo, as_percent)}: in {_likely(self.pbo, as_percent)} of {self.n_combinations:,} "
            "in/out-of-sample splits "
            f"of {self.n_trials:,} trials, the best in-sample trial ranked in the bottom half "
            f"out of sample; {verdict}."
        )

    def __str__(self) -> str:
        return self.reading()

    def _repr_html_(self) -> str:  # pragma: no cover - display only
        return (
            f"<p>{self.reading()}</p><table>"
            f"<tr><td>splits S</td><td>{self.n_splits}</td></tr>"
            f"<tr><td>combinations</td><td>{self.n_combinations:,}</td></tr>"
            f"<tr><td>trials</td><td>{self.n_trials:,}</td></tr>"
            f"<tr><td>rows used</td><td>{self.n_rows_used:,}</td></tr>"
            f"<tr><td>metric</td><td>{self.metric}</td></tr>"
            f"<tr><td>median logit</td><td>{np.median(self.logits):.3f}</td></tr>"
            f"<tr><td>P(OOS loss of IS winner)</td><td>{self.prob_oos_loss:.2f}</td></tr></table>"
        )


_METRICS = ("sharpe", "mean")
#: Floats per array in one pass of PBO's element-wise steps (256 KiB: a core's cache).
_CACHE_FLOATS = 32_768


def _metric_from_sums(
    metric: str, n: np.ndarray | float, s: np.ndarray, q: np.ndarray, col_mean: np.ndarray
) -> np.ndarray:
    """Metric of each trial from the count ``n``, sum ``s`` and sum of squares ``q``
    of its *centred* returns (``x - col_mean``). Centring keeps the variance free of
    catastrophic cancellation; the mean is shifted back."""
    mean = col_mean + s / n
    if metric == "mean":
        return mean
    var = (q - s * s / n) / (n - 1)
    std = np.sqrt(np.maximum(var, 0.0))
    # A constant window has no Sharpe: rank it as 0 if flat, +/- inf if it drifts.
    # "Constant" allows for the rounding left in q - s^2/n (relative to the window's
    # spread around the column mean), so exactly constant data is recognised.
    tiny = 1e-7 * np.sqrt(np.maximum(q, 0.0) / n)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(std > tiny, mean / np.where(std > tiny, std, 1.0), np.sign(mean) * np.inf)
    return np.where((std <= tiny) & (mean == 0), 0.0, out)


def probability_of_backtest_overfitting(
    perf: Any,
    n_splits: int = 16,
    metric: Literal["sharpe", "mean"] = "sharpe",
    *,
    chunk_size: int = 2048,
) -> PBO:
    """Probability of backtest overfitting by CSCV (Bailey, Borwein, Lopez de Prado, Zhu).

    Algorithm (paper, section 2):

    1. Split the ``T`` rows of ``perf`` (``T`` bars x ``N`` trials of per-bar returns)
       into ``S = n_splits`` contiguous blocks of equal length. If ``T`` is not a
       multiple of ``S`` the oldest ``T mod S`` rows are dropped (equal blocks keep
       IS and OOS the same size, as the paper requires).
    2. For each of the ``C(S, S/2)`` ways to choose half of the blocks as in-sample
       (the rest, in time order, is out-of-sample): find the trial with the best IS
       metric, then its rank ``r`` (1 = worst, ``N`` = best; ties get the average
       rank) among all trials OOS, and ``w = r / (N + 1)``.
    3. ``lambda = ln(w / (1 - w))``; ``PBO`` is the share of splits with
       ``lambda <= 0``: the IS winner did no better than the OOS median.

    Why: if selecting the best in-sample configuration carries information, its
    OOS rank should sit above the median most of the time; if the search only
    fitted noise, the winner's OOS rank is uniform and PBO is about 0.5 or worse.
    Every block is used in-sample and out-of-sample equally often
    ("combinatorially symmetric"), so no single train/test cut drives the answer.

    Implementation: per-block counts, sums and sums of squares are computed once
    (``S x N``); a split's IS statistics are a 0/1 combination-matrix product
    with them and its OOS statistics the totals minus IS, so each split costs
    ``O(S N)`` rather than ``O(T N)``. Splits are processed in chunks of
    ``chunk_size`` to bound memory. Deterministic (ties in the IS winner go to
    the first trial).

    Parameters
    ----------
    perf:
        ``T x N`` array (or DataFrame) of per-bar returns, one column per trial.
    n_splits:
        ``S``, even, >= 2, with at least 2 rows per block. 16 gives 12,870 splits.
    metric:
        ``"sharpe"`` (per-bar mean / std, ddof=1) or ``"mean"`` (mean return).
    """
    try:
        m = np.asarray(perf, dtype=float)
    except (TypeError, ValueError):
        raise OptimizeInputError("perf", type(perf).__name__, "a T x N array of per-bar returns") from None
    if m.ndim != 2:
        raise OptimizeInputError("perf", f"array of shape {m.shape}", "a 2-D array: T bars x N trials")
    t, n_trials = m.shape
    if n_trials < 2:
        raise OptimizeInputError("perf", f"{n_trials} trial column(s)", "at least 2 trials (columns)")
    bad = np.argwhere(~np.isfinite(m))
    if bad.size:
        row, col = bad[0]
        raise OptimizeInputError(
            "perf", f"{m[row, col]} at row {row}, column {col}", "finite returns only (fill or drop NaN rows first)"
        )
    if not _is_int(n_splits) or n_splits < 2 or n_splits % 2:
        raise OptimizeInputError("n_splits", n_splits, "an even int >= 2")
    if t // n_splits < 2:
        raise OptimizeInputError(
            "n_splits", n_splits, f"at most T/2 = {t // 2} so each block holds >= 2 of the {t} rows"
        )
    if metric not in _METRICS:
        raise OptimizeInputError("metric", metric, " or ".join(repr(x) for x in _METRICS))
    if not _is_int(chunk_size) or chunk_size < 1:
        raise OptimizeInputError("chunk_size", chunk_size, "an int >= 1")

    s_blocks = int(n_splits)
    block_len = t // s_blocks
    used = m[t - block_len * s_blocks :]
    col_mean = used.mean(axis=0)
    centred = (used - col_mean).reshape(s_blocks, block_len, n_trials)
    block_sum = centred.sum(axis=1)  # S x N
    block_sq = (centred * centred).sum(axis=1)  # S x N
    total_sum = block_sum.sum(axis=0)
    total_sq = block_sq.sum(axis=0)
    half_n = float(block_len * (s_blocks // 2))  # rows in IS == rows in OOS

    combos = np.array(list(combinations(range(s_blocks), s_blocks // 2)), dtype=np.int64)
    k = len(combos)
    chosen = np.empty(k, dtype=np.int64)
    is_best = np.empty(k)
    oos_best = np.empty(k)
    rank = np.empty(k)
    for lo in range(0, k, chunk_size):
        part = combos[lo : lo + chunk_size]
        sel = np.zeros((len(part), s_blocks))
        np.put_along_axis(sel, part, 1.0, axis=1)
        is_s_part = sel @ block_sum
        is_q_part = sel @ block_sq
        # The element-wise steps a few rows at a time: ~20 passes over arrays that stay
        # in the CPU cache instead of over megabytes in memory (3x faster, same floats:
        # every step is per element or per row).
        step = max(1, _CACHE_FLOATS // n_trials)
        for a in range(0, len(part), step):
            is_s, is_q = is_s_part[a : a + step], is_q_part[a : a + step]
            is_metric = _metric_from_sums(metric, half_n, is_s, is_q, col_mean)
            oos_metric = _metric_from_sums(metric, half_n, total_sum - is_s, total_sq - is_q, col_mean)
            best = np.argmax(is_metric, axis=1)
            rows = np.arange(len(is_s))
            best_oos = oos_metric[rows, best]
            n_less = np.count_nonzero(oos_metric < best_oos[:, None], axis=1)
            n_equal = np.count_nonzero(oos_metric == best_oos[:, None], axis=1)  # includes the winner
            out = slice(lo + a, lo + a + len(is_s))
            chosen[out] = best
            is_best[out] = is_metric[rows, best]
            oos_best[out] = best_oos
            rank[out] = n_less + (n_equal + 1) / 2.0

    omega = rank / (n_trials + 1.0)
    logits = np.log(omega / (1.0 - omega))
    return PBO(
        pbo=float(np.mean(logits <= 0)),
        logits=logits,
        n_combinations=k,
        n_splits=s_blocks,
        n_trials=n_trials,
        n_rows_used=block_len * s_blocks,
        metric=metric,
        chosen=chosen,
        is_best=is_best,
        oos_of_best=oos_best,
        combinations=combos,
    )
