"""Bad input a new user met (issue 9, point 9): each refused before anything runs, in one plain line.

Each test is the defect as it was found, through the entry point the user had: ``toolkit
run`` (in process, no kernel: validation comes first), ``toolkit live`` or the params
loader. A refusal is exit status 2, stdout empty, ONE ``error:`` line on stderr and no run
directory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from toolkit import params as P
from toolkit.data import load_files
from toolkit.errors import DataError, ParamsError
from toolkit.strategies import available

SMA = {"strategy": "sma_crossover", "strategy_params": {"fast": 10, "slow": 50}}


@pytest.fixture
def run_refused(toolkit_cli, monkeypatch, tmp_path):
    """``toolkit run NOTEBOOK --params FILE`` that must be refused; returns the error line."""
    monkeypatch.setenv("TOOLKIT_COLD_KERNEL", "1")

    def run(params: dict[str, Any] | str, notebook: str = "backtest") -> str:
        file = tmp_path / "params.yaml"
        file.write_text(params if isinstance(params, str) else yaml.safe_dump(params))
        outputs = tmp_path / "outputs"
        done = toolkit_cli(["run", notebook, "--params", str(file), "--outputs", str(outputs)])
        assert done.returncode == 2, done.stderr
        assert done.stdout == "" and not outputs.exists()
        assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1, done.stderr
        assert "Traceback" not in done.stderr
        return done.stderr.strip()

    return run


def write_csv(frame: pd.DataFrame, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    return path


@pytest.fixture
def spy(shared_data) -> pd.DataFrame:
    """qstrader's SPY.csv as published (Date, Open, High, Low, Close, Volume, Adj Close)."""
    return pd.read_csv(shared_data / "daily/qstrader/SPY.csv", dtype=str)


# ------------------------------------------------------------- no close column


def test_a_bar_file_without_close_is_refused_not_traded_as_volume(spy, tmp_path, run_refused) -> None:
    # Before: Date,Open,High,Low,Volume read as a wide file, symbols=[Volume] backtested
    # trading volume as a price to a final equity of $16.
    path = write_csv(spy.drop(columns=["Close", "Adj Close"]), tmp_path / "spy_no_close.csv")
    for symbol in ("Volume", "Open", "spy_no_close"):
        line = run_refused({**SMA, "data": {"source": "csv", "path": str(path), "symbols": [symbol]}})
        assert line == (
            f"error: data.path: got '{path}'; allowed: a close price column (headed close or adj close, any case; "
            "or a wide file of one close column per symbol); spy_no_close.csv has columns: Date, Open, High, Low, Volume"
        )


@pytest.mark.parametrize("header", ["close", "Close", "CLOSE", "Adj Close", "adj_close", "ADJ CLOSE", "Adj. Close"])
def test_close_columns_are_recognised_by_name_in_any_spelling(spy, tmp_path, header) -> None:
    frame = spy.drop(columns=["Close", "Adj Close"]).assign(**{header: spy["Close"]})
    got = load_files(write_csv(frame, tmp_path / "SPY.csv"))["SPY"]
    assert got.loc["2016-01-04", "close"].item() == 201.020004  # the file's first row


def test_field_headers_are_not_wide_file_symbols(tmp_path) -> None:
    rows = "2024-01-02,1,2\n2024-01-03,1.5,2.5\n"
    for header in ("Date,SPY,Volume", "Date,Open,High", "date,open,volume", "Date,VOLUME,Dividends"):
        path = tmp_path / "w.csv"
        path.write_text(f"{header}\n{rows}")
        with pytest.raises(ParamsError) as info:
            load_files(path)
        assert info.value.field == "data.path" and "close price column" in info.value.allowed
        assert header.replace(",", ", ") in info.value.allowed
    # Real tickers spelled like fields stay symbols beside other tickers (LOW: Lowe's, OPEN: Opendoor)
    path = tmp_path / "t.csv"
    path.write_text("Date,LOW,OPEN,DT\n2024-01-02,1,2,3\n")
    assert list(load_files(path)) == ["LOW", "OPEN", "DT"]


def test_a_file_without_close_in_a_folder_is_skipped_and_named_when_asked_for(spy, tmp_path) -> None:
    folder = tmp_path / "bars"
    write_csv(spy, folder / "SPY.csv")
    write_csv(spy.drop(columns=["Close", "Adj Close"]), folder / "QQQ.csv")
    assert list(load_files(folder)) == ["SPY"]
    with pytest.raises(DataError) as info:
        load_files(folder, ["SPY", "QQQ"])
    assert info.value.symbol == "QQQ" and "close price column" in info.value.rule


def test_wide_close_only_files_still_load(shared_data) -> None:
    etf = load_files(shared_data / "daily/lean-tests/etf_closes_2008_2016.csv")
    assert len(etf) == 23 and etf["SPY"].loc["2008-01-02", "close"].item() == 144.92999267578125
    vtg = load_files(shared_data / "daily/alphasim/vti_tlt_gld_closes_2004_2012.csv")
    assert list(vtg) == ["VTI", "TLT", "GLD"]
    p = P.validate("backtest", {**SMA, "data": {
        "source": "csv", "path": str(shared_data / "daily/alphasim/vti_tlt_gld_closes_2004_2012.csv"),
        "symbols": ["VTI", "TLT"]}})
    assert p.data.symbols == ["VTI", "TLT"]


# --------------------------------------------------------------- symbol case


def test_symbols_match_file_names_in_any_case(shared_data, spy, tmp_path) -> None:
    # Before: "data.symbols: got 'SPY'; allowed: one of spy" for a folder holding spy.csv.
    folder = tmp_path / "lower"
    (folder).mkdir()
    (folder / "spy.csv").write_bytes((shared_data / "daily/qstrader/SPY.csv").read_bytes())
    got = load_files(folder, ["SPY"])
    assert list(got) == ["SPY"]
    pd.testing.assert_frame_equal(got["SPY"], load_files(shared_data / "daily/qstrader", ["SPY"])["SPY"])
    assert list(load_files(shared_data / "daily/alphasim/vti_tlt_gld_closes_2004_2012.csv", ["gld"])) == ["gld"]
    p = P.validate("backtest", {**SMA, "data": {"source": "csv", "path": str(folder), "symbols": ["SPY"]}})
    assert p.data.symbols == ["SPY"]
    # Two files that differ only in case: which one is meant is not ours to guess.
    (folder / "SPY.csv").write_bytes((folder / "spy.csv").read_bytes())
    with pytest.raises(ParamsError) as info:
        load_files(folder, ["Spy"])
    assert info.value.field == "data.symbols" and "SPY or spy" in info.value.allowed


# ------------------------------------------------------------------ params


def test_a_benchmark_outside_the_symbols_is_refused_before_running(run_refused) -> None:
    # Before: the run started and failed inside the archived report with KeyError: ('SPX', 'close').
    line = run_refused({**SMA, "data": {"symbols": ["NASDAQ"]}, "benchmark": "SPX"})
    assert line == "error: benchmark: got 'SPX'; allowed: one of data.symbols: NASDAQ"


def test_start_after_end_shows_iso_dates(run_refused) -> None:
    # Before: data: got {..., 'start': datetime.date(2018, 6, 1), 'end': datetime.date(2018, 1, 1)}; ...
    line = run_refused({**SMA, "data": {"symbols": ["NASDAQ"], "start": "2018-06-01", "end": "2018-01-01"}})
    assert line == "error: data.end: got '2018-01-01'; allowed: a date after data.start (2018-06-01)"


@pytest.mark.parametrize("notebook", ["backtest", "walk_forward", "daily_dry_run"])
def test_another_strategys_parameter_names_the_strategy(run_refused, notebook) -> None:
    # Before: strategy_params.fast: got 10; allowed: one of atr_period, bb_period, ...
    known = ", ".join(sorted(available()["mean_reversion"].Params.model_fields))
    params: dict[str, Any] = {"strategy": "mean_reversion", "strategy_params": {"fast": 10}}
    if notebook == "walk_forward":
        params["grid"] = {"rsi_period": [10, 14]}
    line = run_refused(params, notebook)
    assert line == f"error: strategy_params.fast: unknown parameter 'fast' for mean_reversion; its parameters are {known}"


def test_a_yaml_syntax_error_is_one_line_with_file_line_and_column(run_refused, tmp_path) -> None:
    # Before: seven lines of PyYAML's message with excerpts of the file.
    text = "strategy: sma_crossover\nstrategy_params: {fast: 10, slow: 50\ndata:\n  symbols: [NASDAQ]\n"
    line = run_refused(text)
    assert line == (
        f"error: --params: {tmp_path / 'params.yaml'}, line 3, column 5: invalid YAML; "
        "expected ',' or '}', but got ':' (while parsing a flow mapping)"
    )
    line = run_refused("a: 1\nb: \x07\n")
    assert "line 2, column 4: invalid YAML; special characters are not allowed (character U+0007)" in line


@pytest.mark.parametrize(("key", "value", "field", "allowed"), [
    ("fees_bps", -1, "fees_bps", "a number from 0 to 1000"),
    ("initial_cash", 0, "initial_cash", "a number > 0 and <= 1000000000000"),
    ("fill", "vwap", "fill", "one of close, next_open"),
    ("whole_shares", "maybe", "whole_shares", "true or false"),
    ("risk_free_rate", "low", "risk_free_rate", "a number"),
    ("data.start", "June 2018", "data.start", "a date like 2018-06-01"),
    ("data.symbols", [], "data.symbols", "at least 1 item"),
    ("data.prices", "split", "data.prices", "one of raw, adjusted"),
    ("data", 5, "data", "a mapping of keys to values"),
    ("title", [1], "title", "text"),
    ("strategy_params.fast", 1.5, "strategy_params.fast", "a whole number"),
    ("strategy_params.fast", 0, "strategy_params.fast", "a whole number from 1 to 1000"),
    ("feez_bps", 3, "feez_bps", "known keys here: benchmark, data, fees_bps, fill, initial_cash, risk_free_rate, "
     "slippage_bps, strategy, strategy_params, strategy_params_file, title, whole_shares"),
])
def test_messages_are_in_plain_words(key, value, field, allowed) -> None:
    # Before: pydantic's words, e.g. "fees_bps: got -1; allowed: Input should be greater than or equal to 0".
    raw = P.apply_overrides({**SMA, "data": {"symbols": ["NASDAQ"]}}, {key: value})
    with pytest.raises(ParamsError) as info:
        P.validate("backtest", raw)
    assert (info.value.field, info.value.allowed) == (field, allowed)
    assert "Input should" not in str(info.value) and "\n" not in str(info.value)


def test_a_value_is_shown_cut_to_one_short_line() -> None:
    err = ParamsError("title", "x" * 1000 + "\n" + "y", "text")
    assert len(str(err)) < 200 and "\n" not in str(err) and str(err).endswith("...; allowed: text")


# ------------------------------------------------------------------ ledger


def test_a_missing_database_driver_names_the_package(toolkit_cli) -> None:
    # Before: a 29-line traceback ending in ModuleNotFoundError: No module named 'psycopg'.
    try:
        import psycopg  # noqa: F401
        pytest.skip("psycopg is installed here: its absence cannot be shown")
    except ImportError:
        pass
    done = toolkit_cli(["live", "status", "--db", "postgresql://me:secret@db.example/ledger"])
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == (
        "error: ledger URL: got 'postgresql://me:***@db.example/ledger'; allowed: a database whose Python driver "
        'is installed (psycopg is missing: pip install "psycopg[binary]")\n'
    )


@pytest.mark.parametrize("command", [["live", "status"], ["live", "trades"], ["live", "export", "--output", "x.csv"],
                                     ["killswitch", "status"]])
def test_read_only_commands_never_create_a_ledger(toolkit_cli, tmp_path, command) -> None:
    # Before: `live status --db PATH` on a typo created an empty ledger and reported "no runs".
    for db in (tmp_path / "typo.sqlite", f"sqlite:///{tmp_path / 'typo.sqlite'}"):
        done = toolkit_cli([*command, "--db", str(db)])
        assert done.returncode == 2 and done.stdout == ""
        assert done.stderr == (
            f"error: ledger: got '{tmp_path / 'typo.sqlite'}'; allowed: an existing ledger file "
            "(this command only reads; it creates none)\n"
        )
    done = toolkit_cli(command, f"sqlite:///{tmp_path / 'env.sqlite'}")  # $TOOLKIT_DB_URL too
    assert done.returncode == 2
    assert not any(tmp_path.iterdir())


def test_read_only_commands_read_an_existing_ledger_by_path(toolkit_cli, tmp_path) -> None:
    from toolkit.ledger import open_ledger

    db = tmp_path / "ledger.sqlite"
    with open_ledger(f"sqlite:///{db}"):
        pass
    done = toolkit_cli(["live", "status", "--db", str(db)])  # a plain path is a SQLite file
    assert done.returncode == 0 and "kill switch: off" in done.stdout


def test_warnings_of_a_refused_command_do_not_add_lines(spy, tmp_path, run_refused) -> None:
    # A file the loader cleans (it warns) and then refuses: the user reads the refusal only.
    frame = pd.concat([spy, spy.iloc[[5]]])  # an exact duplicate row: dropped with a warning
    frame.loc[frame.index[10], "High"] = "0.5"  # high below low: refused
    path = write_csv(frame, tmp_path / "SPY.csv")
    line = run_refused({**SMA, "data": {"source": "csv", "path": str(path), "symbols": ["SPY"]}})
    assert line.startswith("error: SPY at ") and "high >= " in line
