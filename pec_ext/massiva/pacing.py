"""``POST /send`` takes at most one request a second: pacing per process, and across a fleet.

Per process, every client on the same time source draws its turn from one :class:`Pacer`: a turn
is reserved under a lock (never held while waiting), and the flow then waits for it with a
``Sleep`` step, so the async client waits on the event loop without blocking it, and a client on
virtual time waits virtual time.

Across processes and machines, a limiter shared through Redis
(:class:`pec_ext.integrations.ratelimit.FleetLimiter`, made with ``rate=1``) is asked before each
send; its Redis calls are blocking steps (a worker thread for the async client). Anything with the
same ``delay()`` and ``pause(seconds)`` methods will do.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from pec_ext._engine.steps import Blocking, Flow, Sleep

SEND_INTERVAL_SECONDS = 1.0


@runtime_checkable
class SharedLimiter(Protocol):
    def delay(self) -> float: ...

    def pause(self, seconds: float) -> float: ...


class Pacer:
    """Turns at least ``interval`` seconds apart on one time source, for every client using it."""

    def __init__(self, monotonic: Callable[[], float]) -> None:
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._next = float("-inf")

    def reserve(self, interval: float) -> float:
        """Take the next turn; the seconds to wait for it (0: now)."""
        with self._lock:
            now = self._monotonic()
            turn = max(now, self._next)
            self._next = turn + interval
            return turn - now

    def push_back(self, seconds: float) -> None:
        """A 429 asked for a pause: no turn before ``seconds`` from now."""
        with self._lock:
            self._next = max(self._next, self._monotonic() + seconds)


# Keyed by the time source (a bound method is keyed by its object and function, as it is made anew
# on each attribute access).
_PACERS: dict[tuple[Any, Any], Pacer] = {}
_PACERS_LOCK = threading.Lock()


def pacer_for(monotonic: Callable[[], float]) -> Pacer:
    """The process's pacer for this time source (``time.monotonic`` for every real-time client)."""
    key = getattr(monotonic, "__self__", None), getattr(monotonic, "__func__", monotonic)
    with _PACERS_LOCK:
        pacer = _PACERS.get(key)
        if pacer is None:
            pacer = _PACERS[key] = Pacer(monotonic)
        return pacer


def wait_turn(pacer: Pacer, interval: float, fleet: SharedLimiter | None) -> Flow[None]:
    """Wait for this process's turn, then for the fleet's."""
    if interval > 0:
        wait = pacer.reserve(interval)
        if wait > 0:
            yield Sleep(wait)
    if fleet is not None:
        while (wait := (yield Blocking(fleet.delay))) > 0:
            yield Sleep(wait)


def rate_limited(pacer: Pacer, fleet: SharedLimiter | None, seconds: float) -> Flow[None]:
    """A 429 that outlived the driver's retries: pause this process and the fleet, then wait."""
    pacer.push_back(seconds)
    if fleet is not None:
        yield Blocking(fleet.pause, (seconds,))
    yield Sleep(seconds)
