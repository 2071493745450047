"""``pec sandbox``: the simulator of the PEC API shipped with this package, served or inspected."""

from __future__ import annotations

from typing import Any

import click

from .config import Config
from .options import is_loopback, json_option, pass_cfg, show_data


@click.group("sandbox")
def sandbox_group() -> None:
    """The simulator of the PEC API shipped with this package."""


@sandbox_group.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=8765, show_default=True, help="0 picks a free one."
)
@click.option("--db", default=None, help="SQLite file keeping the state across restarts.")
@click.option("--balance", type=float, default=100.0, show_default=True, help="Initial wallet balance, EUR.")
@click.option(
    "--processing-delay", type=float, default=0.0, help="Simulated seconds before processing is due."
)
@click.option("--verbose", is_flag=True, help="Log every request to stderr.")
def sandbox_serve(
    host: str, port: int, db: str | None, balance: float, processing_delay: float, verbose: bool
) -> None:
    """Run the sandbox over HTTP (loopback by default) until interrupted."""
    # the simulator is imported when it runs: the production command line need not load it
    from pec_ext.sandbox.__main__ import main as serve_main

    if not is_loopback(host):
        click.echo(f"warning: {host} is not a loopback address: the sandbox has no real auth", err=True)
    argv = ["--host", host, "--port", str(port), "--balance", str(balance)]
    argv += ["--processing-delay", str(processing_delay)]
    if db:
        argv += ["--db", db]
    if verbose:
        argv.append("--verbose")
    raise click.exceptions.Exit(serve_main(argv))


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
