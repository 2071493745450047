"""Fixtures for fault injection: a misbehaving loopback server in front of a real Sandbox.

``PEC_FAULTS_REPORT=path`` makes the session write its counts there (``bench/run.py --faults``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.dates import sandbox_on_day
from tests.support.fault_server import FaultServer
from tests.support.fault_stats import TESTS, report
from tests.support.faults import MODES, Driver


@pytest.fixture
def server() -> Iterator[FaultServer]:
    with FaultServer(sandbox_on_day(balance=100_000.0)) as srv:
        yield srv


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def driver(server: FaultServer, mode: str) -> Callable[..., Driver]:
    def make(**options: Any) -> Driver:
        return Driver(mode, server.url, **options)

    return make


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        outcome = "xfailed" if hasattr(report, "wasxfail") else report.outcome
        TESTS[outcome] = TESTS.get(outcome, 0) + 1


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    target = os.environ.get("PEC_FAULTS_REPORT")
    if target:
        Path(target).write_text(json.dumps(report(), indent=2), encoding="utf-8")
