"""Callbacks as Openapi posts them: parsing both delivery modes, and the token that proves ours.

The provider signs nothing, so the client puts a token of its own in ``callback.data`` (which the
provider echoes back inside the record): ``v1.<nonce>.<mac>``, the MAC an HMAC-SHA256 under the
caller's secret of the callback URL and a random nonce. :func:`sign_callback` adds it to a
request's ``callback`` object; :func:`verify_token` checks it in constant time. A token proves that
we asked for callbacks at that URL, not that the state posted is true: the receiver
(:mod:`pec_ext.callbacks.receiver`) therefore reads the record back before anything acts on it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import importlib
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from pec_ext.enums import StatoCasella, StatoComunicazione, open_enums, parse_open
from pec_ext.errors import ForgedCallbackError, MalformedCallbackError, ValidationError
from pec_ext.validation.fields import check_callback

if TYPE_CHECKING:
    from pec_api.models.casella import Casella
    from pec_api.models.richiesta_comunicazione_pec import RichiestaComunicazionePec

__all__ = [
    "MAX_CALLBACK_BYTES",
    "MIN_SECRET_BYTES",
    "TOKEN_FIELD",
    "CallbackEvent",
    "RecordKind",
    "make_token",
    "parse",
    "secret_bytes",
    "sign_callback",
    "verify_token",
]

TOKEN_FIELD = "pec_ext_token"  # noqa: S105 - a field name, not a secret
"""The key of ``callback.data`` that carries the token."""
MIN_SECRET_BYTES = 16
MAX_CALLBACK_BYTES = 1024 * 1024
"""A record is a few KB; a larger body is refused before it is decoded."""

_TOKEN_VERSION = "v1"  # noqa: S105 - a format version
_NONCE_BYTES = 16
_FORM = "application/x-www-form-urlencoded"


class RecordKind(StrEnum):
    """Which record a callback is about."""

    MAILBOX = "mailbox"
    COMMUNICATION = "communication"


# The generated models are imported on first use: the client imports this module for its tokens.
_MODELS: Mapping[RecordKind, tuple[str, str]] = {
    RecordKind.MAILBOX: ("pec_api.models.casella", "Casella"),
    RecordKind.COMMUNICATION: ("pec_api.models.richiesta_comunicazione_pec", "RichiestaComunicazionePec"),
}
_STATES: Mapping[RecordKind, Any] = {
    RecordKind.MAILBOX: StatoCasella,
    RecordKind.COMMUNICATION: StatoComunicazione,
}
# Fields only one of the two records has; a mailbox's type, a communication's business-register data.
_MAILBOX_MARKERS = ("tipo_casella", "cod_attivazione", "spazio_disco")
_COMMUNICATION_MARKERS = ("codice_registro_imprese", "qualifica", "ragione_sociale")


@dataclass(frozen=True)
class CallbackEvent:
    """One callback: what the body claims, or, from the receiver, what the API confirmed.

    ``stato`` is a :class:`~pec_ext.enums.StatoCasella` / :class:`~pec_ext.enums.StatoComunicazione`
    member when known, else the plain string. ``data`` is the caller's own ``callback.data`` (the
    token taken out), ``token`` the token it carried (``None`` without one), ``payload`` the record
    as posted. ``confirmed`` is true only when ``record`` and ``stato`` were read back from the API.
    """

    kind: RecordKind
    id: str
    stato: StatoCasella | StatoComunicazione | str
    record: Casella | RichiestaComunicazionePec
    data: dict[str, Any]
    payload: dict[str, Any] = field(repr=False)
    token: str | None = field(default=None, repr=False)
    callback_url: str | None = None
    confirmed: bool = False
    claimed_stato: StatoCasella | StatoComunicazione | str | None = None
    """What the body said ``stato`` was, when the event was confirmed (it may be stale or false)."""


# -- parsing ------------------------------------------------------------------------------------


def parse(body: bytes | str, content_type: str | None, field: str = "data") -> CallbackEvent:
    """The event a callback body carries, in either delivery mode.

    ``method: "JSON"`` posts the record as a JSON body; ``method: "POST"`` posts a form whose
    ``field`` holds the record as JSON. Anything else raises
    :class:`~pec_ext.errors.MalformedCallbackError` saying what was wrong; nothing else escapes.
    """
    raw = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    if not isinstance(raw, bytes | bytearray | memoryview):
        raise MalformedCallbackError(f"the body must be bytes, got {type(body).__name__}")
    raw = bytes(raw)
    if len(raw) > MAX_CALLBACK_BYTES:
        raise MalformedCallbackError(f"the body is {len(raw)} bytes, more than {MAX_CALLBACK_BYTES}")
    if not raw.strip():
        raise MalformedCallbackError("the body is empty")
    mode = _mode(content_type, raw)
    payload = _json_object(raw, "the JSON body") if mode == "json" else _form_record(raw, field)
    return event_from_record(payload)


def _mode(content_type: str | None, raw: bytes) -> str:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media == _FORM:
        return "form"
    if media in ("application/json", "text/json") or media.endswith("+json"):
        return "json"
    if media and media not in ("text/plain", "application/octet-stream"):
        raise MalformedCallbackError(f"content type {media!r} is neither application/json nor {_FORM}")
    # No (or a generic) content type: a JSON body starts with "{", a form never does.
    return "json" if raw.lstrip()[:1] == b"{" else "form"


def _form_record(raw: bytes, field: str) -> dict[str, Any]:
    try:
        text = raw.decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=True, max_num_fields=1000)
    except (UnicodeDecodeError, ValueError) as exc:
        raise MalformedCallbackError(f"the body is not a URL-encoded form: {exc}") from None
    values = [value for name, value in pairs if name == field]
    if not values:
        names = sorted({name for name, _ in pairs})[:10]
        raise MalformedCallbackError(
            f"the form has no field {field!r} (fields: {', '.join(names) or 'none'})"
        )
    if len(values) > 1:
        raise MalformedCallbackError(f"the form has {len(values)} fields named {field!r}, expected one")
    return _json_object(values[0].encode("utf-8", "surrogatepass"), f"form field {field!r}")


def _json_object(raw: bytes, where: str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise MalformedCallbackError(f"{where} is not JSON ({type(exc).__name__})") from None
    if not isinstance(value, dict):
        raise MalformedCallbackError(f"{where} is JSON {type(value).__name__}, not an object (a record)")
    return value


def event_from_record(payload: dict[str, Any]) -> CallbackEvent:
    """The event for a record already decoded from JSON (the same checks as :func:`parse`)."""
    record_id = payload.get("id")
    if not isinstance(record_id, str) or not record_id.strip() or len(record_id) > 64:
        raise MalformedCallbackError(f"the record's id is {_shown(record_id)}, not a record identifier")
    stato = payload.get("stato")
    if not isinstance(stato, str) or not stato.strip() or len(stato) > 64:
        raise MalformedCallbackError(f"the record's stato is {_shown(stato)}, not a state")
    kind = _kind(payload)
    data, token, url = _callback_parts(payload.get("callback"))
    return CallbackEvent(
        kind=kind,
        id=record_id,
        stato=parse_open(_STATES[kind], stato),
        record=typed_record(kind, payload),
        data=data,
        payload=payload,
        token=token,
        callback_url=url,
    )


def _kind(payload: Mapping[str, Any]) -> RecordKind:
    mailbox = any(name in payload for name in _MAILBOX_MARKERS)
    communication = any(name in payload for name in _COMMUNICATION_MARKERS)
    if mailbox == communication:
        raise MalformedCallbackError(
            "the record is neither a mailbox (tipo_casella ...) nor a communication "
            "(codice_registro_imprese ...)"
            if not mailbox
            else "the record has fields of both a mailbox and a communication"
        )
    return RecordKind.MAILBOX if mailbox else RecordKind.COMMUNICATION


def typed_record(kind: RecordKind, payload: Mapping[str, Any]) -> Any:
    """The generated model for ``payload``, its closed value sets opened as the client's parser does."""
    module, name = _MODELS[kind]
    model = getattr(importlib.import_module(module), name)
    try:
        record = model.from_dict(payload)
        open_enums(record)
    except Exception as exc:  # the generated models raise whatever a wrong type makes them raise
        raise MalformedCallbackError(
            f"the record is not a valid {kind.value}: {type(exc).__name__}"
        ) from None
    return record


def _callback_parts(raw: object) -> tuple[dict[str, Any], str | None, str | None]:
    if not isinstance(raw, dict):
        return {}, None, None
    url = raw.get("url")
    data = raw.get("data")
    user_data = dict(data) if isinstance(data, dict) else {}
    token = user_data.pop(TOKEN_FIELD, None)
    return user_data, token if isinstance(token, str) else None, url if isinstance(url, str) else None


def _shown(value: object) -> str:
    text = repr(value) if isinstance(value, str | int | float | bool | type(None)) else type(value).__name__
    return text if len(text) <= 40 else text[:37] + "..."


# -- tokens -------------------------------------------------------------------------------------


def secret_bytes(secret: str | bytes) -> bytes:
    """The HMAC key; a secret shorter than :data:`MIN_SECRET_BYTES` is refused."""
    key = secret.encode("utf-8") if isinstance(secret, str) else secret
    if not isinstance(key, bytes) or len(key) < MIN_SECRET_BYTES:
        raise ValidationError(
            "callback_secret",
            "<hidden>",
            f"at least {MIN_SECRET_BYTES} bytes, e.g. secrets.token_urlsafe(32)",
        )
    return key


def _mac(key: bytes, url: str, nonce: str) -> str:
    message = f"{_TOKEN_VERSION}\n{url}\n{nonce}".encode("utf-8", "surrogatepass")
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def make_token(secret: str | bytes, url: str, *, nonce: str | None = None) -> str:
    """A fresh token for callbacks posted to ``url`` (a random nonce unless one is given)."""
    key = secret_bytes(secret)
    nonce = nonce if nonce is not None else secrets.token_urlsafe(_NONCE_BYTES)
    return f"{_TOKEN_VERSION}.{nonce}.{_mac(key, url, nonce)}"


def verify_token(secret: str | bytes, url: str | None, token: object) -> None:
    """Accept a token made by :func:`make_token` for ``url``; raise ForgedCallbackError otherwise."""
    key = secret_bytes(secret)
    if not isinstance(token, str) or not token:
        raise ForgedCallbackError(f"the callback carries no token in callback.data.{TOKEN_FIELD}")
    if not isinstance(url, str) or not url:
        raise ForgedCallbackError("the callback carries no callback.url for its token")
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != _TOKEN_VERSION or not parts[1]:
        raise ForgedCallbackError("the callback token is not a v1 token")
    if not hmac.compare_digest(_mac(key, url, parts[1]).encode(), parts[2].encode("utf-8", "replace")):
        raise ForgedCallbackError("the callback token is not valid for this secret and URL")


def sign_callback(secret: str | bytes, callback: Mapping[str, Any]) -> dict[str, Any]:
    """``callback`` (a request's ``{url, method, field, data}``) with a fresh token in its ``data``.

    The caller's own ``data`` is kept; a token already there (a body sent again) is replaced.
    The input is checked as the client checks it and is not modified.
    """
    key = secret_bytes(secret)
    signed = check_callback("callback", callback)
    data = dict(signed.get("data") or {})
    data[TOKEN_FIELD] = make_token(key, signed["url"])
    signed["data"] = data
    return signed
