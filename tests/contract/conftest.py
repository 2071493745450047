"""Contract fixtures: Prism (npm) mocking the upstream spec, and the sandbox over HTTP.

Prism is installed on first use with ``npm install --no-save`` into ``.nox/prism`` (git-ignored;
``PEC_PRISM_DIR`` moves it, ``PEC_PRISM_BIN`` points at an installed launcher). Without node/npm
the Prism tests are skipped, except in CI (``CI=true``), where they fail.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from contract.machinery import Prism, PrismSession, PrismUnavailable, is_ci
from pec_ext.sandbox import ManualClock, Sandbox, SandboxServer, record_only


@pytest.fixture(scope="session")
def prism(upstream_spec: dict[str, Any]) -> Iterator[Prism]:
    try:
        server = Prism().start()
    except PrismUnavailable as exc:
        if is_ci():
            pytest.fail(f"Prism is required in CI and could not be started: {exc}", pytrace=False)
        pytest.skip(f"Prism unavailable, contract tests against it skipped: {exc}")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def prism_session(prism: Prism) -> Iterator[PrismSession]:
    session = PrismSession(prism)
    yield session
    session.client.close()


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[SandboxServer]:
    """The sandbox's HTTP server on 127.0.0.1 (a free port), with plenty of credit."""
    sandbox = Sandbox(balance=1_000_000, clock=ManualClock(1_700_000_000), callback_sender=record_only)
    with SandboxServer(sandbox, "127.0.0.1", 0) as server:
        yield server
    sandbox.close()
