"""The panel's read-only sections: regime, allocation, positions and P&L, equity, guards, audit log.

Each one turns :mod:`toolkit.widgets.views` rows into an HTML table or an inline SVG
(:mod:`toolkit.widgets.svg`) and puts it in one ``ipywidgets.HTML`` carrying its
:mod:`toolkit.widgets.dom` class.
"""

from __future__ import annotations

import html
from decimal import Decimal
from typing import Any

import ipywidgets as w

from toolkit.widgets import dom, svg, views
from toolkit.widgets.context import AccountView, Section
from toolkit.widgets.layout import card
from toolkit.widgets.layout import html as html_widget
from toolkit.widgets.tables import html_table, key_value_table

__all__ = ["AllocationDisplay", "AuditDisplay", "EquityDisplay", "GuardsDisplay", "PositionsDisplay",
           "RegimeDisplay"]


def _html(css_class: str) -> w.HTML:
    return html_widget("", css_class)


def _note(text: str) -> str:
    return f'<div style="color:#6b7280;font-size:11px;margin-top:2px">{html.escape(text)}</div>'


class RegimeDisplay(Section):
    """The strategy's context on the last session: cell, trend, vol, t_norm, z_score and the rest."""

    parts = frozenset({"snapshots"})

    def __init__(self) -> None:
        self.body = _html(dom.REGIME)
        self.widget = card("Regime", self.body)

    def update(self, view: AccountView) -> None:
        snap = views.last_snapshot(view.reader.snapshots())
        fields = views.regime_fields(snap)
        self.body.value = key_value_table(fields, empty="no session recorded yet for this account")


class AllocationDisplay(Section):
    """Target vs actual weights of the last session, as bars and numbers."""

    parts = frozenset({"snapshots", "positions", "fills"})

    def __init__(self) -> None:
        self.body = _html(dom.ALLOCATION)
        #: The rows last drawn (symbol, target, actual, quantity, mark, value).
        self.rows: list[dict[str, Any]] = []
        self.widget = card("Allocation: target vs actual", self.body)

    def update(self, view: AccountView) -> None:
        snap = views.last_snapshot(view.reader.snapshots())
        rows = views.allocation_rows(snap, view.reader.positions())
        self.rows = rows
        chart = svg.allocation_bars([(r["symbol"], r["target"], r["actual"]) for r in rows])
        table = html_table(rows, [("symbol", "instrument", "text"), ("target", "target", "pct"),
                                  ("actual", "actual", "pct"), ("quantity", "quantity", "qty"),
                                  ("mark", "mark", "money"), ("value", "value", "money")], max_height=None)
        when = "" if snap is None else _note(f"weights of equity at the close of {snap['session_date']}: "
                                             "actual = quantity x the session's mark / equity")
        self.body.value = chart + table + when if rows else table


class PositionsDisplay(Section):
    """Holdings with their P&L, then the account's cash, equity and total P&L."""

    parts = frozenset({"snapshots", "positions", "fills", "audit"})

    def __init__(self) -> None:
        self.body = _html(dom.POSITIONS)
        self.widget = card("Positions and P&L", self.body)

    def update(self, view: AccountView) -> None:
        snap = views.last_snapshot(view.reader.snapshots())
        equity = None if snap is None else Decimal(str(snap["equity"]))
        rows = views.positions_rows(view.reader.positions(), views.marks_of(snap), equity)
        cash, initial = view.reader.cash()
        table = html_table(rows, [("symbol", "symbol", "text"), ("quantity", "quantity", "qty"),
                                  ("avg_cost", "avg cost", "money"), ("mark", "mark", "money"),
                                  ("value", "value", "money"), ("unrealised_pnl", "unrealised", "money"),
                                  ("realised_pnl", "realised", "money"), ("weight", "weight", "pct")],
                           empty="no positions (never traded in this mode)")
        totals = key_value_table(views.account_totals(rows, cash, initial, equity))
        mode = _note(f"mode {view.mode}; marks of the last session") if view.mode else ""
        self.body.value = table + totals + mode


class EquityDisplay(Section):
    """Equity of every session with the regime cells as coloured bands, drawdown below."""

    parts = frozenset({"snapshots"})

    def __init__(self) -> None:
        self.body = _html(dom.EQUITY)
        self.widget = card("Equity, regime and drawdown", self.body, basis="600px")

    def update(self, view: AccountView) -> None:
        series = views.equity_series(view.reader.snapshots())
        title = f"Equity of {view.account.name}" + (f" ({view.mode})" if view.mode else "")
        chart = svg.equity_chart(series.dates, series.equity, series.drawdown,
                                 series.cells if series.has_regime else None, title=title)
        note = "" if series.has_regime or not series.dates else _note("this strategy records no regime cell")
        self.body.value = chart + note


class GuardsDisplay(Section):
    """Orders the guards blocked, sessions they halted or stopped, kill switch changes."""

    parts = frozenset({"audit"})

    def __init__(self) -> None:
        self.body = _html(dom.GUARDS)
        self.widget = card("Guard activations", self.body)

    def update(self, view: AccountView) -> None:
        rows = views.guard_rows(view.reader.guards(), view.account.name)
        self.body.value = html_table(rows, [("at", "at (UTC)", "time"), ("action", "action", "text"),
                                            ("guard", "guard", "text"), ("session", "session", "text"),
                                            ("actor", "who", "text"), ("reason", "reason", "text")],
                                     max_height="240px", empty="no guard has fired for this account")


class AuditDisplay(Section):
    """The newest entries of the ledger's audit log (every account: the log is one)."""

    parts = frozenset({"audit"})

    def __init__(self) -> None:
        self.body = _html(dom.AUDIT)
        self.widget = card("Audit log", self.body)

    def update(self, view: AccountView) -> None:
        rows = views.audit_rows(view.reader.audit(), limit=view.reader.AUDIT_LIMIT)
        self.body.value = html_table(rows, [("at", "at (UTC)", "time"), ("actor", "who", "text"),
                                            ("action", "action", "text"), ("detail", "detail", "json")],
                                     max_height="240px", empty="the audit log is empty",
                                     note=f"newest {view.reader.AUDIT_LIMIT} entries at most")
