"""The generated pecmassiva_api against Prism mocking the **upstream** PEC Massiva spec.

Every operation, every documented status (asked for with ``Prefer: code=N``): a success must parse
into its typed model and give back the upstream example unchanged; an error, or a DELETE's
confirmation, must parse into the overlay's MassivaEnvelope with the example's message. None of
the requests may raise a Prism request violation (``sl-violations`` and Prism's log).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

import pipeline
from contract.machinery import (
    PreferTransport,
    Prism,
    PrismUnavailable,
    Recorder,
    is_ci,
    request_violations,
)
from pecmassiva_api.api.inbox import delete_inbox_message, get_inbox_message, get_quota, list_inbox
from pecmassiva_api.api.pec import delete_receipts, list_receipts, send_message
from pecmassiva_api.client import AuthenticatedClient
from pecmassiva_api.models.massiva_envelope import MassivaEnvelope
from pecmassiva_api.models.request_send import RequestSend

pytestmark = pytest.mark.prism

CREDENTIALS = {"x_username": "box@testcert.legalmail.it", "x_password": "secret"}
Call = Callable[[AuthenticatedClient], Any]
CALLS: dict[tuple[str, str], Call] = {
    ("POST", "/send"): lambda c: send_message.sync_detailed(
        client=c,
        body=RequestSend(
            username="box@testcert.legalmail.it",
            password="secret",
            recipient=["mario@example.it"],
            subject="Prova",
            body="Salve",
        ),
    ),
    ("GET", "/send/{code}"): lambda c: list_receipts.sync_detailed(
        "2020082610003492", client=c, **CREDENTIALS
    ),
    ("DELETE", "/send/{code}"): lambda c: delete_receipts.sync_detailed(
        "2020082610003492", client=c, **CREDENTIALS
    ),
    ("GET", "/inbox"): lambda c: list_inbox.sync_detailed(client=c, q="CONSEGNA", page=2, **CREDENTIALS),
    ("GET", "/inbox/{id}"): lambda c: get_inbox_message.sync_detailed(3, client=c, **CREDENTIALS),
    ("DELETE", "/inbox/{id}"): lambda c: delete_inbox_message.sync_detailed(3, client=c, **CREDENTIALS),
    ("GET", "/quota/{mailbox}"): lambda c: get_quota.sync_detailed("INBOX", client=c, **CREDENTIALS),
}


def _cases() -> list[Any]:
    try:
        spec: dict[str, Any] | None = pipeline.load_upstream(spec=pipeline.MASSIVA)
    except pipeline.PipelineError:
        spec = None  # the fixture reports it
    cases = []
    for (method, template), call in CALLS.items():
        statuses = sorted(spec["paths"][template][method.lower()]["responses"]) if spec else ["200"]
        for status in statuses:
            cases.append(
                pytest.param(method, template, call, int(status), id=f"{method} {template} {status}")
            )
    return cases


@pytest.fixture(scope="module")
def massiva_prism(massiva_upstream_spec: dict[str, Any]) -> Iterator[Prism]:
    try:
        server = Prism(spec_path=pipeline.MASSIVA.cache_path("en")).start()
    except PrismUnavailable as exc:
        if is_ci():
            pytest.fail(f"Prism is required in CI and could not be started: {exc}", pytrace=False)
        pytest.skip(f"Prism unavailable, contract tests against it skipped: {exc}")
    yield server
    server.stop()


def test_every_operation_of_the_spec_is_called() -> None:
    spec = pipeline.load_upstream(spec=pipeline.MASSIVA)
    documented = {(m.upper(), p) for p, item in spec["paths"].items() for m in item}
    assert documented == set(CALLS)


@pytest.mark.parametrize(("method", "template", "call", "status"), _cases())
def test_generated_client_against_prism(
    massiva_prism: Prism,
    massiva_upstream_spec: dict[str, Any],
    method: str,
    template: str,
    call: Call,
    status: int,
) -> None:
    recorder = Recorder("prism")
    prefer = PreferTransport(recorder.wrap(httpx.HTTPTransport()))
    prefer.prefer(method, template, status)
    client = AuthenticatedClient(
        base_url=massiva_prism.url,
        token="x",
        httpx_args={"transport": prefer},
        raise_on_unexpected_status=True,
    )
    with client:
        response = call(client)
    media = massiva_upstream_spec["paths"][template][method.lower()]["responses"][str(status)]["content"]
    example = media["application/json"]["example"]
    assert response.status_code == status
    assert request_violations(recorder.exchanges) == []
    parsed = response.parsed
    if "data" in example or "message_id" in example:
        assert not isinstance(parsed, MassivaEnvelope)
        assert parsed.to_dict() == example
    else:
        assert isinstance(parsed, MassivaEnvelope)
        assert (parsed.success, parsed.message) == (example["success"], example["message"])


def test_no_request_raised_a_violation_in_prisms_log(massiva_prism: Prism) -> None:
    assert massiva_prism.request_violations_in_log() == []
