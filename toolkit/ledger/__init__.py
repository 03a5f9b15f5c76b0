"""The local ledger of the dry run and live engine.

Everything the engine does with money is written here, in transactions,
before and after each broker call: orders (idempotent on ``client_order_id``),
their status history, fills (idempotent on ``fill_id``), FIFO lots,
positions, cash, runs, performance snapshots, configuration overrides, the
kill switch, an audit log and the alerts sent. Amounts are exact ``Decimal``; times are UTC.

>>> from toolkit.ledger import open_ledger
>>> ledger = open_ledger("sqlite:///outputs/ledger.sqlite")   # doctest: +SKIP
>>> ledger.trades(20)                                          # doctest: +SKIP
"""

from toolkit.ledger.alerts import AlertRecord
from toolkit.ledger.errors import IllegalTransitionError, LedgerError
from toolkit.ledger.ledger import Ledger, make_run_key, open_ledger, parse_run_key
from toolkit.ledger.locks import RunLock
from toolkit.ledger.records import (
    FillRecord,
    KillSwitch,
    LotRecord,
    OrderEventRecord,
    OrderRecord,
    PositionRecord,
    Run,
    Snapshot,
)

__all__ = [
    "AlertRecord",
    "FillRecord",
    "IllegalTransitionError",
    "KillSwitch",
    "Ledger",
    "LedgerError",
    "LotRecord",
    "OrderEventRecord",
    "OrderRecord",
    "PositionRecord",
    "Run",
    "RunLock",
    "Snapshot",
    "make_run_key",
    "open_ledger",
    "parse_run_key",
]
