"""Signed .p7m documents (CAdES, CMS SignedData): checked, and who signed them (asn1crypto)."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from dataclasses import dataclass

from asn1crypto import cms, pem

from pec_ext.documents.reading import (
    DEFAULT_MAX_BYTES,
    PDF_HEADER_WINDOW,
    DocumentSource,
    check_each,
    detect_kind,
)
from pec_ext.validation.identifiers import invalid

__all__ = ["P7mInfo", "P7mSigner", "check_p7m_documents", "inspect_p7m"]

_P7M_ALLOWED = "a CAdES-signed .p7m (CMS SignedData) with the signed document attached"
_BASE64_TEXT_RE = re.compile(rb"[A-Za-z0-9+/=\s]+")


@dataclass(frozen=True)
class P7mSigner:
    """One signer of a .p7m, as far as the embedded certificates tell."""

    common_name: str | None
    subject_serial_number: str | None
    """The subject's serialNumber attribute; Italian qualified certificates put the signer's
    codice fiscale there (``TINIT-RSSMRA80A01H501U``)."""
    issuer: str | None
    certificate_serial: int | None


@dataclass(frozen=True)
class P7mInfo:
    """What :func:`inspect_p7m` found in a CAdES .p7m."""

    signers: tuple[P7mSigner, ...]
    content_size: int
    has_attached_content: bool
    content_is_pdf: bool

    @property
    def signer_common_names(self) -> tuple[str, ...]:
        return tuple(s.common_name for s in self.signers if s.common_name)


def _unwrap_p7m(field: str, data: bytes) -> bytes:
    """DER bytes from DER, PEM, or base64 text."""
    if data[:1] == b"\x30":
        return data
    if pem.detect(data):
        try:
            _type, _headers, der = pem.unarmor(data)
        except Exception as exc:
            raise invalid(field, data, _P7M_ALLOWED, reason=f"bad PEM armor: {exc}") from None
        return bytes(der)
    if _BASE64_TEXT_RE.fullmatch(data):
        try:
            return base64.b64decode(b"".join(data.split()), validate=True)
        except (binascii.Error, ValueError):
            pass
    return data


def _load_p7m(field: str, data: object) -> tuple[P7mInfo, bytes]:
    if not isinstance(data, bytes | bytearray):
        raise invalid(field, data, _P7M_ALLOWED, reason="must be bytes")
    kind = detect_kind(data)
    if kind == "pdf":
        raise invalid(
            field, data, _P7M_ALLOWED, reason="this is a PDF, not a signed .p7m: sign it (CAdES) first"
        )
    if kind in ("jpeg", "png"):
        raise invalid(field, data, _P7M_ALLOWED, reason=f"this is a {kind.upper()} image, not a signed .p7m")
    der = _unwrap_p7m(field, bytes(data))
    try:
        info = cms.ContentInfo.load(der, strict=True)
        content_type = info["content_type"].native
    except Exception as exc:
        raise invalid(field, data, _P7M_ALLOWED, reason=f"not a CMS/PKCS#7 structure: {exc}") from None
    if content_type != "signed_data":
        raise invalid(field, data, _P7M_ALLOWED, reason=f"CMS {content_type}, not signed_data")
    try:
        signed = info["content"]
        content = signed["encap_content_info"]["content"].native
        signers = _signers(signed)
    except Exception as exc:
        raise invalid(field, data, _P7M_ALLOWED, reason=f"malformed SignedData: {exc}") from None
    if content is None:
        raise invalid(
            field,
            data,
            _P7M_ALLOWED,
            reason="detached signature: the signed document is not inside; sign with attached content",
        )
    if not isinstance(content, bytes) or not content:
        raise invalid(field, data, _P7M_ALLOWED, reason="the signed content is empty")
    if not signers:
        raise invalid(field, data, _P7M_ALLOWED, reason="no signer in the SignedData")
    return (
        P7mInfo(
            signers=signers,
            content_size=len(content),
            has_attached_content=True,
            content_is_pdf=b"%PDF-" in content[:PDF_HEADER_WINDOW],
        ),
        der,
    )


def _signers(signed: cms.SignedData) -> tuple[P7mSigner, ...]:
    certificates = []
    if signed["certificates"].native is not None:
        for choice in signed["certificates"]:
            if choice.name == "certificate":
                certificates.append(choice.chosen)
    signers = []
    for signer_info in signed["signer_infos"]:
        sid = signer_info["sid"]
        cert = None
        issuer: str | None = None
        serial: int | None = None
        if sid.name == "issuer_and_serial_number":
            issuer_name = sid.chosen["issuer"]
            serial = sid.chosen["serial_number"].native
            issuer = issuer_name.human_friendly
            cert = next(
                (c for c in certificates if c.serial_number == serial and c.issuer == issuer_name), None
            )
        else:
            key_id = sid.chosen.native
            cert = next((c for c in certificates if c.key_identifier == key_id), None)
            if cert is not None:
                issuer = cert.issuer.human_friendly
                serial = cert.serial_number
        subject = cert.subject.native if cert is not None else {}
        signers.append(
            P7mSigner(
                common_name=_first(subject.get("common_name")),
                subject_serial_number=_first(subject.get("serial_number")),
                issuer=issuer,
                certificate_serial=serial,
            )
        )
    return tuple(signers)


def _first(value: object) -> str | None:
    # A name attribute may repeat; asn1crypto then gives a list.
    if isinstance(value, list):
        value = value[0] if value else None
    return None if value is None else str(value)


def inspect_p7m(field: str, data: object) -> P7mInfo:
    """Check that ``data`` is a CAdES .p7m (CMS SignedData, DER, PEM or base64) with the signed
    document attached, and say who signed it. The signature itself is not verified."""
    info, _der = _load_p7m(field, data)
    return info


def check_p7m_documents(
    sources: Sequence[DocumentSource] | DocumentSource,
    *,
    field: str = "documenti",
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> list[bytes]:
    """Each source a checked .p7m, as the DER bytes that are sent."""
    return check_each(field, sources, lambda name, data: _load_p7m(name, data)[1], max_bytes=max_bytes)
