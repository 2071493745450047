"""The table of the account service's operations (Openapi OAuth v2), for the same call path.

Same shape as ``pec_ext._pec.operations.OPERATIONS``; the models come from ``generated/oauth_api``. Token
creation, renewal, update and deletion change the account and are never resent blindly; the reads
are safe to resend.
"""

from __future__ import annotations

from pec_ext._engine.operation import Operation


def _op(
    name: str, method: str, path: str, *, idempotent: bool, model: str | None = "", result: str = "data"
) -> Operation:
    if model == "":
        model = f"{name}_response_200:{''.join(part.title() for part in name.split('_'))}Response200"
    return Operation(
        name,
        method,
        path,
        idempotent,
        model,
        models="oauth_api",
        result=result,
        strict_envelope=False,
        secret_params=("token",) if "{token}" in path else (),
    )


ACCOUNT_OPERATIONS: dict[str, Operation] = {
    op.name: op
    for op in (
        _op(
            "create_token",
            "POST",
            "/tokens",
            idempotent=False,
            model="token_detail:TokenDetail",
            result="body",
        ),
        _op("list_tokens", "GET", "/tokens", idempotent=True, model="token_list_or_detail:TokenListOrDetail"),
        _op(
            "get_token",
            "GET",
            "/tokens/{token}",
            idempotent=True,
            model="token_detail:TokenDetail",
            result="body",
        ),
        # With the refresh token as Bearer: a new token replaces this one (see AccountClient.renew_token).
        _op(
            "update_token",
            "PATCH",
            "/tokens/{token}",
            idempotent=False,
            model="token_detail:TokenDetail",
            result="body",
        ),
        _op("delete_token", "DELETE", "/tokens/{token}", idempotent=False, model=None),
        _op("list_scopes", "GET", "/scopes", idempotent=True),
        _op("get_scope", "GET", "/scopes/{id}", idempotent=True),
        _op("get_wallet", "GET", "/wallet", idempotent=True),
        _op("list_wallet_transactions", "GET", "/wallet/transactions", idempotent=True),
        _op("list_callbacks", "GET", "/callbacks", idempotent=True),
        _op("get_callback", "GET", "/callbacks/{id}", idempotent=True),
        _op("list_errors", "GET", "/errors", idempotent=True),
        _op("get_stats", "GET", "/stats", idempotent=True),
        _op("list_stats_ips", "GET", "/stats/ips", idempotent=True),
        _op("get_stats_by_api", "GET", "/stats/apis", idempotent=True),
        _op("get_api_stats", "GET", "/stats/apis/{domain}", idempotent=True),
        _op("list_subscriptions", "GET", "/subscriptions", idempotent=True),
        _op("get_subscription", "GET", "/subscriptions/{id}", idempotent=True),
    )
}
