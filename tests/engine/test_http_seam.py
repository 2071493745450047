"""The HTTP seam: the user's own httpx client, per-call options, raw responses, redaction."""

from __future__ import annotations

import ast
import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import pec_api
from pec_ext import (
    AsyncPecClient,
    NotFoundError,
    PecClient,
    RawResponse,
    ServiceUnavailableError,
    ValidationError,
    config,
)
from pec_ext._pec.operations import OPERATIONS
from tests.support.http_stack import httpx

# -- one call of every operation -----------------------------------------------------------------


def every_operation(api: Any, data: Any) -> list[tuple[str, str, tuple[Any, ...], dict[str, Any]]]:
    """(operation, method, args, kwargs): one client call that reaches each of the 19 operations.

    The answers a call needs before its paid request (the box it reads first) are queued on ``api``.
    """
    box, comm = data.BOX_ID, data.COMM_ID

    def box_state(**changes: Any) -> Callable[[], None]:
        return lambda: api.reply("get_mailbox", api.box(**changes))

    rows: list[tuple[str, str, tuple[Any, ...], dict[str, Any], Callable[[], None] | None]] = [
        ("check_domain", "check_domain", ("legalmail.it",), {}, None),
        ("check_availability", "check_availability", ("mario.rossi@testcert.legalmail.it",), {}, None),
        ("list_mailboxes", "list_mailboxes", (), {}, None),
        ("register_mailbox", "register_mailbox", (), data.register_fields(), None),
        ("get_mailbox", "get_mailbox", (box,), {}, None),
        ("revoke_mailbox", "revoke_mailbox", (box,), {}, None),
        (
            "activate_mailbox",
            "activate_mailbox",
            (box, [data.PDF, data.PDF]),
            {},
            box_state(stato="registrata", tipo_casella="BRONZE"),
        ),
        ("change_space", "add_space", (box,), {"disco": 1024}, None),
        (
            "activate_conservation",
            "activate_conservation",
            (box, [data.PDF]),
            {"space": 1024},
            box_state(stato="evasa", conservazione=False, tipo_casella="GOLD"),
        ),
        ("change_type", "change_type", (box, "gold"), {}, box_state(stato="evasa", tipo_casella="BRONZE")),
        ("renew_mailbox", "renew_mailbox", (box,), {"anni": 1}, None),
        ("add_user", "add_user", (box,), dict(data.USER_FIELDS), None),
        ("list_communications", "list_communications", (), {}, None),
        ("communicate_pec", "communicate_pec", (), data.communication_fields(), None),
        ("get_communication", "get_communication", (comm,), {}, None),
        ("upload_communication_documents", "upload_communication_documents", (comm, data.p7m()), {}, None),
        ("download_activation_form", "download_activation_form", (box,), {}, None),
        ("download_conservation_form", "download_conservation_form", (box,), {}, None),
        ("download_power_of_attorney", "download_power_of_attorney", (comm,), {}, None),
    ]
    assert {row[0] for row in rows} == set(OPERATIONS)
    calls = []
    for operation, method, args, kwargs, setup in rows:
        if setup is not None:
            setup()
        calls.append((operation, method, args, kwargs))
    return calls


async def call_on(client: Any, method: str, *args: Any, **kwargs: Any) -> Any:
    result = getattr(client, method)(*args, **kwargs)
    return await result if asyncio.iscoroutine(result) else result


def make_client(kind: str, clock: Any, **options: Any) -> Any:
    cls = PecClient if kind == "sync" else AsyncPecClient
    options.setdefault("token", "seam-token-8d2b-SECRET")
    options.setdefault("clock", clock.as_clock())
    return cls(**options)


def user_http_client(kind: str, **options: Any) -> Any:
    return httpx.Client(**options) if kind == "sync" else httpx.AsyncClient(**options)


async def close(client: Any) -> None:
    result = client.close()
    if asyncio.iscoroutine(result):
        await result


async def close_http(http: Any) -> None:
    if isinstance(http, httpx.AsyncClient):
        await http.aclose()
    else:
        http.close()


KINDS = ["sync", "async"]


# -- http_client= --------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
async def test_event_hooks_of_the_users_client_see_every_operation(kind, api, data, clock):
    seen_requests: list[httpx.Request] = []
    seen_responses: list[httpx.Response] = []

    if kind == "sync":
        hooks: dict[str, list[Any]] = {
            "request": [seen_requests.append],
            "response": [seen_responses.append],
        }
    else:

        async def on_request(request: httpx.Request) -> None:
            seen_requests.append(request)

        async def on_response(response: httpx.Response) -> None:
            seen_responses.append(response)

        hooks = {"request": [on_request], "response": [on_response]}
    transport = api.transport()
    http = user_http_client(kind, transport=transport, event_hooks=hooks)
    client = make_client(kind, clock, http_client=http)
    for _operation, method, args, kwargs in every_operation(api, data):
        await call_on(client, method, *args, **kwargs)
    sent = api.sent()
    assert seen_requests == sent
    assert [r.request for r in seen_responses] == sent
    assert set(api.operations()) == set(OPERATIONS)
    await close(client)
    await close_http(http)


@pytest.mark.parametrize("kind", KINDS)
async def test_a_mount_for_the_base_url_is_used(kind, api, data, clock):
    def refuse(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"the default transport was used for {request.url}")

    mock = httpx.MockTransport(refuse)
    mounted = api.transport()
    http = user_http_client(kind, transport=mock, mounts={"https://test.pec.openapi.it": mounted})
    client = make_client(kind, clock, http_client=http)
    box = await call_on(client, "get_mailbox", data.BOX_ID)
    assert box.id == api.examples["get_mailbox"]["data"]["id"]
    assert api.operations() == ["get_mailbox"]
    await close(client)
    await close_http(http)


@pytest.mark.parametrize("kind", KINDS)
async def test_auth_of_the_users_client_runs_on_our_requests(kind, api, data, clock):
    class Stamp(httpx.Auth):
        def auth_flow(self, request: httpx.Request) -> Any:
            request.headers["x-signed-by"] = "corporate-gateway"
            yield request

    transport = api.transport()
    http = user_http_client(kind, transport=transport, auth=Stamp(), headers={"x-tenant": "acme"})
    client = make_client(kind, clock, http_client=http)
    await call_on(client, "get_mailbox", data.BOX_ID)
    (request,) = api.sent()
    assert request.headers["x-signed-by"] == "corporate-gateway"
    # the client's own default headers are kept; the token is ours
    assert request.headers["x-tenant"] == "acme"
    assert request.headers["authorization"] == "Bearer seam-token-8d2b-SECRET"
    await close(client)
    await close_http(http)


@pytest.mark.parametrize("kind", KINDS)
async def test_a_users_client_stays_open_and_ours_is_closed(kind, api, clock):
    transport = api.transport()
    http = user_http_client(kind, transport=transport)
    theirs = make_client(kind, clock, http_client=http)
    await close(theirs)
    assert not http.is_closed
    await close_http(http)
    ours = make_client(kind, clock, transport=transport)
    # the copies share the pool; closing one of them leaves it open
    copy = ours.with_options(max_retries=0)
    await close(copy)
    assert not ours._http.is_closed
    await close(ours)
    assert ours._http.is_closed


@pytest.mark.parametrize("kind", KINDS)
def test_http_client_of_the_wrong_kind_is_refused(kind, clock):
    wrong = httpx.AsyncClient() if kind == "sync" else httpx.Client()
    with pytest.raises(ValidationError) as caught:
        make_client(kind, clock, http_client=wrong)
    assert caught.value.field == "http_client"
    transport = httpx.MockTransport(lambda r: httpx.Response(200))
    right = httpx.Client() if kind == "sync" else httpx.AsyncClient()
    with pytest.raises(ValidationError) as caught:
        make_client(kind, clock, http_client=right, transport=transport)
    assert caught.value.field == "transport"


def test_no_private_httpx_name_in_pec_ext():
    root = Path(__file__).parents[2] / "pec_ext"
    offenders = []
    for path in root.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
            ):
                base = node.value
                if isinstance(base, ast.Name) and base.id == "httpx":
                    offenders.append(f"{path.name}:{node.lineno} httpx.{node.attr}")
                if (
                    isinstance(base, ast.Attribute)
                    and base.attr in ("_http", "http")
                    and node.attr.startswith("_")
                ):
                    offenders.append(f"{path.name}:{node.lineno} ...{base.attr}.{node.attr}")
            transport_call = isinstance(node, ast.Attribute) and node.attr.startswith("handle_")
            if transport_call and path.parent.name != "sandbox":
                offenders.append(f"{path.name}:{node.lineno} {node.attr}")
    assert offenders == []


# -- with_options --------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
async def test_with_options_changes_only_what_it_is_given(kind, api, data, clock):
    transport = api.transport()
    client = make_client(kind, clock, transport=transport, max_retries=3)
    tuned = client.with_options(max_retries=0, extra_headers={"x-request-id": "r-1"})
    assert tuned._http is client._http  # one connection pool
    assert (tuned.options.timeout, tuned.options.max_retries) == (client.options.timeout, 0)
    api.reply("get_mailbox", httpx.Response(503))
    with pytest.raises(ServiceUnavailableError):
        await call_on(tuned, "get_mailbox", data.BOX_ID)
    assert len(api.sent()) == 1  # no retry on the copy
    assert api.sent()[0].headers["x-request-id"] == "r-1"
    api.calls.clear()
    api.reply("get_mailbox", httpx.Response(503))
    await call_on(client, "get_mailbox", data.BOX_ID)  # the original still retries
    assert len(api.sent()) == 2
    assert "x-request-id" not in api.sent()[1].headers
    await close(client)


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"timeout": 0}, "timeout"),
        ({"timeout": -1}, "timeout"),
        ({"timeout": "30"}, "timeout"),
        ({"max_retries": -1}, "max_retries"),
        ({"max_retries": True}, "max_retries"),
        ({"extra_headers": {"Authorization": "Bearer other"}}, "extra_headers"),
        ({"extra_headers": {"x-bad": "a\r\nb"}}, "extra_headers"),
        ({"extra_headers": ["x"]}, "extra_headers"),
    ],
)
def test_with_options_refuses_bad_values(options, field, clock):
    client = make_client("sync", clock, transport=httpx.MockTransport(lambda r: httpx.Response(200)))
    with pytest.raises(ValidationError) as caught:
        client.with_options(**options)
    assert caught.value.field == field


@pytest.mark.parametrize("kind", KINDS)
async def test_the_timeout_is_a_deadline_for_retries_and_backoff(kind, api, data, clock):
    # Every answer is a 503 asking for 4 s; with a 10 s deadline only two waits fit.
    transport = api.transport()
    client = make_client(kind, clock, transport=transport, max_retries=10).with_options(timeout=10)
    api.reply("get_mailbox", *[httpx.Response(503, headers={"retry-after": "4"}) for _ in range(11)])
    with pytest.raises(ServiceUnavailableError):
        await call_on(client, "get_mailbox", data.BOX_ID)
    assert clock.sleeps == [4.0, 4.0]
    assert len(api.sent()) == 3
    await close(client)


# -- with_raw_response ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
async def test_with_raw_response_for_every_method(kind, api, data, clock):
    transport = api.transport()
    plain = make_client(kind, clock, transport=transport)
    for operation, method, args, kwargs in every_operation(api, data):
        raw = await call_on(plain.with_raw_response, method, *args, **kwargs)
        assert isinstance(raw, RawResponse), method
        response = raw.http_response
        assert isinstance(response, httpx.Response)
        assert response.status_code == 200
        assert response.request.url.path.startswith("/"), operation
        assert response.elapsed.total_seconds() >= 0
        assert "content-type" in response.headers
        parsed = raw.parse()
        if OPERATIONS[operation].returns_pdf:
            assert parsed == raw.content
            assert parsed.startswith(b"%PDF-")
        else:
            assert parsed is not None
    # the same typed result as the plain method
    api.calls.clear()
    raw = await call_on(plain.with_raw_response, "get_mailbox", data.BOX_ID)
    same = await call_on(plain, "get_mailbox", data.BOX_ID)
    assert raw.parse().to_dict() == same.to_dict()
    await close(plain)


@pytest.mark.parametrize("kind", KINDS)
async def test_with_raw_response_offers_only_operations(kind, api, clock):
    client = make_client(kind, clock, transport=api.transport())
    with pytest.raises(AttributeError):
        _ = client.with_raw_response.close
    with pytest.raises(AttributeError):
        _ = client.with_raw_response._run
    assert "get_mailbox" in dir(client.with_raw_response)
    await close(client)


# -- ApiError keeps the exchange, never the token ------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
async def test_api_error_keeps_request_and_response_with_the_token_redacted(kind, api, data, clock):
    client = make_client(kind, clock, transport=api.transport())
    answer = httpx.Response(
        404,
        json={"success": False, "message": "not found", "error": 202, "data": None},
        headers={"x-trace-id": "abc"},
    )
    api.reply("get_mailbox", answer)
    with pytest.raises(NotFoundError) as caught:
        await call_on(client, "get_mailbox", data.BOX_ID)
    error = caught.value
    assert error.response is not None
    assert error.request is not None
    assert error.response.status_code == 404
    assert error.response.headers["x-trace-id"] == "abc"
    assert error.request.url.path == f"/pec/{data.BOX_ID}"
    secret = "seam-token-8d2b-SECRET"
    shown = [
        str(error),
        repr(error),
        repr(error.request),
        repr(error.response),
        repr(error.request.headers),
        str(error.request.headers),
        repr(error.response.request.headers),
        repr(vars(error)),
        repr(client),
        repr(vars(client)),
    ]
    assert not [text for text in shown if secret in text]
    await close(client)


# -- configuration -------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["production", "PRODUCTION", " Production "])
def test_environment_variable_in_any_case(value, monkeypatch):
    monkeypatch.setenv(config.ENVIRONMENT_ENV, value)
    assert config.environment() == "production"
    assert PecClient("t").base_url == "https://pec.openapi.it"


def test_environment_variable_with_a_wrong_value_names_the_variable(monkeypatch):
    monkeypatch.setenv(config.ENVIRONMENT_ENV, "staging")
    with pytest.raises(ValidationError) as caught:
        PecClient("t")
    assert caught.value.field == config.ENVIRONMENT_ENV
    assert "production" in str(caught.value)
    assert "sandbox" in str(caught.value)


def test_base_url_from_the_environment(monkeypatch):
    monkeypatch.setenv(config.BASE_URL_ENV, "http://127.0.0.1:8099")
    assert PecClient("t").base_url == "http://127.0.0.1:8099"
    assert PecClient("t", base_url="http://127.0.0.1:1").base_url == "http://127.0.0.1:1"
    monkeypatch.setenv(config.BASE_URL_ENV, "ftp://x")
    with pytest.raises(ValidationError) as caught:
        PecClient("t")
    assert caught.value.field == config.BASE_URL_ENV


def test_the_command_line_reads_the_same_variables():
    from pec_ext.cli import config as cli_config

    assert cli_config.BASE_URL_ENV == config.BASE_URL_ENV
    assert cli_config.TOKEN_ENV == config.TOKEN_ENV


# -- the operations table follows the generated client -------------------------------------------


def generated_operations() -> dict[str, tuple[str, str]]:
    """operationId -> (METHOD, path template), read from the generated api/ modules' source."""
    found = {}
    for module in (Path(pec_api.__file__).parent / "api").rglob("*.py"):
        if module.name == "__init__.py":
            continue
        tree = ast.parse(module.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Dict):
                keys = [k.value for k in node.keys if isinstance(k, ast.Constant)]
                if "method" in keys and "url" in keys:
                    values = dict(zip(keys, node.values, strict=False))
                    method = values["method"]
                    url = values["url"]
                    if isinstance(url, ast.Call):  # "/pec/{id}".format(...)
                        url = url.func.value  # type: ignore[attr-defined]
                    assert isinstance(method, ast.Constant)
                    assert isinstance(url, ast.Constant)
                    found[module.stem] = (str(method.value).upper(), str(url.value))
    return found


def test_the_operations_table_and_the_generated_client_agree():
    generated = generated_operations()
    assert set(generated) == set(OPERATIONS)
    ours = {name: (op.method, op.path) for name, op in OPERATIONS.items()}
    assert ours == generated


@pytest.mark.parametrize("kind", KINDS)
async def test_with_options_for_every_method(kind, api, data, clock):
    client = make_client(kind, clock, transport=api.transport())
    tuned = client.with_options(timeout=5, max_retries=0, extra_headers={"x-job": "nightly"})
    for operation, method, args, kwargs in every_operation(api, data):
        before = len(api.sent())
        result = await call_on(tuned, method, *args, **kwargs)
        assert result is not None, method
        sent = api.sent()[before:]
        assert operation in api.operations()[before:], method
        assert all(request.headers["x-job"] == "nightly" for request in sent), method
        # the per-call deadline reaches every request: no phase may wait longer than it
        assert all(max(request.extensions["timeout"].values()) <= 5 for request in sent), method
    await close(client)
