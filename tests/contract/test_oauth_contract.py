"""The OAuth section of the contract report: the sandbox's emulation against the upstream OAuth spec."""

from __future__ import annotations

import copy

from contract import machinery as cs
from contract import oauth as oauth_contract


def test_the_emulation_matches_the_baseline_and_every_operation_it_serves_is_observed() -> None:
    baseline = cs.load_baseline()
    report = oauth_contract.oauth_report(baseline, run_sandbox=True)
    assert (report["new"], report["stale"], report["problems"]) == ([], [], [])
    assert report["sources"]["sandbox"]["exchanges"] >= 20


def test_a_divergence_missing_from_the_baseline_is_new_and_an_unreferenced_action_a_problem() -> None:
    baseline = copy.deepcopy(cs.load_baseline())
    entries = baseline["oauth"]["divergences"]
    dropped = next(e for e in entries if e.get("kind") == "undeclared-schema")
    entries.remove(dropped)
    entries[:] = [e for e in entries if e["kind"] != "hardening"]
    report = oauth_contract.oauth_report(baseline, run_sandbox=True)
    assert [(n["operation"], n["status"]) for n in report["new"]] == [
        (dropped["operation"], dropped["status"])
    ]
    assert any("Basic-Authentication" in p for p in report["problems"])


def test_a_success_body_that_breaks_the_oauth_schema_is_classified() -> None:
    spec = cs.pipeline.load_upstream(spec=cs.pipeline.OAUTH)
    body = {"data": {"credit": "12.50"}}
    exchange = cs.Exchange("GET", "/wallet", {}, 200, "application/json", body, source="test")
    [found] = cs.classify(spec, exchange)
    assert (found.operation, found.pointer, found.kind) == (
        "GET /wallet",
        "/data/credit",
        "string-for-number",
    )


def test_every_operation_of_the_oauth_spec_is_observed_answering_200() -> None:
    """The contract run exercises the whole spec, statistics and subscriptions included."""
    spec = cs.pipeline.load_upstream(spec=cs.pipeline.OAUTH)
    in_spec = {
        f"{method.upper()} {path}"
        for path, item in spec["paths"].items()
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    }
    recorder = cs.Recorder("sandbox", (oauth_contract.CREDENTIALS[1],))
    oauth_contract.run_oauth_sandbox(recorder)
    answered = {
        f"{exchange.method} {found[0]}"
        for exchange in recorder.exchanges
        if exchange.status == 200
        for found in [cs.match_operation(spec, exchange.method, exchange.path)]
        if found is not None
    }
    assert in_spec - answered == set()
