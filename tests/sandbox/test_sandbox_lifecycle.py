"""The whole life of a mailbox and of a business-register communication, step by step."""

from __future__ import annotations

import io

import pypdf

from pec_ext.sandbox import ManualClock, Sandbox, record_only
from pec_ext.sandbox.pytest_plugin import FIXTURE_EPOCH
from tests.support.http_stack import httpx
from tests.support.sandbox import (
    assert_ok,
    box_body,
    comm_body,
    example_data,
    p7m_doc,
    pdf_doc,
)

DAY = 86_400


def pdf_text(response: httpx.Response) -> str:
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    reader = pypdf.PdfReader(io.BytesIO(response.content))
    return "\n".join(page.extract_text() for page in reader.pages)


def test_mailbox_and_communication_lifecycle(sb: Sandbox, http: httpx.Client) -> None:
    sb.balance = 500
    start_balance = sb.balance
    cb = {"url": "https://hooks.example/pec", "field": "payload", "method": "POST", "data": {"ref": 7}}

    box = assert_ok(http.post("/pec", json=box_body(callback=cb)), "POST", "/pec")
    box_id = box["id"]
    assert len(box_id) == 24
    assert int(box_id, 16) >= 0
    assert box["stato"] == "registrata"
    assert box["timestamp"] == {"registrazione": FIXTURE_EPOCH, "ultima_modifica": FIXTURE_EPOCH}
    assert box["callback"] == cb
    assert box["dominio"] == "testcert.legalmail.it"
    assert box["nazione_nascita_richiedente"] == "IT"
    assert set(example_data("POST", "/pec")) <= set(box)

    form = pdf_text(http.get(f"/pec/{box_id}/modulo_attivazione"))
    assert "mario.rossi@testcert.legalmail.it" in form
    assert box_id in form

    sb.clock.advance(DAY)
    box = assert_ok(
        http.patch(f"/pec/{box_id}/attivazione", json={"documenti": [pdf_doc(), pdf_doc("modulo")]}),
        "PATCH",
        "/pec/{id}/attivazione",
    )
    assert box["stato"] == "in_evasione"
    assert box["documenti_attivazione"] == [f"{box_id}_0_attivazione.pdf", f"{box_id}_1_attivazione.pdf"]
    assert sb.pending == 1

    assert sb.advance() == 1
    box = assert_ok(http.get(f"/pec/{box_id}"), "GET", "/pec/{id}")
    assert box["stato"] == "evasa"
    activated = FIXTURE_EPOCH + DAY
    assert box["timestamp"]["evasione"] == activated
    assert box["data_attivazione"] == "15/11/2023"
    assert box["data_scadenza"] == "15/11/2024"
    assert box["timestamp"]["scadenza"] == activated + 366 * DAY  # 2024 is a leap year

    box = assert_ok(
        http.patch(f"/pec/{box_id}/trasformazione", json={"tipo_casella": "GOLD"}),
        "PATCH",
        "/pec/{id}/trasformazione",
    )
    assert box["tipo_casella"] == "GOLD"
    disco = box["spazio_disco"]

    box = assert_ok(
        http.patch(f"/pec/{box_id}/modifica", json={"spazio_disco": "+1024", "spazio_storico": 14336}),
        "PATCH",
        "/pec/{id}/modifica",
    )
    assert box["spazio_disco"] == disco + 1024
    assert box["spazio_storico"] == 14336

    cons_form = pdf_text(http.get(f"/pec/{box_id}/modulo_conservazione"))
    assert "conservazione" in cons_form
    box = assert_ok(
        http.patch(
            f"/pec/{box_id}/conservazione", json={"documenti": pdf_doc(), "spazio_conservazione": 1024}
        ),
        "PATCH",
        "/pec/{id}/conservazione",
    )
    assert box["conservazione"] is True
    assert box["spazio_conservazione"] == 1024
    assert box["documenti_conservazione"] == [f"{box_id}_0_conservazione.pdf"]
    box = assert_ok(
        http.patch(f"/pec/{box_id}/modifica", json={"spazio_conservazione": "+512"}),
        "PATCH",
        "/pec/{id}/modifica",
    )
    assert box["spazio_conservazione"] == 1536

    user = {"nome": "luca", "cognome": "bianchi", "descrizione": "prima", "email_gestione_password": "l@b.it"}
    box = assert_ok(http.post(f"/pec/{box_id}/multiutenza", json=user), "POST", "/pec/{id}/multiutenza")
    (added,) = box["multiutenza"]
    assert added["id_utenza"] == f"{box_id}_0"
    assert added["timestamp"] == {"attivazione": activated}
    assert added["userid"].startswith("MA")

    box = assert_ok(http.get(f"/pec/{box_id}/rinnovo", params={"anni": 2}), "GET", "/pec/{id}/rinnovo")
    assert box["data_scadenza"] == "15/11/2026"

    listed = assert_ok(http.get("/pec"), "GET", "/pec")
    assert [b["id"] for b in listed] == [box_id]
    assert set(listed[0]) == set(example_data("GET", "/pec")[1])

    comm = assert_ok(http.post("/comunica_pec", json=comm_body()), "POST", "/comunica_pec")
    comm_id = comm["id"]
    assert comm["stato"] == "codice_in_richiesta"
    assert comm["callback"] is False
    assert comm["documenti_registro_imprese"] == []
    assert http.get(f"/comunica_pec/{comm_id}/procura_registro_imprese").status_code == 406

    sb.advance()
    comm = assert_ok(http.get(f"/comunica_pec/{comm_id}"), "GET", "/comunica_pec/{id}")
    assert comm["stato"] == "in_attesa_di_documenti"
    assert comm["codice_registro_imprese"]
    procura = pdf_text(http.get(f"/comunica_pec/{comm_id}/procura_registro_imprese"))
    assert comm["codice_registro_imprese"] in procura

    comm = assert_ok(
        http.patch(f"/comunica_pec/{comm_id}", json={"documenti": p7m_doc()}), "PATCH", "/comunica_pec/{id}"
    )
    assert comm["stato"] == "documenti_caricati"
    assert comm["documenti_registro_imprese"] == [f"{comm_id}_0_registro_imprese.p7m"]
    sb.advance()
    comm = assert_ok(http.get(f"/comunica_pec/{comm_id}"), "GET", "/comunica_pec/{id}")
    assert comm["stato"] == "comunicazione_evasa"
    assert set(comm) == set(example_data("GET", "/comunica_pec/{id}"))
    assert assert_ok(http.get("/comunica_pec"), "GET", "/comunica_pec")[0]["stato"] == "comunicazione_evasa"

    sb.clock.advance(DAY)
    box = assert_ok(http.delete(f"/pec/{box_id}"), "DELETE", "/pec/{id}")
    assert box["stato"] == "revocata"
    assert box["timestamp"]["revoca"] == activated + DAY
    available = assert_ok(
        http.get("/verifica_pec/mario.rossi@testcert.legalmail.it"), "GET", "/verifica_pec/{pec}"
    )
    assert available == {"available": True}

    # a revoked box can be renewed, which re-activates it
    box = assert_ok(http.get(f"/pec/{box_id}/rinnovo"), "GET", "/pec/{id}/rinnovo")
    assert box["stato"] == "evasa"
    assert "revoca" not in box["timestamp"]

    charged = [entry["operation"] for entry in sb.ledger]
    assert charged == [
        "POST /pec",
        "PATCH /pec/{id}/trasformazione",
        "PATCH /pec/{id}/modifica",
        "PATCH /pec/{id}/conservazione",
        "PATCH /pec/{id}/modifica",
        "POST /pec/{id}/multiutenza",
        "GET /pec/{id}/rinnovo",
        "POST /comunica_pec",
        "GET /pec/{id}/rinnovo",
    ]
    assert round(start_balance - sum(e["amount"] for e in sb.ledger), 2) == sb.balance
    # box: in_evasione, evasa, revocata, evasa again
    assert [c.payload["stato"] for c in sb.callbacks_sent] == ["in_evasione", "evasa", "revocata", "evasa"]


def test_rejected_documents_can_be_uploaded_again(sb: Sandbox, http: httpx.Client) -> None:
    box_id = http.post("/pec", json=box_body()).json()["data"]["id"]
    sb.reject_next_documents()
    http.patch(f"/pec/{box_id}/attivazione", json={"documenti": pdf_doc()})
    sb.advance()
    assert http.get(f"/pec/{box_id}").json()["data"]["stato"] == "documenti_errati"

    http.patch(f"/pec/{box_id}/attivazione", json={"documenti": pdf_doc("SANDBOX-REJECT")})
    sb.advance()
    assert http.get(f"/pec/{box_id}").json()["data"]["stato"] == "documenti_errati"

    http.patch(f"/pec/{box_id}/attivazione", json={"documenti": pdf_doc()})
    sb.advance()
    assert http.get(f"/pec/{box_id}").json()["data"]["stato"] == "evasa"


def test_processing_delay_runs_on_the_simulated_clock() -> None:
    sb = Sandbox(clock=ManualClock(FIXTURE_EPOCH), processing_delay=3600, callback_sender=record_only)
    http = httpx.Client(transport=sb.transport(), base_url="https://x", headers={"Authorization": "Bearer t"})
    box_id = http.post("/pec", json=box_body()).json()["data"]["id"]
    http.patch(f"/pec/{box_id}/attivazione", json={"documenti": pdf_doc()})

    assert sb.advance(1800) == 0
    assert http.get(f"/pec/{box_id}").json()["data"]["stato"] == "in_evasione"
    assert sb.advance(1800) == 1
    box = http.get(f"/pec/{box_id}").json()["data"]
    assert box["stato"] == "evasa"
    assert box["timestamp"]["evasione"] == FIXTURE_EPOCH + 3600

    # advance() with no argument completes everything, jumping the clock to when it is due
    comm_id = http.post("/comunica_pec", json=comm_body()).json()["data"]["id"]
    assert sb.advance() == 1
    assert sb.clock.now() == FIXTURE_EPOCH + 7200
    assert http.get(f"/comunica_pec/{comm_id}").json()["data"]["timestamp"] == FIXTURE_EPOCH + 7200


def test_domain_check_and_availability(http: httpx.Client, sb: Sandbox) -> None:
    found = http.get("/domini_pec/legalmail.it")
    assert assert_ok(found, "GET", "/domini_pec/{dominio}") == []
    assert found.json()["message"] == "legalmail.it found!"
    assert sb.ledger[-1]["operation"] == "GET /domini_pec"

    free = assert_ok(http.get("/verifica_pec/nuova@testcert.legalmail.it"), "GET", "/verifica_pec/{pec}")
    assert free == {"available": True}
    http.post("/pec", json=box_body("nuova@testcert.legalmail.it"))
    taken = assert_ok(http.get("/verifica_pec/NUOVA@testcert.legalmail.it"), "GET", "/verifica_pec/{pec}")
    assert taken == {"available": False}


def test_domiciliodigitale_box_uses_its_own_domain(http: httpx.Client) -> None:
    body = box_body("studio@test.domiciliodigitale.com", "DOMICILIODIGITALE")
    box = assert_ok(http.post("/pec", json=body), "POST", "/pec")
    assert box["dominio"] == "test.domiciliodigitale.com"
