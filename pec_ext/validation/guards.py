"""Input guards: pure checks run before any request is sent.

Each guard returns the normalized value or raises :class:`~pec_ext.errors.ValidationError`
naming the field, the value and what is allowed. The body validators check every field and raise
once, with all the refusals in ``errors``. Nothing here performs I/O, and no input, however
odd (``None``, bytes, nested containers, huge integers), makes a guard raise anything else.

Choices the spec leaves open, and how they are settled here:

* ``sottotipo_cliente`` is optional, as in the spec; when given it must belong to
  ``tipo_cliente`` (``TipologieCliente``). ``sottotipo_cliente_altro`` describes the subtype
  ``X`` (ALTRO): it is required when the subtype is ``X`` and refused, when not empty, with any
  other subtype or with none, since the server would otherwise store a description of nothing.
* Optional fields set to ``""`` or ``None`` are dropped from the body sent.
* Unknown keys in a body are refused: a misspelt optional field would otherwise be silently
  ignored by the server.
* ``cap_titolare`` must be five digits when ``nazione_titolare`` is Italy (``IT``); for a foreign
  holder it only has to be non-empty, since foreign postal codes have other shapes.
* The birth date must be in the past, and an identity document's issue date must not follow its
  expiry date.
* Box addresses are returned lower-cased: Legalmail box names are case-insensitive.
"""

from __future__ import annotations

import datetime as _dt
import difflib
import json
import re
import unicodedata
from collections.abc import Callable, Mapping
from enum import Enum
from typing import Any, Literal, ParamSpec, TypeVar, overload
from urllib.parse import urlsplit

from pec_ext._engine.clock import SYSTEM_CLOCK
from pec_ext.config import Environment
from pec_ext.enums import (
    SINGLE_DOCUMENT_TYPES,
    SOTTOTIPI_BY_TIPO_CLIENTE,
    TYPE_RANK,
    CallbackMethod,
    Qualifica,
    SessoRichiedente,
    SottotipoCliente,
    TipoCasella,
    TipoCliente,
    TipoDocumento,
    lookup_member,
)
from pec_ext.errors import ValidationError
from pec_ext.validation.identifiers import check_cf_or_piva, check_codice_fiscale, invalid

__all__ = [
    "BOX_DOMAINS",
    "MAX_TEXT_LENGTH",
    "REGISTER_DATES",
    "REGISTER_ENUMS",
    "REGISTER_FIELDS",
    "REGISTER_REQUIRED",
    "Environment",
    "allowed_box_domains",
    "box_domains",
    "check_box_address",
    "check_callback",
    "check_cap",
    "check_date",
    "check_email",
    "check_environment",
    "check_service_allowed",
    "check_sottotipo",
    "check_text",
    "check_upgrade",
    "check_years",
    "invalid",
    "normalize_enum",
    "registration_refusal",
    "validate_communication_body",
    "validate_register_body",
    "validate_user_body",
]

E = TypeVar("E", bound=Enum)
T = TypeVar("T")
P = ParamSpec("P")

MAX_TEXT_LENGTH = 255
"""Longest free-text value accepted; longer input is almost certainly a mistake (a pasted file)."""

BOX_DOMAINS: Mapping[tuple[str, TipoCasella], str] = {
    **{("production", t): "legalmail.it" for t in TYPE_RANK},
    ("production", TipoCasella.DOMICILIODIGITALE): "domiciliodigitale.com",
    ("production", TipoCasella.PECMASSIVA): "pecmassiva.com",
    **{("sandbox", t): "testcert.legalmail.it" for t in TYPE_RANK},
    ("sandbox", TipoCasella.PECMASSIVA): "testcert.legalmail.it",
    ("sandbox", TipoCasella.DOMICILIODIGITALE): "test.domiciliodigitale.com",
}
"""The domain a box of each type must use, per environment, unless the caller owns a certified domain."""

_PROVIDER_DOMAINS = frozenset(BOX_DOMAINS.values())

_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LOCAL_RE = re.compile(rf"{_ATOM}(?:\.{_ATOM})*")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_DOMAIN_RE = re.compile(rf"(?:{_LABEL}\.)+[A-Za-z]{{2,63}}")
_EMAIL_FORMAT = "an e-mail address like name@example.com"
_DATE_RE = re.compile(r"[0-9]{2}/[0-9]{2}/[0-9]{4}")
_CAP_RE = re.compile(r"[0-9]{5}")


# --- single values --------------------------------------------------------------------------


@overload
def normalize_enum(field: str, value: object, enum_cls: type[E], *, optional: Literal[False] = ...) -> E: ...
@overload
def normalize_enum(field: str, value: object, enum_cls: type[E], *, optional: bool) -> E | None: ...
def normalize_enum(field: str, value: object, enum_cls: type[E], *, optional: bool = False) -> E | None:
    """The member of ``enum_cls`` that ``value`` names, in any letter case (``"bronze"`` → BRONZE).

    ``None`` and ``""`` give ``None`` when ``optional``; anything else unknown is refused, listing
    the allowed values.
    """
    allowed = [str(member.value) for member in enum_cls]
    if isinstance(value, enum_cls):
        return value
    if value is None or (isinstance(value, str) and not value.strip()):
        if optional:
            return None
        raise invalid(field, value, allowed, reason="required")
    if not isinstance(value, str):
        raise invalid(field, value, allowed, reason="must be a string")
    member = lookup_member(enum_cls, value)
    if member is None:
        raise invalid(field, value, allowed)
    return member


def check_text(
    field: str, value: object, *, optional: bool = False, max_length: int = MAX_TEXT_LENGTH
) -> str:
    """A free-text value, stripped: a string, not blank, without control characters.

    When ``optional``, ``None`` and blank give ``""`` (callers drop the field).
    """
    allowed = f"a non-empty string of at most {max_length} characters"
    if value is None and optional:
        return ""
    if not isinstance(value, str):
        raise invalid(field, value, allowed, reason="required" if value is None else "must be a string")
    text = value.strip()
    if not text:
        if optional:
            return ""
        raise invalid(field, value, allowed, reason="required")
    if len(text) > max_length:
        raise invalid(field, value, allowed, reason=f"{len(text)} characters")
    if any(unicodedata.category(char) in ("Cc", "Cs") for char in text):
        raise invalid(field, value, allowed, reason="contains control characters")
    return text


def _split_address(field: str, value: object, allowed: str) -> tuple[str, str]:
    if not isinstance(value, str):
        raise invalid(field, value, allowed, reason="required" if value is None else "must be a string")
    address = value.strip()
    if not address:
        raise invalid(field, value, allowed, reason="required")
    if len(address) > 254 or address.count("@") != 1:
        raise invalid(field, value, allowed)
    local, domain = address.split("@")
    if len(local) > 64 or not _LOCAL_RE.fullmatch(local):
        raise invalid(field, value, allowed, reason="invalid local part (before the @)")
    if len(domain) > 253 or not _DOMAIN_RE.fullmatch(domain):
        raise invalid(field, value, allowed, reason="invalid domain (after the @)")
    return local, domain.lower()


def check_email(field: str, value: object) -> str:
    """A syntactically valid ASCII e-mail address (dot-atom local part, DNS domain), stripped."""
    local, domain = _split_address(field, value, _EMAIL_FORMAT)
    return f"{local}@{domain}"


def check_environment(value: object) -> Environment:
    """``"sandbox"`` or ``"production"`` (any case)."""
    if isinstance(value, str):
        key = value.strip().lower()
        if key == "sandbox":
            return "sandbox"
        if key == "production":
            return "production"
    raise invalid("environment", value, ["sandbox", "production"])


def allowed_box_domains(tipo_casella: object, environment: object) -> str:
    """The domain a box of this type must have in this environment (without an own domain)."""
    tipo = normalize_enum("tipo_casella", tipo_casella, TipoCasella)
    return BOX_DOMAINS[(check_environment(environment), tipo)]


def check_box_address(
    address: object,
    tipo_casella: object,
    environment: object,
    own_domain: bool = False,
    *,
    field: str = "casella_pec",
) -> str:
    """A new box's address, lower-cased, with the domain its type requires.

    Production: ``@legalmail.it`` for STANDARD/BRONZE/SILVER/GOLD, ``@domiciliodigitale.com`` for
    DOMICILIODIGITALE, ``@pecmassiva.com`` for PECMASSIVA. Sandbox: ``@testcert.legalmail.it``, or
    ``@test.domiciliodigitale.com`` for DOMICILIODIGITALE. With ``own_domain=True`` (the account owns
    a certified domain) any domain passes the syntax check, except another type's or environment's
    provider domain, which the caller cannot own.
    """
    tipo = normalize_enum("tipo_casella", tipo_casella, TipoCasella)
    env = check_environment(environment)
    expected = BOX_DOMAINS[(env, tipo)]
    allowed = f"name@{expected}" + (" or name@<your certified domain>" if own_domain else "")
    local, domain = _split_address(field, address, allowed)
    if domain != expected and (not own_domain or domain in _PROVIDER_DOMAINS):
        raise invalid(
            field, address, allowed, reason=f"a {tipo.value} box in {env} must end with @{expected}"
        )
    return f"{local.lower()}@{domain}"


def box_domains(environment: object) -> dict[str, list[TipoCasella]]:
    """The domains a new box may have in ``environment`` (without an own domain), with their types."""
    env = check_environment(environment)
    domains: dict[str, list[TipoCasella]] = {}
    for (box_env, tipo), domain in BOX_DOMAINS.items():
        if box_env == env:
            domains.setdefault(domain, []).append(tipo)
    return domains


def registration_refusal(address: object, environment: object) -> str | None:
    """Why ``register_mailbox`` refuses ``address`` in ``environment`` whatever the box type, or None.

    An address on no provider domain of the environment can still be registered with
    ``own_domain=True``, but only on a certified domain the account owns.
    """
    _local, domain = _split_address("casella_pec", address, _EMAIL_FORMAT)
    env = check_environment(environment)
    accepted = box_domains(env)
    if domain in accepted:
        return None
    listed = "; ".join(f"@{d} ({', '.join(t.value for t in types)})" for d, types in accepted.items())
    text = f"a new box in {env} must be on one of: {listed}"
    if domain in _PROVIDER_DOMAINS:
        return f"{text}; @{domain} belongs to the other environment"
    return f"{text}, or on a certified domain the account owns (own_domain)"


def check_upgrade(current: object, new: object) -> TipoCasella:
    """The new type of a type change: only upgrades along STANDARD < BRONZE < SILVER < GOLD."""
    upgradable = list(TYPE_RANK)
    old = normalize_enum("tipo_casella (current)", current, TipoCasella)
    if old in SINGLE_DOCUMENT_TYPES:
        raise invalid(
            "tipo_casella (current)",
            current,
            [t.value for t in upgradable],
            reason=f"a {old.value} box cannot change type",
        )
    target = normalize_enum("tipo_casella", new, TipoCasella)
    higher = [t.value for t in upgradable if TYPE_RANK[t] > TYPE_RANK[old]]
    if not higher:
        raise invalid("tipo_casella", new, "none", reason=f"{old.value} is already the highest type")
    if target in SINGLE_DOCUMENT_TYPES or TYPE_RANK[target] <= TYPE_RANK[old]:
        raise invalid("tipo_casella", new, higher, reason=f"only upgrades from {old.value} are allowed")
    return target


def check_service_allowed(tipo_casella: object, service: str) -> TipoCasella:
    """Refuse ``service`` (space change, conservazione, type change, extra user) on single-document types."""
    tipo = normalize_enum("tipo_casella", tipo_casella, TipoCasella)
    if tipo in SINGLE_DOCUMENT_TYPES:
        raise invalid(
            "tipo_casella",
            tipo_casella,
            [t.value for t in TYPE_RANK],
            reason=f"{service} is not available for {tipo.value} boxes",
        )
    return tipo


def check_years(years: object, *, maximum: int | None = None) -> int:
    """``anni``, the years of a renewal: an ``int`` (not a bool) of at least 1, at most ``maximum``."""
    allowed = "an integer >= 1" + (f" and <= {maximum}" if maximum is not None else "")
    if isinstance(years, bool) or not isinstance(years, int):
        raise invalid("anni", years, allowed, reason="must be an integer")
    if years < 1 or (maximum is not None and years > maximum):
        raise invalid("anni", years, allowed)
    return years


def check_date(field: str, value: object) -> str:
    """A real calendar date as ``dd/mm/yyyy``; a ``datetime.date`` is formatted that way."""
    allowed = "a date as dd/mm/yyyy, e.g. 11/04/1982"
    if isinstance(value, _dt.date):
        if isinstance(value, _dt.datetime):
            value = value.date()
        return value.strftime("%d/%m/") + f"{value.year:04d}"
    if not isinstance(value, str):
        reason = "required" if value is None else "must be a string or a datetime.date"
        raise invalid(field, value, allowed, reason=reason)
    text = value.strip()
    if not _DATE_RE.fullmatch(text):
        raise invalid(field, value, allowed)
    try:
        _dt.date(int(text[6:]), int(text[3:5]), int(text[:2]))
    except ValueError:
        raise invalid(field, value, allowed, reason="no such date") from None
    return text


def _parse_date(text: str) -> _dt.date:
    return _dt.date(int(text[6:]), int(text[3:5]), int(text[:2]))


def check_cap(field: str, value: object) -> str:
    """An Italian postal code (CAP): exactly five digits, as a string (an int loses leading zeros)."""
    allowed = "five digits, e.g. 00042"
    if not isinstance(value, str):
        raise invalid(field, value, allowed, reason="must be a string")
    text = value.strip()
    if not _CAP_RE.fullmatch(text):
        raise invalid(field, value, allowed)
    return text


def check_sottotipo(
    tipo_cliente: object,
    sottotipo_cliente: object,
    sottotipo_cliente_altro: object = None,
) -> tuple[TipoCliente, SottotipoCliente | None, str | None]:
    """Customer type, subtype and free-text ``altro``, normalized and consistent with each other.

    IM, PS and PL take one of their own subtypes or ``X``; PC, A, PV and X take none. The subtype
    may be left empty. ``sottotipo_cliente_altro`` is required with subtype ``X`` and refused
    otherwise (see the module documentation).
    """
    tipo = normalize_enum("tipo_cliente", tipo_cliente, TipoCliente)
    fitting = SOTTOTIPI_BY_TIPO_CLIENTE[tipo]
    allowed = sorted(s.value for s in fitting) if fitting else "empty: no subtype for this customer type"
    if fitting:
        sottotipo = normalize_enum("sottotipo_cliente", sottotipo_cliente, SottotipoCliente, optional=True)
    elif sottotipo_cliente is None or (isinstance(sottotipo_cliente, str) and not sottotipo_cliente.strip()):
        sottotipo = None
    else:
        raise invalid(
            "sottotipo_cliente",
            sottotipo_cliente,
            allowed,
            reason=f"tipo_cliente {tipo.value} has no subtype",
        )
    if sottotipo is not None and sottotipo not in fitting:
        raise invalid(
            "sottotipo_cliente",
            sottotipo_cliente,
            allowed,
            reason=f"not a subtype of tipo_cliente {tipo.value}",
        )
    altro = check_text("sottotipo_cliente_altro", sottotipo_cliente_altro, optional=True)
    if sottotipo is SottotipoCliente.X and not altro:
        raise invalid(
            "sottotipo_cliente_altro",
            sottotipo_cliente_altro,
            "a description of the customer subtype",
            reason="required when sottotipo_cliente is X (ALTRO)",
        )
    if sottotipo is not SottotipoCliente.X and altro:
        raise invalid(
            "sottotipo_cliente_altro",
            sottotipo_cliente_altro,
            "empty",
            reason="only meaningful when sottotipo_cliente is X (ALTRO)",
        )
    return tipo, sottotipo, altro or None


def check_callback(field: str, value: object) -> dict[str, Any]:
    """A ``Callback`` object: ``url`` (http/https) required, ``method`` POST/JSON, ``field``, ``data``."""
    keys = ("url", "method", "field", "data")
    callback = _as_mapping(field, value)
    _refuse_unknown_keys(field, callback, keys)
    url = check_text(f"{field}.url", callback.get("url"), max_length=2048)
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname or any(c.isspace() for c in url):
        raise invalid(f"{field}.url", callback.get("url"), "an http:// or https:// URL")
    out: dict[str, Any] = {"url": url}
    method = normalize_enum(f"{field}.method", callback.get("method"), CallbackMethod, optional=True)
    if method is not None:
        out["method"] = method.value
    name = check_text(f"{field}.field", callback.get("field"), optional=True)
    if name:
        out["field"] = name
    data = callback.get("data")
    if data is not None:
        if not isinstance(data, Mapping):
            raise invalid(f"{field}.data", data, "a JSON object (mapping)", reason="must be a mapping")
        try:
            json.dumps(data, allow_nan=False)
        except (TypeError, ValueError, RecursionError) as exc:
            raise invalid(f"{field}.data", data, "JSON-serializable values", reason=str(exc)) from None
        out["data"] = dict(data)
    return out


# --- request bodies -------------------------------------------------------------------------

_REGISTER_KEYS = (
    "casella_pec",
    "tipo_casella",
    "tipo_cliente",
    "sottotipo_cliente",
    "sottotipo_cliente_altro",
    "nome_richiedente",
    "cognome_richiedente",
    "email",
    "telefono",
    "cellulare",
    "codice_fiscale_richiedente",
    "data_nascita_richiedente",
    "sesso_richiedente",
    "nazione_nascita_richiedente",
    "comune_nascita_richiedente",
    "provincia_nascita_richiedente",
    "denominazione_titolare",
    "cf_piva_titolare",
    "indirizzo_titolare",
    "comune_titolare",
    "cap_titolare",
    "nazione_titolare",
    "provincia_titolare",
    "callback",
    "autorinnovo",
    "tipo_documento",
    "numero_documento",
    "data_scadenza_documento",
    "documento_rilasciato_da",
    "data_rilascio_documento",
)
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
REGISTER_FIELDS = _REGISTER_KEYS
"""Every field of a ``POST /pec`` body, in the spec's order."""
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
_COMMUNICATION_KEYS = (
    "casella_pec",
    "cf",
    "nome",
    "cognome",
    "qualifica",
    "email",
    "cellulare",
    "ragione_sociale",
    "cf_piva",
    "comune",
    "pec_amministratore",
    "provincia",
    "callback",
)
_USER_KEYS = ("nome", "cognome", "descrizione", "email_gestione_password")


def _as_mapping(field: str, value: object) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise invalid(field, value, "a mapping (dict) of field names to values", reason="must be a mapping")
    for key in value:
        if not isinstance(key, str):
            raise invalid(field, key, "string keys", reason="keys must be strings")
    return value


def _refuse_unknown_keys(field: str, body: Mapping[str, Any], known: tuple[str, ...]) -> None:
    unknown = sorted(key for key in body if key not in known)
    if unknown:
        raise invalid(field, unknown[0], known, reason="unknown field")


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


def _check_birth_date(field: str, value: object, today: _dt.date) -> str:
    birth = check_date(field, value)
    if _parse_date(birth) >= today:
        raise invalid(field, value, f"a date in the past, before {today:%d/%m/%Y} (dd/mm/yyyy)")
    return birth


def _check_bool(field: str, value: object) -> bool | None:
    if value is None:
        return None
    if not isinstance(value, bool):
        raise invalid(field, value, [True, False], reason="must be a boolean")
    return value


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
    data = _as_mapping("body", body)
    env = check_environment(environment)
    day = SYSTEM_CLOCK.today() if today is None else today
    errors = _Errors()
    errors.unknown_keys(data, _REGISTER_KEYS)
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
    fields[birth] = errors.check(_check_birth_date, birth, data.get(birth), day)
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
    if issued and expires and _parse_date(issued) > _parse_date(expires):
        errors.add(
            invalid(
                "data_rilascio_documento",
                data.get("data_rilascio_documento"),
                f"a date not after data_scadenza_documento ({expires})",
            )
        )

    fields["autorinnovo"] = errors.check(_check_bool, "autorinnovo", data.get("autorinnovo"))
    callback = data.get("callback")
    fields["callback"] = None if callback is None else errors.check(check_callback, "callback", callback)

    errors.raise_if_any()
    return {key: fields[key] for key in _REGISTER_KEYS if fields.get(key) is not None}


def validate_communication_body(
    body: Mapping[str, Any], *, strict_identifiers: bool = True
) -> dict[str, Any]:
    """Check and normalize a ``POST /comunica_pec`` body; returns the body to send.

    ``casella_pec`` may be on any domain (it is the company's existing box), ``qualifica`` is
    accepted in any case, ``cf`` must be a codice fiscale and ``cf_piva`` a codice fiscale or a
    partita IVA.
    """
    data = _as_mapping("body", body)
    errors = _Errors()
    errors.unknown_keys(data, _COMMUNICATION_KEYS)
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
        "pec_amministratore": errors.check(_check_bool, "pec_amministratore", data.get("pec_amministratore")),
        "provincia": errors.check(check_text, "provincia", data.get("provincia")),
    }
    if fields["qualifica"] is not None:
        fields["qualifica"] = fields["qualifica"].value
    callback = data.get("callback")
    fields["callback"] = None if callback is None else errors.check(check_callback, "callback", callback)
    errors.raise_if_any()
    return {key: fields[key] for key in _COMMUNICATION_KEYS if fields.get(key) is not None}


def validate_user_body(body: Mapping[str, Any]) -> dict[str, Any]:
    """Check and normalize a ``POST /pec/{id}/multiutenza`` body; returns the body to send."""
    data = _as_mapping("body", body)
    errors = _Errors()
    errors.unknown_keys(data, _USER_KEYS)
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
