"""MassivaClient and AsyncMassivaClient against the sandbox's PEC Massiva emulation (virtual time).

Every test runs both clients through one helper, so the two stay mirrors.
"""

from __future__ import annotations

import asyncio
import io
import logging
from pathlib import Path
from typing import Any

import pytest

from pec_ext.errors import UnauthorizedError, ValidationError, WaitTimeoutError
from pec_ext.massiva import DeliveryStatus, ReceiptKind
from pec_ext.massiva import outgoing as outgoing_module
from pec_ext.sandbox import Sandbox
from tests.support.http_stack import httpx
from tests.support.massiva import MODES, SENDER, async_massiva_client, massiva_client


class Both:
    """One client of the given mode; ``call(name, ...)`` runs a method and returns its result."""

    def __init__(self, mode: str, sb: Sandbox, **options: Any) -> None:
        self.mode = mode
        self.client: Any = (massiva_client if mode == "sync" else async_massiva_client)(sb, **options)

    def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        method = getattr(self.client, name)
        if self.mode == "sync":
            return method(*args, **kwargs)
        return asyncio.run(method(*args, **kwargs))

    def inbox(self, search: str | None = None, limit: int | None = None) -> list[Any]:
        if self.mode == "sync":
            items = []
            for message in self.client.inbox(search=search):
                items.append(message)
                if limit is not None and len(items) >= limit:
                    break
            return items

        async def collect() -> list[Any]:
            found = []
            async for message in self.client.inbox(search=search):
                found.append(message)
                if limit is not None and len(found) >= limit:
                    break
            return found

        return asyncio.run(collect())


def counting_transport(sb: Sandbox, mode: str, seen: list[httpx.Request]) -> Any:
    handler = sb.transport().handle_request

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    if mode == "sync":
        return httpx.MockTransport(record)

    async def arecord(request: httpx.Request) -> httpx.Response:
        return record(request)

    return httpx.MockTransport(arecord)


@pytest.mark.parametrize("mode", MODES)
def test_send_then_wait_for_delivery_good_and_test_domain(sb: Sandbox, mode: str) -> None:
    pec = Both(mode, sb)
    seen: list[Any] = []
    sending = pec.call(
        "send", ["Mario@Example.it", "nessuno@nondelivery.test"], "Fattura 42", "Gentile <b>cliente</b>"
    )
    assert sending.code.isdigit()
    assert sending.sent == 2
    assert not sending.reconciled
    assert sending.recipients == ("mario@example.it", "nessuno@nondelivery.test")
    report = pec.call("wait_for_delivery", sending.code, timeout=300, poll=5, on_receipt=seen.append)
    assert report.complete
    assert report.accepted is True
    assert report.recipients == {
        "mario@example.it": DeliveryStatus.DELIVERED,
        "nessuno@nondelivery.test": DeliveryStatus.NOT_DELIVERED,
    }
    kinds = [r.kind for r in seen]
    assert kinds[0] is ReceiptKind.ACCEPTANCE
    assert set(kinds[1:]) == {ReceiptKind.CERTIFIED_COPY, ReceiptKind.DELIVERY, ReceiptKind.NON_DELIVERY}
    assert seen == list(report.receipts)  # each receipt told once, in order
    # the delivery came after the sandbox's delay on virtual time, not at once
    delivery = report.of_kind(ReceiptKind.DELIVERY)[0]
    acceptance = report.of_kind(ReceiptKind.ACCEPTANCE)[0]
    assert delivery.time is not None
    assert acceptance.time is not None
    assert (delivery.time - acceptance.time).total_seconds() >= 30
    again = pec.call("receipts", sending.code)
    assert again.recipients == report.recipients


@pytest.mark.parametrize("mode", MODES)
def test_wait_times_out_on_the_clients_clock(sb: Sandbox, mode: str) -> None:
    pec = Both(mode, sb)
    sending = pec.call("send", "mario@example.it", "Fattura 43", "x")
    before = sb.clock.now()
    with pytest.raises(WaitTimeoutError) as caught:
        pec.call("wait_for_delivery", sending.code, timeout=10, poll=3)
    assert caught.value.record.recipients == {"mario@example.it": DeliveryStatus.PENDING}
    assert 10 <= sb.clock.now() - before < 30


@pytest.mark.parametrize("mode", MODES)
def test_bad_input_is_refused_before_anything_is_sent(sb: Sandbox, mode: str, tmp_path: Path) -> None:
    pec = Both(mode, sb)
    with pytest.raises(ValidationError) as caught:
        pec.call("send", ["ok@example.it", "not an address"], "x" * 300, 42)
    assert caught.value.fields == ("to[1]", "subject", "body")
    with pytest.raises(ValidationError) as caught:
        pec.call("send", "ok@example.it", "s", "b", sender="someone.else@testcert.legalmail.it")
    assert caught.value.field == "sender"
    assert caught.value.allowed == SENDER
    with pytest.raises(ValidationError) as caught:
        pec.call("send", "ok@example.it", "s", "b", attachments=[b"bytes without a name"])
    assert caught.value.field == "attachments[0]"
    with pytest.raises(ValidationError) as caught:
        pec.call("send", [f"r{n}@example.it" for n in range(101)], "s", "b")
    assert caught.value.field == "to"
    assert "100" in str(caught.value.allowed)
    assert sb.massiva_sent() == []


@pytest.mark.parametrize("mode", MODES)
def test_attachments_from_paths_bytes_and_files_streamed(sb: Sandbox, mode: str, tmp_path: Path) -> None:
    pec = Both(mode, sb)
    path = tmp_path / "fattura-42.pdf"
    path.write_bytes(b"%PDF-1.4 fattura" * 1000)
    stream = io.BytesIO(b"csv,data\n1,2\n")
    stream.name = "righe.csv"
    sending = pec.call(
        "send",
        "mario@example.it",
        "Fattura 44",
        "In allegato.",
        attachments=[path, ("nota.txt", b"una nota"), stream],
    )
    stored = sb.state.sendings[sending.code]["attachments"]
    assert stored == [
        {"name": "fattura-42.pdf", "size": 16000},
        {"name": "nota.txt", "size": 8},
        {"name": "righe.csv", "size": 13},
    ]


@pytest.mark.parametrize("mode", MODES)
def test_an_attachment_over_the_limit_is_refused_before_sending(
    sb: Sandbox, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outgoing_module, "MAX_ATTACHMENT_BYTES", 1000)
    pec = Both(mode, sb)
    with pytest.raises(ValidationError) as caught:
        pec.call("send", "mario@example.it", "Fattura 45", "x", attachments=[("big.bin", b"x" * 1001)])
    assert caught.value.field == "attachments[0]"
    assert "1000 bytes" in str(caught.value.allowed)
    assert sb.massiva_sent() == []


@pytest.mark.parametrize("mode", MODES)
def test_inbox_pages_are_fetched_as_the_iterator_goes(sb: Sandbox, mode: str) -> None:
    filler = Both(mode, sb)
    for n in range(14):
        filler.call("send", f"r{n}@example.it", f"Avviso {n:02d}", "x")
    sb.advance(None)  # 14 acceptances + 14 deliveries: two pages of 25
    seen: list[httpx.Request] = []
    pec = Both(mode, sb, transport=counting_transport(sb, mode, seen))
    first = pec.inbox(limit=3)
    assert len(first) == 3
    assert len(seen) == 1
    everything = pec.inbox()
    assert len(everything) == 28
    assert len(seen) == 3
    assert len({m.id for m in everything}) == 28
    found = pec.inbox(search="Avviso 07")
    assert {m.kind for m in found} == {ReceiptKind.ACCEPTANCE, ReceiptKind.DELIVERY}
    page = pec.call("inbox_page", 2)
    assert (page.page, page.pages, page.total, len(page.messages)) == (2, 2, 28, 3)


@pytest.mark.parametrize("mode", MODES)
def test_message_body_decoded_deletion_and_quota(sb: Sandbox, mode: str) -> None:
    pec = Both(mode, sb)
    sending = pec.call("send", "mario@example.it", "Fattura 46 & co", "Corpo con àccenti + simboli")
    acceptance = pec.inbox(search="Fattura 46")[0]
    message = pec.call("get_message", acceptance.id)
    assert message.kind is ReceiptKind.ACCEPTANCE
    assert message.code == sending.code
    assert "Fattura 46 & co" in message.body
    assert "+" not in message.body.replace("Fattura 46 & co", "")
    used = pec.call("quota")
    assert used.usage_mb > 0
    assert used.limit_mb > 0
    pec.call("delete_message", acceptance.id)
    assert pec.inbox(search="Fattura 46") == []
    sb.advance(None)
    assert pec.inbox(search="Fattura 46")  # the delivery arrived
    pec.call("delete_receipts", sending.code)
    assert pec.inbox(search="Fattura 46") == []
    with pytest.raises(ValidationError):
        pec.call("get_message", "12; drop")


@pytest.mark.parametrize("mode", MODES)
def test_sends_are_paced_one_a_second_on_the_clients_clock(sb: Sandbox, mode: str) -> None:
    seen: list[httpx.Request] = []
    pec = Both(mode, sb, transport=counting_transport(sb, mode, seen))
    start = sb.clock.now()
    for n in range(3):
        pec.call("send", "mario@example.it", f"Sollecito {n}", "x")
    assert sb.clock.now() - start >= 2.0
    assert len(sb.massiva_sent()) == 3
    assert [r.method for r in seen].count("POST") == 3  # no 429, no resend


@pytest.mark.parametrize("mode", MODES)
def test_a_429_is_honoured(sb: Sandbox, mode: str) -> None:
    answers: list[int] = []
    handler = sb.transport().handle_request

    def record(request: httpx.Request) -> httpx.Response:
        response = handler(request)
        answers.append(response.status_code)
        return response

    async def arecord(request: httpx.Request) -> httpx.Response:
        return record(request)

    transport = httpx.MockTransport(record if mode == "sync" else arecord)
    # No pacing of our own: the sandbox refuses the second send within its second.
    pec = Both(mode, sb, transport=transport, send_interval=0)
    pec.call("send", "a@example.it", "Uno", "x")
    second = pec.call("send", "b@example.it", "Due", "x")
    assert 429 in answers
    assert second.sent == 1
    assert [s["subject"] for s in sb.massiva_sent()] == ["Uno", "Due"]


@pytest.mark.parametrize("mode", MODES)
def test_rejected_credentials_and_the_password_in_no_output(
    sb: Sandbox, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "Wrong-Pass-SECRET-4c1d"
    caplog.set_level(logging.DEBUG)
    pec = Both(mode, sb, password=secret)
    with pytest.raises(UnauthorizedError) as caught:
        pec.call("send", "mario@example.it", "Fattura 47", "x")
    with pytest.raises(UnauthorizedError) as caught_read:
        pec.call("quota")
    shown = " ".join(
        [
            str(caught.value),
            repr(caught.value),
            str(caught_read.value),
            repr(caught_read.value),
            repr(pec.client),
            repr(pec.client.box),
            repr(pec.client.with_options(timeout=5)),
            caplog.text,
        ]
    )
    assert secret not in shown
    assert sb.massiva_sent() == []


@pytest.mark.parametrize("mode", MODES)
def test_raw_response_and_repr_never_show_the_password(
    sb: Sandbox, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    _, password = sb.massiva_credentials(SENDER)
    pec = Both(mode, sb)
    view = pec.client.with_raw_response
    raw = (
        view.send("mario@example.it", "Fattura 48", "x")
        if mode == "sync"
        else asyncio.run(view.send("mario@example.it", "Fattura 48", "x"))
    )
    assert raw.status_code == 201
    assert raw.parse().code.isdigit()
    assert password not in repr(raw) + repr(raw.parse()) + repr(pec.client)
    assert "POST" in caplog.text  # the calls were logged (at DEBUG), the password never
    assert password not in caplog.text


def test_credentials_from_the_environment(sb: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    username, password = sb.massiva_credentials(SENDER)
    monkeypatch.setenv("OPENAPI_PECMASSIVA_USERNAME", username)
    monkeypatch.setenv("OPENAPI_PECMASSIVA_PASSWORD", password)
    pec = massiva_client(sb, username=None, password=None)
    assert pec.username == username
    assert pec.quota().limit_mb > 0
    monkeypatch.delenv("OPENAPI_PECMASSIVA_PASSWORD")
    with pytest.raises(ValidationError) as caught:
        massiva_client(sb, username=None, password=None)
    assert caught.value.field == "password"
    assert "OPENAPI_PECMASSIVA_PASSWORD" in str(caught.value)
