"""``pec token``, ``pec wallet``, ``pec prices``: the account side (Openapi's OAuth v2 service).

Credentials: ``OPENAPI_EMAIL`` and ``OPENAPI_API_KEY`` (the embedded sandbox needs none). Tokens are
made with least privilege: the scopes of the PEC operations named, derived from the operations
table (``pec_ext.account.scopes``). A token's value is printed once, by ``pec token create``, and never
again: ``pec token list`` shows its first characters only.
"""

from __future__ import annotations

from collections.abc import Sequence

import click

from pec_ext._pec.operations import OPERATIONS
from pec_ext.account.prices import operation_for_key
from pec_ext.account.scopes import paid_operations, pec_scopes, read_only_caveats

from . import output, prices
from .config import Config
from .options import json_option, pass_cfg

TOKEN_COLUMNS = ("token", "name", "scopes", "expires")
TRANSACTION_COLUMNS = ("when", "amount", "description")
PRICE_COLUMNS = ("operation", "scope", "price key", "EUR")


def _need_account(cfg: Config) -> None:
    if not cfg.has_account:
        raise click.UsageError(
            "the account service needs OPENAPI_EMAIL and OPENAPI_API_KEY (your Openapi account's e-mail "
            "and API key)"
        )


def _masked(token: object) -> str:
    text = str(token or "")
    return text[:4] + "…" if len(text) > 4 else "…"


def _when(value: object) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value or "")


@click.group("token")
def token_group() -> None:
    """Least-privilege tokens for the PEC API (account service)."""


@token_group.command("create")
@click.option(
    "--operation",
    "-o",
    "operations",
    multiple=True,
    type=click.Choice(sorted(OPERATIONS)),
    help="A PEC operation the token must allow (repeat); the scopes are exactly what they need.",
)
@click.option("--all-operations", is_flag=True, help="Every PEC operation (the widest PEC token).")
@click.option("--ttl", type=click.IntRange(60, 365 * 24 * 3600), default=30 * 24 * 3600, show_default=True)
@click.option("--name", default="openapi-pec", show_default=True, help="A name to recognise it by.")
@json_option
@pass_cfg
def token_create(cfg: Config, operations: Sequence[str], all_operations: bool, ttl: int, name: str) -> None:
    """Create a token with exactly the scopes the named operations need, and print it once."""
    _need_account(cfg)
    if not operations and not all_operations:
        raise click.UsageError(
            "name the operations the token is for (--operation NAME ...) or --all-operations"
        )
    scopes = pec_scopes(cfg.effective_environment, None if all_operations else list(operations))
    for caveat in read_only_caveats(scopes):
        click.echo(f"Warning: a token meant for reading can spend: {caveat}", err=True)
    with cfg.account_client() as account:
        token = account.create_token(scopes, name=name, ttl=ttl, warn=False)
    if cfg.json:
        output.print_json(
            {"token": token.token, "name": token.name, "scopes": list(token.scopes),
             "expires": _when(token.expire_at)}
        )  # fmt: skip
        return
    click.echo(
        f"token {token.name!r} created on {cfg.describe_target()}, expires {_when(token.expire_at)}; "
        f"scopes: {', '.join(token.scopes)}",
        err=True,
    )
    # The value alone on stdout, so `export OPENAPI_PEC_TOKEN=$(pec token create ...)` takes it;
    # it is shown this once and never again.
    click.echo(token.token)


@token_group.command("list")
@json_option
@pass_cfg
def token_list(cfg: Config) -> None:
    """The account's tokens (values masked), their scopes and expiry."""
    _need_account(cfg)
    with cfg.account_client() as account:
        tokens = account.list_tokens()
    rows = [
        {
            "token": _masked(t.token),
            "name": t.name,
            "scopes": ", ".join(t.scopes),
            "expires": _when(t.expire_at),
        }
        for t in tokens
    ]
    if cfg.json:
        output.print_json(rows)
    else:
        output.table(rows, TOKEN_COLUMNS, title=f"{len(rows)} token(s)")


@click.command("wallet")
@click.option("--transactions", "-n", type=click.IntRange(0, 100), default=10, show_default=True)
@json_option
@pass_cfg
def wallet_command(cfg: Config, transactions: int) -> None:
    """The wallet's balance and its latest transactions (the PEC charges among them)."""
    _need_account(cfg)
    with cfg.account_client() as account:
        wallet = account.wallet()
        items = account.transactions(limit=transactions) if transactions else []
    rows = [
        {"when": _when(t.created_at), "amount": f"{t.amount:.2f}", "description": t.description}
        for t in items
    ]
    if cfg.json:
        output.print_json({"credit": wallet.credit, "transactions": rows})
        return
    output.console().print(f"[bold]wallet[/bold] ({cfg.describe_target()}): EUR {wallet.credit:.2f}")
    if rows:
        output.table(rows, TRANSACTION_COLUMNS, title="latest transactions")


@click.command("prices")
@click.argument("operations", nargs=-1, type=click.Choice(paid_operations()))
@json_option
@pass_cfg
def prices_command(cfg: Config, operations: Sequence[str]) -> None:
    """What the paid operations cost: the account's real prices, else the indicative list (said so)."""
    chosen = sorted(operations or paid_operations())
    plist = cfg.price_list()
    rows = [
        {
            "operation": operation_for_key(key),
            "scope": pec_scopes(cfg.effective_environment, [operation_for_key(key)])[0],
            "price key": key,
            "EUR": "unknown" if plist.price(key) is None else f"{plist.price(key):.2f}",
        }
        for key in sorted(prices.INDICATIVE_PRICES)
        if operation_for_key(key) in chosen
    ]
    if cfg.json:
        output.print_json({"source": plist.label, "indicative": plist.indicative, "balance": plist.balance,
                           "prices": rows})  # fmt: skip
        return
    output.table(rows, PRICE_COLUMNS, title=plist.label)
    if plist.balance is not None:
        output.console().print(f"wallet balance: EUR {plist.balance:.2f}")
    if plist.indicative:
        click.echo(
            "(no account credentials: set OPENAPI_EMAIL and OPENAPI_API_KEY for your real prices)",
            err=True,
        )
