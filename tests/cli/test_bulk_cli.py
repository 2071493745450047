"""``pec bulk ... --journal``: interrupted (kill -9, Ctrl-C) and run again, nothing paid twice."""

from __future__ import annotations

import collections
import csv
import json
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.support.dates import sandbox_on_day
from tests.support.fleet import PYTHON, box_body, env, kill, ledger, provision, sandbox_server, slow_proxy

APPLICANTS = 12


def write_applicants(path: Path, count: int) -> list[str]:
    rows = [box_body(f"bulk{i}@testcert.legalmail.it") for i in range(count)]
    with path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.DictWriter(stream, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return [row["casella_pec"] for row in rows]


def pec(*args: str, base_url: str | None = None) -> list[str]:
    target = ["--base-url", base_url] if base_url else []
    return [PYTHON, "-m", "pec_ext.cli", *target, "--timeout", "5", *args]


def run_to_end(command: list[str], cwd: Path) -> dict[str, Any]:
    done = subprocess.run(
        command, cwd=cwd, env={**env(), "OPENAPI_PEC_TOKEN": "t"}, capture_output=True, text=True, timeout=90
    )
    assert done.returncode == 0, done.stderr + done.stdout
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def registrations(db: Path) -> collections.Counter[str]:
    return collections.Counter(e["ref"] for e in ledger(db) if e["operation"] == "POST /pec")


@pytest.mark.parametrize("interruption", [signal.SIGKILL, signal.SIGINT], ids=["kill-9", "ctrl-c"])
def test_bulk_register_resumes_after_an_interruption_without_paying_twice(
    interruption: signal.Signals, tmp_path: Path
) -> None:
    db = tmp_path / "sandbox.sqlite"
    write_applicants(tmp_path / "applicants.csv", APPLICANTS)
    args = ["bulk", "register", "applicants.csv", "--journal", "state.sqlite", "--lease", "6"]
    args += ["--yes", "--no-progress", "--json"]
    with sandbox_server(db) as url, slow_proxy(url, hold=0.2) as proxy:
        first = subprocess.Popen(
            pec(*args, base_url=proxy),
            cwd=tmp_path,
            env={**env(), "OPENAPI_PEC_TOKEN": "t"},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            deadline = time.monotonic() + 60
            while sum(registrations(db).values()) < 4:  # stopped with a registration in flight
                assert time.monotonic() < deadline, "the first run registered nothing"
                assert first.poll() is None, first.communicate()
                time.sleep(0.02)
            first.send_signal(interruption)
            out, _ = first.communicate(timeout=30)
        finally:
            kill(first)
        if interruption == signal.SIGINT:
            assert first.returncode == 130
            assert json.loads(out)["summary"]["interrupted"] is True
        else:
            assert first.returncode == -signal.SIGKILL
        paid_before = sum(registrations(db).values())
        assert paid_before < APPLICANTS

        report = run_to_end(pec(*args, base_url=url), tmp_path)
    summary = report["summary"]
    assert summary["total"] == APPLICANTS
    assert summary["done"] + summary["already_done"] == APPLICANTS
    assert summary["already_done"] >= 3  # recorded by the first run: not sent again
    charged = registrations(db)
    assert len(charged) == APPLICANTS
    assert set(charged.values()) == {1}  # every applicant paid exactly once


def test_bulk_renew_and_upgrade_run_again_pay_nothing(tmp_path: Path) -> None:
    db = tmp_path / "sandbox.sqlite"
    ids = provision(db, 3, balance=1000)
    with sandbox_on_day(db_path=db) as sandbox:
        sandbox.advance(300 * 86400)  # the boxes now expire within 90 days
    (tmp_path / "boxes.txt").write_text("\n".join(ids) + "\n")
    embedded = ["--embedded-db", str(db)]
    renew = [*embedded, "bulk", "renew", "--within-days", "90", "--journal", "j.sqlite", "--yes", "--json"]
    upgrade = [*embedded, "bulk", "upgrade", "boxes.txt", "--to", "silver", "--journal", "j.sqlite", "--yes"]
    upgrade.append("--json")

    first = run_to_end(pec(*renew), tmp_path)["summary"]
    again = run_to_end(pec(*renew), tmp_path)["summary"]
    assert (first["done"], again["done"]) == (3, 0)
    # Renewed, the boxes expire a year later: the second plan selects none of them again.
    assert again["total"] == 0
    up = run_to_end(pec(*upgrade), tmp_path)["summary"]
    up_again = run_to_end(pec(*upgrade), tmp_path)["summary"]
    assert (up["done"], up_again["already_done"]) == (3, 3)

    by_operation = collections.Counter(e["operation"] for e in ledger(db))
    assert by_operation["GET /pec/{id}/rinnovo"] == 3
    assert by_operation["PATCH /pec/{id}/trasformazione"] == 3


def test_bulk_register_checks_every_row_before_paying(tmp_path: Path) -> None:
    db = tmp_path / "sandbox.sqlite"
    provision(db, 0)
    write_applicants(tmp_path / "applicants.csv", 3)
    text = (tmp_path / "applicants.csv").read_text().replace("bulk2@testcert", "bulk2@gmail")
    (tmp_path / "applicants.csv").write_text(text)
    done = subprocess.run(
        pec("--embedded-db", str(db), "bulk", "register", "applicants.csv", "--journal", "j.sqlite", "--yes"),
        cwd=tmp_path,
        env=env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 3, done.stderr
    assert "line 4: casella_pec" in done.stderr
    assert ledger(db) == []
