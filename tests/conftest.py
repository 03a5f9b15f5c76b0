"""Shared pytest fixtures.

``shared_data`` points at the real market data kept beside the repository
(``../shared/data``, see its README). A user's fresh clone does not have it, so tests
that need it skip with a reason instead of failing.

``toolkit_cli`` runs the ``toolkit`` command in process: :func:`toolkit.cli.main` with
captured output, the project root as working directory and ``$TOOLKIT_DB_URL`` set per
call. It is the same code path as the console script, which only hands ``main``'s
status to ``sys.exit``, without an interpreter start and a re-import of pandas per call.
``toolkit_process`` runs it as a real process; ``tests/integration/test_cli_smoke.py``
does that once per command.

``ledger_url`` is the URL of an empty ledger, once per backend: a new SQLite file and a
PostgreSQL database at the newest schema revision with no rows (``empty_ledger_url``: no
schema yet, for the migration tests; ``postgres_fresh_url``: a database a test may alter). The PostgreSQL variants need the server of
``support/postgres.py`` (``make postgres``): without one they skip with the reason, or
fail when ``TOOLKIT_TEST_POSTGRES=required`` (CI). ``-m "not postgresql"`` leaves them out.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from support.archived_runs import (  # noqa: F401  (session fixtures of tests/*/)
    default_run,
    dry_run_archive,
    live_run_archive,
    walk_forward_archive,
)
from support.postgres import BACKENDS, sqlite_or_postgres

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"

#: The console script ``make setup`` installs (``python -m toolkit.cli`` where there is none).
_SCRIPT = Path(sys.executable).with_name("toolkit")
TOOLKIT = [str(_SCRIPT)] if _SCRIPT.is_file() else [sys.executable, "-m", "toolkit.cli"]


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path of ``../shared/data``; skips the test when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is absent (a fresh clone): real-data tests need it")
    return SHARED_DATA


def _assert_canonical(df: pd.DataFrame) -> None:
    """Assert the canonical bar frame contract of DESIGN.md (Data)."""
    assert isinstance(df.index, pd.DatetimeIndex)
    assert str(df.index.tz) == "UTC"
    assert df.index.name == "timestamp"
    assert list(df.columns) == ["open", "high", "low", "close", "volume"]
    assert all(dtype == np.float64 for dtype in df.dtypes)
    assert df.index.is_monotonic_increasing and df.index.is_unique
    o, h, lo, c, v = df.to_numpy().T
    prices = df.to_numpy()[:, :4]
    assert not np.isnan(prices).any()
    assert (prices > 0).all()
    assert (h >= np.maximum(o, c)).all()
    assert (lo <= np.minimum(o, c)).all()
    assert not (v < 0).any()


@pytest.fixture(scope="session")
def assert_canonical() -> Callable[[pd.DataFrame], None]:
    """A checker asserting that a frame is a canonical bar frame."""
    return _assert_canonical


@dataclass(frozen=True)
class CliResult:
    """What a ``toolkit`` call left: the fields of ``subprocess.CompletedProcess`` that tests read."""

    returncode: int
    stdout: str
    stderr: str


def run_toolkit_process(args: list[str], db: str | None = None, timeout: float = 600,
                        env: dict[str, str] | None = None) -> CliResult:
    """``toolkit ARGS`` as a separate process in the project root (``db``: its ``$TOOLKIT_DB_URL``;
    ``env``: more environment variables)."""
    environ = {k: v for k, v in os.environ.items() if k != "TOOLKIT_DB_URL"} | (env or {})
    if db is not None:
        environ["TOOLKIT_DB_URL"] = db
    done = subprocess.run([*TOOLKIT, *args], cwd=ROOT, env=environ, capture_output=True, text=True, timeout=timeout)
    return CliResult(done.returncode, done.stdout, done.stderr)


@pytest.fixture
def toolkit_cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Callable[..., CliResult]:
    """``toolkit ARGS`` in this process, from the project root, its output captured.

    ``db`` sets ``$TOOLKIT_DB_URL`` for the call (and for a kernel it starts), as the
    environment of a separate process would; without it the variable is unset.
    """
    from toolkit.cli import main

    monkeypatch.chdir(ROOT)

    def run(args: list[str], db: str | None = None) -> CliResult:
        if db is None:  # set, then removed: the test's end restores it even if main() took it from a .env
            monkeypatch.setenv("TOOLKIT_DB_URL", "")
            monkeypatch.delenv("TOOLKIT_DB_URL")
        else:
            monkeypatch.setenv("TOOLKIT_DB_URL", db)
        capsys.readouterr()  # drop what was printed before the call
        code = main(args)
        out, err = capsys.readouterr()
        return CliResult(code, out, err)

    return run


@pytest.fixture(scope="session")
def toolkit_process() -> Callable[..., CliResult]:
    """:func:`run_toolkit_process`: ``toolkit ARGS`` as a real process."""
    return run_toolkit_process


# ----------------------------------------------------------------- ledger backends (issue 12)

@pytest.fixture(scope="session")
def postgres_databases() -> Iterator[Any]:
    """This process's databases on the PostgreSQL test server; skips (or fails on CI) without one."""
    from support import postgres as pg

    srv = pg.server()
    why = pg.unreachable(srv)
    if why is not None:
        if pg.required():
            pytest.fail(f"{why} ({pg.REQUIRED_ENV}=required: CI runs every ledger test on PostgreSQL)")
        pytest.skip(why)
    with pg.session_databases(srv) as dbs:
        yield dbs


@pytest.fixture
def postgres_url(postgres_databases: Any) -> str:
    """URL of the shared PostgreSQL ledger database, emptied (schema at the newest revision)."""
    from support.postgres import emptied

    return emptied(postgres_databases)


@pytest.fixture
def postgres_fresh_url(postgres_databases: Any) -> Iterator[str]:
    """URL of a new PostgreSQL database of its own (schema at the newest revision): a test may alter it."""
    from support.postgres import fresh_database

    with fresh_database(postgres_databases) as url:
        yield url


@pytest.fixture(params=BACKENDS)
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty ledger per backend: a new SQLite file, then PostgreSQL (schema at head, no rows)."""
    yield from sqlite_or_postgres(request, f"sqlite:///{tmp_path / 'ledger.sqlite'}")


@pytest.fixture(params=BACKENDS)
def empty_ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with no ledger schema yet, per backend: for the migration tests."""
    yield from sqlite_or_postgres(request, f"sqlite:///{tmp_path / 'ledger.sqlite'}", migrated=False)


# ----------------------------------------------------------------- broker market data (issue 10)

#: Dummy keys the broker data tests set; a test may assert they appear in no file written.
ALPACA_TEST_KEYS = {"APCA_API_KEY_ID": "PKTESTKEYID0000000001", "APCA_API_SECRET_KEY": "test-secret-do-not-write-0001"}
SCHWAB_TEST_KEYS = {"SCHWAB_API_KEY": "schwab-test-app-key-0001", "SCHWAB_APP_SECRET": "schwab-test-secret-0001"}


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh, empty local bar cache for the test (``$TOOLKIT_CACHE_DIR``)."""
    path = tmp_path / "bar-cache"
    monkeypatch.setenv("TOOLKIT_CACHE_DIR", str(path))
    return path


@pytest.fixture
def alpaca_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Dummy Alpaca keys in the environment, Alpaca's own data URL (no override)."""
    for name, value in ALPACA_TEST_KEYS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("APCA_API_DATA_URL", raising=False)
    return dict(ALPACA_TEST_KEYS)


@pytest.fixture
def schwab_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Dummy Schwab app keys and a fresh token file (1 day old) in the environment; returns the token path."""
    from fake_market_data import write_schwab_token

    for name, value in SCHWAB_TEST_KEYS.items():
        monkeypatch.setenv(name, value)
    token = write_schwab_token(tmp_path / "schwab-token.json")
    monkeypatch.setenv("SCHWAB_TOKEN_PATH", str(token))
    return token
