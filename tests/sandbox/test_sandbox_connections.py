"""The HTTP server's threads are bounded (issue 19, point 16): 300 trickling clients, a few threads.

A real server on 127.0.0.1 and real sockets: every client sends part of a request line and a byte
now and then, which no socket timeout catches. The server keeps at most ``max_connections``
connection threads, drops the connection that has waited longest for its request to take a new
one, and refuses with 503 only when every connection is being answered.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator

import pytest

from pec_ext.sandbox import Sandbox, SandboxServer, record_only
from pec_ext.sandbox.app import Request, Response
from tests.support.dates import sandbox_clock, sandbox_on_day
from tests.support.http_stack import httpx

CAP = 16
TRICKLERS = 300


def _connection_threads() -> int:
    # the server names no connection thread; everything else of this process is counted too
    return threading.active_count()


@pytest.fixture
def trickling() -> Iterator[list[socket.socket]]:
    sockets: list[socket.socket] = []
    yield sockets
    for sock in sockets:
        sock.close()


def test_trickling_clients_keep_the_threads_bounded_and_a_normal_request_is_served(
    trickling: list[socket.socket],
) -> None:
    before = _connection_threads()
    with SandboxServer(
        sandbox_on_day(callback_sender=record_only), max_connections=CAP, read_timeout=30
    ) as srv:
        peak = 0
        for n in range(TRICKLERS):
            sock = socket.create_connection((srv.host, srv.port), timeout=10)
            sock.sendall(b"GET /pec HTTP/1.1\r\nX-Slow: ")
            trickling.append(sock)
            if n % 20 == 0:
                for alive in trickling:
                    with contextlib.suppress(OSError):
                        alive.send(b"x")  # a byte now and then: never silent long enough to time out
                peak = max(peak, _connection_threads())
        for alive in trickling:
            with contextlib.suppress(OSError):
                alive.send(b"x")
        peak = max(peak, _connection_threads())
        # without a cap: one thread per trickler (300+); with it, CAP plus the server's own few
        assert peak - before <= CAP + 4, peak - before
        answer = httpx.get(srv.url + "/pec", headers={"Authorization": "Bearer t"}, timeout=10)
        assert answer.status_code == 404  # served: no box yet
        assert answer.json()["error"] == 200
        assert _connection_threads() - before <= CAP + 4


class _HeldSandbox(Sandbox):
    """Holds every PEC request until released: connections that are being answered."""

    def __init__(self) -> None:
        super().__init__(callback_sender=record_only, clock=sandbox_clock())
        self.entered = threading.Semaphore(0)
        self.release = threading.Event()

    def handle(self, request: Request) -> Response:
        if request.path == "/pec":
            self.entered.release()
            self.release.wait(10)
        return super().handle(request)


def test_when_every_connection_is_being_answered_a_newcomer_gets_503() -> None:
    sandbox = _HeldSandbox()
    with SandboxServer(sandbox, max_connections=2, read_timeout=30) as srv:
        held: list[threading.Thread] = []
        answers: list[int] = []
        for _ in range(2):
            thread = threading.Thread(
                target=lambda: answers.append(
                    httpx.get(srv.url + "/pec", headers={"Authorization": "Bearer t"}, timeout=20).status_code
                )
            )
            thread.start()
            held.append(thread)
        for _ in range(2):
            assert sandbox.entered.acquire(timeout=10)
        refused = httpx.get(srv.url + "/_sandbox/state", timeout=10)
        assert refused.status_code == 503
        assert refused.headers["retry-after"] == "1"
        assert refused.json()["success"] is False
        assert "2 connections" in refused.json()["message"]
        sandbox.release.set()
        for thread in held:
            thread.join(20)
        assert answers == [404, 404]
        assert httpx.get(srv.url + "/_sandbox/state", timeout=10).status_code == 200


def test_the_cap_is_validated() -> None:
    with pytest.raises(ValueError, match="max_connections"):
        SandboxServer(sandbox_on_day(callback_sender=record_only), max_connections=0)
