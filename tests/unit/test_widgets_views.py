"""The panel's parts that need no widget: tables, SVG charts, views, links, accounts, the ledger's
change stamp, and what ``import toolkit.widgets`` costs."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from toolkit.ledger import PositionRecord, open_ledger
from toolkit.ledger.changes import STAMP_PARTS
from toolkit.widgets import svg, views
from toolkit.widgets.accounts import discover_accounts
from toolkit.widgets.links import DASHBOARD_ROOT_ENV, report_href
from toolkit.widgets.settings import mode_choices
from toolkit.widgets.tables import cell_text, html_table, quantity

ROOT = Path(__file__).resolve().parents[2]
T = dt.datetime(2024, 1, 2, 15, 0, tzinfo=dt.UTC)


# ----------------------------------------------------------------- tables


def test_numbers_are_written_as_a_trader_reads_them() -> None:
    assert quantity(Decimal("17.000000")) == "17"
    assert quantity(Decimal("1234.000000")) == "1,234"
    assert quantity(Decimal("0.001250")) == "0.00125"
    assert cell_text(Decimal("1234567.891"), "money") == "1,234,567.89"
    assert cell_text(-0.05128, "pct") == "-5.13%"
    assert cell_text(12, "int") == "12"
    assert cell_text(None, "money") == "" and cell_text(float("nan"), "pct") == ""
    assert cell_text(pd.NaT, "time") == ""
    assert cell_text(pd.Timestamp("2018-06-01 20:00", tz="UTC"), "time") == "2018-06-01 20:00:00"
    assert cell_text({"b": 1, "a": None}, "json") == "{&quot;a&quot;: null, &quot;b&quot;: 1}"


def test_indicator_numbers_keep_their_precision_without_exponents() -> None:
    assert cell_text(12345.67, "num") == "12,345.67" and cell_text(6890.37, "num") == "6,890.37"
    assert cell_text(-1.5, "num") == "-1.50" and cell_text(4.0, "num") == "4"
    assert cell_text(0.123456, "num") == "0.1235" and cell_text(-0.000012345, "num") == "-0.00001234"
    assert cell_text(True, "text") == "yes" and cell_text(np.bool_(False), "num") == "no"
    rows = views.regime_fields({"session_date": dt.date(2018, 6, 1), "context": {
        "rebalance": False, "decision": {"z_score": 12345.67, "bond_trend": True}}})
    out = {k: cell_text(v, fmt) for k, v, fmt in rows}
    assert out["rebalance"] == "no" and out["bond_trend"] == "yes" and out["z_score"] == "12,345.67"


def test_table_cells_are_escaped_except_html_columns() -> None:
    out = html_table([{"reason": "<script>x</script>", "link": '<a href="r.html">report</a>'}],
                     [("reason", "reason", "text"), ("link", "report", "html")])
    assert "<script>" not in out and "&lt;script&gt;" in out
    assert '<a href="r.html">report</a>' in out
    assert "overflow:auto" in out  # a wide table scrolls inside its card
    assert "nothing here" in html_table([], [("a", "a", "text")], empty="nothing here")


# ----------------------------------------------------------------- svg


def test_equity_chart_draws_one_band_per_stretch_of_a_regime_cell() -> None:
    dates = [dt.date(2018, 1, d) for d in range(2, 12)]
    equity = [100.0, 101, 102, 101, 99, 98, 100, 103, 104, 105]
    drawdown = [0.0, 0, 0, -0.0098, -0.0294, -0.0392, -0.0196, 0, 0, 0]
    cells = ["1", "1", "1", "3", "3", None, "1", "1", "10", "10"]
    out = svg.equity_chart(dates, equity, drawdown, cells)
    assert out.startswith("<svg") and 'viewBox="0 0 760 320"' in out and "width:100%" in out
    assert out.count("<title>cell ") == 4  # 1, 3, 1, 10 (None draws no band)
    palette = svg.regime_palette(cells)
    assert list(palette) == ["1", "3", "10"]  # numeric order, not text order
    assert out.count(f'fill="{palette["1"]}" fill-opacity="0.16"') == 2
    assert "-3.9%" in out  # the worst drawdown labels the drawdown axis
    assert "105.00 on 2018-01-11" in out
    assert "no sessions recorded yet" in svg.equity_chart([], [], [])


def test_allocation_bars_scale_to_the_weights() -> None:
    out = svg.allocation_bars([("QQQ", 0.6, 0.58), ("cash", 0.4, None)])
    assert "60.0% / 58.0%" in out and "40.0% / n/a" in out
    assert out.count("<rect") == 2 + 3  # legend (2) + three bars (no bar for n/a)


# ----------------------------------------------------------------- views


def _position(symbol: str, qty: str, avg: str, realised: str = "0") -> PositionRecord:
    return PositionRecord("a", "offline_mock", symbol, Decimal(qty), Decimal(avg), Decimal(realised), T)


def test_allocation_rows_from_a_snapshot_and_positions() -> None:
    snapshot = {"equity": Decimal("10000"), "cash": Decimal("2000"), "session_date": dt.date(2018, 6, 1),
                "context": {"target_weights": {"SPY": 0.6, "AGG": 0.2, "TLT": 0.0},
                            "marks": {"SPY": "100", "AGG": "50"}}}
    positions = {"SPY": _position("SPY", "60", "90"), "AGG": _position("AGG", "40", "55"),
                 "GLD": _position("GLD", "0", "0", "12")}
    rows = {r["symbol"]: r for r in views.allocation_rows(snapshot, positions)}
    assert list(rows) == ["AGG", "SPY", "TLT", "cash"]  # flat GLD without a target is not an allocation
    assert rows["SPY"]["actual"] == 0.6 and rows["AGG"]["actual"] == 0.2 and rows["TLT"]["actual"] == 0.0
    assert rows["cash"] == {"symbol": "cash", "target": pytest.approx(0.2), "actual": 0.2, "quantity": None,
                            "mark": None, "value": Decimal("2000")}
    unmarked = views.allocation_rows({**snapshot, "context": {"target_weights": {}, "marks": {}}}, positions)
    assert [r["actual"] for r in unmarked if r["symbol"] != "cash"] == [None, None]


def test_positions_rows_carry_unrealised_and_realised_pnl() -> None:
    positions = {"SPY": _position("SPY", "60", "90", "5"), "GLD": _position("GLD", "0", "0", "12")}
    rows = views.positions_rows(positions, {"SPY": Decimal("100")}, Decimal("10000"))
    assert [r["symbol"] for r in rows] == ["SPY", "GLD"]  # open first
    assert rows[0]["unrealised_pnl"] == Decimal("600") and rows[0]["weight"] == 0.6
    totals = dict((k, v) for k, v, _ in views.account_totals(rows, Decimal("4000"), Decimal("9000"),
                                                                 Decimal("10000")))
    assert totals["realised P&L"] == Decimal("17") and totals["unrealised P&L"] == Decimal("600")
    assert totals["total P&L vs initial cash"] == Decimal("1000")


def test_regime_fields_put_the_regime_first() -> None:
    snapshot = {"session_date": dt.date(2018, 6, 1), "strategy_cell": "4",
                "context": {"rebalance": True, "decision": {"z_score": 1.2, "sma_fast": 3.0, "cell": 4,
                                                            "trend_state": "Sideways", "vol_state": "High",
                                                            "t_norm": 0.1, "bond_trend": None}}}
    names = [k for k, _, _ in views.regime_fields(snapshot)]
    assert names == ["session", "rebalance", "cell", "trend_state", "vol_state", "t_norm", "z_score", "bond_trend",
                     "sma_fast"]
    assert views.regime_fields(None) == []


def test_guard_rows_keep_the_accounts_own_and_the_global_ones() -> None:
    audit = pd.DataFrame([
        {"at": T, "actor": "toolkit", "action": "guard_block",
         "detail": {"run_key": "s|a|2018-06-01|close", "guard": "max_order_notional", "reason": "too big"}},
        {"at": T, "actor": "toolkit", "action": "guard_halt",
         "detail": {"run_key": "s|other|2018-06-01|close", "guard": "kill_switch", "reason": "x"}},
        {"at": T, "actor": "eve", "action": "kill_switch_on", "detail": {"reason": "outage"}},
        {"at": T, "actor": "eve", "action": "set_override", "detail": {"key": "k"}},
    ])
    rows = views.guard_rows(audit, "a")
    assert [(r["action"], r["session"], r["reason"]) for r in rows] == [
        ("kill_switch_on", None, "outage"), ("guard_block", "2018-06-01", "too big")]


def test_filter_trades_by_symbol_side_and_dates() -> None:
    trades = pd.DataFrame({"at": pd.to_datetime(["2018-01-02 21:00", "2018-01-03 21:00", "2018-01-04 21:00"],
                                                utc=True),
                           "symbol": ["A", "B", "A"], "side": ["buy", "buy", "sell"]})
    assert len(views.filter_trades(trades, symbol="A")) == 2
    assert len(views.filter_trades(trades, side="buy", start=dt.date(2018, 1, 3))) == 1
    assert len(views.filter_trades(trades, end=dt.date(2018, 1, 3))) == 2
    assert views.csv_data_uri("a,b\n1,2\n") == "data:text/csv;charset=utf-8;base64,YSxiCjEsMgo="


# ----------------------------------------------------------------- links


def test_report_links_under_the_dashboard_and_in_jupyterlab(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    report = tmp_path / "outputs" / "daily_dry_run" / "20240102T150000Z-ab cd" / "report.html"
    monkeypatch.setenv(DASHBOARD_ROOT_ENV, str(tmp_path))
    assert report_href(report) == "voila/files/outputs/daily_dry_run/20240102T150000Z-ab%20cd/report.html"
    monkeypatch.delenv(DASHBOARD_ROOT_ENV)
    notebooks = tmp_path / "notebooks"
    assert report_href(report, notebooks_dir=notebooks) == \
        "../outputs/daily_dry_run/20240102T150000Z-ab%20cd/report.html"


# ----------------------------------------------------------------- accounts and modes


def test_the_projects_params_files_give_the_accounts_and_their_modes() -> None:
    accounts = {a.name: a for a in discover_accounts(ROOT / "params", {"dry-run-replay": "sma_crossover"})}
    assert {"dry-run", "dry-run-v35b", "alpaca-paper", "schwab-live", "dry-run-replay"} <= set(accounts)
    assert accounts["dry-run-replay"].notebook is None and not accounts["dry-run-replay"].editable
    live = accounts["schwab-live"]
    assert (live.notebook, live.mode, live.execution_time) == ("live", "online_live", "5min_before_close")
    choices = {c.mode: c for c in mode_choices(live, live_confirmed=False)}
    assert "Schwab has no paper account" in (choices["paper"].why or "")
    assert not choices["online_live"].allowed and "toolkit live confirm" in (choices["online_live"].why or "")
    assert (choices["online_live"].why or "").startswith("needs the live confirmation of schwab-live")  # the panel
    # writes "online_live: <why>"; a why that named the mode too read "online_live: online_live: ..."
    assert {c.mode for c in mode_choices(live, live_confirmed=True) if c.allowed} == {"online_live"}
    paper = {c.mode: c for c in mode_choices(accounts["alpaca-paper"], live_confirmed=True)}
    assert paper["paper"].allowed and not paper["offline_mock"].allowed
    assert not paper["online_live"].allowed and "confirm_live" in (paper["online_live"].why or "")


def test_an_unreadable_params_file_makes_a_view_only_account(tmp_path: Path) -> None:
    (tmp_path / "daily_dry_run").mkdir()
    (tmp_path / "daily_dry_run" / "bad.yaml").write_text("account: broken\ninitial_cash: -5\n")
    (account,) = discover_accounts(tmp_path, {})
    assert account.name == "broken" and not account.editable
    assert account.problem is not None and account.problem.startswith("initial_cash: got -5")


# ----------------------------------------------------------------- ledger


def test_change_stamp_moves_only_for_the_part_written(tmp_path: Path) -> None:
    with open_ledger(f"sqlite:///{tmp_path / 'l.sqlite'}") as ledger:
        assert set(ledger.change_stamp()) == set(STAMP_PARTS)

        def moved(write) -> set[str]:
            before = ledger.change_stamp()
            write()
            after = ledger.change_stamp()
            return {k for k in after if after[k] != before[k]}

        assert moved(lambda: ledger.set_kill_switch(True, "why", "me")) == {"state", "audit"}
        assert moved(lambda: ledger.set_override("execution_time", "open", "why", account="a")) == {"config",
                                                                                                    "audit"}
        assert moved(lambda: ledger.set_initial_cash("a", "offline_mock", 1000)) == {"audit"}
        assert moved(lambda: ledger.start_run("s|a|2018-06-01|close", mode="offline_mock", at=T)) == {"runs"}
        assert moved(lambda: ledger.finish_run("s|a|2018-06-01|close", "completed", at=T)) == {"runs"}
        assert moved(lambda: ledger.start_run("s|a|2018-06-01|close", mode="offline_mock", at=T)) == set()
        assert moved(lambda: ledger.record_order(client_order_id="o1", run_key=None, mode="offline_mock",
                                                 strategy="s", account="a", symbol="X", side="buy",
                                                 quantity=1, at=T)) == {"orders"}
        later = T + dt.timedelta(minutes=1)
        assert moved(lambda: ledger.record_fill("o1", "f1", 1, 10, at=later)) == {"orders", "fills", "positions"}
        assert moved(lambda: ledger.record_snapshot(account="a", mode="offline_mock", strategy="s",
                                                    session_date=dt.date(2018, 6, 1), equity=1000, cash=990,
                                                    at=T)) == {"snapshots"}


def test_run_accounts_and_the_last_runs(tmp_path: Path) -> None:
    with open_ledger(f"sqlite:///{tmp_path / 'l.sqlite'}") as ledger:
        for day in (1, 4, 5):
            ledger.start_run(f"s|a|2018-06-{day:02d}|close", mode="offline_mock", at=T)
        ledger.start_run("t|b|2018-06-01|open", mode="paper", at=T)
        assert ledger.run_accounts() == {"a": ("s", "offline_mock"), "b": ("t", "paper")}
        last = ledger.runs(account="a", limit=2)
        assert list(last["session_date"]) == [dt.date(2018, 6, 4), dt.date(2018, 6, 5)]  # oldest first
        assert len(ledger.runs(account="a")) == 3


# ----------------------------------------------------------------- import cost


def test_importing_toolkit_widgets_does_not_import_the_panel() -> None:
    code = ("import sys, toolkit.widgets; "
            "print(sorted(m for m in ('ipywidgets', 'pandas', 'sqlalchemy', 'toolkit.widgets.panel') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"
    code = "from toolkit.widgets import control_panel, ControlPanel; print(control_panel.__module__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "toolkit.widgets.panel"
