"""The calendar day comes from the client's clock: a client on virtual time checks dates against
its own day, never the machine's."""

from __future__ import annotations

import datetime as dt
import types
from pathlib import Path

import pytest

from pec_ext import Clock
from pec_ext._engine.clock import ITALY
from pec_ext.errors import ValidationError
from pec_ext.journal import Journal, open_store
from pec_ext.sandbox import ManualClock, Sandbox, record_only
from pec_ext.validation import bodies
from tests.support.dates import DAY, EPOCH, at, travel

pytestmark = pytest.mark.dates


def _fixed(when: float) -> Clock:
    return Clock(wall=lambda: when)


def test_today_is_the_italian_day_of_the_wall_clock() -> None:
    assert _fixed(EPOCH).today() == DAY
    new_year = dt.datetime(2027, 12, 31, 23, 30, tzinfo=dt.UTC)  # already 1 January in Rome
    assert _fixed(new_year.timestamp()).today() == dt.date(2028, 1, 1)
    leap = dt.datetime(2028, 2, 29, 0, 10, tzinfo=ITALY)  # still 28 February in UTC
    assert _fixed(leap.timestamp()).today() == dt.date(2028, 2, 29)


def test_the_system_clocks_day_is_the_frozen_one() -> None:
    with travel(at(dt.date(2028, 2, 29), hour=12), tick=False):
        assert Clock().today() == dt.date(2028, 2, 29)


@pytest.mark.parametrize("client_kind", ["sync", "async"])
async def test_a_birth_date_is_checked_against_the_clients_day(
    data: types.SimpleNamespace, client_kind: str
) -> None:
    # the client lives in 2001: a birth in 2005 has not happened yet, whatever today is outside
    with (
        travel(at(dt.date(2040, 1, 1))),
        Sandbox(clock=ManualClock(at(dt.date(2001, 1, 10))), callback_sender=record_only) as sb,
    ):
        unborn = data.register_fields(data_nascita_richiedente="01/06/2005")
        born = data.register_fields(data_nascita_richiedente="09/01/2001")
        today = data.register_fields(data_nascita_richiedente="10/01/2001")
        if client_kind == "sync":
            with sb.client() as pec:
                for fields in (unborn, today):
                    with pytest.raises(ValidationError) as refused:
                        pec.register_mailbox(**fields)
                    assert refused.value.field == "data_nascita_richiedente"
                    assert "before 10/01/2001" in str(refused.value)
                assert pec.register_mailbox(**born).stato == "registrata"
        else:
            async with sb.async_client() as apec:
                with pytest.raises(ValidationError, match="before 10/01/2001"):
                    await apec.register_mailbox(**unborn)
                assert (await apec.register_mailbox(**born)).stato == "registrata"
        assert len(sb.state.boxes) == 1  # nothing refused was sent


def test_a_journaled_registration_checks_on_the_clients_day_too(
    data: types.SimpleNamespace, tmp_path: Path
) -> None:
    with (
        Sandbox(clock=ManualClock(at(dt.date(2001, 1, 10))), callback_sender=record_only) as sb,
        Journal(open_store(str(tmp_path / "journal.sqlite"))) as journal,
        sb.client(journal=journal) as pec,
    ):
        unborn = data.register_fields(data_nascita_richiedente="01/06/2005")
        with pytest.raises(ValidationError, match="before 10/01/2001"):
            pec.register_mailbox(**unborn, idempotency_key="register:unborn")
        assert not sb.state.boxes


@pytest.mark.parametrize(
    ("birth", "today", "accepted"),
    [
        ("29/02/2028", dt.date(2028, 2, 29), False),  # born today: not yet a date in the past
        ("29/02/2028", dt.date(2028, 3, 1), True),
        ("28/02/2028", dt.date(2028, 2, 29), True),
        ("31/12/2026", dt.date(2026, 12, 31), False),
        ("31/12/2026", dt.date(2027, 1, 1), True),
    ],
)
def test_the_birth_date_guard_uses_the_day_it_is_given(
    data: types.SimpleNamespace, birth: str, today: dt.date, accepted: bool
) -> None:
    body = data.register_fields(data_nascita_richiedente=birth)
    if accepted:
        checked = bodies.validate_register_body(
            body, environment="sandbox", strict_identifiers=False, today=today
        )
        assert checked["data_nascita_richiedente"] == birth
    else:
        with pytest.raises(ValidationError, match=f"before {today:%d/%m/%Y}"):
            bodies.validate_register_body(body, environment="sandbox", strict_identifiers=False, today=today)


def test_without_a_day_the_guard_takes_the_system_clocks(data: types.SimpleNamespace) -> None:
    body = data.register_fields(data_nascita_richiedente="01/06/2030")
    with travel(at(dt.date(2030, 6, 2)), tick=False):
        assert bodies.validate_register_body(body, environment="sandbox", strict_identifiers=False)[
            "data_nascita_richiedente"
        ]
    with travel(at(dt.date(2030, 6, 1)), tick=False), pytest.raises(ValidationError, match="01/06/2030"):
        bodies.validate_register_body(body, environment="sandbox", strict_identifiers=False)
