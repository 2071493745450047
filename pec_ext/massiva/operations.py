"""The table of the PEC Massiva API's operations (``generated/pecmassiva_api``).

One row per operationId of the effective spec; nothing else in pec_ext spells these paths.
"""

from __future__ import annotations

from pec_ext._engine.operation import Operation, PriceKind

# Each recipient the provider takes is charged (the sandbox's price key ``pecmassiva.send``).
SEND_PRICE = PriceKind("pecmassiva.send", unit="recipient")


def _op(
    name: str,
    method: str,
    path: str,
    *,
    idempotent: bool,
    model: str | None,
    result: str = "data",
    price: PriceKind | None = None,
) -> Operation:
    return Operation(
        name,
        method,
        path,
        idempotent,
        model,
        models="pecmassiva_api",
        result=result,
        price=price,
    )


OPERATIONS: dict[str, Operation] = {
    op.name: op
    for op in (
        # Paid and not idempotent: never resent after it may have arrived (reconciled from the inbox).
        _op(
            "send_message",
            "POST",
            "/send",
            idempotent=False,
            model="send_message_response_201:SendMessageResponse201",
            result="body",
            price=SEND_PRICE,
        ),
        _op(
            "list_receipts",
            "GET",
            "/send/{code}",
            idempotent=True,
            model="list_receipts_response_200:ListReceiptsResponse200",
        ),
        _op("delete_receipts", "DELETE", "/send/{code}", idempotent=False, model=None),
        _op(
            "list_inbox",
            "GET",
            "/inbox",
            idempotent=True,
            model="list_inbox_response_200:ListInboxResponse200",
            result="body",
        ),
        _op(
            "get_inbox_message",
            "GET",
            "/inbox/{id}",
            idempotent=True,
            model="get_inbox_message_response_200:GetInboxMessageResponse200",
        ),
        _op("delete_inbox_message", "DELETE", "/inbox/{id}", idempotent=False, model=None),
        _op(
            "get_quota",
            "GET",
            "/quota/{mailbox}",
            idempotent=True,
            model="get_quota_response_200:GetQuotaResponse200",
        ),
    )
}
