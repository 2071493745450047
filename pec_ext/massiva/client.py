"""``MassivaClient`` and ``AsyncMassivaClient``: send certified mail from a PECMASSIVA box.

Both are thin drivers over the flows of :mod:`pec_ext.massiva.flows`, on the same engine as
``PecClient`` (``http_client=``, ``with_options``, ``with_raw_response``, deadlines, typed errors,
``clock=``). Auth is the account's bearer token plus the box's username and password: in the body
of ``POST /send``, in the ``x-username``/``x-password`` headers elsewhere. The password is kept out
of every repr, log line and error.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TypeVar

from pec_ext import config
from pec_ext._engine import retry, steps, wire
from pec_ext._engine.clock import Clock
from pec_ext._engine.driver import AsyncDriver, RawResponse, SyncDriver
from pec_ext._engine.steps import Flow
from pec_ext.errors import ValidationError
from pec_ext.massiva import flows, intents, pacing
from pec_ext.massiva.flows import Box, InboxMessage, InboxPage, Message, Quota, SecretText, Sending
from pec_ext.massiva.outgoing import Outgoing, check_attachment_sources, check_message
from pec_ext.massiva.receipts import DeliveryReport, Receipt

if TYPE_CHECKING:
    import httpx
    import httpx2

    from pec_ext.journal.base import Intent, Journal
    from pec_ext.massiva.outgoing import AttachmentSource

T = TypeVar("T")

DEFAULT_WAIT_TIMEOUT_SECONDS = 3600.0
DEFAULT_POLL_SECONDS = 10.0


def _page(result: InboxPage | RawResponse[InboxPage]) -> InboxPage:
    # Through with_raw_response too, the pager yields messages (each page's answer is not kept).
    return result.parse() if isinstance(result, RawResponse) else result


class _MassivaSetup:
    """The configuration both drivers share."""

    box: Box
    base_url: str
    _options: Any
    _environment: str

    def _configure(
        self,
        *,
        token: str | None,
        username: str | None,
        password: str | None,
        environment: str | None,
        base_url: str | None,
        send_interval: float,
        fleet_limiter: pacing.SharedLimiter | None,
    ) -> tuple[str, str]:
        env = config.environment(environment)
        user, secret = config.massiva_credentials(username, password)
        if isinstance(send_interval, bool) or not isinstance(send_interval, int | float) or send_interval < 0:
            raise ValidationError(
                "send_interval", send_interval, "seconds between two sends, >= 0 (the API allows 1 a second)"
            )
        if fleet_limiter is not None and not isinstance(fleet_limiter, pacing.SharedLimiter):
            raise ValidationError(
                "fleet_limiter", type(fleet_limiter).__name__, "a pec_ext.integrations.ratelimit.FleetLimiter"
            )
        self._environment = env
        self.box = Box(user, SecretText(secret), float(send_interval), fleet_limiter)
        return config.massiva_base_url(base_url, env), f"Bearer {config.token(token)}"

    def _pace(self) -> None:
        """Every client on the same time source shares the process's pacer."""
        self.box = replace(self.box, pacer=pacing.pacer_for(self._options.clock.monotonic))

    def _with_journal(self, journal: Journal | None) -> None:
        if journal is not None:
            self._options = replace(self._options, journal=steps.check_journal(journal))

    def _make_wire(self) -> wire.Wire:
        # The box's credentials go in headers on every request (and in the body of /send, as the
        # API asks there): in the request template, which is kept out of every repr.
        made: wire.Wire = super()._make_wire()  # type: ignore[misc]
        credentials = (("x-username", self.box.username), ("x-password", str(self.box.password)))
        return replace(
            made,
            json_headers=(*made.json_headers, *credentials),
            pdf_headers=(*made.pdf_headers, *credentials),
        )

    def _message(
        self, to: object, subject: object, body: object, attachments: object, sender: object
    ) -> Outgoing:
        outgoing = check_message(to, subject, body, sender, self.box.username)
        return replace(outgoing, attachment_sources=check_attachment_sources(attachments))

    def check(
        self,
        to: str | Sequence[str],
        subject: str,
        body: str = "",
        *,
        attachments: Sequence[AttachmentSource] | None = None,
        sender: str | None = None,
    ) -> None:
        """Check a message as ``send`` does (addresses, subject, body, attachments' shapes); send nothing."""
        self._message(to, subject, body, attachments, sender)

    def _send_flow(self, outgoing: Outgoing, key: str | None) -> Flow[Sending]:
        plain = flows.send(self.box, outgoing)
        chosen = steps.check_idempotency_key(key) if key is not None else self._options.idempotency_key
        if chosen is None:
            return plain
        plain.close()
        if self._options.journal is None:
            raise ValidationError(
                "journal",
                None,
                "a pec_ext.journal.base.Journal: MassivaClient(journal=...) or with_options(journal=...)",
                reason=f"idempotency_key {chosen!r} needs a journal to record the sending in",
            )
        if getattr(self, "_raw", False):
            raise ValidationError(
                "idempotency_key", chosen, reason="with_raw_response cannot replay a recorded result"
            )
        intent: Intent = intents.send(self.box, outgoing)
        journaled: Flow[Sending] = self._options.journal.execute(chosen, intent)
        return journaled

    def _wait_flow(
        self,
        code: str,
        timeout: float,
        poll: float,
        on_receipt: Callable[[Receipt], None] | None,
        expected: Iterable[str],
    ) -> Flow[DeliveryReport]:
        return flows.wait_for_delivery(
            code, timeout, poll, self._options.clock.monotonic, on_receipt, tuple(expected)
        )

    @property
    def environment(self) -> str:
        return self._environment

    @property
    def username(self) -> str:
        return self.box.username

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(environment={self._environment!r}, base_url={self.base_url!r}, "
            f"username={self.box.username!r}, password='***', token='***')"
        )


class MassivaClient(_MassivaSetup, SyncDriver):
    """Send certified mail from a PECMASSIVA box, read its receipts and its inbox (synchronous).

    ``username``/``password``: the box's (its address and password), else the variables
    ``OPENAPI_PECMASSIVA_USERNAME``/``OPENAPI_PECMASSIVA_PASSWORD``; ``token`` as for
    ``PecClient``; ``http_client=`` (an ``httpx``/``httpx2`` client of yours) and ``http=`` as
    for ``PecClient``. ``send_interval``: at least this many seconds between two sends of this process
    (the API takes one a second); ``fleet_limiter``: a ``FleetLimiter(rate=1)`` shared by every
    process sending for the account. ``journal`` with ``idempotency_key=`` makes a sending happen
    once across processes.
    """

    def __init__(
        self,
        token: str | None = None,
        *,
        username: str | None = None,
        password: str | None = None,
        environment: str | None = None,
        base_url: str | None = None,
        timeout: float | None = retry.DEFAULT_TIMEOUT_SECONDS,
        max_retries: int = retry.DEFAULT_MAX_RETRIES,
        http_client: httpx.Client | httpx2.Client | None = None,
        transport: httpx.BaseTransport | httpx2.BaseTransport | None = None,
        http: str | None = None,
        extra_headers: Mapping[str, str] | None = None,
        clock: Clock | None = None,
        journal: Journal | None = None,
        send_interval: float = pacing.SEND_INTERVAL_SECONDS,
        fleet_limiter: pacing.SharedLimiter | None = None,
    ) -> None:
        url, authorization = self._configure(
            token=token,
            username=username,
            password=password,
            environment=environment,
            base_url=base_url,
            send_interval=send_interval,
            fleet_limiter=fleet_limiter,
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
        self._pace()

    def send(
        self,
        to: str | Sequence[str],
        subject: str,
        body: str = "",
        *,
        attachments: Sequence[AttachmentSource] | None = None,
        sender: str | None = None,
        idempotency_key: str | None = None,
    ) -> Sending:
        """Send one message to one or more recipients (paid; never sent twice).

        ``attachments``: paths, binary files, or ``(name, bytes | path | file)`` pairs. Everything
        is checked before anything is sent. Returns the sending, whose ``code`` gives its receipts.
        """
        outgoing = self._message(to, subject, body, attachments, sender)
        return self._run(self._send_flow(outgoing, idempotency_key))

    def receipts(self, code: str, /) -> DeliveryReport:
        """The sending's receipts, typed, and where it stands for each recipient."""
        return self._run(flows.receipts(code))

    def wait_for_delivery(
        self,
        code: str,
        /,
        *,
        timeout: float = DEFAULT_WAIT_TIMEOUT_SECONDS,
        poll: float = DEFAULT_POLL_SECONDS,
        on_receipt: Callable[[Receipt], None] | None = None,
        recipients: Iterable[str] = (),
    ) -> DeliveryReport:
        """Poll (on the client's clock) until every recipient is delivered or not; ``on_receipt`` is
        called once for each receipt as it arrives. ``WaitTimeoutError`` after ``timeout``."""
        return self._run(self._wait_flow(code, timeout, poll, on_receipt, recipients))

    def inbox(self, *, search: str | None = None) -> Iterator[InboxMessage]:
        """Every message of the inbox (or of a search), a page fetched when the previous one is used up."""
        page = 1
        while True:
            chunk = _page(self._run(flows.inbox_page(search, page)))
            yield from chunk.messages
            if chunk.last:
                return
            page += 1

    def inbox_page(self, page: int = 1, *, search: str | None = None) -> InboxPage:
        return self._run(flows.inbox_page(search, page))

    def get_message(self, id: int | str, /) -> Message:
        """One message of the inbox, its body decoded."""
        return self._run(flows.get_message(id))

    def delete_message(self, id: int | str, /) -> None:
        self._run(flows.delete_message(id))

    def delete_receipts(self, code: str, /) -> None:
        """Delete a sending's receipts from the inbox (the proof of delivery: keep a copy first)."""
        self._run(flows.delete_receipts(code))

    def quota(self, mailbox: str = "INBOX") -> Quota:
        return self._run(flows.quota(mailbox))


class AsyncMassivaClient(_MassivaSetup, AsyncDriver):
    """Asynchronous client; mirrors :class:`MassivaClient` method for method. Attachments are read
    and hashed in a worker thread, and the pacing waits on the event loop without blocking it."""

    def __init__(
        self,
        token: str | None = None,
        *,
        username: str | None = None,
        password: str | None = None,
        environment: str | None = None,
        base_url: str | None = None,
        timeout: float | None = retry.DEFAULT_TIMEOUT_SECONDS,
        max_retries: int = retry.DEFAULT_MAX_RETRIES,
        http_client: httpx.AsyncClient | httpx2.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | httpx2.AsyncBaseTransport | None = None,
        http: str | None = None,
        extra_headers: Mapping[str, str] | None = None,
        clock: Clock | None = None,
        journal: Journal | None = None,
        send_interval: float = pacing.SEND_INTERVAL_SECONDS,
        fleet_limiter: pacing.SharedLimiter | None = None,
    ) -> None:
        url, authorization = self._configure(
            token=token,
            username=username,
            password=password,
            environment=environment,
            base_url=base_url,
            send_interval=send_interval,
            fleet_limiter=fleet_limiter,
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
        self._pace()

    async def send(
        self,
        to: str | Sequence[str],
        subject: str,
        body: str = "",
        *,
        attachments: Sequence[AttachmentSource] | None = None,
        sender: str | None = None,
        idempotency_key: str | None = None,
    ) -> Sending:
        """Send one message to one or more recipients (paid; never sent twice)."""
        outgoing = self._message(to, subject, body, attachments, sender)
        return await self._run(self._send_flow(outgoing, idempotency_key))

    async def receipts(self, code: str, /) -> DeliveryReport:
        return await self._run(flows.receipts(code))

    async def wait_for_delivery(
        self,
        code: str,
        /,
        *,
        timeout: float = DEFAULT_WAIT_TIMEOUT_SECONDS,
        poll: float = DEFAULT_POLL_SECONDS,
        on_receipt: Callable[[Receipt], None] | None = None,
        recipients: Iterable[str] = (),
    ) -> DeliveryReport:
        return await self._run(self._wait_flow(code, timeout, poll, on_receipt, recipients))

    async def inbox(self, *, search: str | None = None) -> AsyncIterator[InboxMessage]:
        """Every message of the inbox (or of a search), a page fetched when the previous one is used up."""
        page = 1
        while True:
            chunk = _page(await self._run(flows.inbox_page(search, page)))
            for message in chunk.messages:
                yield message
            if chunk.last:
                return
            page += 1

    async def inbox_page(self, page: int = 1, *, search: str | None = None) -> InboxPage:
        return await self._run(flows.inbox_page(search, page))

    async def get_message(self, id: int | str, /) -> Message:
        return await self._run(flows.get_message(id))

    async def delete_message(self, id: int | str, /) -> None:
        await self._run(flows.delete_message(id))

    async def delete_receipts(self, code: str, /) -> None:
        await self._run(flows.delete_receipts(code))

    async def quota(self, mailbox: str = "INBOX") -> Quota:
        return await self._run(flows.quota(mailbox))
