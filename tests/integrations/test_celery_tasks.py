"""The fan-out tasks on a real Celery worker: a file of applicants, the boxes expiring soon.

Each fan-out is sent twice (a planner that ran twice): the journal's business keys make the
second plan's tasks find the first's records, so each box is paid for once.
"""

from __future__ import annotations

import collections
import csv
import datetime as dt
import os
import signal
import time
from pathlib import Path

import pytest
import redis

from pec_ext import PecClient
from tests.support.celery_workers import pool_children, queue_is_drained, start_worker, wait_for_pools
from tests.support.fleet import box_body, env, kill, ledger, provision, sandbox_server

APPLICANTS = 3


def test_register_file_and_renew_expiring_pay_once_when_planned_twice(
    tmp_path: Path, fresh_redis: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "sandbox.sqlite"
    boxes = provision(db, 3)
    applicants = tmp_path / "applicants.csv"
    rows = [box_body(f"file{i}@testcert.legalmail.it") for i in range(APPLICANTS)]
    with applicants.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.DictWriter(stream, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    broker_url = fresh_redis[: -len("/0")] + "/1"
    redis.Redis.from_url(broker_url).flushdb()

    with sandbox_server(db) as url:
        with PecClient(token="t", base_url=url) as pec:
            expiry = dt.datetime.strptime(str(pec.get_mailbox(boxes[0]).data_scadenza), "%d/%m/%Y").date()
        environment = {
            **env(),
            "CHAOS_BROKER_URL": broker_url,
            "OPENAPI_PEC_TOKEN": "tasks-token",
            "OPENAPI_PEC_BASE_URL": url,
            "PEC_JOURNAL_URL": str(tmp_path / "journal.sqlite"),
            "PEC_JOURNAL_LEASE": "5",
            "PEC_TIMEOUT": "3",
        }
        monkeypatch.setenv("CHAOS_BROKER_URL", broker_url)
        from tests.support.chaos_app import app

        worker = start_worker(0, environment)
        try:
            wait_for_pools([worker])
            as_of = (expiry - dt.timedelta(days=10)).isoformat()
            for _ in range(2):
                app.send_task("pec.register_file", args=[str(applicants)])
                app.send_task("pec.renew_expiring", args=[30], kwargs={"as_of": as_of})
            broker = redis.Redis.from_url(broker_url)
            deadline = time.monotonic() + 60
            wanted = {"POST /pec": APPLICANTS, "GET /pec/{id}/rinnovo": len(boxes)}
            while True:
                charged = collections.Counter(e["operation"] for e in ledger(db))
                done = all(
                    charged[op] >= count + (len(boxes) if op == "POST /pec" else 0)
                    for op, count in wanted.items()
                )
                if done and queue_is_drained(broker):
                    break
                assert time.monotonic() < deadline, f"not done in 60 s: {charged}"
                time.sleep(0.1)
            time.sleep(1.0)  # a duplicate would be charged by now
        finally:
            for child in pool_children(worker):
                os.kill(child, signal.SIGKILL)
            kill(worker)

    charged = collections.Counter(e["operation"] for e in ledger(db))
    # provision() registered the 3 boxes being renewed: 3 more registrations, 3 renewals.
    assert charged["POST /pec"] == len(boxes) + APPLICANTS
    renewed = collections.Counter(e["ref"] for e in ledger(db) if e["operation"] == "GET /pec/{id}/rinnovo")
    assert renewed == dict.fromkeys(boxes, 1)
