"""Trade history: the account's fills filtered by symbol, side and date range, exported as CSV.

The filters work on the frame :meth:`toolkit.ledger.Ledger.trades` returns (read once per
change of the fills); the export link is a ``data:`` URI of exactly the filtered rows, so
it downloads in any browser without a file on the server.
"""

from __future__ import annotations

import html
from datetime import date
from typing import TYPE_CHECKING

import ipywidgets as w

from toolkit.widgets import dom, views
from toolkit.widgets.context import AccountView, Section
from toolkit.widgets.layout import card, flex_row, shared_layout
from toolkit.widgets.layout import html as html_widget
from toolkit.widgets.tables import Format, html_table

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["TradeHistory"]

#: The newest trades drawn in the table (the CSV holds every filtered trade).
SHOWN = 500
_ALL = "all"
_COLUMNS: list[tuple[str, str, Format]] = [
    ("at", "at (UTC)", "time"), ("symbol", "symbol", "text"), ("side", "side", "text"),
    ("quantity", "quantity", "qty"), ("price", "price", "money"), ("fees", "fees", "money"),
    ("notional", "notional", "money"), ("mode", "mode", "text")]


class TradeHistory(Section):
    """Filters, the filtered table and its CSV export."""

    parts = frozenset({"fills"})

    def __init__(self) -> None:
        small = shared_layout(width="auto", min_width="0", flex="1 1 150px")
        self.symbol = w.Dropdown(options=[_ALL], value=_ALL, description="symbol", layout=small)
        self.symbol.add_class(dom.TRADES_SYMBOL)
        self.side = w.Dropdown(options=[_ALL, "buy", "sell"], value=_ALL, description="side", layout=small)
        self.side.add_class(dom.TRADES_SIDE)
        self.start = w.DatePicker(description="from", layout=small)
        self.start.add_class(dom.TRADES_FROM)
        self.end = w.DatePicker(description="to", layout=small)
        self.end.add_class(dom.TRADES_TO)
        self.export = html_widget("", dom.TRADES_EXPORT)
        self.table = html_widget("", dom.TRADES)
        self._trades: pd.DataFrame | None = None
        self._account = ""
        for control in (self.symbol, self.side, self.start, self.end):
            control.observe(lambda _: self.draw(), "value")
        filters = flex_row(self.symbol, self.side, self.start, self.end, self.export)
        self.widget = card("Trade history", filters, self.table, basis="600px")

    def update(self, view: AccountView) -> None:
        self._trades = view.reader.trades()
        self._account = view.account.name
        symbols = sorted(str(s) for s in self._trades["symbol"].unique()) if not self._trades.empty else []
        options = [_ALL, *symbols]
        if list(self.symbol.options) != options:
            keep = self.symbol.value if self.symbol.value in options else _ALL
            self.symbol.options = options
            self.symbol.value = keep
        self.draw()

    def filtered(self) -> pd.DataFrame:
        """The trades the filters let through, oldest first."""
        if self._trades is None:
            raise RuntimeError("TradeHistory.update has not been called")
        start: date | None = self.start.value
        end: date | None = self.end.value
        return views.filter_trades(
            self._trades,
            symbol=None if self.symbol.value == _ALL else self.symbol.value,
            side=None if self.side.value == _ALL else self.side.value,
            start=start, end=end,
        )

    def csv(self) -> str:
        """The CSV text the export link downloads."""
        return views.trades_csv(self.filtered())

    def draw(self) -> None:
        if self._trades is None:
            return
        trades = self.filtered()
        newest = trades.tail(SHOWN).iloc[::-1]
        note = f"{len(trades):,} trade(s)"
        if len(trades) > SHOWN:
            note += f"; the table shows the newest {SHOWN}, the CSV all of them"
        self.table.value = html_table(views.records(newest), _COLUMNS, empty="no trade matches these filters",
                                      note=note)
        name = f"trades-{self._account}.csv"
        self.export.value = (
            f'<a download="{html.escape(name)}" href="{views.csv_data_uri(self.csv())}" '
            f'style="font-size:12px">Export CSV ({len(trades):,} row{"" if len(trades) == 1 else "s"})</a>'
        )
