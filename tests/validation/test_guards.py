"""pec_ext.validation (fields, bodies): one example per rule; only ValidationError ever escapes."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pec_api.models.body_post_comunica_pec import BodyPostComunicaPec
from pec_api.models.body_post_multiutenza import BodyPostMultiutenza
from pec_api.models.body_post_pec import BodyPostPec
from pec_ext.enums import SottotipoCliente, TipoCasella, TipoCliente
from pec_ext.errors import ValidationError
from pec_ext.validation import bodies, fields
from tests.support.validation import outcome, refusal

_ROOT = Path(__file__).resolve().parents[2]
_SPEC_CANDIDATES = (
    _ROOT.parent / "shared" / "spec" / "pec.openapi.json",
    Path("/work/shared/spec/pec.openapi.json"),
)

ANYTHING = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.just(5000).map(lambda digits: 10**digits)
    | st.floats()
    | st.text()
    | st.binary()
    | st.dates()
    | st.sampled_from(["", " ", "bronze", "GOLD", "X", "IM", "01/01/2000", "a@b.it", "IT", "00042"]),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=6,
)


def _example(path: str, method: str = "post") -> dict[str, Any]:
    for candidate in _SPEC_CANDIDATES:
        if candidate.exists():
            spec = json.loads(candidate.read_text(encoding="utf-8"))
            body = spec["paths"][path][method]["requestBody"]["content"]["application/json"]["example"]
            return dict(body)
    pytest.skip("the upstream spec is not beside the repo")


def register_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "casella_pec": "mario.rossi@legalmail.it",
        "tipo_casella": "gold",
        "tipo_cliente": "PS",
        "sottotipo_cliente": "pa",
        "nome_richiedente": "Mario",
        "cognome_richiedente": "Rossi",
        "email": "mario@example.com",
        "telefono": "0612345678",
        "codice_fiscale_richiedente": "rssmra80a01h501u",
        "data_nascita_richiedente": dt.date(1980, 1, 1),
        "sesso_richiedente": "m",
        "nazione_nascita_richiedente": "IT",
        "indirizzo_titolare": "Via Verdi 20",
        "comune_titolare": "Roma",
        "cap_titolare": "00042",
        "nazione_titolare": "IT",
        "provincia_titolare": "RM",
        "cf_piva_titolare": "IT01114601006",
        "tipo_documento": "carta_d_identita",
        "data_rilascio_documento": "01/02/2020",
        "data_scadenza_documento": "01/02/2030",
        "autorinnovo": True,
        "callback": {"url": "https://example.com/cb", "method": "json", "field": "data", "data": {"k": [1]}},
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not ...}


# --- normalize_enum -------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["bronze", "BRONZE", " Bronze ", TipoCasella.BRONZE])
def test_normalize_enum_any_case(value: object) -> None:
    assert fields.normalize_enum("tipo_casella", value, TipoCasella) is TipoCasella.BRONZE


@pytest.mark.parametrize("value", ["", None, "  "])
def test_normalize_enum_optional_blank(value: object) -> None:
    assert fields.normalize_enum("tipo_documento", value, TipoCasella, optional=True) is None
    error = refusal(fields.normalize_enum, "tipo_casella", value, TipoCasella)
    assert error.reason == "required"


@pytest.mark.parametrize("value", ["platinum", 1, b"GOLD", ["GOLD"], "GOLD\x00"])
def test_normalize_enum_refuses_listing_allowed(value: object) -> None:
    error = refusal(fields.normalize_enum, "tipo_casella", value, TipoCasella)
    assert error.field == "tipo_casella"
    assert "tipo_casella" in str(error)
    for member in TipoCasella:
        assert member.value in str(error.allowed)


# --- sottotipo ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tipo", "sotto", "altro", "expected"),
    [
        ("IM", "in", None, (TipoCliente.IM, SottotipoCliente.IN, None)),
        ("ps", "PA", "", (TipoCliente.PS, SottotipoCliente.PA, None)),
        ("PL", "LC", None, (TipoCliente.PL, SottotipoCliente.LC, None)),
        ("PL", "x", "Unione di comuni", (TipoCliente.PL, SottotipoCliente.X, "Unione di comuni")),
        ("IM", "", None, (TipoCliente.IM, None, None)),
        ("PV", "", "", (TipoCliente.PV, None, None)),
        ("X", None, None, (TipoCliente.X, None, None)),
    ],
)
def test_sottotipo_accepts(tipo: str, sotto: object, altro: object, expected: tuple[object, ...]) -> None:
    assert fields.check_sottotipo(tipo, sotto, altro) == expected


@pytest.mark.parametrize(
    ("tipo", "sotto", "altro", "field"),
    [
        ("IM", "PA", None, "sottotipo_cliente"),  # a professional subtype for a company
        ("PS", "LC", None, "sottotipo_cliente"),
        ("PV", "SI", None, "sottotipo_cliente"),  # private persons take no subtype
        ("PC", "X", None, "sottotipo_cliente"),
        ("IM", "ZZ", None, "sottotipo_cliente"),
        ("IM", "X", "", "sottotipo_cliente_altro"),  # X needs a description
        ("IM", "IN", "something", "sottotipo_cliente_altro"),  # a description of nothing
        ("QQ", "", None, "tipo_cliente"),
    ],
)
def test_sottotipo_refuses(tipo: str, sotto: object, altro: object, field: str) -> None:
    error = refusal(fields.check_sottotipo, tipo, sotto, altro)
    assert error.field == field
    assert error.allowed


def test_sottotipo_error_lists_the_subtypes_of_the_type() -> None:
    error = refusal(fields.check_sottotipo, "PS", "LC")
    assert error.allowed is not None
    assert set(str(error.allowed).split(", ")) == {"PC", "PR", "PN", "PT", "PA", "PL", "X"}


# --- box address ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "tipo", "env"),
    [
        ("Prova@LegalMail.it", "STANDARD", "production"),
        ("prova.pec@legalmail.it", "gold", "production"),
        ("prova@domiciliodigitale.com", "DOMICILIODIGITALE", "production"),
        ("prova@pecmassiva.com", "PECMASSIVA", "production"),
        ("prova@testcert.legalmail.it", "bronze", "sandbox"),
        ("prova@testcert.legalmail.it", "PECMASSIVA", "sandbox"),
        ("prova@test.domiciliodigitale.com", "DOMICILIODIGITALE", "Sandbox"),
    ],
)
def test_box_address_accepts(address: str, tipo: str, env: str) -> None:
    assert fields.check_box_address(address, tipo, env) == address.lower()


@pytest.mark.parametrize(
    ("address", "tipo", "env"),
    [
        ("prova@legalmail.it", "DOMICILIODIGITALE", "production"),
        ("prova@pecmassiva.com", "GOLD", "production"),
        ("prova@legalmail.it", "GOLD", "sandbox"),
        ("prova@testcert.legalmail.it", "GOLD", "production"),
        ("prova@testcert.legalmail.it", "DOMICILIODIGITALE", "sandbox"),
        ("prova@gmail.com", "STANDARD", "production"),
        ("prova@legalmail.it.evil.com", "STANDARD", "production"),
    ],
)
def test_box_address_wrong_domain(address: str, tipo: str, env: str) -> None:
    error = refusal(fields.check_box_address, address, tipo, env)
    assert error.field == "casella_pec"
    assert "@" in str(error.allowed)
    assert fields.allowed_box_domains(tipo, env) in str(error.allowed)


@pytest.mark.parametrize(
    "address",
    [
        "",
        "prova",
        "pro va@legalmail.it",
        "a@@legalmail.it",
        ".a@legalmail.it",
        "a..b@legalmail.it",
        "à@legalmail.it",
        42,
    ],
)
def test_box_address_bad_syntax(address: object) -> None:
    error = refusal(fields.check_box_address, address, "STANDARD", "production")
    assert error.field == "casella_pec"


def test_box_address_own_domain_checks_only_syntax() -> None:
    assert fields.check_box_address("info@pec.azienda.it", "GOLD", "production", own_domain=True) == (
        "info@pec.azienda.it"
    )
    assert fields.check_box_address("info@legalmail.it", "GOLD", "production", own_domain=True)
    refusal(fields.check_box_address, "info@@pec.azienda.it", "GOLD", "production", own_domain=True)
    # Nobody owns the provider's other domains.
    refusal(fields.check_box_address, "info@pecmassiva.com", "GOLD", "production", own_domain=True)


def test_box_address_environment_checked() -> None:
    error = refusal(fields.check_box_address, "a@legalmail.it", "GOLD", "staging")
    assert error.field == "environment"
    assert "sandbox" in str(error.allowed)


# --- upgrade, years, dates, CAP, e-mail, callback -------------------------------------------


@pytest.mark.parametrize(
    ("current", "new"),
    [("STANDARD", "bronze"), ("standard", "GOLD"), ("BRONZE", "SILVER"), ("SILVER", "gold")],
)
def test_upgrade_accepts(current: str, new: str) -> None:
    assert fields.check_upgrade(current, new) is TipoCasella(new.upper())


@pytest.mark.parametrize(
    ("current", "new", "field"),
    [
        ("GOLD", "SILVER", "tipo_casella"),
        ("SILVER", "SILVER", "tipo_casella"),
        ("GOLD", "GOLD", "tipo_casella"),
        ("STANDARD", "PECMASSIVA", "tipo_casella"),
        ("DOMICILIODIGITALE", "GOLD", "tipo_casella (current)"),
        ("PECMASSIVA", "GOLD", "tipo_casella (current)"),
        ("STANDARD", "PLATINUM", "tipo_casella"),
    ],
)
def test_upgrade_refuses(current: str, new: str, field: str) -> None:
    error = refusal(fields.check_upgrade, current, new)
    assert error.field == field
    assert error.allowed


def test_upgrade_lists_the_higher_types() -> None:
    assert refusal(fields.check_upgrade, "SILVER", "BRONZE").allowed == "GOLD"


def test_service_allowed() -> None:
    assert fields.check_service_allowed("gold", "multiutenza") is TipoCasella.GOLD
    error = refusal(fields.check_service_allowed, "PECMASSIVA", "multiutenza")
    assert "multiutenza" in str(error)


@pytest.mark.parametrize("years", [1, 2, 10])
def test_years_accepts(years: int) -> None:
    assert fields.check_years(years) == years


@pytest.mark.parametrize("years", [0, -1, True, False, 1.0, "1", None])
def test_years_refuses(years: object) -> None:
    error = refusal(fields.check_years, years)
    assert error.field == "anni"
    assert ">= 1" in str(error.allowed)


def test_years_maximum() -> None:
    assert fields.check_years(3, maximum=3) == 3
    refusal(fields.check_years, 4, maximum=3)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("11/04/1982", "11/04/1982"),
        ("29/02/2024", "29/02/2024"),
        (dt.date(1982, 4, 1), "01/04/1982"),
        (dt.datetime(2001, 12, 31, 23, 59), "31/12/2001"),
    ],
)
def test_date_accepts(value: object, expected: str) -> None:
    assert fields.check_date("data", value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "31/02/2020",
        "29/02/2023",
        "1982-04-11",
        "1/4/1982",
        "11/04/82",
        "00/01/2000",
        "11/13/2000",
        "",
        19820411,
        "١١/٠٤/١٩٨٢",
    ],
)
def test_date_refuses(value: object) -> None:
    error = refusal(fields.check_date, "data_nascita_richiedente", value)
    assert error.field == "data_nascita_richiedente"
    assert "dd/mm/yyyy" in str(error.allowed)


def test_cap() -> None:
    assert fields.check_cap("cap_titolare", " 00042 ") == "00042"
    for bad in ("0042", "000420", "OO042", 42, 42000, "", None):
        error = refusal(fields.check_cap, "cap_titolare", bad)
        assert error.field == "cap_titolare"
        assert "five digits" in str(error.allowed)


def test_email() -> None:
    assert fields.check_email("email", " Mario.Rossi+pec@Example.COM ") == "Mario.Rossi+pec@example.com"
    for bad in ("mario", "mario@", "@example.com", "mario@example", "mario@ex ample.com", "a@b.c"):
        assert refusal(fields.check_email, "email", bad).field == "email"


def test_callback() -> None:
    assert fields.check_callback("callback", {"url": "https://x.it/cb", "method": "post"}) == {
        "url": "https://x.it/cb",
        "method": "POST",
    }
    for bad, field in [
        ({"url": "ftp://x.it"}, "callback.url"),
        ({"url": "https://"}, "callback.url"),
        ({}, "callback.url"),
        ({"url": "https://x.it", "method": "GET"}, "callback.method"),
        ({"url": "https://x.it", "data": {"k": b"bytes"}}, "callback.data"),
        ({"url": "https://x.it", "data": "text"}, "callback.data"),
        ({"url": "https://x.it", "uri": "typo"}, "callback"),
        ("https://x.it", "callback"),
    ]:
        assert refusal(fields.check_callback, "callback", bad).field == field


# --- request bodies -------------------------------------------------------------------------


def test_register_body_normalized() -> None:
    body = bodies.validate_register_body(register_body(), environment="production")
    assert body["tipo_casella"] == "GOLD"
    assert body["tipo_cliente"] == "PS"
    assert body["sottotipo_cliente"] == "PA"
    assert body["sesso_richiedente"] == "M"
    assert body["tipo_documento"] == "CARTA_D_IDENTITA"
    assert body["codice_fiscale_richiedente"] == "RSSMRA80A01H501U"
    assert body["cf_piva_titolare"] == "01114601006"
    assert body["data_nascita_richiedente"] == "01/01/1980"
    assert body["callback"]["method"] == "JSON"
    assert "sottotipo_cliente_altro" not in body


def test_register_spec_example_passes_relaxed_in_sandbox() -> None:
    example = _example("/pec")
    body = bodies.validate_register_body(example, environment="sandbox", strict_identifiers=False)
    assert body["tipo_casella"] == "BRONZE"
    # Unset optional values ("") are dropped, not sent.
    for key in ("sottotipo_cliente", "sottotipo_cliente_altro", "denominazione_titolare", "cf_piva_titolare"):
        assert key not in body
    # ... but its codice fiscale is not a real one.
    error = refusal(bodies.validate_register_body, example, environment="sandbox")
    assert error.field == "codice_fiscale_richiedente"


def test_register_spec_example_refused_in_production() -> None:
    error = refusal(
        bodies.validate_register_body, _example("/pec"), environment="production", strict_identifiers=False
    )
    assert error.field == "casella_pec"


_REQUIRED = [
    "casella_pec",
    "tipo_casella",
    "tipo_cliente",
    "nome_richiedente",
    "cognome_richiedente",
    "email",
    "telefono",
    "codice_fiscale_richiedente",
    "data_nascita_richiedente",
    "sesso_richiedente",
    "nazione_nascita_richiedente",
    "indirizzo_titolare",
    "comune_titolare",
    "cap_titolare",
    "nazione_titolare",
    "provincia_titolare",
]


@pytest.mark.parametrize("missing", _REQUIRED)
@pytest.mark.parametrize("how", [..., None, ""])
def test_register_required_fields(missing: str, how: object) -> None:
    error = refusal(bodies.validate_register_body, register_body(**{missing: how}), environment="production")
    assert error.field == missing


@pytest.mark.parametrize(
    ("known", "model"),
    [
        (bodies.REGISTER_FIELDS, BodyPostPec),
        (bodies.COMMUNICATION_FIELDS, BodyPostComunicaPec),
        (bodies.USER_FIELDS, BodyPostMultiutenza),
    ],
)
def test_each_body_s_fields_are_the_spec_s(known: tuple[str, ...], model: type) -> None:
    """The one list of a body's fields (its TypedDict in pec_ext.types) is the spec's body, whole."""
    assert set(known) == {f.name for f in attrs.fields(model)} - {"additional_properties"}
    assert len(set(known)) == len(known)


def test_register_required_is_what_the_guard_refuses_to_do_without() -> None:
    assert set(bodies.REGISTER_REQUIRED) == set(_REQUIRED)
    full = register_body()
    for key in bodies.REGISTER_FIELDS:
        without = {k: v for k, v in full.items() if k != key}
        error = outcome(bodies.validate_register_body, without, environment="production")[1]
        assert (error is not None) == (key in bodies.REGISTER_REQUIRED), key


@pytest.mark.parametrize(
    ("address", "env", "expected"),
    [
        ("a@testcert.legalmail.it", "sandbox", None),
        ("a@test.domiciliodigitale.com", "sandbox", None),
        ("a@legalmail.it", "production", None),
        ("a@gmail.com", "sandbox", "own_domain"),
        ("a@legalmail.it", "sandbox", "belongs to the other environment"),
        ("a@testcert.legalmail.it", "production", "@legalmail.it (STANDARD, BRONZE, SILVER, GOLD)"),
    ],
)
def test_registration_refusal_follows_the_box_domains(address: str, env: str, expected: str | None) -> None:
    why = fields.registration_refusal(address, env)
    if expected is None:
        assert why is None
        return
    assert why is not None
    assert expected in why
    # what it says is what register does: every type is refused for that address
    for tipo in TipoCasella:
        assert refusal(fields.check_box_address, address, tipo, env).field == "casella_pec"


def test_register_required_list_matches_spec() -> None:
    for candidate in _SPEC_CANDIDATES:
        if candidate.exists():
            spec = json.loads(candidate.read_text(encoding="utf-8"))
            assert set(spec["components"]["schemas"]["BodyPostPec"]["required"]) == set(_REQUIRED)
            return
    pytest.skip("the upstream spec is not beside the repo")


@pytest.mark.dates
@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"codice_fiscale": "RSSMRA80A01H501U"}, "body"),  # misspelt key
        ({"tipo_casella": "platinum"}, "tipo_casella"),
        ({"casella_pec": "mario@pecmassiva.com"}, "casella_pec"),
        ({"sottotipo_cliente": "LC"}, "sottotipo_cliente"),
        ({"sesso_richiedente": "X"}, "sesso_richiedente"),
        ({"email": "not-an-email"}, "email"),
        ({"data_nascita_richiedente": "31/02/1980"}, "data_nascita_richiedente"),
        ({"data_nascita_richiedente": "01/01/2999"}, "data_nascita_richiedente"),
        ({"cap_titolare": "42"}, "cap_titolare"),
        ({"cf_piva_titolare": "12345678910"}, "cf_piva_titolare"),
        ({"tipo_documento": "tessera"}, "tipo_documento"),
        ({"data_scadenza_documento": "2030-02-01"}, "data_scadenza_documento"),
        ({"data_rilascio_documento": "02/02/2031"}, "data_rilascio_documento"),
        ({"autorinnovo": "yes"}, "autorinnovo"),
        ({"callback": {"url": "javascript:alert(1)"}}, "callback.url"),
        ({"nome_richiedente": "Mario\nRossi"}, "nome_richiedente"),
        ({"telefono": 612345678}, "telefono"),
    ],
)
def test_register_refusals(changes: dict[str, Any], field: str) -> None:
    error = refusal(bodies.validate_register_body, register_body(**changes), environment="production")
    assert error.field == field
    assert field in str(error)


def test_register_reports_every_bad_field_at_once() -> None:
    body = register_body(
        tipo_casella="platinum",
        nome_richiedente="",
        sesso_richiedente="X",
        cap_titolare="42",
        telefonno="0612345678",
    )
    del body["email"]
    error = refusal(bodies.validate_register_body, body, environment="production")
    assert set(error.fields) == {
        "body",
        "tipo_casella",
        "nome_richiedente",
        "email",
        "sesso_richiedente",
        "cap_titolare",
    }
    assert len(error.errors) == 6
    assert all(isinstance(single, ValidationError) and single.errors == (single,) for single in error.errors)
    text = str(error)
    assert text.startswith("6 fields are not valid:")
    for single in error.errors:
        assert f"  - {single}" in text
    assert "did you mean 'telefonno' -> telefono?" in text
    assert "allowed: M, F" in text
    # the first refusal's details stay on the error itself, as for a single field
    assert (error.field, error.value) == (error.errors[0].field, error.errors[0].value)


def test_one_bad_field_is_a_plain_single_field_error() -> None:
    error = refusal(bodies.validate_register_body, register_body(cap_titolare="42"), environment="production")
    assert error.errors == (error,)
    assert error.fields == ("cap_titolare",)
    assert str(error) == "cap_titolare: '42' is not valid (allowed: five digits, e.g. 00042)"


def test_combine_flattens_and_keeps_a_single_error() -> None:
    a, b, c = (ValidationError(name, 1, "x") for name in "abc")
    assert ValidationError.combine([a]) is a
    both = ValidationError.combine([a, b])
    assert ValidationError.combine([both, c]).fields == ("a", "b", "c")
    with pytest.raises(ValueError, match="at least one"):
        ValidationError.combine([])


def test_communication_and_user_bodies_report_every_bad_field() -> None:
    comm = refusal(
        bodies.validate_communication_body,
        {"casella_pec": "x", "qualifica": "boss", "nome": "Mario"},
        strict_identifiers=False,
    )
    assert {"casella_pec", "qualifica", "cf", "cognome", "email"} <= set(comm.fields)
    assert "nome" not in comm.fields
    user = refusal(bodies.validate_user_body, {"nome": "Anna", "email_gestione_password": "nope"})
    assert user.fields == ("cognome", "descrizione", "email_gestione_password")


def test_register_foreign_holder_cap() -> None:
    body = bodies.validate_register_body(
        register_body(nazione_titolare="FR", cap_titolare="75001 Paris", provincia_titolare="EE"),
        environment="production",
    )
    assert body["cap_titolare"] == "75001 Paris"


def test_register_own_domain() -> None:
    body = register_body(casella_pec="info@pec.azienda.it")
    refusal(bodies.validate_register_body, body, environment="production")
    out = bodies.validate_register_body(body, environment="production", own_domain=True)
    assert out["casella_pec"] == "info@pec.azienda.it"


def test_register_body_is_not_a_mapping() -> None:
    assert refusal(bodies.validate_register_body, ["casella_pec"], environment="sandbox").field == "body"


def test_communication_body() -> None:
    example = _example("/comunica_pec")
    body = bodies.validate_communication_body(
        {**example, "qualifica": "legale_rappresentante"}, strict_identifiers=False
    )
    assert body["qualifica"] == "LEGALE_RAPPRESENTANTE"
    assert body["pec_amministratore"] is False
    # The example's partita IVA has a wrong check digit.
    assert refusal(bodies.validate_communication_body, example).field == "cf_piva"
    ok = bodies.validate_communication_body({**example, "cf_piva": "01114601006"})
    assert ok["cf"] == "RSSMRA80A01L117D"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"qualifica": "presidente"}, "qualifica"),
        ({"cf": "01114601006X"}, "cf"),
        ({"casella_pec": "mypec"}, "casella_pec"),
        ({"email": ""}, "email"),
        ({"ragione_sociale": None}, "ragione_sociale"),
        ({"pec_amministratore": "false"}, "pec_amministratore"),
        ({"extra": 1}, "body"),
    ],
)
def test_communication_refusals(changes: dict[str, Any], field: str) -> None:
    body = {**_example("/comunica_pec"), "cf_piva": "01114601006", **changes}
    assert refusal(bodies.validate_communication_body, body).field == field


def test_user_body() -> None:
    example = _example("/pec/{id}/multiutenza")
    assert bodies.validate_user_body(example) == example
    for key in example:
        assert refusal(bodies.validate_user_body, {**example, key: ""}).field == key
    assert refusal(bodies.validate_user_body, {**example, "email_gestione_password": "x"}).field == (
        "email_gestione_password"
    )


# --- properties: nothing but ValidationError ------------------------------------------------


def _check_error(error: ValidationError | None, fields: set[str] | None = None) -> None:
    if error is None:
        return
    assert isinstance(error.field, str)
    assert error.field
    assert error.field.split(".")[0].split(" ")[0] in str(error)
    if fields is not None:
        assert error.field.split(".")[0].split(" ")[0] in fields
    # no value is copied whole into a message: each field's part stays short
    assert all(len(str(single)) < 2000 for single in error.errors)
    assert len(str(error)) <= sum(len(str(single)) + 8 for single in error.errors) + 40


@given(value=ANYTHING, optional=st.booleans())
def test_normalize_enum_total(value: object, optional: bool) -> None:
    result, error = outcome(fields.normalize_enum, "f", value, TipoCasella, optional=optional)
    _check_error(error, {"f"})
    if error is None:
        assert result is None or isinstance(result, TipoCasella)


@given(a=ANYTHING, b=ANYTHING, c=ANYTHING)
def test_sottotipo_total(a: object, b: object, c: object) -> None:
    _result, error = outcome(fields.check_sottotipo, a, b, c)
    _check_error(error, {"tipo_cliente", "sottotipo_cliente", "sottotipo_cliente_altro"})


@given(address=ANYTHING | st.emails(), tipo=ANYTHING | st.sampled_from(list(TipoCasella)), own=st.booleans())
def test_box_address_total(address: object, tipo: object, own: bool) -> None:
    _result, error = outcome(fields.check_box_address, address, tipo, "sandbox", own)
    _check_error(error)


@given(a=ANYTHING, b=ANYTHING)
def test_upgrade_total(a: object, b: object) -> None:
    _result, error = outcome(fields.check_upgrade, a, b)
    _check_error(error)


@given(value=ANYTHING)
def test_single_value_guards_total(value: object) -> None:
    for function, args in [
        (fields.check_years, (value,)),
        (fields.check_date, ("d", value)),
        (fields.check_cap, ("c", value)),
        (fields.check_email, ("e", value)),
        (fields.check_text, ("t", value)),
        (fields.check_callback, ("callback", value)),
        (fields.check_environment, (value,)),
        (fields.check_service_allowed, (value, "x")),
    ]:
        _result, error = outcome(function, *args)
        _check_error(error)


_BODY_KEYS = st.sampled_from(
    [
        *_REQUIRED,
        "sottotipo_cliente",
        "sottotipo_cliente_altro",
        "callback",
        "autorinnovo",
        "cf_piva_titolare",
        "x",
    ]
)


@settings(max_examples=150)
@given(
    changes=st.dictionaries(_BODY_KEYS, ANYTHING, max_size=4),
    env=st.sampled_from(["sandbox", "production"]),
    strict=st.booleans(),
    own=st.booleans(),
)
def test_register_body_total(changes: dict[str, Any], env: str, strict: bool, own: bool) -> None:
    result, error = outcome(
        bodies.validate_register_body,
        register_body(**changes),
        environment=env,
        strict_identifiers=strict,
        own_domain=own,
    )
    _check_error(error)
    if error is None:
        assert all(value not in (None, "") for value in result.values())
        json.dumps(result)


@given(body=ANYTHING)
def test_bodies_total_on_garbage(body: object) -> None:
    for function, kwargs in [
        (bodies.validate_register_body, {"environment": "sandbox"}),
        (bodies.validate_communication_body, {}),
        (bodies.validate_user_body, {}),
    ]:
        _result, error = outcome(function, body, **kwargs)
        _check_error(error)


@given(
    changes=st.dictionaries(
        st.sampled_from(["cf", "cf_piva", "qualifica", "email", "nome", "callback"]), ANYTHING
    )
)
def test_communication_body_total(changes: dict[str, Any]) -> None:
    base = {
        "casella_pec": "mypec@pec.com",
        "cf": "RSSMRA80A01L117D",
        "nome": "mario",
        "cognome": "rossi",
        "qualifica": "SOCIO",
        "email": "mail@domain.com",
        "cellulare": "3400000018",
        "ragione_sociale": "azienda test",
        "cf_piva": "01114601006",
        "comune": "roma",
        "provincia": "RM",
    }
    _result, error = outcome(bodies.validate_communication_body, {**base, **changes})
    _check_error(error)
