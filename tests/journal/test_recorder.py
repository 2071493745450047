"""The records a journal writes behind its calls: order, waiting, loss, exit and fork."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from pec_ext.journal import recorder as recorder_module
from pec_ext.journal.base import Journal, State
from pec_ext.journal.recorder import BackgroundRecorder, recorder_for
from pec_ext.journal.sqlite import SqliteJournalStore
from pec_ext.sandbox import ManualClock, Sandbox
from tests.support.dates import EPOCH
from tests.support.fleet import PDF, box_body, env

RENEWAL = "GET /pec/{id}/rinnovo"


def evasa_box(sandbox: Sandbox) -> str:
    with sandbox.client() as pec:
        box = pec.register_mailbox(**box_body("uno@testcert.legalmail.it"))
        pec.activate_mailbox(box.id, [PDF, PDF])
    sandbox.advance()
    return str(box.id)


def test_records_are_written_in_order_and_flush_waits_for_them() -> None:
    recorder = BackgroundRecorder()
    written: list[int] = []
    gate = threading.Event()

    def write(n: int) -> None:
        assert gate.wait(5)
        written.append(n)

    for n in range(50):
        recorder.submit(f"k{n % 7}", lambda n=n: write(n))  # type: ignore[misc]
    assert recorder.is_pending("k3")
    threading.Timer(0.1, gate.set).start()
    assert recorder.flush(10) == 0
    assert written == list(range(50))
    assert not recorder.is_pending("k3")


def test_flush_counts_and_logs_the_lost_records(caplog: pytest.LogCaptureFixture) -> None:
    recorder = BackgroundRecorder()

    def fail() -> None:
        raise OSError("disk gone")

    recorder.submit("lost:1", fail)
    recorder.submit("kept", lambda: None)
    recorder.submit("lost:2", fail)
    assert recorder.flush(10) == 2
    assert recorder.flush(10) == 0  # counted once
    assert "lost:1" in caplog.text
    assert "lost:2" in caplog.text
    assert "disk gone" in caplog.text


def test_flush_past_its_timeout_raises() -> None:
    recorder = BackgroundRecorder()
    gate = threading.Event()
    recorder.submit("slow", lambda: gate.wait(10))
    with pytest.raises(TimeoutError, match="1 journal record"):
        recorder.flush(0.05)
    gate.set()
    assert recorder.flush(10) == 0


def test_wait_for_waits_for_that_key_only() -> None:
    recorder = BackgroundRecorder()
    gate = threading.Event()
    recorder.submit("slow", lambda: gate.wait(10))
    assert recorder.wait_for("absent", 0.0)
    assert not recorder.wait_for("slow", 0.05)
    gate.set()
    assert recorder.wait_for("slow", 10)


def test_the_thread_ends_when_idle_and_another_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(recorder_module, "IDLE_SECONDS", 0.05)
    recorder = BackgroundRecorder()
    threads: list[threading.Thread] = []
    recorder.submit("a", lambda: threads.append(threading.current_thread()))
    recorder.flush(5)
    threads[0].join(5)
    assert not threads[0].is_alive()
    recorder.submit("b", lambda: threads.append(threading.current_thread()))
    recorder.flush(5)
    assert len(threads) == 2
    assert threads[1] is not threads[0]


def test_one_recorder_per_store_object(tmp_path: Path) -> None:
    store = SqliteJournalStore(tmp_path / "j.sqlite")
    other = SqliteJournalStore(tmp_path / "j.sqlite")
    assert recorder_for(store) is recorder_for(store)
    assert recorder_for(store) is not recorder_for(other)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork")
def test_a_forked_child_starts_with_no_pending_records() -> None:
    recorder = BackgroundRecorder()
    gate = threading.Event()
    recorder.submit("parent", lambda: gate.wait(10))
    pid = os.fork()
    if pid == 0:  # the child: the parent's record is not its own, and its own are written
        done = threading.Event()
        ok = not recorder.is_pending("parent")
        recorder.submit("child", done.set)
        ok = ok and recorder.flush(5) == 0 and done.is_set()
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    gate.set()
    assert recorder.flush(10) == 0
    assert os.waitstatus_to_exitcode(status) == 0


def test_the_async_client_returns_before_the_record_and_close_waits(tmp_path: Path) -> None:
    sandbox = Sandbox(balance=10_000, clock=ManualClock(EPOCH))
    box_id = evasa_box(sandbox)
    store = SqliteJournalStore(tmp_path / "journal.sqlite")
    released = threading.Event()
    original = store.update

    def slow_update(*args: Any, **kwargs: Any) -> bool:
        assert released.wait(10)
        return original(*args, **kwargs)

    store.update = slow_update  # type: ignore[method-assign]

    async def renew() -> State:
        async with sandbox.async_client(journal=Journal(store)) as pec:
            await pec.renew_mailbox(box_id, 1, idempotency_key="renew:async-behind")
            entry = store.get("renew:async-behind")
            assert entry is not None
            threading.Timer(0.1, released.set).start()
            return entry.state

    assert asyncio.run(renew()) is State.SENDING  # the call returned before its record
    entry = store.get("renew:async-behind")
    assert entry is not None
    assert entry.state is State.DONE  # closing the client waited for it
    assert sum(1 for e in sandbox.ledger if e["operation"] == RENEWAL) == 1


_EXITING = """
import sys, threading
from pec_ext.journal.base import Journal
from pec_ext.journal.sqlite import SqliteJournalStore
from pec_ext.sandbox import ManualClock, Sandbox
from tests.support.dates import EPOCH
from tests.support.fleet import PDF, box_body, env

sandbox = Sandbox(balance=10_000, clock=ManualClock(EPOCH))
pec = sandbox.client()
box = pec.register_mailbox(**box_body("uno@testcert.legalmail.it"))
pec.activate_mailbox(box.id, [PDF, PDF])
sandbox.advance()
store = SqliteJournalStore(sys.argv[1])
original = store.update
def slow_update(*args, **kwargs):
    threading.Event().wait(0.3)  # still pending when the script ends
    return original(*args, **kwargs)
store.update = slow_update
sandbox.client(journal=Journal(store)).renew_mailbox(box.id, 1, idempotency_key="renew:exit")
print(store.get("renew:exit").state.value)
"""


def test_a_process_that_ends_normally_writes_its_pending_records(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    began = time.monotonic()
    out = subprocess.run(
        [sys.executable, "-c", _EXITING, str(path)], env=env(), capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "sending"  # the client was never closed
    assert time.monotonic() - began < 60
    with contextlib.closing(SqliteJournalStore(path)) as store:
        entry = store.get("renew:exit")
    assert entry is not None
    assert entry.state is State.DONE  # written at interpreter exit
