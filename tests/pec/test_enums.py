"""pec_ext.enums: value sets match the spec, parse_open never raises."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pec_ext.enums import (
    SINGLE_DOCUMENT_TYPES,
    SOTTOTIPI_BY_TIPO_CLIENTE,
    TERMINAL_BOX_STATES,
    TYPE_RANK,
    CallbackMethod,
    Qualifica,
    SessoRichiedente,
    SottotipoCliente,
    StatoCasella,
    StatoComunicazione,
    TipoCasella,
    TipoCliente,
    TipoDocumento,
    parse_open,
)

_ROOT = Path(__file__).resolve().parents[2]
_SPEC_CANDIDATES = (
    _ROOT.parent / "shared" / "spec" / "pec.openapi.json",
    Path("/work/shared/spec/pec.openapi.json"),
)


def _spec() -> dict[str, Any]:
    for path in _SPEC_CANDIDATES:
        if path.exists():
            return json.loads(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]
    pytest.skip("the upstream spec (shared/spec/pec.openapi.json) is not beside the repo")


def _values(enum_cls: type[Enum]) -> set[str]:
    return {str(member.value) for member in enum_cls}


ANYTHING = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text() | st.binary(),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=4), children, max_size=3)
    ),
    max_leaves=6,
)


@pytest.mark.parametrize(
    ("enum_cls", "schema", "prop"),
    [
        (TipoCasella, "BodyPostPec", "tipo_casella"),
        (TipoCliente, "BodyPostPec", "tipo_cliente"),
        (SottotipoCliente, "BodyPostPec", "sottotipo_cliente"),
        (SessoRichiedente, "BodyPostPec", "sesso_richiedente"),
        (TipoDocumento, "BodyPostPec", "tipo_documento"),
        (Qualifica, "BodyPostComunicaPec", "qualifica"),
        (CallbackMethod, "Callback", "method"),
        (StatoCasella, "Casella", "stato"),
        (StatoComunicazione, "RichiestaComunicazionePec", "stato"),
    ],
)
def test_enum_values_match_spec(enum_cls: type[Enum], schema: str, prop: str) -> None:
    spec_values = set(_spec()["components"]["schemas"][schema]["properties"][prop]["enum"])
    assert _values(enum_cls) == spec_values


def test_sottotipi_match_tipologie_cliente() -> None:
    tipologie = _spec()["components"]["schemas"]["TipologieCliente"]["properties"]
    assert set(tipologie) == _values(TipoCliente)
    for tipo, schema in tipologie.items():
        codes = {entry.split(" - ")[0] for entry in schema.get("enum", [])}
        assert {s.value for s in SOTTOTIPI_BY_TIPO_CLIENTE[TipoCliente(tipo)]} == codes


def test_type_rank_orders_the_legalmail_types() -> None:
    ordered = sorted(TYPE_RANK, key=TYPE_RANK.__getitem__)
    assert ordered == [TipoCasella.STANDARD, TipoCasella.BRONZE, TipoCasella.SILVER, TipoCasella.GOLD]
    assert {TipoCasella.DOMICILIODIGITALE, TipoCasella.PECMASSIVA} == SINGLE_DOCUMENT_TYPES
    assert not SINGLE_DOCUMENT_TYPES & set(TYPE_RANK)
    assert StatoCasella.EVASA not in TERMINAL_BOX_STATES
    assert StatoCasella.REVOCATA in TERMINAL_BOX_STATES


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("bronze", TipoCasella.BRONZE),
        (" GOLD ", TipoCasella.GOLD),
        ("DomicilioDigitale", TipoCasella.DOMICILIODIGITALE),
        (TipoCasella.SILVER, TipoCasella.SILVER),
        ("PLATINUM", "PLATINUM"),
        ("", ""),
        (None, ""),
        (3, "3"),
    ],
)
def test_parse_open(value: object, expected: object) -> None:
    result = parse_open(TipoCasella, value)
    assert result == expected
    assert type(result) is type(expected)


def test_parse_open_states_by_value_and_name() -> None:
    assert parse_open(StatoCasella, "in_evasione") is StatoCasella.IN_EVASIONE
    assert parse_open(StatoCasella, "IN_EVASIONE") is StatoCasella.IN_EVASIONE
    assert parse_open(StatoCasella, "sospesa") == "sospesa"
    assert parse_open(StatoComunicazione, "Documenti_Caricati") is StatoComunicazione.DOCUMENTI_CARICATI


def test_parse_open_ignores_unicode_lookalikes() -> None:
    # U+017F (long s) casefolds to "s"; it must not be taken for SILVER.
    assert parse_open(TipoCasella, "\u017filver") == "\u017filver"


@given(ANYTHING)
def test_parse_open_never_raises(value: object) -> None:
    result = parse_open(TipoCasella, value)
    assert isinstance(result, TipoCasella | str)


def test_parse_open_survives_a_hostile_str() -> None:
    class Hostile:
        def __str__(self) -> str:
            raise RuntimeError("boom")

    assert isinstance(parse_open(StatoCasella, Hostile()), str)
    assert isinstance(parse_open(StatoCasella, 10**5000), str)
