"""The account's credentials on the wire, and the least-privilege token on each PEC request.

* :func:`basic_authorization`: the account service's HTTP Basic value (e-mail and API key);
* :class:`AccountTokenAuth`: an ``Auth`` of httpx or httpx2 putting the account's token on every request of
  the PEC client ``AccountClient.pec_client()`` makes (read from the cache, or made, right before
  sending; a 401 is answered by one new token and one resend);
* masking: a token's value in a URL path never reaches a log line (:func:`mask_token_paths_in_httpx_logs`)
  or an error (:func:`redacted`).
"""

from __future__ import annotations

import base64
import functools
import logging
import re
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator
from typing import Any, Final, cast

from pec_ext._engine import stack as http_stack
from pec_ext._engine.steps import Flow
from pec_ext.account import _flows as flows
from pec_ext.account._flows import Token
from pec_ext.account.token_cache import CachedToken, TokenProvider
from pec_ext.errors import ApiError, PecError

logger = logging.getLogger("pec_ext.account.client")


def basic_authorization(email: str, api_key: str) -> str:
    return "Basic " + base64.b64encode(f"{email}:{api_key}".encode()).decode("ascii")


class _MaskTokenPaths(logging.Filter):
    """httpx logs each request's URL at INFO; the account service's URLs can hold a token's value.

    Installed once on the ``httpx`` and ``httpx2`` loggers (their public logging, a standard
    ``logging.Filter``): it
    rewrites ``.../tokens/<value>`` to ``.../tokens/***`` in those lines and drops nothing.
    """

    PATTERN: Final = re.compile(r"(/tokens/)[^/\s\"?#]+")

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "/tokens/" in message:
            record.msg, record.args = self.PATTERN.sub(r"\1***", message), ()
        return True


def mask_token_paths_in_httpx_logs() -> None:
    for name in http_stack.NAMES:
        httpx_logger = logging.getLogger(name)
        if not any(isinstance(f, _MaskTokenPaths) for f in httpx_logger.filters):
            httpx_logger.addFilter(_MaskTokenPaths())


def redacted(exc: BaseException, call_token: str | None) -> BaseException:
    """The same error, a token value that was in the URL path replaced by ``***``.

    The account service's error codes are its own: they are not named after the PEC spec's.
    """
    if isinstance(exc, ApiError):
        exc.codes = None
        exc.args = (str(exc),)
    if not call_token:
        return exc
    encoded = call_token
    for attr in ("url", "message"):
        value = getattr(exc, attr, None)
        if isinstance(value, str) and encoded in value:
            setattr(exc, attr, value.replace(encoded, "***"))
    request = getattr(exc, "request", None)
    url = getattr(request, "url", None)
    if url is not None and encoded in str(url):
        # The URL class of the request's own library (httpx or httpx2).
        request.url = type(url)(str(url).replace(encoded, "***"))  # type: ignore[union-attr]
    exc.args = tuple(a.replace(encoded, "***") if isinstance(a, str) else a for a in exc.args)
    return exc


def issue(ttl: int, name: str, scopes: list[str], previous: CachedToken | None) -> Flow[CachedToken]:
    """A renewal with the refresh token while the old one is valid, else a new token."""
    token: Token | None = None
    if previous is not None and previous.refresh_token:
        try:
            token = yield from flows.renew_token(previous.token, previous.refresh_token)
        except PecError as exc:
            logger.info("renewal with the refresh token refused (%s); making a new token", type(exc).__name__)
    if token is None:
        token = yield from flows.create_token(scopes, name, ttl, None)
    expires = token.expires_at()
    issued = token.created_at.timestamp() if token.created_at is not None else None
    if expires is None:
        raise PecError("the account service answered a token without its expiry")
    return CachedToken(token.token, token.scopes, expires, issued if issued is not None else expires - ttl,
                       token.refresh_token)  # fmt: skip


# How the account client runs a flow: its driver's ``_run`` (sync) or a coroutine of it (async).
SyncRunner = Callable[[Flow[CachedToken]], CachedToken]
AsyncRunner = Callable[[Flow[CachedToken]], Awaitable[CachedToken]]


@functools.cache
def token_auth(stack: http_stack.Stack) -> type[AccountTokenAuth]:
    """:class:`AccountTokenAuth` as an ``Auth`` of ``stack``'s library (each takes only its own)."""
    made = type("AccountTokenAuth", (AccountTokenAuth, stack.Auth), {})
    return cast("type[AccountTokenAuth]", made)


class AccountTokenAuth:
    """Puts the account's least-privilege token on every PEC request.

    An ``Auth`` of the client's library (made one by :func:`token_auth`) because every request of
    the PEC client passes through it (the library's public hook): the token is read from the cache
    (or made) right before sending, and a 401 is answered by one new token and one resend (the
    gateway refused it before any work).
    """

    def __init__(
        self,
        provider: TokenProvider,
        ttl: int,
        name: str,
        *,
        run: SyncRunner | None = None,
        arun: AsyncRunner | None = None,
    ) -> None:
        self.provider = provider
        self.ttl = ttl
        self.name = name
        self._run = run
        self._arun = arun

    def __repr__(self) -> str:
        return f"AccountTokenAuth(scopes={self.provider.scopes!r})"

    def _issue_flow(self, previous: CachedToken | None) -> Flow[CachedToken]:
        return issue(self.ttl, self.name, self.provider.scopes, previous)

    def sync_auth_flow(self, request: Any) -> Generator[Any, Any, None]:
        run = self._run
        assert run is not None, "the sync PEC client needs the sync AccountClient"
        token = self.provider.token(lambda previous: run(self._issue_flow(previous)))
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401:
            self.provider.forget()
            token = self.provider.token(lambda previous: run(self._issue_flow(None)))
            request.headers["Authorization"] = f"Bearer {token}"
            yield request

    async def async_auth_flow(self, request: Any) -> AsyncGenerator[Any, Any]:
        arun = self._arun
        assert arun is not None, "the async PEC client needs AsyncAccountClient"
        token = await self.provider.atoken(lambda previous: arun(self._issue_flow(previous)))
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401:
            await self.provider.aforget()
            token = await self.provider.atoken(lambda previous: arun(self._issue_flow(None)))
            request.headers["Authorization"] = f"Bearer {token}"
            yield request
