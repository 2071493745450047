"""``python -m pec_ext.sandbox --port 8765 [--db state.sqlite]``: the sandbox as an HTTP server."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .core import DEFAULT_TOKEN, Sandbox
from .server import SandboxServer


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
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    return parser


def connection_lines(url: str) -> str:
    """What to paste in another shell to point the ``pec`` command (or a PecClient) at ``url``."""
    return "\n".join(
        [
            "Point the pec command at it from another shell:",
            f"  export OPENAPI_PEC_BASE_URL={url}",
            f"  export OPENAPI_PEC_TOKEN={DEFAULT_TOKEN}   # the sandbox takes any non-empty token",
            "  pec boxes register --template > applicant.toml   # fill it in, then:",
            "  pec boxes register --from-file applicant.toml",
            f"Complete pending processing: pec sandbox advance  (or curl -X POST {url}/_sandbox/advance)",
            "PecClient() and AsyncPecClient() read the same two variables. Stop with Ctrl-C.",
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    sandbox = Sandbox(
        balance=args.balance,
        db_path=args.db,
        processing_delay=args.processing_delay,
        callback_attempts=args.callback_attempts,
        callback_backoff=args.callback_backoff,
    )
    server = SandboxServer(sandbox, args.host, args.port, verbose=args.verbose)
    print(f"PEC sandbox listening on {server.url}", flush=True)
    print(connection_lines(server.url), flush=True)
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
