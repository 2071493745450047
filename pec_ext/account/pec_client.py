"""The PEC clients ``AccountClient.pec_client()`` makes: the account's token, the wallet check.

They are ``PecClient`` / ``AsyncPecClient`` on an httpx client made for them (closed with them),
whose :class:`~pec_ext.account.auth.AccountTokenAuth` puts the least-privilege token on each
request. With a wallet check, every call the client's flows yield passes it first: a paid one
(its ``Call.operation`` says so) is refused, unsent, when the balance cannot pay it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from pec_ext._engine.steps import Call
from pec_ext._pec.client import AsyncPecClient, PecClient

# The account client's check of one call (None: no wallet check).
WalletCheck = Callable[[Call], None]
AsyncWalletCheck = Callable[[Call], Awaitable[None]]


class AccountPecClient(PecClient):
    """A PecClient that runs the wallet check and closes the httpx client the account made for it."""

    def __init__(self, *args: Any, owned: Any, wallet_check: WalletCheck | None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._owned = owned
        self._wallet_check = wallet_check

    def _send(self, call: Call, seen: Any) -> Any:
        if self._wallet_check is not None:
            self._wallet_check(call)
        return super()._send(call, seen)

    def close(self) -> None:
        super().close()
        self._owned.close()


class AsyncAccountPecClient(AsyncPecClient):
    """The async mirror of :class:`AccountPecClient`."""

    def __init__(self, *args: Any, owned: Any, wallet_check: AsyncWalletCheck | None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._owned = owned
        self._wallet_check = wallet_check

    async def _send(self, call: Call, seen: Any) -> Any:
        if self._wallet_check is not None:
            await self._wallet_check(call)
        return await super()._send(call, seen)

    async def close(self) -> None:
        await super().close()
        await self._owned.aclose()
