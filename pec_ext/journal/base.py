"""Never pay twice across processes and machines: a durable journal of paid and mutating intents.

The API has no idempotency keys, so the client keeps its own record. A call made with an
idempotency key goes through these steps:

1. read the state the call is about to change (the *pre-state*: a box's ``data_scadenza``
   before a renewal, its spaces before space is added) -- a free read, nothing recorded yet;
2. **claim** the key atomically, with a lease (an owner id and an expiry), recording the
   pre-state and the state ``sending`` in the same write: the one durable write of the call,
   and nothing is sent before it is durable;
3. **send**, then record the outcome (the result, to return the same typed value later) as
   ``done`` before returning it. That write waits neither for the disk nor (Redis) for an answer:
   a ``done`` lost in a power cut leaves ``sending``, which the next caller reconciles from the
   state, as after a crash.
   A store that fails then raises :class:`~pec_ext.errors.AppliedNotRecordedError`, carrying the
   result.

A later call with the same key, from any process sharing the store, never sends again:

* ``done``: it returns the recorded result;
* another caller's lease still runs: it waits, up to ``wait`` seconds, then raises
  :class:`~pec_ext.errors.IdempotencyKeyBusyError`;
* the lease ran out with the outcome unknown (the claimer died in ``sending``, or its call
  ended in an unknown outcome): it *reconciles*, comparing the box as the API shows it now with
  the recorded pre-state, records what it finds, and only sends when the state shows the call
  was not applied. When the state cannot tell, it raises
  :class:`~pec_ext.errors.OutcomeUnknownError` and sends nothing;
* a claimer that died in ``claimed`` (before recording its pre-state) sent nothing: the next
  caller starts afresh.

The same key with a different request (its fingerprint: sha256 of the canonical JSON of the
operation, the path parameters and the body) is a :class:`~pec_ext.errors.ValidationError`.
Entries expire after ``retention`` seconds; a key used again after that is a new intent.

**The lease must outlast the longest call**: a caller that finds an expired lease assumes the
first caller's request can no longer be in flight. Each call of a client ends by its deadline
(the client's ``timeout``, retries and waits included; nothing is sent past it), so a client whose
timeout + :data:`LEASE_MARGIN_SECONDS` exceeds the journal's lease (or that has no timeout) is
refused with a :class:`~pec_ext.errors.ValidationError` before any paid request. A call that ends
with its outcome unknown keeps its lease for the same reason.

Use it through the client: ``PecClient(journal=Journal(store))``, then a key per call
(``pec.renew_mailbox(id, idempotency_key="renew:<id>:2027-05-01")``) or per client
(``pec.with_options(idempotency_key=...)``). The steps are a flow like the client's others, so
the sync and the async client run the same definition; the store's calls are blocking steps,
which the async client runs in a worker thread.

Stores: :class:`~pec_ext.journal.sqlite.SqliteJournalStore` (one machine, many processes) and
:class:`~pec_ext.journal.redis.RedisJournalStore` (a fleet); any object implementing
:class:`JournalStore` will do.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum, StrEnum
from typing import Any, Protocol, TypeVar, runtime_checkable

from pec_ext._engine.steps import Blocking, Flow, check_idempotency_key
from pec_ext.errors import (
    AppliedNotRecordedError,
    IdempotencyKeyBusyError,
    JournalUnavailableError,
    OutcomeUnknownError,
    PecError,
    ValidationError,
)

logger = logging.getLogger("pec_ext.journal.base")

T = TypeVar("T")

DEFAULT_LEASE_SECONDS = 300.0
DEFAULT_WAIT_SECONDS = 30.0
DEFAULT_RETENTION_SECONDS = 90 * 86400.0
# Expired entries are deleted on a journal's first call, then once every this many calls.
PURGE_EVERY = 1000
# A lease must outlast the client's deadline by this much (clock skew, the store's own latency);
# an entry never expires before its lease ends plus this much.
LEASE_MARGIN_SECONDS = 1.0
EXPIRY_MARGIN_SECONDS = 10.0


class State(StrEnum):
    """Where an intent stands in the journal."""

    CLAIMED = "claimed"  # leased; nothing sent yet
    SENDING = "sending"  # pre-state recorded; the request may have reached the API
    UNCERTAIN = "uncertain"  # sent, outcome unknown: reconcile before anything else
    DONE = "done"  # outcome recorded


@dataclass(frozen=True)
class Entry:
    """One journal record. ``prestate`` and ``result`` are JSON values."""

    key: str
    fingerprint: str
    operation: str
    owner: str
    state: State
    lease_until: float
    attempts: int
    created_at: float
    expires_at: float
    prestate: Any = None
    result: Any = None


@runtime_checkable
class JournalStore(Protocol):
    """What a journal backend provides. Every method is atomic with respect to the others.

    ``claim``: if there is no live entry for ``key`` (none, or ``expires_at <= now``), create one
    (state ``state``, pre-state ``prestate``, owner ``owner``, ``attempts`` 1) and return it.
    Otherwise, if the entry's fingerprint differs, or it is ``done``, or its lease still runs
    (``lease_until > now``), return it unchanged. Otherwise (an expired lease) take it over: set
    ``owner`` and ``lease_until``, add one to ``attempts``, keep its state and pre-state, and
    return it. The write is durable before ``claim`` returns.

    ``update``: only when ``owner`` still holds the entry (compare-and-set), set its state and
    lease, and its pre-state / result when given (JSON text; None keeps them). True when it did.
    ``durable=False``: the write need not reach the disk before returning, nor be confirmed: a
    store may send it and read the answer at its next call (then True means sent, and a refusal
    is logged when read), provided every later call of the store sees the write made.

    Whatever sets a lease keeps the entry at least until ``lease_until`` +
    :data:`EXPIRY_MARGIN_SECONDS` (and at least until ``expires_at`` when given): an entry never
    expires while a caller may still be sending.

    ``release``: delete the entry if ``owner`` holds it (the call was refused: nothing applied).
    ``get``: the entry or None. ``purge``: delete entries whose ``expires_at <= now``; how many.
    """

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
    ) -> Entry: ...

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
    ) -> bool: ...

    def release(self, key: str, owner: str) -> bool: ...

    def get(self, key: str) -> Entry | None: ...

    def purge(self, now: float) -> int: ...

    def close(self) -> None: ...


def canonical_json(value: Any) -> str:
    """One text per value: sorted keys, no spaces, str-enums as their values."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def fingerprint(operation: str, path_params: Mapping[str, Any], body: Any) -> str:
    """sha256 of the canonical JSON of what the request asks for."""
    text = canonical_json({"operation": operation, "path": dict(path_params), "body": body})
    return hashlib.sha256(text.encode()).hexdigest()


# -- what one journaled operation knows -----------------------------------------------------------


class Decision(Enum):
    NOT_APPLIED = "not applied"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Intent:
    """One journaled call: how to read its pre-state, send it, and judge it from the state.

    ``read_prestate``, ``send`` and ``reconcile`` are flows of the client (``pec_ext._pec.flows``);
    ``reconcile`` returns the result when the state shows the call was applied, or a
    :class:`Decision`. ``encode``/``decode`` turn the result into JSON and back.
    """

    operation: str
    path_params: Mapping[str, Any]
    body: Any
    send: Callable[[Any], Flow[Any]]
    reconcile: Callable[[Any], Flow[Any]]
    encode: Callable[[Any], Any]
    decode: Callable[[Any], Any]
    read_prestate: Callable[[], Flow[Any]] | None = None

    @property
    def fingerprint(self) -> str:
        # A body given as a function is costly to compute (document digests): only when journaled.
        body = self.body() if callable(self.body) else self.body
        return fingerprint(self.operation, self.path_params, body)


class Journal:
    """The journal's settings over one store; share it between the clients of a process."""

    def __init__(
        self,
        store: JournalStore,
        *,
        lease: float = DEFAULT_LEASE_SECONDS,
        wait: float = DEFAULT_WAIT_SECONDS,
        poll: float = 0.1,
        retention: float = DEFAULT_RETENTION_SECONDS,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        for name, value in (("lease", lease), ("wait", wait), ("poll", poll), ("retention", retention)):
            if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
                raise ValidationError(name, value, "a number of seconds >= 0")
        if retention < lease + EXPIRY_MARGIN_SECONDS:
            raise ValidationError(
                "retention",
                retention,
                f"at least the lease + {EXPIRY_MARGIN_SECONDS:g} s ({lease:g} s + margin)",
            )
        self.store = store
        self.lease = float(lease)
        self.wait = float(wait)
        self.poll = float(poll) or 0.01
        self.retention = float(retention)
        # Wall-clock time and real sleep: leases are shared with other processes and machines.
        self.clock = clock
        self.sleep = sleep
        self._host = socket.gethostname()
        self._calls = 0

    def new_owner(self) -> str:
        # One owner per call: two threads of one process with the same key must not share a lease.
        return f"{self._host}:{os.getpid()}:{secrets.token_hex(6)}"

    def purge(self) -> int:
        """Delete the entries past their retention; how many."""
        return self.store.purge(self.clock())

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the steps ---------------------------------------------------------------------------

    def check_call_fits(self, timeout: float | None) -> None:
        """Refuse a client whose call can outlast this journal's lease (see the module's docs)."""
        if timeout is None or self.lease < timeout + LEASE_MARGIN_SECONDS:
            longest = "no deadline" if timeout is None else f"{timeout:g} s"
            raise ValidationError(
                "journal",
                f"lease={self.lease:g}",
                f"a lease of at least the client's timeout + {LEASE_MARGIN_SECONDS:g} s",
                reason=f"the client's calls can take {longest}: a second caller would take the lease "
                "over while the first call may still be sent",
            )

    def _store(self, key: str, method: Callable[..., T], *args: Any) -> T:
        """A store call, its failure typed: nothing has been sent when it fails here."""
        try:
            return method(*args)
        except PecError:
            raise
        except Exception as exc:
            raise JournalUnavailableError(
                f"{key}: the journal's store failed ({type(exc).__name__}: {exc}); nothing was sent",
                key=key,
                cause=exc,
            ) from exc

    def _best_effort(self, key: str, method: Callable[..., Any], *args: Any) -> None:
        """A store call whose loss the next caller reconciles (an entry left ``sending``)."""
        try:
            method(*args)
        except Exception:
            logger.exception("%s: the journal's store failed; the next caller reconciles the entry", key)

    # -- the steps ---------------------------------------------------------------------------

    def execute(self, key: str, intent: Intent) -> Flow[Any]:
        """The journaled call, as a flow the clients run."""
        if check_idempotency_key(key) is None:
            raise ValidationError("idempotency_key", key, "a key")
        # Hashing documents is blocking work: the async client runs it in a thread.
        fp = (yield Blocking(lambda: intent.fingerprint)) if callable(intent.body) else intent.fingerprint
        owner = self.new_owner()
        self._calls += 1
        if self._calls % PURGE_EVERY == 1:
            yield Blocking(self._best_effort, (key, self.store.purge, self.clock()))
        entry, prestate = yield from self._claim(key, fp, intent, owner)
        if entry.state is State.DONE:
            return intent.decode(entry.result)
        if entry.attempts > 1 and entry.state in (State.SENDING, State.UNCERTAIN):
            # Taken over from a caller whose lease ran out: its request may have been applied.
            found = yield from self._reconcile(key, owner, intent, entry)
            if found is not Decision.NOT_APPLIED:
                return found
        if entry.attempts > 1:
            # Not applied (or never sent): record this caller's pre-state before sending.
            held = yield Blocking(
                self._store,
                (
                    key,
                    self.store.update,
                    key,
                    owner,
                    State.SENDING,
                    self._lease_until(),
                    canonical_json(prestate),
                ),
            )
            if not held:
                raise IdempotencyKeyBusyError(
                    f"{key}: the lease ran out before {intent.operation} was sent; nothing was sent",
                    key=key,
                    owner="",
                    lease_until=0.0,
                )
        return (yield from self._send(key, owner, intent, prestate))

    def _lease_until(self) -> float:
        return self.clock() + self.lease

    def _read_prestate(self, key: str, intent: Intent) -> Flow[Any]:
        if intent.read_prestate is None:
            return None
        try:
            return (yield from intent.read_prestate())
        except PecError:
            # Nothing was claimed nor sent. A key already done still answers with its result, and
            # one another caller holds is waited for: its outcome may answer this call.
            entry = yield Blocking(self._store, (key, self.store.get, key))
            if entry is not None and (entry.state is State.DONE or entry.lease_until > self.clock()):
                return _Recorded(entry)
            raise

    def _claim(self, key: str, fp: str, intent: Intent, owner: str) -> Flow[tuple[Entry, Any]]:
        """Read the pre-state, then claim the key and record it ``sending`` in one durable write."""
        deadline = self.clock() + self.wait
        delay = self.poll
        while True:
            prestate = yield from self._read_prestate(key, intent)
            if isinstance(prestate, _Recorded):
                entry, prestate = prestate.entry, None
            else:
                now = self.clock()
                claim_args = (key, fp, intent.operation, owner, now, now + self.lease, now + self.retention)
                entry = yield Blocking(
                    self._store,
                    (key, self.store.claim, *claim_args, canonical_json(prestate), State.SENDING),
                )
            if entry.fingerprint != fp:
                raise ValidationError(
                    "idempotency_key",
                    key,
                    reason=f"already used for a different {entry.operation} request; use a new key",
                )
            if entry.state is State.DONE or entry.owner == owner:
                return entry, prestate
            # Another caller holds the lease: wait for its outcome in the store (no API read),
            # then read the pre-state again, as the box may have changed meanwhile.
            current: Entry | None = entry
            while (
                current is not None and current.state is not State.DONE and current.lease_until > self.clock()
            ):
                remaining = deadline - self.clock()
                if remaining <= 0:
                    raise IdempotencyKeyBusyError(
                        f"{key}: {current.operation} is being sent by {current.owner} (lease until "
                        f"{time.strftime('%H:%M:%S', time.localtime(current.lease_until))}); "
                        "try again later",
                        key=key,
                        owner=current.owner,
                        lease_until=current.lease_until,
                    )
                pause = min(delay, remaining, max(current.lease_until - self.clock(), 0.01))
                yield Blocking(self.sleep, (pause,))
                delay = min(delay * 1.5, 2.0)
                current = yield Blocking(self._store, (key, self.store.get, key))
            if current is not None and current.state is State.DONE and current.fingerprint == fp:
                return current, None

    def _reconcile(self, key: str, owner: str, intent: Intent, entry: Entry) -> Flow[Any]:
        """An earlier caller may have sent: read the state before anything could be resent."""
        if intent.read_prestate is not None and entry.prestate is None:
            # Recorded together with SENDING, so this entry is corrupt or from another version.
            found: Any = Decision.UNKNOWN
        else:
            try:
                found = yield from intent.reconcile(entry.prestate)
            except PecError as failed:
                yield from self._mark_uncertain(key, owner)
                raise OutcomeUnknownError(
                    f"{key}: an earlier {intent.operation} may have been applied and reading the state "
                    f"failed ({failed}); nothing was sent",
                    operation=intent.operation,
                    method="",
                    url="",
                ) from failed
        if found is Decision.NOT_APPLIED:
            logger.info("%s: the earlier %s was not applied; sending it", key, intent.operation)
            return found
        if found is Decision.UNKNOWN:
            yield from self._mark_uncertain(key, owner)
            raise OutcomeUnknownError(
                f"{key}: an earlier {intent.operation} may have been applied and the state cannot "
                "tell; nothing was sent. Check the box, then use a new key if it must be sent",
                operation=intent.operation,
                method="",
                url="",
                known=entry.prestate,
            )
        logger.info("%s: the earlier %s was applied; recording it", key, intent.operation)
        yield from self._complete(key, owner, intent, found)
        return found

    def _send(self, key: str, owner: str, intent: Intent, prestate: Any) -> Flow[Any]:
        try:
            result = yield from intent.send(prestate)
        except OutcomeUnknownError:
            # Keep the lease: the request may still be in flight; the next caller reconciles.
            yield from self._mark_uncertain(key, owner, keep_lease=True)
            raise
        except PecError:
            # Refused by the API (or by a guard before sending): nothing applied, nothing to keep.
            yield Blocking(self._best_effort, (key, self.store.release, key, owner))
            raise
        # Interrupted (Ctrl-C, a killed process) the entry stays ``sending``: the next caller
        # waits for the lease, then reconciles.
        yield from self._complete(key, owner, intent, result)
        return result

    def _complete(self, key: str, owner: str, intent: Intent, result: Any) -> Flow[None]:
        encoded = canonical_json(intent.encode(result))
        yield Blocking(self._record_done, (key, owner, encoded, result, intent.operation))

    def _record_done(self, key: str, owner: str, encoded: str, result: Any, operation: str) -> None:
        # Not waiting for the disk: a lost ``done`` leaves ``sending``, which the next caller
        # reconciles from the account's state, as after a crash.
        try:
            recorded = self.store.update(key, owner, State.DONE, 0.0, None, encoded, durable=False)
        except Exception as exc:
            raise AppliedNotRecordedError(
                f"{key}: the call was applied, but the journal's store failed before recording it "
                f"({type(exc).__name__}: {exc}); do not send it again: the next caller with this key "
                "reconciles it from the account's state",
                key=key,
                cause=exc,
                result=result,
            ) from exc
        if not recorded:
            logger.warning(
                "%s: %s completed after this caller's lease ran out; another caller holds the key "
                "(make the lease longer than the longest call)",
                key,
                operation,
            )

    def _mark_uncertain(self, key: str, owner: str, *, keep_lease: bool = False) -> Flow[None]:
        lease_until = self._lease_until() if keep_lease else 0.0
        yield Blocking(self._best_effort, (key, self.store.update, key, owner, State.UNCERTAIN, lease_until))


@dataclass(frozen=True)
class _Recorded:
    """The pre-state could not be read, but the key's outcome is already recorded."""

    entry: Entry
