"""The one fixed day the suite runs on, so that no test depends on the day it is run.

``PEC_TEST_DATE`` (an ISO date) moves it: ``nox -s dates`` runs the tests marked ``dates`` on
leap days, month and year ends. A sandbox is made on it by ``sandbox_on_day()`` (a
``ManualClock(EPOCH)``, from ``sandbox_clock()``); a test
marked ``dates`` runs with the system clock travelled to ``EPOCH`` (tests/conftest.py), and
``travel()`` moves it elsewhere.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import time_machine

from pec_ext._engine.clock import ITALY
from pec_ext.sandbox import ManualClock, Sandbox

DATE_ENV = "PEC_TEST_DATE"
DEFAULT_DAY = dt.date(2027, 5, 14)


def _day() -> dt.date:
    text = os.environ.get(DATE_ENV, "").strip()
    if not text:
        return DEFAULT_DAY
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{DATE_ENV}={text!r}: an ISO date such as 2028-02-29") from None


DAY: dt.date = _day()
"""The suite's today."""

# 10:00 in Italy: the same calendar day in Rome and in UTC, far from midnight either way.
START: dt.datetime = dt.datetime.combine(DAY, dt.time(10, 0), ITALY)
EPOCH: float = START.timestamp()
"""``DAY`` at 10:00 Italian time, as Unix seconds: the start of every test's virtual clock."""


def at(day: dt.date, hour: int = 10) -> float:
    """``day`` at ``hour`` Italian time, as Unix seconds (for ``sandbox.clock.set``)."""
    return dt.datetime.combine(day, dt.time(hour, 0), ITALY).timestamp()


def server_on_day_args() -> list[str]:
    """The sandbox server process's arguments that start its clock at ``START``, as ``sandbox_clock()``."""
    return ["--start", START.isoformat()]


def sandbox_clock(start: float | None = None) -> ManualClock:
    """A sandbox clock standing at ``start`` (default ``EPOCH``): it moves only when told to."""
    return ManualClock(EPOCH if start is None else start)


def sandbox_on_day(**options: Any) -> Sandbox:
    """``Sandbox(**options)`` on the suite's day: its clock is ``sandbox_clock()`` unless given.

    A sandbox made without a clock starts on today's real time; a test makes its sandboxes here.
    """
    options.setdefault("clock", sandbox_clock())
    return Sandbox(**options)


@contextmanager
def travel(when: float = EPOCH, *, tick: bool = True) -> Iterator[time_machine.Traveller]:
    """The system clock at ``when`` (time goes on from there unless ``tick=False``)."""
    with time_machine.travel(when, tick=tick) as traveller:
        yield traveller
