"""What a receiver answers the provider for one delivery."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pec_ext.callbacks.events import CallbackEvent

RETRY_AFTER_SECONDS = 5


@dataclass(frozen=True)
class CallbackReply:
    """What to answer the provider: ``status_code``, and a small JSON body saying why."""

    status_code: int
    outcome: str
    message: str
    event: CallbackEvent | None = None

    @property
    def headers(self) -> list[tuple[str, str]]:
        headers = [("content-type", "application/json")]
        if self.status_code == 503:
            headers.append(("retry-after", str(RETRY_AFTER_SECONDS)))
        return headers

    def body(self) -> bytes:
        out: dict[str, Any] = {"outcome": self.outcome, "message": self.message}
        if self.event is not None:
            out.update(kind=self.event.kind.value, id=self.event.id, stato=str(self.event.stato))
        return json.dumps(out).encode()
