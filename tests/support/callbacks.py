"""Driving records through their states with signed callbacks, for the receiver tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# httpx itself, not the library under test: the sandbox delivers its callbacks as httpx requests.
import httpx

from pec_ext.callbacks.events import CallbackEvent, sign_callback
from tests.support.sandbox import box_body, comm_body, p7m_doc, pdf_doc

SECRET = "s3cret-for-callback-tests-0123456789"
OTHER_SECRET = "another-secret-nobody-shares-9876543210"
RECEIVER_URL = "https://hooks.example/pec"


def signed(url: str = RECEIVER_URL, secret: str = SECRET, **extra: Any) -> dict[str, Any]:
    return sign_callback(secret, {"url": url, **extra})


def register_box(http: httpx.Client, callback: dict[str, Any] | None, address: str | None = None) -> str:
    body = box_body(address or "mario.rossi@testcert.legalmail.it")
    if callback is not None:
        body["callback"] = callback
    response = http.post("/pec", json=body)
    assert response.status_code == 200, response.text
    box_id: str = response.json()["data"]["id"]
    return box_id


def activate(http: httpx.Client, box_id: str, *, reject: bool = False) -> None:
    pdf = pdf_doc("SANDBOX-REJECT") if reject else pdf_doc()
    response = http.patch(f"/pec/{box_id}/attivazione", json={"documenti": pdf})
    assert response.status_code == 200, response.text


def revoke(http: httpx.Client, box_id: str) -> None:
    response = http.delete(f"/pec/{box_id}")
    assert response.status_code == 200, response.text


def advance(http: httpx.Client, seconds: float | None = None) -> None:
    body = {} if seconds is None else {"seconds": seconds}
    response = http.post("/_sandbox/advance", json=body)
    assert response.status_code == 200, response.text


def create_comm(http: httpx.Client, callback: dict[str, Any]) -> str:
    response = http.post("/comunica_pec", json=comm_body(callback=callback))
    assert response.status_code == 200, response.text
    comm_id: str = response.json()["data"]["id"]
    return comm_id


def upload_procura(http: httpx.Client, comm_id: str) -> None:
    response = http.patch(f"/comunica_pec/{comm_id}", json={"documenti": p7m_doc()})
    assert response.status_code == 200, response.text


class Recorder:
    """Handlers that remember what they were given; ``fail`` makes the next calls raise."""

    def __init__(self, fail: int = 0) -> None:
        self.events: list[CallbackEvent] = []
        self.calls = 0
        self.fail = fail

    def __call__(self, event: CallbackEvent) -> None:
        self.calls += 1
        if self.fail > 0:
            self.fail -= 1
            raise RuntimeError("handler down")
        self.events.append(event)

    def seen(self) -> list[tuple[str, str, str]]:
        return [(e.kind.value, e.id, str(e.stato)) for e in self.events]


def wsgi_sender(app: Any) -> Any:
    """A sandbox callback sender that posts into a WSGI app, through httpx's own WSGI transport."""
    client = httpx.Client(transport=httpx.WSGITransport(app=app))

    def send(request: httpx.Request) -> httpx.Response:
        return client.send(request)

    return send


def _nothing() -> None:
    pass


def box_lifecycle(
    http: httpx.Client, callback: dict[str, Any], settle: Callable[[], None] = _nothing
) -> tuple[str, list[str]]:
    """A box through every state a callback reports, rejected once; returns the states in order.

    ``settle`` runs after every change of state (over HTTP: until the callback was delivered).
    """
    box_id = register_box(http, callback)
    activate(http, box_id, reject=True)
    settle()
    advance(http, 1)  # one second on: the second ``in_evasione`` is another transition
    settle()
    activate(http, box_id)
    settle()
    advance(http, 1)
    settle()
    revoke(http, box_id)
    settle()
    return box_id, ["in_evasione", "documenti_errati", "in_evasione", "evasa", "revocata"]


def comm_lifecycle(
    http: httpx.Client, callback: dict[str, Any], settle: Callable[[], None] = _nothing
) -> tuple[str, list[str]]:
    comm_id = create_comm(http, callback)
    advance(http, 1)
    settle()
    upload_procura(http, comm_id)
    settle()
    advance(http, 1)
    settle()
    return comm_id, ["in_attesa_di_documenti", "documenti_caricati", "comunicazione_evasa"]
