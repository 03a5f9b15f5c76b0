"""The ``toolkit`` command in process: exit statuses, usage errors, ``toolkit strategies``.

Commands that run notebooks or replays are tested end to end in tests/integration;
each command also runs once as a real process in tests/integration/test_cli_smoke.py.
"""

from __future__ import annotations

from toolkit.cli import main
from toolkit.strategies import available


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


def test_strategies_lists_each_strategy_with_its_defaults(toolkit_cli) -> None:
    done = toolkit_cli(["strategies"])
    assert done.returncode == 0
    lines = done.stdout.splitlines()
    for name, cls in available().items():
        assert f"{name}: {cls.description}" in lines
        for field, info in cls.Params.model_fields.items():
            default = "(required)" if info.is_required() else repr(info.get_default(call_default_factory=True))
            assert any(line.startswith(f"    {field} = {default}") for line in lines), (name, field)


def test_main_takes_argv_and_returns_the_status(capsys) -> None:
    assert main(["strategies"]) == 0
    assert "sma_crossover: " in capsys.readouterr().out
