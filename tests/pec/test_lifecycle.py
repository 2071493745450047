"""The whole lifecycle through pec_ext against the embedded sandbox, with the sync and the async client."""

from __future__ import annotations

import inspect
import io
from typing import Any

import pytest
from pypdf import PdfReader

from pec_ext import AsyncPecClient, NotAcceptableError, PecClient, ValidationError
from pec_ext.cli import samples
from pec_ext.documents.p7m import inspect_p7m
from pec_ext.enums import StatoCasella, StatoComunicazione, TipoCasella
from pec_ext.sandbox import Sandbox
from tests.support.applicants import applicant, company

ADDRESS = "lifecycle@testcert.legalmail.it"
APPLICANT = applicant()
COMPANY = company(casella_pec=...)  # the box communicated is the one registered here
NAME = f"{APPLICANT['nome_richiedente']} {APPLICANT['cognome_richiedente']}"


class Driver:
    """Calls a PecClient or an AsyncPecClient method the same way."""

    def __init__(self, client: PecClient | AsyncPecClient) -> None:
        self.client = client

    async def __call__(self, method: str, *args: Any, **kwargs: Any) -> Any:
        result = getattr(self.client, method)(*args, **kwargs)
        return await result if inspect.isawaitable(result) else result


@pytest.fixture(params=["sync", "async"])
async def pec(request: pytest.FixtureRequest, pec_sandbox: Sandbox) -> Any:
    client = pec_sandbox.client(strict_identifiers=True)
    if request.param == "async":
        client.close()
        client = pec_sandbox.async_client(strict_identifiers=True)
        yield Driver(client)
        await client.close()
    else:
        yield Driver(client)
        client.close()


async def test_whole_lifecycle(pec: Driver, pec_sandbox: Sandbox) -> None:
    sb = pec_sandbox
    start = sb.balance

    assert await pec("is_domain_eligible", "testcert.legalmail.it") is True
    assert await pec("is_available", ADDRESS) is True
    box = await pec("register_mailbox", casella_pec=ADDRESS, tipo_casella="bronze", **APPLICANT)
    assert (box.stato, box.tipo_casella) == (StatoCasella.REGISTRATA, TipoCasella.BRONZE)
    assert await pec("is_available", ADDRESS) is False
    # the same address again is refused by the server, and costs nothing
    before = sb.balance
    with pytest.raises(NotAcceptableError):
        await pec("register_mailbox", casella_pec=ADDRESS, tipo_casella="BRONZE", **APPLICANT)
    assert sb.balance == before

    form = await pec("download_activation_form", box.id)
    assert ADDRESS in "".join(page.extract_text() for page in PdfReader(io.BytesIO(form)).pages)
    signed_form = samples.sign_form(form, NAME, "Roma")
    identity = samples.identity_document_pdf(NAME, str(APPLICANT["codice_fiscale_richiedente"]))
    box = await pec("activate_mailbox", box.id, [signed_form, identity])
    assert box.stato == StatoCasella.IN_EVASIONE
    assert sb.advance() >= 1
    box = await pec("wait_for_mailbox", box.id, timeout=5, poll=0.01)
    assert box.stato == StatoCasella.EVASA

    # guards refuse before anything is sent or charged
    before = sb.balance
    with pytest.raises(ValidationError) as refused:
        await pec("change_type", box.id, "STANDARD")
    assert refused.value.field == "tipo_casella"
    with pytest.raises(ValidationError) as refused:
        await pec("add_space", box.id, disco=1000)
    assert (refused.value.field, refused.value.value) == ("spazio_disco", 1000)
    assert sb.balance == before

    box = await pec("change_type", box.id, "silver")
    assert box.tipo_casella == TipoCasella.SILVER
    disk = box.spazio_disco
    box = await pec("add_space", box.id, disco=1024)
    assert box.spazio_disco == disk + 1024
    with pytest.raises(ValidationError, match="downgrade") as refused:
        await pec("set_space", box.id, disco=1024)
    assert refused.value.field == "spazio_disco"

    conservation_form = await pec("download_conservation_form", box.id)
    box = await pec(
        "activate_conservation", box.id, [samples.sign_form(conservation_form, NAME, "Roma")], space=512
    )
    assert box.conservazione is True
    box = await pec("add_user", box.id, nome="Anna", cognome="Bianchi", descrizione="segreteria",
                    email_gestione_password="anna@example.com")  # fmt: skip
    assert [user.email_gestione_password for user in box.multiutenza] == ["anna@example.com"]
    expiry = box.data_scadenza
    box = await pec("renew_mailbox", box.id, anni=2)
    assert int(box.data_scadenza[-4:]) == int(expiry[-4:]) + 2

    item = await pec("communicate_pec", casella_pec=ADDRESS, **COMPANY)
    assert item.stato == StatoComunicazione.CODICE_IN_RICHIESTA
    sb.advance()
    item = await pec(
        "wait_for_communication", item.id, until={"in_attesa_di_documenti"}, timeout=5, poll=0.01
    )
    procura = await pec("download_power_of_attorney", item.id)
    p7m = samples.p7m(procura, signer_name=NAME, codice_fiscale=str(COMPANY["cf"]))
    assert inspect_p7m("p7m", p7m).has_attached_content
    with pytest.raises(ValidationError, match="p7m"):
        await pec("upload_communication_documents", item.id, [procura])  # a plain PDF is refused
    item = await pec("upload_communication_documents", item.id, [p7m])
    assert item.stato == StatoComunicazione.DOCUMENTI_CARICATI
    sb.advance()
    item = await pec("wait_for_communication", item.id, timeout=5, poll=0.01)
    assert item.stato == StatoComunicazione.COMUNICAZIONE_EVASA

    box = await pec("revoke_mailbox", box.id)
    assert box.stato == StatoCasella.REVOCATA
    with pytest.raises(NotAcceptableError) as caught:
        await pec("revoke_mailbox", box.id)
    assert caught.value.code == 303

    # every euro that left the wallet is in the ledger, once per paid call
    spent = round(start - sb.balance, 2)
    assert spent == round(sum(entry["amount"] for entry in sb.ledger), 2)
    assert [entry["operation"] for entry in sb.ledger] == [
        "GET /domini_pec",
        "POST /pec",
        "PATCH /pec/{id}/trasformazione",
        "PATCH /pec/{id}/modifica",
        "PATCH /pec/{id}/conservazione",
        "POST /pec/{id}/multiutenza",
        "GET /pec/{id}/rinnovo",
        "POST /comunica_pec",
    ]
