"""The opt-in wallet check: what a PEC call is about to charge, and its refusal when unaffordable.

The check sees each call the PEC client's flow yields (a :class:`~pec_ext._engine.steps.Call`):
its operation says whether it is paid and how it is priced (``Operation.price``), its parameters
and body give the detail and the units. Where the price depends on something the call does not
say (a renewal's box type, an absolute space size), the charge is marked ``lower_bound``: the
check then uses the cheapest price of that kind, so it refuses only a call the balance cannot
cover in any case, and never one that might have been affordable.

:func:`check` is a flow on the account service (scope prices, then the wallet), so the sync and
the async account client run the same definition before the PEC client sends a paid call.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pec_ext._engine.clock import Clock
from pec_ext._engine.operation import PriceKind
from pec_ext._engine.steps import Call, Flow
from pec_ext.account import _flows as flows
from pec_ext.account.prices import PriceCache, cached_prices
from pec_ext.account.scopes import scope_of
from pec_ext.errors import InsufficientBalanceError
from pec_ext.validation.spaces import SPACE_STEPS

logger = logging.getLogger("pec_ext.account.wallet_check")


@dataclass(frozen=True)
class Charge:
    """``units`` of price ``key`` (``kind`` when the call does not name the detail)."""

    operation: str
    kind: str
    key: str | None
    units: int = 1
    lower_bound: bool = False
    extra: tuple[tuple[str | None, int], ...] = ()
    """Further (key, units) the same call pays (a space change of several fields)."""


def charge_of(call: Call) -> Charge | None:
    """The charge a call makes, or None for a free one."""
    operation = call.operation
    price = operation.price
    if price is None:
        return None
    kind = price.kind
    fields = call.json if isinstance(call.json, Mapping) else {}
    if kind == "renew":
        # The box's type is not in the call: the cheapest renewal, times the years.
        years = str((call.params or {}).get("anni", "1"))
        units = int(years) if years.isdigit() and int(years) > 0 else 1
        return Charge(operation.name, kind, None, units, lower_bound=True)
    if kind == "space":
        return _space_charge(operation.name, price, fields)
    detail = fields.get(price.detail) if price.detail is not None else None
    return Charge(operation.name, kind, price.key(detail))


def _space_charge(operation: str, price: PriceKind, fields: Mapping[str, Any]) -> Charge | None:
    # The detail of a space price is the field itself, each changed field a key of its own.
    parts: list[tuple[str | None, int]] = []
    lower = False
    for name, step in SPACE_STEPS.items():
        value = fields.get(name)
        if isinstance(value, str) and value.startswith("+") and value[1:].isdigit():
            parts.append((price.key(name), max(1, math.ceil(int(value[1:]) / step))))
        elif value is not None:
            # An absolute size: what it adds depends on the box's current size.
            parts.append((price.key(name), 1))
            lower = True
    if not parts:
        return None
    (key, units), *rest = parts
    return Charge(operation, price.kind, key, units, lower_bound=lower, extra=tuple(rest))


def amount(charge: Charge, prices: Mapping[str, float]) -> float | None:
    """EUR for ``charge`` from a price table (``{key: EUR}``); None when the table does not say."""
    total = 0.0
    for key, units in ((charge.key, charge.units), *charge.extra):
        if key is not None and key in prices:
            total += prices[key] * units
            continue
        same_kind = [v for k, v in prices.items() if k == charge.kind or k.startswith(charge.kind + ".")]
        if not same_kind:
            return None
        # Unknown detail: the cheapest of the kind, so the check never refuses what might be affordable.
        total += min(same_kind) * units
    return round(total, 2)


def check(call: Call, *, environment: str, cache: PriceCache, clock: Clock) -> Flow[None]:
    """Refuse ``call`` (:class:`InsufficientBalanceError`, unsent) when the balance cannot pay it.

    A free call passes without a request; a paid one reads its scope's prices (cached) and the
    wallet. When the prices do not say, the call is let through with a warning in the log.
    """
    charge = charge_of(call)
    if charge is None:
        return
    scope = scope_of(call.operation, environment)
    prices = (yield from cached_prices(cache, [scope], clock)).get(scope, {})
    balance = (yield from flows.wallet()).credit
    price = amount(charge, prices)
    if price is None or not isinstance(balance, int | float):
        logger.warning("wallet check: no price for %s in the account's scope prices; sent", charge.kind)
        return
    if price > balance:
        raise InsufficientBalanceError(charge.operation, price, float(balance))
