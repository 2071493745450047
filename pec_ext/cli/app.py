"""The ``pec`` command line: every operation of Openapi's PEC API, plus bulk work and a demo."""

from __future__ import annotations

import datetime as dt
import json
import re
import sys
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import click

from pec_ext import config
from pec_ext._engine import retry
from pec_ext.enums import TipoCasella
from pec_ext.errors import PecError, ValidationError

from . import applicant, output
from .callbacks import callbacks_group
from .config import BASE_URL_ENV, EMBEDDED_DB_ENV, EMBEDDED_ENV, Config
from .exit_codes import ExitCode, exit_code_for, help_epilog

F = TypeVar("F", bound=Callable[..., Any])

BOX_COLUMNS = ("id", "casella_pec", "tipo_casella", "stato", "data_scadenza")
COMM_COLUMNS = ("id", "casella_pec", "stato", "timestamp")

REGISTER_FIELDS = (
    "casella_pec", "tipo_casella", "tipo_cliente", "sottotipo_cliente", "sottotipo_cliente_altro",
    "nome_richiedente", "cognome_richiedente", "email", "telefono", "cellulare",
    "codice_fiscale_richiedente", "data_nascita_richiedente", "sesso_richiedente",
    "nazione_nascita_richiedente", "comune_nascita_richiedente", "provincia_nascita_richiedente",
    "denominazione_titolare", "cf_piva_titolare", "indirizzo_titolare", "comune_titolare",
    "cap_titolare", "nazione_titolare", "provincia_titolare", "tipo_documento", "numero_documento",
    "data_scadenza_documento", "documento_rilasciato_da", "data_rilascio_documento",
)  # fmt: skip
COMMUNICATION_FIELDS = (
    "casella_pec", "cf", "nome", "cognome", "qualifica", "email", "cellulare", "ragione_sociale",
    "cf_piva", "comune", "provincia",
)  # fmt: skip


# -- plumbing ---------------------------------------------------------------------------------------


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


def cfg_of(ctx: click.Context) -> Config:
    return ctx.ensure_object(Config)


pass_cfg = click.make_pass_decorator(Config, ensure=True)


def json_option(f: F) -> F:
    """``--json`` on a sub-command too (``pec boxes list --json`` as well as ``pec --json boxes list``)."""

    def set_json(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
        if value:
            cfg_of(ctx).json = True

    return click.option(
        "--json",
        "json_output",
        is_flag=True,
        expose_value=False,
        callback=set_json,
        help="Print JSON instead of tables: " + output.JSON_SHAPES.get(f.__name__, "see the README") + ".",
    )(f)


def stdin_is_terminal() -> bool:
    return sys.stdin.isatty()


def confirm_or_refuse(yes: bool, question: str) -> None:
    """Ask on a terminal; without one, refuse unless ``--yes``: CI has no stdin, never block.

    A "no" (or no answer: end of input, Ctrl-C) is an outcome, not a failure: it exits with
    :attr:`ExitCode.DECLINED` and nothing is sent.
    """
    if yes:
        return
    if not stdin_is_terminal():
        raise click.UsageError("this is a paid operation and stdin is not a terminal: pass --yes to confirm")
    try:
        accepted = click.confirm(question, err=True)
    except click.Abort:
        accepted = False
    if not accepted:
        click.echo("declined: nothing was sent", err=True)
        raise click.exceptions.Exit(int(ExitCode.DECLINED))


def yes_option(f: F) -> F:
    return click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation (scripts, CI).")(f)


def confirm_paid(cfg: Config, yes: bool, items: list[tuple[str, str, int]], action: str) -> None:
    """Show what a paid call will cost, then ask; without a terminal, go on only with ``--yes``."""
    total = price_preview(cfg, items)
    price = "an unknown amount" if total is None else f"EUR {total:.2f}"
    confirm_or_refuse(yes, f"{action} on {cfg.describe_target()} for {price}?")


def load_fields_file(path: str | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise ValidationError("--from-file", path, "a readable JSON or TOML file", reason=str(exc)) from None
    try:
        data = tomllib.loads(raw.decode("utf-8")) if path.lower().endswith(".toml") else json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValidationError("--from-file", path, "a JSON or TOML file", reason=str(exc)) from None
    if not isinstance(data, dict):
        raise ValidationError("--from-file", path, "a JSON object / TOML table of fields")
    return data


def merge_fields(from_file: Mapping[str, Any], flags: Mapping[str, Any]) -> dict[str, Any]:
    """The file's fields, overridden by the flags given on the command line."""
    fields = dict(from_file)
    fields.update({k: v for k, v in flags.items() if v is not None})
    return fields


def field_options(
    names: tuple[str, ...], describe: Callable[[str], str] = "API field {}.".format
) -> Callable[[F], F]:
    def decorate(f: F) -> F:
        for name in reversed(names):
            f = click.option("--" + name.replace("_", "-"), name, default=None, help=describe(name))(f)
        return f

    return decorate


def with_callback(fields: dict[str, Any], url: str | None) -> dict[str, Any]:
    if url:
        fields["callback"] = {"url": url}
    return fields


def refuse_overwrite(path: str, force: bool) -> None:
    if path != "-" and Path(path).exists() and not force:
        raise ValidationError(
            "--output", path, "a file that does not exist yet", reason="it exists: pass --force to overwrite"
        )


def save_form(cfg: Config, method: str, record_id: str, out: str | None, default: str, force: bool) -> None:
    target = out or default
    refuse_overwrite(target, force)
    with cfg.client() as pec:
        download = getattr(pec, method)
        if target == "-":
            data: bytes = download(record_id)
            sys.stdout.flush()
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
            return
        data = download(record_id, to=target, overwrite=force)
    if cfg.json:
        output.print_json({"id": record_id, "path": target, "bytes": len(data)})
    else:
        click.echo(f"saved {len(data)} bytes to {target}")


def show_box(cfg: Config, box: Any, title: str) -> None:
    if cfg.json:
        output.print_json(box)
        return
    data = box.to_dict()
    users = data.pop("multiutenza", None)
    output.record(data, title=title)
    if users:
        output.table(
            users, ("id_utenza", "userid", "nome", "cognome", "email_gestione_password"), title="users"
        )


def show_data(cfg: Config, data: Any, title: str) -> None:
    if cfg.json:
        output.print_json(data)
    else:
        output.record(data, title=title)


def show_comm(cfg: Config, item: Any, title: str) -> None:
    if cfg.json:
        output.print_json(item)
    else:
        output.record(item.to_dict(), title=title)


def price_preview(cfg: Config, items: list[tuple[str, str, int]]) -> float | None:
    """Print what ``items`` (key, description, units) will cost, on stderr; returns the total."""
    from rich.table import Table

    plist = cfg.price_list()
    out = Table(title=plist.label, title_justify="left")
    out.add_column("item")
    out.add_column("EUR", justify="right")
    total: float | None = 0.0
    for key, description, units in items:
        price = plist.price(key, units)
        out.add_row(description, "unknown" if price is None else f"{price:.2f}")
        total = None if price is None or total is None else total + price
    if total is not None:
        out.add_row("[bold]total[/bold]", f"[bold]{total:.2f}[/bold]")
    if plist.balance is not None:
        out.add_row("wallet balance now", f"{plist.balance:.2f}")
        if total is not None:
            out.add_row("wallet balance after", f"{plist.balance - total:.2f}")
    output.console(stderr=True).print(out)
    return total


# -- root -------------------------------------------------------------------------------------------

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


# -- domain, availability ---------------------------------------------------------------------------


@cli.group()
def domain() -> None:
    """Certified domains."""


@domain.command("check")
@click.argument("dominio")
@yes_option
@json_option
@pass_cfg
def domain_check(cfg: Config, dominio: str, yes: bool) -> None:
    """Check whether a domain can send and receive PEC (paid)."""
    confirm_paid(cfg, yes, [("domini_pec", f"domain check of {dominio}", 1)], f"Check {dominio}")
    with cfg.client() as pec:
        eligible = pec.is_domain_eligible(dominio)
    if cfg.json:
        output.print_json({"dominio": dominio, "eligible": eligible})
    else:
        click.echo(f"{dominio}: {'eligible' if eligible else 'not eligible'} for PEC")


FORMATS = click.Choice(["table", "csv", "json"])


def format_option(f: F) -> F:
    return click.option(
        "--format",
        "fmt",
        type=FORMATS,
        default=None,
        help="Output format (default: table; json with --json).",
    )(f)


def bulk_options(f: F) -> F:
    f = click.option(
        "--concurrency",
        type=click.IntRange(1, 64),
        default=8,
        show_default=True,
        help="Requests in flight at once.",
    )(f)
    return click.option("--progress/--no-progress", default=True, help="Show a progress bar on stderr.")(f)


def emit_rows(
    cfg: Config, fmt: str | None, rows: list[dict[str, Any]], columns: tuple[str, ...], title: str
) -> None:
    chosen = fmt or ("json" if cfg.json else "table")
    if chosen == "json":
        output.print_json(rows)
    elif chosen == "csv":
        output.write_csv(rows, columns)
    else:
        output.table(rows, columns, title=title)


def read_lines(path: str) -> list[str]:
    stream = click.open_file(path, encoding="utf-8")
    with stream:
        lines = [line.split("#", 1)[0].strip() for line in stream]
    return [line for line in lines if line]


AVAILABILITY_COLUMNS = ("pec", "available", "registrable", "note", "error")


def registrability(cfg: Config, row: dict[str, Any]) -> dict[str, Any]:
    """``registrable``: free, and on a domain ``boxes register`` accepts here; ``note`` says why not."""
    from pec_ext.validation.guards import registration_refusal

    if row["available"] is None:  # not answered: nothing to say about it
        return {**row, "registrable": None, "note": None}
    env = cfg.effective_environment
    why = registration_refusal(row["pec"], env)
    note = f"cannot be registered in this environment ({env}): {why}" if row["available"] and why else None
    registrable = bool(row["available"]) and why is None
    return {**row, "registrable": registrable, "note": note}


@cli.command()
@click.argument("addresses", nargs=-1)
@click.option(
    "--file", "-f", "file", default=None, help="Addresses, one per line ('-' for stdin; # comments)."
)
@format_option
@bulk_options
@json_option
@pass_cfg
def available(
    cfg: Config,
    addresses: tuple[str, ...],
    file: str | None,
    fmt: str | None,
    concurrency: int,
    progress: bool,
) -> None:
    """Whether addresses are free, and whether `boxes register` would accept them here.

    Several addresses, or --file, run concurrently. "registrable" is false, with a "note" saying
    why, for a free address on a domain register refuses in this environment.
    """
    from pec_ext.cli import _reads as bulk
    from pec_ext.validation.guards import check_email

    items = list(addresses) + (read_lines(file) if file else [])
    if not items:
        raise click.UsageError("give one or more ADDRESSES or --file")
    worst: ExitCode | None = None
    if len(items) == 1 and file is None:
        address = check_email("pec", items[0])  # before the token: a typo needs no credentials
        with cfg.client() as pec:
            rows = [{"pec": items[0], "available": pec.is_available(address), "error": None}]
    else:
        # malformed lines are reported without a request (or a token); the rest are asked
        refused: dict[int, dict[str, Any]] = {}
        for index, item in enumerate(items):
            try:
                check_email("pec", item)
            except ValidationError as exc:
                refused[index] = {"pec": item, "available": None, "error": str(exc)}
                worst = ExitCode.VALIDATION
        asked = [item for index, item in enumerate(items) if index not in refused]
        answers: list[dict[str, Any]] = []
        if asked:
            answers, failed = bulk.availability(cfg, asked, concurrency=concurrency, progress=progress)
            codes = [code for code in (worst, failed) if code is not None]
            worst = max(codes) if codes else None
        answered = iter(answers)
        rows = [refused[index] if index in refused else next(answered) for index in range(len(items))]
    rows = [registrability(cfg, row) for row in rows]
    if len(rows) == 1 and file is None and fmt is None and not cfg.json:
        row = rows[0]
        text = "available" if row["available"] else "NOT available"
        click.echo(f"{row['pec']}: {text}" + (f", but {row['note']}" if row["note"] else ""))
    else:
        emit_rows(cfg, fmt, rows, AVAILABILITY_COLUMNS, "availability")
    if worst is not None:
        raise click.exceptions.Exit(int(worst))


# -- boxes ------------------------------------------------------------------------------------------


@cli.group()
def boxes() -> None:
    """The account's PEC boxes."""


@boxes.command("list")
@json_option
@pass_cfg
def boxes_list(cfg: Config) -> None:
    """List the account's boxes."""
    with cfg.client() as pec:
        items = pec.list_mailboxes()
    if cfg.json:
        output.print_json(items)
    elif not items:
        click.echo("no boxes")
    else:
        output.table([b.to_dict() for b in items], BOX_COLUMNS, title=f"{len(items)} box(es)")


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
@field_options(REGISTER_FIELDS, applicant.option_help)
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
    from pec_ext.validation.guards import validate_register_body

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
    )
    tipo = body["tipo_casella"]
    item = (f"register.{tipo}", f"registration of a {tipo} box (first year)", 1)
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
    from pec_ext.validation.spaces import SPACE_STEPS, check_space_body, space_added

    with cfg.client() as pec:
        current = pec.get_mailbox(box_id).to_dict()
        added = space_added(check_space_body(body, box=current), current)
        items = [
            (f"space.{field}", f"{field}: {mb:+d} MB", mb // SPACE_STEPS[field])
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
    from pec_ext.enums import TYPE_RANK
    from pec_ext.validation.guards import check_upgrade, invalid, normalize_enum

    # before the token and the read: only the Legalmail ladder can be a target
    wanted = normalize_enum("tipo_casella", tipo, TipoCasella)
    if wanted not in TYPE_RANK:
        ladder = [t.value for t in TYPE_RANK]
        raise invalid("tipo_casella", tipo, ladder, reason=f"no box can change type to {wanted.value}")
    with cfg.client() as pec:
        current = pec.get_mailbox(box_id).tipo_casella
        target = check_upgrade(current, tipo).value
        item = (f"transform.{target}", f"type change {current} -> {target}", 1)
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
    from pec_ext.validation.spaces import SPACE_STEPS, check_size

    step = SPACE_STEPS["spazio_conservazione"]
    reserved = step if space is None else check_size("spazio_conservazione", space)
    item = ("conservazione", f"conservazione service, {reserved} MB", reserved // step)
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
    from pec_ext.validation.guards import check_years

    years = check_years(anni)
    with cfg.client() as pec:
        tipo = pec.get_mailbox(box_id).tipo_casella
        item = (f"renew.{tipo}", f"renewal of a {tipo} box, anni={years}", years)
        confirm_paid(cfg, yes, [item], f"Renew box {box_id} for {years} year(s) (anni={years})")
        box = pec.renew_mailbox(box_id, anni=anni)
    show_box(cfg, box, f"box {box_id}: renewed until {box.data_scadenza}")


@boxes.group("users")
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
    from pec_ext.validation.guards import validate_user_body

    user = validate_user_body(fields)
    item = ("multiutenza", f"extra user {user['email_gestione_password']}", 1)
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
        output.table(
            users, ("id_utenza", "userid", "nome", "cognome", "email_gestione_password"), title="users"
        )


@boxes.command("form")
@click.argument("box_id", metavar="ID")
@click.option("--conservazione", is_flag=True, help="The conservazione form instead of the activation form.")
@click.option("--output", "-o", "out", default=None, help="File to write ('-' for stdout).")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@json_option
@pass_cfg
def boxes_form(cfg: Config, box_id: str, conservazione: bool, out: str | None, force: bool) -> None:
    """Download the activation (or conservazione) form to sign, as a PDF."""
    if conservazione:
        save_form(cfg, "download_conservation_form", box_id, out, f"{box_id}_modulo_conservazione.pdf", force)
    else:
        save_form(cfg, "download_activation_form", box_id, out, f"{box_id}_modulo_attivazione.pdf", force)


DURATION = re.compile(r"^(\d{1,5})\s*([dwmy]?)$")
DAYS_PER_UNIT = {"": 1, "d": 1, "w": 7, "m": 30, "y": 365}


def parse_within(_ctx: click.Context, param: click.Parameter, value: str) -> int:
    match = DURATION.match(value.strip().lower())
    if match is None:
        raise click.BadParameter("a duration like 30d, 8w, 6m, 1y (or days as a number)", param=param)
    return int(match.group(1)) * DAYS_PER_UNIT[match.group(2)]


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
    "--within", default="30d", show_default=True, callback=parse_within, help="Horizon: 30d, 8w, 6m, 1y."
)
@click.option("--as-of", default=None, callback=parse_as_of, help="Reference date (default: today).")
@format_option
@bulk_options
@json_option
@pass_cfg
def boxes_expiring(
    cfg: Config, within: int, as_of: dt.date | None, fmt: str | None, concurrency: int, progress: bool
) -> None:
    """Boxes expiring within a horizon (or already expired), to plan renewals."""
    from pec_ext.cli import _reads as bulk

    rows = bulk.expiring(cfg, within, as_of, concurrency=concurrency, progress=progress)
    emit_rows(cfg, fmt, rows, bulk.EXPIRING_COLUMNS, f"{len(rows)} box(es) expiring within {within} days")


# -- business register communication -------------------------------------------------------------------


@cli.group()
def comunica() -> None:
    """Communication of a PEC address to the business register (Registro Imprese)."""


@comunica.command("create")
@click.option("--from-file", default=None, help="JSON or TOML file with the fields (flags override it).")
@field_options(COMMUNICATION_FIELDS)
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
    from pec_ext.validation.guards import validate_communication_body

    body = validate_communication_body(fields, strict_identifiers=cfg.effective_strict_identifiers)
    cost = ("comunica_pec", f"communication of {body['casella_pec']} to the business register", 1)
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
    if cfg.json:
        output.print_json(items)
    elif not items:
        click.echo("no communications")
    else:
        output.table([i.to_dict() for i in items], COMM_COLUMNS, title=f"{len(items)} communication(s)")


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
@click.option("--output", "-o", "out", default=None, help="File to write ('-' for stdout).")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@json_option
@pass_cfg
def comunica_form(cfg: Config, comm_id: str, out: str | None, force: bool) -> None:
    """Download the power of attorney to sign (PDF)."""
    save_form(
        cfg, "download_power_of_attorney", comm_id, out, f"{comm_id}_procura_registro_imprese.pdf", force
    )


# -- sandbox ------------------------------------------------------------------------------------------


@cli.group("sandbox")
def sandbox_group() -> None:
    """The simulator of the PEC API shipped with this package."""


@sandbox_group.command(
    "serve",
    # the options are python -m pec_ext.sandbox's, defined once there (argparse), passed through
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    add_help_option=False,
)
@click.argument("server_args", nargs=-1, type=click.UNPROCESSED)
def sandbox_serve(server_args: tuple[str, ...]) -> None:
    """Run the sandbox over HTTP (loopback by default) until interrupted.

    Same options as `python -m pec_ext.sandbox` (--port, --db, --token, --account, --read-timeout,
    --max-connections, --callback-attempts...): see `pec sandbox serve --help`.
    """
    from pec_ext.sandbox.__main__ import main as serve_main

    raise click.exceptions.Exit(serve_main(list(server_args), prog="pec sandbox serve"))


def _sandbox_admin(cfg: Config, action: str) -> Any:
    if cfg.is_embedded:
        sb = cfg.embedded_sandbox()
        if action == "advance":
            return {"completed": sb.advance(), **sb.summary()}
        return sb.summary()
    if cfg.effective_environment == "production" or not cfg.base_url:
        raise click.UsageError("needs --base-url pointing at `pec sandbox serve` (or the embedded sandbox)")
    with cfg.client() as pec:
        method = "POST" if action == "advance" else "GET"
        return pec.request(method, f"/_sandbox/{action}")


@sandbox_group.command("advance")
@json_option
@pass_cfg
def sandbox_advance(cfg: Config) -> None:
    """Complete the sandbox's queued processing (activations, business-register steps)."""
    show_data(cfg, _sandbox_admin(cfg, "advance"), "sandbox")


@sandbox_group.command("state")
@json_option
@pass_cfg
def sandbox_state(cfg: Config) -> None:
    """The sandbox's balance and counts."""
    show_data(cfg, _sandbox_admin(cfg, "state"), "sandbox")


# -- demo ---------------------------------------------------------------------------------------------


@cli.command()
@click.option("--balance", type=float, default=200.0, show_default=True, help="Sandbox wallet, EUR.")
@click.option("--address", default="mario.rossi@testcert.legalmail.it", show_default=True)
@json_option
@pass_cfg
def demo(cfg: Config, balance: float, address: str) -> None:
    """The whole lifecycle of a box against an embedded sandbox: no token, no network, seconds."""
    from . import demo as demo_module

    demo_module.run(balance=balance, address=address, as_json=cfg.json)


from pec_ext.cli.bulk import bulk  # noqa: E402 - the group's module builds on the helpers above

cli.add_command(bulk)
from .account import prices_command, token_group, wallet_command  # noqa: E402 - needs `cli` defined

cli.add_command(token_group)
cli.add_command(wallet_command)
cli.add_command(prices_command)
cli.add_command(callbacks_group)
from pec_ext.cli.send import (  # noqa: E402 - registered on the root group defined above
    bulk_send_command,
    inbox_command,
    quota_command,
    receipts_command,
    send_command,
)

for massiva_command in (send_command, receipts_command, inbox_command, quota_command):
    cli.add_command(massiva_command)
bulk.add_command(bulk_send_command)


# The console scripts' names (pyproject [project.scripts]): one command under both.
SCRIPT_NAMES = ("pec", "openapi-pec")


def main(argv: list[str] | None = None) -> None:
    """The ``pec`` and ``openapi-pec`` console scripts; usage lines name the one invoked."""
    invoked = Path(sys.argv[0]).name if sys.argv else ""
    cli.main(args=argv, prog_name=invoked if invoked in SCRIPT_NAMES else "pec")
