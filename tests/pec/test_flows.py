"""Reconciliation: a paid or mutating call that fails after it may have reached the server is never
sent again; the client reads state and returns what was applied, or raises OutcomeUnknownError."""

from __future__ import annotations

from typing import Any

import pytest

from pec_ext import (
    OutcomeUnknownError,
    PecClient,
    RequestTimeoutError,
    ServerError,
    TransportError,
)
from pec_ext._pec.client import BASE_URLS
from pec_ext.sandbox import Sandbox
from tests.support.dates import sandbox_on_day
from tests.support.http_stack import httpx

AMBIGUOUS = [
    httpx.ReadTimeout("timed out waiting for the answer"),
    httpx.RemoteProtocolError("server disconnected without sending a response"),
    httpx.ReadError("connection reset by peer"),
    httpx.WriteTimeout("timed out sending the body"),
]
ids = [type(e).__name__ for e in AMBIGUOUS]


def listing(api: Any, **changes: Any) -> httpx.Response:
    body = api.example("list_mailboxes")
    body["data"] = [dict(body["data"][0], **changes)]
    return httpx.Response(200, json=body)


# -- register_mailbox ----------------------------------------------------------------------------


@pytest.mark.parametrize("failure", AMBIGUOUS, ids=ids)
async def test_register_returns_the_box_when_it_was_created(pec, api, data, failure):
    address = data.register_fields()["casella_pec"]
    api.reply("register_mailbox", failure)
    api.reply("list_mailboxes", listing(api, casella_pec=address.upper(), stato="registrata", id=data.BOX_ID))
    api.reply("get_mailbox", api.box(casella_pec=address, id=data.BOX_ID, stato="registrata"))
    box = await pec("register_mailbox", **data.register_fields())
    assert box.id == data.BOX_ID
    assert api.operations() == ["register_mailbox", "list_mailboxes", "get_mailbox"]


@pytest.mark.parametrize("failure", AMBIGUOUS, ids=ids)
async def test_register_outcome_unknown_when_the_box_is_not_there(pec, api, data, failure):
    api.reply("register_mailbox", failure)
    with pytest.raises(OutcomeUnknownError) as caught:
        await pec("register_mailbox", **data.register_fields())
    error = caught.value
    assert isinstance(error, RequestTimeoutError) == isinstance(failure, httpx.TimeoutException)
    assert (error.operation, error.method) == ("register_mailbox", "POST")
    assert error.known is None
    assert api.operations() == ["register_mailbox", "list_mailboxes"]


async def test_register_ignores_an_older_closed_box_with_the_same_address(pec, api, data):
    address = data.register_fields()["casella_pec"]
    api.reply("register_mailbox", httpx.ReadTimeout("slow"))
    api.reply("list_mailboxes", listing(api, casella_pec=address, stato="chiusa"))
    with pytest.raises(OutcomeUnknownError):
        await pec("register_mailbox", **data.register_fields())
    assert api.operations() == ["register_mailbox", "list_mailboxes"]


@pytest.mark.parametrize("status", [502, 504])
async def test_register_reconciles_after_a_gateway_error(pec, api, data, status):
    api.reply("register_mailbox", httpx.Response(status))
    with pytest.raises(OutcomeUnknownError) as caught:
        await pec("register_mailbox", **data.register_fields())
    assert not isinstance(caught.value, RequestTimeoutError)
    assert len(api.sent("register_mailbox")) == 1


async def test_register_unknown_when_reading_back_fails_too(pec, api, data):
    api.reply("register_mailbox", httpx.ReadTimeout("slow"))
    api.reply("list_mailboxes", *[httpx.ConnectError("down")] * 10)
    with pytest.raises(OutcomeUnknownError) as caught:
        await pec("register_mailbox", **data.register_fields())
    assert isinstance(caught.value, RequestTimeoutError)
    assert "reading the state back failed" in str(caught.value)
    assert len(api.sent("register_mailbox")) == 1


async def test_register_connection_refused_is_sent_again(pec, api, data):
    api.reply("register_mailbox", httpx.ConnectError("refused"))
    box = await pec("register_mailbox", **data.register_fields())
    assert box.id == api.examples["register_mailbox"]["data"]["id"]
    assert api.operations() == ["register_mailbox", "register_mailbox"]


async def test_register_refused_every_time_is_a_transport_error(pec, api, data):
    api.reply("register_mailbox", *[httpx.ConnectError("refused")] * 10)
    with pytest.raises(TransportError) as caught:
        await pec("register_mailbox", **data.register_fields(), client_options={"max_retries": 1})
    assert not isinstance(caught.value, OutcomeUnknownError)
    assert api.operations() == ["register_mailbox", "register_mailbox"]


# -- the other mutations -------------------------------------------------------------------------

BOX_ID = "6045fdee3a716847a978a471"


def mutation_cases(data: Any) -> dict[str, tuple[str, tuple[Any, ...], dict[str, Any], dict[str, Any]]]:
    """method -> (operation, args, kwargs, box state that shows the change applied)."""
    users = [dict(data.USER_FIELDS, id_utenza=f"{BOX_ID}_9", userid="MA1", timestamp={"attivazione": 1})]
    return {
        "revoke_mailbox": ("revoke_mailbox", (BOX_ID,), {}, {"stato": "revocata"}),
        "activate_mailbox": (
            "activate_mailbox",
            (BOX_ID, [data.PDF, data.PDF]),
            {},
            {"stato": "in_evasione"},
        ),
        "change_type": ("change_type", (BOX_ID, "GOLD"), {}, {"tipo_casella": "GOLD"}),
        "add_user": ("add_user", (BOX_ID,), data.USER_FIELDS, {"multiutenza": users}),
        "activate_conservation": ("activate_conservation", (BOX_ID, [data.PDF]), {}, {"conservazione": True}),
        "set_space": ("change_space", (BOX_ID,), {"disco": 4096}, {"spazio_disco": 4096}),
    }


BEFORE = {
    "stato": "evasa",
    "tipo_casella": "BRONZE",
    "conservazione": False,
    "spazio_disco": 2048,
    "multiutenza": [],
}
MUTATIONS = [
    "revoke_mailbox",
    "activate_mailbox",
    "change_type",
    "add_user",
    "activate_conservation",
    "set_space",
]


def before(method: str) -> dict[str, Any]:
    return dict(BEFORE, stato="registrata") if method == "activate_mailbox" else dict(BEFORE)


@pytest.mark.parametrize("method", MUTATIONS)
async def test_mutation_returns_the_box_when_the_change_shows(pec, api, data, method):
    operation, args, kwargs, applied = mutation_cases(data)[method]
    state = before(method)
    if method != "revoke_mailbox":  # the others read the box before changing it
        api.reply("get_mailbox", api.box(**state))
    api.reply("get_mailbox", api.box(**dict(state, **applied)))
    api.reply(operation, httpx.ReadTimeout("slow"))
    box = await pec(method, *args, **kwargs)
    for key, value in applied.items():
        if key != "multiutenza":
            assert getattr(box, key) == value
    assert len(api.sent(operation)) == 1
    assert api.operations()[-1] == "get_mailbox"


@pytest.mark.parametrize("method", MUTATIONS)
async def test_mutation_outcome_unknown_when_the_change_does_not_show(pec, api, data, method):
    operation, args, kwargs, _applied = mutation_cases(data)[method]
    state = before(method)
    api.reply("get_mailbox", *[api.box(**state)] * 2)
    api.reply(operation, httpx.RemoteProtocolError("dropped"))
    with pytest.raises(OutcomeUnknownError) as caught:
        await pec(method, *args, **kwargs)
    assert not isinstance(caught.value, RequestTimeoutError)
    assert caught.value.operation == operation
    assert caught.value.known is not None
    assert caught.value.known.id == api.examples["get_mailbox"]["data"]["id"]
    assert len(api.sent(operation)) == 1


async def test_revoke_unknown_when_reading_back_fails(pec, api, data):
    api.reply("revoke_mailbox", httpx.ReadTimeout("slow"))
    api.reply("get_mailbox", *[httpx.Response(503)] * 10)
    with pytest.raises(OutcomeUnknownError) as caught:
        await pec("revoke_mailbox", data.BOX_ID)
    assert isinstance(caught.value, RequestTimeoutError)
    assert len(api.sent("revoke_mailbox")) == 1


async def test_add_space_is_always_reported_unknown(pec, api, data):
    api.reply("get_mailbox", api.box(stato="evasa"))
    api.reply("change_space", httpx.ReadTimeout("slow"))
    with pytest.raises(OutcomeUnknownError):
        await pec("add_space", data.BOX_ID, disco=1024)
    assert len(api.sent("change_space")) == 1


async def test_upload_returns_the_request_when_uploaded(pec, api, data):
    api.reply("upload_communication_documents", httpx.ReadTimeout("slow"))
    item = await pec("upload_communication_documents", data.COMM_ID, data.p7m())
    assert item.stato == api.examples["get_communication"]["data"]["stato"]
    assert api.operations() == ["upload_communication_documents", "get_communication"]


async def test_upload_unknown_when_not_uploaded(pec, api, data):
    waiting = api.example("get_communication", stato="in_attesa_di_documenti")
    api.reply("upload_communication_documents", httpx.ReadTimeout("slow"))
    api.reply("get_communication", httpx.Response(200, json=waiting))
    with pytest.raises(OutcomeUnknownError) as caught:
        await pec("upload_communication_documents", data.COMM_ID, data.p7m())
    assert caught.value.known.stato == "in_attesa_di_documenti"


async def test_communicate_is_reported_with_what_exists(pec, api, data):
    api.reply("communicate_pec", httpx.ReadTimeout("slow"))
    with pytest.raises(OutcomeUnknownError) as caught:
        await pec("communicate_pec", **data.communication_fields())
    assert isinstance(caught.value, RequestTimeoutError)
    assert caught.value.known is None  # the examples' communications are for other addresses
    assert api.operations() == ["communicate_pec", "list_communications"]


async def test_raw_mutation_outcome_unknown(pec, api):
    api.reply(None, httpx.ReadTimeout("slow"))
    with pytest.raises(OutcomeUnknownError) as caught:
        await pec("request", "POST", "/dominio", json={"dominio": "example.org"})
    assert isinstance(caught.value, RequestTimeoutError)
    assert len(api.sent()) == 1


async def test_raw_mutation_after_a_gateway_error(pec, api):
    api.reply(None, httpx.Response(502))
    with pytest.raises(OutcomeUnknownError):
        await pec("request", "PATCH", "/dominio")
    api.reply(None, httpx.Response(500))  # the API failed, maybe after applying it
    with pytest.raises(OutcomeUnknownError):
        await pec("request", "PATCH", "/dominio")
    api.reply(None, httpx.Response(501))  # refused: never done by this server
    with pytest.raises(ServerError):
        await pec("request", "PATCH", "/dominio")


# -- fault injection against the sandbox ---------------------------------------------------------


class CommitThenDrop(httpx.BaseTransport):
    """Passes chosen requests to the sandbox (so they are applied), then loses the answer."""

    def __init__(self, inner: httpx.BaseTransport, drop: set[tuple[str, str]], failure: type) -> None:
        self.inner = inner
        self.drop = drop
        self.failure = failure
        self.sent: list[tuple[str, str]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        key = (request.method, request.url.path.rsplit("/", 1)[-1] if "/pec/" in request.url.path else "")
        self.sent.append((request.method, request.url.path))
        response = self.inner.handle_request(request)
        if key in self.drop or (request.method, request.url.path) in self.drop:
            response.close()
            raise self.failure("connection dropped after the server applied the request")
        return response


def charges(sb: Sandbox, operation: str) -> int:
    return sum(1 for entry in sb.ledger if entry.get("operation") == operation)


@pytest.mark.parametrize("failure", [httpx.ReadTimeout, httpx.RemoteProtocolError])
def test_sandbox_no_double_registration(data, conformance, failure):
    sb = sandbox_on_day(balance=100.0)
    inner = data.ConformingTransport(sb.transport(), conformance)
    transport = CommitThenDrop(inner, {("POST", "/pec")}, failure)
    with PecClient("sandbox-token", base_url=BASE_URLS["sandbox"], transport=transport) as pec:
        box = pec.register_mailbox(**data.register_fields())
    assert box.casella_pec == data.register_fields()["casella_pec"]
    assert box.stato == "registrata"
    assert [path for method, path in transport.sent if method == "POST"] == ["/pec"]
    assert len(sb.mailboxes()) == 1
    assert charges(sb, "POST /pec") == 1
    assert len(conformance.checked) == len(transport.sent)


def test_sandbox_registration_lost_before_the_server(data, conformance):
    """The request never reached the sandbox: reconciliation finds nothing and says so."""

    class LoseRequest(httpx.BaseTransport):
        def __init__(self, inner: httpx.BaseTransport) -> None:
            self.inner, self.posts = inner, 0

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            if request.method == "POST":
                self.posts += 1
                raise httpx.WriteTimeout("lost on the way")
            return self.inner.handle_request(request)

    sb = sandbox_on_day(balance=100.0)
    transport = LoseRequest(data.ConformingTransport(sb.transport(), conformance))
    client = PecClient("sandbox-token", base_url=BASE_URLS["sandbox"] + "/", transport=transport)
    with client as pec, pytest.raises(OutcomeUnknownError) as caught:
        pec.register_mailbox(**data.register_fields())
    assert isinstance(caught.value, RequestTimeoutError)
    assert transport.posts == 1
    assert sb.mailboxes() == []
    assert sb.balance == 100.0


def test_sandbox_every_mutation_applied_once_despite_dropped_answers(data, conformance):
    sb = sandbox_on_day(balance=500.0)
    inner = data.ConformingTransport(sb.transport(), conformance)
    drop = {("PATCH", "attivazione"), ("PATCH", "trasformazione"), ("POST", "multiutenza")}
    transport = CommitThenDrop(inner, drop, httpx.ReadTimeout)
    with PecClient("sandbox-token", base_url=BASE_URLS["sandbox"], transport=transport) as pec:
        box = pec.register_mailbox(**data.register_fields())
        activated = pec.activate_mailbox(box.id, [data.PDF, data.PDF])
        assert activated.stato in ("in_evasione", "evasa")
        sb.advance()
        assert pec.wait_for_mailbox(box.id, timeout=5, poll=1).stato == "evasa"
        assert pec.change_type(box.id, "GOLD").tipo_casella == "GOLD"
        users = pec.add_user(box.id, **data.USER_FIELDS).multiutenza
        assert [u.email_gestione_password for u in users] == [data.USER_FIELDS["email_gestione_password"]]
        transport.drop = {(("DELETE", f"/pec/{box.id}"))}
        assert pec.revoke_mailbox(box.id).stato == "revocata"
    for operation in (
        "POST /pec",
        "PATCH /pec/{id}/trasformazione",
        "POST /pec/{id}/multiutenza",
    ):
        assert charges(sb, operation) == 1, operation
    assert sum(1 for method, path in transport.sent if method == "PATCH" and "attivazione" in path) == 1
    assert sum(1 for method, _ in transport.sent if method == "DELETE") == 1


def test_sandbox_upload_applied_once(data, conformance):
    sb = sandbox_on_day(balance=100.0)
    transport = CommitThenDrop(
        data.ConformingTransport(sb.transport(), conformance), set(), httpx.RemoteProtocolError
    )
    with PecClient("sandbox-token", base_url=BASE_URLS["sandbox"], transport=transport) as pec:
        item = pec.communicate_pec(**data.communication_fields())
        sb.advance()
        assert pec.get_communication(item.id).stato == "in_attesa_di_documenti"
        transport.drop = {("PATCH", f"/comunica_pec/{item.id}")}
        uploaded = pec.upload_communication_documents(item.id, data.p7m())
        assert uploaded.stato in ("documenti_caricati", "comunicazione_evasa")
    assert sum(1 for method, _ in transport.sent if method == "PATCH") == 1


async def test_activation_already_processed_counts_as_applied(pec, api, data):
    api.reply("get_mailbox", api.box(stato="registrata"), api.box(stato="evasa"))
    api.reply("activate_mailbox", httpx.ReadTimeout("slow"))
    box = await pec("activate_mailbox", data.BOX_ID, [data.PDF, data.PDF])
    assert box.stato == "evasa"
    assert len(api.sent("activate_mailbox")) == 1
