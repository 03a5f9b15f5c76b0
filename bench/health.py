"""How long `toolkit health` takes (issue 12 point 9), as cron or a monitor would call it.

A fresh process each time (a monitor pays the imports on every call), on a scheduled
dry-run params file whose entry is installed in a file-backed crontab (the tests' stand-in
for ``crontab``, never the user's own) and a ledger holding a replayed month of 2018 (so
the last-run check reports the sessions missed since, and the command exits 1: the figure
is the time of a full check). Brokers are not called (a dry run has none). Figures only,
never asserts.
"""

from __future__ import annotations

import datetime as dt
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOOLKIT = str(Path(sys.executable).with_name("toolkit"))
sys.path.insert(0, str(ROOT / "tests"))

from support.fake_crontab import write_fake_crontab  # noqa: E402

PARAMS = "params/daily_dry_run/sma_crossover.yaml"


def _ledger_with_a_month(url: str) -> None:
    from toolkit import params as tkparams
    from toolkit.data.dataset import load_dataset
    from toolkit.engine.replay import replay
    from toolkit.ledger import open_ledger

    p = tkparams.load("daily_dry_run", ROOT / PARAMS)
    with open_ledger(url) as ledger:
        replay(p, start=dt.date(2018, 12, 3), end=dt.date(2018, 12, 31), ledger=ledger,
               data=load_dataset(p.data, base_dir=ROOT))


def bench_health() -> None:
    """Median wall time of 5 cold `toolkit health` calls, and what it reported."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        env = {**os.environ, "TOOLKIT_CRONTAB": str(write_fake_crontab(folder)),
               "FAKE_CRONTAB_FILE": str(folder / "crontab")}
        url = f"sqlite:///{folder / 'ledger.sqlite'}"
        _ledger_with_a_month(url)
        # --backend cron on both: where systemd runs, auto would write timer units and look for them instead.
        subprocess.run([TOOLKIT, "schedule", "install", "--params", PARAMS, "--backend", "cron"], cwd=ROOT, env=env,
                       check=True, capture_output=True)
        cmd = [TOOLKIT, "health", "--params", PARAMS, "--db-url", url, "--backend", "cron"]
        times, status, out = [], 0, ""
        for _ in range(6):
            t = time.perf_counter()
            done = subprocess.run(cmd, check=False, cwd=ROOT, env=env, capture_output=True, text=True)
            times.append(time.perf_counter() - t)
            status, out = done.returncode, done.stdout
        times = times[1:]  # the first call fills the calendar cache under outputs/cache/schedule/
    rows = [line.split() for line in out.splitlines()[1:] if line.strip()]
    seen = ", ".join(f"{row[0]} {next(w for w in row[1:] if w in ('ok', 'warn', 'fail'))}" for row in rows)
    print(f"toolkit health (fresh process; {seen}; exit {status}): median of 5 "
          f"{statistics.median(times):.2f} s  (runs: {', '.join(f'{t:.2f}' for t in times)})")


if __name__ == "__main__":
    bench_health()
