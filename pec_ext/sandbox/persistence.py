"""Optional SQLite storage: one JSON blob per record, so a restart with the same file loses nothing."""

from __future__ import annotations

import json
import math
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from .state import RECORD_KINDS, Record, State

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (kind TEXT NOT NULL, id TEXT NOT NULL, body TEXT NOT NULL,
                                    PRIMARY KEY (kind, id));
CREATE TABLE IF NOT EXISTS ledger (seq INTEGER PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass(slots=True)
class Snapshot:
    meta: Record | None
    now: float | None
    boxes: dict[str, Record] = field(default_factory=dict)
    comms: dict[str, Record] = field(default_factory=dict)
    sendings: dict[str, Record] = field(default_factory=dict)
    messages: dict[str, Record] = field(default_factory=dict)
    ledger: list[Record] = field(default_factory=list)


class CorruptStateError(ValueError):
    """The file holds a state the sandbox refuses to run on (e.g. a non-finite clock)."""


class SqliteStore:
    """Used only under the sandbox's lock, hence one shared connection across threads.

    Every ``save`` is one transaction: a request's records, ledger entries and wallet are written
    together or not at all, and the commit is on disk before the request is answered.
    """

    def __init__(self, path: str | Path, *, busy_timeout: float = 10.0) -> None:
        self.path = str(path)
        # Another process on the same file (a second server, a `sqlite3` shell) holds the write lock
        # only briefly: wait for it rather than failing the request at once.
        self._conn = sqlite3.connect(
            self.path, timeout=busy_timeout, check_same_thread=False, isolation_level=None
        )
        self._conn.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
        self._conn.execute("PRAGMA journal_mode=WAL")
        # FULL: a charge answered 200 survives a power cut too, not only a killed process
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.executescript(_SCHEMA)
        self._ledger_written = 0

    def load(self) -> Snapshot:
        rows = self._conn.execute("SELECT key, value FROM meta").fetchall()
        meta = {key: json.loads(value) for key, value in rows}
        now = meta.get("now")
        if now is not None and (not isinstance(now, int | float) or not math.isfinite(now)):
            raise CorruptStateError(
                f"{self.path} holds a non-finite sandbox clock ({now!r}); refusing to load it"
            )
        snap = Snapshot(meta.get("state"), now)
        tables = {"box": snap.boxes, "comm": snap.comms, "sending": snap.sendings, "message": snap.messages}
        for kind, record_id, body in self._conn.execute("SELECT kind, id, body FROM records ORDER BY rowid"):
            if kind in tables:
                tables[kind][record_id] = json.loads(body)
        snap.ledger = [json.loads(b) for (b,) in self._conn.execute("SELECT body FROM ledger ORDER BY seq")]
        self._ledger_written = len(snap.ledger)
        return snap

    def save(self, state: State, now: float) -> None:
        conn = self._conn
        # IMMEDIATE takes the write lock up front, so waiting on a busy file happens here, under
        # the busy timeout, and never half-way through the writes
        conn.execute("BEGIN IMMEDIATE")
        try:
            for kind, record_id in sorted(state.dirty):
                if kind not in RECORD_KINDS:
                    continue  # the wallet and the queue live in meta, written on every save
                record = state.table(kind).get(record_id)
                if record is None:
                    conn.execute("DELETE FROM records WHERE kind = ? AND id = ?", (kind, record_id))
                else:
                    conn.execute(
                        "INSERT INTO records (kind, id, body) VALUES (?, ?, ?) "
                        "ON CONFLICT (kind, id) DO UPDATE SET body = excluded.body",
                        (kind, record_id, json.dumps(record)),
                    )
            new_entries = state.ledger[self._ledger_written :]
            conn.executemany(
                "INSERT OR REPLACE INTO ledger (seq, body) VALUES (?, ?)",
                [(entry["seq"], json.dumps(entry)) for entry in new_entries],
            )
            conn.executemany(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                [("state", json.dumps(state.meta())), ("now", json.dumps(now))],
            )
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        self._ledger_written = len(state.ledger)
        state.dirty.clear()

    def clear(self) -> None:
        self._conn.executescript("DELETE FROM records; DELETE FROM ledger; DELETE FROM meta;")
        self._ledger_written = 0

    def close(self) -> None:
        self._conn.close()
