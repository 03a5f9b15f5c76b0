"""Replay sessions per second on a PostgreSQL ledger beside SQLite (issue 12 point 9).

The same replay as ``bench_replay`` (sma_crossover on NASDAQ, 1999-2018, every session
through the daily session loop and its ledger writes), once into a new SQLite file and
once into a new PostgreSQL database on the server ``make postgres`` starts (or
``$TOOLKIT_TEST_POSTGRES_URL``). Without a server it prints a note instead of figures.
Figures only, never asserts.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from support import postgres as pg  # noqa: E402


def _replay_rate(url: str) -> tuple[int, float]:
    from toolkit import params as tkparams
    from toolkit.data.dataset import load_dataset
    from toolkit.engine.replay import replay
    from toolkit.ledger import open_ledger

    p = tkparams.load("daily_dry_run", ROOT / "params/daily_dry_run/sma_crossover.yaml",
                      ["guards.daily_loss_limit=null", "data.start=1999-01-04"])
    ds = load_dataset(p.data, base_dir=ROOT)
    with open_ledger(url) as ledger:
        res = replay(p, start=dt.date(1999, 1, 4), end=dt.date(2018, 12, 31), ledger=ledger, data=ds)
    assert not res.problems, res.problems
    return res.sessions, res.sessions_per_second


def bench_replay_postgres() -> None:
    """Sessions per second of one replay: SQLite, PostgreSQL, and their ratio."""
    srv = pg.server()
    why = pg.unreachable(srv)
    with tempfile.TemporaryDirectory() as out:
        sessions, sqlite_rate = _replay_rate(f"sqlite:///{out}/ledger.sqlite")
    if why is not None:
        print(f"replay on SQLite: {sessions} sessions at {sqlite_rate:.0f} sessions/s; "
              f"PostgreSQL skipped: {why}")
        return
    name = f"toolkit_bench_{os.getpid()}"
    with pg.janitor(srv, name):
        _, pg_rate = _replay_rate(srv.url(name))
    print(f"replay of {sessions} sessions (sma_crossover, NASDAQ 1999-2018): SQLite {sqlite_rate:.0f} sessions/s, "
          f"PostgreSQL {pg_rate:.0f} sessions/s ({srv.host}:{srv.port}); PostgreSQL / SQLite = "
          f"{pg_rate / sqlite_rate:.2f}")


if __name__ == "__main__":
    bench_replay_postgres()
