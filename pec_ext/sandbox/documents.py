"""Checks on uploaded documents (base64 strings in JSON bodies)."""

from __future__ import annotations

import base64
import binascii

# A PDF carrying this marker is "wrong" (ends in documenti_errati), so tests can drive that branch.
REJECT_MARKER = b"SANDBOX-REJECT"

# DER of the OID 1.2.840.113549.1.7.2 (pkcs7-signedData), as it opens a CMS ContentInfo.
SIGNED_DATA_OID = bytes.fromhex("06092a864886f70d010702")


def as_list(value: object) -> list[object] | None:
    """``documenti`` is a string or a list of strings; ``None`` means missing or empty."""
    if value is None or value == "" or value == []:
        return None
    if isinstance(value, list):
        return list(value)
    return [value]


def decode(item: object) -> bytes | None:
    if not isinstance(item, str):
        return None
    text = "".join(item.split())
    # Tolerate missing padding: the spec's own example is a truncated base64 string.
    text += "=" * (-len(text) % 4)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def is_pdf(data: bytes) -> bool:
    return data.startswith(b"%PDF-")


def _der_length(data: bytes, pos: int) -> tuple[int, int] | None:
    """(length, offset of the content) of the TLV whose length octets start at ``pos``."""
    if pos >= len(data):
        return None
    first = data[pos]
    if first < 0x80:
        return first, pos + 1
    count = first & 0x7F
    if count == 0 or count > 4 or pos + 1 + count > len(data):
        return None  # indefinite (BER) or absurd lengths are not DER
    return int.from_bytes(data[pos + 1 : pos + 1 + count], "big"), pos + 1 + count


def is_signed_data(data: bytes) -> bool:
    """A DER CMS ContentInfo: SEQUENCE { OID signedData, [0] ... } spanning the whole file."""
    if len(data) < 2 or data[0] != 0x30:
        return False
    parsed = _der_length(data, 1)
    if parsed is None:
        return False
    length, start = parsed
    if start + length != len(data):
        return False
    return data[start : start + len(SIGNED_DATA_OID)] == SIGNED_DATA_OID
