"""Where the call path reads the time, waits and draws its jitter.

The sans-IO core never reads a global clock: every client carries a :class:`Clock`, so tests and
the embedded sandbox can run a client on virtual time (``Sandbox.client()`` does) instead of
patching module attributes.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

try:
    ITALY: dt.tzinfo = ZoneInfo("Europe/Rome")
except ZoneInfoNotFoundError:  # pragma: no cover - a system without a tz database
    ITALY = dt.UTC
"""Where the provider's calendar dates (``dd/mm/yyyy``: expiries, birth dates) are written."""


@dataclass(frozen=True)
class Clock:
    """The time sources and waits of one client.

    ``monotonic`` measures deadlines and waits, ``wall`` turns a ``Retry-After`` HTTP date into a
    delay and gives the calendar day (:meth:`today`), ``sleep`` and ``async_sleep`` wait (backoff,
    polling), ``uniform`` draws backoff jitter.
    """

    monotonic: Callable[[], float] = time.monotonic
    wall: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep
    async_sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    # Jitter, not cryptography: one generator per clock, never the module-level one.
    uniform: Callable[[float, float], float] = field(
        default_factory=lambda: random.Random().uniform  # noqa: S311
    )

    def today(self) -> dt.date:
        """The calendar day in Italy at ``wall`` time, the day the provider's dates count from."""
        return dt.datetime.fromtimestamp(self.wall(), ITALY).date()


SYSTEM_CLOCK = Clock()
