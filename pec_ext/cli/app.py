"""The ``pec`` command line: every operation of Openapi's PEC API, plus bulk work and a demo.

This module is the root group only: its options, and the groups it adds, each in the module
named as its command.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from pec_ext import config
from pec_ext._engine import retry
from pec_ext.errors import PecError

from . import output
from .account import prices_command, token_group, wallet_command
from .available import available
from .boxes import boxes
from .bulk import bulk
from .callbacks import callbacks_group
from .comunica import comunica
from .config import BASE_URL_ENV, EMBEDDED_DB_ENV, EMBEDDED_ENV, Config
from .demo import demo
from .domain import domain
from .exit_codes import exit_code_for, help_epilog
from .options import cfg_of
from .sandbox import sandbox_group
from .send import bulk_send_command, inbox_command, quota_command, receipts_command, send_command


class PecGroup(click.Group):
    """The root group: turns ``pec_ext`` exceptions into a message and a documented exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except PecError as exc:
            cfg = ctx.find_object(Config) or Config()
            code = exit_code_for(exc)
            output.report_error(exc, code, as_json=cfg.json, secrets=cfg.secrets())
            ctx.exit(int(code))


HELP = """Command line for Openapi's PEC API (Italian certified e-mail).

\b
Installed as `pec` and as `openapi-pec`: the same command (`openapi-pec` is the name no other
package's command can take over).
The token comes from the OPENAPI_PEC_TOKEN environment variable and is never printed.
Start with `pec demo`: the whole lifecycle against an embedded sandbox, no token, no network.
Then try any command without a token on the embedded sandbox (`pec --embedded-db s.sqlite ...`
keeps its state between commands), or run `pec sandbox serve` and paste the lines it prints.
"""


@click.group(
    cls=PecGroup, help=HELP, epilog=help_epilog(), context_settings={"help_option_names": ["-h", "--help"]}
)
@click.option(
    "--sandbox/--production",
    "sandbox_env",
    default=None,
    help="Openapi environment (default: $OPENAPI_PEC_ENVIRONMENT, else sandbox).",
)
@click.option("--base-url", default=config.base_url_setting, help=f"API base URL (also ${BASE_URL_ENV}).")
@click.option(
    "--embedded",
    is_flag=True,
    default=config.embedded,
    help=f"Talk to the embedded in-process sandbox: no token, no network (also ${EMBEDDED_ENV}=1).",
)
@click.option(
    "--embedded-db",
    default=config.embedded_db,
    metavar="FILE",
    help=f"SQLite file keeping the embedded sandbox's state between commands; implies --embedded "
    f"(also ${EMBEDDED_DB_ENV}).",
)
@click.option(
    "--strict-identifiers/--relaxed-identifiers",
    default=None,
    help="Check codice fiscale / partita IVA checksums (default: strict in production only).",
)
@click.option(
    "--timeout",
    type=float,
    default=retry.DEFAULT_TIMEOUT_SECONDS,
    show_default=True,
    help="Deadline in seconds for each call, retries included.",
)
@click.option(
    "--max-retries", type=click.IntRange(0, 10), default=None, help="Retries of safe calls (default: 3)."
)
@click.option("--json", "json_output", is_flag=True, help="Print machine-readable JSON instead of tables.")
@click.version_option(package_name="openapi-pec", prog_name="pec")
@click.pass_context
def cli(
    ctx: click.Context,
    sandbox_env: bool | None,
    base_url: str | None,
    embedded: bool,
    embedded_db: str | None,
    strict_identifiers: bool | None,
    timeout: float,
    max_retries: int | None,
    json_output: bool,
) -> None:
    cfg = cfg_of(ctx)
    if sandbox_env is not None:
        cfg.environment = "sandbox" if sandbox_env else "production"
    cfg.base_url = base_url or cfg.base_url
    cfg.embedded = cfg.embedded or embedded
    cfg.embedded_db = embedded_db or cfg.embedded_db
    if strict_identifiers is not None:
        cfg.strict_identifiers = strict_identifiers
    cfg.timeout = timeout
    if max_retries is not None:
        cfg.max_retries = max_retries
    cfg.json = cfg.json or json_output
    if cfg.is_embedded and cfg.environment == "production":
        raise click.UsageError("the embedded sandbox cannot be used with --production")
    ctx.call_on_close(cfg.close)


for command in (
    domain,
    available,
    boxes,
    comunica,
    sandbox_group,
    demo,
    bulk,
    token_group,
    wallet_command,
    prices_command,
    callbacks_group,
    send_command,
    receipts_command,
    inbox_command,
    quota_command,
):
    cli.add_command(command)
bulk.add_command(bulk_send_command)


# The console scripts' names (pyproject [project.scripts]): one command under both.
SCRIPT_NAMES = ("pec", "openapi-pec")


def main(argv: list[str] | None = None) -> None:
    """The ``pec`` and ``openapi-pec`` console scripts; usage lines name the one invoked."""
    invoked = Path(sys.argv[0]).name if sys.argv else ""
    cli.main(args=argv, prog_name=invoked if invoked in SCRIPT_NAMES else "pec")
