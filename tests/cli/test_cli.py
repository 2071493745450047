"""End-to-end tests of ``pec`` against the in-process sandbox (click's CliRunner)."""

from __future__ import annotations

import base64
import calendar
import datetime as dt
import io
import json
from pathlib import Path

import pytest
from pypdf import PdfReader

from pec_ext.cli import ExitCode, samples
from pec_ext.cli.exit_codes import exit_code_for
from pec_ext.errors import OutcomeUnknownError, RequestTimeoutError
from pec_ext.sandbox import Sandbox
from tests.support.cli import ADDRESS, APPLICANT, COMPANY, Pec, flags
from tests.support.dates import DAY, at


def test_help_documents_exit_codes(pec: Pec) -> None:
    out = pec.ok("--help").stdout
    assert "Exit codes:" in out
    for code in ExitCode:
        assert f"  {int(code)}  " in out
    assert "OPENAPI_PEC_TOKEN" in out
    for group in ("domain", "available", "boxes", "comunica", "sandbox", "demo"):
        assert group in out


def test_exit_code_mapping_puts_unknown_outcome_first() -> None:
    unknown = OutcomeUnknownError("x", operation="register_mailbox", method="POST", url="u")
    assert exit_code_for(unknown) == ExitCode.OUTCOME_UNKNOWN
    assert exit_code_for(RequestTimeoutError("t")) == ExitCode.TRANSPORT


def test_usage_errors_exit_2(pec: Pec) -> None:
    assert pec("boxes", "list", "--nope").exit_code == 2
    assert pec("--embedded", "--production", "boxes", "list").exit_code == 2
    assert pec("available").exit_code == 2
    assert pec("boxes", "space", "0123", "--disco", "lots").exit_code == 2


# -- domain, availability ------------------------------------------------------------------------


def test_domain_check_is_charged(pec: Pec, sb: Sandbox) -> None:
    result = pec.ok("domain", "check", "testcert.legalmail.it", "--yes")
    assert "testcert.legalmail.it: eligible for PEC" in result.stdout
    assert pec.json("domain", "check", "legalmail.it", "-y") == {"dominio": "legalmail.it", "eligible": True}
    assert [e["operation"] for e in sb.ledger] == ["GET /domini_pec", "GET /domini_pec"]


def test_available_single(pec: Pec) -> None:
    assert f"{ADDRESS}: available" in pec.ok("available", ADDRESS).stdout
    pec.register()
    assert pec.json("available", ADDRESS) == [
        {"pec": ADDRESS, "available": False, "registrable": False, "note": None, "error": None}
    ]


def test_available_bulk_from_file_with_progress(pec: Pec, tmp_path: Path) -> None:
    pec.register()
    others = [f"user{i}@testcert.legalmail.it" for i in range(12)]
    listing = tmp_path / "addresses.txt"
    listing.write_text("# to check\n" + ADDRESS + "\n\n" + "\n".join(others) + "\n")
    result = pec.ok("available", "--file", str(listing), "--concurrency", "4", "--format", "json")
    rows = json.loads(result.stdout)
    assert [r["pec"] for r in rows] == [ADDRESS, *others]
    assert rows[0]["available"] is False
    assert all(r["available"] is True for r in rows[1:])
    assert "availability" in result.stderr
    assert "13/13" in result.stderr

    csv_out = pec.ok("available", "--file", str(listing), "--format", "csv", "--no-progress").stdout
    assert csv_out.splitlines()[0] == "pec,available,registrable,note,error"
    assert csv_out.splitlines()[1] == f"{ADDRESS},no,no,,"
    table = pec.ok("available", "--file", str(listing)).stdout
    assert "user11@testcert.legalmail.it" in table


def test_available_bulk_reports_bad_lines(pec: Pec, tmp_path: Path) -> None:
    listing = tmp_path / "addresses.txt"
    listing.write_text("ok@testcert.legalmail.it\nnot-an-address\n")
    result = pec("available", "-f", str(listing), "--json")
    assert result.exit_code == ExitCode.VALIDATION
    rows = json.loads(result.stdout)
    assert rows[0]["available"] is True
    assert rows[1]["available"] is None
    assert "pec" in rows[1]["error"]


# -- register --------------------------------------------------------------------------------------


def test_register_from_flags_shows_price_first(pec: Pec, sb: Sandbox) -> None:
    result = pec.ok(
        "boxes", "register", "--yes", *flags({"casella_pec": ADDRESS, "tipo_casella": "bronze", **APPLICANT})
    )
    assert "REAL prices of your account's scopes (embedded sandbox" in result.stderr
    assert "registration of a BRONZE box" in result.stderr
    assert "8.00" in result.stderr
    assert "500.00" in result.stderr
    assert "492.00" in result.stderr
    assert "registrata" in result.stdout
    assert ADDRESS in result.stdout
    assert sb.balance == 492.0


@pytest.mark.parametrize("suffix", [".json", ".toml"])
def test_register_from_file(pec: Pec, tmp_path: Path, suffix: str) -> None:
    fields = {"casella_pec": ADDRESS, "tipo_casella": "STANDARD", **APPLICANT}
    path = tmp_path / f"applicant{suffix}"
    if suffix == ".json":
        path.write_text(json.dumps(fields))
    else:
        path.write_text("".join(f'{k} = "{v}"\n' for k, v in fields.items()))
    data = pec.json("boxes", "register", "--from-file", str(path), "--yes", "--tipo-casella", "GOLD")
    assert data["tipo_casella"] == "GOLD"  # a flag overrides the file
    assert data["casella_pec"] == ADDRESS
    assert data["stato"] == "registrata"


def test_register_without_tty_and_without_yes_is_refused(pec: Pec, sb: Sandbox) -> None:
    result = pec("boxes", "register", *flags({"casella_pec": ADDRESS, "tipo_casella": "BRONZE", **APPLICANT}))
    assert result.exit_code == ExitCode.USAGE
    assert "--yes" in result.stderr
    assert sb.balance == 500.0
    assert not sb.mailboxes()


def test_register_validation_error_names_the_field(pec: Pec, sb: Sandbox) -> None:
    bad = {**APPLICANT, "cap_titolare": "1234"}
    result = pec(
        "boxes", "register", "--yes", *flags({"casella_pec": ADDRESS, "tipo_casella": "BRONZE", **bad})
    )
    assert result.exit_code == ExitCode.VALIDATION
    assert "cap_titolare" in result.stderr
    assert "1234" in result.stderr
    assert sb.balance == 500.0
    assert not sb.mailboxes()

    result = pec(
        "--json",
        "boxes",
        "register",
        "--yes",
        *flags({"casella_pec": "x@legalmail.it", "tipo_casella": "BRONZE"}),
    )
    assert result.exit_code == ExitCode.VALIDATION
    error = json.loads(result.stderr)["error"]
    assert error["field"] == "casella_pec"
    assert error["exit_code"] == 3


def test_register_strict_identifiers(pec: Pec) -> None:
    bad_cf = {**APPLICANT, "codice_fiscale_richiedente": "RSSMRA80A01H501X"}
    args = flags({"casella_pec": ADDRESS, "tipo_casella": "BRONZE", **bad_cf})
    result = pec("--strict-identifiers", "boxes", "register", "--yes", *args)
    assert result.exit_code == ExitCode.VALIDATION
    assert "codice_fiscale_richiedente" in result.stderr


# -- boxes -----------------------------------------------------------------------------------------


def test_list_and_show(pec: Pec) -> None:
    assert pec.ok("boxes", "list").stdout.strip() == "no boxes"
    assert pec.json("boxes", "list") == []
    box_id = pec.register()
    table = pec.ok("boxes", "list").stdout
    assert box_id in table
    assert ADDRESS in table
    assert "registrata" in table
    [row] = pec.json("boxes", "list")
    assert row["id"] == box_id
    shown = pec.json("boxes", "show", box_id)
    assert shown["casella_pec"] == ADDRESS
    assert shown["codice_fiscale_richiedente"] == "RSSMRA80A01H501U"
    assert "cod_attivazione" in pec.ok("boxes", "show", box_id).stdout


def test_show_unknown_box_is_an_api_error(pec: Pec) -> None:
    result = pec("boxes", "show", "0" * 24)
    assert result.exit_code == ExitCode.API
    assert "API error 202 (GET_PEC_NOT_FOUND)" in result.stderr


def test_form_download_refuses_to_overwrite(pec: Pec, tmp_path: Path) -> None:
    box_id = pec.register()
    target = tmp_path / "form.pdf"
    assert "saved" in pec.ok("boxes", "form", box_id, "-o", str(target)).stdout
    reader = PdfReader(target)
    assert ADDRESS in reader.pages[0].extract_text()

    again = pec("boxes", "form", box_id, "-o", str(target))
    assert again.exit_code == ExitCode.VALIDATION
    assert "--force" in again.stderr
    data = pec.json("boxes", "form", box_id, "-o", str(target), "--force")
    assert data == {"id": box_id, "path": str(target), "bytes": target.stat().st_size}

    piped = pec.ok("boxes", "form", box_id, "-o", "-")
    assert piped.stdout_bytes.startswith(b"%PDF-")


def test_box_lifecycle(pec: Pec, sb: Sandbox, tmp_path: Path) -> None:
    box_id = pec.register()
    form = tmp_path / "form.pdf"
    pec.ok("boxes", "form", box_id, "-o", str(form))
    signed = tmp_path / "signed.pdf"
    signed.write_bytes(samples.sign_form(form.read_bytes(), "Mario Rossi", "Roma"))
    identity = tmp_path / "identity.pdf"
    identity.write_bytes(samples.identity_document_pdf("Mario Rossi", "RSSMRA80A01H501U"))

    assert pec.json("boxes", "activate", box_id, str(signed), str(identity))["stato"] == "in_evasione"
    assert pec.json("sandbox", "advance")["completed"] == 1
    assert pec.json("boxes", "show", box_id)["stato"] == "evasa"

    assert pec.json("boxes", "upgrade", box_id, "silver", "--yes")["tipo_casella"] == "SILVER"
    box = pec.json("boxes", "space", box_id, "--disco", "+1024", "--storico", "4096", "--yes")
    assert (box["spazio_disco"], box["spazio_storico"]) == (3072, 4096)

    cform = tmp_path / "conservazione.pdf"
    pec.ok("boxes", "form", box_id, "--conservazione", "-o", str(cform))
    box = pec.json("boxes", "conservazione", box_id, str(cform), "--space", "1024", "--yes")
    assert box["conservazione"] is True
    assert box["spazio_conservazione"] == 1024
    assert pec.json("boxes", "space", box_id, "--conservazione", "+512", "-y")["spazio_conservazione"] == 1536

    user = ["--nome", "Anna", "--cognome", "Bianchi", "--descrizione", "segreteria"]
    pec.ok("boxes", "users", "add", box_id, *user, "--email", "anna@example.com", "--yes")
    [listed] = pec.json("boxes", "users", "list", box_id)
    assert listed["email_gestione_password"] == "anna@example.com"
    assert "anna@example.com" in pec.ok("boxes", "show", box_id).stdout

    before = pec.json("boxes", "show", box_id)["data_scadenza"]
    after = pec.json("boxes", "renew", box_id, "--years", "2", "--yes")["data_scadenza"]
    assert int(after[-4:]) == int(before[-4:]) + 2

    operations = [e["operation"] for e in sb.ledger]
    assert operations == [
        "POST /pec",
        "PATCH /pec/{id}/trasformazione",
        "PATCH /pec/{id}/modifica",
        "PATCH /pec/{id}/conservazione",
        "PATCH /pec/{id}/modifica",
        "POST /pec/{id}/multiutenza",
        "GET /pec/{id}/rinnovo",
    ]


def test_space_downgrade_is_a_validation_error(pec: Pec) -> None:
    box_id = pec.active_box()
    result = pec("boxes", "space", box_id, "--storico", "0")
    assert result.exit_code == ExitCode.VALIDATION
    result = pec("boxes", "upgrade", box_id, "STANDARD")
    assert result.exit_code == ExitCode.VALIDATION
    assert "tipo_casella" in result.stderr


def test_revoke_twice_shows_the_api_message_and_code(pec: Pec) -> None:
    box_id = pec.active_box()
    assert "revocata" in pec.ok("boxes", "revoke", box_id, "--yes").stdout
    result = pec("boxes", "revoke", box_id, "--yes")
    assert result.exit_code == ExitCode.API
    assert "API error 303 (ALREADY_REVOKED), HTTP" in result.stderr
    assert "HTTP" in result.stderr
    assert f"/pec/{box_id}" in result.stderr

    result = pec("--json", "boxes", "revoke", box_id, "--yes")
    error = json.loads(result.stderr)["error"]
    assert error["code"] == 303
    assert error["code_name"] == "ALREADY_REVOKED"
    assert error["message"]
    assert result.exit_code == 4


def test_revoke_asks_without_yes(pec: Pec) -> None:
    box_id = pec.active_box()
    assert pec("boxes", "revoke", box_id).exit_code == ExitCode.USAGE


PAID_COMMANDS = {
    "domain check": lambda box_id, pdf: ["domain", "check", "legalmail.it"],
    "space": lambda box_id, pdf: ["boxes", "space", box_id, "--disco", "+1024"],
    "upgrade": lambda box_id, pdf: ["boxes", "upgrade", box_id, "GOLD"],
    "conservazione": lambda box_id, pdf: ["boxes", "conservazione", box_id, pdf],
    "renew": lambda box_id, pdf: ["boxes", "renew", box_id],
    "users add": lambda box_id, pdf: [
        "boxes", "users", "add", box_id, "--nome", "A", "--cognome", "B", "--descrizione", "c",
        "--email", "a@example.com",
    ],
    "comunica create": lambda box_id, pdf: ["comunica", "create", *flags(COMPANY)],
}  # fmt: skip


@pytest.mark.parametrize("command", sorted(PAID_COMMANDS))
def test_every_paid_command_needs_yes_without_a_terminal(
    pec: Pec, sb: Sandbox, tmp_path: Path, command: str
) -> None:
    box_id = pec.active_box()
    pdf = tmp_path / "form.pdf"
    pdf.write_bytes(b"%PDF-1.4\n")  # refused before the documents are read
    balance, ledger = sb.balance, len(sb.ledger)
    result = pec(*PAID_COMMANDS[command](box_id, str(pdf)))
    assert result.exit_code == ExitCode.USAGE, (result.stdout, result.stderr)
    assert "--yes" in result.stderr
    assert "EUR" in result.stderr  # the price was shown before refusing
    assert (sb.balance, len(sb.ledger)) == (balance, ledger)


def test_a_paid_command_asks_on_a_terminal(pec: Pec, sb: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    box_id = pec.active_box()
    balance = sb.balance
    monkeypatch.setattr("pec_ext.cli.options.stdin_is_terminal", lambda: True)
    declined = pec("boxes", "renew", box_id, input="n\n")
    assert declined.exit_code == ExitCode.DECLINED
    assert "Renew box" in declined.stderr
    assert sb.balance == balance
    accepted = pec("boxes", "renew", box_id, "--years", "2", input="y\n")
    assert accepted.exit_code == 0, accepted.stderr
    assert sb.balance == balance - 2 * 8.0  # two years of a BRONZE box


def test_price_preview_of_a_space_change_counts_the_units(pec: Pec, sb: Sandbox) -> None:
    box_id = pec.active_box()
    result = pec.ok("boxes", "space", box_id, "--disco", "+2048", "--storico", "3072", "--yes")
    # +2048 MB of disco (2 x 1024) and storico from 1024 to 3072 (2 x 1024), at 2.00 each
    assert "spazio_disco: +2048 MB" in result.stderr
    assert "spazio_storico: +2048 MB" in result.stderr
    assert "8.00" in result.stderr
    assert sb.ledger[-1]["amount"] == pytest.approx(8.0)


def _next_leap_year_start(day: dt.date) -> dt.date:
    """The first 5 March from ``day`` on whose following year holds a 29 February (366 days)."""
    year = day.year if day <= dt.date(day.year, 3, 5) else day.year + 1
    while not calendar.isleap(year + 1):
        year += 1
    return dt.date(year, 3, 5)


@pytest.mark.dates
def test_expiring(pec: Pec, sb: Sandbox) -> None:
    # "today" is a day whose next calendar year is 366 days long, wherever the suite's day falls
    today = _next_leap_year_start(DAY)
    sb.clock.set(at(today) - 90 * 86400)
    first = pec.active_box()
    sb.clock.set(at(today))
    second = pec.active_box("anna.bianchi@testcert.legalmail.it", "GOLD")
    pec.register("later@testcert.legalmail.it")  # not active: no expiry
    a_year_on = dt.date(today.year + 1, today.month, today.day)
    assert (a_year_on - today).days == 366

    assert pec.json("boxes", "expiring", "--within", "30d") == []
    # the second box expires exactly one calendar year ahead, across 29 February: 1y reaches it
    rows = pec.json("boxes", "expiring", "--within", "1y", "--no-progress")
    assert [r["id"] for r in rows] == [first, second]
    assert [r["data_scadenza"] for r in rows][1] == a_year_on.strftime("%d/%m/%Y")
    assert [r["days_left"] for r in rows] == [365 - 90, 366]
    assert rows[0]["renewal_price"] == 8.0
    assert rows[1]["renewal_price"] == 25.0
    assert rows[0]["autorinnovo"] is False
    # 365 days stop one day short of it
    assert [r["id"] for r in pec.json("boxes", "expiring", "--within", "365d")] == [first]
    assert [r["id"] for r in pec.json("boxes", "expiring", "--within", "11m")] == [first]

    result = pec.ok("boxes", "expiring", "--within", "13m", "--format", "csv")
    lines = result.stdout.splitlines()
    assert lines[0].startswith("id,casella_pec,tipo_casella,stato,data_scadenza,days_left")
    assert len(lines) == 3
    assert "boxes" in result.stderr  # the progress bar
    table = pec.ok("boxes", "expiring", "--within", "1y", "--no-progress")
    assert "2 box(es) expiring within 1 calendar year" in table.stdout + table.stderr

    in_a_year = pec.json("boxes", "expiring", "--within", "10d", "--as-of", "2100-01-01")
    assert len(in_a_year) == 2
    assert all(r["days_left"] < 0 for r in in_a_year)
    refused = pec("boxes", "expiring", "--within", "soon")
    assert refused.exit_code == 2
    assert "'--within'" in refused.stderr
    assert "30d, 8w, 6m, 1y" in refused.stderr


# -- business register ---------------------------------------------------------------------------


def test_communication_lifecycle(pec: Pec, sb: Sandbox, tmp_path: Path) -> None:
    assert pec.json("comunica", "list") == []
    created = pec.json("comunica", "create", *flags(COMPANY), "--yes")
    comm_id = created["id"]
    assert created["stato"] == "codice_in_richiesta"
    assert comm_id in pec.ok("comunica", "list").stdout
    pec.ok("sandbox", "advance")
    shown = pec.json("comunica", "show", comm_id)
    assert shown["stato"] == "in_attesa_di_documenti"
    assert shown["codice_registro_imprese"]

    procura = tmp_path / "procura.pdf"
    pec.ok("comunica", "form", comm_id, "-o", str(procura))
    assert pec("comunica", "form", comm_id, "-o", str(procura)).exit_code == ExitCode.VALIDATION
    p7m = tmp_path / "procura.pdf.p7m"
    p7m.write_bytes(
        samples.p7m(procura.read_bytes(), signer_name="Mario Rossi", codice_fiscale="RSSMRA80A01H501U")
    )

    not_p7m = pec("comunica", "upload", comm_id, str(procura))
    assert not_p7m.exit_code == ExitCode.VALIDATION

    uploaded = pec.json("comunica", "upload", comm_id, str(p7m))
    assert uploaded["stato"] == "documenti_caricati"
    pec.ok("sandbox", "advance")
    assert "comunicazione_evasa" in pec.ok("comunica", "show", comm_id).stdout
    assert [e["operation"] for e in sb.ledger] == ["POST /comunica_pec"]


def test_communication_from_file_and_validation(pec: Pec, tmp_path: Path) -> None:
    path = tmp_path / "company.json"
    path.write_text(json.dumps(COMPANY))
    created = pec.json("comunica", "create", "--from-file", str(path), "--yes")
    assert created["casella_pec"] == COMPANY["casella_pec"]
    result = pec("comunica", "create", "--from-file", str(path), "--qualifica", "PRESIDENTE")
    assert result.exit_code == ExitCode.VALIDATION
    assert "qualifica" in result.stderr
    broken = tmp_path / "broken.json"
    broken.write_text("{nope")
    assert pec("comunica", "create", "--from-file", str(broken)).exit_code == ExitCode.VALIDATION


def test_p7m_sample_is_a_cms_signed_data() -> None:
    from asn1crypto import cms

    data = samples.p7m(b"%PDF-1.4 content", signer_name="Mario Rossi", codice_fiscale="RSSMRA80A01H501U")
    info = cms.ContentInfo.load(data)
    signed = info["content"]
    assert info["content_type"].native == "signed_data"
    assert signed["encap_content_info"]["content"].native == b"%PDF-1.4 content"
    cert = signed["certificates"][0].chosen
    assert cert.subject.native["common_name"] == "Mario Rossi"
    assert cert.subject.native["serial_number"] == "TINIT-RSSMRA80A01H501U"
    assert base64.b64encode(data)


# -- demo -----------------------------------------------------------------------------------------


@pytest.mark.dates
def test_demo_runs_and_exits_zero(pec: Pec) -> None:
    result = pec.ok("demo")
    out = result.stdout
    for step in ("domain check", "register (BRONZE)", "activate", "upgrade", "conservazione", "renew 1 year"):
        assert step in out
    assert "business register: upload p7m" in out
    assert "comunicazione_evasa" in out
    assert "revocata" in out
    assert "final balance" in out
    assert "EUR   8.00" in out


@pytest.mark.dates
def test_demo_json(pec: Pec) -> None:
    data = pec.json("demo", "--balance", "100")
    assert data["final_balance"] == pytest.approx(100 - data["total_cost"])
    assert data["total_cost"] == pytest.approx(sum(e["amount"] for e in data["ledger"]))
    titles = [s["title"] for s in data["steps"]]
    assert titles[:3] == ["least-privilege token", "wallet", "domain check"]
    # the box's lifecycle ends with its revocation; then a PECMASSIVA box sends certified mail
    assert titles[titles.index("revoke") + 1 :] == [
        "register (PECMASSIVA)",
        "activate (signed form + identity)",
        "processing",
        "send certified mail",
        "receipts",
    ]
    form_step = next(s for s in data["steps"] if s["title"] == "download activation form")
    assert "a real PDF" in form_step["detail"]


@pytest.mark.dates
def test_demo_without_credit_fails_with_the_api_error(pec: Pec) -> None:
    result = pec("demo", "--balance", "1")
    assert result.exit_code == ExitCode.API
    assert "262" in result.stderr or "credit" in result.stderr.lower()


def test_samples_are_real_pdfs() -> None:
    pdf = samples.identity_document_pdf("Mario Rossi", "RSSMRA80A01H501U")
    assert "RSSMRA80A01H501U" in PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
