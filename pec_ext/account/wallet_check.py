"""What a PEC request is about to charge, read from the request itself (for the opt-in wallet check).

The check runs where every request passes (the account token's ``httpx.Auth``), so it sees the
method, the path, the query and the JSON body, not the box behind them. Where the price depends on
something the request does not say (a renewal's box type, an absolute space size), the charge is
marked ``lower_bound``: the check then uses the cheapest price of that kind, so it refuses only a
call the balance cannot cover in any case, and never one that might have been affordable.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from pec_ext.validation.spaces import SPACE_STEPS

_ID: Final = r"[^/]+"
_ROUTES: Final = (
    ("POST", re.compile(r"^/pec$"), "register"),
    ("GET", re.compile(rf"^/pec/{_ID}/rinnovo$"), "renew"),
    ("PATCH", re.compile(rf"^/pec/{_ID}/trasformazione$"), "transform"),
    ("PATCH", re.compile(rf"^/pec/{_ID}/modifica$"), "space"),
    ("PATCH", re.compile(rf"^/pec/{_ID}/conservazione$"), "conservazione"),
    ("POST", re.compile(rf"^/pec/{_ID}/multiutenza$"), "multiutenza"),
    ("POST", re.compile(r"^/comunica_pec$"), "comunica_pec"),
    ("GET", re.compile(rf"^/domini_pec/{_ID}$"), "domini_pec"),
)


@dataclass(frozen=True)
class Charge:
    """``units`` of price ``key`` (``kind`` when the request does not name the detail)."""

    kind: str
    key: str | None
    units: int = 1
    lower_bound: bool = False
    extra: tuple[tuple[str, int], ...] = ()
    """Further (key, units) the same request pays (a space change of several fields)."""


def charge_of(method: str, path: str, query: Mapping[str, str], body: Any) -> Charge | None:
    """The charge a request makes, or None for a free one. ``path`` is relative to the API's root."""
    kind = next((k for m, pattern, k in _ROUTES if m == method.upper() and pattern.match(path)), None)
    if kind is None:
        return None
    fields = body if isinstance(body, Mapping) else {}
    if kind in ("register", "transform"):
        tipo = fields.get("tipo_casella")
        return Charge(kind, f"{kind}.{str(tipo).upper()}" if isinstance(tipo, str) else None)
    if kind == "renew":
        years = str(query.get("anni", "1"))
        return Charge(kind, None, int(years) if years.isdigit() and int(years) > 0 else 1, lower_bound=True)
    if kind == "space":
        parts = []
        lower = False
        for name, step in SPACE_STEPS.items():
            value = fields.get(name)
            if isinstance(value, str) and value.startswith("+") and value[1:].isdigit():
                parts.append((f"space.{name}", max(1, math.ceil(int(value[1:]) / step))))
            elif value is not None:
                # An absolute size: what it adds depends on the box's current size.
                parts.append((f"space.{name}", 1))
                lower = True
        if not parts:
            return None
        (key, units), *rest = parts
        return Charge(kind, key, units, lower_bound=lower, extra=tuple(rest))
    return Charge(kind, kind)


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
