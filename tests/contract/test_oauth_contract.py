"""The OAuth section of the contract report: the sandbox's emulation against the upstream OAuth spec."""

from __future__ import annotations

import copy

import contract_support as cs
import oauth_contract


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
