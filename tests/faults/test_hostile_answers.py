"""Answers an adversarial run found mishandled: hostile Retry-After values, a paid call applied
and then answered 500, and a PDF download whose body is not a PDF (issue 11)."""

from __future__ import annotations

import math
from typing import Any

from pec_ext import InvalidResponseError, PecError
from tests.faults.test_faults import BOX, check_no_double_registration, evasa_box, live_boxes
from tests.support.fault_server import Action, FaultServer
from tests.support.fault_stats import add, record
from tests.support.faults import box_body

HOSTILE_RETRY_AFTER = [
    "Mon, 01 Jan 99999999999999999999 00:00:00 GMT",
    "Fri, 31 Dec 9999 23:59:59 GMT",
    "Sat, 01 Jan 0001 00:00:00 +1400",
    "nan",
    "inf",
    "-inf",
    "1e999",
    "9" * 400,
    "Mon, 32 Jan 2020 99:99:99 GMT",
    "\xff\xfe",
]


def test_hostile_retry_after_ends_in_a_typed_error(server: FaultServer, driver: Any) -> None:
    box_id = evasa_box(server, "retryafter@testcert.legalmail.it")
    faults = 0
    outcomes = []
    for value in HOSTILE_RETRY_AFTER:
        for status in (429, 503):
            server.clear()
            action = Action("respond", status=status, headers=(("retry-after", value),))
            server.script("GET", BOX, forever=action)
            before = server.count("GET", BOX)
            outcomes.append(driver(max_retries=1).call("get_mailbox", box_id))
            faults += server.count("GET", BOX) - before
    for outcome in outcomes:
        assert isinstance(outcome, PecError), repr(outcome)
        assert outcome.retry_after is None or math.isfinite(outcome.retry_after)
    record(
        "hostile Retry-After (year 10^20, NaN, inf, 400 digits...) on 429/503",
        calls=len(outcomes),
        faults=faults,
        survived=len(outcomes),
        typed_errors=len(outcomes),
        outcome="a typed error, the header ignored",
    )


def test_paid_call_applied_then_answered_500_is_reconciled(server: FaultServer, driver: Any) -> None:
    """The sandbox-like failure: the work is done, then the server answers 500. Never resent."""
    addresses = [f"applied500.{i}@testcert.legalmail.it" for i in range(3)]
    api = driver()
    outcomes = []
    for address in addresses:
        server.script(
            "POST", "/pec", Action("respond", apply=True, status=500, body=b"Internal Server Error")
        )
        outcomes.append(api.call("register_mailbox", **box_body(address)))
    for address, outcome in zip(addresses, outcomes, strict=True):
        assert not isinstance(outcome, Exception), repr(outcome)
        assert outcome.casella_pec == address
        assert live_boxes(server, address) == 1
    posts = server.count("POST", "/pec")
    add("paid_resends", posts - len(addresses))
    assert posts == len(addresses)
    check_no_double_registration(server, addresses)
    record(
        "register: applied, then answered 500",
        calls=len(addresses),
        faults=len(addresses),
        survived=len(addresses),
        outcome="box returned (reconciled by listing), not resent",
    )


def test_revoke_not_applied_then_500_is_outcome_unknown(server: FaultServer, driver: Any) -> None:
    box_id = evasa_box(server, "revoke500@testcert.legalmail.it")
    server.script("DELETE", BOX, Action("respond", status=500, body=b"boom"))
    outcome = driver().call("revoke_mailbox", box_id)
    assert type(outcome).__name__ == "OutcomeUnknownError", repr(outcome)
    assert server.count("DELETE", BOX) == 1
    record(
        "revoke: answered 500 without applying it",
        calls=1,
        faults=1,
        survived=1,
        typed_errors=1,
        outcome="OutcomeUnknownError with the box read back, not resent",
    )


def test_pdf_download_that_is_not_a_pdf(server: FaultServer, driver: Any) -> None:
    box_id = evasa_box(server, "notpdf@testcert.legalmail.it")
    page = b"<html><body>Session expired</body></html>"
    server.script(
        "GET",
        BOX + "/modulo_attivazione",
        Action("respond", body=page, headers=(("content-type", "application/pdf"),)),
    )
    outcome = driver(max_retries=0).call("download_activation_form", box_id)
    assert isinstance(outcome, InvalidResponseError), repr(outcome)
    assert "does not start with %PDF-" in str(outcome)
    assert "<html><body>Session expired" in str(outcome)
    record(
        "application/pdf answer that is an HTML page",
        calls=1,
        faults=1,
        survived=1,
        typed_errors=1,
        outcome="InvalidResponseError saying what the body starts with",
    )
