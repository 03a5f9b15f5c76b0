"""The dry run's and the replay's after-session check: the ledger against the simulated broker.

Promise 9: local and broker state agree, or nothing trades. A dry run and a replay
check it after their sessions, here. A paper or live session reconciles with the real
broker BEFORE any order (:func:`toolkit.engine.broker_reconcile.reconcile_with_broker`:
catch-up of open orders, positions, cash, open orders, adoption); both compare positions
with the same :func:`~toolkit.engine.broker_reconcile.compare_positions`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from toolkit.engine.broker_reconcile import MATCHED, compare_positions

if TYPE_CHECKING:  # pragma: no cover
    from toolkit.brokers.base import Broker
    from toolkit.ledger import Ledger

__all__ = ["reconcile"]


def reconcile(ledger: Ledger, broker: Broker, *, account: str, mode: str, marks: dict[str, Decimal]) -> list[str]:
    """Every disagreement, as a sentence (empty = consistent).

    The ledger's own invariants (re-derived from its fills, valued at ``marks``),
    then the held quantity of every symbol, ledger vs broker.
    """
    problems = list(ledger.check_consistency(account, mode, marks))
    lpos = {s: p.quantity for s, p in ledger.positions(account, mode).items()}
    bpos = {s: q for s, q in broker.get_positions().items() if q}
    for row in compare_positions(lpos, bpos):
        if row.status != MATCHED:
            problems.append(f"position {row.key}: ledger {lpos.get(row.key, 0)} vs broker {bpos.get(row.key, 0)}")
    return problems
