"""``pec callbacks``: a local receiver printing each verified callback, and signed callback objects.

With ``OPENAPI_PEC_CALLBACK_SECRET`` set, every other command that sends a callback
(``--callback-url``) adds the token this receiver checks.

For debugging an integration against ``pec sandbox serve``: the receiver confirms every callback
with a GET through the same target the other commands use (``--base-url``, the token from
``OPENAPI_PEC_TOKEN``), so run it with the options that reach the sandbox.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

import click

from pec_ext import config
from pec_ext.callbacks.events import CallbackEvent, sign_callback
from pec_ext.callbacks.receiver import CallbackReceiver
from pec_ext.callbacks.store import MemoryTransitionStore, SqliteTransitionStore, TransitionStore
from pec_ext.config import CALLBACK_SECRET_ENV

from . import output
from .config import Config
from .options import is_loopback, json_text_option, pass_cfg


def _secret_given(ctx: click.Context, param: click.Parameter, value: str | None) -> str:
    # A callable default (config) that finds no secret gives None, which click takes as given.
    if not value:
        raise click.MissingParameter(ctx=ctx, param=param)
    return value


secret_option = click.option(
    "--secret",
    default=config.callback_secret,
    callback=_secret_given,
    help=f"The HMAC secret shared with the sender (better: ${CALLBACK_SECRET_ENV}; never printed).",
)


@click.group("callbacks")
def callbacks_group() -> None:
    """Receive callbacks locally, and make signed callback objects."""


def event_line(event: CallbackEvent, *, as_json: bool) -> str:
    if as_json:
        return json.dumps(
            {
                "kind": event.kind.value,
                "id": event.id,
                "stato": str(event.stato),
                "claimed_stato": None if event.claimed_stato is None else str(event.claimed_stato),
                "data": event.data,
                "record": output.to_data(event.record),
            },
            ensure_ascii=False,
            default=str,
        )
    line = f"{event.kind.value} {event.id} {event.stato}"
    if event.claimed_stato is not None and event.claimed_stato != event.stato:
        line += f" (the callback said {event.claimed_stato})"
    if event.data:
        line += " data=" + json.dumps(event.data, ensure_ascii=False, default=str)
    return line


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        del format, args  # refusals are reported with their reason instead


def _reporting(app: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
    """The receiver's WSGI app, telling on stderr why a callback was refused."""

    def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        status: list[str] = []

        def remember(code: str, headers: list[tuple[str, str]], *rest: Any) -> Any:
            status.append(code)
            return start_response(code, headers, *rest)

        body = b"".join(app(environ, remember))
        if status and not status[0].startswith("200"):
            try:
                message = json.loads(body).get("message", "")
            except ValueError:
                message = ""
            click.echo(f"refused: {status[0]}: {message}", err=True)
        return [body]

    return wrapped


@callbacks_group.command("listen")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=8787, show_default=True, help="0 picks a free one."
)
@secret_option
@click.option("--store", default=None, help="SQLite file of handled transitions (default: in memory).")
@json_text_option
@pass_cfg
def callbacks_listen(cfg: Config, host: str, port: int, secret: str, store: str | None) -> None:
    """Print each verified callback as it arrives (confirmed with a GET of the record)."""
    if not is_loopback(host):
        click.echo(f"warning: {host} is not a loopback address", err=True)

    def show(event: CallbackEvent) -> None:
        click.echo(event_line(event, as_json=cfg.json))
        sys.stdout.flush()

    # refusals are reported below with their status; the library's warnings would say it twice
    logging.getLogger("pec_ext.callbacks.events").addHandler(logging.NullHandler())
    logging.getLogger("pec_ext.callbacks.events").propagate = False
    transitions: TransitionStore = SqliteTransitionStore(store) if store else MemoryTransitionStore()
    with cfg.client() as client:
        receiver = CallbackReceiver(secret, client, on_mailbox=show, on_communication=show, store=transitions)
        server = make_server(host, port, _reporting(receiver.wsgi_app()), handler_class=_QuietHandler)
        bound_host, bound_port = server.server_address[:2]
        click.echo(
            f"listening for callbacks on http://{bound_host!s}:{bound_port}/ (Ctrl-C to stop)", err=True
        )
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()


@callbacks_group.command("sign")
@click.argument("url")
@click.option("--method", type=click.Choice(["POST", "JSON"], case_sensitive=False), default=None)
@click.option("--field", default=None, help="Form field holding the record (method POST).")
@click.option("--data", "data_json", default=None, help="Your own data, a JSON object echoed back.")
@secret_option
def callbacks_sign(
    url: str, method: str | None, field: str | None, data_json: str | None, secret: str
) -> None:
    """Print a callback object carrying a token, for a request body (e.g. --from-file)."""
    callback: dict[str, Any] = {"url": url}
    if method:
        callback["method"] = method
    if field:
        callback["field"] = field
    if data_json is not None:
        try:
            callback["data"] = json.loads(data_json)
        except ValueError as exc:
            raise click.BadParameter(f"not JSON: {exc}", param_hint="--data") from None
    output.print_json(sign_callback(secret, callback))
