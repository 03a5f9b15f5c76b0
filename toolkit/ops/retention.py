"""``toolkit runs prune --keep-days N``: remove old run archives, never one the ledger still needs.

Archives pile up (a dry run every trading day, a backtest per idea), but some of them
are evidence: the report of a session whose orders are in the ledger is how a person
later finds out why those orders were sent, and a paper or live session's report is
the record of what happened to a broker account. So a run older than N days (by its
manifest's start time) is removed unless

* it is still running (its process is alive);
* its start time cannot be read (nothing to compare; a person decides);
* it is a paper or live session (``mode`` ``paper`` or ``online_live``, in its manifest
  or in the ledger's ``runs`` row that names it);
* a ledger order refers to it: an order of its session's run key (the manifest's
  ``session.run_key``; for a session run that failed before writing it, the key made
  from its params' strategy, account, ``as_of`` and execution time), or of a ledger run
  whose ``notebook_run_id`` is this run's id;
* it is a session whose ledger cannot be read (a missing file, a server down, a
  password this environment does not hold): without the ledger nobody can tell whether
  orders refer to it;
* it is a session whose run key the ledger read has no run of (another ledger, or a
  session that stopped before recording one): again, nobody can tell.

Each session is checked in its own ledger: ``--db-url`` when given, else the ledger its
manifest recorded (``session.ledger``, written by the runner, password masked: the real
URL is taken from its params' ``db_url`` or ``$TOOLKIT_DB_URL`` when that names the same
login, host and database), else its params' ``db_url``, else ``$TOOLKIT_DB_URL`` or
``outputs/ledger.sqlite`` (archives written before the runner recorded it). Every ledger
is only read. The command says what it removed, what old runs it kept and why, and rewrites
``outputs/index.html``; ``--dry-run`` says the same without removing anything.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from toolkit.errors import ParamsError
from toolkit.ops.run_files import json_part, read_json_object

__all__ = [
    "LIVE_MODES", "LedgerRefs", "PruneDecision", "PrunePlan", "apply_prune", "parse_keep_days", "parse_now",
    "plan_prune", "prune_report",
]

#: Modes in which a session trades a broker account; their archives are always kept.
LIVE_MODES = ("paper", "online_live")


def parse_keep_days(value: Any) -> int:
    """``--keep-days``: a whole number of days, 0 or more (0 keeps only what is protected or running)."""
    text = str(value).strip()
    if isinstance(value, bool) or not text.isdigit():
        raise ParamsError("--keep-days", value, "a whole number of days, 0 or more (e.g. 30)")
    return int(text)


def parse_now(value: str | None, clock: Callable[[], datetime] | None = None) -> datetime:
    """``--now`` (an ISO date-time; without a zone it is UTC), else the clock's time (default: now)."""
    if value is None:
        return (clock or (lambda: datetime.now(UTC)))().astimezone(UTC)
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ParamsError("--now", value, "an ISO date-time such as 2026-03-01T12:00:00Z") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


@dataclass
class LedgerRefs:
    """What one ledger says about archived runs: orders per run key, mode and notebook run id per run."""

    shown: str
    error: str | None = None
    orders: dict[str, int] = field(default_factory=dict)
    modes: dict[str, str] = field(default_factory=dict)  # run_key -> mode (every key with a ``runs`` row)
    by_notebook_run: dict[str, list[str]] = field(default_factory=dict)  # notebook_run_id -> run keys

    @classmethod
    def unreadable(cls, shown: str, why: str) -> LedgerRefs:
        """A ledger that was not even opened (``why``): every session checked in it is kept."""
        return cls(shown, error=why)

    @classmethod
    def read(cls, url: str | None) -> LedgerRefs:
        """Read ``url``'s references; a ledger that cannot be read is recorded with why, never created."""
        from toolkit.errors import ToolkitError
        from toolkit.ledger import open_ledger
        from toolkit.ledger.db import resolve_url, shown_url

        resolved = resolve_url(url)
        refs = cls(shown_url(resolved))
        try:
            with open_ledger(resolved, must_exist=True) as ledger:
                rows = ledger.run_references()
        except ToolkitError as exc:  # a missing file, an unknown schema, a missing driver
            refs.error = str(exc)
            return refs
        except Exception as exc:  # a server that does not answer: keep the sessions, say why
            refs.error = f"{type(exc).__name__}: {exc}".splitlines()[0]
            return refs
        for run_key, mode, notebook_run_id, orders in rows:
            if orders:
                refs.orders[run_key] = orders
            if mode:
                refs.modes[run_key] = mode
            if notebook_run_id:
                refs.by_notebook_run.setdefault(notebook_run_id, []).append(run_key)
        return refs


@dataclass(frozen=True)
class PruneDecision:
    """One archived run and what prune does with it."""

    run_dir: Path
    started: datetime | None
    status: str | None
    remove: bool
    reason: str

    @property
    def name(self) -> str:
        return f"{self.run_dir.parent.name}/{self.run_dir.name}"


@dataclass(frozen=True)
class PrunePlan:
    """What ``runs prune`` removes and keeps, decided before anything is touched."""

    outputs: Path
    keep_days: int
    cutoff: datetime
    decisions: tuple[PruneDecision, ...]
    ledgers: tuple[LedgerRefs, ...]

    @property
    def removed(self) -> list[PruneDecision]:
        return [d for d in self.decisions if d.remove]

    @property
    def kept_old(self) -> list[PruneDecision]:
        """Kept although old (or of unknown age): each with the reason."""
        return [d for d in self.decisions if not d.remove and (d.started is None or d.started < self.cutoff)]

    @property
    def kept_recent(self) -> list[PruneDecision]:
        return [d for d in self.decisions if not d.remove and d.started is not None and d.started >= self.cutoff]


def _started(manifest: dict[str, Any]) -> datetime | None:
    try:
        at = datetime.fromisoformat(str(manifest["started_utc"]))
    except (KeyError, ValueError):
        return None
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _is_session(manifest: dict[str, Any]) -> bool:
    """A run of a session notebook (dry run, live): it has a session, or params naming an account and a mode."""
    params = json_part(manifest, "params")
    return isinstance(manifest.get("session"), dict) or ("account" in params and "mode" in params)


def _run_keys(manifest: dict[str, Any]) -> list[str]:
    """The ledger run key(s) a session run recorded under (see the module docstring)."""
    session = json_part(manifest, "session")
    if session.get("run_key"):
        return [str(session["run_key"])]
    params = json_part(manifest, "params")
    parts = [params.get(k) for k in ("strategy", "account", "as_of", "execution_time")]
    return ["|".join(str(p) for p in parts)] if all(parts) else []


def _protection(run_id: str, manifest: dict[str, Any], refs: LedgerRefs) -> str | None:
    """Why this old run must stay, or None when it may go (``refs``: the ledger its session used)."""
    session_run = _is_session(manifest)
    session = json_part(manifest, "session")
    params = json_part(manifest, "params")
    mode = session.get("mode") or params.get("mode")
    if mode in LIVE_MODES:
        return f"a live session (mode {mode})"
    if refs.error is not None:  # a backtest needs no ledger; a session cannot be judged without it
        return (f"its session's ledger {refs.shown} cannot be read ({refs.error}): "
                "cannot tell whether orders refer to it") if session_run else None
    keys = _run_keys(manifest) if session_run else []
    linked = keys + [k for k in refs.by_notebook_run.get(run_id, []) if k not in keys]
    for key in linked:
        if refs.modes.get(key) in LIVE_MODES:
            return f"a live session (ledger run {key}, mode {refs.modes[key]})"
        n = refs.orders.get(key, 0)
        if n:
            return f"{n} ledger order{'' if n == 1 else 's'} of run {key} refer{'s' if n == 1 else ''} to it"
    if session_run and not linked:
        return "a session run whose manifest names no ledger run key: cannot tell whether orders refer to it"
    if session_run and not any(key in refs.modes for key in linked):
        return (f"the ledger {refs.shown} has no run {' or '.join(linked)}: its session may have recorded "
                "in another ledger, cannot tell whether orders refer to it")
    return None


def _recorded_ledger(manifest: dict[str, Any]) -> tuple[str | None, str | None]:
    """``(url, None)``: the ledger the runner recorded for this session, as a URL to open, or
    ``(None, shown)`` when it was recorded with a masked password this environment does not
    hold, or ``(None, None)`` when nothing was recorded (an older archive)."""
    from toolkit.ledger.db import resolve_url, shown_url

    recorded = json_part(manifest, "session").get("ledger")
    if not isinstance(recorded, str) or not recorded:
        return None, None
    params = json_part(manifest, "params")
    for candidate in (params.get("db_url"), None):  # None: $TOOLKIT_DB_URL, else outputs/ledger.sqlite
        url = resolve_url(candidate if isinstance(candidate, str) else None)
        if shown_url(url) == recorded:
            return url, None
    if shown_url(recorded) == recorded and "***@" not in recorded:  # no password was hidden: usable as is
        return recorded, None
    return None, recorded


def plan_prune(outputs: Path, keep_days: int, *, now: datetime, db_url: str | None = None,
               read_ledger: Callable[[str | None], LedgerRefs] = LedgerRefs.read) -> PrunePlan:
    """Decide, for every run under ``outputs``, whether ``runs prune`` removes it and why; changes nothing."""
    from toolkit.runner import manifest_status

    cutoff = now - timedelta(days=keep_days)
    ledgers: dict[str | None, LedgerRefs] = {}

    def refs_for(manifest: dict[str, Any]) -> LedgerRefs:
        params = json_part(manifest, "params")
        url = db_url or (params.get("db_url") if _is_session(manifest) else None)
        if db_url is None and _is_session(manifest):
            recorded, masked = _recorded_ledger(manifest)
            if masked is not None:
                if masked not in ledgers:
                    ledgers[masked] = LedgerRefs.unreadable(
                        masked, "its password is in neither the params' db_url nor $TOOLKIT_DB_URL")
                return ledgers[masked]
            url = recorded or url
        if url not in ledgers:
            ledgers[url] = read_ledger(url)
        return ledgers[url]

    decisions = []
    for mf in sorted(outputs.glob("*/*/manifest.json")):
        run_dir, manifest = mf.parent, read_json_object(mf)
        started, status = _started(manifest), manifest_status(manifest) if manifest else None
        if not manifest:
            decisions.append(PruneDecision(run_dir, None, None, False, "manifest.json cannot be read"))
            continue
        if started is None:
            decisions.append(PruneDecision(run_dir, None, status, False, "its manifest has no start time"))
            continue
        if started >= cutoff:
            recent = f"started within the last {keep_days} days"
            decisions.append(PruneDecision(run_dir, started, status, False, recent))
            continue
        if status == "running":
            decisions.append(PruneDecision(run_dir, started, status, False, "still running"))
            continue
        why = _protection(str(manifest.get("run_id") or run_dir.name), manifest, refs_for(manifest))
        decisions.append(PruneDecision(run_dir, started, status, why is None,
                                       why or f"started before {cutoff:%Y-%m-%d %H:%M} UTC"))
    return PrunePlan(outputs, keep_days, cutoff, tuple(decisions), tuple(ledgers.values()))


def apply_prune(plan: PrunePlan) -> list[Path]:
    """Remove the plan's old runs, then rewrite ``outputs/index.html``; returns the folders removed."""
    from toolkit.ops.run_index import write_index

    removed = []
    for d in plan.removed:
        shutil.rmtree(d.run_dir)
        removed.append(d.run_dir)
    write_index(plan.outputs)
    return removed


def prune_report(plan: PrunePlan, *, dry_run: bool) -> str:
    """What was (or would be) removed, what old runs were kept and why, and which ledgers were read."""
    cut = f"{plan.cutoff:%Y-%m-%d %H:%M} UTC"
    verb = "would remove" if dry_run else "removed"
    lines: list[str] = []
    gone = plan.removed
    lines.append(f"{verb} {len(gone)} run{'' if len(gone) == 1 else 's'} started before {cut}"
                 + (":" if gone else ""))
    width = max((len(d.name) for d in plan.decisions), default=0)
    for d in gone:
        lines.append(f"  {d.name.ljust(width)}  started {d.started:%Y-%m-%d %H:%M}  {d.status or '-'}")
    kept = plan.kept_old
    if kept:
        lines.append(f"kept {len(kept)} older run{'' if len(kept) == 1 else 's'}:")
        lines += [f"  {d.name.ljust(width)}  {d.reason}" for d in kept]
    recent = plan.kept_recent
    lines.append(f"kept {len(recent)} run{'' if len(recent) == 1 else 's'} started within the last "
                 f"{plan.keep_days} day{'' if plan.keep_days == 1 else 's'}")
    for refs in plan.ledgers:
        state = "read" if refs.error is None else f"not readable ({refs.error})"
        lines.append(f"ledger {refs.shown}: {state}")
    if dry_run:
        lines.append("dry run: nothing was removed")
    else:
        lines.append(f"index: {plan.outputs / 'index.html'}")
    return "\n".join(lines)
