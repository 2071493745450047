"""Retries: which requests are sent again, after what, how long the client waits, and when it stops."""

from __future__ import annotations

import email.utils
import random

import pytest

from pec_ext import (
    OutcomeUnknownError,
    RateLimitError,
    RequestTimeoutError,
    ServerError,
    ServiceUnavailableError,
    TransportError,
)
from pec_ext._engine import retry
from tests.support.http_stack import httpx

# -- the backoff itself --------------------------------------------------------------------------


def highest(low: float, high: float) -> float:
    return high


def lowest(low: float, high: float) -> float:
    return low


def test_backoff_is_capped_exponential_with_full_jitter():
    assert [retry.backoff_seconds(a, uniform=highest) for a in range(6)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]
    assert retry.backoff_seconds(5000, uniform=highest) == retry.BACKOFF_MAX_SECONDS  # no overflow
    assert retry.backoff_seconds(3, uniform=lowest) == 0.0


def test_backoff_jitter_stays_within_the_ceiling():
    for attempt in range(8):
        ceiling = min(retry.BACKOFF_MAX_SECONDS, retry.BACKOFF_INITIAL_SECONDS * 2**attempt)
        jitter = random.Random(attempt).uniform
        delays = {retry.backoff_seconds(attempt, uniform=jitter) for _ in range(50)}
        assert all(0 <= d <= ceiling for d in delays)
        assert len(delays) > 1  # jittered


def test_retry_after_wins_when_longer():
    assert retry.backoff_seconds(0, retry_after=7.0, uniform=highest) == 7.0
    assert retry.backoff_seconds(4, retry_after=1.0, uniform=highest) == 8.0


@pytest.mark.parametrize(
    ("value", "expected"),
    [("5", 5.0), (" 2.5 ", 2.5), ("-3", 0.0), ("soon", None), ("", None)],
)
def test_retry_after_header(value, expected):
    assert retry.retry_after_seconds({"retry-after": value}, now=0.0) == expected


def test_retry_after_http_date():
    when = email.utils.formatdate(1_000_030, usegmt=True)
    assert retry.retry_after_seconds({"retry-after": when}, now=1_000_000) == pytest.approx(30)
    assert retry.retry_after_seconds({"retry-after": when}, now=2_000_000) == 0.0


# -- idempotent reads ----------------------------------------------------------------------------

RETRIED_STATUSES = [429, 502, 503, 504]


@pytest.mark.parametrize("status", RETRIED_STATUSES)
async def test_reads_are_retried_on_status(pec, api, data, clock, no_jitter, status):
    api.reply("get_mailbox", httpx.Response(status), httpx.Response(status))
    box = await pec("get_mailbox", data.BOX_ID)
    assert box.id == api.examples["get_mailbox"]["data"]["id"]
    assert len(api.sent()) == 3
    assert clock.sleeps == [0.5, 1.0]


@pytest.mark.parametrize(
    "failure",
    [
        httpx.ReadTimeout("read timed out"),
        httpx.ConnectTimeout("connect timed out"),
        httpx.ConnectError("connection refused"),
        httpx.RemoteProtocolError("peer closed connection"),
        httpx.ReadError("connection reset"),
    ],
    ids=lambda e: type(e).__name__,
)
async def test_reads_are_retried_on_transport_failures(pec, api, data, clock, no_jitter, failure):
    api.reply("list_mailboxes", failure)
    boxes = await pec("list_mailboxes")
    assert len(boxes) == len(api.examples["list_mailboxes"]["data"])
    assert len(api.sent()) == 2
    assert clock.sleeps == [0.5]


async def test_retries_are_bounded_then_the_typed_error(pec, api, data, clock, no_jitter):
    api.reply("get_mailbox", *[httpx.Response(503)] * 10)
    with pytest.raises(ServiceUnavailableError):
        await pec("get_mailbox", data.BOX_ID, client_options={"max_retries": 2})
    assert len(api.sent()) == 3
    assert clock.sleeps == [0.5, 1.0]


async def test_timeouts_exhausted_raise_request_timeout(pec, api, data, clock):
    api.reply("get_mailbox", *[httpx.ReadTimeout("slow")] * 10)
    with pytest.raises(RequestTimeoutError) as caught:
        await pec("get_mailbox", data.BOX_ID)
    assert not isinstance(caught.value, OutcomeUnknownError)
    assert len(api.sent()) == 4  # 1 + max_retries (3)


async def test_connection_errors_exhausted_raise_transport_error(pec, api, data):
    api.reply("get_mailbox", *[httpx.ConnectError("refused")] * 10)
    with pytest.raises(TransportError) as caught:
        await pec("get_mailbox", data.BOX_ID, client_options={"max_retries": 1})
    assert not isinstance(caught.value, RequestTimeoutError)
    assert len(api.sent()) == 2


async def test_max_retries_zero_sends_once(pec, api, data, clock):
    api.reply("get_mailbox", httpx.Response(502))
    with pytest.raises(ServerError):
        await pec("get_mailbox", data.BOX_ID, client_options={"max_retries": 0})
    assert len(api.sent()) == 1
    assert clock.sleeps == []


async def test_retry_after_is_honoured(pec, api, data, clock, no_jitter):
    api.reply(
        "get_mailbox",
        httpx.Response(429, headers={"retry-after": "7"}),
        httpx.Response(503, headers={"retry-after": "0"}),
    )
    await pec("get_mailbox", data.BOX_ID)
    assert clock.sleeps == [7.0, 1.0]


async def test_a_retry_after_too_long_is_not_waited_for(pec, api, data, clock):
    api.reply("get_mailbox", httpx.Response(429, headers={"retry-after": "3600"}))
    with pytest.raises(RateLimitError) as caught:
        await pec("get_mailbox", data.BOX_ID)
    assert caught.value.retry_after == 3600
    assert clock.sleeps == []
    assert len(api.sent()) == 1


async def test_backoff_is_the_one_in_retry_with_the_clients_jitter(pec, api, data, clock, no_jitter):
    api.reply("get_mailbox", httpx.Response(503), httpx.Response(429, headers={"retry-after": "2"}))
    await pec("get_mailbox", data.BOX_ID)
    # attempt 0: the ceiling 0.5; attempt 1: Retry-After 2 beats the ceiling 1.0
    assert clock.sleeps == [retry.backoff_seconds(0, uniform=highest), 2.0] == [0.5, 2.0]


# -- paid and mutating calls are never resent blindly -------------------------------------------


@pytest.mark.parametrize("status", [502, 503, 504])
async def test_renew_is_never_retried_on_server_status(pec, api, data, clock, status):
    api.reply("renew_mailbox", *[httpx.Response(status)] * 5)
    # 503: refused, not processed; 502/504: a gateway failed and the outcome is unknown
    expected = ServiceUnavailableError if status == 503 else OutcomeUnknownError
    with pytest.raises(expected):
        await pec("renew_mailbox", data.BOX_ID, anni=1)
    assert len(api.sent("renew_mailbox")) == 1
    assert clock.sleeps == []


async def test_renew_503_is_service_unavailable(pec, api, data):
    api.reply("renew_mailbox", httpx.Response(503))
    with pytest.raises(ServiceUnavailableError):
        await pec("renew_mailbox", data.BOX_ID)
    assert api.operations() == ["renew_mailbox"]


async def test_renew_timeout_is_outcome_unknown_and_a_timeout(pec, api, data):
    api.reply("renew_mailbox", httpx.ReadTimeout("slow"))
    with pytest.raises(OutcomeUnknownError) as caught:
        await pec("renew_mailbox", data.BOX_ID)
    assert isinstance(caught.value, RequestTimeoutError)
    assert len(api.sent("renew_mailbox")) == 1
    assert caught.value.operation == "renew_mailbox"
    # it read the box to report what it knows
    assert caught.value.known is not None
    assert api.operations() == ["renew_mailbox", "get_mailbox"]


async def test_paid_domain_check_is_not_resent(pec, api, data, clock):
    api.reply("check_domain", httpx.ReadTimeout("slow"))
    with pytest.raises(OutcomeUnknownError) as caught:
        await pec("check_domain", "legalmail.it")
    assert isinstance(caught.value, RequestTimeoutError)
    assert len(api.sent()) == 1
    api.reply("check_domain", httpx.Response(503))
    with pytest.raises(ServiceUnavailableError):
        await pec("check_domain", "legalmail.it")
    assert len(api.sent()) == 2


async def test_a_refused_connection_lets_a_paid_call_be_sent_again(pec, api, data, clock, no_jitter):
    api.reply("renew_mailbox", httpx.ConnectError("connection refused"))
    box = await pec("renew_mailbox", data.BOX_ID, anni=1)
    assert box.id == api.examples["renew_mailbox"]["data"]["id"]
    assert len(api.sent("renew_mailbox")) == 2
    assert clock.sleeps == [0.5]


async def test_a_429_lets_a_paid_call_be_sent_again(pec, api, data, clock, no_jitter):
    api.reply("register_mailbox", httpx.Response(429, headers={"retry-after": "1"}))
    await pec("register_mailbox", **data.register_fields())
    assert len(api.sent("register_mailbox")) == 2
    assert clock.sleeps == [1.0]


@pytest.mark.parametrize(
    ("method", "args", "operation"),
    [
        ("revoke_mailbox", ("6045fdee3a716847a978a471",), "revoke_mailbox"),
        ("renew_mailbox", ("6045fdee3a716847a978a471",), "renew_mailbox"),
        ("request", ("POST", "/dominio"), None),
    ],
)
@pytest.mark.parametrize("status", [503, 500, 501])
async def test_mutations_are_not_retried_on_errors(pec, api, data, clock, method, args, operation, status):
    api.reply(operation, *[httpx.Response(status)] * 5)
    api.reply("get_mailbox", api.box(stato="evasa"))  # what reconciliation reads: nothing changed
    # 503 and 501 are refusals; after a 500 the work may be done, and the box does not show it
    expected = {503: ServiceUnavailableError, 500: OutcomeUnknownError, 501: ServerError}[status]
    with pytest.raises(expected):
        await pec(method, *args)
    assert len(api.sent(operation)) == 1
    assert clock.sleeps == []
