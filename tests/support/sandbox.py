"""Helpers shared by the sandbox tests: request bodies, documents, spec-schema validation."""

from __future__ import annotations

import base64
import copy
import functools
import json
import os
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from asn1crypto import cms

from pec_ext.sandbox.pdf import render
from tests.support.applicants import ADDRESS, company, register_body
from tests.support.http_stack import httpx

SPEC_CANDIDATES = (
    os.environ.get("PEC_SPEC_SOURCE", ""),
    str(Path(__file__).resolve().parents[3] / "shared" / "spec" / "pec.openapi.json"),
)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def pdf_doc(text: str = "documento di identità") -> str:
    return b64(render("Documento", [text]))


def p7m_doc() -> str:
    """A real (unsigned-content, no signer) DER CMS SignedData, as a p7m envelope starts."""
    signed = cms.SignedData(
        {
            "version": "v1",
            "digest_algorithms": [{"algorithm": "sha256"}],
            "encap_content_info": {"content_type": "data", "content": b"%PDF-1.4 procura"},
            "signer_infos": [],
        }
    )
    info = cms.ContentInfo({"content_type": "signed_data", "content": signed})
    return b64(info.dump())


def box_body(address: str = ADDRESS, tipo: str = "BRONZE", **extra: Any) -> dict[str, Any]:
    """The test applicant as a raw client may send it: blank optionals, codes in lower case."""
    raw = {"sottotipo_cliente": "", "nazione_nascita_richiedente": "it", "nazione_titolare": "it"}
    return register_body(address, tipo, **{"provincia_titolare": "rm", **raw, **extra})


def comm_body(**extra: Any) -> dict[str, Any]:
    return company(**{"pec_amministratore": False, **extra})


def assert_error(response: httpx.Response, status: int, code: int | None, message: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {"success": False, "message": message, "error": code, "data": None}


# ------------------------------------------------------------------ spec schemas


@functools.cache
def _spec() -> dict[str, Any] | None:
    for candidate in SPEC_CANDIDATES:
        if candidate and Path(candidate).is_file():
            loaded: dict[str, Any] = json.loads(Path(candidate).read_text(encoding="utf-8"))
            return loaded
    return None


def spec() -> dict[str, Any]:
    loaded = _spec()
    if loaded is None:
        pytest.skip("the upstream PEC spec is not available (set PEC_SPEC_SOURCE)")
    return loaded


def _inline(node: Any, components: dict[str, Any]) -> Any:
    """Resolve $refs and relax the spec's known bugs: a missing callback is ``false``."""
    if isinstance(node, dict):
        if "$ref" in node:
            name = node["$ref"].rsplit("/", 1)[1]
            resolved = _inline(components[name], components)
            if name == "Callback":
                return {"anyOf": [resolved, {"const": False}]}
            return resolved
        return {k: _inline(v, components) for k, v in node.items() if k != "example"}
    if isinstance(node, list):
        return [_inline(v, components) for v in node]
    return node


def ok_schema(method: str, path: str) -> dict[str, Any]:
    document = spec()
    operation = document["paths"][path][method.lower()]
    schema = copy.deepcopy(operation["responses"]["200"]["content"]["application/json"]["schema"])
    schema = _inline(schema, document["components"]["schemas"])
    props = schema["properties"]
    # The spec types these as plain integer/object, but every example sends null.
    props["error"] = {"type": ["integer", "null"]}
    props["data"] = {"anyOf": [props["data"], {"type": "null"}]}
    schema["required"] = ["success", "message", "error", "data"]
    return schema


def assert_ok(response: httpx.Response, method: str, path: str) -> Any:
    """A success envelope valid against the spec's 200 schema; returns ``data``."""
    assert response.status_code == 200, response.text
    payload = response.json()
    jsonschema.validate(payload, ok_schema(method, path))
    assert payload["success"] is True
    assert payload["error"] is None
    return payload["data"]


def example_data(method: str, path: str) -> Any:
    operation = spec()["paths"][path][method.lower()]
    return operation["responses"]["200"]["content"]["application/json"]["example"]["data"]
