"""Fault injection: a real Sandbox behind a loopback server that drops, stalls and garbles.

Every scenario runs through ``PecClient`` and ``AsyncPecClient`` (the ``mode`` parameter) and is
checked against the sandbox's own state: boxes, ledger charges and the requests it received.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import time
from typing import Any

import pytest

from pec_ext import (
    InvalidResponseError,
    OutcomeUnknownError,
    PecError,
    RequestTimeoutError,
    ServerError,
    ServiceUnavailableError,
    TransportError,
    UnauthorizedError,
)
from pec_ext.sandbox.pdf import render
from tests.support.fault_server import Action, FaultServer
from tests.support.fault_stats import add, record
from tests.support.faults import TOKEN, Driver, box_body

BOX = r"/pec/[^/]+"
HTML_502 = b"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>"  # noqa: E501
HTML_401 = b"<!DOCTYPE html><html><body><h1>401 Authorization Required</h1></body></html>"
HTML = (("content-type", "text/html"),)


def register_charges(server: FaultServer) -> int:
    return sum(1 for entry in server.sandbox.ledger if entry["operation"] == "POST /pec")


def live_boxes(server: FaultServer, address: str) -> int:
    return sum(
        1
        for box in server.sandbox.mailboxes()
        if box["casella_pec"] == address and box["stato"] not in ("revocata", "chiusa")
    )


def check_no_double_registration(server: FaultServer, addresses: list[str]) -> None:
    """At most one box per address, and exactly one charge per box."""
    doubles = sum(max(0, live_boxes(server, a) - 1) for a in addresses)
    extra_charges = register_charges(server) - len(server.sandbox.mailboxes())
    add("double_registrations", doubles)
    add("double_charges", max(0, extra_charges))
    assert doubles == 0
    assert extra_charges == 0


def evasa_box(server: FaultServer, address: str) -> str:
    """A box processed to ``evasa`` directly in the sandbox (no fault server involved)."""
    with server.sandbox.client(token=TOKEN) as client:
        box = client.register_mailbox(**box_body(address))
        pdf = render("Documento", ["identità"])
        client.activate_mailbox(box.id, [pdf, pdf])
    server.sandbox.advance()
    return str(box.id)


# -- the connection drops after a paid call was committed -----------------------------------------


@pytest.mark.parametrize(
    "fault",
    [
        Action("drop", apply=True),
        Action("drop", apply=True, reset=True),
        Action("truncate"),
        Action("respond", apply=True, status=502, body=HTML_502, headers=HTML),
        Action("respond", apply=True, status=504, body=b"", headers=HTML),
        Action("stall", apply=True, delay=1.5),
    ],
    ids=["drop-fin", "drop-rst", "truncated", "proxy-502", "proxy-504", "stall"],
)
def test_register_committed_then_connection_lost(server: FaultServer, driver: Any, fault: Action) -> None:
    """The box exists server-side; the caller gets it (reconciled), never a second registration."""
    addresses = [f"dropped.{fault.kind}.{i}@testcert.legalmail.it" for i in range(3)]
    api: Driver = driver(timeout=0.3)
    outcomes = []
    for address in addresses:
        server.script("POST", "/pec", fault)
        outcomes.append(api.call("register_mailbox", **box_body(address)))
    for address, outcome in zip(addresses, outcomes, strict=True):
        assert not isinstance(outcome, Exception), outcome
        assert outcome.casella_pec == address
        assert live_boxes(server, address) == 1
    posts = server.count("POST", "/pec")
    add("paid_resends", posts - len(addresses))
    assert posts == len(addresses)
    check_no_double_registration(server, addresses)
    record(
        "register: committed, then the answer is lost",
        calls=len(addresses),
        faults=len(addresses),
        survived=len(addresses),
        outcome="box returned (reconciled by listing)",
    )


@pytest.mark.parametrize(
    "fault",
    [Action("drop"), Action("drop", reset=True), Action("stall", delay=1.5)],
    ids=["drop-fin", "drop-rst", "stall"],
)
def test_register_lost_before_commit(server: FaultServer, driver: Any, fault: Action) -> None:
    """Nothing was registered: OutcomeUnknownError (a timeout one for a stall), no box, no charge."""
    address = f"lost.{fault.kind}@testcert.legalmail.it"
    server.script("POST", "/pec", fault)
    outcome = driver(timeout=0.3).call("register_mailbox", **box_body(address))
    assert isinstance(outcome, OutcomeUnknownError), outcome
    if fault.kind == "stall":
        assert isinstance(outcome, RequestTimeoutError)
    assert TOKEN not in str(outcome)
    assert live_boxes(server, address) == 0
    assert register_charges(server) == 0
    add("paid_resends", server.count("POST", "/pec") - 1)
    assert server.count("POST", "/pec") == 1
    check_no_double_registration(server, [address])
    record(
        "register: lost before the server committed it",
        calls=1,
        faults=1,
        survived=1,
        typed_errors=1,
        outcome="OutcomeUnknownError, nothing charged",
    )


def test_register_committed_and_reconciliation_fails(server: FaultServer, driver: Any) -> None:
    """The box exists but listing fails too: OutcomeUnknownError, and still one POST only."""
    address = "unreadable@testcert.legalmail.it"
    server.script("POST", "/pec", Action("drop", apply=True))
    server.script(
        "GET", "/pec", forever=Action("respond", status=503, body=b"", headers=(("retry-after", "0"),))
    )
    outcome = driver(max_retries=2).call("register_mailbox", **box_body(address))
    assert isinstance(outcome, OutcomeUnknownError), outcome
    assert live_boxes(server, address) == 1
    assert server.count("POST", "/pec") == 1
    assert server.count("GET", "/pec") == 3
    check_no_double_registration(server, [address])
    record(
        "register: committed, answer lost, reconciliation fails",
        calls=1,
        faults=4,
        survived=1,
        typed_errors=1,
        outcome="OutcomeUnknownError, one charge",
    )


# -- 503 storms and Retry-After -------------------------------------------------------------------


def test_503_storm_is_bounded(server: FaultServer, driver: Any) -> None:
    box_id = evasa_box(server, "storm@testcert.legalmail.it")
    server.script("GET", BOX, forever=Action("respond", status=503, headers=(("retry-after", "0"),)))
    outcome = driver(max_retries=3).call("get_mailbox", box_id)
    assert isinstance(outcome, ServiceUnavailableError), outcome
    assert outcome.retry_after == 0
    assert server.count("GET", BOX) == 4  # the call and max_retries resends, then it gives up
    record(
        "503 storm (Retry-After: 0)",
        calls=1,
        faults=4,
        survived=1,
        typed_errors=1,
        outcome="ServiceUnavailableError after 1 + max_retries requests",
    )


def test_retry_after_is_honoured(server: FaultServer, driver: Any) -> None:
    box_id = evasa_box(server, "honour@testcert.legalmail.it")
    server.script("GET", BOX, forever=Action("respond", status=503, headers=(("retry-after", "1"),)))
    start = time.monotonic()
    outcome = driver(max_retries=1).call("get_mailbox", box_id)
    elapsed = time.monotonic() - start
    assert isinstance(outcome, ServiceUnavailableError), outcome
    assert server.count("GET", BOX) == 2
    assert 0.95 <= elapsed < 5.0  # backoff is patched to milliseconds: the wait is Retry-After's
    record(
        "503 storm (Retry-After: 1)",
        calls=1,
        faults=2,
        survived=1,
        typed_errors=1,
        outcome="waited Retry-After, then ServiceUnavailableError",
    )


def test_503_storm_then_recovery(server: FaultServer, driver: Any) -> None:
    box_id = evasa_box(server, "recover@testcert.legalmail.it")
    busy = Action("respond", status=503, headers=(("retry-after", "0"),))
    server.script("GET", BOX, busy, busy)
    outcome = driver(max_retries=3).call("get_mailbox", box_id)
    assert not isinstance(outcome, Exception), outcome
    assert outcome.id == box_id
    assert server.count("GET", BOX) == 3
    record("503 storm, then recovery", calls=1, faults=2, survived=1, outcome="result after 2 retries")


def test_paid_call_is_not_resent_after_503(server: FaultServer, driver: Any) -> None:
    address = "paid503@testcert.legalmail.it"
    server.script("POST", "/pec", forever=Action("respond", status=503, headers=(("retry-after", "0"),)))
    outcome = driver(max_retries=3).call("register_mailbox", **box_body(address))
    assert isinstance(outcome, ServiceUnavailableError), outcome
    add("paid_resends", server.count("POST", "/pec") - 1)
    assert server.count("POST", "/pec") == 1
    assert live_boxes(server, address) == 0
    record(
        "paid call answered 503",
        calls=1,
        faults=1,
        survived=1,
        typed_errors=1,
        outcome="ServiceUnavailableError, not resent",
    )


def test_paid_call_is_resent_after_429(server: FaultServer, driver: Any) -> None:
    """429 means refused before any work: the one case where a paid call may go again."""
    address = "paid429@testcert.legalmail.it"
    server.script("POST", "/pec", Action("respond", status=429, headers=(("retry-after", "0"),)))
    outcome = driver(max_retries=3).call("register_mailbox", **box_body(address))
    assert not isinstance(outcome, Exception), outcome
    assert server.count("POST", "/pec") == 2
    check_no_double_registration(server, [address])
    record("paid call answered 429", calls=1, faults=1, survived=1, outcome="resent once, one box")


# -- slower than the timeout ----------------------------------------------------------------------


def test_slow_read_times_out(server: FaultServer, driver: Any) -> None:
    box_id = evasa_box(server, "slowread@testcert.legalmail.it")
    server.script("GET", BOX, forever=Action("stall", delay=2.0))
    start = time.monotonic()
    outcome = driver(timeout=0.2, max_retries=1).call("get_mailbox", box_id)
    assert isinstance(outcome, RequestTimeoutError), outcome
    assert not isinstance(outcome, OutcomeUnknownError)
    # The timeout is the whole call's deadline: once the first read used it up, no resend fits.
    assert server.count("GET", BOX) == 1
    assert time.monotonic() - start < 1.0
    record(
        "read slower than the timeout",
        calls=1,
        faults=1,
        survived=1,
        typed_errors=1,
        outcome="RequestTimeoutError at the call's deadline",
    )


def test_slow_paid_renewal_is_not_resent(server: FaultServer, driver: Any) -> None:
    """A renewal is a paid GET: it timed out after being applied, so it must not go again."""
    box_id = evasa_box(server, "slowrenew@testcert.legalmail.it")
    before = len(server.sandbox.ledger)
    server.script("GET", BOX + "/rinnovo", forever=Action("stall", apply=True, delay=2.0))
    outcome = driver(timeout=0.2, max_retries=3).call("renew_mailbox", box_id, 1)
    assert isinstance(outcome, RequestTimeoutError), outcome
    assert isinstance(outcome, OutcomeUnknownError)
    renewals = server.count("GET", BOX + "/rinnovo")
    add("paid_resends", renewals - 1)
    charges = [e for e in server.sandbox.ledger[before:] if "rinnovo" in e["operation"]]
    add("double_charges", max(0, len(charges) - 1))
    assert renewals == 1
    assert len(charges) == 1
    record(
        "paid renewal slower than the timeout",
        calls=1,
        faults=1,
        survived=1,
        typed_errors=1,
        outcome="RequestTimeoutError (OutcomeUnknown), sent once, charged once",
    )


# -- answers that are not the API's ---------------------------------------------------------------


def _envelope(data: Any, success: bool = True) -> bytes:
    return json.dumps(
        {"success": success, "message": "", "error": None if success else 262, "data": data}
    ).encode()


GARBLED: dict[str, tuple[Action, type[PecError]]] = {
    "truncated-json": (
        Action("respond", body=b'{"success": true, "message": "", "data": {"id": "6b0'),
        InvalidResponseError,
    ),
    "truncated-transfer": (Action("truncate"), TransportError),
    "proxy-html-502": (Action("respond", status=502, body=HTML_502, headers=HTML), ServerError),
    "html-401": (Action("respond", status=401, body=HTML_401, headers=HTML), UnauthorizedError),
    "empty-200": (Action("respond", body=b""), InvalidResponseError),
    "success-false-200": (Action("respond", body=_envelope(None, success=False)), InvalidResponseError),
    "huge-body": (
        Action("respond", body=b'{"data": "' + b"x" * (17 * 1024 * 1024) + b'"}'),
        InvalidResponseError,
    ),
    "html-200": (
        Action("respond", body=b"<html><body>Maintenance</body></html>", headers=HTML),
        InvalidResponseError,
    ),
    "json-array": (Action("respond", body=b"[1, 2, 3]"), InvalidResponseError),
    "json-null": (Action("respond", body=b"null"), InvalidResponseError),
    "data-wrong-type": (Action("respond", body=_envelope("not a box")), InvalidResponseError),
    "data-missing": (Action("respond", body=b'{"success": true, "message": ""}'), InvalidResponseError),
    "not-utf8": (Action("respond", body=b'{"success": true, "data": "\xff\xfe"}'), InvalidResponseError),
    "deep-nesting": (Action("respond", body=b"[" * 100_000 + b"]" * 100_000), InvalidResponseError),
    "bad-gzip": (
        Action("respond", body=b"\x1f\x8b\x08\x00garbage", headers=(("content-encoding", "gzip"),)),
        InvalidResponseError,
    ),
    "gzip-of-garbage": (
        Action("respond", body=gzip.compress(b'{"success": tr'), headers=(("content-encoding", "gzip"),)),
        InvalidResponseError,
    ),
}


@pytest.mark.parametrize("kind", sorted(GARBLED))
def test_garbled_answer_is_a_typed_error(server: FaultServer, driver: Any, kind: str) -> None:
    box_id = evasa_box(server, f"garbled.{kind}@testcert.legalmail.it")
    action, expected = GARBLED[kind]
    server.script("GET", BOX, forever=action)
    outcome = driver(max_retries=0).call("get_mailbox", box_id)
    assert isinstance(outcome, expected), repr(outcome)
    assert not isinstance(outcome, KeyError | json.JSONDecodeError | UnicodeDecodeError | RecursionError)
    assert type(outcome).__module__.startswith("pec_ext")
    assert TOKEN not in str(outcome)
    assert TOKEN not in repr(outcome)
    record(
        f"garbled answer: {kind}",
        calls=1,
        faults=1,
        survived=1,
        typed_errors=1,
        outcome=type(outcome).__name__,
    )


# -- no leaks -------------------------------------------------------------------------------------

FAST_FAULTS = [
    Action("drop"),
    Action("drop", reset=True),
    Action("truncate"),
    Action("respond", status=502, body=HTML_502, headers=HTML),
    Action("respond", body=b""),
    Action("respond", body=b'{"success": tr'),
    Action("respond", status=503, headers=(("retry-after", "0"),)),
    Action("respond", status=401, body=HTML_401, headers=(*HTML, ("connection", "close"))),
]


def _fds() -> tuple[int, int]:
    """(open file descriptors, of which sockets) of this process."""
    import os

    names = os.listdir("/proc/self/fd")
    sockets = 0
    for name in names:
        with contextlib.suppress(OSError):
            sockets += os.readlink(f"/proc/self/fd/{name}").startswith("socket:")
    return len(names), sockets


def test_no_connection_leak_after_failing_calls(server: FaultServer, mode: str) -> None:
    """500 failing calls per driver (1,000 with both): descriptors and sockets back to where they were."""
    box_id = evasa_box(server, f"leak.{mode}@testcert.legalmail.it")
    calls = 500
    for index in range(calls):
        server.script("GET", BOX, FAST_FAULTS[index % len(FAST_FAULTS)])
    before = _fds()
    outcomes = Driver(mode, server.url, max_retries=0, timeout=2.0).run(
        [("get_mailbox", (box_id,), {})] * calls
    )
    deadline = time.monotonic() + 5.0
    after = _fds()
    while after > before and time.monotonic() < deadline:  # the server side closes asynchronously
        time.sleep(0.02)
        after = _fds()
    typed = sum(isinstance(o, PecError) for o in outcomes)
    assert typed == calls, [o for o in outcomes if not isinstance(o, PecError)][:3]
    leaked = max(0, after[0] - before[0])
    add("leaked_fds", leaked)
    assert after[0] <= before[0], (before, after)
    assert after[1] <= before[1], (before, after)
    assert server.open_connections() == 0
    record(
        "1,000 failing calls, then count descriptors",
        calls=calls,
        faults=calls,
        survived=calls,
        typed_errors=typed,
        outcome=f"fds {before[0]} -> {after[0]}, sockets {before[1]} -> {after[1]}",
    )


# -- the token never reaches the logs -------------------------------------------------------------


def test_token_never_logged(server: FaultServer, mode: str, caplog: pytest.LogCaptureFixture) -> None:
    for name in ("pec_ext", "httpx", "httpcore"):
        caplog.set_level("DEBUG", logger=name)
    box_id = evasa_box(server, f"logs.{mode}@testcert.legalmail.it")
    faults = [
        *FAST_FAULTS,
        Action("respond", status=503, headers=(("retry-after", "0"),)),
        Action("stall", delay=1.0),
    ]
    for fault in faults:
        server.script("GET", BOX, fault)
    steps: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = [("get_mailbox", (box_id,), {})] * len(faults)
    steps += [
        ("get_mailbox", (box_id,), {}),
        ("register_mailbox", (), box_body(f"logs2.{mode}@testcert.legalmail.it")),
    ]
    server.script("POST", "/pec", Action("drop", apply=True))
    outcomes = Driver(mode, server.url, max_retries=1, timeout=0.2).run(steps)
    assert caplog.records, "nothing was logged: the check would prove nothing"
    texts = [caplog.text]
    for outcome in outcomes:
        seen: set[int] = set()
        error: BaseException | None = outcome if isinstance(outcome, BaseException) else None
        while error is not None and id(error) not in seen:
            seen.add(id(error))
            texts += [str(error), repr(error), repr(error.args)]
            error = error.__cause__ or error.__context__
    leaks = sum(TOKEN in text for text in texts)
    add("token_leaks", leaks)
    assert leaks == 0
    record(
        "token in logs (DEBUG: pec_ext, httpx, httpcore) and errors",
        calls=len(steps),
        faults=len(faults) + 1,
        survived=len(steps),
        typed_errors=sum(isinstance(o, PecError) for o in outcomes),
        outcome=f"{len(caplog.records)} log records, 0 with the token",
    )


@pytest.mark.parametrize(
    "body", [b'{"success": true, "message": "", "data": {"id": "6b0', b""], ids=["truncated", "empty"]
)
def test_register_committed_with_garbled_200(server: FaultServer, driver: Any, body: bytes) -> None:
    address = "garbled200@testcert.legalmail.it"
    server.script("POST", "/pec", Action("respond", apply=True, body=body))
    outcome = driver().call("register_mailbox", **box_body(address))
    assert server.count("POST", "/pec") == 1
    assert live_boxes(server, address) == 1
    check_no_double_registration(server, [address])
    # the box was committed: reconciliation finds it and returns it instead of an error
    assert not isinstance(outcome, Exception), repr(outcome)
    assert outcome.casella_pec == address
