"""Promise 7 across every notebook: with credentials set, no archived file holds one.

Every notebook in notebooks/ runs through the real runner with the dummy credentials of
``support.dummy_secrets`` set: ``toolkit run`` as a real process (its papermill kernel
another) for backtest, walk_forward and live, the session-wide dry run of
``conftest.dry_run_archive`` (started with the same credentials), and the control panel
executed by papermill on a copy of that dry run's ledger. The credentials come from
three places at once: the environment, a ``.env`` file (``TOOLKIT_ENV_FILE``) and, with
``TOOLKIT_SECRETS=keyring``, keyrings.alt's file keyring, which alone holds the Alpaca
keys the live session at the local Alpaca stand-in needs (so the store is what supplied
them, and the ledger's audit log says so without the values).

Alerts go out too, so the alert URL (``TOOLKIT_ALERT_URLS``: a ``json://`` URL with a
password, a secret path and a token, to a loopback port nothing listens on) is read and
used: a dry run with the kill switch on (``guard_tripped``, archived under the same outputs
root) and ``toolkit schedule run-due`` for two missed sessions of a ``catch_up: none``
params file (one ``missed_session`` alert), each recorded in its ledger's alerts table as
not delivered, with the reason. The run-due runs as its crontab entry runs it (the command
line :func:`toolkit.ops.crontab.toolkit_command` writes: ``cd ROOT && python -m toolkit.cli
schedule run-due ... >> outputs/schedule/<key>-<id>.log 2>&1``, with a fixed ``--now`` and
``--since`` added), its root the test's folder, so its schedule log lands in the scanned
outputs root. No ``toolkit schedule fire`` runs here: the notebook runs it would start go
through the same runner as ``toolkit run``, but its own log lines are not checked.

Then every file under the outputs roots (each run folder's executed notebook, report.html,
manifest.json, CSV and JSON tables and logs, the run index ``index.html``, the schedule
log), the ledgers (alerts tables and audit logs included), the bar cache and every
process's output are searched for each credential as written, URL-encoded and
base64-encoded, and for each secret part of the alert URL on its own. Parameters are small
(short ranges, a 2x3 grid) and the runs go at once, to keep the runtime modest.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from support.alpaca_standin import StandIn
from support.dummy_secrets import ALERT_URL_PARTS, DUMMY_SECRETS, leaks_in

pytest.importorskip("alpaca")

ROOT = Path(__file__).resolve().parents[2]
_SCRIPT = Path(sys.executable).with_name("toolkit")
TOOLKIT = [str(_SCRIPT)] if _SCRIPT.is_file() else [sys.executable, "-m", "toolkit.cli"]
NOW = "2015-12-01T20:55:00Z"
#: The keys the live run needs, kept only in the keyring; the rest split between .env and the environment.
IN_KEYRING = ("APCA_API_KEY_ID", "APCA_API_SECRET_KEY")
IN_DOTENV = ("SCHWAB_API_KEY", "SCHWAB_APP_SECRET", "VAULT_TOKEN", "TOOLKIT_DASHBOARD_PASSWORD")

WALK_FORWARD = """\
strategy: sma_crossover
grid:
  fast: {start: 5, stop: 15, step: 5}
  slow: {start: 20, stop: 40, step: 10}
data: {source: sample, symbols: [NASDAQ], start: 2014-01-01, end: 2018-12-31}
scheme: rolling
in_sample: 252
out_of_sample: 126
constraints: {min_trades: 1}
"""
#: A scheduled dry run that missed its sessions and records them (catch_up: none): run-due runs no notebook.
SCHEDULED = """\
strategy: sma_crossover
strategy_params: {fast: 10, slow: 30}
data: {source: sample, symbols: [NASDAQ], start: 2017-01-03, end: 2018-12-31}
account: sched-leak
execution_time: close
catch_up: none
"""
#: Everything searched for: every credential, and each secret part of the alert URL on its own.
SEARCHED = DUMMY_SECRETS | ALERT_URL_PARTS


def keyring_file(xdg: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Write the Alpaca keys into the file keyring a process with ``XDG_DATA_HOME=xdg`` reads."""
    from keyrings.alt.file import PlaintextKeyring

    monkeypatch.setenv("XDG_DATA_HOME", str(xdg))
    ring = PlaintextKeyring()
    path = Path(ring.file_path)
    assert path.is_relative_to(xdg)
    for name in IN_KEYRING:
        ring.set_password("toolkit", name, DUMMY_SECRETS[name])
    return path


@pytest.fixture
def secret_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The environment of every run: keyring backend, a .env file, the other credentials set."""
    keyring_file(tmp_path / "xdg", monkeypatch)
    env_file = tmp_path / "secrets.env"
    env_file.write_text("".join(f"{n}={DUMMY_SECRETS[n]}\n" for n in IN_DOTENV))
    env = {n: v for n, v in DUMMY_SECRETS.items() if n not in IN_KEYRING and n not in IN_DOTENV}
    env |= {"TOOLKIT_SECRETS": "keyring", "TOOLKIT_ENV_FILE": str(env_file), "XDG_DATA_HOME": str(tmp_path / "xdg"),
            "PYTHON_KEYRING_BACKEND": "keyrings.alt.file.PlaintextKeyring"}
    for name in IN_KEYRING:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def start(args: list[str], env: dict[str, str], db: str) -> subprocess.Popen[str]:
    """``toolkit ARGS`` as a process (as ``conftest.run_toolkit_process``, but not waited for)."""
    environ = {k: v for k, v in os.environ.items() if k not in IN_KEYRING} | env | {"TOOLKIT_DB_URL": db}
    return subprocess.Popen([*TOOLKIT, *args], cwd=ROOT, env=environ, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def start_run_due(root: Path, env: dict[str, str]) -> tuple[subprocess.Popen[str], Path, str]:
    """The schedule entry's ``run-due`` command line for :data:`SCHEDULED` under ``root``, run by sh as cron runs it.

    Returns the process, the schedule log its line appends to (``root/outputs/schedule/...``) and its ledger URL.
    """
    from toolkit.ops.crontab import toolkit_command
    from toolkit.ops.schedule_install import log_path
    from toolkit.ops.schedule_target import load_target

    db = f"sqlite:///{root / 'sched.sqlite'}"
    params = root / "sched.yaml"
    params.write_text(SCHEDULED + f"db_url: {db}\n")
    target = load_target(params, "daily_dry_run")
    log = log_path(target, root)
    log.parent.mkdir(parents=True, exist_ok=True)  # as `toolkit schedule install` leaves it
    line = toolkit_command("run-due", target.params_file, target.notebook, log, root,
                           "--now", "2018-06-05 17:00", "--since", "2018-06-04")
    environ = {k: v for k, v in os.environ.items() if k not in IN_KEYRING} | env
    environ.pop("TOOLKIT_DB_URL", None)
    proc = subprocess.Popen(["/bin/sh", "-c", line], cwd=root, env=environ, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    return proc, log, db


def finish(proc: subprocess.Popen[str]) -> subprocess.CompletedProcess[str]:
    out, err = proc.communicate(timeout=600)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def run_control_panel(db: Path, out: Path) -> Path:
    import papermill as pm

    from toolkit.warm_kernel import kernel_name

    pm.execute_notebook(str(ROOT / "notebooks" / "control_panel.ipynb"), str(out), kernel_name=kernel_name(),
                        parameters={"db_url": f"sqlite:///{db}", "account": "dry-run"},
                        cwd=str(ROOT / "notebooks"), progress_bar=False, log_output=False)
    return out


def test_no_notebook_archives_a_credential(tmp_path: Path, shared_data: Path, secret_env: dict[str, str],
                                           dry_run_archive, cache_dir: Path) -> None:
    from toolkit.ledger import open_ledger

    notebooks = {p.stem for p in (ROOT / "notebooks").glob("*.ipynb")}
    assert notebooks == {"backtest", "walk_forward", "daily_dry_run", "live", "control_panel"}, (
        "a new notebook: add it to this test")
    outputs = tmp_path / "outputs"
    (tmp_path / "wf.yaml").write_text(WALK_FORWARD)
    with StandIn.start(bars=[shared_data / "daily" / "qstrader"], symbols=["SPY", "AGG"], now=NOW) as standin:
        standin.set_prices({"SPY": 210.679993, "AGG": 108.57})
        live_env = secret_env | {"APCA_API_BASE_URL": standin.base_url, "APCA_API_DATA_URL": standin.base_url,
                                 "TOOLKIT_CACHE_DIR": str(cache_dir)}
        running = {
            "live": start(["run", "live", "--params", "params/live/alpaca_paper.yaml", "--outputs", str(outputs)],
                          live_env, f"sqlite:///{tmp_path / 'live.sqlite'}"),
            "backtest": start(["run", "backtest", "--params", "params/backtest/sma_crossover.yaml",
                               "--set", "data.start=2016-01-01", "--outputs", str(outputs)],
                              secret_env, f"sqlite:///{tmp_path / 'unused.sqlite'}"),
            "walk_forward": start(["run", "walk_forward", "--params", str(tmp_path / "wf.yaml"),
                                   "--outputs", str(outputs)], secret_env, f"sqlite:///{tmp_path / 'unused.sqlite'}"),
            # The kill switch halts the session before it trades: the runner sends guard_tripped.
            "halted": start(["run", "daily_dry_run", "--params", "params/daily_dry_run/sma_crossover.yaml",
                             "--set", "as_of=2018-06-01", "--set", "guards.kill_switch=true",
                             "--outputs", str(outputs)], secret_env, f"sqlite:///{tmp_path / 'halted.sqlite'}"),
        }
        run_due, schedule_log, sched_db = start_run_due(tmp_path, secret_env)
        assert schedule_log.is_relative_to(outputs)
        panel_db = tmp_path / "panel.sqlite"
        shutil.copy(dry_run_archive.db.removeprefix("sqlite:///"), panel_db)
        panel = run_control_panel(panel_db, tmp_path / "control_panel.ipynb")
        results = {name: finish(proc) for name, proc in running.items()}
        results["run-due"] = finish(run_due)
        assert standin.state()["post_counts"], "the live session placed no order: the keys did not reach it"
    for name, res in results.items():
        # 3: the halted session's usual status (a dead alert channel changes no exit status)
        assert res.returncode == (3 if name == "halted" else 0), f"{name}: {res.stderr[-3000:]}"
    run_dirs = [Path(res.stdout.strip().splitlines()[-1]) for name, res in results.items() if name != "run-due"]
    run_dirs.append(dry_run_archive.run_dir)
    assert {d.parent.name for d in run_dirs} == {"backtest", "walk_forward", "live", "daily_dry_run"}

    # Both alerts used the URL (read through the store) and were recorded, not delivered, with the reason.
    with open_ledger(f"sqlite:///{tmp_path / 'halted.sqlite'}") as ledger:
        [tripped] = ledger.alert_records()
    with open_ledger(sched_db) as ledger:
        [missed] = ledger.alert_records()
        assert len(ledger.audit_log(action="session_missed")) == 2
    assert (tripped.kind, tripped.channels, tripped.delivered) == ("guard_tripped", 1, False)
    assert (missed.kind, missed.channels, missed.delivered) == ("missed_session", 1, False)
    for alert in (tripped, missed):
        assert alert.error and alert.error.startswith("channel 1 (json): not delivered"), alert.error
    logged = schedule_log.read_text()
    assert "missed sma_crossover|sched-leak|2018-06-04|close" in logged, logged
    assert "alert missed_session: NOT delivered (channel 1 (json): not delivered" in logged, logged

    # the keyring supplied the live session's keys: audited in its ledger by name, never by value
    with open_ledger(f"sqlite:///{tmp_path / 'live.sqlite'}") as ledger:
        reads = list(ledger.audit_log(action="secret_read")["detail"])
    assert {"name": "APCA_API_KEY_ID", "backend": "keyring", "found": True} in reads

    # Everything under both outputs roots: the run folders, index.html, schedule logs, anything else.
    written = [p for root in (outputs, dry_run_archive.outputs) for p in root.rglob("*") if p.is_file()]
    assert {outputs / "index.html", dry_run_archive.outputs / "index.html"} <= set(written)
    assert {p for d in run_dirs for p in d.rglob("*") if p.is_file()} <= set(written)
    assert schedule_log in written
    written += [panel, panel_db, tmp_path / "live.sqlite", Path(dry_run_archive.db.removeprefix("sqlite:///"))]
    written += [tmp_path / "halted.sqlite", tmp_path / "sched.sqlite"]
    written += [p for p in cache_dir.rglob("*") if p.is_file()]
    kinds = {p.suffix for p in written}
    assert {".ipynb", ".html", ".json", ".csv", ".sqlite"} <= kinds and len(written) > 30
    leaked = {str(p): names for p in written
              if (names := leaks_in(p.read_bytes().decode("utf-8", errors="replace"), SEARCHED))}
    assert leaked == {}
    printed = "".join(r.stdout + r.stderr for r in results.values()) + dry_run_archive.stdout
    assert leaks_in(printed, SEARCHED) == []
