"""The journal: a paid effect happens once per idempotency key, across processes and machines.

``Journal`` and its store protocol are in :mod:`pec_ext.journal.base`; the stores beside it:
:mod:`~pec_ext.journal.sqlite` (one machine) and :mod:`~pec_ext.journal.redis` (a fleet).
"""

from pec_ext.journal.base import Entry, Journal, JournalStore, State
from pec_ext.journal.redis import RedisJournalStore
from pec_ext.journal.sqlite import SqliteJournalStore
from pec_ext.journal.stores import open_store

__all__ = [
    "Entry",
    "Journal",
    "JournalStore",
    "RedisJournalStore",
    "SqliteJournalStore",
    "State",
    "open_store",
]
