"""Body validators: whole request bodies checked field by field, every refusal reported at once.

Each validator returns the body to send, normalized, or raises one
:class:`~pec_ext.errors.ValidationError` whose ``errors`` hold every bad field. The fields of each
body are those of its keyword TypedDict in :mod:`pec_ext.types`, the one list of them.

* Optional fields set to ``""`` or ``None`` are dropped from the body sent.
* Unknown keys in a body are refused: a misspelt optional field would otherwise be silently
  ignored by the server.
* An identity document's issue date must not follow its expiry date.
"""

from __future__ import annotations

import datetime as _dt
import difflib
from collections.abc import Callable, Mapping
from enum import Enum
from typing import Any, ParamSpec, TypeVar

from pec_ext._engine.clock import SYSTEM_CLOCK
from pec_ext.enums import (
    Qualifica,
    SessoRichiedente,
    SottotipoCliente,
    TipoCasella,
    TipoCliente,
    TipoDocumento,
)
from pec_ext.errors import ValidationError
from pec_ext.types import CommunicationFields, RegisterFields, UserFields
from pec_ext.validation.fields import (
    as_mapping,
    check_birth_date,
    check_bool,
    check_box_address,
    check_callback,
    check_cap,
    check_date,
    check_email,
    check_environment,
    check_sottotipo,
    check_text,
    normalize_enum,
    parse_date,
)
from pec_ext.validation.identifiers import check_cf_or_piva, check_codice_fiscale, invalid

__all__ = [
    "COMMUNICATION_FIELDS",
    "REGISTER_DATES",
    "REGISTER_ENUMS",
    "REGISTER_FIELDS",
    "REGISTER_REQUIRED",
    "USER_FIELDS",
    "validate_communication_body",
    "validate_register_body",
    "validate_user_body",
]

T = TypeVar("T")
P = ParamSpec("P")

REGISTER_FIELDS: tuple[str, ...] = tuple(RegisterFields.__annotations__)
"""Every field of a ``POST /pec`` body, in the spec's order: the keys of ``RegisterFields``."""
COMMUNICATION_FIELDS: tuple[str, ...] = tuple(CommunicationFields.__annotations__)
"""Every field of a ``POST /comunica_pec`` body: the keys of ``CommunicationFields``."""
USER_FIELDS: tuple[str, ...] = tuple(UserFields.__annotations__)
"""Every field of a ``POST /pec/{id}/multiutenza`` body: the keys of ``UserFields``."""

_REGISTER_REQUIRED_TEXT = (
    "nome_richiedente",
    "cognome_richiedente",
    "telefono",
    "nazione_nascita_richiedente",
    "indirizzo_titolare",
    "comune_titolare",
    "nazione_titolare",
    "provincia_titolare",
)
REGISTER_REQUIRED = (
    "casella_pec",
    "tipo_casella",
    "tipo_cliente",
    *_REGISTER_REQUIRED_TEXT,
    "email",
    "codice_fiscale_richiedente",
    "data_nascita_richiedente",
    "sesso_richiedente",
    "cap_titolare",
)
"""The fields :func:`validate_register_body` refuses to do without (the rest are optional)."""
REGISTER_ENUMS: Mapping[str, type[Enum]] = {
    "tipo_casella": TipoCasella,
    "tipo_cliente": TipoCliente,
    "sottotipo_cliente": SottotipoCliente,
    "sesso_richiedente": SessoRichiedente,
    "tipo_documento": TipoDocumento,
}
"""The fields that take one value of a closed set (any letter case), and the set."""
REGISTER_DATES = ("data_nascita_richiedente", "data_scadenza_documento", "data_rilascio_documento")
"""The date fields (``dd/mm/yyyy``): the applicant's birth date first, then the document's."""
_REGISTER_OPTIONAL_TEXT = (
    "cellulare",
    "comune_nascita_richiedente",
    "provincia_nascita_richiedente",
    "denominazione_titolare",
    "numero_documento",
    "documento_rilasciato_da",
)


class _Errors:
    """The refusals of a body's fields, collected so that all of them are reported at once."""

    def __init__(self) -> None:
        self.found: list[ValidationError] = []

    def add(self, error: ValidationError) -> None:
        self.found.append(error)

    def check(self, guard: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T | None:
        """``guard(*args, **kwargs)``, or None when it refuses (the refusal is kept)."""
        try:
            return guard(*args, **kwargs)
        except ValidationError as exc:
            self.found.append(exc)
            return None

    def unknown_keys(self, body: Mapping[str, Any], known: tuple[str, ...]) -> None:
        """One refusal for all unknown keys, so the list of known ones is shown once."""
        unknown = sorted(key for key in body if key not in known)
        if not unknown:
            return
        hints = [
            f"{key!r} -> {close[0]}?"
            for key in unknown
            if (close := difflib.get_close_matches(key, known, 1))
        ]
        reason = "unknown field" + ("s" if len(unknown) > 1 else "")
        if hints:
            reason += " (did you mean " + ", ".join(hints) + ")"
        self.found.append(invalid("body", unknown[0] if len(unknown) == 1 else unknown, known, reason=reason))

    def raise_if_any(self) -> None:
        if self.found:
            raise ValidationError.combine(self.found)


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def validate_register_body(
    body: Mapping[str, Any],
    *,
    environment: object,
    strict_identifiers: bool = True,
    own_domain: bool = False,
    today: _dt.date | None = None,
) -> dict[str, Any]:
    """Check and normalize a ``POST /pec`` body; returns the body to send.

    Enums come back upper case as the API spells them, optional fields left blank are dropped,
    dates are ``dd/mm/yyyy``, identifiers compact. ``strict_identifiers=False`` relaxes the
    codice fiscale / partita IVA checks to format only (see :mod:`pec_ext.validation.identifiers`). Every bad
    field is reported at once, in one :class:`~pec_ext.errors.ValidationError` (``.errors``).
    The birth date must be before ``today``: the clients pass their clock's day
    (:meth:`pec_ext.Clock.today`); left out, the system clock's.
    """
    data = as_mapping("body", body)
    env = check_environment(environment)
    day = SYSTEM_CLOCK.today() if today is None else today
    errors = _Errors()
    errors.unknown_keys(data, REGISTER_FIELDS)
    fields: dict[str, Any] = {}

    tipo_casella = errors.check(normalize_enum, "tipo_casella", data.get("tipo_casella"), TipoCasella)
    if tipo_casella is None:
        # without a type the required domain is unknown: check the address's shape only
        errors.check(check_email, "casella_pec", data.get("casella_pec"))
    else:
        fields["casella_pec"] = errors.check(
            check_box_address, data.get("casella_pec"), tipo_casella, env, own_domain
        )
        fields["tipo_casella"] = tipo_casella.value
    customer = errors.check(
        check_sottotipo,
        data.get("tipo_cliente"),
        data.get("sottotipo_cliente"),
        data.get("sottotipo_cliente_altro"),
    )
    if customer is not None:
        tipo, sottotipo, altro = customer
        fields["tipo_cliente"] = tipo.value
        fields["sottotipo_cliente"] = sottotipo.value if sottotipo else None
        fields["sottotipo_cliente_altro"] = altro

    for key in _REGISTER_REQUIRED_TEXT:
        fields[key] = errors.check(check_text, key, data.get(key))
    for key in _REGISTER_OPTIONAL_TEXT:
        fields[key] = errors.check(check_text, key, data.get(key), optional=True) or None

    fields["email"] = errors.check(check_email, "email", data.get("email"))
    fields["codice_fiscale_richiedente"] = errors.check(
        check_codice_fiscale,
        "codice_fiscale_richiedente",
        data.get("codice_fiscale_richiedente"),
        strict=strict_identifiers,
    )
    birth = REGISTER_DATES[0]
    fields[birth] = errors.check(check_birth_date, birth, data.get(birth), day)
    sesso = errors.check(normalize_enum, "sesso_richiedente", data.get("sesso_richiedente"), SessoRichiedente)
    fields["sesso_richiedente"] = sesso.value if sesso else None

    cf_piva = data.get("cf_piva_titolare")
    if not _blank(cf_piva):
        fields["cf_piva_titolare"] = errors.check(
            check_cf_or_piva, "cf_piva_titolare", cf_piva, strict=strict_identifiers
        )

    if str(fields["nazione_titolare"]).upper() in ("IT", "ITA", "ITALIA", "ITALY"):
        fields["cap_titolare"] = errors.check(check_cap, "cap_titolare", data.get("cap_titolare"))
    else:
        fields["cap_titolare"] = errors.check(
            check_text, "cap_titolare", data.get("cap_titolare"), max_length=16
        )

    documento = errors.check(
        normalize_enum, "tipo_documento", data.get("tipo_documento"), TipoDocumento, optional=True
    )
    fields["tipo_documento"] = documento.value if documento else None
    for key in REGISTER_DATES[1:]:
        value = data.get(key)
        fields[key] = None if _blank(value) else errors.check(check_date, key, value)
    issued, expires = fields["data_rilascio_documento"], fields["data_scadenza_documento"]
    if issued and expires and parse_date(issued) > parse_date(expires):
        errors.add(
            invalid(
                "data_rilascio_documento",
                data.get("data_rilascio_documento"),
                f"a date not after data_scadenza_documento ({expires})",
            )
        )

    fields["autorinnovo"] = errors.check(check_bool, "autorinnovo", data.get("autorinnovo"))
    callback = data.get("callback")
    fields["callback"] = None if callback is None else errors.check(check_callback, "callback", callback)

    errors.raise_if_any()
    return {key: fields[key] for key in REGISTER_FIELDS if fields.get(key) is not None}


def validate_communication_body(
    body: Mapping[str, Any], *, strict_identifiers: bool = True
) -> dict[str, Any]:
    """Check and normalize a ``POST /comunica_pec`` body; returns the body to send.

    ``casella_pec`` may be on any domain (it is the company's existing box), ``qualifica`` is
    accepted in any case, ``cf`` must be a codice fiscale and ``cf_piva`` a codice fiscale or a
    partita IVA.
    """
    data = as_mapping("body", body)
    errors = _Errors()
    errors.unknown_keys(data, COMMUNICATION_FIELDS)
    fields: dict[str, Any] = {
        "casella_pec": errors.check(check_email, "casella_pec", data.get("casella_pec")),
        "cf": errors.check(check_codice_fiscale, "cf", data.get("cf"), strict=strict_identifiers),
        "nome": errors.check(check_text, "nome", data.get("nome")),
        "cognome": errors.check(check_text, "cognome", data.get("cognome")),
        "qualifica": errors.check(normalize_enum, "qualifica", data.get("qualifica"), Qualifica),
        "email": errors.check(check_email, "email", data.get("email")),
        "cellulare": errors.check(check_text, "cellulare", data.get("cellulare")),
        "ragione_sociale": errors.check(check_text, "ragione_sociale", data.get("ragione_sociale")),
        "cf_piva": errors.check(check_cf_or_piva, "cf_piva", data.get("cf_piva"), strict=strict_identifiers),
        "comune": errors.check(check_text, "comune", data.get("comune")),
        "pec_amministratore": errors.check(check_bool, "pec_amministratore", data.get("pec_amministratore")),
        "provincia": errors.check(check_text, "provincia", data.get("provincia")),
    }
    if fields["qualifica"] is not None:
        fields["qualifica"] = fields["qualifica"].value
    callback = data.get("callback")
    fields["callback"] = None if callback is None else errors.check(check_callback, "callback", callback)
    errors.raise_if_any()
    return {key: fields[key] for key in COMMUNICATION_FIELDS if fields.get(key) is not None}


def validate_user_body(body: Mapping[str, Any]) -> dict[str, Any]:
    """Check and normalize a ``POST /pec/{id}/multiutenza`` body; returns the body to send."""
    data = as_mapping("body", body)
    errors = _Errors()
    errors.unknown_keys(data, USER_FIELDS)
    user = {
        "nome": errors.check(check_text, "nome", data.get("nome")),
        "cognome": errors.check(check_text, "cognome", data.get("cognome")),
        "descrizione": errors.check(check_text, "descrizione", data.get("descrizione")),
        "email_gestione_password": errors.check(
            check_email, "email_gestione_password", data.get("email_gestione_password")
        ),
    }
    errors.raise_if_any()
    return {key: str(value) for key, value in user.items()}
