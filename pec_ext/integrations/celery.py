"""Celery tasks for bulk provisioning that never pay twice (``pip install openapi-pec[celery]``).

Celery delivers a task *at least once*: with ``acks_late`` a task whose worker dies is delivered
again, possibly to another machine, after its paid call may already have reached the API. Every
task here therefore goes through the journal (``pec_ext.journal.base``) with an idempotency key
derived from the *business* key -- the address, the box, the operation and the period -- never
from the task id, which changes on every ``.delay()``:

====================== ====================================================
task                   idempotency key
====================== ====================================================
``pec.register``       ``register:<address>``
``pec.activate``       ``activate:<box id>:<sha256 of the documents>``
``pec.renew``          ``renew:<box id>:<expiry being renewed, YYYY-MM-DD>``
``pec.add_space``      ``add_space:<box id>:<your order reference>``
``pec.upgrade``        ``upgrade:<box id>:<target type>``
``pec.send``           yours, a business key (``invoice:2026/0042``)
====================== ====================================================

``pec.send`` sends one certified message from the PECMASSIVA box of ``OPENAPI_PECMASSIVA_USERNAME``
/ ``OPENAPI_PECMASSIVA_PASSWORD`` (see :mod:`pec_ext.massiva`): once per key, whichever worker runs
it and however many times Celery delivers it.

``pec.register_file`` (a CSV of applicants) and ``pec.renew_expiring`` (the boxes that expire
within N days) fan out one task per item.

The tasks use :class:`PecTask`: ``acks_late`` and ``reject_on_worker_lost`` (a task whose worker
was killed goes back to the queue instead of being lost; the journal makes the re-run safe), and
a retry when another worker holds the key's lease, scheduled for the end of that lease plus
``LEASE_MARGIN_SECONDS`` (:func:`retry_countdown`). An unknown outcome is not retried: it
fails the task with :class:`~pec_ext.errors.OutcomeUnknownError` for a person to look at.

Configuration comes from the environment of the worker (or :func:`configure`), read by
:func:`pec_ext.config.worker_settings`: ``OPENAPI_PEC_TOKEN``, ``OPENAPI_PEC_ENVIRONMENT``,
``OPENAPI_PEC_BASE_URL``, ``PEC_JOURNAL_URL`` (a SQLite path, or ``redis://...`` for several
machines; default ``pec-journal.sqlite``), ``PEC_JOURNAL_LEASE`` (seconds; longer than a call can
take), ``PEC_TIMEOUT`` (each call's deadline, seconds), and for a fleet-wide rate limit
``PEC_RATE_LIMIT`` (requests per second, optionally ``/burst``) with ``PEC_REDIS_URL`` and
``PEC_ACCOUNT`` (the README's table of variables says each one's default).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from celery import Task, shared_task

from pec_ext import config
from pec_ext._engine import stack as http_stack
from pec_ext._engine.retry import DEFAULT_TIMEOUT_SECONDS
from pec_ext._pec.client import PecClient
from pec_ext._pec.intents import encode_box, expiry_date, renewal_key
from pec_ext.errors import IdempotencyKeyBusyError, ValidationError
from pec_ext.journal.base import DEFAULT_LEASE_SECONDS, LEASE_MARGIN_SECONDS, Journal
from pec_ext.journal.stores import open_store
from pec_ext.massiva.client import MassivaClient

if TYPE_CHECKING:
    from pec_api.models.casella import Casella

# A renewal moves the expiry a year on; a window this short cannot select a renewed box again.
MAX_RENEW_WINDOW_DAYS = 300


def default_client(journal: Journal) -> PecClient:
    settings = config.worker_settings()
    http_client = None
    if settings.rate_limit is not None:
        import redis

        from pec_ext.integrations.ratelimit import FleetLimiter

        limit = settings.rate_limit
        limiter = FleetLimiter(
            redis.Redis.from_url(limit.redis_url),
            account=limit.account,
            rate=limit.per_second,
            burst=limit.burst,
        )
        # The library a client made without one would use (OPENAPI_PEC_HTTP, else httpx2 if installed).
        stack = http_stack.named(config.http_library() or http_stack.default_name())
        http_client = stack.Client(event_hooks=limiter.event_hooks())
    timeout = settings.timeout or DEFAULT_TIMEOUT_SECONDS
    if journal.lease < timeout + LEASE_MARGIN_SECONDS:
        raise ValidationError(
            config.JOURNAL_LEASE_ENV,
            journal.lease,
            f"at least {config.TIMEOUT_ENV} ({timeout:g} s) + {LEASE_MARGIN_SECONDS:g} s",
            reason="a call could outlast its lease, and another worker would pay for it again",
        )
    # The token, the environment and the base URL: the client reads them (pec_ext.config).
    return PecClient(
        timeout=timeout,
        http_client=http_client,
        journal=journal,
    )


def default_massiva_client(journal: Journal) -> MassivaClient:
    """The sending client: credentials, token and URLs from the worker's environment (``pec_ext.config``)."""
    timeout = config.worker_settings().timeout
    return MassivaClient(timeout=timeout or DEFAULT_TIMEOUT_SECONDS, journal=journal)


def default_journal() -> Journal:
    settings = config.worker_settings()
    return Journal(open_store(settings.journal_url), lease=settings.journal_lease or DEFAULT_LEASE_SECONDS)


_factories: dict[str, Callable[..., Any]] = {
    "client": default_client,
    "journal": default_journal,
    "massiva": default_massiva_client,
}


def configure(
    *,
    client: Callable[[Journal], PecClient] | None = None,
    journal: Callable[[], Journal] | None = None,
    massiva: Callable[[Journal], MassivaClient] | None = None,
) -> None:
    """Replace how a worker process makes its journal, and its clients given the journal."""
    if client is not None:
        _factories["client"] = client
    if massiva is not None:
        _factories["massiva"] = massiva
        PecTask._massiva = None
    if journal is not None:
        _factories["journal"] = journal
    PecTask._client = None


def retry_countdown(lease_until: float, now: float) -> float:
    """Seconds from ``now`` until a task that found its key busy runs again: at the end of the
    lease (``lease_until``, Unix seconds on the journal's clock) plus ``LEASE_MARGIN_SECONDS``.

    Never before the lease ends, so the retry does not find the key busy again and spend a
    retry; the margin covers the skew between the clocks of the worker that holds the lease and
    the one that retries. A lease already over (by more than the margin) retries at once.
    """
    return max(lease_until + LEASE_MARGIN_SECONDS - now, 0.0)


class PecTask(Task):  # type: ignore[misc]  # celery is untyped
    """Base class of the tasks: late acknowledgement, one client and journal per worker process."""

    abstract = True
    acks_late = True
    reject_on_worker_lost = True
    max_retries = 50
    _client: PecClient | None = None
    _pid = 0
    _massiva: MassivaClient | None = None
    _massiva_pid = 0

    @property
    def pec(self) -> PecClient:
        """This worker process's client, with its journal."""
        # Made in the worker process itself: a client or a connection must not cross a fork.
        if PecTask._client is None or PecTask._pid != os.getpid():
            PecTask._client = _factories["client"](_factories["journal"]())
            PecTask._pid = os.getpid()
        return PecTask._client

    @property
    def massiva(self) -> MassivaClient:
        """This worker process's sending client, with its own journal."""
        if PecTask._massiva is None or PecTask._massiva_pid != os.getpid():
            PecTask._massiva = _factories["massiva"](_factories["journal"]())
            PecTask._massiva_pid = os.getpid()
        return PecTask._massiva

    def journaled(self, action: Callable[[PecClient], Any]) -> dict[str, Any]:
        """Run ``action``; when another worker holds the key, retry after its lease."""
        try:
            return encode_box(action(self.pec))
        except IdempotencyKeyBusyError as busy:
            self.retry_after_lease(busy, self.pec.options.journal)

    def retry_after_lease(self, busy: IdempotencyKeyBusyError, journal: Journal | None) -> NoReturn:
        """Retry this task once the lease that made the key ``busy`` has run out (see
        :func:`retry_countdown`)."""
        if journal is None:  # only a journal's lease makes a key busy
            raise busy
        # The lease is kept on the journal's clock, shared by the workers; not on this one's.
        countdown = retry_countdown(busy.lease_until, journal.clock())
        raise self.retry(exc=busy, countdown=countdown) from busy


def _recorded(pec: PecClient, key: str) -> bool:
    """Whether the journal has an entry for ``key``: then the journal decides (it returns the
    recorded result, or reconciles a call in flight). Without one (never sent, or the journal lost
    it) the task checks the state its arguments expect before paying."""
    journal = pec.options.journal
    return isinstance(journal, Journal) and journal.store.get(key) is not None


def _documents_digest(paths: Sequence[str]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(hashlib.sha256(Path(path).read_bytes()).digest())
    return digest.hexdigest()


@shared_task(base=PecTask, bind=True, name="pec.register")
def register(self: PecTask, fields: dict[str, Any]) -> dict[str, Any]:
    """Register one box; ``fields`` as the API names them."""
    address = str(fields.get("casella_pec", "")).strip().lower()
    if not address:
        raise ValidationError("casella_pec", fields.get("casella_pec"), "an address")
    return self.journaled(lambda pec: pec.register_mailbox(idempotency_key=f"register:{address}", **fields))


@shared_task(base=PecTask, bind=True, name="pec.activate")
def activate(self: PecTask, box_id: str, document_paths: list[str]) -> dict[str, Any]:
    """Upload the activation documents (files readable by the worker)."""
    key = f"activate:{box_id}:{_documents_digest(document_paths)}"
    return self.journaled(
        lambda pec: pec.activate_mailbox(box_id, [Path(p) for p in document_paths], idempotency_key=key)
    )


@shared_task(base=PecTask, bind=True, name="pec.renew")
def renew(self: PecTask, box_id: str, expiry: str, anni: int = 1) -> dict[str, Any]:
    """Renew the box whose expiry (``YYYY-MM-DD``, as read when the job was planned) is ``expiry``.

    When the journal has no record of the key, a box whose expiry is no longer ``expiry`` was
    renewed since the job was planned: it is returned unchanged, so a task redelivered after the
    journal lost its records (a Redis restart without persistence) never renews twice.
    """
    planned = dt.date.fromisoformat(expiry)
    key = renewal_key(box_id, planned)

    def renew_if_still_due(pec: PecClient) -> Casella:
        if not _recorded(pec, key):
            box = pec.get_mailbox(box_id)
            if expiry_date(box.data_scadenza) != planned:
                return box
        return pec.renew_mailbox(box_id, anni, idempotency_key=key)

    return self.journaled(renew_if_still_due)


@shared_task(base=PecTask, bind=True, name="pec.add_space")
def add_space(
    self: PecTask,
    box_id: str,
    reference: str,
    disco: int | None = None,
    storico: int | None = None,
    conservazione: int | None = None,
) -> dict[str, Any]:
    """Add space; ``reference`` names the order (adding space twice for two orders is legitimate)."""
    if not reference:
        raise ValidationError("reference", reference, "the order's reference, e.g. ORD-2027-0042")
    return self.journaled(
        lambda pec: pec.add_space(
            box_id,
            idempotency_key=f"add_space:{box_id}:{reference}",
            disco=disco,
            storico=storico,
            conservazione=conservazione,
        )
    )


@shared_task(base=PecTask, bind=True, name="pec.upgrade")
def upgrade(self: PecTask, box_id: str, tipo_casella: str) -> dict[str, Any]:
    """Change the box's type to ``tipo_casella``; a box already of that type is returned unchanged
    (whatever the journal remembers)."""
    target = str(tipo_casella).upper()

    key = f"upgrade:{box_id}:{target}"

    def upgrade_if_needed(pec: PecClient) -> Casella:
        if not _recorded(pec, key):
            box = pec.get_mailbox(box_id)
            if str(box.tipo_casella).upper() == target:
                return box
        return pec.change_type(box_id, target, idempotency_key=key)

    return self.journaled(upgrade_if_needed)


@shared_task(base=PecTask, bind=True, name="pec.send")
def send(
    self: PecTask,
    key: str,
    to: str | list[str],
    subject: str,
    body: str = "",
    attachment_paths: list[str] | None = None,
) -> dict[str, Any]:
    """Send one certified message, once per business ``key`` (e.g. ``invoice:2026/0042``)."""
    try:
        sending = self.massiva.send(
            to, subject, body, attachments=attachment_paths or None, idempotency_key=key
        )
    except IdempotencyKeyBusyError as busy:
        self.retry_after_lease(busy, self.massiva.options.journal)
    return sending.to_json()


@shared_task(base=PecTask, bind=True, name="pec.register_file")
def register_file(self: PecTask, path: str) -> int:
    """One ``pec.register`` task per row of a CSV of applicants (a header row of API field names)."""
    with open(path, newline="", encoding="utf-8") as stream:
        rows = [{k: v for k, v in row.items() if v not in (None, "")} for row in csv.DictReader(stream)]
    for row in rows:
        register.delay(row)
    return len(rows)


@shared_task(base=PecTask, bind=True, name="pec.renew_expiring")
def renew_expiring(self: PecTask, within_days: int, anni: int = 1, as_of: str | None = None) -> int:
    """One ``pec.renew`` task per processed box expiring within ``within_days`` of ``as_of``
    (``YYYY-MM-DD``, default today on the client's clock; expired boxes too)."""
    if not 0 <= within_days <= MAX_RENEW_WINDOW_DAYS:
        raise ValidationError("within_days", within_days, f"0 to {MAX_RENEW_WINDOW_DAYS}")
    today = dt.date.fromisoformat(as_of) if as_of else self.pec.options.clock.today()
    horizon = today + dt.timedelta(days=within_days)
    planned = 0
    for box in self.pec.list_mailboxes():
        when = expiry_date(box.data_scadenza)
        if isinstance(box.id, str) and when is not None and when <= horizon and str(box.stato) == "evasa":
            renew.delay(box.id, when.isoformat(), anni)
            planned += 1
    return planned
