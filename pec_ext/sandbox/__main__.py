"""``python -m pec_ext.sandbox --port 8765 [--db state.sqlite] [--start DATE] [--token T=SCOPE]``: over HTTP.

``pec sandbox serve`` hands its arguments to :func:`main`: one definition of the options for both.
"""

from __future__ import annotations

import argparse
import ipaddress
import re
import sys
from collections.abc import Sequence
from datetime import datetime

from .clock import ManualClock
from .core import DEFAULT_TOKEN, LATEST_CLOCK, Sandbox
from .persistence import CorruptStateError
from .server import DEFAULT_MAX_BODY, DEFAULT_MAX_CONNECTIONS, DEFAULT_READ_TIMEOUT, SandboxServer
from .state import ROME

PROG = "python -m pec_ext.sandbox"


def build_parser(
    parser: argparse.ArgumentParser | None = None, *, prog: str = PROG
) -> argparse.ArgumentParser:
    """The server's options; pass a parser (e.g. a CLI sub-command's) to add them to it."""
    if parser is None:
        parser = argparse.ArgumentParser(
            prog=prog,
            description="Stateful simulator of Openapi's PEC API, over HTTP.",
        )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback)")
    parser.add_argument("--port", type=int, default=8765, help="port (0 picks a free one)")
    parser.add_argument("--db", default=None, help="SQLite file keeping the state across restarts")
    parser.add_argument(
        "--start",
        type=start_time,
        default=None,
        metavar="DATE[THH:MM[:SS][OFFSET]]",
        help=(
            "where the sandbox's clock starts, as an ISO 8601 date or date-time (2028-02-29, "
            "2028-02-29T10:00, 2028-02-29T10:00+01:00); a date is its 00:00 and a time without an "
            "offset is Italian time (Europe/Rome), the sandbox's calendar. The clock stands there and "
            "moves only with POST /_sandbox/advance, as it does from the real time without --start "
            "(the default). With --db, a file whose clock is later than START keeps its own: the "
            "sandbox's time never goes back; an earlier one moves on to START"
        ),
    )
    parser.add_argument("--balance", type=float, default=100.0, help="initial wallet balance, EUR")
    parser.add_argument(
        "--processing-delay",
        type=float,
        default=0.0,
        help="simulated seconds before queued processing comes due",
    )
    parser.add_argument(
        "--callback-attempts", type=int, default=5, help="tries per callback before giving up"
    )
    parser.add_argument(
        "--callback-backoff", type=float, default=0.5, help="seconds before the 2nd try, doubling after"
    )
    parser.add_argument(
        "--token",
        dest="tokens",
        action="append",
        type=token_grant,
        default=[],
        metavar="TOKEN=SCOPE[,SCOPE...]",
        help=(
            "strict-token mode (repeatable): only the tokens given are accepted (others get 401) and "
            "each only for its scopes (others get 403). A scope is METHOD:host/segment as Openapi "
            "issues them, e.g. GET:pec.openapi.it/pec; '*' stands for any method or segment "
            "(*:pec.openapi.it/*). Without --token any bearer token is accepted with every scope. "
            "The /_sandbox admin paths need no token either way. In this mode the OAuth emulation "
            "(/oauth) mints tokens only for --account's credentials, and only with its scopes"
        ),
    )
    parser.add_argument(
        "--account",
        type=account_grant,
        default=None,
        metavar="EMAIL:APIKEY[=SCOPE,...]",
        help=(
            "the account's credentials for the OAuth emulation (/oauth, HTTP Basic): only these may "
            "create tokens, and only with the scopes given (default: every PEC scope). Without it, "
            "any credentials are accepted, except in strict-token mode (--token), where none are"
        ),
    )
    parser.add_argument(
        "--read-timeout",
        type=float,
        default=DEFAULT_READ_TIMEOUT,
        help=(
            "seconds a connection may stay silent, and a request may take to arrive in full, "
            f"before the connection is closed (default: {DEFAULT_READ_TIMEOUT:g}; 0: no limit)"
        ),
    )
    parser.add_argument(
        "--max-body",
        type=int,
        default=DEFAULT_MAX_BODY,
        help=f"largest request body accepted, in bytes; larger ones get 413 (default: {DEFAULT_MAX_BODY})",
    )
    parser.add_argument(
        "--max-connections",
        type=_positive_int,
        default=DEFAULT_MAX_CONNECTIONS,
        help=(
            "connections served at once, a thread each; beyond it the connection waiting longest "
            "for its request is dropped, or the newcomer gets 503 when all are being answered "
            f"(default: {DEFAULT_MAX_CONNECTIONS})"
        ),
    )
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    return parser


def connection_lines(url: str, token: str = DEFAULT_TOKEN) -> str:
    """What to paste in another shell to point the ``pec`` command (or a PecClient) at ``url``."""
    return "\n".join(
        [
            "Point the pec command at it from another shell:",
            f"  export OPENAPI_PEC_BASE_URL={url}",
            f"  export OPENAPI_PEC_TOKEN={token}"
            + ("   # the sandbox takes any non-empty token" if token == DEFAULT_TOKEN else ""),
            "  pec boxes register --template > applicant.toml   # fill it in, then:",
            "  pec boxes register --from-file applicant.toml",
            f"Complete pending processing: pec sandbox advance  (or curl -X POST {url}/_sandbox/advance)",
            f"PEC Massiva (sending certified mail) is at {url}/pecmassiva; a PECMASSIVA box's credentials:",
            f"  curl {url}/_sandbox/massiva/credentials/BOX_ADDRESS",
            "PecClient() and AsyncPecClient() read the same two variables. Stop with Ctrl-C.",
        ]
    )


_SCOPE = re.compile(r"(?:\*|[A-Za-z]+):[^/\s,]+/[^\s,]+")


def token_grant(text: str) -> tuple[str, tuple[str, ...]]:
    """``TOKEN=SCOPE,SCOPE`` -> ``(token, scopes)``; an argparse ``type``, so errors name the option."""
    token, sep, scopes_text = text.partition("=")
    if not sep or not token.strip():
        raise argparse.ArgumentTypeError(f"expected TOKEN=SCOPE[,SCOPE...], got {text!r}")
    scopes = tuple(s.strip() for s in scopes_text.split(",") if s.strip())
    for scope in scopes:
        if not _SCOPE.fullmatch(scope):
            raise argparse.ArgumentTypeError(
                f"scope {scope!r} of token {token.strip()!r} is not METHOD:host/segment "
                "(e.g. GET:pec.openapi.it/pec)"
            )
    return token.strip(), scopes


START_FORMAT = "an ISO 8601 date or date-time, e.g. 2028-02-29 or 2028-02-29T10:00+01:00"


def start_time(text: str) -> float:
    """``--start``'s date or date-time -> Unix seconds; an argparse ``type``, so errors name the option.

    A date is its 00:00, and a time without an offset is Italian: the sandbox's dates are Rome's.
    """
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {START_FORMAT}, got {text!r}") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=ROME)
    seconds = when.timestamp()
    if not 0 <= seconds < LATEST_CLOCK:
        raise argparse.ArgumentTypeError(
            f"expected a time from 1970-01-01 to 9999-12-30 ({START_FORMAT}), got {text!r}"
        )
    return seconds


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}")
    return value


def account_grant(text: str) -> tuple[str, str, tuple[str, ...] | None]:
    """``EMAIL:APIKEY[=SCOPE,SCOPE]`` -> ``(email, key, scopes or None)``; an argparse ``type``."""
    email, sep, rest = text.partition(":")
    key, has_scopes, scopes_text = rest.partition("=")
    if not sep or "@" not in email or not key.strip():
        # never echo what might be an API key
        raise argparse.ArgumentTypeError("expected EMAIL:APIKEY[=SCOPE,...] (the e-mail, a colon, the key)")
    scopes = tuple(s.strip() for s in scopes_text.split(",") if s.strip())
    for scope in scopes:
        if not _SCOPE.fullmatch(scope):
            raise argparse.ArgumentTypeError(
                f"scope {scope!r} of --account is not METHOD:host/segment (e.g. GET:pec.openapi.it/pec)"
            )
    if has_scopes and not scopes:
        raise argparse.ArgumentTypeError("--account ...= needs at least one scope after '='")
    return email.strip(), key.strip(), scopes if has_scopes else None


def _is_loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def main(argv: Sequence[str] | None = None, *, prog: str = PROG) -> int:
    args = build_parser(prog=prog).parse_args(argv)
    account = args.account
    if not _is_loopback(args.host):
        print(
            f"warning: {args.host} is not a loopback address: the sandbox has no real auth", file=sys.stderr
        )
    try:
        sandbox = Sandbox(
            balance=args.balance,
            db_path=args.db,
            processing_delay=args.processing_delay,
            tokens=dict(args.tokens),
            strict_tokens=bool(args.tokens),
            account=None if account is None else (account[0], account[1]),
            account_scopes=None if account is None else account[2],
            # strict-token mode: the OAuth emulation must not mint a way around the given tokens
            strict_accounts=bool(args.tokens),
            callback_attempts=args.callback_attempts,
            callback_backoff=args.callback_backoff,
            # without --start: the real time, once, at start-up
            clock=ManualClock(args.start),
        )
    except CorruptStateError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    server = SandboxServer(
        sandbox,
        args.host,
        args.port,
        verbose=args.verbose,
        read_timeout=args.read_timeout if args.read_timeout > 0 else None,
        max_body=args.max_body,
        max_connections=args.max_connections,
    )
    print(f"PEC sandbox listening on {server.url}", flush=True)
    # In strict-token mode the sandbox takes only the tokens given: point the CLI at the first.
    print(connection_lines(server.url, args.tokens[0][0] if args.tokens else DEFAULT_TOKEN), flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        sandbox.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
