"""Schemathesis against the sandbox's PEC Massiva emulation over HTTP, with the **effective** spec.

Same bounds and checks as test_schemathesis.py (status code, content type, response schema, on
positive data). Each generated request carries the credentials of an active PECMASSIVA box, so the
answers are the service's real ones (sendings, receipts, inbox, quota), not only 401s; generated
recipients, ids, codes and mailboxes then exercise the documented refusals.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import content_type_conformance, response_schema_conformance, status_code_conformance
from schemathesis.config import SchemathesisConfig

import pipeline
from contract.massiva import activated_box
from pec_ext.sandbox import ManualClock, Sandbox, SandboxServer, record_only

CHECKS = [status_code_conformance, content_type_conformance, response_schema_conformance]
MAX_EXAMPLES = 8
SENDER = "schemathesis@testcert.legalmail.it"


def _effective() -> dict[str, Any] | None:
    """spec/.cache/pecmassiva.effective.json, built (from the pinned upstream) when it is missing."""
    try:
        if not pipeline.MASSIVA.effective_path.is_file():
            pipeline.build_effective(spec=pipeline.MASSIVA)
    except pipeline.PipelineError:
        return None
    loaded: dict[str, Any] = json.loads(pipeline.MASSIVA.effective_path.read_text(encoding="utf-8"))
    return loaded


EFFECTIVE = _effective()
CONFIG = SchemathesisConfig.from_dict({"generation": {"mode": "positive"}})
schema = schemathesis.openapi.from_dict(
    EFFECTIVE or {"openapi": "3.0.0", "info": {}, "paths": {}}, config=CONFIG
)


@pytest.fixture(scope="module")
def massiva_server() -> Iterator[tuple[SandboxServer, tuple[str, str]]]:
    """The sandbox over HTTP with one active PECMASSIVA box (its sendings delivered on advance)."""
    sandbox = Sandbox(balance=1_000_000, clock=ManualClock(1_700_000_000), callback_sender=record_only)
    activated_box(sandbox, SENDER)
    with SandboxServer(sandbox, "127.0.0.1", 0) as server:
        yield server, sandbox.massiva_credentials(SENDER)
    sandbox.close()


def test_effective_massiva_spec_available() -> None:
    if EFFECTIVE is None:
        pytest.fail("no effective PEC Massiva spec: set PEC_SPEC_SOURCE=../shared/spec/pec.openapi.json")


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_massiva_emulation_conforms_to_effective_spec(
    case: Any, massiva_server: tuple[SandboxServer, tuple[str, str]]
) -> None:
    server, (username, password) = massiva_server
    case.headers = {
        **(case.headers or {}),
        "Authorization": "Bearer x",
        "x-username": username,
        "x-password": password,
    }
    if isinstance(case.body, dict):
        case.body = {**case.body, "username": username, "password": password}
        case.body.pop("sender", None)
    case.call_and_validate(base_url=server.url + "/pecmassiva", checks=CHECKS, timeout=10)
