"""Live-vs-backtest parity of an account: ``toolkit parity`` and the live notebook's parity section.

Does the account trade what the research backtested? Its recorded sessions (in any
mode: the dry run's simulated broker, a paper or a live account) are replayed
through the backtest with the parameters they ran with (:mod:`~toolkit.report.recorded_sessions`),
by the same backtest the replay's parity check runs
(:func:`~toolkit.report.parity.backtest_sessions`), from the account's first
session and its initial cash: a backtest cannot start from a live account's positions,
so the gap a range shows is the gap accumulated since the account began
(``gap_change_bps`` is what each session added).

Trade by trade (session, symbol, side) the report lines up quantity, fill price,
slippage against the decision price, and the target weight of the strategy on both
sides; per session the equity gap in basis points, ``(live / backtest - 1) x 10,000``.

A problem is anything beyond the tolerance (``tolerance_bp``): a trade on one side
only; a quantity (relative to the backtest's), fill price or target weight (in basis
points of equity) further apart than the tolerance; a session with no live run, or
halted, blocked or unfinished; an equity gap beyond the tolerance. The simulated dry
run and the replay agree with the backtest to a fraction of a basis point; a paper or
live account shows its real slippage and what it did differently. The backtest fills at
the session's close (as the replay's parity check does), so a session that trades at
``15min_before_close`` on that minute's price shows the difference as price.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from toolkit.errors import ParamsError, ToolkitError
from toolkit.report.parity import SessionBacktest, backtest_sessions
from toolkit.report.recorded_sessions import (
    RecordedSessions,
    live_sessions,
    live_trades,
    parity_params,
    recorded_sessions,
)

if TYPE_CHECKING:  # pragma: no cover
    from toolkit.data.dataset import Dataset
    from toolkit.ledger import Ledger
    from toolkit.params.daily_dry_run import DailyDryRunParams

__all__ = ["DEFAULT_TOLERANCE_BP", "AccountParity", "ParitySection", "account_parity", "parity_section"]

#: Default tolerance: a few basis points of real slippage per trade pass; a missed or
#: doubled trade, a wrong size or a drifting account do not.
DEFAULT_TOLERANCE_BP = 10.0

TRADE_COLUMNS = [
    "session_date", "symbol", "side", "live_qty", "backtest_qty", "qty_diff", "qty_diff_bps",
    "live_price", "backtest_price", "price_diff_bps", "live_decision_price", "backtest_decision_price",
    "live_slippage_bps", "backtest_slippage_bps", "live_target_weight", "backtest_target_weight",
    "weight_diff_bps", "live_fees", "backtest_fees", "live_ordered", "live_status", "difference",
]
SESSION_COLUMNS = [
    "session_date", "live_status", "live_equity", "backtest_equity", "gap_bps", "gap_change_bps",
    "live_trades", "backtest_trades", "signal_diff_bps",
]
#: Columns ``toolkit parity`` prints of each trade (the CSV has them all).
SHOWN_TRADE_COLUMNS = ["session_date", "symbol", "side", "live_qty", "backtest_qty", "live_price", "backtest_price",
                       "live_slippage_bps", "backtest_slippage_bps", "live_target_weight", "backtest_target_weight",
                       "difference"]


@dataclass
class AccountParity:
    """An account's sessions against the backtest: trades, sessions, problems (empty = parity holds)."""

    account: str
    mode: str
    strategy: str
    execution_time: str
    start: dt.date
    end: dt.date
    first_session: dt.date
    initial_cash: float
    params: DailyDryRunParams
    params_source: str
    tolerance_bp: float
    trades: pd.DataFrame
    sessions: pd.DataFrame
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No problem beyond the tolerance."""
        return not self.problems

    @property
    def final_gap_bps(self) -> float:
        """The equity gap of the last session shown with an equity on both sides (NaN if none)."""
        gaps = self.sessions["gap_bps"].dropna()
        return float(gaps.iloc[-1]) if len(gaps) else float("nan")

    @property
    def max_gap_bps(self) -> float:
        """The gap furthest from zero over the sessions shown (signed; NaN if none)."""
        gaps = self.sessions["gap_bps"].dropna().to_numpy(dtype=float)
        return float(gaps[np.argmax(np.abs(gaps))]) if len(gaps) else float("nan")

    def differing_trades(self) -> pd.DataFrame:
        """The trades with a difference beyond the tolerance."""
        return self.trades[self.trades["difference"] != ""]

    def summary_lines(self) -> list[str]:
        """What ``toolkit parity`` prints first (and the notebook section shows)."""
        costs = self.params.costs
        live = int((self.trades["live_qty"] > 0).sum())
        bt = int((self.trades["backtest_qty"] > 0).sum())
        gaps = self.sessions.dropna(subset=["gap_bps"])
        if len(gaps):
            values = gaps["gap_bps"].to_numpy(dtype=float)
            worst = int(np.argmax(np.abs(values)))
            gap = (f"equity gap (live vs backtest): final {self.final_gap_bps:+.4f} bp on "
                   f"{gaps['session_date'].iloc[-1]}; largest {values[worst]:+.4f} bp on "
                   f"{gaps['session_date'].iloc[worst]}")
        else:
            gap = "equity gap (live vs backtest): no session with an equity on both sides"
        verdict = (f"parity: within {self.tolerance_bp:g} bp" if self.ok else
                   f"parity: {len(self.problems)} problem(s) beyond the {self.tolerance_bp:g} bp tolerance")
        return [
            f"parity of account {self.account} ({self.mode}, {self.strategy} at {self.execution_time}): "
            f"{len(self.sessions)} session(s) from {self.start} to {self.end}",
            self.params_source,
            f"backtest: from the account's first session {self.first_session} with its initial cash "
            f"{self.initial_cash:,.2f}; fees {costs.fees_bps:g} bp, slippage {costs.slippage_bps:g} bp, fixed fee "
            f"{costs.fixed_fee:g} per order; fills at the session's close",
            f"trades: {live} live, {bt} backtest, {len(self.differing_trades())} differ beyond "
            f"{self.tolerance_bp:g} bp",
            gap,
            verdict,
        ]

    def trades_text(self, max_rows: int = 20) -> str:
        """The trades as ``toolkit parity`` prints them: those that differ, or all when few (the CSV has all)."""
        shown = self.trades if len(self.trades) <= max_rows else self.differing_trades()
        if shown.empty:
            return (f"no trade differs beyond {self.tolerance_bp:g} bp ({len(self.trades)} trade rows in the CSV)"
                    if len(self.trades) else "no trade on either side")
        head = shown.head(max_rows)[SHOWN_TRADE_COLUMNS]
        note = (f"\n... {len(shown) - max_rows} more row(s) in the CSV" if len(shown) > max_rows else "")
        with pd.option_context("display.width", 250, "display.max_columns", 30):
            text = head.to_string(index=False, float_format=lambda x: f"{x:.6g}", na_rep="-")
        return text + note

    def write_csv(self, folder: str | Path) -> tuple[Path, Path]:
        """Write ``trades.csv`` and ``sessions.csv`` into ``folder``; returns their paths."""
        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        trades, sessions = out / "trades.csv", out / "sessions.csv"
        self.trades.to_csv(trades, index=False)
        self.sessions.to_csv(sessions, index=False)
        return trades, sessions

    def _repr_html_(self) -> str:  # pragma: no cover - display only
        from toolkit.report.parity_tables import parity_html

        return f"<b>Live vs backtest parity</b>{parity_html(self)}"


def account_parity(
    ledger: Ledger,
    *,
    account: str,
    start: dt.date | None = None,
    end: dt.date | None = None,
    mode: str | None = None,
    strategy: str | None = None,
    params_file: str | Path | None = None,
    overrides: list[str] | dict[str, Any] | None = None,
    tolerance_bp: float = DEFAULT_TOLERANCE_BP,
    data: Dataset | pd.DataFrame | None = None,
) -> AccountParity:
    """Compare the account's sessions from ``start`` to ``end`` with the backtest of the same parameters.

    ``mode`` and ``strategy`` default to the ones the account recorded; ``start`` and
    ``end`` to its first and last session. Parameters come from the sessions' records,
    else ``params_file`` (``overrides`` as ``--set``); ``data`` (bars covering the
    account's sessions and the strategy's warm-up) defaults to the parameters' data.
    Bad input raises :class:`~toolkit.errors.ParamsError` naming the option; nothing is written.
    """
    if isinstance(tolerance_bp, bool) or not isinstance(tolerance_bp, int | float) or not (
            math.isfinite(tolerance_bp) and tolerance_bp >= 0):
        raise ParamsError("--tolerance-bp", tolerance_bp, "a number of basis points >= 0, e.g. 10")
    sessions = recorded_sessions(ledger, account=account, start=start, end=end, mode=mode, strategy=strategy)
    params, source = parity_params(sessions, params_file=params_file, overrides=overrides)
    panel = _panel(params, data)
    initial = float(ledger.initial_cash(sessions.account, sessions.mode)) or float(params.initial_cash)
    first = pd.Timestamp(sessions.first).tz_localize("UTC")
    last = pd.Timestamp(sessions.runs["session_date"].iloc[-1]).tz_localize("UTC")
    _check_covered(panel, first, last, sessions)
    sb = backtest_sessions(params, panel, first, last, initial_cash=initial)
    tol = float(tolerance_bp)
    live_days = live_sessions(ledger, sessions)
    trades = _trades(live_trades(ledger, sessions), sb, panel, live_days, tol)
    per_session = _sessions(live_days, sb, trades, sessions)
    shown_trades = trades[(trades["session_date"] >= sessions.start) & (trades["session_date"] <= sessions.end)]
    shown_trades = shown_trades.reset_index(drop=True)
    problems = _problems(shown_trades, per_session, tol)
    return AccountParity(
        account=sessions.account, mode=sessions.mode, strategy=sessions.strategy,
        execution_time=params.execution_time, start=sessions.start, end=sessions.end,
        first_session=sessions.first, initial_cash=initial, params=params, params_source=source,
        tolerance_bp=tol, trades=shown_trades, sessions=per_session, problems=problems,
    )


def _panel(params: DailyDryRunParams, data: Dataset | pd.DataFrame | None) -> pd.DataFrame:
    if isinstance(data, pd.DataFrame):
        return data
    if data is not None:
        return data.panel
    from toolkit.data.dataset import load_dataset
    from toolkit.params import repo_root
    from toolkit.strategies import registry

    strat = registry.create(params.strategy, params.strategy_params, symbols=params.data.symbols)
    return load_dataset(params.data, base_dir=repo_root(), optional=strat.optional_symbols()).panel


def _check_covered(panel: pd.DataFrame, first: pd.Timestamp, last: pd.Timestamp, sessions: RecordedSessions) -> None:
    lo, hi = panel.index[0], panel.index[-1]
    if first < lo:
        raise ParamsError("data", f"{lo.date()}..{hi.date()}",
                          f"bars from the account's first session ({first.date()}), where the backtest starts "
                          "(point data.start or data.path at older bars with --set)")
    if last > hi:
        raise ParamsError("--end", sessions.end, f"a date the data covers: its last bar is {hi.date()} "
                          "(refresh the data, or compare an earlier range)")


# ----------------------------------------------------------------------------- trades


def _trades(live: pd.DataFrame, sb: SessionBacktest, panel: pd.DataFrame, live_days: pd.DataFrame,
            tol: float) -> pd.DataFrame:
    """Live and backtest trades side by side, one row per session, symbol and side."""
    bt = _backtest_trades(sb, panel)
    table = live.merge(bt, on=["session_date", "symbol", "side"], how="outer")
    for col in ("live_qty", "backtest_qty", "live_fees", "backtest_fees", "live_ordered"):
        table[col] = table[col].fillna(0.0).astype(float)
    table["live_status"] = table["live_status"].fillna("")
    sign = np.where(table["side"] == "buy", 1.0, -1.0)
    both = (table["live_qty"] > 0) & (table["backtest_qty"] > 0)
    table["qty_diff"] = table["live_qty"] - table["backtest_qty"]
    table["qty_diff_bps"] = _bps(table["live_qty"], table["backtest_qty"]).where(both)
    table["price_diff_bps"] = _bps(table["live_price"], table["backtest_price"]).where(both)
    # Slippage is a cost when positive (a buy above, a sell below its decision price); + 0.0 turns -0 into 0.
    table["live_slippage_bps"] = sign * _bps(table["live_price"], table["live_decision_price"]) + 0.0
    table["backtest_slippage_bps"] = sign * _bps(table["backtest_price"], table["backtest_decision_price"]) + 0.0
    live_targets = dict(zip(live_days["session_date"], live_days["live_targets"], strict=True))
    table["live_target_weight"] = [_weight(live_targets.get(d), s) for d, s in zip(table["session_date"],
                                                                                       table["symbol"], strict=True)]
    table["backtest_target_weight"] = [_bt_weight(sb.targets, d, s) for d, s in zip(table["session_date"],
                                                                                        table["symbol"], strict=True)]
    table["weight_diff_bps"] = (table["live_target_weight"] - table["backtest_target_weight"]) * 1e4
    table["difference"] = [_difference(row, tol) for row in table.itertuples(index=False)]
    table["_order"] = np.where(table["side"] == "sell", 0, 1)  # a session sells first, as it trades
    table = table.sort_values(["session_date", "_order", "symbol"], kind="stable").drop(columns="_order")
    return table[TRADE_COLUMNS].reset_index(drop=True)


def _backtest_trades(sb: SessionBacktest, panel: pd.DataFrame) -> pd.DataFrame:
    bo = sb.result.orders
    columns = ["session_date", "symbol", "side", "backtest_qty", "backtest_price", "backtest_decision_price",
               "backtest_fees"]
    if bo.empty:
        return pd.DataFrame(columns=columns)
    size = bo["size"].astype(float).to_numpy()
    frame = pd.DataFrame({
        "session_date": [t.date() for t in bo["timestamp"]],
        "symbol": bo["symbol"].to_numpy(),
        "side": bo["side"].to_numpy(),
        "backtest_qty": size,
        "notional": size * bo["price"].astype(float).to_numpy(),
        "backtest_fees": bo["fees"].astype(float).to_numpy(),
        # The price the order was sized on: the bar's close at the ledger's 6 places.
        "backtest_decision_price": [round(_float(panel.at[t, (s, "close")]), 6)
                                    for t, s in zip(bo["timestamp"], bo["symbol"], strict=True)],
    })
    g = frame.groupby(["session_date", "symbol", "side"], as_index=False, sort=False).agg(
        backtest_qty=("backtest_qty", "sum"), notional=("notional", "sum"),
        backtest_fees=("backtest_fees", "sum"), backtest_decision_price=("backtest_decision_price", "first"))
    g["backtest_price"] = g["notional"] / g["backtest_qty"]
    return g[columns]


def _bps(a: pd.Series, b: pd.Series) -> pd.Series:
    """``(a / b - 1) x 10,000``, NaN where either is missing or ``b`` is not positive."""
    a, b = a.astype(float), b.astype(float)
    return ((a / b.where(b > 0)) - 1.0) * 1e4


def _weight(targets: dict[str, Any] | None, symbol: str) -> float:
    if targets is None:
        return float("nan")
    value = targets.get(symbol)
    return float(value) if value is not None else 0.0  # a strategy leaves out what it does not hold


def _bt_weight(targets: pd.DataFrame, day: dt.date, symbol: str) -> float:
    ts = pd.Timestamp(day).tz_localize("UTC")
    if symbol not in targets.columns or ts not in targets.index:
        return float("nan")
    return _float(targets.at[ts, symbol])


def _float(value: Any) -> float:
    """A table cell as a float (pandas types cells as anything)."""
    return float(value)


def _difference(row: Any, tol: float) -> str:
    """What differs beyond the tolerance, in words ('' when nothing does)."""
    if row.live_qty > 0 and row.backtest_qty == 0:
        return "only live"
    if row.backtest_qty > 0 and row.live_qty == 0:
        return "only backtest"
    if row.live_qty == 0 and row.backtest_qty == 0:
        return "only live (unfilled)" if row.live_ordered > 0 else ""
    words = [name for name, value in (("quantity", row.qty_diff_bps), ("price", row.price_diff_bps),
                                      ("signal", row.weight_diff_bps)) if _beyond(value, tol)]
    return ", ".join(words)


def _beyond(value: float, tol: float) -> bool:
    return value is not None and not math.isnan(value) and abs(value) > tol


# ----------------------------------------------------------------------------- sessions


def _sessions(live_days: pd.DataFrame, sb: SessionBacktest, trades: pd.DataFrame,
              sessions: RecordedSessions) -> pd.DataFrame:
    """One row per bar of the backtest (every session the account should have traded)."""
    bars = sb.targets.index
    days = [t.date() for t in bars]
    statuses = dict(zip(live_days["session_date"], live_days["live_status"], strict=True))
    equities = dict(zip(live_days["session_date"], live_days["live_equity"], strict=True))
    targets: dict[dt.date, dict[str, Any] | None] = dict(zip(live_days["session_date"], live_days["live_targets"],
                                                             strict=True))
    status = [statuses.get(d) or sessions.statuses.get(d, "missing") for d in days]
    live_eq = np.array([equities.get(d, np.nan) for d in days], dtype=float)
    bt_eq = sb.result.equity.reindex(bars).to_numpy(dtype=float)
    gap = (live_eq / bt_eq - 1.0) * 1e4
    table = pd.DataFrame({"session_date": days, "live_status": status, "live_equity": live_eq,
                          "backtest_equity": bt_eq, "gap_bps": gap})
    # What each session added to the gap (the first session's gap is all its own).
    prev = pd.Series(gap).ffill().shift(1).fillna(0.0).to_numpy()
    table["gap_change_bps"] = gap - prev
    counts_live = trades[trades["live_qty"] > 0].groupby("session_date").size()
    counts_bt = trades[trades["backtest_qty"] > 0].groupby("session_date").size()
    table["live_trades"] = [int(counts_live.get(d, 0)) for d in days]
    table["backtest_trades"] = [int(counts_bt.get(d, 0)) for d in days]
    bt_targets = sb.targets.to_dict("index")
    table["signal_diff_bps"] = [_signal_diff(targets.get(d), bt_targets[t]) for d, t in zip(days, bars, strict=True)]
    shown = (table["session_date"] >= sessions.start) & (table["session_date"] <= sessions.end)
    out = table[shown].reset_index(drop=True)
    # Live sessions on a day the data has no bar for: the backtest could not trade them.
    missing_bars = sorted(d for d in sessions.shown["session_date"] if d not in set(days))
    if missing_bars:
        extra = pd.DataFrame({"session_date": missing_bars, "live_status": "no bar in the data"})
        out = pd.concat([out, extra], ignore_index=True).sort_values("session_date", kind="stable")
    return out[SESSION_COLUMNS].reset_index(drop=True)


def _signal_diff(live: dict[str, Any] | None, bt: dict[Any, Any]) -> float:
    """The largest target weight difference of a session, in basis points of equity (NaN without live targets)."""
    if live is None:
        return float("nan")
    symbols = sorted(set(live) | {str(s) for s in bt})
    diffs = [(_weight(live, s) - _float(bt.get(s, 0.0))) * 1e4 for s in symbols]
    return max(diffs, key=abs) if diffs else 0.0


# ----------------------------------------------------------------------------- problems


def _problems(trades: pd.DataFrame, sessions: pd.DataFrame, tol: float) -> list[str]:
    """One line per problem, oldest session first; the equity gap is one line."""
    from toolkit.time import is_session

    out: list[str] = []
    row: Any
    for row in sessions.itertuples(index=False):
        d = row.session_date
        if row.live_status == "missing":
            if is_session(d):
                out.append(f"{d}: no live session recorded (the backtest trades every session)")
        elif row.live_status == "no bar in the data":
            out.append(f"{d}: the live session traded on a day the data has no bar for; the backtest could not")
        elif row.live_status in ("halted", "blocked"):
            out.append(f"{d}: the live session was {row.live_status} (guards stopped its orders)")
        elif row.live_status == "started":
            out.append(f"{d}: the live session never finished (status started: resume it)")
        elif row.live_status == "failed":
            out.append(f"{d}: the live session failed before any order (its run summary says why)")
        if _beyond(row.signal_diff_bps, tol):
            out.append(f"{d}: target weights differ by up to {row.signal_diff_bps:+.1f} bp of equity "
                       "(the strategy decided differently: other data or parameters?)")
    for t in trades.itertuples(index=False):
        line = _trade_problem(t, tol)
        if line:
            out.append(f"{t.session_date} {t.symbol} {t.side}: {line}")
    over = sessions[sessions["gap_bps"].abs() > tol]
    if len(over):
        days, gaps = list(over["session_date"]), over["gap_bps"].to_numpy(dtype=float)
        worst = int(np.argmax(np.abs(gaps)))
        out.append(f"equity gap beyond {tol:g} bp on {len(over)} session(s): first {days[0]} ({gaps[0]:+.2f} bp), "
                   f"largest {days[worst]} ({gaps[worst]:+.2f} bp)")
    return out


def _trade_problem(t: Any, tol: float) -> str:
    if t.difference == "only live":
        return f"only live traded ({t.live_qty:g} @ {t.live_price:.6g}); the backtest did not"
    if t.difference == "only live (unfilled)":
        return f"live ordered {t.live_ordered:g} ({t.live_status}, nothing filled); the backtest did not trade"
    if t.difference == "only backtest":
        live = "sent no order" if t.live_ordered == 0 else f"ordered {t.live_ordered:g} ({t.live_status}), none filled"
        return f"only the backtest traded ({t.backtest_qty:g} @ {t.backtest_price:.6g}); live {live}"
    parts = []
    if _beyond(t.qty_diff_bps, tol):
        parts.append(f"quantity live {t.live_qty:g} vs backtest {t.backtest_qty:g} ({t.qty_diff_bps:+.1f} bp)")
    if _beyond(t.price_diff_bps, tol):
        parts.append(f"fill price live {t.live_price:.6g} vs backtest {t.backtest_price:.6g} "
                     f"({t.price_diff_bps:+.1f} bp; slippage live {t.live_slippage_bps:+.1f} bp, backtest "
                     f"{t.backtest_slippage_bps:+.1f} bp)")
    return "; ".join(parts)


# ----------------------------------------------------------------------------- notebook section


@dataclass
class ParitySection:
    """What the live notebook shows: the parity, or why there is none yet (never an exception)."""

    parity: AccountParity | None
    note: str | None = None

    def _repr_html_(self) -> str:  # pragma: no cover - display only
        from toolkit.report.parity_tables import parity_section_html

        return parity_section_html(self) if self.parity is None else self.parity._repr_html_()


def parity_section(
    account: str,
    *,
    mode: str | None = None,
    strategy: str | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    db_url: str | None = None,
    params_file: str | Path | None = None,
    tolerance_bp: float = DEFAULT_TOLERANCE_BP,
    data: Dataset | pd.DataFrame | None = None,
    output_dir: str | Path | None = None,
) -> ParitySection:
    """The live notebook's parity section: the account's sessions vs the backtest, displayed as a table.

    Opens the ledger at ``db_url`` (default ``$TOOLKIT_DB_URL``, else outputs/ledger.sqlite),
    runs :func:`account_parity` (``data``: the session's own bars, to load nothing twice)
    and, with ``output_dir``, writes ``parity_trades.csv`` and ``parity_sessions.csv`` there. A
    problem that stops the comparison (no session yet, no recorded parameters, data
    that does not reach back) becomes the section's note, so the report still renders.
    """
    from toolkit.ledger import open_ledger

    try:
        with open_ledger(db_url, must_exist=True) as ledger:
            parity = account_parity(ledger, account=account, start=start, end=end, mode=mode, strategy=strategy,
                                    params_file=params_file, tolerance_bp=tolerance_bp, data=data)
    except ToolkitError as exc:
        return ParitySection(None, f"not available: {exc}")
    if output_dir is not None:
        out = Path(output_dir)
        out.mkdir(parents=True, exist_ok=True)
        parity.trades.to_csv(out / "parity_trades.csv", index=False)
        parity.sessions.to_csv(out / "parity_sessions.csv", index=False)
    return ParitySection(parity)


def default_output_dir(root: Path, account: str, mode: str, start: dt.date, end: dt.date) -> Path:
    """``<root>/parity/<account>_<mode>_<start>_<end>`` (the account label made safe for a folder name)."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", account).strip("._") or "account"
    return root / "parity" / f"{safe}_{mode}_{start.isoformat()}_{end.isoformat()}"
