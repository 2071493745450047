"""``python claimer.py JOURNAL URL BOX_ID KEY``: renew one box through the journal (lease 2 s).

Run as a process of its own so that a test can kill it with kill -9 in the middle of its call.
"""

from __future__ import annotations

import sys

from pec_ext import PecClient
from pec_ext.journal.base import Journal
from pec_ext.journal.sqlite import SqliteJournalStore


def main(journal_path: str, url: str, box_id: str, key: str) -> None:
    journal = Journal(SqliteJournalStore(journal_path), lease=2.0)
    with PecClient(token="t", base_url=url, timeout=1, journal=journal) as pec:
        pec.renew_mailbox(box_id, 1, idempotency_key=key)


if __name__ == "__main__":
    main(*sys.argv[1:5])
