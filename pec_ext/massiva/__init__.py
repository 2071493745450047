"""Sending certified mail from a PECMASSIVA box: Openapi's PEC Massiva API, never twice.

>>> from pec_ext.massiva import MassivaClient
>>> with MassivaClient(username="invii@pec.example.it", password="...") as pec:
...     sending = pec.send("mario.rossi@pec.example.it", "Fattura 42", "In allegato.",
...                        attachments=["fattura-42.pdf"], idempotency_key="invoice:2026/0042")
...     report = pec.wait_for_delivery(sending.code)
...     report.recipients   # {'mario.rossi@pec.example.it': <DeliveryStatus.DELIVERED: 'delivered'>}
"""

from pec_ext.massiva.client import AsyncMassivaClient, MassivaClient
from pec_ext.massiva.flows import InboxMessage, InboxPage, Message, Quota, Sending
from pec_ext.massiva.outgoing import MAX_ATTACHMENT_BYTES, MAX_RECIPIENTS, MAX_TOTAL_BYTES
from pec_ext.massiva.receipts import DeliveryReport, DeliveryStatus, Receipt, ReceiptKind, classify

__all__ = [
    "MAX_ATTACHMENT_BYTES",
    "MAX_RECIPIENTS",
    "MAX_TOTAL_BYTES",
    "AsyncMassivaClient",
    "DeliveryReport",
    "DeliveryStatus",
    "InboxMessage",
    "InboxPage",
    "MassivaClient",
    "Message",
    "Quota",
    "Receipt",
    "ReceiptKind",
    "Sending",
    "classify",
]
