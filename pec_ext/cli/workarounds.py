"""Work-arounds for client behaviour the command line cannot wait on; each says why.

* ``upload_p7m``: ``pec_ext.documents.detect_kind`` looks for ``%PDF-`` in a file's first 1024
  bytes *before* it looks for a DER CMS structure. In a CAdES .p7m with an attached PDF the PDF's
  header sits a few dozen bytes in (the content precedes the certificates), so every such p7m is
  refused as "a PDF, not a signed .p7m". When that happens to bytes that are a DER CMS, the file
  is checked here instead (SignedData, content attached, at least one signer) and sent through
  ``PecClient.request``, the client's own path for raw calls (same auth, envelope and errors).
"""

from __future__ import annotations

import base64
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pec_ext import _core
from pec_ext.documents import read_document
from pec_ext.errors import ValidationError

if TYPE_CHECKING:
    from pec_api.models.richiesta_comunicazione_pec import RichiestaComunicazionePec
    from pec_ext.client import PecClient

_P7M_ALLOWED = "a CAdES-signed .p7m (CMS SignedData) with the signed document attached"


def check_p7m_der(field: str, data: bytes) -> None:
    """Refuse anything but a DER CMS SignedData with attached content and a signer."""
    from asn1crypto import cms

    try:
        info = cms.ContentInfo.load(data, strict=True)
        if info["content_type"].native != "signed_data":
            raise ValueError(f"CMS {info['content_type'].native}, not signed_data")
        signed = info["content"]
        content = signed["encap_content_info"]["content"].native
        signers = len(signed["signer_infos"])
    except Exception as exc:
        raise ValidationError(field, f"<{len(data)} bytes>", _P7M_ALLOWED, reason=str(exc)) from None
    if not content:
        raise ValidationError(field, f"<{len(data)} bytes>", _P7M_ALLOWED, reason="no attached content")
    if not signers:
        raise ValidationError(field, f"<{len(data)} bytes>", _P7M_ALLOWED, reason="no signer")


def _misread_as_pdf(exc: ValidationError) -> bool:
    return "this is a PDF, not a signed .p7m" in (exc.reason or "")


def upload_p7m(
    client: PecClient, comm_id: str, sources: Sequence[str | os.PathLike[str] | bytes]
) -> RichiestaComunicazionePec:
    try:
        return client.upload_communication_documents(comm_id, list(sources))
    except ValidationError as exc:
        if not _misread_as_pdf(exc):
            raise
        blobs = [read_document(f"documenti[{i}]", s) for i, s in enumerate(sources)]
        if not all(blob[:1] == b"\x30" for blob in blobs):
            raise
    for index, blob in enumerate(blobs):
        check_p7m_der(f"documenti[{index}]", blob)
    from pec_api.models.richiesta_comunicazione_pec import RichiestaComunicazionePec
    from pec_ext._flows import check_id

    body = {"documenti": [base64.b64encode(blob).decode("ascii") for blob in blobs]}
    try:
        data: Any = client.request("PATCH", f"/comunica_pec/{check_id(comm_id)}", json=body)
    except _core.OutcomeUncertain as uncertain:
        raise uncertain.unknown("check the communication's state before uploading again") from None
    return RichiestaComunicazionePec.from_dict(data)
