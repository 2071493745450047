"""The conformance hook itself: it must refuse what the spec refuses, or it proves nothing."""

from __future__ import annotations

import pytest

from tests.support.http_stack import httpx

BASE = "https://test.pec.openapi.it"


def bearer(**headers: str) -> dict[str, str]:
    return {"authorization": "Bearer t", **headers}


def test_hook_refuses_violations(conformance):
    good = httpx.Request(
        "PATCH", f"{BASE}/pec/abc/trasformazione", json={"tipo_casella": "GOLD"}, headers=bearer()
    )
    conformance.check(good)
    bad = [
        httpx.Request(
            "PATCH", f"{BASE}/pec/abc/trasformazione", json={"tipo_casella": "PLATINUM"}, headers=bearer()
        ),
        httpx.Request("GET", f"{BASE}/pec/abc/rinnovo", params={"anni": "two"}, headers=bearer()),
        httpx.Request("GET", f"{BASE}/nowhere", headers=bearer()),
        httpx.Request("GET", "https://elsewhere.example/pec", headers=bearer()),
        httpx.Request("GET", f"{BASE}/pec"),  # no token
    ]
    for request in bad:
        with pytest.raises(AssertionError):
            conformance.check(request)
    assert len(conformance.violations) == len(bad)
    conformance.violations.clear()  # expected here; the fixture would fail the test otherwise
    assert conformance.checked == [f"PATCH {BASE}/pec/abc/trasformazione"]


async def test_every_request_of_the_method_tests_is_checked(pec, api, data):
    await pec("renew_mailbox", data.BOX_ID, anni=3)
    await pec("register_mailbox", **data.register_fields())
    assert len(api.conformance.checked) == len(api.sent()) == 2
