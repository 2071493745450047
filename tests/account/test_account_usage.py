"""The whole OAuth v2 spec through the account client: the error log, statistics and subscriptions.

Every operation of Openapi's OAuth document is reached by a method of ``AccountClient`` and the
same method of ``AsyncAccountClient`` (checked against the spec's paths, not a list of ours), and
what the statistics say is what the sandbox's traffic and its wallet's ledger say.
"""

from __future__ import annotations

import datetime as dt
import inspect
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pec_ext.account import AccountClient, AsyncAccountClient
from pec_ext.account._operations import ACCOUNT_OPERATIONS
from pec_ext.account.scopes import pec_scopes
from pec_ext.account.token_cache import TokenCache
from pec_ext.errors import NotFoundError, ValidationError
from pec_ext.sandbox import DEFAULT_PRICES, ManualClock, Sandbox, record_only
from pec_ext.sandbox.usage import SUBSCRIPTION_PLANS
from tests.support.applicants import applicant
from tests.support.http_stack import httpx

START = 1_767_225_600.0  # 2026-01-01T00:00:00Z, a fixed virtual start
DOMAIN = "test.pec.openapi.it"
APPLICANT = applicant()
HTTP_METHODS = ("get", "post", "put", "patch", "delete")


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    with Sandbox(balance=40, clock=ManualClock(START), callback_sender=record_only) as sandbox:
        yield sandbox


def _traffic(sb: Sandbox) -> None:
    """A paid registration, reads, and refused requests: what the statistics must count."""
    with sb.client() as pec:
        box = pec.register_mailbox(casella_pec="u@testcert.legalmail.it", tipo_casella="GOLD", **APPLICANT)
        pec.get_mailbox(box.id)
        pec.list_mailboxes()
        with pytest.raises(NotFoundError):
            pec.get_mailbox("0" * 24)


def _spec_operations(spec: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, item in spec["paths"].items()
        for method in item
        if method in HTTP_METHODS
    }


def _template(path: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(path)) + "$")


# -- coverage of the spec -----------------------------------------------------------------------------


def test_every_operation_of_the_oauth_spec_is_an_account_operation(
    oauth_upstream_spec: dict[str, Any],
) -> None:
    in_spec = _spec_operations(oauth_upstream_spec)
    assert len(in_spec) == 18
    ours = {(op.method, op.path) for op in ACCOUNT_OPERATIONS.values()}
    assert in_spec - ours == set(), "operations of the spec without an account operation"
    assert ours - in_spec == set(), "account operations the spec does not have"


def _calls(sb: Sandbox, token: str, refresh: str) -> list[tuple[str, tuple[Any, ...], dict[str, Any]]]:
    """One call of every public method that talks to the service (name, args, kwargs)."""
    scope = f"GET:{DOMAIN}/pec"
    return [
        ("create_token", ([scope],), {"ttl": 60, "warn": False}),
        ("create_pec_token", (["register_mailbox"],), {}),
        ("list_tokens", (), {}),
        ("get_token", (token,), {}),
        ("update_token", (token,), {"name": "renamed"}),
        ("list_scopes", (), {}),
        ("get_scope", (scope,), {}),
        ("scope_prices", ([f"POST:{DOMAIN}/pec"],), {}),
        ("quote", ("register_mailbox",), {"key": "register.GOLD"}),
        ("price_table", (["register.GOLD"],), {}),
        ("wallet", (), {}),
        ("transactions", (), {}),
        ("callbacks", (), {}),
        ("errors", (), {}),
        ("stats", (), {}),
        ("stats_ips", (), {}),
        ("stats_by_api", (), {}),
        ("api_stats", (DOMAIN,), {}),
        ("subscriptions", (), {}),
        ("subscription", (SUBSCRIPTION_PLANS[0].id,), {}),
        ("renew_token", (token, refresh), {}),
    ]


class _Recording(httpx.BaseTransport):
    def __init__(self, inner: httpx.BaseTransport, seen: list[httpx.Request]) -> None:
        self.inner, self.seen = inner, seen

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        return self.inner.handle_request(request)


class _AsyncRecording(httpx.AsyncBaseTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport, seen: list[httpx.Request]) -> None:
        self.inner, self.seen = inner, seen

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        return await self.inner.handle_async_request(request)


def _reached(seen: list[httpx.Request], spec_ops: set[tuple[str, str]]) -> set[tuple[str, str]]:
    reached = set()
    for request in seen:
        path = request.url.path.removeprefix("/oauth")
        for method, template in spec_ops:
            if request.method == method and _template(template).match(path):
                # /tokens/{token} must not also count as /tokens: the templates are anchored
                reached.add((method, template))
    return reached


def test_the_sync_and_async_clients_have_the_same_methods() -> None:
    def public(cls: type) -> dict[str, inspect.Signature]:
        return {
            name: inspect.signature(member)
            for name, member in inspect.getmembers(cls, inspect.isfunction)
            if not name.startswith("_") and name not in ("close",)
        }

    sync, asynchronous = public(AccountClient), public(AsyncAccountClient)
    assert sorted(sync) == sorted(asynchronous)
    for name in (
        "errors",
        "stats",
        "stats_ips",
        "stats_by_api",
        "api_stats",
        "subscriptions",
        "subscription",
    ):
        assert list(sync[name].parameters) == list(asynchronous[name].parameters), name
        assert inspect.iscoroutinefunction(getattr(AsyncAccountClient, name)), name


def test_every_spec_operation_is_reached_by_a_sync_method(
    sb: Sandbox, oauth_upstream_spec: dict[str, Any]
) -> None:
    spec_ops = _spec_operations(oauth_upstream_spec)
    seen: list[httpx.Request] = []
    _traffic(sb)
    with sb.account_client(transport=_Recording(sb.transport(), seen)) as account:
        token = account.create_token([f"GET:{DOMAIN}/pec"], warn=False)
        calls = _calls(sb, token.token, str(token.refresh_token))
        for name, args, kwargs in calls:
            getattr(account, name)(*args, **kwargs)
        account.delete_token(account.list_tokens()[0].token)
        with pytest.raises(NotFoundError):  # the sandbox made no callback: still the operation
            account.callback("0" * 24)
    assert _reached(seen, spec_ops) == spec_ops


async def test_every_spec_operation_is_reached_by_an_async_method(
    sb: Sandbox, oauth_upstream_spec: dict[str, Any]
) -> None:
    spec_ops = _spec_operations(oauth_upstream_spec)
    seen: list[httpx.Request] = []
    _traffic(sb)
    async with sb.async_account_client(transport=_AsyncRecording(sb.transport(), seen)) as account:
        token = await account.create_token([f"GET:{DOMAIN}/pec"], warn=False)
        for name, args, kwargs in _calls(sb, token.token, str(token.refresh_token)):
            await getattr(account, name)(*args, **kwargs)
        await account.delete_token((await account.list_tokens())[0].token)
        with pytest.raises(NotFoundError):
            await account.callback("0" * 24)
    assert _reached(seen, spec_ops) == spec_ops


# -- what the new methods answer ----------------------------------------------------------------------


def _check_stats(
    stats: Any, ips: list[str], by_api: dict[str, Any], api: Any, errors: list[Any], sb: Sandbox
) -> None:
    paid = sum(entry["amount"] for entry in sb.ledger)
    assert paid == DEFAULT_PRICES["register.GOLD"]
    # register (paid), get_mailbox, list_mailboxes, get_mailbox refused 404
    assert (stats.total_requests, stats.wallet_requests, stats.error_requests) == (4, 1, 1)
    assert stats.subscription_requests == 2  # the two reads answered 200 used the GET bundle
    assert stats.wallet_amount == paid
    assert (stats.total_ips, stats.total_apis) == (1, 1)
    assert ips == ["127.0.0.1"]
    assert list(by_api) == [DOMAIN]
    assert by_api[DOMAIN].total_requests == 4
    assert by_api[DOMAIN].total_scopes == 2
    assert api.wallet_amount == paid
    assert api.ip == ["127.0.0.1"]
    scopes = api.scopes.additional_properties
    assert sorted(scopes) == [f"GET:{DOMAIN}/pec", f"POST:{DOMAIN}/pec"]
    assert scopes[f"POST:{DOMAIN}/pec"].wallet_amount == paid
    assert scopes[f"GET:{DOMAIN}/pec"].error_requests == 1
    (error,) = errors
    assert (error.scope, error.http_response_code, error.domain) == (f"GET:{DOMAIN}/pec", 404, DOMAIN)
    assert error.error_at == dt.datetime.fromtimestamp(START, dt.UTC)


def test_statistics_and_the_error_log_follow_the_traffic_and_the_ledger_sync(sb: Sandbox) -> None:
    with sb.account_client() as account:
        assert account.stats().total_requests == 0
        _traffic(sb)
        _check_stats(
            account.stats(),
            account.stats_ips(),
            account.stats_by_api(),
            account.api_stats(DOMAIN),
            account.errors(),
            sb,
        )
        assert account.stats(date="2026-01").total_requests == 4
        assert account.stats(date=dt.date(2026, 1, 1)).wallet_requests == 1
        assert account.stats(date="2025").total_requests == 0
        assert account.errors(scopes=[f"POST:{DOMAIN}/pec"]) == []
        assert account.api_stats("pec.openapi.it").total_requests == 0


async def test_statistics_and_the_error_log_follow_the_traffic_and_the_ledger_async(sb: Sandbox) -> None:
    async with sb.async_account_client() as account:
        _traffic(sb)
        _check_stats(
            await account.stats(),
            await account.stats_ips(),
            await account.stats_by_api(),
            await account.api_stats(DOMAIN),
            await account.errors(),
            sb,
        )
        assert (await account.stats(date="2026-01-02")).total_requests == 0


def _check_subscriptions(listed: list[Any], detail: Any) -> None:
    assert [s.scope for s in listed] == [p.scope for p in SUBSCRIPTION_PLANS]
    assert listed[0].available_requests == str(SUBSCRIPTION_PLANS[0].requests - 2)
    assert detail.id == listed[0].id
    assert (detail.total_requests, detail.available_requests) == ("1000", "998")
    assert detail.starts_at == dt.datetime.fromtimestamp(START, dt.UTC)
    assert detail.expires_at == detail.starts_at + dt.timedelta(days=30)
    assert detail.price == SUBSCRIPTION_PLANS[0].price


def test_subscriptions_count_the_reads_they_cover_and_renew_monthly_sync(sb: Sandbox) -> None:
    with sb.account_client() as account:
        _traffic(sb)
        listed = account.subscriptions()
        _check_subscriptions(listed, account.subscription(listed[0].id))
        assert [s.scope for s in account.subscriptions(scopes=[f"GET:{DOMAIN}/verifica_pec"])] == [
            f"GET:{DOMAIN}/verifica_pec"
        ]
        with pytest.raises(NotFoundError, match="Subscription not found"):
            account.subscription("0" * 24)
        sb.clock.advance(31 * 24 * 3600)  # the next period: the bundle is whole again
        renewed = account.subscription(listed[0].id)
        assert renewed.available_requests == "1000"
        assert renewed.starts_at == dt.datetime.fromtimestamp(START + 30 * 24 * 3600, dt.UTC)


async def test_subscriptions_count_the_reads_they_cover_async(sb: Sandbox) -> None:
    async with sb.async_account_client() as account:
        _traffic(sb)
        listed = await account.subscriptions()
        _check_subscriptions(listed, await account.subscription(listed[0].id))


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda a: a.stats(date="2026-13"), "date"),
        (lambda a: a.stats(date="26"), "date"),
        (lambda a: a.stats_ips(date="2026-02-30"), "date"),
        (lambda a: a.stats_by_api(date=dt.datetime(2026, 1, 1)), "date"),
        (lambda a: a.api_stats("not a domain/"), "domain"),
        (lambda a: a.errors(limit=101), "limit"),
        (lambda a: a.subscriptions(scopes=["everything"]), "scopes"),
        (lambda a: a.subscription(""), "id"),
    ],
)
def test_bad_input_is_refused_before_sending(call: Callable[[AccountClient], Any], field: str) -> None:
    seen: list[httpx.Request] = []

    def refuse(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(500)

    with (
        AccountClient("me@example.com", "key", transport=httpx.MockTransport(refuse)) as account,
        pytest.raises(ValidationError) as caught,
    ):
        call(account)
    assert caught.value.field == field
    assert seen == []


def test_a_least_privilege_read_token_s_requests_are_counted(sb: Sandbox, tmp_path: Path) -> None:
    with sb.account_client() as account:
        with (
            account.pec_client(["get_mailbox"], cache=TokenCache(tmp_path / "cache")) as pec,
            pytest.raises(NotFoundError),
        ):
            pec.get_mailbox("0" * 24)
        (scope,) = pec_scopes("sandbox", ["get_mailbox"])
        counted = account.api_stats(DOMAIN).scopes[scope]
        assert (counted.total_requests, counted.error_requests) == (1, 1)
        (error,) = account.errors(scopes=[scope])
        assert error.http_response_code == 404
