"""Wallet (prices, 402, ledger) and bearer tokens with Openapi-style scopes."""

from __future__ import annotations

import pytest

from pec_ext.sandbox import DEFAULT_PRICES, Sandbox, record_only
from tests.support.dates import sandbox_on_day
from tests.support.http_stack import httpx
from tests.support.sandbox import assert_error, box_body, comm_body, pdf_doc


def client(sb: Sandbox, token: str | None = "t") -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return httpx.Client(transport=sb.transport(), base_url="https://sandbox.pec.invalid", headers=headers)


def evasa_box(sb: Sandbox, http: httpx.Client, address: str = "w@testcert.legalmail.it") -> str:
    box_id = str(http.post("/pec", json=box_body(address)).json()["data"]["id"])
    http.patch(f"/pec/{box_id}/attivazione", json={"documenti": pdf_doc()})
    sb.advance()
    return box_id


def test_register_charges_the_price_of_the_type() -> None:
    sb = sandbox_on_day(balance=20, prices={"register.GOLD": 12.5}, callback_sender=record_only)
    http = client(sb)
    assert http.post("/pec", json=box_body(tipo="GOLD")).status_code == 200
    assert sb.balance == 7.5
    (entry,) = sb.ledger
    assert entry["operation"] == "POST /pec"
    assert entry["amount"] == 12.5
    assert entry["balance_after"] == 7.5


@pytest.mark.parametrize(
    ("method", "path", "body", "code"),
    [
        ("PATCH", "/pec/{id}/modifica", {"spazio_disco": "+1024"}, 290),
        ("PATCH", "/pec/{id}/conservazione", {"documenti": pdf_doc()}, 297),
        ("PATCH", "/pec/{id}/trasformazione", {"tipo_casella": "GOLD"}, 279),
        (
            "POST",
            "/pec/{id}/multiutenza",
            {"nome": "a", "cognome": "b", "descrizione": "c", "email_gestione_password": "a@b.it"},
            220,
        ),
        ("GET", "/pec/{id}/rinnovo", None, 905),
        ("POST", "/comunica_pec", comm_body(), 351),
        ("GET", "/domini_pec/legalmail.it", None, 403),
    ],
)
def test_insufficient_credit_charges_nothing(method: str, path: str, body: object, code: int) -> None:
    sb = sandbox_on_day(balance=100, callback_sender=record_only)
    http = client(sb)
    box_id = evasa_box(sb, http)
    sb.balance = 0.03
    before = sb.mailboxes(), sb.communications(), len(sb.ledger)
    response = http.request(method, path.format(id=box_id), json=body)
    assert_error(response, 402, code, "Insufficient Credit in Wallet: 0.03")
    assert sb.balance == 0.03
    assert (sb.mailboxes(), sb.communications(), len(sb.ledger)) == before


def test_wallet_runs_out_midway() -> None:
    sb = sandbox_on_day(balance=DEFAULT_PRICES["register.STANDARD"] * 2 + 1, callback_sender=record_only)
    http = client(sb)
    for n in range(2):
        assert http.post("/pec", json=box_body(f"b{n}@testcert.legalmail.it", "STANDARD")).status_code == 200
    third = http.post("/pec", json=box_body("b3@testcert.legalmail.it", "STANDARD"))
    assert_error(third, 402, 262, "Insufficient Credit in Wallet: 1.00")
    assert len(sb.mailboxes()) == 2
    assert sb.balance == 1.0


def test_space_is_paid_per_unit() -> None:
    sb = sandbox_on_day(balance=100, prices={"space.spazio_disco": 1.5}, callback_sender=record_only)
    http = client(sb)
    box_id = evasa_box(sb, http)
    before = sb.balance
    assert http.patch(f"/pec/{box_id}/modifica", json={"spazio_disco": "+3072"}).status_code == 200
    assert round(before - sb.balance, 2) == 4.5


def test_renewal_is_paid_per_year() -> None:
    sb = sandbox_on_day(balance=100, callback_sender=record_only)
    http = client(sb)
    box_id = evasa_box(sb, http)
    before = sb.balance
    assert http.get(f"/pec/{box_id}/rinnovo", params={"anni": 3}).status_code == 200
    assert round(before - sb.balance, 2) == DEFAULT_PRICES["renew.BRONZE"] * 3


def test_missing_token_is_401() -> None:
    sb = sandbox_on_day(callback_sender=record_only)
    for http in (client(sb, None), client(sb, "")):
        response = http.get("/pec")
        assert response.status_code == 401
        assert response.json()["success"] is False
        assert response.json()["message"]
        assert response.json()["data"] is None
    basic = client(sb, None).get("/pec", headers={"Authorization": "Basic Zm9v"})
    assert basic.status_code == 401


def test_form_download_without_token_is_json_401() -> None:
    sb = sandbox_on_day(callback_sender=record_only)
    response = client(sb, None).get("/pec/0123456789abcdef01234567/modulo_attivazione")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/json"


def test_any_token_holds_every_scope_by_default() -> None:
    sb = sandbox_on_day(callback_sender=record_only)
    http = client(sb, "whatever")
    assert http.post("/pec", json=box_body()).status_code == 200
    assert http.get("/pec").status_code == 200
    assert http.get("/verifica_pec/a@b.it").status_code == 200


def test_restricted_token_gets_403_outside_its_scopes() -> None:
    sb = sandbox_on_day(tokens={"ro": ["GET:pec.openapi.it/pec"]}, callback_sender=record_only)
    sb.add_token("rw", ["GET:test.pec.openapi.it/pec", "POST:test.pec.openapi.it/pec"])
    assert client(sb, "rw").post("/pec", json=box_body()).status_code == 200
    ro = client(sb, "ro")
    assert ro.get("/pec").status_code == 200
    forbidden = ro.post("/pec", json=box_body("other@testcert.legalmail.it"))
    assert_error(forbidden, 403, None, "the token does not hold the scope POST:pec.openapi.it/pec")
    assert_error(
        ro.get("/comunica_pec"),
        403,
        None,
        "the token does not hold the scope GET:pec.openapi.it/comunica_pec",
    )
    assert len(sb.mailboxes()) == 1
    sb.add_token("all", ["*:pec.openapi.it/*"])
    assert client(sb, "all").get("/domini_pec/legalmail.it").status_code == 200


def test_strict_tokens_reject_unknown_ones() -> None:
    sb = sandbox_on_day(
        tokens={"known": ["GET:pec.openapi.it/pec"]}, strict_tokens=True, callback_sender=record_only
    )
    assert client(sb, "stranger").get("/pec").status_code == 401
    assert client(sb, "known").get("/pec").status_code == 404  # allowed, just empty
