"""The CLI quotes a paid command under its operation's price key, never a key of its own making.

Each test respells the operation's keys (``PriceKind.spell_detail``) and gives the CLI a price
list holding only the respelled key: the price shown is that one only if the command asked the
operation. The last test keeps hand-made keys out of the package.
"""

from __future__ import annotations

import ast
import re
from dataclasses import replace
from pathlib import Path

import pytest

import pec_ext
from pec_ext._pec.operations import OPERATIONS
from pec_ext.account.prices import price_key, price_kinds
from pec_ext.cli.config import Config
from pec_ext.cli.prices import PriceList
from pec_ext.sandbox import Sandbox
from tests.support.cli import APPLICANT, Pec, flags

MARKED_PRICE = 123.45


def respell(monkeypatch: pytest.MonkeyPatch, operation: str, tipo: str) -> str:
    """The operation's keys spelled in lower case, and a price list with the one for ``tipo``."""
    current = OPERATIONS[operation]
    assert current.price is not None
    spelled = replace(current.price, spell_detail=str.lower)
    monkeypatch.setitem(OPERATIONS, operation, replace(current, price=spelled))
    key = price_key(operation, tipo)
    assert key is not None
    assert key not in {f"{spelled.kind}.{tipo.upper()}", None}  # the respelling shows
    listed = PriceList({key: MARKED_PRICE}, "the operation's keys only", indicative=True)
    monkeypatch.setattr(Config, "price_list", lambda _self: listed)
    return key


def test_boxes_register_is_quoted_under_the_operation_s_key(
    pec: Pec, monkeypatch: pytest.MonkeyPatch
) -> None:
    respell(monkeypatch, "register_mailbox", "GOLD")
    fields = {**APPLICANT, "casella_pec": "oro@testcert.legalmail.it", "tipo_casella": "GOLD"}
    result = pec.ok("boxes", "register", "--yes", *flags(fields))
    assert f"{MARKED_PRICE:.2f}" in result.stderr
    assert "unknown" not in result.stderr


def test_bulk_renew_is_quoted_under_the_operation_s_key(
    pec: Pec, sb: Sandbox, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    pec.active_box(tipo="GOLD")
    sb.advance(300 * 86400)  # now it expires within 90 days
    key = respell(monkeypatch, "renew_mailbox", "GOLD")
    journal = str(tmp_path / "journal.sqlite")
    result = pec.ok(
        "bulk", "renew", "--within-days", "90", "--anni", "2", "--journal", journal, "--yes", "--no-progress"
    )
    assert f"({key})" in result.stderr
    assert f"{2 * MARKED_PRICE:.2f}" in result.stderr
    assert "unknown" not in result.stderr


def test_boxes_expiring_shows_the_renewal_price_of_the_operation_s_key(
    pec: Pec, sb: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    pec.active_box(tipo="GOLD")
    sb.advance(300 * 86400)
    respell(monkeypatch, "renew_mailbox", "GOLD")
    rows = pec.json("boxes", "expiring", "--within", "90d", "--no-progress")
    assert [row["renewal_price"] for row in rows] == [MARKED_PRICE]


PACKAGE = Path(pec_ext.__file__).parent
# The embedded sandbox plays the server: its price table is the account's own, kept apart on purpose.
SERVER_SIDE = PACKAGE / "sandbox"


def hand_made_keys(path: Path, kinds: set[str]) -> list[str]:
    """``f"renew.{...}"``-like f-strings, and whole ``"renew.GOLD"``-like literals, in one module."""
    starts = re.compile(rf"^({'|'.join(map(re.escape, kinds))})\.")
    whole = re.compile(rf"^({'|'.join(map(re.escape, kinds))})\.\w+$")
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.JoinedStr) and node.values:
            head = node.values[0]
            if isinstance(head, ast.Constant) and isinstance(head.value, str) and starts.match(head.value):
                found.append(f"{path.relative_to(PACKAGE)}:{node.lineno}: f{head.value!r}...")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and whole.match(node.value):
            found.append(f"{path.relative_to(PACKAGE)}:{node.lineno}: {node.value!r}")
    return found


def test_no_price_key_is_built_outside_its_operation() -> None:
    kinds = set(price_kinds())
    assert {"register", "renew", "transform"} <= kinds
    built = [
        hit
        for path in sorted(PACKAGE.rglob("*.py"))
        if SERVER_SIDE not in path.parents
        # the indicative price list is written out beside the operations, key by key
        and path != PACKAGE / "_pec" / "operations.py"
        for hit in hand_made_keys(path, kinds)
    ]
    assert built == []
