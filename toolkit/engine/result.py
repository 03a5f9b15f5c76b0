"""What a session ends with: a :class:`SessionResult`, or a :class:`SessionError` before any order."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pandas as pd

from toolkit.errors import ToolkitError

if TYPE_CHECKING:  # pragma: no cover
    from toolkit.data.dataset import Dataset
    from toolkit.engine.account_overrides import AppliedOverride
    from toolkit.engine.guards import GuardReport
    from toolkit.engine.market import PriceOrigin
    from toolkit.engine.translator import OrderIntent, SkippedIntent
    from toolkit.ledger import FillRecord, OrderRecord, Snapshot
    from toolkit.strategies.base import Decision

__all__ = ["ALREADY_DONE", "SessionError", "SessionResult", "json_safe"]

#: The one session outcome that is not a ledger run status (:class:`~toolkit.model.RunStatus`):
#: the run was already done, nothing was sent again.
ALREADY_DONE = "already_done"


class SessionError(ToolkitError):
    """The session stopped before any order; the message says what to do."""


def json_safe(value: Any) -> Any:
    """Context values as JSON: NaN/inf -> None, numpy scalars -> Python, dates -> ISO text."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        try:
            value = value.item()
        except (AttributeError, ValueError):
            return str(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, pd.Timestamp | dt.date):
        return value.isoformat()
    return str(value)


@dataclass
class SessionResult:
    """What one session did, for the report and for the caller's checks.

    ``orders`` and ``fills`` are the ledger's records of this run's orders (in
    recording order: sells first) and their fills. ``price_sources`` says where each
    execution price came from (its instant and bar or file); ``price_basis`` how the
    session was priced, at every execution time but ``close`` (minute bars, or
    "priced at the daily close: no minute bars for <date>"). Both go into the summary
    (the ledger's run record, snapshot.json) when ``price_basis`` is set.

    ``overrides``: the account's config overrides the session ran with
    (:mod:`~toolkit.engine.account_overrides`); in the summary only when there are any,
    so a session without overrides records exactly what it always did. ``dataset``: the
    bars :func:`~toolkit.engine.daily.run_daily` ran it on (None when it was handed a
    bare frame), for the report's notes and the archive's data fingerprint.
    """

    run_key: str
    session_date: dt.date
    execution_time: str
    mode: str
    status: str  # completed | halted | blocked | already_done | market_closed
    messages: list[str] = field(default_factory=list)
    decision: Decision | None = None
    prices: dict[str, Decimal] = field(default_factory=dict)
    current_positions: dict[str, Decimal] = field(default_factory=dict)
    intents: list[OrderIntent] = field(default_factory=list)
    skipped: list[SkippedIntent] = field(default_factory=list)
    guard_report: GuardReport | None = None
    blocked: list[str] = field(default_factory=list)
    orders: list[OrderRecord] = field(default_factory=list)
    fills: list[FillRecord] = field(default_factory=list)
    snapshot: Snapshot | None = None
    problems: list[str] = field(default_factory=list)
    resumed: bool = False
    price_basis: str | None = None
    price_sources: dict[str, PriceOrigin] = field(default_factory=dict)
    minute_priced: bool = False
    overrides: tuple[AppliedOverride, ...] = ()
    dataset: Dataset | None = field(default=None, repr=False, compare=False)

    @property
    def message(self) -> str:
        return " ".join(self.messages)

    def summary(self) -> dict[str, Any]:
        """JSON-safe summary (stored with the run in the ledger, written to snapshot.json)."""
        snap = self.snapshot
        out: dict[str, Any] = {
            "run_key": self.run_key,
            "session_date": self.session_date.isoformat(),
            "execution_time": self.execution_time,
            "mode": self.mode,
            "status": self.status,
            "messages": list(self.messages),
            "rebalance": None if self.decision is None else bool(self.decision.rebalance),
            "target_weights": None if self.decision is None else dict(self.decision.target_weights),
            "orders": len(self.orders),
            "fills": len(self.fills),
            "blocked": list(self.blocked),
            "problems": list(self.problems),
            "resumed": self.resumed,
            "equity": None if snap is None else str(snap.equity),
            "cash": None if snap is None else str(snap.cash),
        }
        if self.price_basis is not None:  # an intraday execution time: say how it was priced
            out["price_basis"] = self.price_basis
            out["price_sources"] = {
                sym: {"price": str(self.prices[sym]) if sym in self.prices else None,
                      "at": None if o.at is None else o.at.isoformat(), "source": o.source}
                for sym, o in self.price_sources.items()
            }
        if self.overrides:  # the account's config overrides: who set what, when and why
            out["overrides"] = [o.to_dict() for o in self.overrides]
        return out

    def _repr_html_(self) -> str:  # pragma: no cover - display only
        return f"<b>Session {self.run_key}</b>: {self.status}<br>{self.message}"
