"""Counts gathered by the fault-injection tests, written out for ``bench/run.py --faults``."""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from typing import Any


@dataclass
class Scenario:
    calls: int = 0
    faults: int = 0
    survived: int = 0
    typed_errors: int = 0
    outcome: str = ""


_lock = threading.Lock()
SCENARIOS: dict[str, Scenario] = {}
TOTALS: dict[str, int] = {
    "double_charges": 0,
    "double_registrations": 0,
    "paid_resends": 0,
    "leaked_fds": 0,
    "token_leaks": 0,
}
TESTS: dict[str, int] = {"passed": 0, "failed": 0, "skipped": 0, "xfailed": 0}


def record(
    name: str, *, calls: int, faults: int, survived: int, typed_errors: int = 0, outcome: str = ""
) -> None:
    """Add one test's counts to scenario ``name`` (called after the test's assertions passed)."""
    with _lock:
        entry = SCENARIOS.setdefault(name, Scenario())
        entry.calls += calls
        entry.faults += faults
        entry.survived += survived
        entry.typed_errors += typed_errors
        if outcome and outcome not in entry.outcome.split("; "):
            entry.outcome = f"{entry.outcome}; {outcome}" if entry.outcome else outcome


def add(total: str, value: int) -> None:
    with _lock:
        TOTALS[total] += value


def report() -> dict[str, Any]:
    with _lock:
        return {
            "scenarios": len(SCENARIOS),
            "tests_passed": TESTS["passed"],
            "tests_failed": TESTS["failed"],
            "tests_xfailed_known_client_bugs": TESTS["xfailed"],
            "calls": sum(s.calls for s in SCENARIOS.values()),
            "faults_injected": sum(s.faults for s in SCENARIOS.values()),
            "faults_survived": sum(s.survived for s in SCENARIOS.values()),
            "typed_errors": sum(s.typed_errors for s in SCENARIOS.values()),
            **TOTALS,
            "by_scenario": {name: asdict(s) for name, s in SCENARIOS.items()},
        }
