"""Tiny PDF writer for the downloadable forms.

Hand-built rather than drawn with a PDF library so the sandbox has no dependency to generate a
one-page form; pypdf (and any reader) opens the result and extracts the text.
"""

from __future__ import annotations

from collections.abc import Iterable

_PAGE_HEIGHT = 842  # A4 portrait, points
_LINE = 14


def _escape(text: str) -> bytes:
    raw = text.encode("cp1252", errors="replace")
    return raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")


def render(title: str, lines: Iterable[str]) -> bytes:
    """A single A4 page with a title and one line of text per item (long forms are cut short)."""
    ops = [b"BT", b"/F1 16 Tf", b"50 790 Td", b"(" + _escape(title) + b") Tj", b"/F1 10 Tf"]
    y = 790
    for line in lines:
        y -= _LINE
        if y < 40:
            break
        ops.append(f"0 -{_LINE} Td".encode())
        ops.append(b"(" + _escape(line) + b") Tj")
    ops.append(b"ET")
    stream = b"\n".join(ops)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 %d] " % _PAGE_HEIGHT
        + b"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Producer (openapi-pec sandbox) /Title (" + _escape(title) + b") >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info %d 0 R >>\n" % (len(objects) + 1, len(objects))
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)
