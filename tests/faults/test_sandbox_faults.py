"""The sandbox's own faults, met through both clients: a locked SQLite file and kill -9.

The sandbox must never charge for a request it could not save, and never lose a charge it
answered: the client sees a typed error it can act on, and the wallet matches the answers.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pec_ext import ServiceUnavailableError
from tests.support.dates import sandbox_on_day, server_on_day_args
from tests.support.fault_server import FaultServer
from tests.support.fault_stats import add, record
from tests.support.faults import TOKEN, Driver, box_body
from tests.support.http_stack import httpx

ROOT = Path(__file__).resolve().parents[2]


def test_unsavable_paid_call_is_refused_not_charged(tmp_path: Path, mode: str) -> None:
    """The file is locked past the busy timeout: 503, nothing applied; the retry is charged once."""
    db = tmp_path / "s.sqlite"
    address = f"locked.{mode}@testcert.legalmail.it"
    with FaultServer(sandbox_on_day(balance=100.0, db_path=db, db_busy_timeout=0.2)) as server:
        api = Driver(mode, server.url, max_retries=0)
        other = sqlite3.connect(db, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        try:
            refused = [api.call("register_mailbox", **box_body(address)), api.call("check_domain", "a.it")]
        finally:
            other.execute("ROLLBACK")
            other.close()
        for outcome in refused:
            assert isinstance(outcome, ServiceUnavailableError), repr(outcome)
            assert outcome.code == 930
        assert server.sandbox.ledger == []
        assert server.sandbox.mailboxes() == []
        box = api.call("register_mailbox", **box_body(address))
        assert not isinstance(box, Exception), repr(box)
        charges = len(server.sandbox.ledger)
        add("double_charges", max(0, charges - 1))
        assert charges == 1
        server.sandbox.close()
    record(
        "sandbox: the state file is locked past the busy timeout",
        calls=3,
        faults=2,
        survived=3,
        typed_errors=2,
        outcome="503 (930), nothing charged, the retry charged once",
    )


@contextmanager
def sandbox_process(db: Path) -> Iterator[str]:
    env = {"PYTHONPATH": f"{ROOT}:{ROOT / 'generated'}", "PATH": "/usr/bin:/bin"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pec_ext.sandbox",
            "--port",
            "0",
            "--db",
            str(db),
            "--balance",
            "100",
            *server_on_day_args(),
        ],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        yield proc.stdout.readline().rsplit(" ", 1)[1].strip()
    finally:
        os.kill(proc.pid, signal.SIGKILL)  # no shutdown path runs: only what was committed survives
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


def test_answered_charges_survive_kill_9(tmp_path: Path, mode: str) -> None:
    db = tmp_path / "s.sqlite"
    calls = 10
    with sandbox_process(db) as url:
        steps: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = [
            ("check_domain", (f"d{n}.example.it",), {}) for n in range(calls)
        ]
        steps.append(("register_mailbox", (), box_body(f"kill9.{mode}@testcert.legalmail.it")))
        outcomes = Driver(mode, url, token=TOKEN).run(steps)
        assert not any(isinstance(o, Exception) for o in outcomes), outcomes
    with sandbox_process(db) as url:
        state = httpx.get(url + "/_sandbox/state").json()["data"]
    assert state["ledger_entries"] == calls + 1
    assert state["mailboxes"] == {"registrata": 1}
    assert state["balance"] == 100 - calls * 0.05 - 5
    record(
        "sandbox: kill -9 right after paid answers, then restart",
        calls=calls + 1,
        faults=1,
        survived=calls + 1,
        outcome="every answered charge and box still there",
    )
