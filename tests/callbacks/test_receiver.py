"""The receiver in-process: sandbox deliveries into the WSGI app, the function, and the async path."""

from __future__ import annotations

import asyncio
import io
import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from pec_ext.callbacks.events import TOKEN_FIELD, make_token, parse
from pec_ext.callbacks.receiver import CallbackReceiver
from pec_ext.callbacks.store import MemoryTransitionStore, SqliteTransitionStore
from pec_ext.enums import StatoCasella
from pec_ext.errors import ValidationError
from pec_ext.sandbox import Sandbox
from tests.support.callbacks import (
    OTHER_SECRET,
    RECEIVER_URL,
    SECRET,
    Recorder,
    activate,
    box_lifecycle,
    comm_lifecycle,
    register_box,
    signed,
    wsgi_sender,
)
from tests.support.dates import sandbox_on_day
from tests.support.http_stack import httpx

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"


class Wired:
    """A sandbox whose callbacks go to a receiver's WSGI app, which confirms through the sandbox."""

    def __init__(self, tmp_path: Path, *, fail: int = 0) -> None:
        self.boxes = Recorder(fail)
        self.comms = Recorder()
        self.receiver: CallbackReceiver | None = None
        self.sb = sandbox_on_day(callback_sender=self._send, callback_backoff=0)
        self.receiver = CallbackReceiver(
            SECRET,
            self.sb.client(),
            on_mailbox=self.boxes,
            on_communication=self.comms,
            store=tmp_path / "handled.sqlite",
        )
        self.sender = wsgi_sender(self.receiver.wsgi_app())
        self.http = httpx.Client(
            transport=self.sb.transport(),
            base_url="https://sandbox.pec.invalid",
            headers={"Authorization": "Bearer t"},
        )

    def _send(self, request: httpx.Request) -> httpx.Response:
        response: httpx.Response = self.sender(request)
        return response


@pytest.fixture
def wired(tmp_path: Path) -> Iterator[Wired]:
    w = Wired(tmp_path)
    yield w
    w.sb.close()


@pytest.mark.parametrize("method", ["POST", "JSON"])
def test_every_transition_is_handled_once_with_the_confirmed_record(wired: Wired, method: str) -> None:
    box_id, box_states = box_lifecycle(wired.http, signed(method=method, data={"order": 1}))
    comm_id, comm_states = comm_lifecycle(wired.http, signed(method=method))

    assert wired.boxes.seen() == [("mailbox", box_id, s) for s in box_states]
    assert wired.comms.seen() == [("communication", comm_id, s) for s in comm_states]
    events = wired.boxes.events + wired.comms.events
    assert all(e.confirmed and e.stato == e.claimed_stato for e in events)
    assert wired.boxes.events[0].data == {"order": 1}
    assert wired.boxes.events[-1].record.stato is StatoCasella.REVOCATA
    assert all(d.status_code == 200 and len(d.attempts) == 1 for d in wired.sb.callbacks_sent)

    # every delivery again (a provider's duplicates): acknowledged, no handler runs
    assert wired.receiver is not None
    for sent in wired.sb.callbacks_sent:
        reply = wired.receiver.handle(sent.body, sent.content_type)
        assert (reply.status_code, reply.outcome) == (200, "duplicate")
    assert len(wired.boxes.events) == len(box_states)
    assert len(wired.comms.events) == len(comm_states)


def test_a_failing_handler_answers_500_and_runs_again_on_the_retry(tmp_path: Path) -> None:
    w = Wired(tmp_path, fail=2)
    box_id = register_box(w.http, signed())
    activate(w.http, box_id)

    (sent,) = w.sb.callbacks_sent
    assert [a.status_code for a in sent.attempts] == [500, 500, 200]
    assert w.boxes.calls == 3
    assert w.boxes.seen() == [("mailbox", box_id, "in_evasione")]
    w.sb.close()


def _box_delivery(
    sb: Sandbox, http: httpx.Client, callback: dict[str, Any], address: str | None = None
) -> tuple[str, dict[str, Any]]:
    box_id = register_box(http, callback, address)
    activate(http, box_id)
    sent = sb.callbacks_sent[-1]
    payload: dict[str, Any] = parse(sent.body, sent.content_type).payload
    return box_id, payload


def _receiver(sb: Sandbox, recorder: Recorder, **options: Any) -> CallbackReceiver:
    return CallbackReceiver(
        SECRET, sb.client(), on_mailbox=recorder, store=MemoryTransitionStore(), **options
    )


def test_forged_callbacks_never_reach_a_handler_with_a_false_state(sb: Sandbox, http: httpx.Client) -> None:
    recorder = Recorder()
    receiver = _receiver(sb, recorder)
    box_id, payload = _box_delivery(sb, http, signed())
    other_id, other = _box_delivery(sb, http, signed(), "altra@testcert.legalmail.it")

    def post(record: dict[str, Any]) -> tuple[int, str]:
        reply = receiver.handle(json.dumps(record).encode(), JSON)
        return reply.status_code, reply.message

    no_token = json.loads(json.dumps(payload))
    del no_token["callback"]["data"][TOKEN_FIELD]
    assert post(no_token) == (403, f"the callback carries no token in callback.data.{TOKEN_FIELD}")

    wrong = json.loads(json.dumps(payload))
    wrong["callback"]["data"][TOKEN_FIELD] = make_token(OTHER_SECRET, RECEIVER_URL)
    assert post(wrong) == (403, "the callback token is not valid for this secret and URL")

    moved = json.loads(json.dumps(payload))
    moved["callback"]["url"] = "https://attacker.example/"
    assert post(moved)[0] == 403

    # a real token replayed on another record: that record was given another token
    borrowed = dict(other, callback=payload["callback"])
    assert post(borrowed) == (403, f"the token is not the one mailbox {other_id} was given")
    unknown = dict(payload, id="ffffffffffffffffffffffff")
    assert post(unknown) == (403, "the account has no mailbox ffffffffffffffffffffffff")
    assert recorder.calls == 0

    # a real token replayed with a forged state: the handler sees the state the API reports
    forged = dict(payload, stato="evasa")
    assert post(forged)[0] == 200
    (event,) = recorder.events
    assert (event.id, event.stato, event.claimed_stato) == (box_id, "in_evasione", "evasa")
    assert event.record.stato == "in_evasione"
    # ... and replaying it again with yet another state runs nothing more
    assert post(dict(payload, stato="revocata")) == (200, "this transition was handled already")
    assert recorder.calls == 1


def test_a_record_without_our_token_is_refused(sb: Sandbox, http: httpx.Client) -> None:
    recorder = Recorder()
    receiver = _receiver(sb, recorder)
    _, payload = _box_delivery(sb, http, signed())
    bare_id = register_box(http, None, "senza.callback@testcert.legalmail.it")
    reply = receiver.handle(json.dumps(dict(payload, id=bare_id)).encode(), JSON)
    assert reply.status_code == 403
    assert recorder.calls == 0


def test_only_the_configured_urls_are_accepted(sb: Sandbox, http: httpx.Client) -> None:
    recorder = Recorder()
    receiver = _receiver(sb, recorder, urls=["https://hooks.example/other"])
    _, payload = _box_delivery(sb, http, signed())
    reply = receiver.handle(json.dumps(payload).encode(), JSON)
    assert reply.status_code == 403
    assert "is not one this receiver serves" in reply.message


def test_an_unreachable_api_is_a_503_so_the_provider_tries_again(sb: Sandbox, http: httpx.Client) -> None:
    from pec_ext import PecClient

    _, payload = _box_delivery(sb, http, signed())
    down = PecClient("t", base_url="http://127.0.0.1:9", max_retries=0, timeout=2)
    receiver = CallbackReceiver(SECRET, down, on_mailbox=Recorder(), store=MemoryTransitionStore())
    reply = receiver.handle(json.dumps(payload).encode(), JSON)
    assert (reply.status_code, reply.outcome) == (503, "unconfirmed")
    assert ("retry-after", "5") in reply.headers


def _wsgi(
    app: Any, method: str, body: bytes, content_type: str, length: str | None = None
) -> tuple[str, Any]:
    seen: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        seen.update(status=status, headers=headers)

    environ = {
        "REQUEST_METHOD": method,
        "CONTENT_TYPE": content_type,
        "CONTENT_LENGTH": str(len(body)) if length is None else length,
        "wsgi.input": io.BytesIO(body),
    }
    out = b"".join(app(environ, start_response))
    return seen["status"], json.loads(out)


def test_the_wsgi_app_answers_with_the_documented_statuses(sb: Sandbox, http: httpx.Client) -> None:
    recorder = Recorder()
    app = _receiver(sb, recorder).wsgi_app()
    _, payload = _box_delivery(sb, http, signed())
    form = str(httpx.QueryParams({"data": json.dumps(payload)})).encode()

    assert _wsgi(app, "POST", form, FORM)[0] == "200 OK"
    assert _wsgi(app, "POST", form, FORM)[1]["outcome"] == "duplicate"
    assert _wsgi(app, "GET", b"", "")[0] == "405 Method Not Allowed"
    status, body = _wsgi(app, "POST", b"data=nope", FORM)
    assert (status, body["outcome"]) == ("400 Bad Request", "malformed")
    assert "form field 'data' is not JSON" in body["message"]
    assert _wsgi(app, "POST", b"", FORM, length=str(10**9))[0] == "413 Content Too Large"
    assert _wsgi(app, "POST", b"", FORM, length="many")[0] == "400 Bad Request"
    assert len(recorder.events) == 1


def test_ahandle_confirms_with_the_async_client_and_awaits_async_handlers(
    sb: Sandbox, http: httpx.Client, tmp_path: Path
) -> None:
    seen: list[str] = []

    async def on_mailbox(event: Any) -> None:
        await asyncio.sleep(0)
        seen.append(str(event.stato))

    _, payload = _box_delivery(sb, http, signed(method="JSON"))
    body = json.dumps(payload).encode()

    async def main() -> list[int]:
        async with sb.async_client() as client:
            store = SqliteTransitionStore(tmp_path / "a.sqlite")
            receiver = CallbackReceiver(SECRET, client, on_mailbox=on_mailbox, store=store)
            replies = [await receiver.ahandle(body, JSON) for _ in range(2)]
            with pytest.raises(ValidationError, match="client"):
                receiver.handle(body, JSON)
            store.close()
            return [r.status_code for r in replies]

    assert asyncio.run(main()) == [200, 200]
    assert seen == ["in_evasione"]


def test_a_sync_driver_refuses_an_async_handler_as_a_handler_failure(sb: Sandbox, http: httpx.Client) -> None:
    async def on_mailbox(event: Any) -> None:
        raise AssertionError("never awaited")

    _, payload = _box_delivery(sb, http, signed())
    receiver = CallbackReceiver(SECRET, sb.client(), on_mailbox=on_mailbox, store=MemoryTransitionStore())
    reply = receiver.handle(json.dumps(payload).encode(), JSON)
    assert (reply.status_code, reply.message) == (500, "the handler raised TypeError")


class SlowRecorder(Recorder):
    def __init__(self, started: threading.Event, fail: int = 0) -> None:
        super().__init__(fail)
        self.started = started

    def __call__(self, event: Any) -> None:
        self.started.set()
        time.sleep(0.3)
        super().__call__(event)


def _race(
    sb: Sandbox, http: httpx.Client, tmp_path: Path, *, fail: int, busy_wait: float
) -> tuple[list[Any], Recorder, Recorder]:
    """The same delivery at two receivers sharing one SQLite file; the second while the first works."""
    _, payload = _box_delivery(sb, http, signed())
    body = json.dumps(payload).encode()
    started = threading.Event()
    first_handler, second_handler = SlowRecorder(started, fail), Recorder()
    first = CallbackReceiver(SECRET, sb.client(), on_mailbox=first_handler, store=tmp_path / "s.sqlite")
    second = CallbackReceiver(
        SECRET, sb.client(), on_mailbox=second_handler, store=tmp_path / "s.sqlite", busy_wait=busy_wait
    )
    with ThreadPoolExecutor(2) as pool:
        first_reply = pool.submit(first.handle, body, JSON)
        assert started.wait(5)
        second_reply = pool.submit(second.handle, body, JSON)
        return [first_reply.result(), second_reply.result()], first_handler, second_handler


def test_a_duplicate_arriving_while_another_receiver_handles_it_waits_for_the_outcome(
    sb: Sandbox, http: httpx.Client, tmp_path: Path
) -> None:
    replies, first, second = _race(sb, http, tmp_path, fail=0, busy_wait=5)
    assert [(r.status_code, r.outcome) for r in replies] == [(200, "handled"), (200, "duplicate")]
    assert (len(first.events), second.calls) == (1, 0)


def test_when_the_other_receivers_handler_fails_the_waiting_one_handles_it(
    sb: Sandbox, http: httpx.Client, tmp_path: Path
) -> None:
    replies, first, second = _race(sb, http, tmp_path, fail=1, busy_wait=5)
    assert [(r.status_code, r.outcome) for r in replies] == [(500, "handler_failed"), (200, "handled")]
    assert (first.calls, len(first.events), len(second.events)) == (1, 0, 1)


def test_without_waiting_a_busy_transition_is_a_503(sb: Sandbox, http: httpx.Client, tmp_path: Path) -> None:
    replies, _, second = _race(sb, http, tmp_path, fail=0, busy_wait=0)
    assert [(r.status_code, r.outcome) for r in replies] == [(200, "handled"), (503, "busy")]
    assert ("retry-after", "5") in replies[1].headers
    assert second.calls == 0


class BrokenStore(MemoryTransitionStore):
    """A store whose ``claim`` or ``complete`` fails, as a full disk or a dropped connection would."""

    def __init__(self, broken: str) -> None:
        super().__init__()
        self.broken = broken

    def claim(self, transition: Any, ticket: str) -> Any:
        if self.broken == "claim":
            raise OSError("disk I/O error")
        return super().claim(transition, ticket)

    def complete(self, transition: Any, ticket: str) -> None:
        if self.broken == "complete":
            raise OSError("disk I/O error")
        super().complete(transition, ticket)


def test_a_store_that_cannot_claim_is_a_503_and_no_handler_runs(sb: Sandbox, http: httpx.Client) -> None:
    recorder = Recorder()
    _, payload = _box_delivery(sb, http, signed())
    receiver = CallbackReceiver(SECRET, sb.client(), on_mailbox=recorder, store=BrokenStore("claim"))
    reply = receiver.handle(json.dumps(payload).encode(), JSON)
    assert (reply.status_code, reply.outcome) == (503, "store_unavailable")
    assert recorder.calls == 0


def test_a_store_that_cannot_record_still_answers_handled(sb: Sandbox, http: httpx.Client) -> None:
    recorder = Recorder()
    _, payload = _box_delivery(sb, http, signed())
    receiver = CallbackReceiver(SECRET, sb.client(), on_mailbox=recorder, store=BrokenStore("complete"))
    reply = receiver.handle(json.dumps(payload).encode(), JSON)
    assert (reply.status_code, reply.outcome) == (200, "handled")
    assert "not recorded" in reply.message
    assert recorder.calls == 1


class HeldElsewhere(MemoryTransitionStore):
    """A store on the sandbox's clock where another receiver has just claimed every transition."""

    def claim(self, transition: Any, ticket: str) -> Any:
        with self._lock:
            self._claims.setdefault(transition, ("another receiver", self._clock()))
        return super().claim(transition, ticket)


def test_a_busy_transition_is_waited_out_on_the_stores_clock(sb: Sandbox, http: httpx.Client) -> None:
    _, payload = _box_delivery(sb, http, signed())
    recorder = Recorder()
    store = HeldElsewhere(lease=3.0, clock=sb.clock.now)
    receiver = CallbackReceiver(
        SECRET, sb.client(), on_mailbox=recorder, store=store, busy_wait=10, clock=sb.virtual_clock()
    )
    before, started = sb.clock.now(), time.monotonic()
    reply = receiver.handle(json.dumps(payload).encode(), JSON)
    # the other lease ran out on the store's virtual time: real sleeps would leave it held (503)
    assert (reply.status_code, reply.outcome) == (200, "handled")
    assert 3.0 <= sb.clock.now() - before < 4.0
    assert time.monotonic() - started < 2.0
    assert len(recorder.events) == 1


async def test_ahandle_waits_on_the_stores_clock_too(sb: Sandbox, http: httpx.Client) -> None:
    _, payload = _box_delivery(sb, http, signed())
    store = HeldElsewhere(lease=3.0, clock=sb.clock.now)
    async with sb.async_client() as client:
        receiver = CallbackReceiver(
            SECRET, client, on_mailbox=Recorder(), store=store, busy_wait=10, clock=sb.virtual_clock()
        )
        before = sb.clock.now()
        reply = await receiver.ahandle(json.dumps(payload).encode(), JSON)
    assert (reply.status_code, reply.outcome) == (200, "handled")
    assert 3.0 <= sb.clock.now() - before < 4.0
