"""The token stays secret, the right host is used, and no id can reach another endpoint."""

from __future__ import annotations

import logging

import httpx
import pytest

from pec_ext import (
    AsyncPecClient,
    OutcomeUnknownError,
    PecClient,
    PecError,
    ValidationError,
)


def test_token_not_in_repr_or_str(data):
    for cls in (PecClient, AsyncPecClient):
        client = cls(data.TOKEN)
        for text in (repr(client), str(client), repr(vars(client)), repr(client._http.auth)):
            assert data.TOKEN not in text
        assert "***" in repr(client)


async def test_authorization_header_is_bearer(pec, api, data):
    await pec("get_mailbox", data.BOX_ID)
    (request,) = api.sent()
    assert request.headers["authorization"] == f"Bearer {data.TOKEN}"
    # not a default header of the underlying client: it is added at send time
    assert "authorization" not in pec.client()._http.headers


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
    assert str(client._http.base_url).rstrip("/") == "https://test.pec.openapi.it"
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


IDS = ["../pec", "a/b", "x?anni=9", "x#frag", "..", ".", "%2e%2e", "a/../../pec", "%2F", "ö/ü", " x "]


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


@pytest.mark.parametrize("value", ["", "   ", None, 42])
async def test_empty_or_non_string_ids_are_refused(pec, api, value):
    with pytest.raises(ValidationError):
        await pec("get_mailbox", value)
    assert api.sent() == []


async def test_no_redirect_is_followed(pec, api, data):
    api.reply("get_mailbox", httpx.Response(302, headers={"location": "https://evil.invalid/steal"}))
    with pytest.raises(PecError):
        await pec("get_mailbox", data.BOX_ID)
    assert len(api.sent()) == 1
