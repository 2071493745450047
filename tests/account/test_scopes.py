"""pec_scopes(): least-privilege scopes derived from the operations table, and the renewal caveat."""

from __future__ import annotations

import warnings

import pytest

from pec_ext._pec.operations import OPERATIONS
from pec_ext.account.scopes import (
    SEED_SCOPES,
    ScopeWarning,
    paid_operations_allowed,
    pec_scopes,
    read_only_caveats,
    warn_if_not_read_only,
)
from pec_ext.errors import ValidationError
from pec_ext.sandbox.oauth import all_scopes


def _seed(host: str) -> set[str]:
    return {f"{m}:{host}/{segment}" for segment, methods in SEED_SCOPES.items() for m in methods}


@pytest.mark.parametrize(
    ("environment", "host"), [("production", "pec.openapi.it"), ("sandbox", "test.pec.openapi.it")]
)
def test_all_operations_need_the_seeds_scopes_except_dominio(environment: str, host: str) -> None:
    every = pec_scopes(environment)
    assert every == sorted(every)
    assert set(every) == {
        f"GET:{host}/verifica_pec",
        *(f"{m}:{host}/pec" for m in ("GET", "POST", "PATCH", "DELETE")),
        *(f"{m}:{host}/comunica_pec" for m in ("GET", "POST", "PATCH")),
        f"GET:{host}/domini_pec",
    }
    # /dominio has scopes but no operation in the PEC spec: the only difference from the seed's list
    assert _seed(host) - set(every) == {f"{m}:{host}/dominio" for m in ("GET", "POST", "DELETE")}


def test_the_sandbox_offers_exactly_the_seeds_scopes() -> None:
    assert set(all_scopes()) == _seed("pec.openapi.it") | _seed("test.pec.openapi.it")


def test_named_operations_get_method_and_first_segment_only() -> None:
    assert pec_scopes("production", ["get_mailbox", "list_mailboxes", "download_activation_form"]) == [
        "GET:pec.openapi.it/pec"
    ]
    assert pec_scopes("sandbox", ["register_mailbox", "check_availability"]) == [
        "GET:test.pec.openapi.it/verifica_pec",
        "POST:test.pec.openapi.it/pec",
    ]
    assert pec_scopes("sandbox", "upload_communication_documents") == [
        "PATCH:test.pec.openapi.it/comunica_pec"
    ]
    for name, op in OPERATIONS.items():
        (scope,) = pec_scopes("production", [name])
        assert scope.startswith(op.method + ":pec.openapi.it/" + op.path.split("/")[1])


def test_bad_input_names_the_field_and_the_allowed_values() -> None:
    with pytest.raises(ValidationError, match=r"environment.*allowed: production, sandbox"):
        pec_scopes("staging")
    with pytest.raises(ValidationError, match=r"operations: 'send_mail'.*allowed: .*get_mailbox"):
        pec_scopes("sandbox", ["send_mail"])


def test_a_read_token_on_pec_can_pay_a_renewal_and_says_so() -> None:
    reader = pec_scopes("sandbox", ["get_mailbox"])
    assert paid_operations_allowed(reader) == ["renew_mailbox"]
    (caveat,) = read_only_caveats(reader)
    assert "renew_mailbox" in caveat
    assert "GET /pec/{id}/rinnovo" in caveat
    with pytest.warns(ScopeWarning, match="a token meant for reading can spend"):
        warn_if_not_read_only(reader)
    # the domain check is a paid GET too
    assert paid_operations_allowed(pec_scopes("production", ["check_domain"])) == ["check_domain"]


def test_truly_read_only_scopes_and_write_tokens_do_not_warn() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert (
            warn_if_not_read_only(pec_scopes("sandbox", ["check_availability", "list_communications"])) == []
        )
        # a token that also writes is not "meant for reading": no read-only caveat to give
        assert warn_if_not_read_only(pec_scopes("sandbox", ["get_mailbox", "register_mailbox"])) == []
