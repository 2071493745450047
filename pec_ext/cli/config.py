"""Where the command line talks to, and with which token: the object in click's context.

Targets, most specific first: a :class:`~pec_ext.sandbox.Sandbox` handed in by the caller (tests,
``pec demo``); the embedded in-process sandbox (``--embedded``, optionally kept in a SQLite file
with ``--embedded-db``); a base URL (``--base-url``, e.g. a ``pec sandbox serve``); Openapi's
sandbox or production API. The token is read from ``OPENAPI_PEC_TOKEN`` and never printed.

With account credentials (``OPENAPI_EMAIL`` and ``OPENAPI_API_KEY``), or on the embedded sandbox,
the account service is reachable too: real prices and the wallet before a paid call, tokens.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pec_ext import config
from pec_ext._engine import retry
from pec_ext._engine.clock import SYSTEM_CLOCK, Clock
from pec_ext._pec.client import AsyncPecClient, PecClient
from pec_ext.account.client import AccountClient
from pec_ext.config import BASE_URL_ENV, EMBEDDED_DB_ENV, EMBEDDED_ENV, ENVIRONMENT_ENV, TOKEN_ENV
from pec_ext.errors import ValidationError

from . import prices

if TYPE_CHECKING:
    from pec_ext.sandbox import Sandbox

__all__ = [
    "BASE_URL_ENV",
    "EMBEDDED_DB_ENV",
    "EMBEDDED_ENV",
    "ENVIRONMENT_ENV",
    "TOKEN_ENV",
    "Config",
    "MissingTokenError",
]


class MissingTokenError(ValidationError):
    """No ``OPENAPI_PEC_TOKEN``: says where a token comes from, and how to do without one."""

    def __init__(self, target: str) -> None:
        super().__init__(TOKEN_ENV, "", "a token from https://console.openapi.com", reason="not set")
        self.args = (
            f"{TOKEN_ENV} is not set: a token is needed to talk to {target}. Set it to your Openapi token "
            f"(export {TOKEN_ENV}=...), or try without one: `pec --embedded ...` talks to the "
            "embedded in-process sandbox (--embedded-db FILE keeps its state between commands), "
            f"and `pec sandbox serve` prints the {BASE_URL_ENV} and {TOKEN_ENV} lines for a local one.",
        )


@dataclass
class Config:
    environment: str | None = None
    """"sandbox", "production", or None (the client then reads OPENAPI_PEC_ENVIRONMENT, else sandbox)."""
    base_url: str | None = None
    embedded: bool = False
    embedded_db: str | None = None
    sandbox: Sandbox | None = None
    """A sandbox to talk to in-process; when the caller gives one, the caller closes it."""
    strict_identifiers: bool | None = None
    json: bool = False
    timeout: float = retry.DEFAULT_TIMEOUT_SECONDS
    max_retries: int | None = None
    _own_sandbox: bool = field(default=False, repr=False)

    # -- target ---------------------------------------------------------------------------------

    @property
    def is_embedded(self) -> bool:
        return self.sandbox is not None or self.embedded or self.embedded_db is not None

    @property
    def effective_environment(self) -> str:
        if self.is_embedded:
            return "sandbox"
        return config.environment(self.environment)

    def embedded_sandbox(self) -> Sandbox:
        if self.sandbox is None:
            # the simulator loads when a command uses it, not with every `pec` command
            from pec_ext.sandbox import Sandbox

            self.sandbox = Sandbox(db_path=self.embedded_db)
            self._own_sandbox = True
        return self.sandbox

    def close(self) -> None:
        if self._own_sandbox and self.sandbox is not None:
            self.sandbox.close()
            self.sandbox = None
            self._own_sandbox = False

    @property
    def effective_strict_identifiers(self) -> bool:
        """As the client decides it: strict checksums in production unless told otherwise."""
        if self.strict_identifiers is not None:
            return self.strict_identifiers
        return self.effective_environment == "production"

    def token(self) -> str:
        """The token from the environment; its absence is explained in the command line's terms."""
        if not config.token_is_set():
            raise MissingTokenError(self.describe_target())
        return config.token()

    def secrets(self) -> list[str]:
        """Values that must never appear in any output."""
        return config.secrets()

    # -- account (OAuth v2) -----------------------------------------------------------------------

    @property
    def has_account(self) -> bool:
        """The account service is reachable: the embedded sandbox, or credentials in the environment."""
        return self.is_embedded or config.has_account_credentials()

    def account_client(self) -> AccountClient:
        """The account client for this target (credentials from OPENAPI_EMAIL / OPENAPI_API_KEY)."""
        if self.is_embedded:
            client: AccountClient = self.embedded_sandbox().account_client(timeout=self.timeout)
            return client
        base_url = self.base_url.rstrip("/") + "/oauth" if self.base_url else None
        return AccountClient(environment=self.effective_environment, base_url=base_url, timeout=self.timeout)

    def _options(self) -> dict[str, Any]:
        options: dict[str, Any] = {"strict_identifiers": self.strict_identifiers, "timeout": self.timeout}
        if self.max_retries is not None:
            options["max_retries"] = self.max_retries
        # set: every --callback-url sent carries a token a `pec callbacks listen` can verify
        callback_secret = config.callback_secret()
        if callback_secret:
            options["callback_secret"] = callback_secret
        if not self.is_embedded:
            options.update(token=self.token(), environment=self.environment, base_url=self.base_url)
        return options

    def client(self) -> PecClient:
        if self.is_embedded:
            client: PecClient = self.embedded_sandbox().client(**self._options())
            return client
        return PecClient(**self._options())

    def async_client(self) -> AsyncPecClient:
        if self.is_embedded:
            client: AsyncPecClient = self.embedded_sandbox().async_client(**self._options())
            return client
        return AsyncPecClient(**self._options())

    def clock(self) -> Clock:
        """The target's clock: the embedded sandbox's virtual time, else the system's."""
        if self.is_embedded:
            return self.embedded_sandbox().virtual_clock()
        return SYSTEM_CLOCK

    # -- prices ---------------------------------------------------------------------------------

    def price_list(self) -> prices.PriceList:
        """The account's real prices and balance when it is reachable, else the indicative list."""
        if self.has_account:
            with self.account_client() as account:
                return prices.from_account(account, self.describe_target())
        return prices.indicative()

    def describe_target(self) -> str:
        if self.is_embedded:
            return "embedded sandbox (in-process)"
        if self.base_url:
            return f"{self.effective_environment} at {self.base_url}"
        return f"Openapi {self.effective_environment}"
