"""``python -m pec_ext.sandbox --port 8765 [--db state.sqlite] [--token T=SCOPE]``: the sandbox over HTTP."""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence

from .core import DEFAULT_TOKEN, Sandbox
from .persistence import CorruptStateError
from .server import DEFAULT_MAX_BODY, DEFAULT_READ_TIMEOUT, SandboxServer


def build_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    """The server's options; pass a parser (e.g. a CLI sub-command's) to add them to it."""
    if parser is None:
        parser = argparse.ArgumentParser(
            prog="python -m pec_ext.sandbox",
            description="Stateful simulator of Openapi's PEC API, over HTTP.",
        )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback)")
    parser.add_argument("--port", type=int, default=8765, help="port (0 picks a free one)")
    parser.add_argument("--db", default=None, help="SQLite file keeping the state across restarts")
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
            "The /_sandbox admin paths need no token either way"
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


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        sandbox = Sandbox(
            balance=args.balance,
            db_path=args.db,
            processing_delay=args.processing_delay,
            tokens=dict(args.tokens),
            strict_tokens=bool(args.tokens),
            callback_attempts=args.callback_attempts,
            callback_backoff=args.callback_backoff,
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
