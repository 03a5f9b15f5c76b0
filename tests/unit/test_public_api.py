"""The facade ``import toolkit`` gives: a few verbs, cheap to import, no side effects."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import toolkit
from toolkit.errors import ParamsError


def test_import_toolkit_touches_nothing_outside_it():
    code = (
        "import sys, json; before = set(sys.modules); import toolkit; "
        "print(json.dumps(sorted(set(sys.modules) - before)))"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    added = json.loads(out)
    foreign = [m for m in added if not m.startswith("toolkit") and m.split(".")[0] not in sys.stdlib_module_names]
    assert foreign == [], f"import toolkit loads {foreign}"
    assert "rfc3987_syntax" not in added


def test_every_public_name_resolves():
    for name in toolkit.__all__:
        assert getattr(toolkit, name) is not None, name
    assert toolkit.ToolkitError is ParamsError.__mro__[1]
    with pytest.raises(AttributeError):
        toolkit.no_such_name  # noqa: B018


def test_load_params_from_a_file_a_dict_and_overrides():
    from_file = toolkit.load_params("backtest", "params/backtest/sma_crossover.yaml", ["strategy_params.fast=10"])
    from_dict = toolkit.load_params("backtest", {"strategy": "sma_crossover"}, {"strategy_params.fast": 10})
    assert from_file.strategy_params["fast"] == from_dict.strategy_params["fast"] == 10
    with pytest.raises(ParamsError, match="strategy_params.fast"):
        toolkit.load_params("backtest", {"strategy_params": {"fast": 0}})


def test_run_backtest_accepts_a_path_or_params():
    from toolkit.backtest.job import run_backtest_job

    p = toolkit.load_params("backtest", "params/backtest/sma_crossover.yaml")
    assert toolkit.run_backtest("params/backtest/sma_crossover.yaml").metrics == run_backtest_job(p).metrics


def test_replay_runs_the_daily_loop_in_its_own_ledger(tmp_path):
    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    res = toolkit.replay("params/daily_dry_run/sma_crossover.yaml", "2018-10-01", "2018-12-31", db_url=url)
    again = toolkit.replay("params/daily_dry_run/sma_crossover.yaml", "2018-10-01", "2018-12-31", db_url=url)
    assert res.sessions == again.sessions > 50
    assert res.statuses == {"completed": res.sessions}
    assert again.statuses == {"already_done": res.sessions}
    assert again.trades.equals(res.trades) and not res.problems
