"""A missing bar on real data: one day deleted from one symbol's file (issue 9, point 4).

Real daily bars of SPY, AAPL and AGG (``../shared/data/daily/qstrader``, 2007-2015),
with AAPL's 2012-07-26 deleted from a copy of its file: a session on which SPY (the
calendar) and AGG trade and the SMA crossover buys SPY back. Before the gap policy
(``toolkit/strategies/base.py``) this one missing day switched AAPL's SMA position off
for about 100 bars (its slow window) in the backtest, and the daily session refused to
trade anything on that day. Now:

* the report's notes name the symbol and the date;
* for every registered strategy (defaults; v3.5b with SPY as signal and AAPL as its
  leveraged leg), AAPL's membership differs from the run on the complete file on at
  most a couple of bars, and the other symbols' on none;
* a replay of the daily path completes every session; on the gap day it holds AAPL
  (no order, same quantity), trades SPY and says why.
"""

from __future__ import annotations

import datetime as dt
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest

from toolkit import params as tkparams
from toolkit.data.dataset import load_dataset
from toolkit.engine.replay import replay
from toolkit.ledger import open_ledger
from toolkit.strategies import registry

SYMBOLS = ["SPY", "AAPL", "AGG"]
GAP = "2012-07-26"
V35B = {"signal_symbol": "SPY", "core_long_symbol": "SPY", "leveraged_long_symbol": "AAPL",
        "allow_treasury": False, "sma_fast": 20, "sma_slow": 60}


def _folders(shared_data: Path, tmp: Path) -> tuple[Path, Path]:
    """Two folders of the same three files: complete, and AAPL without the GAP day."""
    src = shared_data / "daily" / "qstrader"
    whole, gapped = tmp / "whole", tmp / "gapped"
    for folder in (whole, gapped):
        folder.mkdir()
        for name in ("SPY.csv", "AGG.csv"):
            shutil.copy(src / name, folder / name)
    shutil.copy(src / "AAPL.csv", whole / "AAPL.csv")
    lines = (src / "AAPL.csv").read_text().splitlines(keepends=True)
    kept = [line for line in lines if not line.startswith(GAP)]
    assert len(kept) == len(lines) - 1, "the gap day is in the file exactly once"
    (gapped / "AAPL.csv").write_text("".join(kept))
    return whole, gapped


def _data(folder: Path, start: str = "2007-01-01", end: str = "2015-12-31") -> dict:
    return {"source": "csv", "path": str(folder), "symbols": SYMBOLS, "start": start, "end": end}


@pytest.fixture(scope="module")
def folders(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return _folders(shared_data, tmp_path_factory.mktemp("missing_bar"))


@pytest.fixture(scope="module")
def datasets(folders):
    out = []
    for folder in folders:
        p = tkparams.validate("backtest", {"data": _data(folder)})
        out.append(load_dataset(p.data, base_dir=Path.cwd()))
    return out


def test_the_report_names_the_symbol_and_the_date(datasets) -> None:
    whole, gapped = datasets
    assert not any("no bar" in n for n in whole.notes)
    (note,) = [n for n in gapped.notes if "no bar" in n]
    assert note.startswith("Warning: AAPL has no bar on 1 session") and GAP in note and "held" in note
    assert gapped.panel[("AAPL", "close")].isna().sum() == 1  # the day is a NaN row, not dropped


@pytest.mark.parametrize("name", sorted(registry.available()))
def test_one_missing_day_changes_positions_only_around_it(datasets, name) -> None:
    whole, gapped = datasets
    params = V35B if name == "hierarchical_adaptive_v3_5b" else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # multi_strategy's correlation warning
        ref = registry.create(name, params, symbols=SYMBOLS).decisions(whole.panel).weights
        got = registry.create(name, params, symbols=SYMBOLS).decisions(gapped.panel).weights
    day = got.index.get_loc(GAP + " 00:00:00+00:00")
    # On the missing day the weight is held from the day before.
    assert got["AAPL"].iloc[day] == got["AAPL"].iloc[day - 1]
    flips = ((got.to_numpy() > 0) != (ref.to_numpy() > 0)).sum(axis=0)
    per = dict(zip(got.columns, flips.tolist(), strict=True))
    assert per.pop("AAPL") <= 2, "AAPL's position differs for more than a couple of bars"
    assert all(v == 0 for v in per.values()), per


def test_the_daily_path_holds_the_symbol_and_trades_the_others(folders, tmp_path: Path) -> None:
    _, gapped = folders
    raw = {"strategy": "sma_crossover", "data": _data(gapped, "2011-06-01", "2012-12-31"),
           "account": "gap", "initial_cash": 100000, "guards": {"daily_loss_limit": None, "slippage_abort": None}}
    p = tkparams.validate("daily_dry_run", raw)
    ds = load_dataset(p.data, base_dir=Path.cwd())
    seen = {}

    def keep(res) -> None:
        seen[res.session_date] = res

    with open_ledger(f"sqlite:///{tmp_path / 'ledger.sqlite'}") as ledger:
        rp = replay(p, start=dt.date(2012, 7, 2), end=dt.date(2012, 8, 31), ledger=ledger, data=ds, progress=keep)
    assert set(rp.statuses) == {"completed"}
    res = seen[dt.date.fromisoformat(GAP)]
    assert res.decision is not None and res.decision.rebalance
    orders = {o.symbol: o.side for o in res.orders}
    assert orders.get("SPY") == "buy" and "AAPL" not in orders
    assert res.current_positions.get("AAPL", 0) > 0
    text = " ".join(res.messages)
    assert f"AAPL has no bar on {GAP}" in text and "position held, no order for it" in text
    # AAPL's quantity over the gap day is what it was the day before.
    day_before = seen[dt.date(2012, 7, 25)]
    assert res.current_positions["AAPL"] == seen[dt.date(2012, 7, 27)].current_positions["AAPL"]
    assert day_before.snapshot is not None and res.snapshot is not None
    assert np.isfinite(float(res.snapshot.equity))
