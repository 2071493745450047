"""Documents for activation and communications: read, checked, merged, inspected (PDF, images, p7m)."""

from pec_ext.documents.reading import (
    P7mInfo,
    P7mSigner,
    check_activation_documents,
    check_p7m_documents,
    check_pdf_documents,
    detect_kind,
    image_to_pdf,
    inspect_p7m,
    merge_single_document,
    read_document,
    require_pdf,
)

__all__ = [
    "P7mInfo",
    "P7mSigner",
    "check_activation_documents",
    "check_p7m_documents",
    "check_pdf_documents",
    "detect_kind",
    "image_to_pdf",
    "inspect_p7m",
    "merge_single_document",
    "read_document",
    "require_pdf",
]
