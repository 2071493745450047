"""What a paid operation costs: the embedded sandbox's price list, or an indicative one.

The real API's prices depend on the account's contract and change over time; the PEC API has no
endpoint that tells them. :data:`INDICATIVE_PRICES` is therefore a *rough, indicative* list (EUR,
VAT excluded, same keys and ballpark as the sandbox's) used only to show an order of magnitude
before a paid call to the real API. It is no quote: check the Openapi console for the actual price.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from pec_ext.sandbox.wallet import DEFAULT_PRICES

# One table: the sandbox charges these same amounts, so what the CLI announces for the embedded
# sandbox and for the real API can be compared directly.
INDICATIVE_PRICES: Final[Mapping[str, float]] = DEFAULT_PRICES
"""Indicative prices (EUR, VAT excluded) for the real API: an order of magnitude, not a quote."""

INDICATIVE_LABEL: Final = (
    "INDICATIVE prices (EUR, VAT excluded): not a quote, the real price is the one in your Openapi console"
)
SANDBOX_LABEL: Final = "embedded sandbox price list (EUR, simulated wallet)"


@dataclass(frozen=True)
class PriceList:
    table: Mapping[str, float]
    label: str
    indicative: bool
    balance: float | None = None
    """The wallet's balance when known (the embedded sandbox); the real API does not tell it."""

    def price(self, key: str, units: int = 1) -> float | None:
        value = self.table.get(key)
        return None if value is None else round(value * units, 2)


def indicative() -> PriceList:
    return PriceList(INDICATIVE_PRICES, INDICATIVE_LABEL, indicative=True)
