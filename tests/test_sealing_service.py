"""Document sealing (trustsvc.sealing): PDF and OFD sealed with a registered seal for a granted
principal, time-stamped by our own TSA, B-LT data from our own OCSP and CRLs, placed where asked, audited;
typed refusals.

The clock here stands near the real time: pyHanko (validation, signing time) and the PDF layer's seal check
read the system clock, and the service's certificates, seals, OCSP answers and TSA tokens must be current
by it. Helpers shared with tests/test_seal_document_route.py and tests/test_sign_cli.py live here.
"""

from __future__ import annotations

import dataclasses
import io
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import cms, crl, ocsp, tsp, x509
from pyhanko.sign.validation.status import PdfSignatureStatus, SignatureCoverageLevel
from sqlalchemy import func, select

from tests.conftest import FakeClock
from tests.test_ofd_signing import Doc, document
from tests.test_pdf_sealing import (
    PDFTOPPM,
    box_px,
    cjk_page,
    embedded,
    embedded_revocation_data,
    encrypted_pdf,
    make_pdf,
    red_pixels,
    render,
    validate,
    widget_rect,
)
from trustsvc.audit import AuditRecord
from trustsvc.auth import create_api_key
from trustsvc.ca.models import ServiceRole
from trustsvc.ca.profiles import ProfileKind
from trustsvc.ca.status_models import TimestampTokenRecord
from trustsvc.errors import (
    Forbidden,
    InvalidInput,
    InvalidState,
    MalformedInput,
    NotFound,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from trustsvc.keys.algorithms import KeyAlgorithm
from trustsvc.keys.sm3 import sm3
from trustsvc.ofd.verification import OfdSignatureCheck, check_ofd_signatures
from trustsvc.pdf import Placement, placement_for_keyword, seal_from_signer_info, sm2_validation_context
from trustsvc.sealing import AUDIT_ACTION, DocumentSealer, SealedDocument, SealPlacement, detect_format
from trustsvc.service import TrustService

ORG = "91110000600037341L"
ORG_NAME = "北京市某某科技有限公司"
SEAL_MM = 40  # the contract seal's picture: 40 x 40 mm


@pytest.fixture
def clock() -> FakeClock:
    """A pinned clock at the real time (see the module docstring)."""
    return FakeClock(datetime.now(UTC).replace(microsecond=0))


# --- a service with a seal and a granted API key ---------------------------------------------------


@dataclass
class Setup:
    service: TrustService
    es_id: str
    principal: str
    headers: dict[str, str]

    @property
    def root(self) -> x509.Certificate:
        return self.service.ca.ca("sm2-root").certificate

    def seal(self, data: bytes, placement: SealPlacement | None = None, **kwargs: Any) -> SealedDocument:
        options: dict[str, Any] = {"es_id": self.es_id, "principal": self.principal}
        options.update(kwargs)
        return self.service.sealer.seal_document(data, placement=placement or BOX, **options)

    def seal_der(self) -> bytes:
        return self.service.seals.get(self.es_id).seal.seal_der


BOX = SealPlacement.box(1, 20, 30)


def api_key(service: TrustService, *roles: str, name: str = "审批系统") -> tuple[dict[str, str], str]:
    """Return the Authorization header and principal of a new API key with ``roles``."""
    with service.session() as session, session.begin():
        key, token = create_api_key(session, name, list(roles))
        return {"Authorization": f"Bearer {token}"}, f"apikey:{key.prefix}"


def make_setup(service: TrustService) -> Setup:
    service.ca.init_pki(KeyAlgorithm.SM2, actor="test")
    headers, principal = api_key(service, "business-system")
    made = service.seals.create_seal(ORG, ORG_NAME, "contract", actor="test", authorised=[principal])
    assert (made.picture_width_mm, made.picture_height_mm) == (SEAL_MM, SEAL_MM)
    return Setup(service, made.seal.es_id, principal, headers)


@pytest.fixture
def setup(service: TrustService) -> Setup:
    return make_setup(service)


@pytest.fixture(scope="module")
def two_pages() -> Doc:
    return document(2)


# --- checks of the output ------------------------------------------------------------------------


def pdf_status(setup: Setup, data: bytes, *, level: str = "B-B", index: int = 0) -> PdfSignatureStatus:
    """Validate with pyHanko trusting only our root; B-LT: hard-fail on the embedded data alone."""
    if level == "B-LT":
        ocsps, crls = embedded_revocation_data(data, KeyAlgorithm.SM2)
        context = sm2_validation_context(
            trust_roots=[setup.root], ocsps=ocsps, crls=crls, revocation_mode="hard-fail"
        )
    else:
        context = sm2_validation_context(trust_roots=[setup.root], revocation_mode="soft-fail")
    return validate(data, context, index)


def ofd_checks(data: bytes) -> list[OfdSignatureCheck]:
    results = check_ofd_signatures(data)
    assert results and all(r.ok for r in results), [r.failures for r in results]
    return results


def audit_records(service: TrustService, action: str = AUDIT_ACTION) -> list[AuditRecord]:
    with service.session(read_only=True) as session, session.begin():
        rows = session.execute(
            select(AuditRecord).where(AuditRecord.action == action).order_by(AuditRecord.seq)
        ).scalars()
        records = list(rows)
        session.expunge_all()
    return records


def verify_audit(service: TrustService) -> int:
    with service.session(read_only=True) as session, session.begin():
        return service.audit.verify(session)


def zip_of(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(zipfile.ZipInfo(name), data, compress_type=zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def files_of(ofd: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(ofd)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def zip_bomb(doc: Doc) -> bytes:
    """The document plus 4 MiB of zeros, which deflate about 1000:1 (the reader caps the ratio at 200)."""
    return zip_of({**files_of(doc.ofd), "Doc_0/Res/zeros.bin": bytes(4 * 1024 * 1024)})


def path_traversal(doc: Doc) -> bytes:
    return zip_of({**files_of(doc.ofd), "../../etc/evil.xml": b"<x/>"})


PNG = b"\x89PNG\r\n\x1a\n" + bytes(32)


# --- PDF -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("level", ["B-B", "B-T", "B-LT"])
def test_pdf_is_sealed_at_each_level_validates_and_is_audited(
    setup: Setup, clock: FakeClock, level: str
) -> None:
    pdf = make_pdf(2)
    sealed = setup.seal(pdf, SealPlacement.box(2, 120, 200), level=level, reason="同意", location="某市")

    assert (sealed.format, sealed.media_type, sealed.es_id, sealed.level) == (
        "pdf",
        "application/pdf",
        setup.es_id,
        level,
    )
    assert sealed.pages == (2,)
    assert sealed.sm3 == sm3(sealed.data).hex() and len(sealed.sha256) == 64
    assert sealed.signed_at == clock.now
    assert sealed.data.startswith(pdf)  # one more revision appended: every earlier byte kept

    status = pdf_status(setup, sealed.data, level=level)
    assert (status.intact, status.valid, status.trusted, status.bottom_line) == (True, True, True, True)
    assert status.coverage is SignatureCoverageLevel.ENTIRE_FILE
    sig = embedded(sealed.data)
    assert seal_from_signer_info(sig.signer_info) == setup.seal_der()  # the registry's SESeal, signed
    assert format(sig.signer_cert.serial_number, "x") == sealed.signer_serial
    assert sig.sig_object["/Reason"] == "同意"
    assert widget_rect(sealed.data)[0] == pytest.approx(120 * 72 / 25.4, abs=0.01)

    unsigned = sig.signer_info["unsigned_attrs"]
    if level == "B-B":
        assert status.timestamp_validity is None
    else:
        # the token comes from our SM2 TSA, stamped at the service clock's time, and is registered
        tst = status.timestamp_validity
        assert tst is not None and tst.trusted
        assert tst.timestamp == clock.now
        (token,) = [a["values"][0] for a in unsigned if a["type"].native == "signature_time_stamp_token"]
        tsa_cert, _ = setup.service.tsa.certificates("sm2")
        assert any(c.chosen.dump() == tsa_cert.dump() for c in token["content"]["certificates"])
        info = token["content"]["encap_content_info"]["content"].parsed
        with setup.service.session(read_only=True) as session, session.begin():
            serials = session.execute(select(TimestampTokenRecord.serial)).scalars().all()
        assert format(info["serial_number"].native, "x") in serials
    if level == "B-LT":
        ocsps, crls = embedded_revocation_data(sealed.data, KeyAlgorithm.SM2)
        responder = setup.service.ca.service_certificate(ServiceRole.OCSP_RESPONDER, "sm2-issuing")
        assert len(ocsps) == 2  # the seal signer's and the TSA's certificates
        for response in ocsps:
            basic = ocsp.OCSPResponse.load(response.dump()).basic_ocsp_response
            assert [c.dump() for c in basic["certs"]] == [responder.der]
        issuers = {crl.CertificateList.load(c.dump()).issuer.human_friendly for c in crls}
        assert issuers == {setup.root.subject.human_friendly}  # the issuing CA's status, from the root's CRLs
        # without the embedded data a hard-fail validator cannot trust it: the data is what makes it B-LT
        bare = validate(
            sealed.data, sm2_validation_context(trust_roots=[setup.root], revocation_mode="hard-fail")
        )
        assert bare.intact and not bare.trusted

    (record,) = audit_records(setup.service)
    assert (record.actor, record.subject) == (setup.principal, f"seal:{setup.es_id}")
    details = record.details
    assert details["format"] == "pdf" and details["level"] == level and details["pages"] == [2]
    assert details["output_sm3"] == sealed.sm3 and details["input_sm3"] == sm3(pdf).hex()
    assert details["principal"] == setup.principal and details["signer_serial"] == sealed.signer_serial
    assert details["reason"] == "同意" and details["location"] == "某市"
    assert verify_audit(setup.service) >= 1


@pytest.mark.skipif(PDFTOPPM is None, reason="poppler's pdftoppm is not installed")
def test_pdf_seal_is_drawn_inside_the_box_asked_for_and_nowhere_else(setup: Setup, tmp_path: Path) -> None:
    sealed = setup.seal(make_pdf(3), SealPlacement.box(2, 120, 200), level="B-B")
    red = red_pixels(render(sealed.data, 2, tmp_path))
    x0, y0, x1, y1 = box_px(Placement(2, 120, 200, SEAL_MM, SEAL_MM))
    inside = [(x, y) for x, y in red if x0 - 1 <= x <= x1 + 1 and y0 - 1 <= y <= y1 + 1]
    assert len(inside) > 0.05 * (x1 - x0) * (y1 - y0)
    assert len(inside) == len(red), f"{len(red) - len(inside)} red pixels outside the box"
    xs, ys = [x for x, _ in inside], [y for _, y in inside]
    assert min(xs) - x0 < 3 and x1 - max(xs) < 3 and min(ys) - y0 < 3 and y1 - max(ys) < 3
    assert red_pixels(render(sealed.data, 1, tmp_path)) == []  # other pages untouched


def test_pdf_seal_takes_the_size_asked_for(setup: Setup) -> None:
    sealed = setup.seal(make_pdf(), SealPlacement.box(1, 20, 30, width=30, height=20), level="B-B")
    x0, y0, x1, y1 = widget_rect(sealed.data)
    assert (x1 - x0, y1 - y0) == (
        pytest.approx(30 * 72 / 25.4, abs=0.01),
        pytest.approx(20 * 72 / 25.4, abs=0.01),
    )


def test_pdf_keyword_placement_centres_the_seal_on_the_keyword(setup: Setup) -> None:
    pdf = make_pdf(3, extra=cjk_page)
    sealed = setup.seal(pdf, SealPlacement.on_keyword("盖章处"), level="B-B")
    assert sealed.pages == (2,)
    expected = placement_for_keyword(pdf, "盖章处", width_mm=SEAL_MM, height_mm=SEAL_MM)
    x0, _, _, y1 = widget_rect(sealed.data)
    k = 72 / 25.4
    assert x0 == pytest.approx(expected.x_mm * k, abs=0.01)
    assert y1 == pytest.approx(842 - expected.y_mm * k, abs=0.01)
    assert embedded(sealed.data).sig_field["/P"] is not None
    assert pdf_status(setup, sealed.data).bottom_line
    assert audit_records(setup.service)[-1].details["keyword"] == "盖章处"


def test_a_second_seal_keeps_the_first_valid(setup: Setup) -> None:
    first = setup.seal(make_pdf(), level="B-T")
    both = setup.seal(first.data, SealPlacement.box(1, 100, 200), level="B-T")
    one, two = pdf_status(setup, both.data, index=0), pdf_status(setup, both.data, index=1)
    assert one.bottom_line and two.bottom_line
    assert one.coverage is SignatureCoverageLevel.ENTIRE_REVISION
    assert len(audit_records(setup.service)) == 2


def test_b_t_pdf_seals_ask_our_tsa_for_one_sizing_token_in_all_not_one_per_pdf(setup: Setup) -> None:
    """pyHanko sizes a B-T signature with a dummy token: it is asked for once per TSA, not per sealing."""

    def tokens() -> int:
        with setup.service.session() as session:
            return int(session.execute(select(func.count(TimestampTokenRecord.id))).scalar_one())

    setup.seal(make_pdf(), level="B-T")
    after_first = tokens()
    assert after_first == 2  # the sizing token and the signature's own
    for _ in range(3):
        setup.seal(make_pdf(), level="B-T")
    assert tokens() == after_first + 3


def test_ecdsa_signer_is_sealed_as_pades_with_its_own_tsa_and_chain(setup: Setup) -> None:
    """A seal whose signer key is from the ECDSA hierarchy: TSA, OCSP and CRLs follow that hierarchy."""
    service = setup.service
    service.ca.init_pki(KeyAlgorithm.ECDSA_P256, actor="test")
    subject = service.ca.subject_info({"common_name": "合同专用章", "organization": ORG_NAME, "uscc": ORG})
    issued, _ = service.ca.issue_for_new_key(
        "ecdsa-issuing", ProfileKind.SEAL_SIGNER, subject, KeyAlgorithm.ECDSA_P256, actor="test"
    )
    made = service.seals.create_seal(
        ORG, ORG_NAME, "finance", actor="test", signer_cert=issued.der, authorised=[setup.principal]
    )
    sealed = service.sealer.seal_document(
        make_pdf(), es_id=made.seal.es_id, principal=setup.principal, placement=BOX, level="B-LT"
    )
    root = service.ca.ca("ecdsa-root").certificate
    ocsps, crls = embedded_revocation_data(sealed.data, KeyAlgorithm.ECDSA_P256)
    context = sm2_validation_context(trust_roots=[root], ocsps=ocsps, crls=crls, revocation_mode="hard-fail")
    status = validate(sealed.data, context)
    assert status.bottom_line and status.timestamp_validity is not None and status.timestamp_validity.trusted
    assert embedded(sealed.data).sig_object["/SubFilter"] == "/ETSI.CAdES.detached"
    tsa_cert, _ = service.tsa.certificates("ecdsa")
    token = embedded(sealed.data).signer_info["unsigned_attrs"][0]["values"][0]
    assert any(c.chosen.dump() == tsa_cert.dump() for c in token["content"]["certificates"])


# --- OFD -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("level", ["B-B", "B-T"])
def test_ofd_is_sealed_verifies_and_the_stamp_is_where_asked(
    setup: Setup, clock: FakeClock, two_pages: Doc, level: str
) -> None:
    sealed = setup.seal(two_pages.ofd, SealPlacement.box(2, 120, 200), level=level)
    assert (sealed.format, sealed.media_type, sealed.pages) == ("ofd", "application/ofd", (2,))
    (result,) = ofd_checks(sealed.data)
    assert result.type == "Seal" and result.seal is not None
    assert result.seal.der == setup.seal_der()
    assert result.signing_time == clock.now == sealed.signed_at
    assert result.signer_cert is not None
    assert format(x509.Certificate.load(result.signer_cert).serial_number, "x") == sealed.signer_serial
    (annot,) = result.stamp_annots
    assert annot.page_index == 1
    assert annot.boundary == (120, 200, SEAL_MM, SEAL_MM)
    if level == "B-T":
        assert result.timestamp_token is not None and result.timestamp_time == clock.now
        signed = cms.ContentInfo.load(result.timestamp_token)["content"]
        tsa_cert, _ = setup.service.tsa.certificates("sm2")
        assert any(c.chosen.dump() == tsa_cert.dump() for c in signed["certificates"])
        info = signed["encap_content_info"]["content"].parsed
        assert isinstance(info, tsp.TSTInfo)
        assert info["message_imprint"]["hash_algorithm"]["algorithm"].native == "sm3"
    else:
        assert result.timestamp_token is None
    (record,) = audit_records(setup.service)
    assert record.details["format"] == "ofd" and record.details["pages"] == [2]
    assert record.details["output_sm3"] == sealed.sm3


def test_ofd_keyword_placement_centres_the_seal_on_the_keyword(setup: Setup, two_pages: Doc) -> None:
    sealed = setup.seal(two_pages.ofd, SealPlacement.on_keyword("盖章处", width=30, height=30), level="B-B")
    (result,) = ofd_checks(sealed.data)
    (annot,) = result.stamp_annots
    assert annot.page_index == 0 and sealed.pages == (1,)
    assert annot.boundary is not None
    x, y, w, h = annot.boundary
    box = two_pages.boxes["keyword"]
    assert (w, h) == (30, 30)
    assert x + w / 2 == pytest.approx(box.x + box.w / 2, abs=0.01)
    assert y + h / 2 == pytest.approx(box.y + box.h / 2, abs=0.3 * box.size_mm)


def test_ofd_seal_across_pages_has_a_slice_on_every_page(setup: Setup, two_pages: Doc) -> None:
    sealed = setup.seal(two_pages.ofd, SealPlacement.across(), level="B-B")
    assert sealed.pages == (1, 2)
    (result,) = ofd_checks(sealed.data)
    assert [a.page_index for a in result.stamp_annots] == [0, 1]
    assert all(a.clip is not None and a.clip[2] == SEAL_MM / 2 for a in result.stamp_annots)


def test_levels_and_placements_a_format_cannot_do_are_refused(setup: Setup, two_pages: Doc) -> None:
    with pytest.raises(InvalidInput, match="OFD seal is B-B or B-T") as caught:
        setup.seal(two_pages.ofd, level="B-LT")
    assert caught.value.extra["field"] == "level"
    with pytest.raises(InvalidInput, match="OFD documents only"):
        setup.seal(make_pdf(2), SealPlacement.across())
    with pytest.raises(InvalidInput, match="level must be one of"):
        setup.seal(make_pdf(), level="B-LTA")
    assert audit_records(setup.service) == []


# --- who may seal --------------------------------------------------------------------------------


def test_a_principal_without_the_grant_is_forbidden_before_the_document_is_read(setup: Setup) -> None:
    _, stranger = api_key(setup.service, "business-system", name="另一系统")
    with pytest.raises(Forbidden, match=setup.es_id):
        setup.seal(make_pdf(), principal=stranger)
    with pytest.raises(Forbidden):
        setup.seal(b"not even a document", principal=stranger)  # 403, not 415: nothing is parsed first
    with pytest.raises(NotFound):
        setup.seal(make_pdf(), es_id="110000000000999")
    assert audit_records(setup.service) == []


@pytest.mark.parametrize("change", ["suspend", "revoke"])
def test_a_suspended_or_revoked_seal_is_refused_naming_its_state_and_since(
    setup: Setup, clock: FakeClock, change: str
) -> None:
    clock.advance(minutes=5)
    getattr(setup.service.seals, change)(setup.es_id, "遗失", actor="test")
    state = {"suspend": "suspended", "revoke": "revoked"}[change]
    since = clock.now.strftime("%Y-%m-%dT%H:%M:%SZ")
    with pytest.raises(InvalidState, match=f"{state} since {since}") as caught:
        setup.seal(make_pdf())
    assert caught.value.extra == {"seal_status": state, "since": since}
    assert caught.value.status == 409
    assert audit_records(setup.service) == []


# --- typed refusals of the document ---------------------------------------------------------------


def test_format_is_recognised_from_the_bytes(two_pages: Doc) -> None:
    assert detect_format(make_pdf()) == "pdf"
    assert detect_format(b"\xef\xbb\xbf junk before %PDF-1.7") == "pdf"
    assert detect_format(two_pages.ofd) == "ofd"
    for data, seen in [
        (PNG, "a PNG image"),
        (b"\xff\xd8\xff\xe0", "a JPEG image"),
        (b"", "an empty body"),
        (b'{"a": 1}', "JSON text"),
        (b"<html>", "XML or HTML text"),
        ("合同正文".encode(), "text starting '合同正文'"),
        (b"\x00\x01\x02\x03", "bytes starting 00 01 02 03"),
    ]:
        with pytest.raises(UnsupportedMediaType, match="neither a PDF nor an OFD") as caught:
            detect_format(data)
        assert seen in caught.value.detail
        assert caught.value.status == 415


def test_bad_documents_get_typed_4xx_errors(setup: Setup, two_pages: Doc) -> None:
    cases: list[tuple[bytes, dict[str, Any], type[Exception], str | None, int]] = [
        (PNG, {}, UnsupportedMediaType, "PNG image", 415),
        (PNG, {"format": "pdf"}, MalformedInput, "not a PDF .*PNG image", 400),
        (make_pdf(), {"format": "ofd"}, MalformedInput, "not an OFD .*a PDF", 400),
        (b"%PDF-1.7\n garbage", {}, MalformedInput, "could not be read", 400),
        (encrypted_pdf(), {}, InvalidInput, "encrypted", 400),
        (zip_bomb(two_pages), {}, PayloadTooLarge, None, 413),
        (path_traversal(two_pages), {}, MalformedInput, "entry", 400),
        (zip_of({"hello.txt": b"hi"}), {}, MalformedInput, "no OFD.xml", 400),
    ]
    for data, kwargs, error, message, status in cases:
        with pytest.raises(error, match=message) as caught:
            setup.seal(data, **kwargs)
        assert caught.value.status == status  # type: ignore[attr-defined]
    assert audit_records(setup.service) == []


def test_a_page_out_of_range_names_the_page_count(setup: Setup, two_pages: Doc) -> None:
    with pytest.raises(InvalidInput, match=r"page 3 does not exist: the document has 1 page$"):
        setup.seal(make_pdf(), SealPlacement.box(3, 20, 30))
    with pytest.raises(InvalidInput, match="out of range: the document has 2 page"):
        setup.seal(two_pages.ofd, SealPlacement.box(3, 20, 30))
    with pytest.raises(InvalidInput, match="does not fit the page"):
        setup.seal(make_pdf(), SealPlacement.box(1, 200, 30))
    with pytest.raises(InvalidInput, match="does not occur"):
        setup.seal(make_pdf(), SealPlacement.on_keyword("盖章处"))


def test_documents_over_the_size_limit_are_refused(setup: Setup) -> None:
    service = setup.service
    small = DocumentSealer(
        seals=service.seals,
        ca=service.ca,
        ocsp=service.ocsp,
        crls=service.crls,
        tsa=service.tsa,
        sessions=service.session,
        audit=service.audit,
        clock=service.clock,
        settings=dataclasses.replace(service.settings, max_content_length=1000),
    )
    with pytest.raises(PayloadTooLarge, match="limit is 1000") as caught:
        small.seal_document(make_pdf(), es_id=setup.es_id, principal=setup.principal, placement=BOX)
    assert caught.value.status == 413


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({}, "x"),
        ({"page": 1, "x": 20}, "y"),
        ({"page": 0, "x": 1, "y": 1}, "page"),
        ({"x": float("nan"), "y": 1}, "x"),
        ({"x": -1, "y": 1}, "x"),
        ({"x": 1, "y": 1, "width": 0}, "width"),
        ({"keyword": "  "}, "keyword"),
        ({"keyword": "盖章处", "page": 1}, "page"),
        ({"across_pages": True, "keyword": "x"}, "keyword"),
        ({"keyword": "盖章处", "occurrence": 0}, "occurrence"),
    ],
)
def test_placement_fields_are_checked_naming_the_field(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        SealPlacement(**kwargs)
    assert caught.value.extra["field"] == field


def test_the_service_clock_sets_the_ofd_signing_time(setup: Setup, clock: FakeClock, two_pages: Doc) -> None:
    clock.advance(timedelta(hours=2))
    sealed = setup.seal(two_pages.ofd, level="B-T")
    (result,) = ofd_checks(sealed.data)
    assert result.signing_time == result.timestamp_time == clock.now
