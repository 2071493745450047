"""Outgoing callbacks, as the provider makes them when a record changes ``stato``.

``method: "POST"`` posts a form whose field ``field`` holds the record as JSON; ``method: "JSON"``
posts the record itself as a JSON body. Delivery never affects the transition that caused it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from .state import Record

CallbackSender = Callable[[httpx.Request], Any]


@dataclass(slots=True)
class SentCallback:
    url: str
    method: str
    content_type: str
    body: bytes
    payload: Record
    status_code: int | None = None
    error: str | None = None

    def form_payload(self) -> Record:
        """The record decoded back from the body, whatever the method."""
        if self.method == "JSON":
            decoded: Record = json.loads(self.body)
            return decoded
        fields = dict(httpx.QueryParams(self.body.decode()))
        return {key: json.loads(value) for key, value in fields.items()}


def normalise(raw: object) -> Record | None:
    """The stored callback (with the API's defaults) or ``None`` when the request had none."""
    if raw is None or raw is False or raw == {}:
        return None
    if not isinstance(raw, dict):
        raise ValueError("callback must be an object")
    url = raw.get("url")
    method = str(raw.get("method") or "POST").upper()
    field = raw.get("field") or "data"
    data = raw.get("data", {})
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ValueError("callback.url must be an http(s) URL")
    # The spec's Callback.data is an object; an array is refused as the client's guard refuses it.
    if method not in ("POST", "JSON") or not isinstance(field, str) or not isinstance(data, dict):
        raise ValueError("callback has an invalid method, field or data")
    return {"url": url, "field": field, "method": method, "data": data}


def build(callback: Record, payload: Record) -> httpx.Request:
    url = str(callback["url"])
    if callback["method"] == "JSON":
        return httpx.Request("POST", url, json=payload)
    return httpx.Request("POST", url, data={str(callback["field"]): json.dumps(payload)})


def record_only(request: httpx.Request) -> None:
    """A sender that delivers nothing; the callback still lands in ``Sandbox.callbacks_sent``."""
    del request


class HttpCallbackSender:
    """Default sender: a real HTTP call with a short timeout."""

    def __init__(self, timeout: float = 5.0) -> None:
        self._timeout = timeout
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            if self._client is None:
                self._client = httpx.Client(timeout=self._timeout)
            client = self._client
        return client.send(request)

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None


def deliver(sender: CallbackSender, callback: Record, payload: Record) -> SentCallback:
    request = build(callback, payload)
    sent = SentCallback(
        url=str(request.url),
        method=str(callback["method"]),
        content_type=request.headers.get("content-type", ""),
        body=request.read(),
        payload=payload,
    )
    try:
        response = sender(request)
        status = getattr(response, "status_code", None)
        sent.status_code = status if isinstance(status, int) else None
    except Exception as exc:  # a broken receiver is the receiver's problem, not the sandbox's
        sent.error = f"{type(exc).__name__}: {exc}"
    return sent
