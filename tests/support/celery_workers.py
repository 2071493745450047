"""Real ``celery worker`` processes of ``tests.support.chaos_app``, for the Celery tests."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.support.fleet import PYTHON

HERE = Path(__file__).resolve().parent
# The Redis list where tests.support.lease_app records each run of a task.
LEASE_APP_RUNS = "lease-test:runs"


def start_worker(
    index: int, environment: dict[str, str], app: str = "tests.support.chaos_app"
) -> subprocess.Popen[Any]:
    return subprocess.Popen(
        [
            PYTHON,
            "-m",
            "celery",
            "-A",
            app,
            "worker",
            "-P",
            "prefork",
            "-c",
            "1",
            "-Q",
            "pec",
            "-n",
            f"chaos{index}@127.0.0.1",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-l",
            "error",
        ],
        cwd=HERE.parents[1],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def pool_children(worker: subprocess.Popen[Any]) -> list[int]:
    """The worker's live pool processes (the ones running tasks)."""
    try:
        text = Path(f"/proc/{worker.pid}/task/{worker.pid}/children").read_text()
    except OSError:
        return []
    return [int(pid) for pid in text.split() if alive(int(pid))]


def alive(pid: int) -> bool:
    try:
        # The state follows the parenthesised name; Z: killed, not yet reaped by the worker.
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_for_pools(workers: list[subprocess.Popen[Any]], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not all(pool_children(w) for w in workers):
        if time.monotonic() > deadline or any(w.poll() is not None for w in workers):
            pytest.fail("the Celery workers did not start")
        time.sleep(0.1)


def queue_is_drained(client: Any) -> bool:
    return client.llen("pec") == 0 and client.hlen("unacked") == 0
