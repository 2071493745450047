"""The ``form`` commands' download: the PDF to sign, to a file (never overwritten by surprise) or stdout."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from pec_ext.errors import ValidationError

from . import output
from .config import Config
from .options import F


def refuse_overwrite(path: str, force: bool) -> None:
    if path != "-" and Path(path).exists() and not force:
        raise ValidationError(
            "--output", path, "a file that does not exist yet", reason="it exists: pass --force to overwrite"
        )


def save_form(cfg: Config, method: str, record_id: str, out: str | None, default: str, force: bool) -> None:
    """Download with the client's ``method`` to ``out`` (default name ``default``; '-' for stdout)."""
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


def output_options(f: F) -> F:
    """``--output``/``-o`` and ``--force``."""
    f = click.option("--force", is_flag=True, help="Overwrite an existing file.")(f)
    return click.option("--output", "-o", "out", default=None, help="File to write ('-' for stdout).")(f)
