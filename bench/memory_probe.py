"""Peak memory growth of one activation upload, measured in a fresh process (run by bench/run.py).

``python bench/memory_probe.py PDF PDF --target discard|sandbox --measure tracemalloc|rss``
prints one JSON object: the peak growth in bytes while ``activate_mailbox`` runs.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import tracemalloc
from pathlib import Path

import httpx

from pec_ext import PecClient
from pec_ext.sandbox import SANDBOX_BASE_URL, Sandbox

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import TOKEN, box_body


class DiscardTransport(httpx.BaseTransport):
    """Reads go to the sandbox; the upload's body is streamed to nowhere and answered in_evasione."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.inner = sandbox.transport()
        self.discarded = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method != "PATCH":
            return self.inner.handle_request(request)
        for chunk in request.stream:  # type: ignore[union-attr]
            self.discarded += len(chunk)
        box_id = request.url.path.split("/")[2]
        box = dict(next(b for b in self.sandbox.mailboxes() if b["id"] == box_id))
        box["stato"] = "in_evasione"
        body = {"success": True, "message": "", "error": None, "data": box}
        return httpx.Response(200, json=body)


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("pdfs", nargs="+")
    parser.add_argument("--target", choices=["discard", "sandbox"], default="discard")
    parser.add_argument("--measure", choices=["tracemalloc", "rss"], default="tracemalloc")
    args = parser.parse_args()

    sandbox = Sandbox(balance=1000.0)
    transport: httpx.BaseTransport = (
        DiscardTransport(sandbox) if args.target == "discard" else sandbox.transport()
    )
    files_bytes = sum(Path(p).stat().st_size for p in args.pdfs)
    with PecClient(token=TOKEN, base_url=SANDBOX_BASE_URL, transport=transport) as client:
        box = client.register_mailbox(**box_body("memory.probe@testcert.legalmail.it", "STANDARD"))
        client.get_mailbox(box.id)  # warm every import and cache the call path touches
        gc.collect()
        if args.measure == "tracemalloc":
            tracemalloc.start()
            before = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            result = client.activate_mailbox(box.id, args.pdfs)
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        else:
            # Writing 5 to clear_refs resets VmHWM (the peak RSS) to the current RSS.
            Path("/proc/self/clear_refs").write_text("5")
            before = _status_kb("VmRSS") * 1024
            result = client.activate_mailbox(box.id, args.pdfs)
            peak = _status_kb("VmHWM") * 1024
    out = {
        "target": args.target,
        "measure": args.measure,
        "files_bytes": files_bytes,
        "peak_growth_bytes": peak - before,
        "ratio": (peak - before) / files_bytes,
        "stato": str(result.stato),
        "discarded_bytes": getattr(transport, "discarded", None),
    }
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
