"""``pec sandbox``: the simulator of the PEC API shipped with this package, served or inspected."""

from __future__ import annotations

from typing import Any

import click

from .config import Config
from .options import json_option, pass_cfg, show_data


@click.group("sandbox")
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

    Same options as `python -m pec_ext.sandbox` (--port, --db, --start, --token, --account, --read-timeout,
    --max-connections, --callback-attempts...): see `pec sandbox serve --help`.
    """
    # the simulator is imported when it runs: the production command line need not load it
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
