"""The request on the wire: a client's fixed template, and JSON bodies streamed a slice at a time.

Requests and streams are built with the classes of the client's library (its ``Stack``).
"""

from __future__ import annotations

import binascii
import functools
import json
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from pec_ext._engine.stack import Stack
from pec_ext._engine.steps import Call

if TYPE_CHECKING:
    # For annotations only: httpx2's objects have the same public interface (see stack.py).
    import httpx

JSON_ACCEPT = {"accept": "application/json"}


PDF_ACCEPT = {"accept": "application/pdf, text/plain"}


@dataclass(frozen=True)
class Wire:
    """What every request of a client carries: the base URL, the headers and the timeouts.

    Fixed when the client is made, so that building a request merges nothing. The headers hold
    the token, hence out of the repr.
    """

    stack: Stack
    base_url: str
    json_headers: tuple[tuple[str, str], ...] = field(repr=False)
    pdf_headers: tuple[tuple[str, str], ...] = field(repr=False)
    timeout: Mapping[str, float | None]

    @classmethod
    def of(
        cls,
        stack: Stack,
        base_url: str,
        defaults: httpx.Headers,
        authorization: str,
        timeout: httpx.Timeout,
        extra_headers: tuple[tuple[str, str], ...] = (),
    ) -> Wire:
        """``defaults``: the HTTP client's own headers, read once; ``extra_headers`` win over them."""
        # Host first, as httpx orders it; given here, it is also there for a streamed body.
        common = [("host", stack.URL(base_url).netloc.decode("ascii"))]
        ours = {"host", "accept", "authorization", *(name.lower() for name, _ in extra_headers)}
        common += [(k, v) for k, v in defaults.items() if k not in ours]
        common += [(k.lower(), v) for k, v in extra_headers if k.lower() not in ("host", "authorization")]
        common.append(("authorization", authorization))
        accept_given = any(name.lower() == "accept" for name, _ in extra_headers)
        return cls(
            stack=stack,
            base_url=base_url.rstrip("/"),
            json_headers=(*common, *(() if accept_given else JSON_ACCEPT.items())),
            pdf_headers=(*common, *(() if accept_given else PDF_ACCEPT.items())),
            timeout=timeout.as_dict(),
        )


def _capped(timeout: Mapping[str, float | None], remaining: float | None) -> Mapping[str, float | None]:
    """Each phase's limit, never beyond what is left of the call's deadline."""
    if remaining is None:
        return timeout
    return {phase: remaining if limit is None else min(limit, remaining) for phase, limit in timeout.items()}


def build_request(
    wire: Wire, call: Call, remaining: float | None = None, expired: Callable[[], bool] | None = None
) -> httpx.Request:
    """The request for ``call``; ``remaining`` caps each phase's timeout, ``expired`` stops an upload."""
    op = call.operation
    url = wire.base_url + op.url(**call.path_params)
    params = {k: v for k, v in call.params.items() if v is not None} if call.params else None
    headers = wire.pdf_headers if op.returns_pdf else wire.json_headers
    if call.authorization is not None:
        headers = tuple((k, call.authorization if k == "authorization" else v) for k, v in headers)
    extensions = {"timeout": _capped(wire.timeout, remaining)}
    streamed = _JsonStream.for_value(call.json, expired, wire.stack)
    request: httpx.Request
    if streamed is None:
        request = wire.stack.Request(
            op.method, url, params=params or None, headers=headers, json=call.json, extensions=extensions
        )
        return request
    # With ``stream=`` httpx adds no header of its own: the template has Host, the body's are here.
    body_headers = (("content-type", "application/json"), ("content-length", str(streamed.length)))
    request = wire.stack.Request(
        op.method,
        url,
        params=params or None,
        headers=(*headers, *body_headers),
        stream=streamed,
        extensions=extensions,
    )
    return request


class Base64Body:
    """Bytes that go into a JSON body as a base64 string, encoded a slice at a time while sent.

    Uploaded documents travel this way: the base64 text is never built whole, so neither memory
    nor an event loop pays for a string of tens of megabytes (building one holds the GIL while it
    is copied).
    """

    __slots__ = ("data",)
    # A multiple of 3, so the slices concatenate without padding; small, so that encoding one
    # slice on an event loop takes well under a millisecond.
    RAW_SLICE = 3 * 64 * 1024

    def __init__(self, data: bytes) -> None:
        self.data = data

    def __len__(self) -> int:
        return 4 * ((len(self.data) + 2) // 3)

    def slices(self) -> Generator[bytes, None, None]:
        with memoryview(self.data) as view:
            for start in range(0, len(view), self.RAW_SLICE):
                yield binascii.b2a_base64(view[start : start + self.RAW_SLICE], newline=False)

    def __str__(self) -> str:
        return b"".join(self.slices()).decode("ascii")

    def __repr__(self) -> str:
        return f"Base64Body(<{len(self.data)} bytes>)"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Base64Body) and other.data == self.data

    def __hash__(self) -> int:
        return hash(self.data)


def base64_bodies(documents: list[bytes]) -> list[Base64Body]:
    return [Base64Body(data) for data in documents]


class _JsonStream:
    """A JSON body holding long strings (base64 documents), encoded a slice at a time.

    Sent as an instance of :func:`_stream_class`: the library's transports require their own
    stream base classes.

    ``json=`` would hold the whole body as a str and as bytes next to the strings it came from
    (4x two uploaded PDFs); sent this way, the strings are never copied whole. The body is laid
    out once (``parts``: encoded pieces, and the long strings to slice), so sending it does no
    more than slice and encode, and stops once ``expired`` says the call's deadline has passed.
    """

    LONG = 1 << 20
    # The library's WriteTimeout, set on the subclass of each stack.
    write_timeout: type[Exception] = TimeoutError

    def __init__(self, value: Any, expired: Callable[[], bool] | None = None) -> None:
        self.parts: list[bytes | str | Base64Body] = []
        self._lay_out(value)
        self.length = sum(len(part) for part in self.parts)
        self.expired = expired

    @classmethod
    def for_value(cls, value: Any, expired: Callable[[], bool] | None, stack: Stack) -> _JsonStream | None:
        return _stream_class(stack)(value, expired) if cls.has_long_string(value) else None

    @classmethod
    def has_long_string(cls, value: Any) -> bool:
        """Cheap (no string is scanned): whether ``value`` is a body to stream."""
        if isinstance(value, Base64Body):
            return True
        if isinstance(value, str):
            return len(value) > cls.LONG
        if isinstance(value, dict):
            return all(isinstance(k, str) for k in value) and any(map(cls.has_long_string, value.values()))
        if isinstance(value, list | tuple):
            return any(map(cls.has_long_string, value))
        return False

    def _lay_out(self, value: Any) -> None:
        parts = self.parts
        if isinstance(value, dict) and all(isinstance(k, str) for k in value):
            parts.append(b"{")
            for index, (key, item) in enumerate(value.items()):
                parts.append((b"," if index else b"") + _dumps(key) + b":")
                self._lay_out(item)
            parts.append(b"}")
        elif isinstance(value, list | tuple):
            parts.append(b"[")
            for index, item in enumerate(value):
                if index:
                    parts.append(b",")
                self._lay_out(item)
            parts.append(b"]")
        elif isinstance(value, Base64Body) or (
            isinstance(value, str) and len(value) > self.LONG and self._plain(value)
        ):
            # Plain ASCII: its JSON form is the string itself between quotes, one byte a character.
            parts += (b'"', value, b'"')
        else:
            parts.append(_dumps(value))

    @classmethod
    def _plain(cls, value: str) -> bool:
        """ASCII needing no JSON escape. Scanned a slice at a time: a whole-string scan holds the
        GIL for tens of milliseconds, which would stall an event loop running meanwhile."""
        if not value.isascii():
            return False
        for start in range(0, len(value), cls.LONG):
            piece = value[start : start + cls.LONG]
            if not piece.isprintable() or '"' in piece or "\\" in piece:
                return False
        return True

    def _chunks(self) -> Generator[bytes, None, None]:
        for part in self.parts:
            if isinstance(part, bytes):
                yield part
                continue
            pieces = (
                part.slices()
                if isinstance(part, Base64Body)
                else (
                    part[start : start + self.LONG].encode("ascii")
                    for start in range(0, len(part), self.LONG)
                )
            )
            for piece in pieces:
                if self.expired is not None and self.expired():
                    raise self.write_timeout("the call's deadline passed while sending the body")
                yield piece

    def __iter__(self) -> Generator[bytes, None, None]:
        yield from self._chunks()

    async def __aiter__(self) -> Any:
        for chunk in self._chunks():
            yield chunk


@functools.cache
def _stream_class(stack: Stack) -> type[_JsonStream]:
    """``_JsonStream`` as a sync and async byte stream of ``stack``'s library."""
    bases = (_JsonStream, stack.SyncByteStream, stack.AsyncByteStream)
    return cast("type[_JsonStream]", type("JsonStream", bases, {"write_timeout": stack.WriteTimeout}))


def needs_thread(call: Call) -> bool:
    """Whether building ``call``'s request scans megabytes (the async driver then uses a thread)."""
    return _JsonStream.has_long_string(call.json)


def _dumps(value: Any) -> bytes:
    # As httpx encodes ``json=``.
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")
