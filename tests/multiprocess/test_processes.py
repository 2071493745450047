"""The journal across processes: the sandbox over HTTP, real Redis, one SQLite file, kill -9."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import random
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from pec_ext import PecClient
from pec_ext.journal.base import Journal, State
from pec_ext.journal.sqlite import SqliteJournalStore
from pec_ext.journal.stores import open_store
from tests.support.fleet import PYTHON, env, kill, ledger, provision, sandbox_server, slow_proxy

RENEWAL = "GET /pec/{id}/rinnovo"
# A fresh server forks the workers: the test process may hold threads (Redis, Celery) and their locks.
FORK = multiprocessing.get_context("forkserver")


def renewals(db: Path) -> list[str]:
    return [entry["ref"] for entry in ledger(db) if entry["operation"] == RENEWAL]


def _renew_all(
    store_url: str, url: str, jobs: list[tuple[str, str]], lease: float, start: Any, results: Any
) -> None:
    """A worker process: renew each (key, box) through the shared journal."""
    start.wait()
    journal = Journal(open_store(store_url), lease=lease, wait=60, poll=0.02)
    with PecClient(token="t", base_url=url, timeout=10, journal=journal) as pec:
        for key, box_id in jobs:
            try:
                box = pec.renew_mailbox(box_id, 1, idempotency_key=key)
                results.put((os.getpid(), key, str(box.data_scadenza)))
            except Exception as exc:
                results.put((os.getpid(), key, f"error {type(exc).__name__}: {exc}"))


def run_processes(count: int, target: Any, args_for: Any, timeout: float = 90) -> list[tuple[int, str, str]]:
    start = FORK.Barrier(count)
    results = FORK.Queue()
    procs = [FORK.Process(target=target, args=(*args_for(i), start, results)) for i in range(count)]
    for proc in procs:
        proc.start()
    deadline = time.monotonic() + timeout
    for proc in procs:
        proc.join(max(0.1, deadline - time.monotonic()))
    for proc in procs:
        if proc.is_alive():
            os.kill(proc.pid, signal.SIGKILL)  # type: ignore[arg-type]
            proc.join()
            pytest.fail(f"worker {proc.pid} did not finish in {timeout}s")
    found = []
    while not results.empty():
        found.append(results.get(timeout=1))
    return found


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
def test_the_same_key_from_20_processes_sends_one_request(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    db = tmp_path / "sandbox.sqlite"
    (box_id,) = provision(db, 1)
    store_url = request.getfixturevalue("fresh_redis") if backend == "redis" else str(tmp_path / "j.sqlite")
    with sandbox_server(db) as url:
        found = run_processes(20, _renew_all, lambda i: (store_url, url, [("renew:once", box_id)], 60.0))
    assert len(found) == 20
    assert len({pid for pid, _, _ in found}) == 20
    answers = {answer for _, _, answer in found}
    assert len(answers) == 1, answers  # every process returns the one renewal's result
    assert not next(iter(answers)).startswith("error")
    assert renewals(db) == [box_id]


def test_the_sqlite_journal_under_8_processes(tmp_path: Path) -> None:
    db = tmp_path / "sandbox.sqlite"
    boxes = provision(db, 30)
    journal_path = tmp_path / "journal.sqlite"

    def jobs(i: int) -> tuple[Any, ...]:
        mine = [(f"renew:{box}", box) for box in boxes]
        random.Random(i).shuffle(mine)  # each process meets the keys in another order
        return (str(journal_path), url, mine, 60.0)

    with sandbox_server(db) as url:
        found = run_processes(8, _renew_all, jobs)
    assert len(found) == 8 * 30
    errors = [answer for _, _, answer in found if answer.startswith("error")]
    assert errors == []
    by_key: dict[str, set[str]] = {}
    for _, key, answer in found:
        by_key.setdefault(key, set()).add(answer)
    assert all(len(answers) == 1 for answers in by_key.values())  # one result per key, everywhere
    assert sorted(renewals(db)) == sorted(boxes)  # each box renewed exactly once
    entries = SqliteJournalStore(journal_path).entries()
    assert len(entries) == 30
    assert {e.state for e in entries} == {State.DONE}


def test_a_claimer_killed_mid_call_is_reconciled_without_a_second_charge(tmp_path: Path) -> None:
    db = tmp_path / "sandbox.sqlite"
    (box_id,) = provision(db, 1)
    journal_path = str(tmp_path / "journal.sqlite")
    with sandbox_server(db) as url, slow_proxy(url) as proxy:
        before = PecClient(token="t", base_url=url).get_mailbox(box_id).data_scadenza
        script = str(Path(__file__).resolve().parents[1] / "support" / "claimer.py")
        claimer = subprocess.Popen([PYTHON, script, journal_path, proxy, box_id, "renew:killed"], env=env())
        try:
            deadline = time.monotonic() + 30
            while not renewals(db):  # the renewal reached the API and was charged ...
                assert time.monotonic() < deadline, "the renewal never reached the sandbox"
                assert claimer.poll() is None, f"the claimer ended with {claimer.returncode}"
                time.sleep(0.02)
            assert claimer.poll() is None
        finally:
            kill(claimer)  # kill -9: its answer never came
        entry = SqliteJournalStore(journal_path).get("renew:killed")
        assert entry is not None
        assert entry.state is State.SENDING

        journal = Journal(SqliteJournalStore(journal_path), lease=2.0, wait=10)
        with PecClient(token="t", base_url=url, timeout=1, journal=journal) as pec:
            box = pec.renew_mailbox(box_id, 1, idempotency_key="renew:killed")
    assert box.data_scadenza != before
    assert renewals(db) == [box_id]  # charged once: reconciled from the box, not resent
    with contextlib.closing(SqliteJournalStore(journal_path)) as store:
        done = store.get("renew:killed")
    assert done is not None
    assert done.state is State.DONE
    assert done.attempts == 2
