"""Helpers of the tests in tests/faults (its conftest.py holds the fixtures and hooks)."""

from __future__ import annotations

import asyncio
import random
from typing import Any

from pec_ext import AsyncPecClient, Clock, PecClient
from tests.support.applicants import register_body

TOKEN = "fault-token-7c1e-SECRET"
MODES = ("sync", "async")
# Real time, but jittered backoff in milliseconds (a server's Retry-After still wins when longer).
_jitter = random.Random(7)
FAST_BACKOFF = Clock(uniform=lambda low, high: _jitter.uniform(low, high / 500))


def box_body(address: str, tipo: str = "STANDARD") -> dict[str, Any]:
    return register_body(address, tipo)


class Driver:
    """Runs calls through ``PecClient`` or ``AsyncPecClient`` on one client; errors are returned."""

    def __init__(self, mode: str, url: str, **options: Any) -> None:
        self.mode = mode
        self.url = url
        self.options = {"token": TOKEN, "base_url": url, "clock": FAST_BACKOFF, **options}

    def run(self, steps: list[tuple[str, tuple[Any, ...], dict[str, Any]]]) -> list[Any]:
        """Each step's result or the exception it raised, in order, on a single client."""
        if self.mode == "sync":
            out: list[Any] = []
            with PecClient(**self.options) as client:
                for name, args, kwargs in steps:
                    try:
                        out.append(getattr(client, name)(*args, **kwargs))
                    except Exception as exc:
                        out.append(exc)
            return out

        async def go() -> list[Any]:
            results: list[Any] = []
            async with AsyncPecClient(**self.options) as client:
                for name, args, kwargs in steps:
                    try:
                        results.append(await getattr(client, name)(*args, **kwargs))
                    except Exception as exc:
                        results.append(exc)
            return results

        return asyncio.run(go())

    def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """One call on a fresh client: its result, or the exception it raised."""
        return self.run([(name, args, kwargs)])[0]
