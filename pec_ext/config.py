"""Where a client talks to and with which token: the environment variables, read in one place.

``OPENAPI_PEC_TOKEN`` (the bearer token), ``OPENAPI_PEC_ENVIRONMENT`` (``sandbox`` or
``production``, any case) and ``OPENAPI_PEC_BASE_URL`` (a server of your own, e.g. ``pec sandbox
serve``) are read by the library and the command line alike; an argument always wins over the
variable. The defaults for the timeout and the retries live in :mod:`pec_ext._engine.retry`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Literal

from .errors import ValidationError

Environment = Literal["sandbox", "production"]

TOKEN_ENV = "OPENAPI_PEC_TOKEN"  # noqa: S105 - the variable's name, not a token
ENVIRONMENT_ENV = "OPENAPI_PEC_ENVIRONMENT"
BASE_URL_ENV = "OPENAPI_PEC_BASE_URL"

BASE_URLS: Mapping[Environment, str] = {
    "production": "https://pec.openapi.it",
    "sandbox": "https://test.pec.openapi.it",
}
DEFAULT_ENVIRONMENT: Environment = "sandbox"


def environment(value: str | None = None) -> Environment:
    """``value``, else ``OPENAPI_PEC_ENVIRONMENT``, else the sandbox; any case, surrounding blanks ignored."""
    chosen = value if value is not None else os.environ.get(ENVIRONMENT_ENV, "")
    if not isinstance(chosen, str):
        raise ValidationError("environment", chosen, sorted(BASE_URLS))
    normalized = chosen.strip().lower() or DEFAULT_ENVIRONMENT
    if normalized == "production":
        return "production"
    if normalized == "sandbox":
        return "sandbox"
    source = "environment" if value is not None else ENVIRONMENT_ENV
    raise ValidationError(source, chosen, sorted(BASE_URLS))


def base_url(value: str | None, env: Environment) -> str:
    """``value``, else ``OPENAPI_PEC_BASE_URL``, else the environment's URL."""
    chosen = value if value is not None else os.environ.get(BASE_URL_ENV, "").strip()
    if not chosen:
        return BASE_URLS[env]
    if not isinstance(chosen, str) or not chosen.startswith(("http://", "https://")):
        source = "base_url" if value is not None else BASE_URL_ENV
        raise ValidationError(source, chosen, "an http:// or https:// URL")
    return chosen


def token(value: str | None = None) -> str:
    """The bearer token: ``value``, else ``OPENAPI_PEC_TOKEN``; refused (never echoed) when unusable."""
    chosen = value if value is not None else os.environ.get(TOKEN_ENV, "")
    if not isinstance(chosen, str) or not chosen.strip():
        raise ValidationError("token", "", f"a bearer token: pass token= or set {TOKEN_ENV}")
    chosen = chosen.strip()
    if not all(" " < char < "\x7f" for char in chosen):
        # Never echo it: a header error from the HTTP layer would quote the token.
        raise ValidationError("token", "***", "printable ASCII without spaces")
    return chosen


HTTP_ENV = "OPENAPI_PEC_HTTP"
HTTP_LIBRARIES = ("httpx", "httpx2")


def http_library(value: str | None = None) -> str | None:
    """The HTTP library to make a client with: ``value``, else ``OPENAPI_PEC_HTTP``, else None
    (httpx2 when it is installed, httpx otherwise). A client given with ``http_client=`` decides alone."""
    chosen = value if value is not None else os.environ.get(HTTP_ENV, "").strip() or None
    if chosen is None:
        return None
    normalized = chosen.strip().lower() if isinstance(chosen, str) else chosen
    if normalized not in HTTP_LIBRARIES:
        raise ValidationError("http" if value is not None else HTTP_ENV, chosen, HTTP_LIBRARIES)
    return str(normalized)
