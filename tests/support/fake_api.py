"""Fixtures for the client's tests (tests/engine, tests/pec, tests/validation ...), a pytest plugin.

* ``conformance``: every request pec_ext sends is validated against the effective spec with
  openapi-core; a violation fails the test (at once, and again at teardown in case the client
  swallowed it).
* ``api``: a fake PEC API on ``httpx.MockTransport`` that routes each request to its operation,
  answers with the spec's own 200 example (read at test time, never copied here) unless a test
  queued another answer, and records every request.
* ``pec``: runs a client method through ``PecClient`` or ``AsyncPecClient`` (parametrized), so
  every behaviour test covers both drivers.
* ``clock``: the clients the ``pec`` fixture makes run on virtual time: retry and poll pauses are
  recorded, nothing really sleeps.
"""

from __future__ import annotations

import copy
import json
import random
import re
import types
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from asn1crypto import cms, x509
from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters
from werkzeug.datastructures import Headers, ImmutableMultiDict

from pec_ext import AsyncPecClient, Clock, PecClient
from pec_ext._pec.operations import OPERATIONS
from pec_ext.sandbox.pdf import render
from tests.support.applicants import company, register_body
from tests.support.http_stack import httpx

TOKEN = "unit-test-token-3f9a"
HTTP_METHODS = ("get", "post", "put", "patch", "delete")
PDF = render("Modulo", ["documento di prova"])


# -- the spec ------------------------------------------------------------------------------------


def spec_operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method in HTTP_METHODS:
            if method in item:
                yield method.upper(), path, item[method]


def operation_names(effective: dict[str, Any]) -> dict[tuple[str, str], str]:
    return {(method, path): op["operationId"] for method, path, op in spec_operations(effective)}


@pytest.fixture(scope="session")
def success_examples(upstream_spec: dict[str, Any], effective_spec: dict[str, Any]) -> dict[str, Any]:
    """operationId -> the upstream 200 JSON example."""
    names = operation_names(effective_spec)
    found = {}
    for method, path, op in spec_operations(upstream_spec):
        media = op["responses"].get("200", {}).get("content", {}).get("application/json", {})
        if "example" in media:
            found[names[(method, path)]] = media["example"]
    return found


@pytest.fixture(scope="session")
def error_examples(
    upstream_spec: dict[str, Any], effective_spec: dict[str, Any]
) -> list[tuple[str, int, dict[str, Any]]]:
    """(operationId, status, example) for every documented JSON error example upstream."""
    names = operation_names(effective_spec)
    found = []
    for method, path, op in spec_operations(upstream_spec):
        for status, response in op["responses"].items():
            media = response.get("content", {}).get("application/json", {})
            if int(status) >= 400 and "example" in media:
                found.append((names[(method, path)], int(status), media["example"]))
    return found


# -- request conformance (openapi-core) ----------------------------------------------------------


class HttpxOpenAPIRequest:
    """An ``httpx.Request`` seen through openapi-core's ``Request`` protocol."""

    def __init__(self, request: httpx.Request) -> None:
        self.request = request
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(list(request.url.params.multi_items())),
            header=Headers(list(request.headers.items())),
            cookie=ImmutableMultiDict(),
        )

    @property
    def host_url(self) -> str:
        return f"{self.request.url.scheme}://{self.request.url.netloc.decode('ascii')}"

    @property
    def path(self) -> str:
        # As sent (percent-encoded): an id must match the template as one segment.
        return self.request.url.raw_path.split(b"?", 1)[0].decode("ascii")

    @property
    def method(self) -> str:
        return self.request.method.lower()

    @property
    def body(self) -> bytes | None:
        return self.request.content or None

    @property
    def content_type(self) -> str:
        return self.request.headers.get("content-type", "")


class Conformance:
    """Validates requests against the effective spec; remembers what it checked and refused."""

    def __init__(self, app: OpenAPI) -> None:
        self.app = app
        self.checked: list[str] = []
        self.violations: list[str] = []

    def check(self, request: httpx.Request) -> None:
        where = f"{request.method} {request.url}"
        try:
            self.app.validate_request(HttpxOpenAPIRequest(request))
        except Exception as exc:
            details = "; ".join(str(e) for e in getattr(exc, "schema_errors", ()) or ())
            message = f"request does not conform to the spec: {where}: {exc!r} {details}"
            self.violations.append(message)
            raise AssertionError(message) from exc
        self.checked.append(where)


@pytest.fixture(scope="session")
def openapi_app(effective_spec: dict[str, Any]) -> OpenAPI:
    return OpenAPI.from_dict(copy.deepcopy(effective_spec))


@pytest.fixture
def conformance(openapi_app: OpenAPI) -> Iterator[Conformance]:
    checker = Conformance(openapi_app)
    yield checker
    assert not checker.violations, checker.violations


class ConformingTransport(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """Wraps any transport (e.g. the sandbox's) and validates each request before passing it on."""

    def __init__(self, inner: Any, conformance: Conformance) -> None:
        self.inner = inner
        self.conformance = conformance

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()  # a streamed body is read once, then replayed to the inner transport
        self.conformance.check(request)
        response: httpx.Response = self.inner.handle_request(request)
        return response

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        self.conformance.check(request)
        response: httpx.Response = await self.inner.handle_async_request(request)
        return response


# -- the fake API --------------------------------------------------------------------------------

Answer = httpx.Response | BaseException | Callable[[httpx.Request], httpx.Response]
ROUTES = [
    (op.method, re.compile(re.sub(r"\{[^}]+\}", "[^/]+", op.path)), name) for name, op in OPERATIONS.items()
]


def route(request: httpx.Request) -> str | None:
    path = request.url.raw_path.split(b"?", 1)[0].decode("ascii")
    for method, pattern, name in ROUTES:
        if method == request.method and pattern.fullmatch(path):
            return name
    return None


def envelope(data: Any, message: str = "") -> dict[str, Any]:
    return {"success": True, "message": message, "error": None, "data": data}


class FakeApi:
    def __init__(self, examples: dict[str, Any], conformance: Conformance) -> None:
        self.examples = examples
        self.conformance = conformance
        self.queued: dict[str | None, list[Answer]] = defaultdict(list)
        self.calls: list[tuple[str | None, httpx.Request]] = []

    def reply(self, operation: str | None, *answers: Answer) -> FakeApi:
        """Queue answers for an operation (None: a path outside the spec); then the example."""
        self.queued[operation].extend(answers)
        return self

    def example(self, operation: str, **data_changes: Any) -> dict[str, Any]:
        body = copy.deepcopy(self.examples[operation])
        if data_changes:
            body["data"].update(data_changes)
        return body

    def box(self, **changes: Any) -> httpx.Response:
        """The spec's GET /pec/{id} example, with some fields changed."""
        return httpx.Response(200, json=self.example("get_mailbox", **changes))

    def default(self, operation: str | None) -> httpx.Response:
        if operation is None:
            return httpx.Response(404, json={"success": False, "message": "no route", "error": None})
        if OPERATIONS[operation].returns_pdf:
            return httpx.Response(200, content=PDF, headers={"content-type": "application/pdf"})
        return httpx.Response(200, json=self.example(operation))

    def handle(self, request: httpx.Request) -> httpx.Response:
        operation = route(request)
        if operation is not None:
            self.conformance.check(request)
        self.calls.append((operation, request))
        queue = self.queued[operation]
        answer = queue.pop(0) if queue else None
        if answer is None:
            return self.default(operation)
        if isinstance(answer, BaseException):
            raise answer
        if callable(answer):
            return answer(request)
        return answer

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def sent(self, operation: str | None = None) -> list[httpx.Request]:
        return [request for name, request in self.calls if operation is None or name == operation]

    def operations(self) -> list[str | None]:
        return [name for name, _ in self.calls]


def json_body(request: httpx.Request) -> Any:
    return json.loads(request.content)


@pytest.fixture
def api(success_examples: dict[str, Any], conformance: Conformance) -> FakeApi:
    return FakeApi(success_examples, conformance)


# -- running a method on either client -----------------------------------------------------------


class Runner:
    """``await pec("get_mailbox", id)`` on a fresh sync or async client wired to ``api``."""

    def __init__(self, kind: str, api: FakeApi, clock: FakeClock) -> None:
        self.kind = kind
        self.api = api
        self.fake_clock = clock

    def client(self, **options: Any) -> Any:
        options.setdefault("token", TOKEN)
        options.setdefault("clock", self.fake_clock.as_clock())
        cls = PecClient if self.kind == "sync" else AsyncPecClient
        return cls(transport=self.api.transport(), **options)

    async def __call__(self, method: str, *args: Any, client_options: Any = None, **kwargs: Any) -> Any:
        client = self.client(**(client_options or {}))
        if self.kind == "sync":
            with client:
                return getattr(client, method)(*args, **kwargs)
        async with client:
            return await getattr(client, method)(*args, **kwargs)


@pytest.fixture(params=["sync", "async"])
def pec(request: pytest.FixtureRequest, api: FakeApi, clock: FakeClock) -> Runner:
    return Runner(request.param, api, clock)


# -- time ----------------------------------------------------------------------------------------


class FakeClock:
    """Virtual time for the client: sleeps are recorded and move ``now``; nothing really waits."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        self.jitter = True

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    async def async_sleep(self, seconds: float) -> None:
        self.sleep(seconds)

    def uniform(self, low: float, high: float) -> float:
        return random.uniform(low, high) if self.jitter else high

    def as_clock(self) -> Clock:
        return Clock(
            monotonic=self.monotonic,
            wall=lambda: 1_700_000_000.0 + self.now,
            sleep=self.sleep,
            async_sleep=self.async_sleep,
            uniform=self.uniform,
        )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def no_jitter(clock: FakeClock) -> None:
    """Backoff without jitter: each delay is its ceiling, so tests can assert exact delays."""
    clock.jitter = False


@pytest.fixture(autouse=True)
def _no_ambient_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAPI_PEC_TOKEN", raising=False)
    monkeypatch.delenv("OPENAPI_PEC_ENVIRONMENT", raising=False)


# -- inputs --------------------------------------------------------------------------------------

BOX_ID = "6045fdee3a716847a978a471"
COMM_ID = "60ad149c3a7168084f1d2b68"


def register_fields(**changes: Any) -> dict[str, Any]:
    """The test applicant's registration, its box type in lower case (the client normalizes it)."""
    return register_body(tipo="bronze", **changes)


def communication_fields(**changes: Any) -> dict[str, Any]:
    """The test company's communication, its qualifica in lower case (the client normalizes it)."""
    return company(qualifica="titolare", **changes)


USER_FIELDS = {
    "nome": "Anna",
    "cognome": "Neri",
    "descrizione": "seconda utenza",
    "email_gestione_password": "anna.neri@example.org",
}


def p7m() -> bytes:
    """A DER CMS SignedData with one signer and the PDF attached (the signature is not real)."""
    signer = cms.SignerInfo(
        {
            "version": "v1",
            "sid": cms.SignerIdentifier(
                name="issuer_and_serial_number",
                value=cms.IssuerAndSerialNumber(
                    {"issuer": x509.Name.build({"common_name": "Unit Test CA"}), "serial_number": 7}
                ),
            ),
            "digest_algorithm": {"algorithm": "sha256"},
            "signature_algorithm": {"algorithm": "rsassa_pkcs1v15"},
            "signature": b"\x01" * 32,
        }
    )
    signed = cms.SignedData(
        {
            "version": "v1",
            "digest_algorithms": [{"algorithm": "sha256"}],
            "encap_content_info": {"content_type": "data", "content": PDF},
            "signer_infos": [signer],
        }
    )
    return bytes(cms.ContentInfo({"content_type": "signed_data", "content": signed}).dump())


@pytest.fixture(scope="session")
def data() -> types.SimpleNamespace:
    """The helpers above, for test modules (a conftest is not importable by name)."""
    return types.SimpleNamespace(
        TOKEN=TOKEN,
        PDF=PDF,
        BOX_ID=BOX_ID,
        COMM_ID=COMM_ID,
        USER_FIELDS=USER_FIELDS,
        register_fields=register_fields,
        communication_fields=communication_fields,
        p7m=p7m,
        json_body=json_body,
        envelope=envelope,
        route=route,
        ConformingTransport=ConformingTransport,
        spec_operations=spec_operations,
        operation_names=operation_names,
    )
