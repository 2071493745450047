"""Driving records through their states with signed callbacks, for the receiver tests."""

from __future__ import annotations

from typing import Any

import httpx
from sandbox_support import box_body, comm_body, p7m_doc, pdf_doc

from pec_ext.callbacks import sign_callback

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
