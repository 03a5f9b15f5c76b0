"""Injectable clocks: the only place the toolkit asks what time it is.

Determinism (promise 2) needs time to be an input. The engine, the guards and the
ledger take a clock; a replay or a test passes a :class:`FixedClock` and moves it
explicitly, a live run passes :class:`SystemClock`. Nothing else in the toolkit
calls ``datetime.now`` or ``pd.Timestamp.now``.

Every clock returns a tz-aware UTC ``pd.Timestamp`` because stored timestamps are
UTC (see DESIGN.md, Money and time); conversion to America/New_York happens only
where the exchange calendar needs it.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import pandas as pd

from toolkit.errors import InvalidInput
from toolkit.model.timestamps import to_utc

__all__ = ["Clock", "FixedClock", "OffsetClock", "SystemClock"]


@runtime_checkable
class Clock(Protocol):
    """Anything with ``now() -> pd.Timestamp`` (tz-aware, UTC)."""

    def now(self) -> pd.Timestamp:  # pragma: no cover - protocol
        ...


class FixedClock:
    """A clock that stays where it is put: tests, replays and scheduled dry runs.

    ``advance_to`` moves it forward only, so a replay cannot accidentally travel
    back in time and re-use a session that was already traded.
    """

    def __init__(self, ts: Any) -> None:
        self._ts = to_utc(ts, field="clock")

    def now(self) -> pd.Timestamp:
        return self._ts

    def advance_to(self, ts: Any) -> pd.Timestamp:
        """Move the clock to ``ts`` (which must not be earlier) and return it."""
        new = to_utc(ts, field="clock")
        if new < self._ts:
            raise InvalidInput("clock", str(new), f"a time at or after {self._ts.isoformat()}")
        self._ts = new
        return new

    def advance(self, delta: pd.Timedelta | str) -> pd.Timestamp:
        """Move the clock forward by ``delta``."""
        return self.advance_to(self._ts + pd.Timedelta(delta))

    def __repr__(self) -> str:
        return f"FixedClock({self._ts.isoformat()!r})"


class SystemClock:
    """The machine's clock, in UTC: used by live and paper runs only."""

    def now(self) -> pd.Timestamp:
        return pd.Timestamp.now(tz="UTC")

    def __repr__(self) -> str:
        return "SystemClock()"


class OffsetClock:
    """A clock that starts at a given instant (the broker's clock) and runs at the machine's pace.

    A paper or live session takes its time from the broker, not from this machine's
    clock (which may be off, or, in tests, years away from the stand-in's market):
    ``now()`` is the broker's timestamp at start plus the monotonic time elapsed since.
    """

    def __init__(self, start: Any) -> None:
        import time

        self._start = to_utc(start, field="clock")
        self._monotonic = time.monotonic
        self._t0 = time.monotonic()

    def now(self) -> pd.Timestamp:
        # Microseconds: the ledger stores Python datetimes, which have no nanoseconds.
        return (self._start + pd.Timedelta(seconds=self._monotonic() - self._t0)).floor("us")

    def __repr__(self) -> str:
        return f"OffsetClock(started at {self._start.isoformat()!r})"
