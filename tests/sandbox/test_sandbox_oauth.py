"""The OAuth v2 account service on the sandbox: tokens the PEC side enforces, one wallet, real prices."""

from __future__ import annotations

import pytest

from pec_ext.sandbox import DEFAULT_PRICES, ManualClock, Sandbox, SandboxServer, record_only
from pec_ext.sandbox.oauth import scope_id
from tests.support.dates import sandbox_on_day
from tests.support.http_stack import httpx
from tests.support.sandbox import box_body

BASE = "https://sandbox.pec.invalid"
READ = ["GET:test.pec.openapi.it/pec"]


def account(sb: Sandbox, auth: tuple[str, str] = ("me@example.com", "any-key")) -> httpx.Client:
    return httpx.Client(transport=sb.transport(), base_url=BASE + "/oauth", auth=auth)


def pec(sb: Sandbox, token: str) -> httpx.Client:
    return httpx.Client(transport=sb.transport(), base_url=BASE, headers={"Authorization": f"Bearer {token}"})


def create(http: httpx.Client, scopes: list[str], **extra: object) -> dict[str, object]:
    response = http.post("/tokens", json={"scopes": scopes, **extra})
    assert response.status_code == 200, response.text
    data: dict[str, object] = response.json()  # a TokenDetail, as the spec says: no envelope
    return data


@pytest.fixture
def sb() -> Sandbox:
    return sandbox_on_day(balance=50, strict_tokens=True, callback_sender=record_only)


def test_a_created_token_works_on_the_pec_side_within_its_scopes(sb: Sandbox) -> None:
    token = create(account(sb), READ, name="reader", ttl=3600)
    assert token["scopes"] == READ
    assert token["name"] == "reader"
    http = pec(sb, str(token["token"]))
    assert http.get("/pec").status_code == 404  # allowed: no box yet
    refused = http.post("/pec", json=box_body())
    assert refused.status_code == 403
    assert "POST:pec.openapi.it/pec" in refused.json()["message"]
    assert sb.ledger == []


def test_unknown_expired_and_deleted_tokens_get_401(sb: Sandbox) -> None:
    http = account(sb)
    assert pec(sb, "not-a-token").get("/pec").status_code == 401
    short = create(http, READ, ttl=60)
    assert pec(sb, str(short["token"])).get("/pec").status_code == 404
    sb.clock.advance(61)
    expired = pec(sb, str(short["token"])).get("/pec")
    assert expired.status_code == 401
    assert "expired" in expired.json()["message"]

    gone = create(http, READ)
    assert http.delete(f"/tokens/{gone['token']}").json()["message"] == "Deleted"
    assert pec(sb, str(gone["token"])).get("/pec").status_code == 401
    # a deleted token is refused even by a sandbox that lets unknown tokens through
    lenient = sandbox_on_day(callback_sender=record_only)
    kept = create(account(lenient), READ)
    account(lenient).delete(f"/tokens/{kept['token']}")
    assert pec(lenient, str(kept["token"])).get("/pec").status_code == 401
    assert pec(lenient, "anything").get("/pec").status_code == 404


def test_the_wallet_is_the_pec_sides_wallet(sb: Sandbox) -> None:
    http = account(sb)
    token = create(http, ["POST:test.pec.openapi.it/pec", *READ])
    assert http.get("/wallet").json()["data"]["credit"] == 50.0
    assert pec(sb, str(token["token"])).post("/pec", json=box_body(tipo="GOLD")).status_code == 200
    wallet = http.get("/wallet").json()["data"]
    assert wallet["credit"] == 50.0 - DEFAULT_PRICES["register.GOLD"] == sb.balance
    (txn,) = http.get("/wallet/transactions").json()["data"]
    assert txn["amount"] == -DEFAULT_PRICES["register.GOLD"]
    assert "POST /pec" in txn["description"]


def test_scopes_are_the_pec_apis_and_their_prices_the_sandboxs_table() -> None:
    sb = sandbox_on_day(prices={"register.GOLD": 30.0}, callback_sender=record_only)
    http = account(sb)
    scopes = {s["scope"]: s for s in http.get("/scopes").json()["data"]}
    assert "GET:pec.openapi.it/verifica_pec" in scopes
    assert "DELETE:test.pec.openapi.it/dominio" in scopes
    assert "PATCH:pec.openapi.it/domini_pec" not in scopes
    post_pec = http.get(f"/scopes/{scopes['POST:test.pec.openapi.it/pec']['id']}").json()["data"]
    assert post_pec["prices"]["register.GOLD"] == 30.0
    assert post_pec["prices"]["multiutenza"] == DEFAULT_PRICES["multiutenza"]
    get_pec = http.get(f"/scopes/{scope_id('GET:pec.openapi.it/pec')}").json()["data"]
    # the renewal is a GET: reading mailboxes and paying a renewal share one scope
    assert set(get_pec["prices"]) == {k for k in DEFAULT_PRICES if k.startswith("renew.")}
    verify = http.get(f"/scopes/{scope_id('GET:pec.openapi.it/verifica_pec')}").json()["data"]
    assert verify["prices"] == {}
    assert http.get("/scopes/nope").json()["error"] == 10


def test_refresh_token_renews_and_retires_the_old_token(sb: Sandbox) -> None:
    http = account(sb)
    old = create(http, READ, ttl=100)
    renewed = httpx.Client(transport=sb.transport(), base_url=BASE + "/oauth").patch(
        f"/tokens/{old['token']}", headers={"Authorization": f"Bearer {old['refreshToken']}"}, json={}
    )
    assert renewed.status_code == 200
    new = renewed.json()
    assert new["token"] != old["token"]
    assert new["scopes"] == READ
    assert pec(sb, str(old["token"])).get("/pec").status_code == 401
    assert pec(sb, new["token"]).get("/pec").status_code == 404
    wrong = httpx.Client(transport=sb.transport(), base_url=BASE + "/oauth").patch(
        f"/tokens/{new['token']}", headers={"Authorization": "Bearer 0123"}, json={}
    )
    assert (wrong.status_code, wrong.json()["error"]) == (401, 130)


def test_basic_update_changes_scopes_and_ttl(sb: Sandbox) -> None:
    http = account(sb)
    token = create(http, READ, ttl=10)
    updated = http.patch(
        f"/tokens/{token['token']}", json={"scopes": ["GET:pec.openapi.it/domini_pec"], "ttl": 1000}
    )
    assert updated.json()["scopes"] == ["GET:pec.openapi.it/domini_pec"]
    sb.clock.advance(20)
    assert pec(sb, str(token["token"])).get("/pec").status_code == 403


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({}, 70),
        ({"scopes": "GET:pec.openapi.it/pec"}, 80),
        ({"scopes": ["GET:pec.openapi.it/nope"]}, 90),
    ],
)
def test_token_creation_refusals_use_the_specs_codes(sb: Sandbox, body: dict[str, object], code: int) -> None:
    response = account(sb).post("/tokens", json=body)
    assert (response.status_code, response.json()["error"]) == (422, code)
    assert account(sb).get("/tokens").json()["data"] == []


def test_token_lookups(sb: Sandbox) -> None:
    http = account(sb)
    token = create(http, READ)
    assert http.get(f"/tokens/{token['token']}").json()["token"] == token["token"]
    assert [t["token"] for t in http.get("/tokens").json()["data"]] == [token["token"]]
    assert http.get("/tokens/xyz").json()["error"] == 60
    assert http.get("/tokens/" + "0" * 24).json()["error"] == 120


def test_basic_auth_any_credentials_by_default_or_the_configured_account() -> None:
    anyone = sandbox_on_day(callback_sender=record_only)
    assert account(anyone, ("x@y.it", "k")).get("/wallet").status_code == 200
    no_auth = httpx.Client(transport=anyone.transport(), base_url=BASE + "/oauth").get("/wallet")
    assert no_auth.status_code == 401
    strict = sandbox_on_day(account=("me@example.com", "secret"), callback_sender=record_only)
    assert account(strict, ("me@example.com", "wrong")).get("/wallet").status_code == 401
    assert account(strict, ("me@example.com", "secret")).get("/wallet").status_code == 200


def test_the_oauth_host_is_routed_to_the_account_service_too(sb: Sandbox) -> None:
    http = httpx.Client(
        transport=sb.transport(), base_url="https://test.oauth.openapi.com", auth=("a@b.it", "k")
    )
    assert http.get("/wallet").json()["data"]["credit"] == 50.0
    # and the PEC paths are untouched by the prefix
    assert pec(sb, "x").get("/pec").status_code == 401


def test_tokens_survive_a_restart_with_the_same_database(tmp_path) -> None:
    db = tmp_path / "state.sqlite"
    first = sandbox_on_day(db_path=db, strict_tokens=True, callback_sender=record_only)
    token = create(account(first), READ, ttl=3600)
    first.close()
    second = sandbox_on_day(db_path=db, strict_tokens=True, callback_sender=record_only)
    assert pec(second, str(token["token"])).get("/pec").status_code == 404
    second.close()


def test_over_http_one_server_serves_both() -> None:
    sb = sandbox_on_day(balance=10, strict_tokens=True, callback_sender=record_only)
    with SandboxServer(sb) as server:
        created = httpx.post(server.url + "/oauth/tokens", auth=("a@b.it", "k"), json={"scopes": READ})
        token = created.json()["token"]
        answer = httpx.get(server.url + "/pec", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 404
        assert httpx.get(server.url + "/oauth/wallet", auth=("a@b.it", "k")).json()["data"]["credit"] == 10


# -- the error log, statistics and subscriptions ------------------------------------------------------

START = 1_767_225_600.0  # 2026-01-01T00:00:00Z


def _traffic(sb: Sandbox, token: str = "anyone") -> str:
    """A paid registration, a read and a refused read; returns the box's id."""
    http = pec(sb, token)
    box = http.post("/pec", json=box_body())
    assert box.status_code == 200, box.text
    assert http.get(f"/pec/{box.json()['data']['id']}").status_code == 200
    assert http.get("/pec/" + "0" * 24).status_code == 404
    return str(box.json()["data"]["id"])


def test_statistics_are_the_traffic_and_the_ledger() -> None:
    sb = Sandbox(balance=50, clock=ManualClock(START), callback_sender=record_only)
    http = account(sb)
    assert http.get("/stats").json()["data"]["totalRequests"] == 0
    _traffic(sb)
    paid = sum(entry["amount"] for entry in sb.ledger)
    assert paid > 0
    stats = http.get("/stats").json()["data"]
    assert stats == {
        "totalRequests": 3,
        "walletRequests": 1,
        "subscriptionRequests": 1,
        "errorRequests": 1,
        "walletAmount": paid,
        "totalIps": 1,
        "totalApis": 1,
    }
    assert http.get("/stats/ips").json()["data"] == ["127.0.0.1"]
    by_api = http.get("/stats/apis").json()["data"]
    assert list(by_api) == ["test.pec.openapi.it"]
    assert by_api["test.pec.openapi.it"]["totalScopes"] == 2
    detail = http.get("/stats/apis/test.pec.openapi.it").json()["data"]
    assert detail["scopes"]["POST:test.pec.openapi.it/pec"]["walletAmount"] == paid
    assert detail["scopes"]["GET:test.pec.openapi.it/pec"]["errorRequests"] == 1
    assert detail["ip"] == ["127.0.0.1"]
    # the date filter: a year, a month or a day; another day counts nothing
    assert http.get("/stats", params={"date": "2026"}).json()["data"]["totalRequests"] == 3
    assert http.get("/stats", params={"date": "2026-01-01"}).json()["data"]["totalRequests"] == 3
    assert http.get("/stats/ips", params={"date": "2026-01-02"}).json()["data"] == []
    for bad in ("2026-1", "yesterday", "2026-13", "2026-02-30"):
        refused = http.get("/stats", params={"date": bad})
        assert (refused.status_code, refused.json()["error"]) == (422, 240), bad


def test_the_error_log_lists_the_refused_requests_newest_first() -> None:
    sb = Sandbox(clock=ManualClock(START), callback_sender=record_only)
    _traffic(sb)
    sb.clock.advance(60)
    assert pec(sb, "anyone").delete("/pec/" + "0" * 24).status_code == 404
    http = account(sb)
    errors = http.get("/errors").json()["data"]
    assert [(e["scope"], e["httpResponseCode"]) for e in errors] == [
        ("DELETE:test.pec.openapi.it/pec", 404),
        ("GET:test.pec.openapi.it/pec", 404),
    ]
    assert errors[1]["errorAt"] == "2026-01-01T00:00:00+00:00"
    only = http.get("/errors", params={"scopes": "GET:test.pec.openapi.it/pec"}).json()["data"]
    assert [e["id"] for e in only] == [errors[1]["id"]]
    assert http.get("/errors", params={"skip": 1, "limit": 1}).json()["data"] == [errors[1]]


def test_subscriptions_are_a_small_consistent_set() -> None:
    sb = Sandbox(clock=ManualClock(START), callback_sender=record_only)
    http = account(sb)
    listed = http.get("/subscriptions").json()["data"]
    assert [s["scope"] for s in listed] == [
        "GET:test.pec.openapi.it/pec",
        "GET:test.pec.openapi.it/verifica_pec",
    ]
    assert set(listed[0]) == {"id", "scope", "active", "availableRequests", "startsAt", "expiresAt"}
    _traffic(sb)  # one read answered 200: one request of the GET bundle
    one = http.get(f"/subscriptions/{listed[0]['id']}").json()["data"]
    assert (one["totalRequests"], one["availableRequests"]) == ("1000", "999")
    assert http.get("/subscriptions", params={"id": listed[0]["id"]}).json()["data"] == one
    filtered = http.get("/subscriptions", params={"scopes": "GET:test.pec.openapi.it/verifica_pec"})
    assert [s["id"] for s in filtered.json()["data"]] == [listed[1]["id"]]
    missing = http.get("/subscriptions/" + "0" * 24)
    assert (missing.status_code, missing.json()["error"]) == (404, 220)
    assert http.get("/subscriptions", params={"limit": "many"}).status_code == 400


def test_statistics_and_subscriptions_survive_a_restart(tmp_path) -> None:
    db = tmp_path / "state.sqlite"
    first = Sandbox(db_path=db, clock=ManualClock(START), callback_sender=record_only)
    _traffic(first)  # the registration's save carries the counters with it
    before = account(first).get("/stats").json()["data"]
    first.close()
    second = Sandbox(db_path=db, clock=ManualClock(START + 3600), callback_sender=record_only)
    http = account(second)
    after = http.get("/stats").json()["data"]
    assert after["walletRequests"] == before["walletRequests"] == 1
    assert after["walletAmount"] == before["walletAmount"]
    subscription = http.get("/subscriptions").json()["data"][0]
    assert subscription["startsAt"] == "2026-01-01T00:00:00+00:00"  # anchored at the first start
    second.close()


def test_over_http_the_client_address_is_counted() -> None:
    sb = sandbox_on_day(callback_sender=record_only)
    with SandboxServer(sb) as server:
        # from another loopback address than the in-process default: the socket's peer is counted
        with httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.3")) as http:
            http.get(server.url + "/pec", headers={"Authorization": "Bearer t"})
        assert httpx.get(server.url + "/oauth/stats/ips", auth=("a@b.it", "k")).json()["data"] == [
            "127.0.0.3"
        ]


def test_the_error_log_is_bounded_and_leaves_the_box_ids_alone() -> None:
    quiet = Sandbox(clock=ManualClock(START), callback_sender=record_only)
    noisy = Sandbox(clock=ManualClock(START), callback_sender=record_only)
    for _ in range(130):
        assert pec(noisy, "anyone").get("/pec/" + "0" * 24).status_code == 404
    # the log numbers its entries apart: the same registration gets the same id either way
    assert _traffic(noisy) == _traffic(quiet)
    errors = account(noisy).get("/errors").json()["data"]
    assert len(errors) == 100
    assert len({e["id"] for e in errors}) == 100
    assert account(noisy).get("/stats").json()["data"]["errorRequests"] == 131
