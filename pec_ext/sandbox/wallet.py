"""Prices and the prepaid wallet.

Amounts are kept in cents so that a long test run never drifts through float rounding. A charge is
only taken after every check of a request has passed: a refused call costs nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from pec_ext._pec.operations import INDICATIVE_PRICES

from .errors import fail
from .state import WALLET_CHANGED, Record, State

# The production side's indicative list (EUR, VAT excluded): what the CLI announces without an
# account is what the embedded sandbox charges, so the two can be compared directly.
DEFAULT_PRICES: Final[Mapping[str, float]] = INDICATIVE_PRICES


# PEC Massiva (massiva.py), per recipient of an accepted sending. Kept apart from DEFAULT_PRICES,
# which is the PEC API's table: pec_ext.account.prices and the CLI's price list map every key of it to a
# PEC operation. The sandbox's table (Prices) holds both.
MASSIVA_PRICES: Final[Mapping[str, float]] = {
    "pecmassiva.send": 0.10,
}


def to_cents(amount: float) -> int:
    return round(amount * 100)


def format_balance(cents: int) -> str:
    return f"{cents / 100:.2f}"


class Prices:
    def __init__(self, overrides: Mapping[str, float] | None = None) -> None:
        self.table: dict[str, float] = {**DEFAULT_PRICES, **MASSIVA_PRICES, **(overrides or {})}

    def cents(self, key: str, units: int = 1) -> int:
        return to_cents(self.table.get(key, 0.0)) * units


def ensure_funds(state: State, cents: int, error: str) -> None:
    if cents > state.balance_cents:
        raise fail(error, balance=format_balance(state.balance_cents))


def charge(state: State, cents: int, *, operation: str, ref: str, now: float) -> None:
    if cents <= 0:
        return
    state.balance_cents -= cents
    entry: Record = {
        "seq": len(state.ledger) + 1,
        "timestamp": int(now),
        "operation": operation,
        "ref": ref,
        "amount": cents / 100,
        "balance_after": state.balance_cents / 100,
    }
    state.ledger.append(entry)
    state.dirty.add(WALLET_CHANGED)
