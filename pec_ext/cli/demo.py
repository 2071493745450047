"""``pec demo``: a box's whole lifecycle against the embedded sandbox, step by step, with costs.

It then sends certified mail: a PECMASSIVA box is registered and activated, sends one message
(to a good address and to the sandbox's non-delivery test domain) and shows its receipts.

No token and no network: the sandbox runs in-process and ``PecClient`` talks to it through an
httpx transport. It begins as a real integration should: the account (the sandbox's OAuth
emulation) makes a token with exactly the scopes the demo's operations need, and shows the wallet;
the sandbox refuses any other token. Every step prints what it did and what it cost, and the demo
ends with the wallet's transactions as the account service lists them.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import click

from pec_ext.account.scopes import pec_scopes
from pec_ext.enums import ACTIVE_BOX_STATES
from pec_ext.massiva import MassivaClient, Receipt
from pec_ext.types import CommunicationFields, RegisterFields

from . import output
from .config import Config
from .options import json_option, pass_cfg

APPLICANT: RegisterFields = {
    "tipo_cliente": "PV",
    "nome_richiedente": "Mario",
    "cognome_richiedente": "Rossi",
    "email": "mario.rossi@example.com",
    "telefono": "0612345678",
    "codice_fiscale_richiedente": "RSSMRA80A01H501U",
    "data_nascita_richiedente": "01/01/1980",
    "sesso_richiedente": "M",
    "nazione_nascita_richiedente": "IT",
    "comune_nascita_richiedente": "Roma",
    "provincia_nascita_richiedente": "RM",
    "indirizzo_titolare": "Via Roma 1",
    "comune_titolare": "Roma",
    "cap_titolare": "00184",
    "nazione_titolare": "IT",
    "provincia_titolare": "RM",
}
COMPANY: CommunicationFields = {
    "cf": "RSSMRA80A01H501U",
    "nome": "Mario",
    "cognome": "Rossi",
    "qualifica": "LEGALE_RAPPRESENTANTE",
    "email": "mario.rossi@example.com",
    "cellulare": "3331234567",
    "ragione_sociale": "Rossi Demo S.r.l.",
    "cf_piva": "01114601006",
    "comune": "Roma",
    "provincia": "RM",
}
SENDING_BOX = "invii@testcert.legalmail.it"
# The second address is at the sandbox's non-delivery test domain (NONDELIVERY_DOMAIN).
SENDING_TO = ("mario.rossi@example.it", "nessuno@nondelivery.test")
# The PEC Massiva API's scopes the demo's token gets too (method + first path segment).
MASSIVA_SCOPES = tuple(
    f"{method}:test.ws.pecmassiva.com/{segment}"
    for method, segment in (("POST", "send"), ("GET", "send"), ("GET", "inbox"))
)
# Virtual time: the sandbox-bound client waits on the sandbox clock, which processes due work.
WAIT_TIMEOUT, WAIT_POLL = 3600.0, 30.0
NEXT_STEPS = (
    "pec --embedded-db demo.sqlite boxes register --template > applicant.toml   # fill it in, then",
    "pec --embedded-db demo.sqlite boxes register --from-file applicant.toml    # no token needed",
    "pec --embedded-db demo.sqlite boxes list",
    "pec sandbox serve        # a sandbox over HTTP; it prints the variables to export",
    "pec boxes register --help   # every field, which are required, the allowed values",
    "in tests: the pec_sandbox pytest fixture (README, 'Testing your own code with the sandbox')",
)
# What the demo calls: its token gets the scopes of these and nothing else.
DEMO_OPERATIONS = (
    "check_domain", "check_availability", "register_mailbox", "download_activation_form",
    "activate_mailbox", "get_mailbox", "change_type", "change_space", "download_conservation_form",
    "activate_conservation", "add_user", "renew_mailbox", "communicate_pec", "get_communication",
    "download_power_of_attorney", "upload_communication_documents", "revoke_mailbox",
)  # fmt: skip


@click.command()
@click.option("--balance", type=float, default=200.0, show_default=True, help="Sandbox wallet, EUR.")
@click.option("--address", default="mario.rossi@testcert.legalmail.it", show_default=True)
@json_option
@pass_cfg
def demo(cfg: Config, balance: float, address: str) -> None:
    """The whole lifecycle of a box against an embedded sandbox: no token, no network, seconds."""
    run(balance=balance, address=address, as_json=cfg.json)


@dataclass
class Step:
    number: int
    title: str
    detail: str
    cost: float
    balance: float
    charges: list[dict[str, Any]]


class Transcript:
    def __init__(self, sandbox: Any, *, as_json: bool) -> None:
        self.sandbox = sandbox
        self.as_json = as_json
        self.steps: list[Step] = []
        self.console = output.console()

    def step(self, title: str, action: Callable[[], tuple[Any, str]]) -> Any:
        before, seen = self.sandbox.balance, len(self.sandbox.ledger)
        result, detail = action()
        after = self.sandbox.balance
        step = Step(
            len(self.steps) + 1, title, detail, round(before - after, 2), after, self.sandbox.ledger[seen:]
        )
        self.steps.append(step)
        if not self.as_json:
            cost = f"EUR {step.cost:6.2f}" if step.cost else "    free  "
            self.console.print(f"[bold]{step.number:2d}. {title:<34}[/bold] {cost}  {detail}")
        return result


def _pdf_check(data: bytes, expect: str) -> str:
    from pypdf import PdfReader  # loaded when needed: it costs the command line's start-up

    reader = PdfReader(io.BytesIO(data))
    text = "\n".join(page.extract_text() or "" for page in reader.pages)
    if not data.startswith(b"%PDF-") or expect not in text:
        raise click.ClickException(f"the downloaded form is not the expected PDF (no {expect!r} in it)")
    return f"{len(data)} bytes, {len(reader.pages)} page(s), a real PDF (pypdf read it)"


def run(*, balance: float, address: str, as_json: bool) -> None:
    # imported when the demo runs, not with the command line: the simulator is no small import
    from pec_ext.sandbox import Sandbox, record_only

    with (
        Sandbox(balance=balance, strict_tokens=True, callback_sender=record_only) as sb,
        sb.account_client() as account,
    ):
        t = Transcript(sb, as_json=as_json)
        if not as_json:
            t.console.print(f"[bold]pec demo[/bold]: embedded sandbox, box {address}\n")
        scopes = [*pec_scopes("sandbox", DEMO_OPERATIONS), *MASSIVA_SCOPES]
        token = t.step(
            "least-privilege token",
            lambda: _same(
                account.create_token(scopes, name="pec demo", ttl=3600, warn=False),
                lambda tok: f"{len(tok.scopes)} scopes: {', '.join(tok.scopes)}",
            ),
        )
        t.step("wallet", lambda: _same(account.wallet(), lambda w: f"EUR {w.credit:.2f}"))
        with sb.client(token=token.token, strict_identifiers=True) as pec:
            _lifecycle(t, sb, pec, address)
            _sending(t, sb, pec, token.token)
        _finish(t, sb, account.transactions())


def _lifecycle(t: Transcript, sb: Any, pec: Any, address: str) -> None:
    # pypdf and asn1crypto load when the demo runs, not with every `pec` command
    from pec_ext.documents.p7m import inspect_p7m

    from . import samples

    name = f"{APPLICANT['nome_richiedente']} {APPLICANT['cognome_richiedente']}"
    cf = str(APPLICANT["codice_fiscale_richiedente"])
    domain = address.rsplit("@", 1)[1]

    t.step(
        "domain check",
        lambda: (
            None,
            f"{domain} is {'eligible' if pec.is_domain_eligible(domain) else 'NOT eligible'} for PEC",
        ),
    )
    t.step(
        "availability",
        lambda: (None, f"{address} is {'available' if pec.is_available(address) else 'TAKEN'}"),
    )
    box = t.step(
        "register (BRONZE)",
        lambda: _with(pec.register_mailbox(APPLICANT, casella_pec=address, tipo_casella="BRONZE")),
    )
    box_id = box.id
    form = t.step(
        "download activation form",
        lambda: _same(pec.download_activation_form(box_id), lambda d: _pdf_check(d, address)),
    )
    signed_form = samples.sign_form(form, name, "Roma")
    identity = samples.identity_document_pdf(name, cf)
    t.step(
        "activate (signed form + identity)",
        lambda: _with(pec.activate_mailbox(box_id, [signed_form, identity])),
    )
    t.step(
        "processing",
        lambda: _processed(sb, lambda: pec.wait_for_mailbox(box_id, timeout=WAIT_TIMEOUT, poll=WAIT_POLL)),
    )
    t.step("upgrade BRONZE -> SILVER", lambda: _with(pec.change_type(box_id, "SILVER")))
    t.step("space: mailbox +1024 MB", lambda: _with(pec.add_space(box_id, disco=1024)))

    def conservazione() -> tuple[Any, str]:
        cform = pec.download_conservation_form(box_id)
        _pdf_check(cform, address)
        box = pec.activate_conservation(box_id, [samples.sign_form(cform, name, "Roma")], space=512)
        return box, f"form signed and sent; conservazione {box.spazio_conservazione} MB"

    t.step("conservazione", conservazione)
    t.step(
        "add a user",
        lambda: _with(
            pec.add_user(
                box_id,
                nome="Anna",
                cognome="Bianchi",
                descrizione="segreteria",
                email_gestione_password="anna.bianchi@example.com",  # noqa: S106 - an address
            ),
            lambda b: f"{len(b.multiutenza)} user(s)",
        ),
    )
    t.step("renew 1 year", lambda: _with(pec.renew_mailbox(box_id, anni=1)))
    comm = t.step(
        "business register: request",
        lambda: _with(pec.communicate_pec(COMPANY, casella_pec=address), lambda c: f"{c.id}: {c.stato}"),
    )
    comm_id = comm.id
    t.step(
        "processing",
        lambda: _processed(
            sb,
            lambda: pec.wait_for_communication(
                comm_id, until=("in_attesa_di_documenti",), timeout=WAIT_TIMEOUT, poll=WAIT_POLL
            ),
            lambda c: f"{c.stato}, code {c.codice_registro_imprese}",
        ),
    )

    def upload() -> tuple[Any, str]:
        procura = pec.download_power_of_attorney(comm_id)
        _pdf_check(procura, address)
        signed_at = dt.datetime.fromtimestamp(sb.clock.now(), dt.UTC)
        signed = samples.p7m(procura, signer_name=name, codice_fiscale=cf, signed_at=signed_at)
        signers = ", ".join(inspect_p7m("procura.p7m", signed).signer_common_names) or name
        item = pec.upload_communication_documents(comm_id, [signed])
        return (
            item,
            f"p7m of {len(signed)} bytes, signer {signers} (self-made signature); {item.stato}",
        )

    t.step("business register: upload p7m", upload)
    t.step(
        "processing",
        lambda: _processed(
            sb,
            lambda: pec.wait_for_communication(comm_id, timeout=WAIT_TIMEOUT, poll=WAIT_POLL),
            lambda c: str(c.stato),
        ),
    )
    t.step("revoke", lambda: _with(pec.revoke_mailbox(box_id)))


def _sending(t: Transcript, sb: Any, pec: Any, token: str) -> None:
    """A PECMASSIVA box sends one certified message; its receipts, as they arrive."""
    from . import samples  # as in _lifecycle: signing loads the document libraries

    name = f"{APPLICANT['nome_richiedente']} {APPLICANT['cognome_richiedente']}"
    box = t.step(
        "register (PECMASSIVA)",
        lambda: _with(pec.register_mailbox(APPLICANT, casella_pec=SENDING_BOX, tipo_casella="PECMASSIVA")),
    )
    form = pec.download_activation_form(box.id)
    identity = samples.identity_document_pdf(name, str(APPLICANT["codice_fiscale_richiedente"]))
    t.step(
        "activate (signed form + identity)",
        lambda: _with(pec.activate_mailbox(box.id, [samples.sign_form(form, name, "Roma"), identity])),
    )
    t.step(
        "processing",
        lambda: _processed(sb, lambda: pec.wait_for_mailbox(box.id, timeout=WAIT_TIMEOUT, poll=WAIT_POLL)),
    )
    from pec_ext.sandbox import MASSIVA_BASE_URL  # loaded with the simulator (see run)

    username, password = sb.massiva_credentials(box.id)
    with MassivaClient(
        token,
        username=username,
        password=password,
        base_url=MASSIVA_BASE_URL,
        transport=sb.transport(),
        clock=sb.virtual_clock(),
    ) as massiva:
        sending = t.step(
            "send certified mail",
            lambda: _same(
                massiva.send(list(SENDING_TO), "Benvenuto", "Gentile cliente, la casella è attiva."),
                lambda s: f"code {s.code}, to {', '.join(s.recipients)}",
            ),
        )
        seen: list[Receipt] = []
        report = t.step(
            "receipts",
            lambda: _same(
                massiva.wait_for_delivery(
                    sending.code, timeout=WAIT_TIMEOUT, poll=WAIT_POLL, on_receipt=seen.append
                ),
                lambda r: "; ".join(f"{address}: {status.value}" for address, status in r.recipients.items()),
            ),
        )
    if not t.as_json:
        for receipt in report.receipts:
            when = receipt.time.strftime("%H:%M:%S") if receipt.time else ""
            t.console.print(
                f"      {when}  {receipt.kind.value.upper():<20} {', '.join(receipt.recipients)}",
                highlight=False,
                markup=False,
            )


def _with(record: Any, describe: Callable[[Any], str] | None = None) -> tuple[Any, str]:
    if describe is not None:
        return record, describe(record)
    parts = [f"{record.casella_pec}" if hasattr(record, "casella_pec") else "", f"stato {record.stato}"]
    shown = [("tipo_casella", "type"), ("data_scadenza", "expires")]
    if record.stato in ACTIVE_BOX_STATES:
        # a box gets its space on activation: before that the API reports 0 MB, which misleads
        shown.insert(1, ("spazio_disco", "disco MB"))
    for attr, label in shown:
        value = getattr(record, attr, None)
        if isinstance(value, str | int) and value != "":
            parts.append(f"{label} {value}")
    return record, ", ".join(p for p in parts if p)


def _same(value: Any, describe: Callable[[Any], str]) -> tuple[Any, str]:
    return value, describe(value)


def _processed(
    sb: Any, wait: Callable[[], Any], describe: Callable[[Any], str] | None = None
) -> tuple[Any, str]:
    done = sb.advance()
    record = wait()
    _, detail = _with(record, describe)
    return record, f"sandbox completed {done} job(s): {detail}"


def _finish(t: Transcript, sb: Any, transactions: list[Any]) -> None:
    total = round(sum(s.cost for s in t.steps), 2)
    rows = [
        {"when": str(x.created_at), "amount": f"{x.amount:.2f}", "description": x.description}
        for x in transactions
    ]
    if t.as_json:
        output.print_json(
            {
                "steps": [s.__dict__ for s in t.steps],
                "total_cost": total,
                "final_balance": sb.balance,
                "ledger": sb.ledger,
                "transactions": rows,
            }
        )
        return
    t.console.print(
        f"\n[bold]total spent[/bold]: EUR {total:.2f}   [bold]final balance[/bold]: EUR {sb.balance:.2f}"
    )
    output.table(rows, ("when", "amount", "description"), title="the wallet's transactions (account service)")
    t.console.print("\n[bold]What to try next[/bold]", highlight=False)
    for line in NEXT_STEPS:
        t.console.print(f"  {line}", highlight=False, markup=False)
