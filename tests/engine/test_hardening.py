"""Regression tests for the client faults an adversarial run found (issue 11, points 1 to 5)."""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pec_ext import (
    InvalidResponseError,
    OutcomeUnknownError,
    PecError,
    RateLimitError,
    ServerError,
    ServiceUnavailableError,
    ValidationError,
)
from pec_ext._engine import retry
from tests.support.http_stack import httpx

# -- 1: any Retry-After value ends in a typed error or is ignored -----------------------------------

HOSTILE_RETRY_AFTER = [
    "Mon, 01 Jan 99999999999999999999 00:00:00 GMT",  # OverflowError on main
    "Fri, 31 Dec 9999 23:59:59 GMT",
    "Fri, 31 Dec 9999 23:59:59 -0000",
    "Sat, 01 Jan 0001 00:00:00 +1400",
    "Mon, 01 Jan 1 00:00:00 GMT",
    "Mon, 32 Jan 2020 00:00:00 GMT",
    "nan",
    "NaN",
    "inf",
    "-inf",
    "1e999",
    "9" * 400,
    "1_000",
    "0x10",
    "\t 5 \t",
    "Mon, 01 Jan 2020 99:99:99 GMT",
]

# what an HTTP header value can hold (latin-1, no line breaks)
HEADER_TEXT = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF, blacklist_characters="\x7f"), max_size=60
)
DATE_LIKE = st.builds(
    "{}, {:02d} {} {} {:02d}:{:02d}:{:02d} {}".format,
    st.sampled_from(["Mon", "Tue", "Xyz", ""]),
    st.integers(0, 99),
    st.sampled_from(["Jan", "Feb", "Dec", "Foo"]),
    st.integers(-(10**30), 10**30),
    st.integers(0, 99),
    st.integers(0, 99),
    st.integers(0, 99),
    st.sampled_from(["GMT", "-0000", "+9999", "-2400", "UT", "XYZ", ""]),
)


@given(st.one_of(HEADER_TEXT, DATE_LIKE, st.sampled_from(HOSTILE_RETRY_AFTER)))
@settings(max_examples=400, deadline=None)
def test_retry_after_is_a_finite_delay_or_nothing(value):
    delay = retry.retry_after_seconds({"retry-after": value}, now=1_700_000_000.0)
    assert delay is None or (math.isfinite(delay) and delay >= 0)
    for attempt in (0, 3, 10_000):
        assert math.isfinite(retry.backoff_seconds(attempt, delay, uniform=lambda low, high: high))


@pytest.mark.parametrize("value", HOSTILE_RETRY_AFTER)
@pytest.mark.parametrize("status", [429, 503])
async def test_a_hostile_retry_after_never_escapes_a_call(pec, api, data, clock, value, status):
    header = [(b"retry-after", value.encode("latin-1"))]
    api.reply("get_mailbox", *[httpx.Response(status, headers=header)] * 5)
    with pytest.raises(PecError) as caught:
        await pec("get_mailbox", data.BOX_ID)
    assert caught.value.retry_after is None or math.isfinite(caught.value.retry_after)
    assert all(math.isfinite(pause) and pause <= retry.RETRY_AFTER_MAX_SECONDS for pause in clock.sleeps)


@given(value=st.one_of(HEADER_TEXT, DATE_LIKE))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
async def test_any_retry_after_on_a_paid_call_is_a_pec_error(pec, api, data, clock, value):
    """Refused with 429 on every try, a registration ends in RateLimitError, whatever the header says.

    A 429 is a refusal before any work, so the client may send again (never more than its retries)
    and has nothing to reconcile: no lookup follows, no unbounded pause, no other exception escapes.
    """
    # hypothesis reuses the function-scoped fixtures across examples: start each one empty
    api.queued.clear()
    api.calls.clear()
    clock.sleeps.clear()
    header = [(b"retry-after", value.encode("latin-1"))]
    api.reply("register_mailbox", *[httpx.Response(429, headers=header)] * (retry.DEFAULT_MAX_RETRIES + 1))
    with pytest.raises(RateLimitError) as caught:
        await pec("register_mailbox", **data.register_fields())
    assert caught.value.retry_after is None or math.isfinite(caught.value.retry_after)
    assert set(api.operations()) == {"register_mailbox"}
    assert 1 <= len(api.sent("register_mailbox")) <= retry.DEFAULT_MAX_RETRIES + 1
    assert all(math.isfinite(pause) and pause <= retry.RETRY_AFTER_MAX_SECONDS for pause in clock.sleeps)


# -- 2: a paid call answered 5xx is reconciled, never reported as a plain error --------------------


@pytest.mark.parametrize("status", [500, 502, 504, 507, 520])
async def test_a_mutation_answered_5xx_is_reconciled(pec, api, data, clock, status):
    """The server may have applied it: the box shows the revocation, so the call returns it."""
    api.reply("revoke_mailbox", httpx.Response(status))
    api.reply("get_mailbox", api.box(stato="revocata"))
    box = await pec("revoke_mailbox", data.BOX_ID)
    assert box.stato == "revocata"
    assert api.operations() == ["revoke_mailbox", "get_mailbox"]
    assert clock.sleeps == []


async def test_a_renewal_answered_500_is_outcome_unknown_with_the_box(pec, api, data, clock):
    api.reply("renew_mailbox", httpx.Response(500))
    with pytest.raises(OutcomeUnknownError) as caught:
        await pec("renew_mailbox", data.BOX_ID, anni=1)
    assert isinstance(caught.value.__cause__, ServerError)
    assert caught.value.known is not None
    assert api.operations() == ["renew_mailbox", "get_mailbox"]


async def test_a_register_answered_500_is_looked_up_not_resent(pec, api, data):
    address = data.register_fields()["casella_pec"]
    listing = api.example("list_mailboxes")
    listing["data"][0].update(casella_pec=address, stato="registrata")
    api.reply("register_mailbox", httpx.Response(500))
    api.reply("list_mailboxes", httpx.Response(200, json=listing))
    box = await pec("register_mailbox", **data.register_fields())
    assert box.id == api.examples["get_mailbox"]["data"]["id"]
    assert api.operations() == ["register_mailbox", "list_mailboxes", "get_mailbox"]


async def test_a_revoke_answered_500_that_did_not_apply_is_outcome_unknown(pec, api, data):
    api.reply("revoke_mailbox", httpx.Response(500))
    api.reply("get_mailbox", api.box(stato="evasa"))
    with pytest.raises(OutcomeUnknownError) as caught:
        await pec("revoke_mailbox", data.BOX_ID)
    assert isinstance(caught.value.__cause__, ServerError)
    assert len(api.sent("revoke_mailbox")) == 1


@pytest.mark.parametrize(("status", "error"), [(503, ServiceUnavailableError), (501, ServerError)])
async def test_refusals_before_processing_stay_plain_errors(pec, api, data, status, error):
    api.reply("revoke_mailbox", httpx.Response(status))
    with pytest.raises(error) as caught:
        await pec("revoke_mailbox", data.BOX_ID)
    assert not isinstance(caught.value, OutcomeUnknownError)
    assert api.operations() == ["revoke_mailbox"]


async def test_a_read_answered_500_is_a_server_error(pec, api, data):
    api.reply("get_mailbox", httpx.Response(500))
    with pytest.raises(ServerError) as caught:
        await pec("get_mailbox", data.BOX_ID)
    assert not isinstance(caught.value, OutcomeUnknownError)


# -- 3: download targets ---------------------------------------------------------------------------


async def test_download_onto_a_directory_is_refused_before_the_call(pec, api, data, tmp_path):
    (tmp_path / "forms").mkdir()
    for overwrite in (False, True):
        with pytest.raises(ValidationError) as caught:
            await pec("download_activation_form", data.BOX_ID, to=tmp_path / "forms", overwrite=overwrite)
        assert caught.value.field == "to"
        assert "directory" in str(caught.value)
    assert api.sent() == []


async def test_download_to_a_name_with_nul_is_refused_before_the_call(pec, api, data, tmp_path):
    with pytest.raises(ValidationError) as caught:
        await pec("download_activation_form", data.BOX_ID, to=str(tmp_path / "form\x00.pdf"))
    assert caught.value.field == "to"
    assert api.sent() == []


def _name_max(folder: Path) -> int:
    return os.pathconf(folder, "PC_NAME_MAX")


async def test_download_to_the_longest_legal_name_works(pec, api, data, tmp_path):
    name = "f" * (_name_max(tmp_path) - 4) + ".pdf"
    assert await pec("download_activation_form", data.BOX_ID, to=tmp_path / name) == data.PDF
    assert os.listdir(tmp_path) == [name]
    assert await pec("download_activation_form", data.BOX_ID, to=tmp_path / name, overwrite=True)
    assert os.listdir(tmp_path) == [name]


async def test_download_to_a_name_too_long_is_refused_before_the_call(pec, api, data, tmp_path):
    name = "f" * _name_max(tmp_path) + ".pdf"
    with pytest.raises(ValidationError) as caught:
        await pec("download_activation_form", data.BOX_ID, to=tmp_path / name)
    assert caught.value.field == "to"
    assert "too long" in str(caught.value)
    assert api.sent() == []


# -- 4: dot-segment ids ----------------------------------------------------------------------------

DOT_IDS = [".", "..", "...", "....."]
ID_METHODS = [
    ("get_mailbox", ()),
    ("revoke_mailbox", ()),
    ("renew_mailbox", (1,)),
    ("download_activation_form", ()),
    ("get_communication", ()),
    ("add_space", ()),
]


@pytest.mark.parametrize("value", DOT_IDS)
@pytest.mark.parametrize(("method", "extra"), ID_METHODS)
async def test_dot_ids_are_refused_before_sending(pec, api, data, method, extra, value):
    kwargs = {"disco": 1024} if method == "add_space" else {}
    with pytest.raises(ValidationError) as caught:
        await pec(method, value, *extra, **kwargs)
    assert caught.value.field == "id"
    assert "dot" in str(caught.value)
    assert api.sent() == []


async def test_dots_inside_an_id_are_still_sent(pec, api, data):
    await pec("get_mailbox", "a..b")
    (request,) = api.sent()
    assert request.url.raw_path.endswith(b"/pec/a..b")


# -- 5: a body that is not a PDF says what is wrong with it ----------------------------------------


@pytest.mark.parametrize(
    ("body", "shown"),
    [
        (b"<html><body>Login</body></html>", "b'<html><body>Login</body></html>'"),
        (b"", "the body is empty"),
        (b"%PDX-1.4 almost", "b'%PDX-1.4 almost'"),
    ],
)
async def test_a_non_pdf_body_says_what_it_starts_with(pec, api, data, body, shown):
    api.reply(
        "download_activation_form",
        httpx.Response(200, content=body, headers={"content-type": "application/pdf"}),
    )
    with pytest.raises(InvalidResponseError) as caught:
        await pec("download_activation_form", data.BOX_ID)
    message = str(caught.value)
    assert "%PDF-" in message
    assert shown in message
    assert "expected a PDF, got application/pdf" not in message
