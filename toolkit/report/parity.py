"""Replay vs backtest parity: the daily path must trade what was backtested.

The backtest is re-run over the replay's sessions with the dry run's strategy,
parameters, cost model (fixed fee included), instruments (lot steps, minimum
notionals) and minimum order fraction, sizing in whole shares or lots by the same
rule as the translator (:func:`toolkit.model.size_orders`); the first session of the window
trades to the strategy's targets in both (the dry run's "first session of an
account" rule), in :func:`backtest_sessions`. :func:`compare_with_backtest` lines up
the two trade lists and the two equity curves, which is what the parity test asserts
and ``toolkit replay`` prints as its parity section; ``toolkit parity``
(:mod:`toolkit.report.account_parity`) runs the same backtest against an account's
recorded sessions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:  # pragma: no cover
    from toolkit.backtest.engine import BacktestResult
    from toolkit.params.daily_dry_run import DailyDryRunParams


@dataclass
class ParityReport:
    trades: pd.DataFrame  # replay and backtest trades side by side
    equity: pd.DataFrame  # replay, backtest, difference in basis points
    trades_equal: bool
    max_equity_diff_bps: float

    @property
    def ok(self) -> bool:
        """Trades equal and equity within 1 basis point on every session (the bar ``toolkit replay`` exits on)."""
        return self.trades_equal and self.max_equity_diff_bps < 1

    def summary(self) -> str:
        verdict = "equal" if self.trades_equal else "DIFFERENT"
        return (f"parity with the backtest: trades {verdict} ({len(self.trades)} replay fills), "
                f"equity within {self.max_equity_diff_bps:.4f} bp on every session "
                f"({'ok' if self.max_equity_diff_bps < 1 else 'over the 1 bp bar'})")


@dataclass
class SessionBacktest:
    """The backtest of a run of daily sessions, as :func:`backtest_sessions` made it."""

    result: BacktestResult
    targets: pd.DataFrame  # the strategy's target weights on every bar of the window
    order_weights: pd.DataFrame  # what was sent: targets on rebalance bars (and the first), NaN elsewhere


def backtest_sessions(params: DailyDryRunParams, panel: pd.DataFrame, first: pd.Timestamp, last: pd.Timestamp,
                      *, initial_cash: float | None = None) -> SessionBacktest:
    """Backtest the bars of ``panel`` from ``first`` to ``last`` as the daily sessions trade them.

    The session's strategy, parameters, costs, instruments and minimum order fraction,
    whole shares or lots by the translator's sizing rule, fills at the close; the first
    bar trades to the strategy's targets (the dry run's "first session of an account"
    rule). ``initial_cash`` defaults to the params'. Shared by the replay's parity check
    (:func:`compare_with_backtest`) and the account parity (:mod:`toolkit.report.account_parity`).
    """
    from toolkit.backtest.engine import run_backtest
    from toolkit.strategies import registry

    strat = registry.create(params.strategy, params.strategy_params,
                            symbols=[s for s in params.data.symbols if (s, "close") in panel.columns])
    decisions = strat.decisions(panel)
    weights = decisions.order_weights()
    window = weights.index[(weights.index >= first) & (weights.index <= last)]
    if window.empty:
        raise ValueError(f"no bar from {first.date()} to {last.date()}: nothing to backtest")
    weights = weights.loc[window].copy()
    # The dry run's first session trades to the current targets: do the same here.
    weights.iloc[0] = decisions.weights.loc[window[0]]
    cash = float(params.initial_cash if initial_cash is None else initial_cash)
    bt = run_backtest(panel.loc[window], weights, initial_cash=cash,
                      fees_bps=params.costs.fees_bps, slippage_bps=params.costs.slippage_bps,
                      fixed_fee=params.costs.fixed_fee, fill="close", whole_shares=True,
                      instruments={s: spec.spec() for s, spec in params.instruments.items()},
                      min_order_fraction=params.guards.min_order_fraction)
    return SessionBacktest(bt, decisions.weights.loc[window], weights)


def compare_with_backtest(params, replay_result, panel: pd.DataFrame) -> ParityReport:
    """Backtest the replay's window on ``panel`` and compare trades and equity."""
    eq = replay_result.equity
    if eq.empty:
        raise ValueError("the replay traded no session: nothing to compare")
    bt = backtest_sessions(params, panel, eq.index[0], eq.index[-1]).result
    rt = replay_result.trades
    replay_trades = pd.DataFrame({
        "date": pd.to_datetime(rt["at"]).dt.tz_convert("America/New_York").dt.date.to_numpy(),
        "symbol": rt["symbol"].to_numpy(),
        "side": rt["side"].to_numpy(),
        "size": rt["quantity"].astype(float).to_numpy(),
        "price": rt["price"].astype(float).to_numpy(),
    })
    bo = bt.orders
    bt_trades = pd.DataFrame({
        "date": [t.date() for t in bo["timestamp"]],
        "symbol": bo["symbol"].to_numpy(),
        "side": bo["side"].to_numpy(),
        "size": bo["size"].astype(float).to_numpy(),
        "price": bo["price"].astype(float).to_numpy(),
    })
    key = ["date", "symbol", "side"]
    r = replay_trades.sort_values(key, kind="stable").reset_index(drop=True)
    b = bt_trades.sort_values(key, kind="stable").reset_index(drop=True)
    # Sizes to 1e-9 relative: a lot-step position that vectorbt sums in float (0.1 + 0.2)
    # is closed by selling exactly what it holds; one lot is many orders of magnitude more.
    equal = (len(r) == len(b) and (r[key] == b[key]).all().all()
             and np.allclose(r["size"], b["size"], rtol=1e-9, atol=0.0)
             and np.allclose(r["price"], b["price"], rtol=1e-9, atol=1e-6))
    side_by_side = pd.concat([r.add_prefix("replay_"), b.add_prefix("backtest_")], axis=1)
    ref = bt.equity.reindex(eq.index)
    diff = ((eq / ref - 1) * 1e4).abs()
    table = pd.DataFrame({"replay": eq, "backtest": ref, "diff_bps": diff})
    return ParityReport(side_by_side, table, bool(equal), float(diff.max()))
