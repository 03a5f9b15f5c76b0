"""Ledger vs a real broker before money moves (promise 9): positions, cash and open orders.

Every paper or live session starts here, and ``toolkit broker reconcile`` runs it on
demand. It has two steps, in this order:

1. **Catch up.** Every order the ledger still holds open (new, submitted, partially
   filled) is looked up at the broker (:meth:`~toolkit.brokers.base.Broker.find_order`:
   by client id, or by the broker's own id / a unique match for Schwab) and what the
   broker did with it is applied to the ledger. After a crash this is what turns
   "sent but not recorded" into recorded fills, so it never reads as drift and the
   order is never sent again.
2. **Compare.** Each symbol's position, the cash, and the open orders, as rows with a
   status: ``matched``, ``missing_local`` (the broker has it, the ledger does not),
   ``missing_broker`` (the reverse) or ``quantity_mismatch``. A small cash difference
   with every position matched is the broker's own cash activity (a dividend, a fee,
   interest: the ledger records only fills): it is booked, audited, as ``booked``.

A mismatch stops the session before any order unless the params say
``reconcile: adopt_broker``: the ledger then takes the broker's positions (one
recorded adjustment order and fill per symbol, priced at the broker's latest
trade) and its cash (booked as a funding change), each audited. An open order the
ledger does not know (placed by hand, by another program) is never adopted: what it
is for is not the ledger's to guess, so it keeps stopping the session until a person
cancels it or lets it fill. A fresh account (nothing in the ledger yet) is funded
with the broker's cash, audited; its positions still need ``adopt_broker``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING

import pandas as pd

from toolkit.engine.execution import record_outcome
from toolkit.engine.result import SessionError
from toolkit.ledger import LedgerError
from toolkit.model import OrderStatus, quantize

if TYPE_CHECKING:  # pragma: no cover
    from toolkit.brokers.base import RemoteBroker
    from toolkit.ledger import Ledger

__all__ = [
    "BOOKED",
    "MATCHED",
    "MISSING_BROKER",
    "MISSING_LOCAL",
    "QUANTITY_MISMATCH",
    "ReconRow",
    "Reconciliation",
    "adopt_broker_state",
    "compare_positions",
    "reconcile_with_broker",
]

MATCHED = "matched"
#: A small cash difference with every position matched: the broker's own cash activity
#: (dividends, regulatory fees, interest), booked into the ledger (audited), not a mismatch.
BOOKED = "booked"
MISSING_LOCAL = "missing_local"
MISSING_BROKER = "missing_broker"
QUANTITY_MISMATCH = "quantity_mismatch"
ZERO = Decimal(0)


@dataclass(frozen=True)
class ReconRow:
    """One compared item: ``kind`` position / cash / open_order, its key, both sides, the verdict."""

    kind: str
    key: str
    ledger: Decimal | None
    broker: Decimal | None
    status: str

    @property
    def difference(self) -> Decimal | None:
        return None if self.ledger is None or self.broker is None else self.broker - self.ledger


@dataclass
class Reconciliation:
    """The outcome: rows, orders caught up from the broker, and what was adopted."""

    account: str
    mode: str
    rows: list[ReconRow] = field(default_factory=list)
    caught_up: list[str] = field(default_factory=list)
    adopted: list[str] = field(default_factory=list)
    funded: Decimal | None = None

    @property
    def mismatches(self) -> list[ReconRow]:
        return [r for r in self.rows if r.status not in (MATCHED, BOOKED)]

    @property
    def ok(self) -> bool:
        return not self.mismatches

    def sentences(self) -> list[str]:
        """Each mismatch as a sentence (what the session's stop message lists)."""
        out = []
        for r in self.mismatches:
            out.append(f"{r.kind} {r.key}: {r.status} (ledger {_show(r.ledger)}, broker {_show(r.broker)})")
        return out

    def table(self) -> pd.DataFrame:
        """Rows for the report: kind, key, ledger, broker, difference, status."""
        return pd.DataFrame(
            [{"kind": r.kind, "key": r.key, "ledger": _show(r.ledger), "broker": _show(r.broker),
              "difference": _show(r.difference), "status": r.status} for r in self.rows],
            columns=["kind", "key", "ledger", "broker", "difference", "status"],
        )

    def to_dict(self) -> dict[str, object]:
        return {"ok": self.ok, "rows": self.table().to_dict(orient="records"), "caught_up": self.caught_up,
                "adopted": self.adopted, "funded": None if self.funded is None else str(self.funded)}


def compare_positions(ledger_qty: dict[str, Decimal], broker_qty: dict[str, Decimal]) -> list[ReconRow]:
    """One ``position`` row per symbol held on either side (zero quantities are not held), by symbol.

    The one position comparison: a paper or live session's reconciliation and the dry
    run's after-session check (:func:`toolkit.engine.reconcile.reconcile`) both use it.
    """
    lpos = {s: q for s, q in ledger_qty.items() if q}
    bpos = {s: q for s, q in broker_qty.items() if q}
    rows = []
    for sym in sorted(set(lpos) | set(bpos)):
        lq, bq = lpos.get(sym), bpos.get(sym)
        status = MATCHED if lq == bq else MISSING_LOCAL if lq is None else MISSING_BROKER if bq is None \
            else QUANTITY_MISMATCH
        rows.append(ReconRow("position", sym, lq, bq, status))
    return rows


def _show(v: Decimal | None) -> str:
    return "-" if v is None else format(v.normalize(), "f")


def reconcile_with_broker(ledger: Ledger, broker: RemoteBroker, *, account: str, mode: str, at: dt.datetime,
                          cash_tolerance: Decimal = Decimal("0.01"), fund_new_account: bool = True,
                          cash_activity_limit: Decimal = Decimal(0)) -> Reconciliation:
    """Catch up the ledger's open orders from the broker, then compare positions, cash and open orders.

    ``cash_activity_limit``: a cash difference up to this amount, with every position
    matched, is the broker's own cash activity (a dividend, a regulatory fee, interest:
    the ledger records only fills) and is booked into the ledger, audited, as ``booked``.
    """
    out = Reconciliation(account, mode)
    for rec in ledger.order_records(account=account, mode=mode):
        if OrderStatus(rec.status).is_terminal:
            continue
        seen = broker.find_order(rec.to_order())
        if seen is None:
            if rec.status != OrderStatus.NEW.value:
                out.rows.append(ReconRow("open_order", rec.client_order_id, rec.remaining_quantity, None,
                                         MISSING_BROKER))
            continue  # a ``new`` order the broker never got: its session sends it (same id)
        record_outcome(ledger, broker, rec.client_order_id, at, account=account, mode=mode, order=seen)
        out.caught_up.append(rec.client_order_id)

    lpos = {s: p.quantity for s, p in ledger.positions(account, mode).items()}
    out.rows.extend(compare_positions(lpos, broker.get_positions()))

    bcash = quantize(broker.get_cash())
    try:
        lcash: Decimal | None = ledger.cash(account, mode)
    except LedgerError:  # never funded: the account's first session
        lcash = None
    if lcash is None and fund_new_account:
        ledger.set_initial_cash(account, mode, bcash, actor="reconcile", at=at)
        out.funded = lcash = bcash
    if lcash is None:
        out.rows.append(ReconRow("cash", "USD", None, bcash, MISSING_LOCAL))
    else:
        diff = bcash - lcash
        positions_agree = all(r.status == MATCHED for r in out.rows if r.kind == "position")
        if abs(diff) <= cash_tolerance:
            status = MATCHED
        elif positions_agree and abs(diff) <= cash_activity_limit:
            ledger.adopt_cash(account, mode, bcash, at=at, actor="reconcile",
                              reason=f"broker cash activity (dividends, fees, interest): {diff:+}")
            status = BOOKED
        else:
            status = QUANTITY_MISMATCH
        out.rows.append(ReconRow("cash", "USD", lcash, bcash, status))

    local_open = {r.client_order_id: r for r in ledger.order_records(account=account, mode=mode)
                  if OrderStatus(r.status).is_open and r.status != OrderStatus.NEW.value}
    by_broker_id = {r.broker_order_id: r for r in local_open.values() if r.broker_order_id}
    for o in broker.get_orders(open_only=True):
        mine = local_open.pop(o.client_order_id, None)
        if mine is None and o.broker_order_id is not None and o.broker_order_id in by_broker_id:
            mine = local_open.pop(by_broker_id[o.broker_order_id].client_order_id, None)
        if mine is not None:
            status = MATCHED if mine.remaining_quantity == o.remaining_quantity else QUANTITY_MISMATCH
            out.rows.append(ReconRow("open_order", mine.client_order_id, mine.remaining_quantity,
                                     o.remaining_quantity, status))
        else:
            out.rows.append(ReconRow("open_order", f"{o.symbol} {o.side.value} {o.quantity} "
                                                   f"(broker id {o.broker_order_id})",
                                     None, o.remaining_quantity, MISSING_LOCAL))
    for coid, rec in local_open.items():
        if coid not in {r.key for r in out.rows}:  # open in the ledger, not open at the broker
            out.rows.append(ReconRow("open_order", coid, rec.remaining_quantity, None, MISSING_BROKER))
    return out


def adopt_broker_state(ledger: Ledger, broker: RemoteBroker, recon: Reconciliation, *, strategy: str,
                       at: dt.datetime, actor: str = "reconcile") -> Reconciliation:
    """Make the ledger agree with the broker (``reconcile: adopt_broker``), audited, then compare again."""
    from toolkit.model import OrderSide

    symbols = [r.key for r in recon.mismatches if r.kind == "position"]
    quotes = broker.latest_trades(symbols) if symbols else {}
    for row in recon.mismatches:
        if row.kind != "position":
            continue
        diff = (row.broker or ZERO) - (row.ledger or ZERO)
        side = OrderSide.BUY if diff > 0 else OrderSide.SELL
        qty = abs(diff)
        quote = quotes.get(row.key)
        if quote is None:
            raise SessionError(f"reconcile: adopt_broker needs a price for {row.key} and the broker has no latest "
                               "trade for it; nothing was adopted or sent")
        px = quote.price
        coid = f"adopt-{at:%Y%m%d%H%M%S}-{row.key}-{side.value}"
        ledger.record_order(client_order_id=coid, run_key=None, mode=recon.mode, strategy="adopt_broker",
                            account=recon.account, symbol=row.key, side=side.value, quantity=qty,
                            reason=f"adopted from the broker: ledger {row.ledger}, broker {row.broker}", at=at)
        ledger.record_fill(coid, f"{coid}:adopt", qty, quantize(px), 0, at=at)
        recon.adopted.append(f"position {row.key}: {side.value} {qty} @ {px}")
    # An adopted position moved the ledger's cash by its cost: take the broker's cash after it.
    bcash = quantize(broker.get_cash())
    try:
        lcash: Decimal | None = ledger.cash(recon.account, recon.mode)
    except LedgerError:  # never funded: adopting funds it
        lcash = None
    if lcash != bcash:
        diff = ledger.adopt_cash(recon.account, recon.mode, bcash, reason="reconcile: adopt_broker", actor=actor,
                                 at=at)
        recon.adopted.append(f"cash: {diff:+} to {bcash}")
    ledger.audit("adopt_broker", {"account": recon.account, "mode": recon.mode, "adopted": recon.adopted,
                                  "mismatches": recon.sentences(), "strategy": strategy}, actor=actor, at=at)
    return recon
