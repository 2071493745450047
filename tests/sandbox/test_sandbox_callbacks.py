"""Callbacks on every change of stato: form (POST) and JSON bodies, and failures swallowed."""

from __future__ import annotations

import json

from pec_ext.sandbox import Sandbox
from tests.support.dates import sandbox_on_day
from tests.support.http_stack import httpx
from tests.support.sandbox import box_body, comm_body, p7m_doc, pdf_doc


def test_form_and_json_callbacks_reach_the_sender() -> None:
    received: list[httpx.Request] = []

    def sender(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return httpx.Response(204)

    sb = sandbox_on_day(callback_sender=sender)
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

    sb = sandbox_on_day(callback_sender=sender, callback_backoff=0)
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


def _box_with_callback(http: httpx.Client, url: str) -> str:
    box_id: str = http.post("/pec", json=box_body(callback={"url": url})).json()["data"]["id"]
    return box_id


def test_a_receiver_failing_twice_is_retried_with_a_doubling_backoff() -> None:
    answers = iter([503, 500, 204])

    def sender(request: httpx.Request) -> httpx.Response:
        return httpx.Response(next(answers))

    sb = sandbox_on_day(callback_sender=sender, callback_backoff=0.05)
    http = httpx.Client(transport=sb.transport(), base_url="https://x", headers={"Authorization": "Bearer t"})
    box_id = _box_with_callback(http, "https://hooks.example/")
    http.patch(f"/pec/{box_id}/attivazione", json={"documenti": pdf_doc()})

    (sent,) = sb.callbacks_sent
    assert [(a.attempt, a.status_code) for a in sent.attempts] == [(1, 503), (2, 500), (3, 204)]
    starts = [a.at for a in sent.attempts]
    assert starts[1] - starts[0] >= 0.05
    assert starts[2] - starts[1] >= 0.1
    assert sent.delivered
    assert sent.status_code == 204
    assert all(a.elapsed >= 0 for a in sent.attempts)


def test_a_4xx_answer_is_final_and_not_retried() -> None:
    calls: list[httpx.Request] = []

    def sender(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(403)

    sb = sandbox_on_day(callback_sender=sender, callback_backoff=0)
    http = httpx.Client(transport=sb.transport(), base_url="https://x", headers={"Authorization": "Bearer t"})
    box_id = _box_with_callback(http, "https://hooks.example/")
    http.patch(f"/pec/{box_id}/attivazione", json={"documenti": pdf_doc()})
    assert len(calls) == 1
    assert sb.callbacks_sent[0].finished
    assert not sb.callbacks_sent[0].delivered


def test_the_delivery_log_is_readable_through_the_admin_path() -> None:
    answers = iter([500, 200])
    sb = sandbox_on_day(callback_sender=lambda request: httpx.Response(next(answers)), callback_backoff=0)
    http = httpx.Client(transport=sb.transport(), base_url="https://x", headers={"Authorization": "Bearer t"})
    box_id = _box_with_callback(http, "https://hooks.example/cb")
    http.patch(f"/pec/{box_id}/attivazione", json={"documenti": pdf_doc()})

    log = http.get("/_sandbox/callbacks").json()["data"]
    assert log["pending"] == 0
    (delivery,) = log["deliveries"]
    assert delivery["url"] == "https://hooks.example/cb"
    assert (delivery["id"], delivery["stato"], delivery["delivered"]) == (box_id, "in_evasione", True)
    assert [(a["attempt"], a["status"]) for a in delivery["attempts"]] == [(1, 500), (2, 200)]
    assert all(isinstance(a["elapsed"], float) for a in delivery["attempts"])


def test_over_http_a_slow_receiver_never_holds_up_the_api_answer() -> None:
    import threading
    import time

    from pec_ext.sandbox import SandboxServer

    release = threading.Event()

    def slow_sender(request: httpx.Request) -> httpx.Response:
        release.wait(10)
        return httpx.Response(200)

    with SandboxServer(sandbox_on_day(callback_sender=slow_sender)) as server:
        http = httpx.Client(base_url=server.url, headers={"Authorization": "Bearer t"})
        box_id = _box_with_callback(http, "https://hooks.example/")
        started = time.perf_counter()
        response = http.patch(f"/pec/{box_id}/attivazione", json={"documenti": pdf_doc()})
        assert response.status_code == 200
        assert time.perf_counter() - started < 5  # the receiver holds its answer for 10 s
        assert http.get("/_sandbox/callbacks").json()["data"]["pending"] == 1
        release.set()
        deadline = time.monotonic() + 5
        while http.get("/_sandbox/callbacks").json()["data"]["pending"] and time.monotonic() < deadline:
            time.sleep(0.02)
        (delivery,) = http.get("/_sandbox/callbacks").json()["data"]["deliveries"]
        assert delivery["delivered"]
        assert delivery["attempts"][0]["status"] == 200
