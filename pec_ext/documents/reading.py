"""Documents uploaded to the PEC API: reading, PDF/p7m checks, merging, base64 encoding.

The API takes documents as base64 strings inside a JSON body:

* activation (``PATCH /pec/{id}/attivazione``): PDFs, the signed activation form and an identity
  document; DOMICILIODIGITALE and PECMASSIVA want both in one single PDF, which
  :func:`merge_single_document` builds (converting a JPEG/PNG identity scan to a page first);
* conservazione (``PATCH /pec/{id}/conservazione``): PDFs;
* communication to the business register (``PATCH /comunica_pec/{id}``): CAdES ``.p7m`` files with
  the signed document attached.

What a file is, is decided by its bytes, never by its name. Each file is capped at
:data:`DEFAULT_MAX_BYTES` while it is read, so a wrong path to a huge file fails fast.

Memory: a document is read once, checked in place (pypdf reads the same buffer), and encoded with
its raw bytes dropped before the next one is read, so uploading two 25 MiB PDFs peaks at about
twice their size. Merging for the single-document types needs more: pypdf holds both inputs and
the output at once.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import io
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO, Literal, TypeAlias

from asn1crypto import cms, pem
from PIL import Image, ImageOps
from pypdf import PdfReader, PdfWriter

from pec_ext.enums import SINGLE_DOCUMENT_TYPES, TipoCasella
from pec_ext.errors import ValidationError
from pec_ext.validation.guards import normalize_enum
from pec_ext.validation.identifiers import invalid

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DocumentKind",
    "DocumentSource",
    "P7mInfo",
    "P7mSigner",
    "check_activation_documents",
    "check_p7m_documents",
    "check_pdf_documents",
    "detect_kind",
    "encode_document",
    "encode_documents",
    "image_to_pdf",
    "inspect_p7m",
    "merge_single_document",
    "prepare_activation_documents",
    "prepare_p7m_documents",
    "prepare_pdf_documents",
    "read_document",
    "require_pdf",
]

DocumentSource: TypeAlias = str | os.PathLike[str] | bytes | bytearray | BinaryIO
"""A file path, the file's bytes, or a binary file object (read from its current position)."""

DocumentKind = Literal["pdf", "jpeg", "png", "cms", "unknown"]

DEFAULT_MAX_BYTES = 25 * 1024 * 1024
"""Largest single document accepted (25 MiB): scans and signed forms are far smaller, and the
base64 body grows by a third on top."""

_CHUNK = 1024 * 1024
_B64_CHUNK = 3 * 1024 * 1024  # a multiple of 3, so the pieces concatenate without padding
_PDF_HEADER_WINDOW = 1024
_PDF_ALLOWED = "a PDF file (starting with %PDF-)"
_P7M_ALLOWED = "a CAdES-signed .p7m (CMS SignedData) with the signed document attached"
_BASE64_TEXT_RE = re.compile(rb"[A-Za-z0-9+/=\s]+")
# Fit converted images on an A4 page (inches) without upscaling small scans past 72 dpi.
_A4_INCHES = (8.27, 11.69)


# --- reading --------------------------------------------------------------------------------


def _file_name(source: object) -> str | None:
    """The name a person knows ``source`` by: its path, or a file object's ``name``; None for bytes."""
    if isinstance(source, str | os.PathLike):
        try:
            return os.fsdecode(source)
        except (TypeError, ValueError):
            return None
    name = getattr(source, "name", None)
    return name if isinstance(name, str) and name else None


@contextlib.contextmanager
def _naming(source: object) -> Iterator[None]:
    """Refusals about ``source`` show its file name rather than ``<488 bytes>`` of its content."""
    try:
        yield
    except ValidationError as exc:
        name = _file_name(source)
        if name is None or exc.value == source:
            raise
        raise invalid(exc.field, name, exc.allowed, exc.reason) from None


def read_document(field: str, source: object, *, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """The bytes of ``source`` (a path, bytes, or a binary file object), at most ``max_bytes``.

    Streams are read in chunks and abandoned as soon as the limit is passed. File objects are
    not closed.
    """
    limit = f"at most {max_bytes} bytes ({max_bytes / (1024 * 1024):.1f} MiB)"
    if isinstance(source, bytes | bytearray | memoryview):
        size = source.nbytes if isinstance(source, memoryview) else len(source)
        if size > max_bytes:
            raise invalid(field, source, limit, reason=f"{size} bytes is too large")
        if size == 0:
            raise invalid(field, source, "a non-empty document", reason="empty")
        return source if isinstance(source, bytes) else bytes(source)
    if isinstance(source, str | os.PathLike):
        return _read_path(field, source, max_bytes, limit)
    if callable(getattr(source, "read", None)):
        return _read_stream(field, source, max_bytes, limit, expected=None)
    raise invalid(
        field, source, "a file path, bytes, or a binary file object", reason="unsupported document source"
    )


def _read_path(field: str, source: object, max_bytes: int, limit: str) -> bytes:
    try:
        path: str | bytes = os.fspath(source)  # type: ignore[call-overload]
    except TypeError:
        raise invalid(field, source, "a file path", reason="not a usable path") from None
    if not path:
        raise invalid(field, source, "a file path", reason="empty path")
    try:
        with open(path, "rb") as stream:
            size = os.fstat(stream.fileno()).st_size
            if size > max_bytes:
                raise invalid(field, source, limit, reason=f"the file has {size} bytes")
            return _read_stream(field, stream, max_bytes, limit, expected=size or None)
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
        if isinstance(exc, ValidationError):
            raise
        raise invalid(field, source, "a readable file", reason=str(exc)) from None


def _read_stream(field: str, stream: object, max_bytes: int, limit: str, *, expected: int | None) -> bytes:
    read = getattr(stream, "read")  # noqa: B009 - the object was only checked to have one
    chunks: list[bytes] = []
    total = 0
    # A regular file of known size is read in one call into a buffer of the right size, so
    # no join (and no second copy) is needed; "+ 1" notices a file that grew meanwhile.
    want = expected + 1 if expected is not None else _CHUNK
    while True:
        try:
            chunk = read(min(want, max_bytes + 1 - total))
        except OSError as exc:
            raise invalid(field, stream, "a readable binary stream", reason=str(exc)) from None
        except Exception as exc:
            raise invalid(field, stream, "a readable binary stream", reason=repr(exc)) from None
        if chunk is None:  # a non-blocking stream with nothing available
            raise invalid(field, stream, "a blocking binary stream", reason="read() returned None")
        if not isinstance(chunk, bytes | bytearray):
            raise invalid(
                field,
                stream,
                "a binary stream (open the file with 'rb')",
                reason="read() did not return bytes",
            )
        if not chunk:
            break
        chunks.append(bytes(chunk) if isinstance(chunk, bytearray) else chunk)
        total += len(chunk)
        if total > max_bytes:
            raise invalid(field, stream, limit, reason="the document is too large")
        want = _CHUNK
    if total == 0:
        raise invalid(field, stream, "a non-empty document", reason="empty")
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


# --- kinds and checks -----------------------------------------------------------------------


class _ViewReader(io.RawIOBase):
    """A seekable read-only stream over bytes that never copies them.

    pypdf measures an ``io.BytesIO`` with ``getbuffer()``, which makes BytesIO copy the bytes it
    was built on: a second full copy of every document just to check it.
    """

    def __init__(self, data: bytes) -> None:
        super().__init__()
        self._view = memoryview(data)
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        target = memoryview(buffer).cast("B")
        count = max(0, min(len(target), len(self._view) - self._position))
        target[:count] = self._view[self._position : self._position + count]
        self._position += count
        return count

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: len(self._view)}[whence]
        self._position = max(0, base + offset)
        return self._position

    def tell(self) -> int:
        return self._position

    def close(self) -> None:
        # Release the view so the bytes can be freed even if pypdf keeps this object around.
        if not self.closed:
            self._view.release()
        super().close()


def _pdf_stream(data: bytes) -> io.BufferedReader:
    return io.BufferedReader(_ViewReader(data))


def detect_kind(data: bytes | bytearray | memoryview) -> DocumentKind:
    """What ``data`` is, by its leading bytes: PDF, JPEG, PNG, DER CMS, or unknown."""
    head = bytes(data[:_PDF_HEADER_WINDOW])
    # A DER SEQUENCE first: a .p7m carries its PDF within the first kilobyte too.
    if head[:1] == b"\x30" and len(head) > 1 and head[1] in (0x80, 0x81, 0x82, 0x83, 0x84):
        return "cms"
    if b"%PDF-" in head:
        return "pdf"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    return "unknown"


def require_pdf(field: str, data: object) -> bytes:
    """``data`` itself, once it is known to be a PDF pypdf can open with at least one page.

    A password-protected PDF is refused: the operator checking the documents could not read it.
    """
    if not isinstance(data, bytes | bytearray):
        raise invalid(field, data, _PDF_ALLOWED, reason="must be bytes")
    kind = detect_kind(data)
    if kind != "pdf":
        hint = {
            "jpeg": "this is a JPEG image, not a PDF: convert it to PDF first",
            "png": "this is a PNG image, not a PDF: convert it to PDF first",
            "cms": "this looks like a signed .p7m, not a PDF: upload the PDF itself",
        }.get(kind, "no %PDF- header in the first 1024 bytes")
        raise invalid(field, data, _PDF_ALLOWED, reason=hint)
    try:
        with _pdf_stream(bytes(data)) as stream:
            reader = PdfReader(stream, strict=False)
            if reader.is_encrypted and not reader.decrypt(""):
                raise invalid(field, data, _PDF_ALLOWED, reason="the PDF is password-protected")
            pages = len(reader.pages)
    except Exception as exc:
        if isinstance(exc, ValidationError):
            raise
        raise invalid(field, data, _PDF_ALLOWED, reason=f"damaged PDF: {exc}") from None
    if pages == 0:
        raise invalid(field, data, _PDF_ALLOWED, reason="the PDF has no pages")
    return data if isinstance(data, bytes) else bytes(data)


def image_to_pdf(field: str, data: bytes) -> bytes:
    """A one-page PDF showing a JPEG or PNG image (EXIF rotation applied, fitted to A4)."""
    allowed = "a JPEG or PNG image"
    try:
        with Image.open(io.BytesIO(data)) as opened:
            if opened.format not in ("JPEG", "PNG"):
                raise invalid(field, data, allowed, reason=f"unsupported image format {opened.format}")
            image = ImageOps.exif_transpose(opened) or opened
            if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
                # Flatten onto white: PDF pages have no alpha, and black backgrounds hide scans.
                rgba = image.convert("RGBA")
                page = Image.new("RGB", rgba.size, "white")
                page.paste(rgba, mask=rgba.getchannel("A"))
            else:
                page = image.convert("RGB")
            resolution = max(72.0, page.width / _A4_INCHES[0], page.height / _A4_INCHES[1])
            out = io.BytesIO()
            page.save(out, "PDF", resolution=resolution)
    except Exception as exc:
        if isinstance(exc, ValidationError):
            raise
        raise invalid(field, data, allowed, reason=f"unreadable image: {exc}") from None
    return out.getvalue()


def _as_pdf(field: str, data: bytes, *, allow_images: bool) -> bytes:
    kind = detect_kind(data)
    if allow_images and kind in ("jpeg", "png"):
        return require_pdf(field, image_to_pdf(field, data))
    return require_pdf(field, data)


def _is_signed_pdf(reader: PdfReader) -> bool:
    try:
        acroform = reader.root_object.get("/AcroForm")
        if acroform is None:
            return False
        flags = acroform.get_object().get("/SigFlags", 0)
        return bool(int(flags) & 1)
    except Exception:
        return False


def merge_single_document(
    form: DocumentSource,
    identity: DocumentSource,
    *,
    field: str = "documenti",
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> bytes:
    """One PDF with the signed activation form's pages, then the identity document's.

    Either input may be a PDF or a JPEG/PNG image (made into a page first). A digitally signed
    form (PAdES) is kept byte for byte and the identity pages appended as an incremental update,
    so its signature still covers the form as signed.
    """
    with _naming(form):
        form_pdf = _as_pdf(
            f"{field}[0] (form)",
            read_document(f"{field}[0] (form)", form, max_bytes=max_bytes),
            allow_images=True,
        )
    with _naming(identity):
        identity_pdf = _as_pdf(
            f"{field}[1] (identity document)",
            read_document(f"{field}[1] (identity document)", identity, max_bytes=max_bytes),
            allow_images=True,
        )
    try:
        with _pdf_stream(form_pdf) as form_stream, _pdf_stream(identity_pdf) as identity_stream:
            form_reader = PdfReader(form_stream, strict=False)
            identity_reader = PdfReader(identity_stream, strict=False)
            if _is_signed_pdf(form_reader):
                writer = PdfWriter(io.BytesIO(form_pdf), incremental=True)
            else:
                writer = PdfWriter()
                writer.append(form_reader)
            writer.append(identity_reader)
            out = io.BytesIO()
            writer.write(out)
    except Exception as exc:
        raise invalid(
            field, "(form + identity document)", _PDF_ALLOWED, reason=f"merge failed: {exc}"
        ) from None
    return out.getvalue()


# --- encoding -------------------------------------------------------------------------------


def _base64_pieces(data: bytes | bytearray | memoryview) -> list[str]:
    # Piecewise, so the full-size base64 bytes never coexist with the full-size str.
    with memoryview(data) as view, view.cast("B") as octets:
        return [
            binascii.b2a_base64(octets[start : start + _B64_CHUNK], newline=False).decode("ascii")
            for start in range(0, len(octets), _B64_CHUNK)
        ]


def encode_document(data: bytes | bytearray | memoryview) -> str:
    """``data`` as a base64 ASCII string, as the API's ``documenti`` fields take it."""
    return "".join(_base64_pieces(data))


def encode_documents(documents: Iterable[bytes | bytearray | memoryview]) -> list[str]:
    """Each document as a base64 ASCII string (one intermediate copy alive at a time)."""
    return [encode_document(data) for data in documents]


def _sources(field: str, documents: object) -> list[object]:
    # A single path or buffer is a common slip for a one-item list; iterating it would yield
    # characters or ints, so treat it as one document instead.
    if isinstance(documents, str | bytes | bytearray | memoryview | os.PathLike) or callable(
        getattr(documents, "read", None)
    ):
        return [documents]
    if not isinstance(documents, Sequence):
        raise invalid(field, documents, "a list of documents (paths, bytes or binary files)")
    if not documents:
        raise invalid(field, documents, "at least one document", reason="empty list")
    return list(documents)


def check_pdf_documents(
    field: str,
    documents: Sequence[DocumentSource] | DocumentSource,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> list[bytes]:
    """Read each document and require a PDF (conservazione, activation); the checked bytes."""
    checked: list[bytes] = []
    for index, source in enumerate(_sources(field, documents)):
        name = f"{field}[{index}]"
        with _naming(source):
            checked.append(require_pdf(name, read_document(name, source, max_bytes=max_bytes)))
    return checked


def prepare_pdf_documents(
    field: str,
    documents: Sequence[DocumentSource] | DocumentSource,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> list[str]:
    """Read each document, require a PDF, and return them base64-encoded (conservazione, activation)."""
    encoded: list[str] = []
    for index, source in enumerate(_sources(field, documents)):
        name = f"{field}[{index}]"
        with _naming(source):
            data = require_pdf(name, read_document(name, source, max_bytes=max_bytes))
        pieces = _base64_pieces(data)
        del data  # free the raw bytes before the joined str exists, to keep the peak low
        encoded.append("".join(pieces))
        del pieces
    return encoded


def prepare_activation_documents(
    documents: Sequence[DocumentSource] | DocumentSource,
    tipo_casella: object,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> list[str]:
    """The ``documenti`` list for ``PATCH /pec/{id}/attivazione``, base64-encoded."""
    if normalize_enum("tipo_casella", tipo_casella, TipoCasella) not in SINGLE_DOCUMENT_TYPES:
        # One document at a time: its bytes are freed before the next is read.
        return prepare_pdf_documents("documenti", documents, max_bytes=max_bytes)
    return encode_documents(check_activation_documents(documents, tipo_casella, max_bytes=max_bytes))


def check_activation_documents(
    documents: Sequence[DocumentSource] | DocumentSource,
    tipo_casella: object,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> list[bytes]:
    """The documents for ``PATCH /pec/{id}/attivazione``, checked (and merged where needed).

    STANDARD/BRONZE/SILVER/GOLD: each document must be a PDF (the signed form and the identity
    document). DOMICILIODIGITALE/PECMASSIVA: either one PDF already holding both, or exactly two
    documents, the signed form then the identity document, PDFs or JPEG/PNG images, merged here
    into one PDF.
    """
    field = "documenti"
    tipo = normalize_enum("tipo_casella", tipo_casella, TipoCasella)
    if tipo not in SINGLE_DOCUMENT_TYPES:
        return check_pdf_documents(field, documents, max_bytes=max_bytes)
    sources = _sources(field, documents)
    if len(sources) == 1:
        name = f"{field}[0]"
        with _naming(sources[0]):
            data = read_document(name, sources[0], max_bytes=max_bytes)
            if detect_kind(data) in ("jpeg", "png"):
                raise invalid(
                    name,
                    data,
                    "one PDF with the signed form and the identity document, "
                    "or two documents (form, identity)",
                    reason=f"a {tipo.value} box needs the form and the identity document in one PDF",
                )
            return [require_pdf(name, data)]
    if len(sources) != 2:
        raise invalid(
            field,
            f"{len(sources)} documents",
            "1 merged PDF, or 2 documents: the signed activation form, then the identity document",
            reason=f"a {tipo.value} box is activated with a single document",
        )
    form, identity = sources
    return [merge_single_document(form, identity, field=field, max_bytes=max_bytes)]  # type: ignore[arg-type]


# --- p7m ------------------------------------------------------------------------------------


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
            content_is_pdf=b"%PDF-" in content[:_PDF_HEADER_WINDOW],
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


def prepare_p7m_documents(
    sources: Sequence[DocumentSource] | DocumentSource,
    *,
    field: str = "documenti",
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> list[str]:
    """The ``documenti`` list for ``PATCH /comunica_pec/{id}``: each a checked .p7m, sent as DER."""
    return encode_documents(check_p7m_documents(sources, field=field, max_bytes=max_bytes))


def check_p7m_documents(
    sources: Sequence[DocumentSource] | DocumentSource,
    *,
    field: str = "documenti",
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> list[bytes]:
    """Each source a checked .p7m, as the DER bytes that are sent."""
    checked: list[bytes] = []
    for index, source in enumerate(_sources(field, sources)):
        name = f"{field}[{index}]"
        with _naming(source):
            checked.append(_load_p7m(name, read_document(name, source, max_bytes=max_bytes))[1])
    return checked
