"""PDF documents: checked (pypdf), images made into pages (Pillow), and the single-document merge."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from PIL import Image, ImageOps
from pypdf import PdfReader, PdfWriter

from pec_ext.documents.reading import (
    DEFAULT_MAX_BYTES,
    DocumentSource,
    check_each,
    detect_kind,
    document_sources,
    naming,
    read_document,
)
from pec_ext.enums import SINGLE_DOCUMENT_TYPES, TipoCasella
from pec_ext.errors import ValidationError
from pec_ext.validation.fields import normalize_enum
from pec_ext.validation.identifiers import invalid

__all__ = [
    "check_activation_documents",
    "check_pdf_documents",
    "image_to_pdf",
    "merge_single_document",
    "require_pdf",
]

_PDF_ALLOWED = "a PDF file (starting with %PDF-)"
# Fit converted images on an A4 page (inches) without upscaling small scans past 72 dpi.
_A4_INCHES = (8.27, 11.69)


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
    with naming(form):
        form_pdf = _as_pdf(
            f"{field}[0] (form)",
            read_document(f"{field}[0] (form)", form, max_bytes=max_bytes),
            allow_images=True,
        )
    with naming(identity):
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


def check_pdf_documents(
    field: str,
    documents: Sequence[DocumentSource] | DocumentSource,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> list[bytes]:
    """Read each document and require a PDF (conservazione, activation); the checked bytes."""
    return check_each(field, documents, require_pdf, max_bytes=max_bytes)


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
    sources = document_sources(field, documents)
    if len(sources) == 1:
        name = f"{field}[0]"
        with naming(sources[0]):
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
