"""``pec available``: whether addresses are free, and whether ``pec boxes register`` would take them."""

from __future__ import annotations

from typing import Any

import click

from pec_ext.errors import ValidationError
from pec_ext.validation.fields import check_email, registration_refusal

from . import _reads
from .config import Config
from .exit_codes import ExitCode
from .options import bulk_options, emit_rows, format_option, json_option, pass_cfg, read_lines

AVAILABILITY_COLUMNS = ("pec", "available", "registrable", "note", "error")


def registrability(cfg: Config, row: dict[str, Any]) -> dict[str, Any]:
    """``registrable``: free, and on a domain ``boxes register`` accepts here; ``note`` says why not."""
    if row["available"] is None:  # not answered: nothing to say about it
        return {**row, "registrable": None, "note": None}
    env = cfg.effective_environment
    why = registration_refusal(row["pec"], env)
    note = f"cannot be registered in this environment ({env}): {why}" if row["available"] and why else None
    registrable = bool(row["available"]) and why is None
    return {**row, "registrable": registrable, "note": note}


@click.command()
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
            answers, failed = _reads.availability(cfg, asked, concurrency=concurrency, progress=progress)
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
