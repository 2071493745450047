"""A journal store named by a URL, as the CLI and the Celery tasks take it."""

from __future__ import annotations

from pec_ext.journal.base import JournalStore
from pec_ext.journal.redis import RedisJournalStore
from pec_ext.journal.sqlite import SqliteJournalStore


def open_store(url: str) -> JournalStore:
    """A store from a URL: ``redis://...`` (or ``rediss://``), else a SQLite file path."""
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisJournalStore.from_url(url)
    return SqliteJournalStore(url.removeprefix("sqlite:///"))
