"""Issue 9 point 5: a replay checks the whole range before its first write.

Before: ``toolkit replay`` after a dry run on the default ledger wrote 500 back-dated
sessions into the dry run's account, then stopped with "at: got '2018-04-13T20:00:00+00:00';
allowed: a time at or after the last market update 2018-06-01..." (exit 2, the 500
sessions kept). Now every check below fails before anything is written, and the
command replays into its own account by default.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from toolkit import params as tkparams
from toolkit.data.dataset import load_dataset
from toolkit.engine.replay import check_replay, replay, replay_params
from toolkit.engine.result import SessionError
from toolkit.errors import ParamsError
from toolkit.ledger import open_ledger

RAW = {
    "strategy": "sma_crossover",
    "strategy_params": {"fast": 10, "slow": 30},
    "data": {"source": "sample", "symbols": ["NASDAQ"], "start": "2017-01-03", "end": "2018-12-31"},
    "account": "acct",
    "costs": {"fees_bps": 10, "slippage_bps": 0},
    "guards": {"daily_loss_limit": None},
}


@pytest.fixture(scope="module")
def dataset():
    return load_dataset(tkparams.validate("daily_dry_run", RAW).data, base_dir=Path.cwd())


def _counts(path: Path) -> dict[str, int]:
    """Rows per table (what 'nothing was written' is checked against)."""
    con = sqlite3.connect(path)
    try:
        tables = [r[0] for r in con.execute("select name from sqlite_master where type='table'")]
        return {t: con.execute(f'select count(*) from "{t}"').fetchone()[0] for t in tables}
    finally:
        con.close()


@pytest.fixture
def ledger_path(tmp_path: Path, dataset) -> Path:
    """A ledger whose account ``acct`` ran the session of 2018-06-01 (as a dry run would)."""
    path = tmp_path / "l.sqlite"
    p = tkparams.validate("daily_dry_run", RAW)
    with open_ledger(f"sqlite:///{path}") as ledger:
        replay(p, start="2018-06-01", end="2018-06-01", ledger=ledger, data=dataset)
    return path


def _replay(path: Path, data, start: str, end: str, **update):
    p = tkparams.validate("daily_dry_run", {**RAW, **update})
    with open_ledger(f"sqlite:///{path}") as ledger:
        return replay(p, start=start, end=end, ledger=ledger, data=data)


def test_back_dating_an_account_is_refused_before_any_write(ledger_path: Path, dataset) -> None:
    before = _counts(ledger_path)
    with pytest.raises(ParamsError, match=r"--start.*already holds sessions up to 2018-06-01.*nothing was written"):
        _replay(ledger_path, dataset, "2017-03-01", "2018-12-31")
    assert _counts(ledger_path) == before


def test_re_running_and_extending_the_range_are_fine(ledger_path: Path, dataset) -> None:
    again = _replay(ledger_path, dataset, "2018-06-01", "2018-06-01")
    assert again.statuses == {"already_done": 1}
    longer = _replay(ledger_path, dataset, "2018-06-01", "2018-06-29")  # 06-01 done, the rest new
    assert longer.statuses["already_done"] == 1 and longer.statuses["completed"] == 20


def test_another_account_on_the_same_ledger_replays_the_whole_range(ledger_path: Path, dataset) -> None:
    res = _replay(ledger_path, dataset, "2017-03-01", "2018-12-31", account="acct-replay")
    assert res.statuses == {"completed": len(res.snapshots)} and len(res.snapshots) > 400


@pytest.mark.parametrize(("start", "end", "field", "allowed"), [
    ("2016-06-01", "2017-06-30", "--start", "its first bar is 2017-01-03"),
    ("2018-06-01", "2019-03-01", "--end", "its last bar is 2018-12-31"),
    ("2018-06-01", "2018-05-01", "--end", "on or after --start"),
])
def test_a_range_outside_the_data_is_refused(tmp_path: Path, dataset, start, end, field, allowed) -> None:
    path = tmp_path / "l.sqlite"
    with pytest.raises(ParamsError, match=allowed) as info:
        _replay(path, dataset, start, end)
    assert info.value.field == field
    assert sum(_counts(path).values()) <= 1  # the alembic version row of the new ledger, nothing else


def test_as_of_must_be_left_to_the_replay(tmp_path: Path, dataset) -> None:
    with pytest.raises(ParamsError, match="as_of.*null"):
        _replay(tmp_path / "l.sqlite", dataset, "2018-06-01", "2018-06-29", as_of="2018-06-15")


def test_a_bad_bar_anywhere_in_the_range_stops_before_the_first_session(tmp_path: Path, dataset) -> None:
    panel = dataset.panel.copy()
    panel.loc[pd.Timestamp("2018-11-01", tz="UTC"), ("NASDAQ", "close")] = np.nan
    path = tmp_path / "l.sqlite"
    with pytest.raises(SessionError, match=r"2018-11-01: NASDAQ close on 2018-11-01 .*nothing was written"):
        _replay(path, panel, "2018-01-02", "2018-12-31")
    assert sum(_counts(path).values()) <= 1


def test_the_kill_switch_on_is_refused_before_any_write(tmp_path: Path, dataset) -> None:
    path = tmp_path / "l.sqlite"
    with open_ledger(f"sqlite:///{path}") as ledger:
        ledger.set_kill_switch(True, "outage")
    before = _counts(path)
    with pytest.raises(SessionError, match=r"kill switch .* is ON \(outage\)"):
        _replay(path, dataset, "2018-01-02", "2018-12-31")
    assert _counts(path) == before


def test_replay_params_default_to_an_own_account() -> None:
    p = tkparams.validate("daily_dry_run", RAW)
    assert replay_params(p).account == "acct-replay"
    assert replay_params(p, "mine").account == "mine"
    with pytest.raises(ParamsError, match="--account"):
        replay_params(p, "a|b")


def test_check_replay_returns_the_sessions(tmp_path: Path, dataset) -> None:
    from toolkit.engine.market import MarketCursor
    from toolkit.strategies import registry

    p = tkparams.validate("daily_dry_run", RAW)
    strategy = registry.create(p.strategy, p.strategy_params, symbols=p.data.symbols)
    with open_ledger(f"sqlite:///{tmp_path / 'l.sqlite'}") as ledger:
        days = check_replay(p, ledger=ledger, market=MarketCursor(dataset.panel), strategy=strategy,
                            start=dt.date(2018, 12, 24), end=dt.date(2018, 12, 31))
    assert [d.date().isoformat() for d in days] == ["2018-12-24", "2018-12-26", "2018-12-27", "2018-12-28",
                                                    "2018-12-31"]
