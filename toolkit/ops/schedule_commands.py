"""The ``toolkit schedule`` subcommands: thin wrappers that print what the ops modules did.

``install | list | remove`` (:mod:`toolkit.ops.schedule_install`), ``next`` (the
calendar, :mod:`toolkit.ops.schedule`), ``fire`` (:mod:`toolkit.ops.fire`) and
``run-due`` (:mod:`toolkit.ops.catch_up`). Each returns the command's exit status.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from toolkit.ops.schedule_target import ScheduleTarget

__all__ = ["add_schedule_parser", "next_runs_text", "schedule_command"]


def next_runs_text(target: ScheduleTarget, *, after: Any = None, count: int = 5) -> str:
    """The next ``count`` run times in New York and UTC, early closes marked: what a person checks."""
    import pandas as pd

    from toolkit.ops.schedule import upcoming_runs

    start = pd.Timestamp.now(tz="UTC") if after is None else after
    runs = upcoming_runs(target.execution_time, after=start, count=count)
    head = f"next {len(runs)} run(s) of {target.key} ({target.notebook}, {target.params_file}):"
    rows = [f"  {'session':<10}  {'New York':<13}  {'UTC':<20}  note"]
    for r in runs:
        ny = r.new_york
        note = f"early close ({_close(r.session)} New York)" if r.early_close else ""
        rows.append(f"  {r.session.isoformat():<10}  {f'{ny:%a %H:%M} {ny.tzname()}':<13}  "
                    f"{f'{r.at:%Y-%m-%d %H:%M} UTC':<20}  {note}".rstrip())
    if len(runs) < count:
        rows.append("  (the exchange calendar ends there)")
    return "\n".join([head, *rows])


def _close(session: Any) -> str:
    from toolkit.time import execution_instant

    return f"{execution_instant(session, 'close').tz_convert('America/New_York'):%H:%M}"


def schedule_command(args: argparse.Namespace) -> int:
    """Dispatch ``toolkit schedule <verb>``."""
    from toolkit.ops.schedule_target import load_target
    from toolkit.params import repo_root

    verb = args.schedule_command
    target = load_target(args.params, args.notebook) if args.params else None
    if verb == "install":
        from toolkit.ops.schedule_install import install

        assert target is not None
        done = install(target, root=repo_root(), backend=args.backend, lead_minutes=args.lead_minutes)
        print(f"installed {target.key} ({done.backend}, {len(done.entries)} entries"
              f"{f', replacing {done.replaced}' if done.replaced else ''}):")
        print("\n".join(f"  {e}" for e in done.entries))
        for note in done.notes:
            print(f"note: {note}")
        return 0
    if verb == "list":
        from toolkit.ops.schedule_install import list_entries

        entries = list_entries(target, backend=args.backend)
        if not entries:
            print("no toolkit schedule entries" + (f" for {target.params_file}" if target else ""))
        for e in entries:
            print(f"{e.entry_id}  {e.key:<40}  {e.when:<28}  {e.params_file}")
        return 0
    if verb == "remove":
        from toolkit.ops.schedule_install import remove

        gone = remove(target, backend=args.backend)
        print(f"removed {gone} toolkit entr{'y' if gone == 1 else 'ies'}"
              + (f" of {target.params_file}" if target else ""))
        return 0
    assert target is not None
    if verb == "next":
        from toolkit.ops.schedule import parse_instant

        after = parse_instant(args.after, "--after") if args.after else None
        print(next_runs_text(target, after=after, count=args.count))
        return 0
    if verb == "fire":
        from toolkit.ops.fire import fire

        return fire(target, lead_minutes=args.lead)
    from toolkit.ops.catch_up import alert_on_missed, run_due

    def to_stderr(line: str) -> None:  # beside `toolkit run`'s alert lines: stdout stays the catch-up's report
        print(line, file=sys.stderr)

    report = run_due(target, now=args.now, since=args.since, on_missed=alert_on_missed(target, to_stderr),
                     say=print)
    print("\n".join(report.lines()))
    return report.exit_status


def add_schedule_parser(sub: Any) -> None:
    """Register ``toolkit schedule`` (called by :func:`toolkit.cli.build_parser`)."""
    from toolkit.ops.schedule_lead import DEFAULT_LEAD_MINUTES, LEAD_MINUTES

    sc = sub.add_parser("schedule", help="run a dry-run or live params file on the exchange calendar "
                                         "(cron or a systemd timer): install, list, remove, next, fire, run-due")
    ssub = sc.add_subparsers(dest="schedule_command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--notebook", choices=["daily_dry_run", "live"],
                        help="the notebook of --params (default: the name of its folder)")
    backend = argparse.ArgumentParser(add_help=False)
    backend.add_argument("--backend", choices=["auto", "cron", "systemd"], default="auto",
                         help="cron, or a systemd user timer (auto: the timer where systemd runs)")
    needs = {"required": True, "help": "daily_dry_run or live params YAML file"}
    ins = ssub.add_parser("install", parents=[common, backend], help="write the entries (idempotent)")
    ins.add_argument("--params", **needs)
    ins.add_argument("--lead-minutes", type=int, default=DEFAULT_LEAD_MINUTES,
                     help=f"fire this many minutes early, {LEAD_MINUTES[0]} to {LEAD_MINUTES[1]} (default "
                          f"{DEFAULT_LEAD_MINUTES})")
    lst = ssub.add_parser("list", parents=[common, backend], help="the toolkit's entries (of --params only)")
    lst.add_argument("--params", help="only this params file's entries")
    rm = ssub.add_parser("remove", parents=[common, backend], help="remove the entries of --params (or --all)")
    rm_which = rm.add_mutually_exclusive_group(required=True)
    rm_which.add_argument("--params", help="the params file whose entries go")
    rm_which.add_argument("--all", action="store_true", help="every toolkit entry")
    nx = ssub.add_parser("next", parents=[common], help="the next run times in New York and UTC")
    nx.add_argument("--params", **needs)
    nx.add_argument("--count", type=int, default=5, help="how many (default 5)")
    nx.add_argument("--after", help="from this date and time (New York when no zone; default now)")
    fr = ssub.add_parser("fire", parents=[common], help="what an entry runs: wait for the session's exact minute "
                                                        "and run it, or exit quietly")
    fr.add_argument("--params", **needs)
    fr.add_argument("--lead", type=int, default=DEFAULT_LEAD_MINUTES,
                    help="the entry fires this many minutes before the session (what install wrote; default "
                         f"{DEFAULT_LEAD_MINUTES})")
    rd = ssub.add_parser("run-due", parents=[common], help="run or record sessions missed since the last run "
                                                           "(catch_up in the params)")
    rd.add_argument("--params", **needs)
    rd.add_argument("--now", help="as if it were this time (New York when no zone; default now)")
    rd.add_argument("--since", help="with no run of the slot yet: look for missed sessions from this date")

