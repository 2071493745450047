"""Bearer tokens and Openapi-style scopes (``METHOD:host/first-path-segment``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from .errors import fail

HOSTS = ("pec.openapi.it", "test.pec.openapi.it")
SEGMENTS = ("pec", "domini_pec", "verifica_pec", "comunica_pec")
METHODS = ("GET", "POST", "PATCH", "DELETE")

ALL_SCOPES: tuple[str, ...] = tuple(
    f"{method}:{HOSTS[0]}/{segment}" for segment in SEGMENTS for method in METHODS
)


def scope_for(method: str, path: str, host: str = HOSTS[0]) -> str:
    segment = path.strip("/").split("/", 1)[0]
    return f"{method.upper()}:{host}/{segment}"


def _grants(granted: str, method: str, segment: str, hosts: tuple[str, ...] = HOSTS) -> bool:
    try:
        g_method, rest = granted.split(":", 1)
        g_host, g_segment = rest.split("/", 1)
    except ValueError:
        return False
    # Openapi issues tokens for production and for the test host; either is fine here.
    host_ok = g_host in hosts or g_host == "*"
    return host_ok and g_method.upper() in (method, "*") and g_segment.strip("/") in (segment, "*")


class TokenTable:
    def __init__(self, tokens: Mapping[str, Iterable[str]] | None = None, *, strict: bool = False) -> None:
        self.strict = strict
        self._tokens: dict[str, tuple[str, ...]] = {}
        # Tokens of the OAuth emulation: when they expire, and those deleted or replaced, which are
        # refused even when unknown tokens are let through (strict=False).
        self._expires: dict[str, float] = {}
        self._revoked: set[str] = set()
        for token, scopes in (tokens or {}).items():
            self.add(token, scopes)

    def add(self, token: str, scopes: Iterable[str], *, expires_at: float | None = None) -> None:
        self._tokens[token] = tuple(scopes)
        self._revoked.discard(token)
        if expires_at is None:
            self._expires.pop(token, None)
        else:
            self._expires[token] = expires_at

    def remove(self, token: str) -> None:
        self._tokens.pop(token, None)

    def revoke(self, token: str) -> None:
        """A deleted token: refused from now on, whatever ``strict`` says."""
        self.remove(token)
        self._expires.pop(token, None)
        self._revoked.add(token)

    def check(
        self,
        authorization: str | None,
        method: str,
        path: str,
        *,
        now: float | None = None,
        hosts: tuple[str, ...] = HOSTS,
    ) -> None:
        """Refuses (401/403) unless the bearer token holds ``METHOD:host/segment`` for one of ``hosts``
        (the PEC API's by default; the PEC Massiva side passes its own)."""
        token = ""
        if authorization:
            kind, _, value = authorization.partition(" ")
            if kind.lower() == "bearer":
                token = value.strip()
        if not token or token in self._revoked:
            raise fail("unauthorized")
        expires = self._expires.get(token)
        if expires is not None and now is not None and now >= expires:
            raise fail("token_expired")
        scopes = self._tokens.get(token)
        if scopes is None:
            if self.strict:
                raise fail("unauthorized")
            return
        needed = scope_for(method, path, hosts[0])
        segment = needed.rsplit("/", 1)[1]
        if not any(_grants(s, method.upper(), segment, hosts) for s in scopes):
            raise fail("forbidden", scope=needed)
