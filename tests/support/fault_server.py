"""A loopback HTTP server that misbehaves on purpose, in front of a real ``Sandbox``.

Each request is matched against scripted rules (method + path regex); a rule hands out one
:class:`Action` per request (or the same one forever) and requests no rule claims are applied to
the sandbox and answered normally. Actions can apply the request to the sandbox *and then* drop the
connection, stall, truncate the body, or answer something a proxy or a broken server would.

Raw sockets rather than ``http.server``: a fault must be exactly the bytes (or the silence) asked for.
Every wait is bounded, and :meth:`FaultServer.stop` wakes stalled handlers and closes every socket.
"""

from __future__ import annotations

import contextlib
import re
import socket
import struct
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import TracebackType
from urllib.parse import parse_qsl, urlsplit

from pec_ext.sandbox import Sandbox
from pec_ext.sandbox import app as sandbox_app
from tests.support.dates import sandbox_on_day

READ_TIMEOUT = 5.0
MAX_HEADER_LINES = 100
REASONS = {200: "OK", 401: "Unauthorized", 429: "Too Many Requests", 500: "Internal Server Error"}
REASONS |= {502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}


@dataclass(frozen=True)
class Action:
    """What to do with one request.

    kind: ``pass`` (apply, answer), ``drop`` (close without answering), ``stall`` (wait ``delay``
    seconds, then close), ``respond`` (answer ``status``/``headers``/``body`` verbatim),
    ``truncate`` (the sandbox's answer with its full Content-Length but half its body, then close).
    ``apply`` first applies the request to the sandbox (for drop, stall and respond); ``reset`` closes
    with a TCP RST instead of a FIN.
    """

    kind: str = "pass"
    apply: bool = False
    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    delay: float = 0.0
    reset: bool = False


PASS = Action()


@dataclass
class _Rule:
    method: str
    path: re.Pattern[str]
    actions: deque[Action] | None
    forever: Action | None

    def take(self) -> Action | None:
        if self.forever is not None:
            return self.forever
        assert self.actions is not None
        return self.actions.popleft() if self.actions else None


@dataclass
class Received:
    method: str
    path: str
    action: str
    headers: dict[str, str] = field(default_factory=dict)


class FaultServer:
    def __init__(self, sandbox: Sandbox | None = None) -> None:
        self.sandbox = sandbox if sandbox is not None else sandbox_on_day(balance=10_000.0)
        self.received: list[Received] = []
        self._rules: list[_Rule] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._conns: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._listener = socket.create_server(("127.0.0.1", 0), backlog=256)
        self._listener.settimeout(0.2)
        self._acceptor = threading.Thread(target=self._accept_loop, name="fault-server", daemon=True)

    # -- scripting ------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def script(self, method: str, path: str, *actions: Action, forever: Action | None = None) -> None:
        """Requests matching ``method`` and the regex ``path`` get ``actions`` in turn (or ``forever``)."""
        rule = _Rule(method.upper(), re.compile(path), deque(actions) if forever is None else None, forever)
        with self._lock:
            self._rules.append(rule)

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def count(self, method: str, path: str = r".*") -> int:
        pattern = re.compile(path)
        with self._lock:
            return sum(1 for r in self.received if r.method == method and pattern.fullmatch(r.path))

    def open_connections(self) -> int:
        with self._lock:
            return len(self._conns)

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> FaultServer:
        self._acceptor.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes a blocked accept() at once
        self._acceptor.join(timeout=5)
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            _close(conn)
        for thread in list(self._threads):
            thread.join(timeout=5)
        self._listener.close()

    def __enter__(self) -> FaultServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- serving --------------------------------------------------------------------------------

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(READ_TIMEOUT)
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self._conns.add(conn)
                self._threads = [t for t in self._threads if t.is_alive()]
                thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
                self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        reset = False
        try:
            stream = conn.makefile("rb")
            for method, target, headers, body in _requests(stream):
                action = self._action(method, urlsplit(target).path)
                with self._lock:
                    self.received.append(Received(method, urlsplit(target).path, action.kind, headers))
                keep_open = self._perform(conn, action, method, target, headers, body)
                if not keep_open:
                    reset = action.reset
                    return
        except OSError:
            return
        finally:
            with self._lock:
                self._conns.discard(conn)
            if reset:
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            _close(conn)

    def _action(self, method: str, path: str) -> Action:
        with self._lock:
            for rule in self._rules:
                if rule.method == method and rule.path.fullmatch(path):
                    action = rule.take()
                    if action is not None:
                        return action
        return PASS

    def _apply(self, method: str, target: str, headers: dict[str, str], body: bytes) -> sandbox_app.Response:
        split = urlsplit(target)
        return self.sandbox.handle(
            sandbox_app.Request(
                method=method,
                path=split.path,
                query=dict(parse_qsl(split.query, keep_blank_values=True)),
                headers=headers,
                body=body,
            )
        )

    def _perform(
        self,
        conn: socket.socket,
        action: Action,
        method: str,
        target: str,
        headers: dict[str, str],
        body: bytes,
    ) -> bool:
        """Carry ``action`` out; True when the connection stays open for the next request."""
        if action.kind == "pass" or action.apply or action.kind == "truncate":
            answer = self._apply(method, target, headers, body)
        if action.kind == "pass":
            conn.sendall(
                _head(answer.status, answer.content_type, len(answer.body), answer.headers) + answer.body
            )
            return True
        if action.kind == "truncate":
            head = _head(answer.status, answer.content_type, len(answer.body), answer.headers)
            conn.sendall(head + answer.body[: len(answer.body) // 2])
            return False
        if action.kind == "respond":
            extra = dict(action.headers)
            content_type = extra.pop("content-type", "application/json")
            conn.sendall(_head(action.status, content_type, len(action.body), extra) + action.body)
            return extra.get("connection") != "close"
        if action.kind == "stall":
            self._stop.wait(action.delay)
            return False
        if action.kind == "drop":
            return False
        raise ValueError(f"unknown action {action.kind}")


def _requests(stream: object) -> Iterator[tuple[str, str, dict[str, str], bytes]]:
    readline = getattr(stream, "readline")  # noqa: B009
    read = getattr(stream, "read")  # noqa: B009
    while True:
        line = readline(65537)
        if not line or not line.strip():
            return
        method, target, _ = line.decode("latin-1").split(" ", 2)
        headers: dict[str, str] = {}
        for _ in range(MAX_HEADER_LINES):
            raw = readline(65537)
            if not raw or raw in (b"\r\n", b"\n"):
                break
            name, _, value = raw.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length") or 0)
        body = read(length) if length else b""
        yield method.upper(), target, headers, body


def _head(status: int, content_type: str, length: int, headers: dict[str, str]) -> bytes:
    lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}", f"Content-Type: {content_type}"]
    lines.append(f"Content-Length: {length}")
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _close(conn: socket.socket) -> None:
    with contextlib.suppress(OSError):
        conn.close()
