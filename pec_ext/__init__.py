"""openapi-pec: a typed, safe client for Openapi's PEC API (certified e-mail).

>>> from pec_ext import PecClient
>>> with PecClient(environment="sandbox") as pec:      # token from OPENAPI_PEC_TOKEN
...     pec.is_available("mario.rossi@testcert.legalmail.it")
"""

from ._driver import RawResponse
from .client import AsyncPecClient, PecClient
from .clock import Clock
from .errors import (
    ApiError,
    BadRequestError,
    ErrorCode,
    ForbiddenError,
    IdempotencyKeyBusyError,
    InvalidResponseError,
    NotAcceptableError,
    NotFoundError,
    OutcomeUnknownError,
    PaymentRequiredError,
    PecError,
    PreconditionRequiredError,
    RateLimitError,
    RequestTimeoutError,
    ServerError,
    ServiceUnavailableError,
    TransportError,
    UnauthorizedError,
    UnexpectedStateError,
    ValidationError,
    WaitError,
    WaitTimeoutError,
)

__version__ = "0.1.0"

__all__ = [
    "ApiError",
    "AsyncPecClient",
    "BadRequestError",
    "Clock",
    "ErrorCode",
    "ForbiddenError",
    "IdempotencyKeyBusyError",
    "InvalidResponseError",
    "NotAcceptableError",
    "NotFoundError",
    "OutcomeUnknownError",
    "PaymentRequiredError",
    "PecClient",
    "PecError",
    "PreconditionRequiredError",
    "RateLimitError",
    "RawResponse",
    "RequestTimeoutError",
    "ServerError",
    "ServiceUnavailableError",
    "TransportError",
    "UnauthorizedError",
    "UnexpectedStateError",
    "ValidationError",
    "WaitError",
    "WaitTimeoutError",
]
