"""Per-signature OFD checks (trustsvc.ofd.verification): the five real vendor files give exactly what
shared/testdata/ofd-real/README.md states, a flipped byte fails exactly the matching check, and the variants
a verifier meets (CheckMethods, GB/T 35275 Sign signatures with and without attributes, time-stamps, missing
files, partial coverage) are results, not exceptions.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from asn1crypto import cms, core, x509
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from tests.test_ofd_signing import SIGN_0, SIGNED_AT, Sealer, document, make_sealer
from trustsvc.errors import MalformedInput, PayloadTooLarge
from trustsvc.keys.signer import Signer
from trustsvc.keys.sm3 import sm3
from trustsvc.ofd.package import OfdPackage
from trustsvc.ofd.signing import OfdPlacement
from trustsvc.ofd.verification import MAX_SIGNATURES, OfdSignatureCheck, check_ofd_signatures
from trustsvc.seal import ses

REAL_OFD = Path("/work/shared/testdata/ofd-real")
NS = {"ofd": "http://www.ofdspec.org/2016"}
SIG_XML = f"{SIGN_0}/Signature.xml"
SIG_VALUE = f"{SIGN_0}/SignedValue.dat"

needs_real = pytest.mark.skipif(not REAL_OFD.is_dir(), reason="shared/testdata/ofd-real is not available")


@pytest.fixture(scope="module")
def sealer() -> Sealer:
    return make_sealer()


@pytest.fixture(scope="module")
def sealed(sealer: Sealer) -> bytes:
    return sealer(document(2).ofd)


def only(ofd: bytes | OfdPackage) -> OfdSignatureCheck:
    (result,) = check_ofd_signatures(ofd)
    return result


def failed(result: OfdSignatureCheck) -> set[str]:
    return {c.name for c in result.failures}


def flipped(ofd: bytes, path: str, offset: int, mask: int = 0x01) -> bytes:
    """``ofd`` with one byte of ``path`` changed (every other file byte-identical)."""
    package = OfdPackage.read(ofd)
    data = bytearray(package.file(path))
    data[offset] ^= mask
    return package.with_files({path: bytes(data)}).write()


# --- the real files -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Real:
    name: str
    type: str
    check_method: str
    signature_xml: str
    signed_value: str
    warnings: tuple[str, ...]  # the README's predicted repairs/deviations (substrings of warnings)
    no_repairs: bool = False  # strict DER throughout: no signature-value repair warning at all


REAL = [
    Real(
        "suwell_bank_receipt_b.ofd",
        "Seal",
        "sm3",
        "Doc_0/Signs/Sign_0/Signature.xml",
        "Doc_0/Signs/Sign_0/SignedValue.dat",
        (),
        no_repairs=True,
    ),
    Real(
        "suwell_bank_receipt_a.ofd",
        "Seal",
        "1.2.156.10197.1.401",
        "Doc_0/Signs/Sign_0/Signature.xml",
        "Doc_0/Signs/Sign_0/SignedValue.dat",
        (
            "document signature: raw 64-byte r||s (no DER) re-encoded",
            "seal maker signature: raw 64-byte r||s (no DER) re-encoded",
        ),
    ),
    Real(
        "dj_bank_receipt.ofd",
        "Seal",
        "1.2.156.10197.1.401",
        "Doc_0/Signs/Sign_1/Signature.xml",
        "Doc_0/Signs/Sign_1/SignValue.dat",
        ("document signature: INTEGER r has no 0x00 sign pad",),
    ),
    Real(
        "baiwang_einvoice.ofd",
        "Seal",
        "1.2.156.10197.1.401",
        "Doc_0/Signs/Sign_0/Signature.xml",
        "Doc_0/Signs/Sign_0/SignedValue.dat",
        ("seal: certListType 3 is not defined by GB/T 38540; the list holds certificates, read as 1",),
        no_repairs=True,
    ),
    Real(
        "railway_eticket_sign.ofd",
        "Sign",
        "sm3",
        "Doc_0/Signs/Sign_0/Signature.xml",
        "Doc_0/Signs/Sign_0/SignedValue.dat",
        (),
        no_repairs=True,
    ),
]
SEAL_CHECKS = {"data_hash", "signature_value", "seal_signature", "signer_listed", "seal_validity"}
SIGN_CHECKS = {"signer_certificate", "message_digest", "signature_value"}


def real(name: str) -> bytes:
    return (REAL_OFD / name).read_bytes()


@needs_real
@pytest.mark.parametrize("expected", REAL, ids=lambda r: r.name)
def test_real_files_verify_as_the_readme_states(expected: Real) -> None:
    result = only(real(expected.name))
    assert result.ok, result.failures
    assert result.type == expected.type
    assert result.check_method == expected.check_method
    assert result.signature_xml_path == expected.signature_xml
    assert result.signed_value_path == expected.signed_value
    assert result.references and all(r.status == "ok" for r in result.references)
    names = {c.name for c in result.checks}
    assert names >= {"signature_xml", "references", "coverage", "signed_value", "format"}
    assert names >= (SEAL_CHECKS if expected.type == "Seal" else SIGN_CHECKS)
    for warning in expected.warnings:
        assert any(warning in w for w in result.warnings), (warning, result.warnings)
    if expected.no_repairs:
        assert not [w for w in result.warnings if "re-encoded" in w or "sign pad" in w]
    assert result.signer_cert is not None and result.signer_cert in result.certificates
    assert result.signing_time is not None
    if expected.type == "Seal":
        assert result.seal is not None and result.seal_maker_cert == result.seal.maker_cert
        assert result.stamp_annots and result.stamp_annots[0].page_index == 0
    assert not result.protects_signature_list


@needs_real
def test_real_stamp_annot_page_ref_is_resolved_by_page_id() -> None:
    result = only(real("baiwang_einvoice.ofd"))
    (annot,) = result.stamp_annots
    assert (annot.page_ref, annot.page_index, annot.boundary) == ("6", 0, (153.0, 50.0, 40.0, 33.0))
    dj = only(real("dj_bank_receipt.ofd"))
    assert dj.stamp_annots[0].clip == (0.0, 0.0, 41.78, 35.95)
    assert dj.check("seal_file") is not None and dj.check("seal_file").ok  # type: ignore[union-attr]


@needs_real
def test_real_rail_ticket_sign_signature_is_checked_as_gbt_35275() -> None:
    result = only(real("railway_eticket_sign.ofd"))
    digest = result.check("message_digest")
    assert digest is not None and digest.ok and "sm3(Signature.xml)" in digest.detail
    assert result.signing_time == datetime(2022, 3, 17, 7, 20, 54, tzinfo=UTC)
    assert result.seal is None and result.seal_maker_cert is None
    assert result.stamp_annots == ()


def _signature_value_offset(name: str, value: bytes) -> int:
    """Offset of the last byte of the signature value inside SignedValue.dat."""
    if name.startswith("railway"):
        signature = bytes(cms.ContentInfo.load(value)["content"]["signer_infos"][0]["signature"].native)
    else:
        signature = ses.parse_signature(value).signature
    return value.rindex(signature) + len(signature) - 1


@needs_real
@pytest.mark.parametrize("expected", REAL, ids=lambda r: r.name)
def test_a_flipped_byte_fails_exactly_the_matching_check(expected: Real) -> None:
    original = real(expected.name)
    package = OfdPackage.read(original)
    result = only(original)

    # a referenced file
    target = next(r.path for r in result.references if r.path and r.path.endswith("Content.xml"))
    assert target is not None
    broken = only(flipped(original, target, len(package.file(target)) // 2))
    assert failed(broken) == {"references"}
    assert [r.path for r in broken.references if not r.ok] == [target]
    assert next(r for r in broken.references if r.path == target).status == "mismatch"

    # Signature.xml (the case of the provider name's first letter)
    xml = package.file(expected.signature_xml)
    offset = xml.index(b'ProviderName="') + len(b'ProviderName="')
    broken = only(flipped(original, expected.signature_xml, offset, 0x20))
    assert failed(broken) == ({"data_hash"} if expected.type == "Seal" else {"message_digest"})

    # the signature value
    value = package.file(expected.signed_value)
    broken = only(flipped(original, expected.signed_value, _signature_value_offset(expected.name, value)))
    assert failed(broken) == {"signature_value"}

    # the seal info (a byte of the seal picture): the maker's signature and, as the seal is inside TBS_Sign,
    # the document signature
    if expected.type == "Seal":
        assert result.seal is not None
        picture = result.seal.picture.data
        offset = value.index(picture) + len(picture) // 2
        broken = only(flipped(original, expected.signed_value, offset))
        assert (
            {"seal_signature", "signature_value"}
            <= failed(broken)
            <= {
                "seal_signature",
                "signature_value",
                "seal_file",
            }
        )


# --- our own seals ------------------------------------------------------------------------------------------


def test_a_changed_page_or_signature_xml_fails_our_seal(sealed: bytes) -> None:
    package = OfdPackage.read(sealed)
    page = "Doc_0/Pages/Page_1/Content.xml"
    broken = only(flipped(sealed, page, 100))
    assert failed(broken) == {"references"}
    xml = package.file(SIG_XML)
    broken = only(flipped(sealed, SIG_XML, xml.index(b"trustsvc")))
    assert failed(broken) == {"data_hash"}


def test_a_removed_page_is_reported_missing(sealed: bytes) -> None:
    package = OfdPackage.read(sealed)
    result = only(package.with_files({"Doc_0/Res/font_3.ttf": None}))
    assert failed(result) == {"references"}
    assert [(r.path, r.status) for r in result.references if not r.ok] == [
        ("Doc_0/Res/font_3.ttf", "missing")
    ]


def test_a_replaced_seal_file_is_reported(sealed: bytes, sealer: Sealer) -> None:
    other = make_sealer()
    package = OfdPackage.read(sealed)
    result = only(package.with_files({f"{SIGN_0}/Seal.esl": other.seal}))
    assert failed(result) == {"references", "seal_file"}


def test_missing_or_unreadable_signature_files_are_results_not_errors(sealer: Sealer, sealed: bytes) -> None:
    two = sealer(sealed, OfdPlacement.box(1, 100, 100, 42, 42))
    package = OfdPackage.read(two)
    no_xml = check_ofd_signatures(package.with_files({SIG_XML: None}))
    assert [r.ok for r in no_xml] == [False, False]  # the second covers the first's Signature.xml
    assert failed(no_xml[0]) == {"signature_xml"}
    assert [(r.path, r.status) for r in no_xml[1].references if not r.ok] == [(SIG_XML, "missing")]

    garbage = check_ofd_signatures(package.with_files({SIG_VALUE: b"\x30\x03\x02\x01"}))
    assert "format" in failed(garbage[0])
    no_value = check_ofd_signatures(package.with_files({SIG_VALUE: None}))
    assert "signed_value" in failed(no_value[0])
    not_xml = check_ofd_signatures(package.with_files({SIG_XML: b"<ofd:Signature"}))
    assert failed(not_xml[0]) == {"signature_xml"}


def test_a_document_without_signatures_has_no_results_and_a_missing_list_is_malformed(sealed: bytes) -> None:
    assert check_ofd_signatures(document().ofd) == []
    package = OfdPackage.read(sealed)
    with pytest.raises(MalformedInput):
        check_ofd_signatures(package.with_files({"Doc_0/Signs/Signatures.xml": None}))


def test_an_unknown_page_ref_is_a_warning(sealer: Sealer) -> None:
    ofd = sealer(document().ofd)
    result = resigned(ofd, sealer, lambda root: _set_page_ref(root, "99"))
    assert result.ok
    assert result.stamp_annots[0].page_index is None
    assert any("PageRef '99'" in w for w in result.warnings)


def _set_page_ref(root: etree._Element, value: str) -> None:
    annot = root.find("ofd:SignedInfo/ofd:StampAnnot", NS)
    assert annot is not None
    annot.set("PageRef", value)


# --- variants, made by re-signing an edited Signature.xml ---------------------------------------------------


def resigned(
    ofd: bytes,
    sealer: Sealer,
    edit: Callable[[etree._Element], None],
    *,
    timestamp: bytes | None = None,
) -> OfdSignatureCheck:
    """Edit our Signature.xml, sign it again (a valid SES_Signature over the edited bytes), check it."""
    package = OfdPackage.read(ofd)
    root = etree.fromstring(package.file(SIG_XML))
    edit(root)
    xml = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    value = ses.make_signature(
        sealer.seal,
        sm3(xml),
        "/" + SIG_XML,
        sealer.pki.signer_cert,
        sealer.pki.signer.signer,
        time_info=SIGNED_AT,
        timestamp=timestamp,
    )
    return only(package.with_files({SIG_XML: xml, SIG_VALUE: value}))


def _recompute(method: str | None, digest: Callable[[bytes], bytes], package: OfdPackage) -> Callable:
    def edit(root: etree._Element) -> None:
        refs = root.find("ofd:SignedInfo/ofd:References", NS)
        assert refs is not None
        if method is None:
            del refs.attrib["CheckMethod"]
        else:
            refs.set("CheckMethod", method)
        for ref in refs.findall("ofd:Reference", NS):
            value = ref.find("ofd:CheckValue", NS)
            assert value is not None
            value.text = base64.b64encode(digest(package.file(ref.get("FileRef", "")))).decode()

    return edit


@pytest.mark.parametrize(
    ("method", "digest", "ok", "warning"),
    [
        ("sm3", sm3, True, None),
        ("SM3", sm3, True, None),
        ("1.2.156.10197.1.401", sm3, True, None),
        (None, sm3, True, "no CheckMethod"),
        ("SHA1", lambda d: hashlib.sha1(d).digest(), True, "SHA-1"),
        ("SHA-256", lambda d: hashlib.sha256(d).digest(), True, "SHA-256"),
        ("MD5", lambda d: hashlib.md5(d).digest(), False, None),
        (None, lambda d: hashlib.md5(d).digest(), False, None),
        ("whirlpool", sm3, False, None),
    ],
)
def test_check_methods(
    sealed: bytes,
    sealer: Sealer,
    method: str | None,
    digest: Callable[[bytes], bytes],
    ok: bool,
    warning: str | None,
) -> None:
    result = resigned(sealed, sealer, _recompute(method, digest, OfdPackage.read(sealed)))
    assert result.ok is ok, result.failures
    if not ok:
        assert failed(result) == {"references"}
        assert {r.status for r in result.references} == {"unsupported"}
    if warning:
        assert any(warning in w for w in result.warnings), result.warnings


def test_relative_file_refs_and_bad_check_values(sealed: bytes, sealer: Sealer) -> None:
    def relative(root: etree._Element) -> None:
        for ref in root.iterfind("ofd:SignedInfo/ofd:References/ofd:Reference", NS):
            ref.set("FileRef", ref.get("FileRef", "").lstrip("/"))  # "Doc_0/…": no leading '/'

    result = resigned(sealed, sealer, relative)
    assert result.ok, result.failures
    assert any("from the package root" in w for w in result.warnings)

    def bad(root: etree._Element) -> None:
        refs = root.findall("ofd:SignedInfo/ofd:References/ofd:Reference", NS)
        refs[0].find("ofd:CheckValue", NS).text = "not base64!"
        refs[1].set("FileRef", "/../../etc/passwd")

    result = resigned(sealed, sealer, bad)
    assert [r.status for r in result.references[:2]] == ["invalid", "invalid"]
    assert failed(result) == {"references", "coverage"}  # the second Reference was a page


def test_a_signature_not_covering_the_pages_fails_coverage(sealed: bytes, sealer: Sealer) -> None:
    def drop_page(root: etree._Element) -> None:
        refs = root.find("ofd:SignedInfo/ofd:References", NS)
        assert refs is not None
        for ref in refs.findall("ofd:Reference", NS):
            if ref.get("FileRef") == "/Doc_0/Pages/Page_1/Content.xml":
                refs.remove(ref)

    result = resigned(sealed, sealer, drop_page)
    assert failed(result) == {"coverage"}
    assert "Doc_0/Pages/Page_1/Content.xml" in result.unprotected_files

    def drop_all(root: etree._Element) -> None:
        refs = root.find("ofd:SignedInfo/ofd:References", NS)
        assert refs is not None
        for ref in refs.findall("ofd:Reference", NS):
            refs.remove(ref)

    assert failed(resigned(sealed, sealer, drop_all)) == {"references", "coverage"}


def test_a_time_stamp_over_other_data_fails_the_timestamp_check(sealed: bytes, sealer: Sealer) -> None:
    from tests.test_tsa import hierarchy
    from trustsvc.ca.tsa import parse_timestamp_request
    from trustsvc.keys.algorithms import KeyAlgorithm
    from trustsvc.ofd.signing import tsa_timestamper

    authority = hierarchy(KeyAlgorithm.SM2).authority()
    token = tsa_timestamper(
        lambda req: authority.stamp(parse_timestamp_request(req), serial=3, now=SIGNED_AT)
    )(b"some other signature value")
    result = resigned(sealed, sealer, lambda root: None, timestamp=token)
    assert failed(result) == {"timestamp"}
    assert result.timestamp_time == SIGNED_AT.replace(microsecond=0)
    assert len(result.certificates) >= 3  # signer, maker and the TSA certificate from the token


def test_a_seal_outside_its_validity_at_signing_time_fails(sealed: bytes, sealer: Sealer) -> None:
    package = OfdPackage.read(sealed)
    xml = package.file(SIG_XML)
    value = ses.make_signature(
        sealer.seal,
        sm3(xml),
        "/" + SIG_XML,
        sealer.pki.signer_cert,
        sealer.pki.signer.signer,
        time_info=SIGNED_AT + timedelta(days=4 * 365),
    )
    result = only(package.with_files({SIG_VALUE: value}))
    assert failed(result) == {"seal_validity"}


# --- Type="Sign": GB/T 35275 SignedData ---------------------------------------------------------------------


def signed_data(
    signature_xml: bytes,
    cert_der: bytes,
    signer: Signer,
    *,
    attributes: bool = True,
    content: bytes | None = None,
    message: bytes | None = None,
) -> bytes:
    """A GB/T 35275 ContentInfo(signedData) as the rail tickets (attributes, detached) or OFDRW (no
    attributes, ``content`` embedded) write it; ``message`` overrides what is signed without attributes."""
    cert = x509.Certificate.load(cert_der)
    sid = cms.SignerIdentifier(
        {"issuer_and_serial_number": {"issuer": cert.issuer, "serial_number": cert.serial_number}}
    )
    info: dict[str, object] = {
        "version": "v1",
        "sid": sid,
        "digest_algorithm": {"algorithm": "sm3"},
        "signature_algorithm": {"algorithm": "1.2.156.10197.1.301.1", "parameters": core.Null()},
    }
    if attributes:
        attrs = cms.CMSAttributes(
            [
                {"type": "content_type", "values": ["gm_data"]},
                {
                    "type": "signing_time",
                    "values": [cms.Time({"utc_time": SIGNED_AT.replace(microsecond=0)})],
                },
                {"type": "message_digest", "values": [sm3(signature_xml)]},
            ]
        )
        info["signed_attrs"] = attrs
        info["signature"] = signer.sign(attrs.dump())
    else:
        to_sign = message if message is not None else content if content is not None else sm3(signature_xml)
        info["signature"] = signer.sign(to_sign)
    data = cms.SignedData(
        {
            "version": "v1",
            "digest_algorithms": [{"algorithm": "sm3"}],
            "encap_content_info": {"content_type": "gm_data", "content": content},
            "certificates": [cert],
            "signer_infos": [cms.SignerInfo(info)],
        }
    )
    return bytes(cms.ContentInfo({"content_type": "gm_signed_data", "content": data}).dump())


def sign_signature(sealer: Sealer, **options: object) -> tuple[OfdPackage, bytes]:
    """A document signed with Type="Sign": our Signature.xml layout without seal, a CMS SignedValue."""
    package = OfdPackage.read(document().ofd)
    slot = package.document(0).next_signature_slot()
    package = package.with_signature_entry(slot, type="Sign")
    root = etree.Element("{http://www.ofdspec.org/2016}Signature", nsmap={"ofd": NS["ofd"]})
    info = etree.SubElement(root, "{http://www.ofdspec.org/2016}SignedInfo")
    etree.SubElement(info, "{http://www.ofdspec.org/2016}Provider", ProviderName="test")
    refs = etree.SubElement(info, "{http://www.ofdspec.org/2016}References", CheckMethod="sm3")
    for name in sorted(package.files):
        if name != slot.signatures_path:
            ref = etree.SubElement(refs, "{http://www.ofdspec.org/2016}Reference", FileRef="/" + name)
            value = etree.SubElement(ref, "{http://www.ofdspec.org/2016}CheckValue")
            value.text = base64.b64encode(sm3(package.file(name))).decode()
    etree.SubElement(root, "{http://www.ofdspec.org/2016}SignedValue").text = "SignedValue.dat"
    xml = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    value = signed_data(xml, sealer.pki.signer_cert, sealer.pki.signer.signer, **options)  # type: ignore[arg-type]
    return package.with_files({SIG_XML: xml, SIG_VALUE: value}), xml


def test_sign_with_attributes_checks_message_digest_and_the_attribute_signature(sealer: Sealer) -> None:
    package, xml = sign_signature(sealer)
    result = only(package)
    assert result.ok, result.failures
    assert result.type == "Sign" and result.warnings == ()
    assert result.signer_cert == sealer.pki.signer_cert
    assert result.signing_time == SIGNED_AT.replace(microsecond=0)
    flipped_xml = package.with_files({SIG_XML: xml.replace(b"test", b"Test")})
    assert failed(only(flipped_xml)) == {"message_digest"}


@pytest.mark.parametrize("base64_content", [False, True])
def test_sign_without_attributes_ofdrw_convention(sealer: Sealer, base64_content: bool) -> None:
    _, xml = sign_signature(sealer)  # the bytes of Signature.xml do not depend on the SignedValue
    content = base64.b64encode(sm3(xml)) if base64_content else sm3(xml)
    package, _ = sign_signature(sealer, attributes=False, content=content)
    result = only(package)
    assert result.ok, result.failures
    assert result.check("data_hash") is not None
    wrong, _ = sign_signature(sealer, attributes=False, content=sm3(b"other"))
    assert failed(only(wrong)) == {"data_hash"}


@pytest.mark.parametrize("over", ["digest", "xml"])
def test_sign_detached_without_attributes_names_what_it_covers(sealer: Sealer, over: str) -> None:
    _, xml = sign_signature(sealer)
    package, _ = sign_signature(sealer, attributes=False, message=sm3(xml) if over == "digest" else xml)
    result = only(package)
    assert result.ok, result.failures
    assert any(
        ("sm3(Signature.xml)" if over == "digest" else "Signature.xml itself") in w for w in result.warnings
    )
    other, _ = sign_signature(sealer, attributes=False, message=b"something else")
    assert failed(only(other)) == {"signature_value"}


def test_sign_whose_signer_is_not_in_the_signed_data_fails(sealer: Sealer) -> None:
    package, _ = sign_signature(sealer)
    value = cms.ContentInfo.load(package.file(SIG_VALUE))
    value["content"]["certificates"] = [x509.Certificate.load(sealer.pki.maker_cert)]
    result = only(package.with_files({SIG_VALUE: value.dump(force=True)}))
    assert {"signer_certificate", "signature_value"} <= failed(result)


# --- fuzzing: a damaged signature is a result, never an exception ------------------------------------------


def _fuzz_targets() -> list[tuple[str, bytes, str]]:
    sealer = make_sealer()
    ours = sealer(document().ofd)
    targets = [("ours", ours, SIG_VALUE), ("ours", ours, SIG_XML)]
    if REAL_OFD.is_dir():
        rail = real("railway_eticket_sign.ofd")
        targets += [("rail", rail, SIG_VALUE), ("rail", rail, SIG_XML)]
    return targets


_TARGETS: list[tuple[str, bytes, str]] = []


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_fuzz_damaged_signature_files_give_results_not_exceptions(data: st.DataObject) -> None:
    if not _TARGETS:
        _TARGETS.extend(_fuzz_targets())
    _name, ofd, path = data.draw(st.sampled_from(_TARGETS))
    package = OfdPackage.read(ofd)
    content = bytearray(package.file(path))
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(content) - 1))
        content[at] = data.draw(st.integers(0, 255))
    if data.draw(st.booleans()):
        content = content[: data.draw(st.integers(0, len(content)))]
    results = check_ofd_signatures(package.with_files({path: bytes(content)}))
    assert len(results) == 1
    if bytes(content) != package.file(path):
        assert not results[0].ok or path == SIG_VALUE  # a changed value may still be a valid re-encoding


def test_a_signature_list_over_the_limit_is_refused(sealed: bytes) -> None:
    package = OfdPackage.read(sealed)
    listing = etree.fromstring(package.file("Doc_0/Signs/Signatures.xml"))
    entry = listing.find("ofd:Signature", NS)
    assert entry is not None
    for n in range(MAX_SIGNATURES):
        copy = etree.SubElement(listing, entry.tag, dict(entry.attrib))
        copy.set("ID", str(n + 2))
    many = package.with_files({"Doc_0/Signs/Signatures.xml": etree.tostring(listing)})
    with pytest.raises(PayloadTooLarge, match="signatures"):
        check_ofd_signatures(many)
