"""The chaos app with a journal that does not wait for a busy key, for the lease countdown test.

A task that finds its key leased raises at once and is retried by Celery after the lease; each run
of a task is recorded in the broker's Redis (``LEASE_APP_RUNS``) with its retry count and its ETA.
"""

from __future__ import annotations

import json
import time
from typing import Any

import redis
from celery.signals import task_prerun

from pec_ext import config
from pec_ext.integrations import celery as pec_celery
from pec_ext.journal import Journal, open_store
from tests.support.celery_workers import LEASE_APP_RUNS
from tests.support.chaos_app import app


def _journal() -> Journal:
    settings = config.worker_settings()
    assert settings.journal_lease is not None
    return Journal(open_store(settings.journal_url), lease=settings.journal_lease, wait=0.0)


pec_celery.configure(journal=_journal)


@task_prerun.connect
def _record_run(task: Any, **_: Any) -> None:
    run = {"retries": task.request.retries, "eta": task.request.eta, "started": time.time()}
    redis.Redis.from_url(app.conf.broker_url).rpush(LEASE_APP_RUNS, json.dumps(run))
