"""OpenTelemetry's httpx and httpx2 instrumentations see our requests, one span each, never the token."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.instrumentation.httpx import HTTPX2ClientInstrumentor, HTTPXClientInstrumentor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from pec_ext import AsyncPecClient, PecClient
from tests.support.applicants import register_body
from tests.support.dates import sandbox_on_day

SECRET = "otel-token-5e7f-SECRET"
INSTRUMENTORS = {"httpx": HTTPXClientInstrumentor, "httpx2": HTTPX2ClientInstrumentor}
LIBRARIES = pytest.mark.parametrize("library", sorted(INSTRUMENTORS))


@pytest.fixture
def spans() -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider, exporter
    provider.shutdown()


def attributes_text(exporter: InMemorySpanExporter) -> str:
    return repr([dict(span.attributes or {}) for span in exporter.get_finished_spans()])


def method_of(span: Any) -> str:
    attributes = dict(span.attributes or {})
    # The attribute's name depends on the semantic-conventions version the instrumentation speaks.
    return str(attributes.get("http.request.method", attributes.get("http.method")))


def register(client: Any) -> Any:
    return client.register_mailbox(**register_body("traced@testcert.legalmail.it"))


@LIBRARIES
def test_sync_client_one_span_per_request_and_no_token(spans, library):
    provider, exporter = spans
    http_library = importlib.import_module(library)

    with sandbox_on_day() as sb:
        http = http_library.Client(transport=sb.transport(library))
        INSTRUMENTORS[library]().instrument_client(http, tracer_provider=provider)
        url = "https://test.pec.openapi.it"
        with PecClient(SECRET, base_url=url, http_client=http, clock=sb.virtual_clock()) as pec:
            box = register(pec)
            pec.get_mailbox(box.id)
            pec.is_available("someone.else@testcert.legalmail.it")
        finished = exporter.get_finished_spans()
        methods = sorted(method_of(span) for span in finished)
        assert methods == ["GET", "GET", "POST"]
        assert SECRET not in attributes_text(exporter)
        http.close()


@LIBRARIES
async def test_async_client_one_span_per_request_and_no_token(spans, library):
    provider, exporter = spans
    http_library = importlib.import_module(library)

    with sandbox_on_day() as sb:
        http = http_library.AsyncClient(transport=sb.transport(library))
        INSTRUMENTORS[library]().instrument_client(http, tracer_provider=provider)
        async with AsyncPecClient(SECRET, base_url="https://test.pec.openapi.it", http_client=http) as pec:
            await pec.list_mailboxes()
            await pec.list_communications()
        assert len(exporter.get_finished_spans()) == 2
        assert SECRET not in attributes_text(exporter)
        await http.aclose()
