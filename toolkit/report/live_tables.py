"""The live report's own tables: reconciliation, decision prices, fills with slippage, the account monitor.

``notebooks/live.ipynb`` shows the dry run's sections (:mod:`toolkit.report.session_tables`)
plus these, and :func:`write_live_outputs` archives them: the session's files, then
``reconciliation.csv``, ``decision_prices.csv``, ``fills.csv`` with slippage, and
``account.json`` (figures only: no account number, no credential).
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from toolkit.engine.result import json_safe
from toolkit.model import OrderSide
from toolkit.report.html_table import Column, format_cell, html_table
from toolkit.report.metric_format import MISSING
from toolkit.report.session_report import format_quantity, link_headers, session_anchor
from toolkit.report.session_tables import FILL_COLUMNS, fills_frame, format_time, write_outputs

if TYPE_CHECKING:  # pragma: no cover
    from toolkit.brokers.base import AccountInfo
    from toolkit.engine.broker_reconcile import Reconciliation
    from toolkit.engine.live import LiveResult

__all__ = ["account_html", "account_table", "fills_slippage_html", "fills_with_slippage", "quotes_html",
           "reconciliation_html", "write_live_outputs"]


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


# --------------------------------------------------------------------------- formatted (HTML) tables

def fills_slippage_html(result: LiveResult) -> str:
    """:func:`fills_with_slippage` for the report: ids in full, money, slippage in bps (linked), time in New York."""
    t = fills_with_slippage(result)
    if t.empty:
        return "<p>No fills this session.</p>"
    t = t.assign(quantity=[format_quantity(q) for q in t["quantity"]], at=[format_time(a) for a in t["at"]])
    out = html_table(t, [
        Column("fill_id", "fill id"), Column("broker_order_id", "broker order id"), Column("symbol", "symbol"),
        Column("side", "side"), Column("quantity", "quantity"), Column("price", "price", "money"),
        Column("decision_price", "decision price", "money"), Column("slippage_bps", "slippage (bps)", "ratio"),
        Column("fees", "fees", "money"), Column("at", "at (New York)")])
    return link_headers(out, {"slippage (bps)": "session.slippage_bps", "fees": "session.fees"})


def _recon_value(kind: str, key: str, value: Decimal | None) -> str:
    if value is None:
        return MISSING
    return format_cell(float(value), "money") if kind == "cash" or key == "cash" else format_quantity(value)


def reconciliation_html(recon: Reconciliation) -> str:
    """Ledger against broker, one row per position, cash and open order: cash as money, quantities as written."""
    if not recon.rows:
        return "<p>Nothing to reconcile: no position, cash row or open order on either side.</p>"
    t = pd.DataFrame([{"kind": r.kind, "key": r.key, "ledger": _recon_value(r.kind, r.key, r.ledger),
                       "broker": _recon_value(r.kind, r.key, r.broker),
                       "difference": _recon_value(r.kind, r.key, r.difference), "status": r.status}
                      for r in recon.rows])
    return html_table(t, [Column("kind", "kind"), Column("key", "symbol / item"), Column("ledger", "ledger"),
                          Column("broker", "broker"), Column("difference", "difference"), Column("status", "status")])


def quotes_html(result: LiveResult) -> str:
    """The decision prices: price as money, the quote's time in New York with its zone, the full source."""
    t = result.quotes_frame()
    if t.empty:
        return "<p>No decision price this session.</p>"
    t = t.assign(timestamp=[format_time(v) for v in t["timestamp"]])
    return html_table(t, [Column("symbol", "symbol"), Column("price", "price", "money"),
                          Column("timestamp", "at (New York)"), Column("source", "source")])


def _yes_no(v: Any) -> str:
    return MISSING if v is None else ("yes" if v else "no")


def account_html(before: AccountInfo | None, after: AccountInfo | None) -> str:
    """:func:`account_table` as one row per figure, before and after side by side (money, counts, yes/no)."""
    infos = [(label, info) for label, info in (("before", before), ("after", after)) if info is not None]
    if not infos:
        return "<p>No account figures from the broker this time.</p>"

    def row(label: str, get: Any, kind: str) -> dict[str, str]:
        out = {"figure": label}
        for when, info in infos:
            v = get(info)
            out[when] = (_yes_no(v) if kind == "flag" else MISSING if v is None
                         else str(v) if kind == "text" else format_cell(float(v), kind))  # type: ignore[arg-type]
        return out

    t = pd.DataFrame([
        row("status", lambda i: i.status, "text"), row("equity", lambda i: i.equity, "money"),
        row("cash", lambda i: i.cash, "money"), row("buying power", lambda i: i.buying_power, "money"),
        row("pattern day trader", lambda i: i.pattern_day_trader, "flag"),
        row("day trades (last 5 sessions)", lambda i: i.daytrade_count, "count"),
        row("margin multiplier", lambda i: i.multiplier, "ratio"),
        row("shorting enabled", lambda i: i.shorting_enabled, "flag"),
        row("trading blocked", lambda i: i.trading_blocked, "flag"),
    ])
    out = html_table(t, [Column("figure", "figure"), *[Column(w, w) for w, _ in infos]])
    return re.sub(r'(<td(?: class="[^"]*")?>)equity</td>',
                  lambda m: f'{m.group(1)}<a href="#{session_anchor("session.equity")}">equity</a></td>', out, count=1)
