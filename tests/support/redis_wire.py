"""What a Redis client puts on the wire: the commands it sends and the answers it waits for."""

from __future__ import annotations

from typing import Any

import redis


class RedisWire:
    """Counts, over every connection of the pools it makes, commands sent and answers read."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.answers = 0

    def clear(self) -> None:
        self.sent.clear()
        self.answers = 0

    def pool(self, url: str) -> redis.ConnectionPool:
        wire = self

        class CountingConnection(redis.Connection):
            def send_command(self, *args: Any, **kwargs: Any) -> None:
                name = args[0]
                wire.sent.append(name.decode() if isinstance(name, bytes) else str(name))
                super().send_command(*args, **kwargs)

            def read_response(self, *args: Any, **kwargs: Any) -> Any:
                wire.answers += 1
                return super().read_response(*args, **kwargs)

        return redis.ConnectionPool.from_url(url, connection_class=CountingConnection)
