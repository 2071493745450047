"""A task that finds its key leased is retried at the lease's end (plus the margin), and pays once.

The countdown itself is checked on a fixed clock; the real worker's retry, on real time (the
lease is shared through SQLite with another process, on the machine's clock).
"""

from __future__ import annotations

import collections
import datetime as dt
import json
import os
import signal
import time
from pathlib import Path

import pytest
import redis

from pec_ext import PecClient
from pec_ext._pec.intents import renewal_key
from pec_ext.errors import PecError
from pec_ext.integrations.celery import retry_countdown
from pec_ext.journal import Journal, SqliteJournalStore, State
from pec_ext.journal.base import LEASE_MARGIN_SECONDS
from tests.support.celery_workers import (
    LEASE_APP_RUNS,
    pool_children,
    queue_is_drained,
    start_worker,
    wait_for_pools,
)
from tests.support.dates import EPOCH, sandbox_clock
from tests.support.fleet import env, kill, ledger, provision, sandbox_server, slow_proxy

LEASE = 6.0
TIMEOUT = 2.0
# Between the worker reading the journal's clock and Celery stamping the retry's ETA.
STAMPING = 0.5


@pytest.mark.parametrize("left", [0.001, 1.0, 59.0, 61.0, 3600.0])
def test_a_busy_key_is_retried_at_the_end_of_its_lease_plus_the_margin(left: float) -> None:
    clock = sandbox_clock()
    lease_until = EPOCH + left
    countdown = retry_countdown(lease_until, clock.now())
    assert lease_until <= clock.now() + countdown <= lease_until + LEASE_MARGIN_SECONDS


def test_a_lease_already_over_is_retried_within_the_margin_or_at_once() -> None:
    clock = sandbox_clock()
    assert retry_countdown(EPOCH - 0.25, clock.now()) == pytest.approx(LEASE_MARGIN_SECONDS - 0.25)
    clock.advance(3600)
    assert retry_countdown(EPOCH, clock.now()) == 0.0


def _runs(broker: redis.Redis) -> list[dict[str, object]]:
    return [json.loads(run) for run in broker.lrange(LEASE_APP_RUNS, 0, -1)]


def test_a_real_worker_retries_after_the_lease_and_the_renewal_is_charged_once(
    tmp_path: Path, fresh_redis: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "sandbox.sqlite"
    journal_path = str(tmp_path / "journal.sqlite")
    (box_id,) = provision(db, 1)
    broker_url = fresh_redis[: -len("/0")] + "/1"
    broker = redis.Redis.from_url(broker_url)
    broker.flushdb()
    # The holder's paid call reaches the sandbox at once, and its answer is held past its timeout.
    with sandbox_server(db) as url, slow_proxy(url, hold=30) as proxy:
        with PecClient(token="t", base_url=url) as pec:
            expiry = dt.datetime.strptime(str(pec.get_mailbox(box_id).data_scadenza), "%d/%m/%Y").date()
        key = renewal_key(box_id, expiry)
        environment = {
            **env(),
            "CHAOS_BROKER_URL": broker_url,
            "OPENAPI_PEC_TOKEN": "lease-token",
            "OPENAPI_PEC_BASE_URL": url,
            "PEC_JOURNAL_URL": journal_path,
            "PEC_JOURNAL_LEASE": f"{LEASE:g}",
            "PEC_TIMEOUT": f"{TIMEOUT:g}",
        }
        monkeypatch.setenv("CHAOS_BROKER_URL", broker_url)
        from tests.support.chaos_app import app

        worker = start_worker(0, environment, app="tests.support.lease_app")
        try:
            wait_for_pools([worker])
            # Another worker's renewal: charged, its outcome unknown, so it keeps its lease.
            holder = Journal(SqliteJournalStore(journal_path), lease=LEASE)
            with (
                PecClient(token="t", base_url=proxy, timeout=TIMEOUT, journal=holder) as pec,
                pytest.raises(PecError),
            ):
                pec.renew_mailbox(box_id, 1, idempotency_key=key)
            held = holder.store.get(key)
            assert held is not None
            assert held.state is State.UNCERTAIN
            assert held.lease_until > time.time() + 1  # the task will find the key leased

            app.send_task("pec.renew", args=[box_id, expiry.isoformat()])
            deadline = time.monotonic() + LEASE + 30
            while True:
                entry = holder.store.get(key)
                if entry is not None and entry.state is State.DONE and queue_is_drained(broker):
                    break
                assert time.monotonic() < deadline, f"the task did not complete: {entry}, {_runs(broker)}"
                time.sleep(0.1)
            time.sleep(1.0)  # a duplicate would have run by now
        finally:
            for child in pool_children(worker):
                os.kill(child, signal.SIGKILL)
            kill(worker)

    first, retried, *others = _runs(broker)
    assert others == []
    assert (first["retries"], first["eta"]) == (0, None)
    assert retried["retries"] == 1
    eta = dt.datetime.fromisoformat(str(retried["eta"])).timestamp()
    assert held.lease_until <= eta <= held.lease_until + LEASE_MARGIN_SECONDS + STAMPING
    assert float(str(retried["started"])) >= held.lease_until
    renewals = collections.Counter(e["ref"] for e in ledger(db) if e["operation"] == "GET /pec/{id}/rinnovo")
    assert renewals == {box_id: 1}  # reconciled from the box after the lease, not renewed again
