"""One rate limit for a fleet, in a real Redis: a shared bucket, and a 429 that pauses everyone."""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import multiprocessing
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import redis

from pec_ext import Clock, PecClient, ValidationError
from pec_ext.integrations.ratelimit import FleetLimiter
from tests.support.dates import at, travel
from tests.support.http_stack import httpx

# A fresh server forks the workers: the test process may hold threads (Redis, Celery) and their locks.
FORK = multiprocessing.get_context("forkserver")
OK = json.dumps({"success": True, "message": "", "error": None, "data": {"available": True}}).encode()
LIMITED = json.dumps({"success": False, "message": "slow down", "error": None, "data": None}).encode()


class Api:
    """A loopback server answering 429 (Retry-After: 1) to its first request, 200 afterwards."""

    def __init__(self) -> None:
        self.arrivals: list[tuple[float, int]] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                status = 429 if not api.arrivals else 200
                api.arrivals.append((time.monotonic(), status))
                body = LIMITED if status == 429 else OK
                self.send_response(status)
                if status == 429:
                    self.send_header("Retry-After", "1")
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05})

    def __enter__(self) -> Api:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def api() -> Iterator[Api]:
    with Api() as server:
        yield server


def limiter(url: str, **options: Any) -> FleetLimiter:
    return FleetLimiter(redis.Redis.from_url(url), account="acme", **options)


def _take(url: str, count: int, rate: float, start: Any, done: Any) -> None:
    own = limiter(url, rate=rate, burst=1)  # each worker its own connection, one shared bucket
    start.wait()
    for _ in range(count):
        own.acquire()
        done.put(time.monotonic())


def test_the_workers_of_an_account_share_one_bucket(fresh_redis: str) -> None:
    workers, each, rate = 3, 6, 20.0
    start, done = FORK.Barrier(workers + 1), FORK.Queue()
    procs = [FORK.Process(target=_take, args=(fresh_redis, each, rate, start, done)) for _ in range(workers)]
    for proc in procs:
        proc.start()
    start.wait()
    began = time.monotonic()
    stamps = [done.get(timeout=30) for _ in range(workers * each)]
    for proc in procs:
        proc.join(10)
    # 18 tokens at 20 per second from one bucket (burst 1): at least 17 intervals of 50 ms, where
    # three separate limiters would have taken a third of that.
    assert max(stamps) - began >= (workers * each - 1) / rate * 0.9


def test_a_client_behind_the_fleet_transport_waits_out_a_429(fresh_redis: str, api: Api) -> None:
    hooks = limiter(fresh_redis, rate=100, burst=10).event_hooks()
    with PecClient(token="t", base_url=api.url, http_client=httpx.Client(event_hooks=hooks)) as pec:
        assert pec.is_available("a@testcert.legalmail.it") is True  # 429, then 200
    (hit_at, first), (again_at, second) = api.arrivals
    assert (first, second) == (429, 200)
    assert again_at - hit_at >= 0.95  # the resend waited for Retry-After


def test_the_pause_from_a_429_reaches_another_worker(fresh_redis: str, api: Api) -> None:
    first = limiter(fresh_redis, rate=100, burst=10)
    second = limiter(fresh_redis, rate=100, burst=10)
    with httpx.Client(event_hooks=first.event_hooks()) as worker:
        assert worker.get(api.url + "/verifica_pec/x").status_code == 429
    assert 0.8 < second.paused_for() <= 1.0
    began = time.monotonic()
    second.acquire()
    assert time.monotonic() - began >= 0.8


def test_limiter_settings_are_checked(fresh_redis: str) -> None:
    with pytest.raises(ValidationError):
        limiter(fresh_redis, rate=0)
    with pytest.raises(ValidationError):
        limiter(fresh_redis, rate=1, burst=0)


async def test_the_async_hooks_share_the_pause(fresh_redis: str, api: Api) -> None:
    first = limiter(fresh_redis, rate=100, burst=10)
    second = limiter(fresh_redis, rate=100, burst=10)
    async with httpx.AsyncClient(event_hooks=first.async_event_hooks()) as worker:
        assert (await worker.get(api.url + "/verifica_pec/x")).status_code == 429
    began = time.monotonic()
    async with httpx.AsyncClient(event_hooks=second.async_event_hooks()) as other:
        assert (await other.get(api.url + "/verifica_pec/y")).status_code == 200
    assert time.monotonic() - began >= 0.8  # it waited for the pause the first worker stored


def test_the_limiter_waits_on_its_clock(fresh_redis: str) -> None:
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        time.sleep(seconds)  # the bucket refills on Redis's clock: this test's wait is real

    own = limiter(fresh_redis, rate=10, burst=1, clock=Clock(sleep=sleep))
    own.acquire()
    own.acquire()
    assert waits
    assert 0.05 <= sum(waits) <= 0.2


@pytest.mark.dates
def test_a_retry_after_date_is_read_on_redis_clock(fresh_redis: str) -> None:
    own = limiter(fresh_redis, rate=100, burst=10)
    asked = email.utils.formatdate(own.server_time() + 5, usegmt=True)
    # this machine's clock a decade off: the pause still lasts the 4-5 s the date asks
    with travel(at(dt.date(2036, 2, 29))):
        own.on_response(httpx.Response(429, headers={"Retry-After": asked}))
    assert 3.5 < own.paused_for() <= 5.0
