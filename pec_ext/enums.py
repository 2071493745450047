"""Closed value sets of the PEC API, and tolerant parsing for values read back from it.

Input is normalized strictly (see :func:`pec_ext.validation.fields.normalize_enum`); output from the server
goes through :func:`parse_open`, which never raises, because the server may add values (a new box
type, a new state) before this library learns about them, and reading a response must not break.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from enum import Enum, StrEnum
from typing import Any, TypeVar

__all__ = [
    "ACTIVE_BOX_STATES",
    "LEGALMAIL_TYPES",
    "MEANINGS",
    "SINGLE_DOCUMENT_TYPES",
    "SOTTOTIPI_BY_TIPO_CLIENTE",
    "TERMINAL_BOX_STATES",
    "TERMINAL_COMMUNICATION_STATES",
    "TYPE_RANK",
    "CallbackMethod",
    "Qualifica",
    "SessoRichiedente",
    "SottotipoCliente",
    "StatoCasella",
    "StatoComunicazione",
    "TipoCasella",
    "TipoCliente",
    "TipoDocumento",
    "parse_open",
]

E = TypeVar("E", bound=Enum)


class TipoCasella(StrEnum):
    """Box type (``tipo_casella``)."""

    STANDARD = "STANDARD"
    BRONZE = "BRONZE"
    SILVER = "SILVER"
    GOLD = "GOLD"
    DOMICILIODIGITALE = "DOMICILIODIGITALE"
    PECMASSIVA = "PECMASSIVA"


class TipoCliente(StrEnum):
    """Customer type (``tipo_cliente``)."""

    IM = "IM"  # Impresa
    PS = "PS"  # Professionista
    PL = "PL"  # Pubblica Amministrazione Locale
    PC = "PC"  # Pubblica Amministrazione Centrale
    A = "A"  # Associazione
    PV = "PV"  # Privato
    X = "X"  # Altro


class SottotipoCliente(StrEnum):
    """Customer subtype (``sottotipo_cliente``); which fit which type: :data:`SOTTOTIPI_BY_TIPO_CLIENTE`."""

    # IM, impresa
    SI = "SI"  # servizi imprese
    IN = "IN"  # informatica
    CM = "CM"  # commercio
    TE = "TE"  # telecomunicazioni
    ES = "ES"  # editoria stampa
    ME = "ME"  # meccanica elettrica
    AL = "AL"  # alimentare
    CF = "CF"  # chimica farmaceutica
    ED = "ED"  # edilizia
    TM = "TM"  # tessile moda
    MA = "MA"  # mobili arredamenti
    AR = "AR"  # alberghi ristoranti
    TL = "TL"  # trasporti logistica
    FI = "FI"  # finanza
    # any of IM, PS, PL
    X = "X"  # altro
    # PS, professionista
    PC = "PC"  # commercialista
    PR = "PR"  # ragioniere
    PN = "PN"  # notaio
    PT = "PT"  # tributarista
    PA = "PA"  # avvocato
    PL = "PL"  # consulente lavoro
    # PL, pubblica amministrazione locale
    LR = "LR"  # regione
    LP = "LP"  # provincia
    LC = "LC"  # comune
    LM = "LM"  # comunità montana
    LA = "LA"  # ASL
    LI = "LI"  # CCIAA


class SessoRichiedente(StrEnum):
    """Applicant's sex (``sesso_richiedente``)."""

    M = "M"
    F = "F"


class TipoDocumento(StrEnum):
    """Identity document type (``tipo_documento``)."""

    CARTA_D_IDENTITA = "CARTA_D_IDENTITA"
    PATENTE = "PATENTE"
    PASSAPORTO = "PASSAPORTO"


class Qualifica(StrEnum):
    """Role of the applicant in a communication to the business register (``qualifica``)."""

    AMMINISTRATORE = "AMMINISTRATORE"
    COMMISSARIO_GIUDIZIARIO = "COMMISSARIO_GIUDIZIARIO"
    CURATORE_FALLIMENTARE = "CURATORE_FALLIMENTARE"
    LEGALE_RAPPRESENTANTE = "LEGALE_RAPPRESENTANTE"
    LIQUIDATORE = "LIQUIDATORE"
    SOCIO = "SOCIO"
    TITOLARE = "TITOLARE"


class CallbackMethod(StrEnum):
    """How the server delivers a callback (``callback.method``)."""

    POST = "POST"
    JSON = "JSON"


class StatoCasella(StrEnum):
    """State of a box (``Casella.stato``)."""

    REGISTRATA = "registrata"
    IN_EVASIONE = "in_evasione"
    EVASA = "evasa"
    REVOCATA = "revocata"
    CHIUSA = "chiusa"
    DOCUMENTI_ERRATI = "documenti_errati"
    REGISTRAZIONE_ANNULLATA = "registrazione_annullata"


class StatoComunicazione(StrEnum):
    """State of a communication to the business register (``RichiestaComunicazionePec.stato``)."""

    CODICE_IN_RICHIESTA = "codice_in_richiesta"
    IN_ATTESA_DI_DOCUMENTI = "in_attesa_di_documenti"
    DOCUMENTI_CARICATI = "documenti_caricati"
    COMUNICAZIONE_EVASA = "comunicazione_evasa"


TYPE_RANK: Mapping[TipoCasella, int] = {
    TipoCasella.STANDARD: 0,
    TipoCasella.BRONZE: 1,
    TipoCasella.SILVER: 2,
    TipoCasella.GOLD: 3,
}
"""Order of the upgradable types; a type change may only go up this ladder."""

LEGALMAIL_TYPES: frozenset[TipoCasella] = frozenset(TYPE_RANK)
"""The ``@legalmail.it`` types: the only ones that take extra space, conservazione, type changes, users."""

SINGLE_DOCUMENT_TYPES: frozenset[TipoCasella] = frozenset(
    {TipoCasella.DOMICILIODIGITALE, TipoCasella.PECMASSIVA}
)
"""Types activated with one merged document (form + identity document).

The same types refuse space changes, conservazione, type changes and extra users.
"""

TERMINAL_BOX_STATES: frozenset[StatoCasella] = frozenset(
    {StatoCasella.REVOCATA, StatoCasella.CHIUSA, StatoCasella.REGISTRAZIONE_ANNULLATA}
)
"""States a box never leaves (renewal re-activates an expired box, not a revoked or cancelled one)."""

ACTIVE_BOX_STATES: frozenset[StatoCasella] = frozenset({StatoCasella.EVASA})
"""States in which the box works and can be modified."""

TERMINAL_COMMUNICATION_STATES: frozenset[StatoComunicazione] = frozenset(
    {StatoComunicazione.COMUNICAZIONE_EVASA}
)

SOTTOTIPI_BY_TIPO_CLIENTE: Mapping[TipoCliente, frozenset[SottotipoCliente]] = {
    TipoCliente.IM: frozenset(
        SottotipoCliente(code)
        for code in ("SI", "IN", "CM", "TE", "ES", "ME", "AL", "CF", "ED", "TM", "MA", "AR", "TL", "FI", "X")
    ),
    TipoCliente.PS: frozenset(SottotipoCliente(code) for code in ("PC", "PR", "PN", "PT", "PA", "PL", "X")),
    TipoCliente.PL: frozenset(SottotipoCliente(code) for code in ("LR", "LP", "LC", "LM", "LA", "LI", "X")),
    TipoCliente.PC: frozenset(),
    TipoCliente.A: frozenset(),
    TipoCliente.PV: frozenset(),
    TipoCliente.X: frozenset(),
}
"""The subtypes each customer type accepts, after the spec's ``TipologieCliente``; empty: no subtype."""


MEANINGS: Mapping[type[Enum], Mapping[str, str]] = {
    TipoCasella: {
        "STANDARD": "Legalmail Standard",
        "BRONZE": "Legalmail Bronze",
        "SILVER": "Legalmail Silver",
        "GOLD": "Legalmail Gold",
        "DOMICILIODIGITALE": "digital domicile (domicilio digitale) of a private person",
        "PECMASSIVA": "box for bulk sending",
    },
    TipoCliente: {
        "IM": "impresa (company)",
        "PS": "professionista (professional)",
        "PL": "pubblica amministrazione locale (local public body)",
        "PC": "pubblica amministrazione centrale (central public body)",
        "A": "associazione (association)",
        "PV": "privato (private person)",
        "X": "altro (other)",
    },
    SottotipoCliente: {
        "SI": "servizi imprese",
        "IN": "informatica",
        "CM": "commercio",
        "TE": "telecomunicazioni",
        "ES": "editoria stampa",
        "ME": "meccanica elettrica",
        "AL": "alimentare",
        "CF": "chimica farmaceutica",
        "ED": "edilizia",
        "TM": "tessile moda",
        "MA": "mobili arredamenti",
        "AR": "alberghi ristoranti",
        "TL": "trasporti logistica",
        "FI": "finanza",
        "X": "altro (describe it in sottotipo_cliente_altro)",
        "PC": "commercialista",
        "PR": "ragioniere",
        "PN": "notaio",
        "PT": "tributarista",
        "PA": "avvocato",
        "PL": "consulente del lavoro",
        "LR": "regione",
        "LP": "provincia",
        "LC": "comune",
        "LM": "comunità montana",
        "LA": "ASL",
        "LI": "CCIAA",
    },
    SessoRichiedente: {"M": "maschio (male)", "F": "femmina (female)"},
    TipoDocumento: {
        "CARTA_D_IDENTITA": "carta d'identità (identity card)",
        "PATENTE": "patente (driving licence)",
        "PASSAPORTO": "passaporto (passport)",
    },
}
"""What each value of the input enums means, by enum and value (values repeat across enums: ``PC``)."""


def parse_open(enum_cls: type[E], value: object) -> E | str:
    """The member of ``enum_cls`` that ``value`` names, else ``value`` as a plain string.

    Matching ignores case and surrounding blanks, and tries values, then member names. It never
    raises: an unknown value comes back unchanged as ``str`` (``None`` as ``""``, any other
    non-string through ``str()``), so a response carrying a value added after this release still
    parses. Compare the result with ``==`` or ``isinstance`` rather than assuming a member.
    """
    if isinstance(value, enum_cls):
        return value
    if value is None:
        return ""
    if not isinstance(value, str):
        try:
            return str(value)
        except Exception:  # a hostile __str__ must not break response parsing
            return repr(type(value))
    member = lookup_member(enum_cls, value)
    return value if member is None else member


def lookup_member(enum_cls: type[E], value: str) -> E | None:
    """The member whose value or name equals ``value`` ignoring case and surrounding blanks."""
    key = value.strip()
    # ASCII only: casefold would otherwise map look-alikes such as U+017F (long s) onto "s"
    if not key or not key.isascii():
        return None
    member: E | None = _members_by_key(enum_cls).get(key.lower())
    return member


@functools.cache
def _members_by_key(enum_cls: type[Enum]) -> dict[str, Any]:
    """Lower-cased values, then names, to members; values win, as they are what the API sends."""
    table: dict[str, Any] = {member.name.lower(): member for member in enum_cls}
    table.update({str(member.value).lower(): member for member in enum_cls})
    return table


_BOX_ENUMS: Mapping[str, Any] = {"stato": StatoCasella, "tipo_casella": TipoCasella}
# By generated model name: the fields that hold a closed set of values the spec lists.
OPEN_ENUM_FIELDS: Mapping[str, Mapping[str, Any]] = {
    "Casella": {**_BOX_ENUMS, "tipo_cliente": TipoCliente, "tipo_documento": TipoDocumento},
    "Caselle": _BOX_ENUMS,
    "RichiestaComunicazionePec": {"stato": StatoComunicazione},
    "RichiesteComunicazionePec": {"stato": StatoComunicazione},
}


def open_enums(record: Any) -> None:
    """Known states and types become enum members (they are ``str`` too); unknown ones stay strings."""
    fields = OPEN_ENUM_FIELDS.get(type(record).__name__)
    if not fields:
        return
    for name, enum_type in fields.items():
        value = getattr(record, name, None)
        if isinstance(value, str):
            setattr(record, name, parse_open(enum_type, value))
