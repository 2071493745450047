"""The receiver as plain ASGI 3 and WSGI applications, with no web framework in between.

Every ``POST`` is a delivery for the receiver; anything else is a 405. A body larger than
:data:`~pec_ext.callbacks.events.MAX_CALLBACK_BYTES` is refused (413) before it is read whole,
chunked ones included (WSGI servers that set ``wsgi.input_terminated``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Protocol

from pec_ext.callbacks.events import MAX_CALLBACK_BYTES
from pec_ext.callbacks.reply import CallbackReply


class CallbackReceiver(Protocol):
    """What the apps need of a receiver: its sync and async handling of one delivery."""

    def handle(self, body: bytes, content_type: str | None) -> CallbackReply: ...

    async def ahandle(self, body: bytes, content_type: str | None) -> CallbackReply: ...


__all__ = ["asgi_app", "wsgi_app"]

_REASONS = {
    200: "OK",
    400: "Bad Request",
    403: "Forbidden",
    405: "Method Not Allowed",
    413: "Content Too Large",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


def _plain(status: int, outcome: str, message: str) -> CallbackReply:
    return CallbackReply(status, outcome, message)


def _method_not_allowed() -> CallbackReply:
    return _plain(405, "method_not_allowed", "callbacks are delivered with POST")


def _too_large(size: int | None = None) -> CallbackReply:
    shown = f"{size} bytes, " if size is not None else ""
    return _plain(413, "too_large", f"the body is {shown}more than {MAX_CALLBACK_BYTES} bytes")


def asgi_app(receiver: CallbackReceiver) -> Callable[..., Awaitable[None]]:
    """An ASGI 3 application: every ``POST`` is a delivery for ``receiver``."""

    async def app(scope: dict[str, Any], receive: Callable[[], Awaitable[dict[str, Any]]], send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        reply = await _asgi_reply(receiver, scope, receive)
        await send({
            "type": "http.response.start",
            "status": reply.status_code,
            "headers": [(k.encode(), v.encode()) for k, v in reply.headers],
        })  # fmt: skip
        await send({"type": "http.response.body", "body": reply.body()})

    return app


async def _asgi_reply(
    receiver: CallbackReceiver, scope: dict[str, Any], receive: Callable[[], Awaitable[dict[str, Any]]]
) -> CallbackReply:
    if scope.get("method") != "POST":
        return _method_not_allowed()
    content_type = None
    for name, value in scope.get("headers", []):
        if name.lower() == b"content-type":
            content_type = value.decode("latin-1")
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return _plain(400, "malformed", "the client went away before the body was complete")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_CALLBACK_BYTES:
            return _too_large()
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return await receiver.ahandle(b"".join(chunks), content_type)


def wsgi_app(receiver: CallbackReceiver) -> Callable[..., Iterable[bytes]]:
    """A WSGI application: every ``POST`` is a delivery for ``receiver``."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        reply = _wsgi_reply(receiver, environ)
        status = f"{reply.status_code} {_REASONS.get(reply.status_code, '')}".rstrip()
        start_response(status, reply.headers)
        return [reply.body()]

    return app


def _wsgi_reply(receiver: CallbackReceiver, environ: dict[str, Any]) -> CallbackReply:
    if environ.get("REQUEST_METHOD") != "POST":
        return _method_not_allowed()
    given = environ.get("CONTENT_LENGTH")
    if not given and environ.get("wsgi.input_terminated"):
        # A chunked body (no Content-Length): the server ends the input at the body's end
        # (gunicorn, Werkzeug, mod_wsgi say so with wsgi.input_terminated); read it up to the limit.
        body = _read_terminated(environ["wsgi.input"])
        if body is None:
            return _too_large()
        return receiver.handle(body, environ.get("CONTENT_TYPE"))
    try:
        length = int(given or 0)
    except ValueError:
        return _plain(400, "malformed", "Content-Length is not a number")
    if length < 0:
        return _plain(400, "malformed", "Content-Length is negative")
    if length > MAX_CALLBACK_BYTES:
        return _too_large(length)
    body = environ["wsgi.input"].read(length) if length else b""
    return receiver.handle(body, environ.get("CONTENT_TYPE"))


_READ_CHUNK = 64 * 1024


def _read_terminated(stream: Any) -> bytes | None:
    """The whole input, or None once it passes the size limit (the rest is not read)."""
    chunks: list[bytes] = []
    size = 0
    while chunk := stream.read(min(_READ_CHUNK, MAX_CALLBACK_BYTES + 1 - size)):
        size += len(chunk)
        if size > MAX_CALLBACK_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)
