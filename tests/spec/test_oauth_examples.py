"""Every example of Openapi's OAuth v2 spec goes through the generated oauth_api without loss.

The examples are read from the pinned upstream document at test time, never copied here. Examples
that only parse after a correction are listed in CORRECTED_BY with the overlay action that corrects
them; the test checks that the raw document indeed lacks what the action adds.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import httpx
import pytest

import oauth_api.api
import pipeline
from oauth_api.client import Client
from oauth_api.models.error_envelope import ErrorEnvelope

HTTP_METHODS = ("get", "post", "put", "patch", "delete")
ERROR_ENVELOPE_ACTION = (
    "$.paths.*.*.responses[?@.content['application/json'] && !@.content['application/json'].schema]"
)
# Which examples parse only thanks to an overlay action (by the action's target).
CORRECTED_BY = {
    "every error example (400, 401, 404, 422): upstream declares no schema for them": ERROR_ENVELOPE_ACTION,
}


def _operation_modules() -> dict[str, ModuleType]:
    modules = {}
    for info in pkgutil.walk_packages(oauth_api.api.__path__, "oauth_api.api."):
        if not info.ispkg:
            modules[info.name.rsplit(".", 1)[1]] = importlib.import_module(info.name)
    return modules


MODULES = _operation_modules()


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method in HTTP_METHODS:
            if method in item:
                yield method.upper(), path, item[method]


def _response_examples(document: dict[str, Any]) -> Iterator[tuple[str, str, int, str, Any]]:
    """(method, path, status, example name, value) for `example` and every entry of `examples`."""
    for method, path, op in _operations(document):
        for status, response in op["responses"].items():
            media = response.get("content", {}).get("application/json", {})
            if "example" in media:
                yield method, path, int(status), "example", media["example"]
            for name, example in media.get("examples", {}).items():
                yield method, path, int(status), name, example["value"]


def _schema_example(document: dict[str, Any], schema: dict[str, Any]) -> Any:
    """A request schema's example assembled from its properties' `example`s (what the docs show)."""
    schema = pipeline._resolve(document, schema)
    if "example" in schema:
        return schema["example"]
    return {
        name: _schema_example(document, prop)
        for name, prop in schema.get("properties", {}).items()
        if "example" in pipeline._resolve(document, prop) or "properties" in pipeline._resolve(document, prop)
    }


def _client() -> Client:
    return Client(base_url="https://oauth.invalid", raise_on_unexpected_status=True)


def _operation_ids(effective: dict[str, Any]) -> dict[tuple[str, str], str]:
    return {(m, p): op["operationId"] for m, p, op in _operations(effective)}


def test_every_operation_has_a_readable_generated_name(oauth_effective_spec):
    ids = _operation_ids(oauth_effective_spec)
    assert len(ids) == 18
    assert set(ids.values()) == set(MODULES)
    assert not any(name.startswith(("get_tokens", "post_tokens", "patch_tokens")) for name in MODULES)


def test_every_response_example_parses_through_generated_models(oauth_upstream_spec, oauth_effective_spec):
    ids = _operation_ids(oauth_effective_spec)
    examples = list(_response_examples(oauth_upstream_spec))
    successes = [e for e in examples if e[2] == 200]
    errors = [e for e in examples if e[2] != 200]
    assert (len(successes), len(errors)) == (14, 27)
    for method, path, status, name, example in examples:
        module = MODULES[ids[(method, path)]]
        parsed = module._parse_response(client=_client(), response=httpx.Response(status, json=example))
        where = f"{method} {path} {status} {name}"
        if status == 200:
            assert parsed is not None, where
            assert not isinstance(parsed, ErrorEnvelope), where
            # nothing the server said is lost: the model gives back the example
            assert parsed.to_dict() == example, where
        else:
            raw_media = oauth_upstream_spec["paths"][path][method.lower()]["responses"][str(status)]
            assert "schema" not in raw_media["content"]["application/json"], where
            assert isinstance(parsed, ErrorEnvelope), where
            assert (parsed.message, parsed.error) == (example["message"], example["error"]), where
            assert isinstance(parsed.error, int), where


@pytest.mark.parametrize(
    ("operation", "schema"), [("create_token", "TokenCreate"), ("update_token", "TokenUpdate")]
)
def test_request_examples_round_trip_through_request_models(oauth_upstream_spec, operation, schema):
    example = _schema_example(oauth_upstream_spec, oauth_upstream_spec["components"]["schemas"][schema])
    assert example["scopes"]
    assert example["limits"]["ip"]
    module = MODULES[operation]
    body_type = module.sync_detailed.__annotations__["body"]
    model = getattr(module, body_type) if isinstance(body_type, str) else body_type
    assert model.from_dict(example).to_dict() == example


def test_the_raw_upstream_document_is_not_valid_openapi_without_the_overlay(oauth_upstream_spec):
    with pytest.raises(pipeline.PipelineError, match="Basic-Authentication"):
        pipeline.validate(oauth_upstream_spec)


def test_oauth_overlay_actions_all_explain_themselves_and_match(oauth_upstream_spec):
    overlay = pipeline.load_overlay(pipeline.OAUTH.overlay)
    targets = {action["target"] for action in overlay["actions"]}
    assert set(CORRECTED_BY.values()) <= targets
    assert all(len(action["description"]) > 20 for action in overlay["actions"])
    pipeline.validate(pipeline.apply_overlay(oauth_upstream_spec, overlay))
