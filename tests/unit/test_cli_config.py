"""``toolkit config``: an account's overrides from the command line (show, set, clear, history, revert)."""

from __future__ import annotations

import getpass
from pathlib import Path

import pytest

from toolkit.ledger import open_ledger

PARAMS = "params/daily_dry_run/sma_crossover.yaml"  # account dry-run, strategy_params {fast: 20, slow: 100}


@pytest.fixture
def db(ledger_url: str) -> str:
    open_ledger(ledger_url).close()  # SQLite and PostgreSQL (tests/conftest.py)
    return ledger_url


def _one_error_line(done, starts: str) -> None:
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith(f"error: {starts}") and done.stderr.count("\n") == 1, done.stderr


def test_set_show_history_revert(toolkit_cli, db: str) -> None:
    assert toolkit_cli(["config", "show", "--account", "dry-run"], db).stdout == (
        "no config overrides for account dry-run: its sessions run on its params file as it is\n")
    done = toolkit_cli(["config", "set", "strategy_params.fast=12", "--account", "dry-run", "--reason",
                        "faster signal", "--actor", "ann"], db)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("strategy_params.fast = 12 for account dry-run (was: no override); change 1 ")
    assert "not checked yet: the account's next session checks it" in done.stdout
    checked = toolkit_cli(["config", "set", "strategy_params.fast=15", "--params", PARAMS, "--reason", "a bit slower",
                           "--actor", "bob"], db)
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.startswith("strategy_params.fast = 15 for account dry-run (was: override 12); change 2 ")
    assert "checked against daily_dry_run params" in checked.stdout

    show = toolkit_cli(["config", "show", "--account", "dry-run"], db).stdout.splitlines()
    assert show[0] == "config overrides of account dry-run (its next session uses them):"
    assert show[1].startswith("  strategy_params.fast = 15  set by bob at ") and show[1].endswith(": a bit slower")
    history = toolkit_cli(["config", "history", "--account", "dry-run"], db).stdout.splitlines()
    assert len(history) == 3
    assert history[1].startswith("  1  ") and history[1].endswith("strategy_params.fast: (none) -> 12  by ann: "
                                                                  "faster signal")
    assert history[2].startswith("  2  ") and history[2].endswith("strategy_params.fast: 12 -> 15  by bob: "
                                                                  "a bit slower")

    undo = toolkit_cli(["config", "revert", "2", "--reason", "15 was worse", "--actor", "ann"], db)
    assert undo.returncode == 0 and undo.stdout == "reverted change 2: strategy_params.fast = 12 again for account " \
                                                   "dry-run\n"
    back = toolkit_cli(["config", "revert", "1", "--reason", "the file's 20 after all", "--db-url", db])
    assert back.returncode == 0 and "override cleared for account dry-run" in back.stdout
    with open_ledger(db) as ledger:
        assert ledger.overrides("dry-run") == {}
        hist = ledger.config_history(account="dry-run")
        # Without --actor the change is made as the user running the command.
        assert hist[["old", "new", "actor"]].values.tolist()[-2:] == [[15, 12, "ann"], [12, None, getpass.getuser()]]
        assert ledger.audit_log()["action"].tolist() == ["set_override"] * 2 + ["revert_override"] * 2


def test_a_value_the_params_refuse_is_not_written(toolkit_cli, db: str) -> None:
    done = toolkit_cli(["config", "set", "strategy_params.fast=0", "--params", PARAMS, "--reason", "typo"], db)
    _one_error_line(done, "config override strategy_params.fast=0 ")
    assert "strategy_params.fast: got 0; allowed: a whole number from 1 to 1000; nothing was written" in done.stderr
    # The dry run's params model allows offline_mock only: a mode override is refused the same way.
    mode = toolkit_cli(["config", "set", "mode=paper", "--params", PARAMS, "--reason", "paper"], db)
    _one_error_line(mode, "config override mode='paper' ")
    assert "offline_mock only" in mode.stderr
    with open_ledger(db) as ledger:
        assert ledger.config_history().empty and ledger.audit_log().empty


@pytest.mark.parametrize(("args", "starts"), [
    (["set", "strategy_params.fast=12", "--account", "dry-run"], "--reason: got ''; allowed: a non-empty reason"),
    (["set", "strategy_params.fast=12", "--account", "dry-run", "--reason", "  "], "--reason: got '  '"),
    (["set", "strategy_params.fast", "--account", "dry-run", "--reason", "r"], "KEY=VALUE: got 'strategy_params.fast'"),
    (["set", "strategy_params.fast=", "--account", "dry-run", "--reason", "r"],
     "value of strategy_params.fast: got ''"),
    (["set", "strategy_params.fast=[1", "--account", "dry-run", "--reason", "r"], "value of strategy_params.fast: "),
    (["set", "strategy_params.fast=12", "--reason", "r"], "--account: got None"),
    (["set", "strategy_params.fast=12", "--account", "other", "--params", PARAMS, "--reason", "r"],
     "--account: got 'other'; allowed: 'dry-run', the account of"),
    (["set", "mode=online_live", "--account", "live-1", "--reason", "r"],
     "mode: got 'online_live' for account 'live-1'; allowed: online_live only after `toolkit live confirm"),
    (["clear", "strategy_params.fast", "--account", "dry-run", "--reason", "r"],
     "key: no active override of 'strategy_params.fast' for account 'dry-run' to clear"),
    (["revert", "7", "--reason", "r"], "change_id: got 7; allowed: the id of a change in config_history"),
    (["revert", "x7", "--reason", "r"], "CHANGE_ID: got 'x7'; allowed: the id of a change"),
    (["revert", "7"], "--reason: got ''"),
])
def test_bad_input_is_one_line_and_writes_nothing(toolkit_cli, db: str, args: list[str], starts: str) -> None:
    _one_error_line(toolkit_cli(["config", *args], db), starts)
    with open_ledger(db) as ledger:
        assert ledger.config_history().empty and ledger.audit_log().empty


def test_clear_and_history_of_one_key(toolkit_cli, db: str) -> None:
    for item in ("strategy_params.fast=12", "guards.daily_loss_limit=0.02"):
        assert toolkit_cli(["config", "set", item, "--account", "dry-run", "--reason", "r"], db).returncode == 0
    done = toolkit_cli(["config", "clear", "guards.daily_loss_limit", "--account", "dry-run", "--reason", "done"], db)
    assert done.returncode == 0 and done.stdout.startswith("guards.daily_loss_limit override cleared for account")
    one = toolkit_cli(["config", "history", "--account", "dry-run", "--key", "guards.daily_loss_limit"], db)
    assert [line.split("  ")[-2] for line in one.stdout.splitlines()[1:]] == [
        "guards.daily_loss_limit: (none) -> 0.02", "guards.daily_loss_limit: 0.02 -> (cleared)"]
    nobody = toolkit_cli(["config", "history", "--account", "nobody"], db)
    assert nobody.stdout == "no config changes for account nobody\n"


def test_show_never_creates_a_ledger(toolkit_cli, tmp_path: Path) -> None:
    missing = tmp_path / "none.sqlite"
    _one_error_line(toolkit_cli(["config", "show", "--account", "a", "--db", f"sqlite:///{missing}"]), "ledger: ")
    assert not missing.exists()


def test_help_names_the_config_commands(toolkit_cli) -> None:
    assert "config" in toolkit_cli(["--help"]).stdout
    done = toolkit_cli(["config", "--help"])
    assert done.returncode == 0
    for word in ("show", "set", "clear", "history", "revert", "fixed by the params file"):
        assert word in done.stdout
