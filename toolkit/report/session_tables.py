"""The daily dry run's report: tables of a session and its ledger, and the files a run archives.

``notebooks/daily_dry_run.ipynb`` shows these tables and, when papermill gives it an
``output_dir``, writes :func:`write_outputs` there (the runner folds
``run_info.json`` into the manifest).
"""

from __future__ import annotations

import html
import json
import math
from dataclasses import asdict, fields
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from toolkit.engine.result import SessionResult, json_safe
from toolkit.ledger import FillRecord, OrderRecord
from toolkit.model import OrderSide
from toolkit.report.decision_table import decision_html, format_context_field
from toolkit.report.html_table import Column, format_cell, html_table
from toolkit.report.metric_format import MISSING
from toolkit.report.session_report import format_quantity, link_headers, positions_cash_table

if TYPE_CHECKING:  # pragma: no cover
    from toolkit.params.daily_dry_run import DailyDryRunParams
    from toolkit.strategies.base import Decision

__all__ = ["context_html", "decision_section_html", "fills_frame", "fills_html", "format_context_value",
           "format_time", "guard_audit_html", "ledger_tables", "orders_frame", "orders_html", "portfolio_html",
           "portfolio_table", "prices_frame", "prices_html", "rebalance_outcome", "write_outputs"]

#: Report times are New York's, with the zone written (``2018-04-05 16:00 EDT``): the exchange's clock.
REPORT_TZ = "America/New_York"
#: Audit actions the report's "Guard activations" section lists.
GUARD_ACTIONS = ("guard_block", "guard_halt", "kill_switch_on", "kill_switch_off", "session_stopped")

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
    """Per instrument: target weight, weight before and after the session, quantity before and after.

    Weight before is against the equity before the session, weight after against the
    equity after it, both at the session's prices: the totals of "Positions and cash
    before and after" (:func:`~toolkit.report.session_report.positions_cash_table`), so
    ``value before / total before`` there is the weight before here.
    """
    d = result.decision
    targets = dict(d.target_weights) if d is not None else {}
    before = result.current_positions
    after: dict[str, Decimal] = dict(before)
    for f in result.fills:
        after[f.symbol] = after.get(f.symbol, Decimal(0)) + OrderSide(f.side).sign * f.quantity
    equity = result.snapshot.equity if result.snapshot is not None else None
    equity_before = _equity_before(result)
    rows = []
    for sym in sorted(set(targets) | set(before) | set(after)):
        px = result.prices.get(sym)
        qty0 = before.get(sym, Decimal(0))
        qty1 = after.get(sym, Decimal(0))
        rows.append({
            "symbol": sym,
            "target_weight": targets.get(sym, 0.0),
            "weight_before": float(qty0 * px / equity_before) if px is not None and equity_before else None,
            "weight_after": float(qty1 * px / equity) if px is not None and equity else None,
            "quantity_before": qty0,
            "quantity_after": qty1,
            "price": px,
        })
    return pd.DataFrame(rows, columns=["symbol", "target_weight", "weight_before", "weight_after",
                                       "quantity_before", "quantity_after", "price"])


def _equity_before(result: SessionResult) -> Decimal | None:
    """Cash before plus the holdings before at the session's prices; None without a snapshot or a price."""
    t = positions_cash_table(result)
    if t.empty or "cash" not in set(t["item"]) or any(v is None for v in t["value_before"]):
        return None
    return sum((Decimal(str(v)) for v in t["value_before"]), Decimal(0))


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


# --------------------------------------------------------------------------- formatted (HTML) tables
# The frames above feed the archived CSV files (kept as they are); the report shows
# these: every cell written by its kind through html_table, nothing cut.

def format_time(value: Any) -> str:
    """A timestamp in New York time with its zone (``2018-04-05 16:00 EDT``); a naive one is taken as UTC."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    ts = pd.Timestamp(value)
    if pd.isna(ts):
        return MISSING
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts
    return ts.tz_convert(REPORT_TZ).strftime("%Y-%m-%d %H:%M %Z")


def format_context_value(value: Any) -> str:
    """One decision-context value as written: whole numbers with separators, fractions to 4 significant digits,
    large figures to 2 decimals, a flag as yes/no, anything else as its text."""
    if value is None:
        return MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        x = float(value)
        if math.isnan(x):
            return MISSING
        if x == int(x) and abs(x) < 1e15:
            return f"{int(x):,}"
        return f"{x:,.2f}" if abs(x) >= 100 else f"{x:.4g}"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {format_context_value(v)}" for k, v in value.items()) or MISSING
    if isinstance(value, (list, tuple)):
        return ", ".join(format_context_value(v) for v in value) or MISSING
    text = str(value).strip()
    return text or MISSING


def context_html(context: dict[str, Any]) -> str:
    """The strategy's decision context: one row per indicator, its value as
    :func:`~toolkit.report.decision_table.format_context_field` writes it (weights in percent, indicators at 4
    significant digits with separators, counts whole, flags yes/no)."""
    if not context:
        return "<p>The strategy recorded no indicator with this decision.</p>"
    t = pd.DataFrame({"name": list(context), "value": [format_context_field(k, v) for k, v in context.items()]})
    return html_table(t, [Column("name", "indicator"), Column("value", "value")])


def decision_section_html(decision: Decision | None, result: SessionResult | None = None) -> str:
    """The session's decision: the bar it was made on, its target weights (percent), whether orders go out, its context.

    One table (:func:`~toolkit.report.decision_table.decision_html`), so the dry-run and
    live reports write a decision as the backtest's decisions table does. With the
    session's ``result`` the rebalance line says what came of it (``yes (1 order sent)``,
    ``yes (no order needed)``), so "rebalance: yes" never sits beside "0 sent" unexplained.
    """
    if decision is None:
        return "<p>No decision this time (see the status above).</p>"
    outcome = None
    if result is not None:
        outcome = rebalance_outcome(len(result.orders), len(result.blocked), len(result.skipped))
    return (f"<p>Decision on the bar of {html.escape(format_cell(decision.timestamp, 'date'))}.</p>"
            + decision_html(decision, outcome=outcome))


def rebalance_outcome(sent: int, blocked: int = 0, skipped: int = 0) -> str:
    """What a rebalance led to, for the decision table: ``1 order sent``, ``no order needed``, ``2 blocked by a guard``.

    A rebalance bar re-targets the weights; when the holdings already match the targets
    to a whole share nothing needs sending, which is not a failure.
    """
    parts = []
    if sent:
        parts.append(f"{sent:,} order{'' if sent == 1 else 's'} sent")
    if blocked:
        parts.append(f"{blocked:,} blocked by a guard")
    if skipped:
        parts.append(f"{skipped:,} skipped (too small to trade)")
    return ", ".join(parts) if parts else "no order needed: the holdings already match the targets"


def _quantities(frame: pd.DataFrame, *keys: str) -> pd.DataFrame:
    return frame.assign(**{k: [format_quantity(q) for q in frame[k]] for k in keys})


def portfolio_html(result: SessionResult) -> str:
    """:func:`portfolio_table`: weights in percent, quantities as written, prices as money; headers linked."""
    t = portfolio_table(result)
    if t.empty:
        return "<p>No target and no position.</p>"
    t = _quantities(t, "quantity_before", "quantity_after")
    out = html_table(t, [
        Column("symbol", "symbol"), Column("target_weight", "target weight", "percent"),
        Column("weight_before", "weight before", "percent"), Column("weight_after", "weight after", "percent"),
        Column("quantity_before", "quantity before"), Column("quantity_after", "quantity after"),
        Column("price", "price", "money")])
    return link_headers(out, {"target weight": "session.weight", "weight before": "session.weight",
                              "weight after": "session.weight"})


def prices_html(result: SessionResult) -> str:
    """:func:`prices_frame`: price as money, the time in New York with its zone, the full source."""
    rows = []
    for sym, px in result.prices.items():
        origin = result.price_sources.get(sym)
        rows.append({"symbol": sym, "price": px, "at": format_time(None if origin is None else origin.at),
                     "source": MISSING if origin is None else origin.source})
    if not rows:
        return "<p>No price this session.</p>"
    return html_table(pd.DataFrame(rows), [Column("symbol", "symbol"), Column("price", "price", "money"),
                                           Column("at", "at (New York)"), Column("source", "source")])


def orders_html(result: SessionResult, *, broker_ids: bool = False) -> str:
    """The session's orders: ids and reasons in full, quantities as written, the decision price as money."""
    t = orders_frame(result)
    if t.empty:
        return "<p>No orders this session.</p>"
    t = _quantities(t, "quantity", "filled_quantity")
    cols = [Column("client_order_id", "client order id")]
    if broker_ids:
        cols.append(Column("broker_order_id", "broker order id"))
    cols += [Column("symbol", "symbol"), Column("side", "side"), Column("quantity", "quantity"),
             Column("status", "status"), Column("decision_price", "decision price", "money"),
             Column("filled_quantity", "filled"), Column("mode", "mode")]
    if not broker_ids:
        cols.append(Column("reason", "reason"))
    return html_table(t, cols)


def fills_html(result: SessionResult) -> str:
    """The session's fills: ids in full, quantities as written, price and fees as money, time in New York."""
    t = fills_frame(result)
    if t.empty:
        return "<p>No fills this session.</p>"
    t = _quantities(t, "quantity").assign(at=[format_time(a) for a in t["at"]])
    out = html_table(t, [Column("fill_id", "fill id"), Column("symbol", "symbol"), Column("side", "side"),
                         Column("quantity", "quantity"), Column("price", "price", "money"),
                         Column("fees", "fees", "money"), Column("mode", "mode"), Column("at", "at (New York)")])
    return link_headers(out, {"fees": "session.fees"})


def guard_audit_html(audit: pd.DataFrame, n: int = 10) -> str:
    """The audit log's last ``n`` guard and kill-switch entries; one line saying none when there is none."""
    rows = audit[audit["action"].isin(GUARD_ACTIONS)].tail(n) if len(audit) else audit
    if rows.empty:
        return "<p>Guard audit log: none (no guard block, halt, kill switch or stop recorded).</p>"
    cols = [c for c in rows.columns if c not in ("id",)]
    t = rows[cols].copy()
    for c in cols:
        if pd.api.types.is_datetime64_any_dtype(t[c]) or c in ("at", "created_at", "timestamp"):
            t[c] = [format_time(v) for v in t[c]]
        else:
            t[c] = [format_context_value(v) for v in t[c]]
    return html_table(t, [Column(c, c.replace("_", " ")) for c in cols])
