"""Sending certified mail from several processes: once per key, at one send a second for the fleet.

Real processes throughout: the sandbox over HTTP, redis-server, Celery workers and the senders,
each started here and stopped by its PID.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from pec_ext.integrations.ratelimit import FleetLimiter
from pec_ext.massiva import MassivaClient
from pec_ext.sandbox import ManualClock, Sandbox, record_only
from tests.support.celery_workers import pool_children, queue_is_drained, start_worker, wait_for_pools
from tests.support.dates import server_on_day_args
from tests.support.fleet import PDF, PYTHON, ROOT, box_body, env, kill, server_process
from tests.support.http_stack import httpx

SENDER = "invii@testcert.legalmail.it"
FAST_SERVER = ROOT / "tests" / "cli" / "fast_sandbox_server.py"


def activate(url: str) -> tuple[str, str]:
    """A PECMASSIVA box on the server, active; its (username, password)."""
    pdf = base64.b64encode(PDF).decode()
    with httpx.Client(base_url=url, headers={"Authorization": "Bearer t"}, timeout=10) as http:
        box = http.post("/pec", json=box_body(SENDER, "PECMASSIVA")).json()["data"]
        assert http.patch(f"/pec/{box['id']}/attivazione", json={"documenti": [pdf, pdf]}).status_code == 200
        assert http.post("/_sandbox/advance").status_code == 200
        found = http.get(f"/_sandbox/massiva/credentials/{SENDER}").json()["data"]
    return found["username"], found["password"]


def sent(url: str) -> list[dict[str, Any]]:
    return list(httpx.get(f"{url}/_sandbox/massiva/sent", timeout=10).json()["data"])


@pytest.fixture
def fast_server() -> Iterator[str]:
    with server_process([str(FAST_SERVER)]) as url:
        yield url


SENDER_SCRIPT = """
import json, sys
from pec_ext.journal.base import Journal
from pec_ext.journal.stores import open_store
from pec_ext.massiva import MassivaClient

url, journal_path, key = sys.argv[1:4]
with Journal(open_store(journal_path), lease=5, wait=30) as journal, MassivaClient(
    "t", base_url=url + "/pecmassiva", journal=journal
) as pec:
    sending = pec.send("mario@example.it", "Fattura 2026/0042", "Gentile cliente", idempotency_key=key)
print(json.dumps(sending.to_json()))
"""


def test_the_same_key_from_several_processes_sends_once(fast_server: str, tmp_path: Path) -> None:
    username, password = activate(fast_server)
    environment = {
        **env(),
        "OPENAPI_PECMASSIVA_USERNAME": username,
        "OPENAPI_PECMASSIVA_PASSWORD": password,
    }
    journal = str(tmp_path / "journal.sqlite")
    senders = [
        subprocess.Popen(
            [PYTHON, "-c", SENDER_SCRIPT, fast_server, journal, "invoice:2026/0042"],
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    outputs = []
    for process in senders:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err[-2000:]
        outputs.append(json.loads(out.strip().splitlines()[-1]))
    assert len({o["code"] for o in outputs}) == 1
    assert len(sent(fast_server)) == 1


def test_a_shared_limiter_spaces_the_sends_of_the_fleet(fast_server: str, fresh_redis: str) -> None:
    username, password = activate(fast_server)
    errors: list[BaseException] = []

    def worker(index: int) -> None:
        limiter = FleetLimiter(redis.Redis.from_url(fresh_redis), account="acme", rate=1)
        try:
            # No pacing of this process's own: only the fleet's limiter spaces the sends.
            with MassivaClient(
                "t",
                username=username,
                password=password,
                base_url=fast_server + "/pecmassiva",
                send_interval=0,
                fleet_limiter=limiter,
            ) as pec:
                for n in range(2):
                    pec.send("mario@example.it", f"Worker {index} n. {n}", "x")
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    stamps = sorted(s["timestamp"] for s in sent(fast_server))
    assert len(stamps) == 4
    # the fast sandbox's clock runs 1000 x: a real second is 1000 virtual ones
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    assert min(gaps) >= 900, gaps


def test_a_429_that_outlives_the_retries_pauses_the_fleet(fresh_redis: str) -> None:
    with Sandbox(clock=ManualClock(1_767_225_600), callback_sender=record_only) as sb:
        pdf = base64.b64encode(PDF).decode()
        with httpx.Client(transport=sb.transport(), base_url="https://sandbox.pec.invalid") as http:
            http.headers["Authorization"] = "Bearer t"
            box = http.post("/pec", json=box_body(SENDER, "PECMASSIVA")).json()["data"]
            http.patch(f"/pec/{box['id']}/attivazione", json={"documenti": [pdf, pdf]})
        sb.advance(None)
        username, password = sb.massiva_credentials(SENDER)
        handler = sb.transport().handle_request
        refusals = [0]

        def first_send_limited(request: httpx.Request) -> httpx.Response:
            if request.method == "POST" and refusals[0] == 0:
                refusals[0] += 1
                return httpx.Response(429, headers={"Retry-After": "3"}, json={"success": False})
            return handler(request)

        limiter = FleetLimiter(redis.Redis.from_url(fresh_redis), account="acme", rate=1)
        with MassivaClient(
            "t",
            username=username,
            password=password,
            base_url="https://sandbox.pec.invalid/pecmassiva",
            transport=httpx.MockTransport(first_send_limited),
            clock=sb.virtual_clock(),
            max_retries=0,
            fleet_limiter=limiter,
        ) as pec:
            started = time.monotonic()
            sending = pec.send("mario@example.it", "Fattura 7", "x")
            waited = time.monotonic() - started
        assert sending.sent == 1
        assert len(sb.massiva_sent()) == 1
        # The pause is the fleet's, kept in Redis on Redis's clock: even this client, on virtual
        # time, could send again only once the real 3 seconds had passed.
        assert waited >= 2.5
        assert limiter.paused_for() == 0.0


def test_celery_task_sends_once_when_delivered_twice(tmp_path: Path, fresh_redis: str) -> None:
    db = tmp_path / "sandbox.sqlite"
    broker_url = fresh_redis[: -len("/0")] + "/1"
    redis.Redis.from_url(broker_url).flushdb()
    with server_process(
        ["-m", "pec_ext.sandbox", "--db", str(db), "--port", "0", *server_on_day_args()]
    ) as url:
        username, password = activate(url)
        environment = {
            **env(),
            "CHAOS_BROKER_URL": broker_url,
            "OPENAPI_PEC_TOKEN": "tasks-token",
            "OPENAPI_PEC_BASE_URL": url,
            "OPENAPI_PECMASSIVA_USERNAME": username,
            "OPENAPI_PECMASSIVA_PASSWORD": password,
            "PEC_JOURNAL_URL": str(tmp_path / "journal.sqlite"),
            "PEC_JOURNAL_LEASE": "5",
            "PEC_TIMEOUT": "3",
        }
        os.environ["CHAOS_BROKER_URL"] = broker_url
        try:
            from tests.support.chaos_app import app

            worker = start_worker(0, environment)
            try:
                wait_for_pools([worker])
                for _ in range(2):
                    app.send_task(
                        "pec.send",
                        args=[
                            "invoice:2026/0042",
                            ["mario@example.it"],
                            "Fattura 2026/0042",
                            "Gentile cliente",
                        ],
                    )
                broker = redis.Redis.from_url(broker_url)
                deadline = time.monotonic() + 60
                while not (sent(url) and queue_is_drained(broker)):
                    assert time.monotonic() < deadline, "the task did not run in 60 s"
                    time.sleep(0.1)
                time.sleep(1.0)  # a duplicate would be sent by now
            finally:
                for child in pool_children(worker):
                    os.kill(child, signal.SIGKILL)
                kill(worker)
        finally:
            os.environ.pop("CHAOS_BROKER_URL", None)
        sendings = sent(url)
    assert [s["subject"] for s in sendings] == ["Fattura 2026/0042"]
