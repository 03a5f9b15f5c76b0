"""The dry-run report's 30-session history against independent references, on a real archived run.

A SQLite ledger gets 43 consecutive dry-run sessions (May and June 2018, SMA 5/20 on
NASDAQ and the S&P 500, which trades both ways and draws down) through the engine,
then ``toolkit run daily_dry_run`` (papermill) runs the next session on it and archives
its report. From the ledger's equity series alone (and the initial cash) the test
rebuilds, with empyrical-reloaded and quantstats (test-only):

* each session's return and cumulative return (empyrical ``simple_returns`` with the
  initial cash as the first value, ``cum_returns``), as the ledger records them;
* the drawdown series (quantstats ``to_drawdown_series``: the initial cash is the first
  peak) and the max drawdown (empyrical ``max_drawdown``);
* and checks the report draws exactly the last 30 of them: the history figure's equity
  and drawdown, the history table's returns and drawdowns, the headline's drawdown.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest
from support.report_checks import plotly_figures, table_cells

from toolkit import params as tkparams
from toolkit.data.dataset import load_dataset
from toolkit.engine import daily
from toolkit.ledger import open_ledger
from toolkit.params import repo_root
from toolkit.runner import run_notebook

empyrical = pytest.importorskip("empyrical", reason="empyrical-reloaded is a test dependency (make setup)")

ROOT = repo_root()
PARAMS = ROOT / "params/daily_dry_run/sma_crossover.yaml"
OVERRIDES = {"strategy_params": {"fast": 5, "slow": 20}, "data.symbols": ["NASDAQ", "SP500"],
             "data.start": "2017-06-01", "guards.daily_loss_limit": None}
#: The business days before the archived run's own session (2018-07-02): 43 sessions, Memorial Day closed.
DATES = pd.bdate_range("2018-05-01", "2018-06-29")
ARCHIVED_SESSION = "2018-07-02"


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("session-history")
    db = f"sqlite:///{tmp / 'ledger.sqlite'}"
    base = tkparams.load("daily_dry_run", PARAMS, {**OVERRIDES, "db_url": db})
    data = load_dataset(base.data, base_dir=ROOT)
    for d in DATES:
        p = tkparams.load("daily_dry_run", PARAMS, {**OVERRIDES, "db_url": db, "as_of": d.strftime("%Y-%m-%d")})
        daily.run_daily(p, data=data)
    run = run_notebook("daily_dry_run", PARAMS, {**OVERRIDES, "db_url": db, "as_of": ARCHIVED_SESSION},
                       outputs_root=tmp / "out")
    assert run.status == "completed", run.error
    with open_ledger(db) as led:
        snaps = led.snapshots(account=base.account, mode=base.mode, strategy=base.strategy)
        initial = float(led.initial_cash(base.account, base.mode))
    return snaps, initial, (run.run_dir / "report.html").read_text(encoding="utf-8")


def _references(snaps: pd.DataFrame, initial: float) -> pd.DataFrame:
    """Returns, cumulative returns and drawdowns rebuilt from the ledger's equity and the initial cash."""
    qs = pytest.importorskip("quantstats", reason="quantstats is a test dependency (make setup)")
    warnings.filterwarnings("ignore", module="quantstats")
    days = pd.DatetimeIndex(pd.to_datetime(snaps["session_date"]))
    equity = pd.Series(snaps["equity"].astype(float).to_numpy(), index=days)
    with_start = pd.concat([pd.Series([initial], index=[days[0] - pd.Timedelta(days=1)]), equity])
    r = empyrical.simple_returns(with_start)
    assert len(r) == len(equity)
    return pd.DataFrame({
        "equity": equity,
        "daily_return": r,
        "cumulative_return": empyrical.cum_returns(r),
        "drawdown": qs.stats.to_drawdown_series(r),
    })


def test_ledger_returns_and_drawdowns_equal_empyrical_and_quantstats(history):
    snaps, initial, _ = history
    ref = _references(snaps, initial)
    # 43 trading days (Memorial Day, 28 May, is closed: no snapshot) and the archived session.
    assert len(ref) == 44 and pd.Timestamp("2018-05-28") not in ref.index and initial == 100_000
    for col in ("daily_return", "cumulative_return", "drawdown"):
        np.testing.assert_allclose(snaps[col].astype(float).to_numpy(), ref[col].to_numpy(), rtol=1e-9, atol=1e-12,
                                   err_msg=col)
    max_dd = float(empyrical.max_drawdown(ref["daily_return"]))
    assert float(snaps["drawdown"].min()) == pytest.approx(max_dd, rel=1e-9)
    # A history that moved: losses, gains, a drawdown under way and a new high.
    assert max_dd < -0.01 and (ref["daily_return"] > 0).any() and (ref["drawdown"] == 0).any()


def test_report_draws_the_last_30_sessions_of_the_references(history):
    snaps, initial, text = history
    ref = _references(snaps, initial).tail(30)
    figs = [f for f in plotly_figures(text) if any(t.get("name") == "drawdown" for t in f["data"])]
    assert len(figs) == 1
    traces = {t["name"]: t for t in figs[0]["data"]}
    assert [str(x)[:10] for x in traces["equity"]["x"]] == [d.strftime("%Y-%m-%d") for d in ref.index]
    np.testing.assert_allclose(np.asarray(traces["equity"]["y"], dtype=float), ref["equity"], rtol=1e-12)
    np.testing.assert_allclose(np.asarray(traces["drawdown"]["y"], dtype=float), ref["drawdown"], rtol=1e-9,
                               atol=1e-12)
    # The history table, newest first: each session's return, cumulative return and drawdown as percentages.
    cells = table_cells(text)
    for day, row in ref.iterrows():
        date = day.strftime("%Y-%m-%d")
        at = cells.index(date)
        shown = [float(c.rstrip("%").replace(",", "")) / 100 for c in cells[at + 3:at + 6]]
        np.testing.assert_allclose(shown, row[["daily_return", "cumulative_return", "drawdown"]].astype(float),
                                   atol=0.00005 + 1e-12, err_msg=date)  # shown to 2 decimals of a percent
    # The headline's drawdown is the archived session's, the last of the series.
    headline = text[text.index('class="tk-headline"'):]
    shown_dd = re.search(r"drawdown</a>\s*(-?[\d.]+)%", headline)
    assert shown_dd is not None
    assert float(shown_dd.group(1)) / 100 == pytest.approx(ref["drawdown"].iloc[-1], abs=0.00005 + 1e-12)
