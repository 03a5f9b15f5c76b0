"""What a schedule entry runs: one dry-run or live params file, read without touching data or brokers.

A schedule is installed, listed, checked and fired from the params file alone. Only
the fields that say *when* and *what* matter here (strategy, account, execution time,
mode, ``catch_up``, the ledger), so the file is parsed (every field checked) but not
resolved: resolving a live file fetches bars from the broker, which an ``install`` or a
``toolkit health`` must not need. The run itself (``toolkit run``) validates it fully.

Which notebook a file belongs to comes from its folder (``params/live/...`` is live,
``params/daily_dry_run/...`` the dry run), else from ``--notebook``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from toolkit.errors import ParamsError

__all__ = ["SCHEDULED_NOTEBOOKS", "ScheduleTarget", "load_target"]

#: Notebooks a schedule can run: one session per trading day.
SCHEDULED_NOTEBOOKS = ("daily_dry_run", "live")


@dataclass(frozen=True)
class ScheduleTarget:
    """One scheduled params file: which notebook, and the slot its sessions fill."""

    params_file: Path
    notebook: str
    strategy: str
    account: str
    execution_time: str
    mode: str
    catch_up: str
    db_url: str | None
    broker: str | None
    #: The params' ``alerts:`` block (:class:`~toolkit.params.alerts.AlertSettings`): which alerts to send.
    alerts: Any = field(default=None, compare=False)

    @property
    def key(self) -> str:
        """``strategy|account|execution_time``: the run key without its session (what the schedule repeats)."""
        return f"{self.strategy}|{self.account}|{self.execution_time}"

    @property
    def entry_id(self) -> str:
        """A short, stable id of this params file's schedule entries (its absolute path, hashed)."""
        return hashlib.sha256(str(self.params_file).encode()).hexdigest()[:12]

    @property
    def live(self) -> bool:
        return self.notebook == "live"

    def run_key(self, session: date) -> str:
        from toolkit.ledger import make_run_key

        return make_run_key(self.strategy, self.account, session, self.execution_time)


def load_target(params_file: str | Path, notebook: str | None = None) -> ScheduleTarget:
    """Read ``params_file`` for scheduling (see the module doc); ParamsError on anything wrong."""
    from toolkit.params import model_for, read_yaml

    path = Path(params_file).expanduser().resolve()
    raw = read_yaml(path)
    chosen = notebook or path.parent.name
    if chosen not in SCHEDULED_NOTEBOOKS:
        raise ParamsError("--notebook", notebook, f"{' or '.join(SCHEDULED_NOTEBOOKS)}: the notebook whose params "
                                                  f"{params_file} are (its folder does not say)")
    from toolkit.params.daily_dry_run import DailyDryRunParams

    params = model_for(chosen).parse(raw)
    assert isinstance(params, DailyDryRunParams)  # the live model extends the dry run's
    as_of = getattr(params, "as_of", None)
    if as_of is not None:
        raise ParamsError("as_of", as_of, "null in a scheduled params file (each firing trades its own session)")
    broker = getattr(params, "broker", None)
    return ScheduleTarget(path, chosen, params.strategy, params.account, params.execution_time, params.mode,
                          params.catch_up, params.db_url, getattr(broker, "name", None) if chosen == "live" else None,
                          params.alerts)
