"""Writes that the caller need not wait for: a journal's ``done`` records, written by one thread.

A paid call is safe once its ``sending`` record is durable; the ``done`` that follows only saves
the next caller with the same key a reconciliation (a ``done`` lost in a crash leaves
``sending``, which the next caller reconciles from the account's state). So the call returns its
result at once and this thread writes the record behind it, off the call's critical path.

What keeps that safe and unsurprising:

* one recorder per store object in a process, whichever journal or client submits: a journal
  claiming a key first waits for that key's pending record (:meth:`BackgroundRecorder.wait_for`),
  so a process always reads its own writes;
* records are written in the order they were submitted;
* a write that fails is logged, with the key, at ERROR (the entry stays ``sending``: the next
  caller reconciles it); :meth:`BackgroundRecorder.flush` waits for every pending record and says
  how many were lost;
* at interpreter exit the pending records are flushed (up to :data:`EXIT_FLUSH_SECONDS`); a
  process killed before that loses them, which is reconciled like any crash;
* after a fork the child starts with no pending records and its own thread: the parent's records
  are the parent's to write.
"""

from __future__ import annotations

import atexit
import logging
import os
import queue
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field

logger = logging.getLogger("pec_ext.journal.recorder")

# How long interpreter exit waits for records still pending.
EXIT_FLUSH_SECONDS = 5.0
# The thread ends after this long with nothing to write (the next submit starts another).
IDLE_SECONDS = 2.0


@dataclass
class _Pending:
    key: str
    write: Callable[[], object]
    written: threading.Event = field(default_factory=threading.Event)


class BackgroundRecorder:
    """One writer thread for one store; ``submit`` never blocks the caller."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._reset()

    def _reset(self) -> None:
        self._pid = os.getpid()
        self._queue: queue.SimpleQueue[_Pending] = queue.SimpleQueue()
        self._pending: dict[str, _Pending] = {}
        self._unfinished = 0
        self._idle = threading.Condition(self._guard)
        self._lost = 0
        self._thread: threading.Thread | None = None

    def _forked(self) -> None:
        # The lock may have been held by a thread that does not exist in the child.
        self._guard = threading.Lock()
        self._reset()

    def submit(self, key: str, write: Callable[[], object]) -> None:
        """Write ``write()`` behind the caller; its exceptions are logged, never raised here."""
        if self._pid != os.getpid():
            self._forked()
        item = _Pending(key, write)
        with self._guard:
            self._pending[key] = item
            self._unfinished += 1
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="pec-journal-recorder", daemon=True)
                self._thread.start()
                _LIVE.add(self)
        self._queue.put(item)

    def is_pending(self, key: str) -> bool:
        return self._pid == os.getpid() and key in self._pending

    def wait_for(self, key: str, timeout: float) -> bool:
        """Wait until ``key``'s pending record is written (or failed); False on timeout."""
        item = self._pending.get(key) if self._pid == os.getpid() else None
        return item is None or item.written.wait(timeout)

    def flush(self, timeout: float | None = None) -> int:
        """Wait for every pending record; how many writes failed since the last flush.

        Raises :class:`TimeoutError` when records are still pending after ``timeout`` seconds.
        """
        if self._pid != os.getpid():
            self._forked()
        with self._idle:
            if not self._idle.wait_for(lambda: self._unfinished == 0, timeout):
                raise TimeoutError(f"{self._unfinished} journal record(s) still pending after {timeout} s")
            lost, self._lost = self._lost, 0
        return lost

    def _run(self) -> None:
        while True:
            try:
                item = self._queue.get(timeout=IDLE_SECONDS)
            except queue.Empty:
                with self._guard:
                    if self._unfinished == 0:
                        self._thread = None
                        return
                continue
            try:
                item.write()
            except Exception:
                with self._guard:
                    self._lost += 1
                logger.exception(
                    "%s: the journal's record was not written; the next caller with this key "
                    "reconciles it from the account's state",
                    item.key,
                )
            finally:
                item.written.set()
                with self._idle:
                    if self._pending.get(item.key) is item:
                        del self._pending[item.key]
                    self._unfinished -= 1
                    self._idle.notify_all()


_RECORDERS: weakref.WeakKeyDictionary[object, BackgroundRecorder] = weakref.WeakKeyDictionary()
_RECORDERS_GUARD = threading.Lock()
_LIVE: weakref.WeakSet[BackgroundRecorder] = weakref.WeakSet()


def recorder_for(store: object) -> BackgroundRecorder:
    """The process's recorder for ``store`` (one per store object, shared by its journals)."""
    with _RECORDERS_GUARD:
        try:
            return _RECORDERS[store]
        except TypeError:  # a store that cannot be weakly referenced: one recorder of its own
            return BackgroundRecorder()
        except KeyError:
            made = _RECORDERS[store] = BackgroundRecorder()
            return made


def _flush_at_exit() -> None:
    for recorder in list(_LIVE):
        try:
            recorder.flush(EXIT_FLUSH_SECONDS)
        except TimeoutError:
            logger.warning("journal records still pending at exit; their keys will be reconciled")


atexit.register(_flush_at_exit)
