"""A proxy in front of the sandbox that forwards a paid call at once and holds back its answer.

``python slow_proxy.py UPSTREAM_URL --port 0 [--hold SECONDS]``: a renewal, registration or space
change reaches (and is charged by) the sandbox immediately, but its caller waits ``--hold``
seconds for the answer: the window in which a caller killed has paid without knowing it.
"""

from __future__ import annotations

import argparse
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import httpx

PAID = ("/rinnovo", "/modifica")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("upstream")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--hold", type=float, default=30.0)
    args = parser.parse_args()
    upstream = httpx.Client(base_url=args.upstream, timeout=10)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _forward(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
            answer = upstream.request(self.command, self.path, headers=headers, content=body)
            path = urlsplit(self.path).path
            if path.endswith(PAID) or (self.command == "POST" and path == "/pec"):
                time.sleep(args.hold)
            self.send_response(answer.status_code)
            self.send_header("Content-Type", answer.headers.get("content-type", "application/json"))
            self.send_header("Content-Length", str(len(answer.content)))
            self.end_headers()
            self.wfile.write(answer.content)

        do_GET = do_POST = do_PATCH = do_DELETE = _forward

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    print(f"slow proxy listening on http://127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
