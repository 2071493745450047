"""When and how long to wait before sending a request again. Every limit lives here.

Only requests that cannot charge or change anything twice are resent: idempotent reads, and any
request whose connection was refused before a byte was sent. Everything else is reconciled by
reading state (see ``_flows``), never resent.

What an error status means for a paid or mutating call (reads are simply retried or raised):

======================  =================================  ==========================================
status                  the work                           the client
======================  =================================  ==========================================
4xx except 429          refused, not done                  raises the typed error
429                     refused before any work            sends again after ``Retry-After``
503                     refused: the service is not        raises ``ServiceUnavailableError``
                        taking requests                    (not resent; retry when it is back)
501, 505                refused: never done by this        raises ``ServerError``
                        server
500, 502, 504 and       may have been done before the      reconciles by reading state, as for a
every other 5xx         failure (a gateway's upstream,     lost answer: the result if state shows
                        or a server that failed after      the change, else ``OutcomeUnknownError``;
                        applying it)                       never resent
======================  =================================  ==========================================
"""

from __future__ import annotations

import email.utils
import math
from collections.abc import Callable, Mapping

DEFAULT_MAX_RETRIES = 3
DEFAULT_TIMEOUT_SECONDS = 30.0
BACKOFF_INITIAL_SECONDS = 0.5
BACKOFF_MAX_SECONDS = 8.0
# A server asking for a longer pause than this is not waited for: the error is raised instead.
RETRY_AFTER_MAX_SECONDS = 60.0
RETRYABLE_STATUS_CODES = frozenset({429, 502, 503, 504})
# 429 is a refusal before any work was done, so even a paid call may be sent again after it.
REFUSED_BEFORE_PROCESSING_STATUS_CODES = frozenset({429})
# Server errors that say the request was not (and will not be) processed; every other 5xx leaves
# a paid or mutating call's outcome unknown (see the table above).
SERVER_REFUSALS = frozenset({501, 503, 505})


def leaves_outcome_unknown(status: int) -> bool:
    """Whether a mutating call answered ``status`` may have been applied anyway."""
    return status >= 500 and status not in SERVER_REFUSALS


def retry_after_seconds(headers: Mapping[str, str], now: float) -> float | None:
    """The delay a ``Retry-After`` header asks for (seconds or an HTTP date at wall time ``now``).

    None when there is none or it cannot be read: a hostile value is ignored, never raised.
    """
    value = headers.get("retry-after")
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = email.utils.parsedate_to_datetime(value)
        return max(0.0, when.timestamp() - now)
    except (TypeError, ValueError, IndexError, OverflowError, OSError):
        return None


def backoff_seconds(
    attempt: int, retry_after: float | None = None, *, uniform: Callable[[float, float], float]
) -> float:
    """Capped exponential backoff with full jitter; a server's Retry-After wins when it is longer."""
    # The exponent is capped first: 2.0**1024 would overflow long before the cap applies.
    ceiling = min(BACKOFF_MAX_SECONDS, BACKOFF_INITIAL_SECONDS * 2.0 ** min(max(attempt, 0), 32))
    delay = uniform(0, ceiling)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay
