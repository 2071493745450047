"""The table of the API's operations: method, path, whether a resend is safe, and how to parse.

One row per operationId of the effective spec; nothing else in pec_ext spells a path.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote


@dataclass(frozen=True)
class Operation:
    name: str
    method: str
    path: str
    # Safe to send again after a failure: a read that charges nothing and changes nothing.
    idempotent: bool
    # The generated response model (``module:Class``); None for PDF downloads and raw calls.
    response_model: str | None
    returns_pdf: bool = False
    # The spec documents a 204 "No Content" answer, which is a result (None), not a broken body.
    may_answer_no_content: bool = False
    # The generated package holding the response model: pec_api, or oauth_api for the account
    # service (see _account_operations.py).
    models: str = "pec_api"
    # Where the result is: "data" of the API's envelope, or (account service: tokens) the whole
    # body is the model.
    result: str = "data"
    # The PEC API's envelope always says `success`; the account service's may be `{"data": ...}` only.
    strict_envelope: bool = True
    # Path parameters that are secrets (a token's value): masked wherever a URL is logged or shown.
    secret_params: tuple[str, ...] = ()

    def url(self, **path_params: str) -> str:
        return self.path.format(**{name: encode_path_param(value) for name, value in path_params.items()})

    def load_response_model(self) -> Any:
        """The generated model class, imported on first use to keep ``import pec_ext`` fast."""
        assert self.response_model is not None
        module_name, _, class_name = self.response_model.partition(":")
        return getattr(importlib.import_module(f"{self.models}.models.{module_name}"), class_name)


def encode_path_param(value: str) -> str:
    """Percent-encode so that a value stays one path segment and never reaches another endpoint.

    ``/``, ``?``, ``#`` and ``%`` are always encoded; ``@`` is a legal segment character (RFC 3986
    pchar) and stays readable in addresses. Dots only matter in a segment made of dots alone
    (``.`` and ``..`` are dot-segments that clients and servers resolve), so only those are encoded.
    """
    text = str(value)
    if text.strip(".") == "":
        return text.replace(".", "%2E")
    return quote(text, safe="@")


def _op(
    name: str,
    method: str,
    path: str,
    *,
    idempotent: bool,
    model: str | None = "",
    may_answer_no_content: bool = False,
) -> Operation:
    if model == "":
        model = f"{name}_response_200:{''.join(part.title() for part in name.split('_'))}Response200"
    return Operation(
        name,
        method,
        path,
        idempotent,
        model,
        returns_pdf=model is None,
        may_answer_no_content=may_answer_no_content,
    )


OPERATIONS: dict[str, Operation] = {
    op.name: op
    for op in (
        # A GET, but a paid one (402 when the wallet is short): never resent after it may have arrived.
        _op("check_domain", "GET", "/domini_pec/{dominio}", idempotent=False, may_answer_no_content=True),
        _op("check_availability", "GET", "/verifica_pec/{pec}", idempotent=True),
        _op("list_mailboxes", "GET", "/pec", idempotent=True),
        _op("register_mailbox", "POST", "/pec", idempotent=False),
        _op("get_mailbox", "GET", "/pec/{id}", idempotent=True),
        _op("revoke_mailbox", "DELETE", "/pec/{id}", idempotent=False),
        _op("activate_mailbox", "PATCH", "/pec/{id}/attivazione", idempotent=False),
        _op("change_space", "PATCH", "/pec/{id}/modifica", idempotent=False),
        _op("activate_conservation", "PATCH", "/pec/{id}/conservazione", idempotent=False),
        _op("change_type", "PATCH", "/pec/{id}/trasformazione", idempotent=False),
        # A GET, but a paid one: renewing twice charges twice.
        _op("renew_mailbox", "GET", "/pec/{id}/rinnovo", idempotent=False),
        _op("add_user", "POST", "/pec/{id}/multiutenza", idempotent=False),
        _op("list_communications", "GET", "/comunica_pec", idempotent=True),
        _op("communicate_pec", "POST", "/comunica_pec", idempotent=False),
        _op("get_communication", "GET", "/comunica_pec/{id}", idempotent=True),
        _op("upload_communication_documents", "PATCH", "/comunica_pec/{id}", idempotent=False),
        _op("download_activation_form", "GET", "/pec/{id}/modulo_attivazione", idempotent=True, model=None),
        _op(
            "download_conservation_form", "GET", "/pec/{id}/modulo_conservazione", idempotent=True, model=None
        ),
        _op(
            "download_power_of_attorney",
            "GET",
            "/comunica_pec/{id}/procura_registro_imprese",
            idempotent=True,
            model=None,
        ),
    )
}
