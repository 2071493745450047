"""The journal in a SQLite file: the embedded default, safe for many processes on one machine.

WAL lets readers proceed while one process writes; a claim runs in ``BEGIN IMMEDIATE`` so that
two processes cannot both see the key free; ``busy_timeout`` makes the others wait for the
write lock instead of failing. ``synchronous=FULL`` (the default here) makes a claim durable
across a power loss, not only across a killed process, before the request is sent: the one fsync
of a call. A new key's claim is one ``INSERT`` (its own transaction); only a key already present
takes the longer path. Writes that may be lost (``done``, a release, ``uncertain``: the next caller
reconciles an entry left ``sending``) go through a second connection at ``synchronous=NORMAL``,
without waiting for the disk; the next durable commit of the WAL carries them to it.

Not for a network filesystem (NFS, SMB): SQLite's locks are not reliable there. Use Redis for a
fleet of machines.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from pathlib import Path
from typing import Any, Literal

from pec_ext._engine.clock import SYSTEM_CLOCK
from pec_ext.journal.base import EXPIRY_MARGIN_SECONDS, Entry, State

_SCHEMA = """
CREATE TABLE IF NOT EXISTS journal (
    key TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    operation TEXT NOT NULL,
    owner TEXT NOT NULL,
    state TEXT NOT NULL,
    lease_until REAL NOT NULL,
    attempts INTEGER NOT NULL,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    prestate TEXT,
    result TEXT
);
CREATE INDEX IF NOT EXISTS journal_expires ON journal (expires_at);
"""
_SELECT = (
    "SELECT key, fingerprint, operation, owner, state, lease_until, attempts, created_at, expires_at, "
    "prestate, result FROM journal"
)
_INSERT_NEW = (
    "INSERT INTO journal (key, fingerprint, operation, owner, state, lease_until, attempts, "
    "created_at, expires_at, prestate, result) VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?, ?, NULL) "
    "ON CONFLICT (key) DO NOTHING"
)
_INSERT = (
    "INSERT OR REPLACE INTO journal (key, fingerprint, operation, owner, state, lease_until, attempts, "
    "created_at, expires_at, prestate, result) VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?, ?, NULL)"
)


def _entry(row: tuple[Any, ...]) -> Entry:
    key, fp, operation, owner, state, lease_until, attempts, created, expires, prestate, result = row
    return Entry(
        key=key,
        fingerprint=fp,
        operation=operation,
        owner=owner,
        state=State(state),
        lease_until=lease_until,
        attempts=attempts,
        created_at=created,
        expires_at=expires,
        prestate=None if prestate is None else json.loads(prestate),
        result=None if result is None else json.loads(result),
    )


class SqliteJournalStore:
    """A :class:`~pec_ext.journal.base.JournalStore` in one SQLite file."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        busy_timeout: float = 30.0,
        synchronous: Literal["FULL", "NORMAL"] = "FULL",
    ) -> None:
        self.path = Path(path)
        self.busy_timeout = busy_timeout
        self.synchronous = synchronous
        # One lock for both connections: a writer waits here, not in SQLite's sleeping busy handler.
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._lossy_conn: sqlite3.Connection | None = None
        self._pid = 0
        self._connection()  # fail early on a bad path

    def _open(self, synchronous: str) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path, timeout=self.busy_timeout, isolation_level=None, check_same_thread=False
        )
        conn.execute(f"PRAGMA busy_timeout={int(self.busy_timeout * 1000)}")
        self._initialise(conn)
        conn.execute(f"PRAGMA synchronous={synchronous}")
        return conn

    def _one_connection(self) -> bool:
        # ":memory:" is a database per connection (and never reaches a disk).
        return self.synchronous == "NORMAL" or str(self.path) == ":memory:"

    def _connection(self, *, durable: bool = True) -> sqlite3.Connection:
        # A connection must not cross a fork (Celery's prefork pool): reopen in the child.
        if self._conn is None or self._pid != os.getpid():
            conn = self._open(self.synchronous)
            if not self._one_connection():
                # Checkpoints (copying the WAL into the database, with fsyncs) are left to the
                # lossy connection, whose writes (``done``) are off the calls' critical path.
                conn.execute("PRAGMA wal_autocheckpoint=0")
            self._conn, self._lossy_conn, self._pid = conn, None, os.getpid()
        if durable or self._one_connection():
            return self._conn
        if self._lossy_conn is None:
            self._lossy_conn = self._open("NORMAL")
        return self._lossy_conn

    def _initialise(self, conn: sqlite3.Connection) -> None:
        # Switching a new file to WAL while other processes open it answers "locked" at once,
        # without the busy handler: retried here, within the same busy timeout.
        # Real time, not a client's: the lock is held by another process.
        deadline = SYSTEM_CLOCK.monotonic() + self.busy_timeout
        while True:
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.executescript(_SCHEMA)
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or SYSTEM_CLOCK.monotonic() > deadline:
                    raise
                SYSTEM_CLOCK.sleep(0.01)

    def _write(self, sql: str, args: tuple[Any, ...], *, durable: bool = True) -> int:
        with self._lock:
            return self._connection(durable=durable).execute(sql, args).rowcount

    def claim(
        self,
        key: str,
        fingerprint: str,
        operation: str,
        owner: str,
        now: float,
        lease_until: float,
        expires_at: float,
        prestate: str | None = None,
        state: State = State.CLAIMED,
    ) -> Entry:
        expires_at = max(expires_at, lease_until + EXPIRY_MARGIN_SECONDS)
        state = State(state)
        fresh = (key, fingerprint, operation, owner, state.value, lease_until, now, expires_at, prestate)
        # The row a new claim writes, as _SELECT reads it: what is returned, with no second read.
        written = (*fresh[:6], 1, now, expires_at, prestate, None)
        with self._lock:
            conn = self._connection()
            # A new key (the common case): one statement, its own durable transaction.
            if conn.execute(_INSERT_NEW, fresh).rowcount == 1:
                return _entry(written)
            conn.execute("BEGIN IMMEDIATE")
            try:
                row = conn.execute(_SELECT + " WHERE key = ?", (key,)).fetchone()
                if row is None or row[8] <= now:
                    conn.execute(_INSERT, fresh)
                    conn.execute("COMMIT")
                    # What was just written: no second read inside the one durable transaction.
                    return _entry(written)
                entry = _entry(row)
                free = entry.state is not State.DONE and entry.lease_until <= now
                if entry.fingerprint != fingerprint or not free:
                    conn.execute("COMMIT")
                    return entry
                conn.execute(
                    "UPDATE journal SET owner = ?, lease_until = ?, attempts = attempts + 1, "
                    "expires_at = max(expires_at, ?) WHERE key = ?",
                    (owner, lease_until, expires_at, key),
                )
                row = conn.execute(_SELECT + " WHERE key = ?", (key,)).fetchone()
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return _entry(row)

    def update(
        self,
        key: str,
        owner: str,
        state: State,
        lease_until: float,
        prestate: str | None = None,
        result: str | None = None,
        *,
        durable: bool = True,
    ) -> bool:
        changed = self._write(
            "UPDATE journal SET state = ?, lease_until = ?, prestate = coalesce(?, prestate), "
            "result = coalesce(?, result), expires_at = max(expires_at, ?) WHERE key = ? AND owner = ?",
            (
                State(state).value,
                lease_until,
                prestate,
                result,
                lease_until + EXPIRY_MARGIN_SECONDS,
                key,
                owner,
            ),
            durable=durable,
        )
        return changed == 1

    def release(self, key: str, owner: str) -> bool:
        # Not waiting for the disk: a lost release leaves ``sending``, reconciled as not applied.
        deleted = self._write("DELETE FROM journal WHERE key = ? AND owner = ?", (key, owner), durable=False)
        return deleted == 1

    def get(self, key: str) -> Entry | None:
        with self._lock:
            row = self._connection().execute(_SELECT + " WHERE key = ?", (key,)).fetchone()
        return None if row is None else _entry(row)

    def entries(self) -> list[Entry]:
        """Every entry, oldest first (for reports and tests)."""
        with self._lock:
            rows = self._connection().execute(_SELECT + " ORDER BY created_at").fetchall()
        return [_entry(row) for row in rows]

    def purge(self, now: float) -> int:
        return self._write("DELETE FROM journal WHERE expires_at <= ?", (now,), durable=False)

    def close(self) -> None:
        with self._lock:
            if self._pid == os.getpid():
                for conn in (self._conn, self._lossy_conn):
                    if conn is not None:
                        conn.close()
            self._conn = self._lossy_conn = None
