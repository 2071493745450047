"""Real prices: what a paid PEC operation costs, from the prices of the scope that allows it.

The account service (OAuth v2) tells each scope's prices as ``{price key: EUR}``. The price keys
are the account's own: the embedded sandbox uses the names of its price table (``register.GOLD``,
``renew.BRONZE``...), Openapi may use others. A quote therefore takes the named key when the scope
has it; a key the scope does not price is never replaced by another price: the quote says so
(``key_known`` False, ``amount`` None, ``reason`` naming the keys the scope has). Without a key, a
scope with a single price is quoted at that price, and one with several says which to name.

What is paid, and the kind of each paid operation's price keys (``<kind>[.<detail>]``), is the
operations table's (:attr:`Operation.price <pec_ext._engine.operation.Operation.price>`); nothing
here lists them again. :data:`INDICATIVE_PRICES` (same keys) is an order of magnitude, no quote.

The account client reads scope prices through :func:`cached_prices` (a flow, so the sync and the
async client run the same definition) and keeps them for :data:`PRICES_TTL` seconds of its clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final

from pec_ext._engine.clock import Clock
from pec_ext._engine.operation import Operation
from pec_ext._engine.steps import Flow
from pec_ext._pec.operations import INDICATIVE_PRICES, OPERATIONS
from pec_ext.account import _flows as flows
from pec_ext.account.scopes import paid_operations, scope_of
from pec_ext.errors import ValidationError

__all__ = [
    "INDICATIVE_PRICES",
    "PRICES_TTL",
    "PriceCache",
    "Quote",
    "cached_prices",
    "operation_for_key",
    "paid_operation",
    "paid_scopes",
    "price_key",
    "price_kinds",
    "price_table",
    "price_table_flow",
    "quote",
    "quote_flow",
]

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


def price_kinds() -> dict[str, str]:
    """``{price kind: operation}`` for every paid operation of the table."""
    return {op.price.kind: name for name, op in OPERATIONS.items() if op.price is not None}


def operation_for_key(key: str) -> str:
    """The paid operation a price key (``<kind>[.<detail>]``) prices."""
    kinds = price_kinds()
    kind = key.split(".", 1)[0]
    try:
        return kinds[kind]
    except KeyError:
        raise ValidationError("price key", key, sorted(kinds), "unknown kind of charge") from None


def paid_operation(name: str) -> Operation:
    """The paid operation ``name``; a clear error for an unknown or a free one."""
    operation = OPERATIONS.get(name)
    if operation is None or not operation.paid:
        raise ValidationError("operation", name, paid_operations(), "not a paid operation")
    return operation


def price_key(operation: str, detail: object = None) -> str | None:
    """The price key the paid ``operation`` charges for ``detail`` (a box type, a space field).

    The key is the operation's (:meth:`PriceKind.key <pec_ext._engine.operation.PriceKind.key>`),
    the same the wallet check reads from the call: ``price_key("renew_mailbox", "gold")`` is
    ``renew.GOLD``. None when the operation has several prices and ``detail`` does not say which.
    """
    price = paid_operation(operation).price
    return None if price is None else price.key(detail)


def quote(
    operation: str,
    environment: str,
    scope_prices: Mapping[str, float],
    *,
    key: str | None = None,
    units: int = 1,
) -> Quote:
    """The quote for ``operation`` given the prices of the scope that allows it."""
    scope = scope_of(paid_operation(operation), environment)
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
    return sorted({scope_of(OPERATIONS[name], environment) for name in paid_operations()})


class PriceCache:
    """Scope prices, trusted for :data:`PRICES_TTL` seconds of the client's clock."""

    def __init__(self) -> None:
        self._entries: dict[str, tuple[float, dict[str, float]]] = {}

    def missing(self, scopes: Iterable[str], now: float) -> list[str]:
        return [s for s in scopes if s not in self._entries or now - self._entries[s][0] >= PRICES_TTL]

    def store(self, scopes: Iterable[str], found: Mapping[str, dict[str, float]], now: float) -> None:
        for scope in scopes:
            self._entries[scope] = (now, dict(found.get(scope, {})))

    def get(self, scopes: Iterable[str]) -> dict[str, dict[str, float]]:
        return {s: dict(self._entries[s][1]) for s in scopes if s in self._entries}


def cached_prices(cache: PriceCache, scopes: list[str], clock: Clock) -> Flow[dict[str, dict[str, float]]]:
    """``{scope: {price key: EUR}}``, read from the account only for the scopes not fresh in ``cache``."""
    now = clock.monotonic()
    missing = cache.missing(scopes, now)
    if missing:
        found = yield from flows.scope_prices(missing)
        cache.store(missing, found, now)
    return cache.get(scopes)


def quote_flow(
    cache: PriceCache, environment: str, operation: str, key: str | None, units: int, clock: Clock
) -> Flow[Quote]:
    scope = scope_of(paid_operation(operation), environment)
    prices = yield from cached_prices(cache, [scope], clock)
    return quote(operation, environment, prices.get(scope, {}), key=key, units=units)


def price_table_flow(
    cache: PriceCache, environment: str, keys: Iterable[str], clock: Clock
) -> Flow[dict[str, float]]:
    keys = list(keys)
    scopes = sorted({scope_of(OPERATIONS[operation_for_key(k)], environment) for k in keys})
    prices = yield from cached_prices(cache, scopes, clock)
    return price_table(environment, prices, keys)
