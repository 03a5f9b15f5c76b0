"""Exposure, leverage, holdings over time and where the return came from, per symbol.

Inputs are what :class:`~toolkit.backtest.engine.BacktestResult` holds: the value of
each holding per bar (``holdings_value``, signed: a short is negative), the equity per
bar, the fills (``orders``: timestamp, symbol, side, size, price, fees) and the
initial cash. Nothing here needs vectorbt.

* weights: holding value / equity, per symbol and bar;
* ``long`` / ``short``: the sum of positive / negative weights; ``gross`` (leverage):
  the sum of absolute weights (``BacktestResult.gross_exposure``); ``net``: the sum of
  weights; ``cash``: 1 - net (the share of equity not in positions, negative when
  borrowing);
* a symbol's **P&L** on a bar: the change in its holding's value plus what its fills
  brought in (sales minus purchases minus fees). Summed over symbols it is the change
  in equity, so nothing is lost between the symbols and the total;
* **contribution to return**: a symbol's cumulative P&L over the initial cash. The
  contributions add up exactly to the total return (final equity / initial cash - 1);
  ``daily_contribution`` (P&L over the previous bar's equity) adds up to each bar's
  return instead.
"""

from __future__ import annotations

import pandas as pd

from toolkit.errors import InvalidInput

__all__ = ["by_symbol", "contribution_to_return", "cumulative_contribution", "daily_contribution", "exposure_over_time",
           "holdings_weights", "symbol_pnl"]


def by_symbol(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with one plain column per symbol.

    The engine's ``holdings_value`` and ``positions`` come from vectorbt with a
    two-level column index (``('SPY', 'SPY')``, the second level named ``symbol``);
    tables and sums per symbol want the symbol alone.
    """
    if not isinstance(frame.columns, pd.MultiIndex):
        return frame
    names = list(frame.columns.names)
    level = names.index("symbol") if "symbol" in names else frame.columns.nlevels - 1
    out = frame.copy()
    out.columns = pd.Index(frame.columns.get_level_values(level), name="symbol")
    return out


def holdings_weights(holdings_value: pd.DataFrame, equity: pd.Series) -> pd.DataFrame:
    """Each holding's value as a fraction of equity, per bar (one column per symbol)."""
    return by_symbol(holdings_value).astype(float).div(equity.astype(float), axis=0)


def exposure_over_time(holdings_value: pd.DataFrame, equity: pd.Series) -> pd.DataFrame:
    """Per bar: ``long``, ``short``, ``gross`` (leverage), ``net`` and ``cash`` as fractions of equity."""
    w = holdings_weights(holdings_value, equity)
    long_ = w.clip(lower=0.0).sum(axis=1)
    short = w.clip(upper=0.0).sum(axis=1)
    net = w.sum(axis=1)
    return pd.DataFrame({"long": long_, "short": short, "gross": w.abs().sum(axis=1), "net": net, "cash": 1.0 - net})


def symbol_pnl(holdings_value: pd.DataFrame, orders: pd.DataFrame) -> pd.DataFrame:
    """P&L per bar and symbol: change in holding value plus the fills' cash flow (sales - purchases - fees).

    The first bar's change is measured from nothing held. Fills of symbols without a
    ``holdings_value`` column are an error (they would be P&L nobody is shown).
    """
    hv = by_symbol(holdings_value).astype(float)
    change = hv.diff()
    change.iloc[0] = hv.iloc[0]
    if len(orders):
        unknown = sorted(set(orders["symbol"]) - set(hv.columns))
        if unknown:
            raise InvalidInput("orders.symbol", unknown, f"symbols of holdings_value {list(hv.columns)}")
        sign = orders["side"].map({"buy": -1.0, "sell": 1.0})
        if sign.isna().any():
            raise InvalidInput("orders.side", sorted(set(orders["side"]) - {"buy", "sell"}), "buy, sell")
        flow = sign * orders["size"].astype(float) * orders["price"].astype(float) - orders["fees"].astype(float)
        cash = (pd.DataFrame({"timestamp": orders["timestamp"], "symbol": orders["symbol"], "flow": flow})
                .groupby(["timestamp", "symbol"])["flow"].sum().unstack("symbol"))
        cash = cash.reindex(index=hv.index, columns=hv.columns).fillna(0.0)
        change = change + cash
    return change


def daily_contribution(pnl: pd.DataFrame, equity: pd.Series, initial_cash: float) -> pd.DataFrame:
    """Each symbol's P&L over the previous bar's equity (the initial cash on bar 0): rows sum to the bar's return."""
    prev = equity.astype(float).shift(1)
    prev.iloc[0] = initial_cash
    return pnl.div(prev, axis=0)


def cumulative_contribution(pnl: pd.DataFrame, initial_cash: float) -> pd.DataFrame:
    """Each symbol's cumulative P&L over the initial cash, per bar: rows sum to the total return so far."""
    return pnl.cumsum() / float(initial_cash)


def contribution_to_return(pnl: pd.DataFrame, initial_cash: float) -> pd.DataFrame:
    """Per symbol (rows, largest contribution first): ``pnl`` over the run and ``contribution`` (pnl / initial cash).

    The ``contribution`` column adds up to the run's total return.
    """
    total = pnl.sum(axis=0)
    out = pd.DataFrame({"pnl": total, "contribution": total / float(initial_cash)})
    out.index.name = "symbol"
    return out.sort_values("contribution", ascending=False, kind="stable")
