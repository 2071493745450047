"""Helpers for the command-line tests: request fields and a CliRunner wired to a sandbox."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from click.testing import CliRunner, Result

from pec_ext.cli import cli
from pec_ext.cli.config import Config
from pec_ext.sandbox import Sandbox
from tests.support.applicants import ADDRESS, applicant, company

SECRET_TOKEN = "tok-CLI-SECRET-7f3a9c"

APPLICANT = applicant()
COMPANY = company()


def flags(fields: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for key, value in fields.items():
        out += ["--" + key.replace("_", "-"), str(value)]
    return out


@dataclass
class Pec:
    """``pec ...`` against one sandbox; every result is checked for the token."""

    sb: Sandbox

    def __call__(self, *args: str, input: str | None = None) -> Result:
        runner = CliRunner()
        result = runner.invoke(
            cli, list(args), obj=Config(sandbox=self.sb), input=input, env={"OPENAPI_PEC_TOKEN": SECRET_TOKEN}
        )
        assert SECRET_TOKEN not in result.stdout
        assert SECRET_TOKEN not in result.stderr
        return result

    def ok(self, *args: str) -> Result:
        result = self(*args)
        assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "--json").stdout)

    def register(self, address: str = ADDRESS, tipo: str = "BRONZE") -> str:
        data = self.json(
            "boxes", "register", "--yes", *flags({"casella_pec": address, "tipo_casella": tipo, **APPLICANT})
        )
        return str(data["id"])

    def active_box(self, address: str = ADDRESS, tipo: str = "BRONZE") -> str:
        from pec_ext.cli import samples

        box_id = self.register(address, tipo)
        with self.sb.client() as pec:
            form = pec.download_activation_form(box_id)
            pec.activate_mailbox(
                box_id, [form, samples.identity_document_pdf("Mario Rossi", "RSSMRA80A01H501U")]
            )
        self.sb.advance()
        return box_id
