"""The sandbox over real HTTP on loopback, its admin paths, and the command line."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest

from pec_ext.sandbox import SandboxServer, record_only
from pec_ext.sandbox.__main__ import build_parser
from tests.support.dates import EPOCH, sandbox_on_day, server_on_day_args
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
            *server_on_day_args(),
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


# ------------------------------------------------------------------ --start: the clock's fixed start

ROOT = Path(__file__).resolve().parents[2]
COMMANDS = {
    "python -m pec_ext.sandbox": ["-m", "pec_ext.sandbox"],
    "pec sandbox serve": ["-m", "pec_ext.cli", "sandbox", "serve"],
}


def _run(command: str, *args: str) -> subprocess.Popen[str]:
    env = {"PYTHONPATH": f"{ROOT}:{ROOT / 'generated'}", "PATH": "/usr/bin:/bin"}
    return subprocess.Popen(
        [sys.executable, *COMMANDS[command], "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


@contextmanager
def serving(command: str, *args: str) -> Iterator[str]:
    proc = _run(command, *args)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("PEC sandbox listening on "), (line, proc.poll() is not None and proc.stderr)
        yield line.rsplit(" ", 1)[1].strip()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def clock_of(url: str) -> int:
    return int(httpx.get(url + "/_sandbox/state", timeout=10).json()["data"]["now"])


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_start_puts_a_box_on_that_day(command: str) -> None:
    with (
        serving(command, "--start", "2028-02-29") as url,
        httpx.Client(base_url=url, headers=HEADERS) as http,
    ):
        box = assert_ok(http.post("/pec", json=box_body()), "POST", "/pec")
        activating = http.patch(f"/pec/{box['id']}/attivazione", json={"documenti": pdf_doc()})
        assert activating.status_code == 200, activating.text
        assert http.post("/_sandbox/advance").status_code == 200
        active = assert_ok(http.get(f"/pec/{box['id']}"), "GET", "/pec/{id}")
    assert active["stato"] == "evasa"
    assert active["data_attivazione"] == "29/02/2028"
    # the sandbox's rule: a year on from 29 February is 28 February
    assert active["data_scadenza"] == "28/02/2029"


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("value", ["nope", "2028-02-30", "29/02/2028", "1969-12-31", "9999-12-31T12:00Z"])
def test_a_bad_start_is_refused_naming_the_option(command: str, value: str) -> None:
    proc = _run(command, "--start", value)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2, (out, err)
    assert "--start" in err
    assert "ISO 8601 date or date-time" in err
    assert "listening" not in out


def test_start_is_the_clock_and_it_stands_there() -> None:
    with serving("python -m pec_ext.sandbox", *server_on_day_args()) as url:
        assert clock_of(url) == int(EPOCH)
        time.sleep(1.1)  # the clock stands still: only /_sandbox/advance moves it
        assert clock_of(url) == int(EPOCH)
        assert httpx.post(url + "/_sandbox/advance", json={"seconds": 60}, timeout=10).status_code == 200
        assert clock_of(url) == int(EPOCH) + 60


def test_without_start_the_clock_is_the_real_time() -> None:
    before = time.time()
    with serving("pec sandbox serve") as url:
        assert before - 1 <= clock_of(url) <= time.time() + 1


@pytest.mark.parametrize(("offset", "expected"), [(-86_400, 0), (86_400, 86_400)])
def test_with_db_a_later_clock_in_the_file_wins(tmp_path: Path, offset: int, expected: int) -> None:
    db = tmp_path / "s.sqlite"
    sandbox_on_day(db_path=db, callback_sender=record_only).close()  # its clock: EPOCH
    start = dt.datetime.fromtimestamp(EPOCH + offset, dt.UTC).isoformat()
    with serving("python -m pec_ext.sandbox", "--db", str(db), "--start", start) as url:
        assert clock_of(url) == int(EPOCH) + expected
