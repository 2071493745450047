"""The token cache: mode 0600, atomic, shared by processes under a lock, renewal on the caller's clock."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

from pec_ext.account.token_cache import CachedToken, TokenCache, TokenProvider

SCOPES = ["GET:test.pec.openapi.it/pec"]


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def issuer(clock: Clock, ttl: float, log: list[CachedToken | None]):
    def issue(previous: CachedToken | None) -> CachedToken:
        log.append(previous)
        return CachedToken(f"tok-{len(log)}", tuple(SCOPES), clock() + ttl, clock(), f"ref-{len(log)}")

    return issue


def test_the_file_is_private_and_holds_the_token_for_the_same_scopes_only(tmp_path: Path) -> None:
    clock, log = Clock(), []
    cache = TokenCache(tmp_path / "cache")
    provider = TokenProvider(environment="sandbox", email="a@b.it", scopes=SCOPES, clock=clock, cache=cache)
    assert provider.token(issuer(clock, 3600, log)) == "tok-1"
    assert stat.S_IMODE(os.stat(cache.path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(cache.directory).st_mode) == 0o700
    # another provider (another client, same process or not) reads it instead of making one
    again = TokenProvider(environment="sandbox", email="a@b.it", scopes=SCOPES, clock=clock, cache=cache)
    assert again.token(issuer(clock, 3600, log)) == "tok-1"
    other = TokenProvider(
        environment="sandbox",
        email="a@b.it",
        scopes=[*SCOPES, "POST:test.pec.openapi.it/pec"],
        clock=clock,
        cache=cache,
    )
    assert other.token(issuer(clock, 3600, log)) == "tok-2"
    assert len(log) == 2
    text = cache.path.read_text()
    assert "a@b.it" not in text
    assert "tok-1" not in repr(provider) + repr(cache) + repr(cache.get(provider.key))


def test_renewal_comes_before_expiry_in_virtual_time(tmp_path: Path) -> None:
    clock, log = Clock(), []
    provider = TokenProvider(
        environment="sandbox", email="a@b.it", scopes=SCOPES, clock=clock, cache=TokenCache(tmp_path)
    )
    issue = issuer(clock, 3600, log)
    assert provider.token(issue) == "tok-1"
    clock.now += 3600 - 361  # more than a tenth of the lifetime left: still fresh
    assert provider.token(issue) == "tok-1"
    clock.now += 2  # inside the last tenth, not yet expired: renewed, and told the old entry
    assert provider.token(issue) == "tok-2"
    assert log[1] is not None
    assert log[1].token == "tok-1"
    clock.now += 10_000  # long expired: a new token, nothing to renew from
    assert provider.token(issue) == "tok-3"
    assert log[2] is None


def test_async_provider_does_its_file_work_off_the_loop(tmp_path: Path) -> None:
    clock, log = Clock(), []
    provider = TokenProvider(
        environment="sandbox", email="a@b.it", scopes=SCOPES, clock=clock, cache=TokenCache(tmp_path)
    )

    async def issue(previous: CachedToken | None) -> CachedToken:
        return issuer(clock, 3600, log)(previous)

    async def main() -> list[str]:
        return list(await asyncio.gather(*(provider.atoken(issue) for _ in range(5))))

    assert asyncio.run(main()) == ["tok-1"] * 5
    assert len(log) == 1


def test_two_processes_share_one_token(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import json, sys, time
        from pathlib import Path
        from pec_ext.account.token_cache import CachedToken, TokenCache, TokenProvider
        directory, log = Path(sys.argv[1]), Path(sys.argv[2])
        def issue(previous):
            with log.open("a") as f:
                f.write("issued\\n")
            time.sleep(0.3)  # slow enough that the other process waits on the lock
            return CachedToken(f"tok-{time.time_ns()}", ("GET:test.pec.openapi.it/pec",), 2e9, 1e9, None)
        provider = TokenProvider(environment="sandbox", email="a@b.it",
                                 scopes=["GET:test.pec.openapi.it/pec"], clock=lambda: 1.5e9,
                                 cache=TokenCache(directory))
        print(provider.token(issue))
        """
    )
    log = tmp_path / "issued.log"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(tmp_path / "cache"), str(log)],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(2)
    ]
    tokens = {p.communicate(timeout=60)[0].strip() for p in procs}
    assert all(p.returncode == 0 for p in procs)
    assert len(tokens) == 1
    assert log.read_text().count("issued") == 1
    assert json.loads((tmp_path / "cache" / "tokens.json").read_text())
