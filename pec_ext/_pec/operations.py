"""The table of the PEC API's operations: method, path, whether a resend is safe, what it costs.

One row per operationId of the effective spec; nothing else in pec_ext spells a path or decides
what is paid. :data:`INDICATIVE_PRICES` beside it is the order of magnitude of each price key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from pec_ext._engine.operation import Operation, PriceKind
from pec_ext.enums import open_enums


def _op(
    name: str,
    method: str,
    path: str,
    *,
    idempotent: bool,
    model: str | None = "",
    may_answer_no_content: bool = False,
    price: PriceKind | None = None,
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
        price=price,
    )


def _per_box_type(kind: str, unit: str) -> PriceKind:
    """A kind priced per box type: ``<kind>.GOLD``, the type as the price lists write it."""
    return PriceKind(kind, unit=unit, detail="tipo_casella", spell_detail=str.upper)


OPERATIONS: dict[str, Operation] = {
    op.name: op
    for op in (
        # A GET, but a paid one (402 when the wallet is short): never resent after it may have arrived.
        _op(
            "check_domain",
            "GET",
            "/domini_pec/{dominio}",
            idempotent=False,
            may_answer_no_content=True,
            price=PriceKind("domini_pec", unit="domain checked"),
        ),
        _op("check_availability", "GET", "/verifica_pec/{pec}", idempotent=True),
        _op("list_mailboxes", "GET", "/pec", idempotent=True),
        _op(
            "register_mailbox",
            "POST",
            "/pec",
            idempotent=False,
            price=_per_box_type("register", "box (first year)"),
        ),
        _op("get_mailbox", "GET", "/pec/{id}", idempotent=True),
        _op("revoke_mailbox", "DELETE", "/pec/{id}", idempotent=False),
        _op("activate_mailbox", "PATCH", "/pec/{id}/attivazione", idempotent=False),
        _op(
            "change_space",
            "PATCH",
            "/pec/{id}/modifica",
            idempotent=False,
            # The detail is the space field; its step is in pec_ext.validation.spaces.SPACE_STEPS.
            price=PriceKind(
                "space", unit="step of the field (1024 MB, conservazione 512 MB)", detail="field"
            ),
        ),
        _op(
            "activate_conservation",
            "PATCH",
            "/pec/{id}/conservazione",
            idempotent=False,
            price=PriceKind("conservazione", unit="512 MB reserved"),
        ),
        _op(
            "change_type",
            "PATCH",
            "/pec/{id}/trasformazione",
            idempotent=False,
            price=_per_box_type("transform", "move up to the type"),
        ),
        # A GET, but a paid one: renewing twice charges twice.
        _op(
            "renew_mailbox",
            "GET",
            "/pec/{id}/rinnovo",
            idempotent=False,
            price=_per_box_type("renew", "year"),
        ),
        _op(
            "add_user",
            "POST",
            "/pec/{id}/multiutenza",
            idempotent=False,
            price=PriceKind("multiutenza", unit="user"),
        ),
        _op("list_communications", "GET", "/comunica_pec", idempotent=True),
        _op(
            "communicate_pec",
            "POST",
            "/comunica_pec",
            idempotent=False,
            price=PriceKind("comunica_pec", unit="communication"),
        ),
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


INDICATIVE_PRICES: Final[Mapping[str, float]] = {
    # EUR, VAT excluded, in the ballpark of Openapi's list prices: an order of magnitude shown
    # where no account tells the real ones, never a quote. The embedded sandbox charges the same.
    "register.STANDARD": 5.00,
    "register.BRONZE": 8.00,
    "register.SILVER": 15.00,
    "register.GOLD": 25.00,
    "register.DOMICILIODIGITALE": 3.00,
    "register.PECMASSIVA": 12.00,
    # per year
    "renew.STANDARD": 5.00,
    "renew.BRONZE": 8.00,
    "renew.SILVER": 15.00,
    "renew.GOLD": 25.00,
    "renew.DOMICILIODIGITALE": 3.00,
    "renew.PECMASSIVA": 12.00,
    # price of moving up to the named type
    "transform.BRONZE": 3.00,
    "transform.SILVER": 7.00,
    "transform.GOLD": 10.00,
    # per 1024 MB (disco, storico) or per 512 MB (conservazione)
    "space.spazio_disco": 2.00,
    "space.spazio_storico": 2.00,
    "space.spazio_conservazione": 4.00,
    # conservazione service, per 512 MB initially reserved
    "conservazione": 10.00,
    # per user
    "multiutenza": 2.50,
    "comunica_pec": 5.00,
    "domini_pec": 0.05,
}
