"""MassivaClient against Prism mocking the **upstream** PEC Massiva spec.

Every method's requests must be valid for the upstream spec (no Prism request violation: the
bearer token, the ``x-username``/``x-password`` headers, the body of ``/send``), and the upstream
examples must parse into the typed results: the receipts of the example are an acceptance, a
certified copy and a delivery, for the example's recipient.

Attachments are left out here: upstream's schema says ``attachments`` is one object while its
example (and the API) take an array; the overlay corrects it, Prism serves the uncorrected text.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

import pipeline
from contract.machinery import Prism, PrismUnavailable, Recorder, is_ci, request_violations
from pec_ext.massiva import DeliveryStatus, MassivaClient, ReceiptKind

pytestmark = pytest.mark.prism

PASSWORD = "prism-SECRET-pw"
CODE = "2020082610003492"


@pytest.fixture(scope="module")
def prism(massiva_upstream_spec: dict[str, Any]) -> Iterator[Prism]:
    try:
        server = Prism(spec_path=pipeline.MASSIVA.cache_path("en")).start()
    except PrismUnavailable as exc:
        if is_ci():
            pytest.fail(f"Prism is required in CI and could not be started: {exc}", pytrace=False)
        pytest.skip(f"Prism unavailable, contract tests against it skipped: {exc}")
    yield server
    server.stop()


def test_every_method_against_the_upstream_spec(prism: Prism, massiva_upstream_spec: dict[str, Any]) -> None:
    recorder = Recorder("prism", secrets=(PASSWORD,))
    with MassivaClient(
        "token",
        username="dev-api@pecmassiva.com",
        password=PASSWORD,
        base_url=prism.url,
        transport=recorder.wrap(httpx.HTTPTransport()),
        send_interval=0,
    ) as pec:
        sending = pec.send("dev-api@pecmassiva.com", "Invio di prova pec massiva", "Salve, <b>html</b>")
        report = pec.receipts(sending.code)
        first_page = pec.inbox_page(1, search="CONSEGNA")
        streamed = list(itertools.islice(pec.inbox(), 3))
        message = pec.get_message(3)
        quota = pec.quota()
        pec.delete_message(3)
        pec.delete_receipts(CODE)
    assert request_violations(recorder.exchanges) == []
    assert prism.request_violations_in_log() == []

    assert (sending.code, sending.sent) == (CODE, 1)
    assert [r.kind for r in report.receipts] == [
        ReceiptKind.ACCEPTANCE,
        ReceiptKind.CERTIFIED_COPY,
        ReceiptKind.DELIVERY,
    ]
    assert {r.code for r in report.receipts} == {CODE}
    assert report.recipients == {"dev-api@pecmassiva.com": DeliveryStatus.DELIVERED}
    assert report.complete
    assert (first_page.page, first_page.pages, first_page.total) == (39, 39, 981)
    assert [m.kind for m in streamed] == [
        ReceiptKind.ACCEPTANCE,
        ReceiptKind.CERTIFIED_COPY,
        ReceiptKind.DELIVERY,
    ]
    assert (message.kind, message.body) == (ReceiptKind.ACCEPTANCE, "This is an example body.")
    example = massiva_upstream_spec["paths"]["/quota/{mailbox}"]["get"]["responses"]["200"]["content"]
    expected = example["application/json"]["example"]["data"]
    assert (quota.usage_mb, quota.limit_mb) == (expected["usage"], expected["limit"])
