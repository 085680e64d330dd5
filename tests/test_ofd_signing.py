"""Sealing OFD documents (trustsvc.ofd.signing): the spec §4.6 layout, what is hashed and signed, placement
(box, keyword, across pages), several seals, full protection, time-stamps, ECDSA, refusals.

The sealed files are also checked by trustsvc.ofd.verification here; tests/interop/test_ofd_independent.py
checks them along a path that shares no code with ours.
"""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from asn1crypto import tsp
from lxml import etree

from tests.test_ses import NOW, Pki, make_pki, seal_fields
from tests.test_tsa import hierarchy
from trustsvc.ca.tsa import parse_timestamp_request
from trustsvc.errors import InvalidInput, MalformedInput, PayloadTooLarge, UnsupportedAlgorithm
from trustsvc.keys.algorithms import KeyAlgorithm
from trustsvc.keys.sm3 import sm3
from trustsvc.ofd.layout import DocumentBuilder, TextBox
from trustsvc.ofd.package import Limits, OfdPackage
from trustsvc.ofd.signing import OfdPlacement, seal_ofd, tsa_timestamper
from trustsvc.ofd.verification import check_ofd_signatures
from trustsvc.seal import ses
from trustsvc.seal.picture import SealPictureSpec, render_seal

SIGNED_AT = NOW + timedelta(hours=1, microseconds=250)  # after the certificates' notBefore (NOW)
SIGNED_AT_TEXT = "20260601090000Z"
NS = {"ofd": "http://www.ofdspec.org/2016"}
SM3_OID = "1.2.156.10197.1.401"
SM2_SM3_OID = "1.2.156.10197.1.501"
SIGN_0 = "Doc_0/Signs/Sign_0"
REAL_BAIWANG = "/work/shared/testdata/ofd-real/baiwang_einvoice.ofd"


# --- fixtures: a throw-away PKI, a seal, documents ----------------------------------------------------------


@dataclass
class Sealer:
    """A PKI, a seal (42 x 42 mm picture) listing the signer, and a seal_ofd call with defaults."""

    pki: Pki
    seal: bytes
    picture: bytes

    def __call__(self, ofd: bytes, placement: OfdPlacement | None = None, **kwargs: object) -> bytes:
        options: dict[str, object] = {
            "seal_der": self.seal,
            "signer_cert_der": self.pki.signer_cert,
            "signer": self.pki.signer.signer,
            "placement": placement or OfdPlacement.box(1, 20, 30, 42, 42),
            "time_info": SIGNED_AT,
        }
        options.update(kwargs)
        return seal_ofd(ofd, **options)  # type: ignore[arg-type]


_PICTURE: dict[str, bytes] = {}


def seal_picture() -> bytes:
    if "png" not in _PICTURE:  # rendering costs ~0.1 s: once per session
        _PICTURE["png"] = render_seal(
            SealPictureSpec(name="某市市场监督管理局", seal_name="行政审批专用章"), dpi=150
        )
    return _PICTURE["png"]


def make_sealer(algorithm: KeyAlgorithm = KeyAlgorithm.SM2, *, size: tuple[int, int] = (42, 42)) -> Sealer:
    pki = make_pki(algorithm)
    picture = seal_picture()
    fields = seal_fields(pki, picture=ses.SealPicture("PNG", picture, *size))
    return Sealer(pki, ses.make_seal(fields, pki.maker_cert, pki.maker.signer), picture)


@pytest.fixture(scope="module")
def sealer() -> Sealer:
    return make_sealer()


@dataclass
class Doc:
    ofd: bytes
    boxes: dict[str, TextBox]


def document(pages: int = 1, *, page_size: tuple[float, float] = (210, 297)) -> Doc:
    """A document of ``pages`` pages; page 1 has a title, a paragraph and "盖章处" (sealing place) twice."""
    builder = DocumentBuilder(page_size)
    boxes: dict[str, TextBox] = {}
    for n in range(pages):
        page = builder.page()
        if n == 0:
            boxes["title"] = page.text(105, 40, "营业执照", 10, face="sans", align="center")
            page.text(20, 80, "名称：某市某某科技有限公司", 5)
            boxes["keyword"] = page.text(130, 240, "盖章处", 5)
            boxes["keyword2"] = page.text(20, 270, "盖 章 处", 5)
            boxes["edge"] = page.text(200, 20, "边", 5)
        else:
            page.text(20, 40, f"第{n + 1}页", 5)
    return Doc(builder.build().write(), boxes)


@pytest.fixture(scope="module")
def one_page() -> Doc:
    return document()


def files(ofd: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(ofd)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def xml(data: bytes) -> etree._Element:
    return etree.fromstring(data)


def annots(ofd: bytes, sign_dir: str = SIGN_0) -> list[etree._Element]:
    return xml(files(ofd)[f"{sign_dir}/Signature.xml"]).findall("ofd:SignedInfo/ofd:StampAnnot", NS)


def boundary(element: etree._Element, name: str = "Boundary") -> tuple[float, ...]:
    return tuple(float(v) for v in element.get(name, "").split())


def all_ok(ofd: bytes) -> bool:
    results = check_ofd_signatures(ofd)
    return bool(results) and all(r.ok for r in results)


# --- the layout of spec §4.6 --------------------------------------------------------------------------------


def test_sealing_adds_the_signature_files_and_leaves_every_other_file_byte_identical(
    sealer: Sealer, one_page: Doc
) -> None:
    before = files(one_page.ofd)
    after = files(sealer(one_page.ofd))
    added = set(after) - set(before)
    assert added == {
        "Doc_0/Signs/Signatures.xml",
        f"{SIGN_0}/Seal.esl",
        f"{SIGN_0}/Signature.xml",
        f"{SIGN_0}/SignedValue.dat",
    }
    changed = {name for name in before if before[name] != after[name]}
    assert changed == {"OFD.xml"}  # DocBody/Signatures added, nothing else touched
    assert xml(after["OFD.xml"]).findtext("ofd:DocBody/ofd:Signatures", namespaces=NS) == (
        "Doc_0/Signs/Signatures.xml"
    )
    listing = xml(after["Doc_0/Signs/Signatures.xml"])
    assert listing.findtext("ofd:MaxSignId", namespaces=NS) == "1"
    (entry,) = listing.findall("ofd:Signature", NS)
    assert dict(entry.attrib) == {"ID": "1", "Type": "Seal", "BaseLoc": "Sign_0/Signature.xml"}
    assert after[f"{SIGN_0}/Seal.esl"] == sealer.seal


def test_signature_xml_is_the_spec_table(sealer: Sealer, one_page: Doc) -> None:
    sealed = sealer(one_page.ofd, provider_version="9.9", company="某省数据资源管理局")
    after = files(sealed)
    root = xml(after[f"{SIGN_0}/Signature.xml"])
    info = root.find("ofd:SignedInfo", NS)
    assert info is not None
    assert [etree.QName(e).localname for e in info] == [
        "Provider",
        "SignatureMethod",
        "SignatureDateTime",
        "References",
        "StampAnnot",
        "Seal",
    ]
    provider = info.find("ofd:Provider", NS)
    assert provider is not None
    assert dict(provider.attrib) == {
        "ProviderName": "trustsvc",
        "Version": "9.9",
        "Company": "某省数据资源管理局",
    }
    assert info.findtext("ofd:SignatureMethod", namespaces=NS) == SM2_SM3_OID
    assert info.findtext("ofd:SignatureDateTime", namespaces=NS) == SIGNED_AT_TEXT
    refs = info.find("ofd:References", NS)
    assert refs is not None and refs.get("CheckMethod") == SM3_OID
    referenced = {}
    for ref in refs.findall("ofd:Reference", NS):
        file_ref = ref.get("FileRef", "")
        assert file_ref.startswith("/")
        referenced[file_ref[1:]] = base64.b64decode(ref.findtext("ofd:CheckValue", namespaces=NS) or "")
    # every file but the signature's own two and (continue-signing mode) the signature list
    assert set(referenced) == set(after) - {
        f"{SIGN_0}/Signature.xml",
        f"{SIGN_0}/SignedValue.dat",
        "Doc_0/Signs/Signatures.xml",
    }
    assert "OFD.xml" in referenced and f"{SIGN_0}/Seal.esl" in referenced
    for name, digest in referenced.items():
        assert digest == sm3(after[name]), name
    assert info.findtext("ofd:Seal/ofd:BaseLoc", namespaces=NS) == f"/{SIGN_0}/Seal.esl"
    assert root.findtext("ofd:SignedValue", namespaces=NS) == f"/{SIGN_0}/SignedValue.dat"


def test_signed_value_is_a_ses_signature_over_the_stored_signature_xml(sealer: Sealer, one_page: Doc) -> None:
    after = files(sealer(one_page.ofd))
    signature = ses.parse_signature(after[f"{SIGN_0}/SignedValue.dat"], lenient=False)
    assert signature.data_hash == sm3(after[f"{SIGN_0}/Signature.xml"])
    assert signature.property_info == f"/{SIGN_0}/Signature.xml"
    assert signature.time_info == SIGNED_AT.replace(microsecond=0)
    assert signature.seal.der == sealer.seal
    assert signature.signer_cert == sealer.pki.signer_cert
    assert signature.timestamp is None
    ses.verify_signature_value(signature, lenient=False)
    assert after[f"{SIGN_0}/Signature.xml"].startswith(
        b'<?xml version="1.0" encoding="UTF-8"?>\n<ofd:Signature'
    )


def test_our_verifier_passes_a_fresh_seal_without_warnings(sealer: Sealer, one_page: Doc) -> None:
    (result,) = check_ofd_signatures(sealer(one_page.ofd))
    assert result.ok, result.failures
    assert result.warnings == ()
    assert result.type == "Seal" and result.id == "1"
    assert result.signer_cert == sealer.pki.signer_cert
    assert result.seal_maker_cert == sealer.pki.maker_cert
    assert result.signing_time == SIGNED_AT.replace(microsecond=0)
    assert result.unprotected_files == ("Doc_0/Signs/Signatures.xml",)
    assert not result.protects_signature_list
    assert {c.name for c in result.checks} >= {
        "references",
        "coverage",
        "data_hash",
        "signature_value",
        "seal_signature",
        "signer_listed",
        "seal_validity",
        "seal_file",
    }


def test_the_picture_may_be_passed_when_it_is_the_seals(sealer: Sealer, one_page: Doc) -> None:
    assert all_ok(sealer(one_page.ofd, picture_png=sealer.picture))
    with pytest.raises(InvalidInput, match="not the seal's picture"):
        sealer(one_page.ofd, picture_png=sealer.picture + b"\0")


# --- several seals, full protection -------------------------------------------------------------------------


def test_a_second_seal_keeps_the_first_valid_and_covers_its_files(sealer: Sealer) -> None:
    doc = document(2)
    first = sealer(doc.ofd)
    second = sealer(first, OfdPlacement.box(2, 100, 100, 42, 42))
    before, after = files(first), files(second)
    assert {n for n in before if before[n] != after[n]} == {"Doc_0/Signs/Signatures.xml"}
    listing = xml(after["Doc_0/Signs/Signatures.xml"])
    assert listing.findtext("ofd:MaxSignId", namespaces=NS) == "2"
    assert [e.get("BaseLoc") for e in listing.findall("ofd:Signature", NS)] == [
        "Sign_0/Signature.xml",
        "Sign_1/Signature.xml",
    ]
    results = check_ofd_signatures(second)
    assert [r.id for r in results] == ["1", "2"]
    assert all(r.ok for r in results), [r.failures for r in results]
    covered = {r.path for r in results[1].references}
    assert {f"{SIGN_0}/Signature.xml", f"{SIGN_0}/SignedValue.dat"} <= covered
    (annot,) = annots(second, "Doc_0/Signs/Sign_1")
    assert annot.get("PageRef") == "2"


def test_full_protection_covers_the_signature_list_and_allows_no_further_seal(
    sealer: Sealer, one_page: Doc
) -> None:
    sealed = sealer(one_page.ofd, protect_signatures=True)
    (result,) = check_ofd_signatures(sealed)
    assert result.ok and result.protects_signature_list
    assert "Doc_0/Signs/Signatures.xml" in {r.path for r in result.references}
    with pytest.raises(InvalidInput, match="full protection"):
        sealer(sealed)


def test_sealing_another_vendors_file_keeps_its_signature_and_uses_the_page_id() -> None:
    sealer = make_sealer()
    with open(REAL_BAIWANG, "rb") as f:
        original = f.read()
    sealed = sealer(original, OfdPlacement.box(1, 10, 10, 40, 40))  # the page's ID is 6, its index 0
    (annot,) = annots(sealed, "Doc_0/Signs/Sign_1")
    assert annot.get("PageRef") == "6"
    assert boundary(annot) == (10, 10, 40, 40)
    results = check_ofd_signatures(sealed)
    assert [r.id for r in results] == ["2", "3"]  # Baiwang's MaxSignId is 2
    assert all(r.ok for r in results), [r.failures for r in results]
    assert results[1].stamp_annots[0].page_index == 0


@pytest.mark.parametrize(
    "name",
    [
        "suwell_bank_receipt_a.ofd",
        "suwell_bank_receipt_b.ofd",
        "dj_bank_receipt.ofd",
        "baiwang_einvoice.ofd",
        "railway_eticket_sign.ofd",
    ],
)
def test_every_real_vendor_file_keeps_its_signature_when_we_add_a_seal(sealer: Sealer, name: str) -> None:
    path = Path(REAL_BAIWANG).parent / name
    if not path.is_file():
        pytest.skip("shared/testdata/ofd-real is not available")
    original = path.read_bytes()
    (before,) = check_ofd_signatures(original)
    sealed = sealer(original, OfdPlacement.box(1, 5, 5, 30, 30))
    results = check_ofd_signatures(sealed)
    assert len(results) == 2
    theirs, ours = results
    assert (theirs.id, theirs.signature_xml_path, theirs.ok) == (before.id, before.signature_xml_path, True)
    assert ours.ok, ours.failures
    assert int(ours.id) > int(before.id)
    assert ours.signature_xml_path != before.signature_xml_path


def test_page_ref_is_the_page_id_not_its_index(sealer: Sealer) -> None:
    package = OfdPackage.read(document(2).ofd)
    doc_xml = package.file("Doc_0/Document.xml").replace(b'ID="1"', b'ID="71"').replace(b'ID="2"', b'ID="72"')
    renumbered = package.with_files({"Doc_0/Document.xml": doc_xml}).write()
    sealed = sealer(renumbered, OfdPlacement.box(2, 10, 10, 42, 42))
    (annot,) = annots(sealed)
    assert annot.get("PageRef") == "72"
    (result,) = check_ofd_signatures(sealed)
    assert result.ok and result.stamp_annots[0].page_index == 1


# --- placement ----------------------------------------------------------------------------------------------


def test_box_placement_writes_the_requested_box(sealer: Sealer, one_page: Doc) -> None:
    sealed = sealer(one_page.ofd, OfdPlacement.box(1, 150.25, 230.5, 40, 30))
    (annot,) = annots(sealed)
    assert dict(annot.attrib) == {"ID": "1", "PageRef": "1", "Boundary": "150.25 230.5 40 30"}


def test_keyword_placement_centres_the_seal_on_the_keyword(sealer: Sealer, one_page: Doc) -> None:
    sealed = sealer(one_page.ofd, OfdPlacement.on_keyword("盖章处"))
    (annot,) = annots(sealed)
    x, y, w, h = boundary(annot)
    assert (w, h) == (42, 42)  # the seal picture's size
    box = one_page.boxes["keyword"]
    assert x + w / 2 == pytest.approx(box.x + box.w / 2, abs=0.01)
    # page_text estimates glyph extents (0.8 em above the baseline, 0.2 below): centre within a fraction of it
    assert y + h / 2 == pytest.approx(box.y + box.h / 2, abs=0.3 * box.size_mm)
    assert all_ok(sealed)


def test_keyword_placement_ignores_whitespace_and_counts_occurrences(sealer: Sealer, one_page: Doc) -> None:
    sealed = sealer(one_page.ofd, OfdPlacement.on_keyword("盖章 处", occurrence=2, width=20, height=20))
    (annot,) = annots(sealed)
    x, _y, w, _h = boundary(annot)
    box = one_page.boxes["keyword2"]  # "盖 章 处" spaced out
    assert w == 20
    assert x + w / 2 == pytest.approx(box.x + box.w / 2, abs=0.01)


def test_keyword_near_the_edge_keeps_the_seal_on_the_page(sealer: Sealer, one_page: Doc) -> None:
    (annot,) = annots(sealer(one_page.ofd, OfdPlacement.on_keyword("边")))
    x, y, w, _h = boundary(annot)
    assert x + w == pytest.approx(210) and y == pytest.approx(0)


def test_keyword_that_does_not_occur_is_refused(sealer: Sealer, one_page: Doc) -> None:
    with pytest.raises(InvalidInput, match="does not occur"):
        sealer(one_page.ofd, OfdPlacement.on_keyword("不存在的词"))
    with pytest.raises(InvalidInput, match="3 times"):
        sealer(one_page.ofd, OfdPlacement.on_keyword("盖章处", occurrence=3))


def test_seal_across_pages_puts_one_slice_on_each_right_edge() -> None:
    sealer = make_sealer(size=(42, 40))
    pages = 3
    sealed = sealer(document(pages).ofd, OfdPlacement.across())
    found = annots(sealed)
    assert [a.get("PageRef") for a in found] == ["1", "2", "3"]
    assert [a.get("ID") for a in found] == ["1", "2", "3"]
    slice_w = 42 / pages
    for i, annot in enumerate(found):
        x, y, w, h = boundary(annot)
        cx, cy, cw, ch = boundary(annot, "Clip")
        assert (w, h) == (42, 40)  # the whole picture, partly off the page
        assert y == pytest.approx((297 - 40) / 2)
        assert (cx, cy, cw, ch) == pytest.approx((i * slice_w, 0, slice_w, 40), abs=1e-3)
        # the visible slice ends exactly at the page's right edge
        assert x + cx == pytest.approx(210 - slice_w, abs=1e-3)
        assert x + cx + cw == pytest.approx(210, abs=1e-3)
    assert all_ok(sealed)


def test_seal_across_pages_at_a_given_height_and_needs_two_pages(sealer: Sealer, one_page: Doc) -> None:
    sealed = sealer(document(2).ofd, OfdPlacement.across(y=50))
    assert [boundary(a)[1] for a in annots(sealed)] == [50, 50]
    with pytest.raises(InvalidInput, match="at least two pages"):
        sealer(one_page.ofd, OfdPlacement.across())
    with pytest.raises(InvalidInput, match="runs off page"):
        sealer(document(2).ofd, OfdPlacement.across(y=280))


@pytest.mark.parametrize(
    ("placement", "message"),
    [
        (OfdPlacement.box(2, 10, 10, 40, 40), "page 2 is out of range: the document has 1 page"),
        (OfdPlacement.box(1, 180, 10, 40, 40), "not inside page 1"),
        (OfdPlacement.box(1, 10, 270, 40, 40), "not inside page 1"),
        (OfdPlacement.box(1, -1, 10, 40, 40), "not inside page 1"),
        (OfdPlacement.on_keyword("盖章处", width=300, height=40), "larger than page 1"),
    ],
)
def test_placements_off_the_document_are_refused(
    sealer: Sealer, one_page: Doc, placement: OfdPlacement, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        sealer(one_page.ofd, placement)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"page": 0, "x": 1, "y": 1, "width": 1, "height": 1},
        {"page": True, "x": 1, "y": 1, "width": 1, "height": 1},
        {"page": 1, "x": 1, "y": 1, "width": 1},
        {"page": 1, "x": float("nan"), "y": 1, "width": 1, "height": 1},
        {"page": 1, "x": 1, "y": 1, "width": 0, "height": 1},
        {"keyword": "  "},
        {"keyword": "x" * 201},
        {"keyword": "x", "page": 1},
        {"keyword": "x", "occurrence": 0},
        {"across_pages": True, "page": 1},
        {"across_pages": True, "keyword": "x"},
        {},
    ],
)
def test_placement_fields_must_make_exactly_one_mode(kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidInput):
        OfdPlacement(**kwargs)  # type: ignore[arg-type]


# --- time-stamps and other algorithms -----------------------------------------------------------------------


def test_a_time_stamp_from_our_tsa_covers_the_signature_value(sealer: Sealer, one_page: Doc) -> None:
    authority = hierarchy(KeyAlgorithm.SM2).authority()
    stamped_at = SIGNED_AT + timedelta(seconds=2)

    def tsa(request: bytes) -> bytes:
        return authority.stamp(parse_timestamp_request(request), serial=7, now=stamped_at)

    sealed = sealer(one_page.ofd, timestamper=tsa_timestamper(tsa))
    signature = ses.parse_signature(files(sealed)[f"{SIGN_0}/SignedValue.dat"], lenient=False)
    assert signature.timestamp is not None
    (result,) = check_ofd_signatures(sealed)
    assert result.ok, result.failures
    assert result.check("timestamp") is not None
    assert result.timestamp_time == stamped_at.replace(microsecond=0)
    assert result.timestamp_token == signature.timestamp


def test_tsa_timestamper_refuses_a_rejection_and_a_token_for_other_data() -> None:
    authority = hierarchy(KeyAlgorithm.SM2).authority()
    rejected = tsa_timestamper(lambda request: authority.rejection("bad_data_format"))
    with pytest.raises(InvalidInput, match="did not grant"):
        rejected(b"signature")
    other = tsa_timestamper(
        lambda request: authority.stamp(
            parse_timestamp_request(
                tsp.TimeStampReq(
                    {
                        "version": "v1",
                        "message_imprint": {
                            "hash_algorithm": {"algorithm": "sm3"},
                            "hashed_message": sm3(b"x"),
                        },
                    }
                ).dump()
            ),
            serial=8,
            now=SIGNED_AT,
        )
    )
    with pytest.raises(InvalidInput, match="does not stamp"):
        other(b"signature")
    with pytest.raises(MalformedInput):
        tsa_timestamper(lambda request: b"\x30\x00")(b"signature")
    with pytest.raises(UnsupportedAlgorithm):
        tsa_timestamper(lambda request: b"", hash_algorithm="md5")


def test_an_ecdsa_seal_names_its_algorithm_and_hashes_with_sha256(one_page: Doc) -> None:
    sealer = make_sealer(KeyAlgorithm.ECDSA_P256)
    sealed = sealer(one_page.ofd)
    after = files(sealed)
    root = xml(after[f"{SIGN_0}/Signature.xml"])
    assert root.findtext("ofd:SignedInfo/ofd:SignatureMethod", namespaces=NS) == "1.2.840.10045.4.3.2"
    refs = root.find("ofd:SignedInfo/ofd:References", NS)
    assert refs is not None and refs.get("CheckMethod") == SM3_OID
    signature = ses.parse_signature(after[f"{SIGN_0}/SignedValue.dat"], lenient=False)
    assert signature.data_hash == hashlib.sha256(after[f"{SIGN_0}/Signature.xml"]).digest()
    (result,) = check_ofd_signatures(sealed)
    assert result.ok, result.failures


# --- refusals -----------------------------------------------------------------------------------------------


def test_a_seal_or_certificate_not_valid_at_the_signing_time_is_refused(
    sealer: Sealer, one_page: Doc
) -> None:
    with pytest.raises(InvalidInput, match="seal is valid from"):
        sealer(one_page.ofd, time_info=NOW + timedelta(days=4 * 365))
    with pytest.raises(InvalidInput, match="seal is valid from"):
        sealer(one_page.ofd, time_info=NOW - timedelta(seconds=1))
    with pytest.raises(InvalidInput, match="timezone-aware"):
        sealer(one_page.ofd, time_info=SIGNED_AT.replace(tzinfo=None))


def test_a_signer_not_listed_in_the_seal_is_refused(sealer: Sealer, one_page: Doc) -> None:
    other = make_pki()
    with pytest.raises(InvalidInput, match="not listed"):
        sealer(one_page.ofd, signer_cert_der=other.signer_cert, signer=other.signer.signer)
    with pytest.raises(InvalidInput, match="key"):
        sealer(one_page.ofd, signer=other.signer.signer)


def test_an_unusable_seal_is_refused(sealer: Sealer, one_page: Doc) -> None:
    broken = bytearray(sealer.seal)
    broken[len(broken) // 2] ^= 1
    with pytest.raises(InvalidInput, match="seal cannot be used"):
        sealer(one_page.ofd, seal_der=bytes(broken))
    with pytest.raises(InvalidInput, match="bytes"):
        sealer(one_page.ofd, seal_der="not bytes")


@pytest.mark.parametrize(
    "kwargs",
    [{"provider_name": ""}, {"provider_version": "x\ny"}, {"company": "c" * 201}, {"protect_signatures": 1}],
)
def test_bad_options_are_refused(sealer: Sealer, one_page: Doc, kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidInput):
        sealer(one_page.ofd, None, **kwargs)


def zip_of(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(zipfile.ZipInfo(name), data, compress_type=zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def test_bad_packages_get_typed_errors_from_the_package_layer(sealer: Sealer, one_page: Doc) -> None:
    with pytest.raises(MalformedInput, match="not an OFD package"):
        sealer(b"%PDF-1.7 not a zip")
    traversal = zip_of({**files(one_page.ofd), "../../etc/evil.xml": b"<x/>"})
    with pytest.raises(MalformedInput, match="entry"):
        sealer(traversal)
    bomb = zip_of({**files(one_page.ofd), "Doc_0/Res/zeros.bin": bytes(4 * 1024 * 1024)})
    with pytest.raises(PayloadTooLarge):
        sealer(bomb)
    with pytest.raises(PayloadTooLarge):
        sealer(one_page.ofd, limits=Limits(max_package_bytes=1000))
    for bad in (b"%PDF", traversal, bomb):
        with pytest.raises((MalformedInput, PayloadTooLarge)):
            check_ofd_signatures(bad)
