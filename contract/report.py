"""Spec vs behaviour, as a diff: ``python -m contract.report [--live [--live-paid]]``.

Every observed exchange is checked against Openapi's **upstream** spec (status, content type,
response body schema); the mismatches, grouped by (operation, status, JSON pointer, kind), are
compared with the committed baseline ``spec/divergences.json``. Sources:

* ``sandbox``: the embedded sandbox through pec_ext, the whole lifecycle plus error cases;
* ``prism``: Prism mocking the upstream spec, every method and documented error (npm);
* ``cassette``: recorded exchanges in ``contract/cassettes/*.json``;
* ``live``: Openapi's sandbox (``--live``, token in ``OPENAPI_PEC_TOKEN``), read-only calls
  unless ``--live-paid``; the exchanges are saved as a cassette, token scrubbed.

The OAuth v2 account service and the PEC Massiva sending API are reported the same way, each in its
own section (upstream spec vs the sandbox's emulation; baseline: the ``oauth`` and ``pecmassiva``
sections of the same file; see oauth.py and massiva.py).

Writes ``reports/contract.md`` and ``reports/contract.json``. Exits 1 on a new divergence, on a
baseline entry no longer observed by a source that ran, and on a baseline problem (an entry
without a reason, an overlay action that no entry references); 0 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from contract import machinery as cs
from contract import massiva as massiva_contract
from contract import oauth as oauth_contract

LIVE_BASE_URL = "https://test.pec.openapi.it"
TOKEN_ENV = "OPENAPI_PEC_TOKEN"
ALL_SOURCES = ("sandbox", "prism", "cassette", "live")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m contract.report", description=__doc__.splitlines()[0])
    parser.add_argument("--live", action="store_true", help=f"also call the live sandbox ({TOKEN_ENV})")
    parser.add_argument("--live-paid", action="store_true", help="with --live: also run paid operations")
    parser.add_argument("--live-base-url", default=LIVE_BASE_URL, help="base URL for --live")
    parser.add_argument("--live-domain", default="openapi.it", help="domain for the paid check_domain")
    parser.add_argument("--no-sandbox", action="store_true", help="skip the embedded sandbox source")
    parser.add_argument("--no-prism", action="store_true", help="skip the Prism source")
    parser.add_argument("--no-cassettes", action="store_true", help="skip the recorded cassettes")
    parser.add_argument("--cassettes", type=Path, default=cs.CASSETTE_DIR, help="cassettes to replay")
    parser.add_argument("--cassette-out", type=Path, default=cs.CASSETTE_DIR, help="where live runs save")
    parser.add_argument("--record-sandbox", action="store_true", help="save the sandbox run as a cassette")
    parser.add_argument("--baseline", type=Path, default=cs.BASELINE_FILE)
    parser.add_argument("--reports", type=Path, default=cs.REPORTS_DIR, help="output folder (git-ignored)")
    parser.add_argument(
        "--update-baseline",
        action="store_true",
        help="rewrite the baseline from what was observed (new entries get a TODO reason to fill in)",
    )
    return parser


# ------------------------------------------------------------------------------------ live


def run_live(base_url: str, token: str, paid: bool, domain: str, recorder: cs.Recorder) -> list[str]:
    """Read-only calls (and paid ones with ``paid``); returns what went wrong outside the API."""
    from pec_ext import PecClient
    from pec_ext.errors import ApiError, PecError

    notes: list[str] = []
    suffix = uuid.uuid4().hex[:8]

    def attempt(label: str, call: Any) -> Any:
        try:
            return call()
        except ApiError:
            return None  # recorded: an error answer is an observation like any other
        except PecError as exc:
            notes.append(f"{label}: {type(exc).__name__}: {exc}")
            return None

    with PecClient(
        token=token, base_url=base_url, max_retries=1, transport=recorder.wrap(), strict_identifiers=False
    ) as client:
        boxes = attempt("list_mailboxes", client.list_mailboxes) or []
        attempt(
            "check_availability",
            lambda: client.check_availability(f"contract-{suffix}@testcert.legalmail.it"),
        )
        for box in boxes[:2]:
            attempt("get_mailbox", lambda box=box: client.get_mailbox(str(box.id)))
        if boxes:
            attempt("download_activation_form", lambda: client.download_activation_form(str(boxes[0].id)))
        comms = attempt("list_communications", client.list_communications) or []
        for comm in comms[:2]:
            attempt("get_communication", lambda comm=comm: client.get_communication(str(comm.id)))
        attempt("get_mailbox (unknown id)", lambda: client.get_mailbox(cs.OBJECT_ID))
        if paid:
            attempt("check_domain", lambda: client.check_domain(domain))
            fields = cs.register_fields(f"contract-{suffix}@testcert.legalmail.it", "STANDARD")
            box = attempt("register_mailbox", lambda: client.register_mailbox(**fields))
            if box is not None:
                attempt("get_mailbox", lambda: client.get_mailbox(str(box.id)))
                attempt("download_activation_form", lambda: client.download_activation_form(str(box.id)))
    return notes


# ------------------------------------------------------------------------------------ report


def _observed_json(observed: dict[tuple[str, str, str, str], cs.Observed]) -> list[dict[str, Any]]:
    return [
        {
            "operation": o.divergence.operation,
            "status": o.divergence.status,
            "pointer": o.divergence.pointer,
            "kind": o.divergence.kind,
            "sources": sorted(o.sources),
            "count": o.count,
            "details": sorted(o.details)[:5],
        }
        for o in observed.values()
    ]


def _where(entry: dict[str, Any]) -> str:
    pointer = entry.get("pointer") or "(body)"
    return f"`{entry['operation']}` {entry.get('status', '')} `{pointer}` **{entry['kind']}**"


def render_markdown(result: dict[str, Any]) -> str:
    lines = ["# Contract report: upstream spec vs observed behaviour", ""]
    lines.append(f"Upstream spec sha256 `{result['spec_sha256']}`; baseline `{result['baseline']}`.")
    lines.append("")
    lines.append("| source | ran | exchanges | note |")
    lines.append("| --- | --- | --- | --- |")
    for name, info in result["sources"].items():
        lines.append(f"| {name} | {'yes' if info['ran'] else 'no'} | {info['exchanges']} | {info['note']} |")
    lines.append("")
    verdict = "FAIL" if result["failed"] else "OK"
    lines.append(
        f"**{verdict}**: {len(result['new'])} new, {len(result['stale'])} no longer observed, "
        f"{len(result['known'])} known, {len(result['problems'])} baseline problems."
    )
    sections = (
        ("New divergences (not in the baseline for that source)", result["new"]),
        ("Baseline entries no longer observed", result["stale"]),
    )
    for title, items in sections:
        lines += ["", f"## {title}", ""]
        lines += [f"- {_where(item)} — sources: {', '.join(item.get('sources', []))}" for item in items] or [
            "none"
        ]
    lines += ["", "## Baseline problems", ""]
    lines += [f"- {p}" for p in result["problems"]] or ["none"]
    lines += ["", "## Known divergences", "", "| operation | status | pointer | kind | sources | overlay |"]
    lines.append("| --- | --- | --- | --- | --- | --- |")
    for item in result["known"]:
        overlay = "; ".join(
            ref["target"] + (f" (+{ref['adds']})" if "adds" in ref else "") for ref in item["overlay"]
        )
        fixed = "corrected: " + overlay if item["corrected_by_overlay"] else "not corrected"
        lines.append(
            f"| `{item['operation']}` | {item['status']} | `{item['pointer'] or '(body)'}` | {item['kind']} "
            f"| {', '.join(item['sources'])} | {fixed} |"
        )
    lines += ["", "## Overlay actions and their baseline entries", ""]
    for action in result["overlay"]:
        lines.append(f"- `{action['target']}`: {action['entries']} entries")
    sections = (
        ("oauth", "OAuth v2 account service (upstream OAuth spec vs the sandbox's emulation)", "OAuth"),
        ("pecmassiva", "PEC Massiva (upstream PEC Massiva spec vs the sandbox's emulation)", "PEC Massiva"),
    )
    for key, title, name in sections:
        lines += _service_section(result.get(key), title, name)
    return "\n".join(lines) + "\n"


def _service_section(section: dict[str, Any] | None, title: str, name: str) -> list[str]:
    lines: list[str] = []
    if section:
        lines += ["", f"## {title}", ""]
        lines.append(f"Upstream {name} spec sha256 `{section.get('spec_sha256', '?')}`.")
        lines.append(
            f"{len(section['new'])} new, {len(section['stale'])} no longer observed, "
            f"{len(section['known'])} known, {len(section['problems'])} baseline problems."
        )
        for label, items in (("New", section["new"]), ("No longer observed", section["stale"])):
            lines += [f"- {label}: {_where(item)}" for item in items]
        lines += [f"- Problem: {p}" for p in section["problems"]]
        lines += [f"- Known: {_where(item)} — {item['reason']}" for item in section["known"]]
    return lines


def updated_baseline(
    baseline: dict[str, Any], observed: dict[tuple[str, str, str, str], cs.Observed], active: set[str]
) -> dict[str, Any]:
    """The baseline with observed_in refreshed for the sources that ran, and new entries added."""
    entries = []
    seen = set()
    for entry in baseline.get("divergences", []):
        key = cs.entry_key(entry)
        seen.add(key)
        if entry["kind"] in cs.STATIC_KINDS:
            entries.append(entry)
            continue
        sources = (set(entry.get("observed_in", [])) - active) | (
            observed[key].sources if key in observed else set()
        )
        if sources:
            entries.append({**entry, "observed_in": sorted(sources)})
    for key, item in sorted(observed.items()):
        if key not in seen:
            operation, status, pointer, kind = key
            entries.append(
                {
                    "operation": operation,
                    "status": status,
                    "pointer": pointer,
                    "kind": kind,
                    "observed_in": sorted(item.sources),
                    "reason": "TODO: say why this happens and whether the overlay should correct it",
                    "corrected_by_overlay": False,
                    "overlay": [],
                }
            )
    return {**baseline, "divergences": entries}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    started = time.monotonic()
    try:
        spec = cs.pipeline.load_upstream()
    except cs.pipeline.PipelineError as exc:
        print(
            f"contract report: {exc} (set PEC_SPEC_SOURCE=../shared/spec/pec.openapi.json)", file=sys.stderr
        )
        return 2
    actions = cs.overlay_actions()
    baseline = cs.load_baseline(args.baseline)
    problems = cs.baseline_problems(baseline, actions, spec)
    exchanges: list[cs.Exchange] = []
    sources: dict[str, dict[str, Any]] = {
        name: {"ran": False, "exchanges": 0, "note": ""} for name in ALL_SOURCES
    }

    def ran(name: str, found: list[cs.Exchange], note: str = "") -> None:
        exchanges.extend(found)
        sources[name] = {"ran": True, "exchanges": len(found), "note": note}

    if args.no_sandbox:
        sources["sandbox"]["note"] = "--no-sandbox"
    else:
        recorder = cs.Recorder("sandbox", (cs.DEFAULT_SANDBOX_TOKEN,))
        try:
            ids = cs.run_sandbox_lifecycle(recorder)
        except AssertionError as exc:
            problems.append(str(exc))
            ids = {}
        ran("sandbox", recorder.exchanges, f"{len(ids)} records created")
        if args.record_sandbox:
            cs.write_cassettes_from_sandbox(recorder.exchanges, args.cassette_out)

    if args.no_prism:
        sources["prism"]["note"] = "--no-prism"
    else:
        with cs.prism_or_skip_reason() as (prism, why):
            if prism is None:
                if cs.is_ci():
                    problems.append(f"Prism is required in CI: {why}")
                else:
                    print(f"contract report: Prism skipped: {why}", file=sys.stderr)
                sources["prism"]["note"] = "unavailable: " + why.splitlines()[0]
            else:
                recorder = cs.Recorder("prism")
                failures = cs.run_prism_calls(prism.url, spec, recorder)
                violations = cs.request_violations(recorder.exchanges) + prism.request_violations_in_log()
                problems.extend(f"prism: {f}" for f in failures + violations)
                ran("prism", recorder.exchanges, "every method, every documented status")

    if args.no_cassettes:
        sources["cassette"]["note"] = "--no-cassettes"
    else:
        found = cs.load_cassettes(args.cassettes)
        ran("cassette", found, f"{len(list(args.cassettes.glob('*.json')))} files")

    if args.live:
        token = os.environ.get(TOKEN_ENV, "").strip()
        if not token:
            message = (
                f"live source skipped: set {TOKEN_ENV} to a token of Openapi's sandbox (and --live-paid "
                "to run paid operations too) to enable it"
            )
            print(f"contract report: {message}")
            sources["live"]["note"] = message
        else:
            recorder = cs.Recorder("live", (token,))
            mode = "paid + read-only" if args.live_paid else "read-only"
            notes = run_live(args.live_base_url, token, args.live_paid, args.live_domain, recorder)
            problems.extend(f"live: {n}" for n in notes)
            stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
            cassette = args.cassette_out / f"live-{stamp}.json"
            cs.write_cassette(
                cassette,
                recorder.exchanges,
                source="live",
                note=f"{args.live_base_url}, {mode} calls; token scrubbed",
            )
            ran("live", recorder.exchanges, f"{mode}; saved {cassette.name}")
    else:
        sources["live"]["note"] = f"not requested (--live, {TOKEN_ENV})"

    active = {name for name, info in sources.items() if info["ran"]}
    observed = cs.collect(spec, exchanges)
    new, stale, known = cs.compare(observed, baseline, active)
    result = {
        "spec_sha256": cs.pipeline.load_pin()["sha256"][cs.pipeline.load_pin()["edition"]],
        "baseline": str(
            args.baseline.relative_to(cs.ROOT) if args.baseline.is_relative_to(cs.ROOT) else args.baseline
        ),
        "seconds": round(time.monotonic() - started, 2),
        "sources": sources,
        "new": new,
        "stale": stale,
        "known": known,
        "problems": problems,
        "observed": _observed_json(observed),
        "overlay": [
            {
                "target": action["target"],
                "entries": sum(
                    1
                    for entry in baseline.get("divergences", [])
                    for ref in entry.get("overlay", [])
                    if cs.ref_matches(ref, action)
                ),
            }
            for action in actions
        ],
    }
    oauth = oauth_contract.oauth_report(baseline, run_sandbox=not args.no_sandbox)
    result["oauth"] = oauth
    massiva = massiva_contract.massiva_report(baseline, run_sandbox=not args.no_sandbox)
    result["pecmassiva"] = massiva
    services = (oauth, massiva)
    result["failed"] = bool(
        new or stale or problems or any(s["new"] or s["stale"] or s["problems"] for s in services)
    )
    args.reports.mkdir(parents=True, exist_ok=True)
    (args.reports / "contract.json").write_text(
        json.dumps(result, indent=2, default=str) + "\n", encoding="utf-8"
    )
    (args.reports / "contract.md").write_text(render_markdown(result), encoding="utf-8")
    if args.update_baseline:
        args.baseline.write_text(
            json.dumps(updated_baseline(baseline, observed, active), indent=2, ensure_ascii=False) + "\n",
            encoding="utf-8",
        )
        print(f"contract report: baseline rewritten: {args.baseline}")
    summary = (
        f"contract report: {sum(i['exchanges'] for i in sources.values())} exchanges from "
        f"{', '.join(sorted(active)) or 'no source'}; {len(known)} known, {len(new)} new, "
        f"{len(stale)} no longer observed, {len(problems)} problems ({result['seconds']}s); "
        f"see {args.reports / 'contract.md'}"
    )
    print(summary)
    for item in new:
        print(
            f"  NEW {item['operation']} {item['status']} {item['pointer'] or '(body)'} {item['kind']}"
            f" {item['sources']}"
        )
    for item in stale:
        print(f"  GONE {item['operation']} {item['status']} {item['pointer'] or '(body)'} {item['kind']}")
    for problem in problems:
        print(f"  PROBLEM {problem}")
    print(
        f"contract report (OAuth): {oauth['sources'].get('sandbox', {}).get('exchanges', 0)} exchanges; "
        f"{len(oauth['known'])} known, {len(oauth['new'])} new, {len(oauth['stale'])} no longer observed, "
        f"{len(oauth['problems'])} problems"
    )
    for item in oauth["new"]:
        print(
            f"  NEW oauth {item['operation']} {item['status']} {item['pointer'] or '(body)'} {item['kind']}"
        )
    for item in oauth["stale"]:
        print(
            f"  GONE oauth {item['operation']} {item['status']} {item['pointer'] or '(body)'} {item['kind']}"
        )
    for problem in oauth["problems"]:
        print(f"  PROBLEM {problem}")
    print(
        f"contract report (PEC Massiva): {massiva['sources'].get('sandbox', {}).get('exchanges', 0)} "
        f"exchanges; {len(massiva['known'])} known, {len(massiva['new'])} new, {len(massiva['stale'])} "
        f"no longer observed, {len(massiva['problems'])} problems"
    )
    for item in massiva["new"]:
        print(
            f"  NEW pecmassiva {item['operation']} {item['status']} {item['pointer'] or '(body)'} "
            f"{item['kind']}"
        )
    for item in massiva["stale"]:
        print(
            f"  GONE pecmassiva {item['operation']} {item['status']} {item['pointer'] or '(body)'} "
            f"{item['kind']}"
        )
    for problem in massiva["problems"]:
        print(f"  PROBLEM {problem}")
    return 1 if result["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
