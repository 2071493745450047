"""Documents for activation and communications: read, checked, merged, inspected (PDF, images, p7m).

``reading`` reads the sources, ``pdf`` checks PDFs, converts images and merges the single
document, ``p7m`` inspects signed .p7m files. The client sends what the ``check_*`` functions
return, base64-encoded while the request is written.
"""

from pec_ext.documents.p7m import P7mInfo, P7mSigner, check_p7m_documents, inspect_p7m
from pec_ext.documents.pdf import (
    check_activation_documents,
    check_pdf_documents,
    image_to_pdf,
    merge_single_document,
    require_pdf,
)
from pec_ext.documents.reading import DEFAULT_MAX_BYTES, DocumentSource, detect_kind, read_document

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DocumentSource",
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
