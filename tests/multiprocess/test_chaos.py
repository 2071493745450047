"""Chaos: 3 Celery workers with late acknowledgement, a real Redis, the sandbox over HTTP.

500 paid tasks (200 registrations, 200 renewals, 100 space additions) while a random worker
process is killed with kill -9 ten times. Killed tasks are delivered again (to any worker); the
journal must make every paid effect happen exactly once: none lost, none twice.
"""

from __future__ import annotations

import collections
import os
import random
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from pec_ext import PecClient
from pec_ext.journal.base import State
from pec_ext.journal.redis import RedisJournalStore
from tests.support.celery_workers import pool_children, queue_is_drained, start_worker, wait_for_pools
from tests.support.fleet import balance, box_body, env, kill, ledger, provision, sandbox_server, slow_proxy

WORKERS = 3
KILLS = 10
REGISTRATIONS, RENEWALS, SPACE_CHANGES = 200, 200, 100
RUN_TIMEOUT = 150.0
PRICES = {"POST /pec": 5.00, "GET /pec/{id}/rinnovo": 5.00, "PATCH /pec/{id}/modifica": 2.00}


def victim(store: Any, children: list[int], rng: random.Random) -> int:
    """Preferably a process in the middle of a paid call: its journal entry says ``sending``."""
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:
        entries = store.entries()
        sending = [int(entry.owner.split(":")[1]) for entry in entries if entry.state is State.SENDING]
        busy = [pid for pid in sending if pid in children]
        if busy:
            return rng.choice(busy)
        time.sleep(0.01)
    return rng.choice(children)


def test_every_paid_effect_exactly_once_while_workers_are_killed(
    tmp_path: Path, fresh_redis: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import redis

    db = tmp_path / "sandbox.sqlite"
    boxes = provision(db, RENEWALS + SPACE_CHANGES)
    to_renew, to_grow = boxes[:RENEWALS], boxes[RENEWALS:]
    initial = balance(db)
    charged_before = len(ledger(db))
    broker_url = fresh_redis[: -len("/0")] + "/1"
    redis.Redis.from_url(broker_url).flushdb()

    # The proxy answers each paid call 50 ms after the sandbox applied it: a worker killed then
    # has paid, and its task is delivered again.
    with sandbox_server(db) as url, slow_proxy(url, hold=0.05) as proxy:
        environment = {
            **env(),
            "CHAOS_BROKER_URL": broker_url,
            "OPENAPI_PEC_TOKEN": "chaos-token",
            "OPENAPI_PEC_BASE_URL": proxy,
            "PEC_JOURNAL_URL": fresh_redis,
            "PEC_JOURNAL_LEASE": "3",
            "PEC_TIMEOUT": "2",  # the lease outlasts any call
        }
        monkeypatch.setenv("CHAOS_BROKER_URL", broker_url)
        from tests.support.chaos_app import app

        workers = [start_worker(i, environment) for i in range(WORKERS)]
        try:
            wait_for_pools(workers)
            deadline = time.monotonic() + 60
            while len(app.control.ping(timeout=0.5)) < WORKERS:
                assert time.monotonic() < deadline, "the Celery workers do not answer"
            expiries = {}
            with PecClient(token="t", base_url=url) as pec:
                for box_id in to_renew:
                    day, month, year = str(pec.get_mailbox(box_id).data_scadenza).split("/")
                    expiries[box_id] = f"{year}-{month}-{day}"
            jobs: list[tuple[str, list[Any], dict[str, Any]]] = [
                ("pec.register", [box_body(f"new{i}@testcert.legalmail.it")], {})
                for i in range(REGISTRATIONS)
            ]
            jobs += [("pec.renew", [box_id, expiries[box_id]], {}) for box_id in to_renew]
            jobs += [("pec.add_space", [box_id, f"order-{box_id}"], {"disco": 1024}) for box_id in to_grow]
            random.Random(14).shuffle(jobs)
            for name, args, kwargs in jobs:
                app.send_task(name, args=args, kwargs=kwargs)

            broker = redis.Redis.from_url(broker_url)
            journal = RedisJournalStore.from_url(fresh_redis)
            started = time.monotonic()
            rng = random.Random(9)
            kills = 0
            expected = charged_before + REGISTRATIONS + RENEWALS + SPACE_CHANGES
            while len(ledger(db)) < expected or not queue_is_drained(broker):
                elapsed = time.monotonic() - started
                assert elapsed < RUN_TIMEOUT, f"not done after {RUN_TIMEOUT}s: {len(ledger(db))}/{expected}"
                children = [pid for w in workers for pid in pool_children(w)]
                if kills < KILLS and len(ledger(db)) < expected and children:
                    os.kill(victim(journal, children, rng), signal.SIGKILL)
                    kills += 1
                time.sleep(rng.uniform(0.1, 0.4))
            assert kills == KILLS, f"the run ended after {kills} kills; make it longer"
            time.sleep(1.0)  # anything still to be (wrongly) sent would show by now
        finally:
            for worker in workers:
                for child in pool_children(worker):
                    os.kill(child, signal.SIGKILL)
                kill(worker)

        entries = journal.entries()
    assert {e.state for e in entries} == {State.DONE}
    # The kills hit calls in flight: their tasks came back and took the key over after the lease.
    assert sum(1 for e in entries if e.attempts > 1) >= KILLS // 2
    charges = ledger(db)[charged_before:]
    by_operation = collections.Counter(entry["operation"] for entry in charges)
    assert by_operation == {
        "POST /pec": REGISTRATIONS,
        "GET /pec/{id}/rinnovo": RENEWALS,
        "PATCH /pec/{id}/modifica": SPACE_CHANGES,
    }
    renewed = collections.Counter(e["ref"] for e in charges if e["operation"] == "GET /pec/{id}/rinnovo")
    assert renewed == dict.fromkeys(to_renew, 1)
    grown = collections.Counter(e["ref"] for e in charges if e["operation"] == "PATCH /pec/{id}/modifica")
    assert grown == dict.fromkeys(to_grow, 1)
    registered = {e["ref"] for e in charges if e["operation"] == "POST /pec"}
    assert len(registered) == REGISTRATIONS
    expected_total = sum(PRICES[op] * count for op, count in by_operation.items())
    assert balance(db) == pytest.approx(initial - expected_total)
    assert expected_total == REGISTRATIONS * 5.00 + RENEWALS * 5.00 + SPACE_CHANGES * 2.00
