"""Reading documents for upload: paths, bytes or binary files, capped in size, known by their bytes.

The API takes documents as base64 strings inside a JSON body:

* activation (``PATCH /pec/{id}/attivazione``): PDFs, the signed activation form and an identity
  document; DOMICILIODIGITALE and PECMASSIVA want both in one single PDF
  (:mod:`pec_ext.documents.pdf`);
* conservazione (``PATCH /pec/{id}/conservazione``): PDFs;
* communication to the business register (``PATCH /comunica_pec/{id}``): CAdES ``.p7m`` files with
  the signed document attached (:mod:`pec_ext.documents.p7m`).

What a file is, is decided by its bytes, never by its name. Each file is capped at
:data:`DEFAULT_MAX_BYTES` while it is read, so a wrong path to a huge file fails fast.

Memory: a document is read once and checked in place (pypdf reads the same buffer); the client
sends the checked bytes as base64 encoded a slice at a time while the request is written, so the
base64 text of a document never exists whole. Merging for the single-document types needs more:
pypdf holds both inputs and the output at once.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Sequence
from typing import BinaryIO, Literal, TypeAlias

from pec_ext.errors import ValidationError
from pec_ext.validation.identifiers import invalid

__all__ = [
    "DEFAULT_MAX_BYTES",
    "PDF_HEADER_WINDOW",
    "DocumentKind",
    "DocumentSource",
    "check_each",
    "detect_kind",
    "document_sources",
    "file_name",
    "naming",
    "read_document",
]

DocumentSource: TypeAlias = str | os.PathLike[str] | bytes | bytearray | BinaryIO
"""A file path, the file's bytes, or a binary file object (read from its current position)."""

DocumentKind = Literal["pdf", "jpeg", "png", "cms", "unknown"]

DEFAULT_MAX_BYTES = 25 * 1024 * 1024
"""Largest single document accepted (25 MiB): scans and signed forms are far smaller, and the
base64 body grows by a third on top."""

_CHUNK = 1024 * 1024
PDF_HEADER_WINDOW = 1024
"""How far into a document a ``%PDF-`` header is looked for (a .p7m carries its PDF there too)."""


def file_name(source: object) -> str | None:
    """The name a person knows ``source`` by: its path, or a file object's ``name``; None for bytes."""
    if isinstance(source, str | os.PathLike):
        try:
            return os.fsdecode(source)
        except (TypeError, ValueError):
            return None
    name = getattr(source, "name", None)
    return name if isinstance(name, str) and name else None


@contextlib.contextmanager
def naming(source: object) -> Iterator[None]:
    """Refusals about ``source`` show its file name rather than ``<488 bytes>`` of its content."""
    try:
        yield
    except ValidationError as exc:
        name = file_name(source)
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


def check_each(
    field: str, documents: object, check: Callable[[str, bytes], bytes], *, max_bytes: int
) -> list[bytes]:
    """Read each of ``documents`` and ``check(name, data)`` it; refusals name the file and its index."""
    checked: list[bytes] = []
    for index, source in enumerate(document_sources(field, documents)):
        name = f"{field}[{index}]"
        with naming(source):
            checked.append(check(name, read_document(name, source, max_bytes=max_bytes)))
    return checked


def document_sources(field: str, documents: object) -> list[object]:
    """The sources of a ``documenti`` argument: a list of them, or one source on its own."""
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


def detect_kind(data: bytes | bytearray | memoryview) -> DocumentKind:
    """What ``data`` is, by its leading bytes: PDF, JPEG, PNG, DER CMS, or unknown."""
    head = bytes(data[:PDF_HEADER_WINDOW])
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
