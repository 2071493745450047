"""The token stays secret, the right host is used, and no id can reach another endpoint."""

from __future__ import annotations

import http.server
import json
import logging
import threading
from typing import ClassVar

import pytest

from pec_ext import (
    AsyncPecClient,
    OutcomeUnknownError,
    PecClient,
    PecError,
    ValidationError,
)
from tests.support.http_stack import httpx


def test_token_not_in_repr_or_str(data):
    for cls in (PecClient, AsyncPecClient):
        client = cls(data.TOKEN)
        for text in (repr(client), str(client), repr(vars(client)), repr(client._wire)):
            assert data.TOKEN not in text
        assert "***" in repr(client)


async def test_authorization_header_is_bearer(pec, api, data):
    await pec("get_mailbox", data.BOX_ID)
    (request,) = api.sent()
    assert request.headers["authorization"] == f"Bearer {data.TOKEN}"
    # not a default header of the underlying httpx client, and sent once
    assert "authorization" not in pec.client()._http.headers
    assert request.headers.get_list("authorization") == [f"Bearer {data.TOKEN}"]


async def test_token_from_the_environment(pec, api, data, monkeypatch):
    monkeypatch.setenv("OPENAPI_PEC_TOKEN", "from-the-env")
    await pec("get_mailbox", data.BOX_ID, client_options={"token": None})
    assert api.sent()[0].headers["authorization"] == "Bearer from-the-env"


@pytest.mark.parametrize("cls", [PecClient, AsyncPecClient])
@pytest.mark.parametrize("token", [None, "", "   "])
def test_missing_token_is_a_validation_error(cls, token):
    with pytest.raises(ValidationError) as caught:
        cls(token)
    assert caught.value.field == "token"


@pytest.mark.parametrize("cls", [PecClient, AsyncPecClient])
def test_a_token_with_control_characters_is_refused_without_echoing_it(cls):
    secret = "abc\r\nX-Injected: secret-part"
    with pytest.raises(ValidationError) as caught:
        cls(secret)
    assert "secret-part" not in str(caught.value)
    assert "secret-part" not in repr(caught.value.value)


@pytest.mark.parametrize("cls", [PecClient, AsyncPecClient])
def test_environment_defaults_to_sandbox(cls, monkeypatch, data):
    client = cls(data.TOKEN)
    assert (client.environment, client.base_url) == ("sandbox", "https://test.pec.openapi.it")
    production = cls(data.TOKEN, environment="production")
    assert (production.environment, production.base_url) == ("production", "https://pec.openapi.it")
    monkeypatch.setenv("OPENAPI_PEC_ENVIRONMENT", "production")
    assert cls(data.TOKEN).base_url == "https://pec.openapi.it"
    # an explicit choice wins over the variable
    assert cls(data.TOKEN, environment="sandbox").base_url == "https://test.pec.openapi.it"
    with pytest.raises(ValidationError):
        cls(data.TOKEN, environment="staging")


async def test_production_requests_go_to_production(pec, api, data):
    await pec("get_mailbox", data.BOX_ID, client_options={"environment": "production"})
    assert api.sent()[0].url.host == "pec.openapi.it"
    await pec("get_mailbox", data.BOX_ID)
    assert api.sent()[1].url.host == "test.pec.openapi.it"


async def test_token_not_in_logs_or_errors(pec, api, data, caplog):
    caplog.set_level(logging.DEBUG, logger="pec_ext")
    caplog.set_level(logging.DEBUG, logger="httpx")
    caplog.set_level(logging.DEBUG, logger="httpcore")
    api.reply("get_mailbox", httpx.Response(503), httpx.Response(401, json={"message": "bad token"}))
    api.reply("renew_mailbox", httpx.ReadTimeout("slow"))
    api.reply("list_mailboxes", httpx.ConnectError("refused"))
    errors: list[BaseException] = []
    for method, args in (("get_mailbox", (data.BOX_ID,)), ("renew_mailbox", (data.BOX_ID,))):
        with pytest.raises(PecError) as caught:
            await pec(method, *args)
        errors.append(caught.value)
    await pec("list_mailboxes")
    assert any(isinstance(e, OutcomeUnknownError) for e in errors)
    assert caplog.records  # something was logged, and none of it holds the token
    texts = [record.getMessage() for record in caplog.records]
    for error in errors:
        texts += [str(error), repr(error), str(error.__cause__), repr(error.__cause__)]
    for text in texts:
        assert data.TOKEN not in text


IDS = ["../pec", "a/b", "x?anni=9", "x#frag", "%2e%2e", "a/../../pec", "%2F", "ö/ü", " x ", "a..b"]


@pytest.mark.parametrize("value", IDS)
async def test_path_parameters_stay_on_their_endpoint(pec, api, value):
    await pec("get_mailbox", value)
    await pec("download_activation_form", value)
    await pec("check_domain", value)
    get, download, check = api.sent()
    for request, prefix, suffix in (
        (get, "/pec/", ""),
        (download, "/pec/", "/modulo_attivazione"),
        (check, "/domini_pec/", ""),
    ):
        raw = request.url.raw_path.decode("ascii")
        assert raw.startswith(prefix)
        assert raw.endswith(suffix)
        segment = raw[len(prefix) : len(raw) - len(suffix)]
        assert not {"/", "?", "#"} & set(segment)
        assert segment not in (".", "..")
        assert request.url.query == b""
        assert request.url.fragment == ""
    assert api.operations() == ["get_mailbox", "download_activation_form", "check_domain"]


@pytest.mark.parametrize("value", ["", "   ", None, 42, ".", "..", "..."])
async def test_empty_non_string_or_dot_segment_ids_are_refused(pec, api, value):
    with pytest.raises(ValidationError):
        await pec("get_mailbox", value)
    assert api.sent() == []


async def test_no_redirect_is_followed(pec, api, data):
    api.reply("get_mailbox", httpx.Response(302, headers={"location": "https://evil.invalid/steal"}))
    with pytest.raises(PecError):
        await pec("get_mailbox", data.BOX_ID)
    assert len(api.sent()) == 1


async def test_cookies_set_by_a_response_are_not_sent_back(pec, api, data):
    # The API authenticates by token only: a cookie planted by a proxy or a broken server is ignored.
    planted = httpx.Response(200, json=api.example("get_mailbox"), headers={"set-cookie": "s=1; Path=/"})
    api.reply("get_mailbox", planted, planted)
    client = pec.client()
    for _ in range(2):
        if pec.kind == "sync":
            client.get_mailbox(data.BOX_ID)
        else:
            await client.get_mailbox(data.BOX_ID)
    assert [request.headers.get("cookie") for request in api.sent()] == [None, None]


async def test_a_closed_client_refuses_to_send(pec, api, data):
    client = pec.client()
    if pec.kind == "sync":
        client.close()
        with pytest.raises(RuntimeError, match="closed"):
            client.get_mailbox(data.BOX_ID)
    else:
        await client.close()
        with pytest.raises(RuntimeError, match="closed"):
            await client.get_mailbox(data.BOX_ID)
    assert api.sent() == []


async def test_a_transport_failure_keeps_its_request(pec, api, data):
    api.reply("get_mailbox", *[httpx.ConnectError("refused")] * 10)
    with pytest.raises(PecError) as caught:
        await pec("get_mailbox", data.BOX_ID, client_options={"max_retries": 0})
    cause = caught.value.__cause__
    assert isinstance(cause, httpx.ConnectError)
    assert cause.request.url.path == f"/pec/{data.BOX_ID}"


class _RecordingProxy(http.server.BaseHTTPRequestHandler):
    """A forward proxy that answers itself: it records the request line it was sent."""

    seen: ClassVar[list[str]] = []
    answer: ClassVar[bytes] = b""

    def do_GET(self) -> None:
        self.seen.append(self.requestline)
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(self.answer)))
        self.end_headers()
        self.wfile.write(self.answer)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def recording_proxy(api):
    _RecordingProxy.seen = []
    _RecordingProxy.answer = json.dumps(api.example("get_mailbox")).encode()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _RecordingProxy)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", _RecordingProxy.seen
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("cls", [PecClient, AsyncPecClient])
async def test_a_proxy_from_the_environment_is_used(cls, recording_proxy, data, monkeypatch):
    proxy_url, seen = recording_proxy
    for name in ("ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", proxy_url)
    client = cls(data.TOKEN, base_url="http://pec.example.invalid")
    if cls is PecClient:
        with client:
            box = client.get_mailbox(data.BOX_ID)
    else:
        async with client:
            box = await client.get_mailbox(data.BOX_ID)
    assert box.id
    assert seen == [f"GET http://pec.example.invalid/pec/{data.BOX_ID} HTTP/1.1"]


@pytest.mark.parametrize("cls", [PecClient, AsyncPecClient])
async def test_respx_mocks_the_default_transport(cls, api, data):
    # Users mock the API with respx; requests go straight to the transport, which respx still sees.
    # respx patches httpx only: its users' clients are httpx's.
    respx = pytest.importorskip("respx")
    with respx.mock(base_url="https://test.pec.openapi.it", assert_all_called=True) as router:
        route = router.get(f"/pec/{data.BOX_ID}").respond(200, json=api.example("get_mailbox"))
        client = cls(data.TOKEN, http="httpx")
        if cls is PecClient:
            with client:
                box = client.get_mailbox(data.BOX_ID)
        else:
            async with client:
                box = await client.get_mailbox(data.BOX_ID)
    assert box.id
    assert route.calls.last.request.headers["authorization"] == f"Bearer {data.TOKEN}"
