"""The live report's own tables: reconciliation, decision prices, fills with slippage, the account monitor.

``notebooks/live.ipynb`` shows the dry run's sections (:mod:`toolkit.report.session_tables`)
plus these, and :func:`write_live_outputs` archives them: the session's files, then
``reconciliation.csv``, ``decision_prices.csv``, ``fills.csv`` with slippage, and
``account.json`` (figures only: no account number, no credential).
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from toolkit.engine.result import json_safe
from toolkit.model import OrderSide
from toolkit.report.session_tables import FILL_COLUMNS, fills_frame, write_outputs

if TYPE_CHECKING:  # pragma: no cover
    from toolkit.brokers.base import AccountInfo
    from toolkit.engine.live import LiveResult

__all__ = ["account_table", "fills_with_slippage", "write_live_outputs"]


def fills_with_slippage(result: LiveResult) -> pd.DataFrame:
    """Each fill with its broker ids, the decision price and the slippage against it in basis points.

    Slippage is signed so that positive is worse for us: paying more on a buy, receiving
    less on a sell.
    """
    session = result.session
    if session is None or not session.fills:
        return pd.DataFrame(columns=[*FILL_COLUMNS, "broker_order_id", "decision_price", "slippage_bps"])
    fills = fills_frame(session, FILL_COLUMNS)
    orders = {o.client_order_id: o for o in session.orders}
    dec: list[Any] = []
    bid: list[Any] = []
    slip: list[Any] = []
    for _, f in fills.iterrows():
        o = orders.get(f["client_order_id"])
        ref = o.decision_price if o is not None else None
        dec.append(ref)
        bid.append(o.broker_order_id if o is not None else None)
        if ref:
            sign = OrderSide(f["side"]).sign
            slip.append(float(sign * (Decimal(f["price"]) - ref) / ref * 10_000))
        else:
            slip.append(None)
    return fills.assign(broker_order_id=pd.Series(bid, index=fills.index, dtype=object),
                        decision_price=pd.Series(dec, index=fills.index, dtype=object),
                        slippage_bps=pd.Series(slip, index=fills.index, dtype=float))


def account_table(before: AccountInfo | None, after: AccountInfo | None) -> pd.DataFrame:
    """Buying power, cash, equity, day trades, margin and shorting, before and after the session."""
    rows: list[dict[str, Any]] = []
    for label, info in (("before", before), ("after", after)):
        if info is None:
            continue
        rows.append({"when": label, "status": info.status, "equity": info.equity, "cash": info.cash,
                     "buying_power": info.buying_power, "pattern_day_trader": info.pattern_day_trader,
                     "day_trades_5_sessions": info.daytrade_count, "margin_multiplier": info.multiplier,
                     "shorting_enabled": info.shorting_enabled, "trading_blocked": info.trading_blocked})
    return pd.DataFrame(rows)


def write_live_outputs(result: LiveResult, output_dir: str | Path, *, fingerprint: str | None = None) -> list[Path]:
    """The session's files (orders, fills, snapshot, run info) plus the live tables."""
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = write_outputs(result.session, out, fingerprint=fingerprint) if result.session is not None else []
    if result.session is None:  # stopped before the session: still say so in the manifest
        # reconciliation_ok False: stopped because ledger and broker disagree (the runner's alert says so).
        recon_ok = None if result.reconciliation is None else result.reconciliation.ok
        info = {"data_fingerprint": fingerprint, "session": {"status": result.status, "mode": result.mode,
                                                             "stopped": result.stopped, "reconciliation_ok": recon_ok}}
        (out / "run_info.json").write_text(json.dumps(info, indent=2))
        written.append(out / "run_info.json")
    fills_with_slippage(result).to_csv(out / "fills.csv", index=False)
    recon = result.reconciliation.table() if result.reconciliation is not None else pd.DataFrame()
    recon.to_csv(out / "reconciliation.csv", index=False)
    result.quotes_frame().to_csv(out / "decision_prices.csv", index=False)
    account = {"broker": result.broker, "mode": result.mode, "warnings": result.warnings,
               "before": json_safe(account_table(result.account_before, None).to_dict(orient="records")),
               "after": json_safe(account_table(None, result.account_after).to_dict(orient="records"))}
    (out / "account.json").write_text(json.dumps(account, indent=2, default=str))
    return [*written, out / "reconciliation.csv", out / "decision_prices.csv", out / "account.json"]
