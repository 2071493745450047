"""The OAuth v2 account service (tokens, scopes and their prices, the wallet), on the PEC sandbox.

One server answers for both services. A request is for the account service when its path starts
with ``/oauth`` (the prefix is dropped: ``GET /oauth/wallet`` is the service's ``GET /wallet``), or
when its ``Host`` is the service's own (``oauth.openapi.com``, ``test.oauth.openapi.com``), so a
client pointed at the real host names works in-process too. The PEC paths never start with
``/oauth`` and are unchanged.

What the two sides share: the wallet (the PEC charges are the wallet's transactions), the token
table (a token created here carries its scopes and expiry to the PEC side, which answers 401 once
it expired or was deleted and 403 for a scope it lacks) and the price table (a scope's prices are
the sandbox's prices of the operations behind it).

Basic auth accepts any e-mail and key unless the sandbox was given ``account=(email, key)``.
``account_scopes`` limits what the account may grant (the scopes it lists, those a token may have);
``strict_accounts`` (what the server's strict-token mode sets) refuses every credential but the
configured account's, so that minting a token cannot bypass the tokens the server was given.

Statistics, the error log and subscriptions come from the sandbox's own traffic (``usage``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from . import massiva, usage
from .state import Record
from .wallet import format_balance

if TYPE_CHECKING:
    from .core import Sandbox

PATH_PREFIX: Final = "/oauth"
HOSTS: Final = ("oauth.openapi.com", "test.oauth.openapi.com")
PEC_HOSTS: Final = ("pec.openapi.it", "test.pec.openapi.it")

# The scopes Openapi lists for the PEC API (method + first path segment). /dominio (certified
# domains) is not in the PEC spec we generate from, but the account offers its scopes.
PEC_SCOPE_SEGMENTS: Final[Mapping[str, tuple[str, ...]]] = {
    "verifica_pec": ("GET",),
    "pec": ("GET", "POST", "PATCH", "DELETE"),
    "dominio": ("GET", "POST", "DELETE"),
    "comunica_pec": ("GET", "POST", "PATCH"),
    "domini_pec": ("GET",),
}
# Which scope pays each price of the sandbox's table (by the key's first part).
PRICE_SCOPE: Final[Mapping[str, tuple[str, str]]] = {
    "register": ("POST", "pec"),
    "multiutenza": ("POST", "pec"),
    # GET /pec/{id}/rinnovo: a GET, but paid; that is why GET:.../pec is not a read-only scope
    "renew": ("GET", "pec"),
    "transform": ("PATCH", "pec"),
    "space": ("PATCH", "pec"),
    "conservazione": ("PATCH", "pec"),
    "comunica_pec": ("POST", "comunica_pec"),
    "domini_pec": ("GET", "domini_pec"),
    # PEC Massiva: POST /send (see massiva.py)
    "pecmassiva": ("POST", "send"),
}

DEFAULT_TTL: Final = 30 * 24 * 3600
MAX_TTL: Final = 365 * 24 * 3600
TOKEN_FORMAT: Final = re.compile(r"^[0-9a-f]{24}$")


class OAuthError(Exception):
    def __init__(self, status: int, code: int | None, message: str) -> None:
        self.status, self.code, self.message = status, code, message
        super().__init__(f"{status}/{code}: {message}")


def all_scopes() -> list[str]:
    return [
        f"{method}:{host}/{segment}"
        for host in PEC_HOSTS
        for segment, methods in PEC_SCOPE_SEGMENTS.items()
        for method in methods
    ]


def offered_scopes() -> list[str]:
    """What the account offers: the PEC API's scopes and the PEC Massiva API's."""
    return [*all_scopes(), *massiva.all_scopes()]


def scope_id(scope: str) -> str:
    return hashlib.sha256(scope.encode()).hexdigest()[:24]


def scope_prices(scope: str, prices: Mapping[str, float]) -> dict[str, float]:
    method, _, rest = scope.partition(":")
    segment = rest.split("/", 1)[1] if "/" in rest else ""
    return {
        key: value
        for key, value in sorted(prices.items())
        if PRICE_SCOPE.get(key.split(".", 1)[0]) == (method, segment)
    }


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


def is_oauth_request(path: str, headers: Mapping[str, str]) -> bool:
    host = headers.get("host", "").split(":", 1)[0].lower()
    return host in HOSTS or path == PATH_PREFIX or path.startswith(PATH_PREFIX + "/")


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: Any


class OAuthService:
    """The account service's handlers over the sandbox's state; called under the sandbox's lock."""

    def __init__(
        self,
        sandbox: Sandbox,
        account: tuple[str, str] | None = None,
        *,
        account_scopes: list[str] | None = None,
        strict_accounts: bool = False,
    ) -> None:
        self.sandbox = sandbox
        self.account = account
        self.account_scopes = None if account_scopes is None else list(dict.fromkeys(account_scopes))
        self.strict_accounts = strict_accounts
        self._routes: list[tuple[str, re.Pattern[str], Callable[[Any, str], Answer]]] = [
            ("POST", re.compile(r"^/tokens$"), self.create_token),
            ("GET", re.compile(r"^/tokens$"), self.list_tokens),
            ("GET", re.compile(r"^/tokens/([^/]*)$"), self.get_token),
            ("PATCH", re.compile(r"^/tokens/([^/]*)$"), self.update_token),
            ("DELETE", re.compile(r"^/tokens/([^/]*)$"), self.delete_token),
            ("GET", re.compile(r"^/scopes$"), self.list_scopes),
            ("GET", re.compile(r"^/scopes/([^/]*)$"), self.get_scope),
            ("GET", re.compile(r"^/wallet$"), self.wallet),
            ("GET", re.compile(r"^/wallet/transactions$"), self.transactions),
            ("GET", re.compile(r"^/callbacks$"), self.list_callbacks),
            ("GET", re.compile(r"^/callbacks/([^/]*)$"), self.get_callback),
            ("GET", re.compile(r"^/errors$"), self.list_errors),
            ("GET", re.compile(r"^/stats$"), self.stats),
            ("GET", re.compile(r"^/stats/ips$"), self.stats_ips),
            ("GET", re.compile(r"^/stats/apis$"), self.stats_by_api),
            ("GET", re.compile(r"^/stats/apis/([^/]*)$"), self.api_stats),
            ("GET", re.compile(r"^/subscriptions$"), self.list_subscriptions),
            ("GET", re.compile(r"^/subscriptions/([^/]*)$"), self.get_subscription),
        ]

    # ------------------------------------------------------------ entry point

    def handle(
        self, method: str, path: str, query: Mapping[str, str], headers: Mapping[str, str], body: bytes
    ) -> Answer:
        if path == PATH_PREFIX or path.startswith(PATH_PREFIX + "/"):
            path = "/" + path[len(PATH_PREFIX) :].strip("/")
        try:
            for route_method, pattern, handler in self._routes:
                match = pattern.match(path)
                if match and route_method == method.upper():
                    arg = match.group(1) if pattern.groups else ""
                    refresh = self._authenticate(headers.get("authorization", ""), route_method, path)
                    request = _Request(query, body, refresh)
                    return handler(request, arg)
            raise OAuthError(404, None, f"no such endpoint: {method.upper()} {path}")
        except OAuthError as err:
            return Answer(
                err.status, {"success": False, "message": err.message, "error": err.code, "data": None}
            )

    def _authenticate(self, authorization: str, method: str, path: str) -> str | None:
        """Checks Basic auth; returns the bearer value for the one call that takes a refresh token."""
        kind, _, value = authorization.partition(" ")
        if kind.lower() == "bearer" and method == "PATCH" and path.startswith("/tokens/"):
            return value.strip()
        if kind.lower() != "basic":
            raise OAuthError(401, None, "Basic authentication (e-mail and API key) required")
        try:
            email, sep, key = base64.b64decode(value.strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise OAuthError(401, None, "malformed Basic authentication") from None
        if not sep or not email or not key:
            raise OAuthError(401, None, "malformed Basic authentication")
        if self.account is None and self.strict_accounts:
            # strict-token mode without an account: nobody may mint tokens around the given ones
            raise OAuthError(401, None, "Unauthorized: this sandbox takes only the tokens it was given")
        if self.account is not None and not (
            secrets.compare_digest(email.encode(), self.account[0].encode())
            and secrets.compare_digest(key.encode(), self.account[1].encode())
        ):
            raise OAuthError(401, None, "Unauthorized")
        return None

    def anchor(self) -> float:
        """When the account's subscriptions started: the sandbox's first day, kept with its state."""
        state = self.sandbox.state
        if state.started_at is None:
            state.started_at = self.sandbox.created_at
        return state.started_at

    def granted_scopes(self) -> list[str]:
        """The scopes this account may grant: the configured ones, else all it offers (PEC, PEC Massiva)."""
        known = offered_scopes()
        if self.account_scopes is None:
            return known
        return [s for s in known if any(_covers(granted, s) for granted in self.account_scopes)]

    # ------------------------------------------------------------ tokens

    def _now(self) -> float:
        return self.sandbox.clock.now()

    def _tokens(self) -> dict[str, Record]:
        return self.sandbox.state.tokens

    def _valid_scopes(self, raw: object, format_code: int, invalid_code: int) -> list[str]:
        if not isinstance(raw, list) or not all(isinstance(s, str) and s for s in raw):
            raise OAuthError(422, format_code, "invalid scopes format")
        known = set(self.granted_scopes())
        every = set(offered_scopes())
        for scope in raw:
            # a wildcard is granted only when all it stands for is: it must not widen the account
            covered = {k for k in every if _covers(scope, k)}
            if scope not in known and not (covered and covered <= known):
                raise OAuthError(422, invalid_code, "Invalid scopes specified or API not enabled")
        return list(dict.fromkeys(raw))

    @staticmethod
    def _ttl(raw: object) -> int:
        if raw is None:
            return DEFAULT_TTL
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise OAuthError(422, None, "ttl must be an integer number of seconds")
        if raw <= 0:
            return DEFAULT_TTL
        return min(raw, MAX_TTL)

    def _issue(self, scopes: list[str], name: str, ttl: int, limits: object) -> Record:
        now = self._now()
        token = secrets.token_hex(12)
        record: Record = {
            "token": token,
            "name": name,
            "createdAt": iso(now),
            "updatedAt": iso(now),
            "expireAt": iso(now + ttl),
            "expires": now + ttl,
            "ttl": ttl,
            "scopes": scopes,
            "refreshToken": secrets.token_hex(12),
            "stats": {"totalRequests": 0, "walletRequests": 0, "errorRequests": 0, "walletAmount": 0},
        }
        if isinstance(limits, dict):
            record["limits"] = limits
        self._tokens()[token] = record
        self.sandbox.tokens.add(token, scopes, expires_at=now + ttl)
        return record

    def _drop(self, token: str) -> None:
        self._tokens().pop(token, None)
        self.sandbox.tokens.revoke(token)

    def _find(self, token: str, not_found: int) -> Record:
        if not TOKEN_FORMAT.match(token):
            raise OAuthError(422, 60, "Invalid Token Format")
        record = self._tokens().get(token)
        if record is None:
            raise OAuthError(404, not_found, "Not Found")
        return record

    def create_token(self, request: _Request, _: str) -> Answer:
        body = request.json()
        if "scopes" not in body:
            raise OAuthError(422, 70, "missing scopes array")
        scopes = self._valid_scopes(body["scopes"], 80, 90)
        record = self._issue(
            scopes, str(body.get("name") or ""), self._ttl(body.get("ttl")), body.get("limits")
        )
        return Answer(200, _view(record))

    def list_tokens(self, request: _Request, _: str) -> Answer:
        skip, limit = request.page()
        records = sorted(self._tokens().values(), key=lambda r: r["createdAt"])
        return _data([_view(r) for r in records[skip : skip + limit]])

    def get_token(self, request: _Request, token: str) -> Answer:
        return Answer(200, _view(self._find(token, 120)))

    def update_token(self, request: _Request, token: str) -> Answer:
        if not token:
            raise OAuthError(400, 150, "Token ID is required")
        record = self._find(token, 160)
        if request.refresh is not None:
            # A refresh token renews: new token and refresh token, same scopes, the old one deleted.
            if not secrets.compare_digest(request.refresh, record["refreshToken"]):
                raise OAuthError(401, 130, "Unauthorized")
            self._drop(token)
            fresh = self._issue(list(record["scopes"]), record["name"], record["ttl"], record.get("limits"))
            return Answer(200, _view(fresh))
        body = request.json()
        scopes = self._valid_scopes(body["scopes"], 100, 110) if "scopes" in body else record["scopes"]
        now = self._now()
        record["scopes"] = scopes
        if "name" in body:
            record["name"] = str(body["name"] or "")
        if "ttl" in body:
            record["ttl"] = self._ttl(body["ttl"])
            record["expires"] = now + record["ttl"]
            record["expireAt"] = iso(record["expires"])
        if isinstance(body.get("limits"), dict):
            record["limits"] = body["limits"]
        record["updatedAt"] = iso(now)
        self.sandbox.tokens.add(token, scopes, expires_at=record["expires"])
        return Answer(200, _view(record))

    def delete_token(self, request: _Request, token: str) -> Answer:
        if not token:
            raise OAuthError(400, 170, "Token ID is required")
        self._find(token, 180)
        self._drop(token)
        return Answer(200, {"success": True, "message": "Deleted", "error": None, "data": None})

    # ------------------------------------------------------------ scopes, wallet, logs

    def _scope_entry(self, scope: str) -> Record:
        method, _, rest = scope.partition(":")
        domain, _, endpoint = rest.partition("/")
        return {
            "id": scope_id(scope),
            "scope": scope,
            "method": method,
            "endpoint": endpoint,
            "domain": domain,
            "enabled": True,
        }

    def list_scopes(self, request: _Request, _: str) -> Answer:
        return _data([self._scope_entry(s) for s in self.granted_scopes()])

    def get_scope(self, request: _Request, wanted: str) -> Answer:
        for scope in self.granted_scopes():
            if scope_id(scope) == wanted:
                detail = {
                    **self._scope_entry(scope),
                    "rateLimit": False,
                    "freeLimits": {
                        "dayLimit": False,
                        "monthLimit": False,
                        "yearLimit": False,
                        "totalLimit": False,
                    },
                    "requirements": {},
                    "prices": scope_prices(scope, self.sandbox.prices.table),
                }
                return Answer(200, {"data": detail, "success": True, "message": "", "error": None})
        raise OAuthError(404, 10, "Scope not found")

    def wallet(self, request: _Request, _: str) -> Answer:
        ledger = self.sandbox.state.ledger
        updated = ledger[-1]["timestamp"] if ledger else self.sandbox.created_at
        credit = float(format_balance(self.sandbox.state.balance_cents))
        return _data({"credit": credit, "createdAt": iso(self.sandbox.created_at), "updatedAt": iso(updated)})

    def transactions(self, request: _Request, _: str) -> Answer:
        skip, limit = request.page()
        newest_first = list(reversed(self.sandbox.state.ledger))
        return _data(
            [
                {
                    "id": f"txn_{entry['seq']:08d}",
                    "amount": -float(entry["amount"]),
                    "createdAt": iso(entry["timestamp"]),
                    "description": f"API usage - {entry['operation']} {entry['ref']}",
                }
                for entry in newest_first[skip : skip + limit]
            ]
        )

    def _callbacks(self) -> list[Record]:
        found = []
        for index, sent in enumerate(self.sandbox.callbacks_sent):
            code = sent.status_code
            found.append(
                {
                    "id": f"{index + 1:024x}",
                    "scope": "",
                    "url": sent.url,
                    "httpResponseCode": "" if code is None else str(code),
                    "method": sent.method,
                    "data": sent.payload,
                }
            )
        return found

    def list_callbacks(self, request: _Request, _: str) -> Answer:
        skip, limit = request.page()
        keys = ("id", "scope", "url", "httpResponseCode")
        return _data([{k: c[k] for k in keys} for c in self._callbacks()[skip : skip + limit]])

    def get_callback(self, request: _Request, wanted: str) -> Answer:
        for callback in self._callbacks():
            if callback["id"] == wanted:
                code = callback["httpResponseCode"]
                return _data({**callback, "httpResponseCode": int(code) if code else None})
        raise OAuthError(404, 200, "Callback not found")

    # ------------------------------------------------------------ errors, stats, subscriptions

    def list_errors(self, request: _Request, _: str) -> Answer:
        skip, limit = request.page()
        wanted = request.scopes()
        newest_first = [
            e for e in reversed(self.sandbox.state.errors) if wanted is None or e["scope"] in wanted
        ]
        return _data(newest_first[skip : skip + limit])

    def stats(self, request: _Request, _: str) -> Answer:
        return _data(usage.overall(self.sandbox.state, request.date()))

    def stats_ips(self, request: _Request, _: str) -> Answer:
        return _data(usage.ips(self.sandbox.state, request.date()))

    def stats_by_api(self, request: _Request, _: str) -> Answer:
        return _data(usage.by_api(self.sandbox.state, request.date()))

    def api_stats(self, request: _Request, domain: str) -> Answer:
        return _data(usage.api_detail(self.sandbox.state, request.date(), domain))

    def _subscriptions(self) -> list[Record]:
        return usage.subscriptions(self.sandbox.state, self._now(), self.anchor())

    def list_subscriptions(self, request: _Request, _: str) -> Answer:
        if request.query.get("id"):
            return self.get_subscription(request, request.query["id"])
        skip, limit = request.page()
        wanted = request.scopes()
        listed = [
            {k: s[k] for k in usage.LIST_KEYS}
            for s in self._subscriptions()
            if wanted is None or s["scope"] in wanted
        ]
        return _data(listed[skip : skip + limit])

    def get_subscription(self, request: _Request, wanted: str) -> Answer:
        for subscription in self._subscriptions():
            if subscription["id"] == wanted:
                return _data(subscription)
        raise OAuthError(404, 220, "Subscription not found")


@dataclass(frozen=True, slots=True)
class _Request:
    query: Mapping[str, str]
    body: bytes
    refresh: str | None

    def json(self) -> Record:
        try:
            parsed = json.loads(self.body or b"{}")
        except ValueError:
            raise OAuthError(422, None, "the request body must be a JSON object") from None
        if not isinstance(parsed, dict):
            raise OAuthError(422, None, "the request body must be a JSON object")
        return parsed

    def page(self) -> tuple[int, int]:
        try:
            skip = max(0, int(self.query.get("skip", 0)))
            limit = min(100, max(1, int(self.query.get("limit", 100))))
        except ValueError:
            raise OAuthError(400, 190, "Query error") from None
        return skip, limit

    def scopes(self) -> set[str] | None:
        raw = self.query.get("scopes")
        return None if not raw else {s.strip() for s in raw.split(",") if s.strip()}

    def date(self) -> str:
        try:
            return usage.check_date_filter(self.query.get("date"))
        except usage.BadDateFilter:
            raise OAuthError(422, 240, "Invalid date format, must be YYYY or YYYY-MM or YYYY-MM-DD") from None


def _data(data: Any) -> Answer:
    return Answer(200, {"success": True, "message": "", "error": None, "data": data})


def _view(record: Record) -> Record:
    # POST /tokens, GET and PATCH /tokens/{token} answer the TokenDetail itself, not in `data`.
    return {k: v for k, v in record.items() if k not in ("expires", "ttl")}


def _covers(granted: str, scope: str) -> bool:
    return granted == scope or ("*" in granted and _wildcard_matches(granted, {scope}))


def _wildcard_matches(scope: str, known: set[str]) -> bool:
    """``*:pec.openapi.it/*`` and the like: accepted when they cover at least one real scope."""
    if "*" not in scope:
        return False
    pattern = re.compile("^" + re.escape(scope).replace(r"\*", "[^:/]*") + "$")
    return any(pattern.match(k) for k in known)
