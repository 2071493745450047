"""What the account service's statistics, error log and subscriptions say, from the sandbox's own traffic.

Every request of the PEC side is counted once it is answered: by UTC day and by scope
(``METHOD:domain/segment``), with its status, the client's address and what the wallet's ledger
recorded for it (the charges the request added), so ``GET /stats`` and the wallet always agree.
Requests that failed go to a bounded error log (``GET /errors``).

Subscriptions: the sandbox gives every account a small, fixed set, monthly bundles of free reads
(``SUBSCRIPTION_PLANS``), anchored at the sandbox's start and renewed every 30 days of its clock. A
request of a subscribed scope that was not charged uses one of the bundle's requests while some
remain: it is a ``subscriptionRequests`` of the statistics.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from .state import Record, State

SANDBOX_DOMAIN: Final = "test.pec.openapi.it"
PEC_DOMAINS: Final = ("pec.openapi.it", "test.pec.openapi.it")
# The first path segments the account service knows as PEC scopes; others are nobody's API.
PEC_SEGMENTS: Final = ("pec", "verifica_pec", "comunica_pec", "domini_pec", "dominio")
# The log keeps what one page shows: it is saved with every request's state.
MAX_ERRORS: Final = 100
MAX_IPS_PER_ENTRY: Final = 1000
PERIOD_SECONDS: Final = 30 * 24 * 3600
DATE_FILTER: Final = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")
COUNTERS: Final = ("totalRequests", "walletRequests", "subscriptionRequests", "errorRequests")


@dataclass(frozen=True, slots=True)
class Plan:
    method: str
    segment: str
    requests: int
    price: float

    @property
    def scope(self) -> str:
        return f"{self.method}:{SANDBOX_DOMAIN}/{self.segment}"

    @property
    def id(self) -> str:
        return hashlib.sha256(f"subscription:{self.scope}".encode()).hexdigest()[:24]


SUBSCRIPTION_PLANS: Final = (
    Plan("GET", "pec", 1000, 10.0),
    Plan("GET", "verifica_pec", 500, 5.0),
)


class BadDateFilter(ValueError):
    pass


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


def day_of(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")


def check_date_filter(raw: str | None) -> str:
    """``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD`` (a prefix of the days counted), or "" for all."""
    if raw is None or raw == "":
        return ""
    if not DATE_FILTER.match(raw):
        raise BadDateFilter(raw)
    parts = [int(p) for p in raw.split("-")]
    try:
        datetime(parts[0], parts[1] if len(parts) > 1 else 1, parts[2] if len(parts) > 2 else 1)
    except ValueError:
        raise BadDateFilter(raw) from None
    return raw


def request_scope(method: str, path: str, host: str) -> tuple[str, str] | None:
    """``(scope, domain)`` of a PEC request, or None when its path is no API's."""
    segment = path.strip("/").split("/", 1)[0]
    if segment not in PEC_SEGMENTS:
        return None
    host = host.split(":", 1)[0].lower()
    domain = host if host in PEC_DOMAINS else SANDBOX_DOMAIN
    return f"{method.upper()}:{domain}/{segment}", domain


# ---------------------------------------------------------------- recording


def _use_subscription(state: State, method: str, segment: str, now: float, anchor: float) -> bool:
    """One request of the scope's bundle, if it has one with requests left this period."""
    for plan in SUBSCRIPTION_PLANS:
        if (plan.method, plan.segment) == (method, segment):
            use = state.subscriptions.setdefault(plan.id, {"period": 0, "used": 0, "updated": anchor})
            period = max(0, int((now - anchor) // PERIOD_SECONDS))
            if period != use["period"]:
                use.update(period=period, used=0)
            if use["used"] >= plan.requests:
                return False
            use["used"] += 1
            use["updated"] = now
            return True
    return False


def record(
    state: State,
    *,
    method: str,
    path: str,
    host: str,
    ip: str,
    status: int,
    error_code: int | None,
    message: str,
    charges: Iterable[Record],
    now: float,
    anchor: float,
) -> None:
    """Counts one answered PEC request (its charges are the ledger entries it added)."""
    found = request_scope(method, path, host)
    if found is None:
        return
    scope, domain = found
    charged = [float(entry["amount"]) for entry in charges]
    counters = state.usage.setdefault(day_of(now), {}).setdefault(
        scope, {**dict.fromkeys(COUNTERS, 0), "walletAmount": 0.0, "ip": []}
    )
    counters["totalRequests"] += 1
    if status >= 400:
        counters["errorRequests"] += 1
        # numbered apart from the state's sequence, which gives the boxes their ids
        number = int(state.errors[-1]["id"][8:], 16) + 1 if state.errors else 1
        state.errors.append(
            {
                "id": f"{int(now) & 0xFFFFFFFF:08x}{number:016x}",
                "scope": scope,
                "domain": domain,
                "errorAt": iso(now),
                "httpResponseCode": status,
                "errorCode": error_code,
                "message": message,
                "ip": ip,
            }
        )
        del state.errors[:-MAX_ERRORS]
    elif charged:
        counters["walletRequests"] += 1
        counters["walletAmount"] = round(counters["walletAmount"] + sum(charged), 2)
    else:
        if _use_subscription(state, method.upper(), scope.rsplit("/", 1)[1], now, anchor):
            counters["subscriptionRequests"] += 1
    if ip and ip not in counters["ip"] and len(counters["ip"]) < MAX_IPS_PER_ENTRY:
        counters["ip"].append(ip)


# ---------------------------------------------------------------- reading


def _entries(state: State, date: str) -> list[tuple[str, Record]]:
    return [
        (scope, counters)
        for day, by_scope in sorted(state.usage.items())
        if day.startswith(date)
        for scope, counters in by_scope.items()
    ]


def _domain(scope: str) -> str:
    return scope.partition(":")[2].split("/", 1)[0]


def _sum(entries: Iterable[Record]) -> Record:
    total: Record = {**dict.fromkeys(COUNTERS, 0), "walletAmount": 0.0}
    ips: list[str] = []
    for counters in entries:
        for key in COUNTERS:
            total[key] += counters[key]
        total["walletAmount"] = round(total["walletAmount"] + counters["walletAmount"], 2)
        ips.extend(ip for ip in counters["ip"] if ip not in ips)
    total["ip"] = ips
    return total


def overall(state: State, date: str) -> Record:
    entries = _entries(state, date)
    total = _sum(counters for _, counters in entries)
    ips = total.pop("ip")
    return {**total, "totalIps": len(ips), "totalApis": len({_domain(scope) for scope, _ in entries})}


def ips(state: State, date: str) -> list[str]:
    return sorted({ip for _, counters in _entries(state, date) for ip in counters["ip"]})


def _by_scope(state: State, date: str, domain: str) -> dict[str, Record]:
    grouped: dict[str, list[Record]] = {}
    for scope, counters in _entries(state, date):
        if _domain(scope) == domain:
            grouped.setdefault(scope, []).append(counters)
    return {scope: _sum(entries) for scope, entries in sorted(grouped.items())}


def by_api(state: State, date: str) -> dict[str, Record]:
    domains = sorted({_domain(scope) for scope, _ in _entries(state, date)})
    return {domain: _api_summary(_by_scope(state, date, domain)) for domain in domains}


def _api_summary(scopes: Mapping[str, Record]) -> Record:
    total = _sum(scopes.values())
    ip_list = total.pop("ip")
    return {**total, "totalIps": len(ip_list), "totalScopes": len(scopes)}


def api_detail(state: State, date: str, domain: str) -> Record:
    scopes = _by_scope(state, date, domain)
    total = _sum(scopes.values())
    return {**_api_summary(scopes), "ip": total["ip"], "scopes": scopes}


def subscriptions(state: State, now: float, anchor: float) -> list[Record]:
    """The account's subscriptions as ``Subscription`` records, in plan order."""
    found = []
    for plan in SUBSCRIPTION_PLANS:
        period = max(0, int((now - anchor) // PERIOD_SECONDS))
        use = state.subscriptions.get(plan.id, {"period": period, "used": 0, "updated": anchor})
        used = use["used"] if use["period"] == period else 0
        starts = anchor + period * PERIOD_SECONDS
        found.append(
            {
                "id": plan.id,
                "scope": plan.scope,
                "domain": SANDBOX_DOMAIN,
                "active": True,
                "startsAt": iso(starts),
                "expiresAt": iso(starts + PERIOD_SECONDS),
                "totalRequests": str(plan.requests),
                "availableRequests": str(plan.requests - used),
                "pricePerRequest": round(plan.price / plan.requests, 4),
                "type": "monthly",
                "autorenew": True,
                "createdAt": iso(anchor),
                "updatedAt": iso(max(anchor, float(use["updated"]))),
                "price": plan.price,
            }
        )
    return found


LIST_KEYS: Final = ("id", "scope", "active", "availableRequests", "startsAt", "expiresAt")
