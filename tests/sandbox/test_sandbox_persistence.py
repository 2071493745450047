"""SQLite persistence: a restart with the same file loses nothing."""

from __future__ import annotations

from pathlib import Path

from pec_ext.sandbox import ManualClock, Sandbox, record_only
from tests.support.http_stack import httpx
from tests.support.sandbox import box_body, comm_body, pdf_doc


def open_sandbox(path: Path, **kwargs: object) -> tuple[Sandbox, httpx.Client]:
    sb = Sandbox(db_path=path, callback_sender=record_only, clock=ManualClock(1_700_000_000), **kwargs)  # type: ignore[arg-type]
    http = httpx.Client(transport=sb.transport(), base_url="https://x", headers={"Authorization": "Bearer t"})
    return sb, http


def test_state_survives_a_restart(tmp_path: Path) -> None:
    db = tmp_path / "state.sqlite"
    sb, http = open_sandbox(db, balance=50, processing_delay=3600)
    box_id = http.post("/pec", json=box_body()).json()["data"]["id"]
    other_id = http.post("/pec", json=box_body("b@testcert.legalmail.it")).json()["data"]["id"]
    http.patch(f"/pec/{other_id}/attivazione", json={"documenti": pdf_doc()})  # left pending
    comm_id = http.post("/comunica_pec", json=comm_body()).json()["data"]["id"]
    sb.reject_next_documents()
    sb.clock.advance(60)
    assert sb.advance(0) == 0  # nothing due yet, but the clock moved: that has to be kept too
    balance, ledger, boxes, comms = sb.balance, sb.ledger, sb.mailboxes(), sb.communications()
    sb.close()

    sb2, http2 = open_sandbox(db, balance=999, processing_delay=3600)
    assert sb2.balance == balance  # the file wins over the constructor
    assert sb2.ledger == ledger
    assert sb2.mailboxes() == boxes
    assert sb2.communications() == comms
    assert sb2.clock.now() == 1_700_000_060
    assert http2.get(f"/pec/{box_id}").json()["data"]["stato"] == "registrata"
    assert http2.get(f"/pec/{other_id}").json()["data"]["stato"] == "in_evasione"
    assert sb2.pending == 2

    # the queue, the rejection flag and the id counter survived too
    http2.patch(f"/pec/{box_id}/attivazione", json={"documenti": pdf_doc()})
    assert sb2.advance() == 3
    assert http2.get(f"/pec/{box_id}").json()["data"]["stato"] == "documenti_errati"
    assert http2.get(f"/pec/{other_id}").json()["data"]["stato"] == "evasa"
    assert http2.get(f"/comunica_pec/{comm_id}").json()["data"]["stato"] == "in_attesa_di_documenti"
    new_id = http2.post("/pec", json=box_body("c@testcert.legalmail.it")).json()["data"]["id"]
    assert new_id not in (box_id, other_id, comm_id)
    sb2.close()

    sb3, _ = open_sandbox(db)
    assert len(sb3.mailboxes()) == 3
    assert len(sb3.ledger) == len(ledger) + 1
    sb3.reset()
    sb3.close()
    sb4, http4 = open_sandbox(db, balance=10)
    assert sb4.mailboxes() == []
    assert http4.get("/pec").status_code == 404
    sb4.close()
