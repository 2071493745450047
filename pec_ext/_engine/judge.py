"""Judging an answer or a failure: retry, a typed error, a reconciliation, or the parsed result.

Every decision is taken here, once, for the sync and the async driver alike, and for either HTTP
library: exceptions are mapped through the client's :class:`~pec_ext._engine.stack.Stack`.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from pec_ext._engine import retry
from pec_ext._engine.clock import SYSTEM_CLOCK
from pec_ext._engine.operation import Operation
from pec_ext._engine.steps import Call, Options, OutcomeUncertain, Retry, shown_url
from pec_ext.errors import (
    ApiError,
    InvalidResponseError,
    RequestTimeoutError,
    TransportError,
    error_class_for_status,
)

if TYPE_CHECKING:
    # For annotations only: httpx2's objects have the same public interface (see stack.py).
    import httpx

    from pec_ext._engine.stack import Stack

logger = logging.getLogger("pec_ext")


def on_transport_error(
    call: Call,
    request: httpx.Request,
    exc: httpx.TransportError,
    attempt: int,
    options: Options,
    stack: Stack,
) -> Retry:
    """Retry when resending is safe; otherwise raise the typed error (or OutcomeUncertain).

    ``exc`` is an exception of ``stack``'s library (the one the client sends with)."""
    never_sent = stack.never_sent(exc)
    timed_out = stack.timed_out(exc)
    text = f"{request.method} {shown_url(call, request)}: {type(exc).__name__}: {exc}"
    error = RequestTimeoutError(text) if timed_out else TransportError(text)
    error.__cause__ = exc
    if (never_sent or call.operation.idempotent) and attempt < options.max_retries:
        delay = retry.backoff_seconds(attempt, uniform=options.clock.uniform)
        logger.info(
            "%s %s failed (%s); retry %d in %.2fs",
            request.method,
            shown_url(call, request),
            type(exc).__name__,
            attempt + 1,
            delay,
        )
        return Retry(delay, error)
    if not never_sent and not call.operation.idempotent:
        raise OutcomeUncertain(call, request, exc, timed_out=timed_out) from exc
    raise error from exc


def on_response(
    call: Call,
    request: httpx.Request,
    response: httpx.Response,
    body: bytes | None,
    attempt: int,
    options: Options,
) -> Retry | Any:
    """The parsed result, a Retry, or a typed error. ``body`` is None when it was too large."""
    status = response.status_code
    logger.debug("%s %s -> %d", request.method, shown_url(call, request), status)
    if status in retry.RETRYABLE_STATUS_CODES:
        retry_after = retry.retry_after_seconds(response.headers, now=options.clock.wall())
        resend_safe = call.operation.idempotent or status in retry.REFUSED_BEFORE_PROCESSING_STATUS_CODES
        waitable = retry_after is None or retry_after <= retry.RETRY_AFTER_MAX_SECONDS
        if resend_safe and waitable and attempt < options.max_retries:
            delay = retry.backoff_seconds(attempt, retry_after, uniform=options.clock.uniform)
            logger.info(
                "%s %s -> %d; retry %d in %.2fs",
                request.method,
                shown_url(call, request),
                status,
                attempt + 1,
                delay,
            )
            return Retry(delay, api_error(request, response, body, options))
    if not call.operation.idempotent and retry.leaves_outcome_unknown(status):
        # A gateway, or the API itself, failed after the work may have been done: read it back.
        raise OutcomeUncertain(call, request, api_error(request, response, body, options))
    if status >= 300:
        raise api_error(request, response, body, options)
    if status == 204 and not body and call.operation.may_answer_no_content:
        # "No Content": the answer is the status itself (GET /domini_pec: domain not eligible).
        return None
    try:
        if body is None:
            raise _invalid(request, response, f"response body larger than {call.max_body_bytes} bytes")
        if call.operation.returns_pdf:
            return _pdf(request, response, body)
        envelope = _envelope(request, response, body, strict=call.operation.strict_envelope)
        if call.operation.response_model is None:
            return envelope.get("data")
        return _parse_model(call.operation, request, response, envelope)
    except InvalidResponseError as exc:
        raise _unusable_success(call, request, exc) from None


def _unusable_success(call: Call, request: httpx.Request, error: InvalidResponseError) -> Exception:
    """A 2xx whose body is unusable: for a paid call the work may be done, so reconcile, never resend."""
    if call.operation.idempotent or error.refused_by_server:
        return error
    return OutcomeUncertain(call, request, error)


def api_error(
    request: httpx.Request, response: httpx.Response, body: bytes | None, options: Options | None = None
) -> ApiError:
    """The typed error for an error status, with the envelope's message and code when it has them."""
    message, code, data = _error_details(response, body)
    error_type = error_class_for_status(response.status_code)
    now = (options.clock if options is not None else SYSTEM_CLOCK).wall()
    return error_type(
        message,
        status_code=response.status_code,
        code=code,
        method=request.method,
        url=str(request.url),
        data=data,
        retry_after=retry.retry_after_seconds(response.headers, now=now),
        request=request,
        response=response,
    )


def _loads(body: bytes) -> Any:
    """``json.loads``, with every failure (bad UTF-8, bad JSON, nesting too deep) a ValueError."""
    try:
        return json.loads(body)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def undecodable(
    call: Call, request: httpx.Request, response: httpx.Response, exc: httpx.DecodingError
) -> Exception:
    """The error for a body that cannot be decoded (a broken ``content-encoding``)."""
    why = f"response body cannot be decoded ({response.headers.get('content-encoding')}): {exc}"
    if response.status_code < 300:
        return _unusable_success(call, request, _invalid(request, response, why))
    return error_class_for_status(response.status_code)(
        why,
        status_code=response.status_code,
        method=request.method,
        url=str(request.url),
        request=request,
        response=response,
    )


def _error_details(response: httpx.Response, body: bytes | None) -> tuple[str, int | None, Any]:
    if body is None:
        return "error response body too large to read", None, None
    try:
        envelope = _loads(body)
    except ValueError:
        envelope = None
    if isinstance(envelope, dict) and "message" in envelope:
        code = envelope.get("error")
        return (
            str(envelope.get("message")),
            code if isinstance(code, int) and not isinstance(code, bool) else None,
            envelope.get("data"),
        )
    text = body.decode("utf-8", "replace").strip()
    if "html" in response.headers.get("content-type", "") or text.lstrip().startswith("<"):
        return (
            f"HTTP {response.status_code} {response.reason_phrase} (an HTML page, not the API's answer)",
            None,
            None,
        )
    return (text[:500] or f"HTTP {response.status_code} {response.reason_phrase}"), None, None


def _invalid(
    request: httpx.Request, response: httpx.Response, why: str, code: int | None = None
) -> InvalidResponseError:
    return InvalidResponseError(
        why,
        status_code=response.status_code,
        code=code,
        method=request.method,
        url=str(request.url),
        request=request,
        response=response,
    )


def _pdf(request: httpx.Request, response: httpx.Response, body: bytes) -> bytes:
    if not body.lstrip()[:1024].startswith(b"%PDF-") and b"%PDF-" not in body[:1024]:
        content_type = response.headers.get("content-type") or "no content type"
        what = "the body is empty" if not body else f"it starts with {body[:40]!r}"
        raise _invalid(
            request,
            response,
            f"expected a PDF ({content_type}), but the body does not start with %PDF-: {what}",
        )
    return body


def _envelope(
    request: httpx.Request, response: httpx.Response, body: bytes, *, strict: bool = True
) -> dict[str, Any]:
    if not body.strip():
        raise _invalid(request, response, "empty response body")
    try:
        envelope = _loads(body)
    except ValueError as exc:
        snippet = body[:80].decode("utf-8", "replace")
        raise _invalid(
            request, response, f"response is not JSON ({exc.__class__.__name__}): {snippet!r}"
        ) from None
    if not isinstance(envelope, dict) or (strict and "success" not in envelope):
        raise _invalid(
            request, response, "response is not the API's {success, message, error, data} envelope"
        )
    if envelope.get("success", True) is not True:
        code = envelope.get("error")
        refusal = InvalidResponseError(
            str(envelope.get("message") or "the API answered success: false"),
            status_code=response.status_code,
            code=code if isinstance(code, int) and not isinstance(code, bool) else None,
            method=request.method,
            url=str(request.url),
            data=envelope.get("data"),
            request=request,
            response=response,
        )
        refusal.refused_by_server = True
        raise refusal
    return envelope


def _parse_model(
    op: Operation, request: httpx.Request, response: httpx.Response, envelope: dict[str, Any]
) -> Any:
    model = op.load_response_model()
    try:
        parsed = model.from_dict(envelope)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise _invalid(request, response, f"cannot parse the {op.name} response: {exc!r}") from None
    if op.result == "body":
        return parsed
    data = getattr(parsed, "data", None)
    if data is None or type(data).__name__ == "Unset":
        raise _invalid(request, response, f"the {op.name} response carries no data")
    if op.typed_values is not None:
        for record in data if isinstance(data, list) else (data,):
            op.typed_values(record)
    return data
