"""Fixtures for the callback tests: a sandbox that records callbacks, and helpers to drive it."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from http_stack import httpx
from support.dates import EPOCH

from pec_ext.sandbox import ManualClock, Sandbox, record_only

# the request bodies and documents of the sandbox tests, the applicant of the command-line tests
for helpers in ("sandbox", "cli"):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / helpers))


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
