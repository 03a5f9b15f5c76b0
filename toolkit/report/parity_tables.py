"""The live report's parity section as formatted tables: every cell written, none blank.

:class:`~toolkit.report.account_parity.AccountParity` keeps its tables as the CSV files
and ``toolkit parity`` need them: raw floats, and an empty ``difference`` for a trade
where live and backtest agree. Printed as they are (``DataFrame.to_html``) the section
read ``100000.0000``, ``0.5`` for a 50% target weight, and left the ``difference`` cell
of every matching trade blank. Here each column is written by its kind (money with
separators, basis points to 2 decimals, weights in percent, quantities as written), an
agreeing trade's difference reads ``none``, and the headers of the parity figures link
to the session glossary (``parity.*`` in :data:`~toolkit.report.session_report.SESSION_GLOSSARY`).
Every session and every trade is shown: the tables scroll, and past ``max_rows`` the
trades are paged with ``parity_trades.csv`` linked (the live notebook writes it).
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from toolkit.report.html_table import Column, html_table
from toolkit.report.session_report import format_quantity, link_headers

if TYPE_CHECKING:  # pragma: no cover
    from toolkit.report.account_parity import AccountParity, ParitySection

__all__ = ["NO_DIFFERENCE", "parity_html", "parity_section_html", "sessions_html", "trades_html"]

#: What the ``difference`` cell of a trade says when live and backtest agree within the tolerance.
NO_DIFFERENCE = "none"
#: Trade rows shown before the table is paged (the CSV holds them all).
TRADE_ROWS_SHOWN = 200


def sessions_html(parity: AccountParity, *, csv: str | None = None) -> str:
    """One row per session: status, both equities, the gap and what the session added to it, trades, signal."""
    t = parity.sessions
    if t.empty:
        return "<p>No session in the range.</p>"
    out = html_table(t, [
        Column("session_date", "session", "date"), Column("live_status", "live status"),
        Column("live_equity", "live equity", "money"), Column("backtest_equity", "backtest equity", "money"),
        Column("gap_bps", "equity gap (bp)", "ratio"), Column("gap_change_bps", "gap change (bp)", "ratio"),
        Column("live_trades", "live trades", "count"), Column("backtest_trades", "backtest trades", "count"),
        Column("signal_diff_bps", "signal difference (bp)", "ratio")],
        csv=csv, what="sessions", scroll_rows=15)
    return link_headers(out, {"equity gap (bp)": "parity.gap_bps", "gap change (bp)": "parity.gap_bps",
                              "signal difference (bp)": "parity.signal_diff_bps"})


def trades_html(parity: AccountParity, *, csv: str | None = None, max_rows: int = TRADE_ROWS_SHOWN) -> str:
    """Every trade, live beside backtest: quantities, fill prices, slippage, target weights and what differs."""
    t = parity.trades
    if t.empty:
        return "<p>No trade on either side.</p>"
    shown = t.assign(live_qty=[format_quantity(q) for q in t["live_qty"]],
                     backtest_qty=[format_quantity(q) for q in t["backtest_qty"]],
                     difference=[d if isinstance(d, str) and d.strip() else NO_DIFFERENCE for d in t["difference"]])
    caption = (f"difference: what differs beyond the {parity.tolerance_bp:g} bp tolerance, "
               f"{NO_DIFFERENCE} when the live trade and the backtest's agree")
    out = html_table(shown, [
        Column("session_date", "session", "date"), Column("symbol", "symbol"), Column("side", "side"),
        Column("live_qty", "live quantity"), Column("backtest_qty", "backtest quantity"),
        Column("live_price", "live price", "money"), Column("backtest_price", "backtest price", "money"),
        Column("live_slippage_bps", "live slippage (bp)", "ratio"),
        Column("backtest_slippage_bps", "backtest slippage (bp)", "ratio"),
        Column("live_target_weight", "live target weight", "percent"),
        Column("backtest_target_weight", "backtest target weight", "percent"),
        Column("difference", "difference")],
        csv=csv, what="trades", scroll_rows=15, max_rows=max_rows, caption=caption)
    return link_headers(out, {"live slippage (bp)": "session.slippage_bps",
                              "backtest slippage (bp)": "session.slippage_bps",
                              "live target weight": "session.weight", "backtest target weight": "session.weight",
                              "difference": "parity.difference"})


def parity_html(parity: AccountParity, *, archived: bool = False) -> str:
    """The summary lines, the problems, the sessions and the trades; ``archived``: link the parity CSV files."""
    lines = "".join(f"<li>{html.escape(line)}</li>" for line in parity.summary_lines())
    problems = ""
    if parity.problems:
        problems = ("<p><b>Problems</b></p><ul>" + "".join(f"<li>{html.escape(p)}</li>" for p in parity.problems)
                    + "</ul>")
    return (f"<ul>{lines}</ul>{problems}<p><b>Equity gap per session</b></p>"
            + sessions_html(parity, csv="parity_sessions.csv" if archived else None)
            + "<p><b>Trades</b></p>" + trades_html(parity, csv="parity_trades.csv" if archived else None))


def parity_section_html(section: ParitySection, *, archived: bool = False) -> str:
    """The live notebook's parity section: :func:`parity_html`, or the one line saying why there is none."""
    if section.parity is None:
        return f"<p>Live vs backtest parity: {html.escape(section.note or 'not available')}</p>"
    return parity_html(section.parity, archived=archived)
