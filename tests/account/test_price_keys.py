"""The key a paid call is quoted and checked under is its operation's, the same for every consumer.

``price_key`` (what the CLI quotes) and the wallet check (what a call is refused on) both ask the
operation (``PriceKind.key``); these tests hold them together for every box type and every paid
operation, and show that the key follows the operation when the operation changes.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from pec_ext._engine.steps import Call
from pec_ext._pec.operations import INDICATIVE_PRICES, OPERATIONS
from pec_ext.account.prices import operation_for_key, price_key
from pec_ext.account.scopes import paid_operations
from pec_ext.account.wallet_check import charge_of
from pec_ext.enums import TipoCasella
from pec_ext.errors import ValidationError
from pec_ext.validation.spaces import SPACE_STEPS

BOX_TYPED = ("register_mailbox", "change_type", "renew_mailbox")


@pytest.mark.parametrize("operation", BOX_TYPED)
@pytest.mark.parametrize("tipo", list(TipoCasella), ids=str)
def test_a_box_type_s_key_is_the_one_the_wallet_check_charges(operation: str, tipo: TipoCasella) -> None:
    key = price_key(operation, tipo)
    assert key is not None
    assert operation_for_key(key) == operation
    # As typed, as read back from the API (a member), and in another case: one key.
    assert price_key(operation, tipo.value.lower()) == price_key(operation, tipo.value) == key
    charge = charge_of(Call(OPERATIONS[operation], {"id": "b1"}, json={"tipo_casella": tipo.value.lower()}))
    assert charge is not None
    if operation == "renew_mailbox":
        # A renewal does not tell the box type: the check charges the kind's cheapest key.
        assert (charge.key, charge.lower_bound, charge.kind) == (None, True, key.split(".")[0])
    else:
        assert charge.key == key


def test_every_indicative_key_is_an_operation_s_key() -> None:
    made = set()
    for operation in paid_operations():
        price = OPERATIONS[operation].price
        assert price is not None
        details = [None] if price.detail is None else [*TipoCasella, *SPACE_STEPS]
        made |= {price_key(operation, detail) for detail in details}
    assert set(INDICATIVE_PRICES) <= made


def test_a_space_field_s_key_is_the_one_the_wallet_check_charges() -> None:
    for field in SPACE_STEPS:
        charge = charge_of(Call(OPERATIONS["change_space"], {"id": "b1"}, json={field: "+512"}))
        assert charge is not None
        assert charge.key == price_key("change_space", field)


def test_a_kind_of_one_price_is_its_key_and_a_free_operation_has_none() -> None:
    per_user = OPERATIONS["add_user"].price
    assert per_user is not None
    assert price_key("add_user") == price_key("add_user", "GOLD") == per_user.kind
    assert price_key("renew_mailbox") is None  # several prices, none named
    with pytest.raises(ValidationError, match="operation: 'get_mailbox'"):
        price_key("get_mailbox", "GOLD")


def test_the_key_follows_the_operation(monkeypatch: pytest.MonkeyPatch) -> None:
    renewal = OPERATIONS["renew_mailbox"]
    assert renewal.price is not None
    spelled = replace(renewal.price, kind="rinnovo", spell_detail=str.lower)
    monkeypatch.setitem(OPERATIONS, "renew_mailbox", replace(renewal, price=spelled))
    assert price_key("renew_mailbox", TipoCasella.GOLD) == "rinnovo.gold"
    register = OPERATIONS["register_mailbox"]
    assert register.price is not None
    monkeypatch.setitem(OPERATIONS, "register_mailbox", replace(register, price=spelled))
    charge = charge_of(Call(OPERATIONS["register_mailbox"], json={"tipo_casella": "GOLD"}))
    assert charge is not None
    assert charge.key == price_key("register_mailbox", "GOLD") == "rinnovo.gold"
