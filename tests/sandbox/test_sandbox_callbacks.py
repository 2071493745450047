"""Callbacks on every change of stato: form (POST) and JSON bodies, and failures swallowed."""

from __future__ import annotations

import json

import httpx
from sandbox_support import box_body, comm_body, p7m_doc, pdf_doc

from pec_ext.sandbox import Sandbox


def test_form_and_json_callbacks_reach_the_sender() -> None:
    received: list[httpx.Request] = []

    def sender(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return httpx.Response(204)

    sb = Sandbox(callback_sender=sender)
    http = httpx.Client(transport=sb.transport(), base_url="https://x", headers={"Authorization": "Bearer t"})
    form_cb = {"url": "https://hooks.example/box", "field": "pec", "data": {"order": 1}}
    box_id = http.post("/pec", json=box_body(callback=form_cb)).json()["data"]["id"]
    assert received == []  # registration is not a change of stato
    http.patch(f"/pec/{box_id}/attivazione", json={"documenti": pdf_doc()})
    sb.advance()

    assert [str(r.url) for r in received] == ["https://hooks.example/box"] * 2
    first = received[0]
    assert first.method == "POST"
    assert first.headers["content-type"] == "application/x-www-form-urlencoded"
    form = dict(httpx.QueryParams(first.content.decode()))
    record = json.loads(form["pec"])
    assert record["id"] == box_id
    assert record["stato"] == "in_evasione"
    assert record["callback"]["data"] == {"order": 1}
    assert json.loads(dict(httpx.QueryParams(received[1].content.decode()))["pec"])["stato"] == "evasa"
    assert [c.status_code for c in sb.callbacks_sent] == [204, 204]

    json_cb = {"url": "https://hooks.example/comm", "method": "JSON"}
    comm_id = http.post("/comunica_pec", json=comm_body(callback=json_cb)).json()["data"]["id"]
    sb.advance()
    http.patch(f"/comunica_pec/{comm_id}", json={"documenti": p7m_doc()})
    sb.advance()
    comm_requests = received[2:]
    assert [r.headers["content-type"] for r in comm_requests] == ["application/json"] * 3
    states = [json.loads(r.content)["stato"] for r in comm_requests]
    assert states == ["in_attesa_di_documenti", "documenti_caricati", "comunicazione_evasa"]
    assert json.loads(comm_requests[0].content)["callback"] == {
        "url": "https://hooks.example/comm",
        "field": "data",
        "method": "JSON",
        "data": {},
    }
    assert sb.callbacks_sent[-1].form_payload()["stato"] == "comunicazione_evasa"


def test_a_failing_callback_never_breaks_the_transition() -> None:
    def sender(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    sb = Sandbox(callback_sender=sender, callback_backoff=0)
    http = httpx.Client(transport=sb.transport(), base_url="https://x", headers={"Authorization": "Bearer t"})
    box_id = http.post("/pec", json=box_body(callback={"url": "https://down.example/"})).json()["data"]["id"]
    response = http.patch(f"/pec/{box_id}/attivazione", json={"documenti": pdf_doc()})
    assert response.status_code == 200
    sb.advance()
    assert http.get(f"/pec/{box_id}").json()["data"]["stato"] == "evasa"
    assert [c.error for c in sb.callbacks_sent] == ["ConnectError: refused"] * 2
    # a provider tries five times, then gives up; in-process the retries happen inline
    assert [[a.attempt for a in c.attempts] for c in sb.callbacks_sent] == [[1, 2, 3, 4, 5]] * 2
    assert not any(c.delivered for c in sb.callbacks_sent)
    assert all(c.payload["id"] == box_id for c in sb.callbacks_sent)


def test_fixture_records_callbacks_without_sending(pec_sandbox: Sandbox) -> None:
    http = httpx.Client(
        transport=pec_sandbox.transport(), base_url="https://x", headers={"Authorization": "Bearer t"}
    )
    box_id = http.post("/pec", json=box_body(callback={"url": "https://nowhere.invalid/"})).json()["data"][
        "id"
    ]
    http.patch(f"/pec/{box_id}/attivazione", json={"documenti": pdf_doc()})
    (sent,) = pec_sandbox.callbacks_sent
    assert sent.error is None
    assert sent.status_code is None
    assert sent.form_payload()["data"]["stato"] == "in_evasione"
