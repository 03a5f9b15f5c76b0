"""Reconciliation of the ledger against the broker: what must agree before money moves.

Promise 9: local and broker state agree, or nothing trades. Today a dry run and a
replay check it after their sessions; a paper or live session will run the same
function before its first order.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

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
    for sym in sorted(set(lpos) | set(bpos)):
        if lpos.get(sym, Decimal(0)) != bpos.get(sym, Decimal(0)):
            problems.append(f"position {sym}: ledger {lpos.get(sym, 0)} vs broker {bpos.get(sym, 0)}")
    return problems
