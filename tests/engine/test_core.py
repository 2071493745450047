"""The sans-IO call path's decisions, without a client."""

from __future__ import annotations

import json
from urllib.parse import unquote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pec_ext import OutcomeUnknownError, RequestTimeoutError, TransportError
from pec_ext._engine import judge, steps
from pec_ext._engine import wire as engine_wire
from pec_ext._engine.operation import encode_path_param
from pec_ext._engine.stack import Stack
from pec_ext._pec.operations import OPERATIONS
from tests.support.http_stack import httpx

URL = "https://test.pec.openapi.it"
OPTIONS = steps.Options(max_retries=3)
STACK = Stack.of_module(httpx)


def request_for(name: str) -> tuple[steps.Call, httpx.Request]:
    op = OPERATIONS[name]
    return steps.Call(op), httpx.Request(op.method, URL + op.path)


def wire(base_url: str = URL + "/") -> engine_wire.Wire:
    defaults = httpx.Headers({"user-agent": "ua", "accept": "*/*", "authorization": "stale"})
    return engine_wire.Wire.of(STACK, base_url, defaults, "Bearer tok", httpx.Timeout(7.0, connect=2.0))


def test_build_request_drops_unset_params_and_sets_accept_token_and_timeouts():
    template = wire()
    renew = engine_wire.build_request(
        template,
        steps.Call(OPERATIONS["renew_mailbox"], path_params={"id": "a b"}, params={"anni": 2, "x": None}),
    )
    assert str(renew.url) == URL + "/pec/a%20b/rinnovo?anni=2"
    assert renew.headers["accept"] == "application/json"
    assert renew.headers.get_list("authorization") == ["Bearer tok"]
    assert (renew.headers["host"], renew.headers["user-agent"]) == ("test.pec.openapi.it", "ua")
    assert renew.extensions["timeout"] == {"connect": 2.0, "read": 7.0, "write": 7.0, "pool": 7.0}
    assert renew.content == b""
    assert "content-length" not in renew.headers
    pdf = engine_wire.build_request(
        template, steps.Call(OPERATIONS["download_activation_form"], path_params={"id": "1"})
    )
    assert pdf.headers.get_list("accept") == ["application/pdf, text/plain"]
    post = engine_wire.build_request(
        template, steps.Call(OPERATIONS["add_user"], path_params={"id": "1"}, json={"a": 1})
    )
    assert (post.method, post.headers["content-type"], post.headers["content-length"], post.content) == (
        "POST",
        "application/json",
        "7",
        b'{"a":1}',
    )


def test_a_long_body_is_streamed_with_host_and_declared_length():
    document = "A" * (engine_wire._JsonStream.LONG + 10)
    call = steps.Call(OPERATIONS["activate_mailbox"], path_params={"id": "1"}, json={"documenti": [document]})
    request = engine_wire.build_request(wire(), call)
    assert isinstance(request.stream, engine_wire._JsonStream)
    body = b"".join(request.stream)
    assert json.loads(body) == {"documenti": [document]}
    assert request.read() == body  # as an in-process transport (httpx.MockTransport) reads it
    assert request.headers["content-length"] == str(len(body))
    assert request.headers.get_list("host") == ["test.pec.openapi.it"]
    assert "transfer-encoding" not in request.headers


def test_build_request_keeps_a_base_url_path_prefix():
    request = engine_wire.build_request(
        wire("http://127.0.0.1:8080/api/"), steps.Call(OPERATIONS["list_mailboxes"])
    )
    assert str(request.url) == "http://127.0.0.1:8080/api/pec"


def test_the_token_is_out_of_the_wire_repr():
    assert "tok" not in repr(wire())


@pytest.mark.parametrize("value", ["..", ".", "...", "a/b", "?", "#", "%", "a/../b", "../pec", "x?y#z"])
def test_encode_path_param_leaves_no_separator_and_no_dot_segment(value):
    encoded = encode_path_param(value)
    assert not set(encoded) & set("/?#")
    assert encoded.strip(".") != ""
    assert unquote(encoded) == value


@given(st.text(min_size=1))
def test_an_encoded_value_is_always_one_segment_of_its_own_endpoint(value):
    request = httpx.Request("GET", URL + "/pec/" + encode_path_param(value) + "/rinnovo")
    segments = request.url.raw_path.split(b"?")[0].split(b"/")
    assert segments[:2] == [b"", b"pec"]
    assert segments[3:] == [b"rinnovo"]
    assert unquote(segments[2].decode()) == value


def test_addresses_stay_readable():
    assert encode_path_param("mario.rossi@legalmail.it") == "mario.rossi@legalmail.it"


@pytest.mark.parametrize(
    ("name", "failure", "decision"),
    [
        ("get_mailbox", httpx.ReadTimeout("t"), "retry"),
        ("get_mailbox", httpx.ConnectError("c"), "retry"),
        ("renew_mailbox", httpx.ConnectError("c"), "retry"),
        ("renew_mailbox", httpx.ConnectTimeout("c"), "retry"),
        ("renew_mailbox", httpx.PoolTimeout("p"), "retry"),
        ("renew_mailbox", httpx.ReadTimeout("t"), "uncertain"),
        ("register_mailbox", httpx.RemoteProtocolError("r"), "uncertain"),
        ("check_domain", httpx.ReadTimeout("t"), "uncertain"),
    ],
)
def test_transport_error_decisions(name, failure, decision):
    call, request = request_for(name)
    if decision == "retry":
        assert isinstance(judge.on_transport_error(call, request, failure, 0, OPTIONS, STACK), steps.Retry)
    else:
        with pytest.raises(steps.OutcomeUncertain) as caught:
            judge.on_transport_error(call, request, failure, 0, OPTIONS, STACK)
        unknown = caught.value.unknown("m", known=[1])
        assert isinstance(unknown, OutcomeUnknownError)
        assert isinstance(unknown, RequestTimeoutError) == isinstance(failure, httpx.TimeoutException)
        assert (unknown.operation, unknown.known) == (name, [1])


def test_transport_errors_after_the_last_retry():
    call, request = request_for("get_mailbox")
    with pytest.raises(RequestTimeoutError):
        judge.on_transport_error(call, request, httpx.ReadTimeout("t"), 3, OPTIONS, STACK)
    with pytest.raises(TransportError) as caught:
        judge.on_transport_error(call, request, httpx.ConnectError("c"), 3, OPTIONS, STACK)
    assert not isinstance(caught.value, RequestTimeoutError)


def test_only_idempotent_operations_are_marked_so():
    resendable = {name for name, op in OPERATIONS.items() if op.idempotent}
    assert resendable == {
        "check_availability", "list_mailboxes", "get_mailbox", "list_communications", "get_communication",
        "download_activation_form", "download_conservation_form", "download_power_of_attorney",
    }  # fmt: skip
    assert all(OPERATIONS[name].method == "GET" for name in resendable)


PATH_VALUES = st.text(min_size=1, max_size=30).filter(lambda v: v.strip() != "")
QUERY = st.dictionaries(
    st.sampled_from(["anni", "page", "x"]), st.one_of(st.none(), st.integers(0, 99), st.text(max_size=8))
)
BODIES = st.one_of(
    st.none(),
    st.dictionaries(st.text(max_size=8), st.one_of(st.integers(), st.text(max_size=12), st.booleans())),
)


@settings(max_examples=200, deadline=None)
@given(
    name=st.sampled_from(sorted(OPERATIONS)),
    value=PATH_VALUES,
    params=QUERY,
    body=BODIES,
    base=st.sampled_from([URL, URL + "/", "http://127.0.0.1:8080", "http://localhost:9/api/"]),
)
def test_the_template_builds_what_httpx_client_would_send(name, value, params, body, base):
    """The request handed to the transport equals the one httpx.Client would have sent."""
    op = OPERATIONS[name]
    path_params = {field: value for field in ("id", "pec", "dominio") if "{" + field + "}" in op.path}
    call = steps.Call(op, path_params=path_params, params=params, json=body)
    timeout = httpx.Timeout(12.0)
    with httpx.Client(base_url=base, headers={"user-agent": "ua"}, timeout=timeout) as http:
        ours = engine_wire.build_request(
            engine_wire.Wire.of(STACK, base, http.headers, "Bearer tok", timeout), call
        )
        theirs = http.build_request(
            op.method,
            op.url(**path_params),
            params={k: v for k, v in params.items() if v is not None} or None,
            json=body,
            headers=engine_wire.PDF_ACCEPT if op.returns_pdf else engine_wire.JSON_ACCEPT,
        )
    theirs.headers["authorization"] = "Bearer tok"  # what an httpx.Auth would add
    assert (ours.method, str(ours.url)) == (theirs.method, str(theirs.url))
    assert sorted(ours.headers.multi_items()) == sorted(theirs.headers.multi_items())
    assert ours.read() == theirs.read()
    assert ours.extensions == theirs.extensions


def test_a_streamed_body_is_byte_for_byte_what_httpx_would_send():
    body = {"documenti": ["QUJD" * 300_000, 'é"\\'], "n": 1, "ok": True, "none": None}
    call = steps.Call(OPERATIONS["activate_mailbox"], path_params={"id": "1"}, json=body)
    with httpx.Client(base_url=URL, headers={"user-agent": "ua"}) as http:
        ours = engine_wire.build_request(
            engine_wire.Wire.of(STACK, URL, http.headers, "Bearer tok", http.timeout), call
        )
        theirs = http.build_request("PATCH", "/pec/1/attivazione", json=body, headers=engine_wire.JSON_ACCEPT)
    theirs.headers["authorization"] = "Bearer tok"
    assert isinstance(ours.stream, engine_wire._JsonStream)
    assert sorted(ours.headers.multi_items()) == sorted(theirs.headers.multi_items())
    assert ours.read() == theirs.read()
