"""Fixtures for the command line: an in-process sandbox and a CliRunner wired to it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pec_ext.sandbox import ManualClock, Sandbox, record_only
from tests.support.cli import Pec
from tests.support.dates import EPOCH


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    with Sandbox(balance=500.0, callback_sender=record_only, clock=ManualClock(EPOCH)) as sandbox:
        yield sandbox


@pytest.fixture
def pec(sb: Sandbox) -> Pec:
    return Pec(sb)
