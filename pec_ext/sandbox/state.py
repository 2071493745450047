"""The simulator's data: mailboxes, communications, the wallet and the processing queue.

Records are plain JSON-able dicts shaped like the API's own records, so rendering is a copy and
persistence is ``json.dumps``.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any, Final

try:
    from zoneinfo import ZoneInfo

    ROME: tzinfo = ZoneInfo("Europe/Rome")
except Exception:  # pragma: no cover - a system without tzdata
    ROME = UTC

Record = dict[str, Any]

OBJECT_ID: Final = re.compile(r"^[0-9a-f]{24}$")

CLASSIC_TYPES: Final = ("STANDARD", "BRONZE", "SILVER", "GOLD")
SPECIAL_TYPES: Final = ("DOMICILIODIGITALE", "PECMASSIVA")
BOX_TYPES: Final = CLASSIC_TYPES + SPECIAL_TYPES

# The sandbox only hosts the provider's test domains (see the POST /pec description).
SANDBOX_DOMAIN: Final = {
    **dict.fromkeys(CLASSIC_TYPES, "testcert.legalmail.it"),
    "PECMASSIVA": "testcert.legalmail.it",
    "DOMICILIODIGITALE": "test.domiciliodigitale.com",
}

# Space (MB) a box gets on activation or upgrade; the spec only shows examples, these are plausible.
BASE_SPACE: Final = {
    "STANDARD": (1024, 0),
    "BRONZE": (1024, 1024),
    "SILVER": (2048, 3072),
    "GOLD": (2048, 13312),
    "DOMICILIODIGITALE": (1024, 0),
    "PECMASSIVA": (2048, 0),
}

MAX_USERS: Final = 25


@dataclass(slots=True)
class Job:
    """A transition the provider completes asynchronously, once simulated time reaches ``due``."""

    due: float
    kind: str  # "box", "comm" or "sending" (PEC Massiva)
    id: str
    action: str  # "activate", "reject", "issue_code", "register", "deliver"

    def to_json(self) -> Record:
        return {"due": self.due, "kind": self.kind, "id": self.id, "action": self.action}

    @classmethod
    def from_json(cls, raw: Record) -> Job:
        return cls(float(raw["due"]), str(raw["kind"]), str(raw["id"]), str(raw["action"]))


RECORD_KINDS: Final = ("box", "comm", "sending", "message")
# marks a change to the wallet alone (a charge with no record touched, e.g. a domain check)
WALLET_CHANGED: Final = ("wallet", "")


@dataclass(slots=True)
class State:
    balance_cents: int
    boxes: dict[str, Record] = field(default_factory=dict)
    comms: dict[str, Record] = field(default_factory=dict)
    jobs: list[Job] = field(default_factory=list)
    ledger: list[Record] = field(default_factory=list)
    seq: int = 0
    reject_next: int = 0
    # the OAuth emulation's tokens, by token value (see oauth.py)
    tokens: dict[str, Record] = field(default_factory=dict)
    # the account service's view of the traffic (see usage.py): counters by day and scope, the
    # latest errors, each subscription's use this period, and when the account's plans started
    usage: dict[str, dict[str, Record]] = field(default_factory=dict)
    errors: list[Record] = field(default_factory=list)
    subscriptions: dict[str, Record] = field(default_factory=dict)
    started_at: float | None = None
    # PEC Massiva (see massiva.py): sendings by code, inbox messages by id, and the small rest
    # (counters, each box's last send, passwords set) saved with the wallet
    sendings: dict[str, Record] = field(default_factory=dict)
    messages: dict[str, Record] = field(default_factory=dict)
    massiva_meta: Record = field(default_factory=dict)
    # what persistence still has to write; never serialised itself
    dirty: set[tuple[str, str]] = field(default_factory=set)

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def new_id(self, now: float) -> str:
        # Shaped like a Mongo ObjectId (seconds + counter) and deterministic for a given clock.
        return f"{int(now) & 0xFFFFFFFF:08x}{self.next_seq():016x}"

    def table(self, kind: str) -> dict[str, Record]:
        """The records of one persisted kind (see RECORD_KINDS)."""
        tables = {"box": self.boxes, "comm": self.comms, "sending": self.sendings, "message": self.messages}
        return tables[kind]

    def meta(self) -> Record:
        return {
            "balance_cents": self.balance_cents,
            "jobs": [j.to_json() for j in self.jobs],
            "seq": self.seq,
            "reject_next": self.reject_next,
            "tokens": self.tokens,
            "usage": self.usage,
            "errors": self.errors,
            "subscriptions": self.subscriptions,
            "started_at": self.started_at,
            "massiva": self.massiva_meta,
        }

    def load_meta(self, raw: Record) -> None:
        self.balance_cents = int(raw["balance_cents"])
        self.jobs = [Job.from_json(j) for j in raw.get("jobs", [])]
        self.seq = int(raw.get("seq", 0))
        self.reject_next = int(raw.get("reject_next", 0))
        self.tokens = dict(raw.get("tokens", {}))
        self.usage = dict(raw.get("usage", {}))
        self.errors = list(raw.get("errors", []))
        self.subscriptions = dict(raw.get("subscriptions", {}))
        started = raw.get("started_at")
        self.started_at = float(started) if isinstance(started, int | float) else None
        self.massiva_meta = dict(raw.get("massiva", {}))


def ddmmyyyy(ts: float) -> str:
    return datetime.fromtimestamp(ts, ROME).strftime("%d/%m/%Y")


def parse_ddmmyyyy(text: object) -> datetime | None:
    if not isinstance(text, str) or not re.fullmatch(r"\d{2}/\d{2}/\d{4}", text):
        return None
    try:
        return datetime.strptime(text, "%d/%m/%Y")
    except ValueError:
        return None


def add_years(ts: float, years: int) -> int:
    when = datetime.fromtimestamp(ts, ROME)
    try:
        moved = when.replace(year=when.year + years)
    except ValueError:  # 29 February
        moved = when.replace(year=when.year + years, day=28)
    # An aware datetime re-derives its UTC offset, so the wall-clock time survives DST changes.
    return int(moved.timestamp())


def box_view(box: Record) -> Record:
    """The Casella as the API shows it: no callback is ``false``, optional lists only when set."""
    view = copy.deepcopy(box)
    if view.get("callback") is None:
        view["callback"] = False
    for key in ("documenti_attivazione", "documenti_conservazione", "multiutenza"):
        if not view.get(key):
            view.pop(key, None)
    return view


def box_summary(box: Record) -> Record:
    keys = ("id", "casella_pec", "tipo_casella", "stato", "data_scadenza", "timestamp", "owner")
    return {k: copy.deepcopy(box[k]) for k in keys}


def comm_view(comm: Record) -> Record:
    view = copy.deepcopy(comm)
    if view.get("callback") is None:
        view["callback"] = False
    view.pop("pec_amministratore", None)
    return view


def comm_summary(comm: Record) -> Record:
    keys = ("id", "casella_pec", "stato", "timestamp", "owner")
    return {k: copy.deepcopy(comm[k]) for k in keys}
