"""The dry-run/live session report on real sessions: a few consecutive dry-run sessions in a SQLite ledger.

Positions and cash before and after reconcile with the ledger's previous snapshot, the
P&L attribution per symbol adds up to the equity change the ledger recorded, the
history chart shows the ledger's last 30 snapshots, and short time axes tick in days.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from toolkit import params as tkparams
from toolkit.data.dataset import load_dataset
from toolkit.engine import daily
from toolkit.ledger import open_ledger
from toolkit.report import session_report as R
from toolkit.report.html_table import format_cell

RAW = {
    "strategy": "sma_crossover",
    "strategy_params": {"fast": 5, "slow": 20},
    "data": {"source": "sample", "symbols": ["NASDAQ", "SP500"], "start": "2017-06-01", "end": "2018-12-31"},
    "account": "report",
    "costs": {"fees_bps": 10, "slippage_bps": 0},
    "guards": {"daily_loss_limit": None},
}
#: Enough consecutive sessions for trades both ways and a holding P&L.
DATES = pd.bdate_range("2018-05-01", "2018-06-29")


@pytest.fixture(scope="module")
def sessions(tmp_path_factory):
    db = f"sqlite:///{tmp_path_factory.mktemp('session-report') / 'ledger.sqlite'}"
    base = tkparams.validate("daily_dry_run", {**RAW, "db_url": db})
    data = load_dataset(base.data, base_dir=Path.cwd())
    results = []
    for d in DATES:
        p = tkparams.validate("daily_dry_run", {**RAW, "db_url": db, "as_of": d.strftime("%Y-%m-%d")})
        r = daily.run_daily(p, data=data)
        if r.status == "completed":
            results.append(r)
    with open_ledger(db) as led:
        snaps = led.snapshots(account="report", mode=base.mode, strategy="sma_crossover")
        snaps.attrs["initial_cash"] = float(led.initial_cash("report", base.mode))
    return results, snaps


def _prior(snaps: pd.DataFrame, r) -> pd.Series | None:
    dates = pd.to_datetime(snaps["session_date"]).dt.date
    prior = snaps[dates < r.session_date]
    return None if prior.empty else prior.iloc[-1]


def test_sessions_traded(sessions) -> None:
    results, snaps = sessions
    assert len(results) >= 35 and len(snaps) == len(results)
    assert sum(len(r.fills) for r in results) >= 4


def test_cash_before_is_the_previous_snapshot_and_value_after_is_the_equity(sessions) -> None:
    results, snaps = sessions
    for r in results[1:]:
        t = R.positions_cash_table(r)
        cash = t[t["item"] == "cash"].iloc[0]
        prior = _prior(snaps, r)
        assert prior is not None
        assert cash["value_before"] == pytest.approx(Decimal(str(prior["cash"])), abs=Decimal("0.01"))
        assert cash["value_after"] == r.snapshot.cash
        total_after = sum((v for v in t["value_after"] if v is not None), Decimal(0))
        assert float(total_after) == pytest.approx(float(r.snapshot.equity), abs=0.01)


def test_pnl_attribution_adds_up_to_the_ledger_equity_change(sessions) -> None:
    results, snaps = sessions
    checked = 0
    for r in results[1:]:
        a = R.pnl_attribution(r)
        pnl = R.session_pnl(r, snaps)
        assert pnl is not None and pnl[1] == "previous session"
        assert float(a["total"].sum()) == pytest.approx(pnl[0], abs=0.05), r.session_date
        np.testing.assert_allclose(a["total"], a["holding"] + a["trading"] - a["fees"])
        checked += bool(len(r.fills)) and a["holding"].abs().sum() > 0
    assert checked >= 1  # at least one session with both a held position and trades


def test_headline_says_status_orders_and_pnl_before_any_table(sessions) -> None:
    results, snaps = sessions
    r = next(r for r in results[1:] if r.fills)
    text = R.headline_html(r, snaps, title="sma_crossover / report")
    assert text.startswith('<div class="tk-headline">') and "<table" not in text
    assert "<b>completed</b>" in text and f"{len(r.orders):,} sent" in text
    pnl = R.session_pnl(r, snaps)
    assert pnl is not None and format_cell(pnl[0], "money") in text
    assert format_cell(float(r.snapshot.equity), "money") in text
    assert r.message not in text and "completed:" not in text  # the engine's raw message stays out


def test_the_first_session_p_and_l_is_against_the_initial_cash_as_the_attribution_and_the_ledger_say(
        sessions) -> None:
    """Issue 13 review: the first session said "no previous session" beside a -99.07 attribution total."""
    results, snaps = sessions
    first = results[0]
    pnl = R.session_pnl(first, snaps)
    assert pnl is not None and pnl[1] == "initial cash (first session)"
    initial = snaps.attrs["initial_cash"]
    assert pnl[0] == pytest.approx(float(first.snapshot.equity) - initial, abs=0.01)
    assert pnl[0] == pytest.approx(float(R.pnl_attribution(first)["total"].sum()), abs=0.05)
    text = R.headline_html(first, snaps.iloc[:0], title="t")
    assert f"{format_cell(pnl[0], 'money')} ({format_cell(first.snapshot.daily_return, 'percent')})" in text
    assert "against the initial cash (first session)" in text


def test_history_shows_the_last_30_snapshots_on_a_day_axis(sessions) -> None:
    _, snaps = sessions
    fig = R.history_figure(snaps, title="t")
    tail = snaps.tail(R.HISTORY_SESSIONS)
    np.testing.assert_allclose(np.asarray(fig.data[0].y, dtype=float), tail["equity"].astype(float))
    np.testing.assert_allclose(np.asarray(fig.data[1].y, dtype=float), tail["drawdown"].astype(float))
    assert len(fig.data[0].x) == R.HISTORY_SESSIONS
    assert fig.layout.xaxis.tickformat == "%Y-%m-%d" and fig.layout.xaxis.dtick >= 86_400_000


def test_one_session_gets_a_day_range_not_microsecond_ticks(sessions) -> None:
    _, snaps = sessions
    fig = R.history_figure(snaps.head(1), title="t")
    axis = fig.layout.xaxis
    assert axis.dtick == 86_400_000 and axis.tickformat == "%Y-%m-%d" and axis.type == "date"
    day = pd.Timestamp(snaps["session_date"].iloc[0])
    assert list(axis.range) == [f"{day - pd.Timedelta(days=1):%Y-%m-%d}", f"{day + pd.Timedelta(days=1):%Y-%m-%d}"]


def test_day_axis_ticks_a_whole_number_of_days() -> None:
    days = pd.bdate_range("2018-01-01", periods=60)
    ax = R.day_axis(days, max_ticks=8)
    assert ax["dtick"] % 86_400_000 == 0 and ax["dtick"] // 86_400_000 == 11  # 85 days / 8 ticks, rounded up
    assert R.day_axis([])["dtick"] == 86_400_000


def test_one_session_history_axes_are_padded_and_the_drawdown_capped(sessions) -> None:
    """Issue 13 review: one session read "99.999k, 99.9995k, 100k" and a drawdown axis of -100%..+100%."""
    _, snaps = sessions
    fig = R.history_figure(snaps.head(1), title="t")
    eq = float(snaps["equity"].iloc[0])
    lo, hi = fig.layout.yaxis.range
    assert lo <= eq * 0.995 and hi >= eq * 1.005 and fig.layout.yaxis.tickformat == ",.0f"
    assert list(fig.layout.yaxis2.range) == [R.drawdown_range(snaps["drawdown"].head(1))[0], 0.0]
    assert R.drawdown_range([0.0, -0.0005])[0] == -0.01
    assert R.drawdown_range([-0.2, -0.05]) == [pytest.approx(-0.22), 0.0]
    assert R.equity_range([100_000.0]) == [pytest.approx(99_500.0), pytest.approx(100_500.0)]
    lo, hi = R.equity_range([90_000.0, 110_000.0])
    assert lo == pytest.approx(88_000.0) and hi == pytest.approx(112_000.0)


def test_format_quantity_writes_whole_numbers_without_decimals_and_keeps_every_lot_digit() -> None:
    assert R.format_quantity(Decimal("14.000000")) == "14"
    assert R.format_quantity(1200.0) == "1,200"
    assert R.format_quantity(Decimal("0.00012345")) == "0.00012345"
    assert R.format_quantity(Decimal("-1234.5000")) == "-1,234.5"
    assert R.format_quantity(None) == "\u2014" and R.format_quantity(float("nan")) == "\u2014"


def test_link_headers_links_each_label_and_refuses_an_unknown_one() -> None:
    from toolkit.report.html_table import Column, html_table

    t = html_table(pd.DataFrame({"a": [0.1]}), [Column("a", "daily return", "percent")])
    out = R.link_headers(t, {"daily return": "session.daily_return"})
    assert '<a href="#session-daily-return">daily return</a>' in out
    with pytest.raises(ValueError, match="got 'nope'"):
        R.link_headers(t, {"nope": "session.equity"})
    with pytest.raises(KeyError, match="session glossary: got 'x'"):
        R.session_anchor("x")


def test_every_session_glossary_anchor_is_a_row_of_the_glossary() -> None:
    g = R.session_glossary_html()
    for key in R.SESSION_GLOSSARY:
        assert f'<tr id="{R.session_anchor(key)}">' in g
    assert "<h2>Glossary</h2>" in g and "<h2>" not in R.session_glossary_html(title=None)


def test_the_session_tables_render_every_cell_formatted(sessions) -> None:
    """Every report table of a traded session through html_table: no raw float, no None, no blank cell."""
    from support.report_checks import bad_cells, dangling_anchors, table_cells

    from toolkit.report import session_tables as T

    results, snaps = sessions
    r = next(r for r in results[1:] if r.fills and r.current_positions)
    parts = [R.headline_html(r, snaps, title="t"), T.context_html(r.decision.context),
             T.decision_section_html(r.decision), T.portfolio_html(r),
             R.positions_cash_html(r), R.attribution_html(r), T.prices_html(r), T.orders_html(r), T.fills_html(r),
             R.history_html(snaps), T.guard_audit_html(pd.DataFrame(columns=["at", "actor", "action", "detail"])),
             R.session_glossary_html()]
    page = "".join(parts)
    assert len(table_cells(page)) > 150
    assert not bad_cells(page), bad_cells(page)[:10]
    assert not dangling_anchors(page)
    assert "Guard audit log: none" in page
    fill = r.fills[0]
    assert T.format_time(fill.at).endswith((" EDT", " EST")) and format_cell(float(fill.price), "money") in page


def test_the_session_decision_reads_weights_in_percent_and_indicators_at_four_digits(sessions) -> None:
    """The audit: a decision's weights read "0", its indicators "7384.99" beside "0.1235" (uneven precision)."""
    import re

    from support.report_checks import table_cells

    from toolkit.report import decision_table as D
    from toolkit.report import session_tables as T

    results, _ = sessions
    r = next(r for r in results if r.decision is not None and 0 < sum(r.decision.target_weights.values()) < 1)
    d = r.decision
    cells = table_cells(T.decision_section_html(d))
    assert cells[:2] == ["field", "value"]
    rows = dict(zip(cells[2::2], cells[3::2], strict=True))
    for sym, w in d.target_weights.items():
        assert rows[f"target weight {sym}"] == f"{w * 100:.2f}%"
    assert "50.00%" in rows.values()  # one of two symbols held: half the book, not "0.5" or "0"
    assert rows["rebalance"] == ("yes" if d.rebalance else "no")
    for name, value in d.context.items():  # SMAs of the two indices, in the thousands: whole, separated
        label = D.column_label(name)
        assert label.startswith("SMA ") and "_" not in label  # "SMA fast NASDAQ", not "sma_fast_NASDAQ"
        assert re.fullmatch(r"\d,\d{3}", rows[label]) and rows[label] == f"{value:,.0f}", (name, value)
    assert f"Decision on the bar of {d.timestamp:%Y-%m-%d}." in T.decision_section_html(d)
    assert T.decision_section_html(None) == "<p>No decision this time (see the status above).</p>"


def test_format_time_and_context_values() -> None:
    from toolkit.report import session_tables as T

    assert T.format_time(pd.Timestamp("2018-04-05 20:00", tz="UTC")) == "2018-04-05 16:00 EDT"
    assert T.format_time(pd.Timestamp("2018-01-05 21:00")) == "2018-01-05 16:00 EST"  # naive = UTC
    assert T.format_time(None) == "\u2014"
    assert T.format_context_value(7076.549805) == "7,076.55"
    assert T.format_context_value(0.991699) == "0.9917"
    assert T.format_context_value(3.0) == "3" and T.format_context_value(True) == "yes"
    assert T.format_context_value({"a": 0.123456, "b": "x"}) == "a: 0.1235, b: x"
    assert T.format_context_value("") == "\u2014"


def test_title_names_strategy_account_and_session_not_the_run_key(sessions) -> None:
    """The review of issue 13: the title was the raw run key ``sma_crossover|dry-run|2018-10-18|close``."""
    results, snaps = sessions
    r = results[-1]
    title = R.session_title("sma_crossover", "report", r.session_date, r.execution_time)
    assert title == f"sma_crossover \u00b7 account report \u00b7 session {r.session_date:%Y-%m-%d} (close)"
    assert "|" not in title and R.session_title("s", "a") == "s \u00b7 account a"
    assert f"<h3 style=\"margin:.2em 0\">{title}</h3>" in R.headline_html(r, snaps, title=title)


def test_counts_are_written_with_the_right_plural(sessions) -> None:
    """The review of issue 13: "1 fills" and "session(s)"."""
    assert (R.plural(1, "fill"), R.plural(0, "fill"), R.plural(2, "session")) == ("1 fill", "0 fills", "2 sessions")
    results, snaps = sessions
    one = next(r for r in results if len(r.fills) == 1)
    text = R.headline_html(one, snaps, title="t")
    assert "(1 fill)" in text and "1 fills" not in text
    fig = R.history_figure(snaps.iloc[:1], title="t")
    assert fig.layout.title.text == "t: last 1 session from the ledger"


def test_weight_before_is_against_the_equity_before_the_session(sessions) -> None:
    """The review of issue 13: weight before divided the pre-trade value by the post-trade equity."""
    from toolkit.report import session_tables as T

    results, _ = sessions
    checked = 0
    for r in results:
        if not r.fills or not r.current_positions:
            continue
        pc = R.positions_cash_table(r).set_index("item")
        before_total = float(sum(pc["value_before"]))
        table = T.portfolio_table(r).set_index("symbol")
        for sym, q in r.current_positions.items():
            expected = float(q * r.prices[sym]) / before_total
            assert table.loc[sym, "weight_before"] == pytest.approx(expected, rel=1e-12)
            assert table.loc[sym, "weight_before"] != pytest.approx(float(q * r.prices[sym]) / float(r.snapshot.equity),
                                                                    rel=1e-9)  # fees paid: the two equities differ
            checked += 1
    assert checked >= 1
    weight = R.SESSION_GLOSSARY["session.weight"]
    assert "equity before the session" in weight.definition and "equity before" in weight.formula


def test_the_session_glossary_lists_only_the_figures_shown_left_aligned() -> None:
    """The review of issue 13: the dry-run glossary defined parity figures it never shows; its prose was right-aligned."""
    dry = R.session_glossary_html(title=None, keys=R.DRY_RUN_GLOSSARY_KEYS)
    assert "parity-" not in dry and "Equity gap" not in dry and "session-slippage-bps" not in dry
    for key in R.DRY_RUN_GLOSSARY_KEYS:
        assert f'<tr id="{R.session_anchor(key)}">' in dry
    live = R.session_glossary_html(title=None, keys=R.LIVE_GLOSSARY_KEYS)
    assert all(f'<tr id="{R.session_anchor(k)}">' in live for k in R.SESSION_GLOSSARY)
    assert "text-align:left" in dry and 'class="tk-glossary"' in dry
    with pytest.raises(KeyError):
        R.session_glossary_html(keys=["session.nope"])


def test_the_ledger_line_names_the_resolved_ledger_with_the_password_hidden(monkeypatch, tmp_path) -> None:
    """The review of issue 13: the line named the rule ($TOOLKIT_DB_URL, else ...), not the ledger used."""
    p = tkparams.validate("daily_dry_run", RAW)
    monkeypatch.setenv("TOOLKIT_DB_URL", f"sqlite:///{tmp_path / 'used.sqlite'}")
    assert f"`sqlite:///{tmp_path / 'used.sqlite'}`" in daily.describe_ledger(p)
    monkeypatch.setenv("TOOLKIT_DB_URL", "postgresql+psycopg://ann:s3cret@db.example/ledger")
    line = daily.describe_ledger(p)
    assert "s3cret" not in line and "`postgresql+psycopg://ann:***@db.example/ledger`" in line


def test_the_appendix_shows_every_parameter_the_session_ran_with_overrides_marked(tmp_path) -> None:
    """The review of issue 13: the dry-run report had no parameters (guards, costs) and no data description."""
    import re

    from support.report_checks import table_cells

    from toolkit.report import session_appendix as A

    db = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    with open_ledger(db) as led:
        led.set_override("guards.max_position_weight", 0.9, "cap the book", actor="ann", account="report")
    p = tkparams.validate("daily_dry_run", {**RAW, "db_url": db, "as_of": "2018-06-01"})
    r = daily.run_daily(p)
    assert [o.key for o in r.overrides] == ["guards.max_position_weight"]
    text = A.session_params_html("daily_dry_run", p, r.overrides)
    groups = re.findall(r"<summary><b>([^<]+)</b> \((\d+) parameters", text)
    assert [g for g, _ in groups][:5] == ["run", "strategy_params", "data", "costs", "guards"]
    cells = table_cells(text)
    rows = dict(zip(cells[::2], cells[1::2], strict=False))
    assert rows["fast"] == "5" and rows["fees_bps"] == "10"
    base = p.guards.max_position_weight
    assert rows["max_position_weight"] == f"0.9 (override by ann; params file: {'not set' if base is None else base})"
    assert "1 overridden" in text
    assert "(override" not in A.session_params_html("daily_dry_run", p, ())  # no override, no mark
    data = A.session_data_html(r.dataset)
    assert "NASDAQ" in data and "SP500" in data and "2017-06-01" in data
    assert A.session_data_html(None).startswith("<p>No data")
