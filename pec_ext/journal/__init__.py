"""The journal: a paid effect happens once per idempotency key, across processes and machines.

``Journal`` and its store protocol are in :mod:`pec_ext.journal.base`; the stores beside it:
:mod:`~pec_ext.journal.sqlite` (one machine) and :mod:`~pec_ext.journal.redis` (a fleet), loaded
on first use, so that a client that journals nothing does not pay for them.
"""

from typing import TYPE_CHECKING

from pec_ext._lazy import lazy_exports
from pec_ext.journal.base import Entry, Journal, JournalStore, State

if TYPE_CHECKING:
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

_LAZY = {
    "RedisJournalStore": "pec_ext.journal.redis",
    "SqliteJournalStore": "pec_ext.journal.sqlite",
    "open_store": "pec_ext.journal.stores",
}


__getattr__ = lazy_exports(__name__, _LAZY)
