"""Fixtures for fault injection: a misbehaving loopback server in front of a real Sandbox.

``PEC_FAULTS_REPORT=path`` makes the session write its counts there (``bench/run.py --faults``).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fault_server import FaultServer
from fault_stats import TESTS, report
from support.applicants import register_body

from pec_ext import AsyncPecClient, Clock, PecClient
from pec_ext.sandbox import Sandbox

TOKEN = "fault-token-7c1e-SECRET"
MODES = ("sync", "async")
# Real time, but jittered backoff in milliseconds (a server's Retry-After still wins when longer).
_jitter = random.Random(7)
FAST_BACKOFF = Clock(uniform=lambda low, high: _jitter.uniform(low, high / 500))


def box_body(address: str, tipo: str = "STANDARD") -> dict[str, Any]:
    return register_body(address, tipo)


class Driver:
    """Runs calls through ``PecClient`` or ``AsyncPecClient`` on one client; errors are returned."""

    def __init__(self, mode: str, url: str, **options: Any) -> None:
        self.mode = mode
        self.url = url
        self.options = {"token": TOKEN, "base_url": url, "clock": FAST_BACKOFF, **options}

    def run(self, steps: list[tuple[str, tuple[Any, ...], dict[str, Any]]]) -> list[Any]:
        """Each step's result or the exception it raised, in order, on a single client."""
        if self.mode == "sync":
            out: list[Any] = []
            with PecClient(**self.options) as client:
                for name, args, kwargs in steps:
                    try:
                        out.append(getattr(client, name)(*args, **kwargs))
                    except Exception as exc:
                        out.append(exc)
            return out

        async def go() -> list[Any]:
            results: list[Any] = []
            async with AsyncPecClient(**self.options) as client:
                for name, args, kwargs in steps:
                    try:
                        results.append(await getattr(client, name)(*args, **kwargs))
                    except Exception as exc:
                        results.append(exc)
            return results

        return asyncio.run(go())

    def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """One call on a fresh client: its result, or the exception it raised."""
        return self.run([(name, args, kwargs)])[0]


@pytest.fixture
def server() -> Iterator[FaultServer]:
    with FaultServer(Sandbox(balance=100_000.0)) as srv:
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
