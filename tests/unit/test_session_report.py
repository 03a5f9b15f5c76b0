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
        assert pnl is not None
        assert float(a["total"].sum()) == pytest.approx(pnl, abs=0.05), r.session_date
        np.testing.assert_allclose(a["total"], a["holding"] + a["trading"] - a["fees"])
        checked += bool(len(r.fills)) and a["holding"].abs().sum() > 0
    assert checked >= 1  # at least one session with both a held position and trades


def test_headline_says_status_orders_and_pnl_before_any_table(sessions) -> None:
    results, snaps = sessions
    r = next(r for r in results[1:] if r.fills)
    text = R.headline_html(r, snaps, title="sma_crossover / report")
    assert text.startswith('<div class="tk-headline">') and "<table" not in text
    assert "<b>completed</b>" in text and f"{len(r.orders):,} sent" in text
    assert format_cell(R.session_pnl(r, snaps), "money") in text
    assert format_cell(float(r.snapshot.equity), "money") in text
    first = R.headline_html(results[0], snaps.iloc[:0], title="t")
    assert "no previous session in the ledger" in first


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
