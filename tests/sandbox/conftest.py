"""Sandbox test fixtures.

The ``pec_sandbox`` fixture normally comes from the ``pytest11`` entry point; when the package is
not installed (a plain checkout on PYTHONPATH) the import below provides the same fixture.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pec_ext.sandbox import Sandbox
from pec_ext.sandbox.pytest_plugin import pec_sandbox
from tests.support.http_stack import httpx

__all__ = ["pec_sandbox"]

TOKEN = "test-token"


@pytest.fixture
def sb(pec_sandbox: Sandbox) -> Sandbox:
    return pec_sandbox


@pytest.fixture
def http(sb: Sandbox) -> Iterator[httpx.Client]:
    with httpx.Client(
        transport=sb.transport(),
        base_url="https://sandbox.pec.invalid",
        headers={"Authorization": f"Bearer {TOKEN}"},
    ) as client:
        yield client
