"""The journal in Redis: one store for a fleet of machines (``pip install openapi-pec[redis]``).

Each entry is a hash. Claiming, taking over an expired lease, renewing it and recording the
outcome are Lua scripts, so each is one atomic step on the server (a compare-and-set on the
owner: a caller whose lease was taken over cannot overwrite the new owner's record). Entries
carry a Redis expiry at the end of their retention, so Redis purges them itself.

Times come from the callers' clocks: keep the machines' clocks in sync (NTP); the lease (minutes)
dwarfs ordinary skew.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from pec_ext.journal.base import Entry, State

if TYPE_CHECKING:
    import redis

DEFAULT_PREFIX = "pec:journal:"

_CLAIM = """
local function entry()
  return redis.call('HGETALL', KEYS[1])
end
local fp, op, owner = ARGV[1], ARGV[2], ARGV[3]
local now, lease_until, expires_at = tonumber(ARGV[4]), ARGV[5], ARGV[6]
local stored = redis.call('HMGET', KEYS[1], 'fingerprint', 'state', 'lease_until', 'expires_at')
if not stored[1] or tonumber(stored[4]) <= now then
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[1], 'fingerprint', fp, 'operation', op, 'owner', owner, 'state', 'claimed',
             'lease_until', lease_until, 'attempts', 1, 'created_at', ARGV[4], 'expires_at', expires_at)
  -- relative to the callers' now, not Redis's: a clock set elsewhere keeps the whole retention
  redis.call('PEXPIRE', KEYS[1], math.max(1, math.ceil((tonumber(expires_at) - now) * 1000)))
  return entry()
end
if stored[1] ~= fp or stored[2] == 'done' or tonumber(stored[3]) > now then
  return entry()
end
redis.call('HSET', KEYS[1], 'owner', owner, 'lease_until', lease_until)
redis.call('HINCRBY', KEYS[1], 'attempts', 1)
return entry()
"""

_UPDATE = """
if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] then
  return 0
end
redis.call('HSET', KEYS[1], 'state', ARGV[2], 'lease_until', ARGV[3])
if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], 'prestate', ARGV[4]) end
if ARGV[5] ~= '' then redis.call('HSET', KEYS[1], 'result', ARGV[5]) end
return 1
"""

_RELEASE = """
if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] then
  return 0
end
return redis.call('DEL', KEYS[1])
"""


def _entry(key: str, flat: list[Any]) -> Entry:
    fields = {
        (k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
        for k, v in zip(flat[::2], flat[1::2], strict=True)
    }
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


class RedisJournalStore:
    """A :class:`~pec_ext.journal.base.JournalStore` in Redis; ``prefix`` separates accounts or apps."""

    def __init__(self, client: redis.Redis, *, prefix: str = DEFAULT_PREFIX) -> None:
        self.redis = client
        self.prefix = prefix
        self._claim = client.register_script(_CLAIM)
        self._update = client.register_script(_UPDATE)
        self._release = client.register_script(_RELEASE)

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
    ) -> Entry:
        flat = self._claim(
            keys=[self.prefix + key],
            args=[fingerprint, operation, owner, repr(now), repr(lease_until), repr(expires_at)],
        )
        return _entry(key, flat)

    def update(
        self,
        key: str,
        owner: str,
        state: State,
        lease_until: float,
        prestate: str | None = None,
        result: str | None = None,
    ) -> bool:
        args = [owner, State(state).value, repr(lease_until), prestate or "", result or ""]
        return bool(self._update(keys=[self.prefix + key], args=args))

    def release(self, key: str, owner: str) -> bool:
        return bool(self._release(keys=[self.prefix + key], args=[owner]))

    def get(self, key: str) -> Entry | None:
        fields: Any = self.redis.hgetall(self.prefix + key)
        if not fields:
            return None
        return _entry(key, [item for pair in fields.items() for item in pair])

    def entries(self) -> list[Entry]:
        """Every entry under the prefix (for reports and tests)."""
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
        self.redis.close()
