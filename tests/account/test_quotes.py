"""Quotes from a scope's prices: the named key, the only price, or an honest unknown."""

from __future__ import annotations

import pytest

from pec_ext._pec.operations import INDICATIVE_PRICES, OPERATIONS
from pec_ext.account.prices import operation_for_key, paid_scopes, price_kinds, price_table, quote
from pec_ext.account.scopes import paid_operations
from pec_ext.errors import ValidationError
from pec_ext.sandbox.oauth import PRICE_SCOPE, scope_prices
from pec_ext.sandbox.wallet import DEFAULT_PRICES


def test_the_named_key_the_only_price_or_unknown() -> None:
    prices = {"register.GOLD": 25.0, "register.BRONZE": 8.0}
    gold = quote("register_mailbox", "sandbox", prices, key="register.GOLD")
    assert (gold.scope, gold.amount) == ("POST:test.pec.openapi.it/pec", 25.0)
    assert gold.key_known
    assert gold.reason is None
    assert quote("renew_mailbox", "production", {"pec-renew": 4.5}, units=2).amount == 9.0
    unknown = quote("register_mailbox", "sandbox", prices, key="register.SILVER")
    assert unknown.amount is None
    assert unknown.prices == prices
    assert not unknown.key_known
    assert unknown.reason is not None
    assert "'register.SILVER'" in unknown.reason
    assert "register.BRONZE, register.GOLD" in unknown.reason


def test_an_unknown_key_is_never_priced_at_the_scope_s_only_price() -> None:
    guessed = quote("renew_mailbox", "production", {"pec-renew": 4.5}, key="renew.GOLD", units=2)
    assert (guessed.amount, guessed.unit_price, guessed.key_known) == (None, None, False)
    assert guessed.reason == (
        "unknown price key 'renew.GOLD': the scope GET:pec.openapi.it/pec prices pec-renew"
    )
    assert price_table("production", {"GET:pec.openapi.it/pec": {"pec-renew": 4.5}}, ["renew.GOLD"]) == {}


def test_without_a_key_several_prices_say_which_to_name() -> None:
    several = quote("register_mailbox", "sandbox", {"register.GOLD": 25.0, "register.BRONZE": 8.0})
    assert several.amount is None
    assert several.key_known
    assert several.reason is not None
    assert "name one with key=" in several.reason
    assert (
        quote("register_mailbox", "sandbox", {}).reason
        == "the scope POST:test.pec.openapi.it/pec has no prices"
    )


def test_only_paid_operations_have_quotes() -> None:
    with pytest.raises(ValidationError, match="operation: 'get_mailbox'"):
        quote("get_mailbox", "sandbox", {})


def test_every_price_kind_is_a_paid_operation_and_the_sandbox_prices_the_same_scope() -> None:
    assert sorted(price_kinds().values()) == paid_operations()
    for kind, operation in price_kinds().items():
        (scope,) = [
            s for s in paid_scopes("production") if quote(operation, "production", {"x": 1}).scope == s
        ]
        method, segment = scope.split(":")[0], scope.rsplit("/", 1)[1]
        assert PRICE_SCOPE[kind] == (method, segment)


def test_the_sandbox_table_round_trips_through_scope_prices() -> None:
    by_scope = {scope: scope_prices(scope, DEFAULT_PRICES) for scope in paid_scopes("sandbox")}
    assert price_table("sandbox", by_scope, DEFAULT_PRICES) == dict(DEFAULT_PRICES)


def test_every_indicative_price_key_names_a_paid_operations_kind_and_the_sandbox_charges_them() -> None:
    assert DEFAULT_PRICES is INDICATIVE_PRICES
    for key in INDICATIVE_PRICES:
        operation = OPERATIONS[operation_for_key(key)]
        assert operation.price is not None
        kind, _, detail = key.partition(".")
        assert kind == operation.price.kind
        assert bool(detail) == (operation.price.detail is not None)
    assert {operation_for_key(key) for key in INDICATIVE_PRICES} == set(paid_operations())


def test_an_unknown_price_kind_is_refused_with_the_kinds_the_table_has() -> None:
    with pytest.raises(ValidationError) as caught:
        operation_for_key("gift.GOLD")
    assert caught.value.field == "price key"
    assert "register" in str(caught.value)
    assert "renew" in str(caught.value)
