"""Schemathesis against the sandbox over HTTP, with the **effective** spec (upstream + overlay).

Bounded: a few derandomized examples per operation, and only the conformance checks (status
code, content type, response schema). Any failure is a sandbox bug or an overlay gap.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import content_type_conformance, response_schema_conformance, status_code_conformance
from schemathesis.config import SchemathesisConfig

import pipeline
from pec_ext.sandbox import SandboxServer

CHECKS = [status_code_conformance, content_type_conformance, response_schema_conformance]
MAX_EXAMPLES = 8


def _effective() -> dict[str, Any] | None:
    """spec/.cache/pec.effective.json, built (from the pinned upstream) when it is missing."""
    try:
        if not pipeline.EFFECTIVE_SPEC.is_file():
            pipeline.build_effective()
    except pipeline.PipelineError:
        return None
    loaded: dict[str, Any] = json.loads(pipeline.EFFECTIVE_SPEC.read_text(encoding="utf-8"))
    return loaded


EFFECTIVE = _effective()
# Without the upstream document there is nothing to test; test_effective_spec_available says why.
# Positive data only: the checks judge answers to valid requests, not the refusal of invalid ones.
CONFIG = SchemathesisConfig.from_dict({"generation": {"mode": "positive"}})
schema = schemathesis.openapi.from_dict(
    EFFECTIVE or {"openapi": "3.0.0", "info": {}, "paths": {}}, config=CONFIG
)


def test_effective_spec_available() -> None:
    if EFFECTIVE is None:
        pytest.fail("no effective spec: set PEC_SPEC_SOURCE=../shared/spec/pec.openapi.json")


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_sandbox_conforms_to_effective_spec(case: Any, sandbox_server: SandboxServer) -> None:
    case.headers = {**(case.headers or {}), "Authorization": "Bearer x"}
    case.call_and_validate(base_url=sandbox_server.url, checks=CHECKS, timeout=10)
