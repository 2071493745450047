"""Receiving callbacks: verify the token, confirm with the API, run each handler once per transition.

::

    receiver = CallbackReceiver(secret, PecClient(), on_mailbox=box_changed, store="callbacks.sqlite")
    app = receiver.asgi_app()        # uvicorn module:app, or mount it in any ASGI framework
    app = receiver.wsgi_app()        # gunicorn, mod_wsgi, wsgiref
    reply = receiver.handle(body, content_type)   # your own route: answer reply.status_code

For every delivery, in this order: :func:`pec_ext.callbacks.events.parse` (400 when malformed); the token
(403 when missing, wrong, or not the token of the record named); a free GET of the record, whose
``stato`` and contents replace what the body claimed (403 when the account has no such record, 503
when the API cannot be reached); a claim of the transition in the store (200 when already handled;
while another receiver handles it, up to ``busy_wait`` seconds of waiting for its outcome, then
503); the handler (200; 500 when it raises, the claim released so that the provider's retry runs it
again). The two 503s say "not now": nothing was decided, and the provider's retry will be.

The pipeline is written once as a generator of steps; :meth:`CallbackReceiver.handle` runs them
with a :class:`~pec_ext.PecClient`, :meth:`CallbackReceiver.ahandle` with either client
(blocking work, the store and synchronous handlers, in worker threads).
"""

from __future__ import annotations

import asyncio
import dataclasses
import hmac
import inspect
import logging
import uuid
from collections.abc import Awaitable, Callable, Generator, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pec_ext._engine.clock import SYSTEM_CLOCK, Clock
from pec_ext._engine.steps import drive, drive_async
from pec_ext.callbacks.apps import asgi_app, wsgi_app
from pec_ext.callbacks.events import TOKEN_FIELD, CallbackEvent, RecordKind, parse, secret_bytes, verify_token
from pec_ext.callbacks.reply import CallbackReply
from pec_ext.callbacks.store import Claim, SqliteTransitionStore, Transition, TransitionStore
from pec_ext.errors import (
    ForgedCallbackError,
    MalformedCallbackError,
    NotFoundError,
    PecError,
    ValidationError,
)

__all__ = ["CallbackReceiver", "CallbackReply", "Handler"]

logger = logging.getLogger("pec_ext.callbacks.events")

Handler = Callable[[CallbackEvent], Any]
"""Called with the confirmed event; may be ``async def`` under the ASGI app / ``ahandle``."""

_BUSY_POLL_SECONDS = 0.1


# -- the steps the pipeline yields to its driver ------------------------------------------------


@dataclass(frozen=True)
class _Fetch:
    kind: RecordKind
    id: str


@dataclass(frozen=True)
class _Store:
    action: str  # "claim", "complete" or "release"
    transition: Transition
    ticket: str


@dataclass(frozen=True)
class _Pause:
    seconds: float


@dataclass(frozen=True)
class _Handle:
    handler: Handler
    event: CallbackEvent


_Step = _Fetch | _Store | _Pause | _Handle
_Pipeline = Generator[_Step, Any, CallbackReply]

_GETTERS = {RecordKind.MAILBOX: "get_mailbox", RecordKind.COMMUNICATION: "get_communication"}


class CallbackReceiver:
    """Authenticates, confirms and de-duplicates callbacks, then calls the handler for their kind.

    ``client`` reads the record back (a :class:`~pec_ext.PecClient`, or an
    :class:`~pec_ext.AsyncPecClient` for :meth:`ahandle`). ``store`` remembers the handled
    transitions: a path (an SQLite file, shared by every process given it) or any
    :class:`~pec_ext.callbacks.store.TransitionStore`. ``urls``, when given, are the only callback
    URLs accepted (tokens are bound to the URL they were made for). ``field`` is the form field of
    ``method: "POST"`` callbacks. ``busy_wait``: how long a delivery whose transition another
    receiver is handling waits for that outcome before answering 503, on ``clock``: the time of
    the store's leases, the system's by default since receivers share a store across processes
    (a store on virtual time, as in tests, is waited on with that time's clock).
    """

    def __init__(
        self,
        secret: str | bytes,
        client: Any,
        *,
        on_mailbox: Handler | None = None,
        on_communication: Handler | None = None,
        store: TransitionStore | str | Path = "pec-callbacks.sqlite",
        urls: Iterable[str] | None = None,
        field: str = "data",
        busy_wait: float = 10.0,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._secret = secret_bytes(secret)
        self.busy_wait = busy_wait
        self.client = client
        self.clock = clock
        self.handlers: Mapping[RecordKind, Handler | None] = {
            RecordKind.MAILBOX: on_mailbox,
            RecordKind.COMMUNICATION: on_communication,
        }
        self.store: TransitionStore = SqliteTransitionStore(store) if isinstance(store, str | Path) else store
        self.urls = frozenset(urls) if urls is not None else None
        self.field = field

    # -- the pipeline, once for both drivers ----------------------------------------------------

    def _pipeline(self, body: bytes, content_type: str | None) -> _Pipeline:
        try:
            claimed = parse(body, content_type, self.field)
            self._authenticate(claimed)
        except MalformedCallbackError as exc:
            return CallbackReply(400, "malformed", exc.reason)
        except ForgedCallbackError as exc:
            logger.warning("callback refused: %s", exc.reason)
            return CallbackReply(403, "forged", exc.reason)
        try:
            record = yield _Fetch(claimed.kind, claimed.id)
        except NotFoundError:
            reason = f"the account has no {claimed.kind.value} {claimed.id}"
            logger.warning("callback refused: %s", reason)
            return CallbackReply(403, "forged", reason)
        except (PecError, OSError) as exc:
            return CallbackReply(503, "unconfirmed", f"could not read the record back: {exc}")
        try:
            event = self._confirm(claimed, record)
        except ForgedCallbackError as exc:
            logger.warning("callback refused: %s", exc.reason)
            return CallbackReply(403, "forged", exc.reason)
        transition = Transition(event.kind.value, event.id, str(event.stato), _version(event.record))
        ticket = uuid.uuid4().hex
        try:
            claim = yield _Store("claim", transition, ticket)
            waited = 0.0
            while claim is Claim.BUSY and waited < self.busy_wait:
                # a duplicate delivered to another receiver at the same time: its outcome decides ours
                yield _Pause(_BUSY_POLL_SECONDS)
                waited += _BUSY_POLL_SECONDS
                claim = yield _Store("claim", transition, ticket)
        except Exception as exc:  # any store's failure: nothing was decided, the retry will decide
            logger.exception("callback store unavailable")
            return CallbackReply(503, "store_unavailable", f"the store failed: {type(exc).__name__}", event)
        if claim is Claim.DONE:
            return CallbackReply(200, "duplicate", "this transition was handled already", event)
        if claim is Claim.BUSY:
            return CallbackReply(503, "busy", "another receiver is handling this transition now", event)
        handler = self.handlers.get(event.kind)
        if handler is not None:
            try:
                yield _Handle(handler, event)
            except Exception as exc:
                logger.exception("callback handler failed for %s %s %s", event.kind, event.id, event.stato)
                try:
                    yield _Store("release", transition, ticket)
                except Exception:  # the claim then lapses after its lease, and the retry runs again
                    logger.exception("could not release the claim of %s", transition)
                return CallbackReply(500, "handler_failed", f"the handler raised {type(exc).__name__}", event)
        try:
            yield _Store("complete", transition, ticket)
        except Exception as exc:
            # Handled all the same: a 5xx would only make the provider deliver it again. The claim
            # lapses after its lease, so a later duplicate could run the handler a second time.
            logger.exception("could not record %s as handled", transition)
            message = f"handled, but not recorded: the store failed ({type(exc).__name__})"
            return CallbackReply(200, "handled", message, event)
        return CallbackReply(200, "handled", "handled", event)

    def _authenticate(self, event: CallbackEvent) -> None:
        if self.urls is not None and event.callback_url not in self.urls:
            raise ForgedCallbackError(f"callback.url {event.callback_url!r} is not one this receiver serves")
        verify_token(self._secret, event.callback_url, event.token)

    def _confirm(self, claimed: CallbackEvent, record: Any) -> CallbackEvent:
        """The event as the API shows the record now; the body only said which record to read."""
        if getattr(record, "id", None) != claimed.id:
            raise ForgedCallbackError(f"the API returned another record for {claimed.id}")
        callback = getattr(record, "callback", None)
        to_dict = getattr(callback, "to_dict", None)
        stored = to_dict() if callable(to_dict) else {}
        data = stored.get("data") if isinstance(stored, dict) else None
        stored_token = data.get(TOKEN_FIELD) if isinstance(data, dict) else None
        # A token is bound to a URL, not to a record (the id does not exist when it is made): the
        # record itself must carry it, or a token seen once could vouch for any record.
        if not isinstance(stored_token, str) or not _same(stored_token, claimed.token or ""):
            raise ForgedCallbackError(f"the token is not the one {claimed.kind.value} {claimed.id} was given")
        return dataclasses.replace(
            claimed,
            stato=record.stato,
            record=record,
            confirmed=True,
            claimed_stato=claimed.stato,
        )

    # -- drivers --------------------------------------------------------------------------------

    def handle(self, body: bytes, content_type: str | None) -> CallbackReply:
        """Receive one delivery, synchronously; answer ``reply.status_code`` to the provider."""
        if inspect.iscoroutinefunction(getattr(self.client, "get_mailbox", None)):
            raise ValidationError("client", self.client, "a PecClient (use ahandle with AsyncPecClient)")
        pipeline = self._pipeline(body, content_type)
        reply: CallbackReply = drive(pipeline, self._run_step, (Exception,))
        return reply

    def _run_step(self, step: _Step) -> Any:
        if isinstance(step, _Fetch):
            return getattr(self.client, _GETTERS[step.kind])(step.id)
        if isinstance(step, _Store):
            return getattr(self.store, step.action)(step.transition, step.ticket)
        if isinstance(step, _Pause):
            return self.clock.sleep(step.seconds)
        result = step.handler(step.event)
        if inspect.isawaitable(result):
            _close(result)
            raise TypeError("an async handler needs ahandle (or the ASGI app)")
        return result

    async def ahandle(self, body: bytes, content_type: str | None) -> CallbackReply:
        """Receive one delivery without blocking the event loop."""
        pipeline = self._pipeline(body, content_type)
        reply: CallbackReply = await drive_async(pipeline, self._run_step_async, (Exception,))
        return reply

    async def _run_step_async(self, step: _Step) -> Any:
        if isinstance(step, _Fetch):
            getter = getattr(self.client, _GETTERS[step.kind])
            if inspect.iscoroutinefunction(getter):
                return await getter(step.id)
            return await asyncio.to_thread(getter, step.id)
        if isinstance(step, _Store):
            return await asyncio.to_thread(getattr(self.store, step.action), step.transition, step.ticket)
        if isinstance(step, _Pause):
            return await self.clock.async_sleep(step.seconds)
        if inspect.iscoroutinefunction(step.handler):
            return await step.handler(step.event)
        result = await asyncio.to_thread(step.handler, step.event)
        if inspect.isawaitable(result):
            return await result
        return result

    # -- mounting -------------------------------------------------------------------------------

    def asgi_app(self) -> Callable[..., Awaitable[None]]:
        """A plain ASGI 3 application answering every ``POST`` (mount it at your callback path)."""
        return asgi_app(self)

    def wsgi_app(self) -> Callable[..., Iterable[bytes]]:
        """A plain WSGI application answering every ``POST`` (mount it at your callback path)."""
        return wsgi_app(self)


def _version(record: Any) -> str:
    """When the record last changed: ``timestamp`` (communication) or its ``ultima_modifica``."""
    stamp = getattr(record, "timestamp", None)
    changed = stamp if isinstance(stamp, int) else getattr(stamp, "ultima_modifica", None)
    return str(changed) if isinstance(changed, int) and not isinstance(changed, bool) else ""


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8", "replace"), b.encode("utf-8", "replace"))


def _close(awaitable: Any) -> None:
    close = getattr(awaitable, "close", None)
    if callable(close):
        close()
