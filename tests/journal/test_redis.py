"""The Redis store's outcome written without waiting: sent at once, its answer read at the next call."""

from __future__ import annotations

import logging
import multiprocessing
from typing import Any

import pytest
import redis

from pec_ext.journal.base import State
from pec_ext.journal.redis import RedisJournalStore

T0 = 1_800_000_000.0
DONE = '{"id":"box"}'


def claimed(store: RedisJournalStore, owner: str = "me", now: float = T0) -> None:
    entry = store.claim("k", "fp", "renew_mailbox", owner, now, now + 100, now + 1000, "{}", State.SENDING)
    assert entry.owner == owner


def test_an_outcome_refused_to_a_caller_whose_lease_was_taken_is_logged_when_read(
    fresh_redis: str, caplog: pytest.LogCaptureFixture
) -> None:
    store = RedisJournalStore.from_url(fresh_redis)
    claimed(store)
    claimed(RedisJournalStore.from_url(fresh_redis), "other", T0 + 101)  # the lease ran out: taken over
    assert store.update("k", "me", State.DONE, 0.0, None, DONE, durable=False)  # sent, not yet answered
    with caplog.at_level(logging.WARNING, "pec_ext.journal.redis"):
        entry = store.get("k")
    assert entry is not None
    assert (entry.owner, entry.state, entry.result) == ("other", State.SENDING, None)
    assert "k: the outcome was not recorded" in caplog.text
    assert "another caller holds the key" in caplog.text


def test_an_outcome_redis_never_answered_is_logged_and_left_to_reconciliation(
    fresh_redis: str, caplog: pytest.LogCaptureFixture
) -> None:
    store = RedisJournalStore.from_url(fresh_redis)
    admin = redis.Redis.from_url(fresh_redis)
    claimed(store)
    admin.client_pause(10_000, all=False)  # writes wait: done is held, unanswered
    try:
        assert store.update("k", "me", State.DONE, 0.0, None, DONE, durable=False)
        assert admin.client_kill_filter(_type="normal", skipme=True) >= 1  # its connection drops
    finally:
        admin.client_unpause()
    with caplog.at_level(logging.WARNING, "pec_ext.journal.redis"):
        entry = store.get("k")
    assert entry is not None
    # done never ran: the entry stays sending, which the next caller reconciles from the state
    assert (entry.owner, entry.state) == ("me", State.SENDING)
    assert "k: Redis did not confirm the outcome's record (ConnectionError" in caplog.text


class FirstConnectionFails(redis.ConnectionPool):
    failures = 1

    def get_connection(self, *args: Any, **kwargs: Any) -> Any:
        if self.failures:
            self.failures -= 1
            raise redis.ConnectionError("no connection this once")
        return super().get_connection(*args, **kwargs)


def test_an_outcome_that_cannot_be_sent_at_once_is_written_and_waited_for(fresh_redis: str) -> None:
    pool = FirstConnectionFails.from_url(fresh_redis)
    store = RedisJournalStore(redis.Redis(connection_pool=pool))
    pool.failures = 0
    claimed(store)
    pool.failures = 1
    # the unanswered send fails to get a connection: the client's own call, with its retries, writes it
    assert store.update("k", "me", State.DONE, 0.0, None, DONE, durable=False)
    entry = RedisJournalStore.from_url(fresh_redis).get("k")
    assert entry is not None
    assert (entry.state, entry.result) == (State.DONE, {"id": "box"})


def _child_reads(store: RedisJournalStore, results: Any) -> None:
    entry = store.get("k")
    results.put(None if entry is None else entry.state.value)


def test_a_forked_child_leaves_the_answer_to_its_parent(
    fresh_redis: str, caplog: pytest.LogCaptureFixture
) -> None:
    store = RedisJournalStore.from_url(fresh_redis)
    claimed(store)
    assert store.update("k", "me", State.DONE, 0.0, None, DONE, durable=False)
    fork = multiprocessing.get_context("fork")
    results = fork.Queue()
    child = fork.Process(target=_child_reads, args=(store, results))
    child.start()
    assert results.get(timeout=30) == "done"
    child.join(30)
    assert child.exitcode == 0
    with caplog.at_level(logging.WARNING, "pec_ext.journal.redis"):
        entry = store.get("k")  # the parent reads its own answer, untouched by the child
    assert entry is not None
    assert entry.state is State.DONE
    assert caplog.text == ""
