"""Outgoing callbacks, as the provider makes them when a record changes ``stato``.

``method: "POST"`` posts a form whose field ``field`` holds the record as JSON; ``method: "JSON"``
posts the record itself as a JSON body. Delivery never affects the transition that caused it.
A receiver that does not answer, or answers 408, 429 or 5xx, is tried again with a doubling backoff
(five attempts by default); every attempt is logged with its status and how long it took.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from .state import Record

CallbackSender = Callable[[httpx.Request], Any]


@dataclass(slots=True)
class Attempt:
    """One try at delivering a callback: its number, the answer (or the error) and how long it took."""

    attempt: int
    status_code: int | None
    error: str | None
    elapsed: float
    at: float = 0.0
    """Seconds from the callback being made to this attempt starting (shows the backoff)."""

    def to_json(self) -> Record:
        return {
            "attempt": self.attempt,
            "at": round(self.at, 6),
            "status": self.status_code,
            "error": self.error,
            "elapsed": round(self.elapsed, 6),
        }


@dataclass(slots=True)
class SentCallback:
    """One callback and its delivery; ``status_code`` / ``error`` are those of the last attempt."""

    url: str
    method: str
    content_type: str
    body: bytes
    payload: Record
    status_code: int | None = None
    error: str | None = None
    attempts: list[Attempt] = field(default_factory=list)
    finished: bool = False
    made_at: float = field(default_factory=time.perf_counter, repr=False)

    def form_payload(self) -> Record:
        """The record decoded back from the body, whatever the method."""
        if self.method == "JSON":
            decoded: Record = json.loads(self.body)
            return decoded
        fields = dict(httpx.QueryParams(self.body.decode()))
        return {key: json.loads(value) for key, value in fields.items()}

    @property
    def delivered(self) -> bool:
        """Finished with a 2xx (or, for a sender that only records, with no error)."""
        status_ok = self.status_code is None or 200 <= self.status_code < 300
        return self.finished and self.error is None and status_ok

    def to_json(self) -> Record:
        return {
            "url": self.url,
            "method": self.method,
            "id": self.payload.get("id"),
            "stato": self.payload.get("stato"),
            "status": self.status_code,
            "error": self.error,
            "finished": self.finished,
            "delivered": self.delivered,
            "attempts": [attempt.to_json() for attempt in self.attempts],
        }


def needs_retry(status_code: int | None, error: str | None) -> bool:
    """As a provider judges an answer: no answer, 408, 429 and 5xx are tried again; the rest is final."""
    if error is not None:
        return True
    return status_code is not None and (status_code in (408, 429) or status_code >= 500)


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


def prepare(callback: Record, payload: Record) -> SentCallback:
    request = build(callback, payload)
    return SentCallback(
        url=str(request.url),
        method=str(callback["method"]),
        content_type=request.headers.get("content-type", ""),
        body=request.read(),
        payload=payload,
    )


def attempt(sender: CallbackSender, sent: SentCallback, number: int) -> Attempt:
    request = httpx.Request("POST", sent.url, content=sent.body, headers={"content-type": sent.content_type})
    started = time.perf_counter()
    at = started - sent.made_at
    try:
        response = sender(request)
        status = getattr(response, "status_code", None)
        code = status if isinstance(status, int) else None
        return Attempt(number, code, None, time.perf_counter() - started, at)
    except Exception as exc:  # a broken receiver is the receiver's problem, not the sandbox's
        return Attempt(number, None, f"{type(exc).__name__}: {exc}", time.perf_counter() - started, at)


def deliver(sender: CallbackSender, callback: Record, payload: Record) -> SentCallback:
    """One delivery, one attempt."""
    sent = prepare(callback, payload)
    tried = attempt(sender, sent, 1)
    sent.attempts.append(tried)
    sent.status_code, sent.error, sent.finished = tried.status_code, tried.error, True
    return sent


class CallbackDispatcher:
    """Delivers as a provider does: up to ``attempts`` tries, ``backoff`` doubling between them.

    Inline by default: the caller (the sandbox, after releasing its lock) waits for the delivery and
    its retries, so in-process runs stay deterministic. With :meth:`start_background` (the HTTP
    server), deliveries go to one worker thread, in order, and no API answer waits for a receiver.
    Every delivery is appended to ``log`` when it is made and updated under ``lock`` as it goes.
    """

    def __init__(
        self,
        sender: CallbackSender,
        log: list[SentCallback],
        lock: threading.RLock,
        *,
        attempts: int = 5,
        backoff: float = 0.5,
        sleep: Callable[[float], Any] = time.sleep,
    ) -> None:
        if attempts < 1 or backoff < 0:
            raise ValueError("callback attempts must be >= 1 and backoff >= 0")
        self.sender = sender
        self.log = log
        self.attempts = attempts
        self.backoff = backoff
        self._lock = lock
        self._sleep = sleep
        self._queue: queue.Queue[SentCallback | None] | None = None
        self._worker: threading.Thread | None = None
        self._stopping = threading.Event()

    def dispatch(self, callback: Record, payload: Record) -> SentCallback:
        sent = prepare(callback, payload)
        with self._lock:
            self.log.append(sent)
        if self._queue is not None:
            self._queue.put(sent)
        else:
            self._run(sent, self._sleep)
        return sent

    @property
    def pending(self) -> int:
        with self._lock:
            return sum(1 for sent in self.log if not sent.finished)

    def _run(self, sent: SentCallback, sleep: Callable[[float], Any]) -> None:
        for number in range(1, self.attempts + 1):
            if number > 1 and sleep(self.backoff * 2 ** (number - 2)) is True:
                break  # stopping: the background worker's sleep says so
            tried = attempt(self.sender, sent, number)
            with self._lock:
                sent.attempts.append(tried)
                sent.status_code, sent.error = tried.status_code, tried.error
            if not needs_retry(tried.status_code, tried.error):
                break
        with self._lock:
            sent.finished = True

    def start_background(self) -> None:
        if self._worker is not None:
            return
        self._stopping.clear()
        self._queue = queue.Queue()
        self._worker = threading.Thread(
            target=self._work, args=(self._queue,), name="pec-sandbox-callbacks", daemon=True
        )
        self._worker.start()

    def _work(self, jobs: queue.Queue[SentCallback | None]) -> None:
        while not self._stopping.is_set():
            sent = jobs.get()
            if sent is None:
                return
            self._run(sent, self._stopping.wait)

    def stop_background(self, timeout: float = 5.0) -> None:
        """Stop the worker; retries still waiting are abandoned (their entries stay unfinished)."""
        if self._worker is None or self._queue is None:
            return
        self._stopping.set()
        self._queue.put(None)
        self._worker.join(timeout)
        self._worker, self._queue = None, None
