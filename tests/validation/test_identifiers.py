"""pec_ext.validation.identifiers: codice fiscale and partita IVA, strict and relaxed."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pec_ext.errors import ValidationError
from pec_ext.validation.identifiers import check_cf_or_piva, check_codice_fiscale, check_partita_iva, invalid
from tests.support.validation import outcome

ANYTHING = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text() | st.binary(),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=4), children, max_size=3)
    ),
    max_leaves=6,
)


CHECKS = [check_codice_fiscale, check_partita_iva, check_cf_or_piva]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("RSSMRA80A01H501U", "RSSMRA80A01H501U"),
        (" rss mra 80a01 h501u ", "RSSMRA80A01H501U"),
        ("RSSMRA80A01L117D", "RSSMRA80A01L117D"),
        ("01114601006", "01114601006"),  # numeric (temporary/company) codice fiscale
    ],
)
def test_codice_fiscale_strict_accepts(value: str, expected: str) -> None:
    assert check_codice_fiscale("cf", value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "RSSMRA80A01H501X",  # wrong check character
        "RSSXXXXXXXX56E",  # the spec's example
        "RSSMRA80A71H501",
        "",
        "   ",
        "RSSMRA80A01H50ÙU",
        "X" * 100,
    ],
)
def test_codice_fiscale_strict_refuses(value: str) -> None:
    with pytest.raises(ValidationError) as info:
        check_codice_fiscale("codice_fiscale_richiedente", value)
    assert info.value.field == "codice_fiscale_richiedente"
    assert "codice fiscale" in str(info.value.allowed)
    assert "codice_fiscale_richiedente" in str(info.value)


@pytest.mark.parametrize("value", ["RSSXXXXXXXX56E", "rssmra80a01h501x", "12345678910", "AB1CDEFGHIJ"])
def test_codice_fiscale_relaxed_accepts_format(value: str) -> None:
    assert check_codice_fiscale("cf", value, strict=False) == value.upper()


@pytest.mark.parametrize(
    "value",
    [
        "",
        "-",
        "ABC",
        "MARIOROSSIMARIOR",
        "RSSMRA80A01H501UU",
        "RSS.MRA80A01H501",
        "ÀSSMRA80A01H501U",
        None,
        123,
    ],
)
def test_codice_fiscale_relaxed_still_refuses_absurd(value: object) -> None:
    with pytest.raises(ValidationError) as info:
        check_codice_fiscale("cf", value, strict=False)
    assert "relaxed" in str(info.value.allowed)


def test_partita_iva() -> None:
    assert check_partita_iva("piva", "01114601006") == "01114601006"
    assert check_partita_iva("piva", "IT 011-146-010-06") == "01114601006"
    with pytest.raises(ValidationError, match="piva"):
        check_partita_iva("piva", "12345678910")
    assert check_partita_iva("piva", "12345678910", strict=False) == "12345678910"
    for bad in ("00000000000", "1234567891", "1234567891A", "", 1114601006):
        with pytest.raises(ValidationError) as info:
            check_partita_iva("piva", bad, strict=False)
        assert info.value.field == "piva"
        assert "11 digits" in str(info.value.allowed)


def test_cf_or_piva() -> None:
    assert check_cf_or_piva("cf_piva", "01114601006") == "01114601006"
    assert check_cf_or_piva("cf_piva", "rssmra80a01h501u") == "RSSMRA80A01H501U"
    assert check_cf_or_piva("cf_piva", "12345678910", strict=False) == "12345678910"
    with pytest.raises(ValidationError) as info:
        check_cf_or_piva("cf_piva", "12345678910")
    assert "partita IVA" in str(info.value.allowed)
    assert "codice fiscale" in str(info.value.allowed)


def test_ints_are_refused_because_leading_zeros_are_lost() -> None:
    with pytest.raises(ValidationError, match="must be a string"):
        check_partita_iva("piva", 1114601006)


def test_invalid_keeps_messages_short() -> None:
    error = invalid("f", "x" * 10_000, "short")
    assert len(str(error)) < 400
    assert error.value == "x" * 10_000
    huge = invalid("f", 10**5000)
    assert "unprintable" in str(huge)
    assert huge.value == 10**5000


@pytest.mark.parametrize("check", CHECKS)
@pytest.mark.parametrize("strict", [True, False])
@given(value=ANYTHING | st.text(alphabet="0123456789ABCDEFGHLMNPQRSTUVXYZ -:IT", max_size=20))
def test_only_validation_error_ever_escapes(check: object, strict: bool, value: object) -> None:
    assert callable(check)
    result, error = outcome(check, "field", value, strict=strict)
    if error is not None:
        assert error.field == "field"
        assert error.allowed
    else:
        assert isinstance(result, str)
        assert result.isascii()
        assert result.isalnum()
        assert result == result.upper()
