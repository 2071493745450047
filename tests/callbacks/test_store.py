"""The transition store: atomic claims, failures released, done for good, shared across processes."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from pec_ext.callbacks.store import (
    Claim,
    MemoryTransitionStore,
    SqliteTransitionStore,
    Transition,
    TransitionStore,
)

EVASA = Transition("mailbox", "6045fdee3a716847a978a471", "evasa", "1700000000")


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["sqlite", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock) -> Iterator[TransitionStore]:
    if request.param == "memory":
        yield MemoryTransitionStore(lease=60, clock=clock)
        return
    sqlite = SqliteTransitionStore(tmp_path / "t.sqlite", lease=60, clock=clock)
    yield sqlite
    sqlite.close()


def test_a_completed_transition_is_done_for_every_later_delivery(store: TransitionStore) -> None:
    assert store.claim(EVASA, "a") is Claim.ACQUIRED
    assert store.claim(EVASA, "b") is Claim.BUSY
    store.complete(EVASA, "a")
    assert store.claim(EVASA, "c") is Claim.DONE
    # the same state reached again later is another transition
    assert store.claim(Transition(EVASA.kind, EVASA.id, EVASA.stato, "1700000099"), "d") is Claim.ACQUIRED


def test_a_released_claim_is_acquired_again(store: TransitionStore) -> None:
    assert store.claim(EVASA, "a") is Claim.ACQUIRED
    store.release(EVASA, "a")
    assert store.claim(EVASA, "b") is Claim.ACQUIRED
    store.complete(EVASA, "b")
    store.release(EVASA, "b")  # too late: done stays done
    assert store.claim(EVASA, "c") is Claim.DONE


def test_a_lapsed_claim_is_taken_over_and_the_old_ticket_changes_nothing(
    store: TransitionStore, clock: FakeClock
) -> None:
    assert store.claim(EVASA, "dead") is Claim.ACQUIRED
    clock.now += 59
    assert store.claim(EVASA, "b") is Claim.BUSY
    clock.now += 2
    assert store.claim(EVASA, "b") is Claim.ACQUIRED
    store.complete(EVASA, "dead")
    store.release(EVASA, "dead")
    assert store.claim(EVASA, "c") is Claim.BUSY  # still b's
    store.complete(EVASA, "b")
    assert store.claim(EVASA, "c") is Claim.DONE


def test_the_sqlite_store_remembers_across_restarts(tmp_path: Path) -> None:
    path = tmp_path / "t.sqlite"
    first = SqliteTransitionStore(path)
    assert first.claim(EVASA, "a") is Claim.ACQUIRED
    first.complete(EVASA, "a")
    first.close()
    again = SqliteTransitionStore(path)
    assert again.claim(EVASA, "b") is Claim.DONE
    assert again.handled() == [EVASA]
    again.close()


CLAIMER = textwrap.dedent(
    """
    import sys
    from pec_ext.callbacks.store import Claim, SqliteTransitionStore, Transition

    store = SqliteTransitionStore(sys.argv[1])
    sys.stdin.readline()  # start together
    won = 0
    for n in range(200):
        t = Transition("mailbox", f"id{n}", "evasa", "1")
        if store.claim(t, sys.argv[2]) is Claim.ACQUIRED:
            store.complete(t, sys.argv[2])
            won += 1
    print(won)
    """
)


def test_processes_sharing_the_file_claim_each_transition_once(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite"
    SqliteTransitionStore(path).close()
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CLAIMER, str(path), f"p{i}"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for i in range(4)
    ]
    try:
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        wins = [int(proc.communicate(timeout=120)[0]) for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    assert sum(wins) == 200
    store = SqliteTransitionStore(path)
    assert len(store.handled()) == 200
    store.close()
