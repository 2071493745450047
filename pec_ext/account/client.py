"""``AccountClient`` and ``AsyncAccountClient``: Openapi's account service (OAuth v2).

Tokens (create with least privilege, list, get, renew with the refresh token, delete), scopes with
their prices and free limits, the wallet and its transactions, the callbacks log, the error log,
the usage statistics (overall, by IP, by API and by scope) and the subscriptions: every operation
of the service's spec. They are built
on the same drivers as ``PecClient`` (``_driver``: same error tree, retry policy, ``http_client=``,
``with_options``, ``with_raw_response``, clock), with the account service's operations table and
HTTP Basic auth (the account's e-mail and API key, ``OPENAPI_EMAIL`` / ``OPENAPI_API_KEY``).

``pec_client(operations=..., ttl=...)`` gives a ``PecClient`` whose token is made by the account
with exactly the scopes those operations need, cached for every process of the user
(``token_cache``) and renewed before it expires; with ``wallet_check=True`` it reads the balance
before each paid call and raises :class:`~pec_ext.errors.InsufficientBalanceError`, without
sending, when it does not cover the price.

The API key and every token value stay out of reprs, logs and error messages: the key is only in
the ``Authorization`` header (which httpx masks), and a token in a URL path is shown as ``***``.

>>> with AccountClient(environment="sandbox") as account:   # OPENAPI_EMAIL, OPENAPI_API_KEY
...     account.wallet().credit
...     pec = account.pec_client(["list_mailboxes", "get_mailbox"])
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
from collections.abc import AsyncGenerator, Generator, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final

import httpx

from pec_ext import config
from pec_ext._engine import retry
from pec_ext._engine.clock import Clock
from pec_ext._engine.driver import AsyncDriver, SyncDriver
from pec_ext._engine.steps import Flow, OutcomeUncertain
from pec_ext._pec.client import AsyncPecClient, PecClient
from pec_ext.account import _flows as flows
from pec_ext.account import prices as quotes
from pec_ext.account._flows import Token
from pec_ext.account.scopes import pec_scopes, warn_if_not_read_only
from pec_ext.account.token_cache import CachedToken, TokenCache, TokenProvider
from pec_ext.account.wallet_check import amount, charge_of
from pec_ext.errors import ApiError, InsufficientBalanceError, PecError, ValidationError

if TYPE_CHECKING:
    from oauth_api.models.callback import Callback
    from oauth_api.models.callback_list_element import CallbackListElement
    from oauth_api.models.error_log import ErrorLog
    from oauth_api.models.get_api_stats_response_200_data import GetApiStatsResponse200Data
    from oauth_api.models.get_stats_by_api_response_200_data_additional_property import (
        GetStatsByApiResponse200DataAdditionalProperty,
    )
    from oauth_api.models.get_stats_response_200_data import GetStatsResponse200Data
    from oauth_api.models.scope_detail import ScopeDetail
    from oauth_api.models.subscription import Subscription
    from oauth_api.models.subscription_list_element import SubscriptionListElement
    from oauth_api.models.user_scope import UserScope
    from oauth_api.models.wallet import Wallet
    from oauth_api.models.wallet_transaction import WalletTransaction

__all__ = [
    "API_KEY_ENV",
    "DEFAULT_TOKEN_TTL",
    "EMAIL_ENV",
    "OAUTH_BASE_URLS",
    "AccountClient",
    "AsyncAccountClient",
    "Token",
]

logger = logging.getLogger("pec_ext.account.client")

EMAIL_ENV: Final = "OPENAPI_EMAIL"
API_KEY_ENV: Final = "OPENAPI_API_KEY"
OAUTH_BASE_URLS: Final[Mapping[str, str]] = {
    "production": "https://oauth.openapi.com",
    "sandbox": "https://test.oauth.openapi.com",
}
DEFAULT_TOKEN_TTL: Final = 24 * 3600
# The PEC client's Authorization until the account's token replaces it on each request.
_PLACEHOLDER_TOKEN: Final = "set-per-request-by-the-account"  # noqa: S105 - not a token


class _MaskTokenPaths(logging.Filter):
    """httpx logs each request's URL at INFO; the account service's URLs can hold a token's value.

    Installed once on the ``httpx`` logger (its public logging, a standard ``logging.Filter``): it
    rewrites ``.../tokens/<value>`` to ``.../tokens/***`` in those lines and drops nothing.
    """

    PATTERN: Final = re.compile(r"(/tokens/)[^/\s\"?#]+")

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "/tokens/" in message:
            record.msg, record.args = self.PATTERN.sub(r"\1***", message), ()
        return True


def _mask_token_paths_in_httpx_logs() -> None:
    httpx_logger = logging.getLogger("httpx")
    if not any(isinstance(f, _MaskTokenPaths) for f in httpx_logger.filters):
        httpx_logger.addFilter(_MaskTokenPaths())


def _email(value: str | None) -> str:
    chosen = value if value is not None else os.environ.get(EMAIL_ENV, "")
    if not isinstance(chosen, str) or "@" not in chosen.strip():
        raise ValidationError("email", chosen, f"the account's e-mail: pass email= or set {EMAIL_ENV}")
    return chosen.strip()


def _api_key(value: str | None) -> str:
    chosen = value if value is not None else os.environ.get(API_KEY_ENV, "")
    if not isinstance(chosen, str) or not chosen.strip():
        raise ValidationError("api_key", "", f"the account's API key: pass api_key= or set {API_KEY_ENV}")
    chosen = chosen.strip()
    if not all(" " < char < "\x7f" for char in chosen):
        raise ValidationError("api_key", "***", "printable ASCII without spaces")
    return chosen


class _PriceCache:
    """Scope prices, trusted for ``quotes.PRICES_TTL`` seconds of the client's clock."""

    def __init__(self) -> None:
        self._entries: dict[str, tuple[float, dict[str, float]]] = {}

    def missing(self, scopes: Iterable[str], now: float) -> list[str]:
        return [s for s in scopes if s not in self._entries or now - self._entries[s][0] >= quotes.PRICES_TTL]

    def store(self, scopes: Iterable[str], found: Mapping[str, dict[str, float]], now: float) -> None:
        for scope in scopes:
            self._entries[scope] = (now, dict(found.get(scope, {})))

    def get(self, scopes: Iterable[str]) -> dict[str, dict[str, float]]:
        return {s: dict(self._entries[s][1]) for s in scopes if s in self._entries}


def _cached_prices(cache: _PriceCache, scopes: list[str], clock: Clock) -> Flow[dict[str, dict[str, float]]]:
    now = clock.monotonic()
    missing = cache.missing(scopes, now)
    if missing:
        found = yield from flows.scope_prices(missing)
        cache.store(missing, found, now)
    return cache.get(scopes)


def _quote(
    cache: _PriceCache, environment: str, operation: str, key: str | None, units: int, clock: Clock
) -> Flow[quotes.Quote]:
    quotes.paid_operation(operation)
    (scope,) = pec_scopes(environment, [operation])
    prices = yield from _cached_prices(cache, [scope], clock)
    return quotes.quote(operation, environment, prices.get(scope, {}), key=key, units=units)


def _price_table(
    cache: _PriceCache, environment: str, keys: Iterable[str], clock: Clock
) -> Flow[dict[str, float]]:
    keys = list(keys)
    scopes = sorted({pec_scopes(environment, [quotes.operation_for_key(k)])[0] for k in keys})
    prices = yield from _cached_prices(cache, scopes, clock)
    return quotes.price_table(environment, prices, keys)


def _issue(ttl: int, name: str, scopes: list[str], previous: CachedToken | None) -> Flow[CachedToken]:
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


class _AccountSetup:
    """The account client's configuration, shared by both drivers."""

    _options: Any
    base_url: str

    def _configure(
        self, *, email: str | None, api_key: str | None, environment: str | None, base_url: str | None
    ) -> tuple[str, str]:
        self.environment = config.environment(environment)
        self.email = _email(email)
        basic = base64.b64encode(f"{self.email}:{_api_key(api_key)}".encode()).decode("ascii")
        url = base_url or OAUTH_BASE_URLS[self.environment]
        if not url.startswith(("http://", "https://")):
            raise ValidationError("base_url", url, "an http:// or https:// URL")
        self._prices = _PriceCache()
        _mask_token_paths_in_httpx_logs()
        return url, f"Basic {basic}"

    def _pec_defaults(self, options: dict[str, Any]) -> dict[str, Any]:
        """Where pec_client() talks: beside the account on a sandbox server (``.../oauth``)."""
        if "http_client" in options:
            raise ValidationError(
                "http_client",
                type(options["http_client"]).__name__,
                "not with pec_client(): the token rides on an httpx.Auth of the client made here; pass "
                "transport=, or PecClient(token=account.create_pec_token(...).token, http_client=...)",
            )
        if "base_url" not in options and self.base_url.rstrip("/").endswith("/oauth"):
            options["base_url"] = self.base_url.rstrip("/")[: -len("/oauth")]
        options.setdefault("environment", self.environment)
        options.setdefault("clock", self._options.clock)
        return options

    def _provider(
        self, operations: Iterable[str] | None, cache: TokenCache | None, clock: Clock
    ) -> TokenProvider:
        scopes = pec_scopes(self.environment, list(operations) if operations is not None else None)
        return TokenProvider(
            environment=self.environment, email=self.email, scopes=scopes, clock=clock.wall, cache=cache
        )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(environment={self.environment!r}, base_url={self.base_url!r}, "
            f"email={self.email!r}, api_key='***')"
        )


def _redacted(exc: BaseException, call_token: str | None) -> BaseException:
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
    if isinstance(request, httpx.Request) and encoded in str(request.url):
        request.url = httpx.URL(str(request.url).replace(encoded, "***"))
    exc.args = tuple(a.replace(encoded, "***") if isinstance(a, str) else a for a in exc.args)
    return exc


class AccountClient(_AccountSetup, SyncDriver):
    """Synchronous account client; use as a context manager, or call :meth:`close`."""

    def __init__(
        self,
        email: str | None = None,
        api_key: str | None = None,
        *,
        environment: str | None = None,
        base_url: str | None = None,
        timeout: float | None = retry.DEFAULT_TIMEOUT_SECONDS,
        max_retries: int = retry.DEFAULT_MAX_RETRIES,
        http_client: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        extra_headers: Mapping[str, str] | None = None,
        clock: Clock | None = None,
    ) -> None:
        url, authorization = self._configure(
            email=email, api_key=api_key, environment=environment, base_url=base_url
        )
        self._transport_given = transport
        self._setup(
            base_url=url,
            authorization=authorization,
            timeout=timeout,
            max_retries=max_retries,
            extra_headers=extra_headers,
            clock=clock,
            http_client=http_client,
            http_class=httpx.Client,
            transport=transport,
        )

    def _send(self, call: Any, seen: Any) -> Any:
        try:
            return super()._send(call, seen)
        except (PecError, OutcomeUncertain) as exc:
            raise _redacted(exc, call.path_params.get("token")) from exc.__cause__

    # -- tokens -------------------------------------------------------------------------------

    def create_token(
        self,
        scopes: Iterable[str],
        *,
        name: str | None = None,
        ttl: int | None = None,
        limits: Mapping[str, Any] | None = None,
        warn: bool = True,
    ) -> Token:
        """A token with ``scopes``; warns (ScopeWarning) when GET-only scopes can still pay."""
        scopes = flows.check_scopes(scopes)
        if warn:
            warn_if_not_read_only(scopes)
        return self._run(flows.create_token(scopes, name, ttl, limits))

    def create_pec_token(
        self, operations: Iterable[str] | None = None, *, name: str | None = None, ttl: int | None = None
    ) -> Token:
        """A token with exactly the scopes the named PEC operations need (all when None)."""
        return self.create_token(
            pec_scopes(self.environment, list(operations) if operations is not None else None),
            name=name,
            ttl=ttl,
        )

    def list_tokens(self, *, skip: int = 0, limit: int = flows.PAGE_LIMIT) -> list[Token]:
        return self._run(flows.list_tokens(skip, limit))

    def get_token(self, token: str) -> Token:
        return self._run(flows.get_token(token))

    def update_token(
        self,
        token: str,
        *,
        scopes: Iterable[str] | None = None,
        name: str | None = None,
        ttl: int | None = None,
        limits: Mapping[str, Any] | None = None,
    ) -> Token:
        return self._run(flows.update_token(token, scopes, name, ttl, limits))

    def renew_token(self, token: str, refresh_token: str) -> Token:
        """A new token (and refresh token) with the same scopes; the old one stops working."""
        return self._run(flows.renew_token(token, refresh_token))

    def delete_token(self, token: str) -> None:
        self._run(flows.delete_token(token))

    # -- scopes, prices, wallet, callbacks ----------------------------------------------------

    def list_scopes(self) -> list[UserScope]:
        return self._run(flows.list_scopes())

    def get_scope(self, scope: str) -> ScopeDetail:
        """One scope with its prices and free limits, by id or name (``POST:pec.openapi.it/pec``)."""
        return self._run(flows.get_scope(scope))

    def scope_prices(self, scopes: Iterable[str]) -> dict[str, dict[str, float]]:
        """``{scope: {price key: EUR}}``, read at most every ``quotes.PRICES_TTL`` seconds."""
        return self._run(_cached_prices(self._prices, list(scopes), self._options.clock))

    def quote(self, operation: str, *, key: str | None = None, units: int = 1) -> quotes.Quote:
        """What a paid PEC operation costs, from the prices of the scope that allows it."""
        return self._run(_quote(self._prices, self.environment, operation, key, units, self._options.clock))

    def price_table(self, keys: Iterable[str]) -> dict[str, float]:
        """``{price key: EUR}`` for keys such as ``register.GOLD``, from the scopes' prices."""
        return self._run(_price_table(self._prices, self.environment, keys, self._options.clock))

    def wallet(self) -> Wallet:
        return self._run(flows.wallet())

    def transactions(self, *, skip: int = 0, limit: int = flows.PAGE_LIMIT) -> list[WalletTransaction]:
        """The wallet's transactions, newest first (the PEC charges among them)."""
        return self._run(flows.transactions(skip, limit))

    def callbacks(self, *, skip: int = 0, limit: int = flows.PAGE_LIMIT) -> list[CallbackListElement]:
        return self._run(flows.callbacks(skip, limit))

    def callback(self, callback_id: str) -> Callback:
        return self._run(flows.callback(callback_id))

    # -- error log, statistics, subscriptions -------------------------------------------------

    def errors(
        self, *, skip: int = 0, limit: int = flows.PAGE_LIMIT, scopes: Iterable[str] | None = None
    ) -> list[ErrorLog]:
        """The account's failed requests (``scopes``: only those of these scopes)."""
        return self._run(flows.errors(skip, limit, scopes))

    def stats(self, *, date: flows.StatsDate | None = None) -> GetStatsResponse200Data:
        """Requests, paid requests, errors and the amount spent; ``date``: a year, month or day."""
        return self._run(flows.stats(date))

    def stats_ips(self, *, date: flows.StatsDate | None = None) -> list[str]:
        """The addresses the account's requests came from."""
        return self._run(flows.stats_ips(date))

    def stats_by_api(
        self, *, date: flows.StatsDate | None = None
    ) -> dict[str, GetStatsByApiResponse200DataAdditionalProperty]:
        """``{API domain: its totals}``."""
        return self._run(flows.stats_by_api(date))

    def api_stats(self, domain: str, *, date: flows.StatsDate | None = None) -> GetApiStatsResponse200Data:
        """One API's totals with the breakdown by scope, e.g. ``api_stats("pec.openapi.it")``."""
        return self._run(flows.api_stats(domain, date))

    def subscriptions(
        self, *, skip: int = 0, limit: int = flows.PAGE_LIMIT, scopes: Iterable[str] | None = None
    ) -> list[SubscriptionListElement]:
        return self._run(flows.subscriptions(skip, limit, scopes))

    def subscription(self, subscription_id: str) -> Subscription:
        return self._run(flows.subscription(subscription_id))

    # -- a PEC client with a least-privilege token --------------------------------------------

    def pec_client(
        self,
        operations: Iterable[str] | None = None,
        *,
        ttl: int = DEFAULT_TOKEN_TTL,
        name: str = "openapi-pec",
        wallet_check: bool = False,
        cache: TokenCache | None = None,
        **pec_options: Any,
    ) -> PecClient:
        """A ``PecClient`` holding a token with exactly the scopes ``operations`` need.

        The token comes from the shared cache, or is made (renewed before it expires, on the PEC
        client's clock). ``wallet_check=True``: each paid call first reads the balance and is
        refused with ``InsufficientBalanceError``, unsent, when the price is not covered.
        """
        options = self._pec_defaults(dict(pec_options))
        if self._transport_given is not None and "transport" not in options:
            options["transport"] = self._transport_given
        provider = self._provider(operations, cache, options["clock"])
        auth = _AccountTokenAuth(
            self, provider, flows.check_ttl(ttl) or DEFAULT_TOKEN_TTL, name, wallet_check
        )
        http = httpx.Client(
            auth=auth,
            transport=options.pop("transport", None),
            timeout=options.get("timeout", retry.DEFAULT_TIMEOUT_SECONDS),
        )
        pec = _OwningPecClient(_PLACEHOLDER_TOKEN, http_client=http, owned=http, **options)
        auth.base_path = httpx.URL(pec.base_url).path.rstrip("/")
        return pec


class AsyncAccountClient(_AccountSetup, AsyncDriver):
    """Asynchronous account client; mirrors :class:`AccountClient` method for method."""

    def __init__(
        self,
        email: str | None = None,
        api_key: str | None = None,
        *,
        environment: str | None = None,
        base_url: str | None = None,
        timeout: float | None = retry.DEFAULT_TIMEOUT_SECONDS,
        max_retries: int = retry.DEFAULT_MAX_RETRIES,
        http_client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        extra_headers: Mapping[str, str] | None = None,
        clock: Clock | None = None,
    ) -> None:
        url, authorization = self._configure(
            email=email, api_key=api_key, environment=environment, base_url=base_url
        )
        self._transport_given = transport
        self._setup(
            base_url=url,
            authorization=authorization,
            timeout=timeout,
            max_retries=max_retries,
            extra_headers=extra_headers,
            clock=clock,
            http_client=http_client,
            http_class=httpx.AsyncClient,
            transport=transport,
        )

    async def _send(self, call: Any, seen: Any) -> Any:
        try:
            return await super()._send(call, seen)
        except (PecError, OutcomeUncertain) as exc:
            raise _redacted(exc, call.path_params.get("token")) from exc.__cause__

    async def create_token(
        self,
        scopes: Iterable[str],
        *,
        name: str | None = None,
        ttl: int | None = None,
        limits: Mapping[str, Any] | None = None,
        warn: bool = True,
    ) -> Token:
        scopes = flows.check_scopes(scopes)
        if warn:
            warn_if_not_read_only(scopes)
        return await self._run(flows.create_token(scopes, name, ttl, limits))

    async def create_pec_token(
        self, operations: Iterable[str] | None = None, *, name: str | None = None, ttl: int | None = None
    ) -> Token:
        return await self.create_token(
            pec_scopes(self.environment, list(operations) if operations is not None else None),
            name=name,
            ttl=ttl,
        )

    async def list_tokens(self, *, skip: int = 0, limit: int = flows.PAGE_LIMIT) -> list[Token]:
        return await self._run(flows.list_tokens(skip, limit))

    async def get_token(self, token: str) -> Token:
        return await self._run(flows.get_token(token))

    async def update_token(
        self,
        token: str,
        *,
        scopes: Iterable[str] | None = None,
        name: str | None = None,
        ttl: int | None = None,
        limits: Mapping[str, Any] | None = None,
    ) -> Token:
        return await self._run(flows.update_token(token, scopes, name, ttl, limits))

    async def renew_token(self, token: str, refresh_token: str) -> Token:
        return await self._run(flows.renew_token(token, refresh_token))

    async def delete_token(self, token: str) -> None:
        await self._run(flows.delete_token(token))

    async def list_scopes(self) -> list[UserScope]:
        return await self._run(flows.list_scopes())

    async def get_scope(self, scope: str) -> ScopeDetail:
        return await self._run(flows.get_scope(scope))

    async def scope_prices(self, scopes: Iterable[str]) -> dict[str, dict[str, float]]:
        return await self._run(_cached_prices(self._prices, list(scopes), self._options.clock))

    async def quote(self, operation: str, *, key: str | None = None, units: int = 1) -> quotes.Quote:
        return await self._run(
            _quote(self._prices, self.environment, operation, key, units, self._options.clock)
        )

    async def price_table(self, keys: Iterable[str]) -> dict[str, float]:
        return await self._run(_price_table(self._prices, self.environment, keys, self._options.clock))

    async def wallet(self) -> Wallet:
        return await self._run(flows.wallet())

    async def transactions(self, *, skip: int = 0, limit: int = flows.PAGE_LIMIT) -> list[WalletTransaction]:
        return await self._run(flows.transactions(skip, limit))

    async def callbacks(self, *, skip: int = 0, limit: int = flows.PAGE_LIMIT) -> list[CallbackListElement]:
        return await self._run(flows.callbacks(skip, limit))

    async def callback(self, callback_id: str) -> Callback:
        return await self._run(flows.callback(callback_id))

    async def errors(
        self, *, skip: int = 0, limit: int = flows.PAGE_LIMIT, scopes: Iterable[str] | None = None
    ) -> list[ErrorLog]:
        return await self._run(flows.errors(skip, limit, scopes))

    async def stats(self, *, date: flows.StatsDate | None = None) -> GetStatsResponse200Data:
        return await self._run(flows.stats(date))

    async def stats_ips(self, *, date: flows.StatsDate | None = None) -> list[str]:
        return await self._run(flows.stats_ips(date))

    async def stats_by_api(
        self, *, date: flows.StatsDate | None = None
    ) -> dict[str, GetStatsByApiResponse200DataAdditionalProperty]:
        return await self._run(flows.stats_by_api(date))

    async def api_stats(
        self, domain: str, *, date: flows.StatsDate | None = None
    ) -> GetApiStatsResponse200Data:
        return await self._run(flows.api_stats(domain, date))

    async def subscriptions(
        self, *, skip: int = 0, limit: int = flows.PAGE_LIMIT, scopes: Iterable[str] | None = None
    ) -> list[SubscriptionListElement]:
        return await self._run(flows.subscriptions(skip, limit, scopes))

    async def subscription(self, subscription_id: str) -> Subscription:
        return await self._run(flows.subscription(subscription_id))

    def pec_client(
        self,
        operations: Iterable[str] | None = None,
        *,
        ttl: int = DEFAULT_TOKEN_TTL,
        name: str = "openapi-pec",
        wallet_check: bool = False,
        cache: TokenCache | None = None,
        **pec_options: Any,
    ) -> AsyncPecClient:
        """An ``AsyncPecClient`` holding a least-privilege token; see ``AccountClient.pec_client``."""
        options = self._pec_defaults(dict(pec_options))
        if self._transport_given is not None and "transport" not in options:
            options["transport"] = self._transport_given
        provider = self._provider(operations, cache, options["clock"])
        auth = _AccountTokenAuth(
            self, provider, flows.check_ttl(ttl) or DEFAULT_TOKEN_TTL, name, wallet_check
        )
        http = httpx.AsyncClient(
            auth=auth,
            transport=options.pop("transport", None),
            timeout=options.get("timeout", retry.DEFAULT_TIMEOUT_SECONDS),
        )
        pec = _AsyncOwningPecClient(_PLACEHOLDER_TOKEN, http_client=http, owned=http, **options)
        auth.base_path = httpx.URL(pec.base_url).path.rstrip("/")
        return pec


class _OwningPecClient(PecClient):
    """A PecClient that closes the httpx client the account made for it."""

    def __init__(self, *args: Any, owned: httpx.Client, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._owned = owned

    def close(self) -> None:
        super().close()
        self._owned.close()


class _AsyncOwningPecClient(AsyncPecClient):
    def __init__(self, *args: Any, owned: httpx.AsyncClient, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._owned = owned

    async def close(self) -> None:
        await super().close()
        await self._owned.aclose()


class _AccountTokenAuth(httpx.Auth):
    """Puts the account's least-privilege token on every PEC request; the wallet check, too.

    An ``httpx.Auth`` because every request of the PEC client passes through it (httpx's public
    hook): the token is read from the cache (or made) right before sending, a 401 is answered by
    one new token and one resend (the gateway refused it before any work), and a paid request is
    checked against the balance first when ``wallet_check`` is on.
    """

    def __init__(
        self,
        account: AccountClient | AsyncAccountClient,
        provider: TokenProvider,
        ttl: int,
        name: str,
        wallet_check: bool,
    ) -> None:
        self.account = account
        self.provider = provider
        self.ttl = ttl
        self.name = name
        self.wallet_check = wallet_check
        # The path of the PEC client's base URL (a server of one's own may have a prefix).
        self.base_path = ""

    def __repr__(self) -> str:
        return f"_AccountTokenAuth(scopes={self.provider.scopes!r}, wallet_check={self.wallet_check})"

    def _issue_flow(self, previous: CachedToken | None) -> Flow[CachedToken]:
        return _issue(self.ttl, self.name, self.provider.scopes, previous)

    def _charge(self, request: httpx.Request) -> Any:
        path = request.url.path
        if self.base_path and path.startswith(self.base_path):
            path = path[len(self.base_path) :]
        try:
            body = json.loads(request.content) if request.content else None
        except (httpx.RequestNotRead, ValueError):
            body = None  # a streamed upload: the charge does not depend on the documents
        return charge_of(request.method, "/" + path.lstrip("/"), dict(request.url.params), body)

    @staticmethod
    def _refuse(charge: Any, prices: Mapping[str, float], balance: object) -> None:
        price = amount(charge, prices)
        if price is None or not isinstance(balance, int | float):
            logger.warning("wallet check: no price for %s in the account's scope prices; sent", charge.kind)
            return
        if price > balance:
            raise InsufficientBalanceError(quotes.PRICE_KINDS[charge.kind], price, float(balance))

    # -- sync ---------------------------------------------------------------------------------

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        account = self.account
        assert isinstance(account, AccountClient), "the sync PEC client needs the sync AccountClient"
        self._sync_check(account, request)
        token = self.provider.token(lambda previous: account._run(self._issue_flow(previous)))
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401:
            self.provider.forget()
            token = self.provider.token(lambda previous: account._run(self._issue_flow(None)))
            request.headers["Authorization"] = f"Bearer {token}"
            yield request

    def _sync_check(self, account: AccountClient, request: httpx.Request) -> None:
        if not self.wallet_check:
            return
        charge = self._charge(request)
        if charge is None:
            return
        operation = quotes.PRICE_KINDS[charge.kind]
        (scope,) = pec_scopes(account.environment, [operation])
        prices = account.scope_prices([scope]).get(scope, {})
        self._refuse(charge, prices, account.wallet().credit)

    # -- async --------------------------------------------------------------------------------

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        account = self.account
        assert isinstance(account, AsyncAccountClient), "the async PEC client needs AsyncAccountClient"
        await self._async_check(account, request)
        token = await self.provider.atoken(lambda previous: account._run(self._issue_flow(previous)))
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401:
            await self.provider.aforget()
            token = await self.provider.atoken(lambda previous: account._run(self._issue_flow(None)))
            request.headers["Authorization"] = f"Bearer {token}"
            yield request

    async def _async_check(self, account: AsyncAccountClient, request: httpx.Request) -> None:
        if not self.wallet_check:
            return
        charge = self._charge(request)
        if charge is None:
            return
        operation = quotes.PRICE_KINDS[charge.kind]
        (scope,) = pec_scopes(account.environment, [operation])
        prices = (await account.scope_prices([scope])).get(scope, {})
        self._refuse(charge, prices, (await account.wallet()).credit)
