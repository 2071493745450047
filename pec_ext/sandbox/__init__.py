"""Embedded, stateful sandbox of Openapi's PEC API.

>>> from pec_ext.sandbox import Sandbox
>>> sb = Sandbox(balance=100.0)
>>> http = httpx.Client(transport=sb.transport(), base_url="https://sandbox.pec.invalid")  # doctest: +SKIP

Behaviour worth knowing:

* The provider's asynchronous work is queued and happens only on :meth:`Sandbox.advance`:
  ``attivazione`` moves a box to ``in_evasione`` and processing to ``evasa`` (or ``documenti_errati``
  when the upload was flagged bad: call :meth:`Sandbox.reject_next_documents` or put the bytes
  ``SANDBOX-REJECT`` in a PDF); ``POST /comunica_pec`` is processed to ``in_attesa_di_documenti``
  and an upload to ``comunicazione_evasa``.
* Errors the spec documents use its codes; refusals it does not document use 9xx codes (901 address
  already registered, 902 space downgrade, 903 bad callback, 904 invalid field, 905 renewal without
  credit, 906 missing field, 907 missing activation documents, 908 not a p7m, 909 box not active,
  910 nothing to modify, 911 bad ``anni``, 920 body not a JSON object, 930 the request could not be
  saved and was not applied, answered 503). See ``errors.ERRORS``.
* A callback fires on every change of ``stato`` of a record whose request carried one.
* A receiver that does not answer, or answers 408/429/5xx, is retried with a doubling backoff
  (``callback_attempts``, ``callback_backoff``); in-process the retries happen inline, behind
  :class:`SandboxServer` a worker thread delivers so that no API answer waits for a receiver.
* Openapi's OAuth v2 account service is emulated on the same server under ``/oauth`` (or for a
  request whose ``Host`` is ``oauth.openapi.com``/``test.oauth.openapi.com``): Basic auth with any
  e-mail and key (or only ``Sandbox(account=(email, key))``), tokens whose scopes and expiry the PEC
  side enforces (401 expired or deleted, 403 missing scope; unknown tokens are 401 with
  ``strict_tokens=True``), the same wallet (its transactions are the PEC charges) and scopes priced
  from the sandbox's price table. See ``oauth.py``; ``Sandbox.account_client()`` gives an
  ``AccountClient`` on it, whose ``pec_client()`` talks to this sandbox on its virtual clock.
* Openapi's PEC Massiva API (send certified mail, receipts, inbox, quota) is emulated on the same
  server under ``/pecmassiva`` (or for a request whose ``Host`` is ``ws.pecmassiva.com``/
  ``test.ws.pecmassiva.com``): base URL ``<sandbox URL>/pecmassiva`` (``MASSIVA_BASE_URL``
  in-process). A PECMASSIVA box that is ``evasa`` sends with its address as username and the
  password of ``Sandbox.massiva_credentials(box)``; receipts come at once (ACCETTAZIONE) and after
  ``massiva_delay`` virtual seconds (POSTA CERTIFICATA, CONSEGNA); recipients at
  ``@nondelivery.test`` get an AVVISO DI MANCATA CONSEGNA; a malformed address an AVVISO DI NON
  ACCETTAZIONE. Each accepted recipient costs ``pecmassiva.send``. See ``massiva.py``.
* Admin paths outside the API: ``POST /_sandbox/advance`` (``{"seconds": N}`` optional),
  ``GET /_sandbox/state``, ``POST /_sandbox/reset``, ``GET /_sandbox/callbacks`` (every delivery
  and its attempts: number, status, elapsed), ``GET /_sandbox/massiva/sent`` (every PEC Massiva
  sending), ``GET|POST /_sandbox/massiva/credentials/{box id or address}``; they need no token.
  ``seconds`` must be a finite number >= 0 that keeps the clock before the year 9999 (400
  otherwise).
"""

from __future__ import annotations

from .callbacks import HttpCallbackSender, SentCallback, record_only
from .clock import ManualClock, SandboxClock
from .core import DEFAULT_TOKEN, SANDBOX_BASE_URL, Sandbox
from .errors import ERRORS, ErrorSpec
from .massiva import MASSIVA_BASE_URL, NONDELIVERY_DOMAIN
from .server import SandboxServer
from .wallet import DEFAULT_PRICES, MASSIVA_PRICES

__all__ = [
    "DEFAULT_PRICES",
    "DEFAULT_TOKEN",
    "ERRORS",
    "MASSIVA_BASE_URL",
    "MASSIVA_PRICES",
    "NONDELIVERY_DOMAIN",
    "SANDBOX_BASE_URL",
    "ErrorSpec",
    "HttpCallbackSender",
    "ManualClock",
    "Sandbox",
    "SandboxClock",
    "SandboxServer",
    "SentCallback",
    "record_only",
]
