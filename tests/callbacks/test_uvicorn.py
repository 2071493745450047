"""A real uvicorn receiving from the sandbox served over HTTP, both delivery modes.

The sandbox runs in a thread (SandboxServer); each receiver is ``python -m uvicorn`` started here on
127.0.0.1 and killed by its PID.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pec_ext.callbacks.events import parse
from pec_ext.sandbox import Sandbox, SandboxServer
from tests.support.callbacks import (
    RECEIVER_URL,
    activate,
    advance,
    box_lifecycle,
    comm_lifecycle,
    register_box,
    revoke,
    signed,
)
from tests.support.dates import sandbox_on_day
from tests.support.http_stack import httpx

pytest.importorskip("uvicorn")

HERE = Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Receiver:
    url: str
    proc: subprocess.Popen[bytes]


@dataclass
class Rig:
    server: SandboxServer
    http: httpx.Client
    log: Path
    store: Path
    start_receiver: Callable[..., Receiver]

    @property
    def sandbox(self) -> Sandbox:
        return self.server.sandbox

    def settle(self, timeout: float = 20.0) -> None:
        """Until the sandbox has finished every delivery (retries included)."""
        deadline = time.monotonic() + timeout
        while self.http.get("/_sandbox/callbacks").json()["data"]["pending"]:
            assert time.monotonic() < deadline, "callbacks still pending"
            time.sleep(0.02)

    def lines(self, outcome: str = "handled") -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        rows = [json.loads(line) for line in self.log.read_text().splitlines()]
        return [row for row in rows if row["outcome"] == outcome]

    def handled(self) -> list[tuple[str, str, str]]:
        return [(row["kind"], row["id"], row["stato"]) for row in self.lines()]

    def deliveries(self) -> list[dict[str, Any]]:
        data: list[dict[str, Any]] = self.http.get("/_sandbox/callbacks").json()["data"]["deliveries"]
        return data


def _wait_listening(port: int, proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"uvicorn exited with {proc.returncode}"
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("uvicorn did not start listening")


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    server = SandboxServer(sandbox_on_day(balance=500.0, callback_backoff=0.1)).start()
    procs: list[subprocess.Popen[bytes]] = []
    log, store = tmp_path / "handled.jsonl", tmp_path / "handled.sqlite"

    def start_receiver(*, fail: int = 0, delay: float = 0.0) -> Receiver:
        port = free_port()
        env = {
            **os.environ,
            "PEC_TEST_SANDBOX_URL": server.url,
            "PEC_TEST_STORE": str(store),
            "PEC_TEST_LOG": str(log),
            "PEC_TEST_FAIL": str(fail),
            "PEC_TEST_DELAY": str(delay),
        }
        cmd = [sys.executable, "-m", "uvicorn", "receiver_app:app", "--app-dir", str(HERE)]
        cmd += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
        proc = subprocess.Popen(cmd, env=env)
        procs.append(proc)
        _wait_listening(port, proc)
        return Receiver(f"http://127.0.0.1:{port}/pec/callbacks", proc)

    http = httpx.Client(base_url=server.url, headers={"Authorization": "Bearer t"}, timeout=10)
    try:
        yield Rig(server, http, log, store, start_receiver)
    finally:
        http.close()
        for proc in procs:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    os.kill(proc.pid, signal.SIGKILL)
                    proc.wait()
        server.stop()
        server.sandbox.close()


@pytest.mark.parametrize("method", ["POST", "JSON"])
def test_the_whole_lifecycle_gives_one_handled_event_per_transition(rig: Rig, method: str) -> None:
    receiver = rig.start_receiver()
    callback = signed(receiver.url, method=method, data={"order": 9})
    box_id, box_states = box_lifecycle(rig.http, callback, rig.settle)
    comm_id, comm_states = comm_lifecycle(rig.http, signed(receiver.url, method=method), rig.settle)

    expected = [("mailbox", box_id, s) for s in box_states] + [
        ("communication", comm_id, s) for s in comm_states
    ]
    assert rig.handled() == expected
    assert all(row["confirmed"] and row["claimed"] == row["stato"] for row in rig.lines())
    assert rig.lines()[0]["data"] == {"order": 9}
    deliveries = rig.deliveries()
    assert [(d["id"], d["stato"]) for d in deliveries] == [(i, s) for _, i, s in expected]
    assert all(d["delivered"] and [a["status"] for a in d["attempts"]] == [200] for d in deliveries)


@pytest.mark.parametrize("method", ["POST", "JSON"])
def test_a_receiver_failing_twice_is_retried_and_handles_once(rig: Rig, method: str) -> None:
    receiver = rig.start_receiver(fail=2)
    box_id = register_box(rig.http, signed(receiver.url, method=method))
    activate(rig.http, box_id)
    rig.settle()

    (delivery,) = rig.deliveries()
    assert [a["status"] for a in delivery["attempts"]] == [500, 500, 200]
    assert delivery["attempts"][2]["at"] - delivery["attempts"][1]["at"] >= 0.2  # backoff doubled
    assert len(rig.lines("failed")) == 2
    assert rig.handled() == [("mailbox", box_id, "in_evasione")]


@pytest.fixture
def post() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as client:
        yield client


def test_forged_callbacks_never_reach_a_handler_with_a_false_state(rig: Rig, post: httpx.Client) -> None:
    receiver = rig.start_receiver()
    # box 1: delivered for real and handled in ``in_evasione``
    box_id = register_box(rig.http, signed(receiver.url, method="JSON"))
    activate(rig.http, box_id)
    rig.settle()
    real = parse(rig.sandbox.callbacks_sent[-1].body, "application/json").payload

    no_token = json.loads(json.dumps(real))
    no_token["callback"]["data"].clear()
    assert post.post(receiver.url, json=no_token).status_code == 403
    wrong = json.loads(json.dumps(real))
    wrong["callback"] = signed(receiver.url, secret="a-secret-of-the-attacker-000000")
    assert post.post(receiver.url, json=wrong).status_code == 403
    # its real token replayed, claiming a state the box is not in
    replayed = post.post(receiver.url, json=dict(real, stato="evasa"))
    assert replayed.status_code == 200
    assert replayed.json()["outcome"] == "duplicate"  # confirmed: still in_evasione, handled already

    # box 2: its callback goes elsewhere; its body is replayed here with a forged ``evasa``
    other_id = register_box(rig.http, signed(RECEIVER_URL), "altra@testcert.legalmail.it")
    activate(rig.http, other_id)
    other = parse(rig.sandbox.callbacks_sent[-1].body, "application/x-www-form-urlencoded").payload
    forged = post.post(receiver.url, json=dict(other, stato="evasa"))
    assert forged.json() == {
        "outcome": "handled",
        "message": "handled",
        "kind": "mailbox",
        "id": other_id,
        "stato": "in_evasione",
    }
    # a token of box 2 on box 1's record: refused
    assert post.post(receiver.url, json=dict(real, callback=other["callback"])).status_code == 403

    assert rig.handled() == [("mailbox", box_id, "in_evasione"), ("mailbox", other_id, "in_evasione")]
    assert all(row["record_stato"] == "in_evasione" for row in rig.lines())
    assert [row["claimed"] for row in rig.lines()] == ["in_evasione", "evasa"]
    rig.settle()


def test_two_receivers_sharing_a_store_handle_each_transition_once(rig: Rig, post: httpx.Client) -> None:
    first = rig.start_receiver(delay=0.4)
    second = rig.start_receiver(delay=0.4)

    def deliver_until_acknowledged(url: str, sent: Any) -> int:
        for _ in range(100):
            status = post.post(
                url, content=sent.body, headers={"content-type": sent.content_type}
            ).status_code
            if status != 503:
                return status
            time.sleep(0.1)  # another receiver holds the transition: try again, as a provider would
        return 503

    box_id = register_box(rig.http, signed(first.url))
    steps: list[Callable[[], None]] = [
        lambda: activate(rig.http, box_id),
        lambda: advance(rig.http, 1),
        lambda: revoke(rig.http, box_id),
    ]
    for step in steps:
        step()  # the sandbox delivers to the first receiver ...
        sent = rig.sandbox.callbacks_sent[-1]
        with ThreadPoolExecutor(4) as pool:  # ... while duplicates reach both, at the same time
            urls = [second.url, first.url] * 2
            statuses = list(pool.map(deliver_until_acknowledged, urls, [sent] * len(urls)))
        assert statuses == [200] * 4
        rig.settle()

    assert rig.handled() == [("mailbox", box_id, s) for s in ("in_evasione", "evasa", "revocata")]
    assert {row["pid"] for row in rig.lines()} <= {first.proc.pid, second.proc.pid}
    assert all(d["delivered"] for d in rig.deliveries())
