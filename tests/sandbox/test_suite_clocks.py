"""Every sandbox the tests make stands on the suite's fixed day, never on today.

A ``Sandbox`` made without a clock starts on the real time, and so does a sandbox server started
as a process of its own: the tests make theirs with ``tests.support.dates.sandbox_on_day`` (or
pass a ``clock=``). This scans the tests' source; a server process is allowed only where this
file's list says why.
"""

from __future__ import annotations

import ast
import itertools
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]

# The sandbox's command line has no fixed start: these start it as a process of its own.
SERVER_PROCESSES_ALLOWED = {
    "account/test_token_cache_processes.py": "token caches shared by processes, over a real server",
    "cli/test_cli_http.py": "`pec sandbox serve` itself, answering then terminating",
    "cli/test_first_hour.py": "the README's first hour, `pec sandbox serve` as a user runs it",
    "cli/test_send_done.py": "`pec send` against `pec sandbox serve`, as a user runs them",
    "faults/test_sandbox_faults.py": "a server process killed while it writes its database",
    "multiprocess/test_massiva_fleet.py": "Celery workers in other processes send through it",
    "sandbox/test_sandbox_hardening.py": "the server process's own start-up checks and limits",
    "sandbox/test_sandbox_server.py": "`python -m pec_ext.sandbox` serves and prints its URL",
    "sandbox/test_sandbox_strict_accounts.py": "both commands' strict-token mode, as started",
    "support/fleet.py": "the fleet's workers are processes; their sandbox is one too",
}

# The server classes that make a sandbox of their own (on the real time) when given none.
SERVERS = {"SandboxServer", "FaultServer"}


def _name(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


def _has_clock(call: ast.Call) -> bool:
    # ``**options`` forwards a clock the caller gives (tests.support.dates.sandbox_on_day's way).
    return any(k.arg in ("clock", None) for k in call.keywords)


def _starts_a_server_process(node: ast.List | ast.Tuple) -> bool:
    words = [e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
    pairs = set(itertools.pairwise(words))
    return ("-m", "pec_ext.sandbox") in pairs or ("sandbox", "serve") in pairs


def on_real_time(source: str) -> tuple[list[int], list[int]]:
    """The lines of ``source`` that make a sandbox on the real time, and those that start a server
    process (whose clock is the real time too)."""
    tree = ast.parse(source)
    subclasses = {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef) and any(_name(b) == "Sandbox" for b in node.bases)
    }
    made: list[int] = []
    processes: list[int] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            callee = _name(node.func)
            init_of_subclass = callee == "__init__" and any(
                isinstance(parent, ast.ClassDef) and parent.name in subclasses and node in ast.walk(parent)
                for parent in ast.walk(tree)
            )
            unclocked = (callee == "Sandbox" or init_of_subclass) and not _has_clock(node)
            defaulted = callee in SERVERS and not node.args and all(k.arg != "sandbox" for k in node.keywords)
            if unclocked or defaulted:
                made.append(node.lineno)
        elif isinstance(node, ast.List | ast.Tuple) and _starts_a_server_process(node):
            processes.append(node.lineno)
    return sorted(made), sorted(processes)


def test_the_scan_finds_a_sandbox_on_the_real_time() -> None:
    source = """
from pec_ext.sandbox import Sandbox, SandboxServer
from pec_ext import sandbox

class Held(Sandbox):
    def __init__(self):
        super().__init__(balance=1)

a = Sandbox(balance=1)
b = sandbox.Sandbox()
c = SandboxServer()
d = Sandbox(clock=fixed)
e = Sandbox(**options)
f = SandboxServer(d)
g = ["-m", "pec_ext.sandbox", "--port", "0"]
h = ("-m", "pec_ext.cli", "sandbox", "serve")
"""
    assert on_real_time(source) == ([7, 9, 10, 11], [15, 16])


def test_no_test_makes_a_sandbox_on_the_real_time() -> None:
    made: list[str] = []
    processes: set[str] = set()
    for path in sorted(TESTS.rglob("*.py")):
        if path == Path(__file__).resolve():
            continue  # its examples of what it looks for
        relative = path.relative_to(TESTS).as_posix()
        lines, servers = on_real_time(path.read_text(encoding="utf-8"))
        made += [f"{relative}:{line}" for line in lines]
        if servers:
            processes.add(relative)
    assert made == [], "make it with tests.support.dates.sandbox_on_day(), or pass clock="
    unexplained = sorted(processes - SERVER_PROCESSES_ALLOWED.keys())
    assert unexplained == [], "a server process runs on today: say why in SERVER_PROCESSES_ALLOWED"
    stale = sorted(SERVER_PROCESSES_ALLOWED.keys() - processes)
    assert stale == [], "these no longer start a server process: take them off the list"
