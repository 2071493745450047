"""Regression tests for the faults an adversarial run found in the sandbox (issue 11, points 6-14).

Faults about HTTP framing, slow clients, methods and kill -9 run against the real server on loopback:
``SandboxServer`` in a thread, or ``python -m pec_ext.sandbox`` as a subprocess killed by its PID.
"""

from __future__ import annotations

import json
import math
import os
import select
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from pec_ext.sandbox import ManualClock, Sandbox, SandboxServer, record_only
from pec_ext.sandbox.__main__ import build_parser
from pec_ext.sandbox.persistence import CorruptStateError
from tests.support.dates import sandbox_on_day, server_on_day_args
from tests.support.http_stack import httpx
from tests.support.sandbox import box_body, pdf_doc

ROOT = Path(__file__).resolve().parents[2]
HEADERS = {"Authorization": "Bearer t"}


def assert_envelope(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    payload = response.json()
    assert payload["success"] is False
    assert payload["data"] is None
    assert payload["message"]
    return payload  # type: ignore[no-any-return]


# ------------------------------------------------------------------ a real server, raw sockets


@pytest.fixture
def server() -> Iterator[SandboxServer]:
    with SandboxServer(
        sandbox_on_day(callback_sender=record_only), read_timeout=2.0, max_body=64 * 1024
    ) as srv:
        yield srv


def raw_exchange(
    srv: SandboxServer, data: bytes, *, half_close: bool = False
) -> tuple[int, dict[str, str], bytes]:
    """Send raw bytes, read one HTTP answer; the server must answer, never just hang up."""
    with socket.create_connection((srv.host, srv.port), timeout=10) as sock:
        sock.sendall(data)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        received = b""
        while b"\r\n\r\n" not in received:
            chunk = sock.recv(65536)
            assert chunk, f"connection closed without an answer after {received!r}"
            received += chunk
        head, _, body = received.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        length = 0 if data.startswith(b"HEAD ") else int(headers["content-length"])
        while len(body) < length:
            chunk = sock.recv(65536)
            assert chunk, "answer cut short"
            body += chunk
        return status, headers, body


def request_bytes(method: str, path: str, body: bytes = b"", content_length: str | None = None) -> bytes:
    length = str(len(body)) if content_length is None else content_length
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t\r\nContent-Length: {length}\r\n\r\n"
    )
    return head.encode() + body


def raw_envelope(answer: tuple[int, dict[str, str], bytes], status: int) -> str:
    got, headers, body = answer
    assert got == status, body
    assert headers["content-type"].startswith("application/json")
    payload = json.loads(body)
    assert payload["success"] is False
    assert payload["data"] is None
    return str(payload["message"])


# ------------------------------------------------------------------ a real process


@contextmanager
def sandbox_process(*args: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    env = {"PYTHONPATH": f"{ROOT}:{ROOT / 'generated'}", "PATH": "/usr/bin:/bin"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "pec_ext.sandbox", "--port", "0", *server_on_day_args(), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("PEC sandbox listening on "), (line, proc.stderr and proc.stderr.read())
        yield proc, line.rsplit(" ", 1)[1].strip()
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


# ------------------------------------------------------------------ 6: a non-finite clock


BAD_SECONDS = ("NaN", "Infinity", "-Infinity", "-1", "1e300", "1e999")


@pytest.mark.parametrize("raw", [b'{"seconds": %s}' % value.encode() for value in BAD_SECONDS])
def test_advance_accepts_only_finite_non_negative_seconds(server: SandboxServer, raw: bytes) -> None:
    before = server.sandbox.clock.now()
    message = raw_envelope(raw_exchange(server, request_bytes("POST", "/_sandbox/advance", raw)), 400)
    assert "seconds" in message
    assert server.sandbox.clock.now() == before
    with httpx.Client(base_url=server.url, headers=HEADERS) as http:
        assert http.get("/domini_pec/example.com").status_code == 200  # the clock is not poisoned
        assert http.post("/_sandbox/advance", json={"seconds": 5}).status_code == 200
    assert server.sandbox.clock.now() == before + 5


def test_python_api_refuses_a_non_finite_advance() -> None:
    sb = sandbox_on_day(callback_sender=record_only)
    for bad in (math.nan, math.inf, -1.0):
        with pytest.raises(ValueError, match="seconds must be a finite number >= 0"):
            sb.advance(bad)
    with pytest.raises(ValueError, match="year 9999"):
        sb.advance(1e300)


def test_a_non_finite_clock_on_disk_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "s.sqlite"
    sandbox_on_day(db_path=db, callback_sender=record_only).close()
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE meta SET value = 'Infinity' WHERE key = 'now'")
    with pytest.raises(CorruptStateError, match="non-finite sandbox clock"):
        sandbox_on_day(db_path=db, callback_sender=record_only)
    env = {"PYTHONPATH": f"{ROOT}:{ROOT / 'generated'}", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-m", "pec_ext.sandbox", "--port", "0", "--db", str(db), *server_on_day_args()],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert "non-finite sandbox clock" in done.stderr
    assert "Traceback" not in done.stderr


# ------------------------------------------------------------------ 7: charges survive kill -9


def test_domain_check_charges_survive_kill_9(tmp_path: Path) -> None:
    db = str(tmp_path / "s.sqlite")
    with sandbox_process("--db", db) as (_, url), httpx.Client(base_url=url, headers=HEADERS) as http:
        for n in range(20):
            assert http.get(f"/domini_pec/d{n}.example.com").status_code == 200
    # the context manager ended the process with SIGKILL: nothing ran after the last answer
    with sandbox_process("--db", db) as (_, url):
        state = httpx.get(url + "/_sandbox/state").json()["data"]
    assert state["balance"] == pytest.approx(100 - 20 * 0.05)
    assert state["ledger_entries"] == 20


# ------------------------------------------------------------------ 8: one transaction per request


@contextmanager
def write_lock(db: Path) -> Iterator[sqlite3.Connection]:
    """Another process's write transaction on the same file."""
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    finally:
        conn.execute("ROLLBACK")
        conn.close()


def open_db_sandbox(db: Path, **kwargs: object) -> tuple[Sandbox, httpx.Client]:
    sb = Sandbox(db_path=db, callback_sender=record_only, clock=ManualClock(1_700_000_000), **kwargs)  # type: ignore[arg-type]
    return sb, httpx.Client(transport=sb.transport(), base_url="https://x", headers=HEADERS)


def test_a_request_that_cannot_be_saved_is_not_applied_and_says_so(tmp_path: Path) -> None:
    db = tmp_path / "s.sqlite"
    sb, http = open_db_sandbox(db, db_busy_timeout=0.2)
    with write_lock(db):
        payload = assert_envelope(http.post("/pec", json=box_body()), 503)
        assert payload["error"] == 930
        assert "nothing was applied" in str(payload["message"])
        assert_envelope(http.get("/domini_pec/example.com"), 503)
        assert sb.balance == 100.0
        assert sb.ledger == []
        assert sb.mailboxes() == []
    # the answer told the truth: a retry is charged exactly once
    assert http.post("/pec", json=box_body()).status_code == 200
    assert sb.balance == 92.0
    assert len(sb.ledger) == 1
    assert len(sb.mailboxes()) == 1
    sb.close()
    sb2, _ = open_db_sandbox(db)
    assert sb2.balance == 92.0
    assert len(sb2.ledger) == 1
    assert len(sb2.mailboxes()) == 1
    sb2.close()


def test_a_briefly_busy_file_is_waited_for(tmp_path: Path) -> None:
    db = tmp_path / "s.sqlite"
    sb, http = open_db_sandbox(db, db_busy_timeout=10.0)
    other = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    timer = threading.Timer(0.3, other.execute, args=("COMMIT",))
    timer.start()
    try:
        assert http.post("/pec", json=box_body()).status_code == 200
    finally:
        timer.join()
        other.close()
    assert sb.balance == 92.0
    sb.close()


def test_advance_that_cannot_be_saved_leaves_clock_and_queue_alone(tmp_path: Path) -> None:
    db = tmp_path / "s.sqlite"
    sb, http = open_db_sandbox(db, db_busy_timeout=0.2, processing_delay=10)
    box_id = http.post("/pec", json=box_body()).json()["data"]["id"]
    http.patch(f"/pec/{box_id}/attivazione", json={"documenti": pdf_doc()})
    with write_lock(db):
        assert_envelope(http.post("/_sandbox/advance", json={"seconds": 60}), 503)
    assert sb.clock.now() == 1_700_000_000
    assert sb.pending == 1
    assert http.get(f"/pec/{box_id}").json()["data"]["stato"] == "in_evasione"
    sb.close()


# ------------------------------------------------------------------ 9: deeply nested JSON


def test_deeply_nested_json_is_a_400(server: SandboxServer) -> None:
    deep = b"[" * 20_000 + b"]" * 20_000
    assert raw_envelope(raw_exchange(server, request_bytes("POST", "/pec", deep)), 400)
    assert raw_envelope(raw_exchange(server, request_bytes("POST", "/_sandbox/advance", deep)), 400)
    nested = b'{"seconds": ' + b"[" * 20_000 + b"]" * 20_000 + b"}"
    assert raw_envelope(raw_exchange(server, request_bytes("POST", "/_sandbox/advance", nested)), 400)


# ------------------------------------------------------------------ 10: Content-Length


@pytest.mark.parametrize("value", ["abc", "1e3", "9" * 20, "-5", "12, 13", ""])
def test_a_bad_content_length_is_a_400(server: SandboxServer, value: str) -> None:
    body = json.dumps(box_body()).encode()
    message = raw_envelope(raw_exchange(server, request_bytes("POST", "/pec", body, value)), 400)
    assert "Content-Length" in message
    assert server.sandbox.mailboxes() == []
    assert server.sandbox.ledger == []


def test_a_truncated_body_is_never_processed(server: SandboxServer) -> None:
    body = json.dumps(box_body()).encode()  # a complete JSON object, but less than announced
    answer = raw_exchange(server, request_bytes("POST", "/pec", body, str(len(body) + 100)), half_close=True)
    assert f"ended after {len(body)} of {len(body) + 100} bytes" in raw_envelope(answer, 400)
    assert server.sandbox.mailboxes() == []
    assert server.sandbox.balance == 100.0


# ------------------------------------------------------------------ 11: empty anni


def test_renewal_with_an_empty_anni_is_refused_and_free(server: SandboxServer) -> None:
    sb = server.sandbox
    with httpx.Client(base_url=server.url, headers=HEADERS) as http:
        box_id = http.post("/pec", json=box_body()).json()["data"]["id"]
        sb.state.boxes[box_id]["stato"] = "revocata"
        balance, ledger = sb.balance, len(sb.ledger)
        payload = assert_envelope(http.get(f"/pec/{box_id}/rinnovo?anni="), 406)
        assert payload == {"success": False, "message": "anni not valid", "error": 911, "data": None}
        assert (sb.balance, len(sb.ledger)) == (balance, ledger)
        assert http.get(f"/pec/{box_id}/rinnovo").status_code == 200  # absent still means one year


# ------------------------------------------------------------------ 12: slow clients, big bodies


def test_silent_connections_are_closed_after_the_read_timeout() -> None:
    with SandboxServer(sandbox_on_day(callback_sender=record_only), read_timeout=0.3) as srv:
        slow = [socket.create_connection((srv.host, srv.port), timeout=10) for _ in range(60)]
        try:
            for n, sock in enumerate(slow):
                sock.sendall(b"POST /pec HTTP/1.1\r\nContent-Length: 10\r\n\r\n{" if n % 2 else b"GET /pe")
            deadline = time.monotonic() + 10
            for sock in slow:
                sock.settimeout(max(0.1, deadline - time.monotonic()))
                data = sock.recv(65536)
                while data:  # a 408 for the half-sent body, then the close
                    data = sock.recv(65536)
            assert httpx.get(srv.url + "/_sandbox/state").status_code == 200
        finally:
            for sock in slow:
                sock.close()


@pytest.mark.parametrize(
    "head", [b"GET /pec HTTP/1.1\r\nX-Slow: ", b"POST /pec HTTP/1.1\r\nContent-Length: 999\r\n\r\n"]
)
def test_a_dribbling_client_is_cut_off_at_the_deadline(head: bytes) -> None:
    """One byte every 0.1 s never trips a 0.5 s socket timeout; the request deadline still does."""
    with SandboxServer(sandbox_on_day(callback_sender=record_only), read_timeout=0.5) as srv:
        with socket.create_connection((srv.host, srv.port), timeout=5) as sock:
            sock.sendall(head)
            start = time.monotonic()
            closed = False
            while not closed and time.monotonic() - start < 5:
                try:
                    sock.sendall(b"x")
                except OSError:
                    break
                ready, _, _ = select.select([sock], [], [], 0.1)
                if ready:
                    try:
                        closed = sock.recv(65536) == b"" or closed
                        while not closed:  # an answer (400/408) may come first, then the close
                            closed = sock.recv(65536) == b""
                    except OSError:
                        closed = True
            assert time.monotonic() - start < 3
        assert httpx.get(srv.url + "/_sandbox/state").status_code == 200


def test_a_body_over_the_limit_is_a_413(server: SandboxServer) -> None:
    head = request_bytes("POST", "/pec", content_length=str(64 * 1024 + 1))
    assert "more than the 65536 accepted" in raw_envelope(raw_exchange(server, head), 413)
    # with Expect: 100-continue the refusal comes instead of the "100 Continue"
    expect = head.replace(b"\r\n\r\n", b"\r\nExpect: 100-continue\r\n\r\n")
    assert "more than the 65536 accepted" in raw_envelope(raw_exchange(server, expect), 413)
    assert server.sandbox.mailboxes() == []


# ------------------------------------------------------------------ 13: methods


@pytest.mark.parametrize("method", ["OPTIONS", "TRACE", "BREW", "PUT", "HEAD"])
@pytest.mark.parametrize("path", ["/pec", "/nowhere", "/_sandbox/state"])
def test_unknown_methods_are_a_405_envelope(server: SandboxServer, method: str, path: str) -> None:
    status, headers, body = raw_exchange(server, request_bytes(method, path))
    assert status == 405
    assert headers["content-type"].startswith("application/json")
    if method != "HEAD":
        assert json.loads(body)["message"] == f"method {method} not allowed on {path}"


# ------------------------------------------------------------------ 14: strict tokens over HTTP


def test_strict_token_mode_from_the_command_line() -> None:
    args = ["--token", "reader=GET:pec.openapi.it/pec", "--token", "admin=*:pec.openapi.it/*"]
    with sandbox_process(*args) as (_, url):

        def get(token: str | None, path: str = "/pec") -> httpx.Response:
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            return httpx.get(url + path, headers=headers)

        assert_envelope(get(None), 401)
        assert_envelope(get("anything-else"), 401)
        assert get("reader").status_code == 404  # authenticated and in scope: no mailbox yet
        assert "GET:pec.openapi.it/comunica_pec" in str(
            assert_envelope(get("reader", "/comunica_pec"), 403)["message"]
        )
        assert (
            httpx.post(url + "/pec", json=box_body(), headers={"Authorization": "Bearer reader"}).status_code
            == 403
        )
        assert (
            httpx.post(url + "/pec", json=box_body(), headers={"Authorization": "Bearer admin"}).status_code
            == 200
        )


def test_token_option_is_validated_and_documented(capsys: pytest.CaptureFixture[str]) -> None:
    parser = build_parser()
    assert parser.parse_args(["--token", "t=GET:pec.openapi.it/pec,POST:pec.openapi.it/pec"]).tokens == [
        ("t", ("GET:pec.openapi.it/pec", "POST:pec.openapi.it/pec"))
    ]
    for bad in ("no-equals", "=GET:pec.openapi.it/pec", "t=pec"):
        with pytest.raises(SystemExit):
            parser.parse_args(["--token", bad])
        assert "--token" in capsys.readouterr().err
    help_text = parser.format_help()
    assert "TOKEN=SCOPE" in help_text
    assert "strict-token mode" in help_text


def test_the_default_body_limit_admits_the_largest_activation_the_client_sends() -> None:
    from pec_ext.documents.reading import DEFAULT_MAX_BYTES
    from pec_ext.sandbox.server import DEFAULT_MAX_BODY

    # two documents of the client's largest size, base64-encoded, plus the JSON around them
    largest = 2 * 4 * -(-DEFAULT_MAX_BYTES // 3) + 1024
    assert largest <= DEFAULT_MAX_BODY
