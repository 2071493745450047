"""Real components for the tests: redis-server and the sandbox over HTTP, on 127.0.0.1.

Each is started as a process of its own and stopped by its PID.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pec_ext.sandbox.pdf import render
from tests.support.applicants import register_body
from tests.support.dates import sandbox_on_day, server_on_day_args

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
START_TIMEOUT = 20.0
PDF = render("Documento", ["documento di identità"])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def env() -> dict[str, str]:
    paths = [str(ROOT), str(ROOT / "generated"), os.environ.get("PYTHONPATH", "")]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p), "PYTHONUNBUFFERED": "1"}


def kill(proc: subprocess.Popen[Any], sig: int = signal.SIGKILL) -> None:
    """Stop a process we started, by its PID, and reap it."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, sig)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


@contextlib.contextmanager
def redis_server(workdir: Path) -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed (apt-get install -y redis-server; .ci/run does it)")
    port = free_port()
    proc = subprocess.Popen(
        [
            binary,
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
            "--daemonize",
            "no",
            "--protected-mode",
            "yes",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    break
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        kill(proc, signal.SIGTERM)


def shutdown_redis(url: str, *clients: Any, timeout: float = 10.0) -> None:
    """``SHUTDOWN NOSAVE`` the Redis at ``url``; return once it has exited and ``clients`` know it.

    The answer to SHUTDOWN is the end of the asking connection; the server's other connections end
    as its process exits, and on a loaded machine their end can reach this side a moment later
    still (loopback delivers it from a kernel thread). A command through each of ``clients`` fails
    and drops its pooled connection, so that their next command fails at once rather than racing
    the close."""
    import redis

    client = redis.Redis.from_url(url)
    pid = int(client.info("server")["process_id"])
    with contextlib.suppress(redis.ConnectionError):
        client.shutdown(nosave=True)
    deadline = time.monotonic() + timeout
    while _running(pid):
        if time.monotonic() > deadline:
            raise RuntimeError(f"redis-server {pid} did not exit")
        time.sleep(0.005)
    for user in clients:
        with contextlib.suppress(redis.ConnectionError, redis.TimeoutError):
            user.ping()
            raise RuntimeError(f"{url} still answers after its shutdown")


def _running(pid: int) -> bool:
    # A child not yet reaped stays a zombie ("Z"): it has exited, and its sockets are closed.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@contextlib.contextmanager
def server_process(args: list[str]) -> Iterator[str]:
    """A Python server in a process of its own that prints ``... listening on URL``; its URL."""
    proc = subprocess.Popen(
        [PYTHON, *args],
        cwd=ROOT,
        env=env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = ""
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            if "listening on" in line:
                url = line.rsplit(" ", 1)[1].strip()
                break
        if not url:
            raise RuntimeError(f"server {args} did not start")
        yield url
    finally:
        kill(proc, signal.SIGTERM)


def sandbox_server(db: Path, *, balance: float = 1_000_000.0) -> contextlib.AbstractContextManager[str]:
    """``python -m pec_ext.sandbox --db``: the sandbox over HTTP, its state in SQLite."""
    return server_process(
        [
            "-m",
            "pec_ext.sandbox",
            "--db",
            str(db),
            "--balance",
            str(balance),
            "--port",
            "0",
            *server_on_day_args(),
        ]
    )


def slow_proxy(upstream: str, hold: float = 30.0) -> contextlib.AbstractContextManager[str]:
    """A proxy that forwards paid calls at once and answers them ``hold`` seconds later."""
    script = str(Path(__file__).with_name("slow_proxy.py"))
    return server_process([script, upstream, "--port", "0", "--hold", str(hold)])


def provision(db: Path, count: int, *, balance: float = 1_000_000.0, prefix: str = "box") -> list[str]:
    """A sandbox database with ``count`` processed (evasa) boxes; their ids."""
    with sandbox_on_day(balance=balance, db_path=db) as sandbox, sandbox.client() as pec:
        ids = []
        for i in range(count):
            box = pec.register_mailbox(**box_body(f"{prefix}{i}@testcert.legalmail.it"))
            pec.activate_mailbox(box.id, [PDF, PDF])
            ids.append(str(box.id))
        sandbox.advance()
    return ids


def box_body(address: str, tipo: str = "STANDARD") -> dict[str, Any]:
    return register_body(address, tipo)


def ledger(db: Path) -> list[dict[str, Any]]:
    """The sandbox's charges, read from its database (the server may still be running)."""
    import json

    with contextlib.closing(sqlite3.connect(db, timeout=30)) as conn:
        return [json.loads(body) for (body,) in conn.execute("SELECT body FROM ledger ORDER BY seq")]


def balance(db: Path) -> float:
    import json

    with contextlib.closing(sqlite3.connect(db, timeout=30)) as conn:
        (value,) = conn.execute("SELECT value FROM meta WHERE key = 'state'").fetchone()
    return float(json.loads(value)["balance_cents"]) / 100
