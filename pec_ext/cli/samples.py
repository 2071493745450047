"""Documents made in memory for ``pec demo``: PDFs drawn with pypdf, a CAdES-shaped p7m with asn1crypto.

The p7m is a well-formed CMS SignedData with the document attached and one signer whose
certificate is self-made: its structure is what the API checks, but **nothing is really signed**
(the signature bytes are filler). It is for the sandbox only.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
from collections.abc import Sequence

from asn1crypto import algos, cms, core, keys, x509
from pypdf import PdfReader, PdfWriter
from pypdf.generic import ContentStream, DictionaryObject, NameObject

from pec_ext._engine.clock import SYSTEM_CLOCK

_A4 = (595, 842)


def _escape(text: str) -> bytes:
    raw = text.encode("cp1252", errors="replace")
    return raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")


def _text_ops(lines: Sequence[str], *, x: int, y: int, size: int) -> bytes:
    ops = [b"BT", f"/F1 {size} Tf".encode(), f"{x} {y} Td".encode(), f"{size + 4} TL".encode()]
    for line in lines:
        ops += [b"(" + _escape(line) + b") Tj", b"T*"]
    ops.append(b"ET")
    return b"\n".join(ops)


def _page_with_text(writer: PdfWriter, lines: Sequence[str], *, x: int, y: int, size: int) -> None:
    page = writer.add_blank_page(*_A4)
    font = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
        }
    )
    # A direct font dictionary is valid PDF; the content stream is made indirect by pypdf itself.
    page[NameObject("/Resources")] = DictionaryObject(
        {NameObject("/Font"): DictionaryObject({NameObject("/F1"): font})}
    )
    stream = ContentStream(None, writer)
    stream.set_data(_text_ops(lines, x=x, y=y, size=size))
    page.replace_contents(stream)


def text_pdf(title: str, lines: Sequence[str]) -> bytes:
    """A one-page A4 PDF with a title and lines of text."""
    writer = PdfWriter()
    _page_with_text(writer, [title, "", *lines], x=56, y=780, size=12)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def identity_document_pdf(name: str, codice_fiscale: str) -> bytes:
    """A stand-in for a scanned identity card."""
    return text_pdf(
        "CARTA D'IDENTITA' (SAMPLE - NOT A REAL DOCUMENT)",
        [
            f"Titolare: {name}",
            f"Codice fiscale: {codice_fiscale}",
            "Numero: CA00000AA",
            "Scadenza: 01/01/2035",
        ],
    )


def sign_form(form_pdf: bytes, signer: str, place_date: str) -> bytes:
    """The downloaded form with a handwritten-style signature line stamped on its first page."""
    reader = PdfReader(io.BytesIO(form_pdf))
    stamp_writer = PdfWriter()
    _page_with_text(stamp_writer, [f"Firmato: {signer}", place_date], x=300, y=120, size=11)
    stamp = stamp_writer.pages[0]
    writer = PdfWriter()
    writer.append(reader)
    writer.pages[0].merge_page(stamp)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def pdf_text(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() or "" for page in reader.pages)


def _name(common_name: str, serial_number: str | None = None) -> x509.Name:
    attributes = {"country_name": "IT", "organization_name": "openapi-pec demo", "common_name": common_name}
    if serial_number:
        attributes["serial_number"] = serial_number
    return x509.Name.build(attributes)


def p7m(
    content: bytes, *, signer_name: str, codice_fiscale: str, signed_at: dt.datetime | None = None
) -> bytes:
    """A DER CMS SignedData with ``content`` attached and one self-made signer (not a real signature).

    ``signed_at`` (default: now on the system clock) starts the certificate's year of validity.
    """
    issuer = _name("openapi-pec demo CA (not trusted)")
    subject = _name(signer_name, f"TINIT-{codice_fiscale}")
    serial = int.from_bytes(hashlib.sha256(codice_fiscale.encode()).digest()[:8], "big")
    when = signed_at if signed_at is not None else dt.datetime.fromtimestamp(SYSTEM_CLOCK.wall(), dt.UTC)
    now = when.astimezone(dt.UTC).replace(microsecond=0)
    public_key = keys.PublicKeyInfo(
        {
            "algorithm": {"algorithm": "rsa"},
            # a placeholder key: nothing is verified against it
            "public_key": keys.RSAPublicKey({"modulus": (1 << 2047) + 1, "public_exponent": 65537}),
        }
    )
    signature_algorithm = {"algorithm": "sha256_rsa"}
    tbs = x509.TbsCertificate(
        {
            "version": "v3",
            "serial_number": serial,
            "signature": signature_algorithm,
            "issuer": issuer,
            "validity": {
                "not_before": x509.Time({"utc_time": now}),
                "not_after": x509.Time({"utc_time": now + dt.timedelta(days=365)}),
            },
            "subject": subject,
            "subject_public_key_info": public_key,
        }
    )
    certificate = x509.Certificate(
        {"tbs_certificate": tbs, "signature_algorithm": signature_algorithm, "signature_value": b"\x00" * 256}
    )
    signed_attrs = cms.CMSAttributes(
        [
            cms.CMSAttribute({"type": "content_type", "values": ["data"]}),
            cms.CMSAttribute({"type": "message_digest", "values": [hashlib.sha256(content).digest()]}),
            cms.CMSAttribute({"type": "signing_time", "values": [cms.Time({"utc_time": now})]}),
        ]
    )
    signer_info = cms.SignerInfo(
        {
            "version": "v1",
            "sid": cms.SignerIdentifier(
                {"issuer_and_serial_number": {"issuer": issuer, "serial_number": serial}}
            ),
            "digest_algorithm": algos.DigestAlgorithm({"algorithm": "sha256"}),
            "signed_attrs": signed_attrs,
            "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": "rsassa_pkcs1v15"}),
            "signature": core.OctetString(b"\x00" * 256),
        }
    )
    signed_data = cms.SignedData(
        {
            "version": "v1",
            "digest_algorithms": [algos.DigestAlgorithm({"algorithm": "sha256"})],
            "encap_content_info": {"content_type": "data", "content": content},
            "certificates": [certificate],
            "signer_infos": [signer_info],
        }
    )
    return bytes(cms.ContentInfo({"content_type": "signed_data", "content": signed_data}).dump())
