"""Every documented refusal: status, ``error`` code and message, and nothing changes or is charged."""

from __future__ import annotations

from typing import Any

import pytest

from pec_ext.sandbox import Sandbox
from tests.support.http_stack import httpx
from tests.support.sandbox import assert_error, box_body, comm_body, p7m_doc, pdf_doc

UNKNOWN = "0123456789abcdef01234567"
USER = {"nome": "a", "cognome": "b", "descrizione": "c", "email_gestione_password": "a@b.it"}


@pytest.fixture
def ids(sb: Sandbox, http: httpx.Client) -> dict[str, str]:
    """One record in each interesting state."""
    sb.balance = 1000

    def box(address: str, tipo: str = "BRONZE") -> str:
        response = http.post("/pec", json=box_body(address, tipo))
        assert response.status_code == 200, response.text
        return str(response.json()["data"]["id"])

    def activate(box_id: str) -> None:
        http.patch(f"/pec/{box_id}/attivazione", json={"documenti": pdf_doc()})

    out = {
        "registrata": box("reg@testcert.legalmail.it"),
        "evasa": box("eva@testcert.legalmail.it"),
        "conserv": box("con@testcert.legalmail.it"),
        "revocata": box("rev@testcert.legalmail.it"),
        "special": box("dd@test.domiciliodigitale.com", "DOMICILIODIGITALE"),
        "massiva": box("mass@testcert.legalmail.it", "PECMASSIVA"),
        "full": box("full@testcert.legalmail.it", "GOLD"),
    }
    for name in ("evasa", "conserv", "revocata", "special", "massiva", "full"):
        activate(out[name])
    out["comm_new"] = http.post("/comunica_pec", json=comm_body()).json()["data"]["id"]
    sb.advance(0)  # everything queued so far
    out["in_evasione"] = box("inev@testcert.legalmail.it")
    activate(out["in_evasione"])
    out["comm_wait"] = out["comm_new"]
    out["comm_new"] = http.post("/comunica_pec", json=comm_body()).json()["data"]["id"]
    http.patch(f"/pec/{out['conserv']}/conservazione", json={"documenti": pdf_doc()})
    http.delete(f"/pec/{out['revocata']}")
    for _ in range(25):
        http.post(f"/pec/{out['full']}/multiutenza", json=USER)
    return out


RAW_BOX = box_body()
CASES: list[tuple[str, str, Any, int, int, str]] = [
    # POST /pec
    (
        "POST",
        "/pec",
        {k: v for k, v in RAW_BOX.items() if k != "tipo_casella"},
        428,
        224,
        "tipo_casella required",
    ),
    (
        "POST",
        "/pec",
        {k: v for k, v in RAW_BOX.items() if k != "casella_pec"},
        428,
        207,
        "casella_pec required",
    ),
    ("POST", "/pec", box_body(telefono=""), 428, 906, "telefono required"),
    ("POST", "/pec", box_body(tipo="bronze"), 406, 904, "tipo_casella not valid"),
    ("POST", "/pec", box_body(tipo_cliente="ZZ"), 406, 904, "tipo_cliente not valid"),
    (
        "POST",
        "/pec",
        box_body(data_nascita_richiedente="1982-04-11"),
        406,
        242,
        "data_nascita_richiedente not valid, accepted format: dd/mm/yyyy",
    ),
    (
        "POST",
        "/pec",
        box_body(data_nascita_richiedente="31/02/1982"),
        406,
        242,
        "data_nascita_richiedente not valid, accepted format: dd/mm/yyyy",
    ),
    (
        "POST",
        "/pec",
        box_body("x@legalmail.it"),
        404,
        326,
        "the domain legalmail.it is non-existent in the system or belongs to someone else",
    ),
    (
        "POST",
        "/pec",
        box_body("x@testcert.legalmail.it", "DOMICILIODIGITALE"),
        404,
        326,
        "the domain testcert.legalmail.it is non-existent in the system or belongs to someone else",
    ),
    (
        "POST",
        "/pec",
        box_body("eva@testcert.legalmail.it"),
        406,
        901,
        "casella_pec eva@testcert.legalmail.it is already registered",
    ),
    ("POST", "/pec", box_body("not an address"), 406, 208, "invalid casella_pec"),
    ("POST", "/pec", box_body(callback="https://x"), 406, 903, "callback not valid"),
    ("POST", "/pec", box_body(callback={"url": "ftp://x"}), 406, 903, "callback not valid"),
    ("POST", "/pec", box_body(callback={"url": "https://x", "data": [1]}), 406, 903, "callback not valid"),
    ("POST", "/pec", [1, 2], 400, 920, "the request body must be a JSON object"),
    # GET /pec/{id}
    ("GET", "/pec/123", None, 400, 201, "Wrong id"),
    ("GET", f"/pec/{UNKNOWN}", None, 404, 202, "no pec found"),
    # DELETE /pec/{id}
    ("DELETE", "/pec/xyz", None, 400, 301, "Wrong id"),
    ("DELETE", f"/pec/{UNKNOWN}", None, 404, 302, "no pec found"),
    ("DELETE", "/pec/{revocata}", None, 406, 303, "your pec has already been revoked"),
    ("DELETE", "/pec/{registrata}", None, 428, 304, "you can revoke the pec only if it is active"),
    ("DELETE", "/pec/{in_evasione}", None, 428, 304, "you can revoke the pec only if it is active"),
    # attivazione
    ("PATCH", "/pec/nope/attivazione", {"documenti": pdf_doc()}, 400, 265, "Wrong id"),
    ("PATCH", f"/pec/{UNKNOWN}/attivazione", {"documenti": pdf_doc()}, 404, 266, "no pec found"),
    (
        "PATCH",
        "/pec/{evasa}/attivazione",
        {"documenti": pdf_doc()},
        428,
        267,
        "you can activate the pec only when it is in the 'registrata|documenti_errati' state",
    ),
    (
        "PATCH",
        "/pec/{in_evasione}/attivazione",
        {"documenti": pdf_doc()},
        428,
        267,
        "you can activate the pec only when it is in the 'registrata|documenti_errati' state",
    ),
    (
        "PATCH",
        "/pec/{registrata}/attivazione",
        {"documenti": "aGVsbG8="},
        406,
        296,
        "wrong file format, pdf required",
    ),
    (
        "PATCH",
        "/pec/{registrata}/attivazione",
        {"documenti": [pdf_doc(), "!!"]},
        406,
        296,
        "wrong file format, pdf required",
    ),
    ("PATCH", "/pec/{registrata}/attivazione", {}, 428, 907, "documenti required"),
    # modifica
    (
        "PATCH",
        "/pec/{special}/modifica",
        {"spazio_disco": "+1024"},
        428,
        390,
        "this service cannot be activated on these boxes: DOMICILIODIGITALE|PECMASSIVA",
    ),
    (
        "PATCH",
        "/pec/{massiva}/modifica",
        {"spazio_disco": "+1024"},
        428,
        390,
        "this service cannot be activated on these boxes: DOMICILIODIGITALE|PECMASSIVA",
    ),
    (
        "PATCH",
        "/pec/{registrata}/modifica",
        {"spazio_disco": "+1024"},
        428,
        909,
        "you can change the pec only if it has been processed",
    ),
    (
        "PATCH",
        "/pec/{evasa}/modifica",
        {},
        428,
        910,
        "spazio_disco, spazio_storico or spazio_conservazione required",
    ),
    (
        "PATCH",
        "/pec/{evasa}/modifica",
        {"spazio_disco": "+1000"},
        406,
        325,
        "the system only takes into account multiples of 1024",
    ),
    (
        "PATCH",
        "/pec/{evasa}/modifica",
        {"spazio_storico": "lots"},
        406,
        325,
        "the system only takes into account multiples of 1024",
    ),
    (
        "PATCH",
        "/pec/{conserv}/modifica",
        {"spazio_conservazione": 700},
        406,
        325,
        "the system only takes into account multiples of 512",
    ),
    (
        "PATCH",
        "/pec/{evasa}/modifica",
        {"spazio_conservazione": "+512"},
        428,
        282,
        "you must first activate the 'conservazione' service",
    ),
    (
        "PATCH",
        "/pec/{evasa}/modifica",
        {"spazio_disco": 0},
        406,
        902,
        "only a space upgrade is allowed: spazio_disco",
    ),
    ("PATCH", f"/pec/{UNKNOWN}/modifica", {"spazio_disco": 1024}, 404, 266, "no pec found"),
    # conservazione
    ("PATCH", "/pec/{evasa}/conservazione", {}, 428, 294, "documenti required"),
    (
        "PATCH",
        "/pec/{evasa}/conservazione",
        {"documenti": "aGVsbG8="},
        406,
        296,
        "wrong file format, pdf required",
    ),
    (
        "PATCH",
        "/pec/{evasa}/conservazione",
        {"documenti": pdf_doc(), "spazio_conservazione": 100},
        406,
        325,
        "the system only takes into account multiples of 512",
    ),
    (
        "PATCH",
        "/pec/{conserv}/conservazione",
        {"documenti": pdf_doc()},
        406,
        293,
        "conservazione service is already active",
    ),
    (
        "PATCH",
        "/pec/{special}/conservazione",
        {"documenti": pdf_doc()},
        428,
        390,
        "this service cannot be activated on these boxes: DOMICILIODIGITALE|PECMASSIVA",
    ),
    (
        "PATCH",
        "/pec/{registrata}/conservazione",
        {"documenti": pdf_doc()},
        428,
        909,
        "you can change the pec only if it has been processed",
    ),
    # trasformazione
    (
        "PATCH",
        "/pec/{registrata}/trasformazione",
        {"tipo_casella": "GOLD"},
        428,
        272,
        "you can trasform your certified mail only if it has been processed",
    ),
    (
        "PATCH",
        "/pec/{evasa}/trasformazione",
        {"tipo_casella": "STANDARD"},
        406,
        276,
        "a downgrade of the 'tipo_casella' is not allowed; only SILVER or GOLD allowed",
    ),
    (
        "PATCH",
        "/pec/{evasa}/trasformazione",
        {"tipo_casella": "BRONZE"},
        406,
        276,
        "a downgrade of the 'tipo_casella' is not allowed; only SILVER or GOLD allowed",
    ),
    (
        "PATCH",
        "/pec/{full}/trasformazione",
        {"tipo_casella": "SILVER"},
        406,
        276,
        "a downgrade of the 'tipo_casella' is not allowed; only none allowed",
    ),
    ("PATCH", "/pec/{evasa}/trasformazione", {"tipo_casella": "gold"}, 406, 904, "tipo_casella not valid"),
    ("PATCH", "/pec/{evasa}/trasformazione", {}, 428, 906, "tipo_casella required"),
    (
        "PATCH",
        "/pec/{special}/trasformazione",
        {"tipo_casella": "GOLD"},
        428,
        390,
        "this service cannot be activated on these boxes: DOMICILIODIGITALE|PECMASSIVA",
    ),
    ("PATCH", "/pec/bad/trasformazione", {"tipo_casella": "GOLD"}, 400, 265, "Wrong id"),
    # rinnovo
    ("GET", "/pec/bad/rinnovo", None, 400, 201, "Wrong id"),
    ("GET", f"/pec/{UNKNOWN}/rinnovo", None, 404, 202, "no pec found"),
    ("GET", "/pec/{registrata}/rinnovo", None, 428, 203, "you can renew only evaded or revoked pec"),
    ("GET", "/pec/{in_evasione}/rinnovo", None, 428, 203, "you can renew only evaded or revoked pec"),
    ("GET", "/pec/{evasa}/rinnovo?anni=0", None, 406, 911, "anni not valid"),
    ("GET", "/pec/{evasa}/rinnovo?anni=two", None, 406, 911, "anni not valid"),
    # multiutenza
    ("POST", "/pec/bad/multiutenza", USER, 400, 212, "Wrong id"),
    ("POST", f"/pec/{UNKNOWN}/multiutenza", USER, 404, 213, "no pec found"),
    (
        "POST",
        "/pec/{special}/multiutenza",
        USER,
        428,
        390,
        "this service cannot be activated on these boxes: DOMICILIODIGITALE|PECMASSIVA",
    ),
    (
        "POST",
        "/pec/{massiva}/multiutenza",
        USER,
        428,
        390,
        "this service cannot be activated on these boxes: DOMICILIODIGITALE|PECMASSIVA",
    ),
    ("POST", "/pec/{full}/multiutenza", USER, 406, 217, "maximum number of users reached: 25"),
    ("POST", "/pec/{evasa}/multiutenza", {**USER, "nome": ""}, 428, 906, "nome required"),
    # domini / verifica
    ("GET", "/domini_pec/", None, 428, 400, "domain required"),
    ("GET", "/domini_pec/not_a_domain", None, 406, 401, "domain not valid"),
    ("GET", "/verifica_pec/", None, 428, 207, "casella_pec required"),
    ("GET", "/verifica_pec/not-an-address", None, 406, 208, "invalid casella_pec"),
    # comunica_pec
    (
        "POST",
        "/comunica_pec",
        {k: v for k, v in comm_body().items() if k != "cf_piva"},
        428,
        344,
        "cf_piva required",
    ),
    ("POST", "/comunica_pec", comm_body(nome=""), 428, 344, "nome required"),
    ("POST", "/comunica_pec", comm_body(casella_pec="nope"), 406, 336, "invalid casella_pec"),
    ("POST", "/comunica_pec", comm_body(qualifica="CAPO"), 406, 904, "qualifica not valid"),
    ("GET", "/comunica_pec/bad", None, 400, 333, "Wrong id"),
    ("GET", f"/comunica_pec/{UNKNOWN}", None, 404, 334, "no request found"),
    ("PATCH", "/comunica_pec/bad", {"documenti": p7m_doc()}, 400, 353, "Wrong id"),
    ("PATCH", f"/comunica_pec/{UNKNOWN}", {"documenti": p7m_doc()}, 404, 354, "no request found"),
    (
        "PATCH",
        "/comunica_pec/{comm_new}",
        {"documenti": p7m_doc()},
        406,
        355,
        "you can only upload documents when stato is 'in_attesa_di_documenti'",
    ),
    ("PATCH", "/comunica_pec/{comm_wait}", {}, 428, 356, "documenti required"),
    (
        "PATCH",
        "/comunica_pec/{comm_wait}",
        {"documenti": pdf_doc()},
        406,
        908,
        "wrong file format, p7m required",
    ),
    (
        "PATCH",
        "/comunica_pec/{comm_wait}",
        {"documenti": "MAMCAQE="},
        406,
        908,
        "wrong file format, p7m required",
    ),
]


@pytest.mark.parametrize(("method", "path", "body", "status", "code", "message"), CASES)
def test_refusal(
    sb: Sandbox,
    http: httpx.Client,
    ids: dict[str, str],
    method: str,
    path: str,
    body: Any,
    status: int,
    code: int,
    message: str,
) -> None:
    before = (sb.balance, len(sb.ledger), sb.mailboxes(), sb.communications(), sb.pending)
    response = http.request(method, path.format(**ids), json=body)
    assert_error(response, status, code, message)
    assert (sb.balance, len(sb.ledger), sb.mailboxes(), sb.communications(), sb.pending) == before


def test_empty_account_lists(http: httpx.Client) -> None:
    assert_error(http.get("/pec"), 404, 200, "no pec linked to this account")
    assert_error(http.get("/comunica_pec"), 404, 332, "no request linked to this account")


@pytest.mark.parametrize(
    ("path", "status", "text"),
    [
        ("/pec/bad/modulo_attivazione", 400, "Invalid id"),
        (f"/pec/{UNKNOWN}/modulo_attivazione", 404, f"no request matches this id: {UNKNOWN}"),
        ("/pec/bad/modulo_conservazione", 400, "Invalid id"),
        (
            "/pec/{registrata}/modulo_conservazione",
            406,
            "you cannot activate conservation if you do not first activate a pec",
        ),
        ("/comunica_pec/bad/procura_registro_imprese", 400, "Invalid id"),
        (f"/comunica_pec/{UNKNOWN}/procura_registro_imprese", 404, f"no request matches this id: {UNKNOWN}"),
        (
            "/comunica_pec/{comm_new}/procura_registro_imprese",
            406,
            "you cannot download this module, it doesn't exist yet",
        ),
    ],
)
def test_form_downloads_refuse_in_plain_text(
    http: httpx.Client, ids: dict[str, str], path: str, status: int, text: str
) -> None:
    response = http.get(path.format(**ids))
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text == text


def test_unknown_routes_and_methods(http: httpx.Client) -> None:
    assert http.get("/nope").status_code == 404
    assert http.put("/pec").status_code == 405
    assert http.get("/pec/").status_code == 404  # trailing slash is the list: empty account
