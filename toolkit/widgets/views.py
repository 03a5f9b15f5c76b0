"""What the control panel shows, computed from what the ledger returns: pure functions, no widgets.

Each function takes the frames and records of :class:`toolkit.ledger.Ledger` (snapshots,
positions, trades, audit log, runs) and returns rows or series ready to draw, so every
number the panel shows can be checked in a test without a browser, and no figure is
computed twice in two places. Nothing here decides anything about trading: the targets
are the strategy's (recorded in the snapshot's context), the marks the session's.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from toolkit.widgets.tables import Format

if TYPE_CHECKING:
    import pandas as pd

    from toolkit.ledger import PositionRecord

__all__ = [
    "GUARD_ACTIONS",
    "REGIME_FIRST",
    "EquitySeries",
    "account_totals",
    "allocation_rows",
    "audit_rows",
    "csv_data_uri",
    "equity_series",
    "filter_trades",
    "guard_rows",
    "last_snapshot",
    "marks_of",
    "positions_rows",
    "records",
    "regime_fields",
    "run_history_rows",
    "trades_csv",
]

#: Context fields shown first in the regime display, in this order (the rest follow sorted).
REGIME_FIRST = ("cell", "trend_state", "trend", "vol_state", "vol", "t_norm", "z_score")
#: Audit actions that are guard activations: orders blocked, sessions halted or stopped,
#: the kill switch turned on or off.
GUARD_ACTIONS = ("guard_block", "guard_halt", "session_stopped", "kill_switch_on", "kill_switch_off")
#: Guard actions that concern every account (the kill switch is global).
_GLOBAL_ACTIONS = frozenset({"kill_switch_on", "kill_switch_off"})


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows of ``frame`` as dicts keyed by column name."""
    return [{str(k): v for k, v in r.items()} for r in frame.to_dict("records")]


def last_snapshot(snapshots: pd.DataFrame) -> dict[str, Any] | None:
    """The newest snapshot row (by session date) as a dict, or None."""
    if snapshots.empty:
        return None
    return {str(k): v for k, v in snapshots.iloc[-1].to_dict().items()}


def _context(snapshot: Mapping[str, Any] | None) -> dict[str, Any]:
    ctx = snapshot.get("context") if snapshot else None
    return ctx if isinstance(ctx, dict) else {}


def marks_of(snapshot: Mapping[str, Any] | None) -> dict[str, Decimal]:
    """The session's marks of the held symbols, as recorded with the snapshot."""
    marks = _context(snapshot).get("marks") or {}
    return {str(s): Decimal(str(v)) for s, v in marks.items() if v is not None}


def _format_of(value: Any) -> Format:
    if isinstance(value, bool) or value is None:
        return "text"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float | Decimal):
        return "num"
    if isinstance(value, dict | list):
        return "json"
    return "text"


def regime_fields(snapshot: Mapping[str, Any] | None) -> list[tuple[str, Any, Format]]:
    """(field, value, format) of the strategy's context on the last session.

    Session date and rebalance flag first, then the regime fields of :data:`REGIME_FIRST`
    that the strategy reports, then every other context field, sorted.
    """
    if snapshot is None:
        return []
    ctx = _context(snapshot)
    decision = ctx.get("decision")
    decision = decision if isinstance(decision, dict) else {}
    out: list[tuple[str, Any, Format]] = [("session", snapshot.get("session_date"), "date")]
    if "rebalance" in ctx:
        out.append(("rebalance", ctx["rebalance"], "text"))
    if "cell" not in decision and snapshot.get("strategy_cell") not in (None, ""):
        out.append(("cell", snapshot.get("strategy_cell"), "text"))
    ordered = [k for k in REGIME_FIRST if k in decision] + sorted(k for k in decision if k not in REGIME_FIRST)
    out.extend((k, decision[k], _format_of(decision[k])) for k in ordered)
    return out


def allocation_rows(
    snapshot: Mapping[str, Any] | None, positions: Mapping[str, PositionRecord]
) -> list[dict[str, Any]]:
    """Target vs actual weight per instrument, plus cash, on the last session.

    target: the strategy's target weight recorded with the snapshot; actual: quantity x
    the session's mark / the session's equity (None for a holding without a mark). The
    cash row is what the targets leave and the snapshot's cash / equity.
    """
    if snapshot is None:
        return []
    ctx = _context(snapshot)
    targets = {str(k): float(v) for k, v in (ctx.get("target_weights") or {}).items() if v is not None}
    marks = marks_of(snapshot)
    equity = Decimal(str(snapshot["equity"]))
    rows: list[dict[str, Any]] = []
    for symbol in sorted(set(targets) | {s for s, p in positions.items() if p.quantity != 0}):
        qty = positions[symbol].quantity if symbol in positions else Decimal(0)
        mark = marks.get(symbol)
        if qty == 0:
            value: Decimal | None = Decimal(0)
        else:
            value = None if mark is None else qty * mark
        actual = None if value is None or equity <= 0 else float(value / equity)
        rows.append({"symbol": symbol, "target": targets.get(symbol, 0.0), "actual": actual,
                     "quantity": qty, "mark": mark, "value": value})
    cash = Decimal(str(snapshot["cash"]))
    rows.append({"symbol": "cash", "target": max(0.0, 1.0 - sum(targets.values())),
                 "actual": float(cash / equity) if equity > 0 else None, "quantity": None, "mark": None,
                 "value": cash})
    return rows


def positions_rows(
    positions: Mapping[str, PositionRecord], marks: Mapping[str, Decimal], equity: Decimal | None
) -> list[dict[str, Any]]:
    """Holdings with market value, unrealised and realised P&L and weight; flat symbols after
    the open ones (their realised P&L is part of the account's)."""
    rows: list[dict[str, Any]] = []
    for symbol, p in sorted(positions.items(), key=lambda kv: (kv[1].quantity == 0, kv[0])):
        mark = marks.get(symbol)
        value = None if mark is None else p.quantity * mark
        unrealised = None if mark is None else (mark - p.avg_cost) * p.quantity
        rows.append({
            "symbol": symbol, "quantity": p.quantity, "avg_cost": p.avg_cost if p.quantity != 0 else None,
            "mark": mark, "value": value, "unrealised_pnl": unrealised, "realised_pnl": p.realised_pnl,
            "weight": None if value is None or not equity else float(value / equity),
        })
    return rows


def account_totals(
    rows: Sequence[Mapping[str, Any]], cash: Decimal | None, initial: Decimal | None, equity: Decimal | None
) -> list[tuple[str, Any, Format]]:
    """Cash, equity, realised and unrealised P&L and the total against the initial cash."""
    realised = sum((Decimal(str(r["realised_pnl"])) for r in rows), Decimal(0))
    unrealised = sum((Decimal(str(r["unrealised_pnl"])) for r in rows if r["unrealised_pnl"] is not None),
                     Decimal(0))
    out: list[tuple[str, Any, Format]] = [("cash", cash, "money"), ("equity (last session)", equity, "money"),
                                          ("realised P&L", realised, "money"), ("unrealised P&L", unrealised, "money")]
    if equity is not None and initial:
        out.append(("total P&L vs initial cash", equity - initial, "money"))
        out.append(("total return", float(equity / initial - 1), "pct"))
    return out


def filter_trades(
    trades: pd.DataFrame,
    *,
    symbol: str | None = None,
    side: str | None = None,
    start: date | None = None,
    end: date | None = None,
) -> pd.DataFrame:
    """The trades of ``symbol`` and ``side`` between ``start`` and ``end`` (dates inclusive, UTC)."""
    out = trades
    if out.empty:
        return out
    if symbol:
        out = out[out["symbol"] == symbol]
    if side:
        out = out[out["side"] == side]
    if start is not None:
        out = out[out["at"].dt.date >= start]
    if end is not None:
        out = out[out["at"].dt.date <= end]
    return out


def trades_csv(trades: pd.DataFrame) -> str:
    """The trades as CSV text, Decimals as exact text (as ``toolkit live export`` writes them)."""
    buffer = io.StringIO()
    trades.to_csv(buffer, index=False)
    return buffer.getvalue()


def csv_data_uri(text: str) -> str:
    """A ``data:`` URI of CSV text: a download link that needs no file on the server."""
    return "data:text/csv;charset=utf-8;base64," + base64.b64encode(text.encode("utf-8")).decode("ascii")


@dataclass(frozen=True)
class EquitySeries:
    """Equity, drawdown and regime cell per session, ready to draw."""

    dates: list[date]
    equity: list[float]
    drawdown: list[float | None]
    cells: list[str | None]

    @property
    def has_regime(self) -> bool:
        return any(c not in (None, "") for c in self.cells)


def equity_series(snapshots: pd.DataFrame) -> EquitySeries:
    """One point per session date (the later snapshot when two strategies share a date)."""
    if snapshots.empty:
        return EquitySeries([], [], [], [])
    frame = snapshots.drop_duplicates("session_date", keep="last")
    import pandas as pd

    cells = [None if pd.isna(c) or c == "" else str(c) for c in frame["strategy_cell"]]
    drawdown = [None if pd.isna(d) else float(d) for d in frame["drawdown"]]
    return EquitySeries(list(frame["session_date"]), [float(v) for v in frame["equity"]], drawdown, cells)


def _account_of(detail: Any) -> str | None:
    run_key = detail.get("run_key") if isinstance(detail, dict) else None
    if isinstance(run_key, str) and run_key.count("|") == 3:
        return run_key.split("|")[1]
    account = detail.get("account") if isinstance(detail, dict) else None
    return account if isinstance(account, str) else None


def _reason(detail: Any) -> str | None:
    if not isinstance(detail, dict):
        return None if detail is None else str(detail)
    reason = detail.get("reason")
    return None if reason is None else str(reason)


def guard_rows(audit: pd.DataFrame, account: str, *, limit: int = 200) -> list[dict[str, Any]]:
    """Guard activations of ``account`` and kill switch changes, newest first."""
    if audit.empty:
        return []
    rows = []
    for r in records(audit[audit["action"].isin(GUARD_ACTIONS)]):
        detail = r["detail"]
        if r["action"] not in _GLOBAL_ACTIONS and _account_of(detail) != account:
            continue
        guard = detail.get("guard") if isinstance(detail, dict) else None
        run_key = detail.get("run_key") if isinstance(detail, dict) else None
        rows.append({"at": r["at"], "action": r["action"], "guard": guard, "actor": r["actor"],
                     "session": run_key.split("|")[2] if isinstance(run_key, str) and run_key.count("|") == 3
                     else None, "reason": _reason(detail)})
    rows.reverse()
    return rows[:limit]


def audit_rows(audit: pd.DataFrame, *, limit: int = 100) -> list[dict[str, Any]]:
    """The newest audit entries first, detail as compact JSON."""
    rows = records(audit.tail(limit)) if not audit.empty else []
    rows.reverse()
    return rows


def run_history_rows(
    runs: pd.DataFrame, reports: Mapping[str, str], *, limit: int = 100
) -> list[dict[str, Any]]:
    """The account's runs, newest first, with orders and fills from the run summary and
    ``report``: the href of the archived report of the run's key, when there is one."""
    rows: list[dict[str, Any]] = []
    for r in reversed(records(runs.tail(limit)) if not runs.empty else []):
        summary = r.get("summary") if isinstance(r.get("summary"), dict) else {}
        href = reports.get(r["run_key"])
        rows.append({
            "session_date": r["session_date"], "execution_time": r["execution_time"], "mode": r["mode"],
            "status": r["status"], "orders": summary.get("orders"), "fills": summary.get("fills"),
            "finished_at": r["finished_at"], "report": href,
        })
    return rows

