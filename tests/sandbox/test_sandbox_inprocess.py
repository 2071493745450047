"""In-process use: httpx.AsyncClient on the same transport, the pytest fixture, pec_ext clients."""

from __future__ import annotations

import asyncio
import importlib.util
import io
from pathlib import Path

import pytest

from pec_ext.sandbox import Sandbox
from pec_ext.sandbox.pytest_plugin import FIXTURE_EPOCH
from tests.support.http_stack import httpx
from tests.support.sandbox import assert_ok, box_body, pdf_doc


async def test_async_client_drives_the_same_state(pec_sandbox: Sandbox) -> None:
    async with httpx.AsyncClient(
        transport=pec_sandbox.transport(), base_url="https://x", headers={"Authorization": "Bearer t"}
    ) as http:
        boxes = await asyncio.gather(
            *(http.post("/pec", json=box_body(f"a{n}@testcert.legalmail.it")) for n in range(5))
        )
        ids = [assert_ok(r, "POST", "/pec")["id"] for r in boxes]
        await http.patch(f"/pec/{ids[0]}/attivazione", json={"documenti": pdf_doc()})
        pec_sandbox.advance()
        box = assert_ok(await http.get(f"/pec/{ids[0]}"), "GET", "/pec/{id}")
        assert box["stato"] == "evasa"
        listed = assert_ok(await http.get("/pec"), "GET", "/pec")
        assert sorted(b["id"] for b in listed) == sorted(ids)
        form = await http.get(f"/pec/{ids[1]}/modulo_attivazione")
        assert form.content.startswith(b"%PDF-")


def test_fixture_is_fresh_and_deterministic(pec_sandbox: Sandbox) -> None:
    assert pec_sandbox.mailboxes() == []
    assert pec_sandbox.balance == 100.0
    assert pec_sandbox.clock.now() == FIXTURE_EPOCH
    http = httpx.Client(
        transport=pec_sandbox.transport(), base_url="https://x", headers={"Authorization": "Bearer t"}
    )
    box = http.post("/pec", json=box_body()).json()["data"]
    assert box["id"] == f"{FIXTURE_EPOCH:08x}{1:016x}"
    assert box["timestamp"]["registrazione"] == FIXTURE_EPOCH


def test_requests_without_base_path_prefix_and_with_query_strings(pec_sandbox: Sandbox) -> None:
    http = httpx.Client(
        transport=pec_sandbox.transport(), base_url="https://x", headers={"Authorization": "Bearer t"}
    )
    assert http.get("/pec?page=1").status_code == 404  # empty account, query ignored


HAS_CLIENT = importlib.util.find_spec("pec_ext._pec.client") is not None


@pytest.mark.skipif(not HAS_CLIENT, reason="pec_ext._pec.client is not there yet")
def test_pec_client_factory(pec_sandbox: Sandbox) -> None:
    client = pec_sandbox.client()
    assert type(client).__name__ == "PecClient"
    async_client = pec_sandbox.async_client()
    assert type(async_client).__name__ == "AsyncPecClient"
    with client as pec:
        assert pec.is_available("nobody@testcert.legalmail.it") is True
        assert pec.check_domain("legalmail.it") == []


def _large_pdf(label: str) -> bytes:
    """A valid PDF above the size from which pec_ext streams a JSON body (1 MiB)."""
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    writer.add_metadata({"/Title": label, "/Padding": "x" * 1_200_000})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@pytest.mark.skipif(not HAS_CLIENT, reason="pec_ext._pec.client is not there yet")
async def test_a_streamed_upload_arrives_whole_in_process(pec_sandbox: Sandbox) -> None:
    documents = [_large_pdf("modulo"), _large_pdf("identità")]
    with pec_sandbox.client() as pec:
        box = pec.register_mailbox(**box_body("stream.sync@testcert.legalmail.it"))
        assert str(pec.activate_mailbox(box.id, documents).stato) == "in_evasione"
    async with pec_sandbox.async_client() as apec:
        box = await apec.register_mailbox(**box_body("stream.async@testcert.legalmail.it"))
        assert str((await apec.activate_mailbox(box.id, documents)).stato) == "in_evasione"
    for stored in pec_sandbox.mailboxes():
        assert len(stored["documenti_attivazione"]) == 2


async def test_clients_report_every_bad_field_at_once_and_send_nothing(pec_sandbox: Sandbox) -> None:
    from pec_ext import ValidationError

    body = box_body("a@testcert.legalmail.it")
    body.update(tipo_casella="platinum", sesso_richiedente="X")
    del body["email"]
    with pec_sandbox.client() as pec, pytest.raises(ValidationError) as sync_refusal:
        pec.register_mailbox(body)
    async with pec_sandbox.async_client() as apec:
        with pytest.raises(ValidationError) as async_refusal:
            await apec.register_mailbox(body)
    for refusal in (sync_refusal.value, async_refusal.value):
        assert set(refusal.fields) == {"tipo_casella", "sesso_richiedente", "email"}
        assert str(refusal).startswith("3 fields are not valid:")
    assert pec_sandbox.ledger == []
    assert pec_sandbox.mailboxes() == []


async def test_a_document_error_names_the_file_in_both_clients(pec_sandbox: Sandbox, tmp_path: Path) -> None:
    from pec_ext import ValidationError

    scan = tmp_path / "carta-identita.jpg"
    scan.write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 484)
    with pec_sandbox.client() as pec:
        box = pec.register_mailbox(box_body("a@testcert.legalmail.it"))
        with pytest.raises(ValidationError) as sync_refusal:
            pec.activate_mailbox(box.id, [str(scan)])
    async with pec_sandbox.async_client() as apec:
        with pytest.raises(ValidationError) as async_refusal:
            await apec.activate_mailbox(box.id, [scan])
        with pytest.raises(ValidationError) as p7m_refusal:
            await apec.upload_communication_documents("0" * 24, [scan])
    for refusal in (sync_refusal.value, async_refusal.value, p7m_refusal.value):
        assert refusal.value == str(scan)
        assert "carta-identita.jpg' is not valid" in str(refusal)  # a long path keeps its end
        assert "bytes>" not in str(refusal)
