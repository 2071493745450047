"""The sandbox over real HTTP, on loopback by default, with the stdlib's threading server (bounded)."""

from __future__ import annotations

import contextlib
import json
import math
import re
import socket
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from . import app
from .core import Sandbox

DEFAULT_READ_TIMEOUT = 30.0
# The largest activation the client sends, two documents of 25 MiB base64-encoded (~67 MiB), with room.
DEFAULT_MAX_BODY = 96 * 1024 * 1024
# Connections served at once, one thread each (more wait their turn, see _Server).
DEFAULT_MAX_CONNECTIONS = 128
SLOT_WAIT = 1.0
REFUSAL_SEND_TIMEOUT = 0.5
_CONTENT_LENGTH = re.compile(r"[0-9]{1,15}")


class _ArrivalDeadlines:
    """Cuts off a connection whose next request has not fully arrived in time.

    The socket timeout alone bounds each silence, not the whole request: a client sending a
    byte now and then would hold a thread forever. One watcher thread shuts such sockets down.
    It also knows which connections are only waiting for a request (none is being answered), the
    ones the server may drop first when it is full.
    """

    def __init__(self, limit: float | None) -> None:
        self.limit = limit
        self._due: dict[socket.socket, float] = {}
        self._lock = threading.Lock()
        self._closed = threading.Event()
        if limit is not None:
            threading.Thread(target=self._watch, name="pec-sandbox-deadlines", daemon=True).start()

    def expect(self, conn: socket.socket) -> None:
        with self._lock:
            self._due[conn] = time.monotonic() + (self.limit if self.limit is not None else math.inf)

    def arrived(self, conn: socket.socket) -> None:
        with self._lock:
            self._due.pop(conn, None)

    def close(self) -> None:
        self._closed.set()

    def drop_oldest_waiting(self) -> bool:
        """Shuts down the connection waiting longest for its request; False when none waits."""
        with self._lock:
            if not self._due:
                return False
            oldest = min(self._due, key=self._due.__getitem__)
            del self._due[oldest]
        with contextlib.suppress(OSError):
            oldest.shutdown(socket.SHUT_RDWR)
        return True

    def _watch(self) -> None:
        assert self.limit is not None
        while not self._closed.wait(min(0.1, self.limit / 4)):
            now = time.monotonic()
            with self._lock:
                late = [conn for conn, due in self._due.items() if due <= now]
                for conn in late:
                    del self._due[conn]
            for conn in late:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)


class _Server(ThreadingHTTPServer):
    """One thread per connection, at most ``max_connections`` of them.

    A new connection beyond the cap takes the place of the one that has waited longest for its
    request (slow or idle clients go first, since they hold a thread and give it nothing to do);
    when every connection is being answered, the newcomer gets 503 with ``Retry-After`` at once.
    """

    daemon_threads = True
    # bursts of 100 concurrent clients must not be refused by a short accept backlog
    request_queue_size = 1024

    def __init__(
        self,
        address: tuple[str, int],
        sandbox: Sandbox,
        verbose: bool,
        read_timeout: float | None,
        max_body: int,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
    ) -> None:
        if isinstance(max_connections, bool) or not isinstance(max_connections, int) or max_connections < 1:
            raise ValueError(f"max_connections must be an integer >= 1, got {max_connections!r}")
        self.sandbox = sandbox
        self.verbose = verbose
        self.read_timeout = read_timeout
        self.max_body = max_body
        self.max_connections = max_connections
        self._slots = threading.BoundedSemaphore(max_connections)
        self.deadlines = _ArrivalDeadlines(read_timeout)
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False) and not (
            # the dropped connection's thread ends as soon as its read fails: wait for its slot
            self.deadlines.drop_oldest_waiting() and self._slots.acquire(timeout=SLOT_WAIT)
        ):
            self._refuse_busy(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def _refuse_busy(self, request: socket.socket) -> None:
        body = json.dumps(
            {
                "success": False,
                "message": f"the sandbox is answering {self.max_connections} connections; retry shortly",
                "error": None,
                "data": None,
            }
        ).encode()
        head = (
            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n"
        ).encode()
        # in the accepting thread: a client that does not read must not stall it
        with contextlib.suppress(OSError):
            request.settimeout(REFUSAL_SEND_TIMEOUT)
            request.sendall(head + body)
        self.shutdown_request(request)

    def server_close(self) -> None:
        self.deadlines.close()
        super().server_close()


def _refusal(status: int, message: str) -> app.Response:
    body = {"success": False, "message": message, "error": None, "data": None}
    return app.Response(status, json.dumps(body).encode())


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: benchmarks reuse connections
    # headers and body go out in two writes; with Nagle on, keep-alive clients stall ~40 ms each
    disable_nagle_algorithm = True
    server: _Server

    def setup(self) -> None:
        # a silent or slow client is dropped after the timeout, not waited on forever by a thread
        super().setup()
        self.connection.settimeout(self.server.read_timeout)

    def handle(self) -> None:
        # a client cut off (by a deadline, or its own reset) is no error worth a traceback
        with contextlib.suppress(OSError):
            super().handle()

    def handle_one_request(self) -> None:
        # the request line, headers and body must all arrive within the read timeout
        self.server.deadlines.expect(self.connection)
        try:
            super().handle_one_request()
        finally:
            self._arrived()

    def _arrived(self) -> None:
        self.server.deadlines.arrived(self.connection)

    def __getattr__(self, name: str) -> Callable[[], None]:
        # The stdlib answers an HTML 501 to a method without a ``do_`` handler: route every
        # method to the sandbox, which answers an unknown one 405 with the JSON envelope.
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)

    def _body_length(self) -> int | app.Response:
        """The announced body size, or the refusal to answer instead."""
        if "transfer-encoding" in self.headers:
            return _refusal(411, "Transfer-Encoding is not supported: send a Content-Length")
        values = self.headers.get_all("content-length") or []
        if not values:
            return 0
        if len(set(values)) != 1 or not _CONTENT_LENGTH.fullmatch(values[0].strip()):
            shown = ", ".join(values)
            return _refusal(400, f"Content-Length must be one non-negative integer, got {shown!r}")
        length = int(values[0])
        if length > self.server.max_body:
            return _refusal(413, f"the body is {length} bytes, more than the {self.server.max_body} accepted")
        return length

    def handle_expect_100(self) -> bool:
        # a body that will be refused is refused before the client sends it
        length = self._body_length()
        if isinstance(length, app.Response):
            self.close_connection = True
            self._send(length)
            return False
        return super().handle_expect_100()

    def _read_body(self) -> bytes | app.Response:
        """The whole body, or the refusal to answer instead (the connection is then closed)."""
        length = self._body_length()
        if isinstance(length, app.Response):
            return length
        if length == 0:
            return b""
        try:
            body = self.rfile.read(length)
        except TimeoutError:
            return _refusal(408, f"the body did not arrive within {self.server.read_timeout} s")
        if len(body) != length:
            # the client stopped early: a short body is never processed as if it were complete
            return _refusal(400, f"the body ended after {len(body)} of {length} bytes")
        return body

    def _serve(self) -> None:
        body = self._read_body()
        self._arrived()  # handling the request may take its time; only the arrival is timed
        if isinstance(body, app.Response):
            self.close_connection = True  # what remains of the stream cannot be trusted
            self._send(body)
            return
        split = urlsplit(self.path)
        self._send(
            self.server.sandbox.handle(
                app.Request(
                    method=self.command,
                    path=split.path,
                    query=dict(parse_qsl(split.query, keep_blank_values=True)),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                    client=str(self.client_address[0]),
                )
            )
        )

    def _send(self, response: app.Response) -> None:
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = do_HEAD = _serve

    def log_message(self, format: str, *args: object) -> None:
        if self.server.verbose:
            sys.stderr.write(f"{self.address_string()} - {format % args}\n")


class SandboxServer:
    """``with SandboxServer(Sandbox()) as srv: httpx.get(srv.url + "/pec", ...)``."""

    def __init__(
        self,
        sandbox: Sandbox | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        verbose: bool = False,
        read_timeout: float | None = DEFAULT_READ_TIMEOUT,
        max_body: int = DEFAULT_MAX_BODY,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
    ) -> None:
        """``read_timeout``: seconds a connection may stay silent (``None``: forever);
        ``max_body``: the largest request body accepted, in bytes (larger ones are answered 413);
        ``max_connections``: connections served at once, a thread each (beyond it, the one
        waiting longest for its request is dropped, or the newcomer gets 503 if none waits)."""
        self.sandbox = sandbox if sandbox is not None else Sandbox()
        self._httpd = _Server((host, port), self.sandbox, verbose, read_timeout, max_body, max_connections)
        self._thread: threading.Thread | None = None

    @property
    def host(self) -> str:
        return str(self._httpd.server_address[0])

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> SandboxServer:
        # a receiver that is slow or down must not hold up the API's answers
        self.sandbox.deliver_in_background()
        if self._thread is None:
            # a short poll keeps stop() (and so every test using the server) fast
            self._thread = threading.Thread(
                target=self._httpd.serve_forever,
                kwargs={"poll_interval": 0.05},
                name="pec-sandbox-server",
                daemon=True,
            )
            self._thread.start()
        return self

    def serve_forever(self) -> None:
        self.sandbox.deliver_in_background()
        self._httpd.serve_forever()

    def stop(self) -> None:
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
            self._thread = None
        self._httpd.server_close()
        self.sandbox.deliver_in_background(False)

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
