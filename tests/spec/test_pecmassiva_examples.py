"""Every example of Openapi's PEC Massiva spec goes through the generated pecmassiva_api without loss.

The examples are read from the pinned upstream document at test time, never copied here. Examples
that only parse after a correction name the overlay action that corrects them (by its target), and
the test checks that the raw document indeed lacks what the action adds.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator
from types import ModuleType
from typing import Any
from urllib.parse import quote_plus, unquote_plus

import httpx
import pytest

import pecmassiva_api.api
import pipeline
from pecmassiva_api.client import Client
from pecmassiva_api.models.inbox_single import InboxSingle
from pecmassiva_api.models.massiva_envelope import MassivaEnvelope
from pecmassiva_api.models.request_send import RequestSend

HTTP_METHODS = ("get", "post", "put", "patch", "delete")
ENVELOPE_ACTION = (
    "$.paths.*.*.responses[?@.content['application/json'] && !@.content['application/json'].schema]"
)
ATTACHMENTS_ACTIONS = (
    "$.components.schemas.RequestSend.properties.attachments",
    "$.components.schemas.RequestSend.properties",
)
RECIPIENT_ACTIONS = (
    "$.components.schemas.RequestSend.properties.recipient",
    "$.components.schemas.RequestSend",
)
ID_ACTIONS = (
    "$.components.schemas.InboxSearch.properties.id",
    "$.paths['/inbox/{id}'].*.parameters[?@.name == 'id'].schema",
)
# Which examples parse only thanks to overlay actions (by the actions' targets).
CORRECTED_BY = {
    "every error example and the two DELETE 200s: upstream declares no schema for them": (ENVELOPE_ACTION,),
    "the request example of POST /send: `attachments` is an array, declared an object": ATTACHMENTS_ACTIONS,
    "the request example of POST /send: `recipient` is string-or-array": RECIPIENT_ACTIONS,
    "GET /inbox: ids and page counts are whole numbers, declared `number`": ID_ACTIONS,
}


def _operation_modules() -> dict[str, ModuleType]:
    modules = {}
    for info in pkgutil.walk_packages(pecmassiva_api.api.__path__, "pecmassiva_api.api."):
        if not info.ispkg:
            modules[info.name.rsplit(".", 1)[1]] = importlib.import_module(info.name)
    return modules


MODULES = _operation_modules()


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method in HTTP_METHODS:
            if method in item:
                yield method.upper(), path, item[method]


def _response_examples(document: dict[str, Any]) -> Iterator[tuple[str, str, int, Any]]:
    for method, path, op in _operations(document):
        for status, response in op["responses"].items():
            media = response.get("content", {}).get("application/json", {})
            if "example" in media:
                yield method, path, int(status), media["example"]


def _client() -> Client:
    return Client(base_url="https://pecmassiva.invalid", raise_on_unexpected_status=True)


def _operation_ids(effective: dict[str, Any]) -> dict[tuple[str, str], str]:
    return {(m, p): op["operationId"] for m, p, op in _operations(effective)}


def test_every_operation_has_a_readable_generated_name(massiva_effective_spec):
    ids = _operation_ids(massiva_effective_spec)
    assert len(ids) == 7
    assert set(ids.values()) == set(MODULES)
    invented = ("get_send", "post_send", "get_inbox_id", "get_quota_")
    assert not any(name.startswith(invented) for name in MODULES)


def test_every_response_example_parses_through_generated_models(
    massiva_upstream_spec, massiva_effective_spec
):
    ids = _operation_ids(massiva_effective_spec)
    examples = list(_response_examples(massiva_upstream_spec))
    with_data = [e for e in examples if "data" in e[3] or "message_id" in e[3]]
    envelopes = [e for e in examples if e not in with_data]
    assert (len(with_data), len(envelopes)) == (5, 15)
    for method, path, status, example in examples:
        module = MODULES[ids[(method, path)]]
        parsed = module._parse_response(client=_client(), response=httpx.Response(status, json=example))
        where = f"{method} {path} {status}"
        raw_media = massiva_upstream_spec["paths"][path][method.lower()]["responses"][str(status)]
        if (method, path, status, example) in with_data:
            assert parsed is not None, where
            assert not isinstance(parsed, MassivaEnvelope), where
            # nothing the server said is lost: the model gives back the example
            assert parsed.to_dict() == example, where
        else:
            # errors and the DELETE confirmations: example only upstream, the envelope after the overlay
            assert "schema" not in raw_media["content"]["application/json"], where
            assert isinstance(parsed, MassivaEnvelope), where
            assert (parsed.success, parsed.message) == (example["success"], example["message"]), where


def test_inbox_ids_and_counts_parse_as_integers(massiva_upstream_spec):
    example = massiva_upstream_spec["paths"]["/inbox"]["get"]["responses"]["200"]["content"][
        "application/json"
    ]["example"]
    raw_id = massiva_upstream_spec["components"]["schemas"]["InboxSearch"]["properties"]["id"]
    assert raw_id["type"] == "number"
    response = httpx.Response(200, json=example)
    parsed = MODULES["list_inbox"]._parse_response(client=_client(), response=response)
    assert [type(item.id) for item in parsed.data] == [int] * len(example["data"])
    counts = (example["page"], example["total"], example["n_of_pages"])
    assert (parsed.page, parsed.total, parsed.n_of_pages) == counts
    # the path parameter is an integer: the generated request never says /inbox/3.0
    kwargs = MODULES["get_inbox_message"]._get_kwargs(3, x_username="u", x_password="p")
    assert kwargs["url"] == "/inbox/3"


def test_the_request_example_round_trips_only_with_the_overlay(massiva_upstream_spec):
    media = massiva_upstream_spec["paths"]["/send"]["post"]["requestBody"]["content"]["application/json"]
    example = media["example"]
    raw = massiva_upstream_spec["components"]["schemas"]["RequestSend"]["properties"]
    # upstream: one Attachment object, a recipient that is string-or-array; the example sends arrays
    assert raw["attachments"] == {"$ref": "#/components/schemas/Attachment"}
    assert [s["type"] for s in raw["recipient"]["oneOf"]] == ["string", "array"]
    assert isinstance(example["attachments"], list)
    assert isinstance(example["recipient"], list)
    model = RequestSend.from_dict(example)
    assert model.to_dict() == example
    assert [a.name for a in model.attachments] == [a["name"] for a in example["attachments"]]


def test_the_form_encoded_body_is_documented_on_the_model(massiva_effective_spec):
    described = massiva_effective_spec["components"]["schemas"]["InboxSingle"]["properties"]["body"]
    assert "x-www-form-urlencoded" in described["description"]
    text = "Salve, questa è una prova: 100% <b>html</b>"
    message = InboxSingle.from_dict({"body": quote_plus(text)})
    assert unquote_plus(message.body) == text


def test_the_overlay_declares_the_429_of_send(massiva_upstream_spec, massiva_effective_spec):
    assert "429" not in massiva_upstream_spec["paths"]["/send"]["post"]["responses"]
    response = httpx.Response(429, json={"success": False, "message": "Too many requests"})
    parsed = MODULES["send_message"]._parse_response(client=_client(), response=response)
    assert isinstance(parsed, MassivaEnvelope)
    assert parsed.message == "Too many requests"


@pytest.mark.parametrize("description", sorted(CORRECTED_BY))
def test_each_correction_names_existing_overlay_actions(description):
    overlay = pipeline.load_overlay(pipeline.MASSIVA.overlay)
    targets = {action["target"] for action in overlay["actions"]}
    assert set(CORRECTED_BY[description]) <= targets


def test_massiva_overlay_actions_all_explain_themselves_and_validate(massiva_upstream_spec):
    overlay = pipeline.load_overlay(pipeline.MASSIVA.overlay)
    assert all(len(action["description"]) > 20 for action in overlay["actions"])
    pipeline.validate(pipeline.apply_overlay(massiva_upstream_spec, overlay))
