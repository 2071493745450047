"""pec_ext.validation.spaces: increments, absolute sizes, raw bodies."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pec_ext.validation import spaces
from tests.support.validation import outcome, refusal

BOX: dict[str, Any] = {
    "tipo_casella": "GOLD",
    "conservazione": True,
    "spazio_disco": 2048,
    "spazio_storico": 1024,
    "spazio_conservazione": 512,
}

ANYTHING = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8) | st.binary(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=6,
)


def test_increment_body() -> None:
    assert spaces.space_increment_body(disco=1024) == {"spazio_disco": "+1024"}
    assert spaces.space_increment_body(disco=2048, storico=1024, conservazione=512, box=BOX) == {
        "spazio_disco": "+2048",
        "spazio_storico": "+1024",
        "spazio_conservazione": "+512",
    }


@pytest.mark.parametrize(
    ("kwargs", "field", "allowed"),
    [
        ({"disco": 1000}, "spazio_disco", "1024"),
        ({"storico": 512}, "spazio_storico", "1024"),
        ({"conservazione": 256}, "spazio_conservazione", "512"),
        ({"disco": 0}, "spazio_disco", "1024"),
        ({"disco": -1024}, "spazio_disco", "1024"),
        ({"disco": True}, "spazio_disco", "1024"),
        ({"disco": "1024"}, "spazio_disco", "1024"),
        ({"disco": 1024.0}, "spazio_disco", "1024"),
        ({}, "spazio", "spazio_disco"),
    ],
)
def test_increment_refusals(kwargs: dict[str, Any], field: str, allowed: str) -> None:
    error = refusal(spaces.space_increment_body, **kwargs)
    assert error.field == field
    assert allowed in str(error.allowed)


@pytest.mark.parametrize("tipo", ["DOMICILIODIGITALE", "pecmassiva"])
def test_single_document_types_refused(tipo: str) -> None:
    box = {**BOX, "tipo_casella": tipo}
    for function, args in [
        (spaces.space_increment_body, ()),
        (spaces.space_absolute_body, (box,)),
    ]:
        kwargs = {"disco": 4096} if function is spaces.space_absolute_body else {"disco": 1024, "box": box}
        error = refusal(function, *args, **kwargs)
        assert error.field == "tipo_casella"
        assert "GOLD" in str(error.allowed)
    assert refusal(spaces.check_space_body, {"spazio_disco": "+1024"}, box=box).field == "tipo_casella"


def test_conservazione_space_needs_the_service() -> None:
    box = {**BOX, "conservazione": False}
    for error in (
        refusal(spaces.space_increment_body, conservazione=512, box=box),
        refusal(spaces.space_absolute_body, box, conservazione=1024),
        refusal(spaces.check_space_body, {"spazio_conservazione": "+512"}, box=box),
    ):
        assert error.field == "spazio_conservazione"
        assert "conservazione" in str(error)
    # Other spaces are fine without it.
    assert spaces.space_increment_body(disco=1024, box=box) == {"spazio_disco": "+1024"}


def test_absolute_body() -> None:
    assert spaces.space_absolute_body(BOX, disco=3072) == {"spazio_disco": 3072}
    # A size equal to the current one is left out.
    assert spaces.space_absolute_body(BOX, disco=3072, storico=1024) == {"spazio_disco": 3072}
    assert spaces.space_absolute_body(BOX, conservazione=1024) == {"spazio_conservazione": 1024}


def test_absolute_refuses_downgrade_naming_current_and_requested() -> None:
    error = refusal(spaces.space_absolute_body, BOX, disco=1024)
    assert error.field == "spazio_disco"
    assert error.value == 1024
    assert "2048" in str(error)
    assert "1024" in str(error)
    error = refusal(spaces.space_absolute_body, BOX, disco=2048)
    assert "nothing to change" in str(error)


@pytest.mark.parametrize(
    ("current", "field"),
    [
        ({"conservazione": True}, "current.tipo_casella"),
        ({**BOX, "spazio_disco": "lots"}, "current.spazio_disco"),
        ({**BOX, "spazio_disco": -1}, "current.spazio_disco"),
        ("GOLD", "current"),
    ],
)
def test_absolute_refuses_unusable_current(current: Any, field: str) -> None:
    assert refusal(spaces.space_absolute_body, current, disco=4096).field == field


def test_check_space_body_spec_example() -> None:
    # The spec's own example, against a box that can take it.
    example = {"spazio_disco": "3072", "spazio_storico": "+1024", "spazio_conservazione": 1536}
    assert spaces.check_space_body(example, box=BOX) == {
        "spazio_disco": 3072,
        "spazio_storico": "+1024",
        "spazio_conservazione": 1536,
    }
    assert spaces.check_space_body(example) == {
        "spazio_disco": 3072,
        "spazio_storico": "+1024",
        "spazio_conservazione": 1536,
    }


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"spazio_disco": "+1000"}, "spazio_disco"),
        ({"spazio_disco": "-1024"}, "spazio_disco"),
        ({"spazio_disco": "1 GB"}, "spazio_disco"),
        ({"spazio_disco": 1024}, "spazio_disco"),  # a downgrade from 2048
        ({"spazio_dsico": "+1024"}, "body"),
        ({}, "body"),
        ({"spazio_disco": None}, "body"),
        ([("spazio_disco", 1024)], "body"),
    ],
)
def test_check_space_body_refusals(body: Any, field: str) -> None:
    assert refusal(spaces.check_space_body, body, box=BOX).field == field


def test_check_size() -> None:
    assert spaces.check_size("spazio_conservazione", 1536) == 1536
    assert refusal(spaces.check_size, "spazio_conservazione", 1000).field == "spazio_conservazione"
    assert refusal(spaces.check_size, "spazio_ram", 1024).field == "field"


@given(disco=ANYTHING, storico=ANYTHING, conservazione=ANYTHING, box=st.none() | ANYTHING)
def test_increment_total(disco: object, storico: object, conservazione: object, box: Any) -> None:
    result, error = outcome(spaces.space_increment_body, disco, storico, conservazione, box=box)
    if error is None:
        assert result
        assert all(isinstance(v, str) and v.startswith("+") for v in result.values())


@given(current=ANYTHING | st.just(BOX), disco=ANYTHING, conservazione=ANYTHING)
def test_absolute_total(current: Any, disco: object, conservazione: object) -> None:
    result, error = outcome(spaces.space_absolute_body, current, disco=disco, conservazione=conservazione)
    if error is None:
        assert all(isinstance(v, int) for v in result.values())


@given(
    body=ANYTHING | st.dictionaries(st.sampled_from(list(spaces.SPACE_STEPS)), ANYTHING),
    box=st.none() | ANYTHING,
)
def test_check_space_body_total(body: Any, box: Any) -> None:
    _result, error = outcome(spaces.check_space_body, body, box=box)
    if error is not None:
        assert error.field


def test_space_added_counts_increments_and_absolute_targets() -> None:
    box = {"tipo_casella": "GOLD", "conservazione": True, "spazio_disco": 2048, "spazio_storico": "1024"}
    body = spaces.check_space_body({"spazio_disco": "+1024", "spazio_storico": 4096}, box=box)
    assert spaces.space_added(body, box) == {"spazio_disco": 1024, "spazio_storico": 3072}
    # a field the box does not report yet starts from 0
    assert spaces.space_added({"spazio_conservazione": 1024}, box) == {"spazio_conservazione": 1024}
