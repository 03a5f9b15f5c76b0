"""Every registered strategy has a params file in ``params/backtest/`` that runs on the bundled data.

A user's first hour starts by copying one of these files, so each must validate and
run as shipped. The test is parametrised over the strategy registry: registering a
strategy without ``params/backtest/<name>.yaml`` fails here. Every other file in the
folder is run too (those reading ``../shared/data`` skip without it).
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import pytest
import yaml

import toolkit
from toolkit.strategies import available

ROOT = Path(__file__).resolve().parents[2]
FOLDER = ROOT / "params" / "backtest"
SHARED = ROOT.parent / "shared"


def _needs_shared_data(path: Path) -> bool:
    return "../shared/" in path.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", sorted(available()))
def test_every_registered_strategy_has_a_backtest_params_file(name: str) -> None:
    path = FOLDER / f"{name}.yaml"
    assert path.is_file(), f"strategy {name!r} has no params/backtest/{name}.yaml (a file a user can copy)"
    assert not _needs_shared_data(path), "the strategy's own file must run on the bundled data alone"
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert raw["strategy"] == name
    assert "#" in path.read_text(encoding="utf-8"), "explain the blocks with comments"


@pytest.mark.parametrize("path", sorted(FOLDER.glob("*.yaml")), ids=lambda p: p.name)
def test_each_backtest_params_file_validates_and_runs(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if _needs_shared_data(path) and not (SHARED / "data").is_dir():
        pytest.skip("../shared/data is absent (a fresh clone): this file reads real data from it")
    monkeypatch.chdir(ROOT)  # the paths a user types are relative to the project
    relative = str(path.relative_to(ROOT))
    params = toolkit.load_params("backtest", relative)
    assert params.strategy == yaml.safe_load(path.read_text(encoding="utf-8"))["strategy"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a shipped example warns about nothing (e.g. correlated sub-strategies)
        report = toolkit.run_backtest(relative)
    m = report.metrics
    assert m["n_trades"] > 0, "an example that never trades shows nothing"
    assert math.isfinite(m["sharpe"]) and m["final_equity"] > 0
