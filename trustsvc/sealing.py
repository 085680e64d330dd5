"""Sealing documents (文档盖章): a PDF or OFD in, the same document with one more electronic seal out.

:meth:`DocumentSealer.seal_document` is the one entry point behind ``POST /api/v1/seal-document`` and
``trustsvc sign``. One call:

1. checks the request (size against ``Settings.max_content_length``, level, placement fields);
2. asks the seal registry for the seal and its signer *for this principal*
   (:meth:`~trustsvc.seal.registry.SealRegistry.signing_key_for`: ``Forbidden`` without a ``sign`` grant,
   ``InvalidState`` naming the status and since when for a suspended, revoked, expired or not yet valid
   seal) — before any byte of the document is parsed;
3. recognises the format (:func:`detect_format`: ``%PDF-`` → PDF, a ZIP → OFD, anything else
   ``UnsupportedMediaType`` naming what was seen) or checks the one the caller named;
4. seals: PDF with :func:`trustsvc.pdf.sealing.seal_pdf`, OFD with :func:`trustsvc.ofd.signing.seal_ofd`,
   the seal picture at the place asked for, at the picture's own size (``SES_ESPictrueInfo`` width and
   height in mm) unless a size is given;
5. writes one audit record (``seal.apply``; actor the principal, or the operator who acted for it; subject
   ``seal:<esID>`` as the registry's own records; details: format, level, pages, signer certificate serial,
   SM3 and SHA-256 of the input and of the output) in one transaction, and only then hands the document
   back — a sealed document whose record could not be written is not returned.

Levels (``level``): ``"B-B"`` the seal alone; ``"B-T"`` (default) plus a time-stamp over the signature
value from **our own TSA, in-process** (:meth:`~trustsvc.ca.timestamping.TimeStampService.respond`, the
hierarchy of the signer's algorithm: no HTTP call to ourselves, and the token is registered as every token
is); ``"B-LT"`` (PDF only) plus the revocation data of the signer's and the TSA's certificates, taken from our
own OCSP service (one pre-signed response per leaf) and CRL publisher (complete and delta CRL of each CA above
the issuing CA) — again in-process. An OFD seal (GB/T 38540 ``SES_Signature``) has a place for a time-stamp
but none for revocation data, so OFD takes ``B-B`` or ``B-T``.

Time comes from the service clock, read once per sealing (``signed_at``, also the audit record's): it is the
OFD ``timeInfo``/``SignatureDateTime``, the PDF signature's ``/M`` (and, for SM2, its CMS signingTime; the
seal's validity and B-LT data are checked then, too), and the time the TSA stamps.

Where this module sits (ARCHITECTURE.md, "Which way things flow"): **layer 7.5/8, beside service.py**.
It composes the seal registry (layer 4), the CA's OCSP, CRL and TSA services (layer 3), the PDF and OFD
sealing code (layer 5) and the audit log (layer 2) into one flow, so it must sit above all of them: it cannot
live in ``seal`` (which may not import ``pdf``/``ofd``), in ``pdf`` or ``ofd`` (which know nothing of
registries, grants or databases), or in a route (routes hold no logic, and the CLI needs the same flow). It
does not need ``verify`` (layer 7). It imports no Flask and nothing from ``service``: the
:class:`~trustsvc.service.TrustService` builds it (``service.sealer``) and hands it its collaborators, as it
does for every other domain service. ``license.issuance`` (layer 6) seals with the issuing organisation's seal
by its own path and may not import this module.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final, Literal

from asn1crypto import ocsp, x509
from sqlalchemy.orm import Session

from trustsvc.audit import AuditLog
from trustsvc.ca.models import serial_hex
from trustsvc.ca.ocsp import cert_id_for
from trustsvc.config import Settings
from trustsvc.db import Clock
from trustsvc.errors import (
    InvalidInput,
    InvalidState,
    MalformedInput,
    NotFound,
    PayloadTooLarge,
    UnsupportedMediaType,
    UpstreamUnavailable,
)
from trustsvc.keys.algorithms import SignatureAlgorithm
from trustsvc.keys.sm3 import sm3
from trustsvc.seal import ses

if TYPE_CHECKING:
    from trustsvc.ca.authority import CaInfo, CertificateAuthorityService
    from trustsvc.ca.crl import CrlPublisher
    from trustsvc.ca.status import OcspService
    from trustsvc.ca.timestamping import TimeStampService
    from trustsvc.pdf.sealing import CallableTimeStamper, Placement, ValidationData
    from trustsvc.seal.registry import SealRegistry, SigningMaterial

__all__ = [
    "AUDIT_ACTION",
    "DEFAULT_LEVEL",
    "FORMATS",
    "LEVELS",
    "MEDIA_TYPES",
    "DocumentFormat",
    "DocumentSealer",
    "SealPlacement",
    "SealedDocument",
    "detect_format",
]

log = logging.getLogger(__name__)

DocumentFormat = Literal["pdf", "ofd"]
FORMATS: Final = ("pdf", "ofd")
MEDIA_TYPES: Final[dict[str, str]] = {"pdf": "application/pdf", "ofd": "application/ofd"}
LEVELS: Final = ("B-B", "B-T", "B-LT")
DEFAULT_LEVEL: Final = "B-T"
#: Audit action of every sealing.
AUDIT_ACTION: Final = "seal.apply"
#: The TSA (hierarchy name of :mod:`trustsvc.ca.timestamping`) that stamps a signature of each algorithm.
_TSA_HIERARCHY: Final = {
    SignatureAlgorithm.SM2_SM3: "sm2",
    SignatureAlgorithm.ECDSA_SHA256: "ecdsa",
    SignatureAlgorithm.RSA_PKCS1_SHA256: "rsa",
    SignatureAlgorithm.RSA_PSS_SHA256: "rsa",
}
_PDF_HEADER_WINDOW: Final = 1024  # as trustsvc.pdf.sealing: readers look for %PDF- in the first KiB
_ZIP_MAGIC: Final = (b"PK\x03\x04", b"PK\x05\x06")
_MAX_KEYWORD: Final = 200
_MAX_TEXT: Final = 500
# What other files start with, to say what was sent instead of a PDF or OFD.
_SEEN: Final = (
    (b"PK\x03\x04", "a ZIP package (an OFD?)"),
    (b"%PDF-", "a PDF"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
    (b"BM", "a BMP image"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an OLE2 file (an old Word/Excel document?)"),
    (b"{\\rtf", "an RTF document"),
    (b"%!PS", "a PostScript file"),
    (b"\x1f\x8b", "a gzip file"),
    (b"Rar!", "a RAR archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"0\x82", "DER data (a certificate or seal?)"),
    (b"-----BEGIN", "PEM text"),
)


def detect_format(data: bytes) -> DocumentFormat:
    """Return the format of ``data``: ``"pdf"`` (``%PDF-`` in the first KiB) or ``"ofd"`` (a ZIP package).

    UnsupportedMediaType for anything else, naming what the bytes look like. A ZIP is taken to be an OFD;
    whether it is one (``OFD.xml`` at its root) is the OFD reader's question (MalformedInput if not).
    """
    if b"%PDF-" in data[:_PDF_HEADER_WINDOW]:
        return "pdf"
    if data[:4] in _ZIP_MAGIC:
        return "ofd"
    raise UnsupportedMediaType(
        f"the document is neither a PDF nor an OFD: it looks like {_looks_like(data)}",
        seen=_looks_like(data),
    )


def _looks_like(data: bytes) -> str:
    if not data:
        return "nothing (an empty body)"
    for magic, what in _SEEN:
        if data.startswith(magic):
            return what
    head = data[:64].lstrip()
    if head[:1] in (b"<",):
        return "XML or HTML text"
    if head[:1] in (b"{", b"["):
        return "JSON text"
    try:
        text = data[:64].decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None and text.isprintable():
        return f"text starting {text[:24]!r}"
    return f"bytes starting {data[:8].hex(' ')}"


# ==========================================================================================================
# Request and result
# ==========================================================================================================


@dataclass(frozen=True)
class SealPlacement:
    """Where the seal goes, in mm, y down from the top of the page (as OFD and :class:`Placement` count).

    One of three modes, made with :meth:`box`, :meth:`on_keyword` or :meth:`across`:

    * a box: ``page`` (1 for the first; default 1), ``x``, ``y`` of the top-left corner;
    * a keyword: the seal centred on the ``occurrence``-th occurrence of ``keyword`` (whitespace ignored),
      moved inwards just enough to stay on the page;
    * across the pages (骑缝章, OFD only): a slice of the seal on the right edge of every page (``y``
      optional, default centred).

    ``width``/``height`` default to the seal picture's size. InvalidInput naming the field for a value that
    is not a finite number, a non-positive size, a page below 1, or fields that do not make exactly one mode.
    """

    page: int | None = None
    x: float | None = None
    y: float | None = None
    width: float | None = None
    height: float | None = None
    keyword: str | None = None
    occurrence: int = 1
    across_pages: bool = False

    @classmethod
    def box(
        cls, page: int, x: float, y: float, width: float | None = None, height: float | None = None
    ) -> SealPlacement:
        """Return a placement with the seal's top-left corner at (``x``, ``y``) mm on ``page``."""
        return cls(page=page, x=x, y=y, width=width, height=height)

    @classmethod
    def on_keyword(
        cls, keyword: str, *, occurrence: int = 1, width: float | None = None, height: float | None = None
    ) -> SealPlacement:
        """Return a placement centred on the ``occurrence``-th occurrence of ``keyword``."""
        return cls(keyword=keyword, occurrence=occurrence, width=width, height=height)

    @classmethod
    def across(
        cls, *, y: float | None = None, width: float | None = None, height: float | None = None
    ) -> SealPlacement:
        """Return a 骑缝章 placement (OFD): the seal split over the right edges of all pages."""
        return cls(across_pages=True, y=y, width=width, height=height)

    @property
    def mode(self) -> Literal["box", "keyword", "across_pages"]:
        if self.across_pages:
            return "across_pages"
        return "keyword" if self.keyword is not None else "box"

    def __post_init__(self) -> None:
        for name in ("x", "y", "width", "height"):
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise InvalidInput(f"{name} must be a finite number of millimetres", field=name)
            object.__setattr__(self, name, float(value))
        for name in ("x", "y"):
            if getattr(self, name) is not None and getattr(self, name) < 0:
                raise InvalidInput(f"{name} must not be negative", field=name)
        for name in ("width", "height"):
            if getattr(self, name) is not None and getattr(self, name) <= 0:
                raise InvalidInput(f"{name} must be positive", field=name)
        if self.page is not None and (
            isinstance(self.page, bool) or not isinstance(self.page, int) or self.page < 1
        ):
            raise InvalidInput("page must be a whole number, 1 for the first page", field="page")
        if isinstance(self.occurrence, bool) or not isinstance(self.occurrence, int) or self.occurrence < 1:
            raise InvalidInput("occurrence must be a whole number, 1 for the first", field="occurrence")
        if not isinstance(self.across_pages, bool):
            raise InvalidInput("across_pages must be true or false", field="across_pages")
        if self.keyword is not None and (
            not isinstance(self.keyword, str)
            or not "".join(self.keyword.split())
            or len(self.keyword) > _MAX_KEYWORD
        ):
            raise InvalidInput(
                f"keyword must be 1 to {_MAX_KEYWORD} characters with a visible one", field="keyword"
            )
        given = [n for n in ("page", "x", "keyword") if getattr(self, n) is not None]
        if self.across_pages:
            if given:
                raise InvalidInput(f"a seal across the pages takes no {', '.join(given)}", field=given[0])
            return
        if self.keyword is not None:
            clash = [n for n in ("page", "x", "y") if getattr(self, n) is not None]
            if clash:
                raise InvalidInput(f"a seal placed on a keyword takes no {', '.join(clash)}", field=clash[0])
            return
        missing = [n for n in ("x", "y") if getattr(self, n) is None]
        if missing:
            raise InvalidInput(
                "say where the seal goes: page, x and y (mm from the top-left corner), a keyword, or "
                f"across_pages; {' and '.join(missing)} missing",
                field=missing[0],
            )


@dataclass(frozen=True)
class SealedDocument:
    """A sealed document and what was done: the bytes, their format and media type, the seal (``es_id``),
    the signer certificate's serial (hex), the signing time, level, the pages the seal was put on (1-based)
    and the SM3 and SHA-256 digests (hex) of the output."""

    data: bytes
    format: DocumentFormat
    media_type: str
    es_id: str
    signer_serial: str
    signed_at: datetime
    level: str
    pages: tuple[int, ...]
    sm3: str
    sha256: str


# ==========================================================================================================
# The sealer
# ==========================================================================================================


class DocumentSealer:
    """Applies seals to PDF and OFD documents for authorised principals (see the module docstring)."""

    def __init__(
        self,
        *,
        seals: SealRegistry,
        ca: CertificateAuthorityService,
        ocsp: OcspService,
        crls: CrlPublisher,
        tsa: TimeStampService,
        sessions: Callable[[], Session],
        audit: AuditLog,
        clock: Clock,
        settings: Settings,
    ) -> None:
        self._seals = seals
        self._ca = ca
        self._ocsp = ocsp
        self._crls = crls
        self._tsa = tsa
        self._sessions = sessions
        self._audit = audit
        self._clock = clock
        self._settings = settings
        self._pdf_timestampers: dict[tuple[str, bytes], CallableTimeStamper] = {}
        self._pdf_timestampers_lock = threading.Lock()

    @property
    def max_size(self) -> int:
        """The largest document accepted, in bytes (``Settings.max_content_length``)."""
        return self._settings.max_content_length

    def seal_document(
        self,
        data: bytes,
        *,
        es_id: str,
        principal: str,
        placement: SealPlacement,
        format: DocumentFormat | str | None = None,
        level: str = DEFAULT_LEVEL,
        reason: str | None = None,
        location: str | None = None,
        actor: str | None = None,
    ) -> SealedDocument:
        """Return ``data`` sealed with seal ``es_id`` by ``principal`` at ``placement``, audited.

        ``principal`` (``apikey:<prefix>`` or ``user:<name>``) must hold the ``sign`` grant on the seal.
        ``format`` is ``"pdf"``, ``"ofd"`` or None (recognised from the bytes). ``level`` is ``"B-B"``,
        ``"B-T"`` or (PDF) ``"B-LT"``. ``reason`` and ``location`` go into the PDF signature dictionary
        (an OFD seal has no such fields) and into the audit record. ``actor`` is who acts, when not the
        principal itself (an operator at the command line); both are recorded.

        Errors (typed, see :mod:`trustsvc.errors`): PayloadTooLarge (over the size limit, an archive bomb),
        UnsupportedMediaType (neither PDF nor OFD), MalformedInput (unreadable PDF/OFD, unsafe OFD entry
        names), InvalidInput (a bad field, an encrypted PDF, a page out of range naming the page count, a box
        off the page, a keyword not found), Forbidden (no grant), NotFound (no such seal), InvalidState (the
        seal is not usable, naming its status and since when), UpstreamUnavailable (our TSA failed).
        """
        if not isinstance(data, bytes | bytearray | memoryview):
            raise InvalidInput("the document must be bytes")
        data = bytes(data)
        if len(data) > self.max_size:
            raise PayloadTooLarge(
                f"the document is {len(data)} bytes; the limit is {self.max_size}", limit=self.max_size
            )
        if not isinstance(placement, SealPlacement):
            raise InvalidInput("placement must be a SealPlacement")
        wanted = _format(format)
        if level not in LEVELS:
            raise InvalidInput(f"level must be one of {', '.join(LEVELS)}", field="level")
        if wanted is not None:
            _check_combination(wanted, level, placement)
        texts = {"reason": reason, "location": location}
        for what, text in texts.items():
            if text is not None and (
                not isinstance(text, str) or len(text) > _MAX_TEXT or any(ord(c) < 0x20 for c in text)
            ):
                raise InvalidInput(
                    f"{what} must be text of at most {_MAX_TEXT} characters without control characters",
                    field=what,
                )

        # Who may apply the seal is settled before the document is looked at.
        material = self._seals.signing_key_for(es_id, principal)

        found = _checked_format(data, wanted)
        _check_combination(found, level, placement)
        seal = ses.parse_seal(material.seal_der)
        certificate = x509.Certificate.load(material.certificate_der)
        signed_at = self._clock().astimezone(UTC).replace(microsecond=0)
        if found == "pdf":
            output, pages = self._seal_pdf(
                data, material, seal, certificate, placement, level, reason, location, signed_at
            )
        else:
            output, pages = self._seal_ofd(data, material, seal, certificate, placement, level, signed_at)

        result = SealedDocument(
            data=output,
            format=found,
            media_type=MEDIA_TYPES[found],
            es_id=seal.es_id,
            signer_serial=serial_hex(certificate.serial_number),
            signed_at=signed_at,
            level=level,
            pages=pages,
            sm3=sm3(output).hex(),
            sha256=hashlib.sha256(output).hexdigest(),
        )
        details: dict[str, object] = {
            "es_id": result.es_id,
            "principal": principal,
            "format": found,
            "level": level,
            "placement": placement.mode,
            "pages": list(pages),
            "signer_serial": result.signer_serial,
            "signed_at": result.signed_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "input_sm3": sm3(data).hex(),
            "input_size": len(data),
            "output_sm3": result.sm3,
            "output_sha256": result.sha256,
            "output_size": len(output),
        }
        if placement.keyword is not None:
            details["keyword"] = placement.keyword
        details.update({k: v for k, v in texts.items() if v is not None})
        with self._sessions() as session, session.begin():
            self._audit.append(
                session,
                actor=actor or principal,
                action=AUDIT_ACTION,
                subject=f"seal:{result.es_id}",
                details=details,
            )
        log.info(
            "sealed a %s with %s for %s (%s, pages %s)",
            found,
            result.es_id,
            principal,
            level,
            ",".join(map(str, pages)),
        )
        return result

    # --- PDF ---------------------------------------------------------------------------------------

    def _seal_pdf(
        self,
        data: bytes,
        material: SigningMaterial,
        seal: ses.Seal,
        certificate: x509.Certificate,
        placement: SealPlacement,
        level: str,
        reason: str | None,
        location: str | None,
        signed_at: datetime,
    ) -> tuple[bytes, tuple[int, ...]]:
        from trustsvc.pdf.sealing import seal_pdf

        if seal.picture.type.upper() != "PNG":
            raise InvalidState(
                f"the picture of seal {seal.es_id} is {seal.picture.type}; PDF sealing shows PNG pictures"
            )
        where = self._pdf_placement(data, placement, _picture_size(seal, placement))
        chain = self._chain_of(certificate)
        hierarchy = _tsa_hierarchy(material)
        timestamper = None
        validation = None
        if level in ("B-T", "B-LT"):
            timestamper = self._pdf_timestamper(hierarchy)
        if level == "B-LT":
            validation = self._validation_data(certificate, chain, hierarchy)
        output = seal_pdf(
            data,
            signer=material.signer,
            signer_cert=certificate,
            chain=[ca.certificate for ca in chain],
            seal_der=material.seal_der,
            picture_png=seal.picture.data,
            placement=where,
            level=level,  # type: ignore[arg-type]  # checked against LEVELS
            timestamper=timestamper,
            validation_info=validation,
            reason=reason,
            location=location,
            max_size=self.max_size,
            signing_time=signed_at,
        )
        return output, (where.page,)

    def _pdf_placement(self, data: bytes, placement: SealPlacement, size: tuple[float, float]) -> Placement:
        from trustsvc.pdf.sealing import Placement, placement_for_keyword

        width, height = size
        if placement.keyword is not None:
            return placement_for_keyword(
                data,
                placement.keyword,
                width_mm=width,
                height_mm=height,
                occurrence=placement.occurrence,
                max_size=self.max_size,
            )
        assert placement.x is not None and placement.y is not None  # SealPlacement checks
        return Placement(placement.page or 1, placement.x, placement.y, width, height)

    # --- OFD ---------------------------------------------------------------------------------------

    def _seal_ofd(
        self,
        data: bytes,
        material: SigningMaterial,
        seal: ses.Seal,
        certificate: x509.Certificate,
        placement: SealPlacement,
        level: str,
        signed_at: datetime,
    ) -> tuple[bytes, tuple[int, ...]]:
        from trustsvc.ofd.package import Limits, OfdPackage
        from trustsvc.ofd.signing import OfdPlacement, seal_ofd, stamp_annots_for, tsa_timestamper

        width, height = _picture_size(seal, placement)
        if placement.mode == "across_pages":
            where = OfdPlacement.across(y=placement.y, width=width, height=height)
        elif placement.keyword is not None:
            where = OfdPlacement.on_keyword(
                placement.keyword, occurrence=placement.occurrence, width=width, height=height
            )
        else:
            assert placement.x is not None and placement.y is not None  # SealPlacement checks
            where = OfdPlacement.box(placement.page or 1, placement.x, placement.y, width, height)
        limits = Limits(max_package_bytes=self.max_size)
        if where.mode == "box":
            assert where.page is not None
            pages: tuple[int, ...] = (where.page,)
        else:
            # Which page a keyword lands on, or how many pages there are, is known only from the document.
            doc = OfdPackage.read(data, limits=limits).document(0)
            pages = tuple(sorted({a.page.index + 1 for a in stamp_annots_for(doc, where, (width, height))}))
        timestamper = None
        if level == "B-T":
            algorithm = SignatureAlgorithm(material.signer.algorithm)
            timestamper = tsa_timestamper(
                self._tsa_request(_tsa_hierarchy(material)),
                hash_algorithm="sm3" if algorithm is SignatureAlgorithm.SM2_SM3 else "sha256",
            )
        output = seal_ofd(
            data,
            seal_der=material.seal_der,
            signer_cert_der=material.certificate_der,
            signer=material.signer,
            placement=where,
            time_info=signed_at,
            timestamper=timestamper,
            company=self._settings.org_name or None,
            limits=limits,
        )
        return output, pages

    # --- time-stamps and validation data from our own services -------------------------------------

    def _tsa_request(self, hierarchy: str) -> Callable[[bytes], bytes]:
        """Return a callable that has our TSA of ``hierarchy`` answer a TimeStampReq, in-process."""
        try:
            self._tsa.certificates(hierarchy)
        except NotFound as exc:
            raise InvalidState(
                f"this service has no {hierarchy} time-stamp authority ({exc.detail}); seal at level B-B"
            ) from None

        def request(body: bytes) -> bytes:
            result = self._tsa.respond(body, hierarchy=hierarchy)
            if not result.granted:
                # Our own TSA refusing our own request is a failure of the service, not of the caller.
                raise UpstreamUnavailable(
                    f"the {hierarchy} time-stamp authority did not grant a token ({result.fail_info})"
                )
            return result.der

        return request

    def _pdf_timestamper(self, hierarchy: str) -> CallableTimeStamper:
        """Return the pyHanko time-stamper of our TSA of ``hierarchy``, one per TSA certificate.

        pyHanko sizes a B-T signature with a dummy token it asks the time-stamper for once and keeps on
        that object; a new time-stamper per sealing would have our TSA sign (and record) one unused token
        per PDF. Keyed on the TSA certificate too, so a renewed TSA certificate gets a fresh estimate.
        """
        from trustsvc.pdf.sealing import CallableTimeStamper

        request = self._tsa_request(hierarchy)
        certificate, _ = self._tsa.certificates(hierarchy)
        key = (hierarchy, hashlib.sha256(certificate.dump()).digest())
        with self._pdf_timestampers_lock:
            stamper = self._pdf_timestampers.get(key)
            if stamper is None:
                stamper = CallableTimeStamper(request)
                for stale in [k for k in self._pdf_timestampers if k[0] == hierarchy]:
                    del self._pdf_timestampers[stale]  # a renewed TSA certificate
                self._pdf_timestampers[key] = stamper
        return stamper

    def _chain_of(self, certificate: x509.Certificate) -> list[CaInfo]:
        """Return our CAs above ``certificate``, issuer first, root last; [] if no CA of ours issued it."""
        cas = self._ca.cas()
        chain: list[CaInfo] = []
        current = certificate
        while True:
            issuer = _issuer_of(current, cas)
            if issuer is None or issuer in chain:
                return chain
            chain.append(issuer)
            if issuer.parent_id is None:
                return chain
            current = issuer.certificate

    def _validation_data(
        self, certificate: x509.Certificate, chain: list[CaInfo], hierarchy: str
    ) -> ValidationData:
        """Return the OCSP responses and CRLs a B-LT seal embeds, from our own OCSP service and CRLs."""
        from trustsvc.pdf.sealing import ValidationData

        if not chain or chain[-1].parent_id is not None:
            raise InvalidState(
                "the signer certificate was not issued by this service's CA: a B-LT seal needs its "
                "revocation data; seal at level B-T"
            )
        tsa_certificate, _ = self._tsa.certificates(hierarchy)
        tsa_chain = self._chain_of(tsa_certificate)
        ocsps = [
            self._ocsp_response(certificate, chain[0]),
            self._ocsp_response(tsa_certificate, tsa_chain[0] if tsa_chain else None),
        ]
        crls: list[bytes] = []
        names: list[str] = []
        # Each CA certificate below a root is checked against its issuer's CRL (the leaves by OCSP).
        for path in (chain, tsa_chain):
            for ca in path[1:]:
                if ca.name not in names:
                    names.append(ca.name)
        for name in names:
            crls.append(self._crls.current_crl(name))
            crls.append(self._crls.current_crl(name, delta=True))
        roots = [chain[-1].certificate]
        if tsa_chain and tsa_chain[-1].name != chain[-1].name:
            roots.append(tsa_chain[-1].certificate)
        return ValidationData(ocsps=ocsps, crls=crls, trust_roots=roots)

    def _ocsp_response(self, certificate: x509.Certificate, issuer: CaInfo | None) -> bytes:
        if issuer is None:
            raise InvalidState(
                f"certificate {serial_hex(certificate.serial_number)} was not issued by this service's CA"
            )
        cert_id = ocsp.CertId.load(cert_id_for(certificate, issuer.certificate).der)
        request = ocsp.OCSPRequest({"tbs_request": {"request_list": [{"req_cert": cert_id}]}}).dump()
        answer = self._ocsp.respond(request)
        if answer.status != "successful":
            raise UpstreamUnavailable(
                f"our OCSP responder for {issuer.name} answered {answer.status} about certificate "
                f"{serial_hex(certificate.serial_number)}"
            )
        return answer.der


# ==========================================================================================================
# Helpers
# ==========================================================================================================


def _format(value: object) -> DocumentFormat | None:
    if value is None:
        return None
    if value == "pdf":
        return "pdf"
    if value == "ofd":
        return "ofd"
    raise InvalidInput(f"format must be pdf or ofd, not {str(value)[:20]!r}", field="format")


def _checked_format(data: bytes, wanted: DocumentFormat | None) -> DocumentFormat:
    """Return the document's format; MalformedInput, naming what the bytes look like, if not the one named."""
    if wanted is None:
        return detect_format(data)
    if wanted == "pdf" and b"%PDF-" not in data[:_PDF_HEADER_WINDOW]:
        raise MalformedInput(f"not a PDF (no %PDF- header): it looks like {_looks_like(data)}")
    if wanted == "ofd" and data[:4] not in _ZIP_MAGIC:
        raise MalformedInput(f"not an OFD (an OFD is a ZIP package): it looks like {_looks_like(data)}")
    return wanted


def _check_combination(found: DocumentFormat, level: str, placement: SealPlacement) -> None:
    """InvalidInput for what one format cannot do: B-LT for OFD, a seal across the pages for PDF."""
    if found == "ofd" and level == "B-LT":
        raise InvalidInput(
            "an OFD seal is B-B or B-T: GB/T 38540 signatures have a place for a time-stamp but none for "
            "revocation data",
            field="level",
        )
    if found == "pdf" and placement.across_pages:
        raise InvalidInput(
            "a seal across the pages (骑缝章) is made on OFD documents only", field="across_pages"
        )


def _picture_size(seal: ses.Seal, placement: SealPlacement) -> tuple[float, float]:
    width = placement.width if placement.width is not None else float(seal.picture.width_mm)
    height = placement.height if placement.height is not None else float(seal.picture.height_mm)
    if width <= 0 or height <= 0:
        raise InvalidInput(
            f"seal {seal.es_id} states no picture size: give width and height (mm)", field="width"
        )
    return width, height


def _tsa_hierarchy(material: SigningMaterial) -> str:
    return _TSA_HIERARCHY[SignatureAlgorithm(material.signer.algorithm)]


def _issuer_of(certificate: x509.Certificate, cas: list[CaInfo]) -> CaInfo | None:
    issuer_name = certificate.issuer.dump()
    key_id = certificate.authority_key_identifier
    for ca in cas:
        candidate = ca.certificate
        if candidate.subject.dump() != issuer_name:
            continue
        if key_id is not None and candidate.key_identifier not in (None, key_id):
            continue
        return ca
    return None
