"""``timeout`` is a deadline for the whole call, against a real loopback server that drips its answer."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from pec_ext import AsyncPecClient, OutcomeUnknownError, PecClient, RequestTimeoutError

BODY = b'{"success":true,"message":"","error":null,"data":{"id":"6045fdee3a716847a978a471","stato":"evasa"}}'


class DrippingServer:
    """Answers every request with a 200 whose bytes come one every ``interval`` seconds.

    ``drip="body"``: the status line and headers at once, then the body byte by byte;
    ``drip="all"``: everything byte by byte, the status line included.
    """

    def __init__(self, drip: str, interval: float = 0.25) -> None:
        self.drip, self.interval = drip, interval
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.stopped = threading.Event()
        self.lines: list[str] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        self.listener.settimeout(0.1)
        while not self.stopped.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5)
            try:
                received = b""
                while b"\r\n\r\n" not in received:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    received += chunk
                self.lines.append(received.split(b"\r\n", 1)[0].decode("ascii", "replace"))
                head = (
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                    + f"content-length: {len(BODY)}\r\n\r\n".encode()
                )
                if self.drip == "body":
                    conn.sendall(head)
                    dripped = BODY
                else:
                    dripped = head + BODY
                for byte in dripped:
                    if self.stopped.is_set():
                        return
                    conn.sendall(bytes([byte]))
                    time.sleep(self.interval)
            except OSError:
                return

    @property
    def requests(self) -> int:
        return len(self.lines)

    def close(self) -> None:
        self.stopped.set()
        self.thread.join()
        self.listener.close()


@pytest.fixture
def dripping_body() -> Iterator[DrippingServer]:
    server = DrippingServer("body")
    yield server
    server.close()


@pytest.fixture
def dripping_all() -> Iterator[DrippingServer]:
    server = DrippingServer("all")
    yield server
    server.close()


def test_sync_read_ends_at_the_deadline(dripping_body):
    # ~25 s of dripping; each byte comes well within a read timeout, so only a deadline stops it.
    with PecClient("t", base_url=dripping_body.url, timeout=1.0, max_retries=3) as pec:
        start = time.monotonic()
        with pytest.raises(RequestTimeoutError):
            pec.get_mailbox("6045fdee3a716847a978a471")
        elapsed = time.monotonic() - start
    assert 0.9 < elapsed < 1.6
    assert dripping_body.requests == 1  # no time left for a resend


def test_sync_paid_call_dripped_is_an_unknown_outcome_at_the_deadline(dripping_body):
    with PecClient("t", base_url=dripping_body.url, timeout=1.0) as pec:
        start = time.monotonic()
        with pytest.raises(OutcomeUnknownError):
            pec.renew_mailbox("6045fdee3a716847a978a471")
        # the renewal's deadline, then the reconciling read's own deadline
        assert time.monotonic() - start < 2.6
    box = "/pec/6045fdee3a716847a978a471"
    assert dripping_body.lines == [f"GET {box}/rinnovo?anni=1 HTTP/1.1", f"GET {box} HTTP/1.1"]


@pytest.mark.parametrize("fixture", ["dripping_body", "dripping_all"])
async def test_async_ends_at_the_deadline_headers_included(fixture, request):
    server: DrippingServer = request.getfixturevalue(fixture)
    async with AsyncPecClient("t", base_url=server.url, timeout=1.0, max_retries=3) as pec:
        start = time.monotonic()
        with pytest.raises(RequestTimeoutError):
            await pec.get_mailbox("6045fdee3a716847a978a471")
        elapsed = time.monotonic() - start
    assert 0.9 < elapsed < 1.6
    assert server.requests == 1


async def test_with_options_timeout_applies_per_call(dripping_body):
    async with AsyncPecClient("t", base_url=dripping_body.url, timeout=60.0) as pec:
        start = time.monotonic()
        with pytest.raises(RequestTimeoutError):
            await asyncio.wait_for(pec.with_options(timeout=0.5).get_mailbox("x1"), timeout=5)
        assert time.monotonic() - start < 1.2


async def test_concurrent_calls_each_end_at_their_own_deadline(dripping_all):
    # Copies from with_options share one deadline timer: each call still ends at its own deadline.
    async with AsyncPecClient("t", base_url=dripping_all.url, max_retries=0) as pec:
        loop = asyncio.get_running_loop()
        start = loop.time()
        ended: dict[float, float] = {}

        async def call(timeout: float) -> None:
            with pytest.raises(RequestTimeoutError):
                await pec.with_options(timeout=timeout).get_mailbox("x1")
            ended[timeout] = loop.time() - start

        await asyncio.gather(call(1.5), call(0.5), call(1.0))
    for timeout, elapsed in ended.items():
        assert timeout - 0.05 < elapsed < timeout + 0.5, ended


async def test_a_cancellation_from_outside_is_not_a_timeout(dripping_all):
    async with AsyncPecClient("t", base_url=dripping_all.url, timeout=30) as pec:
        task = asyncio.create_task(pec.get_mailbox("x1"))
        await asyncio.sleep(0.3)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
