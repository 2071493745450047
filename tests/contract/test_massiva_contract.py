"""The PEC Massiva section of the contract report: the sandbox's emulation against the upstream spec."""

from __future__ import annotations

import copy

from contract import machinery as cs
from contract import massiva as massiva_contract


def test_the_emulation_matches_the_baseline_and_every_overlay_action_is_referenced() -> None:
    baseline = cs.load_baseline()
    report = massiva_contract.massiva_report(baseline, run_sandbox=True)
    assert (report["new"], report["stale"], report["problems"]) == ([], [], [])
    assert report["sources"]["sandbox"]["exchanges"] >= 20
    # every operation of the spec was exercised, each success and each documented refusal
    observed_operations = {key.split(" ", 2)[0] + " " + key.split(" ", 2)[1] for key in report["observed"]}
    assert len(observed_operations) == 7


def test_a_divergence_missing_from_the_baseline_is_new_and_an_unreferenced_action_a_problem() -> None:
    baseline = copy.deepcopy(cs.load_baseline())
    entries = baseline["pecmassiva"]["divergences"]
    dropped = next(e for e in entries if e.get("kind") == "undocumented-status")
    entries.remove(dropped)
    entries[:] = [e for e in entries if e.get("pointer") != "/data/body"]
    report = massiva_contract.massiva_report(baseline, run_sandbox=True)
    assert [(n["operation"], n["status"], n["kind"]) for n in report["new"]] == [
        (dropped["operation"], dropped["status"], "undocumented-status")
    ]
    assert any("InboxSingle.properties.body" in p for p in report["problems"])
    assert any(dropped["overlay"][0]["target"] in p for p in report["problems"])


def test_the_sending_password_never_enters_a_recorded_exchange() -> None:
    recorder = cs.Recorder("sandbox", (cs.DEFAULT_SANDBOX_TOKEN,))
    massiva_contract.run_massiva_sandbox(recorder)
    sends = [e for e in recorder.exchanges if e.method == "POST" and e.status == 201]
    assert sends
    assert sends[0].request_body["password"] == cs.SCRUBBED
