"""``--within`` horizons: days and weeks count days, months and years count on the calendar."""

from __future__ import annotations

import datetime as dt

import click
import pytest

from pec_ext.cli.horizon import Horizon, parse_option

D = dt.date


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("1y", D(2027, 3, 5), D(2028, 3, 5)),  # 366 days: across 29 February 2028
        ("1y", D(2026, 3, 5), D(2027, 3, 5)),  # 365 days
        ("1y", D(2028, 2, 29), D(2029, 2, 28)),  # no 29 February in 2029: its last day
        ("4y", D(2028, 2, 29), D(2032, 2, 29)),
        ("1m", D(2027, 1, 31), D(2027, 2, 28)),
        ("1m", D(2028, 1, 31), D(2028, 2, 29)),  # a leap year's February
        ("1m", D(2027, 3, 31), D(2027, 4, 30)),
        ("1m", D(2027, 12, 31), D(2028, 1, 31)),  # across the year's end
        ("13m", D(2027, 1, 31), D(2028, 2, 29)),
        ("12m", D(2027, 3, 5), D(2028, 3, 5)),  # twelve months are a year
        ("6m", D(2027, 8, 31), D(2028, 2, 29)),
        ("30d", D(2028, 2, 15), D(2028, 3, 16)),  # days stay days
        ("30", D(2027, 2, 15), D(2027, 3, 17)),
        ("2w", D(2028, 2, 20), D(2028, 3, 5)),
        ("0d", D(2027, 5, 1), D(2027, 5, 1)),
    ],
)
def test_end(text: str, start: dt.date, end: dt.date) -> None:
    assert Horizon.parse(text).end(start) == end


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30d", Horizon(30, "d")),
        (" 8 W ", Horizon(8, "w")),
        ("6m", Horizon(6, "m")),
        ("1Y", Horizon(1, "y")),
        ("45", Horizon(45, "d")),
    ],
)
def test_parse(text: str, expected: Horizon) -> None:
    assert Horizon.parse(text) == expected


@pytest.mark.parametrize(
    ("horizon", "words"),
    [
        (Horizon(1, "y"), "1 calendar year"),
        (Horizon(13, "m"), "13 calendar months"),
        (Horizon(1, "d"), "1 day"),
        (Horizon(30, "d"), "30 days"),
        (Horizon(2, "w"), "2 weeks"),
    ],
)
def test_describe(horizon: Horizon, words: str) -> None:
    assert horizon.describe() == words


@pytest.mark.parametrize("text", ["soon", "", "1.5y", "-3d", "3 days", "1q", "123456d", "y"])
def test_bad_input_names_the_allowed_forms(text: str) -> None:
    with pytest.raises(ValueError, match=r"30d, 8w, 6m, 1y"):
        Horizon.parse(text)
    option = click.Option(["--within"])
    with pytest.raises(click.BadParameter) as caught:
        parse_option(click.Context(click.Command("expiring")), option, text)
    message = caught.value.format_message()
    assert "30d, 8w, 6m, 1y" in message
    assert "d, w, m or y" in message
    assert caught.value.param is option  # click names the option: "Invalid value for '--within'"
