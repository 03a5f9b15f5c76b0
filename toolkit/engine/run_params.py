"""What a session records of its parameters, so that its trades can be replayed later.

``toolkit parity`` backtests an account's recorded sessions "with the same
parameters": strategy and strategy params, execution time, costs, instruments,
symbols and data. A paper or live session writes them into its run's summary
under :data:`PARAMS_KEY` when it starts (so a session that crashes still carries
them) and keeps them in the summary it finishes with.

The simulated dry run and the replay do NOT record them by default: their ledger
rows are pinned byte for byte by the golden fixtures (tests/fixtures/golden), and
their parameters are the params file the user ran them with, which
``toolkit parity --params FILE`` takes. ``record_params=True`` on
:func:`~toolkit.engine.session.run_session` or :func:`~toolkit.engine.replay.replay`
records them for any mode.

``as_of`` is left out (the run key holds the session), and so are ``db_url`` (where
the ledger lives is not a parameter of the trades, and a URL may name a user) and
``alerts`` (who is told about a session changes none of its trades).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from toolkit.params.daily_dry_run import DailyDryRunParams

__all__ = ["PARAMS_KEY", "records_params", "run_summary_params", "session_params", "with_params"]

#: Key of the run summary that holds the session's parameters.
PARAMS_KEY = "params"
#: Parameters that are not recorded (see the module doc).
NOT_RECORDED = frozenset({"as_of", "db_url", "alerts"})


def records_params(mode: str, record_params: bool | None) -> bool:
    """Whether a session of ``mode`` records its parameters: asked explicitly, else paper and live only."""
    return mode != "offline_mock" if record_params is None else bool(record_params)


def session_params(params: DailyDryRunParams) -> dict[str, Any]:
    """The session's parameters as resolved, as JSON (what :data:`PARAMS_KEY` holds)."""
    return params.model_dump(mode="json", exclude=set(NOT_RECORDED))


def with_params(summary: dict[str, Any] | None, recorded: dict[str, Any] | None) -> dict[str, Any] | None:
    """``summary`` plus the recorded parameters; ``summary`` itself (None included) when nothing is recorded."""
    return summary if recorded is None else {**(summary or {}), PARAMS_KEY: recorded}


def run_summary_params(summary: Any) -> dict[str, Any] | None:
    """The parameters a run recorded in its summary, or None (an older run, a dry run or a replay)."""
    if isinstance(summary, dict) and isinstance(summary.get(PARAMS_KEY), dict):
        return dict(summary[PARAMS_KEY])
    return None
