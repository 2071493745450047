"""parse(): both delivery modes into a typed event; hostile bodies only ever give a typed error."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pec_api.models.casella import Casella
from pec_api.models.richiesta_comunicazione_pec import RichiestaComunicazionePec
from pec_ext.callbacks.events import MAX_CALLBACK_BYTES, TOKEN_FIELD, RecordKind, parse, verify_token
from pec_ext.enums import StatoCasella, StatoComunicazione, TipoCasella
from pec_ext.errors import MalformedCallbackError
from pec_ext.sandbox import Sandbox
from tests.support.callbacks import SECRET, activate, advance, create_comm, register_box, signed
from tests.support.http_stack import httpx

FORM = "application/x-www-form-urlencoded"


def test_json_mode_gives_the_typed_mailbox_event(sb: Sandbox, http: httpx.Client) -> None:
    box_id = register_box(http, signed(method="JSON", data={"order": 42}))
    activate(http, box_id)
    (sent,) = sb.callbacks_sent
    assert sent.content_type == "application/json"

    event = parse(sent.body, sent.content_type)
    assert event.kind is RecordKind.MAILBOX
    assert event.id == box_id
    assert event.stato is StatoCasella.IN_EVASIONE
    assert isinstance(event.record, Casella)
    assert event.record.stato is StatoCasella.IN_EVASIONE
    assert event.record.tipo_casella is TipoCasella.BRONZE
    assert event.data == {"order": 42}  # the caller's own data, the token taken out
    assert event.token is not None
    verify_token(SECRET, event.callback_url, event.token)
    assert event.payload == json.loads(sent.body)
    assert not event.confirmed


def test_form_mode_reads_the_named_field(sb: Sandbox, http: httpx.Client) -> None:
    comm_id = create_comm(http, signed(field="pec", data={"ticket": "T-1"}))
    advance(http)
    (sent,) = sb.callbacks_sent
    assert sent.content_type == FORM

    event = parse(sent.body, f"{FORM}; charset=utf-8", field="pec")
    assert event.kind is RecordKind.COMMUNICATION
    assert event.id == comm_id
    assert event.stato is StatoComunicazione.IN_ATTESA_DI_DOCUMENTI
    assert isinstance(event.record, RichiestaComunicazionePec)
    assert event.data == {"ticket": "T-1"}
    with pytest.raises(MalformedCallbackError, match=r"no field 'data'.*fields: pec"):
        parse(sent.body, FORM)


def test_an_unknown_state_stays_a_plain_string() -> None:
    body = json.dumps({"id": "6045fdee3a716847a978a471", "tipo_casella": "BRONZE", "stato": "sospesa"})
    event = parse(body, "application/json")
    assert event.stato == "sospesa"
    assert not isinstance(event.stato, StatoCasella)
    assert event.token is None
    assert event.data == {}


def test_without_content_type_the_mode_is_recognised() -> None:
    record = {"id": "a1", "codice_registro_imprese": "", "stato": "codice_in_richiesta"}
    assert parse(json.dumps(record).encode(), None).kind is RecordKind.COMMUNICATION
    form = httpx.QueryParams({"data": json.dumps(record)})
    assert parse(str(form), "").id == "a1"


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        (b"", "application/json", "the body is empty"),
        (b"{not json", "application/json", "the JSON body is not JSON"),
        (b"[1, 2]", "application/json", "is JSON list, not an object"),
        (b"data=%7Bx", FORM, "form field 'data' is not JSON"),
        (b"other=1", FORM, "no field 'data'"),
        (b"data=1&data=2", FORM, "2 fields named 'data'"),
        (b"\xff\xfe=1", FORM, "not a URL-encoded form"),
        (b"<html/>", "text/html", "'text/html' is neither application/json nor"),
        (b'{"stato": "evasa", "tipo_casella": "GOLD"}', "application/json", "id is None"),
        (b'{"id": "x", "tipo_casella": "GOLD"}', "application/json", "stato is None"),
        (b'{"id": "x", "stato": "evasa"}', "application/json", "neither a mailbox"),
        (
            b'{"id": "x", "stato": "evasa", "tipo_casella": "GOLD", "qualifica": "SOCIO"}',
            "application/json",
            "both a mailbox and a communication",
        ),
        (
            b'{"id": "x", "stato": "evasa", "tipo_casella": "GOLD", "timestamp": "ieri"}',
            "application/json",
            "not a valid mailbox",
        ),
        (b"[" * 100_000, "application/json", "is not JSON"),
    ],
)
def test_a_malformed_body_is_a_typed_error_naming_what_is_wrong(
    body: bytes, content_type: str, message: str
) -> None:
    with pytest.raises(MalformedCallbackError, match=message.replace("(", r"\(").replace("[", r"\[")):
        parse(body, content_type)


def test_an_oversized_body_is_refused_before_decoding() -> None:
    with pytest.raises(MalformedCallbackError, match=f"more than {MAX_CALLBACK_BYTES}"):
        parse(b"{" + b" " * MAX_CALLBACK_BYTES + b"}", "application/json")


CONTENT_TYPES = st.one_of(
    st.none(),
    st.sampled_from(
        ["application/json", FORM, f"{FORM}; charset=latin-1", "text/plain", "", "application/x+json"]
    ),
    st.text(max_size=40),
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
RECORD_KEYS = [
    "id",
    "stato",
    "tipo_casella",
    "codice_registro_imprese",
    "callback",
    "timestamp",
    "multiutenza",
]
RECORDS = st.dictionaries(st.sampled_from(RECORD_KEYS) | st.text(max_size=8), JSON_VALUES, max_size=8)


def _parse_or_typed_error(body: bytes | str, content_type: str | None, field: str = "data") -> None:
    # Any exception but MalformedCallbackError escapes and fails the test.
    try:
        event = parse(body, content_type, field)
    except MalformedCallbackError as exc:
        reason = exc.reason
        event = None
    if event is None:
        assert reason
    else:
        assert event.kind in (RecordKind.MAILBOX, RecordKind.COMMUNICATION)
        assert isinstance(event.id, str)
        assert event.id


@settings(max_examples=300, deadline=None)
@given(body=st.binary(max_size=300) | st.text(max_size=300), content_type=CONTENT_TYPES)
def test_arbitrary_bodies_give_an_event_or_a_typed_error(body: bytes | str, content_type: str | None) -> None:
    _parse_or_typed_error(body, content_type)


@settings(max_examples=300, deadline=None)
@given(record=RECORDS, as_form=st.booleans(), field=st.sampled_from(["data", "pec"]))
def test_arbitrary_records_in_either_mode_give_an_event_or_a_typed_error(
    record: dict[str, Any], as_form: bool, field: str
) -> None:
    text = json.dumps(record)
    if as_form:
        _parse_or_typed_error(str(httpx.QueryParams({field: text})), FORM, field)
    else:
        _parse_or_typed_error(text.encode(), "application/json")


def test_the_token_field_is_never_in_the_users_data(sb: Sandbox, http: httpx.Client) -> None:
    box_id = register_box(http, signed(data={TOKEN_FIELD: "mine", "keep": True}))
    activate(http, box_id)
    event = parse(sb.callbacks_sent[0].body, FORM)
    assert event.data == {"keep": True}
    assert event.token != "mine"
