"""``pec boxes users``: a box's extra users (multiutenza)."""

from __future__ import annotations

import click

from pec_ext.account.prices import price_key
from pec_ext.validation.bodies import validate_user_body

from . import output
from .config import Config
from .options import USER_COLUMNS, confirm_paid, json_option, pass_cfg, show_box, yes_option


@click.group("users")
def boxes_users() -> None:
    """Extra users of a box (multiutenza)."""


@boxes_users.command("add")
@click.argument("box_id", metavar="ID")
@click.option("--nome", required=True)
@click.option("--cognome", required=True)
@click.option("--descrizione", required=True)
@click.option("--email", "email_gestione_password", required=True, help="E-mail that manages the password.")
@yes_option
@json_option
@pass_cfg
def boxes_users_add(cfg: Config, /, box_id: str, yes: bool, **fields: str) -> None:
    """Add a user to a box (paid)."""
    user = validate_user_body(fields)
    item = (price_key("add_user"), f"extra user {user['email_gestione_password']}", 1)
    confirm_paid(cfg, yes, [item], f"Add a user to box {box_id}")
    with cfg.client() as pec:
        box = pec.add_user(box_id, **fields)
    show_box(cfg, box, f"box {box_id}: user added")


@boxes_users.command("list")
@click.argument("box_id", metavar="ID")
@json_option
@pass_cfg
def boxes_users_list(cfg: Config, box_id: str) -> None:
    """List a box's extra users."""
    with cfg.client() as pec:
        box = pec.get_mailbox(box_id)
    users = [u.to_dict() for u in box.multiutenza] if isinstance(box.multiutenza, list) else []
    if cfg.json:
        output.print_json(users)
    else:
        output.table(users, USER_COLUMNS, title="users")
