"""What an account recorded in the ledger, read for the live-vs-backtest parity.

An account's sessions (runs of one strategy in one mode), the parameters they ran
with, their orders and fills per session, symbol and side, and their end-of-session
equity and targets. :mod:`toolkit.report.account_parity` compares these with a
backtest; everything here only reads the ledger.

Bad input is refused here, before any backtest runs, with one
:class:`~toolkit.errors.ParamsError` naming the option (``--account``, ``--mode``,
``--strategy``, ``--start``/``--end``, ``--params``).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from toolkit.engine.run_params import run_summary_params
from toolkit.errors import ParamsError

if TYPE_CHECKING:  # pragma: no cover
    from toolkit.ledger import Ledger
    from toolkit.params.daily_dry_run import DailyDryRunParams

__all__ = ["PARITY_KEYS", "TRADING_STATUSES", "RecordedSessions", "live_sessions", "live_trades", "parity_params",
           "recorded_sessions"]

#: Run statuses of sessions that may have traded (a failed run stopped before any order,
#: a market_closed one had no session; ``started`` is a session that crashed and was
#: never resumed: its orders and fills count).
TRADING_STATUSES = ("completed", "halted", "blocked", "started")

#: The parameters that decide what a session trades: they must be the same for every
#: session the backtest replays (the data's source and path may change, e.g. a moved file).
PARITY_KEYS = ("strategy", "strategy_params", "execution_time", "costs", "instruments", "guards.min_order_fraction",
               "data.symbols")

#: Keys of a session's parameters the parity backtest takes (a live session's broker and
#: confirmation settings, its guards other than the minimum order size, are not needed).
_TAKEN = ("strategy", "strategy_params", "strategy_params_file", "data", "execution_time", "initial_cash",
          "instruments")
_COST_KEYS = ("fees_bps", "slippage_bps", "fixed_fee")
_LISTED = 8  # accounts or values named in one error line


@dataclass
class RecordedSessions:
    """The sessions of one account, strategy and mode that the parity replays.

    ``runs``: every trading session from the account's first one to the last one asked
    for (the backtest starts at the first: it cannot start from a live account's
    positions), oldest first. ``start``/``end``: the range asked for, whose sessions
    the report shows.
    """

    account: str
    mode: str
    strategy: str
    runs: pd.DataFrame
    start: dt.date
    end: dt.date
    #: Every run's status by session, those that could not trade included (failed, market_closed).
    statuses: dict[dt.date, str]

    @property
    def first(self) -> dt.date:
        """The account's first session: where the backtest starts."""
        return self.runs["session_date"].iloc[0]

    @property
    def shown(self) -> pd.DataFrame:
        """The sessions from ``start`` to ``end``."""
        dates = self.runs["session_date"]
        return self.runs[(dates >= self.start) & (dates <= self.end)]


def recorded_sessions(ledger: Ledger, *, account: str, start: dt.date | None = None, end: dt.date | None = None,
                      mode: str | None = None, strategy: str | None = None) -> RecordedSessions:
    """The account's sessions to compare; ParamsError on an unknown account, mode or strategy, or an empty range.

    ``mode`` and ``strategy`` default to the ones the account recorded (an account with
    several must name one); ``start`` and ``end`` to its first and last session.
    """
    if start is not None and end is not None and end < start:
        raise ParamsError("--end", end, f"a date on or after --start ({start.isoformat()})")
    runs = ledger.runs(account=account)
    if runs.empty:
        known = sorted(set(ledger.runs()["account"]))
        where = f"one of {_names(known)}" if known else "an account with sessions (this ledger holds none)"
        raise ParamsError("--account", account, f"{where} in ledger {ledger.shown_url}")
    mode = _one("--mode", mode, runs["mode"], f"account {account!r}")
    runs = runs[runs["mode"] == mode]
    strategy = _one("--strategy", strategy, runs["strategy"], f"account {account!r} ({mode})")
    runs = runs[runs["strategy"] == strategy]
    statuses = dict(zip(runs["session_date"], runs["status"], strict=True))
    runs = runs[runs["status"].isin(TRADING_STATUSES)]
    if runs.empty:
        raise ParamsError("--account", account, f"an account with a session that traded; {account!r} ({mode}, "
                          f"{strategy}) has only failed or market-closed runs")
    runs = runs.sort_values("session_date", kind="stable").reset_index(drop=True)
    dates = runs["session_date"]
    lo = start if start is not None else dates.iloc[0]
    hi = end if end is not None else dates.iloc[-1]
    if hi < lo:
        raise ParamsError("--end" if end is not None else "--start", hi if end is not None else lo,
                          f"a range holding sessions of {account!r}: they run from {dates.iloc[0]} to {dates.iloc[-1]}")
    inside = runs[(dates >= lo) & (dates <= hi)]
    if inside.empty:
        raise ParamsError("--start/--end", f"{lo.isoformat()}..{hi.isoformat()}",
                          f"a range holding sessions of {account!r} ({mode}, {strategy}): its "
                          f"{len(runs)} session(s) run from {dates.iloc[0]} to {dates.iloc[-1]}")
    last = inside["session_date"].iloc[-1]
    return RecordedSessions(account, mode, strategy, runs[dates <= last].reset_index(drop=True), lo, hi, statuses)


def _one(option: str, given: str | None, column: pd.Series, whose: str) -> str:
    values = sorted(set(column))
    if given is not None:
        if given not in values:
            raise ParamsError(option, given, f"one of {_names(values)} (what {whose} recorded)")
        return given
    if len(values) > 1:
        raise ParamsError(option, None, f"give one of {_names(values)}",
                          problem=f"{whose} has sessions in more than one {option.lstrip('-')}")
    return values[0]


def _names(values: list[str]) -> str:
    more = f" and {len(values) - _LISTED} more" if len(values) > _LISTED else ""
    return ", ".join(values[:_LISTED]) + more


# ----------------------------------------------------------------------------- parameters


def parity_params(sessions: RecordedSessions, *, params_file: str | Path | None = None,
                  overrides: list[str] | dict[str, Any] | None = None) -> tuple[DailyDryRunParams, str]:
    """The parameters every session ran with, validated, and one line saying where they came from.

    Each session's recorded parameters (see :mod:`toolkit.engine.run_params`), else the
    ``params_file`` (sessions recorded without them: dry runs, replays, older ledgers);
    ``overrides`` (``--set``) apply to both. Every session must share the
    :data:`PARITY_KEYS`: one backtest replays them all. The data of the newest session
    feeds the backtest.
    """
    from toolkit.params import apply_overrides, parse_overrides, read_yaml

    ov = overrides if isinstance(overrides, dict) else parse_overrides(overrides)
    recorded = [run_summary_params(s) for s in sessions.runs["summary"]]
    missing = [d for d, r in zip(sessions.runs["session_date"], recorded, strict=True) if r is None]
    from_file: dict[str, Any] | None = None
    if missing:
        if params_file is None:
            raise ParamsError(
                "--params", None, "give the params file they ran with: --params FILE",
                problem=f"{len(missing)} of the {len(recorded)} session(s) of {sessions.account!r} from "
                        f"{sessions.first} carry no recorded parameters (first {missing[0]}; dry-run and replay "
                        "sessions record none)")
        from_file = _taken(read_yaml(params_file, "--params"), keep_params_file=True)
    sources = [(_taken(r, keep_params_file=False) if r is not None else from_file) for r in recorded]
    validated: dict[str, DailyDryRunParams] = {}
    keyed: list[str] = []
    for raw in sources:
        assert raw is not None  # a session without recorded params takes the file's (checked above)
        key = json.dumps(raw, sort_keys=True, default=str)
        if key not in validated:
            field = "--params" if raw is from_file else "recorded"
            # The account label is the params model's, not the ledger's (the backtest has no account).
            validated[key] = _validate({**apply_overrides(raw, ov), "account": "parity"}, field)
        keyed.append(key)
    _check_same(sessions, [validated[k] for k in keyed], [s is from_file for s in sources])
    params = validated[keyed[-1]]
    _check_execution_time(sessions, params, "--params" if from_file is not None else "--set")
    return params, _source_line(len(recorded), len(missing), params_file, ov)


def _taken(raw: dict[str, Any], *, keep_params_file: bool) -> dict[str, Any]:
    """What the parity backtest needs of a session's parameters, in the dry run's params model."""
    out = {k: raw[k] for k in _TAKEN if k in raw}
    if not keep_params_file:
        # Recorded strategy params are the resolved, complete set: the file they came from
        # (which may have moved or changed since) adds nothing.
        out.pop("strategy_params_file", None)
    costs = raw.get("costs")
    if isinstance(costs, dict):
        out["costs"] = {k: costs[k] for k in _COST_KEYS if k in costs}
    guards = raw.get("guards")
    if isinstance(guards, dict) and "min_order_fraction" in guards:
        out["guards"] = {"min_order_fraction": guards["min_order_fraction"]}
    return out


def _validate(raw: dict[str, Any], field: str) -> DailyDryRunParams:
    from toolkit.params import validate

    try:
        return validate("daily_dry_run", raw)
    except ParamsError as exc:
        if field == "--params":
            raise
        # A recorded set this toolkit no longer accepts: a data file that moved, a renamed strategy.
        raise ParamsError("--set", None, "fix them with --set KEY=VALUE (e.g. data.path=FILE)",
                          problem=f"the parameters recorded with the sessions are not valid now ({exc})") from None


def _parity_view(p: DailyDryRunParams) -> dict[str, Any]:
    dumped = p.model_dump(mode="json")
    out: dict[str, Any] = {}
    for key in PARITY_KEYS:
        value: Any = dumped
        for part in key.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        out[key] = value
    return out


def _check_same(sessions: RecordedSessions, params: list[DailyDryRunParams], from_file: list[bool]) -> None:
    views = [_parity_view(p) for p in params]
    for i in range(1, len(views)):
        if views[i] == views[i - 1]:
            continue
        key = next(k for k in PARITY_KEYS if views[i][k] != views[i - 1][k])
        old, new = views[i - 1][key], views[i][key]
        if isinstance(old, dict) and isinstance(new, dict):  # name the parameter inside the block
            sub = next(k for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k))
            key, old, new = f"{key}.{sub}", old.get(sub), new.get(sub)
        day = sessions.runs["session_date"].iloc[i]
        field = "--params" if from_file[i] or from_file[i - 1] else "--account"
        raise ParamsError(
            field, sessions.account,
            "one parameter set from the account's first session (the backtest replays them all with one): "
            "compare a range of sessions that share one, or record new parameters under a new account",
            problem=f"the parameters of {sessions.account!r} change on {day} ({key}: {_short(old)} -> {_short(new)})")


def _check_execution_time(sessions: RecordedSessions, params: DailyDryRunParams, field: str) -> None:
    times = sorted(set(sessions.runs["execution_time"]))
    if times != [params.execution_time]:
        raise ParamsError(field, params.execution_time,
                          f"the execution time the sessions ran at ({', '.join(times)})",
                          problem=f"execution_time {params.execution_time!r} differs from the sessions'")


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def _source_line(sessions: int, missing: int, params_file: str | Path | None, overrides: dict[str, Any]) -> str:
    if missing == 0:
        line = f"parameters: recorded with each of the {sessions} session(s)"
        if params_file is not None:
            line += f" (--params {params_file} not used)"
    elif missing == sessions:
        line = f"parameters: from --params {params_file} (the {sessions} session(s) recorded none)"
    else:
        line = (f"parameters: recorded with {sessions - missing} session(s); from --params {params_file} for the "
                f"{missing} that recorded none")
    if overrides:
        line += "; overridden: " + ", ".join(f"{k}={v}" for k, v in overrides.items())
    return line


# ----------------------------------------------------------------------------- trades and equity


def live_trades(ledger: Ledger, sessions: RecordedSessions) -> pd.DataFrame:
    """The sessions' orders and fills, one row per session, symbol and side.

    ``live_qty`` is what filled (an order rejected or cancelled unfilled counts 0),
    ``live_price`` its volume-weighted price, ``live_decision_price`` the price the
    orders were sized on, ``live_ordered`` what was ordered, ``live_status`` the
    orders' final statuses.
    """
    from toolkit.ledger import parse_run_key

    keys = set(sessions.runs["run_key"])
    orders = [o for o in ledger.order_records(account=sessions.account, mode=sessions.mode) if o.run_key in keys]
    fills: dict[str, list[Any]] = {}
    for f in ledger.fill_records(account=sessions.account, mode=sessions.mode):
        fills.setdefault(f.client_order_id, []).append(f)
    groups: dict[tuple[dt.date, str, str], dict[str, Any]] = {}
    zero = Decimal(0)
    for o in orders:
        day = parse_run_key(o.run_key or "")[2]
        g = groups.setdefault((day, o.symbol, o.side), {"ordered": zero, "filled": zero, "notional": zero,
                                                          "fees": zero, "decided": zero, "decided_qty": zero,
                                                          "statuses": set()})
        g["ordered"] += o.quantity
        g["statuses"].add(o.status)
        if o.decision_price is not None:
            g["decided"] += o.decision_price * o.quantity
            g["decided_qty"] += o.quantity
        for f in fills.get(o.client_order_id, []):
            g["filled"] += f.quantity
            g["notional"] += f.quantity * f.price
            g["fees"] += f.fees
    rows = []
    for (day, symbol, side), g in groups.items():
        rows.append({
            "session_date": day, "symbol": symbol, "side": side,
            "live_qty": float(g["filled"]),
            "live_price": float(g["notional"] / g["filled"]) if g["filled"] else float("nan"),
            "live_decision_price": float(g["decided"] / g["decided_qty"]) if g["decided_qty"] else float("nan"),
            "live_fees": float(g["fees"]),
            "live_ordered": float(g["ordered"]),
            "live_status": ",".join(sorted(g["statuses"])),
        })
    columns = ["session_date", "symbol", "side", "live_qty", "live_price", "live_decision_price", "live_fees",
               "live_ordered", "live_status"]
    return pd.DataFrame(rows, columns=columns)


def live_sessions(ledger: Ledger, sessions: RecordedSessions) -> pd.DataFrame:
    """Per session: run status, end-of-session equity (NaN without a snapshot) and target weights."""
    snaps = ledger.snapshots(account=sessions.account, mode=sessions.mode, strategy=sessions.strategy)
    by_day = {row.session_date: row for row in snaps.itertuples(index=False)}
    rows = []
    for run in sessions.runs.itertuples(index=False):
        snap = by_day.get(run.session_date)
        targets = None
        if snap is not None and isinstance(snap.context, dict):
            targets = snap.context.get("target_weights")
        if targets is None and isinstance(run.summary, dict):
            targets = run.summary.get("target_weights")
        rows.append({
            "session_date": run.session_date,
            "live_status": run.status,
            "live_equity": float(str(snap.equity)) if snap is not None else float("nan"),
            "live_targets": dict(targets) if isinstance(targets, dict) else None,
        })
    return pd.DataFrame(rows, columns=["session_date", "live_status", "live_equity", "live_targets"])
