"""One backtest, start to finish: what ``notebooks/backtest.ipynb`` calls.

Keeping the whole job here (not in the notebook) means it is tested like any other
code and the notebook only lays out the report.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from toolkit.backtest.engine import BacktestResult, run_backtest
from toolkit.backtest.metrics import buy_and_hold, compute_metrics, monthly_returns
from toolkit.data.dataset import Dataset, load_dataset
from toolkit.params import repo_root
from toolkit.params.backtest import BacktestParams
from toolkit.strategies import Decisions, Strategy, registry


@dataclass
class BacktestReport:
    """Everything the report shows and the archive stores."""

    params: BacktestParams
    dataset: Dataset
    strategy: Strategy[Any]
    decisions: Decisions
    result: BacktestResult
    metrics: dict
    benchmark_symbol: str
    benchmark_equity: pd.Series
    benchmark_metrics: dict
    notes: list[str] = field(default_factory=list)

    @property
    def monthly_returns(self) -> pd.DataFrame:
        return monthly_returns(self.result.equity, self.result.initial_cash)

    def summary_line(self) -> str:
        """A short, stable summary (nbval compares it on the default params)."""
        m = self.metrics
        return (
            f"{self.params.strategy} on {', '.join(self.dataset.symbols)}: {len(self.result.equity)} bars, "
            f"{m['n_trades']} trades, total return {m['total_return']:.2%}, max drawdown {m['max_drawdown']:.2%}"
        )

    def decisions_table(self) -> pd.DataFrame:
        """One row per bar: timestamp, every instrument's target weight, every context field."""
        t = self.decisions.to_frame()
        t.index.name = "timestamp"
        return t

    def write(self, output_dir: str | Path) -> list[Path]:
        """Write metrics.json, trades.csv, orders.csv, equity.csv and decisions.csv."""
        out = Path(output_dir)
        out.mkdir(parents=True, exist_ok=True)
        files = []
        metrics = {**self.metrics, "benchmark": {"symbol": self.benchmark_symbol, **self.benchmark_metrics}}
        (out / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True))
        files.append(out / "metrics.json")
        self.result.trades.to_csv(out / "trades.csv", index=False)
        self.result.orders.to_csv(out / "orders.csv", index=False)
        eq = pd.concat(
            [self.result.equity, self.result.cash, self.benchmark_equity.rename("benchmark")], axis=1
        )
        eq.index.name = "timestamp"
        eq.to_csv(out / "equity.csv")
        self.decisions_table().to_csv(out / "decisions.csv")
        info = {"data_fingerprint": self.dataset.fingerprint, "data_notes": self.notes, "proxies": self.dataset.proxies}
        (out / "run_info.json").write_text(json.dumps(info, indent=2))
        files += [out / n for n in ("trades.csv", "orders.csv", "equity.csv", "decisions.csv")]
        return files


def run_backtest_job(params: BacktestParams, *, base_dir: Path | None = None) -> BacktestReport:
    """Load data, decide with the vectorised strategy path, simulate, measure."""
    base = base_dir or repo_root()
    cls = registry.get(params.strategy)
    probe = cls(params.strategy_params, symbols=params.data.symbols)
    dataset = load_dataset(params.data, base_dir=base, optional=probe.optional_symbols())
    strategy = cls(params.strategy_params, symbols=[s for s in params.data.symbols if s in dataset.frames])
    decisions = strategy.decisions(dataset.panel)
    result = run_backtest(
        dataset.panel,
        decisions.order_weights(),
        initial_cash=params.initial_cash,
        fees_bps=params.fees_bps,
        slippage_bps=params.slippage_bps,
        fill=params.fill,
        whole_shares=params.whole_shares,
    )
    metrics = compute_metrics(result, risk_free_rate=params.risk_free_rate)
    bench_sym = params.benchmark or params.data.symbols[0]
    bench_close = dataset.panel[(bench_sym, "close")].dropna()
    bench_eq, bench_metrics = buy_and_hold(bench_close, params.initial_cash, risk_free_rate=params.risk_free_rate)
    return BacktestReport(
        params=params,
        dataset=dataset,
        strategy=strategy,
        decisions=decisions,
        result=result,
        metrics=metrics,
        benchmark_symbol=bench_sym,
        benchmark_equity=bench_eq.reindex(result.equity.index),
        benchmark_metrics=bench_metrics,
        notes=list(dataset.notes),
    )
