"""A sending under the journal: once per idempotency key, across processes and machines.

The fingerprint is what the message says (recipients, subject, the sha256 of the body and of each
attachment, the sender), never the box's password. The pre-state is the list of acceptance
receipts of the same subject already in the inbox. Reconciling (a caller died, or its answer was
lost, and the lease ran out) reads the inbox again: a new acceptance (or non-acceptance) receipt
of that subject and recipients is the sending, done; none at all means the provider never took the
message, since it issues one for every message at once, and it is sent; several is unknown.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from pec_ext._engine.steps import Flow
from pec_ext.journal.base import Decision, Intent
from pec_ext.massiva import flows
from pec_ext.massiva.flows import AmbiguousSending, Box, Sending
from pec_ext.massiva.outgoing import Outgoing, read_attachments


def _fingerprint_body(outgoing: Outgoing) -> dict[str, Any]:
    attachments = read_attachments(outgoing.attachment_sources) if outgoing.attachment_sources else []
    return {
        "to": list(outgoing.recipients),
        "subject": outgoing.subject,
        "body": "sha256:" + hashlib.sha256(outgoing.body.encode("utf-8", "surrogatepass")).hexdigest(),
        "sender": outgoing.sender,
        "attachments": [[a.name, a.digest] for a in attachments],
    }


def send(box: Box, outgoing: Outgoing) -> Intent:
    def prestate() -> Flow[dict[str, Any]]:
        known = yield from flows.acceptances_before(outgoing)
        return {"known": known}

    def send_it(before: Mapping[str, Any]) -> Flow[Sending]:
        return flows.send_noted(box, outgoing, list(before["known"]))

    def reconcile(before: Mapping[str, Any]) -> Flow[Any]:
        try:
            found = yield from flows.find_sending(outgoing, before["known"])
        except AmbiguousSending:
            return Decision.UNKNOWN
        return Decision.NOT_APPLIED if found is None else found

    return Intent(
        operation="send_message",
        path_params={},
        # A function: reading and hashing the attachments is blocking work, done only when journaled.
        body=lambda: _fingerprint_body(outgoing),
        send=send_it,
        reconcile=reconcile,
        encode=Sending.to_json,
        decode=Sending.from_json,
        read_prestate=prestate,
    )
