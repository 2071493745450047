"""``pec bulk register|renew|upgrade``: paid bulk jobs that resume without paying twice.

Every item goes through the journal (``--journal state.sqlite``, or ``redis://...``) under a key
derived from the business (``register:<address>``, ``renew:<box>:<expiry>``,
``upgrade:<box>:<type>``). After Ctrl-C or kill -9, the same command finishes the job: items
recorded as done are not sent again, and an item that was in flight when the process died is
reconciled from the box's state once its lease has run out (the command waits for it).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import click

from pec_ext._pec.client import PecClient
from pec_ext._pec.intents import expiry_date, renewal_key
from pec_ext.account.prices import price_key
from pec_ext.enums import TYPE_RANK
from pec_ext.errors import OutcomeUnknownError, PecError, ValidationError
from pec_ext.journal.base import Journal, JournalStore, State
from pec_ext.journal.stores import open_store
from pec_ext.validation.bodies import validate_register_body

from . import output
from ._reads import reference_date
from .config import Config
from .exit_codes import ExitCode, exit_code_for
from .options import F, confirm_paid, json_option, pass_cfg, read_lines, yes_option

REPORT_COLUMNS = ("item", "outcome", "id", "detail")
INTERRUPTED_EXIT = 130


@dataclass(frozen=True)
class Job:
    item: str  # what the report shows: the address or the box id
    key: str
    price_key: str | None  # None: the item does not say which price it pays (a box of unknown type)
    send: Callable[[PecClient], Any]


def common_options(f: F) -> F:
    return json_option(yes_option(f))


def journal_options(f: F) -> F:
    f = click.option(
        "--lease",
        type=click.FloatRange(1, 3600),
        default=None,
        help="Seconds an item stays claimed by this run (default: 4 x --timeout; at least --timeout + 1). "
        "After a kill, "
        "the next run waits this long before reconciling the item that was in flight.",
    )(f)
    f = click.option("--progress/--no-progress", default=True, help="Show a progress bar on stderr.")(f)
    return click.option(
        "--journal",
        "journal_url",
        required=True,
        metavar="PATH|redis://...",
        help="Where each item's outcome is recorded: a SQLite file, or a Redis URL for several machines.",
    )(f)


@click.group()
def bulk() -> None:
    """Paid bulk jobs, resumable: run the same command again after an interruption."""


def _register_rows(cfg: Config, path: str) -> list[dict[str, Any]]:
    with click.open_file(path, encoding="utf-8") as stream:
        reader = csv.DictReader(io.StringIO(stream.read(), newline=""))
        rows = [{k: v for k, v in row.items() if k and v not in (None, "")} for row in reader]
    if not rows:
        raise click.UsageError(f"{path}: no applicants (a CSV with a header row of the API's field names)")
    checked, seen = [], set()
    today = cfg.clock().today()
    for number, row in enumerate(rows, start=2):  # line 1 is the header
        try:
            body = validate_register_body(
                row,
                environment=cfg.effective_environment,
                strict_identifiers=cfg.effective_strict_identifiers,
                today=today,
            )
        except ValidationError as exc:
            raise ValidationError(
                f"{path} line {number}: {exc.field}", exc.value, exc.allowed, exc.reason
            ) from None
        address = body["casella_pec"].lower()
        if address in seen:
            raise ValidationError(f"{path} line {number}: casella_pec", address, reason="listed twice")
        seen.add(address)
        checked.append(body)
    return checked


@bulk.command("register")
@click.argument("applicants", type=click.Path(dir_okay=False, allow_dash=True))
@journal_options
@common_options
@pass_cfg
def bulk_register(
    cfg: Config, applicants: str, journal_url: str, lease: float | None, progress: bool, yes: bool
) -> None:
    """Register a box for every applicant of a CSV file (paid; every row is checked first)."""

    def job(body: dict[str, Any]) -> Job:
        key = f"register:{body['casella_pec'].lower()}"
        price = price_key("register_mailbox", body["tipo_casella"])
        return Job(body["casella_pec"], key, price, _register(key, body))

    jobs = [job(body) for body in _register_rows(cfg, applicants)]
    _run(cfg, jobs, journal_url, lease, progress, yes, "register")


@bulk.command("renew")
@click.option("--within-days", type=click.IntRange(0, 300), required=True, help="Expiring within N days.")
@click.option("--anni", type=click.IntRange(1, 10), default=1, show_default=True, help="Years to add.")
@journal_options
@common_options
@pass_cfg
def bulk_renew(
    cfg: Config, within_days: int, anni: int, journal_url: str, lease: float | None, progress: bool, yes: bool
) -> None:
    """Renew every processed box that expires within N days (expired ones too; paid).

    An item's key holds the expiry being renewed, so a renewed box is never selected for the
    same period again (the window is capped below a year for that reason).
    """
    horizon = reference_date(cfg) + dt.timedelta(days=within_days)
    with cfg.client() as pec:
        boxes = pec.list_mailboxes()
    jobs = []
    for box in boxes:
        when = expiry_date(box.data_scadenza)
        if isinstance(box.id, str) and when is not None and when <= horizon and str(box.stato) == "evasa":
            key = renewal_key(box.id, when)
            item = f"{box.casella_pec} ({box.data_scadenza})"
            price = price_key("renew_mailbox", box.tipo_casella)
            jobs.append(Job(item, key, price, _renew(key, box.id, anni)))
    _run(cfg, jobs, journal_url, lease, progress, yes, "renew", units=anni)


@bulk.command("upgrade")
@click.argument("boxes", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--to", "target", required=True, help="The new type: BRONZE, SILVER or GOLD.")
@journal_options
@common_options
@pass_cfg
def bulk_upgrade(
    cfg: Config, boxes: str, target: str, journal_url: str, lease: float | None, progress: bool, yes: bool
) -> None:
    """Upgrade every box listed in a file (one id per line) to the type ``--to`` (paid)."""
    tipo = target.strip().upper()
    allowed = [t.value for t in TYPE_RANK if TYPE_RANK[t] > 0]
    if tipo not in allowed:
        raise ValidationError("--to", target, allowed)
    ids = read_lines(boxes)
    if not ids:
        raise click.UsageError(f"{boxes}: no box ids")
    price = price_key("change_type", tipo)
    jobs = [
        Job(box_id, f"upgrade:{box_id}:{tipo}", price, _upgrade(f"upgrade:{box_id}:{tipo}", box_id, tipo))
        for box_id in dict.fromkeys(ids)
    ]
    _run(cfg, jobs, journal_url, lease, progress, yes, "upgrade")


# -- running and reporting --------------------------------------------------------------------------


def _register(key: str, body: dict[str, Any]) -> Callable[[PecClient], Any]:
    return lambda pec: pec.register_mailbox(idempotency_key=key, **body)


def _renew(key: str, box_id: str, anni: int) -> Callable[[PecClient], Any]:
    return lambda pec: pec.renew_mailbox(box_id, anni, idempotency_key=key)


def _upgrade(key: str, box_id: str, tipo: str) -> Callable[[PecClient], Any]:
    return lambda pec: pec.change_type(box_id, tipo, idempotency_key=key)


def _run(
    cfg: Config,
    jobs: list[Job],
    journal_url: str,
    lease: float | None,
    progress: bool,
    yes: bool,
    label: str,
    units: int = 1,
) -> None:
    # rich is imported when drawn: start-up stays cheap (see output)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    store = open_store(journal_url)
    lease_seconds = lease if lease is not None else 4 * cfg.timeout
    # A run after a kill waits out the dead run's lease, then reconciles its item in flight.
    journal = Journal(store, lease=lease_seconds, wait=lease_seconds + 15)
    journal.check_call_fits(cfg.timeout)  # before anything is paid: a lease no call can outlast
    pending = [job for job in jobs if (e := store.get(job.key)) is None or e.state is not State.DONE]
    if pending:
        per_price = Counter(job.price_key for job in pending)
        items = [
            (key, f"{count} x {label} ({key or 'price unknown'})", count * units)
            for key, count in per_price.items()
        ]
        done_before = len(jobs) - len(pending)
        resumed = f" ({done_before} already done)" if done_before else ""
        confirm_paid(cfg, yes, items, f"{label.capitalize()} {len(pending)} item(s){resumed}")
    rows: list[dict[str, Any]] = []
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    try:
        with (
            journal,
            cfg.client() as client,
            Progress(*columns, console=output.console(stderr=True), disable=not progress) as bar,
        ):
            pec = client.with_options(journal=journal)
            task = bar.add_task(label, total=len(jobs))
            for job in jobs:
                rows.append(_one(pec, store, job))
                bar.advance(task)
    except KeyboardInterrupt:
        _report(cfg, rows, len(jobs), interrupted=True)
        raise click.exceptions.Exit(INTERRUPTED_EXIT) from None
    worst = _report(cfg, rows, len(jobs), interrupted=False)
    if worst is not None:
        raise click.exceptions.Exit(int(worst))


def _one(pec: PecClient, store: JournalStore, job: Job) -> dict[str, Any]:
    before = store.get(job.key)
    recorded = before is not None and before.state is State.DONE
    row: dict[str, Any] = {"item": job.item, "outcome": "", "id": None, "detail": "", "error": None}
    try:
        box = job.send(pec)
    except OutcomeUnknownError as exc:
        row.update(outcome="unknown", detail=str(exc), error=exc)
    except PecError as exc:
        row.update(outcome="failed", detail=str(exc), error=exc)
    else:
        row.update(
            outcome="already done" if recorded else "done",
            id=box.id,
            detail=f"{box.stato} {box.tipo_casella} {box.data_scadenza or ''}".strip(),
        )
    return row


def _report(cfg: Config, rows: list[dict[str, Any]], total: int, *, interrupted: bool) -> ExitCode | None:
    counts = Counter(row["outcome"] for row in rows)
    errors = [row["error"] for row in rows if row["error"] is not None]
    worst = max((exit_code_for(e) for e in errors), default=None)
    summary = {
        "total": total,
        "done": counts["done"],
        "already_done": counts["already done"],
        "failed": counts["failed"],
        "unknown": counts["unknown"],
        "not_reached": total - len(rows),
        "interrupted": interrupted,
    }
    if cfg.json:
        output.print_json(
            {"summary": summary, "items": [{k: v for k, v in r.items() if k != "error"} for r in rows]}
        )
        return worst
    trouble = [r for r in rows if r["outcome"] in ("failed", "unknown")]
    if trouble:
        output.table(trouble, REPORT_COLUMNS, title="items that need a look")
    output.record(
        summary, title="interrupted: run the same command again to finish" if interrupted else "report"
    )
    return worst
