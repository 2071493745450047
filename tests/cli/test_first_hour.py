"""What a newcomer meets in the first hour: no token yet, --help, the template, a local sandbox."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from pec_ext.cli import ExitCode, cli, output, samples
from pec_ext.cli.applicant import DESCRIPTIONS as APPLICANT_DESCRIPTIONS
from pec_ext.enums import MEANINGS, SOTTOTIPI_BY_TIPO_CLIENTE
from pec_ext.sandbox import Sandbox
from pec_ext.validation.bodies import REGISTER_DATES, REGISTER_ENUMS, REGISTER_FIELDS, REGISTER_REQUIRED
from tests.support.cli import ADDRESS, APPLICANT, COMPANY, Pec, flags
from tests.support.dates import server_on_day_args

TOKEN_HINTS = ("OPENAPI_PEC_TOKEN is not set", "--embedded", "pec sandbox serve")


def without_token(*args: str) -> Result:
    """``pec ...`` against Openapi's sandbox URL with no token: nothing may reach the network."""
    return CliRunner().invoke(
        cli,
        list(args),
        env={
            "OPENAPI_PEC_TOKEN": "",
            "OPENAPI_PEC_BASE_URL": "http://127.0.0.1:9",
            "OPENAPI_PEC_EMBEDDED": "",
        },
    )


# -- 3: input before the token ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["available", "not-an-address"], "pec"),
        (["boxes", "upgrade", "0123", "platinum"], "tipo_casella"),
        (["boxes", "upgrade", "0123", "pecmassiva"], "tipo_casella"),
        (["boxes", "register", "--casella-pec", "x@testcert.legalmail.it"], "tipo_casella"),
        (["comunica", "create", "--casella-pec", "nope"], "casella_pec"),
        (["boxes", "renew", "0123", "--anni", "0"], "anni"),
    ],
)
def test_bad_input_is_reported_before_the_missing_token(args: list[str], field: str) -> None:
    result = without_token(*args)
    assert result.exit_code == ExitCode.VALIDATION, result.stderr
    assert f"{field}:" in result.stderr
    assert "token" not in result.stderr.lower()


@pytest.mark.parametrize(
    "args",
    [
        ["boxes", "register", *flags({"casella_pec": ADDRESS, "tipo_casella": "BRONZE", **APPLICANT})],
        ["comunica", "create", *flags(COMPANY)],
    ],
)
def test_good_input_without_a_token_is_not_priced_or_asked(args: list[str]) -> None:
    result = without_token(*args, "--yes")
    assert result.exit_code == ExitCode.VALIDATION
    for hint in TOKEN_HINTS:
        assert hint in result.stderr
    assert "EUR" not in result.stderr


def test_a_file_of_malformed_addresses_needs_no_token(tmp_path: Path) -> None:
    listing = tmp_path / "addresses.txt"
    listing.write_text("not-an-address\nalso@bad@twice\n", encoding="utf-8")
    result = without_token("--json", "available", "-f", str(listing))
    assert result.exit_code == ExitCode.VALIDATION
    rows = json.loads(result.stdout)
    assert [r["pec"] for r in rows] == ["not-an-address", "also@bad@twice"]
    assert all(r["available"] is None and r["error"].startswith("pec:") for r in rows)
    assert "token" not in result.stderr.lower()


def test_the_missing_token_speaks_the_cli_s_language() -> None:
    result = without_token("available", ADDRESS)
    assert result.exit_code == ExitCode.VALIDATION
    for hint in TOKEN_HINTS:
        assert hint in result.stderr
    assert "token=" not in result.stderr  # the library's advice, meaningless on a command line
    data = json.loads(without_token("--json", "boxes", "list").stderr)["error"]
    assert data["field"] == "OPENAPI_PEC_TOKEN"
    assert "--embedded" in data["message"]


def test_the_embedded_sandbox_options_are_in_the_help() -> None:
    out = CliRunner().invoke(cli, ["--help"]).stdout
    assert "--embedded " in out
    assert "--embedded-db FILE" in out
    assert "pec sandbox serve" in out
    assert f"  {int(ExitCode.DECLINED)}  declined" in out


# -- 4: pec sandbox serve prints what points the CLI at it -------------------------------------------


@pytest.fixture
def served(tmp_path: Path) -> Iterator[dict[str, str]]:
    """``pec sandbox serve`` in its own process; yields the variables its output says to export."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pec_ext.cli",
            "sandbox",
            "serve",
            "--port",
            "0",
            "--balance",
            "50",
            *server_on_day_args(),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(4)]
        exports = dict(
            re.fullmatch(r"\s*export (\w+)=(\S+).*", line.rstrip("\n")).groups()  # type: ignore[union-attr]
            for line in lines
            if "export " in line
        )
        yield exports
    finally:
        process.terminate()
        process.wait(timeout=10)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def test_serve_prints_the_lines_that_point_the_cli_at_it(served: dict[str, str]) -> None:
    assert set(served) == {"OPENAPI_PEC_BASE_URL", "OPENAPI_PEC_TOKEN"}
    assert served["OPENAPI_PEC_BASE_URL"].startswith("http://127.0.0.1:")

    def pec(*args: str) -> Result:
        return CliRunner().invoke(cli, list(args), env={**served, "OPENAPI_PEC_EMBEDDED": ""})

    state = pec("--json", "sandbox", "state")
    assert state.exit_code == 0, state.stderr
    assert json.loads(state.stdout)["balance"] == 50.0
    registered = pec(
        "--json",
        "boxes",
        "register",
        "--yes",
        *flags({"casella_pec": ADDRESS, "tipo_casella": "BRONZE", **APPLICANT}),
    )
    assert registered.exit_code == 0, registered.stderr
    listed = pec("--json", "boxes", "list")
    assert [b["casella_pec"] for b in json.loads(listed.stdout)] == [ADDRESS]


# -- 5: register's help, every bad field at once, the template ---------------------------------------


def option_help(help_text: str, name: str) -> str:
    """The help paragraph of ``--name`` (click wraps it over several lines)."""
    flat = " ".join(help_text.split())
    option = "--" + name.replace("_", "-") + " TEXT "
    start = flat.index(option) + len(option)
    end = flat.find(" --", start)
    return flat[start:end]


def test_register_help_shows_required_fields_and_allowed_values(pec: Pec) -> None:
    assert set(APPLICANT_DESCRIPTIONS) == set(REGISTER_FIELDS)
    out = pec.ok("boxes", "register", "--help").stdout
    flat = " ".join(out.split())
    for name in REGISTER_FIELDS:
        if name in ("callback", "autorinnovo"):
            continue
        text = option_help(out, name)
        assert text.startswith("REQUIRED." if name in REGISTER_REQUIRED else "Optional."), (name, text)
        assert "API field" not in text
        assert APPLICANT_DESCRIPTIONS[name][1:] in text  # the description as written, case kept
        if name in REGISTER_DATES:
            assert "dd/mm/yyyy" in text
    for name, enum_cls in REGISTER_ENUMS.items():
        for value, meaning in MEANINGS[enum_cls].items():
            # every value with its meaning, the subtypes grouped under their customer type
            where = flat if name == "sottotipo_cliente" else option_help(out, name)
            assert f"{value} {meaning}" in where, (name, value)
    for tipo, subtypes in SOTTOTIPI_BY_TIPO_CLIENTE.items():
        if subtypes:
            assert f" {tipo.value}: " in flat
    assert "@testcert.legalmail.it" in option_help(out, "casella_pec")
    assert "--template" in flat


def test_register_reports_every_missing_field_at_once(pec: Pec, sb: Sandbox) -> None:
    result = pec("--json", "boxes", "register", "--yes", "--casella-pec", ADDRESS, "--tipo-casella", "bronze")
    assert result.exit_code == ExitCode.VALIDATION
    error = json.loads(result.stderr)["error"]
    missing = set(REGISTER_REQUIRED) - {"casella_pec", "tipo_casella"}
    assert {e["field"] for e in error["errors"]} == missing
    assert error["message"].startswith(f"{len(missing)} fields are not valid")
    text = pec("boxes", "register", "--yes", "--sesso-richiedente", "X", "--cap-titolare", "1").stderr
    assert "sesso_richiedente: 'X' is not valid (allowed: M, F)" in text
    assert "casella_pec:" in text
    assert sb.ledger == []


def test_the_template_registers_once_filled_in(pec: Pec, sb: Sandbox, tmp_path: Path) -> None:
    template = pec.ok("boxes", "register", "--template").stdout
    blank = tomllib.loads(template)
    assert set(blank) == set(REGISTER_FIELDS) - {"callback", "autorinnovo"}
    assert set(blank.values()) == {""}
    for name in REGISTER_REQUIRED:
        assert re.search(rf"# REQUIRED: .*\n(#   .*\n)*{name} = \"\"", template), name
    assert "@testcert.legalmail.it" in template  # the embedded sandbox's domains

    path = tmp_path / "applicant.toml"
    path.write_text(template, encoding="utf-8")
    unfilled = pec("--json", "boxes", "register", "--from-file", str(path), "--yes")
    assert unfilled.exit_code == ExitCode.VALIDATION
    assert {e["field"] for e in json.loads(unfilled.stderr)["error"]["errors"]} == set(REGISTER_REQUIRED)

    # filled in as a person would: the required values written over the blanks, comments kept
    answers = {"casella_pec": ADDRESS, "tipo_casella": "bronze", **APPLICANT}
    filled = template
    for name in REGISTER_REQUIRED:
        filled = filled.replace(f'\n{name} = ""\n', f'\n{name} = "{answers[name]}"\n')
    path.write_text(filled, encoding="utf-8")
    box = pec.json("boxes", "register", "--from-file", str(path), "--yes")
    assert (box["casella_pec"], box["tipo_casella"], box["stato"]) == (ADDRESS, "BRONZE", "registrata")
    assert [e["operation"] for e in sb.ledger] == ["POST /pec"]


def test_the_template_follows_the_environment() -> None:
    out = CliRunner().invoke(cli, ["--production", "boxes", "register", "--template"]).stdout
    assert "@legalmail.it" in out
    assert "testcert" not in out


# -- 6: one JSON shape per command ------------------------------------------------------------------


def test_available_json_is_a_list_whatever_the_count(pec: Pec) -> None:
    one = pec.json("available", ADDRESS)
    two = pec.json("available", ADDRESS, "other@testcert.legalmail.it", "--no-progress")
    assert isinstance(one, list)
    assert isinstance(two, list)
    assert one == two[:1]
    assert set(one[0]) == set(two[1]) == {"pec", "available", "registrable", "note", "error"}


@pytest.mark.parametrize("command", [["boxes", "list"], ["comunica", "list"]])
def test_listings_are_lists_for_none_one_and_many(pec: Pec, command: list[str]) -> None:
    assert pec.json(*command) == []
    pec.register()
    pec.ok("comunica", "create", "--yes", *flags(COMPANY))
    assert len(pec.json(*command)) == 1
    pec.register("second@testcert.legalmail.it")
    pec.ok("comunica", "create", "--yes", *flags({**COMPANY, "casella_pec": "other@pec.example.it"}))
    assert len(pec.json(*command)) == 2


def commands(
    group: click.Group, prefix: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from commands(command, (*prefix, name))
        else:
            yield (*prefix, name), command


def test_every_json_option_documents_its_shape() -> None:
    documented = 0
    for path, command in commands(cli):
        option = next((p for p in command.params if p.name == "json_output"), None)
        if option is None or command.callback is None:
            continue
        shape = output.JSON_SHAPES.get(command.callback.__name__)
        assert shape is not None, path
        assert shape in " ".join(CliRunner().invoke(cli, [*path, "--help"]).stdout.split()), path
        documented += 1
    assert documented >= len(output.JSON_SHAPES) - 1  # the root --json applies to all


def test_json_output_has_the_documented_shape(pec: Pec, sb: Sandbox) -> None:
    box_id = pec.active_box()
    comm_id = pec.json("comunica", "create", "--yes", *flags(COMPANY))["id"]
    runs = {
        "available": ["available", ADDRESS],
        "boxes_list": ["boxes", "list"],
        "boxes_show": ["boxes", "show", box_id],
        "boxes_users_list": ["boxes", "users", "list", box_id],
        "boxes_expiring": ["boxes", "expiring", "--within", "5y", "--no-progress"],
        "comunica_list": ["comunica", "list"],
        "comunica_show": ["comunica", "show", comm_id],
        "domain_check": ["domain", "check", "legalmail.it", "--yes"],
        "sandbox_state": ["sandbox", "state"],
    }
    for name, args in runs.items():
        data = pec.json(*args)
        expected = list if output.JSON_SHAPES[name].startswith("a list") else dict
        assert isinstance(data, expected), (name, data)


# -- 7: declining is its own outcome ----------------------------------------------------------------


@pytest.mark.parametrize("answer", ["n\n", ""])  # "no", or no answer at all (end of input)
def test_declining_exits_with_its_own_code(
    pec: Pec, sb: Sandbox, monkeypatch: pytest.MonkeyPatch, answer: str
) -> None:
    box_id = pec.active_box()
    balance, ledger = sb.balance, len(sb.ledger)
    monkeypatch.setattr("pec_ext.cli.options.stdin_is_terminal", lambda: True)
    result = pec("boxes", "renew", box_id, input=answer)
    assert result.exit_code == ExitCode.DECLINED == 8
    assert "declined: nothing was sent" in result.stderr
    assert (sb.balance, len(sb.ledger)) == (balance, ledger)


# -- 8: free, but not registrable here --------------------------------------------------------------


def test_available_says_when_a_free_address_cannot_be_registered(pec: Pec) -> None:
    out = pec.ok("available", "a@gmail.com").stdout
    assert out.startswith("a@gmail.com: available, but cannot be registered in this environment (sandbox)")
    assert "@testcert.legalmail.it" in out
    (row,) = pec.json("available", "a@gmail.com")
    assert (row["available"], row["registrable"]) == (True, False)
    assert "@test.domiciliodigitale.com" in row["note"]
    (ok,) = pec.json("available", ADDRESS)
    assert (ok["registrable"], ok["note"]) == (True, None)
    # and it is right: register refuses that address for every type
    refused = pec(
        "boxes",
        "register",
        "--yes",
        *flags({"casella_pec": "a@gmail.com", "tipo_casella": "GOLD", **APPLICANT}),
    )
    assert refused.exit_code == ExitCode.VALIDATION
    assert "casella_pec" in refused.stderr


# -- 9: messages -------------------------------------------------------------------------------------


def test_a_document_error_names_the_file(pec: Pec, tmp_path: Path) -> None:
    box_id = pec.register()
    scan = tmp_path / "carta-identita.jpg"
    scan.write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 484)
    form = tmp_path / "modulo.pdf"
    form.write_bytes(samples.text_pdf("modulo", ["firmato"]))
    result = pec("boxes", "activate", box_id, str(form), str(scan))
    assert result.exit_code == ExitCode.VALIDATION
    assert "carta-identita.jpg" in result.stderr
    assert "JPEG" in result.stderr
    assert "bytes>" not in result.stderr


def test_the_renewal_field_is_anni(pec: Pec, sb: Sandbox) -> None:
    box_id = pec.active_box()
    refused = pec("--json", "boxes", "renew", box_id, "--anni", "0", "--yes")
    assert json.loads(refused.stderr)["error"]["field"] == "anni"
    assert "--anni" in pec.ok("boxes", "renew", "--help").stdout
    before = sb.balance
    pec.ok("boxes", "renew", box_id, "--anni", "2", "--yes")
    assert sb.balance == before - 2 * 8.0


def test_tables_show_dates_not_epoch_numbers(pec: Pec) -> None:
    box_id = pec.register()
    pec.ok("comunica", "create", "--yes", *flags(COMPANY))
    for args in (["boxes", "show", box_id], ["comunica", "list"], ["sandbox", "state"]):
        out = pec.ok(*args).stdout
        assert re.search(r"\d{2}/\d{2}/\d{4} \d{2}:\d{2}", out), out
        assert not re.search(r"\b1\d{9}\b", out), out  # no epoch seconds
    # JSON keeps the API's numbers for programs
    assert isinstance(pec.json("boxes", "show", box_id)["timestamp"]["registrazione"], int)


@pytest.mark.dates
def test_demo_hides_the_space_of_an_inactive_box_and_ends_with_what_next(pec: Pec) -> None:
    out = pec.ok("demo").stdout
    registered = next(line for line in out.splitlines() if "register (BRONZE)" in line)
    assert "disco MB" not in registered
    active = next(line for line in out.splitlines() if "space: mailbox +1024 MB" in line)
    assert "disco MB 3072" in active
    tail = out.split("What to try next", 1)[1]
    assert "boxes register --template" in tail
    assert "pec sandbox serve" in tail
