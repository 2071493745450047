"""Shared fixtures: the upstream spec (pin-checked, never copied) and the effective spec."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest

import pipeline
from tests.support import http_stack
from tests.support.dates import travel

# Clients made without http_client=, here and in subprocesses, use the library under test.
os.environ["OPENAPI_PEC_HTTP"] = http_stack.NAME

# pytester runs small test files through the installed pec_sandbox plugin (tests/sandbox);
# the client's fake API and the journal stores are fixtures of several folders (tests/support)
pytest_plugins = (
    "pytester",
    "tests.support.fake_api",
    "tests.support.journal_stores",
)


@pytest.fixture(autouse=True)
def _dates_on_the_suites_day(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test marked ``dates`` sees the system clock on the suite's day (support.dates.EPOCH),
    moving on from there: what it reads of the real clock is that day, never today."""
    if request.node.get_closest_marker("dates") is None:
        yield
        return
    with travel():
        yield


@pytest.fixture(scope="session")
def upstream_spec() -> dict[str, Any]:
    """Openapi's document as pinned: from the git-ignored cache or PEC_SPEC_SOURCE."""
    try:
        return pipeline.load_upstream()
    except pipeline.PipelineError as exc:
        pytest.fail(f"{exc} (set PEC_SPEC_SOURCE=../shared/spec/pec.openapi.json)")


@pytest.fixture(scope="session")
def effective_spec(upstream_spec: dict[str, Any]) -> dict[str, Any]:
    """Upstream plus our overlay, as the pipeline writes it."""
    if not pipeline.EFFECTIVE_SPEC.is_file():
        pipeline.build_effective()
    return json.loads(pipeline.EFFECTIVE_SPEC.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def oauth_upstream_spec() -> dict[str, Any]:
    """Openapi's OAuth v2 document as pinned (OAUTH_SPEC_SOURCE, or beside PEC_SPEC_SOURCE)."""
    try:
        return pipeline.load_upstream(spec=pipeline.OAUTH)
    except pipeline.PipelineError as exc:
        pytest.fail(f"{exc} (set PEC_SPEC_SOURCE=../shared/spec/pec.openapi.json)")


@pytest.fixture(scope="session")
def oauth_effective_spec(oauth_upstream_spec: dict[str, Any]) -> dict[str, Any]:
    """The OAuth document plus spec/oauth.overlay.yaml, as the pipeline writes it."""
    if not pipeline.OAUTH.effective_path.is_file():
        pipeline.build_effective(spec=pipeline.OAUTH)
    return json.loads(pipeline.OAUTH.effective_path.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def massiva_upstream_spec() -> dict[str, Any]:
    """Openapi's PEC Massiva document as pinned (PECMASSIVA_SPEC_SOURCE, or beside PEC_SPEC_SOURCE)."""
    try:
        return pipeline.load_upstream(spec=pipeline.MASSIVA)
    except pipeline.PipelineError as exc:
        pytest.fail(f"{exc} (set PEC_SPEC_SOURCE=../shared/spec/pec.openapi.json)")


@pytest.fixture(scope="session")
def massiva_effective_spec(massiva_upstream_spec: dict[str, Any]) -> dict[str, Any]:
    """The PEC Massiva document plus spec/pecmassiva.overlay.yaml, as the pipeline writes it."""
    if not pipeline.MASSIVA.effective_path.is_file():
        pipeline.build_effective(spec=pipeline.MASSIVA)
    return json.loads(pipeline.MASSIVA.effective_path.read_text(encoding="utf-8"))
