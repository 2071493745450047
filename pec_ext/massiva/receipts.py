"""The receipts of a sending, typed: what each one is, whom it is about, when, and what it means.

In law a PEC counts by its receipts. The provider names each one in its subject, as the PEC
technical rules (DM 2 novembre 2005, allegato tecnico) prescribe: ``<KIND>: <subject>``, where
PEC Massiva appends the sending's code to the subject (``ACCETTAZIONE: Fattura 42
2020082610003492``). The kind is recognised from that prefix only, never from the body.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import getaddresses, parsedate_to_datetime
from enum import StrEnum


class ReceiptKind(StrEnum):
    """A receipt's kind, as the PEC technical rules name it (Italian, lower case)."""

    ACCEPTANCE = "accettazione"
    NON_ACCEPTANCE = "non accettazione"
    NON_ACCEPTANCE_VIRUS = "non accettazione per virus"
    TAKEN_IN_CHARGE = "presa in carico"
    CERTIFIED_COPY = "posta certificata"
    DELIVERY = "consegna"
    NON_DELIVERY = "mancata consegna"
    NON_DELIVERY_VIRUS = "mancata consegna per virus"
    NON_DELIVERY_WARNING = "preavviso di mancata consegna"
    NON_DELIVERY_TIMEOUT = "mancata consegna per supero tempo massimo"
    DELIVERY_ERROR = "errore di consegna"
    ANOMALY = "anomalia"
    VIRUS_DETECTED = "rilevazione virus"
    UNKNOWN = "sconosciuta"


# Longest and most specific first: "CONSEGNA" is a suffix of "AVVISO DI MANCATA CONSEGNA".
_TIMEOUT = r"(?:PER )?SUP(?:\.|ERO|ERAMENTO)? ?(?:DEI |DEL )?TEMP[OI] MASSIM[OI]"
_PREFIXES: tuple[tuple[re.Pattern[str], ReceiptKind], ...] = tuple(
    (re.compile(pattern), kind)
    for pattern, kind in (
        (r"(?:AVVISO DI )?NON ACCETTAZIONE PER VIRUS", ReceiptKind.NON_ACCEPTANCE_VIRUS),
        (r"(?:AVVISO DI )?NON ACCETTAZIONE(?: PER ECCEZIONI FORMALI)?", ReceiptKind.NON_ACCEPTANCE),
        (r"ACCETTAZIONE", ReceiptKind.ACCEPTANCE),
        (r"PRESA IN CARICO", ReceiptKind.TAKEN_IN_CHARGE),
        (r"POSTA CERTIFICATA", ReceiptKind.CERTIFIED_COPY),
        (rf"PREAVVISO DI MANCATA CONSEGNA(?: {_TIMEOUT})?", ReceiptKind.NON_DELIVERY_WARNING),
        (rf"(?:AVVISO DI )?MANCATA CONSEGNA {_TIMEOUT}", ReceiptKind.NON_DELIVERY_TIMEOUT),
        (r"(?:AVVISO DI )?MANCATA CONSEGNA PER VIRUS", ReceiptKind.NON_DELIVERY_VIRUS),
        (r"(?:AVVISO DI )?MANCATA CONSEGNA", ReceiptKind.NON_DELIVERY),
        (r"(?:AVVISO DI )?ERRORE (?:DI|NELLA) CONSEGNA", ReceiptKind.DELIVERY_ERROR),
        (r"(?:RICEVUTA DI )?(?:AVVENUTA )?CONSEGNA", ReceiptKind.DELIVERY),
        (r"ANOMALIA(?: MESSAGGIO)?", ReceiptKind.ANOMALY),
        (r"(?:AVVISO DI )?RILEVAZIONE VIRUS", ReceiptKind.VIRUS_DETECTED),
    )
)
# A sending's code as PEC Massiva appends it to the subject: a run of digits at the end.
_CODE = re.compile(r"\s(\d{6,})\s*$")


class DeliveryStatus(StrEnum):
    """Where a sending stands for one recipient, from its receipts."""

    PENDING = "pending"  # accepted (or not yet), no final receipt for this recipient
    DELIVERED = "delivered"  # CONSEGNA: the proof of delivery
    NOT_DELIVERED = "not delivered"  # mancata consegna (any variant), errore di consegna
    NOT_ACCEPTED = "not accepted"  # the provider refused the message: nothing was sent

    @property
    def final(self) -> bool:
        return self is not DeliveryStatus.PENDING


_FINAL_FOR_RECIPIENT = {
    ReceiptKind.DELIVERY: DeliveryStatus.DELIVERED,
    ReceiptKind.NON_DELIVERY: DeliveryStatus.NOT_DELIVERED,
    ReceiptKind.NON_DELIVERY_VIRUS: DeliveryStatus.NOT_DELIVERED,
    ReceiptKind.NON_DELIVERY_TIMEOUT: DeliveryStatus.NOT_DELIVERED,
    ReceiptKind.DELIVERY_ERROR: DeliveryStatus.NOT_DELIVERED,
}
_REFUSALS = frozenset({ReceiptKind.NON_ACCEPTANCE, ReceiptKind.NON_ACCEPTANCE_VIRUS})


@dataclass(frozen=True)
class Subject:
    """A receipt's subject taken apart: its kind, the original subject and the sending's code."""

    kind: ReceiptKind
    subject: str
    code: str | None

    @classmethod
    def parse(cls, text: str) -> Subject:
        prefix, colon, rest = text.partition(":")
        if not colon:
            return cls(ReceiptKind.UNKNOWN, text.strip(), _code(text))
        normalized = " ".join(prefix.upper().split())
        for pattern, kind in _PREFIXES:
            if pattern.fullmatch(normalized):
                code = _code(rest)
                subject = _CODE.sub("", rest).strip() if code else rest.strip()
                return cls(kind, subject, code)
        return cls(ReceiptKind.UNKNOWN, text.strip(), _code(text))


def _code(text: str) -> str | None:
    found = _CODE.search(text)
    return found.group(1) if found else None


def classify(subject: str) -> ReceiptKind:
    """The kind of a receipt from its subject (``ReceiptKind.UNKNOWN`` for anything else)."""
    return Subject.parse(subject).kind


def addresses(field_value: str | None) -> tuple[str, ...]:
    """The addresses of a ``recipient``/``sender`` field (``"Name" <a@b>``, comma-separated), lower case."""
    if not field_value:
        return ()
    found = [address.strip().lower() for _, address in getaddresses([field_value.replace('"', " ")])]
    return tuple(address for address in found if "@" in address)


def parse_time(value: str | None) -> datetime | None:
    """An RFC 2822 date (``Wed, 26 Aug 2020 10:00:35 +0200``) as an aware datetime; None if unreadable."""
    if not value:
        return None
    try:
        return parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None


@dataclass(frozen=True)
class Receipt:
    """One message of a sending, as ``GET /send/{code}`` lists it."""

    kind: ReceiptKind
    subject: str
    code: str | None
    recipients: tuple[str, ...]
    time: datetime | None
    sender: str
    raw_subject: str
    message: str = field(default="", repr=False)

    @classmethod
    def of(cls, sender: str, recipient: str, date: str, subject_text: str, message: str = "") -> Receipt:
        parsed = Subject.parse(subject_text)
        return cls(
            kind=parsed.kind,
            subject=parsed.subject,
            code=parsed.code,
            recipients=addresses(recipient),
            time=parse_time(date),
            sender=sender.strip().strip('"').strip(),
            raw_subject=subject_text,
            message=message,
        )


@dataclass(frozen=True)
class DeliveryReport:
    """A sending's receipts and, for each recipient, where it stands.

    ``accepted`` is True once the ACCETTAZIONE is there, False on a non-acceptance (nothing was
    sent to anyone), None while neither has arrived. ``complete`` is True when every recipient
    has a final status.
    """

    code: str
    receipts: tuple[Receipt, ...]
    recipients: dict[str, DeliveryStatus]
    accepted: bool | None

    @classmethod
    def of(cls, code: str, receipts: Sequence[Receipt], expected: Iterable[str] = ()) -> DeliveryReport:
        statuses: dict[str, DeliveryStatus] = {
            address.strip().lower(): DeliveryStatus.PENDING for address in expected
        }
        accepted: bool | None = None
        for receipt in receipts:
            if receipt.kind is ReceiptKind.ACCEPTANCE:
                accepted = True if accepted is None else accepted
                for address in receipt.recipients:
                    statuses.setdefault(address, DeliveryStatus.PENDING)
            elif receipt.kind in _REFUSALS:
                accepted = False
                for address in receipt.recipients or tuple(statuses):
                    statuses[address] = DeliveryStatus.NOT_ACCEPTED
        for receipt in receipts:
            final = _FINAL_FOR_RECIPIENT.get(receipt.kind)
            if final is None:
                continue
            for address in receipt.recipients:
                # A delivery is proof; a later failure notice for the same address does not undo it.
                if statuses.get(address) is not DeliveryStatus.DELIVERED:
                    statuses[address] = final
        if accepted is False:
            statuses = dict.fromkeys(statuses, DeliveryStatus.NOT_ACCEPTED)
        return cls(code=code, receipts=tuple(receipts), recipients=statuses, accepted=accepted)

    @property
    def complete(self) -> bool:
        return self.accepted is False or (
            self.accepted is True and bool(self.recipients) and all(s.final for s in self.recipients.values())
        )

    def of_kind(self, kind: ReceiptKind) -> list[Receipt]:
        return [receipt for receipt in self.receipts if receipt.kind is kind]

    @property
    def delivered(self) -> list[str]:
        return [a for a, s in self.recipients.items() if s is DeliveryStatus.DELIVERED]

    @property
    def not_delivered(self) -> list[str]:
        return [
            a
            for a, s in self.recipients.items()
            if s in (DeliveryStatus.NOT_DELIVERED, DeliveryStatus.NOT_ACCEPTED)
        ]

    @property
    def pending(self) -> list[str]:
        return [a for a, s in self.recipients.items() if s is DeliveryStatus.PENDING]
