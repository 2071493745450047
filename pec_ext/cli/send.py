"""``pec send``, ``pec receipts``, ``pec inbox``, ``pec quota`` and ``pec bulk send``: certified mail
from a PECMASSIVA box (Openapi's PEC Massiva API).

The box's address and password come from ``--username`` / ``--password-file``, else from
``OPENAPI_PECMASSIVA_USERNAME`` / ``OPENAPI_PECMASSIVA_PASSWORD``; the password is never printed.
Against ``pec sandbox serve`` (``OPENAPI_PEC_BASE_URL``), the PEC Massiva API is its
``/pecmassiva``; ``curl $OPENAPI_PEC_BASE_URL/_sandbox/massiva/credentials/BOX`` gives a box's.

``pec bulk send recipients.csv --journal FILE`` sends one message per row, each under an
idempotency key recorded in the journal: after Ctrl-C or kill -9 the same command finishes the job
and no row is ever sent twice (a row in flight when the process died is reconciled from the box's
inbox once its lease has run out).
"""

from __future__ import annotations

import csv
import hashlib
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from pec_ext.errors import OutcomeUnknownError, PecError, ValidationError
from pec_ext.journal.base import Journal, State
from pec_ext.journal.stores import open_store
from pec_ext.massiva import DeliveryReport, MassivaClient, Receipt
from pec_ext.massiva.operations import SEND_PRICE
from pec_ext.massiva.pacing import SEND_INTERVAL_SECONDS

from . import output
from .config import Config
from .exit_codes import ExitCode, exit_code_for
from .options import confirm_paid, json_option, pass_cfg, yes_option

F = TypeVar("F", bound=Callable[..., Any])

INTERRUPTED_EXIT = 130
RECEIPT_COLUMNS = ("kind", "recipients", "time", "subject")
INBOX_COLUMNS = ("id", "time", "kind", "subject", "recipients")
BULK_COLUMNS = ("row", "to", "subject", "code", "status", "detail")


def box_options(f: F) -> F:
    f = click.option(
        "--password-file",
        type=click.Path(dir_okay=False, exists=True),
        default=None,
        help="File holding the box's password (default: $OPENAPI_PECMASSIVA_PASSWORD).",
    )(f)
    return click.option(
        "--username",
        default=None,
        metavar="ADDRESS",
        help="The PECMASSIVA box's address (default: $OPENAPI_PECMASSIVA_USERNAME).",
    )(f)


def massiva_client(
    cfg: Config,
    username: str | None,
    password_file: str | None,
    *,
    send_interval: float = SEND_INTERVAL_SECONDS,
) -> MassivaClient:
    """The client for this command line's target: the embedded sandbox, a base URL, or Openapi."""
    password = None
    if password_file is not None:
        password = Path(password_file).read_text(encoding="utf-8").strip("\r\n")
    options: dict[str, Any] = {
        "username": username,
        "password": password,
        "timeout": cfg.timeout,
        "send_interval": send_interval,
    }
    if cfg.max_retries is not None:
        options["max_retries"] = cfg.max_retries
    if cfg.is_embedded:
        # the simulator loads when a command uses it, not with every `pec` command
        from pec_ext.sandbox import DEFAULT_TOKEN, MASSIVA_BASE_URL

        sandbox = cfg.embedded_sandbox()
        return MassivaClient(
            DEFAULT_TOKEN,
            base_url=MASSIVA_BASE_URL,
            transport=sandbox.transport(),
            clock=sandbox.virtual_clock(),
            **options,
        )
    base_url = cfg.base_url.rstrip("/") + "/pecmassiva" if cfg.base_url else None
    return MassivaClient(cfg.token(), environment=cfg.environment, base_url=base_url, **options)


def confirm_sending(cfg: Config, yes: bool, recipients: int, messages: int = 1) -> None:
    """A sending is paid per recipient: show the price and ask; without a terminal, only ``--yes``."""
    what = f"{messages} message(s) to {recipients} recipient(s)"
    confirm_paid(cfg, yes, [(SEND_PRICE.key(), what, recipients)], f"Send {what}")


def receipt_row(receipt: Receipt) -> dict[str, Any]:
    return {
        "kind": receipt.kind.value.upper(),
        "recipients": ", ".join(receipt.recipients),
        "time": receipt.time.isoformat() if receipt.time else "",
        "subject": receipt.raw_subject,
    }


def report_data(report: DeliveryReport) -> dict[str, Any]:
    return {
        "code": report.code,
        "accepted": report.accepted,
        "complete": report.complete,
        "recipients": {address: status.value for address, status in report.recipients.items()},
        "receipts": [receipt_row(receipt) for receipt in report.receipts],
    }


def show_report(cfg: Config, report: DeliveryReport, *, receipts: bool = True) -> None:
    if cfg.json:
        output.print_json(report_data(report))
        return
    if receipts:
        output.table(
            [receipt_row(r) for r in report.receipts], RECEIPT_COLUMNS, title=f"receipts of {report.code}"
        )
    rows = [{"recipient": a, "status": s.value} for a, s in report.recipients.items()]
    output.table(rows, ("recipient", "status"), title="delivery")


# -- pec send ---------------------------------------------------------------------------------------


@click.command("send")
@click.argument("recipients", nargs=-1, required=True)
@click.option("--subject", "-s", required=True, help="The message's subject (one line).")
@click.option(
    "--body-file",
    type=click.File("r", encoding="utf-8"),
    default=None,
    help="File with the message's text or HTML ('-': stdin).",
)
@click.option(
    "--body", "body_text", default=None, help="The message's text, inline (instead of --body-file)."
)
@click.option(
    "--attach",
    "-a",
    "attachments",
    multiple=True,
    type=click.Path(dir_okay=False, exists=True),
    help="A file to attach (repeatable).",
)
@click.option(
    "--idempotency-key", default=None, help="A business key (e.g. invoice:2026/0042): sent once ever."
)
@click.option(
    "--journal", "journal_url", default=None, metavar="PATH|redis://...", help="Where the key is recorded."
)
@click.option(
    "--wait", is_flag=True, help="Follow the receipts live until every recipient is delivered or not."
)
@click.option(
    "--wait-timeout", type=float, default=3600.0, show_default=True, help="Seconds --wait waits at most."
)
@click.option(
    "--poll", type=click.FloatRange(0.01), default=5.0, show_default=True, help="Seconds between two looks."
)
@yes_option
@box_options
@json_option
@pass_cfg
def send_command(
    cfg: Config,
    recipients: tuple[str, ...],
    subject: str,
    body_file: Any,
    body_text: str | None,
    attachments: tuple[str, ...],
    idempotency_key: str | None,
    journal_url: str | None,
    wait: bool,
    wait_timeout: float,
    poll: float,
    yes: bool,
    username: str | None,
    password_file: str | None,
) -> None:
    """Send a certified message (paid) to RECIPIENTS; --wait follows its receipts.

    With --wait it exits 0 when every recipient got the message, 7 when one did not (a
    non-delivery or non-acceptance notice).
    """
    if body_file is not None and body_text is not None:
        raise click.UsageError("give --body-file or --body, not both")
    body = body_file.read() if body_file is not None else (body_text or "")
    if idempotency_key is not None and journal_url is None:
        raise click.UsageError("--idempotency-key needs --journal FILE to record it in")
    to = [address for item in recipients for address in item.replace(";", ",").split(",") if address.strip()]
    with massiva_client(cfg, username, password_file) as client:
        # Everything is checked before the question is asked, and before anything is sent.
        client.check(to, subject, body, attachments=list(attachments))
        confirm_sending(cfg, yes, len(to))
        journal = Journal(open_store(journal_url)) if journal_url is not None else None
        sender = client.with_options(journal=journal) if journal is not None else client
        try:
            sending = sender.send(
                to, subject, body, attachments=list(attachments), idempotency_key=idempotency_key
            )
        finally:
            if journal is not None:
                journal.close()
        if not cfg.json:
            note = " (found in the inbox after a lost answer)" if sending.reconciled else ""
            click.echo(f"sent: code {sending.code}, {sending.sent} recipient(s) taken{note}")
        if not wait:
            if cfg.json:
                output.print_json({"sending": sending.to_json(), "report": None})
            return

        def live(receipt: Receipt) -> None:
            if not cfg.json:
                when = receipt.time.isoformat() if receipt.time else ""
                click.echo(f"  {when}  {receipt.kind.value.upper():<28} {', '.join(receipt.recipients)}")

        report = client.wait_for_delivery(
            sending.code, timeout=wait_timeout, poll=poll, on_receipt=live, recipients=sending.recipients
        )
        if cfg.json:
            output.print_json({"sending": sending.to_json(), "report": report_data(report)})
        else:
            show_report(cfg, report, receipts=False)
        if report.not_delivered:
            # A script must not take a non-delivery for a success.
            raise click.exceptions.Exit(int(ExitCode.STATE))


# -- pec receipts / inbox / quota -------------------------------------------------------------------


@click.command("receipts")
@click.argument("code")
@box_options
@json_option
@pass_cfg
def receipts_command(cfg: Config, code: str, username: str | None, password_file: str | None) -> None:
    """The receipts of a sending (its CODE, from `pec send`) and where it stands for each recipient."""
    with massiva_client(cfg, username, password_file) as client:
        show_report(cfg, client.receipts(code))


@click.command("inbox")
@click.option("--search", "-q", default=None, help="Only the messages whose subject or sender has this text.")
@click.option("--limit", type=click.IntRange(1), default=None, help="At most this many messages.")
@box_options
@json_option
@pass_cfg
def inbox_command(
    cfg: Config, search: str | None, limit: int | None, username: str | None, password_file: str | None
) -> None:
    """The box's inbox (receipts included), fetched a page at a time."""
    rows: list[dict[str, Any]] = []
    with massiva_client(cfg, username, password_file) as client:
        for message in client.inbox(search=search):
            rows.append(
                {
                    "id": message.id,
                    "time": message.time.isoformat() if message.time else "",
                    "kind": message.kind.value,
                    "subject": message.subject,
                    "recipients": ", ".join(message.recipients),
                    "code": message.code,
                }
            )
            if limit is not None and len(rows) >= limit:
                break
    if cfg.json:
        output.print_json(rows)
    else:
        output.table(rows, INBOX_COLUMNS, title=f"inbox ({len(rows)})")


@click.command("quota")
@box_options
@json_option
@pass_cfg
def quota_command(cfg: Config, username: str | None, password_file: str | None) -> None:
    """The inbox's usage and limit, in megabytes."""
    with massiva_client(cfg, username, password_file) as client:
        quota = client.quota()
    data = {"usage_mb": quota.usage_mb, "limit_mb": quota.limit_mb, "free_mb": quota.free_mb}
    if cfg.json:
        output.print_json(data)
    else:
        output.record(data, title="quota")


# -- pec bulk send ----------------------------------------------------------------------------------


def read_rows(path: str) -> list[dict[str, Any]]:
    """The CSV's rows: ``to`` (addresses separated by ``;``), ``subject``, ``body`` or ``body_file``,
    ``attachments`` (paths separated by ``;``), ``key`` (optional business key)."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as stream:
            reader = csv.DictReader(stream)
            fields = {name.strip().lower() for name in reader.fieldnames or ()}
            if not {"to", "subject"} <= fields:
                raise ValidationError(
                    path, sorted(fields), "a CSV with the columns to, subject and body or body_file"
                )
            raw_rows = [
                {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()} for row in reader
            ]
    except OSError as exc:
        raise ValidationError("recipients.csv", path, "a readable CSV file", reason=str(exc)) from None
    base = Path(path).resolve().parent
    rows = []
    for number, raw in enumerate(raw_rows, start=1):
        body = raw.get("body", "")
        if raw.get("body_file"):
            try:
                body = (base / raw["body_file"]).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise ValidationError(
                    f"row {number}: body_file", raw["body_file"], "a readable UTF-8 file", reason=str(exc)
                ) from None
        attachments = [str(base / p.strip()) for p in raw.get("attachments", "").split(";") if p.strip()]
        to = [a.strip() for a in raw.get("to", "").replace(",", ";").split(";") if a.strip()]
        digest = hashlib.sha256(
            "\x1f".join([";".join(to), raw.get("subject", ""), body, *attachments]).encode()
        ).hexdigest()[:24]
        key = raw.get("key") or f"send:row{number}:{digest}"
        rows.append(
            {
                "row": number,
                "to": to,
                "subject": raw.get("subject", ""),
                "body": body,
                "attachments": attachments,
                "key": key,
            }
        )
    return rows


@click.command("send")
@click.argument("recipients_csv", metavar="RECIPIENTS.CSV", type=click.Path(dir_okay=False, exists=True))
@click.option(
    "--journal",
    "journal_url",
    required=True,
    metavar="PATH|redis://...",
    help="Where each row's sending is recorded.",
)
@click.option(
    "--lease",
    type=click.FloatRange(0.5, 3600),
    default=None,
    help="Seconds a row stays claimed by this run (default: 4 x --timeout). After a kill, the next run "
    "waits this long before reconciling the row that was in flight.",
)
@click.option(
    "--rate",
    type=click.FloatRange(0.01, 1000),
    default=1.0,
    show_default=True,
    help="Sends a second from this process (the API takes 1; more only with a provider's larger limit).",
)
@click.option("--progress/--no-progress", default=True, help="Show a progress bar on stderr.")
@yes_option
@box_options
@json_option
@pass_cfg
def bulk_send_command(
    cfg: Config,
    recipients_csv: str,
    journal_url: str,
    lease: float | None,
    rate: float,
    progress: bool,
    yes: bool,
    username: str | None,
    password_file: str | None,
) -> None:
    """One certified message per row of RECIPIENTS.CSV (paid), resumable, never twice.

    Columns: to (addresses separated by ;), subject, body or body_file, attachments (paths
    separated by ;), key (a business key; default: the row's number and content).
    """
    # rich is imported when drawn: start-up stays cheap (see output)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    rows = read_rows(recipients_csv)
    store = open_store(journal_url)
    lease_seconds = lease if lease is not None else 4 * cfg.timeout
    journal = Journal(store, lease=lease_seconds, wait=lease_seconds + 15)
    results: list[dict[str, Any]] = []
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with journal, massiva_client(cfg, username, password_file, send_interval=1.0 / rate) as client:
        for row in rows:
            try:
                client.check(row["to"], row["subject"], row["body"], attachments=row["attachments"])
            except ValidationError as exc:
                # Every row is checked before anything is sent; the refusal says which row.
                raise ValidationError(
                    f"row {row['row']}: {exc.field}", exc.value, exc.allowed, exc.reason
                ) from None
        pending = [r for r in rows if (e := store.get(r["key"])) is None or e.state is not State.DONE]
        if pending:
            confirm_sending(cfg, yes, sum(len(r["to"]) for r in pending), len(pending))
        sender = client.with_options(journal=journal)
        try:
            with Progress(*columns, console=output.console(stderr=True), disable=not progress) as bar:
                task = bar.add_task("send", total=len(rows))
                for row in rows:
                    results.append(_send_row(sender, row))
                    bar.advance(task)
        except KeyboardInterrupt:
            click.echo("interrupted: run the same command again to finish; no row is sent twice", err=True)
            _bulk_report(cfg, results)
            raise click.exceptions.Exit(INTERRUPTED_EXIT) from None
        for result in results:
            if result["code"]:
                try:
                    report = client.receipts(result["code"])
                except PecError as exc:
                    result["detail"] = str(exc)
                    continue
                result["status"] = _row_status(report)
    _bulk_report(cfg, results)


def _send_row(client: MassivaClient, row: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {
        "row": row["row"],
        "to": ", ".join(row["to"]),
        "subject": row["subject"],
        "code": None,
        "status": "failed",
        "detail": "",
        "error": None,
    }
    try:
        sending = client.send(
            row["to"], row["subject"], row["body"], attachments=row["attachments"], idempotency_key=row["key"]
        )
    except OutcomeUnknownError as exc:
        result.update(status="unknown", detail=str(exc), error=exc)
    except PecError as exc:
        result.update(detail=str(exc), error=exc)
    else:
        result.update(code=sending.code, status="pending")
    return result


def _row_status(report: DeliveryReport) -> str:
    statuses = set(report.recipients.values())
    if report.accepted is False:
        return "not delivered"
    if statuses and all(s.value == "delivered" for s in statuses):
        return "delivered"
    if any(s.value in ("not delivered", "not accepted") for s in statuses) and all(s.final for s in statuses):
        return "not delivered"
    return "pending"


def _bulk_report(cfg: Config, results: list[dict[str, Any]]) -> None:
    counts = Counter(r["status"] for r in results)
    summary = {
        "rows": len(results),
        "delivered": counts["delivered"],
        "not_delivered": counts["not delivered"],
        "pending": counts["pending"],
        "failed": counts["failed"],
        "unknown": counts["unknown"],
    }
    worst = max((exit_code_for(r["error"]) for r in results if r["error"] is not None), default=None)
    if cfg.json:
        output.print_json(
            {"summary": summary, "rows": [{k: v for k, v in r.items() if k != "error"} for r in results]}
        )
    else:
        trouble = [r for r in results if r["status"] in ("not delivered", "failed", "unknown")]
        if trouble:
            output.table(trouble, BULK_COLUMNS, title="rows that need a look")
        output.table(
            [
                {"status": name, "rows": summary[key]}
                for name, key in (
                    ("delivered", "delivered"),
                    ("not delivered", "not_delivered"),
                    ("pending", "pending"),
                    ("failed", "failed"),
                    ("unknown", "unknown"),
                )
            ],
            ("status", "rows"),
            title="report",
        )
    if worst is not None:
        raise click.exceptions.Exit(int(worst))
