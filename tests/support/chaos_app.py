"""The Celery app of the chaos test: pec_ext's tasks, late acknowledgement, a Redis broker."""

from __future__ import annotations

import os

from celery import Celery

import pec_ext.integrations.celery  # noqa: F401  - registers the pec.* tasks on this app

app = Celery("chaos", broker=os.environ["CHAOS_BROKER_URL"])
app.conf.update(
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_default_queue="pec",
    # A killed worker's reserved messages come back after this many seconds.
    broker_transport_options={"visibility_timeout": 5},
    worker_hijack_root_logger=False,
    broker_connection_retry_on_startup=True,
)
