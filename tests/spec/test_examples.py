"""Every example of the upstream spec goes through the generated client without loss.

The examples are read from Openapi's document at test time (see conftest), never copied here.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import httpx
import pytest

import pec_api.api
from pec_api.client import Client
from pec_api.models.error_envelope import ErrorEnvelope
from pec_api.types import File

HTTP_METHODS = ("get", "post", "put", "patch", "delete")

# Request examples that break the spec's own request enums. The generated request models keep
# the enums strict on purpose; pec_ext normalizes these inputs before they reach the models.
REQUEST_EXAMPLE_EXCEPTIONS = {
    "register_mailbox": (
        "POST /pec example sends tipo_casella 'bronze' (enum is uppercase) and "
        "sottotipo_cliente '' (not an enum value)"
    ),
}


def _operation_modules() -> dict[str, ModuleType]:
    modules = {}
    for info in pkgutil.walk_packages(pec_api.api.__path__, "pec_api.api."):
        if not info.ispkg:
            modules[info.name.rsplit(".", 1)[1]] = importlib.import_module(info.name)
    return modules


MODULES = _operation_modules()


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method in HTTP_METHODS:
            if method in item:
                yield method.upper(), path, item[method]


def _operation_ids(upstream: dict[str, Any], effective: dict[str, Any]) -> dict[tuple[str, str], str]:
    return {(m, p): op["operationId"] for m, p, op in _operations(effective)}


def _json_response_examples(upstream: dict[str, Any]) -> list[tuple[str, str, int, Any]]:
    found = []
    for method, path, op in _operations(upstream):
        for status, response in op["responses"].items():
            media = response.get("content", {}).get("application/json", {})
            if "example" in media:
                found.append((method, path, int(status), media["example"]))
    return found


def _client() -> Client:
    return Client(base_url="https://pec.invalid", raise_on_unexpected_status=True)


def test_every_operation_has_a_readable_generated_name(upstream_spec, effective_spec):
    ids = _operation_ids(upstream_spec, effective_spec)
    assert len(ids) == 19
    assert set(ids.values()) == set(MODULES)
    assert not any(name.startswith(("get_pec", "patch_pec", "post_pec")) for name in MODULES)


def test_json_response_examples_parse_through_generated_models(upstream_spec, effective_spec):
    ids = _operation_ids(upstream_spec, effective_spec)
    examples = _json_response_examples(upstream_spec)
    successes = [e for e in examples if e[2] == 200]
    errors = [e for e in examples if e[2] != 200]
    assert (len(examples), len(successes), len(errors)) == (70, 16, 54)

    for method, path, status, example in examples:
        module = MODULES[ids[(method, path)]]
        response = httpx.Response(status, json=example)
        parsed = module._parse_response(client=_client(), response=response)
        where = f"{method} {path} {status}"
        if status == 200:
            assert not isinstance(parsed, ErrorEnvelope | None), where
            # nothing the server said is lost: the model gives back the example
            assert parsed.to_dict() == example, where
        else:
            assert isinstance(parsed, ErrorEnvelope), where
            assert parsed.message == example["message"], where
            assert parsed.error == example["error"], where
            assert isinstance(parsed.error, int), where


def test_request_examples_round_trip_through_request_models(upstream_spec, effective_spec):
    ids = _operation_ids(upstream_spec, effective_spec)
    checked, refused = [], []
    for method, path, op in _operations(upstream_spec):
        media = op.get("requestBody", {}).get("content", {}).get("application/json", {})
        if "example" not in media:
            continue
        name = ids[(method, path)]
        body_type = MODULES[name].sync_detailed.__annotations__["body"]
        model = getattr(MODULES[name], body_type) if isinstance(body_type, str) else body_type
        example = media["example"]
        if name in REQUEST_EXAMPLE_EXCEPTIONS:
            with pytest.raises(ValueError, match="is not a valid"):
                model.from_dict(example)
            refused.append(name)
            continue
        assert model.from_dict(example).to_dict() == example, name
        checked.append(name)
    assert len(checked) + len(refused) == 8
    assert refused == sorted(REQUEST_EXAMPLE_EXCEPTIONS)


@pytest.mark.parametrize(
    "operation", ["download_activation_form", "download_conservation_form", "download_power_of_attorney"]
)
def test_pdf_downloads_return_bytes_and_keep_text_errors_apart(operation):
    module = MODULES[operation]
    pdf = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    ok = module._parse_response(
        client=_client(),
        response=httpx.Response(200, content=pdf, headers={"content-type": "application/pdf"}),
    )
    assert isinstance(ok, File)
    assert ok.payload.read() == pdf
    for status in (400, 404, 406):
        error = module._parse_response(
            client=_client(),
            response=httpx.Response(status, text="Invalid id", headers={"content-type": "text/plain"}),
        )
        assert not isinstance(error, File)
        assert error == "Invalid id"


def test_unknown_values_from_the_server_never_raise_while_parsing():
    from pec_api.models.get_mailbox_response_200 import GetMailboxResponse200

    parsed = GetMailboxResponse200.from_dict(
        {
            "success": True,
            "message": "",
            "error": None,
            "data": {
                "id": "6045fdee3a716847a978a471",
                "stato": "sospesa",
                "tipo_casella": "bronze",
                "tipo_documento": "TESSERA_SANITARIA",
                "callback": {"method": "PUT", "url": "https://x.invalid", "field": "data", "data": {}},
                "nuovo_campo": 1,
            },
        }
    )
    assert parsed.data.stato == "sospesa"
    assert parsed.data.tipo_casella == "bronze"
    assert parsed.data.tipo_documento == "TESSERA_SANITARIA"
    assert parsed.data.additional_properties["nuovo_campo"] == 1
