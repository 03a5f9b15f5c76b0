"""What the ``toolkit live`` and ``toolkit killswitch`` commands ask the ledger.

Plain functions returning text or frames, so the CLI stays a thin argument parser
and the same answers can be printed in a notebook.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from toolkit.ledger import Ledger

__all__ = ["export_trades", "kill_switch_text", "set_kill_switch", "status_text", "trades_frame"]


def status_text(ledger: Ledger) -> str:
    """Kill switch, then per account and mode: positions, cash, last run and last snapshot."""
    import pandas as pd

    lines: list[str] = [kill_switch_text(ledger)]
    runs = ledger.runs()
    snaps = ledger.snapshots()
    if runs.empty:
        lines.append("no runs recorded in this ledger yet")
        return "\n".join(lines)
    accounts = runs[["account", "mode"]].drop_duplicates().itertuples(index=False)
    for account, mode in accounts:
        lines.append("")
        lines.append(f"account {account}  mode {mode}")
        mine = runs[(runs["account"] == account) & (runs["mode"] == mode)]
        last = mine.iloc[-1]
        lines.append(f"  last run: {last['run_key']}  status {last['status']}  finished {last['finished_at']}")
        try:
            cash = ledger.cash(account, mode)
        except Exception:  # an account whose only run was a closed market day
            cash = None
        positions = ledger.positions(account, mode)
        lines.append(f"  cash: {cash}")
        if positions:
            for sym, p in positions.items():
                lines.append(f"  position {sym}: {p.quantity} @ avg {p.avg_cost}  realised {p.realised_pnl}")
        else:
            lines.append("  positions: none (flat)")
        s = snaps[(snaps["account"] == account) & (snaps["mode"] == mode)]
        if len(s):
            r = s.iloc[-1]
            dd = r["drawdown"]
            cell = r["strategy_cell"]
            lines.append(
                f"  last snapshot {r['session_date']}: equity {r['equity']}  daily return "
                f"{_pct(r['daily_return'])}  cumulative {_pct(r['cumulative_return'])}  drawdown {_pct(dd)}"
                + (f"  cell {cell}" if cell not in (None, "") and not pd.isna(cell) else "")
            )
    return "\n".join(lines)


def kill_switch_text(ledger: Ledger) -> str:
    """One line: the kill switch's state and its last change (when, by whom, why)."""
    ks = ledger.kill_switch()
    if ks.on:
        return f"kill switch: ON since {ks.at} by {ks.actor}: {ks.reason}"
    return "kill switch: off" + (f" (last change {ks.at} by {ks.actor}: {ks.reason})" if ks.at else "")


def _pct(x: object) -> str:
    try:
        return f"{float(x):.2%}"  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "-"


def trades_frame(ledger: Ledger, limit: int = 20) -> pd.DataFrame:
    """The last ``limit`` fills (oldest first) with the columns a trader reads."""
    df = ledger.trades(limit)
    cols = ["at", "mode", "account", "strategy", "symbol", "side", "quantity", "price", "fees", "client_order_id"]
    return df[cols]


def export_trades(ledger: Ledger, output: str | Path) -> Path:
    """Every trade to CSV (Decimals as exact text)."""
    return ledger.export_csv(output)


def set_kill_switch(ledger: Ledger, on: bool, reason: str, actor: str = "cli") -> str:
    """Turn the kill switch on or off (audited with its reason); returns a confirmation line."""
    ks = ledger.set_kill_switch(on, reason, actor)
    return f"kill switch {'ON' if ks.on else 'off'} ({ks.reason}); recorded in the audit log at {ks.at}"
