"""Every sandbox the tests make stands on the suite's fixed day, never on today.

A ``Sandbox`` made without a clock starts on the real time, and so does a sandbox server started
as a process of its own without ``--start``: the tests make theirs with
``tests.support.dates.sandbox_on_day`` (or pass a ``clock=``) and pass the server process
``*server_on_day_args()``. This scans the tests' source; a server process without ``--start`` is
allowed only where this file's list says why.
"""

from __future__ import annotations

import ast
import itertools
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]

# A server process starts on the suite's day with ``tests.support.dates.server_on_day_args()`` (or
# an explicit ``--start``); these start one without, on the real time, for the reason given.
SERVER_PROCESSES_ALLOWED = {
    "sandbox/test_sandbox_server.py": "without --start the clock is the real time: the default itself",
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


def _starts_a_server_process_on_today(node: ast.List | ast.Tuple) -> bool:
    words = [e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
    pairs = set(itertools.pairwise(words))
    server = ("-m", "pec_ext.sandbox") in pairs or ("sandbox", "serve") in pairs
    on_day = "--start" in words or any(
        isinstance(e, ast.Starred)
        and isinstance(e.value, ast.Call)
        and _name(e.value.func) == "server_on_day_args"
        for e in node.elts
    )
    return server and not on_day


def on_real_time(source: str) -> tuple[list[int], list[int]]:
    """The lines of ``source`` that make a sandbox on the real time, and those that start a server
    process without ``--start`` (whose clock is the real time too)."""
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
        elif isinstance(node, ast.List | ast.Tuple) and _starts_a_server_process_on_today(node):
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
i = ["-m", "pec_ext.sandbox", "--port", "0", *server_on_day_args()]
j = ("-m", "pec_ext.cli", "sandbox", "serve", "--start", "2028-02-29")
k = ["-m", "pec_ext.sandbox", *other_args()]
"""
    assert on_real_time(source) == ([7, 9, 10, 11], [15, 16, 19])


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
    assert unexplained == [], (
        "pass the server process *server_on_day_args(), or say why not in SERVER_PROCESSES_ALLOWED"
    )
    stale = sorted(SERVER_PROCESSES_ALLOWED.keys() - processes)
    assert stale == [], "these no longer start a server process: take them off the list"
