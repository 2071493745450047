"""The receiving side of the API's callbacks: tokens, parsing, a transition store, the receiver and
its ASGI/WSGI apps."""

from pec_ext.callbacks.events import CallbackEvent, RecordKind, make_token, parse, sign_callback, verify_token
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
