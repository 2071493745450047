"""What a type checker says about user code: misspelt or mistyped fields are caught before running."""

from __future__ import annotations

import os
import re
import textwrap
from pathlib import Path

import pytest
from mypy import api as mypy_api

ROOT = Path(__file__).resolve().parents[2]

# Each line ending in "# expect: TEXT" must get a mypy message containing TEXT; no other line may.
USER_CODE = """
from pec_ext import AsyncPecClient, PecClient
from pec_ext.sandbox import Sandbox

APPLICANT = {"tipo_cliente": "PV"}


def sync_code(sb: Sandbox) -> None:
    pec = sb.client()
    reveal_type(pec)  # expect: Revealed type is "pec_ext._pec.client.PecClient"
    pec.register_mailbox(tipo_casela="BRONZE")  # expect: Unexpected keyword argument "tipo_casela"
    pec.register_mailbox(casella_pec=1)  # expect: Argument "casella_pec" to "register_mailbox"
    pec.register_mailbox(casella_pec=1)  # expect: incompatible type "int"; expected "str"
    pec.register_mailbox(casella_pec="a@testcert.legalmail.it", tipo_casella="bronze", autorinnovo=True)
    pec.register_mailbox(APPLICANT, casella_pec="a@testcert.legalmail.it")
    pec.register_mailbox(data_nascita_richiedente=19800101)  # expect: Argument "data_nascita_richiedente"
    pec.communicate_pec(casella_pec=1)  # expect: Argument "casella_pec" to "communicate_pec"
    pec.communicate_pec(ragione_socale="Rossi S.r.l.")  # expect: Unexpected keyword argument "ragione_socale"
    pec.communicate_pec(casella_pec="a@pec.example.it", pec_amministratore=False)
    pec.add_user("0123", nome="Anna", email="a@example.com")  # expect: Unexpected keyword argument "email"


async def async_code(sb: Sandbox) -> None:
    pec = sb.async_client()
    reveal_type(pec)  # expect: Revealed type is "pec_ext._pec.client.AsyncPecClient"
    await pec.register_mailbox(tipo_casela="BRONZE")  # expect: Unexpected keyword argument "tipo_casela"
    await pec.communicate_pec(casella_pec=1)  # expect: Argument "casella_pec" to "communicate_pec"
    await pec.register_mailbox(callback={"url": "https://example.com/hook", "method": "JSON"})
    await pec.register_mailbox(callback={"method": "JSON"})  # expect: expected "CallbackFields | None"
"""


def test_mypy_catches_misspelt_and_mistyped_fields(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code = textwrap.dedent(USER_CODE).lstrip("\n")
    expected = {
        number: line.split("# expect: ", 1)[1]
        for number, line in enumerate(code.splitlines(), start=1)
        if "# expect: " in line
    }
    source = tmp_path / "user_code.py"
    source.write_text(code, encoding="utf-8")
    # this checkout's pec_ext, not an installed copy
    monkeypatch.setenv("MYPYPATH", os.pathsep.join([str(ROOT), str(ROOT / "generated")]))
    monkeypatch.chdir(ROOT)  # reuses the project's mypy cache
    stdout, stderr, _status = mypy_api.run(
        ["--strict", "--follow-imports=silent", "--no-error-summary", "--show-absolute-path", str(source)]
    )
    assert not stderr, stderr
    reported: dict[int, str] = {}
    for line in stdout.splitlines():
        match = re.match(r".*user_code\.py:(\d+): (?:error|note): (.*)", line)
        if match:
            reported[int(match.group(1))] = reported.get(int(match.group(1)), "") + match.group(2)
    for number, text in expected.items():
        assert text in reported.get(number, ""), (number, text, stdout)
    # the correct calls pass: only the marked lines are reported
    assert set(reported) == set(expected), stdout
