"""A sandbox server whose clock runs 1000 times faster than real time (for the bulk-send test).

Prints ``PEC sandbox listening on URL`` as ``pec sandbox serve`` does, then serves until killed.
"""

from __future__ import annotations

import time

from pec_ext.sandbox import Sandbox, SandboxServer, record_only

SPEED = 1000.0
START = 1_767_225_600.0  # 2026-01-01T00:00:00Z


class FastClock:
    """Virtual time at SPEED x real time, from a fixed start; ``advance`` adds to it."""

    def __init__(self) -> None:
        self._origin = time.monotonic()
        self._offset = START

    def now(self) -> float:
        return self._offset + (time.monotonic() - self._origin) * SPEED

    def advance(self, seconds: float) -> None:
        self._offset += seconds

    def set(self, when: float) -> None:
        self._offset += when - self.now()


def main() -> None:
    sandbox = Sandbox(clock=FastClock(), callback_sender=record_only, balance=1000.0)
    server = SandboxServer(sandbox, "127.0.0.1", 0)
    print(f"PEC sandbox listening on {server.url}", flush=True)
    try:
        server.serve_forever()
    finally:
        server.stop()
        sandbox.close()


if __name__ == "__main__":
    main()
