"""The receiving side of the API's callbacks: tokens, parsing, a transition store, the receiver and
its ASGI/WSGI apps.

The tokens are loaded at once (every client that sends a ``callback`` signs it); the receiver, its
stores and its reply on first use, so that ``import pec_ext`` does not pay for them.
"""

from typing import TYPE_CHECKING

from pec_ext._lazy import lazy_exports
from pec_ext.callbacks.events import CallbackEvent, RecordKind, make_token, parse, sign_callback, verify_token

if TYPE_CHECKING:
    from pec_ext.callbacks.receiver import CallbackReceiver
    from pec_ext.callbacks.reply import CallbackReply
    from pec_ext.callbacks.store import MemoryTransitionStore, SqliteTransitionStore, TransitionStore

__all__ = [
    "CallbackEvent",
    "CallbackReceiver",
    "CallbackReply",
    "MemoryTransitionStore",
    "RecordKind",
    "SqliteTransitionStore",
    "TransitionStore",
    "make_token",
    "parse",
    "sign_callback",
    "verify_token",
]

_LAZY = {
    "CallbackReceiver": "pec_ext.callbacks.receiver",
    "CallbackReply": "pec_ext.callbacks.reply",
    "MemoryTransitionStore": "pec_ext.callbacks.store",
    "SqliteTransitionStore": "pec_ext.callbacks.store",
    "TransitionStore": "pec_ext.callbacks.store",
}


__getattr__ = lazy_exports(__name__, _LAZY)
