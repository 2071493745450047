"""Every error the API can give becomes a typed exception: the spec's 54 documented examples
(read from the spec at test time), other statuses, and bodies that are not the API's answer."""

from __future__ import annotations

import gzip
from typing import Any

import pytest

from pec_ext import (
    ApiError,
    BadRequestError,
    ErrorCode,
    ForbiddenError,
    InvalidResponseError,
    NotAcceptableError,
    NotFoundError,
    PaymentRequiredError,
    PecError,
    PreconditionRequiredError,
    RateLimitError,
    ServerError,
    ServiceUnavailableError,
    UnauthorizedError,
)
from pec_ext._engine import judge, steps
from pec_ext._pec.operations import OPERATIONS
from tests.support.http_stack import httpx

CLASS_BY_STATUS = {
    400: BadRequestError,
    402: PaymentRequiredError,
    404: NotFoundError,
    406: NotAcceptableError,
    428: PreconditionRequiredError,
    503: ServiceUnavailableError,
}

# How to reach each operation through its client method; the reads a flow makes first get the
# spec's 200 example (a GOLD box in evasa, to pass the guards).
BOX = "6045fdee3a716847a978a471"


def invocation(operation: str, data: Any) -> tuple[str, tuple[Any, ...], dict[str, Any]]:
    by_operation: dict[str, tuple[str, tuple[Any, ...], dict[str, Any]]] = {
        "check_domain": ("check_domain", ("legalmail.it",), {}),
        "check_availability": ("check_availability", ("a.b@testcert.legalmail.it",), {}),
        "list_mailboxes": ("list_mailboxes", (), {}),
        "register_mailbox": ("register_mailbox", (), data.register_fields()),
        "get_mailbox": ("get_mailbox", (BOX,), {}),
        "revoke_mailbox": ("revoke_mailbox", (BOX,), {}),
        "activate_mailbox": ("activate_mailbox", (BOX, [data.PDF, data.PDF]), {}),
        "change_space": ("add_space", (BOX,), {"disco": 1024}),
        "activate_conservation": ("activate_conservation", (BOX, [data.PDF]), {}),
        "change_type": ("change_type", (BOX, "GOLD"), {}),
        "renew_mailbox": ("renew_mailbox", (BOX,), {"anni": 1}),
        "add_user": ("add_user", (BOX,), data.USER_FIELDS),
        "list_communications": ("list_communications", (), {}),
        "communicate_pec": ("communicate_pec", (), data.communication_fields()),
        "get_communication": ("get_communication", (BOX,), {}),
        "upload_communication_documents": ("upload_communication_documents", (BOX, data.p7m()), {}),
    }
    return by_operation[operation]


def test_the_spec_documents_54_error_examples(error_examples):
    assert len(error_examples) == 54
    assert {status for _, status, _ in error_examples} == set(CLASS_BY_STATUS)


def test_every_documented_code_has_a_name(error_examples):
    codes = {example["error"] for _, _, example in error_examples}
    assert codes <= {code.value for code in ErrorCode}


def test_every_documented_error_example_in_the_call_path(error_examples):
    """Judged by the engine for its own operation: class, code, message, code name."""
    checked = 0
    for operation, status, example in error_examples:
        call = steps.Call(OPERATIONS[operation])
        request = httpx.Request(OPERATIONS[operation].method, "https://test.pec.openapi.it/x")
        response = httpx.Response(status, json=example, request=request)
        with pytest.raises(ApiError) as caught:
            judge.on_response(call, request, response, response.content, 99, steps.Options(max_retries=3))
        error = caught.value
        assert type(error) is CLASS_BY_STATUS[status], (operation, status)
        assert (error.status_code, error.code, error.message) == (
            status,
            example["error"],
            example["message"],
        )
        assert error.code_name == ErrorCode(example["error"]).name
        assert example["message"] in str(error)
        checked += 1
    assert checked == 54


async def test_every_documented_error_example_through_its_method(pec, api, data, error_examples):
    """Through the client method, sync and async, with every request checked against the spec."""
    for operation, status, example in error_examples:
        if operation in ("list_mailboxes", "list_communications"):
            continue  # their 404 means "none yet": an empty list (tested in test_client_methods)
        api.calls.clear()
        api.queued.clear()
        if operation != "get_mailbox":
            api.reply("get_mailbox", api.box(stato="evasa", tipo_casella="BRONZE", conservazione=False))
        api.reply(operation, *[httpx.Response(status, json=example)] * 5)
        method, args, kwargs = invocation(operation, data)
        with pytest.raises(ApiError) as caught:
            await pec(method, *args, client_options={"max_retries": 0}, **kwargs)
        error = caught.value
        where = (operation, status)
        assert type(error) is CLASS_BY_STATUS[status], where
        assert (error.code, error.message, error.status_code) == (
            example["error"],
            example["message"],
            status,
        )
        assert error.code_name == ErrorCode(example["error"]).name, where
        assert operation in api.operations(), where


async def test_list_404_examples_through_the_raw_escape_hatch(pec, api, error_examples):
    for operation, status, example in error_examples:
        if operation not in ("list_mailboxes", "list_communications"):
            continue
        api.reply(operation, httpx.Response(status, json=example))
        with pytest.raises(NotFoundError) as caught:
            await pec("request", "GET", OPERATIONS[operation].path)
        assert (caught.value.code, caught.value.message) == (example["error"], example["message"])


@pytest.mark.parametrize(
    ("status", "error_type"),
    [
        (401, UnauthorizedError),
        (403, ForbiddenError),
        (429, RateLimitError),
        (500, ServerError),
        (501, ServerError),
        (502, ServerError),
        (504, ServerError),
        (418, ApiError),
        (301, ApiError),
    ],
)
async def test_other_statuses(pec, api, data, status, error_type):
    body = {"success": False, "message": f"status {status}", "error": None, "data": None}
    api.reply("get_mailbox", httpx.Response(status, json=body, headers={"location": "https://x.invalid"}))
    with pytest.raises(error_type) as caught:
        await pec("get_mailbox", data.BOX_ID, client_options={"max_retries": 0})
    assert type(caught.value) is error_type
    assert caught.value.status_code == status
    assert caught.value.message == f"status {status}"
    assert caught.value.code is None
    assert caught.value.code_name is None


async def test_an_undocumented_code_has_no_name(pec, api, data):
    api.reply("get_mailbox", httpx.Response(400, json={"success": False, "message": "m", "error": 12345}))
    with pytest.raises(BadRequestError) as caught:
        await pec("get_mailbox", data.BOX_ID)
    assert (caught.value.code, caught.value.code_name) == (12345, None)


async def test_success_false_in_a_200_is_an_error(pec, api, data):
    body = {"success": False, "message": "qualcosa non va", "error": 202, "data": None}
    api.reply("get_mailbox", httpx.Response(200, json=body))
    with pytest.raises(InvalidResponseError) as caught:
        await pec("get_mailbox", data.BOX_ID)
    assert (caught.value.message, caught.value.code, caught.value.status_code) == (
        "qualcosa non va",
        202,
        200,
    )
    assert caught.value.code_name == "GET_PEC_NOT_FOUND"


BROKEN_BODIES = {
    "truncated JSON": (200, b'{"success": true, "data": {"id": "60', "application/json"),
    "empty 200": (200, b"", "application/json"),
    "blank 200": (200, b"  \n ", "application/json"),
    "HTML 200": (200, b"<html><body>Welcome</body></html>", "text/html"),
    "JSON that is not an envelope": (200, b"[1, 2, 3]", "application/json"),
    "envelope without data": (200, b'{"success": true, "message": "", "error": null}', "application/json"),
    "data of the wrong shape": (200, b'{"success": true, "data": "a string"}', "application/json"),
    "data with a wrong field type": (
        200,
        b'{"success": true, "data": {"multiutenza": 7}}',
        "application/json",
    ),
    "invalid UTF-8": (200, b'{"success": true, "data": "\xff\xfe"}', "application/json"),
    "deeply nested JSON": (200, b"[" * 100_000 + b"]" * 100_000, "application/json"),
    "huge number": (200, b'{"success": true, "data": ' + b"9" * 10_000 + b"}", "application/json"),
}


@pytest.mark.parametrize("case", sorted(BROKEN_BODIES))
async def test_broken_success_bodies_are_invalid_responses(pec, api, data, case):
    status, body, content_type = BROKEN_BODIES[case]
    api.reply("get_mailbox", httpx.Response(status, content=body, headers={"content-type": content_type}))
    with pytest.raises(InvalidResponseError) as caught:
        await pec("get_mailbox", data.BOX_ID)
    assert caught.value.status_code == 200
    assert len(str(caught.value)) < 2_000  # never the whole body


async def test_html_502_page(pec, api, data):
    page = b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
    html = httpx.Response(502, content=page, headers={"content-type": "text/html"})
    api.reply("get_mailbox", *[html] * 4)
    with pytest.raises(ServerError) as caught:
        await pec("get_mailbox", data.BOX_ID)
    assert caught.value.status_code == 502
    assert "HTML page" in caught.value.message
    assert "nginx" not in caught.value.message


async def test_401_with_an_html_body(pec, api, data):
    page = b"<!DOCTYPE html><html><body><h1>401 Authorization Required</h1></body></html>"
    api.reply("get_mailbox", httpx.Response(401, content=page, headers={"content-type": "text/html"}))
    with pytest.raises(UnauthorizedError) as caught:
        await pec("get_mailbox", data.BOX_ID)
    assert caught.value.code is None
    assert "HTML page" in caught.value.message


async def test_error_with_truncated_json_body(pec, api, data):
    api.reply("get_mailbox", httpx.Response(404, content=b'{"success": false, "mess'))
    with pytest.raises(NotFoundError) as caught:
        await pec("get_mailbox", data.BOX_ID)
    assert caught.value.message == '{"success": false, "mess'


async def test_error_with_a_deeply_nested_body(pec, api, data):
    api.reply("get_mailbox", httpx.Response(400, content=b"[" * 100_000))
    with pytest.raises(BadRequestError):
        await pec("get_mailbox", data.BOX_ID)


async def test_a_huge_body_is_refused_without_reading_it_all(pec, api, data, monkeypatch):
    monkeypatch.setattr(steps, "MAX_JSON_BODY_BYTES", 1024)
    big = b'{"success": true, "data": "' + b"x" * 5000 + b'"}'
    api.reply("get_mailbox", httpx.Response(200, content=big))
    with pytest.raises(InvalidResponseError) as caught:
        await pec("get_mailbox", data.BOX_ID)
    assert "larger than 1024 bytes" in caught.value.message
    api.reply("get_mailbox", httpx.Response(400, content=big))
    with pytest.raises(BadRequestError) as caught_error:
        await pec("get_mailbox", data.BOX_ID)
    assert "too large" in caught_error.value.message


def gzipped(status: int, body: bytes) -> httpx.Response:
    # a stream, so that httpx does not decode it when the test builds the response
    return httpx.Response(status, stream=httpx.ByteStream(body), headers={"content-encoding": "gzip"})


async def test_a_body_that_cannot_be_decoded(pec, api, data):
    api.reply("get_mailbox", gzipped(200, b"not gzip"))
    with pytest.raises(InvalidResponseError):
        await pec("get_mailbox", data.BOX_ID)
    api.reply("get_mailbox", gzipped(400, b"not gzip"))
    with pytest.raises(BadRequestError):
        await pec("get_mailbox", data.BOX_ID)
    # a well-encoded body still works
    good = gzip.compress(httpx.Response(200, json=api.example("get_mailbox")).content)
    api.reply("get_mailbox", gzipped(200, good))
    assert (await pec("get_mailbox", data.BOX_ID)).id == api.examples["get_mailbox"]["data"]["id"]


# -- PDF endpoints -------------------------------------------------------------------------------

PDF_METHODS = ["download_activation_form", "download_conservation_form", "download_power_of_attorney"]


@pytest.mark.parametrize("method", PDF_METHODS)
@pytest.mark.parametrize(
    ("status", "error_type"), [(400, BadRequestError), (404, NotFoundError), (406, NotAcceptableError)]
)
async def test_pdf_text_plain_errors_become_the_message(pec, api, data, method, status, error_type):
    text = f"id {data.BOX_ID} non valido ({status})"
    api.reply(method, httpx.Response(status, text=text, headers={"content-type": "text/plain"}))
    with pytest.raises(error_type) as caught:
        await pec(method, data.BOX_ID)
    assert caught.value.message == text
    assert caught.value.status_code == status


@pytest.mark.parametrize("method", PDF_METHODS)
async def test_pdf_endpoints_refuse_a_200_that_is_not_a_pdf(pec, api, data, method, tmp_path):
    api.reply(method, httpx.Response(200, json={"success": True, "data": None}))
    target = tmp_path / "f.pdf"
    with pytest.raises(InvalidResponseError) as caught:
        await pec(method, data.BOX_ID, to=target)
    assert "expected a PDF" in caught.value.message
    assert not target.exists()


async def test_pdf_json_error_envelope_gives_its_message(pec, api, data):
    body = {"success": False, "message": "no pec found", "error": 202, "data": None}
    api.reply("download_activation_form", httpx.Response(404, json=body))
    with pytest.raises(NotFoundError) as caught:
        await pec("download_activation_form", data.BOX_ID)
    assert (caught.value.message, caught.value.code) == ("no pec found", 202)


def test_error_tree():
    for error_type in (*CLASS_BY_STATUS.values(), UnauthorizedError, ForbiddenError, RateLimitError):
        assert issubclass(error_type, ApiError)
    assert issubclass(ApiError, PecError)
    assert issubclass(InvalidResponseError, ApiError)
