"""Field checks: pure checks of single values, run before any request is sent.

Each check returns the normalized value or raises :class:`~pec_ext.errors.ValidationError`
naming the field, the value and what is allowed. Nothing here performs I/O, and no input, however
odd (``None``, bytes, nested containers, huge integers), makes a check raise anything else.

Choices the spec leaves open, and how they are settled here:

* ``sottotipo_cliente`` is optional, as in the spec; when given it must belong to
  ``tipo_cliente`` (``TipologieCliente``). ``sottotipo_cliente_altro`` describes the subtype
  ``X`` (ALTRO): it is required when the subtype is ``X`` and refused, when not empty, with any
  other subtype or with none, since the server would otherwise store a description of nothing.
* ``cap_titolare`` must be five digits when ``nazione_titolare`` is Italy (``IT``); for a foreign
  holder it only has to be non-empty, since foreign postal codes have other shapes.
* The birth date must be in the past.
* Box addresses are returned lower-cased: Legalmail box names are case-insensitive.

The request bodies built from these fields are checked in :mod:`pec_ext.validation.bodies`.
"""

from __future__ import annotations

import datetime as _dt
import json
import re
import unicodedata
from collections.abc import Mapping
from enum import Enum
from typing import Any, Literal, TypeVar, overload
from urllib.parse import urlsplit

from pec_ext.config import Environment
from pec_ext.enums import (
    SINGLE_DOCUMENT_TYPES,
    SOTTOTIPI_BY_TIPO_CLIENTE,
    TYPE_RANK,
    CallbackMethod,
    SottotipoCliente,
    TipoCasella,
    TipoCliente,
    lookup_member,
)
from pec_ext.validation.identifiers import invalid

__all__ = [
    "BOX_DOMAINS",
    "MAX_TEXT_LENGTH",
    "Environment",
    "allowed_box_domains",
    "as_mapping",
    "box_domains",
    "check_birth_date",
    "check_bool",
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
    "normalize_enum",
    "parse_date",
    "refuse_unknown_keys",
    "registration_refusal",
]

E = TypeVar("E", bound=Enum)

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


def parse_date(text: str) -> _dt.date:
    """A ``dd/mm/yyyy`` string that :func:`check_date` accepted, as a date."""
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
    callback = as_mapping(field, value)
    refuse_unknown_keys(field, callback, keys)
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


def as_mapping(field: str, value: object) -> Mapping[str, Any]:
    """``value`` itself, once it is known to be a mapping with string keys."""
    if not isinstance(value, Mapping):
        raise invalid(field, value, "a mapping (dict) of field names to values", reason="must be a mapping")
    for key in value:
        if not isinstance(key, str):
            raise invalid(field, key, "string keys", reason="keys must be strings")
    return value


def refuse_unknown_keys(field: str, body: Mapping[str, Any], known: tuple[str, ...]) -> None:
    """Refuse the first key of ``body`` that is not ``known``."""
    unknown = sorted(key for key in body if key not in known)
    if unknown:
        raise invalid(field, unknown[0], known, reason="unknown field")


def check_birth_date(field: str, value: object, today: _dt.date) -> str:
    """A date of birth: a real date (:func:`check_date`) before ``today`` (the client's day)."""
    birth = check_date(field, value)
    if parse_date(birth) >= today:
        raise invalid(field, value, f"a date in the past, before {today:%d/%m/%Y} (dd/mm/yyyy)")
    return birth


def check_bool(field: str, value: object) -> bool | None:
    """``True``, ``False``, or ``None`` (not given); anything else, truthy or not, is refused."""
    if value is None:
        return None
    if not isinstance(value, bool):
        raise invalid(field, value, [True, False], reason="must be a boolean")
    return value
