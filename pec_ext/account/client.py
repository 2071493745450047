"""``AccountClient`` and ``AsyncAccountClient``: Openapi's account service (OAuth v2).

Tokens (create with least privilege, list, get, renew with the refresh token, delete), scopes with
their prices and free limits, the wallet and its transactions, the callbacks log, the error log,
the usage statistics (overall, by IP, by API and by scope) and the subscriptions: every operation
of the service's spec. They are built on the same drivers as ``PecClient``
(``pec_ext._engine.driver``: same error tree, retry policy, ``http_client=``, ``with_options``,
``with_raw_response``, clock), with the account service's operations table and HTTP Basic auth
(the account's e-mail and API key, ``OPENAPI_EMAIL`` / ``OPENAPI_API_KEY``).

The concerns around it have their modules: ``auth`` (credentials, the token on PEC requests,
masking), ``prices`` (quotes and the price cache), ``wallet_check`` (what a call charges, and its
refusal), ``pec_client`` (the PEC clients made here), ``scopes``, ``token_cache``.

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

import logging
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final

from pec_ext import config
from pec_ext._engine import retry
from pec_ext._engine import stack as http_stack
from pec_ext._engine.clock import Clock
from pec_ext._engine.driver import AsyncDriver, SyncDriver
from pec_ext._engine.steps import Call, OutcomeUncertain
from pec_ext._pec.client import AsyncPecClient, PecClient
from pec_ext.account import _flows as flows
from pec_ext.account import prices as quotes
from pec_ext.account import wallet_check as wallet
from pec_ext.account._flows import Token
from pec_ext.account.auth import (
    basic_authorization,
    mask_token_paths_in_httpx_logs,
    redacted,
    token_auth,
)
from pec_ext.account.pec_client import AccountPecClient, AsyncAccountPecClient
from pec_ext.account.scopes import pec_scopes, warn_if_not_read_only
from pec_ext.account.token_cache import TokenCache, TokenProvider
from pec_ext.errors import PecError, ValidationError

if TYPE_CHECKING:
    import httpx
    import httpx2

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
    "DEFAULT_TOKEN_TTL",
    "OAUTH_BASE_URLS",
    "AccountClient",
    "AsyncAccountClient",
    "Token",
]

logger = logging.getLogger("pec_ext.account.client")

OAUTH_BASE_URLS: Final[Mapping[str, str]] = {
    "production": "https://oauth.openapi.com",
    "sandbox": "https://test.oauth.openapi.com",
}
DEFAULT_TOKEN_TTL: Final = 24 * 3600
# The PEC client's Authorization until the account's token replaces it on each request.
_PLACEHOLDER_TOKEN: Final = "set-per-request-by-the-account"  # noqa: S105 - not a token


class _AccountSetup:
    """The account client's configuration, shared by both drivers."""

    _options: Any
    base_url: str

    def _configure(
        self, *, email: str | None, api_key: str | None, environment: str | None, base_url: str | None
    ) -> tuple[str, str]:
        self.environment = config.environment(environment)
        self.email = config.email(email)
        authorization = basic_authorization(self.email, config.api_key(api_key))
        url = base_url or OAUTH_BASE_URLS[self.environment]
        if not url.startswith(("http://", "https://")):
            raise ValidationError("base_url", url, "an http:// or https:// URL")
        self._prices = quotes.PriceCache()
        mask_token_paths_in_httpx_logs()
        return url, authorization

    def _pec_defaults(self, options: dict[str, Any]) -> dict[str, Any]:
        """Where pec_client() talks: beside the account on a sandbox server (``.../oauth``)."""
        if "http_client" in options:
            raise ValidationError(
                "http_client",
                type(options["http_client"]).__name__,
                "not with pec_client(): the token rides on an Auth of the client made here; pass "
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
        http_client: httpx.Client | httpx2.Client | None = None,
        transport: httpx.BaseTransport | httpx2.BaseTransport | None = None,
        extra_headers: Mapping[str, str] | None = None,
        clock: Clock | None = None,
        http: str | None = None,
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
            transport=transport,
            http=config.http_library(http),
        )

    def _send(self, call: Any, seen: Any) -> Any:
        try:
            return super()._send(call, seen)
        except (PecError, OutcomeUncertain) as exc:
            raise redacted(exc, call.path_params.get("token")) from exc.__cause__

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
        """``{scope: {price key: EUR}}``, read at most every ``prices.PRICES_TTL`` seconds."""
        return self._run(quotes.cached_prices(self._prices, list(scopes), self._options.clock))

    def quote(self, operation: str, *, key: str | None = None, units: int = 1) -> quotes.Quote:
        """What a paid PEC operation costs, from the prices of the scope that allows it."""
        return self._run(
            quotes.quote_flow(self._prices, self.environment, operation, key, units, self._options.clock)
        )

    def price_table(self, keys: Iterable[str]) -> dict[str, float]:
        """``{price key: EUR}`` for keys such as ``register.GOLD``, from the scopes' prices."""
        return self._run(quotes.price_table_flow(self._prices, self.environment, keys, self._options.clock))

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
        transport = options.pop("transport", None)
        # The account's own library, unless http= or the transport says another.
        stack = http_stack.choose(
            config.http_library(options.pop("http", None)) or self._stack.name, None, transport
        )
        auth = token_auth(stack)(provider, flows.check_ttl(ttl) or DEFAULT_TOKEN_TTL, name, run=self._run)
        http = stack.Client(
            auth=auth, transport=transport, timeout=options.get("timeout", retry.DEFAULT_TIMEOUT_SECONDS)
        )
        check = self._check_wallet if wallet_check else None
        return AccountPecClient(
            _PLACEHOLDER_TOKEN, http_client=http, owned=http, wallet_check=check, **options
        )

    def _check_wallet(self, call: Call) -> None:
        self._run(
            wallet.check(call, environment=self.environment, cache=self._prices, clock=self._options.clock)
        )


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
        http_client: httpx.AsyncClient | httpx2.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | httpx2.AsyncBaseTransport | None = None,
        extra_headers: Mapping[str, str] | None = None,
        clock: Clock | None = None,
        http: str | None = None,
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
            transport=transport,
            http=config.http_library(http),
        )

    async def _send(self, call: Any, seen: Any) -> Any:
        try:
            return await super()._send(call, seen)
        except (PecError, OutcomeUncertain) as exc:
            raise redacted(exc, call.path_params.get("token")) from exc.__cause__

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
        return await self._run(quotes.cached_prices(self._prices, list(scopes), self._options.clock))

    async def quote(self, operation: str, *, key: str | None = None, units: int = 1) -> quotes.Quote:
        return await self._run(
            quotes.quote_flow(self._prices, self.environment, operation, key, units, self._options.clock)
        )

    async def price_table(self, keys: Iterable[str]) -> dict[str, float]:
        return await self._run(
            quotes.price_table_flow(self._prices, self.environment, keys, self._options.clock)
        )

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
        transport = options.pop("transport", None)
        # The account's own library, unless http= or the transport says another.
        stack = http_stack.choose(
            config.http_library(options.pop("http", None)) or self._stack.name, None, transport
        )
        auth = token_auth(stack)(provider, flows.check_ttl(ttl) or DEFAULT_TOKEN_TTL, name, arun=self._run)
        http = stack.AsyncClient(
            auth=auth, transport=transport, timeout=options.get("timeout", retry.DEFAULT_TIMEOUT_SECONDS)
        )
        check = self._check_wallet if wallet_check else None
        return AsyncAccountPecClient(
            _PLACEHOLDER_TOKEN, http_client=http, owned=http, wallet_check=check, **options
        )

    async def _check_wallet(self, call: Call) -> None:
        await self._run(
            wallet.check(call, environment=self.environment, cache=self._prices, clock=self._options.clock)
        )
