"""The whole account flow against the sandbox, sync and async: tokens, scopes, prices, the wallet."""

from __future__ import annotations

import asyncio
import logging
import warnings
from pathlib import Path

import pytest

from pec_ext.account.client import AccountClient, AsyncAccountClient
from pec_ext.account.scopes import ScopeWarning, pec_scopes
from pec_ext.account.token_cache import TokenCache
from pec_ext.errors import (
    ForbiddenError,
    InsufficientBalanceError,
    NotFoundError,
    PaymentRequiredError,
    UnauthorizedError,
    ValidationError,
)
from pec_ext.sandbox import DEFAULT_PRICES, ManualClock, Sandbox, record_only
from tests.support.applicants import applicant
from tests.support.dates import EPOCH
from tests.support.http_stack import httpx

APPLICANT = applicant()
READ_OPS = ["list_mailboxes", "get_mailbox"]
SECRET_KEY = "very-secret-api-key"


@pytest.fixture
def sb() -> Sandbox:
    return Sandbox(balance=40, strict_tokens=True, callback_sender=record_only, clock=ManualClock(EPOCH))


@pytest.fixture
def cache(tmp_path: Path) -> TokenCache:
    return TokenCache(tmp_path / "cache")


def test_the_whole_account_flow_sync(sb: Sandbox, cache: TokenCache) -> None:
    with sb.account_client(api_key=SECRET_KEY) as account:
        assert account.wallet().credit == 40.0
        scopes = pec_scopes("sandbox", ["register_mailbox", *READ_OPS])
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a writing token is not "meant for reading"
            token = account.create_token(scopes, name="ops", ttl=3600)
        assert token.scopes == tuple(scopes)
        assert [t.name for t in account.list_tokens()] == ["ops"]
        assert account.get_token(token.token).name == "ops"
        detail = account.get_scope("POST:test.pec.openapi.it/pec")
        assert detail.prices["register.GOLD"] == DEFAULT_PRICES["register.GOLD"]
        assert (
            account.quote("register_mailbox", key="register.SILVER").amount
            == DEFAULT_PRICES["register.SILVER"]
        )

        with account.pec_client(["register_mailbox", *READ_OPS], cache=cache) as pec:
            box = pec.register_mailbox(
                casella_pec="a@testcert.legalmail.it", tipo_casella="SILVER", **APPLICANT
            )
            assert pec.get_mailbox(box.id).casella_pec == "a@testcert.legalmail.it"
            with pytest.raises(ForbiddenError):  # least privilege: no PATCH scope was asked for
                pec.change_type(box.id, "GOLD")
        (charge,) = account.transactions()
        assert charge.amount == -DEFAULT_PRICES["register.SILVER"]
        assert account.wallet().credit == sb.balance == 40 - DEFAULT_PRICES["register.SILVER"]

        renewed = account.renew_token(token.token, str(token.refresh_token))
        assert renewed.token != token.token
        with pytest.raises(NotFoundError):
            account.get_token(token.token)
        account.delete_token(renewed.token)
        assert account.list_tokens()[0].name == "openapi-pec"  # pec_client's own, cached token


async def test_the_whole_account_flow_async(sb: Sandbox, cache: TokenCache) -> None:
    async with sb.async_account_client() as account:
        assert (await account.wallet()).credit == 40.0
        token = await account.create_token(pec_scopes("sandbox", ["check_availability"]), ttl=600)
        assert [t.token for t in await account.list_tokens()] == [token.token]
        quote = await account.quote("renew_mailbox", key="renew.GOLD", units=2)
        assert quote.amount == DEFAULT_PRICES["renew.GOLD"] * 2
        async with account.pec_client(["register_mailbox", *READ_OPS], cache=cache) as pec:
            box = await pec.register_mailbox(
                casella_pec="b@testcert.legalmail.it", tipo_casella="BRONZE", **APPLICANT
            )
            assert (await pec.get_mailbox(box.id)).stato == "registrata"
        (charge,) = await account.transactions()
        assert charge.amount == -DEFAULT_PRICES["register.BRONZE"]
        await account.delete_token(token.token)
        assert len(await account.list_tokens()) == 1


def test_a_read_token_warns_that_get_pec_can_renew(sb: Sandbox) -> None:
    with sb.account_client() as account, pytest.warns(ScopeWarning, match="renew_mailbox"):
        account.create_pec_token(READ_OPS)


def test_401_and_403_from_scopes_through_pec_client(sb: Sandbox, cache: TokenCache) -> None:
    with sb.account_client() as account:
        with account.pec_client(["check_availability"], cache=cache) as pec:
            assert pec.is_available("x@testcert.legalmail.it") is True
            with pytest.raises(ForbiddenError, match=r"GET:pec\.openapi\.it/pec"):
                pec.list_mailboxes()
        # a token the account deleted: the PEC side answers 401
        with pytest.warns(ScopeWarning):
            token = account.create_pec_token(["list_mailboxes"], ttl=600)
        account.delete_token(token.token)
        with sb.client(token=token.token) as raw, pytest.raises(UnauthorizedError):
            raw.list_mailboxes()


def test_a_token_deleted_elsewhere_is_replaced_once_on_401(sb: Sandbox, cache: TokenCache) -> None:
    with sb.account_client() as account, account.pec_client(["check_availability"], cache=cache) as pec:
        assert pec.is_available("x@testcert.legalmail.it")
        (made,) = account.list_tokens()
        account.delete_token(made.token)
        assert pec.is_available("x@testcert.legalmail.it")
        (again,) = account.list_tokens()
        assert again.token != made.token


@pytest.mark.dates
def test_renewal_before_expiry_in_virtual_time(sb: Sandbox, cache: TokenCache) -> None:
    with (
        sb.account_client() as account,
        account.pec_client(["check_availability"], ttl=1000, cache=cache) as pec,
    ):
        pec.is_available("x@testcert.legalmail.it")
        (first,) = account.list_tokens()
        sb.clock.advance(850)  # more than a tenth of the lifetime left: the same token
        pec.is_available("x@testcert.legalmail.it")
        assert [t.token for t in account.list_tokens()] == [first.token]
        sb.clock.advance(60)  # 90 s left, inside the last tenth: renewed with the refresh token
        pec.is_available("x@testcert.legalmail.it")
        (second,) = account.list_tokens()
        assert second.token != first.token
        assert second.expire_at is not None
        assert first.expire_at is not None
        assert second.expire_at > first.expire_at
        sb.clock.advance(5000)  # long expired: a new one, the request still succeeds
        assert pec.is_available("x@testcert.legalmail.it")


def test_the_wallet_check_refuses_without_sending(sb: Sandbox, cache: TokenCache) -> None:
    sent: list[str] = []
    inner = sb.transport()

    def counting(request: httpx.Request) -> httpx.Response:
        sent.append(f"{request.method} {request.url.path}")
        return inner.handle_request(request)

    with sb.account_client() as account:
        pec = account.pec_client(
            ["register_mailbox"], cache=cache, wallet_check=True, transport=httpx.MockTransport(counting)
        )
        sb.balance = DEFAULT_PRICES["register.GOLD"] - 0.01
        before = (sb.balance, len(sb.ledger), sb.mailboxes())
        with pytest.raises(InsufficientBalanceError) as caught:
            pec.register_mailbox(casella_pec="c@testcert.legalmail.it", tipo_casella="GOLD", **APPLICANT)
        assert caught.value.price == DEFAULT_PRICES["register.GOLD"]
        assert (sb.balance, len(sb.ledger), sb.mailboxes()) == before
        assert "POST /pec" not in sent
        # affordable: sent and charged
        box = pec.register_mailbox(casella_pec="c@testcert.legalmail.it", tipo_casella="BRONZE", **APPLICANT)
        assert box.tipo_casella == "BRONZE"
        assert len(sb.ledger) == 1
        assert sent.count("POST /pec") == 1
        pec.close()


def test_without_the_check_the_server_refuses_with_402(sb: Sandbox, cache: TokenCache) -> None:
    sb.balance = 1.0
    with (
        sb.account_client() as account,
        account.pec_client(["register_mailbox"], cache=cache) as pec,
        pytest.raises(PaymentRequiredError, match="Insufficient Credit"),
    ):
        pec.register_mailbox(casella_pec="d@testcert.legalmail.it", tipo_casella="GOLD", **APPLICANT)


def test_secrets_stay_out_of_reprs_logs_and_errors(
    sb: Sandbox, cache: TokenCache, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with sb.account_client(api_key=SECRET_KEY) as account:
        token = account.create_pec_token(["check_availability"])
        text = repr(account) + repr(token) + str(token)
        with account.pec_client(["check_availability"], cache=cache) as pec:
            pec.is_available("x@testcert.legalmail.it")
            text += repr(pec)
        account.delete_token(token.token)
        with pytest.raises(NotFoundError) as caught:
            account.get_token(token.token)
        error = caught.value
        text += str(error) + repr(error) + error.url + repr(error.request) + str(error.args)
    text += caplog.text
    assert token.token not in text
    assert SECRET_KEY not in text
    assert "***" in error.url


def test_bad_input_is_refused_before_sending(sb: Sandbox) -> None:
    with sb.account_client() as account:
        with pytest.raises(ValidationError, match="scopes"):
            account.create_token(["read everything"])
        with pytest.raises(ValidationError, match="ttl"):
            account.create_token(["GET:pec.openapi.it/pec"], ttl=0, warn=False)
        with pytest.raises(ValidationError, match="operations"):
            account.pec_client(["send_fax"])
        assert account.list_tokens() == []
    with pytest.raises(ValidationError, match="OPENAPI_EMAIL"):
        AccountClient(email="", api_key="k")
    with pytest.raises(ValidationError, match="OPENAPI_API_KEY"):
        AsyncAccountClient(email="a@b.it", api_key=" ")


def test_environment_picks_the_oauth_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAPI_EMAIL", "a@b.it")
    monkeypatch.setenv("OPENAPI_API_KEY", "k")
    assert AccountClient(environment="production").base_url == "https://oauth.openapi.com"
    assert AccountClient(environment="sandbox").base_url == "https://test.oauth.openapi.com"


def test_http_client_injection(sb: Sandbox) -> None:
    seen: list[str] = []
    http = httpx.Client(
        transport=sb.transport(), event_hooks={"request": [lambda r: seen.append(r.url.path)]}
    )
    with AccountClient(
        "a@b.it", "k", base_url="https://sandbox.pec.invalid/oauth", http_client=http
    ) as account:
        account.wallet()
    assert seen == ["/oauth/wallet"]
    assert not http.is_closed
    http.close()


def test_async_wallet_check_refuses_too(sb: Sandbox, cache: TokenCache) -> None:
    async def main() -> None:
        async with sb.async_account_client() as account:
            sb.balance = 0.5
            async with account.pec_client(["check_domain"], cache=cache, wallet_check=True) as pec:
                with pytest.raises(InsufficientBalanceError):
                    await pec.check_domain("example.it")
        assert sb.ledger == []

    sb.prices.table["domini_pec"] = 1.0
    asyncio.run(main())


def test_the_callbacks_log_lists_what_the_sandbox_sent(sb: Sandbox, cache: TokenCache) -> None:
    from pec_ext.cli import samples

    operations = ["register_mailbox", "download_activation_form", "activate_mailbox"]
    with sb.account_client() as account:
        with account.pec_client(operations, cache=cache) as pec:
            box = pec.register_mailbox(
                casella_pec="e@testcert.legalmail.it",
                tipo_casella="BRONZE",
                callback={"url": "https://hooks.example/pec", "method": "JSON"},
                **APPLICANT,
            )
            assert account.callbacks() == []  # a callback fires on a change of stato
            form = pec.download_activation_form(box.id)
            pec.activate_mailbox(
                box.id, [form, samples.identity_document_pdf("Mario Rossi", "RSSMRA80A01H501U")]
            )
        (listed,) = account.callbacks()
        assert listed.url == "https://hooks.example/pec"
        detail = account.callback(str(listed.id))
        assert detail.data["stato"] == "in_evasione"


def test_pec_client_refuses_an_http_client_of_its_own(sb: Sandbox) -> None:
    with sb.account_client() as account, pytest.raises(ValidationError, match="http_client"):
        account.pec_client(["list_mailboxes"], http_client=httpx.Client())


@pytest.mark.dates
def test_scope_prices_are_cached_for_a_limited_time(sb: Sandbox) -> None:
    from pec_ext.account.prices import PRICES_TTL

    with sb.account_client() as account:
        assert (
            account.quote("register_mailbox", key="register.GOLD").amount == DEFAULT_PRICES["register.GOLD"]
        )
        sb.prices.table["register.GOLD"] = 99.0
        sb.clock.advance(PRICES_TTL - 1)
        assert (
            account.quote("register_mailbox", key="register.GOLD").amount == DEFAULT_PRICES["register.GOLD"]
        )
        sb.clock.advance(2)
        assert account.quote("register_mailbox", key="register.GOLD").amount == 99.0
