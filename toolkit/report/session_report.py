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
import math
import re
from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pandas as pd
import plotly.graph_objects as go

from toolkit.model import OrderSide
from toolkit.report.glossary import GLOSSARY_CSS, GlossaryEntry
from toolkit.report.html_table import Column, format_cell, html_table
from toolkit.report.metric_format import MISSING

if TYPE_CHECKING:  # pragma: no cover
    from toolkit.engine.result import SessionResult

__all__ = [
    "DRY_RUN_GLOSSARY_KEYS",
    "HISTORY_SESSIONS",
    "LIVE_GLOSSARY_KEYS",
    "SESSION_GLOSSARY",
    "attribution_html",
    "day_axis",
    "drawdown_range",
    "equity_range",
    "format_quantity",
    "headline_html",
    "history_figure",
    "history_html",
    "history_table",
    "link_headers",
    "plural",
    "pnl_attribution",
    "positions_cash_html",
    "positions_cash_table",
    "session_anchor",
    "session_glossary_html",
    "session_pnl",
    "session_title",
]

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
    t = t.assign(**{k: [format_quantity(q) for q in t[k]] for k in ("quantity_before", "quantity_after")})
    cols = [Column("item", "symbol / cash"), Column("quantity_before", "quantity before"),
            Column("quantity_after", "quantity after"), Column("price", "price", "money"),
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


def session_pnl(result: SessionResult, snapshots: pd.DataFrame) -> tuple[float, str] | None:
    """Equity change of the session and what it is measured against; None without a snapshot.

    Against the ledger's previous snapshot when there is one; on the account's first
    session against the initial cash, as the ledger's first daily return is (the
    snapshot's ``daily_return`` is then equity / initial cash - 1, so the initial cash
    is equity / (1 + daily return)). The P&L attribution's total agrees with it.
    """
    snap = result.snapshot
    if snap is None:
        return None
    equity = float(snap.equity)
    if not snapshots.empty:
        dates = pd.to_datetime(snapshots["session_date"]).dt.date
        prior = snapshots[dates < result.session_date]
        if not prior.empty:
            return equity - float(prior["equity"].iloc[-1]), "previous session"
    if snap.daily_return is None or not 1 + snap.daily_return:
        return None
    return equity - equity / (1 + snap.daily_return), "initial cash (first session)"


def plural(n: int, word: str, many: str | None = None) -> str:
    """``1 fill``, ``2 fills``, ``0 orders``: a count with its word in the right number."""
    return f"{n:,} {word if n == 1 else (many or word + 's')}"


def session_title(strategy: str, account: str, session_date: Any = None, execution_time: str | None = None) -> str:
    """The report's title: ``sma_crossover · account dry-run · session 2018-10-18 (close)``.

    A reader wants what traded where and when, not the run key the ledger files it under
    (``sma_crossover|dry-run|2018-10-18|close``). Without a session date (a live session
    stopped before it had one) the title ends at the account.
    """
    parts = [strategy, f"account {account}"]
    if session_date is not None:
        when = format_cell(session_date, "date")
        parts.append(f"session {when} ({execution_time})" if execution_time else f"session {when}")
    return " \u00b7 ".join(parts)


def headline_html(result: SessionResult, snapshots: pd.DataFrame, *, title: str) -> str:
    """Status, orders and fills, equity and the session's P&L: the report's first lines, before any table.

    The engine's own ``result.message`` is left out: it repeats the status, counts and
    equity (with a raw Decimal) that these lines already show formatted.
    """
    snap = result.snapshot
    pnl = session_pnl(result, snapshots)
    filled = sum(1 for o in result.orders if o.filled_quantity)
    lines = [
        f"<b>Session</b> {html.escape(format_cell(result.session_date, 'date'))} at "
        f"<code>{html.escape(result.execution_time)}</code>, mode <code>{html.escape(result.mode)}</code>: "
        f"<b>{html.escape(result.status)}</b>.",
        f"<b>Orders</b> {len(result.orders):,} sent, {filled:,} filled ({plural(len(result.fills), 'fill')}), "
        f"{len(result.blocked):,} blocked by a guard",
    ]
    if snap is not None:
        equity = format_cell(float(snap.equity), "money")
        pnl_text = ("not known (no previous snapshot, no daily return)" if pnl is None
                    else f"{format_cell(pnl[0], 'money')} ({format_cell(snap.daily_return, 'percent')}) "
                         f"against the {pnl[1]}")
        lines.append(f"{_glink('Equity', 'session.equity', bold=True)} {equity}; "
                     f"{_glink('session P&L', 'session.pnl', bold=True)} {pnl_text}; "
                     f"{_glink('drawdown', 'session.drawdown')} {format_cell(snap.drawdown, 'percent')}")
    else:
        lines.append("<b>Equity</b> no snapshot recorded this time (see the status)")
    return ('<div class="tk-headline"><h3 style="margin:.2em 0">' + html.escape(title) + "</h3>"
            + "".join(f'<p style="margin:.15em 0">{line}</p>' for line in lines) + "</div>")


def history_table(snapshots: pd.DataFrame, n: int = HISTORY_SESSIONS) -> pd.DataFrame:
    """The last ``n`` sessions of the ledger's snapshots: date, equity, cash, daily return, drawdown."""
    cols = ["session_date", "equity", "cash", "daily_return", "cumulative_return", "drawdown"]
    t = snapshots[cols].tail(n).reset_index(drop=True)
    return t.astype({"equity": float, "cash": float})


def equity_range(values: Any, *, pad: float = 0.005) -> list[float]:
    """The equity axis' range: the values padded by at least ``pad`` (0.5%) of their level either side.

    Left to itself plotly stretches a flat or one-session curve over a few dollars and
    labels it ``99.999k, 99.9995k``; this keeps the scale readable.
    """
    v = pd.Series(list(values), dtype=float).dropna()
    if v.empty:
        return [0.0, 1.0]
    lo, hi = float(v.min()), float(v.max())
    margin = max((hi - lo) * 0.1, abs(hi) * pad, 1.0)
    return [lo - margin, hi + margin]


def drawdown_range(values: Any) -> list[float]:
    """The drawdown axis' range: [deepest drawdown x 1.1 (at most -1%), 0]; never above zero."""
    v = pd.Series(list(values), dtype=float).dropna()
    low = float(v.min()) * 1.1 if len(v) else 0.0
    return [min(low, -0.01), 0.0]


def history_figure(snapshots: pd.DataFrame, *, title: str, n: int = HISTORY_SESSIONS) -> go.Figure:
    """Equity over drawdown for the last ``n`` sessions of the ledger, on a day axis."""
    from plotly.subplots import make_subplots

    t = history_table(snapshots, n)
    x = pd.to_datetime(t["session_date"])
    dd = t["drawdown"].astype(float)
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.65, 0.35], vertical_spacing=0.06)
    fig.add_trace(go.Scatter(x=x, y=t["equity"].to_numpy(), mode="lines+markers", name="equity"), row=1, col=1)
    fig.add_trace(go.Scatter(x=x, y=dd.to_numpy(), mode="lines+markers", name="drawdown",
                             fill="tozeroy", line=dict(color="#d62728")), row=2, col=1)
    fig.update_xaxes(**day_axis(x))
    fig.update_yaxes(title_text="equity", tickformat=",.0f", range=equity_range(t["equity"]), row=1, col=1)
    fig.update_yaxes(title_text="drawdown", tickformat=".1%", range=drawdown_range(dd), row=2, col=1)
    fig.update_layout(title=f"{title}: last {plural(len(t), 'session')} from the ledger", height=460, showlegend=False,
                      margin=dict(l=70, r=20, t=50, b=30))
    return fig


def history_html(snapshots: pd.DataFrame, n: int = HISTORY_SESSIONS) -> str:
    """:func:`history_table`, newest first, formatted, its headers linked to the session glossary."""
    t = history_table(snapshots, n).iloc[::-1]
    out = html_table(t, [
        Column("session_date", "session", "date"), Column("equity", "equity", "money"), Column("cash", "cash", "money"),
        Column("daily_return", "daily return", "percent"), Column("cumulative_return", "cumulative return", "percent"),
        Column("drawdown", "drawdown", "percent")], scroll_rows=10)
    return link_headers(out, {"equity": "session.equity", "daily return": "session.daily_return",
                              "cumulative return": "session.cumulative_return", "drawdown": "session.drawdown"})


def attribution_html(result: SessionResult) -> str:
    """:func:`pnl_attribution` formatted (quantities as written, money with separators), headers linked."""
    t = pnl_attribution(result)
    if t.empty:
        return "<p>No position and no fill: nothing to attribute.</p>"
    t = t.assign(quantity_before=[format_quantity(q) for q in t["quantity_before"]])
    out = html_table(t, [
        Column("symbol", "symbol"), Column("quantity_before", "quantity before"),
        Column("previous_close", "previous close", "money"), Column("price", "price", "money"),
        Column("holding", "holding P&L", "money"), Column("trading", "trading P&L", "money"),
        Column("fees", "fees", "money"), Column("total", "total", "money")])
    return link_headers(out, {"holding P&amp;L": "session.holding_pnl", "trading P&amp;L": "session.trading_pnl",
                              "fees": "session.fees", "total": "session.pnl"})


def format_quantity(value: Any) -> str:
    """A quantity as written: whole numbers without decimals (``14``, ``1,200``), lots trimmed (``0.0125``).

    Never rounded: a crypto lot of ``0.00012345`` keeps every digit the ledger holds.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    d = Decimal(str(value))
    sign = "-" if d < 0 else ""
    whole, _, frac = format(abs(d).normalize(), "f").partition(".")
    return f"{sign}{int(whole):,}" + (f".{frac}" if frac else "")


# --------------------------------------------------------------------------- glossary

def _g(key: str, name: str, kind: Any, definition: str, formula: str) -> GlossaryEntry:
    return GlossaryEntry(key=key, name=name, group="Session", definition=definition, formula=formula, kind=kind)


#: The figures of a dry-run or live session's report (the metric glossary covers backtests).
SESSION_GLOSSARY: dict[str, GlossaryEntry] = {e.key: e for e in (
    _g("session.equity", "Equity", "money", "Cash plus the market value of every holding at the session's prices.",
       "cash + sum of quantity x session price"),
    _g("session.pnl", "Session P&L", "money",
       "What the account made this session: equity against the previous session's, or against the initial cash on "
       "the account's first session. The P&L attribution's total adds up to it.",
       "equity - previous equity (first session: equity - initial cash)"),
    _g("session.daily_return", "Daily return", "percent",
       "The session's P&L as a fraction of the previous equity (the initial cash on the first session).",
       "equity / previous equity - 1"),
    _g("session.cumulative_return", "Cumulative return", "percent",
       "What the account made since its first session, as a fraction of the initial cash.",
       "equity / initial cash - 1"),
    _g("session.drawdown", "Drawdown", "percent",
       "How far equity is below its highest value so far (the initial cash included); 0 at a new high.",
       "equity / running peak of equity - 1"),
    _g("session.holding_pnl", "Holding P&L", "money",
       "What the position held at the start of the session made from the previous close to the session's price.",
       "quantity before x (session price - previous close)"),
    _g("session.trading_pnl", "Trading P&L", "money",
       "What the session's fills made against the session's price: buying below it or selling above it gains.",
       "sum over fills of signed quantity x (session price - fill price)"),
    _g("session.fees", "Fees", "money", "Commissions and fees the broker charged on the session's fills.",
       "sum of the fills' fees"),
    _g("session.slippage_bps", "Slippage (bps)", "number",
       "How far a fill's price was from the decision price, in basis points; positive is worse for us (paid more "
       "on a buy, received less on a sell).",
       "side sign x (fill price - decision price) / decision price x 10,000"),
    _g("session.weight", "Weight", "percent",
       "A holding's value as a fraction of the account's equity, both at the session's prices: weight before "
       "against the equity before the session (cash before plus the holdings before), weight after against the "
       "equity after it; the target weight is what the strategy asked for.",
       "quantity x session price / equity (before: quantity before / equity before; after: quantity after / "
       "equity after)"),
    _g("parity.gap_bps", "Equity gap (bp)", "number",
       "Live vs backtest parity: how far the account's equity is from the backtest's of the same parameters, "
       "started on the account's first session with its initial cash, in basis points; the change column is what "
       "the session added.",
       "(live equity / backtest equity - 1) x 10,000"),
    _g("parity.signal_diff_bps", "Signal difference (bp)", "number",
       "Live vs backtest parity: the largest difference between the target weights the strategy gave live and in "
       "the backtest on the session, in basis points of equity (0 when both decided the same).",
       "max over symbols of |live target weight - backtest target weight| x 10,000, with its sign"),
    _g("parity.difference", "Parity difference", "text",
       "Live vs backtest parity, per trade: what differs beyond the tolerance (10 bp unless the report says "
       "otherwise): \"only live\", \"only backtest\", \"only live (unfilled)\", or the words quantity, price, "
       "signal; \"none\" when the live trade and the backtest's agree within the tolerance.",
       "quantity and fill price relative to the backtest's, target weight in bp of equity, each against the "
       "tolerance"),
)}


def session_anchor(key: str) -> str:
    """The HTML id of a session glossary entry (``session-daily-return``); a ``KeyError`` for an unknown key."""
    if key not in SESSION_GLOSSARY:
        raise KeyError(f"session glossary: got {key!r}; allowed: {', '.join(SESSION_GLOSSARY)}")
    return key.replace(".", "-").replace("_", "-")


def _glink(text: str, key: str, *, bold: bool = False) -> str:
    inner = f"<b>{html.escape(text)}</b>" if bold else html.escape(text)
    return f'<a href="#{session_anchor(key)}">{inner}</a>'


def link_headers(table_html: str, links: dict[str, str]) -> str:
    """``table_html`` (from :func:`html_table`) with the header cells whose (escaped) label is a key of ``links``
    linked to that session glossary entry. A label that is not a header raises: a link must not silently vanish."""
    for label, key in links.items():
        pattern = re.compile(r'(<th(?: class="[^"]*")?>)' + re.escape(label) + "</th>")
        link = f'<a href="#{session_anchor(key)}">{label}</a></th>'
        table_html, n = pattern.subn(lambda m: m.group(1) + link, table_html, count=1)  # noqa: B023 (used at once)
        if not n:
            raise ValueError(f"link_headers: got {label!r}; allowed: a header of the table")
    return table_html


#: The session glossary's entries a dry-run report shows (its tables link to each; no slippage, no parity).
DRY_RUN_GLOSSARY_KEYS = ("session.equity", "session.pnl", "session.daily_return", "session.cumulative_return",
                         "session.drawdown", "session.holding_pnl", "session.trading_pnl", "session.fees",
                         "session.weight")
#: The live report's: the dry run's, the fills' slippage and the parity section's figures.
LIVE_GLOSSARY_KEYS = (*DRY_RUN_GLOSSARY_KEYS, "session.slippage_bps", "parity.gap_bps", "parity.signal_diff_bps",
                      "parity.difference")


def session_glossary_html(*, title: str | None = "Glossary", keys: Sequence[str] | None = None) -> str:
    """The session glossary as one self-contained ``<section>``; each row's id is :func:`session_anchor`.

    ``keys``: the figures the report shows (:data:`DRY_RUN_GLOSSARY_KEYS`,
    :data:`LIVE_GLOSSARY_KEYS`), in the glossary's order; all when None. ``title=None``
    leaves the heading out (a notebook's own markdown heading names it). Prose is
    left-aligned (:data:`~toolkit.report.glossary.GLOSSARY_CSS`, as the metric glossary).
    """
    wanted = set(SESSION_GLOSSARY) if keys is None else set(keys)
    for key in wanted:
        session_anchor(key)  # a KeyError naming the known keys for an unknown one
    rows = "".join(
        f'<tr id="{session_anchor(e.key)}"><td class="tk-name">{html.escape(e.name)}</td>'
        f'<td>{html.escape(e.definition)}</td><td class="tk-formula">{html.escape(e.formula)}</td></tr>'
        for e in SESSION_GLOSSARY.values() if e.key in wanted)
    return (f'<section class="tk-glossary" id="session-glossary"><style>{GLOSSARY_CSS}</style>'
            f'{"" if title is None else f"<h2>{html.escape(title)}</h2>"}'
            "<table><thead><tr><th>Figure</th><th>What it means</th><th>How it is computed</th></tr></thead>"
            f"<tbody>{rows}</tbody></table></section>")
