"""Exceptions raised by pec_ext.

The tree::

    PecError
    ├── ValidationError (also ValueError)   bad input, raised before any request is sent;
    │                                        ``errors`` lists every bad field of a body at once
    ├── ApiError                             the server answered with an error
    │   ├── BadRequestError                  400
    │   ├── UnauthorizedError                401  missing or invalid token
    │   ├── PaymentRequiredError             402  insufficient wallet credit
    │   ├── ForbiddenError                   403  the token lacks the scope
    │   ├── NotFoundError                    404
    │   ├── NotAcceptableError               406
    │   ├── PreconditionRequiredError        428
    │   ├── RateLimitError                   429
    │   ├── ServiceUnavailableError          503
    │   ├── ServerError                      other 5xx
    │   └── InvalidResponseError             2xx that is not a usable envelope (HTML, truncated
    │                                        JSON, empty body, or ``success: false``)
    ├── TransportError                       the request could not be completed
    │   └── RequestTimeoutError              ... because it timed out
    ├── OutcomeUnknownError                  a paid call may or may not have been applied
    ├── IdempotencyKeyBusyError              another caller holds the idempotency key's lease
    ├── InsufficientBalanceError             the wallet check refused a paid call, nothing sent
    ├── WaitError                            wait_for_mailbox / wait_for_communication ended early
    │   ├── UnexpectedStateError             ... on a final state it was not waiting for
    │   └── WaitTimeoutError                 ... out of time
    └── CallbackError                        a received callback was refused (pec_ext.callbacks.events)
        ├── MalformedCallbackError (also ValueError)  neither delivery mode, not JSON, not a record
        └── ForgedCallbackError              no valid token, or not the token of the record named

``ApiError.code`` is the envelope's numeric ``error``; :class:`ErrorCode` gives every code
documented in the spec a stable symbolic name.
"""

from __future__ import annotations

import reprlib
from collections.abc import Iterable
from enum import IntEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

# A document or a huge number given by mistake must not end up whole in an error message.
_short_repr = reprlib.Repr()
_short_repr.maxstring = _short_repr.maxother = 80
_short_repr.maxlong = 40


class ErrorCode(IntEnum):
    """Every ``error`` code documented in Openapi's PEC spec, by a stable name."""

    NO_PEC_LINKED_TO_ACCOUNT = 200
    GET_PEC_WRONG_ID = 201
    GET_PEC_NOT_FOUND = 202
    RENEW_NOT_EVADED_OR_REVOKED = 203
    CASELLA_PEC_REQUIRED = 207
    CASELLA_PEC_INVALID = 208
    ADD_USER_WRONG_ID = 212
    ADD_USER_PEC_NOT_FOUND = 213
    MAX_USERS_REACHED = 217
    ADD_USER_INSUFFICIENT_CREDIT = 220
    TIPO_CASELLA_REQUIRED = 224
    DATA_NASCITA_INVALID = 242
    REGISTER_INSUFFICIENT_CREDIT = 262
    MODIFY_WRONG_ID = 265
    MODIFY_PEC_NOT_FOUND = 266
    ACTIVATE_NOT_REGISTRATA_OR_DOCUMENTI_ERRATI = 267
    CHANGE_TYPE_NOT_PROCESSED = 272
    CHANGE_TYPE_DOWNGRADE = 276
    CHANGE_TYPE_INSUFFICIENT_CREDIT = 279
    CONSERVAZIONE_NOT_ACTIVE = 282
    CHANGE_SPACE_INSUFFICIENT_CREDIT = 290
    CONSERVAZIONE_ALREADY_ACTIVE = 293
    CONSERVAZIONE_DOCUMENTI_REQUIRED = 294
    WRONG_FILE_FORMAT_PDF_REQUIRED = 296
    CONSERVAZIONE_INSUFFICIENT_CREDIT = 297
    REVOKE_WRONG_ID = 301
    REVOKE_PEC_NOT_FOUND = 302
    ALREADY_REVOKED = 303
    REVOKE_NOT_ACTIVE = 304
    SPACE_NOT_MULTIPLE = 325
    DOMAIN_NOT_OWNED = 326
    NO_REQUEST_LINKED_TO_ACCOUNT = 332
    COMMUNICATION_WRONG_ID = 333
    COMMUNICATION_NOT_FOUND = 334
    COMMUNICATE_CASELLA_PEC_INVALID = 336
    COMMUNICATE_FIELD_REQUIRED = 344
    COMMUNICATE_INSUFFICIENT_CREDIT = 351
    UPLOAD_WRONG_ID = 353
    UPLOAD_REQUEST_NOT_FOUND = 354
    UPLOAD_NOT_AWAITING_DOCUMENTS = 355
    UPLOAD_DOCUMENTI_REQUIRED = 356
    SERVICE_NOT_FOR_BOX_TYPE = 390
    DOMAIN_REQUIRED = 400
    DOMAIN_INVALID = 401
    DOMAIN_SERVICE_UNAVAILABLE = 402
    DOMAIN_CHECK_INSUFFICIENT_CREDIT = 403


class PecError(Exception):
    """Root of every exception raised by pec_ext."""


class ValidationError(PecError, ValueError):
    """Input refused before any request is sent; names the field, the value and what is allowed.

    A body with several bad fields is refused once, with every field: ``errors`` holds one
    single-field ``ValidationError`` each (see :meth:`combine`), and ``field``, ``value``,
    ``allowed`` and ``reason`` are the first one's. A single-field error's ``errors`` is ``(self,)``.
    """

    def __init__(
        self,
        field: str,
        value: object,
        allowed: str | Iterable[object] | None = None,
        reason: str | None = None,
    ) -> None:
        self.field = field
        self.value = value
        if allowed is not None and not isinstance(allowed, str):
            allowed = ", ".join(str(item) for item in allowed)
        self.allowed = allowed
        self.reason = reason
        self.errors: tuple[ValidationError, ...] = (self,)
        try:
            shown = _short_repr.repr(value)
        except Exception:  # a hostile __repr__ must not hide the real error
            shown = f"<{type(value).__name__}>"
        text = f"{field}: {shown} is not valid"
        if reason:
            text += f": {reason}"
        if allowed:
            text += f" (allowed: {allowed})"
        super().__init__(text)

    @classmethod
    def combine(cls, errors: Iterable[ValidationError]) -> ValidationError:
        """One error reporting all of ``errors`` (flattened); a single one comes back unchanged."""
        flat = [single for error in errors for single in error.errors]
        if not flat:
            raise ValueError("combine() needs at least one ValidationError")
        if len(flat) == 1:
            return flat[0]
        first = flat[0]
        combined = cls(first.field, first.value, first.allowed, first.reason)
        combined.errors = tuple(flat)
        lines = "".join(f"\n  - {error}" for error in flat)
        combined.args = (f"{len(flat)} fields are not valid:{lines}",)
        return combined

    @property
    def fields(self) -> tuple[str, ...]:
        """The name of every field refused, in the order they were checked."""
        return tuple(error.field for error in self.errors)


class ApiError(PecError):
    """The API answered with an error; ``code`` and ``message`` come from its envelope."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        code: int | None = None,
        method: str = "",
        url: str = "",
        data: Any = None,
        retry_after: float | None = None,
        request: httpx.Request | None = None,
        response: httpx.Response | None = None,
    ) -> None:
        self.message = message
        self.status_code = status_code
        self.code = code
        self.method = method
        self.url = url
        self.data = data
        self.retry_after = retry_after
        #: The request as sent and the answer (status, headers, ``elapsed``); the body was read by
        #: pec_ext and is summed up in ``message``. httpx masks ``authorization`` in their reprs.
        self.request = request
        self.response = response
        super().__init__(str(self))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"

    #: The codes ``code_name`` names; None for the account service, whose codes are its own.
    codes: type[ErrorCode] | None = ErrorCode

    @property
    def code_name(self) -> str | None:
        """The symbolic name of ``code`` when the spec documents it."""
        if self.code is None or self.codes is None:
            return None
        try:
            return self.codes(self.code).name
        except ValueError:
            return None

    def __str__(self) -> str:
        code = f" error {self.code}" if self.code is not None else ""
        name = f" ({self.code_name})" if self.code_name else ""
        return f"{self.method} {self.url} -> HTTP {self.status_code}{code}{name}: {self.message}"


class BadRequestError(ApiError):
    """HTTP 400."""


class UnauthorizedError(ApiError):
    """HTTP 401: the token is missing, expired or invalid."""


class PaymentRequiredError(ApiError):
    """HTTP 402: the wallet has insufficient credit."""


class ForbiddenError(ApiError):
    """HTTP 403: the token does not hold the scope this call needs."""


class NotFoundError(ApiError):
    """HTTP 404."""


class NotAcceptableError(ApiError):
    """HTTP 406: a value was refused by the server."""


class PreconditionRequiredError(ApiError):
    """HTTP 428: a required field is missing or the resource is in the wrong state."""


class RateLimitError(ApiError):
    """HTTP 429."""


class ServiceUnavailableError(ApiError):
    """HTTP 503."""


class ServerError(ApiError):
    """Any other HTTP 5xx."""


class InvalidResponseError(ApiError):
    """A response that is not a usable envelope: HTML, truncated JSON, empty, ``success: false``."""

    #: True when the envelope itself said ``success: false`` (the server refused the call);
    #: False when the body was unusable, so a paid call may have been applied all the same.
    refused_by_server: bool = False


class TransportError(PecError):
    """The request could not be completed (connection refused, reset, TLS ...)."""


class RequestTimeoutError(TransportError):
    """The request timed out."""


class OutcomeUnknownError(PecError):
    """A paid or mutating call failed in a way that leaves its outcome unknown.

    It was not resent. ``known`` holds what reconciliation found (possibly nothing); check the
    account's state before trying again.
    """

    def __init__(self, message: str, *, operation: str, method: str, url: str, known: Any = None) -> None:
        self.operation = operation
        self.method = method
        self.url = url
        self.known = known
        super().__init__(message)


class IdempotencyKeyBusyError(PecError):
    """Another caller holds the idempotency key's lease and is sending (see ``pec_ext.journal.base``).

    Nothing was sent. Try again after ``lease_until`` (a Unix time): by then the other caller has
    recorded its outcome, or its lease has run out and the next caller reconciles.
    """

    def __init__(self, message: str, *, key: str, owner: str, lease_until: float) -> None:
        self.key = key
        self.owner = owner
        self.lease_until = lease_until
        super().__init__(message)


class JournalUnavailableError(PecError):
    """The journal's store failed (a lost Redis connection, an SQLite error).

    Raised before the paid request is sent, nothing was sent: try again when the store is back.
    ``cause`` is the store's own exception.
    """

    def __init__(self, message: str, *, key: str, cause: BaseException) -> None:
        self.key = key
        self.cause = cause
        super().__init__(message)


class AppliedNotRecordedError(JournalUnavailableError):
    """The paid call **was applied** (and charged), but the store failed before recording it.

    ``result`` is the call's result, as the call would have returned it. Do not send it again:
    the next caller with the same key finds the entry ``sending`` and reconciles it from the
    account's state, which shows the change.
    """

    def __init__(self, message: str, *, key: str, cause: BaseException, result: Any) -> None:
        self.result = result
        super().__init__(message, key=key, cause=cause)


class InsufficientBalanceError(PecError):
    """The opt-in wallet check read the balance before a paid call and it does not cover the price.

    Raised before the paid request is sent: nothing was charged. ``price`` and ``balance`` are EUR.
    """

    def __init__(self, operation: str, price: float, balance: float) -> None:
        self.operation = operation
        self.price = price
        self.balance = balance
        super().__init__(
            f"{operation}: the wallet holds EUR {balance:.2f}, the price is EUR {price:.2f}; "
            "not sent (top up the wallet in the Openapi console)"
        )


class WaitError(PecError):
    """A wait ended without reaching a state it was waiting for; ``record`` is the last one read."""

    def __init__(self, message: str, *, state: str, record: Any) -> None:
        self.state = state
        self.record = record
        super().__init__(message)


class UnexpectedStateError(WaitError):
    """A wait ended on a final state it was not waiting for (e.g. ``documenti_errati``)."""


class WaitTimeoutError(WaitError):
    """A wait ran out of time."""


class CallbackError(PecError):
    """A received callback was refused; ``reason`` says what was wrong with it."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class MalformedCallbackError(CallbackError, ValueError):
    """A body that is neither delivery mode, not JSON where JSON is due, or not a PEC record."""


class ForgedCallbackError(CallbackError):
    """A callback without a valid token, or whose token is not the one of the record it names."""


_ERROR_BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequestError,
    401: UnauthorizedError,
    402: PaymentRequiredError,
    403: ForbiddenError,
    404: NotFoundError,
    406: NotAcceptableError,
    428: PreconditionRequiredError,
    429: RateLimitError,
    503: ServiceUnavailableError,
}


def error_class_for_status(status_code: int) -> type[ApiError]:
    """The exception class for an HTTP error status."""
    if status_code in _ERROR_BY_STATUS:
        return _ERROR_BY_STATUS[status_code]
    if status_code >= 500:
        return ServerError
    if 200 <= status_code < 300:
        return InvalidResponseError
    return ApiError
