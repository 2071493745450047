"""``PecClient`` and ``AsyncPecClient``: one method per operation, plus the helpers.

Both are thin drivers (``_driver``) over the flows of ``_flows`` (what to do) and the call path of
``_engine.judge`` (how to judge an answer); they only differ in how they wait and send, so they stay mirrors.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar, Unpack

from pec_ext import config
from pec_ext._engine import retry, steps
from pec_ext._engine.clock import Clock
from pec_ext._engine.driver import AsyncDriver, SyncDriver
from pec_ext._engine.steps import Flow
from pec_ext._pec import flows as _flows
from pec_ext._pec import intents as journal_ops
from pec_ext._pec.flows import Settings
from pec_ext._pec.operations import OPERATIONS
from pec_ext.callbacks.events import secret_bytes
from pec_ext.config import BASE_URLS, ENVIRONMENT_ENV, TOKEN_ENV
from pec_ext.errors import ValidationError
from pec_ext.types import CommunicationFields, RegisterFields, UserFields

if TYPE_CHECKING:
    import httpx
    import httpx2

    from pec_api.models.body_post_comunica_pec import BodyPostComunicaPec
    from pec_api.models.body_post_multiutenza import BodyPostMultiutenza
    from pec_api.models.body_post_pec import BodyPostPec
    from pec_api.models.casella import Casella
    from pec_api.models.caselle import Caselle
    from pec_api.models.check_availability_response_200_data import CheckAvailabilityResponse200Data
    from pec_api.models.richiesta_comunicazione_pec import RichiestaComunicazionePec
    from pec_api.models.richieste_comunicazione_pec import RichiesteComunicazionePec
    from pec_ext.documents.reading import DocumentSource
    from pec_ext.journal.base import Intent, Journal

T = TypeVar("T")

# A generated body model or a mapping, positionally; keyword fields given too override it.
RegisterBody: TypeAlias = "BodyPostPec | Mapping[str, Any] | None"
CommunicationBody: TypeAlias = "BodyPostComunicaPec | Mapping[str, Any] | None"
UserBody: TypeAlias = "BodyPostMultiutenza | Mapping[str, Any] | None"

__all__ = ["BASE_URLS", "ENVIRONMENT_ENV", "TOKEN_ENV", "AsyncPecClient", "PecClient"]


class _PecSetup:
    """The PEC client's configuration, shared by both drivers."""

    settings: Settings
    _options: Any

    def _configure(
        self,
        *,
        token: str | None,
        environment: str | None,
        base_url: str | None,
        strict_identifiers: bool | None,
        callback_secret: str | bytes | None,
    ) -> tuple[str, str]:
        env = config.environment(environment)
        # Strict in production; the Openapi sandbox's own examples use invalid fiscal codes.
        strict = env == "production" if strict_identifiers is None else strict_identifiers
        secret = None if callback_secret is None else secret_bytes(callback_secret)
        self.settings = Settings(environment=env, strict_identifiers=strict, callback_secret=secret)
        return config.base_url(base_url, env), f"Bearer {config.token(token)}"

    def _with_journal(self, journal: Journal | None) -> None:
        if journal is not None:
            self._options = replace(self._options, journal=steps.check_journal(journal))

    def _paid(self, key: str | None, intent: Intent, plain: Flow[T]) -> Flow[T]:
        """``plain``, or with an idempotency key (this call's, else the client's) the journaled call."""
        chosen = steps.check_idempotency_key(key) if key is not None else self._options.idempotency_key
        if chosen is None:
            return plain
        plain.close()
        if self._options.journal is None:
            raise ValidationError(
                "journal",
                None,
                "a pec_ext.journal.base.Journal: PecClient(journal=...) or with_options(journal=...)",
                reason=f"idempotency_key {chosen!r} needs a journal to record the call in",
            )
        if getattr(self, "_raw", False):
            raise ValidationError(
                "idempotency_key", chosen, reason="with_raw_response cannot replay a recorded result"
            )
        journaled: Flow[T] = self._options.journal.execute(chosen, intent)
        return journaled

    def _unjournaled(self, operation: str, plain: Flow[T]) -> Flow[T]:
        """``plain``, a call no journal intent covers; refused when paid under the client's key.

        A client-wide idempotency key promises that this client's paid calls are never sent twice;
        a paid operation the journal cannot reconcile (no state tells whether it was applied) would
        silently go unjournaled, so it is refused before anything is sent.
        """
        key = self._options.idempotency_key
        if key is not None and OPERATIONS[operation].paid:
            plain.close()
            raise ValidationError(
                "idempotency_key",
                key,
                "no client-wide key (with_options(idempotency_key=None)) for this call",
                reason=f"{operation} is paid but has no journaled form: its key would protect nothing",
            )
        return plain

    @property
    def environment(self) -> str:
        return self.settings.environment

    def __repr__(self) -> str:
        name = type(self).__name__
        base_url = getattr(self, "base_url", "?")
        return f"{name}(environment={self.environment!r}, base_url={base_url!r}, token='***')"


class PecClient(_PecSetup, SyncDriver):
    """Synchronous client. Use as a context manager, or call :meth:`close`.

    ``http_client=``: an ``httpx.Client`` or ``httpx2.Client`` of yours (proxy, mTLS ``cert``, CA
    bundle ``verify``, limits, ``http2``, event hooks, tracing); every request goes through its
    ``send()``, and requests, responses and exceptions are that library's. A client you give is
    never closed by this one: close it yourself. Without it, one is made here (with httpx2 when it
    is installed, else httpx; ``http="httpx"`` or ``"httpx2"``, or ``OPENAPI_PEC_HTTP``, chooses)
    and closed by :meth:`close`. ``timeout`` is a deadline in seconds for each call, retries and backoff
    included. ``clock`` gives the time, sleep and jitter (``Sandbox.client()`` uses virtual time).
    """

    def __init__(
        self,
        token: str | None = None,
        *,
        environment: str | None = None,
        base_url: str | None = None,
        timeout: float | None = retry.DEFAULT_TIMEOUT_SECONDS,
        max_retries: int = retry.DEFAULT_MAX_RETRIES,
        http_client: httpx.Client | httpx2.Client | None = None,
        transport: httpx.BaseTransport | httpx2.BaseTransport | None = None,
        http: str | None = None,
        extra_headers: Mapping[str, str] | None = None,
        strict_identifiers: bool | None = None,
        clock: Clock | None = None,
        callback_secret: str | bytes | None = None,
        journal: Journal | None = None,
    ) -> None:
        url, authorization = self._configure(
            token=token,
            environment=environment,
            base_url=base_url,
            strict_identifiers=strict_identifiers,
            callback_secret=callback_secret,
        )
        self._setup(
            base_url=url,
            authorization=authorization,
            timeout=timeout,
            max_retries=max_retries,
            extra_headers=extra_headers,
            clock=clock,
            http_client=http_client,
            transport=transport,
            http=config.http_library(http),
        )
        self._with_journal(journal)

    # -- operations ---------------------------------------------------------------------------

    def check_domain(self, dominio: str) -> list[str]:
        """Check whether a domain can send and receive PEC (paid); see ``is_domain_eligible``."""
        return self._run(self._unjournaled("check_domain", _flows.check_domain(dominio)))

    def is_domain_eligible(self, dominio: str) -> bool:
        """True when the API answers 200 for the domain, False on its 204 "No Content" (paid)."""
        return self._run(self._unjournaled("check_domain", _flows.is_domain_eligible(dominio)))

    def check_availability(self, pec: str) -> CheckAvailabilityResponse200Data:
        """Whether an address can still be registered."""
        return self._run(_flows.check_availability(pec))

    def is_available(self, pec: str) -> bool:
        """True when ``pec`` can be registered."""
        return self._run(_flows.is_available(pec))

    def list_mailboxes(self) -> list[Caselle]:
        """The account's boxes (an empty list when there are none)."""
        return self._run(_flows.list_mailboxes())

    def register_mailbox(
        self,
        body: RegisterBody = None,
        /,
        *,
        own_domain: bool = False,
        idempotency_key: str | None = None,
        **fields: Unpack[RegisterFields],
    ) -> Casella:
        """Register a box (paid). Fields as keyword arguments named as the API's, or a body model."""
        merged = _flows._body(body, fields)
        today = self._options.clock.today()
        return self._run(
            self._paid(
                idempotency_key,
                journal_ops.register(self.settings, merged, own_domain, today=today),
                _flows.register_mailbox(self.settings, None, merged, own_domain, today),
            )
        )

    def get_mailbox(self, id: str, /) -> Casella:
        return self._run(_flows.get_mailbox(id))

    def revoke_mailbox(self, id: str, /, *, idempotency_key: str | None = None) -> Casella:
        return self._run(self._paid(idempotency_key, journal_ops.revoke(id), _flows.revoke_mailbox(id)))

    def activate_mailbox(
        self, id: str, documents: Sequence[DocumentSource], /, *, idempotency_key: str | None = None
    ) -> Casella:
        """Upload the signed form and identity document (PDF paths, bytes or binary files)."""
        documents = list(documents)
        return self._run(
            self._paid(
                idempotency_key,
                journal_ops.activate(id, documents),
                _flows.activate_mailbox(id, documents),
            )
        )

    def change_space(self, id: str, /, **body: Any) -> Casella:
        """Send spazio_disco / spazio_storico / spazio_conservazione as given (paid)."""
        return self._run(self._unjournaled("change_space", _flows.change_space(id, body)))

    def add_space(
        self,
        id: str,
        /,
        *,
        disco: int | None = None,
        storico: int | None = None,
        conservazione: int | None = None,
        idempotency_key: str | None = None,
    ) -> Casella:
        """Add MB to the box's spaces (sent as ``"+N"``; paid)."""
        return self._run(
            self._paid(
                idempotency_key,
                journal_ops.add_space(id, disco, storico, conservazione),
                _flows.add_space(id, disco, storico, conservazione),
            )
        )

    def set_space(
        self,
        id: str,
        /,
        *,
        disco: int | None = None,
        storico: int | None = None,
        conservazione: int | None = None,
        idempotency_key: str | None = None,
    ) -> Casella:
        """Set the box's spaces to absolute MB values; a downgrade is refused (paid)."""
        return self._run(
            self._paid(
                idempotency_key,
                journal_ops.set_space(id, disco, storico, conservazione),
                _flows.set_space(id, disco, storico, conservazione),
            )
        )

    def activate_conservation(
        self, id: str, documents: Sequence[DocumentSource], /, *, space: int | None = None
    ) -> Casella:
        return self._run(
            self._unjournaled("activate_conservation", _flows.activate_conservation(id, documents, space))
        )

    def change_type(self, id: str, tipo_casella: str, /, *, idempotency_key: str | None = None) -> Casella:
        """Upgrade the box type (STANDARD < BRONZE < SILVER < GOLD; paid)."""
        return self._run(
            self._paid(
                idempotency_key,
                journal_ops.change_type(id, tipo_casella),
                _flows.change_type(id, tipo_casella),
            )
        )

    def renew_mailbox(self, id: str, /, anni: int = 1, *, idempotency_key: str | None = None) -> Casella:
        """Renew for ``anni`` years (paid; never retried)."""
        return self._run(
            self._paid(idempotency_key, journal_ops.renew(id, anni), _flows.renew_mailbox(id, anni))
        )

    def add_user(self, id: str, body: UserBody = None, /, **fields: Unpack[UserFields]) -> Casella:
        return self._run(self._unjournaled("add_user", _flows.add_user(id, body, fields)))

    def list_communications(self) -> list[RichiesteComunicazionePec]:
        return self._run(_flows.list_communications())

    def communicate_pec(
        self, body: CommunicationBody = None, /, **fields: Unpack[CommunicationFields]
    ) -> RichiestaComunicazionePec:
        """Ask for the communication of a PEC address to the business register (paid)."""
        return self._run(
            self._unjournaled("communicate_pec", _flows.communicate_pec(self.settings, body, fields))
        )

    def get_communication(self, id: str, /) -> RichiestaComunicazionePec:
        return self._run(_flows.get_communication(id))

    def upload_communication_documents(self, id: str, documents: Any, /) -> RichiestaComunicazionePec:
        """Upload the signed power of attorney (.p7m, CAdES)."""
        return self._run(_flows.upload_communication_documents(id, documents))

    def download_activation_form(
        self, id: str, /, to: str | os.PathLike[str] | None = None, *, overwrite: bool = False
    ) -> bytes:
        return self._run(_flows.download("download_activation_form", id, to, overwrite))

    def download_conservation_form(
        self, id: str, /, to: str | os.PathLike[str] | None = None, *, overwrite: bool = False
    ) -> bytes:
        return self._run(_flows.download("download_conservation_form", id, to, overwrite))

    def download_power_of_attorney(
        self, id: str, /, to: str | os.PathLike[str] | None = None, *, overwrite: bool = False
    ) -> bytes:
        return self._run(_flows.download("download_power_of_attorney", id, to, overwrite))

    def wait_for_mailbox(
        self, id: str, /, until: Collection[str] = ("evasa",), *, timeout: float = 600.0, poll: float = 5.0
    ) -> Casella:
        """Poll until the box reaches a state in ``until``; stops early on another final state."""
        return self._run(_flows.wait_for_mailbox(id, until, timeout, poll, self._options.clock.monotonic))

    def wait_for_communication(
        self,
        id: str,
        /,
        until: Collection[str] = ("comunicazione_evasa",),
        *,
        timeout: float = 600.0,
        poll: float = 5.0,
    ) -> RichiestaComunicazionePec:
        return self._run(
            _flows.wait_for_communication(id, until, timeout, poll, self._options.clock.monotonic)
        )

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        idempotent: bool | None = None,
    ) -> Any:
        """Call an endpoint the spec lacks (e.g. ``/dominio``); returns the envelope's ``data``."""
        return self._run(_flows.raw(method, path, params, json, idempotent))


class AsyncPecClient(_PecSetup, AsyncDriver):
    """Asynchronous client; mirrors :class:`PecClient` method for method.

    ``http_client=`` takes an ``httpx.AsyncClient`` or ``httpx2.AsyncClient`` of yours, never
    closed by this one. Blocking
    work (reading and checking documents, base64, writing forms with fsync) runs in a worker
    thread, so the event loop is never held up by it.
    """

    def __init__(
        self,
        token: str | None = None,
        *,
        environment: str | None = None,
        base_url: str | None = None,
        timeout: float | None = retry.DEFAULT_TIMEOUT_SECONDS,
        max_retries: int = retry.DEFAULT_MAX_RETRIES,
        http_client: httpx.AsyncClient | httpx2.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | httpx2.AsyncBaseTransport | None = None,
        http: str | None = None,
        extra_headers: Mapping[str, str] | None = None,
        strict_identifiers: bool | None = None,
        clock: Clock | None = None,
        callback_secret: str | bytes | None = None,
        journal: Journal | None = None,
    ) -> None:
        url, authorization = self._configure(
            token=token,
            environment=environment,
            base_url=base_url,
            strict_identifiers=strict_identifiers,
            callback_secret=callback_secret,
        )
        self._setup(
            base_url=url,
            authorization=authorization,
            timeout=timeout,
            max_retries=max_retries,
            extra_headers=extra_headers,
            clock=clock,
            http_client=http_client,
            transport=transport,
            http=config.http_library(http),
        )
        self._with_journal(journal)

    # -- operations ---------------------------------------------------------------------------

    async def check_domain(self, dominio: str) -> list[str]:
        """Check whether a domain can send and receive PEC (paid); see ``is_domain_eligible``."""
        return await self._run(self._unjournaled("check_domain", _flows.check_domain(dominio)))

    async def is_domain_eligible(self, dominio: str) -> bool:
        """True when the API answers 200 for the domain, False on its 204 "No Content" (paid)."""
        return await self._run(self._unjournaled("check_domain", _flows.is_domain_eligible(dominio)))

    async def check_availability(self, pec: str) -> CheckAvailabilityResponse200Data:
        """Whether an address can still be registered."""
        return await self._run(_flows.check_availability(pec))

    async def is_available(self, pec: str) -> bool:
        """True when ``pec`` can be registered."""
        return await self._run(_flows.is_available(pec))

    async def list_mailboxes(self) -> list[Caselle]:
        """The account's boxes (an empty list when there are none)."""
        return await self._run(_flows.list_mailboxes())

    async def register_mailbox(
        self,
        body: RegisterBody = None,
        /,
        *,
        own_domain: bool = False,
        idempotency_key: str | None = None,
        **fields: Unpack[RegisterFields],
    ) -> Casella:
        """Register a box (paid). Fields as keyword arguments named as the API's, or a body model."""
        merged = _flows._body(body, fields)
        today = self._options.clock.today()
        return await self._run(
            self._paid(
                idempotency_key,
                journal_ops.register(self.settings, merged, own_domain, today=today),
                _flows.register_mailbox(self.settings, None, merged, own_domain, today),
            )
        )

    async def get_mailbox(self, id: str, /) -> Casella:
        return await self._run(_flows.get_mailbox(id))

    async def revoke_mailbox(self, id: str, /, *, idempotency_key: str | None = None) -> Casella:
        return await self._run(self._paid(idempotency_key, journal_ops.revoke(id), _flows.revoke_mailbox(id)))

    async def activate_mailbox(
        self, id: str, documents: Sequence[DocumentSource], /, *, idempotency_key: str | None = None
    ) -> Casella:
        """Upload the signed form and identity document (PDF paths, bytes or binary files)."""
        documents = list(documents)
        return await self._run(
            self._paid(
                idempotency_key,
                journal_ops.activate(id, documents),
                _flows.activate_mailbox(id, documents),
            )
        )

    async def change_space(self, id: str, /, **body: Any) -> Casella:
        """Send spazio_disco / spazio_storico / spazio_conservazione as given (paid)."""
        return await self._run(self._unjournaled("change_space", _flows.change_space(id, body)))

    async def add_space(
        self,
        id: str,
        /,
        *,
        disco: int | None = None,
        storico: int | None = None,
        conservazione: int | None = None,
        idempotency_key: str | None = None,
    ) -> Casella:
        """Add MB to the box's spaces (sent as ``"+N"``; paid)."""
        return await self._run(
            self._paid(
                idempotency_key,
                journal_ops.add_space(id, disco, storico, conservazione),
                _flows.add_space(id, disco, storico, conservazione),
            )
        )

    async def set_space(
        self,
        id: str,
        /,
        *,
        disco: int | None = None,
        storico: int | None = None,
        conservazione: int | None = None,
        idempotency_key: str | None = None,
    ) -> Casella:
        """Set the box's spaces to absolute MB values; a downgrade is refused (paid)."""
        return await self._run(
            self._paid(
                idempotency_key,
                journal_ops.set_space(id, disco, storico, conservazione),
                _flows.set_space(id, disco, storico, conservazione),
            )
        )

    async def activate_conservation(
        self, id: str, documents: Sequence[DocumentSource], /, *, space: int | None = None
    ) -> Casella:
        return await self._run(
            self._unjournaled("activate_conservation", _flows.activate_conservation(id, documents, space))
        )

    async def change_type(
        self, id: str, tipo_casella: str, /, *, idempotency_key: str | None = None
    ) -> Casella:
        """Upgrade the box type (STANDARD < BRONZE < SILVER < GOLD; paid)."""
        return await self._run(
            self._paid(
                idempotency_key,
                journal_ops.change_type(id, tipo_casella),
                _flows.change_type(id, tipo_casella),
            )
        )

    async def renew_mailbox(
        self, id: str, /, anni: int = 1, *, idempotency_key: str | None = None
    ) -> Casella:
        """Renew for ``anni`` years (paid; never retried)."""
        return await self._run(
            self._paid(idempotency_key, journal_ops.renew(id, anni), _flows.renew_mailbox(id, anni))
        )

    async def add_user(self, id: str, body: UserBody = None, /, **fields: Unpack[UserFields]) -> Casella:
        return await self._run(self._unjournaled("add_user", _flows.add_user(id, body, fields)))

    async def list_communications(self) -> list[RichiesteComunicazionePec]:
        return await self._run(_flows.list_communications())

    async def communicate_pec(
        self, body: CommunicationBody = None, /, **fields: Unpack[CommunicationFields]
    ) -> RichiestaComunicazionePec:
        """Ask for the communication of a PEC address to the business register (paid)."""
        return await self._run(
            self._unjournaled("communicate_pec", _flows.communicate_pec(self.settings, body, fields))
        )

    async def get_communication(self, id: str, /) -> RichiestaComunicazionePec:
        return await self._run(_flows.get_communication(id))

    async def upload_communication_documents(self, id: str, documents: Any, /) -> RichiestaComunicazionePec:
        """Upload the signed power of attorney (.p7m, CAdES)."""
        return await self._run(_flows.upload_communication_documents(id, documents))

    async def download_activation_form(
        self, id: str, /, to: str | os.PathLike[str] | None = None, *, overwrite: bool = False
    ) -> bytes:
        return await self._run(_flows.download("download_activation_form", id, to, overwrite))

    async def download_conservation_form(
        self, id: str, /, to: str | os.PathLike[str] | None = None, *, overwrite: bool = False
    ) -> bytes:
        return await self._run(_flows.download("download_conservation_form", id, to, overwrite))

    async def download_power_of_attorney(
        self, id: str, /, to: str | os.PathLike[str] | None = None, *, overwrite: bool = False
    ) -> bytes:
        return await self._run(_flows.download("download_power_of_attorney", id, to, overwrite))

    async def wait_for_mailbox(
        self, id: str, /, until: Collection[str] = ("evasa",), *, timeout: float = 600.0, poll: float = 5.0
    ) -> Casella:
        """Poll until the box reaches a state in ``until``; stops early on another final state."""
        return await self._run(
            _flows.wait_for_mailbox(id, until, timeout, poll, self._options.clock.monotonic)
        )

    async def wait_for_communication(
        self,
        id: str,
        /,
        until: Collection[str] = ("comunicazione_evasa",),
        *,
        timeout: float = 600.0,
        poll: float = 5.0,
    ) -> RichiestaComunicazionePec:
        return await self._run(
            _flows.wait_for_communication(id, until, timeout, poll, self._options.clock.monotonic)
        )

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        idempotent: bool | None = None,
    ) -> Any:
        """Call an endpoint the spec lacks (e.g. ``/dominio``); returns the envelope's ``data``."""
        return await self._run(_flows.raw(method, path, params, json, idempotent))
