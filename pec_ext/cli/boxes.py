"""``pec boxes``: the account's PEC boxes, from registration to renewal."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import click

from pec_ext.account.prices import price_key
from pec_ext.enums import TYPE_RANK, TipoCasella
from pec_ext.validation.bodies import validate_register_body
from pec_ext.validation.fields import check_upgrade, check_years, normalize_enum
from pec_ext.validation.identifiers import invalid
from pec_ext.validation.spaces import SPACE_STEPS, check_size, check_space_body, space_added

from . import _reads, applicant, horizon
from .config import Config
from .forms import output_options, save_form
from .options import (
    bulk_options,
    confirm_or_refuse,
    confirm_paid,
    emit_rows,
    field_options,
    format_option,
    json_option,
    load_fields_file,
    merge_fields,
    pass_cfg,
    show_box,
    show_list,
    with_callback,
    yes_option,
)
from .users import boxes_users

BOX_COLUMNS = ("id", "casella_pec", "tipo_casella", "stato", "data_scadenza")


@click.group()
def boxes() -> None:
    """The account's PEC boxes."""


@boxes.command("list")
@json_option
@pass_cfg
def boxes_list(cfg: Config) -> None:
    """List the account's boxes."""
    with cfg.client() as pec:
        items = pec.list_mailboxes()
    show_list(cfg, items, BOX_COLUMNS, empty="no boxes", title=f"{len(items)} box(es)")


@boxes.command("show")
@click.argument("box_id", metavar="ID")
@json_option
@pass_cfg
def boxes_show(cfg: Config, box_id: str) -> None:
    """Show one box."""
    with cfg.client() as pec:
        box = pec.get_mailbox(box_id)
    show_box(cfg, box, f"box {box_id}")


@boxes.command("register", epilog=applicant.epilog())
@click.option(
    "--template",
    is_flag=True,
    help="Print a commented applicant file to fill in (pec boxes register --template > applicant.toml).",
)
@click.option("--from-file", default=None, help="JSON or TOML file with the fields (flags override it).")
@field_options(applicant.TEXT_FIELDS, applicant.option_help)
@click.option("--autorinnovo/--no-autorinnovo", default=None, help="Renew automatically at expiry.")
@click.option("--callback-url", default=None, help="URL called on every change of state.")
@click.option("--own-domain", is_flag=True, help="casella_pec is on a certified domain the account owns.")
@yes_option
@json_option
@pass_cfg
def boxes_register(
    cfg: Config,
    /,
    template: bool,
    from_file: str | None,
    autorinnovo: bool | None,
    callback_url: str | None,
    own_domain: bool,
    yes: bool,
    **flags: Any,
) -> None:
    """Register a box (paid): checks every field, shows the price, asks, then sends."""
    if template:
        click.echo(applicant.template(cfg.effective_environment), nl=False)
        return
    fields = with_callback(
        merge_fields(load_fields_file(from_file), {**flags, "autorinnovo": autorinnovo}), callback_url
    )
    # checked before the client exists, so that bad input is reported even without a token
    body = validate_register_body(
        fields,
        environment=cfg.effective_environment,
        strict_identifiers=cfg.effective_strict_identifiers,
        own_domain=own_domain,
        today=cfg.clock().today(),
    )
    tipo = body["tipo_casella"]
    item = (price_key("register_mailbox", tipo), f"registration of a {tipo} box (first year)", 1)
    with cfg.client() as pec:  # the token is looked for before anyone is asked to pay
        confirm_paid(cfg, yes, [item], f"Register {body['casella_pec']}")
        box = pec.register_mailbox(body, own_domain=own_domain)
    show_box(cfg, box, f"registered {box.casella_pec}")


@boxes.command("activate")
@click.argument("box_id", metavar="ID")
@click.argument("documents", nargs=-1, required=True, type=click.Path(dir_okay=False))
@json_option
@pass_cfg
def boxes_activate(cfg: Config, box_id: str, documents: tuple[str, ...]) -> None:
    """Upload the signed activation form and the identity document (PDFs; two files are merged
    into one for DOMICILIODIGITALE/PECMASSIVA)."""
    with cfg.client() as pec:
        box = pec.activate_mailbox(box_id, list(documents))
    show_box(cfg, box, f"box {box_id}: documents uploaded")


@boxes.command("revoke")
@click.argument("box_id", metavar="ID")
@yes_option
@json_option
@pass_cfg
def boxes_revoke(cfg: Config, box_id: str, yes: bool) -> None:
    """Revoke a box."""
    confirm_or_refuse(yes, f"Revoke box {box_id}?")
    with cfg.client() as pec:
        box = pec.revoke_mailbox(box_id)
    show_box(cfg, box, f"box {box_id}: revoked")


SPACE_VALUE = re.compile(r"^\+?\d{1,9}$")


def space_value(_ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not SPACE_VALUE.match(value.strip()):
        raise click.BadParameter("'+N' adds N MB, 'N' sets the size to N MB", param=param)
    return None if value is None else value.strip()


@boxes.command("space")
@click.argument("box_id", metavar="ID")
@click.option("--disco", callback=space_value, help="Mailbox space in MB: +1024 adds, 3072 sets (x1024).")
@click.option("--storico", callback=space_value, help="Archive space in MB: +1024 adds, 3072 sets (x1024).")
@click.option("--conservazione", callback=space_value, help="Conservazione space in MB: +512 adds (x512).")
@yes_option
@json_option
@pass_cfg
def boxes_space(
    cfg: Config, box_id: str, disco: str | None, storico: str | None, conservazione: str | None, yes: bool
) -> None:
    """Add to or set the box's spaces (paid; only upgrades)."""
    body = {
        key: value
        for key, value in (
            ("spazio_disco", disco),
            ("spazio_storico", storico),
            ("spazio_conservazione", conservazione),
        )
        if value is not None
    }
    if not body:
        raise click.UsageError("give at least one of --disco, --storico, --conservazione")
    with cfg.client() as pec:
        current = pec.get_mailbox(box_id).to_dict()
        added = space_added(check_space_body(body, box=current), current)
        items = [
            (price_key("change_space", field), f"{field}: {mb:+d} MB", mb // SPACE_STEPS[field])
            for field, mb in added.items()
        ]
        confirm_paid(cfg, yes, items, f"Change the spaces of box {box_id}")
        box = pec.change_space(box_id, **body)
    show_box(cfg, box, f"box {box_id}: space changed")


@boxes.command("upgrade")
@click.argument("box_id", metavar="ID")
@click.argument("tipo", metavar="TYPE")
@yes_option
@json_option
@pass_cfg
def boxes_upgrade(cfg: Config, box_id: str, tipo: str, yes: bool) -> None:
    """Upgrade the box type: STANDARD < BRONZE < SILVER < GOLD (paid)."""
    # before the token and the read: only the Legalmail ladder can be a target
    wanted = normalize_enum("tipo_casella", tipo, TipoCasella)
    if wanted not in TYPE_RANK:
        ladder = [t.value for t in TYPE_RANK]
        raise invalid("tipo_casella", tipo, ladder, reason=f"no box can change type to {wanted.value}")
    with cfg.client() as pec:
        current = pec.get_mailbox(box_id).tipo_casella
        target = check_upgrade(current, tipo).value
        item = (price_key("change_type", target), f"type change {current} -> {target}", 1)
        confirm_paid(cfg, yes, [item], f"Upgrade box {box_id} to {target}")
        box = pec.change_type(box_id, tipo)
    show_box(cfg, box, f"box {box_id}: now {box.tipo_casella}")


@boxes.command("conservazione")
@click.argument("box_id", metavar="ID")
@click.argument("documents", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--space", type=int, default=None, help="Initial conservazione space in MB (x512).")
@yes_option
@json_option
@pass_cfg
def boxes_conservazione(
    cfg: Config, box_id: str, documents: tuple[str, ...], space: int | None, yes: bool
) -> None:
    """Activate the conservazione service with the signed form (PDF; paid)."""
    step = SPACE_STEPS["spazio_conservazione"]
    reserved = step if space is None else check_size("spazio_conservazione", space)
    item = (price_key("activate_conservation"), f"conservazione service, {reserved} MB", reserved // step)
    confirm_paid(cfg, yes, [item], f"Activate conservazione on box {box_id}")
    with cfg.client() as pec:
        box = pec.activate_conservation(box_id, list(documents), space=space)
    show_box(cfg, box, f"box {box_id}: conservazione active")


@boxes.command("renew")
@click.argument("box_id", metavar="ID")
@click.option(
    "--anni", "--years", "anni", type=int, default=1, show_default=True, help="Years to renew for (anni)."
)
@yes_option
@json_option
@pass_cfg
def boxes_renew(cfg: Config, box_id: str, anni: int, yes: bool) -> None:
    """Renew a box (paid)."""
    years = check_years(anni)
    with cfg.client() as pec:
        tipo = pec.get_mailbox(box_id).tipo_casella
        item = (price_key("renew_mailbox", tipo), f"renewal of a {tipo} box, anni={years}", years)
        confirm_paid(cfg, yes, [item], f"Renew box {box_id} for {years} year(s) (anni={years})")
        box = pec.renew_mailbox(box_id, anni=anni)
    show_box(cfg, box, f"box {box_id}: renewed until {box.data_scadenza}")


@boxes.command("form")
@click.argument("box_id", metavar="ID")
@click.option("--conservazione", is_flag=True, help="The conservazione form instead of the activation form.")
@output_options
@json_option
@pass_cfg
def boxes_form(cfg: Config, box_id: str, conservazione: bool, out: str | None, force: bool) -> None:
    """Download the activation (or conservazione) form to sign, as a PDF."""
    if conservazione:
        save_form(cfg, "download_conservation_form", box_id, out, f"{box_id}_modulo_conservazione.pdf", force)
    else:
        save_form(cfg, "download_activation_form", box_id, out, f"{box_id}_modulo_attivazione.pdf", force)


def parse_as_of(_ctx: click.Context, param: click.Parameter, value: str | None) -> dt.date | None:
    if value is None:
        return None
    for pattern in ("%d/%m/%Y", "%Y-%m-%d"):
        try:
            return dt.datetime.strptime(value, pattern).date()
        except ValueError:
            continue
    raise click.BadParameter("a date as dd/mm/yyyy or yyyy-mm-dd", param=param)


@boxes.command("expiring")
@click.option(
    "--within",
    default="30d",
    show_default=True,
    callback=horizon.parse_option,
    help="Horizon: days or weeks (30d, 8w), calendar months or years (6m, 1y).",
)
@click.option("--as-of", default=None, callback=parse_as_of, help="Reference date (default: today).")
@format_option
@bulk_options
@json_option
@pass_cfg
def boxes_expiring(
    cfg: Config,
    within: horizon.Horizon,
    as_of: dt.date | None,
    fmt: str | None,
    concurrency: int,
    progress: bool,
) -> None:
    """Boxes expiring within a horizon (or already expired), to plan renewals."""
    rows = _reads.expiring(cfg, within, as_of, concurrency=concurrency, progress=progress)
    summary = f"{len(rows)} box(es) expiring within {within.describe()}"
    emit_rows(cfg, fmt, rows, _reads.EXPIRING_COLUMNS, summary)


boxes.add_command(boxes_users)
