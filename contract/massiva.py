"""The PEC Massiva part of the contract report: Openapi's upstream PEC Massiva spec vs the sandbox.

The exchanges come from a whole sending's life against the sandbox (a PECMASSIVA box registered and
activated through the PEC API, then send, receipts, inbox, one message, quota, deletions, and the
documented refusals), sent to the service's own host (``test.ws.pecmassiva.com``, routed in-process
to the emulation) so that paths are the spec's. The baseline is the ``pecmassiva`` section of
``spec/divergences.json``, same format and rules as the PEC entries; the overlay it must cover is
``spec/pecmassiva.overlay.yaml``.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

import httpx

from contract import machinery as cs
from pec_ext.sandbox import ManualClock, Sandbox, record_only

MASSIVA_HOST = "https://test.ws.pecmassiva.com"
PEC_HOST = "https://test.pec.openapi.it"
SENDER = "contract-bulk@testcert.legalmail.it"
PDF = base64.b64encode(b"%PDF-1.4\n% contract\n%%EOF\n").decode()


def activated_box(sandbox: Sandbox, address: str = SENDER) -> str:
    """Registers a PECMASSIVA box through the PEC API and completes its activation; its id."""
    with httpx.Client(transport=sandbox.transport(http="httpx"), base_url=PEC_HOST, headers=_bearer()) as pec:
        box = pec.post("/pec", json=cs.register_fields(address, "PECMASSIVA")).json()["data"]
        pec.patch(f"/pec/{box['id']}/attivazione", json={"documenti": [PDF]})
    sandbox.advance(None)
    return str(box["id"])


def _bearer() -> dict[str, str]:
    return {"Authorization": f"Bearer {cs.DEFAULT_SANDBOX_TOKEN}"}


def run_massiva_sandbox(recorder: cs.Recorder, sandbox: Sandbox | None = None) -> int:
    """Every PEC Massiva operation the sandbox emulates, and its documented refusals; returns the calls."""
    sandbox = sandbox or Sandbox(balance=100.0, clock=ManualClock(1_700_000_000), callback_sender=record_only)
    box_id = activated_box(sandbox)
    username, password = sandbox.massiva_credentials(box_id)
    recorder.secrets = (*recorder.secrets, password)
    headers = {"x-username": username, "x-password": password}
    wrong = {"x-username": username, "x-password": password + "-wrong"}
    body = {
        "username": username,
        "password": password,
        "sender": username,
        "recipient": ["someone@example.it", "lost@nondelivery.test"],
        "subject": "Contract",
        "body": "Salve, questa è una prova.",
        "attachments": [{"name": "a.pdf", "file": "data:application/pdf;base64," + PDF}],
    }
    transport = recorder.wrap(sandbox.transport(http="httpx"))
    with httpx.Client(transport=transport, base_url=MASSIVA_HOST, headers=_bearer()) as http:
        code = http.post("/send", json=body).json()["message_id"]
        http.post("/send", json=body)  # the same second: 429
        http.get(f"/send/{code}", headers=headers)
        sandbox.advance(None)
        http.get(f"/send/{code}", headers=headers)
        inbox = http.get("/inbox", headers=headers).json()["data"]
        http.get("/inbox", params={"q": "CONSEGNA", "page": 1}, headers=headers)
        http.get(f"/inbox/{inbox[0]['id']}", headers=headers)
        http.get("/quota/INBOX", headers=headers)
        http.delete(f"/inbox/{inbox[0]['id']}", headers=headers)
        http.delete(f"/send/{code}", headers=headers)
        # refusals the spec documents (and the 404 the overlay adds to DELETE /inbox/{id})
        sandbox.advance(1)
        http.post("/send", json={**body, "recipient": []})
        http.post("/send", json={**body, "password": "wrong"})
        http.get(f"/send/{code}", headers=headers)
        http.get(f"/send/{code}", headers=wrong)
        http.delete(f"/send/{code}", headers=headers)
        http.delete(f"/send/{code}", headers=wrong)
        http.get("/inbox", headers=wrong)
        http.get(f"/inbox/{inbox[0]['id']}", headers=headers)
        http.get(f"/inbox/{inbox[0]['id']}", headers=wrong)
        http.delete(f"/inbox/{inbox[0]['id']}", headers=headers)
        http.delete(f"/inbox/{inbox[0]['id']}", headers=wrong)
        http.get("/quota/Archivio", headers=headers)
        http.get("/quota/INBOX", headers=wrong)
    sandbox.close()
    return len(recorder.exchanges)


def massiva_report(baseline: Mapping[str, Any], *, run_sandbox: bool) -> dict[str, Any]:
    """The PEC Massiva section of the report: sources, new, stale, known, problems."""
    try:
        spec = cs.pipeline.load_upstream(spec=cs.pipeline.MASSIVA)
    except cs.pipeline.PipelineError as exc:
        return {"problems": [f"pecmassiva: {exc}"], "new": [], "stale": [], "known": [], "sources": {}}
    section = baseline.get("pecmassiva", {"divergences": []})
    actions = list(cs.pipeline.load_overlay(cs.pipeline.MASSIVA.overlay)["actions"])
    problems = [f"pecmassiva: {p}" for p in cs.baseline_problems(section, actions, spec)]
    sources = {"sandbox": {"ran": False, "exchanges": 0, "note": "--no-sandbox"}}
    exchanges: list[cs.Exchange] = []
    if run_sandbox:
        recorder = cs.Recorder("sandbox", (cs.DEFAULT_SANDBOX_TOKEN,))
        run_massiva_sandbox(recorder)
        exchanges = recorder.exchanges
        sources["sandbox"] = {"ran": True, "exchanges": len(exchanges), "note": "a whole sending's life"}
    active = {name for name, info in sources.items() if info["ran"]}
    observed = cs.collect(spec, exchanges)
    new, stale, known = cs.compare(observed, section, active)
    return {
        "spec_sha256": cs.pipeline.pinned_sha256(cs.pipeline.MASSIVA),
        "sources": sources,
        "new": new,
        "stale": stale,
        "known": known,
        "problems": problems,
        "observed": {" ".join(k): sorted(v.sources) for k, v in observed.items()},
    }
