"""report.py and the baseline: classification, overlay coverage, new/stale detection, live mode.

Live mode is tested against the sandbox's HTTP server on loopback (``--live-base-url``): there is
no internet here, and the flag logic and the token scrubbing are what matter.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from contract import machinery as cs
from contract import report
from pec_ext.sandbox import SandboxServer

NO_PRISM = ["--no-prism"]  # Prism is covered by test_prism.py; these tests stay fast


def _exchange(
    method: str, path: str, status: int, body: Any, content_type: str = "application/json"
) -> cs.Exchange:
    return cs.Exchange(method, path, {}, status, content_type, body, source="test")


# -- classification -------------------------------------------------------------------------------


def test_classification_kinds(upstream_spec: dict[str, Any]) -> None:
    ok = {
        "success": True,
        "message": "",
        "error": None,
        "data": {"id": "x", "callback": False, "stato": "nuovo"},
    }
    found = {
        (d.operation, d.status, d.pointer, d.kind)
        for d in cs.classify(upstream_spec, _exchange("GET", "/pec/abc", 200, ok))
    }
    assert ("GET /pec/{id}", "200", "/error", "null-for-integer") in found
    assert ("GET /pec/{id}", "200", "/data/callback", "false-for-object") in found
    assert ("GET /pec/{id}", "200", "/data/stato", "unknown-enum-value") in found
    error = {"success": False, "message": "no pec found", "error": 202, "data": None}
    [undeclared] = cs.classify(upstream_spec, _exchange("GET", "/pec/abc", 404, error))
    assert (undeclared.pointer, undeclared.kind) == ("", "undeclared-schema")
    [html] = cs.classify(upstream_spec, _exchange("GET", "/pec/abc", 404, "<html>", "text/html"))
    assert html.kind == "content-type"
    [status] = cs.classify(upstream_spec, _exchange("GET", "/pec/abc", 418, error))
    assert status.kind == "undocumented-status"
    [unknown] = cs.classify(upstream_spec, _exchange("GET", "/dominio", 200, ok))
    assert unknown.kind == "undocumented-operation"
    pdf = _exchange("GET", "/pec/abc/modulo_attivazione", 200, {"base64": "JVBERi0="}, "application/pdf")
    assert cs.classify(upstream_spec, pdf) == []
    listing = {
        "success": True,
        "message": "",
        "error": 0,
        "data": [{"stato": "documenti_caricati"}, {"stato": "boh"}],
    }
    [enum] = cs.classify(upstream_spec, _exchange("GET", "/comunica_pec", 200, listing))
    assert (enum.pointer, enum.kind) == ("/data/*/stato", "unknown-enum-value")


def test_scrub_replaces_the_token_everywhere() -> None:
    value = {"a": "Bearer tok123", "tok123": ["x tok123 y", 3]}
    assert cs.scrub(value, ("tok123",)) == {"a": "Bearer ***", "***": ["x *** y", 3]}


# -- the committed baseline ------------------------------------------------------------------------


def test_baseline_is_consistent_and_covers_every_overlay_action(upstream_spec: dict[str, Any]) -> None:
    baseline = cs.load_baseline()
    actions = cs.overlay_actions()
    assert cs.baseline_problems(baseline, actions, upstream_spec) == []
    for action in actions:
        refs = [
            ref
            for e in baseline["divergences"]
            for ref in e.get("overlay", [])
            if cs.ref_matches(ref, action)
        ]
        assert refs, f"overlay action {action['target']} is in no baseline entry"
    for entry in baseline["divergences"]:
        assert entry["reason"].strip()
        assert isinstance(entry["corrected_by_overlay"], bool)
        if entry["kind"] not in cs.STATIC_KINDS:
            assert set(entry["observed_in"]) <= set(report.ALL_SOURCES)


def test_an_unreferenced_overlay_action_is_a_problem(upstream_spec: dict[str, Any]) -> None:
    baseline = cs.load_baseline()
    actions = [*cs.overlay_actions(), {"target": "$.info", "description": "x", "update": {"x-new": 1}}]
    problems = cs.baseline_problems(baseline, actions, upstream_spec)
    assert problems == ["overlay action not referenced by any baseline entry: $.info"]


def test_cassettes_hold_no_token_and_parse() -> None:
    for path in sorted(cs.CASSETTE_DIR.glob("*.json")):
        text = path.read_text(encoding="utf-8")
        assert cs.DEFAULT_SANDBOX_TOKEN not in text
        assert "authorization" not in text.lower()
    assert cs.load_cassettes()


# -- report.py end to end ---------------------------------------------------------------------------


def _run(tmp_path: Path, *args: str, baseline: Path | None = None) -> tuple[int, dict[str, Any]]:
    reports = tmp_path / "reports"
    argv = [*args, "--reports", str(reports)]
    if baseline is not None:
        argv += ["--baseline", str(baseline)]
    code = report.main(argv)
    return code, json.loads((reports / "contract.json").read_text(encoding="utf-8"))


def test_report_passes_on_the_committed_baseline(tmp_path: Path) -> None:
    code, result = _run(tmp_path, *NO_PRISM)
    assert (result["new"], result["stale"], result["problems"]) == ([], [], [])
    assert code == 0
    assert (tmp_path / "reports" / "contract.md").read_text().startswith("# Contract report")
    assert result["sources"]["sandbox"]["exchanges"] > 40


def test_report_fails_on_a_new_and_on_a_vanished_divergence(tmp_path: Path) -> None:
    baseline = cs.load_baseline()
    entries = baseline["divergences"]
    dropped = next(e for e in entries if e["kind"] == "false-for-object" and "sandbox" in e["observed_in"])
    ghost = {**dropped, "operation": "GET /pec/{id}/rinnovo", "status": "200", "observed_in": ["sandbox"]}
    edited = {**baseline, "divergences": [e for e in entries if e is not dropped] + [ghost]}
    path = tmp_path / "baseline.json"
    path.write_text(json.dumps(edited), encoding="utf-8")
    code, result = _run(tmp_path, *NO_PRISM, baseline=path)
    assert code == 1
    assert [(n["operation"], n["kind"]) for n in result["new"]] == [
        (dropped["operation"], "false-for-object")
    ]
    stale = [(s["operation"], s["sources"]) for s in result["stale"]]
    assert stale == [("GET /pec/{id}/rinnovo", ["sandbox"])]


# -- live mode ----------------------------------------------------------------------------------------


def test_live_without_a_token_is_skipped_with_a_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv(report.TOKEN_ENV, raising=False)
    code, result = _run(tmp_path, "--live", *NO_PRISM)
    assert code == 0
    assert not result["sources"]["live"]["ran"]
    assert f"set {report.TOKEN_ENV}" in capsys.readouterr().out


@pytest.fixture
def live_server(sandbox_server: SandboxServer) -> SandboxServer:
    """The sandbox server holding a box whose fields carry the token (to prove the scrubbing)."""
    sandbox = sandbox_server.sandbox
    sandbox.reset()
    with sandbox.client(strict_identifiers=False) as client:
        client.register_mailbox(
            **{
                **cs.register_fields("live.contract@testcert.legalmail.it"),
                "nome_richiedente": "tok-SECRET-42",
            }
        )
    return sandbox_server


@pytest.mark.parametrize("paid", [False, True])
def test_live_mode_records_scrubbed_cassettes_and_runs_paid_calls_only_when_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, live_server: SandboxServer, paid: bool
) -> None:
    token = "tok-SECRET-42"
    monkeypatch.setenv(report.TOKEN_ENV, token)
    out = tmp_path / "cassettes"
    flags = ["--live", "--live-base-url", live_server.url, "--cassette-out", str(out)]
    flags += ["--no-sandbox", "--no-cassettes", *NO_PRISM] + (["--live-paid"] if paid else [])
    code, result = _run(tmp_path, *flags)
    assert result["sources"]["live"]["ran"]
    [cassette] = sorted(out.glob("live-*.json"))
    text = cassette.read_text(encoding="utf-8")
    assert token not in text
    assert '"nome_richiedente": "***"' in text
    requests = {(e["request"]["method"], e["request"]["path"]) for e in json.loads(text)["exchanges"]}
    paid_calls = {r for r in requests if r[0] == "POST" or r[1].startswith("/domini_pec")}
    assert ("GET", "/pec") in requests
    assert bool(paid_calls) is paid
    # Live answers are new to a baseline that has never seen the live source.
    assert code == 1
    assert result["new"]
    assert all(item["sources"] == ["live"] for item in result["new"])
    assert result["stale"] == []
