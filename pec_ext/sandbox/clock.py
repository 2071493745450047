"""Simulated time: the sandbox never reads the wall clock after it starts."""

from __future__ import annotations

import time
from typing import Protocol


class SandboxClock(Protocol):
    def now(self) -> float: ...

    def advance(self, seconds: float) -> None: ...

    def set(self, when: float) -> None: ...


class ManualClock:
    """Moves only when told to, so every timestamp in a test is reproducible."""

    def __init__(self, start: float | None = None) -> None:
        # Starting from the real time keeps timestamps plausible for people poking at the server.
        self._now = float(int(time.time()) if start is None else start)

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("time only moves forward")
        self._now += seconds

    def set(self, when: float) -> None:
        self._now = float(when)
