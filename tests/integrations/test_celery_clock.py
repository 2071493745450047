"""The Celery tasks take the day from their client's clock, not from the machine's."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from celery import Celery

from pec_ext.integrations import celery as pec_celery
from pec_ext.journal import Journal, open_store
from pec_ext.sandbox import ManualClock, Sandbox, record_only
from tests.support.dates import DAY, at, travel
from tests.support.fleet import PDF, box_body

pytestmark = pytest.mark.dates


@pytest.fixture
def eager() -> Iterator[Celery]:
    """Tasks run in this process as they are sent (``delay`` included): no broker, no worker."""
    app = Celery("pec-dates", set_as_current=True)
    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield app
    pec_celery.configure(client=pec_celery.default_client, journal=pec_celery.default_journal)
    app.close()


def _active_box(sb: Sandbox, address: str, on: dt.date) -> None:
    sb.clock.set(at(on))
    with sb.client() as pec:
        box = pec.register_mailbox(**box_body(address))
        pec.activate_mailbox(str(box.id), [PDF, PDF])
    sb.advance()


def test_renew_expiring_selects_by_the_clients_day(eager: Celery, tmp_path: Path) -> None:
    sb = Sandbox(balance=1000.0, clock=ManualClock(at(DAY)), callback_sender=record_only)
    with sb:
        # a year from activation: about 20 days after DAY, and about 200
        _active_box(sb, "soon@testcert.legalmail.it", DAY - dt.timedelta(days=345))
        _active_box(sb, "later@testcert.legalmail.it", DAY - dt.timedelta(days=165))
        sb.clock.set(at(DAY))
        with sb.client() as pec:
            expiries = {b.casella_pec: b.data_scadenza for b in pec.list_mailboxes()}

        pec_celery.configure(
            client=lambda journal: sb.client(journal=journal),
            journal=lambda: Journal(open_store(str(tmp_path / "journal.sqlite"))),
        )
        # the machine's clock two years on, where both boxes would look expired
        with travel(at(DAY + dt.timedelta(days=730))):
            planned = pec_celery.renew_expiring.delay(30).get()
        assert planned == 1
        with sb.client() as pec:
            renewed = {b.casella_pec: b.data_scadenza for b in pec.list_mailboxes()}
        assert renewed["soon@testcert.legalmail.it"] != expiries["soon@testcert.legalmail.it"]
        assert renewed["later@testcert.legalmail.it"] == expiries["later@testcert.legalmail.it"]
