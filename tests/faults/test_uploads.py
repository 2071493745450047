"""Large uploads over a real socket: the streamed JSON body arrives whole, or reconciles when cut."""

from __future__ import annotations

import base64
import io
from typing import Any

import pytest
from pypdf import PdfWriter

from tests.support.fault_server import Action, FaultServer
from tests.support.fault_stats import add, record
from tests.support.faults import TOKEN, box_body

PADDING = 1_500_000  # above the 1 MiB from which pec_ext streams a JSON body


def big_pdf(label: str) -> bytes:
    """A valid one-page PDF over the streaming threshold (the bulk is a metadata string)."""
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    writer.add_metadata({"/Title": label, "/Padding": "x" * PADDING})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def registered_box(server: FaultServer, address: str) -> str:
    with server.sandbox.client(token=TOKEN) as client:
        return str(client.register_mailbox(**box_body(address)).id)


@pytest.mark.parametrize("fault", [None, Action("drop", apply=True)], ids=["clean", "drop-after-commit"])
def test_streamed_activation_upload(server: FaultServer, driver: Any, fault: Action | None) -> None:
    box_id = registered_box(server, f"upload.{fault.kind if fault else 'clean'}@testcert.legalmail.it")
    documents = [big_pdf("modulo"), big_pdf("identità")]
    if fault is not None:
        server.script("PATCH", r"/pec/[^/]+/attivazione", fault)
    outcome = driver(timeout=10.0).call("activate_mailbox", box_id, documents)
    assert not isinstance(outcome, Exception), repr(outcome)
    assert str(outcome.stato) == "in_evasione"
    patches = [r for r in server.received if r.method == "PATCH"]
    add("paid_resends", len(patches) - 1)
    assert len(patches) == 1
    sent = int(patches[0].headers["content-length"])
    expected = sum(len(base64.b64encode(d)) for d in documents)
    assert sent > expected  # the whole body arrived: both documents, base64, inside the JSON
    box = next(b for b in server.sandbox.mailboxes() if b["id"] == box_id)
    assert len(box["documenti_attivazione"]) == 2
    record(
        "activation upload (2 x 1.5 MB, streamed body) over a socket",
        calls=1,
        faults=int(fault is not None),
        survived=1,
        outcome="in_evasione, one PATCH" + (" (reconciled after the drop)" if fault else ""),
    )
