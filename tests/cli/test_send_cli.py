"""``pec send``, ``pec receipts``, ``pec inbox``, ``pec quota`` and the demo's sending, in-process.

The commands run through click's runner on a sandbox the test holds (virtual time); the box's
password comes from the environment and must appear in no output.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from pec_ext.cli import ExitCode, cli
from pec_ext.cli.config import Config
from pec_ext.sandbox import ManualClock, Sandbox, record_only
from pec_ext.sandbox.pdf import render
from tests.support.cli import APPLICANT

SENDER = "invii@testcert.legalmail.it"


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    with Sandbox(clock=ManualClock(1_767_225_600), callback_sender=record_only) as sandbox:
        pdf = base64.b64encode(render("Documento", ["documento"])).decode()
        with sandbox.client() as pec:
            box = pec.register_mailbox(APPLICANT, casella_pec=SENDER, tipo_casella="PECMASSIVA")
            pec.request("PATCH", f"/pec/{box.id}/attivazione", json={"documenti": [pdf, pdf]})
        sandbox.advance(None)
        yield sandbox


def run(sb: Sandbox, *args: str, password: str | None = None) -> Result:
    username, real = sb.massiva_credentials(SENDER)
    env = {"OPENAPI_PECMASSIVA_USERNAME": username, "OPENAPI_PECMASSIVA_PASSWORD": password or real}
    result = CliRunner().invoke(cli, list(args), obj=Config(sandbox=sb), env=env)
    assert real not in result.stdout + result.stderr
    return result


def test_send_wait_receipts_inbox_quota(sb: Sandbox, tmp_path: Path) -> None:
    body = tmp_path / "body.html"
    body.write_text("Gentile cliente, <b>in allegato</b>.", encoding="utf-8")
    attachment = tmp_path / "fattura.pdf"
    attachment.write_bytes(b"%PDF-1.4 fattura")
    sent = run(
        sb, "send", "mario@example.it,nessuno@nondelivery.test", "-s", "Fattura 42",
        "--body-file", str(body), "-a", str(attachment), "--wait", "--poll", "10", "--yes",
    )  # fmt: skip
    assert sent.exit_code == ExitCode.STATE, sent.stderr  # one recipient was not delivered
    assert "ACCETTAZIONE" in sent.stdout
    assert "MANCATA CONSEGNA" in sent.stdout
    code = sb.massiva_sent()[0]["code"]
    assert code in sent.stdout
    assert sb.state.sendings[code]["attachments"] == [{"name": "fattura.pdf", "size": 16}]
    receipts = json.loads(run(sb, "receipts", code, "--json").stdout)
    assert receipts["recipients"] == {
        "mario@example.it": "delivered",
        "nessuno@nondelivery.test": "not delivered",
    }
    inbox = json.loads(run(sb, "--json", "inbox", "--search", "Fattura 42").stdout)
    assert {row["kind"] for row in inbox} == {"accettazione", "consegna", "mancata consegna"}
    quota = json.loads(run(sb, "quota", "--json").stdout)
    assert quota["usage_mb"] > 0


def test_bad_address_refused_before_the_question_and_before_sending(sb: Sandbox) -> None:
    result = run(sb, "send", "not-an-address", "-s", "x", "--body", "y", "--yes")
    assert result.exit_code != 0
    assert "to" in result.stderr
    assert "not-an-address" in result.stderr
    assert sb.massiva_sent() == []


def test_rejected_password_is_an_api_error_without_the_password(sb: Sandbox) -> None:
    secret = "Wrong-SECRET-pw-88"
    result = run(sb, "quota", password=secret)
    assert result.exit_code != 0
    assert "401" in result.stderr
    assert secret not in result.stdout + result.stderr


def test_bulk_send_reports_delivered_not_delivered_and_pending(sb: Sandbox, tmp_path: Path) -> None:
    table = tmp_path / "rows.csv"
    table.write_text(
        "to,subject,body\nmario@example.it,Fattura 1,a\nnessuno@nondelivery.test,Fattura 2,b\n",
        encoding="utf-8",
    )
    journal = str(tmp_path / "journal.sqlite")
    first = run(sb, "--json", "bulk", "send", str(table), "--journal", journal, "--yes", "--no-progress")
    assert first.exit_code == 0, first.stderr
    assert json.loads(first.stdout)["summary"]["pending"] == 2
    sb.advance(None)
    again = run(sb, "--json", "bulk", "send", str(table), "--journal", journal, "--yes", "--no-progress")
    summary: dict[str, Any] = json.loads(again.stdout)["summary"]
    assert (summary["delivered"], summary["not_delivered"], summary["pending"]) == (1, 1, 0)
    assert len(sb.massiva_sent()) == 2  # the second run sent nothing


def test_demo_sends_certified_mail_and_shows_its_receipts() -> None:
    result = CliRunner().invoke(cli, ["demo"])
    assert result.exit_code == 0, result.stderr
    assert "send certified mail" in result.stdout
    for kind in ("ACCETTAZIONE", "POSTA CERTIFICATA", "CONSEGNA", "MANCATA CONSEGNA"):
        assert kind in result.stdout


def test_bulk_send_checks_every_row_before_sending_anything(sb: Sandbox, tmp_path: Path) -> None:
    table = tmp_path / "rows.csv"
    rows = ["to,subject,body", "mario@example.it,Fattura 1,a", "not-an-address,Fattura 2,b"]
    table.write_text("\n".join(rows) + "\n", encoding="utf-8")
    journal = str(tmp_path / "journal.sqlite")
    result = run(sb, "bulk", "send", str(table), "--journal", journal, "--yes", "--no-progress")
    assert result.exit_code == ExitCode.VALIDATION
    assert "row 2: to" in result.stderr
    assert sb.massiva_sent() == []


def test_send_with_a_key_and_a_journal_sends_once(sb: Sandbox, tmp_path: Path) -> None:
    journal = str(tmp_path / "journal.sqlite")
    args = ["--json", "send", "mario@example.it", "-s", "Fattura 2026/0042", "--body", "x", "--yes"]
    keyed = [*args, "--idempotency-key", "invoice:2026/0042", "--journal", journal]
    first = json.loads(run(sb, *keyed).stdout)
    again = json.loads(run(sb, *keyed).stdout)
    assert first == again
    assert first["report"] is None
    assert len(sb.massiva_sent()) == 1
    unkeyed = run(sb, *args[1:-1], "--idempotency-key", "invoice:2026/0043", "--yes")
    assert unkeyed.exit_code == ExitCode.USAGE
    assert "--journal" in unkeyed.stderr
