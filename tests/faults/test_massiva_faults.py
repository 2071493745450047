"""``POST /send`` through a misbehaving loopback server: never sent twice, reconciled from the inbox.

The fault server applies the request to a real Sandbox and then loses the answer (a dropped
connection, a 500), or loses it before the sandbox sees it. The client runs on the sandbox's
virtual clock, so pacing and reconciliation pauses take no real time.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pec_ext.errors import OutcomeUnknownError, UnauthorizedError
from pec_ext.journal.base import Journal
from pec_ext.journal.sqlite import SqliteJournalStore
from pec_ext.massiva import AsyncMassivaClient, MassivaClient
from pec_ext.sandbox import ManualClock, Sandbox, record_only
from pec_ext.sandbox.pdf import render
from tests.support.fault_server import Action, FaultServer
from tests.support.http_stack import httpx

SENDER = "invii@testcert.legalmail.it"
SEND_PATH = r"/pecmassiva/send$"
TOKEN = "fault-token-7c1e-SECRET"


def box_body(address: str) -> dict[str, Any]:
    return {
        "casella_pec": address,
        "tipo_casella": "PECMASSIVA",
        "tipo_cliente": "PV",
        "nome_richiedente": "mario",
        "cognome_richiedente": "rossi",
        "email": "mail@domain.com",
        "telefono": "0548798569",
        "codice_fiscale_richiedente": "RSSMRA82D11H501X",
        "data_nascita_richiedente": "11/04/1982",
        "sesso_richiedente": "M",
        "nazione_nascita_richiedente": "IT",
        "indirizzo_titolare": "via verdi 20",
        "comune_titolare": "roma",
        "cap_titolare": "00042",
        "nazione_titolare": "IT",
        "provincia_titolare": "RM",
    }


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(clock=ManualClock(1_767_225_600), callback_sender=record_only) as sb:
        pdf = base64.b64encode(render("Documento", ["documento"])).decode()
        with httpx.Client(transport=sb.transport(), base_url="https://sandbox.pec.invalid") as http:
            http.headers["Authorization"] = "Bearer x"
            box = http.post("/pec", json=box_body(SENDER)).json()["data"]
            http.patch(f"/pec/{box['id']}/attivazione", json={"documenti": [pdf, pdf]})
        sb.advance(None)
        yield sb


@pytest.fixture
def server(sandbox: Sandbox) -> Iterator[FaultServer]:
    with FaultServer(sandbox) as srv:
        yield srv


def send(mode: str, server: FaultServer, sandbox: Sandbox, key: str | None = None, **overrides: Any) -> Any:
    """One send through the fault server (under ``key`` when given): the Sending, or the exception."""
    username, password = sandbox.massiva_credentials(SENDER)
    options: dict[str, Any] = {
        "token": TOKEN,
        "username": username,
        "password": password,
        "base_url": server.url + "/pecmassiva",
        "clock": sandbox.virtual_clock(),
        "timeout": 5,
        **overrides,
    }
    args = (["mario@example.it", "anna@example.it"], "Fattura 42", "Gentile cliente")
    if mode == "sync":
        with MassivaClient(**options) as pec:
            try:
                return pec.send(*args, idempotency_key=key)
            except Exception as exc:
                return exc

    async def go() -> Any:
        async with AsyncMassivaClient(**options) as pec:
            try:
                return await pec.send(*args, idempotency_key=key)
            except Exception as exc:
                return exc

    return asyncio.run(go())


@pytest.fixture(params=("sync", "async"))
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.mark.parametrize(
    "lost",
    [
        Action("drop", apply=True),
        Action("drop", apply=True, reset=True),
        Action("respond", apply=True, status=500, body=b'{"success":false,"message":"MySQL Error 2006"}'),
        Action("respond", apply=True, status=502, body=b"<html>Bad Gateway</html>"),
    ],
    ids=["dropped", "reset", "500", "502"],
)
def test_lost_answer_after_acceptance_is_reconciled_never_resent(
    mode: str, server: FaultServer, sandbox: Sandbox, lost: Action
) -> None:
    server.script("POST", SEND_PATH, lost)
    result = send(mode, server, sandbox)
    assert not isinstance(result, Exception), result
    assert result.reconciled is True
    taken = sandbox.massiva_sent()
    assert len(taken) == 1
    assert result.code == taken[0]["code"]
    assert server.count("POST", SEND_PATH) == 1


def test_lost_before_the_provider_took_it_is_unknown_and_not_resent(
    mode: str, server: FaultServer, sandbox: Sandbox
) -> None:
    server.script("POST", SEND_PATH, Action("drop", apply=False))
    result = send(mode, server, sandbox)
    assert isinstance(result, OutcomeUnknownError), result
    assert "Fattura 42" in str(result)
    assert "not sent again" in str(result)
    assert sandbox.massiva_sent() == []
    assert server.count("POST", SEND_PATH) == 1


def test_an_earlier_sending_of_the_same_subject_is_not_taken_for_this_one(
    mode: str, server: FaultServer, sandbox: Sandbox
) -> None:
    first = send(mode, server, sandbox)
    assert not isinstance(first, Exception), first
    sandbox.advance(5)
    server.script("POST", SEND_PATH, Action("drop", apply=False))
    result = send(mode, server, sandbox)
    assert isinstance(result, OutcomeUnknownError), result
    assert len(sandbox.massiva_sent()) == 1


def test_a_429_is_waited_out_and_sent_once(mode: str, server: FaultServer, sandbox: Sandbox) -> None:
    limited = Action("respond", status=429, headers=(("Retry-After", "2"),), body=b'{"success":false}')
    server.script("POST", SEND_PATH, limited, limited)
    result = send(mode, server, sandbox)
    assert not isinstance(result, Exception), result
    assert server.count("POST", SEND_PATH) == 3
    assert len(sandbox.massiva_sent()) == 1


def test_rejected_credentials_are_a_typed_error_without_the_password(
    mode: str, server: FaultServer, sandbox: Sandbox
) -> None:
    secret = "not-the-password-SECRET-77"
    result = send(mode, server, sandbox, password=secret)
    assert isinstance(result, UnauthorizedError), result
    assert result.status_code == 401
    assert secret not in str(result) + repr(result)
    assert sandbox.massiva_sent() == []


def test_with_the_journal_an_unknown_outcome_is_settled_by_the_next_call(
    mode: str, server: FaultServer, sandbox: Sandbox, tmp_path: Path
) -> None:
    """Lost before the provider took it: unknown at first (never resent); the same key, once the
    lease has run out, finds no acceptance in the inbox and sends it, once."""
    server.script("POST", SEND_PATH, Action("drop", apply=False))
    with Journal(SqliteJournalStore(tmp_path / "journal.sqlite"), lease=0.5, wait=5) as journal:
        keyed = {"journal": journal}
        first = send(mode, server, sandbox, "invoice:2026/0042", **keyed)
        assert isinstance(first, OutcomeUnknownError), first
        assert sandbox.massiva_sent() == []
        second = send(mode, server, sandbox, "invoice:2026/0042", **keyed)
        assert not isinstance(second, Exception), second
        third = send(mode, server, sandbox, "invoice:2026/0042", **keyed)
    assert third == second
    assert [s["code"] for s in sandbox.massiva_sent()] == [second.code]
    assert server.count("POST", SEND_PATH) == 2
