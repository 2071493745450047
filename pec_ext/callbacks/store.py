"""Which callback transitions were handled: the memory behind exactly-once handling.

A provider delivers at least once, so the same transition (record kind, id, ``stato``, and the
record's last-change time, as a record may come back to a state it had) may arrive twice, at two
receiver processes at once, or again after a restart. A receiver *claims* a transition before
running its handler, then marks it *complete*, or *releases* it when the handler failed so that the
provider's next delivery runs it again.

The protocol is three calls, and an optional fourth; any object with them can be handed to the
receiver as ``store=``::

    claim(transition, ticket) -> Claim   # ACQUIRED: run the handler; DONE: already handled;
                                         # BUSY: another receiver holds it right now
    complete(transition, ticket) -> None # the handler succeeded: DONE for good
    release(transition, ticket) -> None  # the handler failed: forget the claim
    renew(transition, ticket) -> bool    # the handler still runs: the claim's lease starts again

``ticket`` is unique per delivery, so that a claim taken over after its lease ran out cannot be
completed or released by the receiver that lost it. ``claim`` must be atomic across every process
sharing the store.

A claim's lease is short (:data:`DEFAULT_LEASE_SECONDS`) and renewed while the handler runs, so a
receiver that died mid-handler holds it for seconds, not minutes. A ticket names the host and the
process that made it (:func:`new_ticket`): a claim whose process is gone from this very host (a
receiver killed and restarted) is taken over at once, within the provider's retry schedule.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Protocol

__all__ = [
    "Claim",
    "MemoryTransitionStore",
    "SqliteTransitionStore",
    "Transition",
    "TransitionStore",
    "holder_is_gone",
    "new_ticket",
]

DEFAULT_LEASE_SECONDS = 30.0
"""A claim not renewed for this long is taken to belong to a receiver that died while handling it
(the receiver renews it every third of this while its handler runs)."""

_HOST = socket.gethostname()


def new_ticket() -> str:
    """A ticket for one delivery: ``host:pid:random``, so a restarted receiver knows its dead claims."""
    return f"{_HOST}:{os.getpid()}:{uuid.uuid4().hex}"


def holder_is_gone(ticket: str) -> bool:
    """Whether the ticket was made by a process of this host that no longer runs."""
    parts = ticket.rsplit(":", 2)
    if len(parts) != 3 or parts[0] != _HOST or not parts[1].isdigit():
        return False
    pid = int(parts[1])
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # alive, another user's; or no signals here
        return False
    return False


@dataclass(frozen=True)
class Transition:
    """One change of ``stato`` of one record.

    ``version`` is when the record last changed, as the API shows it (a mailbox's
    ``timestamp.ultima_modifica``, a communication's ``timestamp``): it tells a box's second
    ``in_evasione`` (after ``documenti_errati``) from its first. It has the API's one-second
    resolution.
    """

    kind: str
    id: str
    stato: str
    version: str = ""

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.kind, self.id, self.stato, self.version)


class Claim(StrEnum):
    ACQUIRED = "acquired"
    DONE = "done"
    BUSY = "busy"


class TransitionStore(Protocol):
    def claim(self, transition: Transition, ticket: str) -> Claim: ...

    def complete(self, transition: Transition, ticket: str) -> None: ...

    def release(self, transition: Transition, ticket: str) -> None: ...


class MemoryTransitionStore:
    """One process, no restarts: for tests and ``pec callbacks listen``."""

    def __init__(
        self, *, lease: float = DEFAULT_LEASE_SECONDS, clock: Callable[[], float] = time.time
    ) -> None:
        self.lease = lease
        self._clock = clock
        self._lock = threading.Lock()
        self._done: set[Transition] = set()
        self._claims: dict[Transition, tuple[str, float]] = {}

    def claim(self, transition: Transition, ticket: str) -> Claim:
        with self._lock:
            if transition in self._done:
                return Claim.DONE
            held = self._claims.get(transition)
            now = self._clock()
            if held is not None and now - held[1] < self.lease and not holder_is_gone(held[0]):
                return Claim.BUSY
            self._claims[transition] = (ticket, now)
            return Claim.ACQUIRED

    def renew(self, transition: Transition, ticket: str) -> bool:
        with self._lock:
            if self._claims.get(transition, ("",))[0] != ticket:
                return False
            self._claims[transition] = (ticket, self._clock())
            return True

    def complete(self, transition: Transition, ticket: str) -> None:
        with self._lock:
            if self._claims.get(transition, ("",))[0] == ticket:
                del self._claims[transition]
                self._done.add(transition)

    def release(self, transition: Transition, ticket: str) -> None:
        with self._lock:
            if self._claims.get(transition, ("",))[0] == ticket:
                del self._claims[transition]


_SCHEMA = """
CREATE TABLE IF NOT EXISTS callback_transitions (
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    stato TEXT NOT NULL,
    version TEXT NOT NULL,
    ticket TEXT,
    claimed_at REAL,
    handled_at REAL,
    PRIMARY KEY (kind, id, stato, version)
)
"""


class SqliteTransitionStore:
    """The default store: an SQLite file that several receiver processes may share.

    WAL lets readers and the one writer proceed together; ``BEGIN IMMEDIATE`` takes the write lock
    before the claim reads, so two processes cannot both see a transition as free. A row with
    ``handled_at`` set is done; one with only a ticket is claimed, until its lease runs out.
    ``synchronous=FULL``, as the journal: a transition recorded done survives a power loss, so its
    handler never runs a second time after one.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        lease: float = DEFAULT_LEASE_SECONDS,
        busy_timeout: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = Path(path)
        self.lease = lease
        self._clock = clock
        self._lock = threading.Lock()
        # autocommit mode: transactions are opened explicitly, as BEGIN IMMEDIATE
        self._db = sqlite3.connect(
            str(self.path), timeout=busy_timeout, isolation_level=None, check_same_thread=False
        )
        self._db.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("PRAGMA synchronous = FULL")
        self._db.execute(_SCHEMA)

    def claim(self, transition: Transition, ticket: str) -> Claim:
        key = transition.key
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                row = self._db.execute(
                    "SELECT ticket, claimed_at, handled_at FROM callback_transitions"
                    " WHERE kind = ? AND id = ? AND stato = ? AND version = ?",
                    key,
                ).fetchone()
                now = self._clock()
                if row is not None and row[2] is not None:
                    outcome = Claim.DONE
                elif (
                    row is not None
                    and row[0] is not None
                    and now - float(row[1]) < self.lease
                    and not holder_is_gone(row[0])
                ):
                    outcome = Claim.BUSY
                else:
                    self._db.execute(
                        "INSERT OR REPLACE INTO callback_transitions"
                        " (kind, id, stato, version, ticket, claimed_at, handled_at)"
                        " VALUES (?, ?, ?, ?, ?, ?, NULL)",
                        (*key, ticket, now),
                    )
                    outcome = Claim.ACQUIRED
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            return outcome

    def complete(self, transition: Transition, ticket: str) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE callback_transitions SET handled_at = ?"
                " WHERE kind = ? AND id = ? AND stato = ? AND version = ? AND ticket = ?",
                (self._clock(), *transition.key, ticket),
            )

    def renew(self, transition: Transition, ticket: str) -> bool:
        with self._lock:
            cursor = self._db.execute(
                "UPDATE callback_transitions SET claimed_at = ?"
                " WHERE kind = ? AND id = ? AND stato = ? AND version = ? AND ticket = ?"
                " AND handled_at IS NULL",
                (self._clock(), *transition.key, ticket),
            )
            return cursor.rowcount == 1

    def release(self, transition: Transition, ticket: str) -> None:
        with self._lock:
            self._db.execute(
                "DELETE FROM callback_transitions WHERE kind = ? AND id = ? AND stato = ?"
                " AND version = ? AND ticket = ? AND handled_at IS NULL",
                (*transition.key, ticket),
            )

    def handled(self) -> list[Transition]:
        """Every transition marked done, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT kind, id, stato, version FROM callback_transitions WHERE handled_at IS NOT NULL"
                " ORDER BY handled_at"
            ).fetchall()
        return [Transition(*row) for row in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()
