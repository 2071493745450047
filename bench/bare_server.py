"""Baseline for the load benchmark: the sandbox's HTTP server settings, answering a fixed envelope.

Same stdlib ``ThreadingHTTPServer``, HTTP/1.1 keep-alive, TCP_NODELAY and backlog as
``pec_ext.sandbox.server``; no routing, no state, no lock. Prints ``... listening on URL``.
"""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BODY = json.dumps({"success": True, "message": "", "error": None, "data": {"available": True}}).encode()


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def _serve(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        if length:
            self.rfile.read(length)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    do_GET = do_POST = do_PATCH = do_DELETE = _serve

    def log_message(self, format: str, *args: object) -> None:
        pass


def main() -> None:
    server = Server(("127.0.0.1", 0), Handler)
    print(f"bare server listening on http://127.0.0.1:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
