"""The backtest engine: target-weight orders simulated by vectorbt.

Orders go to one cash-sharing portfolio (sells before buys on each bar), priced at
the signal bar's close (``fill: close``) or at the next bar's open (``fill:
next_open``), with fees and slippage in basis points (and a fixed fee per order).
How many units an order trades:

* in whole shares (``whole_shares``) or lot steps (``instruments``), by the model's
  one sizing rule (:func:`toolkit.model.size_orders`, the rule the daily path's
  translator follows): the quantities are computed here (:mod:`toolkit.backtest.lots`)
  and vectorbt receives them as explicit amounts, so a replay trades the same fills;
* in continuous units (the research default), by vectorbt's ``targetpercent``, the
  same rule without lots (target ``weight x equity / price``, sells first, the last
  and largest buy capped by cash) except that vectorbt values each later order after
  the costs of the earlier ones of the bar; the vectorised walk-forward grid
  simulates exactly this too.

vectorbt runs on its Rust engine (no numba compilation in a fresh papermill
kernel); results equal the numba engine to 1e-15 (vectorbt's own claim, checked in
our tests on the crossover example).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from toolkit.model import CostModel, Instrument, to_decimal

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
    instruments: Mapping[str, Instrument] | None = None,
    fixed_fee: float = 0.0,
    min_order_fraction: float = 0.0,
) -> BacktestResult:
    """Simulate target-weight orders.

    ``bars``: panel with (symbol, field) columns. ``order_weights``: one column per
    traded instrument, the target fraction of equity on bars where orders go out
    and NaN where nothing is ordered. With ``fill="next_open"`` the order decided on
    bar t executes at the open of bar t+1 (an order on the last bar is dropped).
    ``whole_shares`` or ``instruments`` (lot steps and minimum notionals; symbols not
    listed trade whole shares) size orders by the model's rule, as does
    ``min_order_fraction`` (orders under that fraction of equity are skipped, which
    needs lots too).
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
    stepped = whole_shares or bool(instruments)
    if min_order_fraction and not stepped:
        raise ValueError("min_order_fraction needs whole_shares or instruments (the model's sizing rule)")
    if stepped:
        from toolkit.backtest.lots import ledger_prices, stepped_amounts

        costs = CostModel(slippage_bps=to_decimal(float(slippage_bps), "slippage_bps"),
                          fee_bps=to_decimal(float(fees_bps), "fees_bps"),
                          fixed_fee=to_decimal(float(fixed_fee), "fixed_fee"))
        # Prices at the ledger's 6 places, as the daily path trades and books them.
        price = pd.DataFrame(ledger_prices(price.to_numpy(dtype=float)), index=price.index, columns=price.columns)
        amounts, exits = stepped_amounts(size.to_numpy(), price.to_numpy(dtype=float), symbols,
                                         initial_cash=initial_cash, costs=costs,
                                         instruments=dict(instruments or {}), min_order_fraction=min_order_fraction)
        sized = pd.DataFrame(amounts, index=size.index, columns=size.columns)
        # A full exit sells vectorbt's whole position (its float sum of lots, no dust left).
        size = sized.mask(exits, -np.inf)
    pf = vbt.Portfolio.from_orders(
        val_close,
        size,
        size_type="amount" if stepped else "targetpercent",
        direction="longonly",
        price=price,
        fees=fees_bps / 1e4,
        fixed_fees=float(fixed_fee),
        slippage=slippage_bps / 1e4,
        init_cash=float(initial_cash),
        cash_sharing=True,
        group_by=True,
        call_seq="auto",
        freq="1D",
        engine="rust",
    )
    if stepped:
        _check_booked(pf, sized, symbols)
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


def _check_booked(pf, amounts: pd.DataFrame, symbols: list[str]) -> None:
    """vectorbt must book the sized amounts (it must not cut or drop an order on its own).

    Whole shares are exact in float; lot steps agree to float rounding of vectorbt's
    position sums (a full exit sells the position vectorbt holds).
    """
    rec = pf.orders.values
    booked = np.full(amounts.shape, np.nan)
    booked[rec["idx"], rec["col"]] = np.where(rec["side"] == 0, rec["size"], -rec["size"])
    want = amounts.to_numpy()
    same = (np.isnan(want) & np.isnan(booked)) | np.isclose(want, booked, rtol=1e-9, atol=0.0)
    if not same.all():
        i, j = np.argwhere(~same)[0]
        raise RuntimeError(f"vectorbt booked {booked[i, j]} {symbols[j]} on {amounts.index[i]} instead of the "
                           f"sized {want[i, j]}: the simulation's cash disagrees with the sizing rule")


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
