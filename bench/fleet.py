"""Fleet benchmarks: bulk provisioning with 1, 2 and 4 worker processes, and the journal's cost.

Both run against the sandbox's HTTP server in a process of its own; the Redis journal against a
real ``redis-server`` on 127.0.0.1 started here and stopped by its PID.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import multiprocessing
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from benchlib import TOKEN, box_body, interleaved, interleaved_calls, median, paired_ratio, server_process

# A clean process per worker: the parent may hold sockets and threads a fork would copy.
SPAWN = multiprocessing.get_context("forkserver")
WORKER_COUNTS = (1, 2, 4)


@contextlib.contextmanager
def redis_process() -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed (apt-get install -y redis-server)")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with tempfile.TemporaryDirectory() as workdir:
        proc = subprocess.Popen(
            [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"],
            cwd=workdir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            import redis

            client = redis.Redis(port=port)
            deadline = time.monotonic() + 20
            while True:
                with contextlib.suppress(redis.ConnectionError):
                    if client.ping():
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError("redis-server did not start")
                time.sleep(0.05)
            client.close()
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            os.kill(proc.pid, signal.SIGTERM)
            proc.wait(timeout=10)


def sandbox_with_boxes(db: Path, count: int) -> Any:
    """Fill a sandbox database with ``count`` processed boxes; their ids."""
    from pec_ext.sandbox import Sandbox
    from pec_ext.sandbox.pdf import render

    pdf = render("Documento", ["bench"])
    with Sandbox(balance=10_000_000, db_path=db) as sandbox, sandbox.client() as pec:
        ids = []
        for i in range(count):
            box = pec.register_mailbox(**box_body(f"journal{i}@testcert.legalmail.it"))
            pec.activate_mailbox(box.id, [pdf, pdf])
            ids.append(str(box.id))
        sandbox.advance()
    return ids


# -- throughput with N worker processes --------------------------------------------------------------


def _register_worker(url: str, journal_path: str, addresses: list[str], start: Any, times: Any) -> None:
    from pec_ext import PecClient
    from pec_ext.journal.base import Journal
    from pec_ext.journal.sqlite import SqliteJournalStore

    journal = Journal(SqliteJournalStore(journal_path))
    with PecClient(token=TOKEN, base_url=url, journal=journal) as pec:
        pec.list_mailboxes()  # connect before the clock starts
        start.wait()
        began = time.perf_counter()
        for address in addresses:
            pec.register_mailbox(idempotency_key=f"register:{address}", **box_body(address))
        times.put((began, time.perf_counter()))


def _provision_seconds(url: str, workdir: Path, run: int, workers: int, total: int) -> float:
    """Wall time for ``workers`` processes to register ``total`` boxes between them, journaled."""
    addresses = [f"w{workers}r{run}n{i}@testcert.legalmail.it" for i in range(total)]
    journal_path = str(workdir / f"journal-{workers}-{run}.sqlite")
    start, times = SPAWN.Barrier(workers), SPAWN.Queue()
    procs = [
        SPAWN.Process(target=_register_worker, args=(url, journal_path, addresses[i::workers], start, times))
        for i in range(workers)
    ]
    for proc in procs:
        proc.start()
    spans = [times.get(timeout=300) for _ in procs]
    for proc in procs:
        proc.join(30)
    return max(end for _, end in spans) - min(began for began, _ in spans)


def _charges(url: str) -> int:
    import httpx

    state = httpx.get(url + "/_sandbox/state", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
    return int(state.json()["data"]["ledger_entries"])


def throughput(quick: bool) -> dict[str, Any]:
    total, runs = (40, 1) if quick else (160, 3)
    with (
        tempfile.TemporaryDirectory() as tmp,
        server_process(["-m", "pec_ext.sandbox", "--port", "0", "--balance", "10000000"]) as url,
    ):
        workdir = Path(tmp)
        counter = iter(range(1_000_000))
        subjects: dict[str, Callable[[], float]] = {
            str(n): (lambda n=n: _provision_seconds(url, workdir, next(counter), n, total))
            for n in WORKER_COUNTS
        }
        seconds = interleaved(runs, subjects)
        # Every address was registered once, under its own key: any charge beyond that is a double.
        double_charges = _charges(url) - total * runs * len(WORKER_COUNTS)
    per_second = {n: [total / s for s in seconds[str(n)]] for n in WORKER_COUNTS}
    return {
        "total": total,
        "runs": runs,
        "double_charges": double_charges,
        "boxes_per_second": {n: median(v) for n, v in per_second.items()},
        "speedup": {n: paired_ratio(per_second[n], per_second[1]) for n in WORKER_COUNTS},
    }


# -- the journal's cost per call ---------------------------------------------------------------------


def _bare_durable_write(directory: Path, stack: contextlib.ExitStack) -> Callable[[], None]:
    """One 4 KiB page written over a preallocated file, then ``fdatasync``: the cheapest durable
    write this disk allows (no SQLite, no growing file), the least a journal's claim can cost."""
    fd = os.open(directory / "bare-durable.bin", os.O_RDWR | os.O_CREAT)
    stack.callback(os.close, fd)
    pages = 256
    os.write(fd, bytes(4096 * pages))
    os.fsync(fd)
    page = b"j" * 4096
    offsets = iter(range(10_000_000))

    def write() -> None:
        os.pwrite(fd, page, 4096 * (next(offsets) % pages))
        os.fdatasync(fd)

    return write


def _bare_round_trips(redis_url: str, count: int, stack: contextlib.ExitStack) -> Callable[[], None]:
    """``count`` bare round trips to Redis (a ``SET NX PX`` of an entry-sized document, then
    ``SET XX``): the least a Redis journal making that many can cost."""
    import redis

    client = redis.Redis.from_url(redis_url)
    stack.callback(client.close)
    document = "x" * 400
    keys = iter(range(10_000_000))

    def round_trips() -> None:
        key = f"bare:{next(keys)}"
        client.set(key, document, nx=True, px=600_000)
        if count > 1:
            client.set(key, document, xx=True, px=600_000)

    return round_trips


class _MemoryStore:
    """A journal store in a dict, with no I/O: what the journal's own work costs per call.

    Enough of :class:`~pec_ext.journal.base.JournalStore` for new keys, which is all it serves. An
    outcome is kept as given and parsed only when read, so that the row measures the journal, not
    this store."""

    def __init__(self) -> None:
        self.entries: dict[str, Any] = {}
        self.outcomes: dict[str, tuple[Any, float, str | None]] = {}

    def claim(self, key: str, fingerprint: str, operation: str, owner: str, now: float,
              lease_until: float, expires_at: float, prestate: str | None = None,
              state: Any = None) -> Any:  # fmt: skip
        from pec_ext.journal.base import Entry

        if key in self.entries:
            raise RuntimeError(f"{key}: the bench uses a new key per call")
        self.entries[key] = Entry(
            key, fingerprint, operation, owner, state, lease_until, 1, now, expires_at,
            None if prestate is None else json.loads(prestate),
        )  # fmt: skip
        return self.entries[key]

    def update(self, key: str, owner: str, state: Any, lease_until: float, prestate: str | None = None,
               result: str | None = None, *, durable: bool = True) -> bool:  # fmt: skip
        if key not in self.entries or self.entries[key].owner != owner:
            return False
        self.outcomes[key] = (state, lease_until, result)
        return True

    def release(self, key: str, owner: str) -> bool:
        self.outcomes.pop(key, None)
        return self.entries.pop(key, None) is not None

    def get(self, key: str) -> Any:
        entry = self.entries.get(key)
        if entry is None or key not in self.outcomes:
            return entry
        state, lease_until, result = self.outcomes[key]
        parsed = entry.result if result is None else json.loads(result)
        return dataclasses.replace(entry, state=state, lease_until=lease_until, result=parsed)

    def purge(self, now: float) -> int:
        return 0

    def close(self) -> None:
        self.entries.clear()
        self.outcomes.clear()


def journal_cost(quick: bool) -> dict[str, Any]:
    """Per renewal: none; the floor a journaled call cannot avoid (a pre-state read + the call);
    journaled with SQLite, with Redis and with a store in memory (the journal's own work); and the
    floor with only the bare I/O a journal makes (one fdatasync; one or two Redis round trips)
    between the read and the call, the least any journal can cost on this machine. The subjects
    take turns call by call, so each ratio pairs calls made within milliseconds of each other."""
    from pec_ext import PecClient
    from pec_ext.journal.base import Journal
    from pec_ext.journal.redis import RedisJournalStore
    from pec_ext.journal.sqlite import SqliteJournalStore

    calls, runs = (20, 3) if quick else (60, 9)
    with tempfile.TemporaryDirectory() as tmp, redis_process() as redis_url, contextlib.ExitStack() as stack:
        db = Path(tmp) / "sandbox.sqlite"
        (box_id,) = sandbox_with_boxes(db, 1)
        bare = {
            "bare fdatasync": _bare_durable_write(Path(tmp), stack),
            "bare 1 redis round trip": _bare_round_trips(redis_url, 1, stack),
            "bare 2 redis round trips": _bare_round_trips(redis_url, 2, stack),
        }
        with server_process(["-m", "pec_ext.sandbox", "--port", "0", "--db", str(db)]) as url:
            sqlite_journal = Journal(SqliteJournalStore(Path(tmp) / "journal.sqlite"))
            redis_journal = Journal(RedisJournalStore.from_url(redis_url))
            memory_journal = Journal(_MemoryStore())
            counter = iter(range(10_000_000))
            with PecClient(token=TOKEN, base_url=url) as pec:
                pec.get_mailbox(box_id)

                def per_call(
                    journal: Journal | None,
                    *,
                    read_first: bool = False,
                    between: Callable[[], None] | None = None,
                ) -> Callable[[], None]:
                    client = pec if journal is None else pec.with_options(journal=journal)

                    def call() -> None:
                        if read_first:
                            client.get_mailbox(box_id)  # what the journal reads as its pre-state
                        if between is not None:
                            between()
                        # A new key each time: every call is claimed, sent and recorded.
                        key = None if journal is None else f"renew:{box_id}:{next(counter)}"
                        client.renew_mailbox(box_id, idempotency_key=key)

                    return call

                subjects = {
                    "none": per_call(None),
                    "floor": per_call(None, read_first=True),
                    "sqlite": per_call(sqlite_journal),
                    "redis": per_call(redis_journal),
                    "memory": per_call(memory_journal),
                    **{name: per_call(None, read_first=True, between=io) for name, io in bare.items()},
                }
                for call in list(subjects.values()) * 3:  # first connections, scripts, the first purge
                    call()
                seconds = interleaved_calls(runs, calls, subjects)
            sqlite_journal.close()
            redis_journal.close()
            memory_journal.close()
    over_floor = ("sqlite", "redis", "memory", *bare)
    return {
        "calls": calls,
        "runs": runs,
        "ms": {name: median(values) * 1000 for name, values in seconds.items()},
        "ratio": {name: paired_ratio(seconds[name], seconds["none"]) for name in ("sqlite", "redis")},
        "over_floor": {name: paired_ratio(seconds[name], seconds["floor"]) for name in over_floor},
    }
