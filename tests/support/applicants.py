"""The test applicant: one valid registration, and one valid communication, for every suite.

Valid for the client's guards in the sandbox environment (strict checksums included) and for the
sandbox; not the spec's example (the fake API answers with that one, so a test tells the two
apart). Each builder takes changes: ``register_body(tipo="GOLD", cellulare=None)``; a change to
``...`` (Ellipsis) drops the field.
"""

from __future__ import annotations

from typing import Any

ADDRESS = "mario.rossi@testcert.legalmail.it"
NAME = "Mario Rossi"
CODICE_FISCALE = "RSSMRA80A01H501U"

_APPLICANT: dict[str, Any] = {
    "tipo_cliente": "PV",
    "nome_richiedente": "Mario",
    "cognome_richiedente": "Rossi",
    "email": "mario.rossi@example.com",
    "telefono": "0612345678",
    "codice_fiscale_richiedente": CODICE_FISCALE,
    "data_nascita_richiedente": "01/01/1980",
    "sesso_richiedente": "M",
    "nazione_nascita_richiedente": "IT",
    "indirizzo_titolare": "Via Roma 1",
    "comune_titolare": "Roma",
    "cap_titolare": "00184",
    "nazione_titolare": "IT",
    "provincia_titolare": "RM",
}
_COMPANY: dict[str, Any] = {
    "casella_pec": "azienda@pec.example.it",
    "cf": CODICE_FISCALE,
    "nome": "Mario",
    "cognome": "Rossi",
    "qualifica": "LEGALE_RAPPRESENTANTE",
    "email": "mario.rossi@example.com",
    "cellulare": "3331234567",
    "ragione_sociale": "Rossi S.r.l.",
    "cf_piva": "01114601006",
    "comune": "Roma",
    "provincia": "RM",
}


def _changed(fields: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    merged = {**fields, **changes}
    return {key: value for key, value in merged.items() if value is not ...}


def applicant(**changes: Any) -> dict[str, Any]:
    """Who applies for a box: the fields of a registration without ``casella_pec`` and ``tipo_casella``."""
    return _changed(_APPLICANT, changes)


def register_body(address: str = ADDRESS, tipo: str = "BRONZE", **changes: Any) -> dict[str, Any]:
    """A whole ``POST /pec`` body for ``address``, a box of type ``tipo``."""
    return _changed({"casella_pec": address, "tipo_casella": tipo, **_APPLICANT}, changes)


def company(**changes: Any) -> dict[str, Any]:
    """A whole ``POST /comunica_pec`` body: a company's box, communicated by its representative."""
    return _changed(_COMPANY, changes)
