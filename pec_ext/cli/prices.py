"""What a paid operation costs: the account's real prices, or an indicative list without one.

With account credentials (``OPENAPI_EMAIL``, ``OPENAPI_API_KEY``; always on the embedded sandbox)
the prices are the account's own, read from the OAuth service's scopes (:func:`from_account`), with
the wallet's balance. Without them, :data:`~pec_ext.account.prices.INDICATIVE_PRICES` (the
production side's list, beside the operations table; the embedded sandbox charges the same) is a
*rough, indicative* list (EUR, VAT excluded) used only to show an order of magnitude; it is no
quote, and the CLI says which of the two it shows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from pec_ext.account.prices import INDICATIVE_PRICES

if TYPE_CHECKING:
    from pec_ext.account.client import AccountClient

__all__ = ["INDICATIVE_PRICES", "PriceList", "from_account", "indicative"]

INDICATIVE_LABEL: Final = (
    "INDICATIVE prices (EUR, VAT excluded): not a quote, the real price is the one in your Openapi console"
)
SANDBOX_LABEL: Final = "embedded sandbox price list (EUR, simulated wallet)"
ACCOUNT_LABEL: Final = "REAL prices of your account's scopes ({where}, EUR, from the account service)"


@dataclass(frozen=True)
class PriceList:
    table: Mapping[str, float]
    label: str
    indicative: bool
    balance: float | None = None
    """The wallet's balance when known (the embedded sandbox); the real API does not tell it."""

    def price(self, key: str | None, units: int = 1) -> float | None:
        """EUR for ``units`` of ``key``; None when the list does not price it (or no key says which)."""
        value = None if key is None else self.table.get(key)
        return None if value is None else round(value * units, 2)


def indicative() -> PriceList:
    return PriceList(INDICATIVE_PRICES, INDICATIVE_LABEL, indicative=True)


def from_account(account: AccountClient, where: str) -> PriceList:
    """The account's prices for the CLI's price keys, and the wallet's balance now."""
    table = account.price_table(INDICATIVE_PRICES)
    balance = account.wallet().credit
    return PriceList(
        table,
        ACCOUNT_LABEL.format(where=where),
        indicative=False,
        balance=balance if isinstance(balance, int | float) else None,
    )
