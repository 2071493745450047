"""``pec callbacks listen`` (a real process, fed by the sandbox over HTTP) and ``pec callbacks sign``."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

import pytest
from click.testing import CliRunner

from pec_ext.callbacks.events import TOKEN_FIELD, verify_token
from pec_ext.cli import cli
from pec_ext.cli.config import Config
from pec_ext.sandbox import SandboxServer
from tests.support.callbacks import SECRET, activate, register_box, signed
from tests.support.cli import APPLICANT, flags
from tests.support.dates import sandbox_on_day
from tests.support.http_stack import httpx


def _lines(stream: IO[str]) -> queue.Queue[str]:
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        for line in stream:
            lines.put(line.rstrip("\n"))

    threading.Thread(target=pump, daemon=True).start()
    return lines


@dataclass
class Listener:
    url: str
    stdout: queue.Queue[str]
    stderr: queue.Queue[str]


@pytest.fixture
def server() -> Iterator[SandboxServer]:
    with SandboxServer(sandbox_on_day(balance=500.0, callback_backoff=0.1)) as srv:
        yield srv
        srv.sandbox.close()


@pytest.fixture
def http(server: SandboxServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, headers={"Authorization": "Bearer t"}, timeout=10) as client:
        yield client


def _start_listener(server: SandboxServer, *flags: str) -> tuple[subprocess.Popen[str], Listener]:
    env = {**os.environ, "OPENAPI_PEC_TOKEN": "sandbox-token", "OPENAPI_PEC_CALLBACK_SECRET": SECRET}
    cmd = [
        sys.executable,
        "-m",
        "pec_ext.cli",
        "--base-url",
        server.url,
        "callbacks",
        "listen",
        "--port",
        "0",
    ]
    proc = subprocess.Popen(
        [*cmd, *flags], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    assert proc.stderr is not None
    stdout, stderr = _lines(proc.stdout), _lines(proc.stderr)
    first = stderr.get(timeout=20)
    found = re.search(r"listening for callbacks on (http://127\.0\.0\.1:\d+/)", first)
    assert found, first
    return proc, Listener(found.group(1), stdout, stderr)


@pytest.fixture
def listen(server: SandboxServer) -> Iterator[Any]:
    procs: list[subprocess.Popen[str]] = []

    def start(*flags: str) -> Listener:
        proc, listener = _start_listener(server, *flags)
        procs.append(proc)
        return listener

    yield start
    for proc in procs:
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(10)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def test_listen_prints_each_verified_event_as_json(http: httpx.Client, listen: Any) -> None:
    listener = listen("--json")
    box_id = register_box(http, signed(listener.url, method="JSON", data={"order": 3}))
    activate(http, box_id)

    event = json.loads(listener.stdout.get(timeout=20))
    assert (event["kind"], event["id"], event["stato"]) == ("mailbox", box_id, "in_evasione")
    assert event["claimed_stato"] == "in_evasione"
    assert event["data"] == {"order": 3}
    assert event["record"]["casella_pec"] == "mario.rossi@testcert.legalmail.it"

    forged = httpx.post(listener.url, json={"id": box_id, "stato": "evasa", "tipo_casella": "BRONZE"})
    assert forged.status_code == 403
    assert listener.stderr.get(timeout=10).startswith("refused: 403 Forbidden: the callback carries no token")
    time.sleep(0.2)
    assert listener.stdout.empty()


def test_listen_prints_a_line_of_text_per_event(http: httpx.Client, listen: Any) -> None:
    listener = listen()
    box_id = register_box(http, signed(listener.url, data={"order": 4}))
    activate(http, box_id)
    assert listener.stdout.get(timeout=20) == f'mailbox {box_id} in_evasione data={{"order": 4}}'


def test_sign_prints_a_callback_carrying_a_valid_token() -> None:
    result = CliRunner().invoke(
        cli,
        ["callbacks", "sign", "https://me.example/pec", "--method", "json", "--data", '{"k": 1}'],
        env={"OPENAPI_PEC_CALLBACK_SECRET": SECRET},
    )
    assert result.exit_code == 0, result.output
    callback = json.loads(result.output)
    assert callback["method"] == "JSON"
    assert callback["data"]["k"] == 1
    verify_token(SECRET, "https://me.example/pec", callback["data"][TOKEN_FIELD])
    assert SECRET not in result.output


def test_sign_refuses_a_short_secret_with_the_validation_exit_code() -> None:
    result = CliRunner().invoke(
        cli, ["callbacks", "sign", "https://me.example/pec"], env={"OPENAPI_PEC_CALLBACK_SECRET": "short"}
    )
    assert result.exit_code == 3
    assert "callback_secret" in result.output


def test_with_the_secret_set_a_registered_callback_carries_a_token() -> None:
    with sandbox_on_day(balance=100.0) as sb:
        fields = {"casella_pec": "mario.rossi@testcert.legalmail.it", "tipo_casella": "BRONZE", **APPLICANT}
        args = [
            "--json",
            "boxes",
            "register",
            "--yes",
            "--callback-url",
            "https://me.example/pec",
            *flags(fields),
        ]
        result = CliRunner().invoke(
            cli,
            args,
            obj=Config(sandbox=sb),
            env={"OPENAPI_PEC_TOKEN": "tok", "OPENAPI_PEC_CALLBACK_SECRET": SECRET},
        )
        assert result.exit_code == 0, result.output
        assert SECRET not in result.output
        (box,) = sb.mailboxes()
    verify_token(SECRET, "https://me.example/pec", box["callback"]["data"][TOKEN_FIELD])
