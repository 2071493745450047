"""The OAuth v2 part of the contract report: Openapi's upstream OAuth spec vs the sandbox's emulation.

The exchanges come from the whole account flow against the sandbox (tokens, scopes and their
prices, the wallet, the callbacks log, and the documented refusals), sent to the service's own host
(``test.oauth.openapi.com``, routed in-process to the emulation) so that paths are the spec's.
The baseline is the ``oauth`` section of ``spec/divergences.json``, same format and rules as the
PEC entries; the overlay it must cover is ``spec/oauth.overlay.yaml``.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

import httpx

from contract import machinery as cs
from pec_ext.sandbox import Sandbox

OAUTH_HOST = "https://test.oauth.openapi.com"
CREDENTIALS = ("contract@example.com", "contract-api-key")
SCOPES = ["GET:test.pec.openapi.it/pec", "POST:test.pec.openapi.it/pec"]


def run_oauth_sandbox(recorder: cs.Recorder) -> int:
    """Every OAuth operation the sandbox emulates, and its documented refusals; returns the calls."""
    # the callbacks' receiver answers, as a real one does (its status is in the callbacks log)
    sandbox = Sandbox(balance=100.0, callback_sender=lambda request: httpx.Response(204))
    transport = recorder.wrap(sandbox.transport(http="httpx"))
    with httpx.Client(transport=transport, base_url=OAUTH_HOST, auth=CREDENTIALS) as http:
        token = http.post("/tokens", json={"scopes": SCOPES, "name": "contract", "ttl": 3600}).json()
        http.get("/tokens")
        http.get(f"/tokens/{token['token']}")
        http.patch(f"/tokens/{token['token']}", json={"name": "renamed", "ttl": 7200})
        scopes = http.get("/scopes").json()["data"]
        http.get(f"/scopes/{scopes[0]['id']}")
        http.get("/wallet")
        http.get("/wallet/transactions")
        # PEC traffic (not recorded: it is not the account service's) for the log and statistics,
        # and a box whose changes of stato make callbacks
        with httpx.Client(
            transport=sandbox.transport(http="httpx"),
            base_url="https://test.pec.openapi.it",
            headers={"Authorization": "Bearer contract-pec"},
        ) as pec:
            pec.get("/pec/" + "0" * 24)
            callback = {"url": "https://hooks.example/box", "method": "JSON"}
            fields = {**cs.register_fields("contract@testcert.legalmail.it"), "callback": callback}
            box = pec.post("/pec", json=fields).json()["data"]
            document = base64.b64encode(cs.pdf_bytes()).decode("ascii")
            pec.patch(f"/pec/{box['id']}/attivazione", json={"documenti": document})
            sandbox.advance()
            pec.get(f"/pec/{box['id']}")
        callbacks = http.get("/callbacks").json()["data"]
        http.get(f"/callbacks/{callbacks[0]['id']}")
        http.get("/errors")
        http.get("/errors", params={"scopes": SCOPES[0], "skip": 0, "limit": 10})
        http.get("/stats")
        http.get("/stats", params={"date": "2023-11"})
        http.get("/stats/ips")
        http.get("/stats/apis")
        http.get("/stats/apis/test.pec.openapi.it", params={"date": "2023"})
        subscriptions = http.get("/subscriptions").json()["data"]
        http.get("/subscriptions", params={"id": subscriptions[0]["id"]})
        http.get(f"/subscriptions/{subscriptions[0]['id']}")
        # refusals the spec documents
        http.post("/tokens", json={})
        http.post("/tokens", json={"scopes": "GET:test.pec.openapi.it/pec"})
        http.post("/tokens", json={"scopes": ["GET:nowhere.example/x"]})
        http.get("/tokens/not-a-token")
        http.get("/tokens/" + "0" * 24)
        http.get("/scopes/" + "0" * 24)
        http.get("/callbacks/" + "0" * 24)
        http.patch("/tokens/" + "0" * 24, json={"name": "x"})
        http.patch(f"/tokens/{token['token']}", json={"scopes": ["GET:nowhere.example/x"]})
        http.delete("/tokens/" + "0" * 24)
        # the refresh token renews (Bearer instead of Basic), and a wrong one is refused
        refreshed = httpx.Client(transport=transport, base_url=OAUTH_HOST)
        renewed = refreshed.patch(
            f"/tokens/{token['token']}",
            headers={"Authorization": f"Bearer {token['refreshToken']}"},
            json={},
        ).json()
        refreshed.patch(f"/tokens/{renewed['token']}", headers={"Authorization": "Bearer wrong"}, json={})
        http.delete(f"/tokens/{renewed['token']}")
    sandbox.close()
    return len(recorder.exchanges)


def oauth_report(baseline: Mapping[str, Any], *, run_sandbox: bool) -> dict[str, Any]:
    """The OAuth section of the report: sources, new, stale, known, problems."""
    try:
        spec = cs.pipeline.load_upstream(spec=cs.pipeline.OAUTH)
    except cs.pipeline.PipelineError as exc:
        return {"problems": [f"oauth: {exc}"], "new": [], "stale": [], "known": [], "sources": {}}
    section = baseline.get("oauth", {"divergences": []})
    actions = list(cs.pipeline.load_overlay(cs.pipeline.OAUTH.overlay)["actions"])
    problems = [f"oauth: {p}" for p in cs.baseline_problems(section, actions, spec)]
    sources = {"sandbox": {"ran": False, "exchanges": 0, "note": "--no-sandbox"}}
    exchanges: list[cs.Exchange] = []
    if run_sandbox:
        recorder = cs.Recorder("sandbox", (CREDENTIALS[1],))
        run_oauth_sandbox(recorder)
        exchanges = recorder.exchanges
        sources["sandbox"] = {"ran": True, "exchanges": len(exchanges), "note": "the whole account flow"}
    active = {name for name, info in sources.items() if info["ran"]}
    observed = cs.collect(spec, exchanges)
    new, stale, known = cs.compare(observed, section, active)
    return {
        "spec_sha256": cs.pipeline.pinned_sha256(cs.pipeline.OAUTH),
        "sources": sources,
        "new": new,
        "stale": stale,
        "known": known,
        "problems": problems,
        "observed": {" ".join(k): sorted(v.sources) for k, v in observed.items()},
    }
