"""Helpers of the PEC Massiva tests: an active PECMASSIVA box, and clients of both kinds on a sandbox."""

from __future__ import annotations

import base64
from typing import Any

from pec_ext.massiva import AsyncMassivaClient, MassivaClient
from pec_ext.sandbox import (
    DEFAULT_TOKEN,
    MASSIVA_BASE_URL,
    Sandbox,
)
from pec_ext.sandbox.pdf import render
from tests.support.http_stack import httpx

START = 1_767_225_600  # 2026-01-01T00:00:00Z
SENDER = "invii@testcert.legalmail.it"
MODES = ("sync", "async")


def box_body(address: str, tipo: str = "PECMASSIVA") -> dict[str, Any]:
    return {
        "casella_pec": address,
        "tipo_casella": tipo,
        "tipo_cliente": "PV",
        "nome_richiedente": "mario",
        "cognome_richiedente": "rossi",
        "email": "mail@domain.com",
        "telefono": "0548798569",
        "codice_fiscale_richiedente": "RSSMRA82D11H501X",
        "data_nascita_richiedente": "11/04/1982",
        "sesso_richiedente": "M",
        "nazione_nascita_richiedente": "IT",
        "indirizzo_titolare": "via verdi 20",
        "comune_titolare": "roma",
        "cap_titolare": "00042",
        "nazione_titolare": "IT",
        "provincia_titolare": "RM",
    }


def activate_box(base_url: str, address: str = SENDER, *, transport: Any = None, advance: Any = None) -> str:
    """Register and activate a PECMASSIVA box through the PEC API (raw HTTP); returns its id."""
    pdf = base64.b64encode(render("Documento", ["documento di identità"])).decode()
    with httpx.Client(
        base_url=base_url, transport=transport, headers={"Authorization": f"Bearer {DEFAULT_TOKEN}"}
    ) as http:
        box = http.post("/pec", json=box_body(address)).json()["data"]
        assert http.patch(f"/pec/{box['id']}/attivazione", json={"documenti": [pdf, pdf]}).status_code == 200
        if advance is not None:
            advance()
        else:
            assert http.post("/_sandbox/advance").status_code == 200
        assert http.get(f"/pec/{box['id']}").json()["data"]["stato"] == "evasa"
    return str(box["id"])


def massiva_options(sb: Sandbox, **kwargs: Any) -> dict[str, Any]:
    username, password = sb.massiva_credentials(SENDER)
    kwargs.setdefault("token", DEFAULT_TOKEN)
    kwargs.setdefault("username", username)
    kwargs.setdefault("password", password)
    kwargs.setdefault("base_url", MASSIVA_BASE_URL)
    if "http_client" not in kwargs:
        kwargs.setdefault("transport", sb.transport())
    kwargs.setdefault("clock", sb.virtual_clock())
    return kwargs


def massiva_client(sb: Sandbox, **kwargs: Any) -> MassivaClient:
    return MassivaClient(**massiva_options(sb, **kwargs))


def async_massiva_client(sb: Sandbox, **kwargs: Any) -> AsyncMassivaClient:
    return AsyncMassivaClient(**massiva_options(sb, **kwargs))
