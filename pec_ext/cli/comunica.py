"""``pec comunica``: communication of a PEC address to the business register (Registro Imprese)."""

from __future__ import annotations

from typing import Any

import click

from pec_ext.account.prices import price_key
from pec_ext.validation.bodies import COMMUNICATION_FIELDS, validate_communication_body

from .config import Config
from .forms import output_options, save_form
from .options import (
    confirm_paid,
    field_options,
    json_option,
    load_fields_file,
    merge_fields,
    pass_cfg,
    show_comm,
    show_list,
    with_callback,
    yes_option,
)

COMM_COLUMNS = ("id", "casella_pec", "stato", "timestamp")
# Files and flags carry these differently (--pec-amministratore/--no-..., --callback-url).
TEXT_FIELDS = tuple(name for name in COMMUNICATION_FIELDS if name not in ("pec_amministratore", "callback"))


@click.group()
def comunica() -> None:
    """Communication of a PEC address to the business register (Registro Imprese)."""


@comunica.command("create")
@click.option("--from-file", default=None, help="JSON or TOML file with the fields (flags override it).")
@field_options(TEXT_FIELDS)
@click.option("--pec-amministratore/--no-pec-amministratore", default=None)
@click.option("--callback-url", default=None, help="URL called on every change of state.")
@yes_option
@json_option
@pass_cfg
def comunica_create(
    cfg: Config,
    /,
    from_file: str | None,
    pec_amministratore: bool | None,
    callback_url: str | None,
    yes: bool,
    **flags: Any,
) -> None:
    """Ask for a communication to the business register (paid)."""
    fields = with_callback(
        merge_fields(load_fields_file(from_file), {**flags, "pec_amministratore": pec_amministratore}),
        callback_url,
    )
    body = validate_communication_body(fields, strict_identifiers=cfg.effective_strict_identifiers)
    what = f"communication of {body['casella_pec']} to the business register"
    cost = (price_key("communicate_pec"), what, 1)
    with cfg.client() as pec:  # the token is looked for before anyone is asked to pay
        confirm_paid(cfg, yes, [cost], f"Communicate {body['casella_pec']}")
        item = pec.communicate_pec(body)
    show_comm(cfg, item, f"communication {item.id}")


@comunica.command("list")
@json_option
@pass_cfg
def comunica_list(cfg: Config) -> None:
    """List the account's communications."""
    with cfg.client() as pec:
        items = pec.list_communications()
    show_list(cfg, items, COMM_COLUMNS, empty="no communications", title=f"{len(items)} communication(s)")


@comunica.command("show")
@click.argument("comm_id", metavar="ID")
@json_option
@pass_cfg
def comunica_show(cfg: Config, comm_id: str) -> None:
    """Show one communication."""
    with cfg.client() as pec:
        item = pec.get_communication(comm_id)
    show_comm(cfg, item, f"communication {comm_id}")


@comunica.command("upload")
@click.argument("comm_id", metavar="ID")
@click.argument("documents", nargs=-1, required=True, type=click.Path(dir_okay=False))
@json_option
@pass_cfg
def comunica_upload(cfg: Config, comm_id: str, documents: tuple[str, ...]) -> None:
    """Upload the signed power of attorney (.p7m, CAdES with the document attached)."""
    with cfg.client() as pec:
        item = pec.upload_communication_documents(comm_id, list(documents))
    show_comm(cfg, item, f"communication {comm_id}: documents uploaded")


@comunica.command("form")
@click.argument("comm_id", metavar="ID")
@output_options
@json_option
@pass_cfg
def comunica_form(cfg: Config, comm_id: str, out: str | None, force: bool) -> None:
    """Download the power of attorney to sign (PDF)."""
    save_form(
        cfg, "download_power_of_attorney", comm_id, out, f"{comm_id}_procura_registro_imprese.pdf", force
    )
