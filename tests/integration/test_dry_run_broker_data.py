"""A daily dry run on a broker's data: ``data.source: alpaca`` and ``data.source: schwab``.

The brokers' APIs are faked over the REAL SPY and AGG daily files of ``../shared/data``
(``responses`` for alpaca-py, ``respx`` for schwab-py, a localhost server for a papermill
kernel), and the session is the last bar's (2016-01-04: SPY's file ends there). What a
user relies on: the run completes on the broker's prices, the bars are fetched once
(params check and session share the cache), the manifest's data fingerprint is the cached
data's, no secret lands in the archive, and without credentials the run stops before
anything with one line naming the variables to set.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import responses
import respx
from fake_market_data import FakeAlpacaData, FakeSchwabData, real_daily

import toolkit
from toolkit.data import load_dataset

DRY_RUN = "params/daily_dry_run/sma_crossover.yaml"
SESSION = "2016-01-04"  # the last bar of SPY's file
#: The bundled dry run's params, on SPY and AGG from a broker (raw prices: what Schwab offers).
ON_BROKER = {"data.symbols": ["SPY", "AGG"], "data.start": "2015-01-02", "data.end": None, "data.prices": "raw",
             "as_of": SESSION}


@pytest.fixture
def spy_agg(shared_data):
    return real_daily(shared_data, ["SPY", "AGG"], "raw")


def _dry_run(source: str, db: Path):
    params = toolkit.load_params("daily_dry_run", DRY_RUN, {**ON_BROKER, "data.source": source,
                                                             "db_url": f"sqlite:///{db}"})
    return params, toolkit.run_daily(params)


def _check_session(result, spy_agg) -> None:
    assert result.status.value == "completed", result.message
    assert result.decision is not None and result.decision.timestamp == pd.Timestamp(SESSION, tz="UTC")
    (fill,) = result.fills
    # Filled at the broker's close of the session (slippage 0 in these params): the real SPY close.
    assert fill.symbol == "SPY" and float(fill.price) == pytest.approx(spy_agg["SPY"].loc[SESSION, "close"], abs=1e-6)


def test_a_daily_dry_run_on_alpaca_data_completes(spy_agg, alpaca_env, cache_dir, tmp_path):
    fake = FakeAlpacaData(spy_agg, page_size=200)
    with responses.RequestsMock() as rsps:
        fake.install(rsps)
        params, result = _dry_run("alpaca", tmp_path / "ledger.sqlite")
    assert params.data.feed == "iex"
    _check_session(result, spy_agg)
    # The params check fetched the bars; the session read them from the cache.
    assert len(fake.asks) == 1 and fake.asks[0].symbols == ("SPY", "AGG")
    assert {p.name for p in cache_dir.rglob("*.parquet")} == {"SPY.parquet", "AGG.parquet"}


def test_a_daily_dry_run_on_schwab_data_completes(spy_agg, schwab_env, cache_dir, tmp_path):
    fake = FakeSchwabData(spy_agg)
    with respx.mock() as router:
        fake.install(router)
        params, result = _dry_run("schwab", tmp_path / "ledger.sqlite")
    assert params.data.feed is None
    _check_session(result, spy_agg)
    assert [a.symbols for a in fake.asks] == [("SPY",), ("AGG",)]  # one request per symbol, once


@pytest.mark.parametrize(("source", "sets", "names"), [
    ("alpaca", [], "APCA_API_KEY_ID, APCA_API_SECRET_KEY"),
    ("schwab", ["data.prices=raw"], "SCHWAB_API_KEY, SCHWAB_APP_SECRET, SCHWAB_TOKEN_PATH"),
])
def test_without_credentials_the_run_stops_first_with_one_line(toolkit_cli, cache_dir, tmp_path, monkeypatch,
                                                               source, sets, names):
    for name in ("APCA_API_KEY_ID", "APCA_API_SECRET_KEY", "SCHWAB_API_KEY", "SCHWAB_APP_SECRET", "SCHWAB_TOKEN_PATH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TOOLKIT_COLD_KERNEL", "1")  # nothing to start: the params fail first
    outputs = tmp_path / "out"
    args = ["run", "daily_dry_run", "--params", DRY_RUN, "--set", f"data.source={source}", "--outputs", str(outputs)]
    for item in sets:
        args += ["--set", item]
    done = toolkit_cli(args, f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    assert done.returncode == 2  # bad input: nothing ran
    assert done.stderr.startswith(f"error: {source}: credentials missing: set {names} in the environment")
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert not outputs.exists() and not (tmp_path / "ledger.sqlite").exists()


def test_toolkit_run_archives_the_cached_datas_fingerprint_and_no_secret(spy_agg, alpaca_env, cache_dir, tmp_path,
                                                                          toolkit_cli, monkeypatch, shared_data):
    """Through papermill: the kernel reads the bars the params check cached (one request in all)."""
    fake = FakeAlpacaData(spy_agg, page_size=200)
    outputs = tmp_path / "out"
    with fake.serve() as url:
        monkeypatch.setenv("APCA_API_DATA_URL", url)  # the CLI's process and the notebook's kernel
        args = ["run", "daily_dry_run", "--params", DRY_RUN, "--outputs", str(outputs), "--set", "data.source=alpaca"]
        for key, value in ON_BROKER.items():
            args += ["--set", f"{key}={json.dumps(value) if value is not None else 'null'}"]
        done = toolkit_cli(args, f"sqlite:///{tmp_path / 'ledger.sqlite'}")
        assert done.returncode == 0, done.stderr
        assert len(fake.asks) == 1
        run_dir = Path(done.stdout.strip().splitlines()[-1])
        manifest = json.loads((run_dir / "manifest.json").read_text())
        params = toolkit.load_params("daily_dry_run", manifest["params"])
        dataset = load_dataset(params.data, base_dir=shared_data)
    assert len(fake.asks) == 1  # the check above read the cache too
    assert manifest["status"] == "completed" and manifest["params"]["data"]["feed"] == "iex"
    assert manifest["data_fingerprint"] == dataset.fingerprint and set(dataset.cache_sha256) == {"SPY", "AGG"}
    for path in [p for p in run_dir.rglob("*") if p.is_file()]:
        text = path.read_bytes()
        assert not any(secret.encode() in text for secret in alpaca_env.values()), path.name
