"""pec_ext.documents: real PDFs (pypdf), images (Pillow) and CMS SignedData (asn1crypto), and the
streamed upload of what the checks return."""

from __future__ import annotations

import base64
import datetime as dt
import gc
import io
import json
import os
import tracemalloc
from pathlib import Path
from typing import Any

import httpx
import pytest
from asn1crypto import cms, keys, pem, x509
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from pypdf import PdfReader, PdfWriter
from pypdf.generic import ArrayObject, DictionaryObject, NameObject, NumberObject

from pec_ext import documents
from pec_ext._engine import wire
from pec_ext._engine.stack import Stack
from pec_ext._engine.steps import Call
from pec_ext._pec.operations import OPERATIONS
from tests.support.validation import outcome, refusal

# --- builders -------------------------------------------------------------------------------


def make_pdf(pages: int = 1, *, attachment: bytes | None = None, signed: bool = False) -> bytes:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(595, 842)
    if attachment is not None:
        writer.add_attachment("blob.bin", attachment)
    if signed:
        writer._root_object[NameObject("/AcroForm")] = DictionaryObject(
            {NameObject("/SigFlags"): NumberObject(3), NameObject("/Fields"): ArrayObject()}
        )
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def make_image(fmt: str, size: tuple[int, int] = (400, 300), mode: str = "RGB") -> bytes:
    color: Any = {"RGBA": (200, 30, 30, 128), "L": 128}.get(mode, (200, 30, 30))
    out = io.BytesIO()
    Image.new(mode, size, color).save(out, fmt)
    return out.getvalue()


def _name(common_name: str, serial: str | None = None) -> x509.Name:
    attributes = {"country_name": "IT", "common_name": common_name}
    if serial:
        attributes["serial_number"] = serial
    return x509.Name.build(attributes)


def make_p7m(content: bytes | None, *, signer: str = "Mario Rossi", serial: int = 4242) -> bytes:
    """A CMS SignedData with one signer; the signature bytes are filler (not verifiable)."""
    issuer = _name("Test Qualified CA")
    tbs = x509.TbsCertificate(
        {
            "version": "v3",
            "serial_number": serial,
            "signature": {"algorithm": "sha256_rsa"},
            "issuer": issuer,
            "validity": {
                "not_before": x509.Time({"utc_time": dt.datetime(2024, 1, 1, tzinfo=dt.UTC)}),
                "not_after": x509.Time({"utc_time": dt.datetime(2027, 1, 1, tzinfo=dt.UTC)}),
            },
            "subject": _name(signer, "TINIT-RSSMRA80A01H501U"),
            "subject_public_key_info": {
                "algorithm": {"algorithm": "rsa"},
                "public_key": keys.RSAPublicKey({"modulus": 2**2047 + 1, "public_exponent": 65537}),
            },
        }
    )
    certificate = x509.Certificate(
        {
            "tbs_certificate": tbs,
            "signature_algorithm": {"algorithm": "sha256_rsa"},
            "signature_value": b"\x01" * 256,
        }
    )
    encap: dict[str, Any] = {"content_type": "data"}
    if content is not None:
        encap["content"] = content
    signed = cms.SignedData(
        {
            "version": "v1",
            "digest_algorithms": [{"algorithm": "sha256"}],
            "encap_content_info": encap,
            "certificates": [certificate],
            "signer_infos": [
                {
                    "version": "v1",
                    "sid": cms.SignerIdentifier(
                        {"issuer_and_serial_number": {"issuer": issuer, "serial_number": serial}}
                    ),
                    "digest_algorithm": {"algorithm": "sha256"},
                    "signature_algorithm": {"algorithm": "sha256_rsa"},
                    "signature": b"\x02" * 256,
                }
            ],
        }
    )
    return bytes(cms.ContentInfo({"content_type": "signed_data", "content": signed}).dump())


PDF = make_pdf()


# --- reading --------------------------------------------------------------------------------


def test_read_sources(tmp_path: Path) -> None:
    path = tmp_path / "form.pdf"
    path.write_bytes(PDF)
    assert documents.read_document("d", PDF) is PDF
    assert documents.read_document("d", bytearray(PDF)) == PDF
    assert documents.read_document("d", str(path)) == PDF
    assert documents.read_document("d", path) == PDF
    with path.open("rb") as stream:
        assert documents.read_document("d", stream) == PDF
    assert documents.read_document("d", io.BytesIO(PDF)) == PDF


def test_read_limits(tmp_path: Path) -> None:
    path = tmp_path / "big.bin"
    path.write_bytes(b"x" * 2000)
    for source in (path, io.BytesIO(b"x" * 2000), b"x" * 2000):
        error = refusal(documents.read_document, "documenti[0]", source, max_bytes=1000)
        assert error.field == "documenti[0]"
        assert "at most 1000 bytes" in str(error.allowed)
    assert documents.DEFAULT_MAX_BYTES == 25 * 1024 * 1024


def test_read_stream_stops_at_the_limit() -> None:
    class Endless(io.RawIOBase):
        def __init__(self) -> None:
            self.served = 0

        def readable(self) -> bool:
            return True

        def read(self, size: int = -1) -> bytes:
            size = 65536 if size is None or size < 0 else size
            self.served += size
            return b"\0" * size

    stream = Endless()
    refusal(documents.read_document, "d", stream, max_bytes=10_000)
    assert stream.served <= 10_001


@pytest.mark.parametrize(
    "source", ["", "/nonexistent/form.pdf", "bad\0path", 42, None, io.StringIO("text"), b"", [b"%PDF-"]]
)
def test_read_refusals(source: object) -> None:
    error = refusal(documents.read_document, "documenti[0]", source)
    assert error.field == "documenti[0]"
    assert error.allowed


# --- PDFs and images ------------------------------------------------------------------------


def test_require_pdf() -> None:
    assert documents.require_pdf("d", PDF) is PDF
    assert documents.require_pdf("d", b"junk before the header " + PDF)  # %PDF- within the first 1024 bytes


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (make_image("JPEG"), "JPEG image"),
        (make_image("PNG"), "PNG image"),
        (b"hello world", "%PDF-"),
        (b"x" * 2000 + PDF, "%PDF-"),
        (b"%PDF-1.7\nnot really a pdf", "damaged"),
        (PDF[: len(PDF) // 2], "damaged"),
        (make_p7m(PDF), "p7m"),
    ],
)
def test_require_pdf_refusals(data: bytes, reason: str) -> None:
    error = refusal(documents.require_pdf, "documenti[1]", data)
    assert error.field == "documenti[1]"
    assert "PDF" in str(error.allowed)
    assert reason in str(error)
    assert len(str(error)) < 500


def test_require_pdf_refuses_password_protected() -> None:
    writer = PdfWriter()
    writer.add_blank_page(100, 100)
    writer.encrypt(user_password="secret", owner_password="owner")
    out = io.BytesIO()
    writer.write(out)
    assert "password" in str(refusal(documents.require_pdf, "d", out.getvalue()))


@pytest.mark.parametrize(("fmt", "mode"), [("JPEG", "RGB"), ("PNG", "RGB"), ("PNG", "RGBA"), ("PNG", "L")])
def test_image_to_pdf(fmt: str, mode: str) -> None:
    pdf = documents.image_to_pdf("d", make_image(fmt, (3000, 2000), mode))
    page = PdfReader(io.BytesIO(pdf)).pages[0]
    assert float(page.mediabox.width) <= 8.27 * 72 + 1  # fits A4 width
    assert documents.detect_kind(pdf) == "pdf"


def test_image_to_pdf_refuses_other_formats() -> None:
    out = io.BytesIO()
    Image.new("RGB", (10, 10)).save(out, "GIF")
    refusal(documents.image_to_pdf, "d", out.getvalue())
    refusal(documents.image_to_pdf, "d", b"\xff\xd8\xff garbage")


# --- merge and activation -------------------------------------------------------------------


def test_merge_pdf_and_image() -> None:
    merged = documents.merge_single_document(make_pdf(2), make_image("JPEG"))
    assert len(PdfReader(io.BytesIO(merged)).pages) == 3
    merged = documents.merge_single_document(make_image("PNG", mode="RGBA"), make_pdf(1))
    assert len(PdfReader(io.BytesIO(merged)).pages) == 2


def test_merge_keeps_a_signed_form_byte_for_byte() -> None:
    form = make_pdf(1, signed=True)
    merged = documents.merge_single_document(form, make_pdf(1))
    assert merged.startswith(form)  # incremental update: the signed revision is untouched
    assert len(PdfReader(io.BytesIO(merged)).pages) == 2


def test_merge_refuses_non_documents() -> None:
    error = refusal(documents.merge_single_document, PDF, b"GIF89a....")
    assert "identity" in error.field


def test_activation_legalmail_types_take_pdfs(tmp_path: Path) -> None:
    path = tmp_path / "id.pdf"
    path.write_bytes(make_pdf(2))
    assert documents.check_activation_documents([PDF, path], "gold") == [PDF, path.read_bytes()]
    error = refusal(documents.check_activation_documents, [PDF, make_image("JPEG")], "GOLD")
    assert error.field == "documenti[1]"
    assert "JPEG" in str(error)


@pytest.mark.parametrize("tipo", ["DOMICILIODIGITALE", "pecmassiva"])
def test_activation_single_document_types(tipo: str) -> None:
    (merged,) = documents.check_activation_documents([make_pdf(1), make_image("JPEG")], tipo)
    assert len(PdfReader(io.BytesIO(merged)).pages) == 2
    assert documents.check_activation_documents([PDF], tipo) == [PDF]
    assert refusal(documents.check_activation_documents, [PDF, PDF, PDF], tipo).field == "documenti"
    assert refusal(documents.check_activation_documents, [make_image("PNG")], tipo).field == "documenti[0]"


def test_activation_refusals() -> None:
    assert refusal(documents.check_activation_documents, [], "GOLD").field == "documenti"
    assert refusal(documents.check_activation_documents, [PDF], "PLATINUM").field == "tipo_casella"
    assert refusal(documents.check_activation_documents, 42, "GOLD").field == "documenti"
    # A single source instead of a list is taken as one document, not iterated.
    assert documents.check_activation_documents(PDF, "GOLD") == [PDF]


def test_conservazione_pdfs() -> None:
    assert documents.check_pdf_documents("documenti", [PDF]) == [PDF]
    assert refusal(documents.check_pdf_documents, "documenti", [PDF, b"text"]).field == "documenti[1]"


# --- the upload: checked bytes, base64-encoded while the request is written -----------------------


def _upload(checked: list[bytes]) -> Any:
    """The request the client sends for ``checked`` (as its flows build it)."""
    call = Call(
        OPERATIONS["activate_mailbox"],
        path_params={"id": "1"},
        json={"documenti": wire.base64_bodies(checked)},
    )
    stack = Stack.of_module(httpx)
    template = wire.Wire.of(
        stack, "https://test.pec.openapi.it/", httpx.Headers(), "Bearer tok", httpx.Timeout(5.0)
    )
    return wire.build_request(template, call)


def test_the_upload_carries_the_checked_bytes_as_base64() -> None:
    checked = documents.check_activation_documents([PDF, make_pdf(2)], "GOLD")
    body = json.loads(b"".join(_upload(checked).stream))
    assert [base64.b64decode(item, validate=True) for item in body["documenti"]] == checked
    assert json.loads(b"".join(_upload([b"\x00\x01"]).stream)) == {"documenti": ["AAE="]}


def test_activation_memory_stays_close_to_the_files(tmp_path: Path) -> None:
    """Two 25 MiB PDFs, checked and sent: the base64 text is never built whole, so the peak stays
    near the files' own size (the checked bytes) instead of the 2.3x a whole-string encoding takes."""
    size = 25 * 1024 * 1024 - 64 * 1024
    paths = []
    for index in range(2):
        path = tmp_path / f"doc{index}.pdf"
        path.write_bytes(make_pdf(1, attachment=os.urandom(size)))
        paths.append(path)
    total = sum(p.stat().st_size for p in paths)
    assert all(p.stat().st_size <= documents.DEFAULT_MAX_BYTES for p in paths)
    gc.collect()
    tracemalloc.start()
    try:
        baseline = tracemalloc.get_traced_memory()[0]
        request = _upload(documents.check_activation_documents(paths, "GOLD"))
        sent = sum(len(chunk) for chunk in request.stream)
        peak = tracemalloc.get_traced_memory()[1] - baseline
    finally:
        tracemalloc.stop()
    assert sent == int(request.headers["content-length"])
    assert sent > total * 4 // 3
    assert peak < 1.3 * total, f"peak {peak / total:.2f}x the files' size"


# --- p7m ------------------------------------------------------------------------------------


def test_inspect_p7m() -> None:
    info = documents.inspect_p7m("documenti[0]", make_p7m(PDF))
    assert info.signer_common_names == ("Mario Rossi",)
    assert info.signers[0].subject_serial_number == "TINIT-RSSMRA80A01H501U"
    assert info.signers[0].certificate_serial == 4242
    assert "Test Qualified CA" in str(info.signers[0].issuer)
    assert info.has_attached_content
    assert info.content_is_pdf
    assert info.content_size == len(PDF)


def test_inspect_p7m_pem_and_base64() -> None:
    der = make_p7m(PDF)
    armored = pem.armor("PKCS7", der)
    assert documents.inspect_p7m("d", armored).signer_common_names == ("Mario Rossi",)
    wrapped = base64.encodebytes(der)
    assert documents.inspect_p7m("d", wrapped).content_size == len(PDF)
    # The upload carries the DER, not the text armor.
    assert documents.check_p7m_documents([armored]) == [der]


def test_inspect_p7m_refuses_a_pdf() -> None:
    error = refusal(documents.inspect_p7m, "documenti[0]", PDF)
    assert "this is a PDF, not a signed .p7m: sign it (CAdES) first" in str(error)
    assert "p7m" in str(error.allowed)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (make_p7m(None), "detached"),
        (bytes(cms.ContentInfo({"content_type": "data", "content": b"x"}).dump()), "not signed_data"),
        (make_image("PNG"), "PNG"),
        (b"\x30\x82\x01\x00garbage", "not a CMS"),
        (b"just text", "not a CMS"),
        (make_p7m(PDF)[:-10], "not a CMS"),
    ],
)
def test_inspect_p7m_refusals(data: bytes, reason: str) -> None:
    error = refusal(documents.inspect_p7m, "documenti[0]", data)
    assert error.field == "documenti[0]"
    assert reason in str(error)


def test_check_p7m_documents(tmp_path: Path) -> None:
    path = tmp_path / "procura.pdf.p7m"
    path.write_bytes(make_p7m(PDF))
    assert documents.check_p7m_documents([path]) == [path.read_bytes()]
    assert refusal(documents.check_p7m_documents, [PDF]).field == "documenti[0]"


# --- properties -----------------------------------------------------------------------------

_BYTES = st.binary(max_size=2048) | st.sampled_from([PDF, make_p7m(b"x"), make_image("PNG")]).flatmap(
    lambda good: st.integers(0, len(good)).map(lambda cut: good[:cut])
)


@settings(max_examples=200, deadline=None)
@given(data=_BYTES)
def test_byte_checks_are_total(data: bytes) -> None:
    for function in (documents.require_pdf, documents.inspect_p7m, documents.image_to_pdf):
        _result, error = outcome(function, "d", data)
        if error is not None:
            assert error.field == "d"
            assert len(str(error)) < 1000


@settings(max_examples=100, deadline=None)
@given(
    sources=st.lists(st.none() | st.integers() | st.text(max_size=8) | _BYTES, max_size=3),
    tipo=st.sampled_from(["GOLD", "PECMASSIVA", "nope"]),
)
def test_document_checks_are_total(sources: list[object], tipo: str) -> None:
    for function, args in [
        (documents.check_activation_documents, (sources, tipo)),
        (documents.check_p7m_documents, (sources,)),
    ]:
        _result, error = outcome(function, *args)
        if error is not None:
            assert error.field
