"""Issue 21's "Done when", end to end with real processes.

* ``pec send --wait`` against ``pec sandbox serve`` (a server subprocess) shows the acceptance and
  the delivery for a good address, and a non-delivery notice for the sandbox's test domain. The
  served sandbox's clock only moves when told: a ticker moves it while ``pec send`` waits.
* ``pec bulk send`` of 500 rows, killed twice with SIGKILL (by PID) and resumed, sends each row
  exactly once, counted from the sandbox's own record of the sendings. That sandbox runs in a
  subprocess on a clock 1000 times faster than real time, so that its one-send-a-second limit
  is met at the 200 sends a second the test asks for (``--rate``).
"""

from __future__ import annotations

import base64
import csv
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from pec_ext.cli import ExitCode
from pec_ext.sandbox.pdf import render
from tests.support.cli import APPLICANT
from tests.support.dates import server_on_day_args
from tests.support.http_stack import httpx

SENDER = "invii@testcert.legalmail.it"
TOKEN = "tok-SEND-SECRET-91b2"
FAST_SERVER = Path(__file__).with_name("fast_sandbox_server.py")


def start(command: list[str]) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None
    line = process.stdout.readline()
    assert "listening on http://127.0.0.1:" in line, (line, process.stderr.read() if process.poll() else "")
    return process, line.rsplit(" ", 1)[1].strip()


def stop(process: subprocess.Popen[str]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    for stream in (process.stdout, process.stderr):
        if stream is not None:
            stream.close()


def activate_box(url: str) -> tuple[str, str]:
    """A PECMASSIVA box, registered and activated through the PEC API; its (username, password)."""
    pdf = base64.b64encode(render("Documento", ["documento di identità"])).decode()
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10) as http:
        box = http.post("/pec", json={"casella_pec": SENDER, "tipo_casella": "PECMASSIVA", **APPLICANT})
        assert box.status_code == 200, box.text
        box_id = box.json()["data"]["id"]
        assert http.patch(f"/pec/{box_id}/attivazione", json={"documenti": [pdf, pdf]}).status_code == 200
        assert http.post("/_sandbox/advance").status_code == 200
        found = http.get(f"/_sandbox/massiva/credentials/{SENDER}").json()["data"]
    return found["username"], found["password"]


def pec_env(url: str, username: str, password: str) -> dict[str, str]:
    return {
        **os.environ,
        "OPENAPI_PEC_BASE_URL": url,
        "OPENAPI_PEC_TOKEN": TOKEN,
        "OPENAPI_PECMASSIVA_USERNAME": username,
        "OPENAPI_PECMASSIVA_PASSWORD": password,
        "COLUMNS": "200",
    }


class Ticker:
    """Moves a served sandbox's clock forward while a command waits on it."""

    def __init__(self, url: str, seconds: float = 5.0, every: float = 0.1) -> None:
        self.url, self.seconds, self.every = url, seconds, every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(timeout=5) as http:
            while not self._stop.wait(self.every):
                http.post(f"{self.url}/_sandbox/advance", json={"seconds": self.seconds})

    def __enter__(self) -> Ticker:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


@pytest.fixture
def served() -> Iterator[tuple[str, str, str]]:
    process, url = start(
        [sys.executable, "-m", "pec_ext.cli", "sandbox", "serve", "--port", "0", *server_on_day_args()]
    )
    try:
        username, password = activate_box(url)
        yield url, username, password
    finally:
        stop(process)


def pec_send(
    url: str, username: str, password: str, to: str, subject: str
) -> subprocess.CompletedProcess[str]:
    command = [
        sys.executable,
        "-m",
        "pec_ext.cli",
        "send",
        to,
        "--subject",
        subject,
        "--body",
        "Gentile cliente,",
    ]
    with Ticker(url):
        return subprocess.run(
            [*command, "--wait", "--poll", "0.2", "--wait-timeout", "60", "--yes"],
            env=pec_env(url, username, password),
            capture_output=True,
            text=True,
            timeout=120,
        )


def test_pec_send_wait_shows_acceptance_and_delivery(served: tuple[str, str, str]) -> None:
    url, username, password = served
    result = pec_send(url, username, password, "mario.rossi@example.it", "Fattura 42")
    assert result.returncode == 0, result.stderr
    assert "ACCETTAZIONE" in result.stdout
    assert "CONSEGNA" in result.stdout
    assert "mario.rossi@example.it" in result.stdout
    assert "delivered" in result.stdout
    assert "not delivered" not in result.stdout
    assert password not in result.stdout + result.stderr
    assert TOKEN not in result.stdout + result.stderr


def test_pec_send_wait_shows_non_delivery_for_the_test_domain(served: tuple[str, str, str]) -> None:
    url, username, password = served
    result = pec_send(url, username, password, "nessuno@nondelivery.test", "Sollecito 7")
    assert result.returncode == ExitCode.STATE, result.stderr
    assert "ACCETTAZIONE" in result.stdout
    assert "MANCATA CONSEGNA" in result.stdout
    assert "not delivered" in result.stdout
    assert password not in result.stdout + result.stderr


# -- the bulk send, killed twice ------------------------------------------------------------------


def sent_subjects(url: str) -> list[str]:
    answer = httpx.get(f"{url}/_sandbox/massiva/sent", timeout=10)
    return [item["subject"] for item in answer.json()["data"]]


def run_until(command: list[str], env: dict[str, str], url: str, at_least: int, log: Path) -> int:
    """Start the bulk send; SIGKILL it by PID once the sandbox has taken ``at_least`` sendings."""
    with log.open("a") as sink:
        process = subprocess.Popen(command, env=env, stdout=sink, stderr=sink)
        try:
            deadline = time.monotonic() + 120
            while len(sent_subjects(url)) < at_least:
                assert process.poll() is None, log.read_text()[-3000:]
                assert time.monotonic() < deadline, "the bulk send made no progress"
                time.sleep(0.02)
        finally:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    return process.returncode


def test_bulk_send_of_500_rows_killed_twice_sends_each_row_once(tmp_path: Path) -> None:
    process, url = start([sys.executable, str(FAST_SERVER)])
    try:
        username, password = activate_box(url)
        rows = 500
        table = tmp_path / "recipients.csv"
        with table.open("w", newline="", encoding="utf-8") as stream:
            writer = csv.writer(stream)
            writer.writerow(["to", "subject", "body", "key"])
            for n in range(1, rows + 1):
                to = f"cliente{n}@nondelivery.test" if n % 50 == 0 else f"cliente{n}@example.it"
                writer.writerow([to, f"Fattura {n:04d}", f"Gentile cliente {n}", f"invoice:2026/{n:04d}"])
        journal = tmp_path / "journal.sqlite"
        command = [
            sys.executable, "-m", "pec_ext.cli", "bulk", "send", str(table), "--journal", str(journal),
            "--lease", "2", "--rate", "200", "--yes", "--no-progress",
        ]  # fmt: skip
        env = pec_env(url, username, password)
        log = tmp_path / "bulk.log"
        assert run_until(command, env, url, 120, log) == -signal.SIGKILL
        assert run_until(command, env, url, 300, log) == -signal.SIGKILL
        assert len(sent_subjects(url)) < rows
        finished = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
        assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
        counts = Counter(sent_subjects(url))
        assert len(counts) == rows
        assert set(counts.values()) == {1}, {s: c for s, c in counts.items() if c != 1}
        assert "report" in finished.stdout
        assert password not in finished.stdout + finished.stderr + log.read_text()
    finally:
        stop(process)
