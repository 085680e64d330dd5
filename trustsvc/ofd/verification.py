"""Per-signature checks of an OFD document (spec/standards.md §4.7): :func:`check_ofd_signatures`.

This is the low-level checker the verification engine composes — it says, for each signature listed in each
document's ``Signatures.xml``, which integrity and cryptographic checks hold, and hands back the certificates
it found. It does **not** build certificate chains, check revocation, consult a trust list, a seal registry
or a clock; that is the engine's job (``trustsvc.verify``), with :attr:`OfdSignatureCheck.signer_cert`,
:attr:`~OfdSignatureCheck.seal_maker_cert`, :attr:`~OfdSignatureCheck.certificates` and
:attr:`~OfdSignatureCheck.signing_time` as its input.

What is checked, per signature:

* ``signature_xml`` — the entry's ``BaseLoc`` resolves inside the package and ``Signature.xml`` parses (with
  the hardened parser) and has a ``SignedInfo``.
* ``references`` — every ``Reference`` recomputed over the raw bytes of the file it names (spec §4.4 point 1),
  each reported as a :class:`ReferenceCheck` (``ok``, ``mismatch``, ``missing``, ``unsupported``,
  ``invalid``); the check holds when there is at least one Reference and every one is ``ok``.
* ``coverage`` — ``Document.xml`` and every page content file are among the References: a signature over
  less lets pages be changed, added or removed under it. Templates and the ``PublicRes``/``DocumentRes``
  lists left uncovered only give a warning, because a real vendor file (Baiwang) leaves its template out;
  every file a signature does not cover is listed in :attr:`OfdSignatureCheck.unprotected_files`.
* ``signed_value`` — the ``SignedValue`` file is in the package.
* ``Type="Seal"`` (GB/T 38540, spec §3.4): ``format`` (``SES_Signature`` parses, leniently: V4, V1, V5 and
  the known deviations, each a warning), ``data_hash`` (``dataHash`` = digest of the raw ``Signature.xml``:
  SM3 for SM2, SHA-256 for ECDSA/RSA), ``signature_value`` (signer's signature over ``TBS_Sign``),
  ``seal_signature`` (maker's signature over the seal info), ``signer_listed`` (the signer certificate is
  in the seal's list), ``seal_validity`` (the seal's validity period contains ``timeInfo``), ``seal_file``
  (a ``Seal/BaseLoc`` copy of the seal, if named, is byte-identical to the seal inside the signature — a
  reader may draw the copy), ``timestamp`` (if present: the token's message imprint is the digest of the
  signature value).
* ``Type="Sign"`` (GB/T 35275 SignedData, spec §2.3, §4.4 point 2): ``format`` (ContentInfo/SignedData
  with one SignerInfo), ``signer_certificate`` (the SignerInfo's issuer and serial name a certificate in
  the SignedData), then either — with authenticated attributes (real rail e-tickets) — ``message_digest``
  (= digest of the raw ``Signature.xml`` with the SignerInfo's digest algorithm) and ``signature_value``
  (over the DER ``SET OF`` the attributes); or — without attributes (OFDRW's ``GBT35275DSContainer``) —
  ``data_hash`` (the embedded content is SM3(Signature.xml), raw or base64) and ``signature_value`` over
  that content (detached: over the digest, else over ``Signature.xml`` itself, whichever verifies, named in
  a warning); ``timestamp`` for an unsigned ``id-aa-timeStampToken`` attribute.

Signature values are verified leniently (spec §1.4): a raw 64-byte r‖s or an unpadded INTEGER is repaired
and named in a warning. SM2 always with the default user ID 1234567812345678.

CheckMethod (decision): ``sm3``/``SM3``/``1.2.156.10197.1.401`` are SM3; ``SHA1`` (in the XSD's enumeration)
and SHA-256 are computed and accepted with a warning, so the engine can apply its policy; ``MD5`` (the XSD's
default) is refused — an MD5 CheckValue can be matched by a different file (chosen-prefix collisions are
cheap), so it proves nothing: every Reference is ``unsupported`` and the signature fails. A missing
CheckMethod with 32-byte CheckValues is read as SM3 with a warning (every producer seen uses SM3); with any
other length it is refused as MD5, the XSD default.

Errors (decision): only a package that cannot be read at all raises — not a ZIP, a bomb, an unsafe entry name
(MalformedInput / PayloadTooLarge from :meth:`~trustsvc.ofd.package.OfdPackage.read`), no ``OFD.xml``, no
``DocRoot``, a ``Signatures.xml`` that is named but missing or broken (MalformedInput), more than
:data:`MAX_SIGNATURES` signatures (PayloadTooLarge). Each file is hashed at most once per digest algorithm,
however many References name it. Everything about one signature — a missing file, unreadable XML or DER, a bad
digest or signature — is a failed check in its :class:`OfdSignatureCheck`, never an exception, so one bad
signature cannot hide the others.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import posixpath
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final, Literal

from asn1crypto import algos, cms, tsp, x509
from lxml import etree

from trustsvc import errors
from trustsvc.errors import InvalidSignature, MalformedInput, PayloadTooLarge
from trustsvc.keys.algorithms import SignatureAlgorithm, signature_algorithm_of
from trustsvc.keys.signer import verify as signer_verify
from trustsvc.keys.sm2 import SM2PublicKey
from trustsvc.keys.sm3 import sm3
from trustsvc.ofd.package import Limits, OfdPackage
from trustsvc.ofd.xml import child, child_text, children, local_name
from trustsvc.seal import ses

__all__ = [
    "MAX_SIGNATURES",
    "Check",
    "OfdSignatureCheck",
    "ReferenceCheck",
    "ReferenceStatus",
    "StampAnnotInfo",
    "check_ofd_signatures",
]

ReferenceStatus = Literal["ok", "mismatch", "missing", "unsupported", "invalid"]

#: More signatures than this in one package are refused (PayloadTooLarge): real documents carry a handful, and
#: each costs several signature verifications.
MAX_SIGNATURES: Final = 1000

_SM3_OID: Final = "1.2.156.10197.1.401"
_SHA1_OID: Final = "1.3.14.3.2.26"
_SHA256_OID: Final = "2.16.840.1.101.3.4.2.1"
_MD5_OID: Final = "1.2.840.113549.2.5"
_ID_AA_TIME_STAMP: Final = "1.2.840.113549.1.9.16.2.14"
_SIGNED_DATA_TYPES: Final = ("gm_signed_data", "signed_data")
_ASN1_ERRORS: Final = (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError)


# ==========================================================================================================
# Result model
# ==========================================================================================================


@dataclass(frozen=True)
class ReferenceCheck:
    """One ``Reference``: ``file_ref`` as written, ``path`` the package path it resolves to (None if it
    cannot be resolved), ``status`` and a human-readable ``detail`` when not ``ok``."""

    file_ref: str
    path: str | None
    status: ReferenceStatus
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass(frozen=True)
class Check:
    """One named check and whether it holds; ``detail`` says why not (or what was found)."""

    name: str
    ok: bool
    detail: str = ""


@dataclass(frozen=True)
class StampAnnotInfo:
    """One ``StampAnnot``: ``page_ref`` as written, ``page_index`` (0-based) of the page whose ``ID`` it
    names (None if none does), ``boundary``/``clip`` ``(x, y, w, h)`` in mm (None if absent or unreadable)."""

    id: str | None
    page_ref: str
    page_index: int | None
    boundary: tuple[float, float, float, float] | None
    clip: tuple[float, float, float, float] | None


@dataclass(frozen=True)
class OfdSignatureCheck:
    """What :func:`check_ofd_signatures` found for one ``Signatures.xml/Signature`` of document ``document``.

    :attr:`ok` is True when every check holds (integrity and signature values only: chains, revocation and
    trust are the engine's). ``signer_cert``/``seal_maker_cert`` are DER certificates as found (None when
    absent or unreadable); ``certificates`` every distinct certificate found (signer, maker, SignedData and
    time-stamp token certificates) for path building. ``signing_time`` is ``timeInfo`` (Seal) or the
    ``signingTime`` attribute (Sign); ``timestamp_time`` the token's genTime. ``seal``/``seal_signature``
    are the parsed GB/T 38540 objects for a Seal. ``protects_signature_list`` says whether the signature
    covers ``Signatures.xml`` (full protection: no later signature can be valid with it).
    """

    document: int
    id: str
    type: Literal["Seal", "Sign"]
    signature_xml_path: str | None
    signed_value_path: str | None = None
    provider_name: str | None = None
    provider_version: str | None = None
    provider_company: str | None = None
    signature_method: str | None = None
    signature_date_time: str | None = None
    check_method: str | None = None
    references: tuple[ReferenceCheck, ...] = ()
    checks: tuple[Check, ...] = ()
    stamp_annots: tuple[StampAnnotInfo, ...] = ()
    signer_cert: bytes | None = None
    seal_maker_cert: bytes | None = None
    certificates: tuple[bytes, ...] = ()
    seal: ses.Seal | None = None
    seal_signature: ses.SealSignature | None = None
    signing_time: datetime | None = None
    timestamp_token: bytes | None = None
    timestamp_time: datetime | None = None
    protects_signature_list: bool = False
    unprotected_files: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when there is at least one check and every check holds."""
        return bool(self.checks) and all(c.ok for c in self.checks)

    @property
    def failures(self) -> tuple[Check, ...]:
        """The checks that do not hold."""
        return tuple(c for c in self.checks if not c.ok)

    def check(self, name: str) -> Check | None:
        """Return the check called ``name``, or None if it was not made."""
        return next((c for c in self.checks if c.name == name), None)


@dataclass
class _Builder:
    """Collects the fields of one OfdSignatureCheck while the checks run."""

    document: int
    id: str
    type: Literal["Seal", "Sign"]
    signature_xml_path: str | None
    checks: list[Check] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    certificates: list[bytes] = field(default_factory=list)
    values: dict[str, object] = field(default_factory=dict)

    def add(self, name: str, ok: bool, detail: str = "") -> bool:
        self.checks.append(Check(name, ok, detail))
        return ok

    def cert(self, der: bytes | None) -> None:
        if der and der not in self.certificates:
            self.certificates.append(der)

    def build(self) -> OfdSignatureCheck:
        return OfdSignatureCheck(
            document=self.document,
            id=self.id,
            type=self.type,
            signature_xml_path=self.signature_xml_path,
            checks=tuple(self.checks),
            warnings=tuple(dict.fromkeys(self.warnings)),
            certificates=tuple(self.certificates),
            **self.values,  # type: ignore[arg-type]
        )


# ==========================================================================================================
# Entry point
# ==========================================================================================================


def check_ofd_signatures(ofd: bytes | OfdPackage, *, limits: Limits | None = None) -> list[OfdSignatureCheck]:
    """Return one :class:`OfdSignatureCheck` per signature of every document of ``ofd``, in listing order.

    ``ofd`` is the OFD file's bytes (read with ``limits``) or an already read :class:`OfdPackage`. A document
    without a signature list contributes nothing. Raises only for a package that cannot be read (see the
    module docstring); every per-signature problem is a failed check.
    """
    package = ofd if isinstance(ofd, OfdPackage) else OfdPackage.read(ofd, limits=limits)
    results: list[OfdSignatureCheck] = []
    # (digest name, path) → digest: each file is hashed once per algorithm however often it is referenced
    digests: dict[tuple[str, str], bytes] = {}
    for index in range(len(package.documents)):
        doc = package.document(index)
        listing_path = doc.signatures_path
        if listing_path is None:
            continue
        listing = package.xml(listing_path)
        if local_name(listing) != "Signatures":
            raise MalformedInput(f"{listing_path}: root element is {local_name(listing)!r}, not Signatures")
        protected = _protected_parts(package, doc.path)
        entries = list(children(listing, "Signature"))
        if len(results) + len(entries) > MAX_SIGNATURES:
            raise PayloadTooLarge(f"{listing_path}: more than {MAX_SIGNATURES} signatures are not checked")
        seen: set[str] = set()
        for element in entries:
            results.append(_check_one(package, index, listing_path, element, protected, seen, digests))
    return results


@dataclass(frozen=True)
class _DocumentParts:
    """What a document signature must cover (``required``: Document.xml and the pages) and should cover
    (``advised``: templates and resource lists), and page ID → index. Read without parsing page content, so a
    damaged page is reported as a failed Reference, not as an unreadable package."""

    required: tuple[str, ...]
    advised: tuple[str, ...]
    page_ids: dict[str, int]
    problem: str | None


def _protected_parts(package: OfdPackage, document_path: str) -> _DocumentParts:
    try:
        root = package.xml(document_path)
        base = posixpath.dirname(document_path)
        required = [document_path]
        advised = []
        common = child(root, "CommonData")
        if common is not None:
            for name in ("PublicRes", "DocumentRes"):
                for element in children(common, name):
                    advised.append(package.resolve(base, element.text or ""))
            for template in children(common, "TemplatePage"):
                advised.append(package.resolve(base, template.get("BaseLoc") or ""))
        page_ids: dict[str, int] = {}
        pages = child(root, "Pages")
        for i, page in enumerate(children(pages, "Page") if pages is not None else ()):
            required.append(package.resolve(base, page.get("BaseLoc") or ""))
            page_ids.setdefault((page.get("ID") or "").strip(), i)
        return _DocumentParts(tuple(dict.fromkeys(required)), tuple(dict.fromkeys(advised)), page_ids, None)
    except MalformedInput as exc:
        return _DocumentParts((document_path,), (), {}, f"{document_path} cannot be read: {exc.detail}")


# ==========================================================================================================
# One signature
# ==========================================================================================================


def _check_one(
    package: OfdPackage,
    document: int,
    listing_path: str,
    element: etree._Element,
    parts: _DocumentParts,
    seen: set[str],
    digests: dict[tuple[str, str], bytes],
) -> OfdSignatureCheck:
    signature_id = (element.get("ID") or "").strip()
    kind_text = (element.get("Type") or "Seal").strip()
    kind: Literal["Seal", "Sign"] = "Sign" if kind_text == "Sign" else "Seal"
    b = _Builder(document, signature_id, kind, None)
    if signature_id in seen:
        b.warnings.append(f"signature ID {signature_id!r} is listed more than once")
    seen.add(signature_id)
    if kind_text not in ("Seal", "Sign"):
        b.add("entry", False, f"signature Type {kind_text[:20]!r} is neither Seal nor Sign")
        return b.build()

    # Signature.xml
    try:
        xml_path = package.resolve(posixpath.dirname(listing_path), element.get("BaseLoc") or "")
    except MalformedInput as exc:
        b.add("signature_xml", False, f"BaseLoc cannot be resolved: {exc.detail}")
        return b.build()
    b.signature_xml_path = xml_path
    try:
        signature_xml = package.file(xml_path)
        root = package.xml(xml_path)
    except (MalformedInput, errors.PayloadTooLarge) as exc:
        b.add("signature_xml", False, exc.detail)
        return b.build()
    info = child(root, "SignedInfo")
    if local_name(root) != "Signature" or info is None:
        b.add("signature_xml", False, f"{xml_path} is not a Signature with a SignedInfo")
        return b.build()
    b.add("signature_xml", True)
    here = posixpath.dirname(xml_path)
    _read_signed_info(b, info)

    # References and coverage
    value_loc = child_text(root, "SignedValue")
    value_path = _try_resolve(package, here, value_loc)
    own = {xml_path} | ({value_path} if value_path else set())
    _check_references(b, package, info, here, own, listing_path, parts, digests)
    b.values["stamp_annots"] = tuple(_stamp_annots(b, info, parts))

    # SignedValue
    if value_path is None or value_path not in package:
        b.add("signed_value", False, f"SignedValue {(value_loc or '')[:120]!r} is not in the package")
        return b.build()
    b.values["signed_value_path"] = value_path
    b.add("signed_value", True)
    value = package.file(value_path)
    try:
        if kind == "Seal":
            _check_seal(b, package, info, here, signature_xml, value, xml_path)
        else:
            _check_sign(b, signature_xml, value)
    except _ASN1_ERRORS as exc:
        # asn1crypto parses lazily: a damaged inner field can surface on any access
        b.add("format", False, f"the signature value cannot be read: {type(exc).__name__}: {exc}"[:300])
    return b.build()


def _try_resolve(package: OfdPackage, base: str, loc: str | None) -> str | None:
    if not loc:
        return None
    try:
        return package.resolve(base, loc)
    except MalformedInput:
        return None


def _read_signed_info(b: _Builder, info: etree._Element) -> None:
    provider = child(info, "Provider")
    if provider is not None:
        b.values["provider_name"] = provider.get("ProviderName")
        b.values["provider_version"] = provider.get("Version")
        b.values["provider_company"] = provider.get("Company")
    b.values["signature_method"] = child_text(info, "SignatureMethod")
    b.values["signature_date_time"] = child_text(info, "SignatureDateTime")


# --- References -------------------------------------------------------------------------------------------


def _sha1(data: bytes) -> bytes:
    return hashlib.sha1(data, usedforsecurity=False).digest()


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


_CHECK_METHODS: Final[dict[str, tuple[str, Callable[[bytes], bytes], str | None]]] = {
    "sm3": ("sm3", sm3, None),
    _SM3_OID: ("sm3", sm3, None),
    "sha1": ("sha1", _sha1, "CheckMethod SHA-1: a weak digest (accepted; OFD practice is SM3)"),
    _SHA1_OID: ("sha1", _sha1, "CheckMethod SHA-1: a weak digest (accepted; OFD practice is SM3)"),
    "sha256": ("sha256", _sha256, "CheckMethod SHA-256 is not SM3 (accepted)"),
    _SHA256_OID: ("sha256", _sha256, "CheckMethod SHA-256 is not SM3 (accepted)"),
}


def _digest_for(
    method: str | None, sample: bytes | None
) -> tuple[str, Callable[[bytes], bytes], str | None] | None:
    """Return (name, digest function, warning) for a CheckMethod; None if refused (see the module doc)."""
    name = (method or "").strip().lower().replace("-", "")
    if name in _CHECK_METHODS:
        return _CHECK_METHODS[name]
    if not name and sample is not None and len(sample) == 32:
        return "sm3", sm3, "References have no CheckMethod; their 32-byte CheckValues are checked as SM3"
    return None  # MD5 (named, or the XSD default) and anything unknown


def _check_references(
    b: _Builder,
    package: OfdPackage,
    info: etree._Element,
    here: str,
    own: set[str],
    listing_path: str,
    parts: _DocumentParts,
    digests: dict[tuple[str, str], bytes],
) -> None:
    refs_element = child(info, "References")
    refs = list(children(refs_element, "Reference")) if refs_element is not None else []
    method = refs_element.get("CheckMethod") if refs_element is not None else None
    b.values["check_method"] = method
    first_value = _decoded(child_text(refs[0], "CheckValue")) if refs else None
    found = _digest_for(method, first_value)
    if found is not None and found[2]:
        b.warnings.append(found[2])
    results: list[ReferenceCheck] = []
    covered: set[str] = set()
    for ref in refs:
        file_ref = ref.get("FileRef") or ""
        path = _reference_path(b, package, here, file_ref)
        if path is None:
            results.append(ReferenceCheck(file_ref, None, "invalid", "FileRef cannot be resolved"))
            continue
        covered.add(path)
        expected = _decoded(child_text(ref, "CheckValue"))
        if expected is None:
            results.append(ReferenceCheck(file_ref, path, "invalid", "CheckValue is not base64"))
        elif found is None:
            results.append(
                ReferenceCheck(
                    file_ref, path, "unsupported", f"CheckMethod {(method or 'MD5')[:40]!r} refused"
                )
            )
        elif path not in package:
            results.append(ReferenceCheck(file_ref, path, "missing", "the file is not in the package"))
        elif hmac.compare_digest(_cached(digests, found, package, path), expected):
            results.append(ReferenceCheck(file_ref, path, "ok"))
        else:
            results.append(ReferenceCheck(file_ref, path, "mismatch", "the file's digest differs"))
    b.values["references"] = tuple(results)
    bad = [r for r in results if not r.ok]
    if not results:
        b.add("references", False, "the signature has no References")
    elif bad:
        listed = ", ".join(f"{r.path or r.file_ref} ({r.status})" for r in bad[:10])
        more = f" and {len(bad) - 10} more" if len(bad) > 10 else ""
        b.add("references", False, f"{len(bad)} of {len(results)} References fail: {listed}{more}")
    else:
        b.add("references", True, f"{len(results)} References")
    b.values["protects_signature_list"] = listing_path in covered
    b.values["unprotected_files"] = tuple(sorted(set(package.files) - covered - own))
    if parts.problem is not None:
        b.add("coverage", False, parts.problem)
    else:
        missing = [p for p in parts.required if p not in covered]
        b.add(
            "coverage",
            not missing,
            ("not covered: " + ", ".join(missing[:10])) if missing else "the document and all its pages",
        )
        loose = [p for p in parts.advised if p not in covered]
        if loose:
            b.warnings.append("not covered (may change without breaking the signature): " + ", ".join(loose))


def _cached(
    digests: dict[tuple[str, str], bytes],
    method: tuple[str, Callable[[bytes], bytes], str | None],
    package: OfdPackage,
    path: str,
) -> bytes:
    key = (method[0], path)
    if key not in digests:
        digests[key] = method[1](package.file(path))
    return digests[key]


def _reference_path(b: _Builder, package: OfdPackage, here: str, file_ref: str) -> str | None:
    """Resolve a FileRef as an ST_Loc (absolute, else relative to Signature.xml); a relative one naming a file
    only from the package root is accepted with a warning (a producer that forgot the leading '/')."""
    path = _try_resolve(package, here, file_ref)
    if path is None or path in package or file_ref.strip().startswith("/"):
        return path
    rooted = _try_resolve(package, "", file_ref)
    if rooted is not None and rooted in package:
        b.warnings.append(f"FileRef {file_ref[:120]!r} read from the package root (no leading '/')")
        return rooted
    return path


def _decoded(text: str | None) -> bytes | None:
    if not text:
        return None
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        return None


# --- StampAnnot ---------------------------------------------------------------------------------------------


def _stamp_annots(b: _Builder, info: etree._Element, parts: _DocumentParts) -> Iterable[StampAnnotInfo]:
    for element in children(info, "StampAnnot"):
        page_ref = (element.get("PageRef") or "").strip()
        index = parts.page_ids.get(page_ref)
        if index is None and parts.problem is None:
            b.warnings.append(f"StampAnnot PageRef {page_ref[:20]!r} names no page of the document")
        yield StampAnnotInfo(
            id=element.get("ID"),
            page_ref=page_ref,
            page_index=index,
            boundary=_box(element.get("Boundary"), b, "Boundary"),
            clip=_box(element.get("Clip"), b, "Clip"),
        )


def _box(text: str | None, b: _Builder, what: str) -> tuple[float, float, float, float] | None:
    if text is None:
        return None
    try:
        values = [float(v) for v in text.split()]
    except ValueError:
        values = []
    if len(values) != 4:
        b.warnings.append(f"StampAnnot {what} {text[:60]!r} is not four numbers")
        return None
    return (values[0], values[1], values[2], values[3])


# ==========================================================================================================
# Type="Seal": GB/T 38540 SES_Signature
# ==========================================================================================================


def _data_digest(signature_alg: str) -> tuple[Callable[[bytes], bytes], str]:
    """The dataHash digest for a signature algorithm OID (GB/T 38540 §7.1.5): SM3 for SM2, else SHA-256."""
    try:
        algorithm = signature_algorithm_of(algos.SignedDigestAlgorithm({"algorithm": signature_alg}))
    except (errors.TrustsvcError, *_ASN1_ERRORS):
        return sm3, "SM3"
    if algorithm is SignatureAlgorithm.SM2_SM3:
        return sm3, "SM3"
    return _sha256, "SHA-256"


def _check_seal(
    b: _Builder,
    package: OfdPackage,
    info: etree._Element,
    here: str,
    signature_xml: bytes,
    value: bytes,
    xml_path: str,
) -> None:
    try:
        sig = ses.parse_signature(value, lenient=True)
    except MalformedInput as exc:
        b.add("format", False, f"SES_Signature: {exc.detail}")
        return
    b.add("format", True, f"SES_Signature V{sig.version}")
    b.warnings.extend(sig.all_warnings)
    b.values["seal_signature"] = sig
    b.values["seal"] = sig.seal
    b.values["signer_cert"] = sig.signer_cert
    b.values["seal_maker_cert"] = sig.seal.maker_cert
    b.values["signing_time"] = sig.time_info
    b.cert(sig.signer_cert)
    b.cert(sig.seal.maker_cert)

    digest, digest_name = _data_digest(sig.signature_alg)
    b.add(
        "data_hash",
        hmac.compare_digest(digest(signature_xml), sig.data_hash),
        f"dataHash {'=' if digest(signature_xml) == sig.data_hash else '≠'} {digest_name}(Signature.xml)",
    )
    try:
        b.warnings.extend(ses.verify_signature_value(sig))
        b.add("signature_value", True)
    except InvalidSignature as exc:
        b.add("signature_value", False, exc.detail)
    try:
        b.warnings.extend(ses.verify_seal(sig.seal))
        b.add("seal_signature", True)
    except InvalidSignature as exc:
        b.add("seal_signature", False, exc.detail)
    b.add(
        "signer_listed",
        ses.signer_is_listed(sig.seal, sig.signer_cert),
        "the signer certificate is listed in the seal"
        if ses.signer_is_listed(sig.seal, sig.signer_cert)
        else "the signer certificate is not listed in the seal",
    )
    seal = sig.seal
    in_period = seal.valid_start <= sig.time_info <= seal.valid_end
    b.add(
        "seal_validity",
        in_period,
        f"seal valid {seal.valid_start:%Y-%m-%d %H:%M:%S}Z to {seal.valid_end:%Y-%m-%d %H:%M:%S}Z, "
        f"signed {sig.time_info:%Y-%m-%d %H:%M:%S}Z",
    )
    if sig.property_info.strip().lstrip("/") != xml_path:
        b.warnings.append(
            f"propertyInfo {sig.property_info[:80]!r} does not name this Signature.xml (/{xml_path})"
        )
    method = b.values.get("signature_method")
    if isinstance(method, str) and method and method != sig.signature_alg:
        b.warnings.append(f"SignatureMethod {method[:40]} differs from signatureAlgID {sig.signature_alg}")
    if not list(children(info, "StampAnnot")):
        b.warnings.append("the seal has no StampAnnot: it is not shown on any page")

    seal_element = child(info, "Seal")
    seal_loc = child_text(seal_element, "BaseLoc") if seal_element is not None else None
    if seal_loc:
        seal_path = _try_resolve(package, here, seal_loc)
        if seal_path is None or seal_path not in package:
            b.add("seal_file", False, f"Seal/BaseLoc {seal_loc[:120]!r} is not in the package")
        else:
            same = hmac.compare_digest(package.file(seal_path), seal.der)
            b.add(
                "seal_file",
                same,
                "the seal file is the signed seal" if same else "the seal file differs from the signed seal",
            )
    if sig.timestamp is not None:
        _check_timestamp(b, sig.timestamp, sig.signature)


# ==========================================================================================================
# Type="Sign": GB/T 35275 SignedData
# ==========================================================================================================


def _check_sign(b: _Builder, signature_xml: bytes, value: bytes) -> None:
    try:
        info = cms.ContentInfo.load(value, strict=True)
        if info["content_type"].native not in _SIGNED_DATA_TYPES:
            raise ValueError(f"content type {info['content_type'].dotted} is not signedData")
        signed_data = info["content"]
        signer_infos = list(signed_data["signer_infos"])
        if len(signer_infos) != 1:
            raise ValueError(f"{len(signer_infos)} SignerInfos, expected one")
        si = signer_infos[0]
        encap = signed_data["encap_content_info"]
        certs = [c.chosen for c in signed_data["certificates"] or () if c.name == "certificate"]
        digest_name = si["digest_algorithm"]["algorithm"].native
        signed_attrs = si["signed_attrs"]
        has_attrs = bool(len(signed_attrs))
        signature = bytes(si["signature"].native)
        signature_algorithm = si["signature_algorithm"]
        sid = si["sid"]
    except _ASN1_ERRORS as exc:
        b.add("format", False, f"GB/T 35275 SignedData: {exc}")
        return
    b.add("format", True, f"SignedData ({info['content_type'].native}), one SignerInfo")
    for cert in certs:
        b.cert(bytes(cert.dump()))

    cert_der = _signer_certificate(certs, sid)
    if cert_der is None:
        b.add("signer_certificate", False, "the SignerInfo names no certificate of the SignedData")
    else:
        b.add("signer_certificate", True)
        b.values["signer_cert"] = cert_der
    digest = _cms_digest(digest_name)
    if digest is None:
        b.add("message_digest", False, f"digest algorithm {str(digest_name)[:40]} is not supported")
        return
    expected = digest(signature_xml)

    if has_attrs:
        attrs = {a["type"].dotted: a for a in signed_attrs}
        md = attrs.get("1.2.840.113549.1.9.4")
        try:
            md_value = bytes(md["values"][0].native) if md is not None else None
            st = attrs.get("1.2.840.113549.1.9.5")
            if st is not None:
                b.values["signing_time"] = st["values"][0].native
            ct = attrs.get("1.2.840.113549.1.9.3")
            if ct is None or ct["values"][0].dotted != encap["content_type"].dotted:
                b.warnings.append("the contentType attribute is missing or differs from the content type")
        except _ASN1_ERRORS as exc:
            b.add("message_digest", False, f"authenticated attributes cannot be read: {exc}")
            return
        if md_value is None:
            b.add("message_digest", False, "no messageDigest attribute")
        else:
            b.add(
                "message_digest",
                hmac.compare_digest(md_value, expected),
                f"messageDigest {'=' if md_value == expected else '≠'} {digest_name}(Signature.xml)",
            )
        raw = signed_attrs.dump()
        # PKCS#7 / RFC 5652 §5.4: the signature covers the attributes re-tagged as a DER SET OF
        candidates = [(b"\x31" + raw[1:], "")]
    else:
        content = encap["content"]
        embedded = bytes(content.native) if content.native is not None else None
        if embedded is not None:
            matches = embedded in (expected, base64.b64encode(expected))
            b.add(
                "data_hash",
                matches,
                f"embedded content {'is' if matches else 'is not'} {digest_name}(Signature.xml)",
            )
            candidates = [(embedded, "")]
        else:
            b.add("data_hash", True, "detached, no attributes: the signature itself binds Signature.xml")
            candidates = [
                (expected, f"the signature covers {digest_name}(Signature.xml) (no attributes, detached)"),
                (signature_xml, "the signature covers Signature.xml itself (no attributes, detached)"),
            ]
    if cert_der is None:
        b.add("signature_value", False, "no signer certificate to verify with")
    else:
        _verify_candidates(b, cert_der, signature_algorithm, signature, candidates)
    unsigned = si["unsigned_attrs"]
    try:
        for attr in unsigned if len(unsigned) else ():
            if attr["type"].dotted == _ID_AA_TIME_STAMP:
                _check_timestamp(b, bytes(attr["values"][0].dump()), signature)
    except _ASN1_ERRORS as exc:
        b.add("timestamp", False, f"unsigned attributes cannot be read: {exc}")


def _signer_certificate(certs: list[x509.Certificate], sid: cms.SignerIdentifier) -> bytes | None:
    try:
        if sid.name == "issuer_and_serial_number":
            issuer = sid.chosen["issuer"]
            serial = sid.chosen["serial_number"].native
            for cert in certs:
                if cert.serial_number == serial and cert.issuer == issuer:
                    return bytes(cert.dump())
        elif sid.name == "subject_key_identifier":
            for cert in certs:
                if cert.key_identifier == sid.chosen.native:
                    return bytes(cert.dump())
    except _ASN1_ERRORS:
        return None
    return None


def _cms_digest(name: object) -> Callable[[bytes], bytes] | None:
    if name == "sm3":
        return sm3
    if name in ("sha256", "sha384", "sha512"):
        return lambda d: hashlib.new(str(name), d).digest()
    return None


def _verify_candidates(
    b: _Builder,
    cert_der: bytes,
    signature_algorithm: algos.SignedDigestAlgorithm,
    signature: bytes,
    candidates: list[tuple[bytes, str]],
) -> None:
    """Verify ``signature`` over the first candidate message that verifies; warnings name the repair and,
    when several conventions are possible, which one held."""
    try:
        algorithm = signature_algorithm_of(signature_algorithm)
        spki = x509.Certificate.load(cert_der)["tbs_certificate"]["subject_public_key_info"].dump()
    except (errors.TrustsvcError, *_ASN1_ERRORS) as exc:
        b.add("signature_value", False, f"signature algorithm or key cannot be used: {exc}")
        return
    last = "the signature does not verify"
    for message, note in candidates:
        try:
            if algorithm is SignatureAlgorithm.SM2_SM3:
                repairs = SM2PublicKey.from_der(spki).verify_lenient(signature, message)
            else:
                signer_verify(spki, algorithm, message, signature)
                repairs = ()
        except InvalidSignature as exc:
            last = exc.detail
            continue
        except errors.TrustsvcError as exc:
            b.add("signature_value", False, f"the signer key cannot be used: {exc.detail}")
            return
        b.warnings.extend(f"document signature: {r}" for r in repairs)
        if note:
            b.warnings.append(note)
        b.add("signature_value", True)
        return
    b.add("signature_value", False, last)


# ==========================================================================================================
# Time-stamp tokens
# ==========================================================================================================


def _check_timestamp(b: _Builder, token: bytes, signature_value: bytes) -> None:
    """The token's message imprint must be the digest of the signature value (spec §3.2 ``timeStamp``). The
    token's own signature and the TSA's chain are the engine's to check, with the certificates given."""
    b.values["timestamp_token"] = token
    try:
        info = cms.ContentInfo.load(token, strict=True)
        signed_data = info["content"]
        encap = signed_data["encap_content_info"]
        if encap["content_type"].native != "tst_info":
            raise ValueError("the token does not hold a TSTInfo")
        tst = encap["content"].parsed
        if not isinstance(tst, tsp.TSTInfo):
            tst = tsp.TSTInfo.load(bytes(encap["content"].native))
        imprint = tst["message_imprint"]
        algorithm = imprint["hash_algorithm"]["algorithm"].native
        hashed = bytes(imprint["hashed_message"].native)
        b.values["timestamp_time"] = tst["gen_time"].native
        for cert in signed_data["certificates"] or ():
            if cert.name == "certificate":
                b.cert(bytes(cert.chosen.dump()))
    except _ASN1_ERRORS as exc:
        b.add("timestamp", False, f"the time-stamp token cannot be read: {exc}")
        return
    digest = _cms_digest(algorithm)
    if digest is None and algorithm == "sha1":
        b.warnings.append("the time-stamp imprint uses SHA-1")
        digest = _sha1
    if digest is None:
        b.add("timestamp", False, f"time-stamp imprint algorithm {str(algorithm)[:40]} is not supported")
        return
    ok = hmac.compare_digest(digest(signature_value), hashed)
    b.add(
        "timestamp",
        ok,
        "the token stamps the signature value"
        if ok
        else "the token stamps other data than the signature value",
    )
