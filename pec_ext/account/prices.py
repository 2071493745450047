"""Real prices: what a paid PEC operation costs, from the prices of the scope that allows it.

The account service (OAuth v2) tells each scope's prices as ``{price key: EUR}``. The price keys
are the account's own: the embedded sandbox uses the names of its price table (``register.GOLD``,
``renew.BRONZE``...), Openapi may use others. A quote therefore takes the named key when the scope
has it; a key the scope does not price is never replaced by another price: the quote says so
(``key_known`` False, ``amount`` None, ``reason`` naming the keys the scope has). Without a key, a
scope with a single price is quoted at that price, and one with several says which to name.

A paid operation's price key, as the CLI and the sandbox name them, is ``<kind>[.<detail>]``:
``PRICE_KINDS`` maps each kind to the operation it prices.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final

from pec_ext._pec.operations import OPERATIONS
from pec_ext.account.scopes import PAID_OPERATIONS, scope_of
from pec_ext.errors import ValidationError

PRICE_KINDS: Final[Mapping[str, str]] = {
    "register": "register_mailbox",
    "renew": "renew_mailbox",
    "transform": "change_type",
    "space": "change_space",
    "conservazione": "activate_conservation",
    "multiutenza": "add_user",
    "comunica_pec": "communicate_pec",
    "domini_pec": "check_domain",
}
# How long scope prices are trusted before they are read again (seconds, on the client's clock).
PRICES_TTL: Final = 600.0


@dataclass(frozen=True)
class Quote:
    """The price of ``units`` of an operation; ``amount`` is None when the scope's prices do not say.

    ``key_known`` is False when the key asked for is not one the scope prices, and ``reason``
    says why there is no amount (None when there is one).
    """

    operation: str
    scope: str
    key: str | None
    unit_price: float | None
    units: int = 1
    prices: Mapping[str, float] = field(default_factory=dict)
    key_known: bool = True
    reason: str | None = None

    @property
    def amount(self) -> float | None:
        return None if self.unit_price is None else round(self.unit_price * self.units, 2)


def operation_for_key(key: str) -> str:
    kind = key.split(".", 1)[0]
    try:
        return PRICE_KINDS[kind]
    except KeyError:
        raise ValidationError("price key", key, sorted(PRICE_KINDS), "unknown kind of charge") from None


def paid_operation(name: str) -> str:
    if name not in PAID_OPERATIONS:
        raise ValidationError("operation", name, sorted(PAID_OPERATIONS), "not a paid operation")
    return name


def quote(
    operation: str,
    environment: str,
    scope_prices: Mapping[str, float],
    *,
    key: str | None = None,
    units: int = 1,
) -> Quote:
    """The quote for ``operation`` given the prices of the scope that allows it."""
    paid_operation(operation)
    scope = scope_of(OPERATIONS[operation], environment)
    prices = dict(scope_prices)
    has = ", ".join(sorted(prices)) or "no prices"
    if key is not None:
        if key in prices:
            return Quote(operation, scope, key, prices[key], units, prices)
        reason = f"unknown price key {key!r}: the scope {scope} prices {has}"
        return Quote(operation, scope, key, None, units, prices, key_known=False, reason=reason)
    if len(prices) == 1:
        (only_key, only), *_ = prices.items()
        return Quote(operation, scope, only_key, only, units, prices)
    if not prices:
        return Quote(operation, scope, None, None, units, prices, reason=f"the scope {scope} has no prices")
    reason = f"the scope {scope} has several prices ({has}): name one with key="
    return Quote(operation, scope, None, None, units, prices, reason=reason)


def price_table(
    environment: str, prices_by_scope: Mapping[str, Mapping[str, float]], keys: Iterable[str]
) -> dict[str, float]:
    """``{price key: EUR}`` for the CLI's keys, from the scopes' prices (keys no scope prices left out)."""
    table: dict[str, float] = {}
    for key in keys:
        operation = operation_for_key(key)
        scope = scope_of(OPERATIONS[operation], environment)
        found = quote(operation, environment, prices_by_scope.get(scope, {}), key=key)
        if found.unit_price is not None:
            table[key] = found.unit_price
    return table


def paid_scopes(environment: str) -> list[str]:
    """The scopes behind the paid operations, whose prices a quote needs."""
    return sorted({scope_of(OPERATIONS[name], environment) for name in PAID_OPERATIONS})
