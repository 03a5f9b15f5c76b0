"""The ``toolkit`` command.

    toolkit run backtest --params params/backtest/sma_crossover.yaml --set strategy_params.fast=10
    toolkit runs
    toolkit strategies
    toolkit run live --params params/live/alpaca_paper.yaml
    toolkit broker check --broker alpaca
    toolkit live confirm --account my-live-account
    toolkit parity --account dry-run --start 2018-06-01 --end 2018-06-29 --params FILE
    toolkit dashboard --port 8866
    toolkit config set strategy_params.fast=12 --account dry-run --reason "faster signal"
    toolkit alerts test

Errors a user can fix (bad params, bad data) print one line naming the field, the
value and what is allowed, and exit with status 2 before anything runs.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

from toolkit.errors import ParamsError, ToolkitError, one_line

if TYPE_CHECKING:  # pragma: no cover
    from pathlib import Path

    from toolkit.brokers.base import RemoteBroker
    from toolkit.params.daily_dry_run import DailyDryRunParams
    from toolkit.params.live import LiveParams


def _cmd_run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from toolkit import warm_kernel
    from toolkit.params import NOTEBOOKS, repo_root

    warm_kernel.skip_slow_optional_imports()
    with warm_kernel.runner_heap():  # the runner's imports without GC passes (see toolkit.warm_kernel)
        # Start the kernel first: it boots and imports while params are validated.
        warm = warm_kernel.start(args.notebook, repo_root() / "notebooks") if args.notebook in NOTEBOOKS else None
        try:
            from toolkit.ops.runs import outcome_line
            from toolkit.runner import run_notebook, run_summary
        except KeyboardInterrupt:  # Ctrl-C before the runner took over: stop the kernel started above
            if warm is not None:
                warm.shutdown()
            raise
        rec = run_notebook(args.notebook, args.params, args.set,
                           outputs_root=Path(args.outputs) if args.outputs else None, warm=warm)
    if rec.status != "completed":
        print(f"run {rec.run_id} {rec.status}: {rec.error}", file=sys.stderr)
    print(outcome_line(run_summary(rec.run_dir, rec.manifest)))  # e.g. final equity and Sharpe
    print(rec.run_dir)  # the last line: scripts and `make demo` read the run directory from it
    return run_exit_status(rec.status, rec.manifest.get("session"))


#: ``toolkit run`` exit statuses (also in ``toolkit run --help`` and the README).
EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_SESSION_STOPPED, EXIT_LOCKED = 0, 1, 2, 3, 4
RUN_EXIT_HELP = """exit status:
  0    the run completed (a dry-run session: completed, already done or market closed)
  1    the run failed while executing (archived with status failed and the error)
  2    bad input: one line names the field, the value and what is allowed; nothing ran
  3    the dry-run session was halted (kill switch, loss limit, drawdown, stale bar) or
       blocked (an order guard refused orders); recorded as such in the ledger
  4    another run of this key holds its lock (e.g. the scheduled one): this run did not
       start; archived with status locked, nothing written to the ledger, no alert
  130  interrupted by Ctrl-C (SIGINT); 143 stopped by SIGTERM (archived as interrupted)"""


REPLAY_HELP = """The replay runs in its own account, <account>-replay (e.g. dry-run-replay), so it never
mixes with the dry run's account; --account names another. The whole range is checked
before anything is written: data covering every session, no later session already in
the account, the kill switch off, as_of null.

exit status:
  0    replayed; parity with the backtest holds (trades equal, equity within 1 bp)
  1    replayed, but the parity check or the ledger check failed (stderr says which)
  2    bad input or a range the ledger or data cannot take; nothing was written"""


def run_exit_status(status: str, session: dict | None) -> int:
    """The exit status of ``toolkit run`` for a run's status and its dry-run session (see RUN_EXIT_HELP)."""
    if status == "locked":
        return EXIT_LOCKED
    if status != "completed":
        return EXIT_FAILED
    session_status = (session or {}).get("status")
    if session_status in ("halted", "blocked"):
        reasons = "; ".join((session or {}).get("blocked") or []) or "see the report"
        print(f"session {session_status}: {reasons}", file=sys.stderr)
        return EXIT_SESSION_STOPPED
    return EXIT_OK


def _cmd_runs(args: argparse.Namespace) -> int:
    """``toolkit runs`` (the table), ``runs show RUN`` and ``runs open RUN`` (see toolkit.ops.runs)."""
    from pathlib import Path

    from toolkit.ops import runs

    outputs = Path(args.outputs) if args.outputs else None
    if args.runs_command is None:
        print(runs.runs_table(outputs, notebook=args.notebook, limit=args.limit))
        return 0
    if args.runs_command in ("index", "diff", "prune"):
        return _cmd_runs_archive(args, outputs)
    run_dir = runs.resolve_run(args.run, outputs, notebook=args.notebook)
    if args.runs_command == "show":
        print(runs.describe_run(run_dir))
        return 0
    report, note = runs.open_report(run_dir)
    print(report, flush=True)  # stdout holds only the path, for scripts
    print(note, file=sys.stderr)
    return 0


def _cmd_runs_archive(args: argparse.Namespace, outputs: Path | None) -> int:
    """``runs index`` (rebuild outputs/index.html), ``runs diff A B`` and ``runs prune --keep-days N``."""
    from toolkit.ops.runs import existing_outputs

    root = existing_outputs(outputs)  # a missing --outputs: one error line, no new folder
    if args.runs_command == "index":
        from toolkit.ops.run_index import write_index

        print(write_index(root))
        return 0
    if args.runs_command == "diff":
        from toolkit.ops import run_diff, runs

        target = run_diff.check_html_target(args.html) if args.html else None
        diff = run_diff.diff_runs(runs.resolve_run(args.run_a, root), runs.resolve_run(args.run_b, root))
        print(run_diff.diff_text(diff))
        if target is not None:
            print(f"\ndiff page: {run_diff.write_diff_html(diff, target)}")
        return 0
    from toolkit.ops import retention

    keep_days, now = retention.parse_keep_days(args.keep_days), retention.parse_now(args.now)
    plan = retention.plan_prune(root, keep_days, now=now, db_url=args.db_url)
    if not args.dry_run:
        retention.apply_prune(plan)
    print(retention.prune_report(plan, dry_run=args.dry_run))
    return 0


def _cmd_strategies(args: argparse.Namespace) -> int:
    """Each strategy's defaults as YAML to paste into a params file, its description and example file.

    The output is a YAML stream (one document per strategy, ``---`` between them), so
    ``yaml.safe_load_all`` reads it back; the description and the example file are comments.
    """
    from toolkit.params import repo_root
    from toolkit.strategies import available, get
    from toolkit.strategies.defaults import defaults_yaml

    chosen = {args.name: get(args.name)} if args.name else available()
    blocks = []
    for name, cls in chosen.items():
        head = [f"# {name}: {cls.description}"]
        example = repo_root() / "params" / "backtest" / f"{name}.yaml"
        if example.is_file():
            head.append(f"# example: toolkit run backtest --params params/backtest/{name}.yaml")
        blocks.append("\n".join(head) + "\n" + defaults_yaml(cls))
    print("---\n".join(blocks), end="")
    return 0


def _ledger(args: argparse.Namespace, *, must_exist: bool = False):
    from toolkit.ledger import open_ledger

    return open_ledger(getattr(args, "db", None), must_exist=must_exist)


def _cmd_replay(args: argparse.Namespace) -> int:
    from toolkit.engine.replay import parse_day, replay, replay_params
    from toolkit.ledger import open_ledger
    from toolkit.params import load

    start, end = parse_day(args.start, "--start"), parse_day(args.end, "--end")
    overrides = list(args.set)
    p = replay_params(load("daily_dry_run", args.params, overrides), args.account)
    from toolkit.data.dataset import load_dataset
    from toolkit.params import repo_root
    from toolkit.strategies import registry

    strat = registry.create(p.strategy, p.strategy_params, symbols=p.data.symbols)
    data = load_dataset(p.data, base_dir=repo_root(), optional=strat.optional_symbols())
    with open_ledger(args.db or p.db_url) as ledger:
        res = replay(p, start=start, end=end, ledger=ledger, data=data)
    print(res.summary_line())
    failed = False
    if args.parity and len(res.snapshots):
        from toolkit.report.parity import compare_with_backtest

        parity = compare_with_backtest(p, res, data.panel)
        print(parity.summary())
        if args.parity_csv:
            parity.equity.to_csv(args.parity_csv)
            print(f"parity table written to {args.parity_csv}")
        if not parity.ok:
            print("replay: parity check FAILED: the replay's trades or equity differ from the backtest's "
                  "(see the parity line above; --parity-csv writes the table)", file=sys.stderr)
            failed = True
    if len(res.snapshots):
        last = res.snapshots.iloc[-1]
        print(f"final equity {last['equity']} on {last['session_date']} "
              f"(account {p.account}, ledger {ledger.shown_url})")
    for problem in res.problems:
        print(f"problem: {problem}", file=sys.stderr)
    return 1 if res.problems or failed else 0


PARITY_HELP = """The account's sessions (runs of one strategy in one mode, from the account's first
one: a backtest cannot start from a live account's positions) are backtested with the
parameters they ran with: recorded with each paper or live session, or --params FILE for
sessions that recorded none (dry runs, replays); the output says which. Trade by trade:
quantity, fill price, slippage against the decision price, target weight; per session:
the equity gap (live / backtest - 1, in basis points). Tables go to trades.csv and
sessions.csv (--output, default outputs/parity/<account>_<mode>_<start>_<end>/).

exit status:
  0    parity within --tolerance-bp on every trade and session
  1    one line per problem on stderr: a trade on one side only, a quantity, fill price or
       target weight apart by more than the tolerance, a session missing, halted or
       unfinished, an equity gap beyond the tolerance
  2    bad input (unknown account, no session in the range, --end before --start, no
       parameters for some sessions): one line names the option; nothing is written"""

#: Problem lines ``toolkit parity`` prints before pointing at the CSV tables.
PARITY_MAX_PROBLEMS = 30


def _cmd_parity(args: argparse.Namespace) -> int:
    from pathlib import Path

    from toolkit.engine.replay import parse_day
    from toolkit.params import repo_root
    from toolkit.report.account_parity import account_parity, default_output_dir

    start = parse_day(args.start, "--start") if args.start else None
    end = parse_day(args.end, "--end") if args.end else None
    with _ledger(args, must_exist=True) as ledger:  # read-only: never create an empty ledger
        parity = account_parity(ledger, account=args.account, start=start, end=end, mode=args.mode,
                                strategy=args.strategy, params_file=args.params, overrides=args.set,
                                tolerance_bp=args.tolerance_bp)
    print("\n".join(parity.summary_lines()))
    print(parity.trades_text())
    folder = Path(args.output) if args.output else default_output_dir(repo_root() / "outputs", parity.account,
                                                                       parity.mode, parity.start, parity.end)
    trades_csv, sessions_csv = parity.write_csv(folder)
    print(f"tables written to {trades_csv} and {sessions_csv}")
    for problem in parity.problems[:PARITY_MAX_PROBLEMS]:
        print(f"problem: {problem}", file=sys.stderr)
    if len(parity.problems) > PARITY_MAX_PROBLEMS:
        print(f"problem: ... and {len(parity.problems) - PARITY_MAX_PROBLEMS} more (see {trades_csv} and "
              f"{sessions_csv})", file=sys.stderr)
    return 0 if parity.ok else 1


def _cmd_live(args: argparse.Namespace) -> int:
    import pandas as pd

    from toolkit.engine import status

    if args.live_command == "confirm":
        return _live_confirm(args)
    with _ledger(args, must_exist=True) as ledger:  # read-only: never create an empty ledger
        if args.live_command == "status":
            print(status.status_text(ledger))
        elif args.live_command == "trades":
            df = status.trades_frame(ledger, args.limit)
            if df.empty:
                print("no trades in the ledger")
            else:
                with pd.option_context("display.width", 200, "display.max_columns", 20):
                    print(df.to_string(index=False))
        else:
            print(status.export_trades(ledger, args.output))
    return 0


CONFIRM_PHRASE = "I understand"


def _live_confirm(args: argparse.Namespace) -> int:
    """Record, once per account, that a person accepts real-money trading (typed, never a flag)."""
    import getpass

    from toolkit.errors import ParamsError

    print(f"Account {args.account} will trade REAL MONEY (mode online_live) whenever its params say "
          f"confirm_live: {args.account}.\nOrders are sent without asking again. Type \"{CONFIRM_PHRASE}\" to "
          "confirm: ", end="", flush=True)
    answer = sys.stdin.readline().strip()
    if answer != CONFIRM_PHRASE:
        raise ParamsError("confirmation", answer, f'the words "{CONFIRM_PHRASE}"; nothing was recorded')
    with _ledger(args) as ledger:
        done = ledger.confirm_live(args.account, actor=getpass.getuser())
    print(f"live trading confirmed for {args.account} by {done['user']} at {done['at']} (audit log)")
    return 0


def _cmd_broker(args: argparse.Namespace) -> int:
    """``toolkit broker check`` (preflight, never an order) and ``toolkit broker reconcile``."""
    from toolkit.params import load

    params = load("live", args.params) if args.params else None
    name = args.broker or (params.broker.name if params is not None else "alpaca")
    mode = params.mode if params is not None else ("online_live" if args.live or name == "schwab" else "paper")
    broker = _open_audited_broker(name, mode, params)
    try:
        if args.broker_command == "check":
            return _broker_check(broker, params)
        return _broker_reconcile(broker, params, adopt=args.adopt)
    finally:
        broker.close()


def _open_audited_broker(name: str, mode: str, params: LiveParams | None) -> RemoteBroker:
    """The broker, its credential lookups in the params' ledger audit log (no params: no ledger at hand)."""
    from toolkit.engine.remote import open_remote_broker
    from toolkit.ledger import open_ledger

    if params is None:
        return open_remote_broker(name, mode=mode)
    with open_ledger(params.db_url) as ledger:
        return open_remote_broker(name, mode=mode, ledger=ledger)


def _broker_check(broker: RemoteBroker, params: LiveParams | None) -> int:
    from toolkit.engine.preflight import preflight
    from toolkit.ledger import open_ledger

    ledger = open_ledger(params.db_url) if params is not None and params.mode == "online_live" else None
    try:
        rows = preflight(broker, params=params, ledger=ledger)
    finally:
        if ledger is not None:
            ledger.close()
    width = max(len(r.name) for r in rows)
    for r in rows:
        print(f"{r.status.upper():4}  {r.name:<{width}}  {r.detail}")
    failed = [r for r in rows if r.status == "fail"]
    print(f"{broker.name}: {'NOT ready' if failed else 'ready'} ({len(failed)} failed, "
          f"{sum(r.status == 'warn' for r in rows)} warning(s)); no order was placed")
    from toolkit.ops.alert_commands import announce_token_expiry
    from toolkit.params.alerts import AlertSettings

    settings = params.alerts if params is not None else AlertSettings()
    if settings.wants("token_expiry"):
        line = announce_token_expiry(params.db_url if params is not None else None, broker.token_days_left(),
                                     threshold=settings.token_expiry_days,
                                     account=params.account if params is not None else None)
        if line:
            print(line, file=sys.stderr)
    return 1 if failed else 0


def _broker_reconcile(broker: RemoteBroker, params: LiveParams | None, *, adopt: bool) -> int:
    import pandas as pd

    from toolkit.engine.broker_reconcile import adopt_broker_state, reconcile_with_broker
    from toolkit.errors import ParamsError
    from toolkit.ledger import open_ledger

    if params is None:
        raise ParamsError("--params", None, "the live params file of the account to reconcile")
    now = broker.clock().timestamp.to_pydatetime()
    with open_ledger(params.db_url) as ledger:
        from toolkit.engine.order_ids import LedgerOrderIdBook

        broker.bind_order_ids(LedgerOrderIdBook(ledger, account=params.account, mode=params.mode))
        recon = reconcile_with_broker(ledger, broker, account=params.account, mode=params.mode, at=now,
                                      fund_new_account=False)
        if adopt and not recon.ok:
            adopt_broker_state(ledger, broker, recon, strategy=params.strategy, at=now, actor="toolkit broker")
            print("adopted: " + "; ".join(recon.adopted))
            recon = reconcile_with_broker(ledger, broker, account=params.account, mode=params.mode, at=now,
                                          fund_new_account=False)
    with pd.option_context("display.width", 200, "display.max_columns", 10):
        print(recon.table().to_string(index=False))
    for s in recon.sentences():
        print(f"mismatch: {s}", file=sys.stderr)
    print(f"{params.account} ({params.mode}) at {broker.name}: "
          f"{'matched' if recon.ok else f'{len(recon.mismatches)} mismatch(es)'}")
    return 0 if recon.ok else 1


def _cmd_killswitch(args: argparse.Namespace) -> int:
    from toolkit.engine import status
    from toolkit.errors import ParamsError

    if args.state == "status":
        with _ledger(args, must_exist=True) as ledger:  # read-only: never create an empty ledger
            print(status.kill_switch_text(ledger))
        return 0
    if not args.reason or not args.reason.strip():
        allowed = f"a non-empty reason to turn it {args.state} (it goes into the audit log)"
        raise ParamsError("--reason", args.reason or "", allowed)
    from toolkit.ops.alert_commands import announce_kill_switch

    with _ledger(args) as ledger:
        print(status.set_kill_switch(ledger, args.state == "on", args.reason))
        print(announce_kill_switch(ledger))
    return 0


def _cmd_alerts(args: argparse.Namespace) -> int:
    """``toolkit alerts test [--url URL]`` (exit 1 when no channel took it) and ``toolkit alerts list``."""
    from toolkit.ledger.lifecycle import ALERT_KINDS
    from toolkit.ops import alert_commands

    if args.alerts_command == "list":
        if args.kind is not None and args.kind not in ALERT_KINDS:
            raise ParamsError("--kind", args.kind, f"one of {', '.join(ALERT_KINDS)}")
        with _ledger(args, must_exist=True) as ledger:  # read-only: never create an empty ledger
            print(alert_commands.alerts_text(ledger, limit=args.limit, kind=args.kind))
        return 0
    with _ledger(args) as ledger:
        record, line = alert_commands.send_test_alert(ledger, args.url or None)
    print(line)
    return 0 if record.delivered else 1


def _add_alerts_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    al = sub.add_parser("alerts", help="alerts (apprise channels from $TOOLKIT_ALERT_URLS): send a test, list "
                                       "the recorded ones")
    asub = al.add_subparsers(dest="alerts_command", required=True)
    db_opt = argparse.ArgumentParser(add_help=False)
    db_opt.add_argument("--db", help="ledger URL (default: $TOOLKIT_DB_URL, else outputs/ledger.sqlite)")
    at = asub.add_parser("test", parents=[db_opt], help="send a test alert to every channel and record it "
                                                         "(exit 1 when none took it)")
    at.add_argument("--url", action="append", default=[], metavar="URL",
                    help="try this apprise URL instead of the configured ones (repeatable; never printed)")
    ls = asub.add_parser("list", parents=[db_opt], help="the last alerts: when, kind, delivered or not, why not")
    ls.add_argument("--limit", type=int, default=20)
    # Checked in _cmd_alerts, not by argparse choices: naming the kinds here would import the
    # ledger (pandas, SQLAlchemy) while building the parser, i.e. on every toolkit command.
    ls.add_argument("--kind", help="only alerts of this kind (run_failed, guard_tripped, ...)")
    al.set_defaults(func=_cmd_alerts)


def _cmd_dashboard(args: argparse.Namespace) -> int:
    """``toolkit dashboard``: the control panel served by voila until Ctrl-C (see toolkit.ops.dashboard)."""
    from toolkit.ops.dashboard import dashboard_from_env, serve
    from toolkit.params import repo_root

    return serve(dashboard_from_env(repo_root(), ip=args.ip, port=args.port, db_url=args.db_url,
                                    preheat=args.preheat))


DASHBOARD_HELP = """Serves notebooks/control_panel.ipynb with voila, one fresh kernel per page (all state
is in the ledger). Only 127.0.0.1, localhost and ::1 are served without a token: another
--ip needs $TOOLKIT_DASHBOARD_TOKEN (then open URL?token=TOKEN once) or
$TOOLKIT_DASHBOARD_PASSWORD (a login page asks for it), and every page then requires it.
Neither is ever printed. Ctrl-C stops the server and its kernels.

exit status:
  0    stopped by Ctrl-C or SIGTERM
  2    refused before serving: an address without a token, a port in use (one line)"""


CONFIG_HELP = """An override sets one dotted key of an account's params (strategy_params.fast,
execution_time, mode, guards.daily_loss_limit, ...) for the account's next sessions,
which validate it with the rest of their params and stop before any order if it is
refused. Every change records who, when, the old and new value and the reason (config
history and audit log); `config revert ID` undoes one. account, db_url, as_of, strategy,
strategy_params_file and data are fixed by the params file. mode online_live needs
`toolkit live confirm` first.

exit status:
  0    done
  2    bad input (no reason, an unknown change id, a value the params refuse with
       --params): one line names it; nothing was written"""


def _cmd_config(args: argparse.Namespace) -> int:
    """``toolkit config show|history|set|clear|revert`` (see CONFIG_HELP)."""
    import getpass

    from toolkit.engine import override_commands as oc
    from toolkit.ledger import open_ledger

    if args.config_command in ("show", "history"):
        with _ledger(args, must_exist=True) as ledger:  # read-only: never create an empty ledger
            print(oc.overrides_text(ledger, args.account) if args.config_command == "show"
                  else oc.history_text(ledger, args.account, args.key))
        return 0
    _require_reason(args.reason, "it goes into the config history and the audit log")
    actor = args.actor or getpass.getuser()
    if args.config_command == "revert":
        change_id = _change_id(args.change_id)
        with _ledger(args) as ledger:
            print(oc.revert_text(ledger, change_id, args.reason, actor=actor))
        return 0
    if args.config_command == "clear":
        with _ledger(args) as ledger:
            print(oc.clear_override_text(ledger, args.account, args.key, args.reason, actor=actor))
        return 0
    key, value = oc.parse_assignment(args.assignment)
    notebook, params = _config_params(args)
    account = args.account or (params.account if params is not None else None)
    if account is None:
        from toolkit.errors import ParamsError

        raise ParamsError("--account", None, "the account label whose sessions use the override (or --params FILE, "
                          "whose account it is)")
    with open_ledger(args.db or (params.db_url if params is not None else None)) as ledger:
        print(oc.set_override_text(ledger, account, key, value, args.reason, actor=actor, notebook=notebook,
                                   params=params))
    return 0


def _require_reason(reason: str | None, why: str) -> None:
    from toolkit.errors import ParamsError

    if not reason or not reason.strip():
        raise ParamsError("--reason", reason or "", f"a non-empty reason ({why})")


def _change_id(text: str) -> int:
    from toolkit.errors import ParamsError

    if not text.strip().isdigit():
        raise ParamsError("CHANGE_ID", text, "the id of a change, a whole number from `toolkit config history`")
    return int(text)


def _config_params(args: argparse.Namespace) -> tuple[str | None, DailyDryRunParams | None]:
    """The notebook and params of ``--params FILE`` (its folder names the notebook, or ``--notebook``)."""
    from pathlib import Path

    from toolkit.errors import ParamsError
    from toolkit.params import load

    if args.params is None:
        return None, None
    notebook = args.notebook or Path(args.params).resolve().parent.name
    if notebook not in OVERRIDE_NOTEBOOKS:
        raise ParamsError("--notebook", args.notebook, f"{' or '.join(OVERRIDE_NOTEBOOKS)}: the notebook whose "
                          f"params {args.params} are (its folder does not say)")
    params: DailyDryRunParams = load("live", args.params) if notebook == "live" else load("daily_dry_run", args.params)
    if args.account is not None and args.account != params.account:
        raise ParamsError("--account", args.account, f"{params.account!r}, the account of {args.params}")
    return notebook, params


def _cmd_schedule(args: argparse.Namespace) -> int:
    """``toolkit schedule install|list|remove|next|fire|run-due`` (see toolkit.ops.schedule_commands)."""
    from toolkit.ops.schedule_commands import schedule_command

    return schedule_command(args)


def _cmd_health(args: argparse.Namespace) -> int:
    """``toolkit health``: the table of checks; exit 1 on a failure (see toolkit.ops.health)."""
    from toolkit.ops.health import health_command

    return health_command(args)


def _add_ops_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from toolkit.ops.health import add_health_parser
    from toolkit.ops.schedule_commands import add_schedule_parser

    add_schedule_parser(sub)
    sub.choices["schedule"].set_defaults(func=_cmd_schedule)
    add_health_parser(sub)
    sub.choices["health"].set_defaults(func=_cmd_health)


#: Notebooks whose sessions apply an account's config overrides.
OVERRIDE_NOTEBOOKS = ("daily_dry_run", "live")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="toolkit", description="Research-to-live trading toolkit")
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="execute a notebook with papermill and archive the run", epilog=RUN_EXIT_HELP,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    r.add_argument("notebook", help="notebook name, e.g. backtest")
    r.add_argument("--params", help="params YAML file")
    r.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="override a dotted key (value read as YAML)"
    )
    r.add_argument("--outputs", help="archive root (default: outputs/ of the project)")
    r.set_defaults(func=_cmd_run)
    rs = sub.add_parser("runs", help="archived runs, newest first: strategy, status, key figures, report")
    rs.add_argument("--notebook", help="only runs of this notebook")
    rs.add_argument("--limit", type=int, default=20)
    rs.add_argument("--outputs", help="archive root (default: outputs/ of the project)")
    rs.set_defaults(func=_cmd_runs)
    rsub = rs.add_subparsers(dest="runs_command", metavar="{show,open,index,diff,prune}")
    # --notebook and --outputs are accepted after the subcommand too (`runs show last --outputs X`).
    runs_after = argparse.ArgumentParser(add_help=False)
    runs_after.add_argument("--notebook", default=argparse.SUPPRESS, help="RUN last: the newest run of this notebook")
    runs_after.add_argument("--outputs", default=argparse.SUPPRESS, help="archive root")
    run_ref = "a run id from `toolkit runs` (or its first characters), a run directory, or last (default)"
    rshow = rsub.add_parser("show", parents=[runs_after], help="one run: manifest summary, params, metrics, files")
    rshow.add_argument("run", nargs="?", default="last", metavar="RUN", help=run_ref)
    ropen = rsub.add_parser("open", parents=[runs_after],
                            help="print a run's report path and open it in a browser where there is one")
    ropen.add_argument("run", nargs="?", default="last", metavar="RUN", help=run_ref)
    rsub.add_parser("index", parents=[runs_after], help="rebuild outputs/index.html (every run; sortable, offline)")
    rdiff = rsub.add_parser("diff", parents=[runs_after], help="two runs side by side: params, code, data, "
                            "packages, metrics")
    rdiff.add_argument("run_a", metavar="RUN_A", help=run_ref.replace(" (default)", ""))
    rdiff.add_argument("run_b", metavar="RUN_B", help="the run to compare with RUN_A, given the same way")
    rdiff.add_argument("--html", metavar="FILE", help="also write the comparison as a self-contained HTML page")
    rprune = rsub.add_parser("prune", parents=[runs_after], help="remove archives older than N days, except those "
                             "a ledger order or a live session refers to")
    rprune.add_argument("--keep-days", required=True, metavar="N", help="keep runs started in the last N days")
    rprune.add_argument("--dry-run", action="store_true", help="say what would be removed; remove nothing")
    rprune.add_argument("--db-url", help="ledger to check (default: each session's params db_url, "
                        "$TOOLKIT_DB_URL, outputs/ledger.sqlite)")
    rprune.add_argument("--now", metavar="DATETIME", help="age runs from this UTC time instead of now (ISO 8601)")
    st = sub.add_parser("strategies", help="each strategy's description and defaults, as YAML for a params file")
    st.add_argument("name", nargs="?", help="only this strategy")
    st.set_defaults(func=_cmd_strategies)
    rp = sub.add_parser(
        "replay", help="drive the daily session over history (its own account)", epilog=REPLAY_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    rp.add_argument("--params", required=True, help="daily_dry_run params YAML file")
    rp.add_argument("--start", required=True, help="first session, YYYY-MM-DD")
    rp.add_argument("--end", required=True, help="last session, YYYY-MM-DD")
    rp.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a dotted key")
    rp.add_argument("--db", help="ledger URL (default: params db_url, $TOOLKIT_DB_URL, outputs/ledger.sqlite)")
    rp.add_argument("--account", help="account to replay into (default: the params' account + '-replay')")
    rp.add_argument("--no-parity", dest="parity", action="store_false",
                    help="skip the comparison with a backtest over the same sessions")
    rp.add_argument("--parity-csv", help="write replay vs backtest equity per session to this CSV")
    rp.set_defaults(func=_cmd_replay)
    pa = sub.add_parser(
        "parity", help="an account's recorded sessions vs the backtest of the same parameters, trade by trade",
        epilog=PARITY_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    pa.add_argument("--account", required=True, help="the account label its sessions were recorded under")
    pa.add_argument("--start", help="first session shown, YYYY-MM-DD (default: the account's first)")
    pa.add_argument("--end", help="last session shown, YYYY-MM-DD (default: the account's last)")
    pa.add_argument("--mode", help="offline_mock, paper or online_live (default: the mode the account recorded)")
    pa.add_argument("--strategy", help="the strategy, if the account ran several")
    pa.add_argument("--params", help="params YAML file for sessions that recorded no parameters (dry runs, replays)")
    pa.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override a dotted key of the parameters (e.g. data.path=FILE)")
    pa.add_argument("--tolerance-bp", type=float, default=10.0,
                    help="largest difference that is not a problem, in basis points (default 10)")
    pa.add_argument("--db", help="ledger URL (default: $TOOLKIT_DB_URL, else outputs/ledger.sqlite)")
    pa.add_argument("--output", help="folder for trades.csv and sessions.csv")
    pa.set_defaults(func=_cmd_parity)
    lv = sub.add_parser("live", help="query the ledger: status, trades, export")
    lv.add_argument("--db", help="ledger URL (default: $TOOLKIT_DB_URL, else outputs/ledger.sqlite)")
    lsub = lv.add_subparsers(dest="live_command", required=True)
    # --db is accepted before or after the subcommand (`live --db X status` or `live status --db X`).
    db_after = argparse.ArgumentParser(add_help=False)
    db_after.add_argument("--db", default=argparse.SUPPRESS, help="ledger URL")
    lsub.add_parser("status", parents=[db_after], help="mode, kill switch, positions, last run, last snapshot")
    lt = lsub.add_parser("trades", parents=[db_after], help="the last trades")
    lt.add_argument("--limit", type=int, default=20)
    le = lsub.add_parser("export", parents=[db_after], help="every trade to CSV")
    le.add_argument("--output", required=True, help="CSV file to write")
    lc = lsub.add_parser("confirm", parents=[db_after],
                         help='record that you accept real-money trading on an account (type "I understand")')
    lc.add_argument("--account", required=True, help="the account label of the live params (confirm_live)")
    lv.set_defaults(func=_cmd_live)
    bk = sub.add_parser("broker", help="a real broker: preflight check, reconciliation with the ledger")
    bsub = bk.add_subparsers(dest="broker_command", required=True)
    broker_opts = argparse.ArgumentParser(add_help=False)
    broker_opts.add_argument("--broker", choices=["alpaca", "schwab"], help="default: the params' broker, else alpaca")
    broker_opts.add_argument("--params", help="live params YAML (account, mode, symbols, ledger)")
    broker_opts.add_argument("--live", action="store_true", help="Alpaca's live account instead of paper")
    bsub.add_parser("check", parents=[broker_opts],
                    help="credentials, account, buying power, day trades, clock, token age; never an order")
    br = bsub.add_parser("reconcile", parents=[broker_opts],
                         help="ledger vs broker: positions, cash, open orders (exit 1 on a mismatch)")
    br.add_argument("--adopt", action="store_true", help="make the ledger take the broker's state (audited)")
    bk.set_defaults(func=_cmd_broker)
    ks = sub.add_parser("killswitch", help="turn the kill switch on or off (reason required, audited), or show it")
    ks.add_argument("state", choices=["on", "off", "status"])
    ks.add_argument("--reason", help="why (required for on and off; recorded in the audit log)")
    ks.add_argument("--db", help="ledger URL (default: $TOOLKIT_DB_URL, else outputs/ledger.sqlite)")
    ks.set_defaults(func=_cmd_killswitch)
    db = sub.add_parser("dashboard", help="serve the control panel as a web app (voila) on 127.0.0.1",
                        epilog=DASHBOARD_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    db.add_argument("--port", type=int, default=8866, help="port to listen on (default 8866)")
    db.add_argument("--ip", default="127.0.0.1",
                    help="address to listen on (default 127.0.0.1; any other needs a token or password)")
    db.add_argument("--db-url", help="ledger URL for the panel (default: $TOOLKIT_DB_URL, else outputs/ledger.sqlite)")
    db.add_argument("--no-preheat", dest="preheat", action="store_false",
                    help="start each page's kernel on request (slower first paint; less memory while idle)")
    db.set_defaults(func=_cmd_dashboard)
    _add_config_parser(sub)
    _add_alerts_parser(sub)
    _add_db_parser(sub)
    _add_ops_parsers(sub)
    return p


# ----------------------------------------------------------------- toolkit db backup|restore (issue 12)

DB_HELP = """SQLite: a consistent copy through SQLite's backup API (safe while a session writes; a
plain file copy of a WAL ledger is not). PostgreSQL: pg_dump --format=custom, and
pg_restore --clean --single-transaction (all or nothing); the URL's password reaches them
in PGPASSWORD, never on a command line. A backup never overwrites a file. A restore is
refused, nothing changed, into a ledger migrated further than the backup, from a backup
of a newer toolkit, or while a session holds a run lock on the ledger."""


def _add_db_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    dbp = sub.add_parser("db", help="back up or restore the ledger (SQLite file copy, pg_dump/pg_restore)",
                         epilog=DB_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    dsub = dbp.add_subparsers(dest="db_command", required=True)
    for name, text in (("backup", "write a consistent copy of the ledger to FILE (never overwrites one)"),
                       ("restore", "replace the ledger with the backup FILE")):
        cmd = dsub.add_parser(name, help=text, epilog=DB_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
        cmd.add_argument("file", metavar="FILE")
        cmd.add_argument("--db-url", "--db", dest="db",
                         help="ledger URL (default: $TOOLKIT_DB_URL, else outputs/ledger.sqlite)")
    dbp.set_defaults(func=_cmd_db)


def _cmd_db(args: argparse.Namespace) -> int:
    from toolkit.ops.ledger_backup import backup_ledger, restore_ledger

    report = (backup_ledger if args.db_command == "backup" else restore_ledger)(args.file, args.db)
    print(report.line())
    return 0


def _add_config_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cf = sub.add_parser("config", help="an account's config overrides: show, set, clear, history, revert (audited)",
                        epilog=CONFIG_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    csub = cf.add_subparsers(dest="config_command", required=True)
    ledger_opt = argparse.ArgumentParser(add_help=False)
    ledger_opt.add_argument("--db", "--db-url", dest="db",
                            help="ledger URL (default: $TOOLKIT_DB_URL, else outputs/ledger.sqlite)")
    change = argparse.ArgumentParser(add_help=False)
    change.add_argument("--reason", help="why (required; recorded in the config history and the audit log)")
    change.add_argument("--actor", help="who makes the change (default: your user name)")
    show = csub.add_parser("show", parents=[ledger_opt], help="the account's overrides in force")
    show.add_argument("--account", required=True)
    hist = csub.add_parser("history", parents=[ledger_opt], help="every change of the account's overrides, with ids")
    hist.add_argument("--account", required=True)
    hist.add_argument("--key", help="only changes of this key")
    cset = csub.add_parser("set", parents=[ledger_opt, change], help="override a key for the account's next sessions")
    cset.add_argument("assignment", metavar="KEY=VALUE", help="a dotted params key and a value read as YAML")
    cset.add_argument("--account", help="the account (default: the one of --params)")
    cset.add_argument("--params", help="the account's params file: the override is checked against it before it "
                                       "is written (without it, the next session checks it)")
    cset.add_argument("--notebook", choices=list(OVERRIDE_NOTEBOOKS),
                      help="the notebook of --params (default: the name of its folder)")
    clear = csub.add_parser("clear", parents=[ledger_opt, change],
                            help="remove the account's override of a key (the params file's value applies again)")
    clear.add_argument("key", metavar="KEY")
    clear.add_argument("--account", required=True)
    rev = csub.add_parser("revert", parents=[ledger_opt, change],
                          help="undo one change: its key goes back to the value before it")
    rev.add_argument("change_id", metavar="CHANGE_ID", help="the id `toolkit config history` shows")
    cf.set_defaults(func=_cmd_config)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``toolkit ARGV`` and return the exit status (0 ok, 1 run failed, 2 bad input, 3 session stopped,
    4 another run holds the lock).

    Nothing in here exits the process: ``--help`` and usage errors, which argparse ends
    with ``SystemExit``, come back as a status too, so tests and other Python code can
    call ``main([...])`` in process. The console script passes the status to ``sys.exit``.
    """
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # argparse has printed the help or the usage error
        return _exit_status(exc)
    with _warnings_held() as held:
        try:
            from toolkit.connections.secret_backends.dotenv_file import export_process_settings

            export_process_settings()  # $TOOLKIT_DB_URL from .env: cron starts us with a bare environment
            status: int = args.func(args)
        except ToolkitError as exc:
            held.clear()  # nothing ran: the error is the one line that matters
            print(f"error: {one_line(str(exc))}", file=sys.stderr)
            return 2
        except KeyboardInterrupt as exc:  # Ctrl-C, or the runner's SIGTERM (toolkit.runner.RunInterrupted)
            return _interrupted(exc)
        except BrokenPipeError:  # `toolkit strategies | head`
            sys.stderr.close()
            return 0
    return status


@contextmanager
def _warnings_held() -> Iterator[list[warnings.WarningMessage]]:
    """Hold Python warnings raised by a command and print each as one ``warning:`` line at its end.

    Validation warns about what it cleaned (dropped duplicate bars, a skipped file); when
    the command then stops on bad input those notes are dropped, so the user reads one
    ``error:`` line, not a traceback-like wall of ``file.py:123: UserWarning`` lines.
    A library's deprecation notice (Authlib's on every Schwab call) is for its
    developers, not for the person running the command: it is not printed.
    """
    with warnings.catch_warnings(record=True) as held:
        try:
            yield held
        finally:
            for w in held:
                if not issubclass(w.category, DeprecationWarning):
                    print(f"warning: {one_line(str(w.message))}", file=sys.stderr)


def _interrupted(exc: KeyboardInterrupt) -> int:
    """One line instead of a traceback; 128 + the signal number (130 Ctrl-C, 143 SIGTERM)."""
    import signal

    signum = int(getattr(exc, "signum", signal.SIGINT))
    run_dir = getattr(exc, "run_dir", None)
    where = f"; the run is archived as interrupted in {run_dir}" if run_dir else "; nothing was archived"
    print(f"interrupted by {signal.Signals(signum).name}{where}", file=sys.stderr)
    return 128 + signum


def _exit_status(exc: SystemExit) -> int:
    """The status argparse exits with (an int; None means 0, anything else is a usage error: 2)."""
    if exc.code is None:
        return 0
    return exc.code if isinstance(exc.code, int) else 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
