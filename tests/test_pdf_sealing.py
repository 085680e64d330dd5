"""PDF sealing (trustsvc.pdf.sealing, trustsvc.pdf.signer): signatures pyHanko validates, levels B-B/B-T/B-LT,
the SM2 SignedData layout, the seal attribute, incremental seals, where the picture lands, typed refusals.

Everything runs on a throw-away PKI per algorithm (root → issuing CA → seal maker, seal signer, delegated OCSP
responder, TSA; :func:`tests.pki.issue`), a GB/T 38540 seal made by the maker for the signer, and
small PDFs written here with pyHanko's writer. tests/interop/test_pdf_interop.py re-checks the output with
pdfsig, pdftoppm and the openssl CLI.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import importlib.util
import io
import itertools
import shutil
import subprocess
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import cms, crl, ocsp, x509
from cryptography.hazmat.primitives.asymmetric import rsa
from PIL import Image
from pyhanko.pdf_utils import generic, writer
from pyhanko.pdf_utils.generic import pdf_name
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import DocumentSecurityStore
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature, async_validate_pdf_signature
from pyhanko.sign.validation.status import PdfSignatureStatus, SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.errors import CRLFetchError, OCSPFetchError
from pyhanko_certvalidator.fetchers import (
    CertificateFetcher,
    CRLFetcher,
    FetcherBackend,
    Fetchers,
    OCSPFetcher,
)

from tests.pki import BASE, NOW, Issued, issue
from trustsvc.ca.ocsp import CertStatus, OcspResponder
from trustsvc.ca.profiles import ProfileKind
from trustsvc.ca.tsa import TimeStampAuthority, parse_timestamp_request
from trustsvc.ca.x509 import build_crl
from trustsvc.errors import (
    ConfigurationError,
    InvalidInput,
    MalformedInput,
    PayloadTooLarge,
    UpstreamUnavailable,
)
from trustsvc.keys.algorithms import KeyAlgorithm, SignatureAlgorithm
from trustsvc.keys.signer import software_signer, verify
from trustsvc.pdf import (
    PT_PER_MM,
    SEAL_ATTRIBUTE_OID,
    SM2_SIGN_OID,
    CallableTimeStamper,
    Placement,
    ValidationData,
    find_keyword,
    page_count,
    placement_for_keyword,
    seal_from_signer_info,
    seal_pdf,
    sm2_validation_context,
)
from trustsvc.seal import ses
from trustsvc.seal.picture import SEAL_RED, SealPictureSpec, render_seal

TSA_POLICY = "1.3.6.1.4.1.32473.1.2"
ES_ID = "33010000000012345"
ALGORITHMS = [KeyAlgorithm.SM2, KeyAlgorithm.ECDSA_P256]
A4 = (0, 0, 595, 842)
BODY_TEXT = b"licence text"


# --- test documents ------------------------------------------------------------------------------


def _name(text: str) -> generic.NameObject:
    return pdf_name(text)


def _cjk_font(w: writer.BasePdfFileWriter, chars: str) -> generic.IndirectObject:
    """A Type0 font (Identity-H, CID n = the n-th of ``chars``) with a ToUnicode map and no embedded
    program: enough for text extraction, which is all the keyword tests need."""
    entries = "\n".join(f"<{i:04X}> <{ord(c):04X}>" for i, c in enumerate(chars, start=1))
    to_unicode = (
        "/CIDInit /ProcSet findresource begin 12 dict begin begincmap\n"
        "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"
        "/CMapName /Adobe-Identity-UCS def /CMapType 2 def\n"
        "1 begincodespacerange <0000> <FFFF> endcodespacerange\n"
        f"{len(chars)} beginbfchar\n{entries}\nendbfchar\n"
        "endcmap CMapName currentdict /CMap defineresource pop end end\n"
    ).encode()
    descendant = generic.DictionaryObject(
        {
            _name("/Type"): _name("/Font"),
            _name("/Subtype"): _name("/CIDFontType2"),
            _name("/BaseFont"): _name("/NotoSerifSC"),
            _name("/CIDSystemInfo"): generic.DictionaryObject(
                {
                    _name("/Registry"): generic.TextStringObject("Adobe"),
                    _name("/Ordering"): generic.TextStringObject("Identity"),
                    _name("/Supplement"): generic.NumberObject(0),
                }
            ),
            _name("/DW"): generic.NumberObject(1000),
        }
    )
    return w.add_object(
        generic.DictionaryObject(
            {
                _name("/Type"): _name("/Font"),
                _name("/Subtype"): _name("/Type0"),
                _name("/BaseFont"): _name("/NotoSerifSC"),
                _name("/Encoding"): _name("/Identity-H"),
                _name("/DescendantFonts"): generic.ArrayObject([w.add_object(descendant)]),
                _name("/ToUnicode"): w.add_object(generic.StreamObject(stream_data=to_unicode)),
            }
        )
    )


def cjk_show(chars: str, text: str) -> bytes:
    """The hex string of ``text`` in the font :func:`_cjk_font` made for ``chars``."""
    return b"<" + "".join(f"{chars.index(c) + 1:04X}" for c in text).encode() + b">"


CJK_CHARS = "某市监督管理局盖章处（） "


def make_pdf(
    pages: int = 1,
    *,
    media_box: tuple[float, float, float, float] = A4,
    crop_box: tuple[float, float, float, float] | None = None,
    rotate: int = 0,
    extra: Callable[[int], bytes] = lambda page: b"",
) -> bytes:
    """Return a PDF of ``pages`` pages, each with ``licence text`` (Helvetica) and ``page N`` near the top."""
    w = writer.PdfFileWriter()
    helvetica = w.add_object(
        generic.DictionaryObject(
            {
                _name("/Type"): _name("/Font"),
                _name("/Subtype"): _name("/Type1"),
                _name("/BaseFont"): _name("/Helvetica"),
            }
        )
    )
    fonts = generic.DictionaryObject({_name("/F1"): helvetica, _name("/F2"): _cjk_font(w, CJK_CHARS)})
    for number in range(1, pages + 1):
        content = (
            b"BT /F1 12 Tf 72 720 Td (" + BODY_TEXT + b") Tj ET\n"
            b"BT /F1 10 Tf 72 760 Td (page %d) Tj ET\n" % number
        ) + extra(number)
        page = writer.PageObject(
            contents=w.add_object(generic.StreamObject(stream_data=content)),
            media_box=media_box,
            resources=generic.DictionaryObject({_name("/Font"): fonts}),
        )
        if crop_box is not None:
            page[_name("/CropBox")] = generic.ArrayObject([generic.FloatObject(v) for v in crop_box])
        if rotate:
            page[_name("/Rotate")] = generic.NumberObject(rotate)
        w.insert_page(page)
    out = io.BytesIO()
    w.write(out)
    return out.getvalue()


def encrypted_pdf() -> bytes:
    w = writer.PdfFileWriter()
    w.insert_page(
        writer.PageObject(contents=w.add_object(generic.StreamObject(stream_data=b"BT ET")), media_box=A4)
    )
    w.encrypt("owner-secret", "")
    out = io.BytesIO()
    w.write(out)
    return out.getvalue()


# --- a throw-away PKI with a seal, an OCSP responder and a TSA -----------------------------------


@functools.cache
def seal_picture() -> bytes:
    spec = SealPictureSpec(name="某市市场监督管理局", seal_name="行政审批专用章")
    return render_seal(spec, dpi=300)


@dataclass
class Pki:
    algorithm: KeyAlgorithm
    root: Issued
    issuing: Issued
    maker: Issued
    signer: Issued
    responder: Issued
    tsa: Issued
    seal: bytes
    _serials: Any = None

    @property
    def chain(self) -> list[x509.Certificate]:
        return [self.issuing.certificate, self.root.certificate]

    @property
    def authority(self) -> TimeStampAuthority:
        return TimeStampAuthority(
            self.tsa.certificate,
            self.tsa.signer,
            policy_oid=TSA_POLICY,
            accuracy=timedelta(seconds=1),
            chain=[self.issuing.certificate],
        )

    def timestamper(self) -> CallableTimeStamper:
        authority = self.authority
        serials = itertools.count(1)

        def stamp(request: bytes) -> bytes:
            return authority.stamp(
                parse_timestamp_request(request), serial=next(serials), now=datetime.now(UTC)
            )

        return CallableTimeStamper(stamp)

    def ocsp_for(self, *certs: x509.Certificate) -> list[bytes]:
        responder = OcspResponder(self.responder.certificate, self.responder.signer, self.issuing.certificate)
        now = datetime.now(UTC)
        return [
            responder.sign_response(
                [(responder.cert_id(c.serial_number), CertStatus.good())],
                now=now - timedelta(minutes=1),
                next_update=now + timedelta(days=1),
            )
            for c in certs
        ]

    def root_crls(self) -> list[crl.CertificateList]:
        """The root's complete CRL and its (empty) delta: complete CRLs announce the delta (freshestCRL)."""
        now = datetime.now(UTC)
        return [
            build_crl(
                self.root.certificate,
                self.root.signer,
                [],
                number,
                now - timedelta(minutes=1),
                now + timedelta(days=1),
                delta_base=delta_base,
                base_url=BASE,
                ca_name="root",
            )
            for number, delta_base in ((1, None), (2, 1))
        ]

    def validation_data(self) -> ValidationData:
        """OCSP for the seal signer and the TSA, the root's CRL for the issuing CA: all a B-LT seal needs."""
        return ValidationData(
            ocsps=self.ocsp_for(self.signer.certificate, self.tsa.certificate),
            crls=[c.dump() for c in self.root_crls()],
        )

    def context(self, **kwargs: Any) -> ValidationContext:
        """A validation context trusting only our root; no fetching; soft-fail unless told otherwise."""
        kwargs.setdefault("revocation_mode", "soft-fail")
        return sm2_validation_context(trust_roots=[self.root.certificate], **kwargs)


def seal_info(pki_signer: Issued, **changes: Any) -> ses.SealInfoFields:
    fields = ses.SealInfoFields(
        vendor_id="trustsvc-test",
        es_id=ES_ID,
        seal_type=1,
        name="行政审批专用章",
        signer_certs=(bytes(pki_signer.certificate.dump()),),
        create_date=NOW,
        valid_start=NOW,
        valid_end=NOW + timedelta(days=2 * 365),
        picture=ses.SealPicture("PNG", seal_picture(), 42, 42),
    )
    return dataclasses.replace(fields, **changes)


def make_pki(algorithm: KeyAlgorithm) -> Pki:
    root = issue(ProfileKind.ROOT, None, algorithm)
    issuing = issue(ProfileKind.ISSUING_CA, root, algorithm)
    maker = issue(ProfileKind.SEAL_MAKER, issuing, algorithm)
    signer = issue(ProfileKind.SEAL_SIGNER, issuing, algorithm)
    seal = ses.make_seal(seal_info(signer), bytes(maker.certificate.dump()), maker.signer)
    return Pki(
        algorithm,
        root,
        issuing,
        maker,
        signer,
        issue(ProfileKind.OCSP_RESPONDER, issuing, algorithm),
        issue(ProfileKind.TSA, issuing, algorithm),
        seal,
    )


_PKIS: dict[KeyAlgorithm, Pki] = {}


@pytest.fixture(params=ALGORITHMS, ids=lambda a: a.value)
def pki(request: pytest.FixtureRequest) -> Pki:
    """One PKI per algorithm for the whole run: it is immutable, and building it is not free."""
    algorithm = KeyAlgorithm(request.param)
    if algorithm not in _PKIS:
        _PKIS[algorithm] = make_pki(algorithm)
    return _PKIS[algorithm]


@pytest.fixture
def sm2_pki() -> Pki:
    if KeyAlgorithm.SM2 not in _PKIS:
        _PKIS[KeyAlgorithm.SM2] = make_pki(KeyAlgorithm.SM2)
    return _PKIS[KeyAlgorithm.SM2]


PLACEMENT = Placement(page=1, x_mm=20, y_mm=30, width_mm=42, height_mm=42)


def seal(pki: Pki, pdf: bytes | None = None, **kwargs: Any) -> bytes:
    """Seal ``pdf`` (default: a fresh 1-page PDF) with ``pki``'s signer under its seal."""
    options: dict[str, Any] = {
        "signer": pki.signer.signer,
        "signer_cert": pki.signer.certificate,
        "chain": pki.chain,
        "seal_der": pki.seal,
        "picture_png": seal_picture(),
        "placement": PLACEMENT,
    }
    options.update(kwargs)
    return seal_pdf(make_pdf() if pdf is None else pdf, **options)


def embedded(data: bytes, index: int = 0) -> EmbeddedPdfSignature:
    return PdfFileReader(io.BytesIO(data)).embedded_signatures[index]


def validate(data: bytes, context: ValidationContext, index: int = 0) -> PdfSignatureStatus:
    return asyncio.run(async_validate_pdf_signature(embedded(data, index), signer_validation_context=context))


def signed_attr(signer_info: cms.SignerInfo, name: str) -> Any:
    values = [a["values"] for a in signer_info["signed_attrs"] if a["type"].native == name]
    assert len(values) == 1, f"{name} occurs {len(values)} times"
    return values[0]


# --- signatures that validate --------------------------------------------------------------------


def test_sealed_pdf_validates_intact_valid_and_trusted(pki: Pki) -> None:
    data = seal(pki, reason="同意", location="某市", contact="0571-00000000")
    status = validate(data, pki.context())
    assert (status.intact, status.valid, status.trusted, status.bottom_line) == (True, True, True, True)
    assert status.coverage is SignatureCoverageLevel.ENTIRE_FILE
    assert status.signing_cert.dump() == pki.signer.certificate.dump()
    sig = embedded(data)
    assert sig.sig_object["/Reason"] == "同意"
    assert sig.sig_object["/Location"] == "某市"
    assert sig.field_name == "Seal1"


def test_subfilter_digest_and_mechanism_follow_the_algorithm(pki: Pki) -> None:
    data = seal(pki)
    status = validate(data, pki.context())
    sig = embedded(data)
    if pki.algorithm is KeyAlgorithm.SM2:
        assert sig.sig_object["/SubFilter"] == "/adbe.pkcs7.detached"
        assert (status.md_algorithm, status.pkcs7_signature_mechanism) == ("sm3", "sm2_sign")
        assert sig.signer_info["signature_algorithm"]["algorithm"].dotted == SM2_SIGN_OID
    else:
        assert sig.sig_object["/SubFilter"] == "/ETSI.CAdES.detached"
        assert (status.md_algorithm, status.pkcs7_signature_mechanism) == ("sha256", "sha256_ecdsa")


@pytest.mark.parametrize(
    "algorithm", [SignatureAlgorithm.RSA_PKCS1_SHA256, SignatureAlgorithm.RSA_PSS_SHA256]
)
def test_rsa_seals_validate(algorithm: SignatureAlgorithm) -> None:
    if KeyAlgorithm.RSA_3072 not in _PKIS:
        _PKIS[KeyAlgorithm.RSA_3072] = make_pki(KeyAlgorithm.RSA_3072)
    pki = _PKIS[KeyAlgorithm.RSA_3072]
    key = rsa.generate_private_key(65537, 2048)
    leaf = issue(
        ProfileKind.SEAL_SIGNER,
        pki.issuing,
        KeyAlgorithm.RSA_3072,
        subject_signer=software_signer(key, algorithm),
    )
    seal_der = ses.make_seal(seal_info(leaf), bytes(pki.maker.certificate.dump()), pki.maker.signer)
    data = seal(pki, signer=leaf.signer, signer_cert=leaf.certificate, seal_der=seal_der)
    status = validate(data, pki.context())
    assert status.bottom_line
    assert embedded(data).sig_object["/SubFilter"] == "/ETSI.CAdES.detached"
    expected = "rsassa_pss" if algorithm is SignatureAlgorithm.RSA_PSS_SHA256 else "sha256_rsa"
    assert status.pkcs7_signature_mechanism == expected


def test_sm2_signed_data_has_the_gbt35275_attributes(sm2_pki: Pki) -> None:
    sig = embedded(seal(sm2_pki))
    signer_info = sig.signer_info
    assert signer_info["digest_algorithm"]["algorithm"].dotted == "1.2.156.10197.1.401"
    assert signed_attr(signer_info, "content_type")[0].native == "data"
    assert len(signed_attr(signer_info, "message_digest")[0].native) == 32
    signing_time = signed_attr(signer_info, "signing_time")[0].native
    assert abs(signing_time - datetime.now(UTC)) < timedelta(minutes=5)
    # The signature is SM2 (default user ID) over the DER SET OF the signed attributes.
    attrs_der = cms.CMSAttributes.load(signer_info["signed_attrs"].untag().dump()).dump()
    assert attrs_der[0] == 0x31
    verify(
        sm2_pki.signer.certificate.public_key,
        SignatureAlgorithm.SM2_SM3,
        attrs_der,
        signer_info["signature"].native,
    )


def test_seal_attribute_carries_the_seal_and_binds_the_signer(pki: Pki) -> None:
    sig = embedded(seal(pki))
    carried = seal_from_signer_info(sig.signer_info)
    assert carried == pki.seal
    assert any(a["type"].dotted == SEAL_ATTRIBUTE_OID for a in sig.signer_info["signed_attrs"])
    parsed = ses.parse_seal(carried, lenient=False)
    ses.verify_seal(parsed)
    assert parsed.es_id == ES_ID
    assert ses.signer_is_listed(parsed, bytes(sig.signer_cert.dump()))


def test_without_a_seal_there_is_no_seal_attribute(pki: Pki) -> None:
    data = seal(pki, seal_der=None)
    assert seal_from_signer_info(embedded(data).signer_info) is None
    assert validate(data, pki.context()).bottom_line


def test_changed_byte_in_the_signed_range_breaks_integrity(pki: Pki) -> None:
    data = bytearray(seal(pki))
    data[data.index(BODY_TEXT)] ^= 0x01
    status = validate(bytes(data), pki.context())
    assert not status.intact
    assert not status.bottom_line


def test_untrusted_root_is_reported_untrusted(pki: Pki) -> None:
    stranger = issue(ProfileKind.ROOT, None, pki.algorithm)
    status = validate(
        seal(pki), sm2_validation_context(trust_roots=[stranger.certificate], revocation_mode="soft-fail")
    )
    assert status.intact and status.valid
    assert not status.trusted


# --- levels --------------------------------------------------------------------------------------


def test_b_t_carries_a_time_stamp_that_validates(pki: Pki) -> None:
    data = seal(pki, level="B-T", timestamper=pki.timestamper())
    status = validate(data, pki.context())
    assert status.bottom_line
    tst = status.timestamp_validity
    assert tst is not None
    assert (tst.intact, tst.valid, tst.trusted) == (True, True, True)
    assert abs(tst.timestamp - datetime.now(UTC)) < timedelta(minutes=5)
    unsigned = [a["type"].native for a in embedded(data).signer_info["unsigned_attrs"]]
    assert unsigned == ["signature_time_stamp_token"]


def embedded_revocation_data(data: bytes, algorithm: KeyAlgorithm) -> tuple[list[Any], list[Any]]:
    """Return (OCSP responses, CRLs) the document carries: the DSS (PAdES) or adbe-revocationInfoArchival."""
    if algorithm is KeyAlgorithm.SM2:
        archival = signed_attr(embedded(data).signer_info, "adobe_revocation_info_archival")[0]
        return list(archival["ocsp"]), list(archival["crl"])
    dss = DocumentSecurityStore.read_dss(PdfFileReader(io.BytesIO(data)))
    return [ref.get_object().data for ref in dss.ocsps], [ref.get_object().data for ref in dss.crls]


def test_b_lt_embeds_the_revocation_data_validators_need(pki: Pki) -> None:
    data = seal(pki, level="B-LT", timestamper=pki.timestamper(), validation_info=pki.validation_data())
    ocsps, crls = embedded_revocation_data(data, pki.algorithm)
    assert len(ocsps) >= 2 and len(crls) >= 1
    # No fetching, hard-fail: the signer's and the TSA's certificates pass only with the embedded data ...
    strict = pki.context(revocation_mode="hard-fail", ocsps=ocsps, crls=crls)
    status = validate(data, strict)
    assert (status.intact, status.valid, status.trusted, status.bottom_line) == (True, True, True, True)
    assert status.timestamp_validity is not None and status.timestamp_validity.trusted
    # ... and fail without it.
    bare = validate(data, pki.context(revocation_mode="hard-fail"))
    assert bare.intact and bare.valid and not bare.trusted
    # B-LT is still one revision: the seal covers the whole file.
    assert status.coverage is SignatureCoverageLevel.ENTIRE_FILE


def test_two_b_lt_seals_share_the_embedded_data_and_both_validate(pki: Pki) -> None:
    options: dict[str, Any] = {"level": "B-LT", "validation_info": pki.validation_data()}
    first = seal(pki, timestamper=pki.timestamper(), **options)
    both = seal(
        pki, first, timestamper=pki.timestamper(), placement=Placement(1, 100, 200, 42, 42), **options
    )
    ocsps, crls = embedded_revocation_data(both, pki.algorithm)
    strict = pki.context(revocation_mode="hard-fail", ocsps=ocsps, crls=crls)
    one, two = validate(both, strict, 0), validate(both, strict, 1)
    assert one.bottom_line and two.bottom_line
    assert (one.coverage, two.coverage) == (
        SignatureCoverageLevel.ENTIRE_REVISION,
        SignatureCoverageLevel.ENTIRE_FILE,
    )


class InProcessFetchers(FetcherBackend):
    """A fetcher backend that answers from the test PKI instead of the network: OCSP from the issuing CA's
    responder, CRLs from the root. Records what it handed out, as pyHanko's HTTP fetchers do."""

    def __init__(self, pki: Pki) -> None:
        self.pki = pki
        self.ocsp_fetcher = _Ocsp(pki)
        self.crl_fetcher = _Crls(pki)

    def get_fetchers(self) -> Fetchers:
        return Fetchers(self.ocsp_fetcher, self.crl_fetcher, _NoCertificates())


class _Ocsp(OCSPFetcher):
    def __init__(self, pki: Pki) -> None:
        self.pki = pki
        self.fetched: dict[Any, ocsp.OCSPResponse] = {}

    async def fetch(self, cert: Any, authority: Any) -> ocsp.OCSPResponse:
        if cert.issuer.dump() != self.pki.issuing.certificate.subject.dump():
            raise OCSPFetchError("no responder for that issuer")
        response = ocsp.OCSPResponse.load(self.pki.ocsp_for(cert)[0])
        self.fetched[cert.issuer_serial] = response
        return response

    def fetched_responses(self) -> list[ocsp.OCSPResponse]:
        return list(self.fetched.values())

    def fetched_responses_for_cert(self, cert: Any) -> list[ocsp.OCSPResponse]:
        found = self.fetched.get(cert.issuer_serial)
        return [] if found is None else [found]


class _Crls(CRLFetcher):
    def __init__(self, pki: Pki) -> None:
        self.pki = pki
        self.fetched: dict[Any, list[crl.CertificateList]] = {}

    async def fetch(self, cert: Any, *, use_deltas: Any = None) -> list[crl.CertificateList]:
        if cert.issuer.dump() != self.pki.root.certificate.subject.dump():
            raise CRLFetchError("no CRL served for that issuer")
        crls = self.pki.root_crls()
        self.fetched[cert.issuer_serial] = crls
        return crls

    def fetched_crls(self) -> list[crl.CertificateList]:
        return [c for crls in self.fetched.values() for c in crls]

    def fetched_crls_for_cert(self, cert: Any) -> list[crl.CertificateList]:
        return self.fetched[cert.issuer_serial]


class _NoCertificates(CertificateFetcher):
    async def fetch_cert_issuers(self, cert: Any) -> AsyncIterator[x509.Certificate]:
        return
        yield

    async def fetch_crl_issuers(self, certificate_list: Any) -> AsyncIterator[x509.Certificate]:
        return
        yield

    def fetched_certs(self) -> list[x509.Certificate]:
        return []


def test_b_lt_with_a_fetcher_embeds_what_was_fetched(pki: Pki) -> None:
    backend = InProcessFetchers(pki)
    info = ValidationData(fetcher_backend=backend)
    data = seal(pki, level="B-LT", timestamper=pki.timestamper(), validation_info=info)
    assert len(backend.ocsp_fetcher.fetched) == 2  # the seal signer and the TSA
    ocsps, crls = embedded_revocation_data(data, pki.algorithm)
    status = validate(data, pki.context(revocation_mode="hard-fail", ocsps=ocsps, crls=crls))
    assert status.bottom_line and status.timestamp_validity is not None and status.timestamp_validity.trusted


def test_b_lt_with_incomplete_revocation_data_is_refused(pki: Pki) -> None:
    incomplete = ValidationData(ocsps=pki.ocsp_for(pki.signer.certificate))  # nothing for the issuing CA
    with pytest.raises(InvalidInput, match="validated"):
        seal(pki, level="B-LT", timestamper=pki.timestamper(), validation_info=incomplete)


@pytest.mark.parametrize(
    ("level", "with_tsa", "with_data"),
    [
        ("B-B", True, False),
        ("B-B", False, True),
        ("B-T", False, False),
        ("B-T", True, True),
        ("B-LT", True, False),
        ("B-LT", False, True),
        ("B-LTA", False, False),
    ],
)
def test_level_needs_exactly_its_ingredients(
    sm2_pki: Pki, level: str, with_tsa: bool, with_data: bool
) -> None:
    with pytest.raises(InvalidInput):
        seal(
            sm2_pki,
            level=level,
            timestamper=sm2_pki.timestamper() if with_tsa else None,
            validation_info=ValidationData() if with_data else None,
        )


def test_failing_time_stamp_authority_is_reported_unavailable(sm2_pki: Pki) -> None:
    def down(request: bytes) -> bytes:
        raise ConnectionError("connection refused")

    with pytest.raises(UpstreamUnavailable, match="time-stamp authority"):
        seal(sm2_pki, level="B-T", timestamper=down)


# --- several seals -------------------------------------------------------------------------------


def test_second_seal_keeps_the_first_valid(pki: Pki) -> None:
    first = seal(pki, make_pdf(3))
    both = seal(pki, first, placement=Placement(3, 100, 200, 42, 42))
    assert both.startswith(first)  # an incremental update: the first revision is untouched
    reader = PdfFileReader(io.BytesIO(both))
    assert [s.field_name for s in reader.embedded_signatures] == ["Seal1", "Seal2"]
    one, two = validate(both, pki.context(), 0), validate(both, pki.context(), 1)
    assert one.bottom_line and two.bottom_line
    assert one.coverage is SignatureCoverageLevel.ENTIRE_REVISION
    assert two.coverage is SignatureCoverageLevel.ENTIRE_FILE


def test_field_name_is_ours_to_choose_but_not_twice(sm2_pki: Pki) -> None:
    data = seal(sm2_pki, field_name="某局公章")
    assert embedded(data).field_name == "某局公章"
    with pytest.raises(InvalidInput, match="already has a signature field"):
        seal(sm2_pki, data, field_name="某局公章")
    with pytest.raises(InvalidInput, match="field_name"):
        seal(sm2_pki, field_name="a.b")


# --- placement -----------------------------------------------------------------------------------


def widget_rect(data: bytes, index: int = 0) -> list[float]:
    field = embedded(data, index).sig_field
    return [float(v) for v in field["/Rect"]]


def test_box_is_converted_from_mm_below_the_top_to_pdf_points(sm2_pki: Pki) -> None:
    data = seal(sm2_pki, placement=Placement(1, 20, 30, 42, 40))
    x0, y0, x1, y1 = widget_rect(data)
    assert x0 == pytest.approx(20 * PT_PER_MM, abs=0.01)
    assert x1 == pytest.approx(62 * PT_PER_MM, abs=0.01)
    assert y1 == pytest.approx(842 - 30 * PT_PER_MM, abs=0.01)
    assert y0 == pytest.approx(842 - 70 * PT_PER_MM, abs=0.01)


def test_box_follows_the_crop_box_and_an_offset_media_box(sm2_pki: Pki) -> None:
    pdf = make_pdf(media_box=(-100, -50, 495, 792), crop_box=(0, 0, 400, 700))
    x0, _, _, y1 = widget_rect(seal(sm2_pki, pdf, placement=Placement(1, 10, 10, 20, 20)))
    assert x0 == pytest.approx(10 * PT_PER_MM, abs=0.01)
    assert y1 == pytest.approx(700 - 10 * PT_PER_MM, abs=0.01)


@pytest.mark.parametrize("rotate", [90, 180, 270])
def test_rotated_page_gets_the_box_where_it_is_displayed(sm2_pki: Pki, rotate: int) -> None:
    # Displayed, a page turned by 90/270 is 842 pt wide and 595 pt high.
    pdf = make_pdf(rotate=rotate)
    data = seal(sm2_pki, pdf, placement=Placement(1, 10, 20, 30, 40))
    x0, y0, x1, y1 = widget_rect(data)
    u, v, w, h = 10 * PT_PER_MM, 20 * PT_PER_MM, 30 * PT_PER_MM, 40 * PT_PER_MM
    expected = {
        90: (v, u, v + h, u + w),
        180: (595 - u - w, v, 595 - u, v + h),
        270: (595 - v - h, 842 - u - w, 595 - v, 842 - u),
    }[rotate]
    assert (x0, y0, x1, y1) == pytest.approx(expected, abs=0.01)


def test_placement_values_are_checked() -> None:
    for bad in [
        dict(page=0, x_mm=0, y_mm=0, width_mm=1, height_mm=1),
        dict(page=1, x_mm=-1, y_mm=0, width_mm=1, height_mm=1),
        dict(page=1, x_mm=0, y_mm=0, width_mm=0, height_mm=1),
        dict(page=1, x_mm=float("nan"), y_mm=0, width_mm=1, height_mm=1),
        dict(page=True, x_mm=0, y_mm=0, width_mm=1, height_mm=1),
    ]:
        with pytest.raises(InvalidInput):
            Placement(**bad)  # type: ignore[arg-type]


def test_picture_keeps_its_alpha_channel_as_a_soft_mask(sm2_pki: Pki) -> None:
    data = seal(sm2_pki)
    annot = embedded(data).sig_field
    appearance = annot["/AP"]["/N"]
    images = [obj for obj in _walk_xobjects(appearance) if obj.get("/Subtype") == "/Image"]
    assert images, "no image in the seal appearance"
    assert all("/SMask" in image for image in images)


def _walk_xobjects(stream: Any) -> list[Any]:
    found = []
    xobjects = stream.get("/Resources", {}).get("/XObject", {})
    for ref in xobjects.values():
        obj = ref.get_object()
        found.append(obj)
        if obj.get("/Subtype") == "/Form":
            found.extend(_walk_xobjects(obj))
    return found


# --- keyword placement ---------------------------------------------------------------------------

needs_pdfminer = pytest.mark.skipif(
    importlib.util.find_spec("pdfminer") is None,
    reason="pdfminer.six is not installed (keyword placement needs it as a dependency)",
)


def cjk_page(number: int) -> bytes:
    if number != 2:
        return b""
    return b"BT /F2 14 Tf 100 500 Td " + cjk_show(CJK_CHARS, "某市监督管理局（盖 章 处）") + b" Tj ET\n"


@needs_pdfminer
def test_find_keyword_locates_chinese_text_by_its_glyph_boxes() -> None:
    pdf = make_pdf(3, extra=cjk_page)
    hit = find_keyword(pdf, "盖章处")
    # "某市监督管理局（" is 8 characters of 14 pt before it at x = 100; baseline 500, no descent: y 500..514
    assert hit.page == 2
    assert hit.x_mm == pytest.approx((100 + 8 * 14) / PT_PER_MM, abs=0.05)
    assert hit.width_mm == pytest.approx(5 * 14 / PT_PER_MM, abs=0.05)  # 盖 章 处: the spaces are inside
    assert hit.y_mm == pytest.approx((842 - 514) / PT_PER_MM, abs=0.05)
    assert hit.height_mm == pytest.approx(14 / PT_PER_MM, abs=0.05)


@needs_pdfminer
def test_find_keyword_counts_occurrences_and_ignores_spaces() -> None:
    pdf = make_pdf(3)
    assert [find_keyword(pdf, "page", occurrence=n).page for n in (1, 2, 3)] == [1, 2, 3]
    assert find_keyword(pdf, "licence  text").page == 1
    with pytest.raises(InvalidInput, match="does not occur 4 times"):
        find_keyword(pdf, "page", occurrence=4)
    with pytest.raises(InvalidInput, match="does not occur"):
        find_keyword(pdf, "盖章处")


@needs_pdfminer
@pytest.mark.parametrize("rotate", [0, 90, 180, 270])
def test_keyword_box_and_placement_agree_on_rotated_pages(sm2_pki: Pki, rotate: int) -> None:
    pdf = make_pdf(rotate=rotate)
    hit = find_keyword(pdf, "licence text")
    data = seal(sm2_pki, pdf, placement=Placement(1, hit.x_mm, hit.y_mm, hit.width_mm, hit.height_mm))
    x0, y0, x1, y1 = widget_rect(data)
    # Helvetica "licence text" at 12 pt starts at (72, 720) in user space, whatever the rotation.
    assert x0 == pytest.approx(72, abs=0.5)
    assert y0 == pytest.approx(720 - 0.207 * 12, abs=0.5)  # Helvetica's descent is 207/1000 em
    # its advance width, "licence text": 222+222+500+556+556+500+556+278+278+556+500+278 = 5002/1000 em
    assert x1 - x0 == pytest.approx(5.002 * 12, abs=0.05)
    assert y1 > 720


@needs_pdfminer
def test_placement_for_keyword_centres_the_seal_and_keeps_it_on_the_page() -> None:
    pdf = make_pdf(3, extra=cjk_page)
    hit = find_keyword(pdf, "盖章处")
    placement = placement_for_keyword(pdf, "盖章处", width_mm=42, height_mm=42)
    assert placement.page == 2
    assert placement.x_mm + 21 == pytest.approx(hit.x_mm + hit.width_mm / 2)
    assert placement.y_mm + 21 == pytest.approx(hit.y_mm + hit.height_mm / 2)
    # "page 1" is centred about 80 pt (28 mm) below the top: a centred 80 mm seal would stick out by 12 mm
    near_top = placement_for_keyword(pdf, "page", width_mm=80, height_mm=80)
    assert (near_top.page, near_top.y_mm) == (1, 0)


def test_keyword_search_without_pdfminer_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real_import = builtins.__import__

    def no_pdfminer(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.startswith("pdfminer"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pdfminer)
    with pytest.raises(ConfigurationError, match="pdfminer"):
        find_keyword(make_pdf(), "licence")


# --- refusals ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"hello, world",
        b"%PDF-1.7\n",
        b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF",
    ],
    ids=["empty", "text", "header-only", "no-xref"],
)
def test_not_a_pdf_is_malformed_input(sm2_pki: Pki, data: bytes) -> None:
    with pytest.raises(MalformedInput):
        seal(sm2_pki, data)


def test_truncated_pdf_is_malformed_input(sm2_pki: Pki) -> None:
    pdf = make_pdf()
    with pytest.raises(MalformedInput):
        seal(sm2_pki, pdf[: len(pdf) // 2])


def test_encrypted_pdf_is_refused(sm2_pki: Pki) -> None:
    with pytest.raises(InvalidInput, match="encrypted PDFs cannot be sealed; decrypt first"):
        seal(sm2_pki, encrypted_pdf())
    with pytest.raises(InvalidInput, match="encrypted"):
        find_keyword(encrypted_pdf(), "x")


def test_page_out_of_range_names_the_page_count(sm2_pki: Pki) -> None:
    with pytest.raises(InvalidInput, match="page 4 does not exist: the document has 3 pages"):
        seal(sm2_pki, make_pdf(3), placement=Placement(4, 10, 10, 20, 20))
    with pytest.raises(InvalidInput, match=r"has 1 page$"):
        seal(sm2_pki, placement=Placement(2, 10, 10, 20, 20))
    assert page_count(make_pdf(3)) == 3


@pytest.mark.parametrize(
    "placement",
    [Placement(1, 180, 10, 42, 42), Placement(1, 10, 270, 42, 42), Placement(1, 0, 0, 300, 10)],
    ids=["right", "bottom", "too-wide"],
)
def test_box_off_the_page_is_refused(sm2_pki: Pki, placement: Placement) -> None:
    with pytest.raises(InvalidInput, match="does not fit the page"):
        seal(sm2_pki, placement=placement)


def test_box_filling_the_whole_page_is_accepted(sm2_pki: Pki) -> None:
    seal(sm2_pki, placement=Placement(1, 0, 0, 210, 297))  # A4 in mm is 595.28 x 841.89 pt


def test_oversized_pdf_is_payload_too_large(sm2_pki: Pki) -> None:
    with pytest.raises(PayloadTooLarge):
        seal(sm2_pki, max_size=1000)
    with pytest.raises(PayloadTooLarge):
        find_keyword(make_pdf(), "licence", max_size=1000)


def test_seal_that_does_not_list_the_signer_is_refused(sm2_pki: Pki) -> None:
    other = issue(ProfileKind.SEAL_SIGNER, sm2_pki.issuing, KeyAlgorithm.SM2)
    with pytest.raises(InvalidInput, match="not listed in the seal"):
        seal(sm2_pki, signer=other.signer, signer_cert=other.certificate)


def test_expired_seal_is_refused(sm2_pki: Pki) -> None:
    fields = seal_info(sm2_pki.signer, valid_end=NOW + timedelta(days=1))
    old = ses.make_seal(fields, bytes(sm2_pki.maker.certificate.dump()), sm2_pki.maker.signer)
    with pytest.raises(InvalidInput, match="not now"):
        seal(sm2_pki, seal_der=old)


def test_seal_with_a_broken_maker_signature_is_refused(sm2_pki: Pki) -> None:
    broken = bytearray(sm2_pki.seal)
    broken[-5] ^= 0x01
    with pytest.raises(InvalidInput, match="seal cannot be used"):
        seal(sm2_pki, seal_der=bytes(broken))


def test_signer_key_must_match_its_certificate(sm2_pki: Pki) -> None:
    with pytest.raises(InvalidInput, match="not the key of the signer certificate"):
        seal(sm2_pki, signer=sm2_pki.maker.signer)


def test_picture_must_be_a_png(sm2_pki: Pki) -> None:
    jpeg = io.BytesIO()
    Image.new("RGB", (10, 10)).save(jpeg, format="JPEG")
    for bad in (b"", b"\x89PNG\r\n\x1a\nbroken", jpeg.getvalue()):
        with pytest.raises(InvalidInput, match="PNG"):
            seal(sm2_pki, picture_png=bad)


def test_palette_picture_is_accepted(sm2_pki: Pki) -> None:
    out = io.BytesIO()
    Image.open(io.BytesIO(seal_picture())).convert("P").save(out, format="PNG")
    assert validate(seal(sm2_pki, picture_png=out.getvalue()), sm2_pki.context()).bottom_line


# --- where the picture lands, rendered by poppler ------------------------------------------------

PDFTOPPM = shutil.which("pdftoppm")


def render(data: bytes, page: int, tmp_path: Path) -> Image.Image:
    """Render ``page`` at 72 dpi (one pixel per point)."""
    assert PDFTOPPM is not None
    (tmp_path / "in.pdf").write_bytes(data)
    subprocess.run(
        [
            PDFTOPPM,
            "-r",
            "72",
            "-f",
            str(page),
            "-l",
            str(page),
            "-png",
            "-singlefile",
            tmp_path / "in.pdf",
            tmp_path / "out",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return Image.open(tmp_path / "out.png").convert("RGB")


def red_pixels(image: Image.Image) -> list[tuple[int, int]]:
    red = []
    pixels = image.load()
    for y in range(image.height):
        for x in range(image.width):
            r, g, b = pixels[x, y]
            if r > 170 and g < 110 and b < 110:
                red.append((x, y))
    return red


def box_px(placement: Placement) -> tuple[float, float, float, float]:
    k = PT_PER_MM
    return (
        placement.x_mm * k,
        placement.y_mm * k,
        (placement.x_mm + placement.width_mm) * k,
        (placement.y_mm + placement.height_mm) * k,
    )


@pytest.mark.skipif(PDFTOPPM is None, reason="poppler's pdftoppm is not installed")
@pytest.mark.parametrize(
    ("pages", "placement"),
    [(1, Placement(1, 20, 30, 42, 42)), (3, Placement(2, 120, 200, 50, 50))],
    ids=["page1-top-left", "page2-bottom-right"],
)
def test_seal_is_drawn_inside_its_box_and_nowhere_else(
    sm2_pki: Pki, tmp_path: Path, pages: int, placement: Placement
) -> None:
    image = render(seal(sm2_pki, make_pdf(pages), placement=placement), placement.page, tmp_path)
    red = red_pixels(image)
    x0, y0, x1, y1 = box_px(placement)
    inside = [(x, y) for x, y in red if x0 - 1 <= x <= x1 + 1 and y0 - 1 <= y <= y1 + 1]
    assert len(inside) > 0.05 * (x1 - x0) * (y1 - y0)  # rim, text and star: a good part of the box is red
    assert len(inside) == len(red), f"{len(red) - len(inside)} red pixels outside the box"
    # the picture is centred and fills the (square) box: red reaches near all four sides
    xs, ys = [x for x, _ in inside], [y for _, y in inside]
    assert min(xs) - x0 < 3 and x1 - max(xs) < 3 and min(ys) - y0 < 3 and y1 - max(ys) < 3


def corner_picture() -> bytes:
    """A 100 x 100 transparent picture, seal red in its top-left quarter only: shows orientation."""
    image = Image.new("RGBA", (100, 100), (*SEAL_RED, 0))
    image.paste((*SEAL_RED, 255), (0, 0, 50, 50))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


@pytest.mark.skipif(PDFTOPPM is None, reason="poppler's pdftoppm is not installed")
@pytest.mark.parametrize("rotate", [0, 90, 180, 270])
def test_picture_shows_upright_where_asked_on_rotated_pages(
    sm2_pki: Pki, tmp_path: Path, rotate: int
) -> None:
    placement = Placement(1, 30, 50, 40, 40)
    data = seal(sm2_pki, make_pdf(rotate=rotate), placement=placement, picture_png=corner_picture())
    image = render(data, 1, tmp_path)
    assert image.size == ((842, 595) if rotate in (90, 270) else (595, 842))
    red = red_pixels(image)
    x0, y0, x1, y1 = box_px(placement)
    xs, ys = [x for x, _ in red], [y for _, y in red]
    # exactly the top-left quarter of the box is red
    assert min(xs) == pytest.approx(x0, abs=1.5) and max(xs) == pytest.approx((x0 + x1) / 2, abs=1.5)
    assert min(ys) == pytest.approx(y0, abs=1.5) and max(ys) == pytest.approx((y0 + y1) / 2, abs=1.5)


@pytest.mark.skipif(PDFTOPPM is None, reason="poppler's pdftoppm is not installed")
def test_transparent_parts_of_the_seal_leave_the_text_visible(sm2_pki: Pki, tmp_path: Path) -> None:
    # "licence text" at (72, 720) pt: 72 - 122 pt = 25.4 - 43 mm right, 842 - 720 = 122 pt = 43 mm down
    placement = Placement(1, 20, 25, 42, 42)
    image = render(seal(sm2_pki, placement=placement), 1, tmp_path)
    dark = [
        (x, y)
        for y in range(110, 125)
        for x in range(72, 130)
        if max(image.getpixel((x, y))) < 90  # black text, not red seal, not white paper
    ]
    assert dark, "the text under the seal is hidden"


def test_damaged_pdfs_only_ever_raise_typed_errors(sm2_pki: Pki) -> None:
    """Random byte changes, cuts and insertions: sealing and keyword search either work or raise a
    TrustsvcError — never pyHanko's, pdfminer's or zlib's own exceptions."""
    import random

    from trustsvc.errors import TrustsvcError

    rng = random.Random(20261127)
    base = make_pdf(2)
    outcomes: set[str] = set()
    for _ in range(80):
        data = bytearray(base)
        for _ in range(rng.choice([1, 2, 5, 20])):
            pos = rng.randrange(len(data))
            action = rng.random()
            if action < 0.5:
                data[pos] = rng.randrange(256)
            elif action < 0.75:
                del data[pos : pos + rng.randrange(1, 50)]
            else:
                data[pos:pos] = rng.randbytes(rng.randrange(1, 20))
        for attempt in (lambda d: seal(sm2_pki, d), lambda d: find_keyword(d, "page")):
            try:
                attempt(bytes(data))
                outcomes.add("ok")
            except TrustsvcError as exc:
                outcomes.add(type(exc).__name__)
    assert {"ok", "MalformedInput"} <= outcomes
