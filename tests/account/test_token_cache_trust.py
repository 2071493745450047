"""The token cache under attack (issue 19, points 12-14): it trusts only what the user made."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from pec_ext import ValidationError
from pec_ext.account.token_cache import CachedToken, TokenCache, TokenProvider, cache_key

SCOPES = ["GET:test.pec.openapi.it/pec"]
OTHER_USER = 65534  # nobody
NOW = 1_000_000.0


def provider(cache: TokenCache) -> TokenProvider:
    return TokenProvider(environment="sandbox", email="a@b.it", scopes=SCOPES, clock=lambda: NOW, cache=cache)


def issuer(log: list[str]):
    def issue(previous: CachedToken | None) -> CachedToken:
        log.append("issued")
        return CachedToken(f"tok-{len(log)}", tuple(SCOPES), NOW + 3600, NOW, None)

    return issue


def planted(path: Path) -> None:
    """What another local user writes: a token of their own account, under the victim's key."""
    key = cache_key("sandbox", "a@b.it", SCOPES)
    entry = {"token": "planted", "scopes": SCOPES, "expires_at": NOW + 3600, "issued_at": NOW}
    path.write_text(json.dumps({key: entry}))


def test_a_directory_writable_by_others_is_refused(tmp_path: Path) -> None:
    directory = tmp_path / "shared"
    directory.mkdir()
    planted(directory / "tokens.json")
    directory.chmod(0o777)
    log: list[str] = []
    with pytest.raises(ValidationError, match="only you may write"):
        provider(TokenCache(directory)).token(issuer(log))
    assert log == []


@pytest.mark.skipif(os.getuid() != 0, reason="giving a file to another user needs root")
def test_a_directory_or_file_of_another_user_is_refused(tmp_path: Path) -> None:
    directory = tmp_path / "theirs"
    directory.mkdir(mode=0o755)
    planted(directory / "tokens.json")
    os.chown(directory, OTHER_USER, OTHER_USER)
    with pytest.raises(ValidationError, match="owned by you"):
        provider(TokenCache(directory)).token(issuer([]))
    mine = tmp_path / "mine"
    mine.mkdir(mode=0o700)
    planted(mine / "tokens.json")
    os.chown(mine / "tokens.json", OTHER_USER, OTHER_USER)
    with pytest.raises(ValidationError, match="owned by you"):
        provider(TokenCache(mine)).token(issuer([]))


def test_tokens_json_is_not_read_through_a_symbolic_link(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere.json"
    planted(elsewhere)
    directory = tmp_path / "cache"
    directory.mkdir(mode=0o700)
    (directory / "tokens.json").symlink_to(elsewhere)
    with pytest.raises(ValidationError, match="symbolic link"):
        provider(TokenCache(directory)).token(issuer([]))


def test_a_file_writable_by_others_is_refused(tmp_path: Path) -> None:
    directory = tmp_path / "cache"
    directory.mkdir(mode=0o700)
    planted(directory / "tokens.json")
    (directory / "tokens.json").chmod(0o666)
    with pytest.raises(ValidationError, match="only you may write"):
        provider(TokenCache(directory)).token(issuer([]))


def test_a_malformed_entry_is_skipped_and_makes_no_orphan_tokens(tmp_path: Path) -> None:
    directory = tmp_path / "cache"
    directory.mkdir(mode=0o700)
    bad = {"token": "x", "scopes": SCOPES, "expires_at": "soon", "issued_at": NOW}
    (directory / "tokens.json").write_text(json.dumps({"another-key": bad, "junk": 3}))
    (directory / "tokens.json").chmod(0o600)
    log: list[str] = []
    tokens = [provider(TokenCache(directory)).token(issuer(log)) for _ in range(3)]
    assert tokens == ["tok-1"] * 3
    assert log == ["issued"]  # one token made, and kept


def test_a_401_forgets_only_the_refused_token(tmp_path: Path) -> None:
    cache = TokenCache(tmp_path / "cache")
    log: list[str] = []
    first, second = provider(cache), provider(cache)  # two processes
    assert first.token(issuer(log)) == second.token(issuer(log)) == "tok-1"
    # tok-1 is revoked: both meet a 401; the first replaces it, then the second forgets ...
    first.forget("tok-1")
    assert first.token(issuer(log)) == "tok-2"
    second.forget("tok-1")
    # ... only tok-1: it finds tok-2 in the file instead of making a third token
    assert second.token(issuer(log)) == "tok-2"
    assert log == ["issued", "issued"]
