"""The panel's reads of one account from the ledger, each kept until its part of the ledger changes.

Several sections draw from the same frame (regime, allocation, positions and equity all
read the snapshots), and the refresh loop polls several times a second. The reader asks
the ledger once per frame and keeps the answer until :meth:`AccountReader.invalidate`
is told that one of the ledger parts it came from changed (see
:meth:`toolkit.ledger.Ledger.change_stamp`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar

from toolkit.ledger import LedgerError
from toolkit.widgets.views import GUARD_ACTIONS

if TYPE_CHECKING:
    import pandas as pd

    from toolkit.ledger import KillSwitch, Ledger, PositionRecord

__all__ = ["AccountReader"]

T = TypeVar("T")

#: Reads -> the ledger parts whose change makes them stale.
DEPENDS: dict[str, frozenset[str]] = {
    "snapshots": frozenset({"snapshots"}),
    "trades": frozenset({"fills"}),
    "positions": frozenset({"positions", "fills"}),
    "cash": frozenset({"fills", "audit", "positions"}),
    "audit": frozenset({"audit"}),
    "guards": frozenset({"audit"}),
    "runs": frozenset({"runs"}),
    "overrides": frozenset({"config", "audit"}),
    "config_history": frozenset({"config", "audit"}),
    "kill_switch": frozenset({"state", "audit"}),
    "live_confirmation": frozenset({"state", "audit"}),
}


class AccountReader:
    """Cached reads of ``account`` (its figures in ``mode``) from ``ledger``."""

    #: How many audit entries and runs the panel lists.
    AUDIT_LIMIT = 100
    RUNS_LIMIT = 100

    def __init__(self, ledger: Ledger, account: str, mode: str | None) -> None:
        self.ledger = ledger
        self.account = account
        self.mode = mode
        self._cache: dict[str, Any] = {}

    def invalidate(self, parts: Iterable[str] | None = None) -> None:
        """Forget the reads that depend on any of ``parts`` (None: forget everything)."""
        if parts is None:
            self._cache.clear()
            return
        changed = set(parts)
        for name in [n for n in self._cache if DEPENDS[n] & changed]:
            del self._cache[name]

    def _get(self, name: str, read: Callable[[], T]) -> T:
        if name not in self._cache:
            self._cache[name] = read()
        value: T = self._cache[name]
        return value

    # ----------------------------------------------------------------- reads

    def snapshots(self) -> pd.DataFrame:
        return self._get("snapshots", lambda: self.ledger.snapshots(account=self.account, mode=self.mode))

    def trades(self) -> pd.DataFrame:
        return self._get("trades", lambda: self.ledger.trades(account=self.account, mode=self.mode))

    def positions(self) -> dict[str, PositionRecord]:
        if self.mode is None:
            return {}
        mode = self.mode
        return self._get("positions", lambda: self.ledger.positions(self.account, mode, include_flat=True))

    def cash(self) -> tuple[Decimal | None, Decimal | None]:
        """(cash, initial cash); (None, None) for an account never funded in this mode."""
        def read() -> tuple[Decimal | None, Decimal | None]:
            if self.mode is None:
                return None, None
            try:
                return self.ledger.cash(self.account, self.mode), self.ledger.initial_cash(self.account, self.mode)
            except LedgerError:
                return None, None

        return self._get("cash", read)

    def audit(self) -> pd.DataFrame:
        return self._get("audit", lambda: self.ledger.audit_log(self.AUDIT_LIMIT))

    def guards(self) -> pd.DataFrame:
        """Every audit entry of the guard actions (all accounts; views filter by account)."""
        def read() -> pd.DataFrame:
            import pandas as pd

            frames = [self.ledger.audit_log(action=a) for a in GUARD_ACTIONS]
            frames = [f for f in frames if not f.empty]
            if not frames:
                return self.ledger.audit_log(0)
            return pd.concat(frames).sort_values("at", kind="stable").reset_index(drop=True)

        return self._get("guards", read)

    def runs(self) -> pd.DataFrame:
        return self._get("runs", lambda: self.ledger.runs(account=self.account, limit=self.RUNS_LIMIT))

    def overrides(self) -> dict[str, Any]:
        return self._get("overrides", lambda: dict(self.ledger.overrides(account=self.account)))

    def config_history(self) -> pd.DataFrame:
        return self._get("config_history", lambda: self.ledger.config_history(account=self.account))

    def kill_switch(self) -> KillSwitch:
        return self._get("kill_switch", self.ledger.kill_switch)

    def live_confirmation(self) -> dict[str, Any] | None:
        return self._get("live_confirmation", lambda: self.ledger.live_confirmation(self.account))
