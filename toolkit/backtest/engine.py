"""The backtest engine: target-weight orders simulated by vectorbt.

Orders are ``targetpercent`` orders in one cash-sharing portfolio (sells before
buys on each bar), priced at the signal bar's close (``fill: close``) or at the
next bar's open (``fill: next_open``), with fees and slippage in basis points.
vectorbt runs on its Rust engine (no numba compilation in a fresh papermill
kernel); results equal the numba engine to 1e-15 (vectorbt's own claim, checked in
our tests on the crossover example).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

Fill = Literal["close", "next_open"]


@dataclass
class BacktestResult:
    """What a backtest produced; every table is indexed by UTC timestamps."""

    equity: pd.Series
    cash: pd.Series
    positions: pd.DataFrame  # shares per instrument
    holdings_value: pd.DataFrame  # position value per instrument
    orders: pd.DataFrame  # timestamp, symbol, side, size, price, fees, value
    trades: pd.DataFrame  # round trips per instrument, flat to flat (see _trades_table)
    initial_cash: float
    portfolio: object  # the vectorbt Portfolio, for users who want its analytics

    @property
    def returns(self) -> pd.Series:
        return self.equity.pct_change().fillna(self.equity.iloc[0] / self.initial_cash - 1.0)

    @property
    def gross_exposure(self) -> pd.Series:
        """Gross position value as a fraction of equity, per bar."""
        return self.holdings_value.abs().sum(axis=1) / self.equity

    def _repr_html_(self) -> str:  # pragma: no cover - display only
        return (
            f"<b>BacktestResult</b>: {len(self.equity)} bars, {len(self.orders)} orders, "
            f"{len(self.trades)} trades, final equity {self.equity.iloc[-1]:,.2f}"
        )


def _vbt():
    """Import vectorbt lazily (it costs seconds) and use its Rust engine."""
    import vectorbt as vbt

    return vbt


def run_backtest(
    bars: pd.DataFrame,
    order_weights: pd.DataFrame,
    *,
    initial_cash: float = 100_000.0,
    fees_bps: float = 0.0,
    slippage_bps: float = 0.0,
    fill: Fill = "close",
    whole_shares: bool = False,
) -> BacktestResult:
    """Simulate target-weight orders.

    ``bars``: panel with (symbol, field) columns. ``order_weights``: one column per
    traded instrument, the target fraction of equity on bars where orders go out
    and NaN where nothing is ordered. With ``fill="next_open"`` the order decided on
    bar t executes at the open of bar t+1 (an order on the last bar is dropped).
    """
    if fill not in ("close", "next_open"):
        raise ValueError(f"fill: got {fill!r}; allowed: close, next_open")
    order_weights = _drop_absent_instruments(bars, order_weights)
    vbt = _vbt()
    symbols = list(order_weights.columns)
    close = bars.loc[:, [(s, "close") for s in symbols]].droplevel(1, axis=1).astype(float)
    size = order_weights.reindex(index=bars.index, columns=symbols).astype(float)
    # An instrument cannot be traded on a bar where it has no price (not listed yet).
    size = size.where(close.notna())
    if fill == "close":
        price = close
    else:
        opens = bars.loc[:, [(s, "open") for s in symbols]].droplevel(1, axis=1).astype(float)
        size = size.shift(1)
        price = opens
        size = size.where(opens.notna())
    # Valuation needs a price on every bar: carry the last price forward and before the
    # first bar use the first price (the position is zero there by construction).
    val_close = close.ffill().bfill()
    price = price.fillna(val_close)
    pf = vbt.Portfolio.from_orders(
        val_close,
        size,
        size_type="targetpercent",
        direction="longonly",
        price=price,
        fees=fees_bps / 1e4,
        slippage=slippage_bps / 1e4,
        init_cash=float(initial_cash),
        cash_sharing=True,
        group_by=True,
        call_seq="auto",
        size_granularity=1.0 if whole_shares else None,
        freq="1D",
        engine="rust",
    )
    equity = pf.value().rename("equity")
    cash = pf.cash().rename("cash")
    positions = pf.assets()
    holdings = pf.asset_value(group_by=False)
    return BacktestResult(
        equity=equity,
        cash=cash,
        positions=positions,
        holdings_value=holdings,
        orders=_orders_table(pf, symbols, bars.index),
        trades=_trades_table(pf, symbols, bars.index),
        initial_cash=float(initial_cash),
        portfolio=pf,
    )


def _drop_absent_instruments(bars: pd.DataFrame, order_weights: pd.DataFrame) -> pd.DataFrame:
    """Leave out instruments the data lacks (a switched-off bond leg), if never targeted.

    A non-zero target on an instrument without prices is a data problem, not
    something to paper over: it raises a DataError naming the instrument and bar.
    """
    from toolkit.errors import DataError

    present = set(bars.columns.get_level_values(0))
    missing = [s for s in order_weights.columns if s not in present]
    for sym in missing:
        col = order_weights[sym].fillna(0.0)
        if (col != 0).any():
            first = col.index[(col != 0).to_numpy()][0]
            raise DataError(sym, first, "a targeted instrument needs prices", "not in the data")
    return order_weights.drop(columns=missing)


def _orders_table(pf, symbols: list[str], index: pd.Index) -> pd.DataFrame:
    rec = pf.orders.values
    out = pd.DataFrame(
        {
            "timestamp": index[rec["idx"]],
            "symbol": np.asarray(symbols, dtype=object)[rec["col"]],
            "side": np.where(rec["side"] == 0, "buy", "sell"),
            "size": rec["size"],
            "price": rec["price"],
            "fees": rec["fees"],
        }
    )
    out["value"] = out["size"] * out["price"]
    return out.sort_values(["timestamp", "side", "symbol"], kind="stable").reset_index(drop=True)


def _trades_table(pf, symbols: list[str], index: pd.Index) -> pd.DataFrame:
    """Round trips per instrument, from flat back to flat: vectorbt's position records.

    A round trip starts with the order that opens a position from flat and ends with
    the order that brings it back to flat; the trims and top-ups of a rebalance in
    between belong to it (they are not trades of their own). ``size`` is the shares
    bought over the round trip, ``entry_price`` / ``exit_price`` the average prices
    of its buys / sells, ``fees`` all its fees, ``pnl`` sales minus purchases minus
    fees (an open round trip is valued at the last close) and ``return`` the pnl
    over the cost of its buys, ``partial_exits`` the sells that trimmed it without
    closing it (vectorbt records one exit trade per sell, plus one for a position
    still open, each pointing at its round trip by ``parent_id``).
    """
    rec = pf.positions.values
    exits_per_trip = np.bincount(pf.exit_trades.values["parent_id"], minlength=len(rec))
    exit_idx = rec["exit_idx"]
    is_open = rec["status"] == 0
    out = pd.DataFrame(
        {
            "symbol": np.asarray(symbols, dtype=object)[rec["col"]],
            "entry_time": index[rec["entry_idx"]],
            "exit_time": pd.DatetimeIndex(index[exit_idx]).where(~is_open),
            "size": rec["size"],
            "entry_price": rec["entry_price"],
            "exit_price": np.where(is_open, np.nan, rec["exit_price"]),
            "fees": rec["entry_fees"] + rec["exit_fees"],
            "pnl": rec["pnl"],
            "return": rec["return"],
            "status": np.where(is_open, "open", "closed"),
            "partial_exits": exits_per_trip[rec["id"]] - 1,
        }
    )
    return out.sort_values(["entry_time", "symbol"], kind="stable").reset_index(drop=True)
