"""pytest plugin (entry point ``pec_sandbox``): the ``pec_sandbox`` fixture.

The fixture is a plain one, so sync and async tests use it alike: ``with pec_sandbox.client()``
in a sync test, ``async with pec_sandbox.async_client()`` in an async one run by pytest-asyncio
(strict or auto mode) or anyio. The in-process transport needs no event loop of its own.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .callbacks import record_only
from .clock import ManualClock
from .core import Sandbox

# A fixed start keeps timestamps and ids identical from one run to the next.
FIXTURE_EPOCH = 1_700_000_000


@pytest.fixture
def pec_sandbox() -> Iterator[Sandbox]:
    """A fresh in-process sandbox; callbacks are recorded in ``callbacks_sent``, never sent."""
    with Sandbox(clock=ManualClock(FIXTURE_EPOCH), callback_sender=record_only) as sandbox:
        yield sandbox
