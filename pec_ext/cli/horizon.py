"""How far ahead ``pec boxes expiring --within`` looks: days and weeks count days, months and
years count on the calendar (``1y`` from 5 March 2027 is 5 March 2028, ``1m`` from 31 January the
last day of February), as an expiry one year after activation does."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Literal

import click
from dateutil.relativedelta import relativedelta

Unit = Literal["d", "w", "m", "y"]

ALLOWED = "a number followed by d, w, m or y (30d, 8w, 6m, 1y), or a number of days"
_FORM = re.compile(r"^(\d{1,5})\s*([dwmy]?)$")
_NAMES: dict[Unit, tuple[str, str]] = {
    "d": ("day", "days"),
    "w": ("week", "weeks"),
    "m": ("calendar month", "calendar months"),
    "y": ("calendar year", "calendar years"),
}


@dataclass(frozen=True)
class Horizon:
    """A count of days, weeks, calendar months or calendar years."""

    count: int
    unit: Unit = "d"

    @classmethod
    def parse(cls, text: str) -> Horizon:
        """``30d``, ``8w``, ``6m``, ``1y`` or ``30`` (days); ``ValueError`` naming the forms otherwise."""
        match = _FORM.match(text.strip().lower())
        if match is None:
            raise ValueError(f"{text!r} is not a horizon: {ALLOWED}")
        unit: Unit = match.group(2) or "d"  # type: ignore[assignment]
        return cls(int(match.group(1)), unit)

    def end(self, start: dt.date) -> dt.date:
        """The last day the horizon reaches from ``start``; a month end past a shorter month is
        that month's last day (relativedelta clips the day)."""
        steps = {
            "d": relativedelta(days=self.count),
            "w": relativedelta(weeks=self.count),
            "m": relativedelta(months=self.count),
            "y": relativedelta(years=self.count),
        }
        end: dt.date = start + steps[self.unit]
        return end

    def describe(self) -> str:
        """``30 days``, ``1 calendar year``: for the summary line."""
        singular, plural = _NAMES[self.unit]
        return f"{self.count} {singular if self.count == 1 else plural}"


def parse_option(_ctx: click.Context, param: click.Parameter, value: str) -> Horizon:
    """A click callback: the option's text as a :class:`Horizon`, or a usage error naming the forms."""
    try:
        return Horizon.parse(value)
    except ValueError:
        raise click.BadParameter(f"{value!r}: {ALLOWED}", param=param) from None
