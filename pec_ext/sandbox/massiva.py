"""Openapi's PEC Massiva API (send certified mail, its receipts, the inbox, the quota), on the sandbox.

**Routing.** One server answers for PEC, OAuth and PEC Massiva. A request is for PEC Massiva when
its path starts with ``/pecmassiva`` (the prefix is dropped: ``POST /pecmassiva/send`` is the
service's ``POST /send``), or when its ``Host`` is the service's own (``ws.pecmassiva.com``,
``test.ws.pecmassiva.com``), so a client pointed at the real host names works in-process too. The
base URL to use is therefore ``<sandbox URL>/pecmassiva``: ``https://sandbox.pec.invalid/pecmassiva``
in-process (:data:`MASSIVA_BASE_URL`), ``http://127.0.0.1:PORT/pecmassiva`` behind
:class:`SandboxServer`.

**Auth.** The bearer token like the PEC side (any non-empty token unless ``strict_tokens``; a
token of the OAuth emulation needs the scope ``METHOD:ws.pecmassiva.com/<first segment>``, e.g.
``POST:ws.pecmassiva.com/send``, ``GET:test.ws.pecmassiva.com/inbox``), plus the box's own username
and password: in the body of ``POST /send``, in ``x-username``/``x-password`` elsewhere. Any
refusal is 401 ``Authorization is not valid or empty`` (the spec's message).

**Box credentials.** The box must exist in the PEC sandbox state, be of type ``PECMASSIVA`` and be
active (``stato`` ``evasa``: register it, upload the activation documents, ``advance``). Its
username is its address (``casella_pec``, e.g. ``bulk@testcert.legalmail.it``); its password is
derived from the box id (:func:`derived_password`, stable across restarts) unless one was set.
Read them with ``Sandbox.massiva_credentials(box id or address)`` or
``GET /_sandbox/massiva/credentials/{box id or address}``; set a password with
``POST /_sandbox/massiva/credentials/{box id or address}`` and ``{"password": "..."}``.

**A sending.** ``POST /send`` answers 201 with a ``message_id`` (the sending's code, a string of
digits: time stamp + counter) and ``sent`` (recipients accepted). At once, the ACCETTAZIONE receipt
lands in the sender's inbox; after :data:`DEFAULT_DELIVERY_DELAY` seconds of virtual time
(``Sandbox(massiva_delay=...)``; queued like the PEC lifecycle, completed by ``advance``) each
recipient gets the certified copy (POSTA CERTIFICATA; it also lands in the recipient's inbox when
the recipient is a sandbox box) and the sender the delivery receipt (CONSEGNA), except:

* recipients at :data:`NONDELIVERY_DOMAIN` (``anything@nondelivery.test``) get no copy, and the
  sender an AVVISO DI MANCATA CONSEGNA instead of the CONSEGNA;
* a malformed recipient address makes the provider refuse the whole message: an AVVISO DI NON
  ACCETTAZIONE at once instead of the ACCETTAZIONE, ``sent: 0``, nothing charged, nothing delivered.

Every receipt's subject is ``<KIND>: <subject> <code>`` as in the spec's examples (``ACCETTAZIONE:
Invio di prova 2020082610003492``), its ``recipient`` the address(es) it is about (the
ACCETTAZIONE lists every recipient, comma-separated), its ``sender``
``posta-certificata@testcert.legalmail.it``; the body is Italian text naming the message and
recipient. ``GET /send/{code}`` lists the sending's receipts still in the inbox and its certified
copies, oldest first; ``DELETE /send/{code}`` removes its receipts from the inbox (then 404).

**Limits and charges.** More than one ``POST /send`` a second (virtual clock) per box is refused
with 429 and ``Retry-After``. Each accepted sending is charged to the shared wallet at the price
``pecmassiva.send`` of the sandbox's table per recipient (:data:`~.wallet.MASSIVA_PRICES`), or
refused with 402 ``Insufficient Credit in Wallet: <balance>`` (not in the spec) before anything
happens. ``GET /quota/INBOX`` gives the inbox's usage and limit in megabytes (as the spec's text
says; its example's numbers look like kilobytes): the usage is the size of what the inbox holds,
and a CONSEGNA holds the whole original message with its attachments, as a full delivery receipt
does; the limit is the box's ``spazio_disco``.

**Admin.** ``GET /_sandbox/massiva/sent`` lists every sending ever accepted or refused by the
provider (code, box, recipients, subject, time, ``sent``, whether deleted): tests count sendings
with it, or with ``Sandbox.massiva_sent()``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote_plus, unquote

from .lifecycle import Context
from .state import ROME, Job, Record
from .wallet import charge, format_balance

if TYPE_CHECKING:
    from .core import Sandbox

PATH_PREFIX: Final = "/pecmassiva"
HOSTS: Final = ("ws.pecmassiva.com", "test.ws.pecmassiva.com")
MASSIVA_BASE_URL: Final = "https://sandbox.pec.invalid" + PATH_PREFIX
# The scopes Openapi lists for the PEC Massiva API (method + first path segment).
SCOPE_SEGMENTS: Final[Mapping[str, tuple[str, ...]]] = {
    "send": ("GET", "POST", "DELETE"),
    "inbox": ("GET", "DELETE"),
    "quota": ("GET",),
}
NONDELIVERY_DOMAIN: Final = "nondelivery.test"
DEFAULT_DELIVERY_DELAY: Final = 30.0
PRICE_KEY: Final = "pecmassiva.send"
PAGE_SIZE: Final = 25
SEND_INTERVAL: Final = 1.0
PROVIDER_SENDER: Final = "posta-certificata@testcert.legalmail.it"
BOX_TYPE: Final = "PECMASSIVA"
EMAIL: Final = re.compile(r"^[A-Za-z0-9._%+-]+@(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,}$")
DATA_URL: Final = re.compile(r"^data:[^,;]*(?:;[^,;]*)*;base64,", re.IGNORECASE)
UNAUTHORIZED: Final = "Authorization is not valid or empty"
BAD_POST: Final = "Post parameter is not valid"

ACCEPTED: Final = "ACCETTAZIONE"
NOT_ACCEPTED: Final = "AVVISO DI NON ACCETTAZIONE"
CERTIFIED_COPY: Final = "POSTA CERTIFICATA"
DELIVERED: Final = "CONSEGNA"
NOT_DELIVERED: Final = "AVVISO DI MANCATA CONSEGNA"


def derived_password(box_id: str) -> str:
    """The password a PECMASSIVA box has in the sandbox unless one was set: stable for a box id."""
    return "sbx-" + hashlib.sha256(f"pecmassiva:{box_id}".encode()).hexdigest()[:16]


def is_massiva_request(path: str, headers: Mapping[str, str]) -> bool:
    host = headers.get("host", "").split(":", 1)[0].lower()
    return host in HOSTS or path == PATH_PREFIX or path.startswith(PATH_PREFIX + "/")


def all_scopes() -> list[str]:
    return [
        f"{method}:{host}/{segment}"
        for host in HOSTS
        for segment, methods in SCOPE_SEGMENTS.items()
        for method in methods
    ]


def rfc2822(ts: float) -> str:
    return format_datetime(datetime.fromtimestamp(ts, ROME))


def recipient_domain(address: str) -> str:
    return address.rsplit("@", 1)[-1].lower()


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


class Refusal(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        self.status, self.message, self.headers = status, message, headers or {}
        super().__init__(f"{status}: {message}")


def refusal_answer(status: int, message: str, headers: dict[str, str] | None = None) -> Answer:
    return Answer(status, {"success": False, "message": message}, headers or {})


class MassivaService:
    """The PEC Massiva handlers over the sandbox's state; called under the sandbox's lock."""

    def __init__(self, sandbox: Sandbox, delay: float = DEFAULT_DELIVERY_DELAY) -> None:
        self.sandbox = sandbox
        self.delay = delay
        self._routes: list[tuple[str, re.Pattern[str], Any]] = [
            ("POST", re.compile(r"^/send$"), self.send),
            ("GET", re.compile(r"^/send/([^/]+)$"), self.list_receipts),
            ("DELETE", re.compile(r"^/send/([^/]+)$"), self.delete_receipts),
            ("GET", re.compile(r"^/inbox$"), self.list_inbox),
            ("GET", re.compile(r"^/inbox/([^/]+)$"), self.get_message),
            ("DELETE", re.compile(r"^/inbox/([^/]+)$"), self.delete_message),
            ("GET", re.compile(r"^/quota/([^/]+)$"), self.quota),
        ]

    # ------------------------------------------------------------ entry point

    @staticmethod
    def service_path(path: str) -> str:
        if path == PATH_PREFIX or path.startswith(PATH_PREFIX + "/"):
            return "/" + path[len(PATH_PREFIX) :].strip("/")
        return path

    def handle(
        self,
        ctx: Context,
        method: str,
        path: str,
        query: Mapping[str, str],
        headers: Mapping[str, str],
        body: bytes,
    ) -> Answer:
        try:
            for route_method, pattern, handler in self._routes:
                match = pattern.match(path)
                if match is None:
                    continue
                if route_method != method.upper():
                    continue
                arg = unquote(match.group(1)) if pattern.groups else ""
                answer: Answer = handler(ctx, query, headers, body, arg)
                return answer
            if any(pattern.match(path) for _, pattern, _ in self._routes):
                raise Refusal(405, f"method {method.upper()} not allowed on {path}")
            raise Refusal(404, f"no such endpoint: {method.upper()} {path}")
        except Refusal as err:
            return refusal_answer(err.status, err.message, err.headers)

    # ------------------------------------------------------------ credentials

    def find_box(self, wanted: str) -> Record | None:
        """A box by id or by address (the live one when an address was registered twice)."""
        state = self.sandbox.state
        if wanted in state.boxes:
            return state.boxes[wanted]
        address = wanted.strip().lower()
        found = [b for b in state.boxes.values() if b["casella_pec"].lower() == address]
        live = [b for b in found if b["stato"] != "revocata"]
        candidates = live or found
        return candidates[-1] if candidates else None

    def password_of(self, box: Record) -> str:
        return str(
            self.sandbox.state.massiva_meta.get("passwords", {}).get(box["id"]) or derived_password(box["id"])
        )

    def _box_for(self, username: object, password: object) -> Record:
        if not isinstance(username, str) or not isinstance(password, str) or not username or not password:
            raise Refusal(401, UNAUTHORIZED)
        box = self.find_box(username)
        if (
            box is None
            or box["casella_pec"].lower() != username.strip().lower()
            or box["tipo_casella"] != BOX_TYPE
            or box["stato"] != "evasa"
            or not _same(password, self.password_of(box))
        ):
            raise Refusal(401, UNAUTHORIZED)
        return box

    def _header_box(self, headers: Mapping[str, str]) -> Record:
        return self._box_for(headers.get("x-username"), headers.get("x-password"))

    # ------------------------------------------------------------ POST /send

    def send(
        self, ctx: Context, query: Mapping[str, str], headers: Mapping[str, str], raw: bytes, _: str
    ) -> Answer:
        body = _json_object(raw)
        box = self._box_for(body.get("username"), body.get("password"))
        address = box["casella_pec"]
        meta = ctx.state.massiva_meta
        last = meta.setdefault("last_send", {}).get(address)
        if last is not None and ctx.now - float(last) < SEND_INTERVAL:
            wait = max(1, math.ceil(float(last) + SEND_INTERVAL - ctx.now))
            raise Refusal(429, "Too many requests", {"retry-after": str(wait)})
        recipients = _recipients(body.get("recipient"))
        subject = body.get("subject")
        if not isinstance(subject, str) or not subject.strip():
            raise Refusal(400, BAD_POST)
        text = body.get("body", "")
        if text is None:
            text = ""
        if not isinstance(text, str):
            raise Refusal(400, BAD_POST)
        sender = body.get("sender")
        if sender not in (None, "") and (not isinstance(sender, str) or sender.strip().lower() != address):
            raise Refusal(400, BAD_POST)
        attachments = _attachments(body.get("attachments"))
        malformed = [r for r in recipients if not EMAIL.match(r)]
        accepted = not malformed
        cents = ctx.prices.cents(PRICE_KEY, len(recipients)) if accepted else 0
        if cents > ctx.state.balance_cents:
            raise Refusal(402, f"Insufficient Credit in Wallet: {format_balance(ctx.state.balance_cents)}")

        meta["last_send"][address] = ctx.now
        meta["sendings"] = int(meta.get("sendings", 0)) + 1
        code = datetime.fromtimestamp(ctx.now, ROME).strftime("%Y%m%d%H%M%S") + f"{meta['sendings']:02d}"
        sending: Record = {
            "code": code,
            "box_id": box["id"],
            "mailbox": address,
            "recipients": recipients,
            "subject": subject,
            "body": text,
            "attachments": [{"name": name, "size": len(data)} for name, data in attachments],
            "size": len(subject) + len(text.encode()) + sum(len(data) for _, data in attachments),
            "timestamp": ctx.now,
            "accepted": accepted,
            "sent": len(recipients) if accepted else 0,
            "charged": cents / 100,
            "copies": [],
            "deleted": False,
            "completed": not accepted,
        }
        ctx.state.sendings[code] = sending
        ctx.state.dirty.add(("sending", code))
        listed = ", ".join(recipients)
        if accepted:
            self._receipt(ctx, sending, ACCEPTED, listed, _accepted_text(sending, ctx.now))
            charge(ctx.state, cents, operation="POST /send", ref=code, now=ctx.now)
            ctx.state.jobs.append(Job(ctx.now + self.delay, "sending", code, "deliver"))
        else:
            self._receipt(ctx, sending, NOT_ACCEPTED, listed, _not_accepted_text(sending, malformed, ctx.now))
        return Answer(201, {"success": True, "sent": sending["sent"], "message": "", "message_id": code})

    def _store(self, ctx: Context, mailbox: str, message: Record) -> Record:
        meta = ctx.state.massiva_meta
        meta["message_seq"] = int(meta.get("message_seq", 0)) + 1
        stored = {**message, "id": meta["message_seq"], "mailbox": mailbox}
        ctx.state.messages[str(stored["id"])] = stored
        ctx.state.dirty.add(("message", str(stored["id"])))
        return stored

    def _receipt(
        self, ctx: Context, sending: Record, kind: str, about: str, text: str, size: int = 0
    ) -> None:
        subject = f"{kind}: {sending['subject']} {sending['code']}"
        message = {
            "code": sending["code"],
            "kind": kind,
            "sender": PROVIDER_SENDER,
            "recipient": about,
            "timestamp": ctx.now,
            "object": subject,
            "body": text,
            "size": len(subject) + len(text.encode()) + size,
        }
        self._store(ctx, sending["mailbox"], message)

    def deliver(self, ctx: Context, code: str) -> None:
        """The provider's delivery of an accepted sending: certified copies and receipts, per recipient."""
        sending = ctx.state.sendings.get(code)
        if sending is None or sending["completed"]:
            return
        for recipient in sending["recipients"]:
            if recipient_domain(recipient) == NONDELIVERY_DOMAIN:
                self._receipt(
                    ctx, sending, NOT_DELIVERED, recipient, _not_delivered_text(sending, recipient, ctx.now)
                )
                continue
            subject = f"{CERTIFIED_COPY}: {sending['subject']} {code}"
            copy: Record = {
                "code": code,
                "kind": CERTIFIED_COPY,
                "sender": f"Per conto di: {sending['mailbox']}",
                "recipient": recipient,
                "timestamp": ctx.now,
                "object": subject,
                "body": sending["body"],
                "size": sending["size"] + len(subject),
            }
            sending["copies"].append(copy)
            destination = self.find_box(recipient)
            if destination is not None and destination["casella_pec"].lower() == recipient.lower():
                self._store(ctx, destination["casella_pec"], copy)
            self._receipt(
                ctx,
                sending,
                DELIVERED,
                recipient,
                _delivered_text(sending, recipient, ctx.now),
                sending["size"],
            )
        sending["completed"] = True
        ctx.state.dirty.add(("sending", code))

    # ------------------------------------------------------------ /send/{code}

    def _own_sending(self, box: Record, code: str) -> Record | None:
        sending = self.sandbox.state.sendings.get(code)
        if sending is None or sending["deleted"] or sending["mailbox"] != box["casella_pec"]:
            return None
        return sending

    def list_receipts(
        self, ctx: Context, query: Mapping[str, str], headers: Mapping[str, str], _: bytes, code: str
    ) -> Answer:
        box = self._header_box(headers)
        sending = self._own_sending(box, code)
        if sending is None:
            raise Refusal(404, "Result empty")
        # a copy the box sent itself is in its inbox too, but listed once, from the sending
        receipts = [
            m
            for m in ctx.state.messages.values()
            if m["code"] == code and m["mailbox"] == box["casella_pec"] and m["kind"] != CERTIFIED_COPY
        ]
        entries = sorted([*receipts, *sending["copies"]], key=lambda m: (m["timestamp"], m.get("id", 0)))
        data = [
            {
                "sender": m["sender"],
                "recipient": m["recipient"],
                "data": rfc2822(m["timestamp"]),
                "object": m["object"],
                "message": m["body"],
            }
            for m in entries
        ]
        return Answer(200, {"data": data, "success": True, "message": ""})

    def delete_receipts(
        self, ctx: Context, query: Mapping[str, str], headers: Mapping[str, str], _: bytes, code: str
    ) -> Answer:
        box = self._header_box(headers)
        sending = self._own_sending(box, code)
        if sending is None:
            raise Refusal(404, "Email not found")
        for key, message in list(ctx.state.messages.items()):
            if message["code"] == code and message["mailbox"] == box["casella_pec"]:
                del ctx.state.messages[key]
                ctx.state.dirty.add(("message", key))
        sending["deleted"] = True
        ctx.state.dirty.add(("sending", code))
        return Answer(200, {"success": True, "message": "Operation succefull"})

    # ------------------------------------------------------------ /inbox

    def _inbox(self, box: Record) -> list[Record]:
        return sorted(
            (m for m in self.sandbox.state.messages.values() if m["mailbox"] == box["casella_pec"]),
            key=lambda m: m["id"],
        )

    def list_inbox(
        self, ctx: Context, query: Mapping[str, str], headers: Mapping[str, str], _: bytes, __: str
    ) -> Answer:
        box = self._header_box(headers)
        messages = self._inbox(box)
        wanted = (query.get("q") or "").strip().lower()
        if wanted:
            messages = [m for m in messages if wanted in m["object"].lower() or wanted in m["sender"].lower()]
        page = _page(query.get("page"))
        chunk = messages[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
        data = [
            {
                "sender": m["sender"],
                "recipient": m["recipient"],
                "date": rfc2822(m["timestamp"]),
                "object": m["object"],
                "id": m["id"],
            }
            for m in chunk
        ]
        pages = math.ceil(len(messages) / PAGE_SIZE)
        return Answer(
            200,
            {
                "data": data,
                "success": True,
                "message": "",
                "page": page,
                "total": len(messages),
                "n_of_pages": pages,
            },
        )

    def _message(self, box: Record, raw_id: str) -> tuple[str, Record]:
        key = raw_id.strip()
        message = self.sandbox.state.messages.get(key) if key.isdigit() else None
        if message is None or message["mailbox"] != box["casella_pec"]:
            raise Refusal(404, "Message not found")
        return key, message

    def get_message(
        self, ctx: Context, query: Mapping[str, str], headers: Mapping[str, str], _: bytes, raw_id: str
    ) -> Answer:
        _key, message = self._message(self._header_box(headers), raw_id)
        data = {
            "sender": message["sender"],
            "recipient": message["recipient"],
            "date": rfc2822(message["timestamp"]),
            "object": message["object"],
            # form-encoded inside the JSON, as the spec says of this operation
            "body": quote_plus(message["body"]),
        }
        return Answer(200, {"data": data, "success": True, "message": ""})

    def delete_message(
        self, ctx: Context, query: Mapping[str, str], headers: Mapping[str, str], _: bytes, raw_id: str
    ) -> Answer:
        key, _message = self._message(self._header_box(headers), raw_id)
        del ctx.state.messages[key]
        ctx.state.dirty.add(("message", key))
        return Answer(200, {"success": True, "message": "Message deleted"})

    # ------------------------------------------------------------ /quota

    def quota(
        self, ctx: Context, query: Mapping[str, str], headers: Mapping[str, str], _: bytes, mailbox: str
    ) -> Answer:
        box = self._header_box(headers)
        if mailbox.strip().upper() != "INBOX":
            raise Refusal(400, "An error occured: the requested mailbox might be unavailable")
        used = sum(int(m["size"]) for m in self._inbox(box))
        data = {"usage": round(used / (1024 * 1024), 6), "limit": float(box["spazio_disco"])}
        return Answer(200, {"data": data, "success": True, "message": ""})

    # ------------------------------------------------------------ admin

    def sent(self) -> list[Record]:
        keys = (
            "code",
            "mailbox",
            "recipients",
            "subject",
            "timestamp",
            "accepted",
            "sent",
            "charged",
            "deleted",
        )
        return [{k: s[k] for k in keys} for s in self.sandbox.state.sendings.values()]

    def credentials(self, wanted: str) -> Record:
        box = self.find_box(wanted)
        if box is None:
            raise Refusal(404, f"no box {wanted}")
        return {
            "box_id": box["id"],
            "username": box["casella_pec"],
            "password": self.password_of(box),
            "tipo_casella": box["tipo_casella"],
            "stato": box["stato"],
            "usable": box["tipo_casella"] == BOX_TYPE and box["stato"] == "evasa",
        }

    def set_password(self, wanted: str, password: object) -> Record:
        box = self.find_box(wanted)
        if box is None:
            raise Refusal(404, f"no box {wanted}")
        if not isinstance(password, str) or not password:
            raise Refusal(400, "password must be a non-empty string")
        self.sandbox.state.massiva_meta.setdefault("passwords", {})[box["id"]] = password
        return self.credentials(box["id"])


# ---------------------------------------------------------------- helpers


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def _json_object(raw: bytes) -> Record:
    try:
        parsed = json.loads(raw or b"{}")
    except (ValueError, RecursionError):
        raise Refusal(400, BAD_POST) from None
    if not isinstance(parsed, dict):
        raise Refusal(400, BAD_POST)
    return parsed


def _recipients(raw: object) -> list[str]:
    """One address or an array of them, as upstream accepts; empty ones are a bad request."""
    items = [raw] if isinstance(raw, str) else raw
    if not isinstance(items, list) or not items:
        raise Refusal(400, BAD_POST)
    if not all(isinstance(item, str) and item.strip() for item in items):
        raise Refusal(400, BAD_POST)
    return [str(item).strip() for item in items]


def _attachments(raw: object) -> list[tuple[str, bytes]]:
    """``[{"name", "file"}]`` (or one such object, as upstream's schema says), base64 or a data: URL."""
    if raw in (None, ""):
        return []
    items = [raw] if isinstance(raw, dict) else raw
    if not isinstance(items, list):
        raise Refusal(400, BAD_POST)
    decoded = []
    for item in items:
        if not isinstance(item, dict):
            raise Refusal(400, BAD_POST)
        name, content = item.get("name"), item.get("file")
        if not isinstance(name, str) or not name.strip() or not isinstance(content, str):
            raise Refusal(400, BAD_POST)
        content = DATA_URL.sub("", content.strip(), count=1)
        try:
            data = base64.b64decode(content, validate=True)
        except (binascii.Error, ValueError):
            raise Refusal(400, BAD_POST) from None
        decoded.append((name, data))
    return decoded


def _page(raw: str | None) -> int:
    try:
        return max(1, int(float(raw))) if raw not in (None, "") else 1
    except (TypeError, ValueError, OverflowError):
        return 1


def _when(ts: float) -> tuple[str, str]:
    moment = datetime.fromtimestamp(ts, ROME)
    return moment.strftime("%d/%m/%Y"), moment.strftime("%H:%M:%S")


def _accepted_text(sending: Record, now: float) -> str:
    day, hour = _when(now)
    recipients = "\n".join(f'Destinatario: "{r}"' for r in sending["recipients"])
    return (
        f'Il giorno {day} alle ore {hour} il messaggio "{sending["subject"]}" proveniente da '
        f'"{sending["mailbox"]}" ed indirizzato a:\n{recipients}\nè stato accettato dal sistema ed '
        f"inoltrato.\nIdentificativo messaggio: {sending['code']}"
    )


def _not_accepted_text(sending: Record, malformed: list[str], now: float) -> str:
    day, hour = _when(now)
    return (
        f'Il giorno {day} alle ore {hour} nel messaggio "{sending["subject"]}" proveniente da '
        f'"{sending["mailbox"]}" è stato rilevato un problema che ne impedisce l\'accettazione a '
        f"causa di: indirizzo non valido: {', '.join(malformed)}.\nIl messaggio non è stato accettato."
    )


def _delivered_text(sending: Record, recipient: str, now: float) -> str:
    day, hour = _when(now)
    return (
        f'Il giorno {day} alle ore {hour} il messaggio "{sending["subject"]}" proveniente da '
        f'"{sending["mailbox"]}" ed indirizzato a "{recipient}" è stato consegnato nella casella di '
        f"destinazione.\nIdentificativo messaggio: {sending['code']}"
    )


def _not_delivered_text(sending: Record, recipient: str, now: float) -> str:
    day, hour = _when(now)
    return (
        f'Il giorno {day} alle ore {hour} nel messaggio "{sending["subject"]}" proveniente da '
        f'"{sending["mailbox"]}" ed indirizzato a "{recipient}" è stato rilevato un errore: il '
        f"messaggio non è stato consegnato.\nIdentificativo messaggio: {sending['code']}"
    )
