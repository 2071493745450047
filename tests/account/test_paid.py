"""What is paid has one owner, the operations table (``Operation.price``): every consumer follows it.

Each test marks an operation paid (or free) in the table and shows a consumer's answer change:
the scopes' read-only caveats, the quotes, the wallet check (which reads the operation from the
call the flow yields, not from the request's path), the CLI's list.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from pec_ext._engine.operation import PriceKind
from pec_ext._engine.steps import Call
from pec_ext._pec.operations import OPERATIONS
from pec_ext.account.prices import paid_scopes, quote
from pec_ext.account.scopes import paid_operations, paid_operations_allowed, pec_scopes, read_only_caveats
from pec_ext.account.token_cache import TokenCache
from pec_ext.account.wallet_check import Charge, charge_of
from pec_ext.cli import cli
from pec_ext.errors import InsufficientBalanceError, ValidationError
from pec_ext.journal import Journal, SqliteJournalStore
from pec_ext.sandbox import record_only
from tests.support.dates import sandbox_on_day
from tests.support.http_stack import httpx

READING = PriceKind("renew", unit="year", detail="tipo_casella")


@pytest.fixture
def list_mailboxes_paid(monkeypatch: pytest.MonkeyPatch) -> None:
    """The table says listing mailboxes charges like a renewal (nothing else is told)."""
    monkeypatch.setitem(OPERATIONS, "list_mailboxes", replace(OPERATIONS["list_mailboxes"], price=READING))


def test_the_table_marks_the_paid_operations() -> None:
    assert paid_operations() == sorted(
        ["register_mailbox", "renew_mailbox", "change_space", "activate_conservation", "change_type",
         "add_user", "communicate_pec", "check_domain"]
    )  # fmt: skip
    assert all(OPERATIONS[name].price is not None for name in paid_operations())
    assert not OPERATIONS["get_mailbox"].paid


@pytest.mark.usefixtures("list_mailboxes_paid")
def test_scopes_follow_the_table() -> None:
    reader = pec_scopes("production", ["list_mailboxes"])
    assert "list_mailboxes" in paid_operations()
    assert paid_operations_allowed(reader) == ["list_mailboxes", "renew_mailbox"]
    assert any("`list_mailboxes`" in caveat for caveat in read_only_caveats(reader))


def test_a_free_operation_leaves_the_scopes_and_the_quotes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(OPERATIONS, "check_domain", replace(OPERATIONS["check_domain"], price=None))
    assert "check_domain" not in paid_operations()
    assert paid_operations_allowed(pec_scopes("production", ["check_domain"])) == []
    assert "GET:pec.openapi.it/domini_pec" not in paid_scopes("production")
    with pytest.raises(ValidationError, match="operation: 'check_domain'"):
        quote("check_domain", "production", {"domini_pec": 0.05})


@pytest.mark.usefixtures("list_mailboxes_paid")
def test_quotes_follow_the_table() -> None:
    found = quote("list_mailboxes", "sandbox", {"renew.GOLD": 25.0})
    assert (found.scope, found.amount) == ("GET:test.pec.openapi.it/pec", 25.0)


def test_the_charge_comes_from_the_calls_operation_not_its_path() -> None:
    renewal = OPERATIONS["renew_mailbox"]
    assert charge_of(Call(renewal, {"id": "b1"}, params={"anni": 3})) == Charge(
        "renew_mailbox", "renew", None, 3, lower_bound=True
    )
    register = Call(OPERATIONS["register_mailbox"], json={"tipo_casella": "gold"})
    assert charge_of(register) == Charge("register_mailbox", "register", "register.GOLD")
    # Same method and path as a paid operation, but the table says free: no charge.
    free_twin = replace(renewal, name="renew_preview", price=None)
    assert charge_of(Call(free_twin, {"id": "b1"}, params={"anni": 3})) is None
    # A path no paid operation has, marked paid: charged by its kind.
    marked = replace(OPERATIONS["get_mailbox"], price=PriceKind("multiutenza", unit="user"))
    assert charge_of(Call(marked, {"id": "b1"})) == Charge("get_mailbox", "multiutenza", "multiutenza")


@pytest.mark.usefixtures("list_mailboxes_paid")
def test_the_wallet_check_refuses_what_the_table_marks_paid(tmp_path: Path) -> None:
    sb = sandbox_on_day(balance=1, strict_tokens=True, callback_sender=record_only)
    sent: list[str] = []
    inner = sb.transport()

    def counting(request: httpx.Request) -> httpx.Response:
        sent.append(f"{request.method} {request.url.path}")
        return inner.handle_request(request)

    with sb.account_client() as account:
        transport = httpx.MockTransport(counting)
        cache = TokenCache(tmp_path / "cache")
        with account.pec_client(
            ["list_mailboxes"], cache=cache, wallet_check=True, transport=transport
        ) as pec:
            with pytest.raises(InsufficientBalanceError) as caught:
                pec.list_mailboxes()
            assert caught.value.operation == "list_mailboxes"
            assert "GET /pec" not in sent
            sb.balance = 100
            assert pec.list_mailboxes() == []
            assert sent.count("GET /pec") == 1


def test_the_cli_lists_the_tables_paid_operations() -> None:
    result = CliRunner().invoke(cli, ["--embedded", "prices", "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["prices"]
    assert {row["operation"] for row in rows} == set(paid_operations())


def test_a_client_wide_key_refuses_a_paid_call_the_journal_cannot_cover(tmp_path: Path) -> None:
    sb = sandbox_on_day(balance=100, callback_sender=record_only)
    keyed = sb.client().with_options(
        journal=Journal(SqliteJournalStore(tmp_path / "j.sqlite")), idempotency_key="k"
    )
    with pytest.raises(ValidationError) as caught:
        keyed.check_domain("example.it")
    assert caught.value.field == "idempotency_key"
    assert "check_domain is paid" in str(caught.value)
    with pytest.raises(ValidationError):
        keyed.add_user("b1", email_gestione_password="a@example.com")
    assert sb.ledger == []
    # A free read under the same key is no paid call: it is sent.
    assert keyed.list_mailboxes() == []


def test_the_key_guard_follows_the_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(OPERATIONS, "check_domain", replace(OPERATIONS["check_domain"], price=None))
    sb = sandbox_on_day(balance=100, callback_sender=record_only)
    keyed = sb.client().with_options(
        journal=Journal(SqliteJournalStore(tmp_path / "j.sqlite")), idempotency_key="k"
    )
    keyed.check_domain("testcert.legalmail.it")  # the table says free: not refused, sent
    assert [entry["operation"] for entry in sb.ledger] == ["GET /domini_pec"]
