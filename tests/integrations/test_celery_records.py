"""A Celery task returns (and is acknowledged) only once its journal record is written."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from celery import Celery

from pec_ext.integrations import celery as pec_celery
from pec_ext.journal import Journal, State
from pec_ext.journal.sqlite import SqliteJournalStore
from pec_ext.sandbox import ManualClock, Sandbox, record_only
from tests.support.dates import EPOCH
from tests.support.fleet import box_body


@pytest.fixture
def eager() -> Iterator[Celery]:
    """Tasks run in this process as they are sent: what the task body does is what is tested."""
    app = Celery("pec-records", set_as_current=True)
    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield app
    pec_celery.configure(client=pec_celery.default_client, journal=pec_celery.default_journal)
    app.close()


def slow_records(store: SqliteJournalStore, seconds: float) -> None:
    original = store.update

    def slow_update(*args: Any, **kwargs: Any) -> bool:
        threading.Event().wait(seconds)
        return original(*args, **kwargs)

    store.update = slow_update  # type: ignore[method-assign]


def test_a_task_returns_after_its_done_record(eager: Celery, tmp_path: Path) -> None:
    sandbox = Sandbox(balance=1000.0, clock=ManualClock(EPOCH), callback_sender=record_only)
    address = "registered.task@testcert.legalmail.it"
    store = SqliteJournalStore(tmp_path / "journal.sqlite")
    slow_records(store, 0.3)  # written behind the call, it would still be pending on return
    pec_celery.configure(
        client=lambda journal: sandbox.client(journal=journal), journal=lambda: Journal(store)
    )
    result = pec_celery.register.delay(box_body(address)).get()
    entry = store.get(f"register:{address}")
    assert entry is not None
    assert entry.state is State.DONE
    assert entry.result["id"] == result["id"]
