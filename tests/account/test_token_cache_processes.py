"""Two processes share one least-privilege token through the cache, against the sandbox over HTTP.

The sandbox runs as a real server (``python -m pec_ext.sandbox --port 0``) on 127.0.0.1 and is
stopped by its PID; the two clients are separate Python processes started at the same time.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.dates import server_on_day_args

CLIENT = textwrap.dedent(
    """
    import sys
    from pec_ext.account.client import AccountClient
    from pec_ext.account.token_cache import TokenCache
    url, cache_dir = sys.argv[1], sys.argv[2]
    with AccountClient("ops@example.com", "key", environment="sandbox", base_url=url + "/oauth") as account:
        with account.pec_client(["check_availability"], cache=TokenCache(cache_dir)) as pec:
            print(pec.is_available("x@testcert.legalmail.it"))
    """
)


@pytest.fixture
def server_url() -> Iterator[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "pec_ext.sandbox", "--port", "0", *server_on_day_args()],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert "listening on http://127.0.0.1:" in line, line
        yield line.rsplit(" ", 1)[1].strip()
    finally:
        process.terminate()
        process.wait(timeout=10)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def test_two_processes_make_one_token(server_url: str, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CLIENT, server_url, str(tmp_path / "cache")],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    assert [out.strip() for out, _ in outputs] == ["True", "True"]
    tokens = httpx.get(server_url + "/oauth/tokens", auth=("ops@example.com", "key"), timeout=5).json()[
        "data"
    ]
    assert len(tokens) == 1
    assert tokens[0]["scopes"] == ["GET:test.pec.openapi.it/verifica_pec"]
    cache_file = tmp_path / "cache" / "tokens.json"
    assert oct(cache_file.stat().st_mode & 0o777) == "0o600"
