"""``toolkit health``: is the unattended setup sound? A table, and a non-zero exit on any failure.

Usable from cron or a monitor: each row is a check, ``ok``, ``warn`` or ``fail``, and
what was seen. Checked, in order:

* the ledger: reachable, and its schema at this toolkit's newest migration (read, never
  migrated: a health check changes nothing);
* for each scheduled params file (``--params``, else every file the installed entries
  name): the entry is installed; the most recent session the schedule made due was run
  (its run's status, the last run's age), or was missed; the broker accepts the
  credentials (the ``toolkit broker check`` code path; offline params skip it); a
  Schwab refresh token's days left; with systemd timers, that they are enabled (unit
  files that no timer runs schedule nothing);
* the secret store (``TOOLKIT_SECRETS``) answers, and alert channels are configured
  (none: every alert is only recorded, nobody is told: a warning);
* free disk space where runs are archived (``--outputs``).

Fast on purpose (it may run every minute): no vectorbt, plotly or notebook machinery on
this path, and the broker is only called for params that trade at one.
"""

from __future__ import annotations

import argparse
import math
import shutil
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from toolkit.ledger import Ledger
    from toolkit.ops.crontab import Crontab
    from toolkit.ops.schedule_target import ScheduleTarget

__all__ = ["FAIL", "OK", "WARN", "HealthRow", "add_health_parser", "check_health", "health_command", "health_table"]

OK, WARN, FAIL = "ok", "warn", "fail"
#: A due session with no run yet is "running or about to" for this long, then missed.
RUN_GRACE_MINUTES = 30
#: Free space for outputs below which health fails (warns below twice this).
DEFAULT_MIN_FREE_GB = 1.0


@dataclass(frozen=True)
class HealthRow:
    check: str
    status: str
    detail: str


def health_table(rows: list[HealthRow]) -> str:
    width = max([len(r.check) for r in rows] + [5])
    lines = [f"{'check':<{width}}  status  detail"]
    lines += [f"{r.check:<{width}}  {r.status:<6}  {r.detail}" for r in rows]
    return "\n".join(lines)


#: ``systemctl --user ARGS`` as :func:`toolkit.ops.systemd_timer.systemctl` runs it (injectable for tests).
Systemctl = Callable[..., "subprocess.CompletedProcess[str]"]


def check_health(params_files: list[str], *, notebook: str | None = None, db_url: str | None = None,
                 outputs: Path | None = None, min_free_gb: float = DEFAULT_MIN_FREE_GB, now: Any = None,
                 backend: str = "auto", crontab: Crontab | None = None, units: Path | None = None,
                 broker: bool = True, environ: dict[str, str] | None = None,
                 systemctl: Systemctl | None = None) -> list[HealthRow]:
    """Every check (see the module doc); ``now``, ``crontab``, ``units``, ``environ`` and ``systemctl`` are
    for tests (``systemctl`` None: the real one, where systemd runs)."""
    from toolkit.errors import InvalidInput
    from toolkit.ops.schedule_install import choose_backend
    from toolkit.ops.schedule_target import load_target
    from toolkit.params import repo_root

    if isinstance(min_free_gb, bool) or not isinstance(min_free_gb, int | float) or not math.isfinite(min_free_gb) \
            or min_free_gb < 0:
        raise InvalidInput("--min-free-gb", min_free_gb, "a number of gigabytes >= 0")
    rows: list[HealthRow] = []
    targets: list[ScheduleTarget] = []
    installed = _installed(backend, crontab, units, rows)
    files = list(params_files) or sorted({e.params_file for e in installed or []})
    for f in files:
        try:
            targets.append(load_target(f, notebook))
        except Exception as exc:  # a broken params file is a failed check, not a traceback
            rows.append(HealthRow(f"params {f}", FAIL, str(exc)))
    if not files:
        rows.append(HealthRow("schedule", WARN, "no toolkit schedule entries installed and no --params given"))
    # One ledger per URL the params name (--db-url: that one for all of them).
    urls = {db_url} if db_url is not None else {t.db_url for t in targets} or {None}
    ledgers = {url: _ledger_row(url, rows) for url in sorted(urls, key=str)}
    at = _now(now)
    for t in targets:
        if installed is not None:
            mine = [e for e in installed if e.entry_id == t.entry_id]
            rows.append(HealthRow(f"schedule {t.key}", OK if mine else FAIL,
                                  f"{len(mine)} entries ({mine[0].when}{', ...' if len(mine) > 1 else ''})" if mine
                                  else f"not installed: toolkit schedule install --params {t.params_file}"))
            if mine and choose_backend(backend) == "systemd":
                rows[-1] = _timers_row(rows[-1], t, systemctl)
        ledger = ledgers[db_url if db_url is not None else t.db_url]
        if ledger is not None:
            rows.append(_last_run_row(t, ledger, at))
        if t.live:
            rows.extend(_broker_rows(t, broker, environ))
    for ledger in ledgers.values():
        if ledger is not None:
            rows.extend(_lock_rows(ledger, at))
            ledger.close()
    rows.extend(_secrets_rows(environ))
    rows.append(_disk_row(outputs or repo_root() / "outputs", min_free_gb))
    return rows


def _timers_row(row: HealthRow, t: ScheduleTarget, systemctl: Systemctl | None) -> HealthRow:
    """``row`` (the unit files exist) made a failure when their timers are not enabled: files alone fire nothing."""
    from toolkit.ops import systemd_timer

    if systemctl is None:
        if not systemd_timer.systemd_running():
            return HealthRow(row.check, WARN, f"{row.detail}; systemd is not running here: cannot tell whether the "
                                              "timers are enabled")
        systemctl = systemd_timer.systemctl
    timers = [f"toolkit-{t.entry_id}-{what}.timer" for what in ("fire", "run-due")]
    try:
        states = {name: systemctl("is-enabled", name) for name in timers}
    except (OSError, subprocess.SubprocessError) as exc:
        return HealthRow(row.check, WARN, f"{row.detail}; systemctl is unavailable ({exc.__class__.__name__}): "
                                          "cannot tell whether the timers are enabled")
    off = {name: (done.stdout.strip() or done.stderr.strip() or f"exit {done.returncode}")
           for name, done in states.items() if done.returncode != 0}
    if off:
        seen = ", ".join(f"{name} {state.splitlines()[0]}" for name, state in off.items())
        return HealthRow(row.check, FAIL, f"unit files written but not enabled ({seen}): systemctl --user "
                                          f"enable --now {' '.join(off)}")
    return HealthRow(row.check, OK, f"{row.detail}; timers enabled")


def _secrets_rows(environ: Mapping[str, str] | None) -> list[HealthRow]:
    """The secret store answers (its backend reachable); alert channels are configured in it (URLs never shown)."""
    from toolkit.connections.secrets import open_secret_store
    from toolkit.ops.alert_channels import split_urls
    from toolkit.ops.alerts import ALERT_URLS

    try:
        store = open_secret_store(environ=environ)
        urls = split_urls(store.get(ALERT_URLS))
    except Exception as exc:  # Vault sealed, AWS unreachable, a keyring locked: a failed row, never a traceback
        return [HealthRow("secrets", FAIL, f"the secret store does not answer: {exc.__class__.__name__}: "
                                           f"{_first_line(exc)}")]
    rows = [HealthRow("secrets", OK, f"TOOLKIT_SECRETS={store.backend}: the store answers")]
    if not urls:
        return [*rows, HealthRow("alerts", WARN, f"no alert channel configured ({ALERT_URLS} in the secret store): "
                                                 "alerts are recorded in the ledger but reach nobody")]
    schemes = ", ".join(sorted({u.split("://", 1)[0] for u in urls}))
    return [*rows, HealthRow("alerts", OK, f"{len(urls)} channel(s) configured ({schemes})")]


def _first_line(exc: BaseException) -> str:
    """An error's first line: a database driver adds "(Background on this error at: ...)" on the next one,
    which would break the table."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else exc.__class__.__name__


def _now(now: Any) -> pd.Timestamp:
    import pandas as pd

    if now is None:
        return pd.Timestamp.now(tz="UTC")
    from toolkit.ops.schedule import parse_instant

    return parse_instant(now, "--now")


def _installed(backend: str, crontab: Crontab | None, units: Path | None, rows: list[HealthRow]) -> list[Any] | None:
    from toolkit.ops.schedule_install import list_entries

    try:
        return list_entries(None, backend=backend, crontab=crontab, units=units)
    except Exception as exc:  # no crontab program, unreadable crontab
        rows.append(HealthRow("schedule", FAIL, f"cannot read the schedule: {exc}"))
        return None


def _ledger_row(url: str | None, rows: list[HealthRow]) -> Ledger | None:
    """Append the ledger's row; return it (for reading) when it is reachable and at this toolkit's head.

    Read with plain SQL and the revision files, not through Alembic's machinery (half a
    second to import) and never through :func:`~toolkit.ledger.open_ledger`, which would
    migrate: a health check changes nothing.
    """
    from sqlalchemy import text

    from toolkit.ledger import Ledger, db

    resolved = db.resolve_url(url)
    shown = db.shown_url(resolved)
    try:
        db.require_existing(resolved)
        engine = db.create_ledger_engine(resolved)
    except Exception as exc:
        rows.append(HealthRow("ledger", FAIL, f"{shown}: not reachable: {_first_line(exc)}"))
        return None
    try:
        with engine.connect() as conn:
            tables = _tables(conn)
            heads = sorted(r[0] for r in conn.execute(text("SELECT version_num FROM alembic_version"))) \
                if "alembic_version" in tables else []
    except Exception as exc:
        engine.dispose()
        rows.append(HealthRow("ledger", FAIL, f"{shown}: not reachable: {exc.__class__.__name__}: "
                                              f"{_first_line(exc)}"))
        return None
    head = _head_revision(db.MIGRATIONS_DIR / "versions")
    if heads != [head]:
        engine.dispose()
        rows.append(HealthRow("ledger", FAIL, f"{shown}: schema at {', '.join(heads) or 'nothing'}, this toolkit "
                                              f"needs {head} (any toolkit run migrates it)"))
        return None
    rows.append(HealthRow("ledger", OK, f"{shown}: reachable, schema at {head}"))
    return Ledger(engine, url=resolved)


def _tables(conn: Any) -> set[str]:
    from sqlalchemy import inspect

    return set(inspect(conn).get_table_names())


def _head_revision(versions: Path) -> str:
    """The newest revision among the migration files: the one no other revises."""
    import re

    revised, revisions = set(), set()
    for path in versions.glob("*.py"):
        source = path.read_text()
        rev = re.search(r'^revision\s*=\s*["\']([^"\']+)', source, re.M)
        down = re.search(r'^down_revision\s*=\s*["\']([^"\']+)', source, re.M)
        if rev:
            revisions.add(rev[1])
        if down:
            revised.add(down[1])
    heads = sorted(revisions - revised)
    return heads[0] if len(heads) == 1 else ", ".join(heads)


def _last_run_row(t: ScheduleTarget, ledger: Ledger, now: pd.Timestamp) -> HealthRow:
    """Was the most recent session the schedule made due run? (and how old is the last run)"""
    import pandas as pd

    from toolkit.ops.schedule_cache import cached_runs_between

    name = f"last run {t.key}"
    recent = cached_runs_between(t.execution_time, now - pd.Timedelta(days=10), now)
    last = ledger.last_run(strategy=t.strategy, account=t.account, execution_time=t.execution_time)
    age = "no run yet" if last is None else (
        f"last run {last.session_date} {last.status}, {_age(now - pd.Timestamp(last.started_at))} ago")
    if not recent:
        return HealthRow(name, OK, f"no session due in the last 10 days; {age}")
    due = recent[-1]
    run = ledger.get_run(t.run_key(due.session))
    when = f"{due.session} ({due.new_york:%H:%M} New York)"
    if run is None:
        if now - due.at < pd.Timedelta(minutes=RUN_GRACE_MINUTES):
            return HealthRow(name, WARN, f"{when} is due and not recorded yet (running?); {age}")
        return HealthRow(name, FAIL, f"missed: {when} has no run; {age} (toolkit schedule run-due catches up)")
    status = {"completed": OK, "market_closed": OK, "halted": WARN, "blocked": WARN}.get(run.status, FAIL)
    return HealthRow(name, status, f"{when}: {run.status}; {age}")


def _lock_rows(ledger: Ledger, now: pd.Timestamp) -> list[HealthRow]:
    """Runs holding a lock now; a dead holder's lock is a warning (the next run of its key takes it over)."""
    import socket

    from toolkit.engine.run_lock import holder_gone

    locks = ledger.run_locks()
    if not locks:
        return []
    dead = [(lk, why) for lk in locks
            if (why := holder_gone(lk, now=now.to_pydatetime(), host=socket.gethostname())) is not None]
    if dead:
        return [HealthRow("run locks", WARN, "; ".join(f"{lk.key} held by {lk.describe()}, {why} (its next run "
                                                       "takes it over)" for lk, why in dead))]
    return [HealthRow("run locks", OK, "; ".join(f"{lk.key} running ({lk.describe()})" for lk in locks))]


def _age(delta: pd.Timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.1f} days"


def _broker_rows(t: ScheduleTarget, broker: bool, environ: dict[str, str] | None) -> list[HealthRow]:
    rows = []
    if t.broker == "schwab":
        rows.append(_token_row(t, environ))
    if not broker:
        return [*rows, HealthRow(f"broker {t.key}", WARN, "skipped (--no-broker)")]
    from toolkit.engine.preflight import preflight
    from toolkit.engine.remote import open_remote_broker

    try:
        remote = open_remote_broker(t.broker or "alpaca", mode=t.mode, environ=environ)
    except Exception as exc:
        return [*rows, HealthRow(f"broker {t.key}", FAIL, str(exc))]
    try:
        checks = [c for c in preflight(remote) if c.name != "login token"]
    finally:
        remote.close()
    failed = [c for c in checks if c.status == FAIL]
    warned = [c for c in checks if c.status == WARN]
    worst = failed or warned
    detail = "; ".join(f"{c.name}: {c.detail}" for c in worst) if worst else f"{remote.name} accepted the credentials"
    return [*rows, HealthRow(f"broker {t.key}", FAIL if failed else WARN if warned else OK, detail)]


def _token_row(t: ScheduleTarget, environ: dict[str, str] | None) -> HealthRow:
    """The Schwab refresh token's days left: from its file, or from the copy kept in the secret store."""
    import json
    import time

    from toolkit.connections import SchwabCredentials, token_days_left, token_health
    from toolkit.connections.schwab import REFRESH_TOKEN_SECONDS, TOKEN_NAME

    try:
        creds = SchwabCredentials.from_env(environ)
        if creds.token_path is not None:
            days = token_days_left(creds.token_path)
        else:
            assert creds.token_store is not None
            created = float(json.loads(creds.token_store[TOKEN_NAME])["creation_timestamp"])
            days = (REFRESH_TOKEN_SECONDS - (time.time() - created)) / 86400
        health = token_health(days)
    except Exception as exc:  # missing credentials, an unreadable token: a failed row
        return HealthRow(f"token {t.key}", FAIL, str(exc))
    return HealthRow(f"token {t.key}", {"ok": OK, "warn": WARN}.get(health.level, FAIL), health.message)


def _disk_row(outputs: Path, min_free_gb: float) -> HealthRow:
    folder = outputs
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    free = shutil.disk_usage(folder).free / 1024**3
    status = FAIL if free < min_free_gb else WARN if free < 2 * min_free_gb else OK
    return HealthRow("disk", status, f"{free:.1f} GB free for {outputs} (fails under {min_free_gb:g} GB)")


def health_command(args: argparse.Namespace, *, say: Callable[[str], None] = print) -> int:
    rows = check_health(list(args.params or []), notebook=args.notebook, db_url=args.db_url,
                        outputs=Path(args.outputs) if args.outputs else None, min_free_gb=args.min_free_gb,
                        broker=args.broker, backend=args.backend, now=args.now)
    say(health_table(rows))
    return 1 if any(r.status == FAIL for r in rows) else 0


def add_health_parser(sub: Any) -> None:
    """Register ``toolkit health`` (called by :func:`toolkit.cli.build_parser`)."""
    h = sub.add_parser("health", help="ledger, schedule, last runs, broker credentials, token, disk: a table; "
                                      "exit 1 on any failure")
    h.add_argument("--params", action="append", metavar="FILE",
                   help="a scheduled params file (repeatable; default: every file the installed entries name)")
    h.add_argument("--notebook", choices=["daily_dry_run", "live"], help="the notebook of --params (default: its "
                                                                         "folder's name)")
    h.add_argument("--db-url", help="ledger URL (default: the params' db_url, $TOOLKIT_DB_URL, outputs/ledger.sqlite)")
    h.add_argument("--outputs", metavar="DIR", help="where runs are archived, for the disk check (default: "
                                                    "the project's outputs/)")
    h.add_argument("--min-free-gb", type=float, default=DEFAULT_MIN_FREE_GB,
                   help=f"fail under this much free disk for outputs, >= 0 (default {DEFAULT_MIN_FREE_GB:g})")
    h.add_argument("--no-broker", dest="broker", action="store_false", help="do not call brokers")
    h.add_argument("--backend", choices=["auto", "cron", "systemd"], default="auto", help="where entries are")
    h.add_argument("--now", metavar="DATETIME", help="judge the last runs and run locks as at this time (New York "
                                                     "when no zone; default now), as run-due's --now")
