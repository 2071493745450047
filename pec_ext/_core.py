"""The one call path, without I/O: build a request, judge a response or a failure, parse.

The sync and async clients only move bytes; every decision (retry, raise which error, what a
body means) is taken here, once, for both of them.
"""

from __future__ import annotations

import binascii
import json
import logging
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx

from . import retry
from ._operations import Operation, encode_path_param
from .clock import SYSTEM_CLOCK, Clock
from .enums import (
    StatoCasella,
    StatoComunicazione,
    TipoCasella,
    TipoCliente,
    TipoDocumento,
    parse_open,
)
from .errors import (
    ApiError,
    InvalidResponseError,
    OutcomeUnknownError,
    RequestTimeoutError,
    TransportError,
    ValidationError,
    error_class_for_status,
)

logger = logging.getLogger("pec_ext")

# Bodies above these sizes are refused instead of being read into memory.
MAX_JSON_BODY_BYTES = 16 * 1024 * 1024
MAX_PDF_BODY_BYTES = 64 * 1024 * 1024
JSON_ACCEPT = {"accept": "application/json"}
PDF_ACCEPT = {"accept": "application/pdf, text/plain"}

T = TypeVar("T")

_BOX_ENUMS: Mapping[str, Any] = {"stato": StatoCasella, "tipo_casella": TipoCasella}
# By generated model name: the fields that hold a closed set of values the spec lists.
OPEN_ENUM_FIELDS: Mapping[str, Mapping[str, Any]] = {
    "Casella": {**_BOX_ENUMS, "tipo_cliente": TipoCliente, "tipo_documento": TipoDocumento},
    "Caselle": _BOX_ENUMS,
    "RichiestaComunicazionePec": {"stato": StatoComunicazione},
    "RichiesteComunicazionePec": {"stato": StatoComunicazione},
}


@dataclass(frozen=True)
class Call:
    """One request of an operation."""

    operation: Operation
    path_params: Mapping[str, str] = field(default_factory=dict)
    params: Mapping[str, Any] | None = None
    json: Any = None
    # Another Authorization than the client's (the account service renews with a refresh token).
    authorization: str | None = field(default=None, repr=False)

    @property
    def max_body_bytes(self) -> int:
        return MAX_PDF_BODY_BYTES if self.operation.returns_pdf else MAX_JSON_BODY_BYTES


@dataclass(frozen=True)
class Sleep:
    """A pause inside a flow (waiting for the provider), taken by the driver."""

    seconds: float


@dataclass(frozen=True)
class Blocking:
    """Work that blocks (file reads, PDF checks, base64, fsync): the async driver runs it in a thread.

    Its result, or its exception, is sent back into the flow like a call's.
    """

    function: Callable[..., Any]
    args: tuple[Any, ...] = ()

    def run(self) -> Any:
        return self.function(*self.args)


Step = Call | Sleep | Blocking
Flow = Generator[Step, Any, T]


@dataclass(frozen=True)
class Options:
    """A client's per-call settings: what ``with_options`` changes, the rest stays shared.

    ``timeout`` is a deadline in seconds for each call a method makes (connect, upload, download,
    every retry and backoff included); ``None`` sets none. A method that reads before it changes,
    or reconciles after a lost answer, gives each of its calls the whole deadline.
    """

    timeout: float | None = retry.DEFAULT_TIMEOUT_SECONDS
    max_retries: int = retry.DEFAULT_MAX_RETRIES
    extra_headers: tuple[tuple[str, str], ...] = ()
    clock: Clock = SYSTEM_CLOCK
    # pec_ext.journal: where paid calls with an idempotency key are recorded, and the key every
    # paid call of this client is made under (a per-call key wins).
    journal: Any = None
    idempotency_key: str | None = None

    def deadline(self) -> float | None:
        """When a call started now must be over, on this client's clock."""
        return None if self.timeout is None else self.clock.monotonic() + self.timeout

    def remaining(self, deadline: float | None) -> float | None:
        return None if deadline is None else deadline - self.clock.monotonic()


def check_idempotency_key(key: object) -> str | None:
    if key is not None and (not isinstance(key, str) or not key.strip() or len(key) > 512):
        raise ValidationError(
            "idempotency_key", key, "a non-empty string of at most 512 characters, e.g. renew:<id>:2027"
        )
    return key


def check_journal(journal: object) -> Any:
    if journal is not None and not callable(getattr(journal, "execute", None)):
        raise ValidationError("journal", type(journal).__name__, "a pec_ext.journal.Journal, or None")
    return journal


@dataclass(frozen=True)
class Retry:
    """The driver should wait ``delay`` seconds and send the call again, or raise ``error`` if it
    cannot (the call's deadline would pass first)."""

    delay: float
    error: BaseException


class OutcomeUncertain(Exception):
    """Internal: a mutating call failed after it may have reached the server.

    Thrown into the flow, which reconciles by reading state; never shown to users as such.
    """

    def __init__(self, call: Call, request: httpx.Request, cause: BaseException | ApiError) -> None:
        self.call = call
        self.method = request.method
        self.url = shown_url(call, request)
        self.cause = cause
        super().__init__(f"{self.method} {self.url}: {cause}")

    def unknown(self, message: str, known: Any = None) -> OutcomeUnknownError:
        """The user-facing error, a timeout too when the cause was one."""
        error_type = (
            OutcomeUnknownTimeoutError
            if isinstance(self.cause, httpx.TimeoutException)
            else (OutcomeUnknownError)
        )
        return error_type(
            f"{self.call.operation.name}: {message} (after: {self.cause})",
            operation=self.call.operation.name,
            method=self.method,
            url=self.url,
            known=known,
        )


class OutcomeUnknownTimeoutError(OutcomeUnknownError, RequestTimeoutError):
    """A paid or mutating call timed out; it was not resent and its outcome is unknown."""


@dataclass(frozen=True)
class Wire:
    """What every request of a client carries: the base URL, the headers and the timeouts.

    Fixed when the client is made, so that building a request merges nothing. The headers hold
    the token, hence out of the repr.
    """

    base_url: str
    json_headers: tuple[tuple[str, str], ...] = field(repr=False)
    pdf_headers: tuple[tuple[str, str], ...] = field(repr=False)
    timeout: Mapping[str, float | None]

    @classmethod
    def of(
        cls,
        base_url: str,
        defaults: httpx.Headers,
        authorization: str,
        timeout: httpx.Timeout,
        extra_headers: tuple[tuple[str, str], ...] = (),
    ) -> Wire:
        """``defaults``: the HTTP client's own headers, read once; ``extra_headers`` win over them."""
        # Host first, as httpx orders it; given here, it is also there for a streamed body.
        common = [("host", httpx.URL(base_url).netloc.decode("ascii"))]
        ours = {"host", "accept", "authorization", *(name.lower() for name, _ in extra_headers)}
        common += [(k, v) for k, v in defaults.items() if k not in ours]
        common += [(k.lower(), v) for k, v in extra_headers if k.lower() not in ("host", "authorization")]
        common.append(("authorization", authorization))
        accept_given = any(name.lower() == "accept" for name, _ in extra_headers)
        return cls(
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
    streamed = _JsonStream.for_value(call.json, expired)
    if streamed is None:
        return httpx.Request(
            op.method, url, params=params or None, headers=headers, json=call.json, extensions=extensions
        )
    # With ``stream=`` httpx adds no header of its own: the template has Host, the body's are here.
    body_headers = (("content-type", "application/json"), ("content-length", str(streamed.length)))
    return httpx.Request(
        op.method,
        url,
        params=params or None,
        headers=(*headers, *body_headers),
        stream=streamed,
        extensions=extensions,
    )


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


class _JsonStream(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A JSON body holding long strings (base64 documents), encoded a slice at a time.

    ``json=`` would hold the whole body as a str and as bytes next to the strings it came from
    (4x two uploaded PDFs); sent this way, the strings are never copied whole. The body is laid
    out once (``parts``: encoded pieces, and the long strings to slice), so sending it does no
    more than slice and encode, and stops once ``expired`` says the call's deadline has passed.
    """

    LONG = 1 << 20

    def __init__(self, value: Any, expired: Callable[[], bool] | None = None) -> None:
        self.parts: list[bytes | str | Base64Body] = []
        self._lay_out(value)
        self.length = sum(len(part) for part in self.parts)
        self.expired = expired

    @classmethod
    def for_value(cls, value: Any, expired: Callable[[], bool] | None = None) -> _JsonStream | None:
        return cls(value, expired) if cls.has_long_string(value) else None

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
                    raise httpx.WriteTimeout("the call's deadline passed while sending the body")
                yield piece

    def __iter__(self) -> Generator[bytes, None, None]:
        yield from self._chunks()

    async def __aiter__(self) -> Any:
        for chunk in self._chunks():
            yield chunk


def needs_thread(call: Call) -> bool:
    """Whether building ``call``'s request scans megabytes (the async driver then uses a thread)."""
    return _JsonStream.has_long_string(call.json)


def _dumps(value: Any) -> bytes:
    # As httpx encodes ``json=``.
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")


def on_transport_error(
    call: Call, request: httpx.Request, exc: httpx.TransportError, attempt: int, options: Options
) -> Retry:
    """Retry when resending is safe; otherwise raise the typed error (or OutcomeUncertain)."""
    never_sent = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
    text = f"{request.method} {shown_url(call, request)}: {type(exc).__name__}: {exc}"
    error = RequestTimeoutError(text) if isinstance(exc, httpx.TimeoutException) else TransportError(text)
    error.__cause__ = exc
    if (never_sent or call.operation.idempotent) and attempt < options.max_retries:
        delay = retry.backoff_seconds(attempt, uniform=options.clock.uniform)
        logger.info(
            "%s %s failed (%s); retry %d in %.2fs",
            request.method,
            shown_url(call, request),
            type(exc).__name__,
            attempt + 1,
            delay,
        )
        return Retry(delay, error)
    if not never_sent and not call.operation.idempotent:
        raise OutcomeUncertain(call, request, exc) from exc
    raise error from exc


def on_response(
    call: Call,
    request: httpx.Request,
    response: httpx.Response,
    body: bytes | None,
    attempt: int,
    options: Options,
) -> Retry | Any:
    """The parsed result, a Retry, or a typed error. ``body`` is None when it was too large."""
    status = response.status_code
    logger.debug("%s %s -> %d", request.method, shown_url(call, request), status)
    if status in retry.RETRYABLE_STATUS_CODES:
        retry_after = retry.retry_after_seconds(response.headers, now=options.clock.wall())
        resend_safe = call.operation.idempotent or status in retry.REFUSED_BEFORE_PROCESSING_STATUS_CODES
        waitable = retry_after is None or retry_after <= retry.RETRY_AFTER_MAX_SECONDS
        if resend_safe and waitable and attempt < options.max_retries:
            delay = retry.backoff_seconds(attempt, retry_after, uniform=options.clock.uniform)
            logger.info(
                "%s %s -> %d; retry %d in %.2fs",
                request.method,
                shown_url(call, request),
                status,
                attempt + 1,
                delay,
            )
            return Retry(delay, api_error(request, response, body, options))
    if not call.operation.idempotent and retry.leaves_outcome_unknown(status):
        # A gateway, or the API itself, failed after the work may have been done: read it back.
        raise OutcomeUncertain(call, request, api_error(request, response, body, options))
    if status >= 300:
        raise api_error(request, response, body, options)
    if status == 204 and not body and call.operation.may_answer_no_content:
        # "No Content": the answer is the status itself (GET /domini_pec: domain not eligible).
        return None
    try:
        if body is None:
            raise _invalid(request, response, f"response body larger than {call.max_body_bytes} bytes")
        if call.operation.returns_pdf:
            return _pdf(request, response, body)
        envelope = _envelope(request, response, body, strict=call.operation.strict_envelope)
        if call.operation.response_model is None:
            return envelope.get("data")
        return _parse_model(call.operation, request, response, envelope)
    except InvalidResponseError as exc:
        raise _unusable_success(call, request, exc) from None


def shown_url(call: Call, request: httpx.Request) -> str:
    """The request's URL as logs and errors show it: secret path parameters (a token) masked."""
    url = str(request.url)
    for name in call.operation.secret_params:
        value = call.path_params.get(name)
        if value:
            url = url.replace(encode_path_param(value), "***")
    return url


def _unusable_success(call: Call, request: httpx.Request, error: InvalidResponseError) -> Exception:
    """A 2xx whose body is unusable: for a paid call the work may be done, so reconcile, never resend."""
    if call.operation.idempotent or error.refused_by_server:
        return error
    return OutcomeUncertain(call, request, error)


def api_error(
    request: httpx.Request, response: httpx.Response, body: bytes | None, options: Options | None = None
) -> ApiError:
    """The typed error for an error status, with the envelope's message and code when it has them."""
    message, code, data = _error_details(response, body)
    error_type = error_class_for_status(response.status_code)
    now = (options.clock if options is not None else SYSTEM_CLOCK).wall()
    return error_type(
        message,
        status_code=response.status_code,
        code=code,
        method=request.method,
        url=str(request.url),
        data=data,
        retry_after=retry.retry_after_seconds(response.headers, now=now),
        request=request,
        response=response,
    )


def _loads(body: bytes) -> Any:
    """``json.loads``, with every failure (bad UTF-8, bad JSON, nesting too deep) a ValueError."""
    try:
        return json.loads(body)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def undecodable(
    call: Call, request: httpx.Request, response: httpx.Response, exc: httpx.DecodingError
) -> Exception:
    """The error for a body that cannot be decoded (a broken ``content-encoding``)."""
    why = f"response body cannot be decoded ({response.headers.get('content-encoding')}): {exc}"
    if response.status_code < 300:
        return _unusable_success(call, request, _invalid(request, response, why))
    return error_class_for_status(response.status_code)(
        why,
        status_code=response.status_code,
        method=request.method,
        url=str(request.url),
        request=request,
        response=response,
    )


def _error_details(response: httpx.Response, body: bytes | None) -> tuple[str, int | None, Any]:
    if body is None:
        return "error response body too large to read", None, None
    try:
        envelope = _loads(body)
    except ValueError:
        envelope = None
    if isinstance(envelope, dict) and "message" in envelope:
        code = envelope.get("error")
        return (
            str(envelope.get("message")),
            code if isinstance(code, int) and not isinstance(code, bool) else None,
            envelope.get("data"),
        )
    text = body.decode("utf-8", "replace").strip()
    if "html" in response.headers.get("content-type", "") or text.lstrip().startswith("<"):
        return (
            f"HTTP {response.status_code} {response.reason_phrase} (an HTML page, not the API's answer)",
            None,
            None,
        )
    return (text[:500] or f"HTTP {response.status_code} {response.reason_phrase}"), None, None


def _invalid(
    request: httpx.Request, response: httpx.Response, why: str, code: int | None = None
) -> InvalidResponseError:
    return InvalidResponseError(
        why,
        status_code=response.status_code,
        code=code,
        method=request.method,
        url=str(request.url),
        request=request,
        response=response,
    )


def _pdf(request: httpx.Request, response: httpx.Response, body: bytes) -> bytes:
    if not body.lstrip()[:1024].startswith(b"%PDF-") and b"%PDF-" not in body[:1024]:
        content_type = response.headers.get("content-type") or "no content type"
        what = "the body is empty" if not body else f"it starts with {body[:40]!r}"
        raise _invalid(
            request,
            response,
            f"expected a PDF ({content_type}), but the body does not start with %PDF-: {what}",
        )
    return body


def _envelope(
    request: httpx.Request, response: httpx.Response, body: bytes, *, strict: bool = True
) -> dict[str, Any]:
    if not body.strip():
        raise _invalid(request, response, "empty response body")
    try:
        envelope = _loads(body)
    except ValueError as exc:
        snippet = body[:80].decode("utf-8", "replace")
        raise _invalid(
            request, response, f"response is not JSON ({exc.__class__.__name__}): {snippet!r}"
        ) from None
    if not isinstance(envelope, dict) or (strict and "success" not in envelope):
        raise _invalid(
            request, response, "response is not the API's {success, message, error, data} envelope"
        )
    if envelope.get("success", True) is not True:
        code = envelope.get("error")
        refusal = InvalidResponseError(
            str(envelope.get("message") or "the API answered success: false"),
            status_code=response.status_code,
            code=code if isinstance(code, int) and not isinstance(code, bool) else None,
            method=request.method,
            url=str(request.url),
            data=envelope.get("data"),
            request=request,
            response=response,
        )
        refusal.refused_by_server = True
        raise refusal
    return envelope


def _parse_model(
    op: Operation, request: httpx.Request, response: httpx.Response, envelope: dict[str, Any]
) -> Any:
    model = op.load_response_model()
    try:
        parsed = model.from_dict(envelope)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise _invalid(request, response, f"cannot parse the {op.name} response: {exc!r}") from None
    if op.result == "body":
        return parsed
    data = getattr(parsed, "data", None)
    if data is None or type(data).__name__ == "Unset":
        raise _invalid(request, response, f"the {op.name} response carries no data")
    for record in data if isinstance(data, list) else (data,):
        open_enums(record)
    return data


def open_enums(record: Any) -> None:
    """Known states and types become enum members (they are ``str`` too); unknown ones stay strings."""
    fields = OPEN_ENUM_FIELDS.get(type(record).__name__)
    if not fields:
        return
    for name, enum_type in fields.items():
        value = getattr(record, name, None)
        if isinstance(value, str):
            setattr(record, name, parse_open(enum_type, value))
