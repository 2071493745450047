"""What the command groups share: ``--json``/``--yes``/``--format``, the paid-call confirmation,
fields from flags and files, and how records and rows are shown."""

from __future__ import annotations

import ipaddress
import json
import sys
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import click

from pec_ext.errors import ValidationError

from . import output
from .config import Config
from .exit_codes import ExitCode

F = TypeVar("F", bound=Callable[..., Any])

USER_COLUMNS = ("id_utenza", "userid", "nome", "cognome", "email_gestione_password")


def cfg_of(ctx: click.Context) -> Config:
    return ctx.ensure_object(Config)


pass_cfg = click.make_pass_decorator(Config, ensure=True)


def _json_flag(instead_of: str) -> Callable[[F], F]:
    def decorate(f: F) -> F:
        def set_json(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
            if value:
                cfg_of(ctx).json = True

        shape = output.JSON_SHAPES.get(f.__name__, "see the README")
        return click.option(
            "--json",
            "json_output",
            is_flag=True,
            expose_value=False,
            callback=set_json,
            help=f"Print JSON instead of {instead_of}: {shape}.",
        )(f)

    return decorate


json_option = _json_flag("tables")
"""``--json`` on a sub-command too (``pec boxes list --json`` as well as ``pec --json boxes list``)."""
json_text_option = _json_flag("text")
"""``--json`` for a command that prints lines of text rather than tables."""


def yes_option(f: F) -> F:
    return click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation (scripts, CI).")(f)


def is_loopback(host: str) -> bool:
    """Whether a server bound to ``host`` is reachable from this machine only."""
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


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


def confirm_paid(cfg: Config, yes: bool, items: list[tuple[str | None, str, int]], action: str) -> None:
    """Show what a paid call will cost, then ask; without a terminal, go on only with ``--yes``."""
    total = price_preview(cfg, items)
    price = "an unknown amount" if total is None else f"EUR {total:.2f}"
    confirm_or_refuse(yes, f"{action} on {cfg.describe_target()} for {price}?")


def price_preview(cfg: Config, items: list[tuple[str | None, str, int]]) -> float | None:
    """Print what ``items`` (price key, description, units) will cost, on stderr; returns the total.

    A key of None (the call does not say which price it pays) is shown as unknown.
    """
    from rich.table import Table  # rich is imported when drawn: start-up stays cheap (see output)

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


# -- fields from flags and files ------------------------------------------------------------------


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


def read_lines(path: str) -> list[str]:
    """The lines of a file ('-' for stdin), without ``#`` comments and blank lines."""
    stream = click.open_file(path, encoding="utf-8")
    with stream:
        lines = [line.split("#", 1)[0].strip() for line in stream]
    return [line for line in lines if line]


# -- showing records and rows ---------------------------------------------------------------------


def show_box(cfg: Config, box: Any, title: str) -> None:
    if cfg.json:
        output.print_json(box)
        return
    data = box.to_dict()
    users = data.pop("multiutenza", None)
    output.record(data, title=title)
    if users:
        output.table(users, USER_COLUMNS, title="users")


def show_list(cfg: Config, items: list[Any], columns: tuple[str, ...], *, empty: str, title: str) -> None:
    """Records as a table (``empty`` when there are none), or as JSON."""
    if cfg.json:
        output.print_json(items)
    elif not items:
        click.echo(empty)
    else:
        output.table([item.to_dict() for item in items], columns, title=title)


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
