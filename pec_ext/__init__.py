"""openapi-pec: a typed, safe client for Openapi's PEC API (certified e-mail).

>>> from pec_ext import PecClient
>>> with PecClient(environment="sandbox") as pec:      # token from OPENAPI_PEC_TOKEN
...     pec.is_available("mario.rossi@testcert.legalmail.it")
"""

from typing import TYPE_CHECKING

from pec_ext._engine.clock import Clock
from pec_ext._engine.driver import RawResponse
from pec_ext._lazy import lazy_exports
from pec_ext._pec.client import AsyncPecClient, PecClient

from .errors import (
    ApiError,
    AppliedNotRecordedError,
    BadRequestError,
    ErrorCode,
    ForbiddenError,
    IdempotencyKeyBusyError,
    InsufficientBalanceError,
    InvalidResponseError,
    JournalUnavailableError,
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

if TYPE_CHECKING:
    from pec_ext.account.client import AccountClient, AsyncAccountClient
    from pec_ext.callbacks.receiver import CallbackReceiver
    from pec_ext.journal.base import Journal
    from pec_ext.massiva.client import AsyncMassivaClient, MassivaClient

__version__ = "0.1.0"

__all__ = [
    "AccountClient",
    "ApiError",
    "AppliedNotRecordedError",
    "AsyncAccountClient",
    "AsyncMassivaClient",
    "AsyncPecClient",
    "BadRequestError",
    "CallbackReceiver",
    "Clock",
    "ErrorCode",
    "ForbiddenError",
    "IdempotencyKeyBusyError",
    "InsufficientBalanceError",
    "InvalidResponseError",
    "Journal",
    "JournalUnavailableError",
    "MassivaClient",
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


# Imported on first use, so that `import pec_ext` stays fast: the account side (token cache, file
# lock), the journal, the callback receiver and the PEC Massiva (sending) client.
_LAZY = {
    "AccountClient": "pec_ext.account.client",
    "AsyncAccountClient": "pec_ext.account.client",
    "Journal": "pec_ext.journal.base",
    "CallbackReceiver": "pec_ext.callbacks.receiver",
    "MassivaClient": "pec_ext.massiva.client",
    "AsyncMassivaClient": "pec_ext.massiva.client",
}


__getattr__ = lazy_exports(__name__, _LAZY)
