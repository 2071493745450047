"""The sandbox over real HTTP on loopback, its admin paths, and the command line."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from pec_ext.sandbox import SandboxServer, record_only
from pec_ext.sandbox.__main__ import build_parser
from tests.support.dates import sandbox_on_day
from tests.support.http_stack import httpx
from tests.support.sandbox import assert_ok, box_body, pdf_doc

HEADERS = {"Authorization": "Bearer t"}


@pytest.fixture
def server() -> SandboxServer:
    with SandboxServer(sandbox_on_day(callback_sender=record_only)) as srv:
        yield srv  # type: ignore[misc]


def test_lifecycle_over_http_with_admin_advance(server: SandboxServer) -> None:
    assert server.url.startswith("http://127.0.0.1:")
    with httpx.Client(base_url=server.url, headers=HEADERS) as http:
        box = assert_ok(http.post("/pec", json=box_body()), "POST", "/pec")
        form = http.get(f"/pec/{box['id']}/modulo_attivazione")
        assert form.headers["content-type"] == "application/pdf"
        assert form.content.startswith(b"%PDF-")
        http.patch(f"/pec/{box['id']}/attivazione", json={"documenti": pdf_doc()})
        state = http.get("/_sandbox/state").json()["data"]
        assert state["pending"] == 1
        assert state["mailboxes"] == {"in_evasione": 1}

        advanced = http.post("/_sandbox/advance", json={"seconds": 10}).json()["data"]
        assert advanced["completed"] == 1
        assert assert_ok(http.get(f"/pec/{box['id']}"), "GET", "/pec/{id}")["stato"] == "evasa"
        assert http.post("/_sandbox/advance").json()["data"]["completed"] == 0
        assert http.post("/_sandbox/advance", json={"seconds": "x"}).status_code == 400
        assert assert_ok(
            http.get("/verifica_pec/mario.rossi%40testcert.legalmail.it"), "GET", "/verifica_pec/{pec}"
        ) == {"available": False}
        assert http.get("/pec/bad/modulo_attivazione").text == "Invalid id"
        assert httpx.get(server.url + "/pec").status_code == 401

        reset = http.post("/_sandbox/reset").json()["data"]
        assert reset["mailboxes"] == {}
        assert http.get("/pec").status_code == 404


def test_concurrent_requests_are_serialised(server: SandboxServer) -> None:
    limits = httpx.Limits(max_connections=20)
    with httpx.Client(base_url=server.url, headers=HEADERS, limits=limits) as http:

        def register(n: int) -> int:
            return http.post("/pec", json=box_body(f"u{n}@testcert.legalmail.it", "STANDARD")).status_code

        server.sandbox.balance = 10_000
        with ThreadPoolExecutor(max_workers=20) as pool:
            statuses = list(pool.map(register, range(200)))
    assert statuses == [200] * 200
    boxes = server.sandbox.mailboxes()
    assert len({b["id"] for b in boxes}) == 200
    assert server.sandbox.balance == 10_000 - 200 * 5


def test_parser_defaults_to_loopback() -> None:
    args = build_parser().parse_args(["--port", "0"])
    assert args.host == "127.0.0.1"
    assert args.port == 0
    assert args.db is None
    assert args.balance == 100.0


def test_python_m_serves_and_prints_its_url(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    env = {"PYTHONPATH": f"{root}{':' + str(root / 'generated')}", "PATH": "/usr/bin:/bin"}
    # real clock: a server process, and the sandbox's command line has no option for a fixed start
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pec_ext.sandbox",
            "--port",
            "0",
            "--db",
            str(tmp_path / "s.sqlite"),
            "--balance",
            "7",
        ],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        url = line.rsplit(" ", 1)[1].strip()
        assert url.startswith("http://127.0.0.1:")
        assert httpx.get(url + "/_sandbox/state").json()["data"]["balance"] == 7.0
    finally:
        proc.terminate()
        proc.wait(timeout=10)
