"""Fault injection for issue 19: a journal store lost after a paid answer, a fleet limiter that would
wait past a call's deadline, a day-long ``Retry-After``, and a flood of forged callbacks.

Sync and async (the ``mode`` parameter), against the real Sandbox behind the fault server; the
fleet limiter against a real ``redis-server`` on 127.0.0.1 (started here, stopped by its PID).
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from pec_ext import AppliedNotRecordedError, RateLimitError, RequestTimeoutError
from pec_ext.callbacks.events import TOKEN_FIELD, sign_callback
from pec_ext.callbacks.receiver import CallbackReceiver
from pec_ext.callbacks.store import MemoryTransitionStore
from pec_ext.journal.base import Journal
from pec_ext.journal.sqlite import SqliteJournalStore
from pec_ext.sandbox import record_only
from tests.faults.test_faults import BOX, evasa_box
from tests.support.dates import sandbox_on_day
from tests.support.fault_server import Action, FaultServer
from tests.support.fault_stats import add, record
from tests.support.faults import TOKEN, Driver, box_body
from tests.support.fleet import redis_server

RENEWAL = BOX + "/rinnovo"


def renewal_charges(server: FaultServer, box_id: str) -> int:
    return sum(1 for e in server.sandbox.ledger if "rinnovo" in e["operation"] and e.get("ref") == box_id)


def hooked(mode: str, hook: Any) -> httpx.Client | httpx.AsyncClient:
    """An HTTP client of the mode whose response hook is ``hook`` (run in a thread when async)."""
    if mode == "sync":
        return httpx.Client(event_hooks={"response": [hook]})

    async def async_hook(response: httpx.Response) -> None:
        await asyncio.to_thread(hook, response)

    return httpx.AsyncClient(event_hooks={"response": [async_hook]})


def test_journal_store_lost_after_a_paid_answer(server: FaultServer, mode: str, tmp_path: Path) -> None:
    """The renewal was applied; the store fails before ``done``: a typed error carrying the result,
    and the same key later reconciles from the box instead of paying again."""
    box_id = evasa_box(server, f"storelost.{mode}@testcert.legalmail.it")
    path = tmp_path / "journal.sqlite"
    store = SqliteJournalStore(path, busy_timeout=0.2)
    blocker = sqlite3.connect(path, isolation_level=None, check_same_thread=False)

    def lock_store(response: httpx.Response) -> None:
        if response.request.url.path.endswith("/rinnovo"):
            blocker.execute("BEGIN EXCLUSIVE")

    api = Driver(mode, server.url, journal=Journal(store), http_client=hooked(mode, lock_store))
    lost = api.call("renew_mailbox", box_id, 1, idempotency_key="renew:storelost")
    blocker.execute("ROLLBACK")
    assert isinstance(lost, AppliedNotRecordedError), lost
    assert lost.result.id == box_id
    later = Journal(store, clock=lambda: time.time() + 600)  # past the lost call's lease
    again = Driver(mode, server.url, journal=later).call(
        "renew_mailbox", box_id, 1, idempotency_key="renew:storelost"
    )
    assert not isinstance(again, Exception), again
    assert again.data_scadenza == lost.result.data_scadenza
    charges = renewal_charges(server, box_id)
    add("double_charges", max(0, charges - 1))
    add("paid_resends", server.count("GET", RENEWAL) - 1)
    assert charges == 1
    assert server.count("GET", RENEWAL) == 1
    record(
        "journal store lost after a paid answer",
        calls=2,
        faults=1,
        survived=2,
        typed_errors=1,
        outcome="AppliedNotRecordedError with the result, the same key reconciled, charged once",
    )


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


def limiter_hooks(mode: str, limiter: Any) -> httpx.Client | httpx.AsyncClient:
    if mode == "sync":
        return httpx.Client(event_hooks=limiter.event_hooks())
    return httpx.AsyncClient(event_hooks=limiter.async_event_hooks())


def test_rate_limit_wait_past_the_deadline_sends_nothing(
    server: FaultServer, mode: str, redis_url: str
) -> None:
    import redis

    from pec_ext.integrations.ratelimit import FleetLimiter

    box_id = evasa_box(server, f"limited.{mode}@testcert.legalmail.it")
    limiter = FleetLimiter(redis.Redis.from_url(redis_url), account=f"slow-{mode}", rate=0.2, burst=1)
    limiter.acquire()  # another worker took the only token: the next waits 5 s
    began = time.monotonic()
    outcome = Driver(mode, server.url, timeout=1, http_client=limiter_hooks(mode, limiter)).call(
        "renew_mailbox", box_id, 1
    )
    assert isinstance(outcome, RequestTimeoutError), outcome
    assert "not sent" in str(outcome)
    assert time.monotonic() - began < 1.0
    assert server.count("GET", RENEWAL) == 0
    assert renewal_charges(server, box_id) == 0
    record(
        "fleet limiter would wait past a paid call's deadline",
        calls=1,
        faults=1,
        survived=1,
        typed_errors=1,
        outcome="RequestTimeoutError before sending, nothing charged",
    )


def test_a_day_long_retry_after_pauses_the_fleet_for_a_minute_at_most(
    server: FaultServer, mode: str, redis_url: str
) -> None:
    import redis

    from pec_ext.integrations.ratelimit import MAX_PAUSE_SECONDS, FleetLimiter

    box_id = evasa_box(server, f"dayl.{mode}@testcert.legalmail.it")
    limiter = FleetLimiter(redis.Redis.from_url(redis_url), account=f"day-{mode}", rate=100, burst=10)
    server.script("GET", RENEWAL, Action("respond", status=429, headers=(("retry-after", "86400"),)))
    first = Driver(mode, server.url, timeout=2, http_client=limiter_hooks(mode, limiter)).call(
        "renew_mailbox", box_id, 1
    )
    assert isinstance(first, RateLimitError), first
    assert 0 < limiter.paused_for() <= MAX_PAUSE_SECONDS
    began = time.monotonic()
    second = Driver(mode, server.url, timeout=1, http_client=limiter_hooks(mode, limiter)).call(
        "get_mailbox", box_id
    )
    assert isinstance(second, RequestTimeoutError), second
    assert time.monotonic() - began < 1.0
    assert renewal_charges(server, box_id) == 0
    record(
        "429 with Retry-After: 86400 behind the fleet limiter",
        calls=2,
        faults=1,
        survived=2,
        typed_errors=2,
        outcome="RateLimitError, the shared pause capped at 60 s, no wait past a deadline",
    )


def test_a_flood_of_forged_callbacks(caplog: pytest.LogCaptureFixture) -> None:
    secret = "fault-callback-secret-0123456789"
    with sandbox_on_day(balance=500.0, callback_sender=record_only) as sb:
        with sb.client(token=TOKEN) as pec:
            callback = sign_callback(secret, {"url": "https://hooks.example/pec", "method": "JSON"})
            box = pec.register_mailbox(**box_body("flood@testcert.legalmail.it"), callback=callback)
            payload = pec.get_mailbox(box.id).to_dict()  # the record, as a delivery would post it
        forged = json.loads(json.dumps(payload))
        forged["callback"]["data"][TOKEN_FIELD] = "v1.nonce.forged"
        receiver = CallbackReceiver(secret, sb.client(token=TOKEN), store=MemoryTransitionStore())
        deliveries = 500
        with caplog.at_level(logging.WARNING, logger="pec_ext"):
            statuses = {
                receiver.handle(json.dumps(forged).encode(), "application/json").status_code
                for _ in range(deliveries)
            }
    assert box.id == payload["id"]
    assert statuses == {403}
    assert len(caplog.records) <= 10
    record(
        "a flood of forged callbacks",
        calls=deliveries,
        faults=deliveries,
        survived=deliveries,
        outcome=f"403 each; {len(caplog.records)} warnings logged for {deliveries} deliveries",
    )
