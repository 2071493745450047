from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pec_ext.journal.base import JournalStore
from tests.support.fleet import redis_server


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real redis-server on 127.0.0.1, for the whole session."""
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture
def fresh_redis(redis_url: str) -> Iterator[str]:
    import redis

    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    client.close()
    return redis_url


@pytest.fixture(params=["sqlite", "redis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[JournalStore]:
    """Each journal backend in turn, empty."""
    if request.param == "sqlite":
        from pec_ext.journal.sqlite import SqliteJournalStore

        made: JournalStore = SqliteJournalStore(tmp_path / "journal.sqlite")
    else:
        from pec_ext.journal.redis import RedisJournalStore

        url = request.getfixturevalue("fresh_redis")
        made = RedisJournalStore.from_url(url)
    yield made
    made.close()
