"""The ``Sandbox`` facade: one lock around the state, the clock, the wallet and the plumbing."""

from __future__ import annotations

import functools
import json
import math
import random
import sqlite3
import threading
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from pec_ext import config
from pec_ext._engine import clock as pec_clock
from pec_ext._engine import stack as http_stack

from . import app, usage
from .auth import TokenTable
from .callbacks import CallbackDispatcher, CallbackSender, HttpCallbackSender, SentCallback
from .clock import ManualClock, SandboxClock
from .errors import SandboxError, fail
from .lifecycle import Context, apply_job
from .massiva import DEFAULT_DELIVERY_DELAY, MassivaService, Refusal, is_massiva_request
from .massiva import HOSTS as MASSIVA_HOSTS
from .oauth import PATH_PREFIX as OAUTH_PREFIX
from .oauth import OAuthService, is_oauth_request
from .persistence import Snapshot, SqliteStore
from .state import Record, State, box_view, comm_view
from .wallet import Prices, to_cents

if TYPE_CHECKING:
    import httpx

    from pec_ext._pec.client import AsyncPecClient, PecClient
    from pec_ext.account.client import AccountClient, AsyncAccountClient

SANDBOX_BASE_URL = "https://sandbox.pec.invalid"
DEFAULT_TOKEN = "sandbox-token"  # noqa: S105 - not a secret, any non-empty token works
ADMIN_PREFIX = "/_sandbox"
# 9999-12-31T00:00:00Z: beyond it dates cannot be rendered, so the clock may not go further
LATEST_CLOCK = 253_402_214_400.0


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
        clock: SandboxClock | None = None,
        processing_delay: float = 0.0,
        owner: str = "sandbox@example.com",
        callback_sender: CallbackSender | None = None,
        db_path: str | Path | None = None,
        db_busy_timeout: float = 10.0,
        account: tuple[str, str] | None = None,
        account_scopes: Iterable[str] | None = None,
        strict_accounts: bool = False,
        callback_attempts: int = 5,
        callback_backoff: float = 0.5,
        massiva_delay: float = DEFAULT_DELIVERY_DELAY,
    ) -> None:
        self._lock = threading.RLock()
        self.clock: SandboxClock = clock if clock is not None else ManualClock()
        self.prices = Prices(prices)
        self.tokens = TokenTable(tokens, strict=strict_tokens)
        self.processing_delay = processing_delay
        self.owner = owner
        self._initial_cents = to_cents(balance)
        self._own_sender = callback_sender is None
        self._sender: CallbackSender = callback_sender or HttpCallbackSender()
        self.callbacks_sent: list[SentCallback] = []
        self._callbacks = CallbackDispatcher(
            self._sender,
            self.callbacks_sent,
            self._lock,
            attempts=callback_attempts,
            backoff=callback_backoff,
        )
        self.state = State(balance_cents=self._initial_cents)
        self.created_at = self.clock.now()
        # The OAuth v2 account service on the same server (``/oauth/...``; see oauth.py).
        # strict_accounts: only ``account`` may mint tokens, within ``account_scopes`` (all when
        # None); the server's strict-token mode sets it, so its OAuth emulation is no way around it.
        self.oauth = OAuthService(
            self,
            account,
            account_scopes=None if account_scopes is None else list(account_scopes),
            strict_accounts=strict_accounts,
        )
        # The PEC Massiva sending API on the same server (``/pecmassiva/...``; see massiva.py).
        self.massiva = MassivaService(self, massiva_delay)
        self._store = None if db_path is None else SqliteStore(db_path, busy_timeout=db_busy_timeout)
        if self._store is not None:
            self._restore(self._store)

    def _restore(self, store: SqliteStore) -> None:
        snap = store.load()
        if snap.meta is None:
            store.save(self.state, self.clock.now())
            return
        # What the file holds wins over the constructor's balance: a restart must lose nothing.
        self._load(snap)
        if snap.now is not None and snap.now > self.clock.now():
            self.clock.set(snap.now)
        for token, record in self.state.tokens.items():
            self.tokens.add(token, record["scopes"], expires_at=record["expires"])

    def _load(self, snap: Snapshot) -> None:
        state = State(balance_cents=self._initial_cents)
        if snap.meta is not None:
            state.load_meta(snap.meta)
        state.boxes, state.comms, state.ledger = snap.boxes, snap.comms, snap.ledger
        state.sendings, state.messages = snap.sendings, snap.messages
        self.state = state

    def _rollback(self) -> None:
        """Back to the last committed state: a request that could not be saved did not happen."""
        if self._store is None:
            return
        snap = self._store.load()
        self._load(snap)
        if snap.now is not None:
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
        a number (finite, not negative) moves the clock that far and completes what has come due.
        """
        with self._lock:
            if seconds is not None:
                if not math.isfinite(seconds) or seconds < 0:
                    raise ValueError(f"seconds must be a finite number >= 0, got {seconds!r}")
                if self.clock.now() + seconds > LATEST_CLOCK:
                    raise ValueError(f"seconds={seconds!r} would move the clock past the year 9999")
            with self._transaction(force=True):
                if seconds is not None:
                    self.clock.advance(seconds)
                limit = None if seconds is None else self.clock.now()
                due = sorted(
                    (j for j in self.state.jobs if limit is None or j.due <= limit), key=lambda j: j.due
                )
                ctx = self._context()
                for job in due:
                    if job.due > self.clock.now():
                        self.clock.set(job.due)
                    ctx.now = self.clock.now()
                    self.state.jobs.remove(job)
                    if job.kind == "sending":
                        self.massiva.deliver(ctx, job.id)
                    else:
                        apply_job(ctx, job)
        self._deliver(ctx.outbox)
        return len(due)

    def reset(self) -> None:
        with self._lock:
            for token in self.state.tokens:
                self.tokens.revoke(token)
            self.state = State(balance_cents=self._initial_cents)
            self.callbacks_sent.clear()
            if self._store is not None:
                self._store.clear()
                self._store.save(self.state, self.clock.now())

    def deliver_in_background(self, enabled: bool = True) -> None:
        """Deliver callbacks from a worker thread (what the HTTP server does) or inline again."""
        if enabled:
            self._callbacks.start_background()
        else:
            self._callbacks.stop_background()

    def callback_log(self) -> Record:
        """Every callback made, with its attempts (number, status, elapsed), and how many are pending."""
        with self._lock:
            deliveries = [sent.to_json() for sent in self.callbacks_sent]
        return {"pending": sum(1 for d in deliveries if not d["finished"]), "deliveries": deliveries}

    def close(self) -> None:
        self._callbacks.stop_background()
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

    @contextmanager
    def _transaction(self, *, force: bool = False) -> Iterator[None]:
        """One request's changes, saved together on exit; on any failure none of them remains.

        Called under the lock. A refusal (``SandboxError``) comes before anything changes, so
        there is nothing to save; any other failure, including a failed save, rolls the state back
        to the file's, and a failed save becomes a 503 that says nothing was applied.
        """
        try:
            yield
        except SandboxError:
            if self.state.dirty:  # a handler changed something before refusing: undo it
                self._rollback()
            raise
        except BaseException:
            self._rollback()
            raise
        try:
            self._persist(force=force)
        except sqlite3.Error as exc:
            self._rollback()
            raise fail("storage_failed", reason=str(exc)) from exc

    def _deliver(self, outbox: list[tuple[Record, Record]]) -> None:
        # Outside the lock: a slow receiver must not stall the API.
        for callback, payload in outbox:
            self._callbacks.dispatch(callback, payload)

    def handle(self, request: app.Request) -> app.Response:
        path = app.normalise_path(request.path)
        if request.method.upper() not in app.METHODS:
            # OPTIONS, TRACE or a made-up method: no route of the API or of the admin takes it
            return app.error_response(fail("method_not_allowed", method=request.method.upper(), path=path))
        if path == ADMIN_PREFIX or path.startswith(ADMIN_PREFIX + "/"):
            return self._admin(request, path)
        headers = {k.lower(): v for k, v in request.headers.items()}
        if is_oauth_request(path, headers):
            return self._oauth(request, path, headers)
        if is_massiva_request(path, headers):
            return self._massiva(request, path, headers)
        text_errors = False
        outbox: list[tuple[Record, Record]] = []
        try:
            route, handler, arg = app.resolve(request.method, path)
            text_errors = route.text_errors
            self.tokens.check(headers.get("authorization"), request.method, path, now=self.clock.now())
            with self._lock:
                ctx = self._context()
                charged_from = len(self.state.ledger)
                with self._transaction():
                    response = handler(ctx, request, arg)
                    # counted in the same save as the request's charges, from the ledger itself
                    self._count(request, path, headers, response.status, None, "", charged_from)
                # only what was saved is announced
                outbox = ctx.outbox
                return response
        except SandboxError as err:
            with self._lock:
                self._count(request, path, headers, err.status, err.code, err.message, None)
            # 401/403/503 come from the gateway, which always speaks JSON
            return app.error_response(
                err, text=text_errors and err.status < 500 and err.status not in (401, 403)
            )
        except Exception as exc:  # the simulator must answer, never hang up
            return _internal_error(exc)
        finally:
            self._deliver(outbox)

    def _count(
        self,
        request: app.Request,
        path: str,
        headers: Mapping[str, str],
        status: int,
        error_code: int | None,
        message: str,
        charged_from: int | None,
    ) -> None:
        """The account service's statistics of this request (called under the lock)."""
        usage.record(
            self.state,
            method=request.method,
            path=path,
            host=headers.get("host", ""),
            ip=request.client,
            status=status,
            error_code=error_code,
            message=message,
            charges=[] if charged_from is None else self.state.ledger[charged_from:],
            now=self.clock.now(),
            anchor=self.oauth.anchor(),
        )

    def _oauth(self, request: app.Request, path: str, headers: dict[str, str]) -> app.Response:
        with self._lock:
            answer = self.oauth.handle(request.method, path, request.query, headers, request.body)
            if request.method.upper() != "GET" and answer.status == 200:
                self._persist(force=True)
        return app.Response(answer.status, json.dumps(answer.body).encode())

    def _massiva(self, request: app.Request, path: str, headers: dict[str, str]) -> app.Response:
        service_path = self.massiva.service_path(path)
        try:
            self.tokens.check(
                headers.get("authorization"),
                request.method,
                service_path,
                now=self.clock.now(),
                hosts=MASSIVA_HOSTS,
            )
        except SandboxError as err:
            # the gateway's refusal, in the service's own envelope
            body = {"success": False, "message": err.message}
            return app.Response(err.status, json.dumps(body).encode())
        try:
            with self._lock:
                ctx = self._context()
                with self._transaction():
                    answer = self.massiva.handle(
                        ctx, request.method, service_path, request.query, headers, request.body
                    )
        except SandboxError as err:
            return app.Response(err.status, json.dumps({"success": False, "message": err.message}).encode())
        except Exception as exc:  # the simulator must answer, never hang up
            return _internal_error(exc)
        return app.Response(answer.status, json.dumps(answer.body).encode(), headers=dict(answer.headers))

    def massiva_sent(self) -> list[Record]:
        """Every sending the PEC Massiva emulation received and the provider accepted or refused."""
        with self._lock:
            return self.massiva.sent()

    def massiva_credentials(self, box: str) -> tuple[str, str]:
        """(username, password) of a box, by id or address, for the PEC Massiva API."""
        with self._lock:
            found = self.massiva.credentials(box)
        return str(found["username"]), str(found["password"])

    def set_massiva_password(self, box: str, password: str) -> None:
        with self._lock:
            self.massiva.set_password(box, password)
            self._persist(force=True)

    def _admin(self, request: app.Request, path: str) -> app.Response:
        try:
            return self._admin_action(request, path)
        except SandboxError as err:
            return app.error_response(err)
        except Exception as exc:  # the simulator must answer, never hang up
            return _internal_error(exc)

    def _admin_action(self, request: app.Request, path: str) -> app.Response:
        action = path[len(ADMIN_PREFIX) :].strip("/")
        method = request.method.upper()
        if action == "advance" and method == "POST":
            try:
                seconds = request.json().get("seconds")
                if seconds is not None and (
                    isinstance(seconds, bool) or not isinstance(seconds, int | float)
                ):
                    raise ValueError(f"seconds must be a number, got {seconds!r}")
                completed = self.advance(None if seconds is None else float(seconds))
            except (ValueError, OverflowError) as exc:
                out = {"success": False, "message": str(exc), "error": None, "data": None}
                return app.Response(400, json.dumps(out).encode())
            return app.envelope({"completed": completed, **self.summary()})
        if action == "state" and method == "GET":
            return app.envelope(self.summary())
        if action == "callbacks" and method == "GET":
            return app.envelope(self.callback_log())
        if action == "massiva/sent" and method == "GET":
            return app.envelope(self.massiva_sent())
        if action.startswith("massiva/credentials/") and method in ("GET", "POST"):
            wanted = unquote(action[len("massiva/credentials/") :])
            try:
                with self._lock:
                    if method == "POST":
                        found = self.massiva.set_password(wanted, request.json().get("password"))
                        self._persist(force=True)
                    else:
                        found = self.massiva.credentials(wanted)
            except Refusal as err:
                out = {"success": False, "message": err.message, "error": None, "data": None}
                return app.Response(err.status, json.dumps(out).encode())
            return app.envelope(found)
        if action == "reset" and method == "POST":
            self.reset()
            return app.envelope(self.summary())
        out = {"success": False, "message": f"no admin action {method} {path}", "error": None, "data": None}
        return app.Response(404, json.dumps(out).encode())

    # ------------------------------------------------------------ httpx / httpx2 integration

    def _httpx_handler(self, stack: http_stack.Stack, request: httpx.Request) -> httpx.Response:
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
        answer: httpx.Response = stack.Response(
            response.status, headers=headers, stream=stack.ByteStream(response.body)
        )
        return answer

    def transport(self, http: str | None = None) -> httpx.MockTransport:
        """An in-process transport (no socket) for a ``Client`` and an ``AsyncClient`` of httpx, or
        of httpx2 with ``http="httpx2"``; by default of the library a client made here would use
        (``OPENAPI_PEC_HTTP``, else httpx2 when installed, else httpx)."""
        stack = http_stack.named(config.http_library(http) or http_stack.default_name())
        transport: httpx.MockTransport = stack.MockTransport(functools.partial(self._httpx_handler, stack))
        return transport

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
        from pec_ext._pec.client import PecClient

        return PecClient(**self._client_options(kwargs, self.transport(kwargs.get("http"))))

    def async_client(self, **kwargs: Any) -> AsyncPecClient:
        """A ``pec_ext.AsyncPecClient`` wired to this sandbox (no socket), on the sandbox's virtual clock."""
        from pec_ext._pec.client import AsyncPecClient

        return AsyncPecClient(**self._client_options(kwargs, self.transport(kwargs.get("http"))))

    def _account_options(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        # Any e-mail and key do (unless the sandbox was given account=...); the service is at /oauth.
        email, key = self.oauth.account or ("sandbox@example.com", "sandbox-api-key")
        kwargs.setdefault("email", email)
        kwargs.setdefault("api_key", key)
        kwargs.setdefault("base_url", SANDBOX_BASE_URL + OAUTH_PREFIX)
        if "http_client" not in kwargs:
            kwargs.setdefault("transport", self.transport(kwargs.get("http")))
        kwargs.setdefault("clock", self.virtual_clock())
        return kwargs

    def account_client(self, **kwargs: Any) -> AccountClient:
        """A ``pec_ext.account.client.AccountClient`` on this sandbox's OAuth emulation (no socket).

        Its ``pec_client()`` talks to this sandbox too, on the same virtual clock.
        """
        from pec_ext.account.client import AccountClient

        return AccountClient(**self._account_options(kwargs))

    def async_account_client(self, **kwargs: Any) -> AsyncAccountClient:
        """A ``pec_ext.account.client.AsyncAccountClient`` on this sandbox's OAuth emulation (no socket)."""
        from pec_ext.account.client import AsyncAccountClient

        return AsyncAccountClient(**self._account_options(kwargs))


def _internal_error(exc: BaseException) -> app.Response:
    body = {"success": False, "message": f"sandbox error: {exc!r}", "error": 999, "data": None}
    return app.Response(500, json.dumps(body).encode())
