"""What each ``MassivaClient`` method does, written once for the sync and the async client.

**Never twice.** ``POST /send`` is paid and not idempotent, so it is never resent after it may
have reached the provider. Before sending, the flow notes which acceptance receipts of the same
subject the box's inbox already holds; after a lost answer (or a 5xx), it looks in the inbox for
an acceptance (or non-acceptance) receipt of that subject and recipients that was not there
before: the provider issues one for every message it takes in, at once. Found, it is the
sending's result (its code is in the receipt's subject); not found after a few looks, or more than
one candidate, the outcome is unknown (:class:`~pec_ext.errors.OutcomeUnknownError`) and nothing
is sent again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus

from pec_ext._engine.steps import Blocking, Call, Flow, OutcomeUncertain, Sleep
from pec_ext.errors import (
    NotFoundError,
    OutcomeUnknownError,
    PecError,
    RateLimitError,
    ValidationError,
    WaitTimeoutError,
)
from pec_ext.massiva import pacing
from pec_ext.massiva.operations import OPERATIONS
from pec_ext.massiva.outgoing import Attachment, Outgoing, read_attachments
from pec_ext.massiva.receipts import DeliveryReport, Receipt, ReceiptKind, Subject, addresses, parse_time

if TYPE_CHECKING:
    from pecmassiva_api.models.inbox_search import InboxSearch
    from pecmassiva_api.models.list_inbox_response_200 import ListInboxResponse200
    from pecmassiva_api.models.send_message_response_201 import SendMessageResponse201

# After a lost answer the inbox is read this many times, this far apart (on the client's clock).
RECONCILE_LOOKS = 3
RECONCILE_PAUSE_SECONDS = 2.0
_ACCEPTANCE_KINDS = frozenset(
    {ReceiptKind.ACCEPTANCE, ReceiptKind.NON_ACCEPTANCE, ReceiptKind.NON_ACCEPTANCE_VIRUS}
)


class SecretText(str):
    """A credential inside a request body: the value on the wire, ``'***'`` in every repr."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "'***'"


@dataclass(frozen=True)
class Box:
    """The sending box and how its sends are paced; the password never shows in a repr."""

    username: str
    password: SecretText = field(repr=False)
    send_interval: float = pacing.SEND_INTERVAL_SECONDS
    fleet: pacing.SharedLimiter | None = None
    pacer: pacing.Pacer | None = field(default=None, repr=False, compare=False)


# -- results --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sending:
    """A message handed to the provider: its ``code`` (for ``receipts``), how many recipients it
    took (``sent``; 0 when it refused the message), and whether it was found by reconciliation."""

    code: str
    recipients: tuple[str, ...]
    subject: str
    sent: int
    reconciled: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "recipients": list(self.recipients),
            "subject": self.subject,
            "sent": self.sent,
            "reconciled": self.reconciled,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Sending:
        return cls(
            code=str(data["code"]),
            recipients=tuple(data["recipients"]),
            subject=str(data["subject"]),
            sent=int(data["sent"]),
            reconciled=bool(data.get("reconciled", False)),
        )


@dataclass(frozen=True)
class InboxMessage:
    """One entry of the inbox listing; ``kind`` and ``code`` when it is a receipt of a sending."""

    id: int
    sender: str
    recipients: tuple[str, ...]
    time: datetime | None
    subject: str
    kind: ReceiptKind
    code: str | None

    @classmethod
    def of(cls, item: InboxSearch) -> InboxMessage:
        subject = _text(item.object_)
        parsed = Subject.parse(subject)
        return cls(
            id=int(item.id) if isinstance(item.id, int | float) else 0,
            sender=_text(item.sender).strip().strip('"').strip(),
            recipients=addresses(_text(item.recipient)),
            time=parse_time(_text(item.date)),
            subject=subject,
            kind=parsed.kind,
            code=parsed.code,
        )


@dataclass(frozen=True)
class InboxPage:
    messages: list[InboxMessage]
    page: int
    pages: int
    total: int

    @property
    def last(self) -> bool:
        """No page after this one: it is empty, or the server says it is page N of N."""
        return not self.messages or self.page >= self.pages


@dataclass(frozen=True)
class Message:
    """One message of the inbox, its body decoded (the API sends it form-encoded inside JSON)."""

    id: int
    sender: str
    recipients: tuple[str, ...]
    time: datetime | None
    subject: str
    kind: ReceiptKind
    code: str | None
    body: str = field(repr=False)


@dataclass(frozen=True)
class Quota:
    """The inbox's usage and limit, in megabytes."""

    usage_mb: float
    limit_mb: float

    @property
    def free_mb(self) -> float:
        return max(0.0, self.limit_mb - self.usage_mb)


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def call(name: str, **kwargs: Any) -> Call:
    return Call(OPERATIONS[name], **kwargs)


def check_code(code: object) -> str:
    if not isinstance(code, str | int) or isinstance(code, bool) or not str(code).strip().isdigit():
        raise ValidationError("code", code, "the code send() returned, digits such as 2020082610003492")
    return str(code).strip()


def check_message_id(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).strip().isdigit():
        raise ValidationError("id", value, "an inbox message id, a whole number such as 3")
    return str(int(str(value).strip()))


# -- reading --------------------------------------------------------------------------------------


def inbox_page(search: str | None, page: int) -> Flow[InboxPage]:
    if isinstance(page, bool) or not isinstance(page, int) or page < 1:
        raise ValidationError("page", page, "a page number >= 1")
    if search is not None and not isinstance(search, str):
        raise ValidationError("search", search, "a text to look for, or None")
    answer: ListInboxResponse200 = yield call(
        "list_inbox", params={"q": search or None, "page": page if page > 1 else None}
    )
    items = answer.data if isinstance(answer.data, list) else []
    total = answer.total if isinstance(answer.total, int) else len(items)
    pages = answer.n_of_pages if isinstance(answer.n_of_pages, int) else (1 if items else 0)
    shown = answer.page if isinstance(answer.page, int) else page
    return InboxPage([InboxMessage.of(item) for item in items], shown, pages, total)


def search_inbox(search: str | None) -> Flow[list[InboxMessage]]:
    """Every page of a search, in order."""
    found: list[InboxMessage] = []
    page = 1
    while True:
        chunk = yield from inbox_page(search, page)
        found.extend(chunk.messages)
        if chunk.last:
            return found
        page += 1


def get_message(message_id: object) -> Flow[Message]:
    key = check_message_id(message_id)
    data = yield call("get_inbox_message", path_params={"id": key})
    subject = _text(data.object_)
    parsed = Subject.parse(subject)
    return Message(
        id=int(key),
        sender=_text(data.sender).strip().strip('"').strip(),
        recipients=addresses(_text(data.recipient)),
        time=parse_time(_text(data.date)),
        subject=subject,
        kind=parsed.kind,
        code=parsed.code,
        body=unquote_plus(_text(data.body)),
    )


def delete_message(message_id: object) -> Flow[None]:
    yield call("delete_inbox_message", path_params={"id": check_message_id(message_id)})


def delete_receipts(code: object) -> Flow[None]:
    yield call("delete_receipts", path_params={"code": check_code(code)})


def quota(mailbox: str = "INBOX") -> Flow[Quota]:
    if not isinstance(mailbox, str) or not mailbox.strip() or "/" in mailbox:
        raise ValidationError("mailbox", mailbox, "a mailbox name such as INBOX")
    data = yield call("get_quota", path_params={"mailbox": mailbox.strip()})
    usage = data.usage if isinstance(data.usage, int | float) else 0.0
    limit = data.limit if isinstance(data.limit, int | float) else 0.0
    return Quota(float(usage), float(limit))


def receipts(code: object, expected: Iterable[str] = ()) -> Flow[DeliveryReport]:
    wanted = check_code(code)
    items = yield call("list_receipts", path_params={"code": wanted})
    found = [
        Receipt.of(_text(i.sender), _text(i.recipient), _text(i.data), _text(i.object_), _text(i.message))
        for i in items or []
    ]
    return DeliveryReport.of(wanted, found, expected)


def wait_for_delivery(
    code: object,
    timeout: float,
    poll: float,
    monotonic: Callable[[], float],
    on_receipt: Callable[[Receipt], None] | None = None,
    expected: Iterable[str] = (),
) -> Flow[DeliveryReport]:
    """Poll the receipts until every recipient has a final status (or the message was refused)."""
    wanted = check_code(code)
    for name, value in (("timeout", timeout), ("poll", poll)):
        if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
            raise ValidationError(name, value, "a number of seconds > 0")
    expected = tuple(address.strip().lower() for address in expected)
    deadline = monotonic() + timeout
    shown = 0
    while True:
        try:
            report = yield from receipts(wanted, expected)
        except NotFoundError:
            # No receipt listed yet: the sending is still on its way.
            report = DeliveryReport.of(wanted, [], expected)
        if on_receipt is not None:
            for receipt in report.receipts[shown:]:
                on_receipt(receipt)
            shown = max(shown, len(report.receipts))
        if report.complete:
            return report
        remaining = deadline - monotonic()
        if remaining <= 0:
            raise WaitTimeoutError(
                f"sending {wanted}: still pending for {', '.join(report.pending) or 'its acceptance'} "
                f"after {timeout:g}s",
                state="pending",
                record=report,
            )
        yield Sleep(min(poll, remaining))


# -- sending --------------------------------------------------------------------------------------


def acceptances_before(outgoing: Outgoing) -> Flow[list[int]]:
    """The ids of the acceptance receipts of this subject already in the inbox (the pre-state)."""
    found = yield from search_inbox(outgoing.subject)
    return sorted(m.id for m in found if m.kind in _ACCEPTANCE_KINDS)


def find_sending(outgoing: Outgoing, known: Iterable[int]) -> Flow[Sending | None]:
    """The sending of ``outgoing`` begun after ``known`` was read, from its acceptance receipt.

    None when there is none yet; :class:`AmbiguousSending` when there are several candidates.
    """
    before = set(known)
    found = yield from search_inbox(outgoing.subject)
    candidates = {
        m.code: m
        for m in found
        if m.id not in before
        and m.kind in _ACCEPTANCE_KINDS
        and m.code
        and Subject.parse(m.subject).subject == outgoing.subject
        and set(m.recipients) == set(outgoing.recipients)
    }
    if not candidates:
        return None
    if len(candidates) > 1:
        raise AmbiguousSending(sorted(candidates))
    code, receipt = next(iter(candidates.items()))
    sent = len(outgoing.recipients) if receipt.kind is ReceiptKind.ACCEPTANCE else 0
    return Sending(code, outgoing.recipients, outgoing.subject, sent, reconciled=True)


class AmbiguousSending(Exception):
    """More than one new acceptance matches: which one is this call's cannot be told."""

    def __init__(self, codes: list[str]) -> None:
        self.codes = codes
        super().__init__(f"several sendings match: {', '.join(codes)}")


def _wire_body(box: Box, outgoing: Outgoing, attachments: list[Attachment]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "sender": outgoing.sender,
        "recipient": list(outgoing.recipients),
        "subject": outgoing.subject,
        "body": outgoing.body,
    }
    if attachments:
        body["attachments"] = [attachment.wire() for attachment in attachments]
    body["username"] = box.username
    body["password"] = box.password
    return body


def send(box: Box, outgoing: Outgoing) -> Flow[Sending]:
    """Read the attachments, note the inbox's acceptances, send once (see the module's text)."""
    attachments = yield from read(outgoing)
    known = yield from acceptances_before(outgoing)
    return (yield from send_noted(box, outgoing, known, attachments))


def read(outgoing: Outgoing) -> Flow[list[Attachment]]:
    """The attachments, read (and their sizes checked) in a blocking step."""
    if not outgoing.attachment_sources:
        return []
    attachments: list[Attachment] = yield Blocking(read_attachments, (outgoing.attachment_sources,))
    return attachments


def send_noted(
    box: Box, outgoing: Outgoing, known: list[int], attachments: list[Attachment] | None = None
) -> Flow[Sending]:
    if attachments is None:
        attachments = yield from read(outgoing)
    body = _wire_body(box, outgoing, attachments)
    pacer = box.pacer
    while True:
        if pacer is not None:
            yield from pacing.wait_turn(pacer, box.send_interval, box.fleet)
        try:
            answer: SendMessageResponse201 = yield call("send_message", json=body)
        except RateLimitError as limited:
            # Refused before any work (the driver's own retries, Retry-After honoured, ran out).
            if pacer is None:
                raise
            yield from pacing.rate_limited(pacer, box.fleet, limited.retry_after or box.send_interval or 1.0)
            continue
        except OutcomeUncertain as uncertain:
            return (yield from _reconcile(outgoing, known, uncertain))
        code = answer.message_id if isinstance(answer.message_id, str | int) else None
        if code is None or not str(code).strip():
            return (yield from _reconcile(outgoing, known, None))
        sent = answer.sent if isinstance(answer.sent, int) else len(outgoing.recipients)
        return Sending(str(code).strip(), outgoing.recipients, outgoing.subject, sent)


def _reconcile(outgoing: Outgoing, known: list[int], uncertain: OutcomeUncertain | None) -> Flow[Sending]:
    """Never resend: find the sending by its acceptance receipt, or say the outcome is unknown."""
    why = "the answer was lost" if uncertain is None else str(uncertain.cause)
    for look in range(RECONCILE_LOOKS):
        if look:
            yield Sleep(RECONCILE_PAUSE_SECONDS)
        try:
            found = yield from find_sending(outgoing, known)
        except AmbiguousSending as ambiguous:
            raise _unknown(uncertain, f"{ambiguous}; which one is this call's cannot be told", why) from None
        except PecError as failed:
            raise _unknown(uncertain, f"reading the inbox to reconcile failed ({failed})", why) from None
        if found is not None:
            return found
    raise _unknown(
        uncertain,
        f"no acceptance receipt of {outgoing.subject!r} to {', '.join(outgoing.recipients)} in the inbox "
        "yet: the message may or may not have been taken; it was not sent again. Look for it "
        "with inbox(search=...) before sending it again",
        why,
    )


def _unknown(uncertain: OutcomeUncertain | None, message: str, why: str) -> PecError:
    if uncertain is not None:
        return uncertain.unknown(message)
    return OutcomeUnknownError(
        f"send_message: {message} (after: {why})", operation="send_message", method="POST", url="/send"
    )
