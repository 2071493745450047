"""A least-privilege token, cached on disk for every process of the user, renewed before it expires.

The file (``tokens.json`` under the user's cache directory, from platformdirs: e.g.
``~/.cache/openapi-pec`` on Linux) has mode 0600 in a 0700 directory; writes are atomic (a temporary
file in the same directory, fsync, ``os.replace``) and every read-decide-write happens under a
lock file (filelock), so two processes needing the same token make one, not two. Entries are keyed
by environment, account e-mail and the exact sorted scopes: a token is only ever reused for the
same least privilege it was made with.

Time is the caller's clock (``PecClient`` settings), so renewal can be tested in virtual time. No
token value is ever logged or shown in a repr.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from filelock import FileLock

from pec_ext import config

logger = logging.getLogger("pec_ext.account.client")

APP_NAME: Final = "openapi-pec"
CACHE_FILE: Final = "tokens.json"
# Renew when less than this share of the lifetime is left (and at least RENEW_MIN_SECONDS).
RENEW_FRACTION: Final = 0.1
RENEW_MIN_SECONDS: Final = 60.0


def default_cache_dir() -> Path:
    """``$OPENAPI_PEC_CACHE_DIR``, else the platform's user cache directory for openapi-pec."""
    override = config.token_cache_dir()
    if override is not None:
        return override
    import platformdirs

    return Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False))


@dataclass(frozen=True)
class CachedToken:
    """A token as cached: its value and refresh token never appear in reprs."""

    token: str = field(repr=False)
    scopes: tuple[str, ...]
    expires_at: float
    issued_at: float
    refresh_token: str | None = field(default=None, repr=False)

    def renew_at(self) -> float:
        lifetime = max(0.0, self.expires_at - self.issued_at)
        margin = max(RENEW_MIN_SECONDS, lifetime * RENEW_FRACTION)
        return self.expires_at - min(margin, lifetime / 2)

    def fresh(self, now: float) -> bool:
        return now < self.renew_at()

    def to_json(self) -> dict[str, Any]:
        return {
            "token": self.token,
            "scopes": list(self.scopes),
            "expires_at": self.expires_at,
            "issued_at": self.issued_at,
            "refresh_token": self.refresh_token,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> CachedToken:
        return cls(
            token=str(raw["token"]),
            scopes=tuple(str(s) for s in raw["scopes"]),
            expires_at=float(raw["expires_at"]),
            issued_at=float(raw["issued_at"]),
            refresh_token=raw.get("refresh_token"),
        )


def cache_key(environment: str, email: str, scopes: list[str] | tuple[str, ...]) -> str:
    # A digest, so the file names no e-mail address and no scope list in clear.
    material = json.dumps([environment, email.lower(), sorted(set(scopes))])
    return hashlib.sha256(material.encode()).hexdigest()


class TokenCache:
    """The shared file; every method is blocking (the async provider runs them in a worker thread)."""

    def __init__(self, directory: str | Path | None = None) -> None:
        self.directory = Path(directory) if directory is not None else default_cache_dir()
        self.path = self.directory / CACHE_FILE
        self._lock = FileLock(str(self.directory / (CACHE_FILE + ".lock")))

    def __repr__(self) -> str:
        return f"TokenCache({str(self.path)!r})"

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        self._ensure_directory()
        with self._lock:
            yield

    def _ensure_directory(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)

    def _read_all(self) -> dict[str, Any]:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        try:
            data = json.loads(raw)
        except ValueError:
            logger.warning("token cache %s is not JSON; starting a new one", self.path)
            return {}
        return data if isinstance(data, dict) else {}

    def get(self, key: str) -> CachedToken | None:
        entry = self._read_all().get(key)
        if not isinstance(entry, dict):
            return None
        try:
            return CachedToken.from_json(entry)
        except (KeyError, TypeError, ValueError):
            return None

    def put(self, key: str, token: CachedToken, *, now: float) -> None:
        """Store ``token`` (dropping entries expired by ``now``), atomically, mode 0600."""
        entries = {
            k: v
            for k, v in self._read_all().items()
            if isinstance(v, dict) and float(v.get("expires_at", 0)) > now
        }
        entries[key] = token.to_json()
        self._write(entries)

    def remove(self, key: str) -> None:
        entries = self._read_all()
        if entries.pop(key, None) is not None:
            self._write(entries)

    def _write(self, entries: dict[str, Any]) -> None:
        self._ensure_directory()
        fd, tmp = tempfile.mkstemp(prefix=".tokens.", dir=self.directory)
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(json.dumps(entries).encode())
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise


Issue = Callable[[CachedToken | None], CachedToken]
AsyncIssue = Callable[[CachedToken | None], Awaitable[CachedToken]]


class TokenProvider:
    """Hands out a token with exactly ``scopes``; makes or renews it through ``issue`` when needed.

    ``issue(previous)`` gets the cached entry that is no longer fresh (or None) and returns a new
    one: the account client renews with the refresh token while the old one is still valid, else
    creates a token. ``clock`` is the PEC client's clock.
    """

    def __init__(
        self,
        *,
        environment: str,
        email: str,
        scopes: list[str],
        clock: Callable[[], float],
        cache: TokenCache | None = None,
    ) -> None:
        self.scopes = sorted(set(scopes))
        self.cache = cache if cache is not None else TokenCache()
        self.clock = clock
        self.key = cache_key(environment, email, self.scopes)
        self._current: CachedToken | None = None

    def __repr__(self) -> str:
        return f"TokenProvider(scopes={self.scopes!r}, cache={self.cache!r})"

    def cached(self) -> str | None:
        """The token held in memory while it is fresh; no I/O."""
        current = self._current
        return current.token if current is not None and current.fresh(self.clock()) else None

    def _from_file_or_issue(self, issue: Issue) -> str:
        with self.cache.locked():
            now = self.clock()
            entry = self.cache.get(self.key)
            if entry is None or not entry.fresh(now):
                entry = issue(entry if entry is not None and now < entry.expires_at else None)
                self.cache.put(self.key, entry, now=now)
                logger.info(
                    "made a token for %d scopes, valid until %.0f", len(entry.scopes), entry.expires_at
                )
            self._current = entry
            return entry.token

    def forget(self) -> None:
        """The token was refused (deleted elsewhere, say): drop it here and in the file."""
        self._current = None
        with self.cache.locked():
            self.cache.remove(self.key)

    async def aforget(self) -> None:
        self._current = None
        await asyncio.to_thread(self.forget)

    def token(self, issue: Issue) -> str:
        return self.cached() or self._from_file_or_issue(issue)

    async def atoken(self, issue: AsyncIssue) -> str:
        cached = self.cached()
        if cached is not None:
            return cached
        loop = asyncio.get_running_loop()

        def run_issue(previous: CachedToken | None) -> CachedToken:
            # Called in the worker thread holding the file lock: the request goes back to the loop.
            return asyncio.run_coroutine_threadsafe(_call(issue, previous), loop).result()

        return await asyncio.to_thread(self._from_file_or_issue, run_issue)


async def _call(issue: AsyncIssue, previous: CachedToken | None) -> CachedToken:
    return await issue(previous)
