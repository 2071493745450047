"""``PecClient`` and ``AsyncPecClient``: one method per operation, plus the helpers.

Both are thin drivers over the flows of ``_flows`` (what to do) and the call path of ``_core``
(how to judge an answer); they only differ in how they wait and send, so they stay mirrors.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from . import _core, _flows, retry
from ._core import Call, Flow, Retry, Sleep
from ._flows import Environment, Settings
from .errors import PecError, ValidationError

if TYPE_CHECKING:
    from types import TracebackType

    from pec_api.models.casella import Casella
    from pec_api.models.caselle import Caselle
    from pec_api.models.check_availability_response_200_data import CheckAvailabilityResponse200Data
    from pec_api.models.richiesta_comunicazione_pec import RichiestaComunicazionePec
    from pec_api.models.richieste_comunicazione_pec import RichiesteComunicazionePec

    from .documents import DocumentSource

T = TypeVar("T")
logger = logging.getLogger("pec_ext")

BASE_URLS: Mapping[str, str] = {
    "production": "https://pec.openapi.it",
    "sandbox": "https://test.pec.openapi.it",
}
TOKEN_ENV = "OPENAPI_PEC_TOKEN"  # noqa: S105 - the variable's name, not a token
ENVIRONMENT_ENV = "OPENAPI_PEC_ENVIRONMENT"
USER_AGENT = "openapi-pec/0.1 (python)"


def _settings(environment: str | None, strict_identifiers: bool | None) -> Settings:
    chosen = environment or os.environ.get(ENVIRONMENT_ENV) or "sandbox"
    if chosen not in BASE_URLS:
        raise ValidationError("environment", chosen, sorted(BASE_URLS))
    env: Environment = "production" if chosen == "production" else "sandbox"
    # Strict in production; the Openapi sandbox's own examples use invalid fiscal codes.
    strict = env == "production" if strict_identifiers is None else strict_identifiers
    return Settings(environment=env, strict_identifiers=strict)


def _token(token: str | None) -> str:
    value = token if token is not None else os.environ.get(TOKEN_ENV, "")
    if not isinstance(value, str) or not value.strip():
        raise ValidationError("token", "", f"a bearer token: pass token= or set {TOKEN_ENV}")
    value = value.strip()
    if not all(" " < char < "\x7f" for char in value):
        # Never echo it: a header error from the HTTP layer would quote the token.
        raise ValidationError("token", "***", "printable ASCII without spaces")
    return value


class _ClientBase:
    """Configuration shared by both clients."""

    _http: httpx.Client | httpx.AsyncClient
    _transport: httpx.BaseTransport | httpx.AsyncBaseTransport

    def __init__(
        self,
        *,
        token: str | None,
        environment: str | None,
        base_url: str | None,
        timeout: float | httpx.Timeout,
        max_retries: int,
        strict_identifiers: bool | None,
        http_class: type[httpx.Client] | type[httpx.AsyncClient],
        transport: httpx.BaseTransport | httpx.AsyncBaseTransport | None,
    ) -> None:
        self.settings = _settings(environment, strict_identifiers)
        self.base_url = base_url or BASE_URLS[self.settings.environment]
        if not isinstance(max_retries, int) or isinstance(max_retries, bool) or max_retries < 0:
            raise ValidationError("max_retries", max_retries, "an integer >= 0")
        self.max_retries = max_retries
        secret = _token(token)
        self._http = http_class(
            transport=transport,  # type: ignore[arg-type]  # each client passes its own kind
            base_url=self.base_url,
            timeout=timeout,
            headers={"user-agent": USER_AGENT},
            follow_redirects=False,
        )
        # Requests go to the transport directly: the httpx client only resolves it (proxies from
        # the environment included) and closes it. Its per-request machinery (auth and redirect
        # flows, cookie jar, header merging) doubled the cost of a call and serves no purpose
        # here: the token is in the template, redirects are errors, and the API sets no cookies.
        self._wire = _core.Wire.of(self.base_url, self._http.headers, secret, self._http.timeout)
        self._transport = self._http._transport_for_url(httpx.URL(self.base_url))

    def _request(self, call: Call) -> httpx.Request:
        if self._http.is_closed:
            raise RuntimeError(f"{type(self).__name__} is closed: make a new one")
        return _core.build_request(self._wire, call)

    @property
    def environment(self) -> str:
        return self.settings.environment

    def __repr__(self) -> str:
        name = type(self).__name__
        return f"{name}(environment={self.environment!r}, base_url={self.base_url!r}, token='***')"


class PecClient(_ClientBase):
    """Synchronous client. Use as a context manager, or call :meth:`close`."""

    _http: httpx.Client
    _transport: httpx.BaseTransport

    def __init__(
        self,
        token: str | None = None,
        *,
        environment: str | None = None,
        base_url: str | None = None,
        timeout: float | httpx.Timeout = retry.DEFAULT_TIMEOUT_SECONDS,
        max_retries: int = retry.DEFAULT_MAX_RETRIES,
        transport: httpx.BaseTransport | None = None,
        strict_identifiers: bool | None = None,
    ) -> None:
        super().__init__(
            token=token,
            environment=environment,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            strict_identifiers=strict_identifiers,
            http_class=httpx.Client,
            transport=transport,
        )

    def __enter__(self) -> PecClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # -- driver -------------------------------------------------------------------------------

    def _run(self, flow: Flow[T]) -> T:
        value: Any = None
        error: BaseException | None = None
        while True:
            try:
                step = flow.throw(error) if error is not None else flow.send(value)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            value, error = None, None
            try:
                if isinstance(step, Sleep):
                    time.sleep(step.seconds)
                else:
                    value = self._send(step)
            except (PecError, _core.OutcomeUncertain) as exc:
                error = exc

    def _send(self, call: Call) -> Any:
        attempt = 0
        while True:
            request = self._request(call)
            try:
                response = self._transport.handle_request(request)
                response.request = request
                try:
                    body = self._read(response, call.max_body_bytes)
                except httpx.DecodingError as exc:
                    raise _core.undecodable(call, request, response, exc) from None
                finally:
                    response.close()
            except httpx.TransportError as exc:
                exc.request = request
                outcome: Any = _core.on_transport_error(call, request, exc, attempt, self.max_retries)
            else:
                outcome = _core.on_response(call, request, response, body, attempt, self.max_retries)
            if not isinstance(outcome, Retry):
                return outcome
            time.sleep(outcome.delay)
            attempt += 1

    @staticmethod
    def _read(response: httpx.Response, limit: int) -> bytes | None:
        chunks, size = [], 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > limit:
                return None
            chunks.append(chunk)
        return b"".join(chunks)

    # -- operations ---------------------------------------------------------------------------

    def check_domain(self, dominio: str) -> list[str]:
        """Check whether a domain can send and receive PEC (paid); see ``is_domain_eligible``."""
        return self._run(_flows.check_domain(dominio))

    def is_domain_eligible(self, dominio: str) -> bool:
        """True when the API answers 200 for the domain, False on its 204 "No Content" (paid)."""
        return self._run(_flows.is_domain_eligible(dominio))

    def check_availability(self, pec: str) -> CheckAvailabilityResponse200Data:
        """Whether an address can still be registered."""
        return self._run(_flows.check_availability(pec))

    def is_available(self, pec: str) -> bool:
        """True when ``pec`` can be registered."""
        return self._run(_flows.is_available(pec))

    def list_mailboxes(self) -> list[Caselle]:
        """The account's boxes (an empty list when there are none)."""
        return self._run(_flows.list_mailboxes())

    def register_mailbox(self, body: Any = None, /, *, own_domain: bool = False, **fields: Any) -> Casella:
        """Register a box (paid). Fields as keyword arguments named as the API's, or a body model."""
        return self._run(_flows.register_mailbox(self.settings, body, fields, own_domain))

    def get_mailbox(self, id: str, /) -> Casella:
        return self._run(_flows.get_mailbox(id))

    def revoke_mailbox(self, id: str, /) -> Casella:
        return self._run(_flows.revoke_mailbox(id))

    def activate_mailbox(self, id: str, documents: Sequence[DocumentSource], /) -> Casella:
        """Upload the signed form and identity document (PDF paths, bytes or binary files)."""
        return self._run(_flows.activate_mailbox(id, documents))

    def change_space(self, id: str, /, **body: Any) -> Casella:
        """Send spazio_disco / spazio_storico / spazio_conservazione as given (paid)."""
        return self._run(_flows.change_space(id, body))

    def add_space(
        self,
        id: str,
        /,
        *,
        disco: int | None = None,
        storico: int | None = None,
        conservazione: int | None = None,
    ) -> Casella:
        """Add MB to the box's spaces (sent as ``"+N"``; paid)."""
        return self._run(_flows.add_space(id, disco, storico, conservazione))

    def set_space(
        self,
        id: str,
        /,
        *,
        disco: int | None = None,
        storico: int | None = None,
        conservazione: int | None = None,
    ) -> Casella:
        """Set the box's spaces to absolute MB values; a downgrade is refused (paid)."""
        return self._run(_flows.set_space(id, disco, storico, conservazione))

    def activate_conservation(
        self, id: str, documents: Sequence[DocumentSource], /, *, space: int | None = None
    ) -> Casella:
        return self._run(_flows.activate_conservation(id, documents, space))

    def change_type(self, id: str, tipo_casella: str, /) -> Casella:
        """Upgrade the box type (STANDARD < BRONZE < SILVER < GOLD; paid)."""
        return self._run(_flows.change_type(id, tipo_casella))

    def renew_mailbox(self, id: str, /, anni: int = 1) -> Casella:
        """Renew for ``anni`` years (paid; never retried)."""
        return self._run(_flows.renew_mailbox(id, anni))

    def add_user(self, id: str, body: Any = None, /, **fields: Any) -> Casella:
        return self._run(_flows.add_user(id, body, fields))

    def list_communications(self) -> list[RichiesteComunicazionePec]:
        return self._run(_flows.list_communications())

    def communicate_pec(self, body: Any = None, /, **fields: Any) -> RichiestaComunicazionePec:
        """Ask for the communication of a PEC address to the business register (paid)."""
        return self._run(_flows.communicate_pec(self.settings, body, fields))

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
        return self._run(_flows.wait_for_mailbox(id, until, timeout, poll))

    def wait_for_communication(
        self,
        id: str,
        /,
        until: Collection[str] = ("comunicazione_evasa",),
        *,
        timeout: float = 600.0,
        poll: float = 5.0,
    ) -> RichiestaComunicazionePec:
        return self._run(_flows.wait_for_communication(id, until, timeout, poll))

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


class AsyncPecClient(_ClientBase):
    """Asynchronous client; mirrors :class:`PecClient` method for method."""

    _http: httpx.AsyncClient
    _transport: httpx.AsyncBaseTransport

    def __init__(
        self,
        token: str | None = None,
        *,
        environment: str | None = None,
        base_url: str | None = None,
        timeout: float | httpx.Timeout = retry.DEFAULT_TIMEOUT_SECONDS,
        max_retries: int = retry.DEFAULT_MAX_RETRIES,
        transport: httpx.AsyncBaseTransport | None = None,
        strict_identifiers: bool | None = None,
    ) -> None:
        super().__init__(
            token=token,
            environment=environment,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            strict_identifiers=strict_identifiers,
            http_class=httpx.AsyncClient,
            transport=transport,
        )

    async def __aenter__(self) -> AsyncPecClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        await self._http.aclose()

    # -- driver -------------------------------------------------------------------------------

    async def _run(self, flow: Flow[T]) -> T:
        value: Any = None
        error: BaseException | None = None
        while True:
            try:
                step = flow.throw(error) if error is not None else flow.send(value)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            value, error = None, None
            try:
                if isinstance(step, Sleep):
                    await asyncio.sleep(step.seconds)
                else:
                    value = await self._send(step)
            except (PecError, _core.OutcomeUncertain) as exc:
                error = exc

    async def _send(self, call: Call) -> Any:
        attempt = 0
        while True:
            request = self._request(call)
            try:
                response = await self._transport.handle_async_request(request)
                response.request = request
                try:
                    body = await self._read(response, call.max_body_bytes)
                except httpx.DecodingError as exc:
                    raise _core.undecodable(call, request, response, exc) from None
                finally:
                    await response.aclose()
            except httpx.TransportError as exc:
                exc.request = request
                outcome: Any = _core.on_transport_error(call, request, exc, attempt, self.max_retries)
            else:
                outcome = _core.on_response(call, request, response, body, attempt, self.max_retries)
            if not isinstance(outcome, Retry):
                return outcome
            await asyncio.sleep(outcome.delay)
            attempt += 1

    @staticmethod
    async def _read(response: httpx.Response, limit: int) -> bytes | None:
        chunks, size = [], 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > limit:
                return None
            chunks.append(chunk)
        return b"".join(chunks)

    # -- operations ---------------------------------------------------------------------------

    async def check_domain(self, dominio: str) -> list[str]:
        """Check whether a domain can send and receive PEC (paid); see ``is_domain_eligible``."""
        return await self._run(_flows.check_domain(dominio))

    async def is_domain_eligible(self, dominio: str) -> bool:
        """True when the API answers 200 for the domain, False on its 204 "No Content" (paid)."""
        return await self._run(_flows.is_domain_eligible(dominio))

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
        self, body: Any = None, /, *, own_domain: bool = False, **fields: Any
    ) -> Casella:
        """Register a box (paid). Fields as keyword arguments named as the API's, or a body model."""
        return await self._run(_flows.register_mailbox(self.settings, body, fields, own_domain))

    async def get_mailbox(self, id: str, /) -> Casella:
        return await self._run(_flows.get_mailbox(id))

    async def revoke_mailbox(self, id: str, /) -> Casella:
        return await self._run(_flows.revoke_mailbox(id))

    async def activate_mailbox(self, id: str, documents: Sequence[DocumentSource], /) -> Casella:
        """Upload the signed form and identity document (PDF paths, bytes or binary files)."""
        return await self._run(_flows.activate_mailbox(id, documents))

    async def change_space(self, id: str, /, **body: Any) -> Casella:
        """Send spazio_disco / spazio_storico / spazio_conservazione as given (paid)."""
        return await self._run(_flows.change_space(id, body))

    async def add_space(
        self,
        id: str,
        /,
        *,
        disco: int | None = None,
        storico: int | None = None,
        conservazione: int | None = None,
    ) -> Casella:
        """Add MB to the box's spaces (sent as ``"+N"``; paid)."""
        return await self._run(_flows.add_space(id, disco, storico, conservazione))

    async def set_space(
        self,
        id: str,
        /,
        *,
        disco: int | None = None,
        storico: int | None = None,
        conservazione: int | None = None,
    ) -> Casella:
        """Set the box's spaces to absolute MB values; a downgrade is refused (paid)."""
        return await self._run(_flows.set_space(id, disco, storico, conservazione))

    async def activate_conservation(
        self, id: str, documents: Sequence[DocumentSource], /, *, space: int | None = None
    ) -> Casella:
        return await self._run(_flows.activate_conservation(id, documents, space))

    async def change_type(self, id: str, tipo_casella: str, /) -> Casella:
        """Upgrade the box type (STANDARD < BRONZE < SILVER < GOLD; paid)."""
        return await self._run(_flows.change_type(id, tipo_casella))

    async def renew_mailbox(self, id: str, /, anni: int = 1) -> Casella:
        """Renew for ``anni`` years (paid; never retried)."""
        return await self._run(_flows.renew_mailbox(id, anni))

    async def add_user(self, id: str, body: Any = None, /, **fields: Any) -> Casella:
        return await self._run(_flows.add_user(id, body, fields))

    async def list_communications(self) -> list[RichiesteComunicazionePec]:
        return await self._run(_flows.list_communications())

    async def communicate_pec(self, body: Any = None, /, **fields: Any) -> RichiestaComunicazionePec:
        """Ask for the communication of a PEC address to the business register (paid)."""
        return await self._run(_flows.communicate_pec(self.settings, body, fields))

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
        return await self._run(_flows.wait_for_mailbox(id, until, timeout, poll))

    async def wait_for_communication(
        self,
        id: str,
        /,
        until: Collection[str] = ("comunicazione_evasa",),
        *,
        timeout: float = 600.0,
        poll: float = 5.0,
    ) -> RichiestaComunicazionePec:
        return await self._run(_flows.wait_for_communication(id, until, timeout, poll))

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
