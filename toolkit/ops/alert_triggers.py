"""When the toolkit raises an alert, and what it says: the events of an unattended day.

* after every archived run (:func:`alerts_after_run`, called by the runner):
  ``run_failed`` for a failed or interrupted run of any notebook (not for one the run
  lock refused, status ``locked``: another run of the session is doing the work);
  ``reconciliation_mismatch`` instead when a paper or live session stopped because the
  ledger and the broker disagree (the run fails then too, but the mismatch is the news);
  ``guard_tripped`` for a session halted or blocked by a guard (the kill switch included),
  or one that ended beyond the params' early-warning ``alerts.drawdown`` /
  ``alerts.daily_loss``; ``token_expiry`` after a Schwab live run whose refresh token has
  fewer than ``alerts.token_expiry_days`` left;
* :func:`alert_kill_switch_changed`: the kill switch turned on or off (CLI, control panel);
* :func:`alert_token_expiry`: a Schwab token near expiry (``toolkit broker check``);
* :func:`alert_missed_session`: a scheduled session that did not run;
  :func:`alert_missed_sessions`: one alert for all those a ``toolkit schedule run-due`` found.

The params' ``alerts.kinds`` switch kinds off for runs of those params; a kind switched
off is neither sent nor recorded. The kill switch belongs to no params file (it stops
every account), so its alert always goes. What a run raises is decided by the pure
:func:`run_alerts` from what the run archived (its manifest and ``snapshot.json``), so the
engine knows nothing of alerts, and a replay over history (no archive) raises none.

Nothing here raises because of an alert: the runner's caller gets the run's own status,
and a problem with alerting is one line in the run's log.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toolkit.ops.alerts import alert_line, send_alert
from toolkit.ops.run_files import read_json_object
from toolkit.params.alerts import AlertSettings

if TYPE_CHECKING:  # pragma: no cover
    from toolkit.ledger import AlertRecord, KillSwitch, Ledger

__all__ = ["PendingAlert", "alert_kill_switch_changed", "alert_missed_session", "alert_missed_sessions",
           "alert_token_expiry",
           "alerts_after_run", "run_alerts", "settings_of"]


@dataclass(frozen=True)
class PendingAlert:
    """An alert decided on, not sent yet."""

    kind: str
    title: str
    body: str
    account: str | None = None
    run_key: str | None = None


def settings_of(params: Any) -> AlertSettings:
    """The params' ``alerts:`` block, or the defaults for a notebook without one (backtest, walk-forward)."""
    found = getattr(params, "alerts", None)
    return found if isinstance(found, AlertSettings) else AlertSettings()


# ----------------------------------------------------------------------------- after a run


def run_alerts(notebook: str, params: Any, manifest: Mapping[str, Any],
               snapshot: Mapping[str, Any] | None = None) -> list[PendingAlert]:
    """What an archived run raises, from its manifest (status, error, session) and ``snapshot.json``.

    Pure: reads nothing, sends nothing. Kinds the params switch off are left out.
    """
    settings = settings_of(params)
    session = _mapping(manifest.get("session"))
    account = getattr(params, "account", None)
    strategy = getattr(params, "strategy", None)
    run_key = session.get("run_key") if isinstance(session.get("run_key"), str) else None
    status = manifest.get("status")
    where = _where(notebook, manifest)
    out: list[PendingAlert] = []
    if status in ("failed", "interrupted"):
        if session.get("reconciliation_ok") is False:
            mode = session.get("mode") or getattr(params, "mode", "")
            out.append(PendingAlert(
                "reconciliation_mismatch",
                f"reconciliation mismatch: {account} ({mode}) stopped before any order",
                f"{session.get('stopped') or manifest.get('error') or 'the ledger and the broker disagree'}\n\n{where}",
                account, run_key))
        else:
            what = " ".join(str(x) for x in (notebook, strategy, account) if x)
            out.append(PendingAlert("run_failed", f"run {status}: {what}",
                                    f"{manifest.get('error') or 'no error recorded'}\n\n{where}", account, run_key))
    elif status == "completed":
        reasons = _guard_reasons(session, settings, snapshot or {})
        if reasons:
            session_status = session.get("status")
            title = (f"guard tripped: {account} session {session_status}" if session_status in ("halted", "blocked")
                     else f"guard tripped: {account} beyond its alert threshold")
            out.append(PendingAlert("guard_tripped", title, "\n".join(f"- {r}" for r in reasons) + f"\n\n{where}",
                                    account, run_key))
    return [a for a in out if settings.wants(a.kind)]


def _guard_reasons(session: Mapping[str, Any], settings: AlertSettings, snapshot: Mapping[str, Any]) -> list[str]:
    reasons: list[str] = []
    status = session.get("status")
    blocked = [str(b) for b in session.get("blocked") or []]
    if status in ("halted", "blocked") or blocked:
        reasons.append(f"session {status}: " + ("; ".join(blocked) if blocked else "see the report"))
    figures = _mapping(snapshot.get("snapshot"))
    drawdown, daily = _number(figures.get("drawdown")), _number(figures.get("daily_return"))
    if settings.drawdown is not None and drawdown is not None and -drawdown >= settings.drawdown:
        reasons.append(f"drawdown {-drawdown:.2%} from the peak reaches the alert threshold {settings.drawdown:.2%}")
    if settings.daily_loss is not None and daily is not None and -daily >= settings.daily_loss:
        reasons.append(f"daily loss {-daily:.2%} reaches the alert threshold {settings.daily_loss:.2%}")
    return reasons


def _mapping(value: Any) -> Mapping[str, Any]:
    """``value`` when it is a mapping, else an empty one (an older or partial archive)."""
    return value if isinstance(value, Mapping) else {}


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _where(notebook: str, manifest: Mapping[str, Any]) -> str:
    return f"notebook {notebook}, run {manifest.get('run_id')}, started {manifest.get('started_utc')}"


def alerts_after_run(
    notebook: str,
    params: Any,
    manifest: Mapping[str, Any],
    run_dir: Path,
    *,
    log: Callable[[str], None],
    store: Mapping[str, str] | None = None,
    clock: Callable[[], dt.datetime] | None = None,
) -> list[AlertRecord]:
    """Send and record what the archived run in ``run_dir`` raises (see the module doc); never raises.

    ``log`` gets one line per alert sent to a channel (its outcome, never a channel URL;
    with no channel configured the alert is only recorded). The ledger is the
    run's (the params' ``db_url``, else ``$TOOLKIT_DB_URL``, else outputs/ledger.sqlite)
    and is opened only when there is something to record.
    """
    try:
        pending = run_alerts(notebook, params, manifest, read_json_object(run_dir / "snapshot.json"))
        pending += _token_after_live_run(notebook, params, manifest, store)
    except Exception as exc:  # a malformed archive must not fail the run it belongs to
        log(f"alerts: not checked ({type(exc).__name__}: {exc})")
        return []
    return _send_all(pending, getattr(params, "db_url", None), log=log, store=store, clock=clock)


def _send_all(pending: list[PendingAlert], db_url: str | None, *, log: Callable[[str], None],
              store: Mapping[str, str] | None, clock: Callable[[], dt.datetime] | None) -> list[AlertRecord]:
    if not pending:
        return []
    from toolkit.ledger import open_ledger

    try:
        ledger = open_ledger(db_url)
    except Exception as exc:  # the URL may hold a password: name the error, not its text
        for a in pending:
            log(f"alert {a.kind}: not sent, the ledger could not be opened ({type(exc).__name__}): {a.title}")
        return []
    sent = []
    with ledger:
        for a in pending:
            try:
                record = send_alert(ledger, a.kind, a.title, a.body, account=a.account, run_key=a.run_key,
                                    clock=clock, store=store)
            except Exception as exc:
                log(f"alert {a.kind}: not recorded ({type(exc).__name__}): {a.title}")
                continue
            if record.channels:  # with no channel configured the ledger has it; the log stays as it was
                log(alert_line(record))
            sent.append(record)
    return sent


def _token_after_live_run(notebook: str, params: Any, manifest: Mapping[str, Any],
                          store: Mapping[str, str] | None) -> list[PendingAlert]:
    """``token_expiry`` after a Schwab live run whose token file says too few days are left."""
    broker = getattr(params, "broker", None)
    if notebook != "live" or getattr(broker, "name", None) != "schwab":
        return []
    settings = settings_of(params)
    days = _schwab_token_days(store)
    if days is None or days >= settings.token_expiry_days or not settings.wants("token_expiry"):
        return []
    session = _mapping(manifest.get("session"))
    return [_token_alert(days, settings.token_expiry_days, getattr(params, "account", None), session.get("run_key"))]


def _schwab_token_days(store: Mapping[str, str] | None) -> float | None:
    """Days left of the Schwab token the secret store holds: the file ``SCHWAB_TOKEN_PATH`` names,
    else the token kept as ``SCHWAB_TOKEN`` (its JSON text). None when there is none to read."""
    import time

    from toolkit.connections import token_days_left
    from toolkit.connections.schwab import REFRESH_TOKEN_SECONDS, TOKEN_NAME
    from toolkit.connections.secrets import open_secret_store
    from toolkit.errors import BrokerAuthError

    source = open_secret_store() if store is None else store
    path = source.get("SCHWAB_TOKEN_PATH")
    if path:
        try:
            return token_days_left(Path(path).expanduser())
        except BrokerAuthError:  # no readable token: the run itself says so
            return None
    try:
        created = float(json.loads(source.get(TOKEN_NAME) or "")["creation_timestamp"])
    except (ValueError, KeyError, TypeError):
        return None
    return (REFRESH_TOKEN_SECONDS - (time.time() - created)) / 86400


def _token_alert(days: float, threshold: float, account: str | None, run_key: str | None) -> PendingAlert:
    from toolkit.connections.schwab import LOGIN_HOW

    state = f"expired {-days:.1f} days ago" if days <= 0 else f"expires in {days:.1f} days"
    return PendingAlert(
        "token_expiry", f"Schwab refresh token {state}",
        f"The Schwab refresh token {state} (alert threshold {threshold:g} days); scheduled live sessions fail "
        f"once it has expired. {LOGIN_HOW}.", account, run_key)


# ----------------------------------------------------------------------------- other events


def alert_token_expiry(
    ledger: Ledger,
    days_left: float,
    *,
    threshold: float = 2.0,
    account: str | None = None,
    urls: list[str] | None = None,
    clock: Callable[[], dt.datetime] | None = None,
    store: Mapping[str, str] | None = None,
) -> AlertRecord | None:
    """``token_expiry`` when ``days_left`` is under ``threshold`` (None, nothing sent, otherwise)."""
    if days_left >= threshold:
        return None
    a = _token_alert(days_left, threshold, account, None)
    return send_alert(ledger, a.kind, a.title, a.body, account=account, urls=urls, clock=clock, store=store)


def alert_kill_switch_changed(
    ledger: Ledger,
    state: KillSwitch,
    *,
    urls: list[str] | None = None,
    clock: Callable[[], dt.datetime] | None = None,
    store: Mapping[str, str] | None = None,
) -> AlertRecord:
    """``kill_switch_changed`` for the state just set (who, when, why, and what it means for sessions)."""
    word = "ON" if state.on else "off"
    effect = ("Every session of every account halts before any order until it is turned off." if state.on
              else "Sessions trade again from their next run.")
    body = f"The kill switch was turned {word} at {state.at} by {state.actor}: {state.reason}\n\n{effect}"
    return send_alert(ledger, "kill_switch_changed", f"kill switch {word} (by {state.actor}): {state.reason}", body,
                      urls=urls, clock=clock, store=store)


def alert_missed_session(
    ledger: Ledger,
    *,
    strategy: str,
    account: str,
    session_date: dt.date,
    execution_time: str,
    reason: str,
    scheduled_at: dt.datetime | None = None,
    settings: AlertSettings | None = None,
    urls: list[str] | None = None,
    clock: Callable[[], dt.datetime] | None = None,
    store: Mapping[str, str] | None = None,
) -> AlertRecord | None:
    """``missed_session``: a scheduled session that did not run, and what was done about it (``reason``).

    For ``toolkit schedule run-due``: ``reason`` says why (machine off, crash) and what
    the catch-up policy did (ran it late, skipped it). ``settings``: the params' alerts
    block (None: defaults); when it switches the kind off, nothing is sent and None is
    returned.
    """
    from toolkit.ledger import make_run_key

    if settings is not None and not settings.wants("missed_session"):
        return None
    run_key = make_run_key(strategy, account, session_date, execution_time)
    when = f" (due {scheduled_at.isoformat()})" if scheduled_at is not None else ""
    title = f"missed session: {strategy} on {account}, {session_date.isoformat()} {execution_time}"
    body = f"The session {run_key} did not run at its scheduled time{when}: {reason}"
    return send_alert(ledger, "missed_session", title, body, account=account, run_key=run_key, urls=urls,
                      clock=clock, store=store)


#: How many missed sessions one ``missed_session`` summary lists by name (the rest are counted).
MISSED_LISTED = 20


def alert_missed_sessions(
    ledger: Ledger,
    *,
    strategy: str,
    account: str,
    execution_time: str,
    missed: list[tuple[dt.date, dt.datetime, str]],
    settings: AlertSettings | None = None,
    clock: Callable[[], dt.datetime] | None = None,
    store: Mapping[str, str] | None = None,
) -> AlertRecord | None:
    """ONE ``missed_session`` alert for every session a catch-up found missed: ``(session, due at, reason)``.

    A machine off for half a year misses ~125 sessions: one message with the count, the
    first and last session and the list (the first :data:`MISSED_LISTED`), not a flood
    that buries every other alert. The ledger's audit log keeps one row per session.
    A single session reads as :func:`alert_missed_session`.
    """
    from toolkit.ledger import make_run_key

    if not missed:
        return None
    if len(missed) == 1:
        session, at, reason = missed[0]
        return alert_missed_session(ledger, strategy=strategy, account=account, session_date=session,
                                    execution_time=execution_time, reason=reason, scheduled_at=at,
                                    settings=settings, clock=clock, store=store)
    if settings is not None and not settings.wants("missed_session"):
        return None
    ordered = sorted(missed)
    first, last = ordered[0][0], ordered[-1][0]
    title = (f"missed sessions: {strategy} on {account}, {len(ordered)} sessions {first.isoformat()} to "
             f"{last.isoformat()} {execution_time}")
    lines = [f"{len(ordered)} scheduled sessions of {strategy}|{account}|{execution_time} did not run at their "
             f"time, {first.isoformat()} to {last.isoformat()}:"]
    lines += [f"- {make_run_key(strategy, account, s, execution_time)} (due {at.isoformat()}): {reason}"
              for s, at, reason in ordered[:MISSED_LISTED]]
    if len(ordered) > MISSED_LISTED:
        lines.append(f"- ... and {len(ordered) - MISSED_LISTED} more (the ledger's audit log, action "
                     "session_missed, lists every one)")
    return send_alert(ledger, "missed_session", title, "\n".join(lines), account=account,
                      run_key=make_run_key(strategy, account, last, execution_time), clock=clock, store=store)
