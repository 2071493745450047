"""Rendering: rich tables for people, JSON (the models' ``to_dict()``) and CSV for programs.

rich is imported inside the functions, so that importing the command line stays cheap.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import click

from pec_ext.config import TOKEN_ENV
from pec_ext.errors import ApiError, OutcomeUnknownError, PecError, ValidationError

from .exit_codes import ExitCode

if TYPE_CHECKING:
    from rich.console import Console


BOX = "the box, an object as the API's Casella (id, casella_pec, tipo_casella, stato, ...)"
COMMUNICATION = "the communication, an object as the API's RichiestaComunicazionePec"
BULK_REPORT = (
    'an object {"summary": {"total", "done", "already_done", "failed", "unknown", "not_reached", '
    '"interrupted"}, "items": [{"item", "outcome", "id", "detail"}]}'
)
JSON_SHAPES = {
    "domain_check": 'an object {"dominio", "eligible"}',
    "available": 'a list, one object per address however many: {"pec", "available", "registrable", '
    '"note", "error"}',
    "boxes_list": "a list of boxes (empty when there are none)",
    "boxes_show": BOX,
    "boxes_register": BOX,
    "boxes_activate": BOX,
    "boxes_revoke": BOX,
    "boxes_space": BOX,
    "boxes_upgrade": BOX,
    "boxes_conservazione": BOX,
    "boxes_renew": BOX,
    "boxes_users_add": BOX,
    "boxes_users_list": 'a list of users {"id_utenza", "userid", "nome", "cognome", '
    '"email_gestione_password"}',
    "boxes_form": 'an object {"id", "path", "bytes"}',
    "boxes_expiring": "a list of rows, one per box, with the columns of the table",
    "comunica_create": COMMUNICATION,
    "comunica_show": COMMUNICATION,
    "comunica_upload": COMMUNICATION,
    "comunica_list": "a list of communications (empty when there are none)",
    "comunica_form": 'an object {"id", "path", "bytes"}',
    "sandbox_advance": 'an object: "completed" (jobs done) and the sandbox\'s state',
    "sandbox_state": "an object: the sandbox's balance and counts",
    "bulk_register": BULK_REPORT,
    "bulk_renew": BULK_REPORT,
    "bulk_upgrade": BULK_REPORT,
    "demo": 'an object {"steps", "total_cost", "final_balance", "ledger", "transactions"}',
    "token_create": 'an object {"token", "name", "scopes", "expires"}',
    "token_list": 'a list of tokens {"token" (masked), "name", "scopes", "expires"}',
    "wallet_command": 'an object {"credit", "transactions": [{"when", "amount", "description"}]}',
    "prices_command": 'an object {"source", "indicative", "balance", "prices": [{"operation", "scope", '
    '"price key", "EUR"}]}',
    "callbacks_listen": 'one object per line and event: {"kind", "id", "stato", "claimed_stato", "data", '
    '"record"}',
    "send_command": 'an object {"sending": {"code", "recipients", "subject", "sent", "reconciled"}, '
    '"report": the delivery report as pec receipts prints it (with --wait), else null}',
    "receipts_command": 'an object {"code", "accepted", "complete", "recipients": {address: status}, '
    '"receipts": [{"kind", "recipients", "time", "subject"}]}',
    "inbox_command": 'a list of messages {"id", "time", "kind", "subject", "recipients", "code"}',
    "quota_command": 'an object {"usage_mb", "limit_mb", "free_mb"}',
    "bulk_send_command": 'an object {"summary": {"rows", "delivered", "not_delivered", "pending", "failed", '
    '"unknown"}, "rows": [{"row", "to", "subject", "code", "status", "detail"}]}',
}
"""What ``--json`` prints on stdout, by command function: one shape each, whatever the data.

Errors are never on stdout: with ``--json`` they are ``{"error": {...}}`` on stderr.
"""


def console(*, stderr: bool = False) -> Console:
    """A console on the current stdout/stderr; wide when not a terminal, so nothing is cut."""
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    tty = stream.isatty()
    return Console(file=stream, width=None if tty else 200, highlight=False, soft_wrap=not tty)


def to_data(value: Any) -> Any:
    """A JSON-able form of models (``to_dict()``), lists of them, and plain values."""
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if isinstance(value, Mapping):
        return {str(k): to_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_data(v) for v in value]
    return value


def print_json(data: Any) -> None:
    click.echo(json.dumps(to_data(data), indent=2, ensure_ascii=False, default=str))


def _italian_time() -> dt.tzinfo:
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo("Europe/Rome")
    except (ImportError, KeyError, ValueError):  # no tz database on this machine
        return dt.UTC


def when(epoch: object) -> str:
    """An epoch time (the API's ``timestamp`` fields) as dd/mm/yyyy HH:MM, Italian time."""
    if isinstance(epoch, bool) or not isinstance(epoch, int | float):
        return cell(epoch)
    try:
        return dt.datetime.fromtimestamp(epoch, _italian_time()).strftime("%d/%m/%Y %H:%M")
    except (OverflowError, OSError, ValueError):
        return str(epoch)


EPOCH_FIELDS = frozenset({"timestamp", "now"})
"""Fields holding epoch seconds (the API's ``timestamp``, the sandbox's ``now``), shown as dates."""


def cell(value: Any, key: str | None = None) -> str:
    """One value for a table; ``key`` is its field, since some fields hold epoch numbers."""
    if key in EPOCH_FIELDS:
        if isinstance(value, Mapping):
            return ", ".join(f"{k} {when(v)}" for k, v in value.items())
        return when(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Mapping | list):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def table(rows: Iterable[Mapping[str, Any]], columns: Sequence[str], *, title: str | None = None) -> None:
    from rich.table import Table

    out = Table(title=title, title_justify="left")
    for column in columns:
        out.add_column(column, overflow="fold")
    for row in rows:
        out.add_row(*(cell(row.get(column), column) for column in columns))
    console().print(out)


def record(data: Mapping[str, Any], *, title: str | None = None) -> None:
    """One record as a two-column field/value table."""
    from rich.table import Table

    out = Table(title=title, title_justify="left", show_header=False)
    out.add_column("field", style="bold")
    out.add_column("value", overflow="fold")
    for key, value in data.items():
        out.add_row(key, cell(value, key))
    console().print(out)


def write_csv(rows: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> None:
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([cell(row.get(column)) for column in columns])


def redact(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def error_data(exc: BaseException, code: ExitCode) -> dict[str, Any]:
    data: dict[str, Any] = {"type": type(exc).__name__, "exit_code": int(code)}
    if isinstance(exc, ApiError):
        data.update(
            message=exc.message,
            code=exc.code,
            code_name=exc.code_name,
            status_code=exc.status_code,
            method=exc.method,
            url=exc.url,
        )
    elif isinstance(exc, ValidationError):
        data.update(message=str(exc), field=exc.field, allowed=exc.allowed, reason=exc.reason)
        data["errors"] = [
            {"field": e.field, "allowed": e.allowed, "reason": e.reason, "message": str(e)}
            for e in exc.errors
        ]
    elif isinstance(exc, OutcomeUnknownError):
        data.update(message=str(exc), operation=exc.operation, known=to_data(exc.known))
    else:
        data.update(message=str(exc))
    return data


def error_text(exc: BaseException) -> str:
    if isinstance(exc, ApiError):
        code = f" {exc.code}" if exc.code is not None else " (no error code)"
        name = f" ({exc.code_name})" if exc.code_name else ""
        return (
            f"API error{code}{name}, HTTP {exc.status_code}: {exc.message}\n  request: {exc.method} {exc.url}"
        )
    if isinstance(exc, ValidationError) and exc.field == TOKEN_ENV:
        return str(exc)
    if isinstance(exc, ValidationError):
        return f"invalid input: {exc}"
    if isinstance(exc, OutcomeUnknownError):
        text = f"outcome unknown: {exc}"
        if exc.known is not None:
            text += "\n  found: " + json.dumps(to_data(exc.known), ensure_ascii=False, default=str)
        return text
    if isinstance(exc, PecError):
        return f"{type(exc).__name__}: {exc}"
    return f"unexpected error: {type(exc).__name__}: {exc}"


def report_error(exc: BaseException, code: ExitCode, *, as_json: bool, secrets: Iterable[str]) -> None:
    secrets = list(secrets)
    if as_json:
        text = json.dumps({"error": error_data(exc, code)}, ensure_ascii=False, default=str)
    else:
        text = "Error: " + error_text(exc)
    click.echo(redact(text, secrets), err=True)
