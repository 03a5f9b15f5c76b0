"""The daily dry run's report: tables of a session and its ledger, and the files a run archives.

``notebooks/daily_dry_run.ipynb`` shows these tables and, when papermill gives it an
``output_dir``, writes :func:`write_outputs` there (the runner folds
``run_info.json`` into the manifest).
"""

from __future__ import annotations

import json
from dataclasses import asdict, fields
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from toolkit.engine.result import SessionResult, json_safe
from toolkit.ledger import FillRecord, OrderRecord
from toolkit.model import OrderSide

if TYPE_CHECKING:  # pragma: no cover
    from toolkit.params.daily_dry_run import DailyDryRunParams

__all__ = ["fills_frame", "ledger_tables", "orders_frame", "portfolio_table", "prices_frame", "write_outputs"]

ORDER_COLUMNS = ["client_order_id", "symbol", "side", "quantity", "status", "decision_price", "filled_quantity",
                 "broker_order_id", "mode", "reason", "created_at"]
FILL_COLUMNS = ["fill_id", "client_order_id", "symbol", "side", "quantity", "price", "fees", "mode", "at"]


def orders_frame(result: SessionResult, columns: list[str] | None = None) -> pd.DataFrame:
    """The session's orders, one row each (every field of the ledger's record unless ``columns`` says)."""
    cols = columns or [f.name for f in fields(OrderRecord)]
    return pd.DataFrame([asdict(o) for o in result.orders], columns=cols)


def fills_frame(result: SessionResult, columns: list[str] | None = None) -> pd.DataFrame:
    """The session's fills, one row each (every field of the ledger's record unless ``columns`` says)."""
    cols = columns or [f.name for f in fields(FillRecord)]
    return pd.DataFrame([asdict(f) for f in result.fills], columns=cols)


def ledger_tables(params: DailyDryRunParams) -> dict[str, pd.DataFrame]:
    """Snapshots (the equity curve) and the audit log of the params' ledger, for the report."""
    from toolkit.ledger import open_ledger

    with open_ledger(params.db_url) as ledger:
        return {
            "snapshots": ledger.snapshots(account=params.account, mode=params.mode, strategy=params.strategy),
            "audit": ledger.audit_log(200),
        }


def portfolio_table(result: SessionResult) -> pd.DataFrame:
    """Per instrument: target weight, weight before the session, quantity before and after."""
    d = result.decision
    targets = dict(d.target_weights) if d is not None else {}
    before = result.current_positions
    after: dict[str, Decimal] = dict(before)
    for f in result.fills:
        after[f.symbol] = after.get(f.symbol, Decimal(0)) + OrderSide(f.side).sign * f.quantity
    equity = result.snapshot.equity if result.snapshot is not None else None
    rows = []
    for sym in sorted(set(targets) | set(before) | set(after)):
        px = result.prices.get(sym)
        qty0 = before.get(sym, Decimal(0))
        qty1 = after.get(sym, Decimal(0))
        rows.append({
            "symbol": sym,
            "target_weight": targets.get(sym, 0.0),
            "weight_before": float(qty0 * px / equity) if px is not None and equity else None,
            "weight_after": float(qty1 * px / equity) if px is not None and equity else None,
            "quantity_before": qty0,
            "quantity_after": qty1,
            "price": px,
        })
    return pd.DataFrame(rows, columns=["symbol", "target_weight", "weight_before", "weight_after",
                                       "quantity_before", "quantity_after", "price"])


def prices_frame(result: SessionResult) -> pd.DataFrame:
    """Per symbol: the execution price, when it was made (New York time) and where it came from.

    A session at ``5min_before_close`` priced by minute bars shows ``minute bar 15:55
    America/New_York from .../SPY.csv``; one without minute bars ``daily close
    <date>`` (and :attr:`SessionResult.price_basis` says why).
    """
    rows = []
    for sym, px in result.prices.items():
        origin = result.price_sources.get(sym)
        at = None if origin is None or origin.at is None else origin.at.tz_convert("America/New_York")
        rows.append({"symbol": sym, "price": px, "at_new_york": None if at is None else at.strftime("%Y-%m-%d %H:%M"),
                     "source": None if origin is None else origin.source})
    return pd.DataFrame(rows, columns=["symbol", "price", "at_new_york", "source"])


def write_outputs(result: SessionResult, output_dir: str | Path, *, fingerprint: str | None = None) -> list[Path]:
    """orders.csv, fills.csv, snapshot.json and run_info.json (the runner folds it into the manifest)."""
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    orders_frame(result, ORDER_COLUMNS).to_csv(out / "orders.csv", index=False)
    fills_frame(result, FILL_COLUMNS).to_csv(out / "fills.csv", index=False)
    snap = result.snapshot
    body = {
        **json_safe(result.summary()),
        "snapshot": None if snap is None else {
            "session_date": snap.session_date.isoformat(), "equity": str(snap.equity), "cash": str(snap.cash),
            "daily_return": snap.daily_return, "cumulative_return": snap.cumulative_return,
            "drawdown": snap.drawdown, "strategy_cell": snap.strategy_cell, "mode": snap.context.get("mode")
            if isinstance(snap.context, dict) else result.mode,
        },
        "context": None if result.decision is None else json_safe(result.decision.context),
    }
    (out / "snapshot.json").write_text(json.dumps(body, indent=2, sort_keys=True))
    info = {"data_fingerprint": fingerprint, "session": {"run_key": result.run_key, "status": result.status,
                                                         "mode": result.mode, "blocked": list(result.blocked)}}
    (out / "run_info.json").write_text(json.dumps(info, indent=2))
    return [out / n for n in ("orders.csv", "fills.csv", "snapshot.json", "run_info.json")]
