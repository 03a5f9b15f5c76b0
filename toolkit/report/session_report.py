"""A dry-run or live session's report: headline, positions and cash before and after, P&L by symbol, history.

Someone opening a session's report first wants to know whether it ran, what it sent
and what it made: :func:`headline_html` says so before any table. Then what the
account held before and after (:func:`positions_cash_table`, cash included, derived
from the fills so it reconciles with the ledger), where the session's P&L came from
(:func:`pnl_attribution`, per symbol: holding the start-of-session position from the
previous close to today's price, plus what each fill made against that price, minus
fees) and the last 30 sessions of equity and drawdown from the ledger's performance
snapshots (:func:`history_figure`).

Time axes of these short histories use whole days (:func:`day_axis`): left to itself,
plotly labels a one-session chart in microseconds.
"""

from __future__ import annotations

import html
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pandas as pd
import plotly.graph_objects as go

from toolkit.model import OrderSide
from toolkit.report.html_table import Column, format_cell, html_table

if TYPE_CHECKING:  # pragma: no cover
    from toolkit.engine.result import SessionResult

__all__ = ["HISTORY_SESSIONS", "day_axis", "headline_html", "history_figure", "history_table", "pnl_attribution",
           "positions_cash_html", "positions_cash_table", "session_pnl"]

#: Sessions of equity history the report shows.
HISTORY_SESSIONS = 30
_DAY_MS = 86_400_000


def day_axis(dates: Any, *, max_ticks: int = 8) -> dict[str, Any]:
    """Layout of a date x-axis over ``dates``: ``%Y-%m-%d`` labels, a tick every whole number of days (at least one).

    Pass it to ``fig.update_xaxes(**day_axis(dates))``. A single date gets a range of
    a day either side, so its one point sits in the middle under its own label.
    """
    d = pd.to_datetime(pd.Series(list(dates))).dropna()
    out: dict[str, Any] = {"type": "date", "tickformat": "%Y-%m-%d"}
    if d.empty:
        out["dtick"] = _DAY_MS
        return out
    first, last = d.min().normalize(), d.max().normalize()
    span_days = int((last - first).days)
    out["dtick"] = _DAY_MS * max(1, -(-span_days // max_ticks))
    out["tick0"] = first.strftime("%Y-%m-%d")
    if span_days == 0:
        out["range"] = [(first - pd.Timedelta(days=1)).strftime("%Y-%m-%d"),
                        (first + pd.Timedelta(days=1)).strftime("%Y-%m-%d")]
    return out


def _after_positions(result: SessionResult) -> dict[str, Decimal]:
    after: dict[str, Decimal] = dict(result.current_positions)
    for f in result.fills:
        after[f.symbol] = after.get(f.symbol, Decimal(0)) + OrderSide(f.side).sign * f.quantity
    return after


def positions_cash_table(result: SessionResult) -> pd.DataFrame:
    """Per symbol, then ``cash``: quantity and value before and after the session, at the session's price.

    Cash after is the snapshot's; cash before adds back what the fills paid (a buy
    costs quantity x price + fees, a sell brings quantity x price - fees). Values are
    at the session's execution prices, before and after alike, so the difference of a
    row is what the fills moved, not the market.
    """
    before = result.current_positions
    after = _after_positions(result)
    rows: list[dict[str, Any]] = []
    for sym in sorted(set(before) | set(after)):
        px = result.prices.get(sym)
        q0, q1 = before.get(sym, Decimal(0)), after.get(sym, Decimal(0))
        rows.append({"item": sym, "quantity_before": q0, "quantity_after": q1, "price": px,
                     "value_before": None if px is None else q0 * px, "value_after": None if px is None else q1 * px})
    if result.snapshot is not None:
        cash_after = Decimal(str(result.snapshot.cash))
        paid = sum((OrderSide(f.side).sign * f.quantity * f.price + f.fees for f in result.fills), Decimal(0))
        rows.append({"item": "cash", "quantity_before": None, "quantity_after": None, "price": None,
                     "value_before": cash_after + paid, "value_after": cash_after})
    return pd.DataFrame(rows, columns=["item", "quantity_before", "quantity_after", "price", "value_before",
                                       "value_after"])


def positions_cash_html(result: SessionResult) -> str:
    """:func:`positions_cash_table` formatted, with a total row."""
    t = positions_cash_table(result)
    if t.empty:
        return "<p>No positions and no snapshot this session.</p>"
    total = {"item": "total", "quantity_before": None, "quantity_after": None, "price": None,
             "value_before": sum((v for v in t["value_before"] if v is not None), Decimal(0)),
             "value_after": sum((v for v in t["value_after"] if v is not None), Decimal(0))}
    t = pd.concat([t, pd.DataFrame([total])], ignore_index=True)
    cols = [Column("item", "symbol / cash"), Column("quantity_before", "quantity before", "number"),
            Column("quantity_after", "quantity after", "number"), Column("price", "price", "money"),
            Column("value_before", "value before", "money"), Column("value_after", "value after", "money")]
    return html_table(t, cols)


def _previous_closes(result: SessionResult) -> dict[str, float]:
    """Each symbol's close on the last bar before the session's date (from the bars the session ran on)."""
    ds = result.dataset
    out: dict[str, float] = {}
    if ds is None:
        return out
    for sym, frame in ds.frames.items():
        idx = pd.DatetimeIndex(frame.index)
        dates = (idx.tz_convert("UTC") if idx.tz is not None else idx).date
        prior = frame["close"][dates < result.session_date].dropna()
        if len(prior):
            out[sym] = float(prior.iloc[-1])
    return out


def pnl_attribution(result: SessionResult) -> pd.DataFrame:
    """Per symbol: the session's P&L from holding (since the previous close), from trading, fees and total.

    ``holding`` = quantity before x (session price - previous close); ``trading`` = the
    fills' signed quantity x (session price - fill price); ``fees`` the fills' fees.
    ``total`` = holding + trading - fees. Symbols without a previous close (the first
    session of the data) show no holding figure.
    """
    prev = _previous_closes(result)
    before = result.current_positions
    syms = sorted(set(before) | {f.symbol for f in result.fills})
    rows = []
    for sym in syms:
        px = result.prices.get(sym)
        q0 = float(before.get(sym, Decimal(0)))
        fills = [f for f in result.fills if f.symbol == sym]
        trading = sum(OrderSide(f.side).sign * float(f.quantity) * (float(px) - float(f.price)) for f in fills) \
            if px is not None else float("nan")
        fees = sum(float(f.fees) for f in fills)
        holding = q0 * (float(px) - prev[sym]) if px is not None and sym in prev else (0.0 if q0 == 0 else float("nan"))
        rows.append({"symbol": sym, "quantity_before": q0, "previous_close": prev.get(sym),
                     "price": None if px is None else float(px), "holding": holding, "trading": trading,
                     "fees": fees, "total": holding + trading - fees})
    numbers = ["quantity_before", "previous_close", "price", "holding", "trading", "fees", "total"]
    out = pd.DataFrame(rows, columns=["symbol", *numbers])
    return out.astype(dict.fromkeys(numbers, float))


def session_pnl(result: SessionResult, snapshots: pd.DataFrame) -> float | None:
    """Equity change of the session: its snapshot against the ledger's previous one (None when there is none)."""
    if result.snapshot is None or snapshots.empty:
        return None
    dates = pd.to_datetime(snapshots["session_date"]).dt.date
    prior = snapshots[dates < result.session_date]
    if prior.empty:
        return None
    return float(result.snapshot.equity) - float(prior["equity"].iloc[-1])


def headline_html(result: SessionResult, snapshots: pd.DataFrame, *, title: str) -> str:
    """Status, orders and fills, equity and the session's P&L: the report's first lines, before any table."""
    snap = result.snapshot
    pnl = session_pnl(result, snapshots)
    filled = sum(1 for o in result.orders if o.filled_quantity)
    lines = [
        f"<b>Session</b> {html.escape(format_cell(result.session_date, 'date'))} at "
        f"<code>{html.escape(result.execution_time)}</code>, mode <code>{html.escape(result.mode)}</code>: "
        f"<b>{html.escape(result.status)}</b>. {html.escape(result.message)}",
        f"<b>Orders</b> {len(result.orders):,} sent, {filled:,} filled, {len(result.fills):,} fills, "
        f"{len(result.blocked):,} blocked by a guard",
    ]
    if snap is not None:
        equity = format_cell(float(snap.equity), "money")
        pnl_text = ("no previous session in the ledger" if pnl is None
                    else f"{format_cell(pnl, 'money')} ({format_cell(snap.daily_return, 'percent')})")
        lines.append(f"<b>Equity</b> {equity}; <b>session P&amp;L</b> {pnl_text}; drawdown "
                     f"{format_cell(snap.drawdown, 'percent')}")
    else:
        lines.append("<b>Equity</b> no snapshot recorded this time (see the status)")
    return ('<div class="tk-headline"><h3 style="margin:.2em 0">' + html.escape(title) + "</h3>"
            + "".join(f'<p style="margin:.15em 0">{line}</p>' for line in lines) + "</div>")


def history_table(snapshots: pd.DataFrame, n: int = HISTORY_SESSIONS) -> pd.DataFrame:
    """The last ``n`` sessions of the ledger's snapshots: date, equity, cash, daily return, drawdown."""
    cols = ["session_date", "equity", "cash", "daily_return", "cumulative_return", "drawdown"]
    t = snapshots[cols].tail(n).reset_index(drop=True)
    return t.astype({"equity": float, "cash": float})


def history_figure(snapshots: pd.DataFrame, *, title: str, n: int = HISTORY_SESSIONS) -> go.Figure:
    """Equity over drawdown for the last ``n`` sessions of the ledger, on a day axis."""
    from plotly.subplots import make_subplots

    t = history_table(snapshots, n)
    x = pd.to_datetime(t["session_date"])
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.65, 0.35], vertical_spacing=0.06)
    fig.add_trace(go.Scatter(x=x, y=t["equity"].to_numpy(), mode="lines+markers", name="equity"), row=1, col=1)
    fig.add_trace(go.Scatter(x=x, y=t["drawdown"].astype(float).to_numpy(), mode="lines+markers", name="drawdown",
                             fill="tozeroy", line=dict(color="#d62728")), row=2, col=1)
    fig.update_xaxes(**day_axis(x))
    fig.update_yaxes(title_text="equity", row=1, col=1)
    fig.update_yaxes(title_text="drawdown", tickformat=".1%", row=2, col=1)
    fig.update_layout(title=f"{title}: last {len(t)} session(s) from the ledger", height=460, showlegend=False,
                      margin=dict(l=60, r=20, t=50, b=30))
    return fig
