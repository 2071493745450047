"""A sandbox with an active PECMASSIVA box (no socket, virtual time)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pec_ext.sandbox import SANDBOX_BASE_URL, ManualClock, Sandbox, record_only
from tests.support.massiva import START, activate_box


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    with Sandbox(clock=ManualClock(START), callback_sender=record_only) as sandbox:
        activate_box(SANDBOX_BASE_URL, transport=sandbox.transport(), advance=lambda: sandbox.advance(None))
        yield sandbox
