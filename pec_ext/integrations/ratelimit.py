"""One rate limit for every worker of an account, kept in Redis (``openapi-pec[redis]``).

Without it, N workers each meet the API's 429 on their own and each retries on its own
schedule. With it, they draw from one token bucket, and a 429's ``Retry-After`` pauses all of
them: the first worker that meets it stores "paused until" for the account, and every worker
checks it before sending.

Wire it in through the event hooks of the client's ``httpx`` client, which see every request
and every answer (retries included)::

    limiter = FleetLimiter(redis.Redis.from_url(url), account="acme", rate=5, burst=10)
    pec = PecClient(http_client=httpx.Client(event_hooks=limiter.event_hooks()))
    apec = AsyncPecClient(http_client=httpx.AsyncClient(event_hooks=limiter.async_event_hooks()))

The bucket and the pause use Redis's own clock (``TIME`` inside the scripts), so the machines'
clocks do not matter.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx

from pec_ext._engine import retry
from pec_ext._engine.clock import SYSTEM_CLOCK, Clock
from pec_ext.errors import ValidationError

if TYPE_CHECKING:
    import redis

# Returns the milliseconds to wait before sending (0: a token was taken, send now).
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local paused = tonumber(redis.call('GET', KEYS[2]) or '0')
if paused > now then
  return paused - now
end
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1] or ARGV[2])
local at = tonumber(state[2] or now)
tokens = math.min(burst, tokens + (now - at) * rate / 1000)
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = math.ceil((1 - tokens) * 1000 / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', now)
redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / rate) + 1000)
return wait
"""

# Pauses until now + ARGV[1] ms, unless an earlier 429 already asked for a longer pause.
_PAUSE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local wanted = now + tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if wanted > current then
  redis.call('SET', KEYS[1], wanted, 'PX', tonumber(ARGV[1]) + 1000)
  return wanted
end
return current
"""

DEFAULT_PAUSE_SECONDS = 1.0


class FleetLimiter:
    """A token bucket (``rate`` requests per second, up to ``burst`` at once) and a shared pause.

    ``clock`` waits (its ``sleep``, ``async_sleep``); the time is Redis's, shared by every worker.
    """

    def __init__(
        self,
        client: redis.Redis,
        *,
        account: str,
        rate: float,
        burst: int = 1,
        prefix: str = "pec:limit:",
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        if isinstance(rate, bool) or not isinstance(rate, int | float) or not rate > 0:
            raise ValidationError("rate", rate, "requests per second, a number > 0")
        if isinstance(burst, bool) or not isinstance(burst, int) or burst < 1:
            raise ValidationError("burst", burst, "an integer >= 1")
        if not isinstance(account, str) or not account:
            raise ValidationError("account", account, "a non-empty name shared by the account's workers")
        self.redis = client
        self.rate = float(rate)
        self.burst = burst
        self.bucket_key = f"{prefix}{account}:bucket"
        self.paused_key = f"{prefix}{account}:paused_until"
        self._acquire = client.register_script(_ACQUIRE)
        self._pause = client.register_script(_PAUSE)
        # Waits only: what time it is comes from Redis (TIME), the view every worker shares.
        self.clock = clock

    def delay(self) -> float:
        """Take a token and return 0, or return the seconds to wait before asking again."""
        waited = self._acquire(keys=[self.bucket_key, self.paused_key], args=[repr(self.rate), self.burst])
        return int(waited) / 1000

    def acquire(self) -> None:
        """Block until this worker may send."""
        while (wait := self.delay()) > 0:
            self.clock.sleep(wait)

    async def acquire_async(self) -> None:
        while (wait := await asyncio.to_thread(self.delay)) > 0:
            await self.clock.async_sleep(wait)

    def pause(self, seconds: float) -> float:
        """Pause every worker of the account for ``seconds``; returns the pause's end (Unix ms)."""
        return float(self._pause(keys=[self.paused_key], args=[max(1, round(seconds * 1000))]))

    def server_time(self) -> float:
        """Now on the Redis server's clock (Unix seconds), the one the bucket and the pause use."""
        seconds, micros = self.redis.time()
        return int(seconds) + int(micros) / 1_000_000

    def paused_for(self) -> float:
        """Seconds left of the shared pause (0 when there is none)."""
        now = round(self.server_time() * 1000)
        until = self.redis.get(self.paused_key)
        return max(0.0, (int(until) - now) / 1000) if until else 0.0

    def on_request(self, request: httpx.Request) -> None:
        self.acquire()

    def on_response(self, response: httpx.Response) -> None:
        """A 429 pauses the whole account for its ``Retry-After`` (1 s when it gives none)."""
        if response.status_code == 429:
            # An HTTP-date Retry-After is read against Redis's clock, the one the pause is kept on.
            asked = retry.retry_after_seconds(response.headers, self.server_time())
            self.pause(DEFAULT_PAUSE_SECONDS if asked is None else asked)

    async def on_request_async(self, request: httpx.Request) -> None:
        await self.acquire_async()

    async def on_response_async(self, response: httpx.Response) -> None:
        if response.status_code == 429:
            await asyncio.to_thread(self.on_response, response)

    def event_hooks(self) -> dict[str, list[Callable[..., Any]]]:
        """For ``httpx.Client(event_hooks=...)``."""
        return {"request": [self.on_request], "response": [self.on_response]}

    def async_event_hooks(self) -> dict[str, list[Callable[..., Any]]]:
        """For ``httpx.AsyncClient(event_hooks=...)``: Redis is called in a worker thread."""
        return {"request": [self.on_request_async], "response": [self.on_response_async]}
