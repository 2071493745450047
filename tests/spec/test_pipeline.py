"""The spec pipeline: pin check, overlay, semantic drift report."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import pytest

import pipeline


@pytest.fixture
def modified_spec(upstream_spec: dict[str, Any]) -> dict[str, Any]:
    """Upstream with an added operation, a removed enum value and a newly required field."""
    spec = copy.deepcopy(upstream_spec)
    spec["paths"]["/dominio"] = {
        "get": {"summary": "Certified domains", "responses": {"200": {"description": "OK"}}}
    }
    spec["components"]["schemas"]["BodyPostPec"]["properties"]["tipo_casella"]["enum"].remove("GOLD")
    spec["components"]["schemas"]["BodyPostPec"]["required"].append("cellulare")
    return spec


def test_drift_report_names_each_semantic_change(upstream_spec, modified_spec):
    lines = pipeline.drift_report(pipeline.surface(upstream_spec), pipeline.surface(modified_spec))
    assert "+ operation GET /dominio added" in lines
    assert "- POST /pec body.tipo_casella: enum value 'GOLD' removed" in lines
    assert "- schema BodyPostPec.tipo_casella: enum value 'GOLD' removed" in lines
    assert "! POST /pec body: `cellulare` is now required" in lines
    assert "! schema BodyPostPec: `cellulare` is now required" in lines
    assert len(lines) == 5


def test_drift_report_is_empty_for_text_only_changes(upstream_spec):
    reworded = copy.deepcopy(upstream_spec)
    reworded["paths"]["/pec"]["get"]["description"] = "new words"
    assert pipeline.drift_report(pipeline.surface(upstream_spec), pipeline.surface(reworded)) == []


def test_check_command_prints_drift_and_fails(tmp_path: Path, modified_spec, capsys):
    source = tmp_path / "pec.openapi.json"
    source.write_text(json.dumps(modified_spec))
    assert pipeline.main(["spec", "--check", "--source", str(source)]) == 1
    out = capsys.readouterr().out
    assert "upstream changed" in out
    assert "+ operation GET /dominio added" in out


def test_check_command_passes_on_the_pinned_document(upstream_spec, tmp_path: Path, capsys):
    source = tmp_path / "pec.openapi.json"
    source.write_bytes(pipeline.upstream_cache_path("en").read_bytes())
    assert pipeline.main(["spec", "--check", "--source", str(source)]) == 0
    assert "matches the pin" in capsys.readouterr().out


def test_a_document_that_does_not_match_the_pin_is_refused(tmp_path: Path, modified_spec):
    source = tmp_path / "pec.openapi.json"
    source.write_text(json.dumps(modified_spec))
    with pytest.raises(pipeline.PipelineError, match="the pin says"):
        pipeline.load_upstream(str(source))


def test_update_rewrites_the_pin(tmp_path: Path, modified_spec, monkeypatch):
    pin_file = tmp_path / "pin.json"
    pin_file.write_text(pipeline.PIN_FILE.read_text())
    monkeypatch.setattr(pipeline, "PIN_FILE", pin_file)
    monkeypatch.setattr(pipeline, "CACHE_DIR", tmp_path / "cache")
    source = tmp_path / "pec.openapi.json"
    source.write_text(json.dumps(modified_spec))
    new_sha = pipeline.update_pin(str(source))
    pin = json.loads(pin_file.read_text())
    assert pin["pec"]["sha256"]["en"] == new_sha == pipeline.sha256(source.read_bytes())
    assert "GET /dominio" in pin["pec"]["surface"]["en"]["operations"]
    # the other spec's section is left as it was
    assert pin["oauth"] == json.loads(pipeline.PIN_FILE.read_text())["oauth"]


def test_both_specs_are_pinned():
    assert pipeline.pinned_sha256(pipeline.OAUTH) == (
        "299e785d3e6d931640789acd7dee3c0bc6b7ca2447f524f3101d5a68ee4acd43"
    )
    assert pipeline.load_pin(pipeline.OAUTH)["urls"]["en"] == (
        "https://console.openapi.com/oas/en/oauthv2.openapi.json"
    )
    assert len(pipeline.load_pin(pipeline.OAUTH)["surface"]["en"]["operations"]) == 18


def test_oauth_source_defaults_to_the_file_beside_the_pec_copy(tmp_path: Path, monkeypatch):
    (tmp_path / "pec.openapi.json").write_text("{}")
    (tmp_path / "oauthv2.openapi.json").write_text("{}")
    monkeypatch.delenv("OAUTH_SPEC_SOURCE", raising=False)
    monkeypatch.setenv("PEC_SPEC_SOURCE", str(tmp_path / "pec.openapi.json"))
    pin = pipeline.load_pin(pipeline.OAUTH)
    assert pipeline.resolve_source(None, pin, "en", pipeline.OAUTH) == str(tmp_path / "oauthv2.openapi.json")
    monkeypatch.setenv("OAUTH_SPEC_SOURCE", "/elsewhere/oauth.json")
    assert pipeline.resolve_source(None, pin, "en", pipeline.OAUTH) == "/elsewhere/oauth.json"
    monkeypatch.delenv("OAUTH_SPEC_SOURCE")
    monkeypatch.setenv("PEC_SPEC_SOURCE", str(tmp_path / "nowhere" / "pec.openapi.json"))
    assert pipeline.resolve_source(None, pin, "en", pipeline.OAUTH) == pin["urls"]["en"]


def test_check_reports_oauth_drift_by_spec(oauth_upstream_spec, tmp_path: Path, capsys):
    changed = copy.deepcopy(oauth_upstream_spec)
    del changed["paths"]["/wallet/transactions"]
    changed["components"]["schemas"]["TokenCreate"]["required"].append("ttl")
    source = tmp_path / "oauthv2.openapi.json"
    source.write_text(json.dumps(changed))
    assert pipeline.main(["spec", "--check", "--oauth-source", str(source)]) == 1
    out = capsys.readouterr().out
    assert "pec: upstream matches the pin" in out
    assert "oauth: upstream changed" in out
    assert "- operation GET /wallet/transactions removed" in out
    assert "! POST /tokens body: `ttl` is now required" in out


def test_check_generated_covers_the_three_packages(capsys):
    assert pipeline.main(["check-generated"]) == 0
    out = capsys.readouterr().out
    assert "generated/pec_api is up to date" in out
    assert "generated/oauth_api is up to date" in out
    assert "generated/pecmassiva_api is up to date" in out


def test_the_pecmassiva_spec_is_pinned():
    pin = pipeline.load_pin(pipeline.MASSIVA)
    assert pipeline.pinned_sha256(pipeline.MASSIVA) == (
        "d4f6ac6932e05407add13927a0b104049f943eadb859437a25383eb8293185be"
    )
    assert pin["urls"]["en"] == "https://console.openapi.com/oas/en/pecmassiva.openapi.json"
    assert sorted(pin["surface"]["en"]["operations"]) == [
        "DELETE /inbox/{id}",
        "DELETE /send/{code}",
        "GET /inbox",
        "GET /inbox/{id}",
        "GET /quota/{mailbox}",
        "GET /send/{code}",
        "POST /send",
    ]


def test_pecmassiva_source_defaults_to_the_file_beside_the_pec_copy(tmp_path: Path, monkeypatch):
    (tmp_path / "pec.openapi.json").write_text("{}")
    (tmp_path / "pecmassiva.openapi.json").write_text("{}")
    monkeypatch.delenv("PECMASSIVA_SPEC_SOURCE", raising=False)
    monkeypatch.setenv("PEC_SPEC_SOURCE", str(tmp_path / "pec.openapi.json"))
    pin = pipeline.load_pin(pipeline.MASSIVA)
    beside = str(tmp_path / "pecmassiva.openapi.json")
    assert pipeline.resolve_source(None, pin, "en", pipeline.MASSIVA) == beside
    monkeypatch.setenv("PECMASSIVA_SPEC_SOURCE", "/elsewhere/pecmassiva.json")
    assert pipeline.resolve_source(None, pin, "en", pipeline.MASSIVA) == "/elsewhere/pecmassiva.json"
    monkeypatch.delenv("PECMASSIVA_SPEC_SOURCE")
    monkeypatch.setenv("PEC_SPEC_SOURCE", str(tmp_path / "nowhere" / "pec.openapi.json"))
    assert pipeline.resolve_source(None, pin, "en", pipeline.MASSIVA) == pin["urls"]["en"]


def test_check_reports_pecmassiva_drift_by_spec(massiva_upstream_spec, tmp_path: Path, capsys):
    changed = copy.deepcopy(massiva_upstream_spec)
    del changed["paths"]["/quota/{mailbox}"]
    changed["components"]["schemas"]["RequestSend"]["required"] = ["sender"]
    changed["components"]["schemas"]["InboxSearch"]["properties"]["id"]["type"] = "string"
    source = tmp_path / "pecmassiva.openapi.json"
    source.write_text(json.dumps(changed))
    assert pipeline.main(["spec", "--check", "--spec", "pecmassiva", "--pecmassiva-source", str(source)]) == 1
    out = capsys.readouterr().out
    assert "pecmassiva: upstream changed" in out
    assert "- operation GET /quota/{mailbox} removed" in out
    assert "! POST /send body: `sender` is now required" in out
    assert "~ schema InboxSearch.id: type changed number -> string" in out
    assert "pec: " not in out.replace("pecmassiva: ", "")


def test_check_passes_on_the_pinned_pecmassiva_document(massiva_upstream_spec, capsys):
    assert pipeline.main(["spec", "--check", "--spec", "pecmassiva"]) == 0
    assert "pecmassiva: upstream matches the pin" in capsys.readouterr().out


def test_a_missing_pecmassiva_copy_names_its_option(tmp_path: Path):
    with pytest.raises(pipeline.PipelineError, match="does not exist"):
        pipeline.load_upstream(str(tmp_path / "absent.json"), spec=pipeline.MASSIVA)
    assert pipeline.MASSIVA.source_option == "--pecmassiva-source"


def test_overlay_actions_all_explain_themselves_and_match(upstream_spec):
    overlay = pipeline.load_overlay()
    assert all(len(action["description"]) > 20 for action in overlay["actions"])
    effective = pipeline.apply_overlay(upstream_spec, overlay)
    pipeline.validate(effective)


def test_overlay_target_matching_nothing_fails(upstream_spec):
    overlay = {"actions": [{"target": "$.paths['/nope'].get", "description": "x", "update": {}}]}
    with pytest.raises(pipeline.PipelineError, match="matches nothing"):
        pipeline.apply_overlay(upstream_spec, overlay)


def test_overlay_remove_and_update_semantics():
    document = {"a": {"b": [1], "c": {"d": 1}, "e": 1}}
    overlay = {
        "actions": [
            {"target": "$.a", "description": "x", "update": {"b": [2], "c": {"f": 2}}},
            {"target": "$.a.e", "description": "x", "remove": True},
        ]
    }
    assert pipeline.apply_overlay(document, overlay) == {"a": {"b": [1, 2], "c": {"d": 1, "f": 2}}}
    assert document == {"a": {"b": [1], "c": {"d": 1}, "e": 1}}


def test_effective_spec_declares_every_error_envelope(effective_spec):
    count = 0
    for item in effective_spec["paths"].values():
        for op in item.values():
            for status, response in op["responses"].items():
                media = response.get("content", {}).get("application/json")
                if media and status != "200":
                    assert media["schema"] == {"$ref": "#/components/schemas/ErrorEnvelope"}
                    count += 1
    assert count == 54 + 19  # upstream's 54 error answers, and the 401 the overlay adds to each operation


def test_an_overlay_edited_after_the_effective_spec_makes_it_stale(tmp_path: Path, monkeypatch):
    overlay = tmp_path / "pecmassiva.overlay.yaml"
    overlay.write_text(pipeline.MASSIVA.overlay.read_text())
    spec = pipeline.Spec(
        "pecmassiva", "pecmassiva.openapi.json", overlay, pipeline.MASSIVA.generator_config, "x", "X"
    )
    monkeypatch.setattr(pipeline, "CACHE_DIR", tmp_path)
    assert not pipeline.effective_is_current(spec)  # never built
    spec.effective_path.write_text("{}")
    assert pipeline.effective_is_current(spec)
    later = spec.effective_path.stat().st_mtime + 10
    os.utime(overlay, (later, later))
    assert not pipeline.effective_is_current(spec)
