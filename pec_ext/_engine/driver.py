"""The sync and async drivers: they run a flow, send its calls through the HTTP client's ``send``.

Every decision is taken by ``judge`` (sans-IO); a driver only waits, sends and reads bytes, so the
two stay mirrors. Any client with an operations table and an ``Authorization`` value (the PEC
client, the account client) is built on one of them.

Requests are built from a template fixed when the client is made (``wire.Wire``) and handed to
``send()`` of the user's ``httpx`` or ``httpx2`` client (or of the one made here), so its event
hooks, auth, mounts, proxies, ``verify``/``cert``, limits and ``http2`` all apply; the token and our
headers are set on each request. The client's own default headers are read when the driver is made.
Every request, stream and exception is of that client's library (``stack``).
"""

from __future__ import annotations

import asyncio
import copy
import datetime
import http.cookiejar
import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Generic, Self, TypeVar

from pec_ext._engine import judge, stack, steps, wire
from pec_ext._engine.steps import Blocking, Call, Flow, Options, Retry, Sleep
from pec_ext.errors import PecError, RequestTimeoutError, ValidationError

if TYPE_CHECKING:
    from types import TracebackType

    # For annotations only: httpx2's objects have the same public interface (see stack.py).
    import httpx

T = TypeVar("T")
logger = logging.getLogger("pec_ext")

USER_AGENT = "openapi-pec/0.1 (python)"


class Secret:
    """A credential (an ``Authorization`` value) that never shows in a repr."""

    __slots__ = ("value",)

    def __init__(self, value: str) -> None:
        self.value = value

    def __repr__(self) -> str:
        return "'***'"


def _no_cookies() -> http.cookiejar.CookieJar:
    # The API authenticates by token only: a jar that accepts nothing keeps answers from
    # planting cookies that later requests would carry.
    return http.cookiejar.CookieJar(policy=http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))


def _check_options(timeout: object, max_retries: object, extra_headers: object) -> None:
    if timeout is not None and (
        isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0
    ):
        raise ValidationError("timeout", timeout, "a number of seconds > 0, or None for no deadline")
    if not isinstance(max_retries, int) or isinstance(max_retries, bool) or max_retries < 0:
        raise ValidationError("max_retries", max_retries, "an integer >= 0")
    if not isinstance(extra_headers, tuple) or not all(
        isinstance(name, str) and isinstance(value, str) for name, value in extra_headers
    ):
        raise ValidationError("extra_headers", extra_headers, "a mapping of header names to str values")
    for name, value in extra_headers:
        if name.lower() in ("authorization", "host"):
            raise ValidationError("extra_headers", name, "any header but Authorization and Host")
        if not name or any(char in name for char in " :\r\n") or any(char in value for char in "\r\n"):
            raise ValidationError("extra_headers", name, "a header name without spaces, colons or newlines")


def _headers(extra_headers: Mapping[str, str] | None) -> tuple[tuple[str, str], ...]:
    if extra_headers is None:
        return ()
    if not isinstance(extra_headers, Mapping):
        raise ValidationError("extra_headers", extra_headers, "a mapping of header names to str values")
    return tuple(extra_headers.items())


# ``with_options`` arguments that were not given (None means "no deadline" for ``timeout``).
_NOT_GIVEN: Any = object()


@dataclass(frozen=True)
class RawResponse(Generic[T]):
    """What ``client.with_raw_response.<method>(...)`` returns.

    ``http_response`` is the ``httpx.Response`` (an ``httpx2.Response`` on an httpx2 client) of the
    call that produced the result (status, headers, ``elapsed``); its body was read by pec_ext and
    is in ``content``. ``parse()`` gives the typed result the plain method returns.
    """

    http_response: httpx.Response
    content: bytes
    _parsed: T

    def parse(self) -> T:
        return self._parsed

    @property
    def status_code(self) -> int:
        return self.http_response.status_code

    @property
    def headers(self) -> httpx.Headers:
        return self.http_response.headers

    def __repr__(self) -> str:
        return f"RawResponse({self.http_response!r})"


class _Seen:
    """The last answer of a run, kept for ``with_raw_response``."""

    __slots__ = ("body", "elapsed", "response")

    def __init__(self) -> None:
        self.response: httpx.Response | None = None
        self.body: bytes = b""
        self.elapsed = 0.0

    def keep(self, response: httpx.Response, body: bytes | None, elapsed: float) -> None:
        self.response, self.body, self.elapsed = response, body or b"", elapsed

    def wrap(self, result: Any) -> RawResponse[Any]:
        response = self.response
        assert response is not None, "a flow always makes a call"
        try:
            response.elapsed  # noqa: B018 - httpx sets it when it timed the exchange itself
        except RuntimeError:
            # An in-process transport that answered with a body already read is never timed.
            response.elapsed = datetime.timedelta(seconds=self.elapsed)
        return RawResponse(response, self.body, result)


class _RawView:
    """``client.with_raw_response``: the same methods, returning :class:`RawResponse`."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self._client, name)
        if name.startswith("_") or not callable(method) or name in _NOT_OPERATIONS:
            raise AttributeError(f"with_raw_response has no method {name!r}")
        return method  # type: ignore[no-any-return]

    def __dir__(self) -> list[str]:
        return [
            name for name in dir(self._client) if not name.startswith("_") and name not in _NOT_OPERATIONS
        ]


_NOT_OPERATIONS = frozenset({"close", "with_options", "with_raw_response", "settings", "environment"})


# What a flow's steps may raise that is thrown back into the flow (it reconciles or lets it go).
_THROWN_INTO_FLOW = (PecError, steps.OutcomeUncertain)


class _Base:
    """What both drivers hold: the HTTP client, the request template and the per-call options."""

    _http: Any
    _raw: bool = False
    _asynchronous: bool = False

    def _setup(
        self,
        *,
        base_url: str,
        authorization: str,
        timeout: float | None,
        max_retries: int,
        extra_headers: Any,
        clock: Any,
        http_client: Any,
        transport: Any,
        http: str | None = None,
    ) -> None:
        """``http``: the library to make a client with (``httpx`` or ``httpx2``), already read from
        ``http=`` or ``OPENAPI_PEC_HTTP``; a given ``http_client`` or ``transport`` decides alone."""
        headers = _headers(extra_headers)
        _check_options(timeout, max_retries, headers)
        if http_client is not None and transport is not None:
            raise ValidationError("transport", transport, "None when http_client= is given (mount it there)")
        self._stack = stack.choose(http, http_client, transport)
        http_class = self._stack.AsyncClient if self._asynchronous else self._stack.Client
        if http_client is not None:
            if not isinstance(http_client, http_class):
                name = f"{self._stack.name}.{http_class.__name__}"
                raise ValidationError("http_client", type(http_client).__name__, f"an {name}")
            self._http, self._owns_http = http_client, False
        else:
            self._http = http_class(
                transport=transport,
                timeout=float(timeout) if timeout is not None else None,
                headers={"user-agent": USER_AGENT},
                cookies=_no_cookies(),
                follow_redirects=False,
            )
            self._owns_http = True
        self.base_url = base_url
        # Copies made by with_options share it: one deadline timer per client and its copies.
        self._watchdog = _Watchdog()
        self._authorization = Secret(authorization)
        extra = {"clock": clock} if clock is not None else {}
        self._options = Options(
            timeout=float(timeout) if timeout is not None else None,
            max_retries=max_retries,
            extra_headers=headers,
            **extra,
        )
        self._wire = self._make_wire()

    def _make_wire(self) -> wire.Wire:
        defaults = self._stack.Headers(self._http.headers)
        if self._owns_http:
            defaults["user-agent"] = USER_AGENT
        elif "user-agent" in defaults and defaults["user-agent"].startswith(f"python-{self._stack.name}/"):
            # The library's own default says nothing the user chose; ours says who is calling.
            defaults["user-agent"] = USER_AGENT
        return wire.Wire.of(
            self._stack,
            self.base_url,
            defaults,
            self._authorization.value,
            self._http.timeout,
            self._options.extra_headers,
        )

    @property
    def options(self) -> Options:
        return self._options

    def with_options(
        self,
        *,
        timeout: float | None = _NOT_GIVEN,
        max_retries: int = _NOT_GIVEN,
        extra_headers: Mapping[str, str] | None = _NOT_GIVEN,
        idempotency_key: str | None = _NOT_GIVEN,
        journal: Any = _NOT_GIVEN,
    ) -> Self:
        """A client sharing this one's connection pool, differing only in the settings given.

        ``timeout``: the deadline in seconds for each call (connect, upload, download, retries and
        backoff included; ``None``: no deadline). ``max_retries``: how many times a call that is
        safe to resend is resent. ``extra_headers``: headers added to every request (they replace
        the ones given before). ``journal`` (a :class:`pec_ext.journal.base.Journal`) and
        ``idempotency_key``: paid calls are recorded under the key, never sent twice (see
        :mod:`pec_ext.journal.base`). Closing the copy leaves the shared pool open.
        """
        changes: dict[str, Any] = {}
        if idempotency_key is not _NOT_GIVEN:
            changes["idempotency_key"] = steps.check_idempotency_key(idempotency_key)
        if journal is not _NOT_GIVEN:
            changes["journal"] = steps.check_journal(journal)
        if timeout is not _NOT_GIVEN:
            changes["timeout"] = timeout
        if max_retries is not _NOT_GIVEN:
            changes["max_retries"] = max_retries
        if extra_headers is not _NOT_GIVEN:
            changes["extra_headers"] = _headers(extra_headers)
        _check_options(
            changes.get("timeout", self._options.timeout),
            changes.get("max_retries", self._options.max_retries),
            changes.get("extra_headers", self._options.extra_headers),
        )
        if changes.get("timeout") is not None:
            changes["timeout"] = float(changes["timeout"])
        return self._copy(replace(self._options, **changes))

    def _copy(self, options: Options, *, raw: bool = False) -> Self:
        clone = copy.copy(self)
        clone._options = options
        clone._owns_http = False
        clone._raw = raw or self._raw
        clone._wire = clone._make_wire()
        return clone

    @property
    def with_raw_response(self) -> Any:
        """The same methods, each returning a :class:`RawResponse` (``.http_response``, ``.parse()``)."""
        return _RawView(self._copy(self._options, raw=True))

    def _request(self, call: Call, deadline: float | None) -> httpx.Request:
        if self._http.is_closed:
            raise RuntimeError(f"{type(self).__name__} is closed: make a new one")
        remaining = self._options.remaining(deadline)
        if remaining is not None and remaining <= 0:
            raise RequestTimeoutError(
                f"{call.operation.name}: the call's deadline ({self._options.timeout:g}s) passed before "
                "it could be sent; it was not sent"
            )
        expired = None if deadline is None else lambda: self._options.clock.monotonic() >= deadline
        request = wire.build_request(self._wire, call, remaining, expired)
        if deadline is not None:
            # Event hooks that wait before sending (a rate limiter) must not wait past the deadline.
            request.extensions[wire.REMAINING_EXTENSION] = lambda: self._options.remaining(deadline)
        return request

    def _expired(self, deadline: float | None) -> bool:
        return deadline is not None and self._options.clock.monotonic() >= deadline

    def _read_timeout(self, request: httpx.Request) -> httpx.ReadTimeout:
        error: httpx.ReadTimeout = self._stack.ReadTimeout(
            f"the call's deadline ({self._options.timeout:g}s) passed while reading the answer",
            request=request,
        )
        return error

    def _give_up(self, outcome: Retry, deadline: float | None) -> bool:
        """A retry whose backoff would end past the deadline is not made: its error is raised."""
        remaining = self._options.remaining(deadline)
        return remaining is not None and outcome.delay >= remaining

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r})"


class SyncDriver(_Base):
    """Runs flows with blocking I/O, through ``Client.send``."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP client this object made; one given with ``http_client=`` stays open."""
        if self._owns_http:
            self._http.close()

    def _run(self, flow: Flow[T]) -> T:
        options = self._options
        seen = _Seen()

        def run(step: steps.Step) -> Any:
            if isinstance(step, Sleep):
                return options.clock.sleep(step.seconds)
            if isinstance(step, Blocking):
                return step.run()
            return self._send(step, seen)

        result = steps.drive(flow, run, _THROWN_INTO_FLOW)
        return seen.wrap(result) if self._raw else result  # type: ignore[return-value]

    def _send(self, call: Call, seen: _Seen) -> Any:
        # Each call has its own deadline, so a reconciling read still has time after a timeout.
        deadline = self._options.deadline()
        attempt = 0
        while True:
            request = self._request(call, deadline)
            started = self._options.clock.monotonic()
            try:
                response = self._http.send(request, stream=True, follow_redirects=False)
                try:
                    body = self._read(response, call.max_body_bytes, deadline)
                except self._stack.DecodingError as exc:
                    raise judge.undecodable(call, request, response, exc) from None
                finally:
                    response.close()
            except self._stack.TransportError as exc:
                outcome: Any = judge.on_transport_error(
                    call, request, exc, attempt, self._options, self._stack
                )
            else:
                seen.keep(response, body, self._options.clock.monotonic() - started)
                outcome = judge.on_response(call, request, response, body, attempt, self._options)
            if not isinstance(outcome, Retry):
                return outcome
            if self._give_up(outcome, deadline):
                raise outcome.error
            self._options.clock.sleep(outcome.delay)
            attempt += 1

    def _read(self, response: httpx.Response, limit: int, deadline: float | None) -> bytes | None:
        chunks, size = [], 0
        for chunk in response.iter_bytes():
            if self._expired(deadline):
                raise self._read_timeout(response.request)
            size += len(chunk)
            if size > limit:
                return None
            chunks.append(chunk)
        return b"".join(chunks)


class _Exchange:
    """One exchange in flight under a :class:`_Watchdog`."""

    __slots__ = ("fired", "task", "when")

    def __init__(self, task: asyncio.Task[Any], when: float) -> None:
        self.task, self.when, self.fired = task, when, False


class _Watchdog:
    """Cancels the exchanges of a client that outlive their deadline, with one loop timer for all.

    ``asyncio.timeout()`` per call arms and cancels a timer on every request, which costs a bulk
    job at concurrency 64 about a tenth of its throughput; here the timer is armed for the earliest
    deadline in flight and only moved when it fires.
    """

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._inflight: set[_Exchange] = set()
        self._handle: asyncio.TimerHandle | None = None
        self._armed_for = math.inf

    def watch(self, seconds: float | None) -> _Exchange | None:
        if seconds is None:
            return None
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a client used from another event loop starts afresh
            self._loop, self._inflight, self._handle, self._armed_for = loop, set(), None, math.inf
        task = asyncio.current_task()
        assert task is not None, "an exchange runs in a task"
        exchange = _Exchange(task, loop.time() + seconds)
        self._inflight.add(exchange)
        if exchange.when < self._armed_for:
            self._arm(exchange.when)
        return exchange

    def done(self, exchange: _Exchange | None) -> None:
        if exchange is not None:
            self._inflight.discard(exchange)

    def _arm(self, when: float) -> None:
        assert self._loop is not None
        if self._handle is not None:
            self._handle.cancel()
        self._handle, self._armed_for = self._loop.call_at(when, self._fire), when

    def _fire(self) -> None:
        assert self._loop is not None
        self._handle, self._armed_for = None, math.inf
        now = self._loop.time()
        for exchange in [e for e in self._inflight if e.when <= now]:
            exchange.fired = True
            self._inflight.discard(exchange)
            exchange.task.cancel()
        if self._inflight:
            self._arm(min(e.when for e in self._inflight))


class AsyncDriver(_Base):
    """Runs flows on an event loop, through ``AsyncClient.send``; blocking steps run in a thread."""

    _asynchronous = True

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the HTTP client this object made; one given with ``http_client=`` stays open."""
        if self._owns_http:
            await self._http.aclose()

    async def _run(self, flow: Flow[T]) -> T:
        options = self._options
        seen = _Seen()

        async def run(step: steps.Step) -> Any:
            if isinstance(step, Sleep):
                return await options.clock.async_sleep(step.seconds)
            if isinstance(step, Blocking):
                return await asyncio.to_thread(step.run)
            return await self._send(step, seen)

        result = await steps.drive_async(flow, run, _THROWN_INTO_FLOW)
        return seen.wrap(result) if self._raw else result  # type: ignore[return-value]

    async def _send(self, call: Call, seen: _Seen) -> Any:
        # Each call has its own deadline, so a reconciling read still has time after a timeout.
        deadline = self._options.deadline()
        attempt = 0
        while True:
            if wire.needs_thread(call):
                # Laying out a body of megabytes scans every string: not on the loop.
                request = await asyncio.to_thread(self._request, call, deadline)
            else:
                request = self._request(call, deadline)
            started = self._options.clock.monotonic()
            try:
                response, body = await self._exchange(call, request, deadline)
            except self._stack.TransportError as exc:
                outcome: Any = judge.on_transport_error(
                    call, request, exc, attempt, self._options, self._stack
                )
            else:
                seen.keep(response, body, self._options.clock.monotonic() - started)
                outcome = judge.on_response(call, request, response, body, attempt, self._options)
            if not isinstance(outcome, Retry):
                return outcome
            if self._give_up(outcome, deadline):
                raise outcome.error
            await self._options.clock.async_sleep(outcome.delay)
            attempt += 1

    async def _exchange(
        self, call: Call, request: httpx.Request, deadline: float | None
    ) -> tuple[httpx.Response, bytes | None]:
        # The phase limits bound each read; the watchdog bounds the whole exchange, headers included.
        exchange = self._watchdog.watch(self._options.remaining(deadline))
        try:
            response = await self._http.send(request, stream=True, follow_redirects=False)
            try:
                body = await self._read(response, call.max_body_bytes, deadline)
            except self._stack.DecodingError as exc:
                raise judge.undecodable(call, request, response, exc) from None
            finally:
                await response.aclose()
        except asyncio.CancelledError:
            if exchange is not None and exchange.fired:
                exchange.task.uncancel()
                raise self._read_timeout(request) from None
            raise
        finally:
            self._watchdog.done(exchange)
        return response, body

    async def _read(self, response: httpx.Response, limit: int, deadline: float | None) -> bytes | None:
        chunks, size = [], 0
        async for chunk in response.aiter_bytes():
            if self._expired(deadline):
                raise self._read_timeout(response.request)
            size += len(chunk)
            if size > limit:
                return None
            chunks.append(chunk)
        return b"".join(chunks)
