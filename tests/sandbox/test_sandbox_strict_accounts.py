"""Strict-token mode cannot be bypassed through the sandbox's own OAuth emulation (issue 19, point 15).

With ``--token`` only the tokens given open the PEC side; the emulation used to mint an all-scope
token for any Basic credentials. Now only ``--account``'s credentials mint, with its scopes only,
and ``pec sandbox serve`` takes the same options as ``python -m pec_ext.sandbox`` (one definition).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from pec_ext.sandbox import record_only
from pec_ext.sandbox.__main__ import build_parser
from tests.support.dates import sandbox_on_day, server_on_day_args
from tests.support.http_stack import httpx
from tests.support.sandbox import box_body

ROOT = Path(__file__).resolve().parents[2]
SERVERS = {
    "python -m pec_ext.sandbox": ["-m", "pec_ext.sandbox", *server_on_day_args()],
    "pec sandbox serve": ["-m", "pec_ext.cli", "sandbox", "serve", *server_on_day_args()],
}
READ = "GET:pec.openapi.it/pec"
WRITE = "POST:pec.openapi.it/pec"


@contextmanager
def serving(command: list[str], *args: str) -> Iterator[str]:
    env = {"PYTHONPATH": f"{ROOT}:{ROOT / 'generated'}", "PATH": "/usr/bin:/bin"}
    proc = subprocess.Popen(
        [sys.executable, *command, "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("PEC sandbox listening on "), (
            line,
            proc.poll() is not None and proc.stderr and proc.stderr.read(),
        )
        yield line.rsplit(" ", 1)[1].strip()
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def mint(url: str, auth: tuple[str, str], scopes: list[str]) -> httpx.Response:
    return httpx.post(url + "/oauth/tokens", json={"scopes": scopes}, auth=auth, timeout=10)


def pec_post(url: str, token: str) -> httpx.Response:
    return httpx.post(url + "/pec", json=box_body(), headers={"Authorization": f"Bearer {token}"}, timeout=10)


@pytest.mark.parametrize("server", sorted(SERVERS))
def test_strict_mode_without_an_account_mints_nothing(server: str) -> None:
    with serving(SERVERS[server], "--token", f"reader={READ}") as url:
        refused = mint(url, ("anyone@example.com", "any-key"), [WRITE])
        assert refused.status_code == 401
        assert refused.json()["success"] is False
        # nothing to post with: the gateway still takes only the given token
        assert pec_post(url, "reader").status_code == 403
        assert httpx.get(url + "/_sandbox/state", timeout=10).json()["data"]["ledger_entries"] == 0


@pytest.mark.parametrize("server", sorted(SERVERS))
def test_strict_mode_mints_for_the_configured_account_within_its_scopes(server: str) -> None:
    args = ["--token", f"reader={READ}", "--account", f"ops@example.com:s3cret={READ}"]
    with serving(SERVERS[server], *args) as url:
        assert mint(url, ("ops@example.com", "wrong"), [READ]).status_code == 401
        assert mint(url, ("other@example.com", "s3cret"), [READ]).status_code == 401
        # beyond the account's scopes, named or through a wildcard: refused
        assert mint(url, ("ops@example.com", "s3cret"), [WRITE]).status_code == 422
        assert mint(url, ("ops@example.com", "s3cret"), ["*:pec.openapi.it/*"]).status_code == 422
        granted = mint(url, ("ops@example.com", "s3cret"), [READ])
        assert granted.status_code == 200, granted.text
        token = granted.json()["token"]
        assert (
            httpx.get(url + "/pec", headers={"Authorization": f"Bearer {token}"}, timeout=10).status_code
            == 404
        )
        assert pec_post(url, token).status_code == 403
        listed = httpx.get(url + "/oauth/scopes", auth=("ops@example.com", "s3cret"), timeout=10).json()
        assert {s["scope"] for s in listed["data"]} == {READ}


def _help(*command: str) -> str:
    completed = subprocess.run(
        [sys.executable, *command, "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert completed.returncode == 0, completed.stderr
    return completed.stdout


def test_pec_sandbox_serve_takes_the_same_options_as_python_m() -> None:
    """One definition: the CLI's help is the server's, word for word, under its own name."""
    served = _help(*SERVERS["pec sandbox serve"])
    direct = _help(*SERVERS["python -m pec_ext.sandbox"])
    assert served.startswith("usage: pec sandbox serve ")
    for option in ("--token", "--account", "--read-timeout", "--max-body", "--max-connections",
                   "--callback-attempts", "--callback-backoff", "--processing-delay", "--db"):  # fmt: skip
        assert option in served, option

    def words(text: str) -> list[str]:
        return text.replace("pec sandbox serve", "PROG").replace("python -m pec_ext.sandbox", "PROG").split()

    assert words(served) == words(direct)
    bad = subprocess.run(
        [sys.executable, *SERVERS["pec sandbox serve"], "--account", "no-colon"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert bad.returncode == 2
    assert "--account" in bad.stderr


def test_the_account_option_is_validated_without_echoing_the_key(capsys: pytest.CaptureFixture[str]) -> None:
    parser = build_parser()
    assert parser.parse_args(["--account", "a@example.com:k=GET:pec.openapi.it/pec"]).account == (
        "a@example.com",
        "k",
        ("GET:pec.openapi.it/pec",),
    )
    assert parser.parse_args(["--account", "a@example.com:k"]).account == ("a@example.com", "k", None)
    for bad in ("a@example.com", "nobody:topsecretkey", "a@example.com:topsecretkey=pec", "a@example.com:k="):
        with pytest.raises(SystemExit):
            parser.parse_args(["--account", bad])
        err = capsys.readouterr().err
        assert "--account" in err
        assert "topsecretkey" not in err


def test_the_python_api_s_strict_accounts() -> None:
    with sandbox_on_day(strict_accounts=True, strict_tokens=True, callback_sender=record_only) as sb:
        http = httpx.Client(transport=sb.transport(), base_url="https://sandbox.pec.invalid/oauth")
        assert http.post("/tokens", json={"scopes": [READ]}, auth=("a@example.com", "k")).status_code == 401
    with (
        sandbox_on_day(
            account=("a@example.com", "k"), account_scopes=[READ], callback_sender=record_only
        ) as sb,
        sb.account_client() as account,
    ):
        assert account.create_token([READ], warn=False).scopes == (READ,)
        assert {s.scope for s in account.list_scopes()} == {READ}
