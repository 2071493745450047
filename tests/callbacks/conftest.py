"""Fixtures for the callback tests: a sandbox that records callbacks, and helpers to drive it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pec_ext.sandbox import ManualClock, Sandbox, record_only
from tests.support.dates import EPOCH
from tests.support.http_stack import httpx


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    with Sandbox(balance=500.0, callback_sender=record_only, clock=ManualClock(EPOCH)) as sandbox:
        yield sandbox


@pytest.fixture
def http(sb: Sandbox) -> Iterator[httpx.Client]:
    with httpx.Client(
        transport=sb.transport(),
        base_url="https://sandbox.pec.invalid",
        headers={"Authorization": "Bearer t"},
    ) as client:
        yield client
