"""Issue 19, points 7-11: the receiver under attack, and a receiver that dies mid-handler.

The servers named by the issue are started for real on 127.0.0.1: uvicorn (a receiver killed and
restarted) and Werkzeug's WSGI server (chunked deliveries).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from pec_ext import PecClient
from pec_ext.callbacks.events import TOKEN_FIELD, CallbackEvent, parse
from pec_ext.callbacks.receiver import CallbackReceiver
from pec_ext.callbacks.store import MemoryTransitionStore, SqliteTransitionStore
from pec_ext.sandbox import Sandbox, SandboxServer
from tests.support.callbacks import RECEIVER_URL, SECRET, Recorder, activate, register_box, signed
from tests.support.dates import sandbox_on_day

JSON = "application/json"
HERE = Path(__file__).resolve().parent


def delivery(
    sb: Sandbox, http: httpx.Client, callback: dict[str, Any], address: str | None = None
) -> dict[str, Any]:
    box_id = register_box(http, callback, address)
    activate(http, box_id)
    sent = sb.callbacks_sent[-1]
    payload: dict[str, Any] = parse(sent.body, sent.content_type).payload
    assert payload["id"] == box_id
    return payload


# -- 7. the handler sees the API's record, not the posted data --------------------------------


def test_the_handler_sees_the_records_data_never_the_posted_one(sb: Sandbox, http: httpx.Client) -> None:
    recorder = Recorder()
    receiver = CallbackReceiver(SECRET, sb.client(), on_mailbox=recorder, store=MemoryTransitionStore())
    payload = delivery(sb, http, signed(data={"order": 1}))
    forged = json.loads(json.dumps(payload))
    forged["callback"]["data"]["order"] = 999  # the real token kept: it never expires
    forged["callback"]["data"]["extra"] = "attacker"
    forged["nome_richiedente"] = "mallory"
    reply = receiver.handle(json.dumps(forged).encode(), JSON)
    assert reply.status_code == 200
    (event,) = recorder.events
    assert event.data == {"order": 1}
    assert event.payload["callback"]["data"]["order"] == 1
    assert event.payload["nome_richiedente"] != "mallory"
    assert event.callback_url == RECEIVER_URL
    assert event.token == payload["callback"]["data"][TOKEN_FIELD]


# -- 8. a claim is short, renewed while the handler runs, released when it is interrupted -------


def test_a_cancelled_handler_releases_its_claim(sb: Sandbox, http: httpx.Client, tmp_path: Path) -> None:
    body = json.dumps(delivery(sb, http, signed(method="JSON"))).encode()
    started = asyncio.Event()
    handled: list[str] = []

    async def hangs(event: CallbackEvent) -> None:
        if not handled:
            started.set()
            await asyncio.Event().wait()  # until cancelled: a server's graceful shutdown
        handled.append(str(event.stato))

    async def main() -> tuple[int, float]:
        async with sb.async_client() as client:
            store = SqliteTransitionStore(tmp_path / "handled.sqlite")
            receiver = CallbackReceiver(SECRET, client, on_mailbox=hangs, store=store)
            task = asyncio.create_task(receiver.ahandle(body, JSON))
            await asyncio.wait_for(started.wait(), 5)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            handled.append("cancelled")
            began = time.monotonic()
            reply = await receiver.ahandle(body, JSON)  # the provider's retry
            store.close()
            return reply.status_code, time.monotonic() - began

    status, took = asyncio.run(main())
    assert status == 200
    assert handled == ["cancelled", "in_evasione"]
    assert took < 2.0  # not a busy wait on a claim nobody holds


def test_the_claim_is_renewed_while_a_long_handler_runs(
    sb: Sandbox, http: httpx.Client, tmp_path: Path
) -> None:
    body = json.dumps(delivery(sb, http, signed())).encode()
    started = threading.Event()
    calls: list[int] = []

    def slow(event: CallbackEvent) -> None:
        calls.append(1)
        started.set()
        time.sleep(1.6)

    path = tmp_path / "handled.sqlite"
    first = CallbackReceiver(
        SECRET, sb.client(), on_mailbox=slow, store=SqliteTransitionStore(path, lease=0.6)
    )
    second = CallbackReceiver(
        SECRET, sb.client(), on_mailbox=slow, store=SqliteTransitionStore(path, lease=0.6), busy_wait=0
    )
    replies: list[Any] = []
    worker = threading.Thread(target=lambda: replies.append(first.handle(body, JSON)))
    worker.start()
    assert started.wait(5)
    time.sleep(1.0)  # past the lease: only a renewed claim is still held
    duplicate = second.handle(body, JSON)
    worker.join(10)
    assert (duplicate.status_code, duplicate.outcome) == (503, "busy")
    assert replies[0].status_code == 200
    assert len(calls) == 1


def test_the_default_busy_wait_is_shorter_than_a_providers_timeout(sb: Sandbox) -> None:
    receiver = CallbackReceiver(SECRET, sb.client(), store=MemoryTransitionStore())
    assert receiver.busy_wait < 5.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _uvicorn(port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "uvicorn", "receiver_app:app", "--app-dir", str(HERE)]
    cmd += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    proc = subprocess.Popen(cmd, env=env)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"uvicorn exited with {proc.returncode}"
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc
        except OSError:
            time.sleep(0.05)
    raise AssertionError("uvicorn did not start listening")


def _stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, sig)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()


def test_a_receiver_killed_mid_handler_and_restarted_handles_the_event_within_the_retries(
    tmp_path: Path,
) -> None:
    pytest.importorskip("uvicorn")
    # a provider's schedule: five attempts, 5 s timeout each, backoff 1 s doubling
    server = SandboxServer(sandbox_on_day(balance=500.0, callback_backoff=1.0)).start()
    store, log = tmp_path / "handled.sqlite", tmp_path / "handled.jsonl"
    env = {
        **os.environ,
        "PEC_TEST_SANDBOX_URL": server.url,
        "PEC_TEST_STORE": str(store),
        "PEC_TEST_LOG": str(log),
        "PEC_TEST_FAIL": "0",
    }
    port = _free_port()
    url = f"http://127.0.0.1:{port}/pec/callbacks"
    procs = []
    http = httpx.Client(base_url=server.url, headers={"Authorization": "Bearer t"}, timeout=10)
    try:
        first = _uvicorn(port, {**env, "PEC_TEST_DELAY": "60"})  # its handler never ends
        procs.append(first)
        box_id = register_box(http, signed(url, method="JSON"))
        activate(http, box_id)
        deadline = time.monotonic() + 20
        while True:  # the first receiver has claimed the transition and runs its handler
            with sqlite3.connect(store) as conn:
                if conn.execute("SELECT count(*) FROM callback_transitions").fetchone()[0]:
                    break
            assert time.monotonic() < deadline, "the first receiver never claimed the transition"
            time.sleep(0.05)
        _stop(first, signal.SIGKILL)  # dies mid-handler (and is reaped: its pid is gone)
        procs.append(_uvicorn(port, {**env, "PEC_TEST_DELAY": "0"}))  # restarted, same address
        deadline = time.monotonic() + 40
        while http.get("/_sandbox/callbacks").json()["data"]["pending"]:
            assert time.monotonic() < deadline, "callbacks still pending"
            time.sleep(0.1)
        (sent,) = http.get("/_sandbox/callbacks").json()["data"]["deliveries"]
    finally:
        http.close()
        for proc in procs:
            _stop(proc)
        server.stop()
        server.sandbox.close()
    assert sent["delivered"], sent["attempts"]
    rows = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    assert [(r["id"], r["stato"], r["outcome"]) for r in rows] == [(box_id, "in_evasione", "handled")]


# -- 9. statuses: a permanent refusal is a 4xx, nothing crashes, a 503 says little ------------


def test_ids_the_api_refuses_get_a_4xx_and_a_lone_surrogate_no_crash(sb: Sandbox, http: httpx.Client) -> None:
    recorder = Recorder()
    receiver = CallbackReceiver(SECRET, sb.client(), on_mailbox=recorder, store=MemoryTransitionStore())
    payload = delivery(sb, http, signed())
    for bad in ("..", "x", "a/b", "\udc80abc"):
        reply = receiver.handle(json.dumps(dict(payload, id=bad)).encode(), JSON)
        assert 400 <= reply.status_code < 500, (bad, reply)
        json.loads(reply.body())
    assert recorder.calls == 0


def test_a_503_does_not_show_the_api_base_url(sb: Sandbox, http: httpx.Client) -> None:
    payload = delivery(sb, http, signed())
    down = PecClient("t", base_url="http://127.0.0.1:9/private-gateway", max_retries=0, timeout=2)
    receiver = CallbackReceiver(SECRET, down, on_mailbox=Recorder(), store=MemoryTransitionStore())
    reply = receiver.handle(json.dumps(payload).encode(), JSON)
    assert reply.status_code == 503
    assert b"127.0.0.1" not in reply.body()
    assert b"private-gateway" not in reply.body()


# -- 10. chunked deliveries under a real WSGI server ------------------------------------------


@pytest.fixture
def werkzeug_receiver(sb: Sandbox) -> Iterator[tuple[str, Recorder]]:
    serving = pytest.importorskip("werkzeug.serving")
    recorder = Recorder()
    receiver = CallbackReceiver(SECRET, sb.client(), on_mailbox=recorder, store=MemoryTransitionStore())
    server = serving.make_server("127.0.0.1", 0, receiver.wsgi_app(), threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/pec", recorder
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_a_chunked_delivery_under_werkzeug_is_read_and_limited(
    sb: Sandbox, http: httpx.Client, werkzeug_receiver: tuple[str, Recorder]
) -> None:
    url, recorder = werkzeug_receiver
    body = json.dumps(delivery(sb, http, signed())).encode()

    def chunks(data: bytes) -> Iterator[bytes]:  # no Content-Length: Transfer-Encoding: chunked
        for start in range(0, len(data), 100):
            yield data[start : start + 100]

    answer = httpx.post(url, content=chunks(body), headers={"content-type": JSON}, timeout=10)
    assert (answer.status_code, answer.json()["outcome"]) == (200, "handled")
    assert recorder.calls == 1
    huge = b"{" + b" " * (2 * 1024 * 1024) + b"}"
    answer = httpx.post(url, content=chunks(huge), headers={"content-type": JSON}, timeout=10)
    assert answer.status_code == 413


# -- 11. a flood of forged deliveries is logged in aggregate; the store is as durable as the journal


def test_a_flood_of_forged_deliveries_logs_a_few_warnings(
    sb: Sandbox, http: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    receiver = CallbackReceiver(SECRET, sb.client(), on_mailbox=Recorder(), store=MemoryTransitionStore())
    payload = delivery(sb, http, signed())
    forged = json.loads(json.dumps(payload))
    forged["callback"]["data"][TOKEN_FIELD] = "v1.nonce.forged"
    with caplog.at_level(logging.WARNING, logger="pec_ext"):
        for _ in range(200):
            assert receiver.handle(json.dumps(forged).encode(), JSON).status_code == 403
    assert 1 <= len(caplog.records) <= 10


def test_the_callback_store_commits_with_synchronous_full(tmp_path: Path) -> None:
    store = SqliteTransitionStore(tmp_path / "handled.sqlite")
    (level,) = store._db.execute("PRAGMA synchronous").fetchone()
    assert level == 2  # FULL, as the journal's
    store.close()
