"""An operation of an HTTP API: method, path, whether a resend is safe, what it costs, how to parse.

The engine knows operations only through this shape; each API's table of them lives beside its
client (``pec_ext._pec.operations``, ``pec_ext.account._operations``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote


@dataclass(frozen=True)
class PriceKind:
    """How a paid operation is priced: the keys of its prices and what one unit of them buys.

    A price key is ``<kind>`` or ``<kind>.<detail>``: ``register.GOLD`` is the ``register`` kind
    for the GOLD box type. ``detail`` names what tells the keys of the kind apart (None: the kind
    has one price); ``unit`` is what one unit of a price buys. Both are for people (the price list
    shows them) and for the wallet check, which reads the detail and the units from the call.
    """

    kind: str
    unit: str
    detail: str | None = None
    # How a detail value is written in a key: box types in upper case, as the price lists have them.
    spell_detail: Callable[[str], str] = str

    def key(self, detail: object = None) -> str | None:
        """The price key of a call whose :attr:`detail` argument is ``detail``: the one place keys are made.

        ``kind`` for a kind with one price (``detail`` is ignored); for a kind with several, None when
        ``detail`` is not a string (missing, unset): the call does not say which of them it pays.
        """
        if self.detail is None:
            return self.kind
        if not isinstance(detail, str) or not detail:
            return None
        return f"{self.kind}.{self.spell_detail(detail)}"


@dataclass(frozen=True)
class Operation:
    name: str
    method: str
    path: str
    # Safe to send again after a failure: a read that charges nothing and changes nothing.
    idempotent: bool
    # The generated response model (``module:Class``); None for PDF downloads and raw calls.
    response_model: str | None
    returns_pdf: bool = False
    # The spec documents a 204 "No Content" answer, which is a result (None), not a broken body.
    may_answer_no_content: bool = False
    # The generated package holding the response model: pec_api, or oauth_api for the account
    # service (see _account_operations.py).
    models: str = "pec_api"
    # Where the result is: "data" of the API's envelope, or (account service: tokens) the whole
    # body is the model.
    result: str = "data"
    # The PEC API's envelope always says `success`; the account service's may be `{"data": ...}` only.
    strict_envelope: bool = True
    # Path parameters that are secrets (a token's value): masked wherever a URL is logged or shown.
    secret_params: tuple[str, ...] = ()
    # Applied to each parsed record: the API's own typing of values the spec lists (enum members).
    typed_values: Callable[[Any], None] | None = None
    # Set for an operation that charges the wallet (the API answers 402 when it is short): the one
    # place that says what is paid, read by the scopes, the quotes, the wallet check and the CLI.
    price: PriceKind | None = None

    @property
    def paid(self) -> bool:
        return self.price is not None

    def url(self, **path_params: str) -> str:
        return self.path.format(**{name: encode_path_param(value) for name, value in path_params.items()})

    def load_response_model(self) -> Any:
        """The generated model class, imported on first use to keep ``import pec_ext`` fast."""
        assert self.response_model is not None
        module_name, _, class_name = self.response_model.partition(":")
        return getattr(importlib.import_module(f"{self.models}.models.{module_name}"), class_name)


def encode_path_param(value: str) -> str:
    """Percent-encode so that a value stays one path segment and never reaches another endpoint.

    ``/``, ``?``, ``#`` and ``%`` are always encoded; ``@`` is a legal segment character (RFC 3986
    pchar) and stays readable in addresses. Dots only matter in a segment made of dots alone
    (``.`` and ``..`` are dot-segments that clients and servers resolve), so only those are encoded.
    """
    text = str(value)
    if text.strip(".") == "":
        return text.replace(".", "%2E")
    return quote(text, safe="@")
