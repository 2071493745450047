"""The ASGI app the uvicorn tests run: a receiver confirming against a sandbox served over HTTP.

Configured by environment: PEC_TEST_SANDBOX_URL, PEC_TEST_STORE (SQLite file), PEC_TEST_LOG (one
JSON line per handler call), PEC_TEST_FAIL (the handler raises for its first N calls),
PEC_TEST_DELAY (seconds each handler call takes).
"""

from __future__ import annotations

import asyncio
import json
import os

from pec_ext import AsyncPecClient
from pec_ext.callbacks.events import CallbackEvent
from pec_ext.callbacks.receiver import CallbackReceiver

SECRET = "s3cret-for-callback-tests-0123456789"
_failures_left = int(os.environ.get("PEC_TEST_FAIL", "0"))
_delay = float(os.environ.get("PEC_TEST_DELAY", "0"))


def _log(line: dict[str, object]) -> None:
    # one short write in append mode: lines of two processes never interleave
    with open(os.environ["PEC_TEST_LOG"], "a", encoding="utf-8") as log:
        log.write(json.dumps(line) + "\n")


async def handler(event: CallbackEvent) -> None:
    global _failures_left
    await asyncio.sleep(_delay)
    base = {"pid": os.getpid(), "kind": event.kind.value, "id": event.id}
    if _failures_left > 0:
        _failures_left -= 1
        _log({**base, "outcome": "failed", "stato": str(event.stato)})
        raise RuntimeError("receiver down")
    _log(
        {
            **base,
            "outcome": "handled",
            "stato": str(event.stato),
            "record_stato": str(event.record.stato),
            "claimed": str(event.claimed_stato),
            "confirmed": event.confirmed,
            "data": event.data,
        }
    )


receiver = CallbackReceiver(
    SECRET,
    AsyncPecClient("sandbox-token", base_url=os.environ["PEC_TEST_SANDBOX_URL"], max_retries=0),
    on_mailbox=handler,
    on_communication=handler,
    store=os.environ["PEC_TEST_STORE"],
)
app = receiver.asgi_app()
