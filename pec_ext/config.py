"""Every environment variable pec_ext reads, read here and nowhere else.

The library, the account client, the token cache, the Celery worker and the command line each ask
this module through a typed accessor; an argument given in code always wins over the variable.
Each accessor takes ``env=`` (any mapping, default ``os.environ``), so a test passes a dict
instead of patching the process's environment. :data:`VARIABLES` lists them all, with what they
mean, their default and who reads them: the README's table is that list (a test holds them equal).

The defaults for the timeout and the retries live in :mod:`pec_ext._engine.retry`, the journal's
lease in :mod:`pec_ext.journal.base`: a variable left unset gives None here, and its reader
applies its own default.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

from .errors import ValidationError

Environment = Literal["sandbox", "production"]
Env = Mapping[str, str]

TOKEN_ENV: Final = "OPENAPI_PEC_TOKEN"  # noqa: S105 - the variable's name, not a token
ENVIRONMENT_ENV: Final = "OPENAPI_PEC_ENVIRONMENT"
BASE_URL_ENV: Final = "OPENAPI_PEC_BASE_URL"
HTTP_ENV: Final = "OPENAPI_PEC_HTTP"
EMAIL_ENV: Final = "OPENAPI_EMAIL"
API_KEY_ENV: Final = "OPENAPI_API_KEY"
CACHE_DIR_ENV: Final = "OPENAPI_PEC_CACHE_DIR"
CALLBACK_SECRET_ENV: Final = "OPENAPI_PEC_CALLBACK_SECRET"  # noqa: S105 - the variable's name
EMBEDDED_ENV: Final = "OPENAPI_PEC_EMBEDDED"
EMBEDDED_DB_ENV: Final = "OPENAPI_PEC_EMBEDDED_DB"
JOURNAL_URL_ENV: Final = "PEC_JOURNAL_URL"
JOURNAL_LEASE_ENV: Final = "PEC_JOURNAL_LEASE"
TIMEOUT_ENV: Final = "PEC_TIMEOUT"
RATE_LIMIT_ENV: Final = "PEC_RATE_LIMIT"
REDIS_URL_ENV: Final = "PEC_REDIS_URL"
ACCOUNT_ENV: Final = "PEC_ACCOUNT"
MASSIVA_USERNAME_ENV: Final = "OPENAPI_PECMASSIVA_USERNAME"
MASSIVA_PASSWORD_ENV: Final = "OPENAPI_PECMASSIVA_PASSWORD"  # noqa: S105 - the variable's name
MASSIVA_BASE_URL_ENV: Final = "OPENAPI_PECMASSIVA_BASE_URL"

BASE_URLS: Mapping[Environment, str] = {
    "production": "https://pec.openapi.it",
    "sandbox": "https://test.pec.openapi.it",
}
DEFAULT_ENVIRONMENT: Environment = "sandbox"
MASSIVA_BASE_URLS: Mapping[Environment, str] = {
    "production": "https://ws.pecmassiva.com",
    "sandbox": "https://test.ws.pecmassiva.com",
}
# Where a server of your own (``pec sandbox serve``) answers for PEC Massiva, below its base URL.
MASSIVA_PATH_ON_OWN_SERVER: Final = "/pecmassiva"
DEFAULT_JOURNAL_URL: Final = "pec-journal.sqlite"
DEFAULT_RATE_ACCOUNT: Final = "default"


@dataclass(frozen=True)
class Variable:
    """One environment variable: what it means, its default, and who reads it."""

    name: str
    meaning: str
    default: str
    readers: str


VARIABLES: Final[tuple[Variable, ...]] = (
    Variable(
        TOKEN_ENV, "the PEC API's bearer token (never printed)", "none: required", "library, CLI, Celery"
    ),
    Variable(
        ENVIRONMENT_ENV, "`sandbox` or `production` (any case)", "`sandbox`", "library, account, CLI, Celery"
    ),
    Variable(
        BASE_URL_ENV,
        "a PEC server of your own (e.g. `pec sandbox serve`)",
        "the environment's URL",
        "library, CLI, Celery",
    ),
    Variable(
        HTTP_ENV,
        "the HTTP library of a client made without `http_client=`: `httpx` or `httpx2`",
        "httpx2 when installed, else httpx",
        "library, account, Celery",
    ),
    Variable(EMAIL_ENV, "the Openapi account's e-mail (account service, HTTP Basic)", "none", "account, CLI"),
    Variable(API_KEY_ENV, "the Openapi account's API key (never printed)", "none", "account, CLI"),
    Variable(
        CACHE_DIR_ENV,
        "where least-privilege tokens are cached, for every process of the user",
        "the platform's user cache directory",
        "account (token cache)",
    ),
    Variable(
        CALLBACK_SECRET_ENV,
        "HMAC secret signing the tokens of callback URLs (never printed)",
        "none",
        "CLI (`--secret`, callback URLs)",
    ),
    Variable(EMBEDDED_ENV, "`1`: talk to the embedded in-process sandbox", "off", "CLI (`--embedded`)"),
    Variable(
        EMBEDDED_DB_ENV,
        "SQLite file keeping the embedded sandbox's state; implies embedded",
        "none",
        "CLI (`--embedded-db`)",
    ),
    Variable(
        JOURNAL_URL_ENV,
        "the journal's store: a SQLite path, or `redis://...` for several machines",
        f"`{DEFAULT_JOURNAL_URL}`",
        "Celery",
    ),
    Variable(
        JOURNAL_LEASE_ENV, "seconds a claim on an idempotency key lasts (longer than a call)", "300", "Celery"
    ),
    Variable(TIMEOUT_ENV, "each call's deadline, seconds", "30", "Celery"),
    Variable(
        RATE_LIMIT_ENV,
        "fleet-wide requests per second, optionally `/burst` (needs `PEC_REDIS_URL`)",
        "none: no limit",
        "Celery",
    ),
    Variable(REDIS_URL_ENV, "the Redis the fleet-wide rate limit counts in", "none", "Celery"),
    Variable(
        ACCOUNT_ENV, "the name the fleet-wide rate limit counts under", f"`{DEFAULT_RATE_ACCOUNT}`", "Celery"
    ),
    Variable(
        MASSIVA_USERNAME_ENV,
        "the PECMASSIVA box that sends certified mail: its address",
        "none",
        "massiva, CLI (`pec send`), Celery (`pec.send`)",
    ),
    Variable(
        MASSIVA_PASSWORD_ENV,
        "that box's password (never printed)",
        "none",
        "massiva, CLI (`pec send`), Celery (`pec.send`)",
    ),
    Variable(
        MASSIVA_BASE_URL_ENV,
        "a PEC Massiva server of your own",
        f"`$OPENAPI_PEC_BASE_URL{MASSIVA_PATH_ON_OWN_SERVER}` when that is set, else the environment's URL",
        "massiva, CLI, Celery",
    ),
)


def readme_table() -> str:
    """The README's table of variables, as Markdown."""
    lines = ["| Variable | Meaning | Default | Read by |", "|---|---|---|---|"]
    lines += [f"| `{v.name}` | {v.meaning} | {v.default} | {v.readers} |" for v in VARIABLES]
    return "\n".join(lines) + "\n"


def _read(name: str, env: Env | None) -> str:
    """The variable's value without surrounding blanks; "" when unset."""
    return (os.environ if env is None else env).get(name, "").strip()


def environment(value: str | None = None, *, env: Env | None = None) -> Environment:
    """``value``, else ``OPENAPI_PEC_ENVIRONMENT``, else the sandbox; any case, surrounding blanks ignored."""
    chosen = value if value is not None else _read(ENVIRONMENT_ENV, env)
    if not isinstance(chosen, str):
        raise ValidationError("environment", chosen, sorted(BASE_URLS))
    normalized = chosen.strip().lower() or DEFAULT_ENVIRONMENT
    if normalized == "production":
        return "production"
    if normalized == "sandbox":
        return "sandbox"
    source = "environment" if value is not None else ENVIRONMENT_ENV
    raise ValidationError(source, chosen, sorted(BASE_URLS))


def base_url_setting(*, env: Env | None = None) -> str | None:
    """``OPENAPI_PEC_BASE_URL`` as set, or None (the command line shows and forwards it)."""
    return _read(BASE_URL_ENV, env) or None


def base_url(value: str | None, environment: Environment, *, env: Env | None = None) -> str:
    """``value``, else ``OPENAPI_PEC_BASE_URL``, else the environment's URL."""
    chosen = value if value is not None else _read(BASE_URL_ENV, env)
    if not chosen:
        return BASE_URLS[environment]
    if not isinstance(chosen, str) or not chosen.startswith(("http://", "https://")):
        source = "base_url" if value is not None else BASE_URL_ENV
        raise ValidationError(source, chosen, "an http:// or https:// URL")
    return chosen


def token_is_set(*, env: Env | None = None) -> bool:
    return bool(_read(TOKEN_ENV, env))


def token(value: str | None = None, *, env: Env | None = None) -> str:
    """The bearer token: ``value``, else ``OPENAPI_PEC_TOKEN``; refused (never echoed) when unusable."""
    chosen = value if value is not None else _read(TOKEN_ENV, env)
    if not isinstance(chosen, str) or not chosen.strip():
        raise ValidationError("token", "", f"a bearer token: pass token= or set {TOKEN_ENV}")
    return _printable("token", chosen.strip())


def email(value: str | None = None, *, env: Env | None = None) -> str:
    """The account's e-mail: ``value``, else ``OPENAPI_EMAIL``."""
    chosen = value if value is not None else _read(EMAIL_ENV, env)
    if not isinstance(chosen, str) or "@" not in chosen.strip():
        raise ValidationError("email", chosen, f"the account's e-mail: pass email= or set {EMAIL_ENV}")
    return chosen.strip()


def api_key(value: str | None = None, *, env: Env | None = None) -> str:
    """The account's API key: ``value``, else ``OPENAPI_API_KEY``; never echoed."""
    chosen = value if value is not None else _read(API_KEY_ENV, env)
    if not isinstance(chosen, str) or not chosen.strip():
        raise ValidationError("api_key", "", f"the account's API key: pass api_key= or set {API_KEY_ENV}")
    return _printable("api_key", chosen.strip())


HTTP_LIBRARIES = ("httpx", "httpx2")


def http_library(value: str | None = None, *, env: Env | None = None) -> str | None:
    """The HTTP library to make a client with: ``value``, else ``OPENAPI_PEC_HTTP``, else None
    (httpx2 when it is installed, httpx otherwise). A client given with ``http_client=`` decides alone."""
    chosen = value if value is not None else _read(HTTP_ENV, env) or None
    if chosen is None:
        return None
    normalized = chosen.strip().lower() if isinstance(chosen, str) else chosen
    if normalized not in HTTP_LIBRARIES:
        raise ValidationError("http" if value is not None else HTTP_ENV, chosen, HTTP_LIBRARIES)
    return str(normalized)


def _printable(name: str, secret: str) -> str:
    if not all(" " < char < "\x7f" for char in secret):
        # Never echo it: a header error from the HTTP layer would quote the value.
        raise ValidationError(name, "***", "printable ASCII without spaces")
    return secret


def has_account_credentials(*, env: Env | None = None) -> bool:
    """Both ``OPENAPI_EMAIL`` and ``OPENAPI_API_KEY`` are set."""
    return bool(_read(EMAIL_ENV, env) and _read(API_KEY_ENV, env))


def token_cache_dir(*, env: Env | None = None) -> Path | None:
    """``OPENAPI_PEC_CACHE_DIR`` (``~`` expanded), or None for the platform's user cache directory."""
    chosen = _read(CACHE_DIR_ENV, env)
    return Path(chosen).expanduser() if chosen else None


def callback_secret(*, env: Env | None = None) -> str | None:
    return _read(CALLBACK_SECRET_ENV, env) or None


def embedded(*, env: Env | None = None) -> bool:
    """``OPENAPI_PEC_EMBEDDED`` says yes (``1``, ``true``, ``yes``, ``on``, any case)."""
    return _read(EMBEDDED_ENV, env).lower() in ("1", "true", "yes", "y", "on", "t")


def embedded_db(*, env: Env | None = None) -> str | None:
    return _read(EMBEDDED_DB_ENV, env) or None


def secrets(*, env: Env | None = None) -> list[str]:
    """The secret values set in the environment, which no output may show (long enough to mask)."""
    names = (TOKEN_ENV, API_KEY_ENV, CALLBACK_SECRET_ENV, MASSIVA_PASSWORD_ENV)
    values = (_read(name, env) for name in names)
    return [value for value in values if len(value) >= 4]


def massiva_base_url(value: str | None, environment: Environment, *, env: Env | None = None) -> str:
    """``value``, else ``OPENAPI_PECMASSIVA_BASE_URL``, else ``OPENAPI_PEC_BASE_URL`` + ``/pecmassiva``
    (a server of your own answers for both APIs, as ``pec sandbox serve`` does), else the
    environment's URL."""
    chosen = value if value is not None else _read(MASSIVA_BASE_URL_ENV, env)
    source = "base_url" if value is not None else MASSIVA_BASE_URL_ENV
    if not chosen:
        own = _read(BASE_URL_ENV, env)
        if not own:
            return MASSIVA_BASE_URLS[environment]
        chosen, source = own.rstrip("/") + MASSIVA_PATH_ON_OWN_SERVER, BASE_URL_ENV
    if not isinstance(chosen, str) or not chosen.startswith(("http://", "https://")):
        raise ValidationError(source, chosen, "an http:// or https:// URL")
    return chosen


def massiva_credentials(
    username: str | None = None, password: str | None = None, *, env: Env | None = None
) -> tuple[str, str]:
    """The PECMASSIVA box's username (its address) and password: the arguments, else
    ``OPENAPI_PECMASSIVA_USERNAME`` / ``OPENAPI_PECMASSIVA_PASSWORD``. The password is never echoed."""
    user = username if username is not None else _read(MASSIVA_USERNAME_ENV, env)
    # Blanks around a password may be part of it: read as set.
    secret = (
        password
        if password is not None
        else (os.environ if env is None else env).get(MASSIVA_PASSWORD_ENV, "")
    )
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
    return _printable("username", user.strip()), secret


@dataclass(frozen=True)
class RateLimit:
    per_second: float
    burst: int
    redis_url: str
    account: str


@dataclass(frozen=True)
class WorkerSettings:
    """What a Celery worker reads; None where its reader's default applies."""

    journal_url: str
    journal_lease: float | None
    timeout: float | None
    rate_limit: RateLimit | None


def worker_settings(*, env: Env | None = None) -> WorkerSettings:
    """The Celery worker's variables, checked: a wrong value names its variable."""
    rate = _read(RATE_LIMIT_ENV, env)
    limit = None
    if rate:
        per_second, _, burst = rate.partition("/")
        redis_url = _read(REDIS_URL_ENV, env)
        if not redis_url:
            raise ValidationError(
                REDIS_URL_ENV, "", "a redis:// URL: the rate limit counts in Redis", reason="not set"
            )
        limit = RateLimit(
            _positive(RATE_LIMIT_ENV, per_second, rate),
            int(_positive(RATE_LIMIT_ENV, burst or "1", rate)),
            redis_url,
            _read(ACCOUNT_ENV, env) or DEFAULT_RATE_ACCOUNT,
        )
    lease, timeout = _read(JOURNAL_LEASE_ENV, env), _read(TIMEOUT_ENV, env)
    return WorkerSettings(
        journal_url=_read(JOURNAL_URL_ENV, env) or DEFAULT_JOURNAL_URL,
        journal_lease=_positive(JOURNAL_LEASE_ENV, lease, lease) if lease else None,
        timeout=_positive(TIMEOUT_ENV, timeout, timeout) if timeout else None,
        rate_limit=limit,
    )


def _positive(name: str, text: str, shown: str) -> float:
    try:
        number = float(text)
    except ValueError:
        number = float("nan")
    if not number > 0:
        raise ValidationError(
            name, shown, "a number > 0" if name != RATE_LIMIT_ENV else "N or N/BURST, N > 0"
        )
    return number
