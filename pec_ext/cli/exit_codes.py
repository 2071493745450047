"""The command line's exit codes, in one place: the values, their help text, and the mapping."""

from __future__ import annotations

from enum import IntEnum

from pec_ext.errors import (
    ApiError,
    OutcomeUnknownError,
    TransportError,
    UnexpectedStateError,
    ValidationError,
    WaitTimeoutError,
)


class ExitCode(IntEnum):
    """What ``pec`` exits with. 2 is click's own code for usage errors."""

    OK = 0
    FAILURE = 1
    USAGE = 2
    VALIDATION = 3
    API = 4
    TRANSPORT = 5
    OUTCOME_UNKNOWN = 6
    STATE = 7
    DECLINED = 8


EXIT_CODE_HELP: dict[ExitCode, str] = {
    ExitCode.OK: "success",
    ExitCode.FAILURE: "unexpected failure (a bug: please report it)",
    ExitCode.USAGE: "usage error: bad option or argument, missing confirmation (no TTY and no --yes)",
    ExitCode.VALIDATION: "validation error: input refused before any request was sent",
    ExitCode.API: "API error: the server refused the request (its message and code are shown)",
    ExitCode.TRANSPORT: "transport error: the request could not be completed (network, TLS, timeout)",
    ExitCode.OUTCOME_UNKNOWN: "outcome unknown: a paid call may or may not have been applied; "
    "check the account before retrying",
    ExitCode.STATE: "a wait ended in an unexpected state or ran out of time",
    ExitCode.DECLINED: "declined: you answered no to the confirmation, nothing was sent",
}


def exit_code_for(exc: BaseException) -> ExitCode:
    """The exit code for an exception raised by ``pec_ext``; order matters (a timeout on a paid
    call is both an unknown outcome and a transport error: the unknown outcome wins)."""
    if isinstance(exc, OutcomeUnknownError):
        return ExitCode.OUTCOME_UNKNOWN
    if isinstance(exc, ValidationError):
        return ExitCode.VALIDATION
    if isinstance(exc, ApiError):
        return ExitCode.API
    if isinstance(exc, TransportError):
        return ExitCode.TRANSPORT
    if isinstance(exc, UnexpectedStateError | WaitTimeoutError):
        return ExitCode.STATE
    return ExitCode.FAILURE


def help_epilog() -> str:
    """The exit-code table, for ``pec --help`` (``\\b`` keeps click from rewrapping it)."""
    lines = ["\b", "Exit codes:"]
    lines += [f"  {int(code)}  {text}" for code, text in EXIT_CODE_HELP.items()]
    return "\n".join(lines)
