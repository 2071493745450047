"""``pec domain``: certified domains."""

from __future__ import annotations

import click

from pec_ext.account.prices import price_key

from . import output
from .config import Config
from .options import confirm_paid, json_option, pass_cfg, yes_option


@click.group()
def domain() -> None:
    """Certified domains."""


@domain.command("check")
@click.argument("dominio")
@yes_option
@json_option
@pass_cfg
def domain_check(cfg: Config, dominio: str, yes: bool) -> None:
    """Check whether a domain can send and receive PEC (paid)."""
    confirm_paid(cfg, yes, [(price_key("check_domain"), f"domain check of {dominio}", 1)], f"Check {dominio}")
    with cfg.client() as pec:
        eligible = pec.is_domain_eligible(dominio)
    if cfg.json:
        output.print_json({"dominio": dominio, "eligible": eligible})
    else:
        click.echo(f"{dominio}: {'eligible' if eligible else 'not eligible'} for PEC")
