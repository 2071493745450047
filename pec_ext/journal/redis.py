"""The journal in Redis: one store for a fleet of machines (``pip install openapi-pec[redis]``).

Each entry is one JSON document under its key. A new key is claimed with ``SET NX PX``: one
native command, atomic, and the entry's expiry set in the same step. A key already present, a
takeover of an expired lease and every later record are Lua scripts, each one atomic step on the
server and one round trip. A journaled call waits for one answer: its claim with the pre-state.
``done`` is sent at once (other callers see it as soon as Redis has it) but its answer is read at
the store's next call: a ``done`` lost on the way leaves ``sending``,
which the next caller reconciles, as after a crash. Every record after the claim is a
compare-and-set on the owner: a caller whose lease was taken over cannot overwrite the new
owner's record (its refused ``done`` is logged when its answer is read). Entries carry a Redis
expiry at the end of their retention, so Redis purges them itself.

Times come from the callers' clocks: keep the machines' clocks in sync (NTP); the lease (minutes)
dwarfs ordinary skew. They are kept as decimal text, so that no float is rounded on the way.
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pec_ext.journal.base import EXPIRY_MARGIN_SECONDS, Entry, State

if TYPE_CHECKING:
    import redis

logger = logging.getLogger("pec_ext.journal.redis")

DEFAULT_PREFIX = "pec:journal:"

# Shared by the scripts: read an entry and write it back with an expiry in milliseconds.
_ENTRY = """
local function load(key)
  local document = redis.call('GET', key)
  if not document then return nil end
  return cjson.decode(document)
end
local function save(key, entry, ttl)
  redis.call('SET', key, cjson.encode(entry), 'PX', math.max(1, ttl))
end
"""

# ARGV: fingerprint, operation, owner, now, lease_until, expires_at, prestate ('' for none),
# state, margin. Run when ``SET NX`` found the key: an expired entry is replaced, an expired lease
# taken over; otherwise the entry is returned unchanged.
_CLAIM = (
    _ENTRY
    + """
local now, lease_until = tonumber(ARGV[4]), tonumber(ARGV[5])
-- Expiries relative to the callers' now, not Redis's: a clock set elsewhere keeps the whole
-- retention; and never before the lease ends plus the margin.
local function keep(entry, expires_at)
  local until_ = math.max(expires_at, lease_until + tonumber(ARGV[9]))
  entry.expires_at = string.format('%.6f', until_)
  save(KEYS[1], entry, math.ceil((until_ - now) * 1000))
  return cjson.encode(entry)
end
local entry = load(KEYS[1])
if not entry or tonumber(entry.expires_at) <= now then
  entry = {fingerprint = ARGV[1], operation = ARGV[2], owner = ARGV[3], state = ARGV[8],
           lease_until = ARGV[5], attempts = 1, created_at = ARGV[4]}
  if ARGV[7] ~= '' then entry.prestate = ARGV[7] end
  return keep(entry, tonumber(ARGV[6]))
end
if entry.fingerprint ~= ARGV[1] or entry.state == 'done' or tonumber(entry.lease_until) > now then
  return cjson.encode(entry)
end
entry.owner, entry.lease_until, entry.attempts = ARGV[3], ARGV[5], entry.attempts + 1
return keep(entry, math.max(tonumber(entry.expires_at), tonumber(ARGV[6])))
"""
)

# ARGV: owner, state, lease_until, prestate ('' keeps it), result ('' keeps it), margin.
_UPDATE = (
    _ENTRY
    + """
local entry = load(KEYS[1])
if not entry or entry.owner ~= ARGV[1] then
  return 0
end
entry.state, entry.lease_until = ARGV[2], ARGV[3]
if ARGV[4] ~= '' then entry.prestate = ARGV[4] end
if ARGV[5] ~= '' then entry.result = ARGV[5] end
local ttl = math.max(redis.call('PTTL', KEYS[1]), 1)
local floor, expires_at = tonumber(ARGV[3]) + tonumber(ARGV[6]), tonumber(entry.expires_at)
if floor > expires_at then
  -- moved on by as much as the entry's end moves, relative like every expiry here
  entry.expires_at = string.format('%.6f', floor)
  ttl = ttl + math.ceil((floor - expires_at) * 1000)
end
save(KEYS[1], entry, ttl)
return 1
"""
)

_RELEASE = (
    _ENTRY
    + """
local entry = load(KEYS[1])
if not entry or entry.owner ~= ARGV[1] then
  return 0
end
return redis.call('DEL', KEYS[1])
"""
)


def _seconds(value: Any) -> str:
    return repr(float(value))


def _entry(key: str, document: str | bytes) -> Entry:
    fields = json.loads(document)
    prestate, result = fields.get("prestate"), fields.get("result")
    return Entry(
        key=key,
        fingerprint=fields["fingerprint"],
        operation=fields["operation"],
        owner=fields["owner"],
        state=State(fields["state"]),
        lease_until=float(fields["lease_until"]),
        attempts=int(fields["attempts"]),
        created_at=float(fields["created_at"]),
        expires_at=float(fields["expires_at"]),
        prestate=None if prestate is None else json.loads(prestate),
        result=None if result is None else json.loads(result),
    )


@dataclass(frozen=True)
class _Unanswered:
    """A write sent without waiting: the connection holding its answer, out of the pool until read."""

    connection: Any
    key: str
    pid: int


class RedisJournalStore:
    """A :class:`~pec_ext.journal.base.JournalStore` in Redis; ``prefix`` separates accounts or apps.

    ``client``: a ``redis.Redis`` (its connection pool carries the writes not waited for); any
    other client (a cluster's) waits for every answer.
    """

    def __init__(self, client: redis.Redis, *, prefix: str = DEFAULT_PREFIX) -> None:
        self.redis = client
        self.prefix = prefix
        self._claim = client.register_script(_CLAIM)
        self._update = client.register_script(_UPDATE)
        self._release = client.register_script(_RELEASE)
        pool = getattr(client, "connection_pool", None)
        self._pool = pool if callable(getattr(pool, "get_connection", None)) else None
        # At most one write waits for its answer to be read; every call reads it first, so the
        # store's writes reach Redis in the order they were made.
        self._lock = threading.Lock()
        self._unanswered: _Unanswered | None = None

    @classmethod
    def from_url(cls, url: str, *, prefix: str = DEFAULT_PREFIX) -> RedisJournalStore:
        import redis

        return cls(redis.Redis.from_url(url), prefix=prefix)

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
        self._read_unanswered()
        state = State(state)
        until = max(expires_at, lease_until + EXPIRY_MARGIN_SECONDS)
        document: dict[str, Any] = {
            "fingerprint": fingerprint,
            "operation": operation,
            "owner": owner,
            "state": state.value,
            "lease_until": _seconds(lease_until),
            "attempts": 1,
            "created_at": _seconds(now),
            "expires_at": _seconds(until),
        }
        if prestate is not None:
            document["prestate"] = prestate
        ttl = max(1, math.ceil((until - now) * 1000))
        # A new key (the common case): one native command, atomic, with its expiry.
        if self.redis.set(self.prefix + key, json.dumps(document), nx=True, px=ttl):
            return Entry(
                key=key,
                fingerprint=fingerprint,
                operation=operation,
                owner=owner,
                state=state,
                lease_until=float(lease_until),
                attempts=1,
                created_at=float(now),
                expires_at=float(until),
                prestate=None if prestate is None else json.loads(prestate),
            )
        args = [fingerprint, operation, owner, _seconds(now), _seconds(lease_until), _seconds(expires_at)]
        args += [prestate or "", state.value, _seconds(EXPIRY_MARGIN_SECONDS)]
        return _entry(key, self._claim(keys=[self.prefix + key], args=args))

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
        # Redis holds a write once it answers (in memory, and in its append-only file as its own
        # ``appendfsync`` says). ``durable=False``: sent now, its answer read at the next call.
        args = [owner, State(state).value, _seconds(lease_until), prestate or "", result or ""]
        args.append(_seconds(EXPIRY_MARGIN_SECONDS))
        if not durable and self._pool is not None and self._send_unanswered(key, _UPDATE, args):
            return True
        self._read_unanswered()
        return bool(self._update(keys=[self.prefix + key], args=args))

    def _send_unanswered(self, key: str, script: str, args: list[str]) -> bool:
        """Send without waiting for the answer; False when it could not be sent."""
        assert self._pool is not None
        with self._lock:
            self._read_unanswered_locked()
            try:
                connection = self._pool.get_connection()
            except Exception:
                return False  # the waited-for write retries and reports as the client is set to
            try:
                # EVAL, not EVALSHA: an answer read later cannot ask for the script to be loaded.
                connection.send_command("EVAL", script, 1, self.prefix + key, *args)
            except Exception:
                connection.disconnect()
                self._pool.release(connection)
                return False
            self._unanswered = _Unanswered(connection, key, os.getpid())
            return True

    def _read_unanswered(self) -> None:
        if self._unanswered is not None:
            with self._lock:
                self._read_unanswered_locked()

    def _read_unanswered_locked(self) -> None:
        pending, self._unanswered = self._unanswered, None
        if pending is None or pending.pid != os.getpid():
            # A forked child leaves the answer to the process that sent the write.
            return
        assert self._pool is not None
        try:
            answer = pending.connection.read_response()
        except Exception as exc:
            logger.warning(
                "%s: Redis did not confirm the outcome's record (%s: %s); if it was lost, the next "
                "caller with this key reconciles it from the account's state",
                pending.key,
                type(exc).__name__,
                exc,
            )
            return
        finally:
            self._pool.release(pending.connection)
        if not answer:
            logger.warning(
                "%s: the outcome was not recorded: this caller's lease ran out and another caller "
                "holds the key (make the lease longer than the longest call)",
                pending.key,
            )

    def release(self, key: str, owner: str) -> bool:
        self._read_unanswered()
        return bool(self._release(keys=[self.prefix + key], args=[owner]))

    def get(self, key: str) -> Entry | None:
        self._read_unanswered()
        document = self.redis.get(self.prefix + key)
        return None if document is None else _entry(key, document)

    def entries(self) -> list[Entry]:
        """Every entry under the prefix (for reports and tests)."""
        self._read_unanswered()
        found = []
        for name in self.redis.scan_iter(match=self.prefix + "*", count=500):
            text = name.decode() if isinstance(name, bytes) else str(name)
            entry = self.get(text[len(self.prefix) :])
            if entry is not None:
                found.append(entry)
        return sorted(found, key=lambda e: e.created_at)

    def purge(self, now: float) -> int:
        # Each entry carries a Redis expiry at its retention's end: nothing is left to purge.
        return 0

    def close(self) -> None:
        self._read_unanswered()
        self.redis.close()
