"""The table of the PEC API's operations: method, path, whether a resend is safe, and how to parse.

One row per operationId of the effective spec; nothing else in pec_ext spells a path.
"""

from __future__ import annotations

from pec_ext._engine.operation import Operation
from pec_ext.enums import open_enums


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
        typed_values=open_enums,
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
