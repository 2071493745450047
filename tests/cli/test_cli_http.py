"""``pec`` over real HTTP: ``pec sandbox serve`` in a subprocess, the token, transport errors."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest
from click.testing import CliRunner, Result

from pec_ext.cli import ExitCode, cli
from pec_ext.sandbox import SandboxServer, record_only
from tests.support.cli import ADDRESS, APPLICANT, SECRET_TOKEN, flags
from tests.support.dates import sandbox_on_day, server_on_day_args
from tests.support.http_stack import httpx


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    result = CliRunner().invoke(cli, list(args), env={"OPENAPI_PEC_TOKEN": SECRET_TOKEN, **(env or {})})
    assert SECRET_TOKEN not in result.stdout
    assert SECRET_TOKEN not in result.stderr
    return result


@pytest.fixture
def server() -> Iterator[SandboxServer]:
    with sandbox_on_day(callback_sender=record_only) as sandbox, SandboxServer(sandbox) as srv:
        yield srv


def test_sandbox_serve_answers_http_then_terminates() -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pec_ext.cli",
            "sandbox",
            "serve",
            "--port",
            "0",
            "--balance",
            "42",
            *server_on_day_args(),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert "listening on http://127.0.0.1:" in line, (
            line,
            process.stderr.read() if process.poll() else "",
        )
        url = line.rsplit(" ", 1)[1].strip()
        state = httpx.get(f"{url}/_sandbox/state", timeout=5).json()
        assert state["data"]["balance"] == 42.0
        answer = httpx.get(f"{url}/pec", headers={"Authorization": "Bearer x"}, timeout=5)
        assert answer.status_code == 404
        assert answer.json()["error"] == 200  # no boxes yet
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()
        if process.stderr is not None:
            process.stderr.close()


def test_over_http_with_the_token_from_the_environment(server: SandboxServer) -> None:
    base = ["--base-url", server.url]
    registered = run(
        *base,
        "--json",
        "boxes",
        "register",
        "--yes",
        *flags({"casella_pec": ADDRESS, "tipo_casella": "SILVER", **APPLICANT}),
    )
    assert registered.exit_code == 0, registered.stderr
    assert "INDICATIVE prices" in registered.stderr  # not the embedded sandbox: no known price list
    box_id = json.loads(registered.stdout)["id"]
    assert box_id in run(*base, "boxes", "list").stdout
    assert run(*base, "--json", "sandbox", "state").exit_code == 0
    missing = run(*base, "boxes", "show", "f" * 24)
    assert missing.exit_code == ExitCode.API
    assert server.url in missing.stderr


def test_missing_token_is_a_validation_error(server: SandboxServer) -> None:
    result = CliRunner().invoke(
        cli, ["--base-url", server.url, "boxes", "list"], env={"OPENAPI_PEC_TOKEN": ""}
    )
    assert result.exit_code == ExitCode.VALIDATION
    assert "OPENAPI_PEC_TOKEN" in result.stderr


def test_transport_error_exit_code() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = run(
        "--base-url", f"http://127.0.0.1:{port}", "--max-retries", "0", "--timeout", "2", "boxes", "list"
    )
    assert result.exit_code == ExitCode.TRANSPORT
    assert "Error:" in result.stderr


def test_sandbox_admin_needs_a_sandbox_target() -> None:
    assert run("sandbox", "advance").exit_code == ExitCode.USAGE
    assert run("--production", "sandbox", "state").exit_code == ExitCode.USAGE


def test_embedded_db_keeps_state_between_runs(tmp_path: object) -> None:
    db = os.path.join(str(tmp_path), "state.sqlite")
    first = run(
        "--embedded-db",
        db,
        "--json",
        "boxes",
        "register",
        "--yes",
        *flags({"casella_pec": ADDRESS, "tipo_casella": "BRONZE", **APPLICANT}),
    )
    assert first.exit_code == 0, first.stderr
    listed = run("--embedded-db", db, "--json", "boxes", "list")
    assert [b["casella_pec"] for b in json.loads(listed.stdout)] == [ADDRESS]
    env = {"OPENAPI_PEC_EMBEDDED": "1"}
    assert json.loads(run("--json", "boxes", "list", env=env).stdout) == []  # a fresh in-memory one


def test_import_pec_ext_does_not_load_the_cli() -> None:
    # (httpx itself imports click and rich when they are installed, for its own CLI: not checked)
    code = (
        "import sys, pec_ext; print(sorted(m for m in sys.modules if m.split('.')[:2] == ['pec_ext', 'cli']))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
