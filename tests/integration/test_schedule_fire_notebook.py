"""A firing runs the real dry-run notebook for its session (papermill, archive, ledger), on the early-close line.

The clock starts at 12:50 New York on 2018-11-23 (the day after Thanksgiving, closing at
13:00); the entry's sleep moves it to 12:55, the exact ``5min_before_close`` instant,
and the notebook runs that session through ``toolkit run``'s runner.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import pandas as pd
import yaml

from toolkit.ops.fire import fire
from toolkit.ops.schedule_target import load_target
from toolkit.ops.scheduled_session import run_scheduled_session


def test_a_firing_waits_for_the_early_close_instant_and_runs_the_notebook(tmp_path: Path) -> None:
    from toolkit.ledger import open_ledger

    folder = tmp_path / "daily_dry_run"
    folder.mkdir()
    params = folder / "sched.yaml"
    params.write_text(yaml.safe_dump({
        "strategy": "sma_crossover", "strategy_params": {"fast": 10, "slow": 30}, "account": "sched-nb",
        "data": {"source": "sample", "symbols": ["NASDAQ"], "start": "2017-01-03", "end": "2018-12-31"},
        "execution_time": "5min_before_close", "db_url": f"sqlite:///{tmp_path / 'ledger.sqlite'}"}))
    target = load_target(params)
    now = [pd.Timestamp("2018-11-23 12:50", tz="America/New_York").tz_convert("UTC")]
    said: list[str] = []

    def sleep(seconds: float) -> None:
        now[0] += pd.Timedelta(seconds=seconds)

    code = fire(target, clock=lambda: now[0], sleep=sleep, say=said.append,
                launch=functools.partial(run_scheduled_session, outputs_root=tmp_path / "outputs"))
    assert code == 0, said
    assert now[0] == pd.Timestamp("2018-11-23 17:55", tz="UTC")
    assert said[0].endswith("starting session 2018-11-23 (12:55 New York, early close)")
    run_dir = Path(said[1].split("(", 1)[1].rsplit(")", 1)[0])
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "completed"
    assert manifest["params"]["as_of"] == "2018-11-23"
    with open_ledger(target.db_url) as led:
        run = led.get_run("sma_crossover|sched-nb|2018-11-23|5min_before_close")
        assert run is not None and run.status == "completed"
        assert led.run_locks() == []
