"""PDF sealing on pyHanko: the SM2 (and ECDSA/RSA) Signer, the SM2 validator plug-in, seal appearance.

- :mod:`trustsvc.pdf.sealing` — :func:`seal_pdf`, :class:`Placement`, keyword placement.
- :mod:`trustsvc.pdf.signer` — :class:`PdfCmsSigner` (pyHanko ``Signer`` over a trustsvc ``Signer``) and the
  signed seal attribute.
- :mod:`trustsvc.pdf.sm2_validation` — SM2 for pyHanko's validators (:func:`sm2_validation_context`).
"""

from trustsvc.pdf.sealing import (
    DEFAULT_MAX_PDF_SIZE,
    PT_PER_MM,
    CallableTimeStamper,
    KeywordBox,
    Level,
    Placement,
    ValidationData,
    find_keyword,
    page_count,
    placement_for_keyword,
    seal_pdf,
)
from trustsvc.pdf.signer import (
    SEAL_ATTRIBUTE_OID,
    SM2_SIGN_OID,
    SM2_SM3_OID,
    PdfCmsSigner,
    seal_attribute,
    seal_from_signer_info,
)
from trustsvc.pdf.sm2_validation import SM2AlgorithmPolicy, SM2SignatureValidator, sm2_validation_context

__all__ = [
    "DEFAULT_MAX_PDF_SIZE",
    "PT_PER_MM",
    "SEAL_ATTRIBUTE_OID",
    "SM2_SIGN_OID",
    "SM2_SM3_OID",
    "CallableTimeStamper",
    "KeywordBox",
    "Level",
    "PdfCmsSigner",
    "Placement",
    "SM2AlgorithmPolicy",
    "SM2SignatureValidator",
    "ValidationData",
    "find_keyword",
    "page_count",
    "placement_for_keyword",
    "seal_attribute",
    "seal_from_signer_info",
    "seal_pdf",
    "sm2_validation_context",
]
