"""Sealing PDFs (PDF 电子签章): a visible seal picture plus a CMS signature, on pyHanko's incremental writer.

:func:`seal_pdf` appends one revision to the document (``IncrementalPdfFileWriter``), so every earlier
signature stays valid; its coverage becomes "entire revision" and the new one covers the entire file. The
appearance is the seal picture (PNG, alpha kept as an image ``/SMask``) in a signature widget at the requested
page and box; the signature comes from :class:`~trustsvc.pdf.signer.PdfCmsSigner`, i.e. from any trustsvc
``Signer`` (software key store or HSM) — pyHanko never sees a private key.

Subfilters (decisions):

* **ECDSA / RSA → ``/ETSI.CAdES.detached`` (PAdES baseline).** What EU-style and modern validators (Adobe,
  pdfsig/NSS, pyHanko, DSS) treat as the standard; B-T and B-LT are defined for it.
* **SM2 → ``/adbe.pkcs7.detached``**, as spec/standards.md §5 recommends and as the Chinese PDF seal
  implementations seen do: a PKCS#7-style SignedData with contentType, signingTime and messageDigest (SM3 over
  the ByteRange) signed by SM2. SM2 *could* be wrapped as PAdES syntactically (pyHanko would write it), but
  PAdES forbids the signingTime attribute the Chinese practice carries, ETSI's algorithm catalogue
  (TS 119 312) has no SM2/SM3 so no PAdES validator would accept it anyway, and nothing in Chinese practice
  reads it. So it is not offered.

Levels, named as in PAdES (``level``):

* ``"B-B"`` — the signature only. No time-stamper, no validation data.
* ``"B-T"`` — plus an RFC 3161 signature time-stamp over the signature value (unsigned attribute), from the
  ``timestamper`` (a pyHanko ``TimeStamper``, or a callable TimeStampReq DER → TimeStampResp DER, wrapped by
  :class:`CallableTimeStamper`). SM2 signatures are time-stamped with an SM3 imprint.
* ``"B-LT"`` — B-T plus the revocation data validators need: before signing, the signer's and the TSA's
  certificates are validated (hard-fail: every certificate naming a CRL/OCSP location must be covered) with
  :class:`ValidationData` (OCSP responses and CRLs given, and/or a fetcher), and everything used is
  embedded — for PAdES in the document security store (DSS) *of the signature's own revision* (pyHanko's
  ``TOGETHER_WITH_SIGNATURE``, no VRI), so a B-LT seal is still a single revision; for SM2 in the
  ``adbe-revocationInfoArchival`` signed attribute, the adbe.pkcs7 way.

Placement (:class:`Placement`): page (1-based) and a box in millimetres, ``y`` measured down from the TOP of
the page as OFD does, relative to the top-left corner of the page *as displayed*: the visible area is the
CropBox (clipped to the MediaBox), and a page's ``/Rotate`` is honoured — the box lands where a reader sees
it and the picture is turned so it shows upright. The box must lie inside the visible area (0.5 pt of slack
for page sizes rounded to whole points). The picture keeps its aspect ratio and is centred in the box.
Pages with ``/UserUnit`` other than 1 are refused.

Keyword placement (:func:`find_keyword`, :func:`placement_for_keyword`) reads the text with **pdfminer.six**
(pure Python, MIT; per-character boxes from the fonts' widths and ToUnicode maps, CJK included). pyHanko has
no text extraction; poppler's ``pdftotext -bbox`` is a system tool, not something the service may shell out
to; pypdf's extraction gives only the start of each text run, not character boxes. pdfminer is imported only
when a keyword is searched for, and its absence is a ConfigurationError. Matching ignores whitespace (Chinese
documents often space out "盖 章 处") and follows the content-stream order of characters on each page.

Input checks raise typed errors (never pyHanko's): over ``max_size`` → PayloadTooLarge; not a PDF or not
parseable → MalformedInput; encrypted → InvalidInput; page out of range, box off the page, an unusable seal
or picture, a bad level/option combination → InvalidInput. A time-stamp authority that does not answer is
UpstreamUnavailable (503).

Time (``signing_time``): the time the signature claims — ``/M`` in the signature dictionary and, for SM2, the
CMS signingTime — is the caller's (the service passes its clock, the moment it audits), in UTC to the second;
the seal's validity and B-LT validation data are checked at that moment. Without it pyHanko reads the
system clock.

Also: documents are read in pyHanko's strict mode (a file strict mode refuses is MalformedInput; its signature
would not validate in strict validators either). A new signature field is always created (``Seal<n>``, or
``field_name``); signing into an existing empty field is not offered. :func:`seal_pdf` is synchronous (pyHanko
runs its coroutines with ``asyncio.run``): call it from a worker thread, not from inside a running event loop.
The compressed picture streams are cached per (PNG bytes, page rotation), see docs/PERFORMANCE.md.
"""

from __future__ import annotations

import functools
import io
import math
import re
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, NamedTuple

from asn1crypto import crl, ocsp, tsp, x509
from PIL import Image
from pyhanko.pdf_utils import generic, layout
from pyhanko.pdf_utils.content import PdfContent, ResourceType
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.rw_common import find_inherited_value_in_tree
from pyhanko.pdf_utils.writer import BasePdfFileWriter
from pyhanko.sign.fields import SigFieldSpec, SigSeedSubFilter, enumerate_sig_fields
from pyhanko.sign.general import SigningError
from pyhanko.sign.signers.pdf_signer import (
    DSSContentSettings,
    PdfSignatureMetadata,
    PdfSigner,
    PdfSigningSession,
    SigDSSPlacementPreference,
)
from pyhanko.sign.timestamps import TimeStamper
from pyhanko.stamp import StaticStampStyle
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.errors import PathBuildingError, PathValidationError, ValidationError
from pyhanko_certvalidator.fetchers import FetcherBackend

from trustsvc import errors
from trustsvc.keys.algorithms import SignatureAlgorithm
from trustsvc.keys.signer import Signer
from trustsvc.pdf.signer import PdfCmsSigner
from trustsvc.pdf.sm2_validation import SM2AlgorithmPolicy, SM2SignatureValidator
from trustsvc.seal.ses import parse_seal, signer_is_listed, verify_seal

__all__ = [
    "DEFAULT_MAX_PDF_SIZE",
    "PT_PER_MM",
    "CallableTimeStamper",
    "KeywordBox",
    "Level",
    "Placement",
    "ValidationData",
    "find_keyword",
    "page_count",
    "placement_for_keyword",
    "seal_pdf",
]

#: Largest PDF accepted by default (the service's default request size limit).
DEFAULT_MAX_PDF_SIZE = 32 * 1024 * 1024
#: PDF points per millimetre.
PT_PER_MM = 72 / 25.4

Level = Literal["B-B", "B-T", "B-LT"]
_LEVELS = ("B-B", "B-T", "B-LT")

_ENCRYPTED = "encrypted PDFs cannot be sealed; decrypt first"
_SLACK_PT = 0.5  # page sizes are often whole points (A4 = 595 x 842), 210 mm = 595.28 pt
_MAX_PICTURE_PIXELS = 6000 * 6000
_MAX_TEXT = 500
_FIELD_NAME_RE = re.compile(r"^[^.\x00-\x1f]{1,100}$")
_HEADER_WINDOW = 1024  # ISO 32000-1 §7.5.2 tolerates bytes before %PDF-; readers look in the first KiB
# What pyHanko / pdfminer / Pillow raise on input they cannot handle (besides their own error classes):
# they index into dictionaries, assert on types and recurse without limits on hostile files.
_PARSE_ERRORS = (
    PdfError,
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    AttributeError,
    AssertionError,
    RecursionError,
    OverflowError,
    NotImplementedError,
    UnicodeError,
    OSError,
    zlib.error,  # a corrupt Flate stream; pyHanko lets it through
)


# ==========================================================================================================
# Public data types
# ==========================================================================================================


@dataclass(frozen=True)
class Placement:
    """Where the seal goes: ``page`` (1-based) and a box in mm, ``y_mm`` down from the top of the page.

    Coordinates are relative to the top-left corner of the visible page (CropBox) as displayed, i.e. after
    the page's ``/Rotate``. InvalidInput for a page below 1, a negative or non-finite coordinate, or a
    non-positive size; whether the box fits the page is checked against the document by :func:`seal_pdf`.
    """

    page: int
    x_mm: float
    y_mm: float
    width_mm: float
    height_mm: float

    def __post_init__(self) -> None:
        if isinstance(self.page, bool) or not isinstance(self.page, int) or self.page < 1:
            raise errors.InvalidInput("placement page must be an integer, 1 for the first page")
        for name in ("x_mm", "y_mm", "width_mm", "height_mm"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise errors.InvalidInput(f"placement {name} must be a finite number")
            object.__setattr__(self, name, float(value))
        if self.x_mm < 0 or self.y_mm < 0:
            raise errors.InvalidInput("placement x_mm and y_mm must not be negative")
        if self.width_mm <= 0 or self.height_mm <= 0:
            raise errors.InvalidInput("placement width_mm and height_mm must be positive")


class KeywordBox(NamedTuple):
    """Where a keyword was found: page (1-based) and its bounding box, in the :class:`Placement` frame."""

    page: int
    x_mm: float
    y_mm: float
    width_mm: float
    height_mm: float


@dataclass(frozen=True)
class ValidationData:
    """Revocation data for a B-LT seal: used to validate the chain before signing, then embedded.

    ``ocsps``/``crls`` are DER (or asn1crypto) OCSP responses and CRLs; ``fetcher_backend`` (a
    pyhanko-certvalidator ``FetcherBackend``) fetches whatever they do not cover from the CRL/OCSP locations
    in the certificates. ``trust_roots`` anchor the path; by default the self-signed certificates of the
    ``chain`` given to :func:`seal_pdf`. Every certificate on the signer's and the TSA's path that names a
    CRL or OCSP location must be covered (hard-fail), else sealing fails with InvalidInput.
    """

    ocsps: Sequence[bytes | ocsp.OCSPResponse] = ()
    crls: Sequence[bytes | crl.CertificateList] = ()
    trust_roots: Sequence[x509.Certificate] = ()
    fetcher_backend: FetcherBackend | None = field(default=None)


class CallableTimeStamper(TimeStamper):
    """A pyHanko ``TimeStamper`` that hands each DER TimeStampReq to ``request`` and reads its DER answer.

    ``request`` is whatever reaches the TSA: an HTTP client, or in-process
    ``lambda der: authority.stamp(parse_timestamp_request(der), serial=..., now=...)``.
    """

    def __init__(self, request: Callable[[bytes], bytes], *, include_nonce: bool = True) -> None:
        super().__init__(include_nonce=include_nonce)
        self._request = request

    async def async_request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
        answer = self._request(req.dump())
        if not isinstance(answer, bytes):
            raise OSError("the time-stamp authority did not return bytes")
        return tsp.TimeStampResp.load(answer)


# ==========================================================================================================
# Sealing
# ==========================================================================================================


def seal_pdf(
    pdf_bytes: bytes,
    *,
    signer: Signer,
    signer_cert: x509.Certificate,
    chain: Sequence[x509.Certificate],
    seal_der: bytes | None,
    picture_png: bytes,
    placement: Placement,
    level: Level = "B-B",
    timestamper: TimeStamper | Callable[[bytes], bytes] | None = None,
    validation_info: ValidationData | None = None,
    field_name: str | None = None,
    reason: str | None = None,
    location: str | None = None,
    contact: str | None = None,
    max_size: int = DEFAULT_MAX_PDF_SIZE,
    signing_time: datetime | None = None,
) -> bytes:
    """Return ``pdf_bytes`` with one more revision: the seal picture at ``placement``, signed by ``signer``.

    ``signer_cert`` holds ``signer``'s key; ``chain`` are the CA certificates that go into the signature
    (issuing CA, optionally the root). ``seal_der`` is the GB/T 38540 seal the signature is made under: it
    must parse, its maker signature must verify, ``signer_cert`` must be listed in it and it must be valid
    now; it is carried in the signed attribute :data:`~trustsvc.pdf.signer.SEAL_ATTRIBUTE_OID`. ``None``
    makes a plain signature (a person's signature, say). ``picture_png`` is what is shown (RGBA PNG as made
    by :func:`trustsvc.seal.picture.render_seal`; transparency is kept). ``field_name`` defaults to
    ``Seal<n>``, the first such name not in use; ``reason``/``location``/``contact`` go into the signature
    dictionary (Chinese text is fine). See the module docstring for levels, subfilters and placement.

    ``signing_time`` (timezone-aware; taken in UTC, to the second) is the time the signature claims: the
    ``/M`` entry and, for SM2 (adbe.pkcs7), the CMS signingTime (PAdES forbids that attribute: there /M is
    the claimed time); the seal must be valid then, and B-LT validation data given as OCSP responses/CRLs
    (no fetcher) is checked at that moment. ``None`` reads the system clock, as pyHanko does.
    """
    _check_level(level, timestamper, validation_info)
    at = _signing_time(signing_time)
    writer = _open(pdf_bytes, max_size)
    geometry = _page_geometry(writer.prev, placement.page)
    box = geometry.rect(
        placement.x_mm * PT_PER_MM,
        placement.y_mm * PT_PER_MM,
        placement.width_mm * PT_PER_MM,
        placement.height_mm * PT_PER_MM,
    )
    name = _field_name(writer.prev, field_name)
    texts = {"reason": reason, "location": location, "contact": contact}
    for what, text in texts.items():
        if text is not None and (not isinstance(text, str) or len(text) > _MAX_TEXT):
            raise errors.InvalidInput(f"{what} must be text of at most {_MAX_TEXT} characters")
    if seal_der is not None:
        _check_seal(seal_der, signer_cert, at)
    if not isinstance(picture_png, bytes):
        raise errors.InvalidInput("the seal picture must be a PNG")
    picture = _encoded_picture(picture_png, geometry.rotate)

    pdf_signer_obj = PdfCmsSigner(signer, signer_cert, chain, seal_der=seal_der)
    sm2 = pdf_signer_obj.algorithm is SignatureAlgorithm.SM2_SM3
    stamper = _timestamper(timestamper)
    context = None
    if validation_info is not None:
        context = _validation_context(validation_info, chain, at)
    meta = PdfSignatureMetadata(
        field_name=name,
        md_algorithm=pdf_signer_obj.digest_algorithm,
        subfilter=SigSeedSubFilter.ADOBE_PKCS7_DETACHED if sm2 else SigSeedSubFilter.PADES,
        reason=reason,
        location=location,
        contact_info=contact,
        embed_validation_info=context is not None,
        validation_context=context,
        # B-LT in the signature's own revision: one revision per seal, "entire file" coverage.
        dss_settings=DSSContentSettings(
            include_vri=False, placement=SigDSSPlacementPreference.TOGETHER_WITH_SIGNATURE
        ),
        # Without a TSA every byte of the CMS is known at the dry run (the signature placeholder has the
        # maximum DER size), so no 50 % margin: the seal attribute alone can be 100 KB.
        tight_size_estimates=stamper is None,
    )
    style = StaticStampStyle(
        background=_PictureContent(picture),
        border_width=0,
        background_opacity=1.0,
        background_layout=layout.SimpleBoxLayoutRule(
            x_align=layout.AxisAlignment.ALIGN_MID,
            y_align=layout.AxisAlignment.ALIGN_MID,
            margins=layout.Margins(),
            inner_content_scaling=layout.InnerScaling.STRETCH_TO_FIT,
        ),
    )
    pdf_signer = _TimedPdfSigner(
        meta,
        signer=pdf_signer_obj,
        timestamper=stamper,
        stamp_style=style,
        # pyHanko annotates the box as ints but writes any number (FloatObject(rd(x)), fields.py)
        new_field_spec=SigFieldSpec(sig_field_name=name, on_page=placement.page - 1, box=box),  # type: ignore[arg-type]
    )
    pdf_signer.signing_time = at
    output = io.BytesIO()
    with _signing_errors():
        # pyHanko's synchronous entry point: runs the signing coroutine and then closes any HTTP session a
        # fetcher opened for the validation context.
        pdf_signer.sign_pdf(writer, output=output)
    return output.getvalue()


class _TimedPdfSigner(PdfSigner):
    """A ``PdfSigner`` whose signing session takes its time from the caller, not from the system clock.

    pyHanko (0.38) has no public option for it (issue MatthiasValvekens/pyHanko#569): ``init_signing_session``
    creates the ``PdfSigningSession`` without a time, so the session reads ``datetime.now()``. Everything
    after that reads ``session.system_time``: the ``/M`` entry (``prepare_tbs_document``), the CMS
    signingTime (``async_sign_pdf``'s ``PdfCMSSignedAttributes``) and the dry-run size estimate. So the one
    value is set there, right after the session is made.
    """

    signing_time: datetime | None = None

    def init_signing_session(
        self, pdf_out: BasePdfFileWriter, existing_fields_only: bool = False
    ) -> PdfSigningSession:
        session = super().init_signing_session(pdf_out, existing_fields_only=existing_fields_only)
        if self.signing_time is not None:
            session.system_time = self.signing_time
        return session


def _signing_time(value: datetime | None) -> datetime | None:
    """Return ``value`` in UTC to the second (what /M and UTCTime hold); InvalidInput for a naive time."""
    if value is None:
        return None
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise errors.InvalidInput("signing_time must be a timezone-aware datetime")
    return value.astimezone(UTC).replace(microsecond=0)


def page_count(pdf_bytes: bytes, *, max_size: int = DEFAULT_MAX_PDF_SIZE) -> int:
    """Return the number of pages of ``pdf_bytes`` (same input checks as :func:`seal_pdf`)."""
    reader = _open(pdf_bytes, max_size).prev
    with _reading_errors():
        return _count(reader)


def _check_level(level: str, timestamper: object, validation_info: object) -> None:
    if level not in _LEVELS:
        raise errors.InvalidInput(f"level must be one of {', '.join(_LEVELS)}")
    if level == "B-B" and (timestamper is not None or validation_info is not None):
        raise errors.InvalidInput(
            "a B-B seal takes no time-stamper and no validation data (ask for B-T/B-LT)"
        )
    if level in ("B-T", "B-LT") and timestamper is None:
        raise errors.InvalidInput(f"a {level} seal needs a time-stamper")
    if level == "B-T" and validation_info is not None:
        raise errors.InvalidInput("validation data is embedded only in B-LT seals")
    if level == "B-LT" and validation_info is None:
        raise errors.InvalidInput("a B-LT seal needs validation data (OCSP responses, CRLs or a fetcher)")
    if validation_info is not None and not isinstance(validation_info, ValidationData):
        raise errors.InvalidInput("validation_info must be a ValidationData")


def _open(pdf_bytes: bytes, max_size: int) -> IncrementalPdfFileWriter:
    if not isinstance(pdf_bytes, bytes | bytearray | memoryview):
        raise errors.InvalidInput("the PDF must be bytes")
    data = bytes(pdf_bytes)
    if len(data) > max_size:
        raise errors.PayloadTooLarge(f"the PDF is {len(data)} bytes; the limit is {max_size}")
    if b"%PDF-" not in data[:_HEADER_WINDOW]:
        raise errors.MalformedInput("not a PDF (no %PDF- header)")
    with _reading_errors():
        reader = PdfFileReader(io.BytesIO(data), strict=True)
        if reader.encrypted:
            raise errors.InvalidInput(_ENCRYPTED)
        writer = IncrementalPdfFileWriter(io.BytesIO(data), prev=reader)
        _count(reader)  # the page tree must be readable before anything else is tried
    return writer


def _count(reader: PdfFileReader) -> int:
    count = reader.root["/Pages"]["/Count"]
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise errors.MalformedInput("the page tree has no valid /Count")
    return int(count)


@contextmanager
def _reading_errors() -> Iterator[None]:
    try:
        yield
    except errors.TrustsvcError:
        raise
    except _PARSE_ERRORS as exc:
        raise errors.MalformedInput(f"the PDF could not be read: {_describe(exc)}") from exc


@contextmanager
def _signing_errors() -> Iterator[None]:
    try:
        yield
    except errors.TrustsvcError:
        raise
    except (PathBuildingError, PathValidationError, ValidationError) as exc:
        raise errors.InvalidInput(f"the certificates could not be validated: {_describe(exc)}") from exc
    except SigningError as exc:
        cause = exc.__cause__
        if isinstance(cause, errors.TrustsvcError):
            raise cause from exc
        if isinstance(cause, PathBuildingError | PathValidationError | ValidationError):
            raise errors.InvalidInput(
                f"{_describe(exc)}: {_describe(cause)} (are the OCSP responses / CRLs complete and current?)"
            ) from exc
        raise errors.InvalidInput(f"the PDF could not be sealed: {_describe(exc)}") from exc
    except OSError as exc:  # TimestampRequestError is an IOError; so is a TSA client's network failure
        raise errors.UpstreamUnavailable(f"the time-stamp authority failed: {_describe(exc)}") from exc
    except _PARSE_ERRORS as exc:
        raise errors.MalformedInput(f"the PDF could not be sealed: {_describe(exc)}") from exc


def _describe(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text[:300]


def _field_name(reader: PdfFileReader, wanted: str | None) -> str:
    with _reading_errors():
        existing = {name for name, _, _ in enumerate_sig_fields(reader)}
    if wanted is not None:
        if not isinstance(wanted, str) or not _FIELD_NAME_RE.match(wanted):
            raise errors.InvalidInput(
                "field_name must be 1 to 100 characters, without '.' or control characters"
            )
        if wanted in existing:
            raise errors.InvalidInput(f"the document already has a signature field named {wanted!r}")
        return wanted
    n = len(existing) + 1
    while f"Seal{n}" in existing:
        n += 1
    return f"Seal{n}"


def _check_seal(seal_der: bytes, signer_cert: x509.Certificate, at: datetime | None = None) -> None:
    """Refuse a seal GB/T 38540 §7.2 a) would refuse: unreadable, bad maker signature, signer not listed,
    not valid at the signing time ``at`` (default: now)."""
    if not isinstance(seal_der, bytes):
        raise errors.InvalidInput("seal_der must be bytes")
    try:
        seal = parse_seal(seal_der)
        verify_seal(seal)
    except (errors.MalformedInput, errors.InvalidSignature) as exc:
        raise errors.InvalidInput(f"the seal cannot be used: {exc.detail}") from None
    if not signer_is_listed(seal, bytes(signer_cert.dump())):
        raise errors.InvalidInput("the signer certificate is not listed in the seal")
    now = at or datetime.now(UTC)
    if not seal.valid_start <= now <= seal.valid_end:
        start, end = (f"{t:%Y-%m-%d %H:%M:%S}Z" for t in (seal.valid_start, seal.valid_end))
        when = "now" if at is None else f"at the signing time {at:%Y-%m-%d %H:%M:%S}Z"
        raise errors.InvalidInput(f"the seal is valid from {start} to {end}, not {when}")


def _picture(png: bytes, rotate: int) -> Image.Image:
    """Return the PNG as a Pillow image in RGB(A) or L(A), turned against the page's /Rotate."""
    if not png.startswith(b"\x89PNG\r\n\x1a\n"):
        raise errors.InvalidInput("the seal picture must be a PNG")
    image: Image.Image
    try:
        image = Image.open(io.BytesIO(png))
        if image.width * image.height > _MAX_PICTURE_PIXELS:
            raise errors.InvalidInput("the seal picture is too large (at most 36 megapixels)")
        image.load()
    except errors.TrustsvcError:
        raise
    except (OSError, ValueError, Image.DecompressionBombError, SyntaxError) as exc:
        raise errors.InvalidInput("the seal picture is not a readable PNG") from exc
    if image.mode not in ("RGB", "RGBA", "L", "LA"):
        # palette, 16-bit and other modes: keep any transparency
        has_alpha = image.mode in ("PA", "RGBa", "La") or "transparency" in image.info
        image = image.convert("RGBA" if has_alpha else "RGB")
    # A page displayed turned clockwise by /Rotate shows its content turned the same way: pre-turn the picture
    # the other way so the seal reads upright. (transpose turns counter-clockwise.)
    turn = {90: Image.Transpose.ROTATE_90, 180: Image.Transpose.ROTATE_180, 270: Image.Transpose.ROTATE_270}
    if rotate in turn:
        image = image.transpose(turn[rotate])
    return image


@dataclass(frozen=True)
class _EncodedPicture:
    """An image XObject's samples, Flate-compressed: colour, and the alpha channel for its /SMask."""

    width: int
    height: int
    gray: bool
    samples: bytes
    alpha: bytes | None


@functools.lru_cache(maxsize=64)
def _encoded_picture(png: bytes, rotate: int) -> _EncodedPicture:
    """Return the picture ready for embedding; cached, since a service seals with the same few pictures.

    Decoding the PNG and compressing a 600 dpi picture's samples takes longer than the whole rest of sealing
    (docs/PERFORMANCE.md); the result only depends on the bytes and the rotation. Failures are not cached.
    """
    image = _picture(png, rotate)
    alpha = None
    if image.mode in ("RGBA", "LA"):
        alpha = zlib.compress(image.getchannel("A").tobytes())
        image = image.convert(image.mode[:-1])
    return _EncodedPicture(
        image.width, image.height, image.mode == "L", zlib.compress(image.tobytes()), alpha
    )


class _PictureContent(PdfContent):
    """The seal picture as pyHanko stamp content: an image XObject (with /SMask) drawn over its box.

    pyHanko's own ``PdfImage`` does the same from a Pillow image but compresses the samples for every
    document; this one writes the pre-compressed streams of :func:`_encoded_picture`.
    """

    def __init__(self, picture: _EncodedPicture) -> None:
        super().__init__(box=layout.BoxConstraints(picture.width, picture.height))
        self._picture = picture

    def _image(
        self, samples: bytes, gray: bool, smask: generic.IndirectObject | None
    ) -> generic.IndirectObject:
        entries: dict[generic.NameObject, generic.PdfObject] = {
            generic.pdf_name("/Type"): generic.pdf_name("/XObject"),
            generic.pdf_name("/Subtype"): generic.pdf_name("/Image"),
            generic.pdf_name("/Width"): generic.NumberObject(self._picture.width),
            generic.pdf_name("/Height"): generic.NumberObject(self._picture.height),
            generic.pdf_name("/ColorSpace"): generic.pdf_name("/DeviceGray" if gray else "/DeviceRGB"),
            generic.pdf_name("/BitsPerComponent"): generic.NumberObject(8),
            generic.pdf_name("/Filter"): generic.pdf_name("/FlateDecode"),
        }
        if smask is not None:
            entries[generic.pdf_name("/SMask")] = smask
        return self._ensure_writer.add_object(generic.StreamObject(entries, encoded_data=samples))

    def render(self) -> bytes:
        picture = self._picture
        smask = None if picture.alpha is None else self._image(picture.alpha, True, None)
        image = self._image(picture.samples, picture.gray, smask)
        self.set_resource(category=ResourceType.XOBJECT, name=generic.pdf_name("/SealPicture"), value=image)
        return b"q %g 0 0 %g 0 0 cm /SealPicture Do Q" % (self.box.width, self.box.height)


def _timestamper(timestamper: TimeStamper | Callable[[bytes], bytes] | None) -> TimeStamper | None:
    if timestamper is None or isinstance(timestamper, TimeStamper):
        return timestamper
    if callable(timestamper):
        return CallableTimeStamper(timestamper)
    raise errors.InvalidInput(
        "timestamper must be a pyHanko TimeStamper or a callable (request DER → response DER)"
    )


def _validation_context(
    info: ValidationData, chain: Sequence[x509.Certificate], moment: datetime | None = None
) -> ValidationContext:
    roots = list(info.trust_roots) or [c for c in chain if c.self_signed in ("maybe", "yes")]
    if not roots:
        raise errors.InvalidInput(
            "a B-LT seal needs the trust anchor: put the root in chain or in validation_info.trust_roots"
        )
    try:
        ocsps = [
            r if isinstance(r, ocsp.OCSPResponse) else ocsp.OCSPResponse.load(bytes(r)) for r in info.ocsps
        ]
        crls = [
            c if isinstance(c, crl.CertificateList) else crl.CertificateList.load(bytes(c)) for c in info.crls
        ]
        for item in (*ocsps, *crls):
            item.native  # noqa: B018 -- asn1crypto parses lazily; force it here, not deep inside pyHanko
    except (ValueError, TypeError) as exc:
        raise errors.MalformedInput(
            "an OCSP response or CRL in the validation data could not be parsed"
        ) from exc
    kwargs: dict[str, Any] = {}
    if info.fetcher_backend is not None:
        kwargs["fetcher_backend"] = info.fetcher_backend
    if moment is not None and info.fetcher_backend is None:
        # Checked at the time the signature claims. Not with a fetcher: what it fetches speaks about the
        # present, and certvalidator documents moment and fetching as exclusive.
        kwargs["moment"] = moment
    return ValidationContext(
        trust_roots=roots,
        other_certs=list(chain),
        ocsps=ocsps,
        crls=crls,
        allow_fetching=info.fetcher_backend is not None,
        revocation_mode="hard-fail",
        algorithm_usage_policy=SM2AlgorithmPolicy(),
        signature_validator=SM2SignatureValidator(),
        **kwargs,
    )


# ==========================================================================================================
# Page geometry
# ==========================================================================================================


@dataclass(frozen=True)
class _PageGeometry:
    """The visible area of a page in user space and how it is displayed.

    ``box`` = CropBox ∩ MediaBox, normalised (x0 < x1, y0 < y1); ``rotate`` = /Rotate in 0/90/180/270
    (clockwise). Displayed coordinates (u, v) are points from the displayed top-left corner, v downwards.
    """

    box: tuple[float, float, float, float]
    rotate: int

    @property
    def size(self) -> tuple[float, float]:
        """Return (width, height) of the page as displayed, in points."""
        x0, y0, x1, y1 = self.box
        w, h = x1 - x0, y1 - y0
        return (h, w) if self.rotate in (90, 270) else (w, h)

    def to_user(self, u: float, v: float) -> tuple[float, float]:
        x0, y0, x1, y1 = self.box
        if self.rotate == 90:
            return x0 + v, y0 + u
        if self.rotate == 180:
            return x1 - u, y0 + v
        if self.rotate == 270:
            return x1 - v, y1 - u
        return x0 + u, y1 - v

    def from_user(self, x: float, y: float) -> tuple[float, float]:
        x0, y0, x1, y1 = self.box
        if self.rotate == 90:
            return y - y0, x - x0
        if self.rotate == 180:
            return x1 - x, y - y0
        if self.rotate == 270:
            return y1 - y, x1 - x
        return x - x0, y1 - y

    def rect(self, u: float, v: float, w: float, h: float) -> tuple[float, float, float, float]:
        """Return the user-space rectangle of a displayed box; InvalidInput if it is not on the page."""
        width, height = self.size
        if u + w > width + _SLACK_PT or v + h > height + _SLACK_PT:
            raise errors.InvalidInput(
                f"the box ({u / PT_PER_MM:.1f}, {v / PT_PER_MM:.1f}) + ({w / PT_PER_MM:.1f} x "
                f"{h / PT_PER_MM:.1f}) mm does not fit the page, which is {width / PT_PER_MM:.1f} x "
                f"{height / PT_PER_MM:.1f} mm"
            )
        corners = [self.to_user(u, v), self.to_user(u + w, v + h)]
        xs = sorted(c[0] for c in corners)
        ys = sorted(c[1] for c in corners)
        return xs[0], ys[0], xs[1], ys[1]

    def displayed(self, rect: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
        """Return (u, v, w, h) of a user-space rectangle, in displayed points."""
        corners = [self.from_user(rect[0], rect[1]), self.from_user(rect[2], rect[3])]
        us = sorted(c[0] for c in corners)
        vs = sorted(c[1] for c in corners)
        return us[0], vs[0], us[1] - us[0], vs[1] - vs[0]


def _page_geometry(reader: PdfFileReader, page: int) -> _PageGeometry:
    with _reading_errors():
        count = _count(reader)
        if page > count:
            raise errors.InvalidInput(
                f"page {page} does not exist: the document has {count} page{'s' if count != 1 else ''}"
            )
        page_obj = reader.find_page_for_modification(page - 1)[0].get_object()
        media = _rectangle(find_inherited_value_in_tree(page_obj, "/MediaBox", "/Parent"), "/MediaBox")
        crop_value = find_inherited_value_in_tree(page_obj, "/CropBox", "/Parent")
        crop = media if crop_value is None else _rectangle(crop_value, "/CropBox")
        rotate_value = find_inherited_value_in_tree(page_obj, "/Rotate", "/Parent")
        user_unit = page_obj.get("/UserUnit", 1)
    if float(user_unit) != 1.0:
        raise errors.InvalidInput("pages with a /UserUnit other than 1 are not supported")
    rotate = 0 if rotate_value is None else int(rotate_value)
    if rotate % 90:
        raise errors.MalformedInput(f"page {page} has /Rotate {rotate}, not a multiple of 90")
    box = (max(crop[0], media[0]), max(crop[1], media[1]), min(crop[2], media[2]), min(crop[3], media[3]))
    if box[2] - box[0] < 1 or box[3] - box[1] < 1:
        raise errors.MalformedInput(f"page {page} has no visible area (CropBox outside the MediaBox)")
    return _PageGeometry(box, rotate % 360)


def _rectangle(value: object, what: str) -> tuple[float, float, float, float]:
    if not isinstance(value, generic.ArrayObject | list) or len(value) != 4:
        raise errors.MalformedInput(f"the page {what} is not a rectangle")
    try:
        a, b, c, d = (float(v.get_object() if isinstance(v, generic.IndirectObject) else v) for v in value)
    except (TypeError, ValueError) as exc:
        raise errors.MalformedInput(f"the page {what} is not a rectangle") from exc
    if not all(math.isfinite(v) for v in (a, b, c, d)):
        raise errors.MalformedInput(f"the page {what} is not a rectangle")
    return min(a, c), min(b, d), max(a, c), max(b, d)


# ==========================================================================================================
# Keyword placement
# ==========================================================================================================


def find_keyword(
    pdf_bytes: bytes, text: str, *, occurrence: int = 1, max_size: int = DEFAULT_MAX_PDF_SIZE
) -> KeywordBox:
    """Return where ``text`` occurs (the ``occurrence``-th time, counting through the pages in order).

    The box is in the :class:`Placement` frame (mm from the displayed top-left of the visible page).
    Whitespace is ignored on both sides. InvalidInput when the text does not occur that often;
    ConfigurationError when pdfminer.six is not installed.
    """
    if not isinstance(text, str) or not "".join(text.split()) or len(text) > 200:
        raise errors.InvalidInput("the keyword must be 1 to 200 characters of text")
    if isinstance(occurrence, bool) or not isinstance(occurrence, int) or occurrence < 1:
        raise errors.InvalidInput("occurrence must be a positive integer")
    reader = _open(pdf_bytes, max_size).prev
    needle = "".join(text.split())
    for found, (page, rect) in enumerate(_keyword_rects(bytes(pdf_bytes), needle), start=1):
        if found == occurrence:
            geometry = _page_geometry(reader, page)
            u, v, w, h = geometry.displayed(rect)
            return KeywordBox(page, u / PT_PER_MM, v / PT_PER_MM, w / PT_PER_MM, h / PT_PER_MM)
    times = "once" if occurrence == 1 else f"{occurrence} times"
    raise errors.InvalidInput(f"the text {text!r} does not occur {times} in the document")


def placement_for_keyword(
    pdf_bytes: bytes,
    text: str,
    *,
    width_mm: float,
    height_mm: float,
    occurrence: int = 1,
    max_size: int = DEFAULT_MAX_PDF_SIZE,
) -> Placement:
    """Return a placement of a ``width_mm`` x ``height_mm`` seal centred on ``text``, kept on the page.

    As the hand does it: the seal covers the keyword (盖章处, the organisation's name ...); near an edge it is
    moved inwards just enough to stay on the page. InvalidInput if the seal is larger than the page.
    """
    hit = find_keyword(pdf_bytes, text, occurrence=occurrence, max_size=max_size)
    probe = Placement(hit.page, 0, 0, width_mm, height_mm)
    geometry = _page_geometry(_open(pdf_bytes, max_size).prev, hit.page)
    page_w, page_h = (s / PT_PER_MM for s in geometry.size)
    if probe.width_mm > page_w or probe.height_mm > page_h:
        raise errors.InvalidInput("the seal is larger than the page")
    x = hit.x_mm + hit.width_mm / 2 - probe.width_mm / 2
    y = hit.y_mm + hit.height_mm / 2 - probe.height_mm / 2
    x = min(max(x, 0.0), page_w - probe.width_mm)
    y = min(max(y, 0.0), page_h - probe.height_mm)
    return Placement(hit.page, x, y, probe.width_mm, probe.height_mm)


def _keyword_rects(data: bytes, needle: str) -> Iterator[tuple[int, tuple[float, float, float, float]]]:
    """Yield (page, user-space rectangle) of each occurrence of ``needle`` (no whitespace), page by page."""
    try:
        from pdfminer.converter import PDFPageAggregator
        from pdfminer.layout import LTChar, LTContainer
        from pdfminer.pdfdocument import PDFDocument
        from pdfminer.pdfexceptions import PDFException
        from pdfminer.pdfinterp import PDFPageInterpreter, PDFResourceManager
        from pdfminer.pdfpage import PDFPage
        from pdfminer.pdfparser import PDFParser
        from pdfminer.psexceptions import PSException
    except ImportError as exc:
        raise errors.ConfigurationError(
            "placing a seal by keyword needs pdfminer.six, which is not installed"
        ) from exc

    def chars(item: Any) -> Iterator[Any]:
        if isinstance(item, LTChar):
            yield item
        elif isinstance(item, LTContainer):
            for child in item:
                yield from chars(child)

    try:
        document = PDFDocument(PDFParser(io.BytesIO(data)))
        manager = PDFResourceManager(caching=True)
        device = PDFPageAggregator(manager, laparams=None)
        interpreter = PDFPageInterpreter(manager, device)
        for number, page in enumerate(PDFPage.create_pages(document), start=1):
            interpreter.process_page(page)
            text: list[str] = []
            boxes: list[tuple[float, float, float, float]] = []
            for char in chars(device.get_result()):
                for c in char.get_text():
                    if not c.isspace():
                        text.append(c)
                        boxes.append(char.bbox)
            joined = "".join(text)
            start = joined.find(needle)
            while start >= 0:
                hit = boxes[start : start + len(needle)]
                device_rect = (
                    min(b[0] for b in hit),
                    min(b[1] for b in hit),
                    max(b[2] for b in hit),
                    max(b[3] for b in hit),
                )
                yield number, _device_to_user(device_rect, page.mediabox, page.rotate)
                start = joined.find(needle, start + len(needle))
    except errors.TrustsvcError:
        raise
    except (PSException, PDFException, *_PARSE_ERRORS) as exc:
        raise errors.MalformedInput(f"the PDF text could not be read: {_describe(exc)}") from exc


def _device_to_user(
    rect: tuple[float, float, float, float], mediabox: Sequence[float], rotate: int
) -> tuple[float, float, float, float]:
    """Undo pdfminer's page transformation (``PDFPageInterpreter.process_page``) for a rectangle."""
    x0, y0, x1, y1 = (float(v) for v in mediabox)

    def point(px: float, py: float) -> tuple[float, float]:
        if rotate == 90:
            return x1 - py, px + y0
        if rotate == 180:
            return x1 - px, y1 - py
        if rotate == 270:
            return py + x0, y1 - px
        return px + x0, py + y0

    a = point(rect[0], rect[1])
    b = point(rect[2], rect[3])
    return min(a[0], b[0]), min(a[1], b[1]), max(a[0], b[0]), max(a[1], b[1])
