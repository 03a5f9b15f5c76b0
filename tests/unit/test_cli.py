"""The ``toolkit`` command in process: exit statuses, usage errors, ``toolkit strategies``.

Commands that run notebooks or replays are tested end to end in tests/integration;
each command also runs once as a real process in tests/integration/test_cli_smoke.py.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from toolkit import load_params
from toolkit.cli import main
from toolkit.strategies import available

ROOT = Path(__file__).resolve().parents[2]


def test_help_is_status_0_not_an_exit(toolkit_cli) -> None:
    done = toolkit_cli(["--help"])
    assert done.returncode == 0 and done.stdout.startswith("usage: toolkit")
    for command in ("run", "runs", "strategies", "replay", "live", "killswitch"):
        assert command in done.stdout


def test_usage_errors_are_status_2_with_the_usage(toolkit_cli) -> None:
    unknown = toolkit_cli(["nope"])
    assert unknown.returncode == 2 and "invalid choice: 'nope'" in unknown.stderr and unknown.stdout == ""
    missing = toolkit_cli(["live"])
    assert missing.returncode == 2 and missing.stderr.startswith("usage: toolkit live")
    assert toolkit_cli(["replay", "--params", "x.yaml"]).returncode == 2  # --start and --end are required


def test_bad_input_is_one_error_line(toolkit_cli, tmp_path) -> None:
    done = toolkit_cli(["killswitch", "on", "--reason", ""], f"sqlite:///{tmp_path / 'l.sqlite'}")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1 and "--reason" in done.stderr


def test_strategies_prints_each_strategys_defaults_as_yaml(toolkit_cli) -> None:
    """A YAML stream, one document per strategy: description and example as comments, every
    default under ``strategy_params:`` with its description beside it."""
    done = toolkit_cli(["strategies"])
    assert done.returncode == 0
    docs = list(yaml.safe_load_all(done.stdout))
    assert [d["strategy"] for d in docs] == list(available())
    lines = done.stdout.splitlines()
    for doc in docs:
        cls = available()[doc["strategy"]]
        assert f"# {cls.name}: {cls.description}" in lines
        assert f"# example: toolkit run backtest --params params/backtest/{cls.name}.yaml" in lines
        assert doc["strategy_params"] == cls.Params().model_dump(mode="json")
        assert cls.parse_params(doc["strategy_params"]) == cls.Params()
        for field, info in cls.Params.model_fields.items():
            if info.description:
                assert any(line.startswith(f"  {field}:") and line.endswith(f"# {info.description}")
                           for line in lines), (cls.name, field)


def test_strategies_block_pasted_into_a_params_file_validates(toolkit_cli, tmp_path) -> None:
    """What a user does with the output: paste a block over a params file's strategy lines."""
    for name, cls in available().items():
        block = toolkit_cli(["strategies", name]).stdout
        example = yaml.safe_load((ROOT / "params" / "backtest" / f"{name}.yaml").read_text())
        example.pop("strategy_params_file", None)
        pasted = tmp_path / f"{name}.yaml"
        pasted.write_text(yaml.safe_dump({k: v for k, v in example.items() if not k.startswith("strategy")}) + block)
        params = load_params("backtest", pasted)
        assert params.strategy == name
        assert cls.parse_params(params.strategy_params) == cls.Params()


def test_strategies_name_prints_one_and_an_unknown_name_is_status_2(toolkit_cli) -> None:
    one = toolkit_cli(["strategies", "sma_crossover"])
    assert one.returncode == 0 and yaml.safe_load(one.stdout) == {
        "strategy": "sma_crossover", "strategy_params": {"fast": 20, "slow": 100}}
    bad = toolkit_cli(["strategies", "nope"])
    assert bad.returncode == 2 and bad.stdout == "" and bad.stderr.count("\n") == 1
    assert "'nope'" in bad.stderr and "sma_crossover" in bad.stderr


def test_main_takes_argv_and_returns_the_status(capsys) -> None:
    assert main(["strategies"]) == 0
    assert "sma_crossover: " in capsys.readouterr().out


def test_building_the_parser_imports_no_heavy_library() -> None:
    """Every `toolkit` command (cron's `schedule fire`, a monitor's `health`) builds the whole
    parser first: a subcommand that imported the ledger there cost every command ~1 s."""
    import subprocess
    import sys

    code = ("import sys, toolkit.cli; toolkit.cli.build_parser(); "
            "print(sorted(m for m in ('pandas', 'sqlalchemy', 'toolkit.ledger', 'apprise', 'vectorbt') "
            "if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_an_unknown_alert_kind_is_one_line(toolkit_cli, tmp_path) -> None:
    done = toolkit_cli(["alerts", "list", "--kind", "nope", "--db", f"sqlite:///{tmp_path / 'l.sqlite'}"])
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: --kind: got 'nope'; allowed: one of run_failed, guard_tripped, kill_switch_changed, "
        "reconciliation_mismatch, token_expiry, missed_session, test"]
    assert not (tmp_path / "l.sqlite").exists()
