"""httpx and httpx2: the library is chosen from the user's client, else by name, else httpx2 when installed.

These tests name both libraries explicitly, so they check both whatever ``PEC_TEST_HTTP`` is.
"""

from __future__ import annotations

import ast
import asyncio
import importlib
import importlib.util
from pathlib import Path
from typing import Any

import pytest

from pec_ext import AsyncPecClient, NotFoundError, PecClient, TransportError, ValidationError
from pec_ext._engine.stack import Stack
from pec_ext.sandbox import SANDBOX_BASE_URL
from tests.support.dates import sandbox_on_day

LIBRARIES = ("httpx", "httpx2")
KINDS = ("sync", "async")
ROOT = Path(__file__).parents[2]


def library(name: str) -> Any:
    return importlib.import_module(name)


async def settle(value: Any) -> Any:
    return await value if asyncio.iscoroutine(value) else value


def response_type_of(client: Any) -> Any:
    return client.with_raw_response.list_mailboxes()


@pytest.mark.parametrize("name", LIBRARIES)
@pytest.mark.parametrize("kind", KINDS)
async def test_the_users_client_sees_its_own_librarys_objects(name, kind):
    http_library = library(name)
    seen: list[Any] = []

    def hook(thing: Any) -> None:
        seen.append(thing)

    async def async_hook(thing: Any) -> None:
        seen.append(thing)

    hooks = {"request": [hook], "response": [hook]}
    sb = sandbox_on_day()
    if kind == "sync":
        http = http_library.Client(transport=sb.transport(name), event_hooks=hooks)
        client: Any = sb.client(http_client=http)
    else:
        hooks = {"request": [async_hook], "response": [async_hook]}
        http = http_library.AsyncClient(transport=sb.transport(name), event_hooks=hooks)
        client = sb.async_client(http_client=http)
    raw = await settle(client.with_raw_response.list_mailboxes())
    assert type(raw.http_response) is http_library.Response
    assert raw.parse() == []
    with pytest.raises(NotFoundError) as caught:
        await settle(client.get_mailbox("0" * 24))
    assert type(caught.value.response) is http_library.Response
    assert type(caught.value.request) is http_library.Request
    assert [type(thing) for thing in seen] == [http_library.Request, http_library.Response] * 2
    await settle(client.close())
    await settle(http.aclose() if kind == "async" else http.close())


@pytest.mark.parametrize("name", LIBRARIES)
@pytest.mark.parametrize("kind", KINDS)
async def test_the_libraries_transport_errors_become_ours(name, kind):
    http_library = library(name)

    def refuse(request: Any) -> Any:
        raise http_library.ConnectError("refused", request=request)

    cls = PecClient if kind == "sync" else AsyncPecClient
    client: Any = cls(
        "tok", base_url=SANDBOX_BASE_URL, transport=http_library.MockTransport(refuse), max_retries=0
    )
    with pytest.raises(TransportError) as caught:
        await settle(client.list_mailboxes())
    assert isinstance(caught.value.__cause__, http_library.ConnectError)
    await settle(client.close())


@pytest.mark.parametrize("name", LIBRARIES)
def test_a_name_chooses_the_library_of_the_client_made_here(name, monkeypatch):
    monkeypatch.delenv("OPENAPI_PEC_HTTP", raising=False)
    with sandbox_on_day() as sb, sb.client(http=name) as client:
        assert type(response_type_of(client).http_response) is library(name).Response
    other = "httpx" if name == "httpx2" else "httpx2"
    monkeypatch.setenv("OPENAPI_PEC_HTTP", name)
    with sandbox_on_day() as sb:
        with sb.client() as client:
            assert type(response_type_of(client).http_response) is library(name).Response
        with sb.client(http=other) as client:  # the argument wins over the variable
            assert type(response_type_of(client).http_response) is library(other).Response


def test_without_a_name_httpx2_when_installed(monkeypatch):
    monkeypatch.delenv("OPENAPI_PEC_HTTP", raising=False)
    expected = "httpx2" if importlib.util.find_spec("httpx2") is not None else "httpx"
    with sandbox_on_day() as sb, sb.client() as client:
        assert type(response_type_of(client).http_response).__module__.split(".")[0] == expected


def test_an_unknown_library_is_refused_naming_the_allowed_ones(monkeypatch):
    monkeypatch.delenv("OPENAPI_PEC_HTTP", raising=False)
    with pytest.raises(ValidationError) as caught:
        PecClient("tok", http="requests")
    assert caught.value.field == "http"
    assert caught.value.allowed == "httpx, httpx2"
    monkeypatch.setenv("OPENAPI_PEC_HTTP", "aiohttp")
    with pytest.raises(ValidationError) as caught:
        PecClient("tok")
    assert caught.value.field == "OPENAPI_PEC_HTTP"
    assert "httpx2" in str(caught.value)


@pytest.mark.parametrize("name", LIBRARIES)
def test_a_client_of_neither_library_or_of_the_wrong_kind_is_refused(name):
    with pytest.raises(ValidationError) as caught:
        PecClient("tok", http_client=object())
    assert caught.value.field == "http_client"
    with pytest.raises(ValidationError) as caught:
        PecClient("tok", http_client=library(name).AsyncClient())
    assert caught.value.field == "http_client"
    assert f"{name}.Client" in str(caught.value)


@pytest.mark.parametrize("name", LIBRARIES)
def test_the_accounts_pec_client_runs_on_the_accounts_library(name):
    with (
        sandbox_on_day() as sb,
        sb.account_client(http=name) as account,
        account.pec_client(["list_mailboxes"]) as pec,
    ):
        assert type(response_type_of(pec).http_response) is library(name).Response


@pytest.mark.parametrize("name", LIBRARIES)
def test_the_stack_uses_only_public_names(name):
    module = library(name)
    fields = [field for field in Stack.__dataclass_fields__ if field != "name"]
    assert all(not field.startswith("_") for field in fields)
    assert set(fields) <= set(module.__all__)


def test_no_private_name_of_httpx_or_httpx2_in_pec_ext():
    offenders = []
    for path in (ROOT / "pec_ext").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            where = f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 0)}"
            if (
                isinstance(node, ast.Attribute)
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
            ):
                base = node.value
                if isinstance(base, ast.Name) and base.id in ("httpx", "httpx2", "stack", "http_stack"):
                    offenders.append(f"{where} {base.id}.{node.attr}")
                if isinstance(base, ast.Attribute) and base.attr in ("_stack", "stack"):
                    offenders.append(f"{where} ...{base.attr}.{node.attr}")
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in LIBRARIES:
                private = "._" in (node.module or "") or any(
                    alias.name.startswith("_") for alias in node.names
                )
                if private:
                    offenders.append(f"{where} from {node.module} import ...")
            if isinstance(node, ast.Import):
                offenders += [
                    f"{where} import {alias.name}"
                    for alias in node.names
                    if alias.name.split(".")[0] in LIBRARIES and "._" in alias.name
                ]
            private_path = isinstance(node, ast.Constant) and str(node.value).startswith(
                ("httpx._", "httpx2._")
            )
            if private_path:
                offenders.append(f"{where} {node.value!r}")
    assert offenders == []
