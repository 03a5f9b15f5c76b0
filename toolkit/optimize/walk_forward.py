"""One walk-forward, start to finish: what ``notebooks/walk_forward.ipynb`` calls.

For every fold (:func:`~toolkit.optimize.folds.walk_forward_folds`) the whole grid
is evaluated on the in-sample window in vectorised chunks
(:mod:`toolkit.optimize.evaluate`), the best combination by the objective among
those meeting the constraints is kept (first in grid order on ties), and it trades
the following out-of-sample window. Decisions there are computed with the
preceding bars as warm-up (indicators are defined on the first OOS bar) but orders
only go out inside the window.

The out-of-sample windows are simulated as ONE continuous backtest
(:func:`~toolkit.backtest.engine.run_backtest`, the engine of the backtest
notebook, driven by the strategy's own ``decisions()``): each fold starts with the
portfolio, and so the equity, the previous fold ended with, and its first bar
re-targets the position to what the newly chosen parameters want. A position the
new parameters also want is kept, not sold and bought back, as a live account
switching parameters would do; costs are paid only on what actually trades.

Overfitting diagnostics come from the trials actually run:

* Probabilistic Sharpe ratio (PSR) of the stitched OOS daily returns (the
  walk-forward's own track record): the confidence that its Sharpe is above 0,
  with no charge for the search.
* Deflated Sharpe ratio of the same record against the distinct configurations
  searched, each one's Sharpe measured over the same stitched OOS bars (its own
  continuous run from the full-sample pass below): N = configurations, V = their
  cross-sectional variance on that horizon (see :mod:`toolkit.optimize.overfitting`
  for why neither folds x configurations nor in-sample Sharpes are comparable).
* PBO by CSCV on the matrix of each combination's daily returns over the full
  sample (one extra vectorised pass): does picking the in-sample best carry
  information out of sample for this grid on this data?

The hand-off to the daily dry run is ``recommended_params.yaml``: by default the
last fold's choice (fitted on the most recent in-sample window), or with
``recommend: most_frequent`` the combination chosen by the most folds.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from toolkit.backtest.engine import BacktestResult, run_backtest
from toolkit.backtest.metrics import TRADING_DAYS, buy_and_hold, compute_metrics, daily_returns
from toolkit.data.dataset import Dataset, load_dataset
from toolkit.optimize.evaluate import (
    METRICS,
    GridResult,
    GridTask,
    Objective,
    constraint_mask,
    decide_weights,
    evaluate_task,
    grid_warmup,
    parse_objective,
    select_best,
)
from toolkit.optimize.executors import Executor, ProgressMode, make_executor, progress_bar
from toolkit.optimize.folds import Fold, folds_table, walk_forward_folds
from toolkit.optimize.grid import OptimizeInputError, combination
from toolkit.optimize.overfitting import (
    PBO,
    DeflatedSharpe,
    ProbabilisticSharpe,
    deflated_sharpe_from_trials,
    probabilistic_sharpe,
    probability_of_backtest_overfitting,
)
from toolkit.params import repo_root
from toolkit.params.walk_forward import ResolvedGrid, WalkForwardParams, merged_strategy_params, resolve_grid
from toolkit.strategies import registry

#: Metrics shown in the per-fold table of the report (folds.csv has all of them).
FOLD_COLUMNS = ("objective", "sharpe", "cagr", "max_drawdown", "n_trades")


def _finite(x: Any) -> Any:
    """JSON-safe value: NaN/inf floats become None."""
    if isinstance(x, (float, np.floating)):
        return float(x) if math.isfinite(x) else None
    if isinstance(x, np.integer):
        return int(x)
    return x


@dataclass
class WalkForwardReport:
    """Everything the walk-forward report shows and the archive stores."""

    params: WalkForwardParams
    dataset: Dataset
    grid: ResolvedGrid
    fixed_params: dict[str, Any]
    folds: list[Fold]
    objective: Objective
    warmup: int
    trials: pd.DataFrame  # one row per (fold, combination): params, metrics, objective, valid, chosen
    fold_results: pd.DataFrame  # one row per fold: windows, choice, IS and OOS metrics
    oos: BacktestResult  # the stitched out-of-sample backtest
    oos_fold: pd.Series  # fold number of every OOS bar
    oos_metrics: dict
    benchmark_symbol: str
    benchmark_equity: pd.Series
    benchmark_metrics: dict
    psr: ProbabilisticSharpe | None
    psr_note: str
    dsr: DeflatedSharpe | None
    dsr_note: str
    pbo: PBO | None
    pbo_note: str
    recommended: dict[str, Any] | None
    recommended_note: str
    executor: str
    elapsed_s: float
    notes: list[str] = field(default_factory=list)

    # ------------------------------------------------------------------ tables

    @property
    def grid_params(self) -> list[str]:
        return list(self.grid.grid.columns)

    def folds_table(self) -> pd.DataFrame:
        """The per-fold table of the report: windows, chosen params, IS and OOS key metrics."""
        cols = ["is_start", "is_end", "oos_start", "oos_end", "n_valid", *self.grid_params]
        cols += [f"is_{m}" for m in FOLD_COLUMNS] + [f"oos_{m}" for m in FOLD_COLUMNS]
        t = self.fold_results[cols].copy()
        for c in ("is_start", "is_end", "oos_start", "oos_end"):
            t[c] = t[c].dt.strftime("%Y-%m-%d")
        return t

    def trials_by_fold(self) -> pd.DataFrame:
        """Every trial of every fold, as a reader goes through them: fold by fold, best in-sample objective first.

        ``trials.csv`` holds them in this order, so the report's trials table (which shows
        its first and last rows) and the file number the rows alike.
        """
        return self.trials.sort_values(["fold", "objective"], ascending=[True, False], na_position="last",
                                       kind="stable").reset_index(drop=True)

    def heatmap_params(self) -> list[str] | None:
        """The two parameters of the heatmap: ``params.heatmap`` or the first two searched."""
        if self.params.heatmap:
            return list(self.params.heatmap)
        varying = [c for c in self.grid_params if self.grid.grid[c].nunique() > 1]
        return varying[:2] if len(varying) >= 2 else None

    def heatmap_table(self) -> pd.DataFrame | None:
        """Objective over the two heatmap parameters (mean over folds, or the last fold)."""
        hp = self.heatmap_params()
        if not hp:
            return None
        t = self.trials
        if self.params.heatmap_folds == "last":
            t = t[t["fold"] == t["fold"].max()]
        t = t.assign(objective=t["objective"].where(np.isfinite(t["objective"])))
        return t.groupby(hp)["objective"].mean().unstack(hp[1])

    def summary_line(self) -> str:
        """A short, stable summary (nbval may compare it on the default params)."""
        m, b = self.oos_metrics, self.benchmark_metrics
        start, end = self.oos.equity.index[0].date(), self.oos.equity.index[-1].date()
        return (
            f"{self.params.strategy} walk-forward on {', '.join(self.dataset.symbols)}: {len(self.folds)} folds x "
            f"{self.grid.n_kept} combinations, OOS {start} .. {end}: total return {m['total_return']:.2%}, "
            f"max drawdown {m['max_drawdown']:.2%} (buy & hold {b['total_return']:.2%}, {b['max_drawdown']:.2%})"
        )

    # ------------------------------------------------------------------ hand-off

    def recommended_params(self, run_id: str | None) -> dict[str, Any] | None:
        """The content of ``recommended_params.yaml`` (None when no fold chose anything)."""
        if self.recommended is None:
            return None
        return {
            "strategy": self.params.strategy,
            "strategy_params": dict(self.recommended),
            "walk_forward_run_id": run_id,
        }

    def _recommended_yaml(self, run_id: str | None) -> str:
        import yaml

        body = yaml.safe_dump(self.recommended_params(run_id), sort_keys=False, default_flow_style=False)
        header = [
            f"# Recommended by walk-forward run {run_id} ({self.recommended_note}).",
            f"# Objective: {self.objective}; folds: {len(self.folds)}; grid: {self.grid.n_kept} combinations.",
            f"# Stitched OOS: total return {self.oos_metrics['total_return']:.2%}, "
            f"sharpe {_fmt(self.oos_metrics['sharpe'])}.",
        ]
        return "\n".join(header) + "\n" + body

    # ------------------------------------------------------------------ archive

    def write(self, output_dir: str | Path) -> list[Path]:
        """Write folds.csv, oos_equity.csv, trials.parquet, trials.csv, metrics.json, recommended_params.yaml,
        run_info.json."""
        out = Path(output_dir)
        out.mkdir(parents=True, exist_ok=True)
        run_id = out.name
        self.fold_results.to_csv(out / "folds.csv", index=False)
        eq = pd.DataFrame(
            {
                "equity": self.oos.equity,
                "fold": self.oos_fold,
                "benchmark": self.benchmark_equity,
            }
        )
        eq.index.name = "timestamp"
        eq.to_csv(out / "oos_equity.csv")
        self.trials.to_parquet(out / "trials.parquet", index=False)
        self.trials_by_fold().to_csv(out / "trials.csv", index=False)
        (out / "metrics.json").write_text(json.dumps(self.metrics_json(), indent=2, sort_keys=True))
        files = [out / n for n in ("folds.csv", "oos_equity.csv", "trials.parquet", "trials.csv", "metrics.json")]
        if self.recommended is not None:
            (out / "recommended_params.yaml").write_text(self._recommended_yaml(run_id))
            files.append(out / "recommended_params.yaml")
        info = {
            "data_fingerprint": self.dataset.fingerprint,
            "data_notes": self.notes,
            "proxies": self.dataset.proxies,
            "executor": self.executor,
            "walk_forward_seconds": round(self.elapsed_s, 3),
        }
        (out / "run_info.json").write_text(json.dumps(info, indent=2))
        return files

    def metrics_json(self) -> dict[str, Any]:
        """metrics.json: stitched OOS metrics at the top (as a backtest), then the diagnostics."""
        out: dict[str, Any] = {k: _finite(v) for k, v in self.oos_metrics.items()}
        out["benchmark"] = {
            "symbol": self.benchmark_symbol,
            **{k: _finite(v) for k, v in self.benchmark_metrics.items()},
        }
        out["probabilistic_sharpe"] = self._psr_json()
        out["deflated_sharpe"] = self._dsr_json()
        out["pbo"] = (
            {"pbo": self.pbo.pbo, "n_splits": self.pbo.n_splits, "n_trials": self.pbo.n_trials,
             "n_combinations": self.pbo.n_combinations, "n_rows_used": self.pbo.n_rows_used,
             "prob_oos_loss": self.pbo.prob_oos_loss, "reading": self.pbo.reading()}
            if self.pbo
            else {"reading": self.pbo_note}
        )
        out["walk_forward"] = {
            "objective": str(self.objective),
            "scheme": self.params.scheme,
            "n_folds": len(self.folds),
            "n_combinations": self.grid.n_kept,
            "n_dropped": self.grid.n_dropped,
            "n_trials": len(self.trials),
            "folds_without_choice": int(self.fold_results["combination"].isna().sum()),
            "oos_start": str(self.oos.equity.index[0]),
            "oos_end": str(self.oos.equity.index[-1]),
            "recommended": self.recommended,
            "recommended_rule": self.recommended_note,
            "executor": self.executor,
        }
        return out

    # The PSR and DSR as metrics.json and the report give them: Sharpe ratios annualised (as
    # the metrics' own ``sharpe``), the per-bar figures the statistics are computed from
    # kept under names that say so, kurtosis as excess kurtosis (0 for a normal).

    def psr_reading(self, *, as_percent: bool = False) -> str:
        """The PSR in one line, its Sharpe ratio annualised (or why there is no PSR); see ``as_percent`` there."""
        return self.psr.reading(periods_per_year=TRADING_DAYS, as_percent=as_percent) if self.psr else self.psr_note

    def dsr_reading(self, *, as_percent: bool = False) -> str:
        """The DSR in one line, SR and SR0 annualised (or why there is no DSR); see ``as_percent`` there."""
        return self.dsr.reading(periods_per_year=TRADING_DAYS, as_percent=as_percent) if self.dsr else self.dsr_note

    def pbo_reading(self, *, as_percent: bool = False) -> str:
        """The PBO in one line (or why there is none); ``as_percent`` as the report's tables write it."""
        return self.pbo.reading(as_percent=as_percent) if self.pbo else self.pbo_note

    def _psr_json(self) -> dict[str, Any]:
        p = self.psr
        if p is None:
            return {"reading": self.psr_note}
        ann = math.sqrt(TRADING_DAYS)
        return {"psr": _finite(p.psr), "sharpe_annualised": _finite(p.sr * ann), "sharpe_per_bar": _finite(p.sr),
                "sr_benchmark_per_bar": _finite(p.sr_benchmark), "skew": _finite(p.skew),
                "excess_kurtosis": _finite(p.excess_kurtosis), "n_obs": p.n_obs, "reading": self.psr_reading()}

    def _dsr_json(self) -> dict[str, Any]:
        d = self.dsr
        if d is None:
            return {"reading": self.dsr_note}
        ann = math.sqrt(TRADING_DAYS)
        return {"dsr": _finite(d.dsr), "psr": _finite(d.psr), "sharpe_annualised": _finite(d.sr * ann),
                "sr0_annualised": _finite(d.sr0 * ann), "sharpe_per_bar": _finite(d.sr),
                "sr0_per_bar": _finite(d.sr0), "sr_variance_per_bar": _finite(d.sr_variance),
                "n_trials": _finite(d.n_trials), "skew": _finite(d.skew), "excess_kurtosis": _finite(d.excess_kurtosis),
                "n_obs": d.n_obs, "reading": self.dsr_reading()}

    def _repr_html_(self) -> str:  # pragma: no cover - display only
        return f"<b>WalkForwardReport</b>: {self.summary_line()}"


def _fmt(x: Any) -> str:
    return "-" if x is None or (isinstance(x, float) and not math.isfinite(x)) else f"{x:.3f}"


# --------------------------------------------------------------------------- steps


def build_tasks(
    p: WalkForwardParams,
    *,
    folds: list[Fold],
    combos: pd.DataFrame,
    fixed: dict[str, Any],
    symbols: list[str],
    warmup: int,
    n_bars: int,
    pbo_combos: pd.DataFrame | None,
) -> list[GridTask]:
    """Every chunk of every fold's in-sample grid, then the full-sample pass of ``pbo_combos`` (for PBO).

    The tasks depend only on the params and the data, never on the executor, which
    is what makes a dask run repeat a local run exactly.
    """
    from toolkit.optimize.evaluate import chunk_size_for
    from toolkit.optimize.grid import chunks

    shared_fixed, shared_symbols = dict(fixed), tuple(symbols)
    tasks = []
    for f in folds:
        for i, chunk in enumerate(chunks(combos, chunk_size_for(p.chunk_size, p.strategy, f.is_slice.stop))):
            tasks.append(in_sample_task(p, f, chunk, fixed=shared_fixed, symbols=shared_symbols, warmup=warmup,
                                        chunk=i))
    if pbo_combos is not None:
        size = chunk_size_for(p.chunk_size, p.strategy, n_bars, keep_returns=True)
        for i, chunk in enumerate(chunks(pbo_combos, size)):
            tasks.append(window_task(p, 0, i, 0, 0, n_bars, chunk, fixed=shared_fixed, symbols=shared_symbols,
                                     keep_returns=True))
    return tasks


def in_sample_task(
    p: WalkForwardParams,
    fold: Fold,
    combos: pd.DataFrame,
    *,
    fixed: dict[str, Any],
    symbols: tuple[str, ...],
    warmup: int,
    chunk: int = 0,
) -> GridTask:
    """The task that evaluates ``combos`` on ``fold``'s in-sample window, decided after ``warmup`` bars.

    One definition for the walk-forward's own tasks and for a re-run of one of its
    combinations (:mod:`toolkit.optimize.fold_replay`), so both measure the same thing.
    """
    start, stop = fold.is_slice.start, fold.is_slice.stop
    return window_task(p, fold.number, chunk, max(0, start - warmup), start, stop, combos, fixed=fixed,
                       symbols=symbols)


def window_task(
    p: WalkForwardParams,
    key: int,
    chunk: int,
    decide_start: int,
    start: int,
    stop: int,
    combos: pd.DataFrame,
    *,
    fixed: dict[str, Any],
    symbols: tuple[str, ...],
    keep_returns: bool = False,
) -> GridTask:
    """A :class:`GridTask` over bars ``[start, stop)`` with the run's strategy, costs and cash."""
    return GridTask(
        key, chunk, decide_start, start, stop, combos,
        strategy=p.strategy,
        fixed=fixed,
        symbols=symbols,
        initial_cash=p.initial_cash,
        fees_bps=p.costs.fees_bps,
        slippage_bps=p.costs.slippage_bps,
        fill=p.costs.fill,
        risk_free_rate=p.risk_free_rate,
        keep_returns=keep_returns,
    )


def run_tasks(
    tasks: list[GridTask],
    bars: pd.DataFrame,
    executor: Executor,
    *,
    n_folds: int,
    progress: ProgressMode = "auto",
) -> list[GridResult]:
    """Run the tasks with progress bars over folds and combinations."""
    per_fold: dict[int, int] = {}
    for t in tasks:
        per_fold[t.key] = per_fold.get(t.key, 0) + 1
    n_is = sum(t.n_combos for t in tasks if t.key)
    n_full = sum(t.n_combos for t in tasks if not t.key)
    bar_folds = progress_bar(n_folds, desc="folds", unit="fold", mode=progress, position=0)
    bar_combos = progress_bar(n_is, desc="in-sample combinations", unit="combo", mode=progress, position=1)
    bar_full = (
        progress_bar(n_full, desc="full sample (PBO)", unit="combo", mode=progress, position=2) if n_full else None
    )

    def done(i: int, res: GridResult) -> None:
        task = tasks[i]
        if task.key:
            bar_combos.update(task.n_combos)
            per_fold[task.key] -= 1
            if per_fold[task.key] == 0:
                bar_folds.update(1)
        elif bar_full is not None:
            bar_full.update(task.n_combos)

    try:
        return executor.map(evaluate_task, tasks, bars, on_result=done)
    finally:
        for b in (bar_folds, bar_combos, bar_full):
            if b is not None:
                b.close()


def assemble_trials(
    results: list[GridResult], grid: pd.DataFrame, objective: Objective, constraints: dict[str, float | None]
) -> tuple[pd.DataFrame, dict[int, int | None]]:
    """One row per (fold, combination), the objective and validity, and each fold's choice.

    Returns the trials table and ``{fold: chosen combination number or None}``.
    """
    by_fold: dict[int, list[pd.DataFrame]] = {}
    for r in sorted((r for r in results if r.key), key=lambda r: (r.key, r.chunk)):
        by_fold.setdefault(r.key, []).append(r.metrics)
    frames, chosen = [], {}
    for fold, parts in by_fold.items():
        m = pd.concat(parts)
        obj = objective({k: m[k].to_numpy() for k in METRICS})
        valid = constraint_mask({k: m[k].to_numpy() for k in METRICS}, constraints)
        best = select_best(obj, valid)
        chosen[fold] = None if best is None else int(m.index[best])
        t = pd.concat([grid.loc[m.index].reset_index(), m.reset_index(drop=True)], axis=1)
        t.insert(0, "fold", fold)
        t["objective"] = obj
        t["valid"] = valid
        t["chosen"] = False
        if best is not None:
            t.loc[best, "chosen"] = True
        frames.append(t)
    return pd.concat(frames, ignore_index=True), chosen


def stitch_oos(
    bars: pd.DataFrame,
    folds: list[Fold],
    chosen_params: list[dict[str, Any] | None],
    *,
    strategy: str,
    symbols: list[str],
    instruments: list[str],
    warmup: int,
    p: WalkForwardParams,
) -> tuple[BacktestResult, pd.Series]:
    """One continuous backtest over the OOS windows, each traded with its fold's choice.

    A fold's order weights come from the strategy's own ``decisions()`` on its
    window plus ``warmup`` earlier bars; only the window's rows are kept and its
    first bar always re-targets. A fold without a valid choice stays flat.
    """
    pieces = []
    for f, prm in zip(folds, chosen_params, strict=True):
        s, e = f.oos_slice.start, f.oos_slice.stop
        idx = bars.index[s:e]
        if prm is None:
            w = np.full((e - s, len(instruments)), np.nan)
            w[0] = 0.0
            cols = instruments
        else:
            ds = max(0, s - warmup)
            cols, weights = decide_weights(strategy, pd.DataFrame([prm]), {}, symbols, bars.iloc[ds:e],
                                           trade_start=s - ds, fast_path=False)
            w = weights[:, 0, :]
        pieces.append(pd.DataFrame(w, index=idx, columns=cols))
    order_weights = pd.concat(pieces)
    span = bars.iloc[folds[0].oos_slice.start : folds[-1].oos_slice.stop]
    result = run_backtest(
        span,
        order_weights,
        initial_cash=p.initial_cash,
        fees_bps=p.costs.fees_bps,
        slippage_bps=p.costs.slippage_bps,
        fill=p.costs.fill,
    )
    fold_of_bar = pd.Series(
        np.concatenate([np.full(f.n_out_of_sample, f.number) for f in folds]), index=span.index, name="fold"
    )
    return result, fold_of_bar


def slice_result(res: BacktestResult, start: int, stop: int) -> BacktestResult:
    """The bars ``[start, stop)`` of a backtest as a backtest of their own.

    Its initial cash is the equity before ``start``; orders are those placed in the
    window and trades those entered in it.
    """
    idx = res.equity.index[start:stop]
    initial = res.initial_cash if start == 0 else float(res.equity.iloc[start - 1])
    orders = res.orders[res.orders["timestamp"].between(idx[0], idx[-1])]
    trades = res.trades[res.trades["entry_time"].between(idx[0], idx[-1])] if len(res.trades) else res.trades
    return BacktestResult(
        equity=res.equity.iloc[start:stop],
        cash=res.cash.iloc[start:stop],
        positions=res.positions.iloc[start:stop],
        holdings_value=res.holdings_value.iloc[start:stop],
        orders=orders,
        trades=trades,
        initial_cash=initial,
        portfolio=None,
    )


@dataclass(frozen=True)
class Diagnostics:
    """PSR, DSR and PBO of a walk-forward, each with a note explaining a missing value."""

    psr: ProbabilisticSharpe | None
    psr_note: str
    dsr: DeflatedSharpe | None
    dsr_note: str
    pbo: PBO | None
    pbo_note: str


def overfitting(
    oos_returns: np.ndarray,
    full_returns: np.ndarray | None,
    *,
    oos_span: slice,
    n_configurations: int,
    n_splits: int,
    risk_free_rate: float,
) -> Diagnostics:
    """PSR and deflated Sharpe of the stitched OOS returns, PBO of the full-sample matrix.

    ``oos_returns``: the stitched record's daily returns, one per bar of
    ``oos_span`` (positions in the full sample). ``full_returns``: every sampled
    configuration's daily returns over the full sample, ``(configurations, bars)``,
    or None with fewer than two configurations. The DSR's trials are these
    configurations over ``oos_span``, ``n_configurations`` the number searched
    (:func:`~toolkit.optimize.overfitting.deflated_sharpe_from_trials`). Returns are
    taken in excess of the risk-free rate.

    Each value comes with a note explaining why it is missing (one configuration,
    constant returns, too few bars for the CSCV blocks), never an exception:
    diagnostics must not sink a finished walk-forward.
    """
    rf = (1.0 + risk_free_rate) ** (1.0 / TRADING_DAYS) - 1.0
    record = np.asarray(oos_returns, dtype=float) - rf
    psr, psr_note = None, ""
    try:
        psr = probabilistic_sharpe(record)
    except OptimizeInputError as exc:
        psr_note = f"PSR not computed: {exc}"
    dsr, dsr_note = None, ""
    if full_returns is None:
        dsr_note = "Deflated Sharpe not computed: one configuration was searched, nothing was selected (see the PSR)."
    else:
        try:
            dsr = deflated_sharpe_from_trials(record, full_returns[:, oos_span].T - rf, n_trials=n_configurations)
        except OptimizeInputError as exc:
            dsr_note = f"Deflated Sharpe not computed: {exc}"
    pbo, pbo_note = None, ""
    if full_returns is None:
        pbo_note = "PBO not computed: it needs at least two combinations."
    else:
        try:
            pbo = probability_of_backtest_overfitting(full_returns.T - rf, n_splits=n_splits)
        except OptimizeInputError as exc:
            pbo_note = f"PBO not computed: {exc}"
    return Diagnostics(psr, psr_note, dsr, dsr_note, pbo, pbo_note)


def pbo_sample(grid: pd.DataFrame, max_trials: int) -> pd.DataFrame | None:
    """The combinations whose full-sample returns feed PBO: all, or ``max_trials`` evenly spaced.

    PBO needs the whole ``bars x combinations`` return matrix at once (8 bytes a
    cell, plus the copies CSCV makes): 20,000 combinations of 5,000 bars would be
    2.4 GB. An evenly spaced subset keeps the grid's shape at a coarser step.
    None when there are fewer than two combinations (nothing to select from).
    """
    n = len(grid)
    if n < 2:
        return None
    if n <= max_trials:
        return grid
    pos = np.unique(np.linspace(0, n - 1, max_trials).round().astype(int))
    return grid.iloc[pos]


def recommend(fold_results: pd.DataFrame, rule: str) -> tuple[int | None, str]:
    """The combination to hand to the daily dry run, and why.

    ``last_fold``: the latest fold's choice, fitted on the most recent in-sample
    window (the one closest to what trades next). ``most_frequent``: the choice of
    the most folds, ties to the most recent: stabler, but possibly stale.
    """
    chosen = fold_results.dropna(subset=["combination"])
    if chosen.empty:
        return None, "no fold found a combination meeting the constraints"
    if rule == "last_fold":
        row = chosen.iloc[-1]
        return int(row["combination"]), f"rule last_fold: the choice of fold {int(row['fold'])}"
    counts = chosen["combination"].value_counts()
    top = counts[counts == counts.max()].index
    row = chosen[chosen["combination"].isin(top)].iloc[-1]
    return int(row["combination"]), (
        f"rule most_frequent: chosen by {int(counts.max())} of {len(fold_results)} folds "
        f"(last in fold {int(row['fold'])})"
    )


# --------------------------------------------------------------------------- the job


def run_walk_forward(
    params: WalkForwardParams,
    *,
    base_dir: Path | None = None,
    progress: ProgressMode = "auto",
    executor: Executor | None = None,
) -> WalkForwardReport:
    """Load data, evaluate every fold's grid, choose, stitch OOS, diagnose, recommend.

    ``executor`` overrides the params' ``executor`` (tests pass their own cluster);
    one created here is closed here.
    """
    t0 = time.perf_counter()
    p = params
    base = base_dir or repo_root()
    cls = registry.get(p.strategy)
    fixed = merged_strategy_params(p, base)
    grid = resolve_grid(p, fixed)
    probe = cls({**fixed, **grid.grid.iloc[0].to_dict()}, symbols=p.data.symbols)
    dataset = load_dataset(p.data, base_dir=base, optional=probe.optional_symbols())
    symbols = [s for s in p.data.symbols if s in dataset.frames]
    bars = dataset.panel
    instruments = cls({**fixed, **grid.grid.iloc[0].to_dict()}, symbols=symbols).instruments()
    objective = parse_objective(p.objective)
    folds = walk_forward_folds(
        bars.index, scheme=p.scheme, in_sample=p.in_sample, out_of_sample=p.out_of_sample, partial_last=p.partial_last
    )
    warmup = grid_warmup(p.strategy, grid.grid, fixed, symbols)
    pbo_combos = pbo_sample(grid.grid, p.pbo_max_trials)
    tasks = build_tasks(p, folds=folds, combos=grid.grid, fixed=fixed, symbols=symbols, warmup=warmup,
                        n_bars=len(bars), pbo_combos=pbo_combos)
    own = executor is None
    ex = executor or make_executor(p.executor, scheduler_address=p.scheduler_address, n_workers=p.n_workers)
    try:
        results = run_tasks(tasks, bars, ex, n_folds=len(folds), progress=progress)
    finally:
        if own:
            ex.close()
    constraints = p.constraints.as_dict()
    trials, chosen = assemble_trials(results, grid.grid, objective, constraints)
    full = [r for r in results if r.key == 0]
    full_returns = np.concatenate([r.returns for r in sorted(full, key=lambda r: r.chunk)]) if full else None
    del results

    chosen_params = [
        None if (combo := chosen[f.number]) is None else {**fixed, **combination(grid.grid, combo)} for f in folds
    ]
    oos, oos_fold = stitch_oos(bars, folds, chosen_params, strategy=p.strategy, symbols=symbols,
                               instruments=instruments, warmup=warmup, p=p)
    oos_metrics = compute_metrics(oos, risk_free_rate=p.risk_free_rate)
    fold_results = _fold_results(folds, chosen, trials, oos, grid.grid, objective, p.risk_free_rate)

    bench_sym = p.benchmark or p.data.symbols[0]
    bench_close = bars[(bench_sym, "close")].loc[oos.equity.index].dropna()
    bench_eq, bench_metrics = buy_and_hold(bench_close, p.initial_cash, risk_free_rate=p.risk_free_rate)

    oos_returns = daily_returns(oos.equity, oos.initial_cash).to_numpy()
    diag = overfitting(oos_returns, full_returns, oos_span=slice(folds[0].oos_slice.start, folds[-1].oos_slice.stop),
                       n_configurations=grid.n_kept, n_splits=p.pbo_splits, risk_free_rate=p.risk_free_rate)
    rec_combo, rec_note = recommend(fold_results, p.recommend)
    recommended = None
    if rec_combo is not None:
        recommended = cls.parse_params({**fixed, **combination(grid.grid, rec_combo)}).model_dump(mode="json")

    notes = [*dataset.notes, f"Grid: {grid.reading()}."]
    if pbo_combos is not None and len(pbo_combos) < grid.n_kept:
        notes.append(
            f"PBO uses {len(pbo_combos):,} of the {grid.n_kept:,} combinations, evenly spaced in grid order "
            f"(pbo_max_trials), to keep the full-sample return matrix in memory."
        )
    empty = fold_results[fold_results["combination"].isna()]["fold"].tolist()
    if empty:
        notes.append(f"Folds {', '.join(map(str, empty))}: no combination met the constraints; they stay in cash.")
    return WalkForwardReport(
        params=p,
        dataset=dataset,
        grid=grid,
        fixed_params=fixed,
        folds=folds,
        objective=objective,
        warmup=warmup,
        trials=trials,
        fold_results=fold_results,
        oos=oos,
        oos_fold=oos_fold,
        oos_metrics=oos_metrics,
        benchmark_symbol=bench_sym,
        benchmark_equity=bench_eq.reindex(oos.equity.index),
        benchmark_metrics=bench_metrics,
        psr=diag.psr,
        psr_note=diag.psr_note,
        dsr=diag.dsr,
        dsr_note=diag.dsr_note,
        pbo=diag.pbo,
        pbo_note=diag.pbo_note,
        recommended=recommended,
        recommended_note=rec_note,
        executor=ex.name,
        elapsed_s=time.perf_counter() - t0,
        notes=notes,
    )


def _fold_results(
    folds: list[Fold],
    chosen: dict[int, int | None],
    trials: pd.DataFrame,
    oos: BacktestResult,
    grid: pd.DataFrame,
    objective: Objective,
    risk_free_rate: float,
) -> pd.DataFrame:
    """One row per fold: windows, choice, every IS metric of the choice and its OOS metrics."""
    windows = folds_table(folds).reset_index()
    rows = []
    pos = 0
    for f in folds:
        row: dict[str, Any] = {}
        combo = chosen[f.number]
        ft = trials[trials["fold"] == f.number]
        row["n_valid"] = int(ft["valid"].sum())
        row["combination"] = combo
        for name in grid.columns:
            row[name] = grid.loc[combo, name] if combo is not None else None
        if combo is not None:
            is_row = ft[ft["combination"] == combo].iloc[0]
            row["is_objective"] = float(is_row["objective"])
            row.update({f"is_{m}": is_row[m] for m in METRICS})
        else:
            row["is_objective"] = np.nan
            row.update({f"is_{m}": np.nan for m in METRICS})
        piece = slice_result(oos, pos, pos + f.n_out_of_sample)
        om = compute_metrics(piece, risk_free_rate=risk_free_rate)
        om = {k: (np.nan if v is None else v) for k, v in om.items()}
        row["oos_objective"] = float(objective({k: np.array([om[k]], dtype=float) for k in METRICS})[0])
        row.update({f"oos_{m}": om[m] for m in METRICS})
        row["oos_start_equity"] = piece.initial_cash
        pos += f.n_out_of_sample
        rows.append(row)
    out = pd.concat([windows, pd.DataFrame(rows)], axis=1)
    out["combination"] = out["combination"].astype("Int64")
    return out
