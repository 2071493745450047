"""``pec token create|list``, ``pec wallet``, ``pec prices`` and real prices before paid commands."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from click.testing import CliRunner, Result

from pec_ext.cli import cli
from pec_ext.sandbox import DEFAULT_PRICES, Sandbox, SandboxServer, record_only
from tests.support.cli import ADDRESS, APPLICANT, Pec, flags
from tests.support.dates import sandbox_on_day

ACCOUNT_ENV = {"OPENAPI_EMAIL": "ops@example.com", "OPENAPI_API_KEY": "cli-SECRET-api-key"}


def test_token_create_makes_exactly_the_scopes_and_prints_the_value_once(pec: Pec, sb: Sandbox) -> None:
    result = pec.ok("token", "create", "-o", "register_mailbox", "-o", "check_availability", "--ttl", "3600")
    value = result.stdout.strip()
    assert list(sb.state.tokens) == [value]
    assert sb.state.tokens[value]["scopes"] == [
        "GET:test.pec.openapi.it/verifica_pec",
        "POST:test.pec.openapi.it/pec",
    ]
    assert "Warning" not in result.stderr
    listed = pec.ok("token", "list")
    assert value not in listed.stdout
    assert value[:4] + "…" in listed.stdout


def test_a_read_token_warns_about_the_paid_renewal(pec: Pec) -> None:
    result = pec.ok("token", "create", "-o", "get_mailbox")
    assert "a token meant for reading can spend" in result.stderr
    assert "renew_mailbox" in result.stderr


def test_token_create_needs_operations(pec: Pec, sb: Sandbox) -> None:
    result = pec("token", "create")
    assert result.exit_code == 2
    assert "--operation" in result.stderr
    assert sb.state.tokens == {}


def test_wallet_shows_balance_and_the_pec_charges(pec: Pec, sb: Sandbox) -> None:
    pec.register(tipo="GOLD")
    data = pec.json("wallet")
    assert data["credit"] == 500 - DEFAULT_PRICES["register.GOLD"]
    (charge,) = data["transactions"]
    assert float(charge["amount"]) == -DEFAULT_PRICES["register.GOLD"]
    assert "POST /pec" in charge["description"]
    table = pec.ok("wallet")
    assert f"EUR {500 - DEFAULT_PRICES['register.GOLD']:.2f}" in table.stdout


def test_prices_are_the_accounts_on_the_embedded_sandbox(pec: Pec) -> None:
    data = pec.json("prices", "renew_mailbox")
    assert data["indicative"] is False
    assert "REAL prices" in data["source"]
    assert data["balance"] == 500.0
    renew = {row["price key"]: row["EUR"] for row in data["prices"]}
    assert renew == {k: f"{v:.2f}" for k, v in DEFAULT_PRICES.items() if k.startswith("renew.")}


@pytest.fixture
def server() -> Iterator[SandboxServer]:
    with (
        sandbox_on_day(balance=77, prices={"register.BRONZE": 9.5}, callback_sender=record_only) as sb,
        SandboxServer(sb) as srv,
    ):
        yield srv


def _run(*args: str, env: dict[str, str]) -> Result:
    result = CliRunner().invoke(cli, list(args), env={"OPENAPI_PEC_TOKEN": "pec-SECRET-token", **env})
    for secret in ("pec-SECRET-token", ACCOUNT_ENV["OPENAPI_API_KEY"]):
        assert secret not in result.stdout + result.stderr
    return result


def test_prices_without_credentials_say_they_are_indicative(server: SandboxServer) -> None:
    result = _run("--base-url", server.url, "prices", env={"OPENAPI_EMAIL": "", "OPENAPI_API_KEY": ""})
    assert result.exit_code == 0, result.stderr
    assert "INDICATIVE prices" in result.stdout
    assert "OPENAPI_EMAIL and OPENAPI_API_KEY" in result.stderr


def test_with_credentials_a_paid_command_shows_the_real_price_and_balance(server: SandboxServer) -> None:
    prices = _run("--base-url", server.url, "--json", "prices", "register_mailbox", env=ACCOUNT_ENV)
    data = json.loads(prices.stdout)
    assert {r["price key"]: r["EUR"] for r in data["prices"]}["register.BRONZE"] == "9.50"
    registered = _run(
        "--base-url",
        server.url,
        "boxes",
        "register",
        "--yes",
        *flags({"casella_pec": ADDRESS, "tipo_casella": "BRONZE", **APPLICANT}),
        env=ACCOUNT_ENV,
    )
    assert registered.exit_code == 0, registered.stderr
    assert "REAL prices of your account's scopes" in registered.stderr
    assert "9.50" in registered.stderr
    assert "77.00" in registered.stderr  # the balance before
    assert server.sandbox.balance == 77 - 9.5


@pytest.mark.dates
def test_demo_starts_with_a_least_privilege_token_and_ends_with_the_transactions(pec: Pec) -> None:
    data = pec.json("demo", "--balance", "100")
    first, second = data["steps"][:2]
    assert first["title"] == "least-privilege token"
    assert "DELETE:test.pec.openapi.it/pec" in first["detail"]
    assert "dominio" not in first["detail"]  # the demo never calls /dominio: no scope for it
    assert (second["title"], second["detail"]) == ("wallet", "EUR 100.00")
    assert len(data["transactions"]) == len(data["ledger"]) > 0
    assert sum(float(t["amount"]) for t in data["transactions"]) == pytest.approx(-data["total_cost"])
    table = pec.ok("demo")
    assert "the wallet's transactions" in table.stdout
