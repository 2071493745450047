"""The journaled operations: for each, the pre-state it records and how it judges the state.

Reconciliation compares the box as the API shows it now with the pre-state recorded before the
request was sent. It says *applied* only when the change the call makes is visible, *not
applied* only when the box is exactly as it was, and *unknown* (nothing is sent) otherwise:

============== ========================== ======================================================
operation      pre-state                  applied when
============== ========================== ======================================================
register       (none)                     one live box has the address (the API also refuses a
                                          second live box with the same address)
activate       stato, ultima_modifica     registrata/documenti_errati -> in_evasione/evasa
renew          data_scadenza, stato       data_scadenza moved (only a renewal moves it)
add_space      spazio_*                   each asked space grew by exactly the increment
set_space      spazio_*                   each asked space equals its target
change_type    tipo_casella               tipo_casella is the target (upgrades only go up)
revoke         stato                      stato is revocata
============== ========================== ======================================================

An add_space is judged by amounts: two different add_space keys on the same box whose callers
both died could be confused; the state is then neither "as before" nor "grown by exactly this
increment" for at least one of them, which is reported as unknown rather than guessed.

The clients build these intents when a call has an idempotency key (see ``pec_ext.journal.base``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pec_ext._engine.steps import Flow
from pec_ext._pec import flows as _flows
from pec_ext.enums import TERMINAL_BOX_STATES, open_enums
from pec_ext.journal.base import Decision, Intent

if TYPE_CHECKING:
    from pec_api.models.casella import Casella
    from pec_ext._pec.flows import Settings
    from pec_ext.documents.reading import DocumentSource

# A revoked, closed or cancelled box with the same address is an older one, not this one.
_TERMINAL = frozenset(state.value for state in TERMINAL_BOX_STATES)


def encode_box(box: Casella) -> dict[str, Any]:
    return box.to_dict()


def decode_box(data: Any) -> Casella:
    from pec_api.models.casella import Casella

    box = Casella.from_dict(data)
    open_enums(box)
    return box


def _get(box_id: str) -> Flow[Casella]:
    return _flows.get_mailbox(box_id)


def _spaces(box: Casella) -> dict[str, int]:
    return {
        name: value if isinstance(value := getattr(box, name, 0), int) else 0
        for name in ("spazio_disco", "spazio_storico", "spazio_conservazione")
    }


def _modified(box: Casella) -> Any:
    stamp = getattr(box, "timestamp", None)
    return getattr(stamp, "ultima_modifica", None) if stamp is not None else None


def _box_intent(operation: str, box_id: str, body: Any, **kwargs: Any) -> dict[str, Any]:
    return {
        "operation": operation,
        "path_params": {"id": box_id},
        "body": body,
        "encode": encode_box,
        "decode": decode_box,
        **kwargs,
    }


def register(
    settings: Settings, fields: Mapping[str, Any], own_domain: bool = False, *, today: dt.date
) -> Intent:
    body = dict(fields)
    address = str(body.get("casella_pec", "")).strip().lower()

    def send(_: Any) -> Flow[Casella]:
        return _flows.register_mailbox(settings, None, body, own_domain, today)

    def reconcile(_: Any) -> Flow[Any]:
        boxes = yield from _flows.list_mailboxes()
        live = [b for b in boxes if str(b.casella_pec).lower() == address and str(b.stato) not in _TERMINAL]
        if not live:
            return Decision.NOT_APPLIED
        if len(live) > 1 or not isinstance(live[0].id, str):
            return Decision.UNKNOWN
        return (yield from _get(live[0].id))

    return Intent(
        operation="register_mailbox",
        path_params={},
        body={"fields": body, "own_domain": own_domain},
        send=send,
        reconcile=reconcile,
        encode=encode_box,
        decode=decode_box,
    )


def renew(box_id: str, anni: int = 1) -> Intent:
    def prestate() -> Flow[dict[str, Any]]:
        box = yield from _get(box_id)
        return {"data_scadenza": str(box.data_scadenza), "stato": str(box.stato)}

    def send(_: Any) -> Flow[Casella]:
        return _flows.renew_mailbox(box_id, anni)

    def reconcile(before: Mapping[str, Any]) -> Flow[Any]:
        box = yield from _get(box_id)
        if str(box.data_scadenza) != before["data_scadenza"]:
            return box
        if str(box.stato) == before["stato"]:
            return Decision.NOT_APPLIED
        return Decision.UNKNOWN

    return Intent(
        **_box_intent("renew_mailbox", box_id, {"anni": anni}),
        send=send,
        reconcile=reconcile,
        read_prestate=prestate,
    )


def _space_intent(operation: str, box_id: str, asked: Mapping[str, int | None], *, increment: bool) -> Intent:
    wanted = {f"spazio_{name}": value for name, value in asked.items() if value is not None}

    def prestate() -> Flow[dict[str, int]]:
        box = yield from _get(box_id)
        return _spaces(box)

    def send(_: Any) -> Flow[Casella]:
        flow = _flows.add_space if increment else _flows.set_space
        return flow(box_id, asked.get("disco"), asked.get("storico"), asked.get("conservazione"))

    def reconcile(before: Mapping[str, int]) -> Flow[Any]:
        box = yield from _get(box_id)
        now = _spaces(box)
        target = {k: before[k] + v if increment else v for k, v in wanted.items()}
        if wanted and all(now[k] == target[k] for k in wanted):
            return box
        if all(now[k] == before[k] for k in wanted):
            return Decision.NOT_APPLIED
        return Decision.UNKNOWN

    return Intent(
        **_box_intent(operation, box_id, dict(asked)),
        send=send,
        reconcile=reconcile,
        read_prestate=prestate,
    )


def add_space(
    box_id: str, disco: int | None = None, storico: int | None = None, conservazione: int | None = None
) -> Intent:
    asked = {"disco": disco, "storico": storico, "conservazione": conservazione}
    return _space_intent("add_space", box_id, asked, increment=True)


def set_space(
    box_id: str, disco: int | None = None, storico: int | None = None, conservazione: int | None = None
) -> Intent:
    asked = {"disco": disco, "storico": storico, "conservazione": conservazione}
    return _space_intent("set_space", box_id, asked, increment=False)


def change_type(box_id: str, tipo_casella: str) -> Intent:
    target = str(tipo_casella).upper()

    def prestate() -> Flow[str]:
        box = yield from _get(box_id)
        return str(box.tipo_casella).upper()

    def send(_: Any) -> Flow[Casella]:
        return _flows.change_type(box_id, tipo_casella)

    def reconcile(before: str) -> Flow[Any]:
        box = yield from _get(box_id)
        now = str(box.tipo_casella).upper()
        if now == target:
            return box
        return Decision.NOT_APPLIED if now == before else Decision.UNKNOWN

    return Intent(
        **_box_intent("change_type", box_id, {"tipo_casella": target}),
        send=send,
        reconcile=reconcile,
        read_prestate=prestate,
    )


def revoke(box_id: str) -> Intent:
    def prestate() -> Flow[str]:
        box = yield from _get(box_id)
        return str(box.stato)

    def send(_: Any) -> Flow[Casella]:
        return _flows.revoke_mailbox(box_id)

    def reconcile(before: str) -> Flow[Any]:
        box = yield from _get(box_id)
        if str(box.stato) == "revocata":
            return box
        return Decision.NOT_APPLIED if str(box.stato) == before else Decision.UNKNOWN

    return Intent(
        **_box_intent("revoke_mailbox", box_id, None),
        send=send,
        reconcile=reconcile,
        read_prestate=prestate,
    )


def _document_digest(source: Any) -> str:
    """What identifies a document in the fingerprint: the sha256 of its bytes (a path is read)."""
    if isinstance(source, bytes | bytearray | memoryview):
        return "sha256:" + hashlib.sha256(bytes(source)).hexdigest()
    if isinstance(source, str | os.PathLike):
        try:
            with open(source, "rb") as stream:
                return "sha256:" + hashlib.file_digest(stream, "sha256").hexdigest()
        except OSError:
            return os.fspath(source)  # the guards refuse it with a clear error before sending
    return f"{type(source).__name__}:{getattr(source, 'name', '')}"


def activate(box_id: str, documents: Sequence[DocumentSource]) -> Intent:
    documents = list(documents)

    def prestate() -> Flow[dict[str, Any]]:
        box = yield from _get(box_id)
        return {"stato": str(box.stato), "ultima_modifica": _modified(box)}

    def send(_: Any) -> Flow[Casella]:
        return _flows.activate_mailbox(box_id, documents)

    def reconcile(before: Mapping[str, Any]) -> Flow[Any]:
        box = yield from _get(box_id)
        now = str(box.stato)
        if before["stato"] in ("registrata", "documenti_errati") and now in ("in_evasione", "evasa"):
            return box
        if now == before["stato"] and _modified(box) == before["ultima_modifica"]:
            return Decision.NOT_APPLIED
        return Decision.UNKNOWN

    return Intent(
        **_box_intent("activate_mailbox", box_id, lambda: [_document_digest(d) for d in documents]),
        send=send,
        reconcile=reconcile,
        read_prestate=prestate,
    )


def expiry_date(data_scadenza: object) -> dt.date | None:
    """A box's ``data_scadenza`` (``dd/mm/yyyy``) as a date; None when blank or malformed."""
    try:
        return dt.datetime.strptime(str(data_scadenza).strip(), "%d/%m/%Y").date()
    except ValueError:
        return None


def renewal_key(box_id: str, expiry: dt.date) -> str:
    """The key of "renew this box for the period ending at ``expiry``" (read when planning).

    Once renewed, the box has another expiry, so the same plan never selects it twice.
    """
    return f"renew:{box_id}:{expiry.isoformat()}"
