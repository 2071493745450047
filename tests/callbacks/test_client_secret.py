"""callback_secret=: the clients put a fresh token in the callback.data of every request they send."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from pec_ext.callbacks.events import TOKEN_FIELD, verify_token
from pec_ext.callbacks.receiver import CallbackReceiver
from pec_ext.callbacks.store import MemoryTransitionStore
from pec_ext.errors import ValidationError
from pec_ext.sandbox import Sandbox
from tests.support.callbacks import RECEIVER_URL, SECRET, Recorder, activate, wsgi_sender
from tests.support.dates import sandbox_on_day
from tests.support.http_stack import httpx
from tests.support.sandbox import box_body, comm_body


def _stored_callback(sb: Sandbox, kind: str, record_id: str) -> dict[str, Any]:
    records = sb.mailboxes() if kind == "box" else sb.communications()
    (record,) = [r for r in records if r["id"] == record_id]
    callback: dict[str, Any] = record["callback"]
    return callback


def test_register_and_communicate_send_a_token_and_keep_the_users_data(sb: Sandbox) -> None:
    with sb.client(callback_secret=SECRET) as pec:
        box = pec.register_mailbox(box_body(callback={"url": RECEIVER_URL, "data": {"order": 5}}))
        comm = pec.communicate_pec(comm_body(callback={"url": RECEIVER_URL, "method": "JSON"}))
        plain = pec.register_mailbox(box_body("senza@testcert.legalmail.it"))

    box_cb = _stored_callback(sb, "box", str(box.id))
    assert box_cb["data"]["order"] == 5
    verify_token(SECRET, RECEIVER_URL, box_cb["data"][TOKEN_FIELD])
    comm_cb = _stored_callback(sb, "comm", str(comm.id))
    verify_token(SECRET, RECEIVER_URL, comm_cb["data"][TOKEN_FIELD])
    assert box_cb["data"][TOKEN_FIELD] != comm_cb["data"][TOKEN_FIELD]
    assert _stored_callback(sb, "box", str(plain.id)) is False  # no callback, nothing added


def test_without_a_secret_the_callback_is_sent_as_given(sb: Sandbox) -> None:
    with sb.client() as pec:
        box = pec.register_mailbox(box_body(callback={"url": RECEIVER_URL, "data": {"order": 5}}))
    assert _stored_callback(sb, "box", str(box.id))["data"] == {"order": 5}


def test_the_async_client_signs_too(sb: Sandbox) -> None:
    async def main() -> str:
        async with sb.async_client(callback_secret=SECRET.encode()) as pec:
            box = await pec.register_mailbox(box_body(callback={"url": RECEIVER_URL}))
            return str(box.id)

    box_id = asyncio.run(main())
    verify_token(SECRET, RECEIVER_URL, _stored_callback(sb, "box", box_id)["data"][TOKEN_FIELD])


def test_a_short_secret_is_refused_when_the_client_is_made(sb: Sandbox) -> None:
    with pytest.raises(ValidationError, match="callback_secret"):
        sb.client(callback_secret="too short")


def test_a_secret_never_shows_in_the_clients_repr(sb: Sandbox) -> None:
    with sb.client(callback_secret=SECRET) as pec:
        assert SECRET not in repr(pec)
        assert SECRET not in repr(pec.settings)


def test_a_box_registered_by_the_client_is_received_and_confirmed(tmp_path: Path) -> None:
    recorder = Recorder()
    holder: dict[str, Any] = {}
    sb = sandbox_on_day(callback_sender=lambda request: holder["send"](request), callback_backoff=0)
    receiver = CallbackReceiver(SECRET, sb.client(), on_mailbox=recorder, store=MemoryTransitionStore())
    holder["send"] = wsgi_sender(receiver.wsgi_app())
    with sb.client(callback_secret=SECRET) as pec:
        box = pec.register_mailbox(box_body(callback={"url": RECEIVER_URL, "data": {"order": 6}}))
    http = httpx.Client(transport=sb.transport(), base_url="https://x", headers={"Authorization": "Bearer t"})
    activate(http, str(box.id))
    sb.advance()
    assert recorder.seen() == [("mailbox", box.id, "in_evasione"), ("mailbox", box.id, "evasa")]
    assert recorder.events[0].data == {"order": 6}
    sb.close()
