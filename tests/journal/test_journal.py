"""The journal's rules, against each store (SQLite file, real Redis) and the in-process sandbox."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from pec_ext import IdempotencyKeyBusyError, OutcomeUnknownError, PaymentRequiredError, ValidationError
from pec_ext._pec.client import PecClient
from pec_ext._pec.intents import add_space, register, renew
from pec_ext.journal.base import Journal, JournalStore, State, canonical_json, fingerprint
from pec_ext.sandbox import ManualClock, Sandbox
from tests.support.dates import DAY, EPOCH, sandbox_on_day
from tests.support.fleet import PDF, box_body


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def sandbox() -> Any:
    with Sandbox(balance=10_000, clock=ManualClock(EPOCH)) as sandbox:
        yield sandbox


def evasa_box(sandbox: Sandbox, address: str = "uno@testcert.legalmail.it") -> str:
    with sandbox.client() as pec:
        box = pec.register_mailbox(**box_body(address))
        pec.activate_mailbox(box.id, [PDF, PDF])
    sandbox.advance()
    return str(box.id)


def charges(sandbox: Sandbox, operation: str) -> int:
    return sum(1 for entry in sandbox.ledger if entry["operation"] == operation)


def journaled(sandbox: Sandbox, store: JournalStore, **options: Any) -> PecClient:
    return sandbox.client(journal=Journal(store, **options))


def dead_claimer(
    store: JournalStore, key: str, intent: Any, *, state: State, prestate: Any, now: float
) -> None:
    """What a claimer killed after recording its pre-state leaves behind: an expired lease."""
    entry = store.claim(key, intent.fingerprint, intent.operation, "dead", now - 100, now - 50, now + 10**6)
    assert entry.owner == "dead"
    if state is not State.CLAIMED:
        assert store.update(key, "dead", state, now - 50, canonical_json(prestate), None)


def test_same_key_returns_the_recorded_result_and_sends_once(sandbox: Sandbox, store: JournalStore) -> None:
    pec = journaled(sandbox, store)
    first = pec.register_mailbox(idempotency_key="register:uno", **box_body("uno@testcert.legalmail.it"))
    again = journaled(sandbox, store).register_mailbox(
        idempotency_key="register:uno", **box_body("uno@testcert.legalmail.it")
    )
    assert again == first
    assert type(again.stato).__name__ == "StatoCasella"  # the same typed value, enums included
    assert charges(sandbox, "POST /pec") == 1
    entry = store.get("register:uno")
    assert entry is not None
    assert entry.state is State.DONE
    assert entry.result["id"] == first.id


def test_same_key_with_another_body_is_refused_before_any_request(
    sandbox: Sandbox, store: JournalStore
) -> None:
    pec = journaled(sandbox, store)
    pec.register_mailbox(idempotency_key="k", **box_body("uno@testcert.legalmail.it"))
    with pytest.raises(ValidationError) as refused:
        pec.register_mailbox(idempotency_key="k", **box_body("due@testcert.legalmail.it"))
    assert refused.value.field == "idempotency_key"
    assert len(sandbox.mailboxes()) == 1


def test_fingerprint_ignores_key_order_but_not_values() -> None:
    assert fingerprint("op", {"id": "1"}, {"a": 1, "b": 2}) == fingerprint(
        "op", {"id": "1"}, {"b": 2, "a": 1}
    )
    assert fingerprint("op", {"id": "1"}, {"a": 1}) != fingerprint("op", {"id": "2"}, {"a": 1})
    assert fingerprint("renew", {"id": "1"}, {"anni": 1}) != fingerprint("renew", {"id": "1"}, {"anni": 2})


def test_a_running_lease_makes_the_next_caller_wait_then_raise(sandbox: Sandbox, store: JournalStore) -> None:
    intent = renew("x", 1)
    store.claim("busy", intent.fingerprint, intent.operation, "other", 0.0, 10**12, 10**13)
    pec = journaled(sandbox, store, wait=0.3, poll=0.05)
    with pytest.raises(IdempotencyKeyBusyError) as busy:
        pec.renew_mailbox("x", 1, idempotency_key="busy")
    assert busy.value.owner == "other"
    assert sandbox.ledger == []


def test_a_dead_renewal_that_was_applied_is_recorded_not_resent(
    sandbox: Sandbox, store: JournalStore
) -> None:
    box_id = evasa_box(sandbox)
    before = sandbox.client().get_mailbox(box_id)
    clock = Clock(sandbox.clock.now())
    intent = renew(box_id, 1)
    prestate = {"data_scadenza": str(before.data_scadenza), "stato": str(before.stato)}
    dead_claimer(store, "renew:1", intent, state=State.SENDING, prestate=prestate, now=clock.now)
    sandbox.client().renew_mailbox(box_id, 1)  # the dead claimer's request did reach the API

    box = journaled(sandbox, store, clock=clock).renew_mailbox(box_id, 1, idempotency_key="renew:1")
    assert box.data_scadenza != before.data_scadenza
    assert charges(sandbox, "GET /pec/{id}/rinnovo") == 1
    entry = store.get("renew:1")
    assert entry is not None
    assert entry.state is State.DONE
    assert entry.attempts == 2


def test_a_dead_renewal_that_never_arrived_is_sent_once(sandbox: Sandbox, store: JournalStore) -> None:
    box_id = evasa_box(sandbox)
    before = sandbox.client().get_mailbox(box_id)
    clock = Clock(sandbox.clock.now())
    intent = renew(box_id, 1)
    prestate = {"data_scadenza": str(before.data_scadenza), "stato": str(before.stato)}
    dead_claimer(store, "renew:1", intent, state=State.SENDING, prestate=prestate, now=clock.now)

    box = journaled(sandbox, store, clock=clock).renew_mailbox(box_id, 1, idempotency_key="renew:1")
    assert box.data_scadenza != before.data_scadenza
    assert charges(sandbox, "GET /pec/{id}/rinnovo") == 1


def test_a_claimer_dead_before_its_prestate_sent_nothing_and_is_taken_over(
    sandbox: Sandbox, store: JournalStore
) -> None:
    box_id = evasa_box(sandbox)
    clock = Clock(sandbox.clock.now())
    dead_claimer(store, "renew:1", renew(box_id, 1), state=State.CLAIMED, prestate=None, now=clock.now)
    journaled(sandbox, store, clock=clock).renew_mailbox(box_id, 1, idempotency_key="renew:1")
    assert charges(sandbox, "GET /pec/{id}/rinnovo") == 1


def test_add_space_is_judged_by_its_increment(sandbox: Sandbox, store: JournalStore) -> None:
    box_id = evasa_box(sandbox)
    clock = Clock(sandbox.clock.now())
    prestate = {"spazio_disco": 0, "spazio_storico": 0, "spazio_conservazione": 0}
    client = sandbox.client()
    base = client.get_mailbox(box_id).spazio_disco
    prestate["spazio_disco"] = base

    # Applied: the space grew by exactly this call's increment.
    dead_claimer(
        store, "space:a", add_space(box_id, disco=1024), state=State.SENDING, prestate=prestate, now=clock.now
    )
    client.add_space(box_id, disco=1024)
    box = journaled(sandbox, store, clock=clock).add_space(box_id, idempotency_key="space:a", disco=1024)
    assert box.spazio_disco == base + 1024
    assert charges(sandbox, "PATCH /pec/{id}/modifica") == 1

    # Neither as before nor grown by exactly the increment: unknown, and nothing sent.
    later = {**prestate, "spazio_disco": base + 1024}
    dead_claimer(
        store, "space:b", add_space(box_id, disco=1024), state=State.SENDING, prestate=later, now=clock.now
    )
    client.add_space(box_id, disco=2048)  # someone else's change
    with pytest.raises(OutcomeUnknownError):
        journaled(sandbox, store, clock=clock).add_space(box_id, idempotency_key="space:b", disco=1024)
    assert charges(sandbox, "PATCH /pec/{id}/modifica") == 2
    entry = store.get("space:b")
    assert entry is not None
    assert entry.state is State.UNCERTAIN


def test_a_dead_registration_is_found_among_the_boxes(sandbox: Sandbox, store: JournalStore) -> None:
    fields = box_body("tre@testcert.legalmail.it")
    clock = Clock(sandbox.clock.now())
    dead_claimer(
        store,
        "register:tre",
        register(sandbox.client().settings, fields, today=DAY),
        state=State.SENDING,
        prestate=None,
        now=clock.now,
    )
    sent = sandbox.client().register_mailbox(**fields)
    found = journaled(sandbox, store, clock=clock).register_mailbox(idempotency_key="register:tre", **fields)
    assert found.id == sent.id
    assert charges(sandbox, "POST /pec") == 1


def test_a_refused_call_frees_the_key(sandbox: Sandbox, store: JournalStore) -> None:
    sandbox.balance = 0
    pec = journaled(sandbox, store)
    with pytest.raises(PaymentRequiredError):
        pec.register_mailbox(idempotency_key="register:quattro", **box_body("quattro@testcert.legalmail.it"))
    assert store.get("register:quattro") is None
    sandbox.balance = 100
    assert pec.register_mailbox(
        idempotency_key="register:quattro", **box_body("quattro@testcert.legalmail.it")
    ).id
    assert charges(sandbox, "POST /pec") == 1


@pytest.mark.dates
@pytest.mark.parametrize("years", [-25, 0, 25])
def test_an_entry_is_kept_for_its_retention_whatever_the_callers_clock(
    store: JournalStore, years: int
) -> None:
    # the callers' clock years away from the store's (Redis keeps its own): the retention holds
    now = EPOCH + years * 365.25 * 86400
    store.claim("k", "fp", "op", "me", now, now + 10, now + 60)
    entry = store.get("k")
    assert entry is not None
    assert entry.expires_at == now + 60
    assert store.purge(now + 59) == 0
    assert store.get("k") is not None


@pytest.mark.dates
def test_past_retention_a_key_is_a_new_intent(sandbox: Sandbox, store: JournalStore) -> None:
    clock = Clock(sandbox.clock.now())
    journal = Journal(store, clock=clock, lease=10, retention=60)
    sandbox.client(journal=journal, timeout=5).register_mailbox(
        idempotency_key="k", **box_body("cinque@testcert.legalmail.it")
    )
    clock.now += 30
    assert journal.purge() == 0
    assert store.get("k") is not None
    clock.now += 31
    # SQLite deletes expired rows on purge(); Redis expires them itself.
    assert journal.purge() == (1 if type(store).__name__ == "SqliteJournalStore" else 0)
    entry = store.claim("k", "fp", "op", "me", clock.now, clock.now + 10, clock.now + 60)
    assert (entry.owner, entry.attempts, entry.state) == ("me", 1, State.CLAIMED)


@pytest.mark.dates
def test_a_journal_purges_expired_entries_on_its_first_call(sandbox: Sandbox, store: JournalStore) -> None:
    clock = Clock(sandbox.clock.now())
    old = sandbox.client(journal=Journal(store, clock=clock, lease=10, retention=60), timeout=5)
    old.register_mailbox(idempotency_key="old", **box_body("sei@testcert.legalmail.it"))
    clock.now += 61
    fresh = sandbox.client(journal=Journal(store, clock=clock, lease=10, retention=60), timeout=5)
    fresh.register_mailbox(idempotency_key="new", **box_body("sette@testcert.legalmail.it"))
    if type(store).__name__ == "SqliteJournalStore":
        assert store.get("old") is None
    assert store.get("new") is not None


def test_journal_settings_are_checked(store: JournalStore) -> None:
    with pytest.raises(ValidationError):
        Journal(store, lease=-1)
    with pytest.raises(ValidationError):
        Journal(store, lease=100, retention=10)
    with pytest.raises(ValidationError) as bad:
        sandbox_on_day().client(journal=Journal(store)).renew_mailbox("x", idempotency_key="")
    assert bad.value.field == "idempotency_key"


def test_the_async_client_shares_the_record(sandbox: Sandbox, store: JournalStore, tmp_path: Path) -> None:
    box_id = evasa_box(sandbox)
    journal = Journal(store)

    async def go() -> Any:
        async with sandbox.async_client(journal=journal) as pec:
            first = await pec.renew_mailbox(box_id, 1, idempotency_key="renew:async")
            second = await pec.renew_mailbox(box_id, 1, idempotency_key="renew:async")
            return first, second

    first, second = asyncio.run(go())
    assert first == second
    assert sandbox.client(journal=journal).renew_mailbox(box_id, 1, idempotency_key="renew:async") == first
    assert charges(sandbox, "GET /pec/{id}/rinnovo") == 1


def test_a_key_per_client_with_options(sandbox: Sandbox, store: JournalStore) -> None:
    box_id = evasa_box(sandbox)
    pec = sandbox.client().with_options(journal=Journal(store), idempotency_key="renew:options")
    first = pec.renew_mailbox(box_id)
    assert pec.renew_mailbox(box_id) == first
    assert charges(sandbox, "GET /pec/{id}/rinnovo") == 1
    # Without the key the same client sends: the key is what makes a call "the same one".
    sandbox.client().with_options(journal=Journal(store)).renew_mailbox(box_id)
    assert charges(sandbox, "GET /pec/{id}/rinnovo") == 2


def test_a_key_needs_a_journal_and_no_raw_response(sandbox: Sandbox, store: JournalStore) -> None:
    box_id = evasa_box(sandbox)
    with pytest.raises(ValidationError) as missing:
        sandbox.client().renew_mailbox(box_id, idempotency_key="renew:x")
    assert missing.value.field == "journal"
    raw = sandbox.client(journal=Journal(store)).with_raw_response
    with pytest.raises(ValidationError):
        raw.renew_mailbox(box_id, idempotency_key="renew:x")
    with pytest.raises(ValidationError) as bad:
        sandbox.client().with_options(journal="journal.sqlite")
    assert bad.value.field == "journal"
    assert charges(sandbox, "GET /pec/{id}/rinnovo") == 0


def test_an_activation_with_a_key_is_sent_once(sandbox: Sandbox, store: JournalStore, tmp_path: Path) -> None:
    pec = sandbox.client(journal=Journal(store))
    box = pec.register_mailbox(**box_body("otto@testcert.legalmail.it"))
    form = tmp_path / "modulo.pdf"
    form.write_bytes(PDF)
    first = pec.activate_mailbox(box.id, [form, PDF], idempotency_key=f"activate:{box.id}")
    # The API refuses a second activation of a box in_evasione: only the journal makes this pass.
    again = pec.activate_mailbox(box.id, [form, PDF], idempotency_key=f"activate:{box.id}")
    assert again == first
    assert str(again.stato) == "in_evasione"
    form.write_bytes(PDF + b"%changed")
    with pytest.raises(ValidationError):  # other documents: another request
        pec.activate_mailbox(box.id, [form, PDF], idempotency_key=f"activate:{box.id}")


def test_the_sqlite_wal_is_checkpointed_off_the_claims(tmp_path: Path) -> None:
    """Claims never checkpoint (their connection has it off); the lossy writes do, so the WAL
    stays bounded however many calls a long-lived journal makes."""
    from pec_ext.journal.sqlite import SqliteJournalStore

    path = tmp_path / "journal.sqlite"
    store = SqliteJournalStore(path)
    wal = Path(f"{path}-wal")
    for n in range(1500):
        store.claim(f"k{n}", "fp", "renew_mailbox", "me", 1.0, 100.0, 10**9, '{"x":1}', State.SENDING)
        assert store.update(f"k{n}", "me", State.DONE, 0.0, None, '{"ok":true}', durable=False)
    pages = wal.stat().st_size / 4096
    assert pages < 1500, pages  # the autocheckpoint threshold is 1000 pages
    store.close()
