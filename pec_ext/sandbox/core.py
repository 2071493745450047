"""The ``Sandbox`` facade: one lock around the state, the clock, the wallet and the plumbing."""

from __future__ import annotations

import json
import random
import threading
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import httpx

from pec_ext import clock as pec_clock

from . import app
from .auth import TokenTable
from .callbacks import CallbackSender, HttpCallbackSender, SentCallback, deliver
from .clock import Clock, ManualClock
from .errors import SandboxError
from .lifecycle import Context, apply_job
from .persistence import SqliteStore
from .state import Record, State, box_view, comm_view
from .wallet import Prices, to_cents

if TYPE_CHECKING:
    from pec_ext.client import AsyncPecClient, PecClient

SANDBOX_BASE_URL = "https://sandbox.pec.invalid"
DEFAULT_TOKEN = "sandbox-token"  # noqa: S105 - not a secret, any non-empty token works
ADMIN_PREFIX = "/_sandbox"


class Sandbox:
    """A stateful simulator of Openapi's PEC API, reachable in-process or over HTTP.

    Asynchronous provider work (activation, business-register steps) is queued and only happens
    when :meth:`advance` is called, on a clock the caller owns.
    """

    def __init__(
        self,
        *,
        balance: float = 100.0,
        prices: Mapping[str, float] | None = None,
        tokens: Mapping[str, Iterable[str]] | None = None,
        strict_tokens: bool = False,
        clock: Clock | None = None,
        processing_delay: float = 0.0,
        owner: str = "sandbox@example.com",
        callback_sender: CallbackSender | None = None,
        db_path: str | Path | None = None,
    ) -> None:
        self._lock = threading.RLock()
        self.clock: Clock = clock if clock is not None else ManualClock()
        self.prices = Prices(prices)
        self.tokens = TokenTable(tokens, strict=strict_tokens)
        self.processing_delay = processing_delay
        self.owner = owner
        self._initial_cents = to_cents(balance)
        self._own_sender = callback_sender is None
        self._sender: CallbackSender = callback_sender or HttpCallbackSender()
        self.callbacks_sent: list[SentCallback] = []
        self.state = State(balance_cents=self._initial_cents)
        self._store = SqliteStore(db_path) if db_path is not None else None
        if self._store is not None:
            self._restore(self._store)

    def _restore(self, store: SqliteStore) -> None:
        snap = store.load()
        if snap.meta is None:
            store.save(self.state, self.clock.now())
            return
        # What the file holds wins over the constructor's balance: a restart must lose nothing.
        self.state.load_meta(snap.meta)
        self.state.boxes, self.state.comms, self.state.ledger = snap.boxes, snap.comms, snap.ledger
        if snap.now is not None and snap.now > self.clock.now():
            self.clock.set(snap.now)

    # ------------------------------------------------------------ inspection

    @property
    def balance(self) -> float:
        return self.state.balance_cents / 100

    @balance.setter
    def balance(self, value: float) -> None:
        with self._lock:
            self.state.balance_cents = to_cents(value)
            self._persist()

    @property
    def ledger(self) -> list[Record]:
        with self._lock:
            return [dict(entry) for entry in self.state.ledger]

    @property
    def pending(self) -> int:
        return len(self.state.jobs)

    def mailboxes(self) -> list[Record]:
        with self._lock:
            return [box_view(b) for b in self.state.boxes.values()]

    def communications(self) -> list[Record]:
        with self._lock:
            return [comm_view(c) for c in self.state.comms.values()]

    def summary(self) -> Record:
        with self._lock:
            return {
                "balance": self.balance,
                "now": int(self.clock.now()),
                "mailboxes": dict(Counter(b["stato"] for b in self.state.boxes.values())),
                "communications": dict(Counter(c["stato"] for c in self.state.comms.values())),
                "pending": len(self.state.jobs),
                "ledger_entries": len(self.state.ledger),
                "callbacks_sent": len(self.callbacks_sent),
            }

    # ------------------------------------------------------------ control

    def add_token(self, token: str, scopes: Iterable[str]) -> None:
        self.tokens.add(token, scopes)

    def reject_next_documents(self, count: int = 1) -> None:
        """The next ``count`` activation uploads end in ``documenti_errati`` after processing."""
        with self._lock:
            self.state.reject_next += count
            self._persist()

    def advance(self, seconds: float | None = None) -> int:
        """Run the provider's pending work; returns how many transitions completed.

        ``None`` completes everything queued, moving the clock to each job's due time if needed;
        a number moves the clock that far and completes what has come due.
        """
        with self._lock:
            if seconds is not None:
                self.clock.advance(seconds)
            limit = None if seconds is None else self.clock.now()
            due = sorted((j for j in self.state.jobs if limit is None or j.due <= limit), key=lambda j: j.due)
            ctx = self._context()
            for job in due:
                if job.due > self.clock.now():
                    self.clock.set(job.due)
                ctx.now = self.clock.now()
                self.state.jobs.remove(job)
                apply_job(ctx, job)
            self._persist(force=bool(due) or seconds is not None)
        self._deliver(ctx.outbox)
        return len(due)

    def reset(self) -> None:
        with self._lock:
            self.state = State(balance_cents=self._initial_cents)
            self.callbacks_sent.clear()
            if self._store is not None:
                self._store.clear()
                self._store.save(self.state, self.clock.now())

    def close(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None
        if self._own_sender and isinstance(self._sender, HttpCallbackSender):
            self._sender.close()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # ------------------------------------------------------------ request handling

    def _context(self) -> Context:
        return Context(self.state, self.prices, self.clock.now(), self.owner, self.processing_delay)

    def _persist(self, *, force: bool = False) -> None:
        if self._store is not None and (force or self.state.dirty):
            self._store.save(self.state, self.clock.now())

    def _deliver(self, outbox: list[tuple[Record, Record]]) -> None:
        # Outside the lock: a slow receiver must not stall the API.
        for callback, payload in outbox:
            sent = deliver(self._sender, callback, payload)
            with self._lock:
                self.callbacks_sent.append(sent)

    def handle(self, request: app.Request) -> app.Response:
        path = app.normalise_path(request.path)
        if path == ADMIN_PREFIX or path.startswith(ADMIN_PREFIX + "/"):
            return self._admin(request, path)
        text_errors = False
        outbox: list[tuple[Record, Record]] = []
        try:
            route, handler, arg = app.resolve(request.method, path)
            text_errors = route.text_errors
            headers = {k.lower(): v for k, v in request.headers.items()}
            self.tokens.check(headers.get("authorization"), request.method, path)
            with self._lock:
                ctx = self._context()
                outbox = ctx.outbox
                try:
                    return handler(ctx, request, arg)
                finally:
                    self._persist()
        except SandboxError as err:
            # 401/403 come from the gateway, which always speaks JSON
            return app.error_response(err, text=text_errors and err.status not in (401, 403))
        except Exception as exc:  # the simulator must answer, never hang up
            body = {"success": False, "message": f"sandbox error: {exc!r}", "error": 999, "data": None}
            return app.Response(500, json.dumps(body).encode())
        finally:
            self._deliver(outbox)

    def _admin(self, request: app.Request, path: str) -> app.Response:
        action = path[len(ADMIN_PREFIX) :].strip("/")
        method = request.method.upper()
        if action == "advance" and method == "POST":
            try:
                body = request.json()
                seconds = body.get("seconds")
                if seconds is not None and (
                    isinstance(seconds, bool) or not isinstance(seconds, int | float)
                ):
                    raise ValueError("seconds must be a number")
            except (SandboxError, ValueError) as exc:
                out = {"success": False, "message": str(exc), "error": None, "data": None}
                return app.Response(400, json.dumps(out).encode())
            completed = self.advance(None if seconds is None else float(seconds))
            return app.envelope({"completed": completed, **self.summary()})
        if action == "state" and method == "GET":
            return app.envelope(self.summary())
        if action == "reset" and method == "POST":
            self.reset()
            return app.envelope(self.summary())
        out = {"success": False, "message": f"no admin action {method} {path}", "error": None, "data": None}
        return app.Response(404, json.dumps(out).encode())

    # ------------------------------------------------------------ httpx integration

    def _httpx_handler(self, request: httpx.Request) -> httpx.Response:
        response = self.handle(
            app.Request(
                method=request.method,
                # still percent-encoded, like a real server's request line; routing decodes it
                path=request.url.raw_path.split(b"?", 1)[0].decode("ascii"),
                query=dict(request.url.params),
                headers=dict(request.headers),
                body=request.content,
            )
        )
        headers = {
            "content-type": response.content_type,
            "content-length": str(len(response.body)),
            **response.headers,
        }
        # A stream, not content=: a body read at construction leaves the response closed before
        # httpx times it, so ``elapsed`` would never be set.
        return httpx.Response(response.status, headers=headers, stream=httpx.ByteStream(response.body))

    def transport(self) -> httpx.MockTransport:
        """An in-process transport (no socket) for ``httpx.Client`` and ``httpx.AsyncClient``."""
        return httpx.MockTransport(self._httpx_handler)

    def virtual_clock(self) -> pec_clock.Clock:
        """A client clock on this sandbox's time: waiting moves it, and due work is processed.

        A client's backoff, ``wait_for_*`` polling and deadlines then take no real time: waiting
        30 s is ``advance(30)``, which also completes the provider work that came due.
        """

        def sleep(seconds: float) -> None:
            self.advance(seconds)

        async def async_sleep(seconds: float) -> None:
            self.advance(seconds)

        return pec_clock.Clock(
            monotonic=self.clock.now,
            wall=self.clock.now,
            sleep=sleep,
            async_sleep=async_sleep,
            # Seeded: the same test waits the same virtual time on every run.
            uniform=random.Random(0).uniform,  # noqa: S311 - jitter, not cryptography
        )

    def _client_options(self, kwargs: dict[str, Any], transport: Any) -> dict[str, Any]:
        kwargs.setdefault("token", DEFAULT_TOKEN)
        kwargs.setdefault("base_url", SANDBOX_BASE_URL)
        if "http_client" not in kwargs:
            kwargs.setdefault("transport", transport)
        kwargs.setdefault("clock", self.virtual_clock())
        return kwargs

    def client(self, **kwargs: Any) -> PecClient:
        """A ``pec_ext.PecClient`` wired to this sandbox (no socket), on the sandbox's virtual clock."""
        from pec_ext.client import PecClient

        return PecClient(**self._client_options(kwargs, self.transport()))

    def async_client(self, **kwargs: Any) -> AsyncPecClient:
        """A ``pec_ext.AsyncPecClient`` wired to this sandbox (no socket), on the sandbox's virtual clock."""
        from pec_ext.client import AsyncPecClient

        return AsyncPecClient(**self._client_options(kwargs, self.transport()))
