"""The sandbox's PEC Massiva emulation: sendings, receipts on virtual time, inbox, quota, limits.

Raw httpx against the in-process transport and the HTTP server; every success answer is checked
against the effective PEC Massiva spec (upstream + spec/pecmassiva.overlay.yaml).
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import jsonschema
import pytest

from pec_ext.sandbox import MASSIVA_PRICES, ManualClock, Sandbox, SandboxServer, record_only
from pec_ext.sandbox.massiva import DEFAULT_DELIVERY_DELAY, derived_password
from tests.support.http_stack import httpx
from tests.support.sandbox import box_body, pdf_doc

START = 1_700_000_000
BEARER = {"Authorization": "Bearer test-token"}
SENDER = "bulk@testcert.legalmail.it"
PRICE = MASSIVA_PRICES["pecmassiva.send"]


# ------------------------------------------------------------------------------- helpers


def make_sandbox(**kwargs: Any) -> Sandbox:
    kwargs.setdefault("clock", ManualClock(START))
    return Sandbox(callback_sender=record_only, **kwargs)


def pec_http(sb: Sandbox) -> httpx.Client:
    return httpx.Client(transport=sb.transport(), base_url="https://sandbox.pec.invalid", headers=BEARER)


def massiva_http(sb: Sandbox, base_url: str = "https://sandbox.pec.invalid/pecmassiva") -> httpx.Client:
    return httpx.Client(transport=sb.transport(), base_url=base_url, headers=BEARER)


def new_box(sb: Sandbox, address: str = SENDER, tipo: str = "PECMASSIVA", *, activate: bool = True) -> str:
    """Registers (and activates) a box through the PEC API; returns its id."""
    with pec_http(sb) as http:
        box = http.post("/pec", json=box_body(address, tipo)).json()["data"]
        if activate:
            assert (
                http.patch(f"/pec/{box['id']}/attivazione", json={"documenti": pdf_doc()}).status_code == 200
            )
            sb.advance(None)
            assert http.get(f"/pec/{box['id']}").json()["data"]["stato"] == "evasa"
    return str(box["id"])


def auth_headers(sb: Sandbox, box: str = SENDER) -> dict[str, str]:
    username, password = sb.massiva_credentials(box)
    return {"x-username": username, "x-password": password}


def send_body(sb: Sandbox, recipients: Any, subject: str = "Fattura 42", **extra: Any) -> dict[str, Any]:
    username, password = sb.massiva_credentials(SENDER)
    return {
        "username": username,
        "password": password,
        "sender": SENDER,
        "recipient": recipients,
        "subject": subject,
        "body": "Salve, in allegato la fattura <b>42</b> & altro.",
        **extra,
    }


def _validator(spec: dict[str, Any], method: str, path: str, status: int) -> jsonschema.Validator:
    media = spec["paths"][path][method.lower()]["responses"][str(status)]["content"]["application/json"]
    schema = {"allOf": [media["schema"]], "components": spec["components"]}
    return jsonschema.Draft7Validator(schema)


def conforming(spec: dict[str, Any], response: httpx.Response, method: str, path: str) -> Any:
    """The body, once checked against the effective spec's schema for that status."""
    body = response.json()
    errors = list(_validator(spec, method, path, response.status_code).iter_errors(body))
    assert not errors, [e.message for e in errors]
    return body


def objects(body: dict[str, Any]) -> list[str]:
    return [entry["object"].split(":", 1)[0] for entry in body["data"]]


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    with make_sandbox() as sandbox:
        new_box(sandbox)
        yield sandbox


@pytest.fixture
def http(sb: Sandbox) -> Iterator[httpx.Client]:
    with massiva_http(sb) as client:
        yield client


# ------------------------------------------------------------------------------- lifecycle


def test_acceptance_at_once_then_certified_copy_and_delivery_after_the_delay(
    sb: Sandbox, http: httpx.Client, massiva_effective_spec: dict[str, Any]
) -> None:
    spec = massiva_effective_spec
    answer = http.post("/send", json=send_body(sb, ["mario@example.it"]))
    assert answer.status_code == 201
    created = conforming(spec, answer, "POST", "/send")
    assert (created["success"], created["sent"]) == (True, 1)
    code = created["message_id"]
    assert code.isdigit()

    headers = auth_headers(sb)
    first = conforming(spec, http.get(f"/send/{code}", headers=headers), "GET", "/send/{code}")
    assert objects(first) == ["ACCETTAZIONE"]
    accepted = first["data"][0]
    assert accepted["object"] == f"ACCETTAZIONE: Fattura 42 {code}"
    assert accepted["recipient"] == "mario@example.it"
    assert accepted["data"] == "Tue, 14 Nov 2023 23:13:20 +0100"  # START in Rome, RFC 2822 like the spec

    sb.advance(DEFAULT_DELIVERY_DELAY - 1)
    assert objects(http.get(f"/send/{code}", headers=headers).json()) == ["ACCETTAZIONE"]
    sb.advance(1)
    done = conforming(spec, http.get(f"/send/{code}", headers=headers), "GET", "/send/{code}")
    assert objects(done) == ["ACCETTAZIONE", "POSTA CERTIFICATA", "CONSEGNA"]
    copy, delivered = done["data"][1], done["data"][2]
    assert copy["sender"] == f"Per conto di: {SENDER}"
    assert copy["message"] == "Salve, in allegato la fattura <b>42</b> & altro."
    assert delivered["recipient"] == "mario@example.it"
    assert "consegnato" in delivered["message"]

    # the receipts are in the sender's inbox; the certified copy went to the recipient
    inbox = conforming(spec, http.get("/inbox", headers=headers), "GET", "/inbox")
    assert [m["object"].split(":")[0] for m in inbox["data"]] == ["ACCETTAZIONE", "CONSEGNA"]
    assert (inbox["total"], inbox["page"], inbox["n_of_pages"]) == (2, 1, 1)
    one = http.get(f"/inbox/{inbox['data'][0]['id']}", headers=headers)
    message = conforming(spec, one, "GET", "/inbox/{id}")["data"]
    assert message["object"] == accepted["object"]
    # form-encoded inside the JSON, as the spec says; decoded, the receipt names the recipient
    assert "+" in message["body"]
    assert " " not in message["body"]
    assert 'Destinatario: "mario@example.it"' in unquote_plus(message["body"])


def test_lifecycle_over_http_with_the_admin_paths() -> None:
    sb = make_sandbox()
    new_box(sb)
    username, password = sb.massiva_credentials(SENDER)
    with SandboxServer(sb, "127.0.0.1", 0) as server, httpx.Client(headers=BEARER) as http:
        base = server.url + "/pecmassiva"
        creds = http.get(f"{server.url}/_sandbox/massiva/credentials/{SENDER}").json()["data"]
        assert (creds["username"], creds["password"], creds["usable"]) == (username, password, True)
        body = {"username": username, "password": password, "recipient": "a@example.it", "subject": "S"}
        sent = http.post(base + "/send", json=body)
        assert sent.status_code == 201
        code = sent.json()["message_id"]
        headers = {"x-username": username, "x-password": password}
        assert objects(http.get(f"{base}/send/{code}", headers=headers).json()) == ["ACCETTAZIONE"]
        http.post(f"{server.url}/_sandbox/advance", json={"seconds": DEFAULT_DELIVERY_DELAY})
        assert objects(http.get(f"{base}/send/{code}", headers=headers).json()) == [
            "ACCETTAZIONE",
            "POSTA CERTIFICATA",
            "CONSEGNA",
        ]
        # the service's own host name routes to it too, with the spec's paths
        by_host = http.get(server.url + "/inbox", headers={**headers, "Host": "test.ws.pecmassiva.com"})
        assert by_host.json()["total"] == 2
        listed = http.get(f"{server.url}/_sandbox/massiva/sent").json()["data"]
        assert [(s["code"], s["recipients"], s["sent"]) for s in listed] == [(code, ["a@example.it"], 1)]
    sb.close()


def test_a_recipient_at_the_nondelivery_domain_gets_a_non_delivery_notice(
    sb: Sandbox, http: httpx.Client
) -> None:
    recipients = ["ok@example.it", "lost@nondelivery.test"]
    code = http.post("/send", json=send_body(sb, recipients)).json()["message_id"]
    sb.advance(None)
    entries = http.get(f"/send/{code}", headers=auth_headers(sb)).json()["data"]
    by_kind = {(e["object"].split(":")[0], e["recipient"]) for e in entries}
    assert by_kind == {
        ("ACCETTAZIONE", "ok@example.it, lost@nondelivery.test"),
        ("POSTA CERTIFICATA", "ok@example.it"),
        ("CONSEGNA", "ok@example.it"),
        ("AVVISO DI MANCATA CONSEGNA", "lost@nondelivery.test"),
    }


def test_a_malformed_address_is_not_accepted_nor_charged(sb: Sandbox, http: httpx.Client) -> None:
    balance = sb.balance
    answer = http.post("/send", json=send_body(sb, ["ok@example.it", "not-an-address"]))
    assert answer.status_code == 201
    assert answer.json()["sent"] == 0
    code = answer.json()["message_id"]
    sb.advance(None)
    entries = http.get(f"/send/{code}", headers=auth_headers(sb)).json()["data"]
    assert objects({"data": entries}) == ["AVVISO DI NON ACCETTAZIONE"]
    assert "not-an-address" in entries[0]["message"]
    assert sb.balance == balance
    assert [s["accepted"] for s in sb.massiva_sent()] == [False]


def test_one_send_a_second_per_box_then_429_with_retry_after(sb: Sandbox, http: httpx.Client) -> None:
    assert http.post("/send", json=send_body(sb, "a@example.it")).status_code == 201
    refused = http.post("/send", json=send_body(sb, "b@example.it"))
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "1"
    assert refused.json() == {"success": False, "message": "Too many requests"}
    sb.advance(0.5)
    assert http.post("/send", json=send_body(sb, "b@example.it")).status_code == 429
    sb.advance(0.5)
    assert http.post("/send", json=send_body(sb, "b@example.it")).status_code == 201
    # another box has its own second
    new_box(sb, "other@testcert.legalmail.it")
    other = {**send_body(sb, "c@example.it"), "sender": "other@testcert.legalmail.it"}
    other["username"], other["password"] = sb.massiva_credentials("other@testcert.legalmail.it")
    assert http.post("/send", json=other).status_code == 201
    assert len(sb.massiva_sent()) == 3


# ------------------------------------------------------------------------------- credentials


def test_the_box_must_exist_be_pecmassiva_be_active_and_the_password_match(sb: Sandbox) -> None:
    standard_id = new_box(sb, "classic@testcert.legalmail.it", "STANDARD")
    pending_id = new_box(sb, "pending@testcert.legalmail.it", activate=False)
    with massiva_http(sb) as http:
        good = auth_headers(sb)
        assert http.get("/inbox", headers=good).status_code == 200
        cases = {
            "wrong password": {**good, "x-password": good["x-password"] + "x"},
            "unknown box": {"x-username": "nobody@testcert.legalmail.it", "x-password": "x"},
            "not PECMASSIVA": auth_headers(sb, standard_id),
            "not active": auth_headers(sb, pending_id),
            "no credentials": {},
        }
        for case, headers in cases.items():
            refused = http.get("/inbox", headers=headers)
            assert refused.status_code == 401, case
            assert refused.json() == {"success": False, "message": "Authorization is not valid or empty"}, (
                case
            )
        body = send_body(sb, "a@example.it")
        for username, password in [
            (SENDER, "wrong"),
            *(sb.massiva_credentials(b) for b in (standard_id, pending_id)),
        ]:
            refused = http.post("/send", json={**body, "username": username, "password": password})
            assert refused.status_code == 401
        assert sb.massiva_sent() == []
        # a sender other than the box itself is a bad request, not a sending
        assert http.post("/send", json={**body, "sender": "someone@else.it"}).status_code == 400
        assert sb.massiva_sent() == []


def test_the_password_is_derived_from_the_box_and_can_be_set(sb: Sandbox) -> None:
    box_id = new_box(sb, "second@testcert.legalmail.it")
    assert sb.massiva_credentials(box_id) == ("second@testcert.legalmail.it", derived_password(box_id))
    with httpx.Client(transport=sb.transport(), base_url="https://sandbox.pec.invalid") as admin:
        changed = admin.post(f"/_sandbox/massiva/credentials/{box_id}", json={"password": "s3cret"})
        assert changed.json()["data"]["password"] == "s3cret"
        assert admin.get("/_sandbox/massiva/credentials/nobody@x.it").status_code == 404
    with massiva_http(sb) as http:
        headers = {"x-username": "second@testcert.legalmail.it", "x-password": "s3cret"}
        assert http.get("/quota/INBOX", headers=headers).status_code == 200
        old = {**headers, "x-password": derived_password(box_id)}
        assert http.get("/quota/INBOX", headers=old).status_code == 401


def test_bearer_scopes_are_the_pecmassiva_hosts(sb: Sandbox) -> None:
    sb.tokens.strict = True
    sb.add_token("reader", ["GET:ws.pecmassiva.com/inbox"])
    sb.add_token("sender", ["POST:test.ws.pecmassiva.com/send", "GET:pec.openapi.it/pec"])
    sb.add_token("pec-only", ["*:pec.openapi.it/*"])
    with httpx.Client(transport=sb.transport(), base_url="https://sandbox.pec.invalid/pecmassiva") as http:
        headers = auth_headers(sb)

        def bearer(token: str) -> dict[str, str]:
            return {"Authorization": f"Bearer {token}"}

        assert http.get("/inbox", headers={**headers, **bearer("reader")}).status_code == 200
        denied = http.post("/send", json=send_body(sb, "a@example.it"), headers=bearer("reader"))
        assert denied.status_code == 403
        assert "POST:ws.pecmassiva.com/send" in denied.json()["message"]
        assert http.get("/inbox", headers={**headers, **bearer("pec-only")}).status_code == 403
        assert http.get("/inbox", headers={**headers, **bearer("unknown")}).status_code == 401
        assert (
            http.post("/send", json=send_body(sb, "a@example.it"), headers=bearer("sender")).status_code
            == 201
        )


def test_the_account_offers_the_pecmassiva_scopes_priced_from_the_table(sb: Sandbox) -> None:
    with httpx.Client(
        transport=sb.transport(), base_url="https://sandbox.pec.invalid/oauth", auth=("a@b.it", "k")
    ) as oauth:
        scopes = {s["scope"]: s for s in oauth.get("/scopes").json()["data"]}
        send_scope = scopes["POST:test.ws.pecmassiva.com/send"]
        assert oauth.get(f"/scopes/{send_scope['id']}").json()["data"]["prices"] == {"pecmassiva.send": PRICE}
        token = oauth.post("/tokens", json={"scopes": ["POST:ws.pecmassiva.com/send"]}).json()["token"]
    with massiva_http(sb) as http:
        answer = http.post(
            "/send", json=send_body(sb, "a@example.it"), headers={"Authorization": f"Bearer {token}"}
        )
        assert answer.status_code == 201
        refused = http.get("/inbox", headers={**auth_headers(sb), "Authorization": f"Bearer {token}"})
        assert refused.status_code == 403


# ------------------------------------------------------------------------------- inbox and quota


def test_inbox_pages_of_25_and_search_on_subject_and_sender() -> None:
    with make_sandbox(massiva_delay=3600) as sb, massiva_http(sb) as http:
        new_box(sb)
        for n in range(30):
            subject = "Sollecito" if n == 7 else f"Fattura {n}"
            assert http.post("/send", json=send_body(sb, "a@example.it", subject)).status_code == 201
            sb.advance(1)
        headers = auth_headers(sb)
        first = http.get("/inbox", headers=headers).json()
        second = http.get("/inbox", params={"page": 2}, headers=headers).json()
        assert (len(first["data"]), first["total"], first["n_of_pages"], first["page"]) == (25, 30, 2, 1)
        assert (len(second["data"]), second["page"]) == (5, 2)
        ids = [m["id"] for m in first["data"] + second["data"]]
        assert ids == sorted(ids)
        assert len(set(ids)) == 30
        assert http.get("/inbox", params={"page": 3}, headers=headers).json()["data"] == []
        found = http.get("/inbox", params={"q": "sollecito"}, headers=headers).json()
        assert (found["total"], [m["object"].split(" ")[1] for m in found["data"]]) == (1, ["Sollecito"])
        by_sender = http.get("/inbox", params={"q": "posta-certificata@"}, headers=headers).json()
        assert by_sender["total"] == 30
        assert http.get("/inbox", params={"q": "nothing like this"}, headers=headers).json()["total"] == 0


def test_deleting_a_message_and_a_sendings_receipts(sb: Sandbox, http: httpx.Client) -> None:
    headers = auth_headers(sb)
    first = http.post("/send", json=send_body(sb, "a@example.it", "Primo")).json()["message_id"]
    sb.advance(1)
    second = http.post("/send", json=send_body(sb, "b@example.it", "Secondo")).json()["message_id"]
    sb.advance(None)
    inbox = http.get("/inbox", headers=headers).json()["data"]
    assert len(inbox) == 4
    message_id = inbox[0]["id"]
    deleted = http.delete(f"/inbox/{message_id}", headers=headers)
    assert deleted.json() == {"success": True, "message": "Message deleted"}
    assert http.get(f"/inbox/{message_id}", headers=headers).status_code == 404
    assert http.delete(f"/inbox/{message_id}", headers=headers).status_code == 404
    assert http.get("/inbox/not-a-number", headers=headers).status_code == 404
    # the deleted receipt no longer shows among the sending's
    assert "ACCETTAZIONE" not in objects(http.get(f"/send/{first}", headers=headers).json())

    assert http.delete(f"/send/{second}", headers=headers).json() == {
        "success": True,
        "message": "Operation succefull",
    }
    assert http.get(f"/send/{second}", headers=headers).json() == {
        "success": False,
        "message": "Result empty",
    }
    assert http.delete(f"/send/{second}", headers=headers).status_code == 404
    left = http.get("/inbox", headers=headers).json()["data"]
    assert [m["object"] for m in left] == [f"CONSEGNA: Primo {first}"]
    # the admin listing still counts both sendings
    assert [s["deleted"] for s in sb.massiva_sent()] == [False, True]


def test_another_box_cannot_read_a_sending_or_a_message(sb: Sandbox, http: httpx.Client) -> None:
    code = http.post("/send", json=send_body(sb, "a@example.it")).json()["message_id"]
    message_id = http.get("/inbox", headers=auth_headers(sb)).json()["data"][0]["id"]
    new_box(sb, "other@testcert.legalmail.it")
    other = auth_headers(sb, "other@testcert.legalmail.it")
    assert http.get(f"/send/{code}", headers=other).status_code == 404
    assert http.get(f"/inbox/{message_id}", headers=other).status_code == 404
    assert http.delete(f"/send/{code}", headers=other).status_code == 404


def test_the_certified_copy_lands_in_a_recipient_box_of_the_sandbox(sb: Sandbox, http: httpx.Client) -> None:
    new_box(sb, "other@testcert.legalmail.it")
    http.post("/send", json=send_body(sb, "other@testcert.legalmail.it", "Per te"))
    sb.advance(None)
    received = http.get("/inbox", headers=auth_headers(sb, "other@testcert.legalmail.it")).json()["data"]
    assert [(m["sender"], m["object"].split(":")[0]) for m in received] == [
        (f"Per conto di: {SENDER}", "POSTA CERTIFICATA")
    ]


def test_quota_grows_with_what_the_inbox_holds(
    sb: Sandbox, http: httpx.Client, massiva_effective_spec: dict[str, Any]
) -> None:
    headers = auth_headers(sb)

    def usage() -> float:
        answer = http.get("/quota/INBOX", headers=headers)
        data = conforming(massiva_effective_spec, answer, "GET", "/quota/{mailbox}")["data"]
        assert data["limit"] == 2048  # the PECMASSIVA box's spazio_disco, in MB
        return float(data["usage"])

    assert usage() == 0
    attachment = {"name": "fattura.pdf", "file": "data:application/pdf;base64," + pdf_doc("x" * 50_000)}
    big = base64.b64encode(bytes(300_000)).decode()
    body = send_body(sb, "a@example.it", attachments=[attachment, {"name": "zeros.bin", "file": big}])
    assert http.post("/send", json=body).status_code == 201
    accepted = usage()
    assert 0 < accepted < 0.01
    sb.advance(None)
    # the delivery receipt holds the whole message with its attachments
    assert usage() - accepted > 300_000 / (1024 * 1024)
    refused = http.get("/quota/Archivio", headers=headers)
    assert refused.status_code == 400
    assert refused.json()["message"] == "An error occured: the requested mailbox might be unavailable"


def test_bad_bodies_are_refused_before_anything_is_sent(sb: Sandbox, http: httpx.Client) -> None:
    balance = sb.balance
    bad = [
        send_body(sb, []),
        send_body(sb, ["a@example.it", 3]),
        send_body(sb, "a@example.it", subject=""),
        send_body(sb, "a@example.it", attachments=[{"name": "x.pdf", "file": "not base64!"}]),
        send_body(sb, "a@example.it", attachments=[{"file": "AAAA"}]),
        send_body(sb, "a@example.it", body=7),
    ]
    for body in bad:
        refused = http.post("/send", json=body)
        assert refused.status_code == 400, body
        assert refused.json() == {"success": False, "message": "Post parameter is not valid"}
    assert http.post("/send", content=b"[1, 2]").status_code == 400
    assert (sb.massiva_sent(), sb.balance) == ([], balance)
    # one address as a plain string is accepted, as upstream documents
    assert http.post("/send", json=send_body(sb, "a@example.it")).json()["sent"] == 1


# ------------------------------------------------------------------------------- wallet, persistence


def test_each_sending_is_charged_per_recipient_to_the_shared_wallet(sb: Sandbox, http: httpx.Client) -> None:
    before = sb.balance
    code = http.post(
        "/send", json=send_body(sb, ["a@example.it", "b@example.it", "c@nondelivery.test"])
    ).json()["message_id"]
    assert round(before - sb.balance, 2) == round(PRICE * 3, 2)
    entry = sb.ledger[-1]
    assert (entry["operation"], entry["ref"], entry["amount"]) == ("POST /send", code, round(PRICE * 3, 2))
    # the OAuth wallet shows it as a transaction
    with httpx.Client(
        transport=sb.transport(), base_url="https://sandbox.pec.invalid/oauth", auth=("a", "k")
    ) as oauth:
        txn = oauth.get("/wallet/transactions").json()["data"][0]
        assert txn["description"] == f"API usage - POST /send {code}"


def test_without_credit_the_sending_is_refused_and_nothing_happens() -> None:
    with make_sandbox() as sb, massiva_http(sb) as http:
        new_box(sb)
        sb.balance = PRICE * 2
        refused = http.post("/send", json=send_body(sb, ["a@example.it", "b@example.it", "c@example.it"]))
        assert refused.status_code == 402
        assert refused.json() == {"success": False, "message": "Insufficient Credit in Wallet: 0.20"}
        assert (sb.massiva_sent(), sb.balance) == ([], PRICE * 2)
        assert http.get("/inbox", headers=auth_headers(sb)).json()["total"] == 0
        assert http.post("/send", json=send_body(sb, ["a@example.it", "b@example.it"])).status_code == 201
        assert sb.balance == 0


def test_sendings_receipts_and_pending_deliveries_survive_a_restart(tmp_path: Path) -> None:
    db = tmp_path / "sandbox.db"
    with make_sandbox(db_path=db) as sb:
        box_id = new_box(sb)
        sb.set_massiva_password(box_id, "kept")
        with massiva_http(sb) as http:
            code = http.post("/send", json=send_body(sb, "a@example.it")).json()["message_id"]
        balance = sb.balance
    with make_sandbox(db_path=db, clock=ManualClock(0)) as again, massiva_http(again) as http:
        assert again.massiva_credentials(SENDER) == (SENDER, "kept")
        headers = auth_headers(again)
        assert objects(http.get(f"/send/{code}", headers=headers).json()) == ["ACCETTAZIONE"]
        # the clock came back with the state: the same second still refuses a second send
        assert http.post("/send", json=send_body(again, "b@example.it")).status_code == 429
        assert again.balance == balance
        assert again.pending == 1
        again.advance(None)
        assert objects(http.get(f"/send/{code}", headers=headers).json()) == [
            "ACCETTAZIONE",
            "POSTA CERTIFICATA",
            "CONSEGNA",
        ]
        message_id = http.get("/inbox", headers=headers).json()["data"][0]["id"]
        http.delete(f"/inbox/{message_id}", headers=headers)
    with make_sandbox(db_path=db) as third, massiva_http(third) as http:
        left = http.get("/inbox", headers=auth_headers(third)).json()
        assert [m["object"].split(":")[0] for m in left["data"]] == ["CONSEGNA"]
        assert [s["code"] for s in third.massiva_sent()] == [code]
        # ids keep growing after a restart: a new receipt never reuses a deleted one's id
        third.advance(1)
        http.post("/send", json=send_body(third, "c@example.it"))
        newest = http.get("/inbox", headers=auth_headers(third)).json()["data"][-1]["id"]
        assert newest == message_id + 2  # after the two of the first sending


def test_a_message_to_oneself_reads_like_the_specs_example(sb: Sandbox, http: httpx.Client) -> None:
    code = http.post("/send", json=send_body(sb, [SENDER], "Invio di prova")).json()["message_id"]
    sb.advance(None)
    headers = auth_headers(sb)
    listed = http.get(f"/send/{code}", headers=headers).json()["data"]
    assert [e["object"] for e in listed] == [
        f"ACCETTAZIONE: Invio di prova {code}",
        f"POSTA CERTIFICATA: Invio di prova {code}",
        f"CONSEGNA: Invio di prova {code}",
    ]
    inbox = http.get("/inbox", headers=headers).json()["data"]
    assert [m["object"] for m in inbox] == [e["object"] for e in listed]
