"""The ``pec_sandbox`` pytest fixture, as a user's own test suite meets it: sync and async tests."""

from __future__ import annotations

import pytest

USER_TESTS = """
import pytest

APPLICANT = dict(
    tipo_cliente="PV", nome_richiedente="Mario", cognome_richiedente="Rossi", email="m@example.com",
    telefono="0612345678", codice_fiscale_richiedente="RSSMRA80A01H501U",
    data_nascita_richiedente="01/01/1980", sesso_richiedente="M", nazione_nascita_richiedente="IT",
    indirizzo_titolare="Via Roma 1", comune_titolare="Roma", cap_titolare="00184",
    nazione_titolare="IT", provincia_titolare="RM",
)
ADDRESS = "mario.rossi@testcert.legalmail.it"


def test_sync(pec_sandbox):
    with pec_sandbox.client() as pec:
        box = pec.register_mailbox(casella_pec=ADDRESS, tipo_casella="BRONZE", **APPLICANT)
        assert pec.get_mailbox(box.id).stato == "registrata"
    assert pec_sandbox.balance == 100.0 - 8.0


MARK
async def test_async(pec_sandbox):
    async with pec_sandbox.async_client() as pec:
        assert await pec.is_available(ADDRESS)
        box = await pec.register_mailbox(casella_pec=ADDRESS, tipo_casella="BRONZE", **APPLICANT)
        assert (await pec.get_mailbox(box.id)).stato == "registrata"
        assert not await pec.is_available(ADDRESS)
    # each test has its own sandbox: the sync test's box is not here
    assert len(pec_sandbox.ledger) == 1


MARK
async def test_async_sees_a_fresh_sandbox(pec_sandbox):
    async with pec_sandbox.async_client() as pec:
        assert await pec.list_mailboxes() == []
"""


@pytest.mark.parametrize(
    ("mark", "options"),
    [
        ("@pytest.mark.asyncio", ["-p", "asyncio", "-o", "asyncio_mode=strict"]),
        ("", ["-p", "asyncio", "-o", "asyncio_mode=auto"]),
        ("@pytest.mark.anyio", ["-p", "anyio", "-p", "no:asyncio"]),
    ],
    ids=["pytest-asyncio strict", "pytest-asyncio auto", "anyio"],
)
def test_the_fixture_serves_sync_and_async_tests(
    pytester: pytest.Pytester, mark: str, options: list[str]
) -> None:
    pytester.makepyfile(test_user=USER_TESTS.replace("MARK", mark))
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    result = pytester.runpytest_subprocess(*options, "-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)


def test_the_fixture_is_found_without_any_conftest(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user="def test_it(pec_sandbox):\n    assert pec_sandbox.balance == 100.0\n")
    result = pytester.runpytest_subprocess("--fixtures", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["*pec_sandbox*", "*fresh in-process sandbox*"])
