"""What each AccountClient method does, written once for the sync and the async client.

Same kind of flows as ``_flows``: generators that check their input, yield ``Call``s of the account
service's operations (``pec_ext.account._operations``) and receive the parsed results from the driver.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from pec_ext._engine.steps import Call, Flow
from pec_ext.account._operations import ACCOUNT_OPERATIONS
from pec_ext.errors import InvalidResponseError, ValidationError

if TYPE_CHECKING:
    from oauth_api.models.callback import Callback
    from oauth_api.models.callback_list_element import CallbackListElement
    from oauth_api.models.error_log import ErrorLog
    from oauth_api.models.get_api_stats_response_200_data import GetApiStatsResponse200Data
    from oauth_api.models.get_stats_by_api_response_200_data_additional_property import (
        GetStatsByApiResponse200DataAdditionalProperty,
    )
    from oauth_api.models.get_stats_response_200_data import GetStatsResponse200Data
    from oauth_api.models.scope_detail import ScopeDetail
    from oauth_api.models.subscription import Subscription
    from oauth_api.models.subscription_list_element import SubscriptionListElement
    from oauth_api.models.token_detail import TokenDetail
    from oauth_api.models.user_scope import UserScope
    from oauth_api.models.wallet import Wallet
    from oauth_api.models.wallet_transaction import WalletTransaction

SCOPE_FORMAT: Final = re.compile(r"^(\*|GET|POST|PUT|PATCH|DELETE):[A-Za-z0-9.*-]+/[A-Za-z0-9_*-]*$")
MAX_TTL: Final = 365 * 24 * 3600
# The statistics' date filter: a year, a month or a day.
DATE_FILTER: Final = re.compile(r"^\d{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?)?$")
DOMAIN_FORMAT: Final = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$")
PAGE_LIMIT: Final = 100


@dataclass(frozen=True)
class Token:
    """A token of the account. ``token`` and ``refresh_token`` are secrets: never in the repr."""

    token: str = field(repr=False)
    name: str
    scopes: tuple[str, ...]
    created_at: dt.datetime | None
    expire_at: dt.datetime | None
    refresh_token: str | None = field(default=None, repr=False)

    @classmethod
    def from_detail(cls, detail: TokenDetail) -> Token:
        def text(value: Any) -> str | None:
            return value if isinstance(value, str) else None

        def when(value: Any) -> dt.datetime | None:
            return value if isinstance(value, dt.datetime) else None

        token = text(detail.token)
        if not token:
            raise InvalidResponseError(
                "the account service answered a token without its value", status_code=200
            )
        scopes = detail.scopes if isinstance(detail.scopes, list) else []
        return cls(
            token=token,
            name=text(detail.name) or "",
            scopes=tuple(scopes),
            created_at=when(detail.created_at),
            expire_at=when(detail.expire_at),
            refresh_token=text(detail.refresh_token),
        )

    def expires_at(self) -> float | None:
        return None if self.expire_at is None else self.expire_at.timestamp()


def call(name: str, **kwargs: Any) -> Call:
    return Call(ACCOUNT_OPERATIONS[name], **kwargs)


def check_scopes(scopes: Iterable[str]) -> list[str]:
    if isinstance(scopes, str):
        scopes = [scopes]
    chosen = list(dict.fromkeys(scopes))
    if not chosen:
        raise ValidationError("scopes", chosen, "at least one scope such as GET:pec.openapi.it/pec")
    for scope in chosen:
        if not isinstance(scope, str) or not SCOPE_FORMAT.match(scope):
            raise ValidationError(
                "scopes", scope, "METHOD:host/first-path-segment, e.g. GET:pec.openapi.it/pec"
            )
    return chosen


def check_ttl(ttl: int | None) -> int | None:
    if ttl is None:
        return None
    if isinstance(ttl, bool) or not isinstance(ttl, int) or not 1 <= ttl <= MAX_TTL:
        raise ValidationError("ttl", ttl, f"whole seconds from 1 to {MAX_TTL} (one year)")
    return ttl


def check_token(value: object, field_name: str = "token") -> str:
    if not isinstance(value, str) or not value.strip():
        # never echo what might be a token
        raise ValidationError(field_name, "***", "the token's value (a non-empty string)")
    return value.strip()


def _page(skip: int, limit: int) -> dict[str, int]:
    if isinstance(skip, bool) or not isinstance(skip, int) or skip < 0:
        raise ValidationError("skip", skip, "an integer >= 0")
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= PAGE_LIMIT:
        raise ValidationError("limit", limit, f"an integer from 1 to {PAGE_LIMIT}")
    return {"skip": skip, "limit": limit}


def _token_body(
    scopes: Iterable[str] | None, name: str | None, ttl: int | None, limits: Mapping[str, Any] | None
) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if scopes is not None:
        body["scopes"] = check_scopes(scopes)
    if name is not None:
        if not isinstance(name, str):
            raise ValidationError("name", name, "a string")
        body["name"] = name
    if ttl is not None:
        body["ttl"] = check_ttl(ttl)
    if limits is not None:
        if not isinstance(limits, Mapping):
            raise ValidationError("limits", limits, "a mapping such as {'walletAmount': 50}")
        body["limits"] = dict(limits)
    return body


# -- tokens -----------------------------------------------------------------------------------------


def create_token(
    scopes: Iterable[str], name: str | None, ttl: int | None, limits: Mapping[str, Any] | None
) -> Flow[Token]:
    detail = yield call("create_token", json=_token_body(scopes, name, ttl, limits))
    return Token.from_detail(detail)


def list_tokens(skip: int, limit: int) -> Flow[list[Token]]:
    data = yield call("list_tokens", params=_page(skip, limit))
    details = data if isinstance(data, list) else [data]
    return [Token.from_detail(detail) for detail in details]


def get_token(token: str) -> Flow[Token]:
    detail = yield call("get_token", path_params={"token": check_token(token)})
    return Token.from_detail(detail)


def update_token(
    token: str,
    scopes: Iterable[str] | None,
    name: str | None,
    ttl: int | None,
    limits: Mapping[str, Any] | None,
) -> Flow[Token]:
    body = _token_body(scopes, name, ttl, limits)
    if not body:
        raise ValidationError("update", {}, "at least one of scopes, name, ttl, limits")
    detail = yield call("update_token", path_params={"token": check_token(token)}, json=body)
    return Token.from_detail(detail)


def renew_token(token: str, refresh_token: str) -> Flow[Token]:
    """PATCH /tokens/{token} with the refresh token as Bearer: a new token, same scopes."""
    detail = yield call(
        "update_token",
        path_params={"token": check_token(token)},
        json={},
        authorization="Bearer " + check_token(refresh_token, "refresh_token"),
    )
    return Token.from_detail(detail)


def delete_token(token: str) -> Flow[None]:
    yield call("delete_token", path_params={"token": check_token(token)})


# -- scopes, wallet, callbacks -----------------------------------------------------------------------


def list_scopes() -> Flow[list[UserScope]]:
    data = yield call("list_scopes")
    return list(data)


def get_scope(scope_or_id: str) -> Flow[ScopeDetail]:
    """One scope with its prices and free limits, by id or by its name (``GET:pec.openapi.it/pec``)."""
    wanted = check_token(scope_or_id, "scope")
    scope_id = wanted
    if ":" in wanted:
        scopes = yield call("list_scopes")
        matches = [s.id for s in scopes if s.scope == wanted and isinstance(s.id, str)]
        if not matches:
            known = sorted(str(s.scope) for s in scopes)
            raise ValidationError("scope", wanted, known[:20] or None, "not a scope of this account")
        scope_id = matches[0]
    detail = yield call("get_scope", path_params={"id": scope_id})
    return detail  # type: ignore[no-any-return]


def scope_prices(names: Iterable[str]) -> Flow[dict[str, dict[str, float]]]:
    """``{scope: {price key: EUR}}`` for the named scopes the account has (others are left out)."""
    wanted = set(names)
    scopes = yield call("list_scopes")
    found: dict[str, dict[str, float]] = {}
    for scope in scopes:
        if scope.scope in wanted and isinstance(scope.id, str):
            detail = yield call("get_scope", path_params={"id": scope.id})
            prices = detail.prices.to_dict() if hasattr(detail.prices, "to_dict") else {}
            found[str(scope.scope)] = {str(k): float(v) for k, v in prices.items()}
    return found


def wallet() -> Flow[Wallet]:
    data = yield call("get_wallet")
    return data  # type: ignore[no-any-return]


def transactions(skip: int, limit: int) -> Flow[list[WalletTransaction]]:
    data = yield call("list_wallet_transactions", params=_page(skip, limit))
    return list(data)


def callbacks(skip: int, limit: int) -> Flow[list[CallbackListElement]]:
    data = yield call("list_callbacks", params=_page(skip, limit))
    return list(data) if isinstance(data, list) else [data]


def callback(callback_id: str) -> Flow[Callback]:
    data = yield call("get_callback", path_params={"id": check_token(callback_id, "id")})
    return data  # type: ignore[no-any-return]


# -- error log, statistics, subscriptions -------------------------------------------------------------

StatsDate = str | dt.date


def check_date(date: StatsDate | None) -> dict[str, str]:
    """The ``date`` query of the statistics: ``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD`` (or a date)."""
    if date is None:
        return {}
    if isinstance(date, dt.datetime):
        raise ValidationError("date", date, "a date or 'YYYY', 'YYYY-MM', 'YYYY-MM-DD' (not a datetime)")
    if isinstance(date, dt.date):
        return {"date": date.isoformat()}
    if not isinstance(date, str) or not DATE_FILTER.match(date):
        raise ValidationError("date", date, "'YYYY', 'YYYY-MM' or 'YYYY-MM-DD', or a datetime.date")
    if len(date) == 10:
        try:
            dt.date.fromisoformat(date)
        except ValueError:
            raise ValidationError("date", date, "a day that exists, as YYYY-MM-DD") from None
    return {"date": date}


def _scope_filter(scopes: Iterable[str] | None) -> dict[str, str]:
    if scopes is None:
        return {}
    return {"scopes": ",".join(check_scopes(scopes))}


def errors(skip: int, limit: int, scopes: Iterable[str] | None) -> Flow[list[ErrorLog]]:
    data = yield call("list_errors", params={**_page(skip, limit), **_scope_filter(scopes)})
    return list(data)


def stats(date: StatsDate | None) -> Flow[GetStatsResponse200Data]:
    data = yield call("get_stats", params=check_date(date))
    return data  # type: ignore[no-any-return]


def stats_ips(date: StatsDate | None) -> Flow[list[str]]:
    data = yield call("list_stats_ips", params=check_date(date))
    return [str(ip) for ip in data]


def stats_by_api(date: StatsDate | None) -> Flow[dict[str, GetStatsByApiResponse200DataAdditionalProperty]]:
    """``{API domain: its totals}``."""
    data = yield call("get_stats_by_api", params=check_date(date))
    return dict(data.additional_properties)


def api_stats(domain: str, date: StatsDate | None) -> Flow[GetApiStatsResponse200Data]:
    """One API domain's totals, with the breakdown by scope (``.scopes[scope]``)."""
    if not isinstance(domain, str) or not DOMAIN_FORMAT.match(domain):
        raise ValidationError("domain", domain, "an API's host name, e.g. pec.openapi.it")
    data = yield call("get_api_stats", path_params={"domain": domain}, params=check_date(date))
    return data  # type: ignore[no-any-return]


def subscriptions(skip: int, limit: int, scopes: Iterable[str] | None) -> Flow[list[SubscriptionListElement]]:
    data = yield call("list_subscriptions", params={**_page(skip, limit), **_scope_filter(scopes)})
    if not isinstance(data, list):
        raise InvalidResponseError(
            "the account service answered one subscription to a listing", status_code=200
        )
    return list(data)


def subscription(subscription_id: str) -> Flow[Subscription]:
    data = yield call("get_subscription", path_params={"id": check_token(subscription_id, "id")})
    return data  # type: ignore[no-any-return]
