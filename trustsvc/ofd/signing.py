"""Sealing OFD documents (OFD 电子签章, GB/T 33190 §18 with GB/T 38540 seals): :func:`seal_ofd`.

One call adds one ``Type="Seal"`` signature to a document, exactly as spec/standards.md §4.6 describes and as
real files from other vendors are laid out (§4.1–§4.4):

1. ``OFD.xml`` gets ``DocBody/Signatures`` if the document has no signature list yet — *before* anything is
   hashed, so a signature that covers ``OFD.xml`` stays valid.
2. A new ``Sign_N/`` directory (:meth:`~trustsvc.ofd.package.OfdDocument.next_signature_slot`) and its entry
   ``<Signature ID Type="Seal" BaseLoc>`` in ``Signatures.xml`` (``MaxSignId`` raised).
3. ``Sign_N/Seal.esl`` = the ``SESeal`` bytes, unchanged.
4. ``Sign_N/Signature.xml``: ``SignedInfo`` with ``Provider``, ``SignatureMethod``, ``SignatureDateTime``,
   ``References`` (one ``Reference`` per file of the package, ``CheckValue`` = base64 SM3 of the file's raw
   bytes), the ``StampAnnot`` appearance(s) and ``Seal/BaseLoc``; then ``SignedValue``. It is serialised
   once; its bytes are what is hashed and stored, never re-serialised.
5. ``Sign_N/SignedValue.dat`` = a GB/T 38540 ``SES_Signature`` (:func:`trustsvc.seal.ses.make_signature`)
   whose ``dataHash`` is the SM3 digest of the raw ``Signature.xml`` bytes and whose ``propertyInfo`` is the
   absolute package path of that ``Signature.xml`` (``/Doc_0/Signs/Sign_0/Signature.xml``).

Every other file keeps its exact bytes, so signatures already in the document stay valid.

Decisions (each with its reason):

* **What References cover.** Every file in the package except this signature's own ``Signature.xml`` and
  ``SignedValue.dat`` (they do not exist yet when the digests are taken), in path order, ``FileRef`` as an
  absolute ST_Loc (``/Doc_0/…``) as every real file writes it. Earlier signatures' files are covered too,
  which freezes them — harmless, they must not change anyway. ``Signatures.xml`` is left out in the default
  *continue-signing* mode (``protect_signatures=False``), since the next seal has to add its entry there;
  with ``protect_signatures=True`` (*full protection*) it is covered, and no further signature can be added
  without breaking this one: :func:`seal_ofd` then refuses to add one.
* **Digests.** ``CheckMethod="1.2.156.10197.1.401"`` (SM3, the GM/T 0099 practice; spec §4.3) for the
  References whatever the key. ``dataHash`` follows the signature algorithm, as GB/T 38540 §7.1.5 pairs
  them: SM3 for SM2, SHA-256 for ECDSA P-256 and RSA. ``SignatureMethod`` names the signature algorithm
  (``1.2.156.10197.1.501`` for SM2-with-SM3).
* **SignatureDateTime** is ``YYYYMMDDHHMMSSZ`` in UTC — the form of the DJ and Baiwang files and of the
  ``timeInfo`` GeneralizedTime in the ``SES_Signature`` (whose value it repeats), and the only one of the
  forms seen (``20220318213217`` local time, ``2022-03-18 21:32:17`` from OFDRW) that names its time zone.
* **Locations written** (``Seal/BaseLoc``, ``SignedValue``) are absolute (``/Doc_0/Signs/Sign_0/…``), as
  OFDRW and Baiwang write them: nothing depends on which directory a reader resolves against.
* **StampAnnot.** ``ID`` numbered 1, 2, … within the signature: real files use small numbers that are not
  document object IDs (Baiwang writes 1 in a document whose object IDs run to 66); ``PageRef`` the ``ID``
  attribute of the page in ``Document.xml`` — not its index; ``Boundary`` ``x y w h`` in page millimetres.
* **The picture shown** is the seal's own picture: an OFD reader draws ``SES_ESPictrueInfo`` from the seal
  into each ``StampAnnot`` box; OFD has no separate appearance to put another image in. ``picture_png`` is
  therefore optional and, when given, must be the seal's picture (a different image could never be shown).
* **Checks before signing** (GB/T 38540 §7.2 a): the seal parses, its maker signature verifies, it is a V4
  seal, the signer certificate is listed in it and holds the signer's key (:func:`~trustsvc.seal.ses.
  make_signature` checks these), and both the seal and the signer certificate are valid at ``time_info``.
  Time comes only from ``time_info``; nothing here reads a clock.

Placement (:class:`OfdPlacement`), one of three modes:

* a box: ``page`` (1-based index) and ``x, y, width, height`` in mm from the top-left corner of the page's
  ``PhysicalBox`` (OFD's own page coordinates, y down). The box must lie on the page.
* a keyword: the seal, at the size its picture states (``SES_ESPictrueInfo`` width/height in mm, unless
  ``width``/``height`` are given), centred on the ``occurrence``-th occurrence of the text counted through
  the pages in order (whitespace ignored on both sides, so "盖 章 处" matches "盖章处"); near an edge it is
  moved inwards just enough to stay on the page, as a hand does.
* across the pages (骑缝章): one ``StampAnnot`` per page, along the right edge, in the layout OFDRW's
  ``RidingStampPos`` writes (how readers draw it is UNVERIFIED: no OFD reader was available here): on page *i*
  of *n* (from 0) the ``Boundary`` is the *whole* seal picture, placed so that its slice *i* (of *n* equal
  vertical slices, from the left) lies against the page's right edge — so the rest of the picture is off the
  page — and ``Clip`` (relative to the Boundary) is that slice. A reader that honours ``Clip`` draws exactly
  slice *i*; one that ignores it still shows nothing beyond the page edge, i.e. slices 0..*i* (the part of the
  picture left of the edge). Fanned out, the pages' edges show the seal whole, as a paper 骑缝章. The seal is
  centred vertically unless ``y`` is given, and the document must have at least two pages.

Errors: bytes that are not an OFD → MalformedInput / PayloadTooLarge (from the package reader); a page out of
range, a box off the page, a keyword not found, an unusable seal or certificate, a picture that is not the
seal's, adding to a fully protected document → InvalidInput naming the problem; RSA-PSS →
UnsupportedAlgorithm; a signer whose signature does not verify (broken key or HSM) → InvalidSignature.
"""

from __future__ import annotations

import base64
import hashlib
import math
import posixpath
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from importlib import metadata
from typing import Final

from asn1crypto import algos, cms, core, tsp, x509
from lxml import etree

from trustsvc.errors import InvalidInput, InvalidSignature, MalformedInput, UnsupportedAlgorithm
from trustsvc.keys.algorithms import SignatureAlgorithm, signed_digest_algorithm
from trustsvc.keys.signer import Signer
from trustsvc.keys.sm3 import sm3
from trustsvc.ofd.package import Limits, OfdDocument, OfdPackage, PageInfo
from trustsvc.ofd.xml import OFD_NS, child, children, q, serialize
from trustsvc.seal import ses

__all__ = [
    "SM2_SM3_OID",
    "SM3_OID",
    "OfdPlacement",
    "StampAnnotSpec",
    "seal_ofd",
    "stamp_annots_for",
    "tsa_timestamper",
]

SM3_OID: Final = "1.2.156.10197.1.401"
SM2_SM3_OID: Final = "1.2.156.10197.1.501"
SEAL_FILE: Final = "Seal.esl"
SIGNED_VALUE_FILE: Final = "SignedValue.dat"
# Page sizes are written with 2–4 decimals (209.9028 mm): a box on a "210 mm" page must not be refused.
_EDGE_SLACK_MM: Final = 0.01
_MAX_KEYWORD: Final = 200
_MAX_PROVIDER_TEXT: Final = 200


# ==========================================================================================================
# Placement
# ==========================================================================================================


@dataclass(frozen=True)
class OfdPlacement:
    """Where the seal goes: a box on a page, centred on a keyword, or across all pages (骑缝章).

    Build one with :meth:`box`, :meth:`on_keyword` or :meth:`across`. Millimetres, OFD page coordinates
    (origin at the top-left corner of the page's ``PhysicalBox``, y down). ``width``/``height`` are optional
    for the keyword and across-pages modes (default: the seal picture's size); ``y`` is optional for the
    across-pages mode (default: centred). InvalidInput when the fields do not make exactly one mode.
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
    def box(cls, page: int, x: float, y: float, width: float, height: float) -> OfdPlacement:
        """Return a placement of the box ``x, y, width, height`` (mm) on ``page`` (1 for the first)."""
        return cls(page=page, x=x, y=y, width=width, height=height)

    @classmethod
    def on_keyword(
        cls,
        keyword: str,
        *,
        occurrence: int = 1,
        width: float | None = None,
        height: float | None = None,
    ) -> OfdPlacement:
        """Return a placement centred on the ``occurrence``-th occurrence of ``keyword``."""
        return cls(keyword=keyword, occurrence=occurrence, width=width, height=height)

    @classmethod
    def across(
        cls, *, y: float | None = None, width: float | None = None, height: float | None = None
    ) -> OfdPlacement:
        """Return a 骑缝章 placement: the seal split over the right edges of all pages."""
        return cls(across_pages=True, y=y, width=width, height=height)

    @property
    def mode(self) -> str:
        """``"box"``, ``"keyword"`` or ``"across_pages"``."""
        if self.across_pages:
            return "across_pages"
        return "keyword" if self.keyword is not None else "box"

    def __post_init__(self) -> None:
        for name in ("x", "y", "width", "height"):
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise InvalidInput(f"placement {name} must be a finite number of millimetres")
            object.__setattr__(self, name, float(value))
        for name in ("width", "height"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise InvalidInput(f"placement {name} must be positive")
        if not isinstance(self.across_pages, bool):
            raise InvalidInput("placement across_pages must be True or False")
        if isinstance(self.occurrence, bool) or not isinstance(self.occurrence, int) or self.occurrence < 1:
            raise InvalidInput("placement occurrence must be a positive integer")
        if self.across_pages:
            if self.page is not None or self.keyword is not None or self.x is not None:
                raise InvalidInput("an across-pages placement takes no page, keyword or x")
            return
        if self.keyword is not None:
            if not isinstance(self.keyword, str) or not _squeezed(self.keyword):
                raise InvalidInput("the placement keyword must be text with at least one visible character")
            if len(self.keyword) > _MAX_KEYWORD:
                raise InvalidInput(f"the placement keyword is limited to {_MAX_KEYWORD} characters")
            if self.page is not None or self.x is not None or self.y is not None:
                raise InvalidInput("a keyword placement takes no page, x or y")
            return
        if isinstance(self.page, bool) or not isinstance(self.page, int) or self.page < 1:
            raise InvalidInput("placement page must be an integer, 1 for the first page")
        if None in (self.x, self.y, self.width, self.height):
            raise InvalidInput("a box placement needs x, y, width and height (mm)")


@dataclass(frozen=True)
class StampAnnotSpec:
    """One ``StampAnnot``: the page, ``Boundary`` (page mm) and optional ``Clip`` (relative to Boundary)."""

    page: PageInfo
    boundary: tuple[float, float, float, float]
    clip: tuple[float, float, float, float] | None = None


def _squeezed(text: str) -> str:
    return "".join(text.split())


def stamp_annots_for(
    doc: OfdDocument, placement: OfdPlacement, seal_size_mm: tuple[float, float]
) -> list[StampAnnotSpec]:
    """Return the StampAnnot(s) ``placement`` asks for on ``doc``; ``seal_size_mm`` is the picture's (w, h).

    InvalidInput for a page out of range, a box off its page, a keyword that does not occur, a seal larger
    than the page, or an across-pages seal on a one-page document.
    """
    if not isinstance(placement, OfdPlacement):
        raise InvalidInput("placement must be an OfdPlacement")
    pages = doc.pages
    width = placement.width if placement.width is not None else float(seal_size_mm[0])
    height = placement.height if placement.height is not None else float(seal_size_mm[1])
    if placement.mode == "box":
        assert placement.page is not None and placement.x is not None and placement.y is not None
        if placement.page > len(pages):
            raise InvalidInput(
                f"placement page {placement.page} is out of range: the document has {len(pages)} page(s)"
            )
        page = pages[placement.page - 1]
        px, py, pw, ph = page.physical_box
        box = (px + placement.x, py + placement.y, width, height)
        _require_on_page(page, box)
        return [StampAnnotSpec(page, box)]
    if placement.mode == "keyword":
        assert placement.keyword is not None
        page, (kx, ky, kw, kh) = _find_keyword(doc, placement.keyword, placement.occurrence)
        px, py, pw, ph = page.physical_box
        if width > pw + _EDGE_SLACK_MM or height > ph + _EDGE_SLACK_MM:
            raise InvalidInput(
                f"the seal ({_num(width)} x {_num(height)} mm) is larger than page {page.index + 1}"
            )
        x = min(max(kx + kw / 2 - width / 2, px), px + pw - width)
        y = min(max(ky + kh / 2 - height / 2, py), py + ph - height)
        return [StampAnnotSpec(page, (x, y, width, height))]
    # across pages (骑缝章), OFDRW RidingStampPos layout on the right edge
    if len(pages) < 2:
        raise InvalidInput("a seal across pages (骑缝章) needs a document of at least two pages")
    n = len(pages)
    slice_w = width / n
    specs = []
    for i, page in enumerate(pages):
        px, py, pw, ph = page.physical_box
        if height > ph + _EDGE_SLACK_MM or slice_w > pw:
            raise InvalidInput(f"the seal does not fit along the edge of page {i + 1}")
        if placement.y is None:
            y = py + (ph - height) / 2
        else:
            y = py + placement.y
            if placement.y < -_EDGE_SLACK_MM or placement.y + height > ph + _EDGE_SLACK_MM:
                raise InvalidInput(f"the seal at y={_num(placement.y)} mm runs off page {i + 1}")
        x = px + pw - slice_w * (i + 1)
        specs.append(StampAnnotSpec(page, (x, y, width, height), (slice_w * i, 0.0, slice_w, height)))
    return specs


def _require_on_page(page: PageInfo, box: tuple[float, float, float, float]) -> None:
    px, py, pw, ph = page.physical_box
    x, y, w, h = box
    if (
        x < px - _EDGE_SLACK_MM
        or y < py - _EDGE_SLACK_MM
        or x + w > px + pw + _EDGE_SLACK_MM
        or (y + h > py + ph + _EDGE_SLACK_MM)
    ):
        raise InvalidInput(
            f"the seal box {_num(x - px)} {_num(y - py)} {_num(w)} {_num(h)} mm is not inside page "
            f"{page.index + 1} ({_num(pw)} x {_num(ph)} mm)"
        )


def _find_keyword(
    doc: OfdDocument, keyword: str, occurrence: int
) -> tuple[PageInfo, tuple[float, float, float, float]]:
    """Return the page and glyph bounding box (page mm) of the ``occurrence``-th ``keyword``."""
    needle = _squeezed(keyword)
    found = 0
    for page in doc.pages:
        glyphs = [g for run in doc.page_text(page) if run.visible for g in run.glyphs if not g.char.isspace()]
        text = "".join(g.char for g in glyphs)
        start = text.find(needle)
        while start >= 0:
            found += 1
            if found == occurrence:
                hit = glyphs[start : start + len(needle)]
                left = min(g.x for g in hit)
                top = min(g.y for g in hit)
                right = max(g.x + g.w for g in hit)
                bottom = max(g.y + g.h for g in hit)
                return page, (left, top, right - left, bottom - top)
            start = text.find(needle, start + 1)
    times = "once" if occurrence == 1 else f"{occurrence} times"
    raise InvalidInput(f"the keyword {keyword!r} does not occur {times} in the document")


# ==========================================================================================================
# Digests
# ==========================================================================================================


def _check_value(data: bytes) -> bytes:
    """Return the digest our ``CheckValue`` holds for ``data``: SM3 (CheckMethod 1.2.156.10197.1.401)."""
    return sm3(data)


def _data_hash(algorithm: SignatureAlgorithm, data: bytes) -> bytes:
    """The ``dataHash`` digest GB/T 38540 §7.1.5 pairs with the signature algorithm."""
    return sm3(data) if algorithm is SignatureAlgorithm.SM2_SM3 else hashlib.sha256(data).digest()


# ==========================================================================================================
# Time-stamps
# ==========================================================================================================


class _TimeStampResp(core.Sequence):
    # asn1crypto's TimeStampResp makes timeStampToken mandatory; RFC 3161 §2.4.2 has it OPTIONAL (rejections).
    _fields = [  # noqa: RUF012  -- asn1crypto's declaration style
        ("status", tsp.PKIStatusInfo),
        ("time_stamp_token", cms.ContentInfo, {"optional": True}),
    ]


def tsa_timestamper(
    request: Callable[[bytes], bytes], *, hash_algorithm: str = "sm3", cert_req: bool = True
) -> Callable[[bytes], bytes]:
    """Return a ``timestamper`` for :func:`seal_ofd` that asks an RFC 3161 TSA over ``request``.

    ``request`` takes a DER TimeStampReq and returns the DER TimeStampResp (an HTTP client, or in-process
    ``TimeStampService.respond(...).response``). The returned callable hashes the signature value with
    ``hash_algorithm`` (``"sm3"`` for SM2 seals, ``"sha256"``), asks for a token without a nonce (the token's
    imprint binds it to this signature value; randomness would have to come in from outside), checks that the
    answer is granted and stamps exactly that imprint, and returns the token (ContentInfo DER) that goes into
    ``SES_Signature.timeStamp``. InvalidInput (status, wrong imprint) or MalformedInput (unreadable answer).
    """
    if hash_algorithm not in ("sm3", "sha256"):
        raise UnsupportedAlgorithm("time-stamp imprints are made with sm3 or sha256")

    def timestamper(signature_value: bytes) -> bytes:
        digest = sm3(signature_value) if hash_algorithm == "sm3" else hashlib.sha256(signature_value).digest()
        imprint = tsp.MessageImprint(
            {"hash_algorithm": algos.DigestAlgorithm({"algorithm": hash_algorithm}), "hashed_message": digest}
        )
        req = tsp.TimeStampReq({"version": "v1", "message_imprint": imprint, "cert_req": cert_req})
        answer = request(bytes(req.dump()))
        if not isinstance(answer, bytes):
            raise MalformedInput("the time-stamp authority did not answer with bytes")
        try:
            resp = _TimeStampResp.load(answer, strict=True)
            status = resp["status"]["status"].native
            token = resp["time_stamp_token"]
            if status not in ("granted", "granted_with_mods") or not isinstance(token, cms.ContentInfo):
                raise InvalidInput(f"the time-stamp authority did not grant a token (status {status})")
            tst = token["content"]["encap_content_info"]["content"].parsed
            stamped = tst["message_imprint"]
            if stamped["hashed_message"].native != digest or (
                stamped["hash_algorithm"]["algorithm"].native != hash_algorithm
            ):
                raise InvalidInput("the time-stamp token does not stamp this signature value")
            return bytes(token.dump())
        except InvalidInput:
            raise
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise MalformedInput(f"the time-stamp answer cannot be read: {exc}") from None

    return timestamper


# ==========================================================================================================
# Sealing
# ==========================================================================================================


def seal_ofd(
    ofd_bytes: bytes,
    *,
    seal_der: bytes,
    signer_cert_der: bytes,
    signer: Signer,
    placement: OfdPlacement,
    time_info: datetime,
    picture_png: bytes | None = None,
    timestamper: Callable[[bytes], bytes] | None = None,
    provider_name: str = "trustsvc",
    provider_version: str | None = None,
    company: str | None = None,
    protect_signatures: bool = False,
    document: int = 0,
    limits: Limits | None = None,
) -> bytes:
    """Return ``ofd_bytes`` with one more seal (``Type="Seal"`` signature) of ``document``, per spec §4.6.

    ``seal_der`` is the GB/T 38540 V4 ``SESeal``; ``signer_cert_der`` the DER certificate of ``signer``'s key,
    listed in the seal; ``time_info`` (timezone-aware) the signing time written to ``timeInfo`` and
    ``SignatureDateTime``. ``timestamper`` (signature value → RFC 3161 token DER, e.g.
    :func:`tsa_timestamper`) adds ``timeStamp``. ``provider_version`` defaults to trustsvc's version;
    ``company`` is written when given. ``protect_signatures`` covers ``Signatures.xml`` too (full
    protection: no seal can follow). ``limits`` bound what is read. See the module docstring for placement,
    the decisions taken, and the errors.
    """
    if not isinstance(time_info, datetime) or time_info.utcoffset() is None:
        raise InvalidInput("time_info must be a timezone-aware datetime")
    signed_at = time_info.astimezone(UTC).replace(microsecond=0)
    if not isinstance(protect_signatures, bool):
        raise InvalidInput("protect_signatures must be True or False")
    provider = _provider(provider_name, provider_version, company)
    seal = _usable_seal(seal_der, signer_cert_der, signed_at)
    if picture_png is not None and picture_png != seal.picture.data:
        raise InvalidInput(
            "picture_png is not the seal's picture; an OFD reader shows the picture inside the seal, so "
            "pass the seal's own picture or none"
        )
    algorithm = _signature_algorithm(signer)

    package = OfdPackage.read(ofd_bytes, limits=limits)
    doc = package.document(document)
    annots = stamp_annots_for(doc, placement, (seal.picture.width_mm, seal.picture.height_mm))
    _refuse_if_fully_protected(package, doc)

    slot = doc.next_signature_slot()
    package = package.with_signature_entry(slot, type="Seal", document=document)
    seal_path = f"{slot.dir}/{SEAL_FILE}"
    value_path = f"{slot.dir}/{SIGNED_VALUE_FILE}"
    package = package.with_files({seal_path: seal_der})
    excluded = {slot.signature_xml_path, value_path}
    if not protect_signatures:
        excluded.add(slot.signatures_path)
    references = [
        (path, _check_value(package.files[path])) for path in sorted(package.files) if path not in excluded
    ]
    signature_xml = serialize(
        _signature_element(
            provider=provider,
            method=str(signed_digest_algorithm(algorithm)["algorithm"].dotted),
            signed_at=signed_at,
            references=references,
            annots=annots,
            seal_path=seal_path,
            value_path=value_path,
        )
    )
    # make_signature checks the seal and the signer again and verifies what it made (a broken key or HSM
    # surfaces as InvalidSignature, not as a bad document).
    value = ses.make_signature(
        seal_der,
        _data_hash(algorithm, signature_xml),
        "/" + slot.signature_xml_path,
        signer_cert_der,
        signer,
        time_info=signed_at,
        timestamp=timestamper,
    )
    return package.with_files({slot.signature_xml_path: signature_xml, value_path: value}).write()


@dataclass(frozen=True)
class _Provider:
    name: str
    version: str
    company: str | None


@cache
def _own_version() -> str:
    """trustsvc's installed version (read once: the metadata lookup costs more than an SM2 signature)."""
    try:
        return metadata.version("trustsvc")
    except metadata.PackageNotFoundError:
        return "0"


def _provider(name: object, version: object, company: object) -> _Provider:
    if version is None:
        version = _own_version()
    for what, value in (("provider_name", name), ("provider_version", version), ("company", company)):
        if value is None and what == "company":
            continue
        if not isinstance(value, str) or not value.strip() or len(value) > _MAX_PROVIDER_TEXT:
            raise InvalidInput(f"{what} must be non-empty text of at most {_MAX_PROVIDER_TEXT} characters")
        if any(ord(ch) < 0x20 for ch in value):
            raise InvalidInput(f"{what} must not contain control characters")
    assert isinstance(name, str) and isinstance(version, str)
    return _Provider(name, version, company if isinstance(company, str) else None)


def _signature_algorithm(signer: Signer) -> SignatureAlgorithm:
    try:
        algorithm = SignatureAlgorithm(signer.algorithm)
    except (ValueError, AttributeError):
        raise InvalidInput("signer must be a trustsvc Signer with a known algorithm") from None
    if algorithm is SignatureAlgorithm.RSA_PSS_SHA256:
        raise UnsupportedAlgorithm("RSA-PSS cannot be named by the bare signatureAlgID OID of a seal")
    return algorithm


def _usable_seal(seal_der: object, signer_cert_der: object, at: datetime) -> ses.Seal:
    """Return the parsed seal after the GB/T 38540 §7.2 a) checks that need no registry, at time ``at``."""
    if not isinstance(seal_der, bytes):
        raise InvalidInput("seal_der must be bytes")
    if not isinstance(signer_cert_der, bytes):
        raise InvalidInput("signer_cert_der must be DER bytes")
    try:
        seal = ses.parse_seal(seal_der)
        ses.verify_seal(seal)
    except (MalformedInput, InvalidSignature) as exc:
        raise InvalidInput(f"the seal cannot be used: {exc.detail}") from None
    if seal.version != 4:
        raise InvalidInput(f"only GB/T 38540 (V4) seals are used for sealing, not V{seal.version}")
    if not seal.valid_start <= at <= seal.valid_end:
        raise InvalidInput(
            f"the seal is valid from {_stamp(seal.valid_start)} to {_stamp(seal.valid_end)}, "
            f"not at the signing time {_stamp(at)}"
        )
    try:
        cert = x509.Certificate.load(signer_cert_der, strict=True)
        not_before, not_after = cert.not_valid_before, cert.not_valid_after
    except (ValueError, TypeError, KeyError):
        raise InvalidInput("the signer certificate is not a DER X.509 certificate") from None
    if not not_before <= at <= not_after:
        raise InvalidInput(
            f"the signer certificate is valid from {_stamp(not_before)} to {_stamp(not_after)}, "
            f"not at the signing time {_stamp(at)}"
        )
    if not ses.signer_is_listed(seal, signer_cert_der):
        raise InvalidInput("the signer certificate is not listed in the seal")
    return seal


def _refuse_if_fully_protected(package: OfdPackage, doc: OfdDocument) -> None:
    """InvalidInput if an existing signature covers the signature list (full protection, spec §4.6 step 4)."""
    listing = doc.signatures_path
    if listing is None:
        return
    for entry in doc.signatures(check_files=False):
        try:
            root = package.xml(entry.signature_xml_path)
        except MalformedInput:
            continue  # unreadable: it protects nothing we could break
        info = child(root, "SignedInfo")
        refs = None if info is None else child(info, "References")
        if refs is None:
            continue
        base = posixpath.dirname(entry.signature_xml_path)
        for ref in children(refs, "Reference"):
            try:
                path = package.resolve(base, ref.get("FileRef") or "")
            except MalformedInput:
                continue
            if path == listing:
                raise InvalidInput(
                    f"signature {entry.id} protects the signature list ({listing}): the document is sealed "
                    "with full protection and no further seal can be added"
                )


def _signature_element(
    *,
    provider: _Provider,
    method: str,
    signed_at: datetime,
    references: Sequence[tuple[str, bytes]],
    annots: Sequence[StampAnnotSpec],
    seal_path: str,
    value_path: str,
) -> etree._Element:
    root = etree.Element(q("Signature"), nsmap={"ofd": OFD_NS})
    info = etree.SubElement(root, q("SignedInfo"))
    prov = etree.SubElement(info, q("Provider"))
    prov.set("ProviderName", provider.name)
    prov.set("Version", provider.version)
    if provider.company is not None:
        prov.set("Company", provider.company)
    etree.SubElement(info, q("SignatureMethod")).text = method
    etree.SubElement(info, q("SignatureDateTime")).text = _stamp(signed_at)
    refs = etree.SubElement(info, q("References"))
    refs.set("CheckMethod", SM3_OID)
    for path, digest in references:
        ref = etree.SubElement(refs, q("Reference"))
        ref.set("FileRef", "/" + path)
        etree.SubElement(ref, q("CheckValue")).text = base64.b64encode(digest).decode("ascii")
    for number, annot in enumerate(annots, start=1):
        element = etree.SubElement(info, q("StampAnnot"))
        element.set("ID", str(number))
        element.set("PageRef", str(annot.page.id))
        element.set("Boundary", _box(annot.boundary))
        if annot.clip is not None:
            element.set("Clip", _box(annot.clip))
    seal = etree.SubElement(info, q("Seal"))
    etree.SubElement(seal, q("BaseLoc")).text = "/" + seal_path
    etree.SubElement(root, q("SignedValue")).text = "/" + value_path
    return root


def _stamp(moment: datetime) -> str:
    """``YYYYMMDDHHMMSSZ`` in UTC."""
    return moment.astimezone(UTC).strftime("%Y%m%d%H%M%SZ")


def _num(value: float) -> str:
    """A coordinate: at most 4 decimals, no trailing zeros, never '-0' (as the layout builder writes)."""
    text = f"{round(value, 4):.4f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _box(box: tuple[float, float, float, float]) -> str:
    return " ".join(_num(v) for v in box)
