"""A price key is made in one place, :meth:`PriceKind.key`: from the kind and the call's detail."""

from __future__ import annotations

from pec_api.types import UNSET
from pec_ext._engine.operation import PriceKind
from pec_ext.enums import TipoCasella


def test_a_kind_with_one_price_is_its_own_key_whatever_the_detail() -> None:
    single = PriceKind("multiutenza", unit="user")
    assert single.key() == "multiutenza"
    assert single.key("GOLD") == "multiutenza"


def test_a_detail_names_one_of_the_kind_s_prices_spelled_as_the_kind_says() -> None:
    per_type = PriceKind("renew", unit="year", detail="tipo_casella", spell_detail=str.upper)
    assert per_type.key("gold") == "renew.GOLD"
    # A member of the API's enum is its value, not the member's repr.
    assert per_type.key(TipoCasella.DOMICILIODIGITALE) == "renew.DOMICILIODIGITALE"
    as_written = PriceKind("space", unit="step", detail="field")
    assert as_written.key("spazio_disco") == "space.spazio_disco"


def test_without_the_detail_a_kind_of_several_prices_has_no_key() -> None:
    per_type = PriceKind("renew", unit="year", detail="tipo_casella", spell_detail=str.upper)
    for missing in (None, "", UNSET, 3):
        assert per_type.key(missing) is None
