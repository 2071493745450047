"""A sandbox-bound client runs on the sandbox's virtual clock: waiting moves it and work gets done."""

from __future__ import annotations

import time

import pytest

from pec_ext import WaitTimeoutError
from pec_ext.sandbox import ManualClock, Sandbox
from pec_ext.sandbox.pdf import render
from tests.support.http_stack import httpx
from tests.support.sandbox import box_body

PDF = render("Modulo", ["documento di prova"])


def activated_box(client, address: str) -> str:
    box = client.register_mailbox(**box_body(address))
    client.activate_mailbox(box.id, [PDF, PDF])
    return str(box.id)


@pytest.mark.parametrize("delay", [0.0, 1800.0])
def test_wait_for_mailbox_returns_at_once_in_real_time(delay):
    with Sandbox(clock=ManualClock(1_700_000_000), processing_delay=delay) as sb, sb.client() as pec:
        box_id = activated_box(pec, "virtual.wait@testcert.legalmail.it")
        start_real, start_virtual = time.monotonic(), sb.clock.now()
        box = pec.wait_for_mailbox(box_id, until={"evasa"}, timeout=3600, poll=30)
        assert box.stato == "evasa"
        assert time.monotonic() - start_real < 1.0
        # the virtual clock moved by the polls it took, past the processing delay
        assert delay <= sb.clock.now() - start_virtual < 3600


def test_a_wait_that_cannot_end_times_out_in_virtual_time():
    with Sandbox(clock=ManualClock(1_700_000_000), processing_delay=7200.0) as sb, sb.client() as pec:
        box_id = activated_box(pec, "virtual.timeout@testcert.legalmail.it")
        start_real, start_virtual = time.monotonic(), sb.clock.now()
        with pytest.raises(WaitTimeoutError):
            pec.wait_for_mailbox(box_id, until={"evasa"}, timeout=3600, poll=30)
        assert time.monotonic() - start_real < 1.0
        assert sb.clock.now() - start_virtual == pytest.approx(3600)


async def test_async_client_waits_on_virtual_time_too():
    with Sandbox(clock=ManualClock(1_700_000_000), processing_delay=600.0) as sb:
        with sb.client() as pec:
            box_id = activated_box(pec, "virtual.async@testcert.legalmail.it")
        async with sb.async_client() as apec:
            start_real = time.monotonic()
            box = await apec.wait_for_mailbox(box_id, until={"evasa"}, timeout=3600, poll=30)
            assert box.stato == "evasa"
            assert time.monotonic() - start_real < 1.0


def test_backoff_sleeps_move_virtual_time():
    answers = iter([httpx.Response(503, headers={"retry-after": "20"})])

    with Sandbox(clock=ManualClock(1_700_000_000)) as sb:

        def flaky(request: httpx.Request) -> httpx.Response:
            # one 503 asking for 20 s, then the sandbox itself
            return next(answers, None) or sandbox_transport.handle_request(request)

        sandbox_transport = sb.transport()
        with sb.client(transport=httpx.MockTransport(flaky)) as pec:
            start_real, start_virtual = time.monotonic(), sb.clock.now()
            assert pec.list_mailboxes() == []
            assert time.monotonic() - start_real < 1.0
            assert sb.clock.now() - start_virtual == pytest.approx(20)
