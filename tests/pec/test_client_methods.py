"""Every client method, on both clients: what goes on the wire, and what comes back.

Each request is validated against the effective spec by the ``api`` fixture (openapi-core), and
the answers are the spec's own examples, read at test time.
"""

from __future__ import annotations

import base64
import inspect
import os
from pathlib import Path
from urllib.parse import unquote

import pytest

from pec_api.models.casella import Casella
from pec_api.models.caselle import Caselle
from pec_api.models.check_availability_response_200_data import CheckAvailabilityResponse200Data
from pec_api.models.richiesta_comunicazione_pec import RichiestaComunicazionePec
from pec_api.models.richieste_comunicazione_pec import RichiesteComunicazionePec
from pec_ext import (
    AsyncPecClient,
    InvalidResponseError,
    NotFoundError,
    OutcomeUnknownError,
    PecClient,
    UnexpectedStateError,
    ValidationError,
    WaitTimeoutError,
)
from pec_ext.enums import StatoCasella, StatoComunicazione, TipoCasella
from tests.support.http_stack import httpx


def path_of(request: httpx.Request) -> str:
    return request.url.raw_path.split(b"?", 1)[0].decode("ascii")


# -- reads ---------------------------------------------------------------------------------------


async def test_check_domain(pec, api):
    result = await pec("check_domain", "legalmail.it")
    (request,) = api.sent()
    assert (request.method, path_of(request)) == ("GET", "/domini_pec/legalmail.it")
    assert request.headers["accept"] == "application/json"
    assert request.url.params == httpx.QueryParams()
    assert request.content == b""
    assert result == api.examples["check_domain"]["data"]
    assert isinstance(result, list)


async def test_domain_eligibility_is_the_status(pec, api):
    assert await pec("is_domain_eligible", "legalmail.it") is True
    api.reply("check_domain", httpx.Response(204))
    assert await pec("is_domain_eligible", "example.com") is False
    api.reply("check_domain", httpx.Response(204))
    assert await pec("check_domain", "example.com") == []
    assert api.operations() == ["check_domain"] * 3


async def test_no_content_is_a_result_only_where_the_spec_documents_it(pec, api, data):
    api.reply("get_mailbox", httpx.Response(204))
    with pytest.raises(InvalidResponseError, match="empty"):
        await pec("get_mailbox", data.BOX_ID)


async def test_success_false_on_a_paid_call_is_a_refusal_not_reconciled(pec, api, data):
    api.reply("renew_mailbox", httpx.Response(200, json={"success": False, "message": "no", "error": 999}))
    with pytest.raises(InvalidResponseError) as caught:
        await pec("renew_mailbox", data.BOX_ID)
    assert caught.value.refused_by_server is True
    assert caught.value.code == 999
    assert api.operations() == ["renew_mailbox"]


async def test_garbled_200_on_a_paid_call_is_reconciled_never_resent(pec, api, data):
    api.reply("renew_mailbox", httpx.Response(200, content=b'{"success": true, "data": {"id'))
    with pytest.raises(OutcomeUnknownError) as caught:
        await pec("renew_mailbox", data.BOX_ID)
    assert isinstance(caught.value.__cause__, InvalidResponseError)
    assert api.operations() == ["renew_mailbox", "get_mailbox"]


async def test_check_availability_and_is_available(pec, api, data):
    address = "mario.bianchi@testcert.legalmail.it"
    result = await pec("check_availability", address)
    assert isinstance(result, CheckAvailabilityResponse200Data)
    (request,) = api.sent("check_availability")
    assert request.method == "GET"
    assert unquote(path_of(request)) == f"/verifica_pec/{address}"

    api.reply("check_availability", httpx.Response(200, json=data.envelope({"available": True})))
    assert await pec("is_available", address) is True
    api.reply("check_availability", httpx.Response(200, json=data.envelope({"available": False})))
    assert await pec("is_available", address) is False
    # no "available" in the answer: not available, never an error
    api.reply("check_availability", httpx.Response(200, json=data.envelope({})))
    assert await pec("is_available", address) is False
    assert await pec("is_available", address) is api.examples["check_availability"]["data"]["available"]


async def test_check_availability_refuses_a_non_address_before_sending(pec, api):
    with pytest.raises(ValidationError):
        await pec("check_availability", "not an address")
    assert api.sent() == []


async def test_list_mailboxes(pec, api):
    boxes = await pec("list_mailboxes")
    (request,) = api.sent()
    assert (request.method, path_of(request)) == ("GET", "/pec")
    assert len(boxes) == len(api.examples["list_mailboxes"]["data"])
    assert all(isinstance(box, Caselle) for box in boxes)
    assert [box.id for box in boxes] == [b["id"] for b in api.examples["list_mailboxes"]["data"]]


async def test_list_mailboxes_empty_account_is_an_empty_list(pec, api, error_examples):
    example = next(e for op, s, e in error_examples if op == "list_mailboxes" and s == 404)
    api.reply("list_mailboxes", httpx.Response(404, json=example))
    assert await pec("list_mailboxes") == []
    # a 404 with another code stays an error
    api.reply("list_mailboxes", httpx.Response(404, json={**example, "error": 999}))
    with pytest.raises(NotFoundError):
        await pec("list_mailboxes")


async def test_get_mailbox(pec, api, data):
    box = await pec("get_mailbox", data.BOX_ID)
    (request,) = api.sent()
    assert (request.method, path_of(request)) == ("GET", f"/pec/{data.BOX_ID}")
    assert isinstance(box, Casella)
    assert box.to_dict() == api.examples["get_mailbox"]["data"]


async def test_known_states_and_types_are_enums_unknown_ones_stay_strings(pec, api, data):
    example = api.examples["get_mailbox"]
    box = await pec("get_mailbox", data.BOX_ID)
    assert box.stato is StatoCasella(example["data"]["stato"])
    assert box.tipo_casella is TipoCasella(example["data"]["tipo_casella"])

    changed = {**example, "data": {**example["data"], "stato": "sospesa", "tipo_casella": "bronze"}}
    api.reply("get_mailbox", httpx.Response(200, json=changed))
    box = await pec("get_mailbox", data.BOX_ID)
    assert box.stato == "sospesa"
    assert type(box.stato) is str
    assert box.tipo_casella is TipoCasella.BRONZE

    items = await pec("list_communications")
    assert all(isinstance(item.stato, StatoComunicazione) for item in items)


async def test_list_communications(pec, api, error_examples):
    items = await pec("list_communications")
    (request,) = api.sent()
    assert (request.method, path_of(request)) == ("GET", "/comunica_pec")
    assert all(isinstance(item, RichiesteComunicazionePec) for item in items)
    assert len(items) == len(api.examples["list_communications"]["data"])
    example = next(e for op, s, e in error_examples if op == "list_communications" and s == 404)
    api.reply("list_communications", httpx.Response(404, json=example))
    assert await pec("list_communications") == []


async def test_get_communication(pec, api, data):
    item = await pec("get_communication", data.COMM_ID)
    (request,) = api.sent()
    assert (request.method, path_of(request)) == ("GET", f"/comunica_pec/{data.COMM_ID}")
    assert isinstance(item, RichiestaComunicazionePec)
    assert item.to_dict() == api.examples["get_communication"]["data"]


# -- paid and mutating calls ---------------------------------------------------------------------


async def test_register_mailbox(pec, api, data):
    fields = data.register_fields()
    box = await pec("register_mailbox", **fields)
    (request,) = api.sent()
    assert (request.method, path_of(request)) == ("POST", "/pec")
    body = data.json_body(request)
    assert body["tipo_casella"] == "BRONZE"  # normalized from "bronze"
    for key in ("casella_pec", "codice_fiscale_richiedente", "data_nascita_richiedente"):
        assert body[key] == fields[key]
    assert request.headers["content-type"] == "application/json"
    assert isinstance(box, Casella)
    assert box.id == api.examples["register_mailbox"]["data"]["id"]


async def test_register_mailbox_accepts_a_body_model(pec, api, data):
    from pec_api.models.body_post_pec import BodyPostPec

    fields = data.register_fields(tipo_casella="BRONZE")
    await pec("register_mailbox", BodyPostPec.from_dict(fields))
    assert data.json_body(api.sent()[0])["casella_pec"] == fields["casella_pec"]


async def test_register_mailbox_refuses_bad_input_before_paying(pec, api, data):
    with pytest.raises(ValidationError) as caught:
        await pec("register_mailbox", **data.register_fields(casella_pec="someone@gmail.com"))
    assert caught.value.field == "casella_pec"
    assert api.sent() == []


async def test_revoke_mailbox(pec, api, data):
    box = await pec("revoke_mailbox", data.BOX_ID)
    (request,) = api.sent()
    assert (request.method, path_of(request)) == ("DELETE", f"/pec/{data.BOX_ID}")
    assert request.content == b""
    assert isinstance(box, Casella)
    assert box.stato == api.examples["revoke_mailbox"]["data"]["stato"]


async def test_activate_mailbox(pec, api, data):
    api.reply("get_mailbox", api.box(stato="registrata", tipo_casella="BRONZE"))
    box = await pec("activate_mailbox", data.BOX_ID, [data.PDF, data.PDF])
    assert api.operations() == ["get_mailbox", "activate_mailbox"]
    request = api.sent("activate_mailbox")[0]
    assert (request.method, path_of(request)) == ("PATCH", f"/pec/{data.BOX_ID}/attivazione")
    documents = data.json_body(request)["documenti"]
    assert [base64.b64decode(d) for d in documents] == [data.PDF, data.PDF]
    assert isinstance(box, Casella)


async def test_activate_mailbox_refuses_a_non_pdf(pec, api, data):
    api.reply("get_mailbox", api.box(stato="registrata"))
    with pytest.raises(ValidationError):
        await pec("activate_mailbox", data.BOX_ID, [b"just some text", data.PDF])
    assert api.operations() == ["get_mailbox"]


async def test_change_space(pec, api, data):
    api.reply("get_mailbox", api.box(stato="evasa", spazio_disco=2048, conservazione=True))
    box = await pec("change_space", data.BOX_ID, spazio_disco="+1024", spazio_conservazione=1024)
    request = api.sent("change_space")[0]
    assert (request.method, path_of(request)) == ("PATCH", f"/pec/{data.BOX_ID}/modifica")
    assert data.json_body(request) == {"spazio_disco": "+1024", "spazio_conservazione": 1024}
    assert isinstance(box, Casella)


async def test_add_space(pec, api, data):
    api.reply("get_mailbox", api.box(stato="evasa"))
    await pec("add_space", data.BOX_ID, disco=1024, storico=2048)
    assert api.operations() == ["get_mailbox", "change_space"]
    assert data.json_body(api.sent("change_space")[0]) == {"spazio_disco": "+1024", "spazio_storico": "+2048"}


async def test_set_space(pec, api, data):
    api.reply("get_mailbox", api.box(stato="evasa", spazio_disco=3072, spazio_storico=3072))
    await pec("set_space", data.BOX_ID, disco=4096, storico=3072)
    # the unchanged size is left out of the body
    assert data.json_body(api.sent("change_space")[0]) == {"spazio_disco": 4096}


async def test_set_space_refuses_a_downgrade_without_paying(pec, api, data):
    api.reply("get_mailbox", api.box(stato="evasa", spazio_disco=3072))
    with pytest.raises(ValidationError):
        await pec("set_space", data.BOX_ID, disco=1024)
    assert api.operations() == ["get_mailbox"]


async def test_activate_conservation(pec, api, data):
    api.reply("get_mailbox", api.box(stato="evasa", conservazione=False, tipo_casella="GOLD"))
    box = await pec("activate_conservation", data.BOX_ID, [data.PDF], space=1024)
    request = api.sent("activate_conservation")[0]
    assert (request.method, path_of(request)) == ("PATCH", f"/pec/{data.BOX_ID}/conservazione")
    body = data.json_body(request)
    assert body["spazio_conservazione"] == 1024
    assert [base64.b64decode(d) for d in body["documenti"]] == [data.PDF]
    assert box.conservazione is True


async def test_activate_conservation_refused_for_single_document_boxes(pec, api, data):
    api.reply("get_mailbox", api.box(tipo_casella="DOMICILIODIGITALE"))
    with pytest.raises(ValidationError):
        await pec("activate_conservation", data.BOX_ID, [data.PDF])
    assert api.operations() == ["get_mailbox"]


async def test_change_type(pec, api, data):
    api.reply("get_mailbox", api.box(stato="evasa", tipo_casella="BRONZE"))
    box = await pec("change_type", data.BOX_ID, "gold")
    request = api.sent("change_type")[0]
    assert (request.method, path_of(request)) == ("PATCH", f"/pec/{data.BOX_ID}/trasformazione")
    assert data.json_body(request) == {"tipo_casella": "GOLD"}
    assert box.tipo_casella == "GOLD"


async def test_change_type_refuses_a_downgrade_before_paying(pec, api, data):
    api.reply("get_mailbox", api.box(tipo_casella="GOLD"))
    with pytest.raises(ValidationError):
        await pec("change_type", data.BOX_ID, "BRONZE")
    assert api.operations() == ["get_mailbox"]


async def test_renew_mailbox(pec, api, data):
    box = await pec("renew_mailbox", data.BOX_ID, anni=2)
    (request,) = api.sent()
    assert (request.method, path_of(request)) == ("GET", f"/pec/{data.BOX_ID}/rinnovo")
    assert dict(request.url.params) == {"anni": "2"}
    assert isinstance(box, Casella)


async def test_renew_mailbox_refuses_zero_years(pec, api, data):
    with pytest.raises(ValidationError):
        await pec("renew_mailbox", data.BOX_ID, anni=0)
    assert api.sent() == []


async def test_add_user(pec, api, data):
    box = await pec("add_user", data.BOX_ID, **data.USER_FIELDS)
    assert api.operations() == ["get_mailbox", "add_user"]
    request = api.sent("add_user")[0]
    assert (request.method, path_of(request)) == ("POST", f"/pec/{data.BOX_ID}/multiutenza")
    assert data.json_body(request) == data.USER_FIELDS
    assert isinstance(box, Casella)


async def test_communicate_pec(pec, api, data):
    fields = data.communication_fields()
    item = await pec("communicate_pec", **fields)
    (request,) = api.sent()
    assert (request.method, path_of(request)) == ("POST", "/comunica_pec")
    body = data.json_body(request)
    assert body["qualifica"] == "TITOLARE"
    assert body["casella_pec"] == fields["casella_pec"]
    assert isinstance(item, RichiestaComunicazionePec)


async def test_upload_communication_documents(pec, api, data):
    signed = data.p7m()
    item = await pec("upload_communication_documents", data.COMM_ID, signed)
    (request,) = api.sent()
    assert (request.method, path_of(request)) == ("PATCH", f"/comunica_pec/{data.COMM_ID}")
    assert [base64.b64decode(d) for d in data.json_body(request)["documenti"]] == [signed]
    assert isinstance(item, RichiestaComunicazionePec)


async def test_upload_refuses_a_plain_pdf(pec, api, data):
    with pytest.raises(ValidationError):
        await pec("upload_communication_documents", data.COMM_ID, data.PDF)
    assert api.sent() == []


# -- downloads -----------------------------------------------------------------------------------

DOWNLOADS = [
    ("download_activation_form", "/pec/{}/modulo_attivazione"),
    ("download_conservation_form", "/pec/{}/modulo_conservazione"),
    ("download_power_of_attorney", "/comunica_pec/{}/procura_registro_imprese"),
]


@pytest.mark.parametrize(("method", "path"), DOWNLOADS)
async def test_download_returns_the_pdf(pec, api, data, method, path):
    result = await pec(method, data.BOX_ID)
    (request,) = api.sent()
    assert (request.method, path_of(request)) == ("GET", path.format(data.BOX_ID))
    assert "application/pdf" in request.headers["accept"]
    assert result == data.PDF


@pytest.mark.parametrize(("method", "path"), DOWNLOADS)
async def test_download_to_a_path(pec, api, data, tmp_path, method, path):
    target = tmp_path / "form.pdf"
    assert await pec(method, data.BOX_ID, to=target) == data.PDF
    assert target.read_bytes() == data.PDF
    # no temporary file left beside it
    assert os.listdir(tmp_path) == ["form.pdf"]

    # an existing file is not overwritten, and nothing is downloaded
    target.write_bytes(b"mine")
    with pytest.raises(ValidationError) as caught:
        await pec(method, data.BOX_ID, to=str(target))
    assert caught.value.field == "to"
    assert target.read_bytes() == b"mine"
    assert len(api.sent()) == 1

    assert await pec(method, data.BOX_ID, to=target, overwrite=True) == data.PDF
    assert target.read_bytes() == data.PDF
    assert sorted(os.listdir(tmp_path)) == ["form.pdf"]


async def test_download_failure_leaves_no_file(pec, api, data, tmp_path):
    api.reply("download_activation_form", httpx.Response(404, text="pec not found"))
    target = tmp_path / "form.pdf"
    with pytest.raises(NotFoundError):
        await pec("download_activation_form", data.BOX_ID, to=target)
    assert os.listdir(tmp_path) == []


async def test_download_into_a_missing_folder_is_refused_before_the_call(pec, api, data, tmp_path):
    with pytest.raises(ValidationError) as caught:
        await pec("download_activation_form", data.BOX_ID, to=tmp_path / "nope" / "form.pdf")
    assert caught.value.field == "to"
    assert api.sent() == []


def test_write_atomically_never_clobbers_a_file_that_appeared(tmp_path: Path):
    from pec_ext._pec.flows import write_atomically

    target = tmp_path / "x.pdf"
    target.write_bytes(b"theirs")
    with pytest.raises(FileExistsError):
        write_atomically(target, b"ours", overwrite=False)
    assert target.read_bytes() == b"theirs"
    assert os.listdir(tmp_path) == ["x.pdf"]


# -- waiting -------------------------------------------------------------------------------------


async def test_wait_for_mailbox_polls_until_the_state(pec, api, data, clock):
    api.reply(
        "get_mailbox",
        api.box(stato="registrata"),
        api.box(stato="in_evasione"),
        api.box(stato="evasa"),
    )
    box = await pec("wait_for_mailbox", data.BOX_ID, timeout=100, poll=2)
    assert box.stato == "evasa"
    assert api.operations() == ["get_mailbox"] * 3
    assert clock.sleeps == [2, 3.0]  # the poll interval grows


async def test_wait_for_mailbox_accepts_one_state_as_a_string(pec, api, data):
    api.reply("get_mailbox", api.box(stato="in_evasione"), api.box(stato="evasa"))
    box = await pec("wait_for_mailbox", data.BOX_ID, "evasa", timeout=100, poll=1)
    assert box.stato == "evasa"


@pytest.mark.parametrize("state", ["documenti_errati", "registrazione_annullata", "revocata", "chiusa"])
async def test_wait_for_mailbox_stops_early_on_a_final_state(pec, api, data, clock, state):
    api.reply("get_mailbox", api.box(stato="in_evasione"), api.box(stato=state))
    with pytest.raises(UnexpectedStateError) as caught:
        await pec("wait_for_mailbox", data.BOX_ID, timeout=600, poll=5)
    assert caught.value.state == state
    assert caught.value.record.stato == state
    assert len(api.sent()) == 2
    assert clock.sleeps == [5]


async def test_wait_for_mailbox_times_out(pec, api, data, clock):
    api.reply("get_mailbox", *[api.box(stato="in_evasione")] * 50)
    with pytest.raises(WaitTimeoutError) as caught:
        await pec("wait_for_mailbox", data.BOX_ID, timeout=10, poll=3)
    assert caught.value.state == "in_evasione"
    # never sleeps past the deadline
    assert sum(clock.sleeps) == pytest.approx(10)
    assert len(api.sent()) == len(clock.sleeps) + 1


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"timeout": 0}, "timeout"),
        ({"timeout": float("nan")}, "timeout"),
        ({"poll": -1}, "poll"),
        ({"poll": float("inf")}, "poll"),
        ({"until": ()}, "until"),
    ],
)
async def test_wait_refuses_bad_limits(pec, api, data, options, field):
    with pytest.raises(ValidationError) as caught:
        await pec("wait_for_mailbox", data.BOX_ID, **options)
    assert caught.value.field == field
    assert api.sent() == []


async def test_wait_for_communication(pec, api, data, clock):
    pending = httpx.Response(200, json=api.example("get_communication", stato="documenti_caricati"))
    api.reply("get_communication", pending)
    item = await pec("wait_for_communication", data.COMM_ID, timeout=60, poll=1)
    assert item.stato == "comunicazione_evasa"
    assert clock.sleeps == [1]
    api.reply("get_communication", *[pending] * 20)
    with pytest.raises(WaitTimeoutError):
        await pec("wait_for_communication", data.COMM_ID, timeout=5, poll=1)


# -- the raw escape hatch ------------------------------------------------------------------------


async def test_request_raw_endpoint(pec, api, data):
    api.reply(None, httpx.Response(200, json=data.envelope([{"dominio": "example.org"}])))
    result = await pec("request", "GET", "/dominio", params={"page": 2})
    (request,) = api.sent()
    assert (request.method, path_of(request), dict(request.url.params)) == ("GET", "/dominio", {"page": "2"})
    assert request.headers["authorization"] == f"Bearer {data.TOKEN}"
    assert result == [{"dominio": "example.org"}]


async def test_request_raw_goes_through_envelope_errors_and_retries(pec, api, data, clock):
    api.reply(
        None,
        httpx.Response(503),
        httpx.Response(404, json={"success": False, "message": "nope", "error": 12, "data": None}),
    )
    with pytest.raises(NotFoundError) as caught:
        await pec("request", "get", "/dominio")
    assert (caught.value.code, caught.value.message) == (12, "nope")
    assert len(api.sent()) == 2
    assert len(clock.sleeps) == 1


@pytest.mark.parametrize("path", ["dominio", "https://evil.example/x", "//evil.example/x"])
async def test_request_raw_stays_on_the_api_host(pec, api, path):
    with pytest.raises(ValidationError):
        await pec("request", "GET", path)
    assert api.sent() == []


async def test_request_raw_refuses_a_body_that_is_not_json(pec, api):
    with pytest.raises(ValidationError):
        await pec("request", "POST", "/dominio", json={"x": object()})
    assert api.sent() == []


# -- the two clients mirror each other -----------------------------------------------------------


def public_methods(cls: type) -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(member)
        for name, member in inspect.getmembers(cls, inspect.isfunction)
        if not name.startswith("_")
    }


def test_sync_and_async_clients_have_the_same_methods_and_signatures():
    sync, asynchronous = public_methods(PecClient), public_methods(AsyncPecClient)
    assert sorted(sync) == sorted(asynchronous)
    for name, signature in sync.items():
        assert signature == asynchronous[name], name
        is_coroutine = inspect.iscoroutinefunction(getattr(AsyncPecClient, name))
        # with_options returns a client: making one does no I/O on either side.
        assert is_coroutine == (name != "with_options"), f"AsyncPecClient.{name}"
    expected = {
        "check_domain", "is_domain_eligible", "check_availability", "is_available", "list_mailboxes",
        "register_mailbox",
        "get_mailbox", "revoke_mailbox", "activate_mailbox", "change_space", "add_space", "set_space",
        "activate_conservation", "change_type", "renew_mailbox", "add_user", "list_communications",
        "communicate_pec", "get_communication", "upload_communication_documents",
        "download_activation_form", "download_conservation_form", "download_power_of_attorney",
        "wait_for_mailbox", "wait_for_communication", "request", "close",
    }  # fmt: skip
    assert expected <= set(sync)


def test_every_operation_is_reached_by_a_method():
    from pec_ext._pec.operations import OPERATIONS

    assert set(OPERATIONS) <= set(public_methods(PecClient))
