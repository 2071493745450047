"""Least privilege: the exact token scopes a set of PEC operations needs.

An Openapi scope names a method, the API's host and the **first path segment** of the endpoint:
``GET:pec.openapi.it/pec``. It is derived here from the operations table
(``pec_ext._pec.operations``), so a token made with ``pec_scopes("production", ["get_mailbox",
"list_mailboxes"])`` can do exactly what those operations need, and nothing that needs another
method or segment. What is paid is the table's too (``Operation.price``): :func:`paid_operations`.

The caveat that comes with the granularity: a scope cannot tell two endpoints under the same
segment and method apart. ``GET:<host>/pec`` lets a token read mailboxes **and renew them**, because
the paid renewal is ``GET /pec/{id}/rinnovo``. A token meant for reading that holds it can spend
money; :func:`paid_operations_allowed` names what a set of scopes can pay for, and
:func:`read_only_caveats` turns that into the warning the account client and the CLI show.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from typing import Final, Literal

from pec_ext._engine.operation import Operation
from pec_ext._pec.operations import OPERATIONS
from pec_ext.errors import ValidationError

Environment = Literal["production", "sandbox"]

HOSTS: Final[dict[str, str]] = {"production": "pec.openapi.it", "sandbox": "test.pec.openapi.it"}

# The seed's lists of the PEC API's scopes, per method and segment. ``dominio`` (certified domains)
# has scopes on the account but no operation in the PEC spec this library is generated from, so
# pec_scopes() never returns it; SEED_SCOPES keeps the full list for reference and the tests.
SEED_SCOPES: Final[dict[str, tuple[str, ...]]] = {
    "verifica_pec": ("GET",),
    "pec": ("GET", "POST", "PATCH", "DELETE"),
    "dominio": ("GET", "POST", "DELETE"),
    "comunica_pec": ("GET", "POST", "PATCH"),
    "domini_pec": ("GET",),
}


class ScopeWarning(UserWarning):
    """A token's scopes allow more than their owner probably meant (a paid call by a "reader")."""


def host_for(environment: str) -> str:
    try:
        return HOSTS[environment]
    except KeyError:
        raise ValidationError("environment", environment, sorted(HOSTS)) from None


def scope_of(operation: Operation, environment: str) -> str:
    segment = operation.path.strip("/").split("/", 1)[0]
    return f"{operation.method}:{host_for(environment)}/{segment}"


def _operations(names: Iterable[str] | None) -> list[Operation]:
    if names is None:
        return list(OPERATIONS.values())
    if isinstance(names, str):
        names = [names]
    chosen = []
    for name in names:
        if name not in OPERATIONS:
            raise ValidationError("operations", name, sorted(OPERATIONS), "not a PEC operation")
        chosen.append(OPERATIONS[name])
    return chosen


def pec_scopes(environment: str, operations: Iterable[str] | None = None) -> list[str]:
    """The token scopes the named operations need (all of them when ``operations`` is None).

    Sorted and without duplicates; ``environment`` is ``"production"`` or ``"sandbox"``.
    """
    return sorted({scope_of(op, environment) for op in _operations(operations)})


def paid_operations() -> list[str]:
    """The PEC operations that charge the wallet, as the operations table marks them (sorted).

    A GET among them (renewal, domain check) is what makes a scope that looks read-only able to spend.
    """
    return sorted(name for name, operation in OPERATIONS.items() if operation.paid)


def paid_operations_allowed(scopes: Iterable[str]) -> list[str]:
    """The paid PEC operations a token holding ``scopes`` can call (either environment)."""
    held = set(scopes)
    return [
        name for name in paid_operations() if any(scope_of(OPERATIONS[name], env) in held for env in HOSTS)
    ]


def read_only_caveats(scopes: Iterable[str]) -> list[str]:
    """Why a token with only GET scopes is not read-only: one line per paid GET it allows."""
    scopes = list(scopes)
    if not scopes or any(not s.upper().startswith("GET:") for s in scopes):
        return []
    return [
        f"{scope_of(OPERATIONS[name], env)} also allows the paid `{name}` "
        f"({OPERATIONS[name].method} {OPERATIONS[name].path})"
        for name in paid_operations_allowed(scopes)
        for env in HOSTS
        if scope_of(OPERATIONS[name], env) in scopes
    ]


def warn_if_not_read_only(scopes: Iterable[str]) -> list[str]:
    """Emit a :class:`ScopeWarning` for each caveat of a GET-only token; returns them."""
    caveats = read_only_caveats(scopes)
    for caveat in caveats:
        warnings.warn(f"a token meant for reading can spend: {caveat}", ScopeWarning, stacklevel=3)
    return caveats
