"""What a flow yields to its driver (calls, pauses, blocking work) and the options it runs under.

A flow is a generator written once for sync and async: the drivers only move bytes and time.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from pec_ext._engine import retry
from pec_ext._engine.clock import SYSTEM_CLOCK, Clock
from pec_ext._engine.operation import Operation, encode_path_param
from pec_ext.errors import (
    ApiError,
    OutcomeUnknownError,
    RequestTimeoutError,
    ValidationError,
)

if TYPE_CHECKING:
    # For annotations only: an httpx2 request has the same public interface (see stack.py).
    import httpx

# Bodies above these sizes are refused instead of being read into memory.
MAX_JSON_BODY_BYTES = 16 * 1024 * 1024


MAX_PDF_BODY_BYTES = 64 * 1024 * 1024


T = TypeVar("T")
S = TypeVar("S")


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


def drive(flow: Generator[S, Any, T], run: Callable[[S], Any], catch: tuple[type[BaseException], ...]) -> T:
    """Run ``flow`` to its end: each step it yields is given to ``run``, whose result is sent back.

    An exception of a ``catch`` type raised by ``run`` is thrown into the flow instead, which may
    handle it (reconcile, record) or let it propagate. The one loop behind every sync driver.
    """
    value: Any = None
    error: BaseException | None = None
    while True:
        try:
            step = flow.throw(error) if error is not None else flow.send(value)
        except StopIteration as stop:
            result: T = stop.value
            return result
        value, error = None, None
        try:
            value = run(step)
        except catch as exc:
            error = exc


async def drive_async(
    flow: Generator[S, Any, T], run: Callable[[S], Awaitable[Any]], catch: tuple[type[BaseException], ...]
) -> T:
    """:func:`drive` on an event loop: ``run`` is awaited. The one loop behind every async driver."""
    value: Any = None
    error: BaseException | None = None
    while True:
        try:
            step = flow.throw(error) if error is not None else flow.send(value)
        except StopIteration as stop:
            result: T = stop.value
            return result
        value, error = None, None
        try:
            value = await run(step)
        except catch as exc:
            error = exc


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
    # pec_ext.journal.base: where paid calls with an idempotency key are recorded, and the key every
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
        raise ValidationError("journal", type(journal).__name__, "a pec_ext.journal.base.Journal, or None")
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

    def __init__(
        self, call: Call, request: httpx.Request, cause: BaseException | ApiError, *, timed_out: bool = False
    ) -> None:
        self.call = call
        self.timed_out = timed_out
        self.method = request.method
        self.url = shown_url(call, request)
        self.cause = cause
        super().__init__(f"{self.method} {self.url}: {cause}")

    def unknown(self, message: str, known: Any = None) -> OutcomeUnknownError:
        """The user-facing error, a timeout too when the cause was one."""
        error_type = OutcomeUnknownTimeoutError if self.timed_out else OutcomeUnknownError
        return error_type(
            f"{self.call.operation.name}: {message} (after: {self.cause})",
            operation=self.call.operation.name,
            method=self.method,
            url=self.url,
            known=known,
        )


class OutcomeUnknownTimeoutError(OutcomeUnknownError, RequestTimeoutError):
    """A paid or mutating call timed out; it was not resent and its outcome is unknown."""


def shown_url(call: Call, request: httpx.Request) -> str:
    """The request's URL as logs and errors show it: secret path parameters (a token) masked."""
    url = str(request.url)
    for name in call.operation.secret_params:
        value = call.path_params.get(name)
        if value:
            url = url.replace(encode_path_param(value), "***")
    return url
