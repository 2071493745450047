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
    InsufficientBalanceError,
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
    "AccountClient",
    "ApiError",
    "AsyncAccountClient",
    "AsyncPecClient",
    "BadRequestError",
    "Clock",
    "ErrorCode",
    "ForbiddenError",
    "IdempotencyKeyBusyError",
    "InsufficientBalanceError",
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


def __getattr__(name: str) -> object:
    # The account side (token cache, file lock) is imported on first use: `import pec_ext` stays fast.
    if name in ("AccountClient", "AsyncAccountClient"):
        from . import account

        return getattr(account, name)
    raise AttributeError(f"module 'pec_ext' has no attribute {name!r}")
