"""The account side (Openapi's OAuth v2): least-privilege tokens, the wallet, real prices."""

from pec_ext.account.client import AccountClient, AsyncAccountClient
from pec_ext.account.prices import Quote
from pec_ext.account.scopes import pec_scopes
from pec_ext.account.token_cache import CachedToken, TokenCache, TokenProvider

__all__ = [
    "AccountClient",
    "AsyncAccountClient",
    "CachedToken",
    "Quote",
    "TokenCache",
    "TokenProvider",
    "pec_scopes",
]
