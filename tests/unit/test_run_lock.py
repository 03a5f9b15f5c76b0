"""The per-key run lock: a row of the ledger, taken by INSERT, taken over by a conditional UPDATE.

Every test runs on SQLite and on PostgreSQL (the ``ledger_url`` fixture, tests/support/postgres.py):
the lock uses nothing one of them lacks.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from toolkit.engine.run_lock import RunLocked, hold_run_lock, holder_gone
from toolkit.ledger import Ledger, open_ledger

KEY = "sma_crossover|dry-run|2018-06-01|close"
T0 = datetime(2026, 11, 27, 17, 50, 0, 123456, tzinfo=UTC)
@pytest.fixture
def ledger(ledger_url: str) -> Iterator[Ledger]:
    with open_ledger(ledger_url) as led:
        yield led


class FakeTime:
    """A clock that a fake sleep moves forward, with something to do at each poll."""

    def __init__(self, start: datetime) -> None:
        self.now = start
        self.slept: list[float] = []
        self.on_sleep = lambda: None

    def clock(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += timedelta(seconds=seconds)
        self.on_sleep()


def test_the_primary_key_refuses_a_second_holder_and_only_the_holder_releases(ledger: Ledger) -> None:
    got, mine = ledger.acquire_run_lock(KEY, host="a", pid=1, at=T0, detail={"run_key": KEY})
    assert got and mine is not None
    got2, holder = ledger.acquire_run_lock(KEY, host="b", pid=2, at=T0 + timedelta(seconds=1))
    assert not got2 and holder == mine
    assert holder.describe() == "host a pid 1 since 2026-11-27 17:50:00Z"
    other = ledger.acquire_run_lock("other|key|2018-06-01|close", host="b", pid=2, at=T0)[1]
    assert [lock.key for lock in ledger.run_locks()] == ["other|key|2018-06-01|close", KEY]  # same time: by key
    assert ledger.heartbeat_run_lock(mine, at=T0 + timedelta(seconds=30))
    assert ledger.run_lock(KEY).heartbeat_at == T0 + timedelta(seconds=30)
    assert other is not None and not ledger.release_run_lock(
        type(mine)(KEY, "b", 2, other.acquired_at, other.heartbeat_at))  # not b's lock
    assert ledger.release_run_lock(mine)
    assert ledger.run_lock(KEY) is None


def test_two_takeovers_of_one_dead_holder_one_wins(ledger: Ledger) -> None:
    _, dead = ledger.acquire_run_lock(KEY, host="a", pid=1, at=T0)
    assert dead is not None
    later, why = T0 + timedelta(minutes=1), "its process 1 is gone"
    first = ledger.take_over_run_lock(dead, host="a", pid=2, at=later, reason=why)
    second = ledger.take_over_run_lock(dead, host="a", pid=3, at=later, reason=why)
    assert first is not None and second is None
    assert ledger.run_lock(KEY).pid == 2
    audit = ledger.audit_log(action="run_lock_taken_over")
    assert len(audit) == 1
    detail = audit.iloc[0]["detail"]
    assert detail["previous"]["pid"] == 1 and detail["pid"] == 2 and detail["reason"] == "its process 1 is gone"
    # The old holder, if it was alive after all, finds out and does not delete its successor's lock.
    assert not ledger.heartbeat_run_lock(dead, at=T0 + timedelta(minutes=2))
    assert not ledger.release_run_lock(dead)
    assert ledger.run_lock(KEY).pid == 2


def test_a_live_holder_stops_the_second_run_with_one_line_naming_it(ledger: Ledger) -> None:
    ledger.acquire_run_lock(KEY, host="other-host", pid=4242, at=T0)
    t = FakeTime(T0 + timedelta(minutes=1))
    with pytest.raises(RunLocked) as err, hold_run_lock(ledger, KEY, clock=t.clock, sleep=t.sleep, host="me", pid=7):
        pytest.fail("the lock was taken from a live holder")
    message = str(err.value)
    assert "\n" not in message
    assert message == (f"run {KEY} is already running: lock held by host other-host pid 4242 since "
                       "2026-11-27 17:50:00Z (last heartbeat 17:50:00Z); this run did not start (lock_wait_seconds: 0)")
    assert t.slept == []
    assert ledger.run_lock(KEY).host == "other-host"


def test_the_second_run_waits_for_the_first_then_runs(ledger: Ledger) -> None:
    _, first = ledger.acquire_run_lock(KEY, host="me", pid=1, at=T0)
    t = FakeTime(T0)
    said: list[str] = []
    t.on_sleep = lambda: len(t.slept) == 3 and ledger.release_run_lock(first)
    with hold_run_lock(ledger, KEY, wait_seconds=60, clock=t.clock, sleep=t.sleep, say=said.append, host="me",
                       pid=2, alive=lambda pid: True) as hold:
        assert ledger.run_lock(KEY).pid == 2
        assert hold.notes == []
    assert t.slept == [1.0, 1.0, 1.0]
    assert said == [f"waiting up to 60 s for run {KEY}: lock held by host me pid 1 since 2026-11-27 17:50:00Z"]
    assert ledger.run_lock(KEY) is None  # released at the end


def test_waiting_ends_at_the_timeout(ledger: Ledger) -> None:
    ledger.acquire_run_lock(KEY, host="me", pid=1, at=T0)
    t = FakeTime(T0)
    with pytest.raises(RunLocked, match="this run did not start after waiting 5 s"), hold_run_lock(
            ledger, KEY, wait_seconds=5, clock=t.clock, sleep=t.sleep, say=lambda m: None, host="me", pid=2,
            alive=lambda pid: True):
        pass
    assert sum(t.slept) == 5


def test_a_dead_holder_on_this_host_is_taken_over_and_said_so(ledger: Ledger) -> None:
    ledger.acquire_run_lock(KEY, host="me", pid=99999, at=T0)
    said: list[str] = []
    with hold_run_lock(ledger, KEY, clock=lambda: T0 + timedelta(seconds=5), say=said.append, host="me", pid=5,
                       alive=lambda pid: pid != 99999) as hold:
        assert ledger.run_lock(KEY).pid == 5
    note = (f"took over the lock of run {KEY} from host me pid 99999 since 2026-11-27 17:50:00Z: its process 99999 "
            "is gone (audit log run_lock_taken_over)")
    assert hold.notes == [note] and said == [note]
    assert ledger.audit_log(action="run_lock_taken_over").iloc[0]["detail"]["previous"]["pid"] == 99999


def test_another_hosts_holder_is_dead_only_when_its_heartbeat_is_old(ledger: Ledger) -> None:
    _, holder = ledger.acquire_run_lock(KEY, host="far", pid=1, at=T0)
    assert holder is not None
    assert holder_gone(holder, now=T0 + timedelta(minutes=9), host="me") is None
    assert holder_gone(holder, now=T0 + timedelta(minutes=11), host="me") == "no heartbeat for 11 min (more than 10)"
    with hold_run_lock(ledger, KEY, clock=lambda: T0 + timedelta(minutes=11), say=lambda m: None, host="me",
                       pid=5) as hold:
        assert "no heartbeat for 11 min" in hold.notes[0]


def test_the_heartbeat_thread_keeps_the_lock_fresh(ledger: Ledger) -> None:
    import threading

    beats = threading.Event()
    times = iter([T0, *(T0 + timedelta(seconds=30 * i) for i in range(1, 100))])

    def clock() -> datetime:
        return next(times)

    with hold_run_lock(ledger, KEY, clock=clock, heartbeat_every=timedelta(milliseconds=10), host="me", pid=5):
        for _ in range(500):
            if ledger.run_lock(KEY).heartbeat_at > T0:
                beats.set()
                break
            beats.wait(0.01)
    assert beats.is_set()
    assert ledger.run_lock(KEY) is None


def test_a_lock_is_never_taken_inside_a_transaction(ledger: Ledger) -> None:
    from toolkit.ledger import LedgerError

    with pytest.raises(LedgerError, match="outside any transaction"), ledger.transaction():
        ledger.acquire_run_lock(KEY, host="me", pid=1, at=T0)
