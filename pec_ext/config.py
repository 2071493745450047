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


# -- PEC Massiva (sending certified mail from a PECMASSIVA box) ---------------------------------

MASSIVA_USERNAME_ENV = "OPENAPI_PECMASSIVA_USERNAME"
MASSIVA_PASSWORD_ENV = "OPENAPI_PECMASSIVA_PASSWORD"  # noqa: S105 - the variable's name, not a password
MASSIVA_BASE_URL_ENV = "OPENAPI_PECMASSIVA_BASE_URL"

MASSIVA_BASE_URLS: Mapping[Environment, str] = {
    "production": "https://ws.pecmassiva.com",
    "sandbox": "https://test.ws.pecmassiva.com",
}
# Where a server of your own (``pec sandbox serve``) answers for PEC Massiva, below its base URL.
MASSIVA_PATH_ON_OWN_SERVER = "/pecmassiva"


def massiva_base_url(value: str | None, env: Environment) -> str:
    """``value``, else ``OPENAPI_PECMASSIVA_BASE_URL``, else ``OPENAPI_PEC_BASE_URL`` + ``/pecmassiva``
    (a server of your own answers for both APIs, as ``pec sandbox serve`` does), else the
    environment's URL."""
    chosen = value if value is not None else os.environ.get(MASSIVA_BASE_URL_ENV, "").strip()
    source = "base_url" if value is not None else MASSIVA_BASE_URL_ENV
    if not chosen:
        own = os.environ.get(BASE_URL_ENV, "").strip()
        if not own:
            return MASSIVA_BASE_URLS[env]
        chosen, source = own.rstrip("/") + MASSIVA_PATH_ON_OWN_SERVER, BASE_URL_ENV
    if not isinstance(chosen, str) or not chosen.startswith(("http://", "https://")):
        raise ValidationError(source, chosen, "an http:// or https:// URL")
    return chosen


def massiva_credentials(username: str | None = None, password: str | None = None) -> tuple[str, str]:
    """The PECMASSIVA box's username (its address) and password: the arguments, else
    ``OPENAPI_PECMASSIVA_USERNAME`` / ``OPENAPI_PECMASSIVA_PASSWORD``. The password is never echoed."""
    user = username if username is not None else os.environ.get(MASSIVA_USERNAME_ENV, "")
    secret = password if password is not None else os.environ.get(MASSIVA_PASSWORD_ENV, "")
    if not isinstance(user, str) or not user.strip():
        raise ValidationError(
            "username",
            "",
            f"the box's address, e.g. invii@pec.example.it: pass username= or set {MASSIVA_USERNAME_ENV}",
        )
    if not isinstance(secret, str) or not secret:
        raise ValidationError(
            "password", "", f"the box's password: pass password= or set {MASSIVA_PASSWORD_ENV}"
        )
    if not all(" " <= char < "\x7f" for char in secret):
        # Sent in a header too: never echoed, and the HTTP layer would quote it in its own error.
        raise ValidationError("password", "***", "printable ASCII (it travels in the x-password header)")
    if any(not (" " < char < "\x7f") for char in user.strip()):
        raise ValidationError("username", "***", "printable ASCII without spaces (the box's address)")
    return user.strip(), secret
