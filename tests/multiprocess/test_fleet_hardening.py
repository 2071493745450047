"""Issue 19 (money, availability) and issue 20 (a journal that costs one durable write).

Each test reproduces a way to pay twice, to lose a result or to stall a fleet, against the real
components: redis-server, Celery workers, the sandbox over HTTP, all on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import io
import os
import signal
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from pec_ext import (
    AppliedNotRecordedError,
    JournalUnavailableError,
    PecClient,
    RequestTimeoutError,
    ValidationError,
)
from pec_ext.integrations.ratelimit import MAX_PAUSE_SECONDS, FleetLimiter
from pec_ext.journal.base import EXPIRY_MARGIN_SECONDS, Journal, JournalStore, State
from pec_ext.journal.redis import RedisJournalStore
from pec_ext.journal.sqlite import SqliteJournalStore
from pec_ext.sandbox import Sandbox
from tests.support.celery_workers import pool_children, queue_is_drained, start_worker, wait_for_pools
from tests.support.dates import sandbox_on_day
from tests.support.fleet import (
    PDF,
    box_body,
    env,
    kill,
    ledger,
    provision,
    redis_server,
    sandbox_server,
    shutdown_redis,
)
from tests.support.redis_wire import RedisWire

RENEWAL = "GET /pec/{id}/rinnovo"
# Redis expires keys on its own (real) clock: entries of these tests live far in the future.
T0 = 4_000_000_000.0


def renewals(db: Path) -> list[str]:
    return [entry["ref"] for entry in ledger(db) if entry["operation"] == RENEWAL]


def evasa_box(sandbox: Sandbox, address: str = "uno@testcert.legalmail.it") -> str:
    with sandbox.client() as pec:
        box = pec.register_mailbox(**box_body(address))
        pec.activate_mailbox(box.id, [PDF, PDF])
    sandbox.advance()
    return str(box.id)


# -- 1. the fleet limiter never sends past a call's deadline, hence its lease -------------------


def test_a_limiter_wait_past_the_deadline_does_not_send_and_cannot_double_charge(
    tmp_path: Path, fresh_redis: str
) -> None:
    db = tmp_path / "sandbox.sqlite"
    (box_id,) = provision(db, 1)
    store_url = str(tmp_path / "journal.sqlite")
    # 0.2 req/s, burst 1: the pre-state read takes the token, the renewal would wait 5 s.
    limiter = FleetLimiter(redis.Redis.from_url(fresh_redis), account="acme", rate=0.2, burst=1)
    outcome: dict[str, Any] = {}

    def first_caller(url: str) -> None:
        journal = Journal(SqliteJournalStore(store_url), lease=3)
        hooks = httpx.Client(event_hooks=limiter.event_hooks())
        with PecClient(token="t", base_url=url, timeout=2, journal=journal, http_client=hooks) as pec:
            started = time.monotonic()
            try:
                pec.renew_mailbox(box_id, 1, idempotency_key="renew:limited")
            except Exception as exc:
                outcome["error"] = exc
            outcome["took"] = time.monotonic() - started

    with sandbox_server(db) as url:
        thread = threading.Thread(target=first_caller, args=(url,))
        thread.start()
        time.sleep(3.5)  # the first caller's lease (3 s) has run out
        journal = Journal(SqliteJournalStore(store_url), lease=3)
        with PecClient(token="t", base_url=url, timeout=2, journal=journal) as pec:
            pec.renew_mailbox(box_id, 1, idempotency_key="renew:limited")
        thread.join(30)
        time.sleep(0.5)
    assert renewals(db) == [box_id]  # one charge: the limited request never left
    assert isinstance(outcome["error"], RequestTimeoutError)
    assert "not sent" in str(outcome["error"])
    assert outcome["took"] < 2.5


def test_the_async_limiter_refuses_a_wait_past_the_deadline_before_sending(fresh_redis: str) -> None:
    sandbox = sandbox_on_day(balance=10_000)
    box_id = evasa_box(sandbox)
    limiter = FleetLimiter(redis.Redis.from_url(fresh_redis), account="acme", rate=0.2, burst=1)
    store = SqliteJournalStore(":memory:")

    async def renew() -> float:
        hooks = httpx.AsyncClient(transport=sandbox.transport(), event_hooks=limiter.async_event_hooks())
        async with sandbox.async_client(timeout=2, journal=Journal(store, lease=3), http_client=hooks) as pec:
            started = time.monotonic()
            with pytest.raises(RequestTimeoutError, match="not sent"):
                await pec.renew_mailbox(box_id, 1, idempotency_key="renew:async")
            return time.monotonic() - started

    assert asyncio.run(renew()) < 1.5
    assert not [e for e in sandbox.ledger if e["operation"] == RENEWAL]
    assert store.get("renew:async") is None  # released: nothing was sent


def test_a_journal_lease_shorter_than_the_clients_calls_is_refused_before_any_request() -> None:
    sandbox = sandbox_on_day(balance=10_000)
    box_id = evasa_box(sandbox)
    store = SqliteJournalStore(":memory:")
    with pytest.raises(ValidationError) as refused:
        sandbox.client(timeout=30, journal=Journal(store, lease=10)).renew_mailbox(
            box_id, 1, idempotency_key="renew:short"
        )
    assert refused.value.field == "journal"
    with pytest.raises(ValidationError):
        sandbox.client(timeout=None, journal=Journal(store, lease=600)).renew_mailbox(
            box_id, 1, idempotency_key="renew:none"
        )
    assert sandbox.ledger[-1]["operation"] != RENEWAL
    sandbox.client(timeout=5, journal=Journal(store, lease=10)).renew_mailbox(box_id, 1, idempotency_key="ok")


def test_celery_refuses_a_lease_shorter_than_its_timeout(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from pec_ext import config
    from pec_ext.integrations import celery as tasks

    monkeypatch.setenv("OPENAPI_PEC_TOKEN", "t")
    monkeypatch.setenv(config.JOURNAL_URL_ENV, str(tmp_path / "journal.sqlite"))
    monkeypatch.setenv(config.JOURNAL_LEASE_ENV, "3")
    monkeypatch.setenv(config.TIMEOUT_ENV, "30")
    with pytest.raises(ValidationError) as refused:
        tasks.default_client(tasks.default_journal())
    assert refused.value.field == config.JOURNAL_LEASE_ENV


# -- 2. an entry never expires before its lease ends -------------------------------------------


def test_a_takeover_keeps_the_entry_until_its_own_lease_ends(store: JournalStore) -> None:
    # lease 100 s, retention 150 s; a takeover at 120 s whose request takes 40 s
    store.claim("k", "fp", "renew_mailbox", "first", T0, T0 + 100, T0 + 150)
    taken = store.claim("k", "fp", "renew_mailbox", "second", T0 + 120, T0 + 220, T0 + 270)
    assert taken.owner == "second"
    assert taken.expires_at >= T0 + 220 + EXPIRY_MARGIN_SECONDS
    third = store.claim("k", "fp", "renew_mailbox", "third", T0 + 160, T0 + 260, T0 + 310)
    assert (third.owner, third.attempts) == ("second", 2)


def test_a_renewed_lease_moves_the_entrys_expiry(store: JournalStore) -> None:
    store.claim("k", "fp", "renew_mailbox", "me", T0, T0 + 100, T0 + 105)
    assert store.update("k", "me", State.SENDING, T0 + 200, '{"a":1}')
    entry = store.get("k")
    assert entry is not None
    assert entry.expires_at >= T0 + 200 + EXPIRY_MARGIN_SECONDS


# -- issue 20.2: the claim and the pre-state are one write; Redis: two round trips per call ----


def test_the_claim_records_the_prestate_and_sending_at_once(store: JournalStore) -> None:
    entry = store.claim("k", "fp", "renew_mailbox", "me", T0, T0 + 100, T0 + 200, '{"x":1}', State.SENDING)
    assert (entry.state, entry.prestate, entry.attempts) == (State.SENDING, {"x": 1}, 1)
    again = store.claim(
        "k", "fp", "renew_mailbox", "other", T0 + 101, T0 + 201, T0 + 301, '{"x":2}', State.SENDING
    )
    # taken over: the dead caller's pre-state is what reconciliation compares with
    assert (again.owner, again.state, again.prestate, again.attempts) == ("other", State.SENDING, {"x": 1}, 2)


def test_a_journaled_call_waits_for_one_answer_from_redis(fresh_redis: str) -> None:
    sandbox = sandbox_on_day(balance=10_000)
    box_id = evasa_box(sandbox)
    other_id = evasa_box(sandbox, "due@testcert.legalmail.it")
    wire = RedisWire()
    store = RedisJournalStore(redis.Redis(connection_pool=wire.pool(fresh_redis)))
    pec = sandbox.client(journal=Journal(store))
    pec.renew_mailbox(other_id, 1, idempotency_key="renew:warm")
    store.get("renew:warm")  # reads the warm-up's last answer
    wire.clear()
    pec.renew_mailbox(box_id, 1, idempotency_key="renew:counted")
    # the claim with the pre-state, waited for; done, sent and not waited for
    assert (wire.sent, wire.answers) == (["SET", "EVAL"], 1)
    seen = RedisJournalStore(redis.Redis.from_url(fresh_redis)).get("renew:counted")
    assert seen is not None
    assert seen.state is State.DONE  # another client sees done at once
    entry = store.get("renew:counted")  # done's answer is read first, then the GET's
    assert (wire.sent[2:], wire.answers) == (["GET"], 3)
    assert entry is not None
    assert entry.state is State.DONE


def test_sqlite_commits_the_outcome_without_waiting_for_the_disk(tmp_path: Path) -> None:
    """One durable commit per call: the ``done`` write is made at synchronous=NORMAL."""
    sandbox = sandbox_on_day(balance=10_000)
    box_id = evasa_box(sandbox)
    store = SqliteJournalStore(tmp_path / "journal.sqlite")
    seen: list[str] = []
    original = store._write

    def observed(sql: str, args: tuple[Any, ...], *, durable: bool = True) -> int:
        seen.append(("durable " if durable else "lazy ") + sql.split()[0])
        return original(sql, args, durable=durable)

    store._write = observed  # type: ignore[method-assign]
    sandbox.client(journal=Journal(store)).renew_mailbox(box_id, 1, idempotency_key="renew:fsync")
    # the claim (its own transaction) is the only durable write: the purge and `done` are lazy
    assert seen == ["lazy DELETE", "lazy UPDATE"]
    entry = store.get("renew:fsync")
    assert entry is not None
    assert entry.state is State.DONE


# -- 3. a redelivered Celery renewal after journal loss does not renew again ------------------


def test_a_renewal_task_redelivered_after_journal_loss_is_not_paid_again(
    tmp_path: Path, fresh_redis: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "sandbox.sqlite"
    (box_id,) = provision(db, 1)
    broker_url = fresh_redis[: -len("/0")] + "/1"
    redis.Redis.from_url(broker_url).flushdb()
    journal = redis.Redis.from_url(fresh_redis)
    with sandbox_server(db) as url:
        with PecClient(token="t", base_url=url) as pec:
            day, month, year = str(pec.get_mailbox(box_id).data_scadenza).split("/")
        expiry = f"{year}-{month}-{day}"
        environment = {
            **env(),
            "CHAOS_BROKER_URL": broker_url,
            "OPENAPI_PEC_TOKEN": "tasks-token",
            "OPENAPI_PEC_BASE_URL": url,
            "PEC_JOURNAL_URL": fresh_redis,
            "PEC_JOURNAL_LEASE": "5",
            "PEC_TIMEOUT": "3",
        }
        monkeypatch.setenv("CHAOS_BROKER_URL", broker_url)
        from tests.support.chaos_app import app

        worker = start_worker(0, environment)
        broker = redis.Redis.from_url(broker_url)
        try:
            wait_for_pools([worker])
            for attempt in range(2):
                app.send_task("pec.renew", args=[box_id, expiry])
                deadline = time.monotonic() + 60
                while not (renewals(db) and queue_is_drained(broker)):
                    assert time.monotonic() < deadline, "the renewal task did not run"
                    time.sleep(0.1)
                time.sleep(1.0)  # a second charge would be in the ledger by now
                if attempt == 0:
                    journal.flushdb()  # Redis restarted without persistence: the journal is gone
        finally:
            for child in pool_children(worker):
                os.kill(child, signal.SIGKILL)
            kill(worker)
    assert renewals(db) == [box_id]


# -- 4. the store dies after the paid call: a typed error that says it was applied ------------


def test_a_store_lost_after_the_call_raises_applied_not_recorded(tmp_path: Path) -> None:
    sandbox = sandbox_on_day(balance=10_000)
    box_id = evasa_box(sandbox)
    with redis_server(tmp_path) as url:
        client = redis.Redis.from_url(url, socket_timeout=2)

        def stop_redis(response: httpx.Response) -> None:
            if response.request.url.path.endswith("/rinnovo"):
                shutdown_redis(url, client)

        http = httpx.Client(transport=sandbox.transport(), event_hooks={"response": [stop_redis]})
        pec = sandbox.client(http_client=http, journal=Journal(RedisJournalStore(client)))
        with pytest.raises(AppliedNotRecordedError) as lost:
            pec.renew_mailbox(box_id, 1, idempotency_key="renew:lost")
    assert isinstance(lost.value.cause, redis.ConnectionError)
    assert lost.value.result.id == box_id
    assert lost.value.result.data_scadenza == sandbox.client().get_mailbox(box_id).data_scadenza
    assert "applied" in str(lost.value)
    assert sum(1 for e in sandbox.ledger if e["operation"] == RENEWAL) == 1


def test_a_locked_sqlite_store_after_the_call_raises_applied_not_recorded(tmp_path: Path) -> None:
    sandbox = sandbox_on_day(balance=10_000)
    box_id = evasa_box(sandbox)
    path = tmp_path / "journal.sqlite"
    store = SqliteJournalStore(path, busy_timeout=0.2)
    blocker = sqlite3.connect(path, isolation_level=None)

    def lock_store(response: httpx.Response) -> None:
        if response.request.url.path.endswith("/rinnovo"):
            blocker.execute("BEGIN EXCLUSIVE")

    http = httpx.Client(transport=sandbox.transport(), event_hooks={"response": [lock_store]})
    pec = sandbox.client(http_client=http, journal=Journal(store))
    with pytest.raises(AppliedNotRecordedError) as lost:
        pec.renew_mailbox(box_id, 1, idempotency_key="renew:locked")
    blocker.execute("ROLLBACK")
    assert isinstance(lost.value.cause, sqlite3.OperationalError)
    assert lost.value.result.id == box_id
    # The store back, past the lost call's lease, the same key reconciles from the box.
    later = Journal(store, clock=lambda: time.time() + 400)
    again = sandbox.client(journal=later).renew_mailbox(box_id, 1, idempotency_key="renew:locked")
    assert again.data_scadenza == lost.value.result.data_scadenza
    assert sum(1 for e in sandbox.ledger if e["operation"] == RENEWAL) == 1


def test_a_store_down_before_the_call_raises_a_typed_error_and_sends_nothing(tmp_path: Path) -> None:
    sandbox = sandbox_on_day(balance=10_000)
    box_id = evasa_box(sandbox)
    with redis_server(tmp_path) as url:
        client = redis.Redis.from_url(url, socket_timeout=2)
        store = RedisJournalStore(client)
        shutdown_redis(url)
        with pytest.raises(JournalUnavailableError, match="nothing was sent") as down:
            sandbox.client(journal=Journal(store)).renew_mailbox(box_id, 1, idempotency_key="renew:down")
    assert not isinstance(down.value, AppliedNotRecordedError)
    assert not [e for e in sandbox.ledger if e["operation"] == RENEWAL]


# -- 5. file-like documents are fingerprinted by their content -------------------------------


def test_file_like_documents_are_fingerprinted_by_content(store: JournalStore) -> None:
    sandbox = sandbox_on_day(balance=10_000)
    other = PDF.replace(b"Documento", b"Documentx") if b"Documento" in PDF else PDF + b"\n%x\n"
    with sandbox.client() as pec:
        box = pec.register_mailbox(**box_body("file@testcert.legalmail.it"))
    journaled = sandbox.client(journal=Journal(store))
    journaled.activate_mailbox(box.id, [io.BytesIO(PDF), io.BytesIO(PDF)], idempotency_key="activate:1")
    with pytest.raises(ValidationError, match="different activate_mailbox"):
        journaled.activate_mailbox(box.id, [io.BytesIO(other), io.BytesIO(PDF)], idempotency_key="activate:1")
    # the same content again is the same request: the recorded result
    journaled.activate_mailbox(box.id, [io.BytesIO(PDF), io.BytesIO(PDF)], idempotency_key="activate:1")


# -- 6. a huge Retry-After pauses the fleet at most as long as the client would wait ----------


def test_a_day_long_retry_after_pauses_the_fleet_for_at_most_a_minute(fresh_redis: str) -> None:
    limiter = FleetLimiter(redis.Redis.from_url(fresh_redis), account="acme", rate=100, burst=10)

    def day_long(request: httpx.Request) -> httpx.Response:
        return httpx.Response(429, headers={"Retry-After": "86400"}, json={"success": False, "data": None})

    hooks = limiter.event_hooks()
    with httpx.Client(transport=httpx.MockTransport(day_long), event_hooks=hooks) as worker:
        assert worker.get("http://127.0.0.1:9/verifica_pec/x").status_code == 429
    assert 0 < limiter.paused_for() <= MAX_PAUSE_SECONDS
    # Another worker's call with a 2 s deadline does not wait out the pause: it is not sent.
    api = httpx.Client(transport=httpx.MockTransport(day_long), event_hooks=limiter.event_hooks())
    started = time.monotonic()
    pec = PecClient(token="t", base_url="http://127.0.0.1:9", timeout=2, http_client=api)
    with pytest.raises(RequestTimeoutError, match="not sent"):
        pec.is_available("a@testcert.legalmail.it")
    assert time.monotonic() - started < 1.0
