"""The HTTP library a client runs on: ``httpx``, or ``httpx2`` (its maintained continuation).

Both have the same public API under different module names, and their classes are unrelated:
an ``httpx2.Client`` only sends ``httpx2.Request`` objects and raises ``httpx2`` exceptions. A
:class:`Stack` is the set of public names the engine uses from one of them, so that the requests
it builds, the streams it sends and the exceptions it catches are those of the user's client, and
``ApiError.response``, ``RawResponse.http_response`` and event hooks see that library's objects.

The stack is chosen from the client (or transport) the user gives; without one, ``httpx2`` when it
is installed, ``httpx`` otherwise, unless a name is given (``http=`` or ``OPENAPI_PEC_HTTP``). A
library is imported only when chosen: an ``httpx2`` object given by the user means ``httpx2`` is
already imported, so its type is recognised without importing anything.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import sys
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from pec_ext.errors import ValidationError

NAMES = ("httpx", "httpx2")


@dataclass(frozen=True)
class Stack:
    """One library's public names, as the engine uses them (all are in both libraries' ``__all__``)."""

    name: str
    Client: Any
    AsyncClient: Any
    BaseTransport: Any
    AsyncBaseTransport: Any
    Request: Any
    Response: Any
    Headers: Any
    URL: Any
    ByteStream: Any
    SyncByteStream: Any
    AsyncByteStream: Any
    MockTransport: Any
    Auth: Any
    TransportError: Any
    TimeoutException: Any
    ConnectError: Any
    ConnectTimeout: Any
    PoolTimeout: Any
    ReadTimeout: Any
    WriteTimeout: Any
    DecodingError: Any
    RequestNotRead: Any

    @classmethod
    def of_module(cls, module: ModuleType) -> Stack:
        fields = [name for name in cls.__dataclass_fields__ if name != "name"]
        return cls(name=module.__name__, **{field: getattr(module, field) for field in fields})

    def never_sent(self, exc: BaseException) -> bool:
        """Whether a transport error happened before a byte of the request could leave."""
        return isinstance(exc, self.ConnectError | self.ConnectTimeout | self.PoolTimeout)

    def timed_out(self, exc: BaseException) -> bool:
        return isinstance(exc, self.TimeoutException)

    def __repr__(self) -> str:
        return f"Stack({self.name})"


@functools.cache
def named(name: str) -> Stack:
    """The stack of library ``name`` (one of :data:`NAMES`), imported now if it was not."""
    if name not in NAMES:
        raise ValidationError("http", name, list(NAMES))
    try:
        module = importlib.import_module(name)
    except ImportError:
        extra = "openapi-pec[httpx2]" if name == "httpx2" else "httpx"
        raise ValidationError(
            "http", name, [n for n in NAMES if n != name], reason=f"not installed (pip install '{extra}')"
        ) from None
    return Stack.of_module(module)


def installed(name: str) -> bool:
    return name in sys.modules or importlib.util.find_spec(name) is not None


def default_name() -> str:
    """``httpx2`` when it is installed, else ``httpx``."""
    return "httpx2" if installed("httpx2") else "httpx"


def _loaded() -> list[Stack]:
    # A user's object of a library means that library is imported: never import one to test a type.
    return [named(name) for name in NAMES if name in sys.modules]


def of_client(client: object) -> Stack | None:
    """The stack whose ``Client`` or ``AsyncClient`` ``client`` is, or None."""
    for stack in _loaded():
        if isinstance(client, stack.Client | stack.AsyncClient):
            return stack
    return None


def of_transport(transport: object) -> Stack | None:
    """The stack whose transport base class ``transport`` derives from, or None."""
    for stack in _loaded():
        if isinstance(transport, stack.BaseTransport | stack.AsyncBaseTransport):
            return stack
    return None


def choose(name: str | None, http_client: object = None, transport: object = None) -> Stack:
    """The stack of ``http_client`` or ``transport`` when given (they decide alone), else of
    ``name`` (``http=`` or ``OPENAPI_PEC_HTTP``, already read), else :func:`default_name`'s."""
    if http_client is not None:
        found = of_client(http_client)
        if found is None:
            raise ValidationError(
                "http_client", type(http_client).__name__, "an httpx or httpx2 Client or AsyncClient"
            )
        return found
    if transport is not None:
        found = of_transport(transport)
        if found is None:
            raise ValidationError("transport", type(transport).__name__, "an httpx or httpx2 transport")
        return found
    return named(name if name is not None else default_name())
