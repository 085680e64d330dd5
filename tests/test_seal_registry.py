"""The seal registry: making seals, lifecycle, signers, grants, signing keys, signed status, audit."""

from __future__ import annotations

import base64
import dataclasses
import json
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from asn1crypto import x509
from sqlalchemy import select
from stdnum.iso7064 import mod_11_2

from tests.conftest import FakeClock
from tests.pki import csr_from_signer, sm2_signer
from trustsvc.audit import AuditRecord
from trustsvc.auth import create_api_key
from trustsvc.ca.models import CertificateStatus, IssuedCertificate, ServiceRole
from trustsvc.ca.profiles import ID_KP_SEAL_MAKING
from trustsvc.errors import (
    Forbidden,
    InvalidInput,
    InvalidSignature,
    InvalidState,
    MalformedInput,
    NotFound,
)
from trustsvc.keys.algorithms import KeyAlgorithm
from trustsvc.keys.sm3 import sm3
from trustsvc.seal import registry as registry_module
from trustsvc.seal import ses
from trustsvc.seal.kinds import SealKind
from trustsvc.seal.models import GrantRole, SealState
from trustsvc.seal.picture import SealPictureSpec, render_seal
from trustsvc.seal.registry import (
    DEFAULT_PICTURE_DPI,
    SealRegistry,
    check_es_id,
    make_es_id,
    parse_kind,
    parse_principal,
)
from trustsvc.seal.status import verify_status_answer
from trustsvc.service import TrustService

ACTOR = "test:seal-admin"
ORG = "91110000600037341L"
ORG_NAME = "北京市某某科技有限公司"
OTHER_ORG = "11330105002500287C"


@pytest.fixture
def pki(service: TrustService) -> TrustService:
    service.ca.init_pki(KeyAlgorithm.SM2, actor=ACTOR)
    return service


@pytest.fixture
def clerk(pki: TrustService) -> str:
    """The principal of a business system's API key."""
    with pki.session() as session, session.begin():
        key, _ = create_api_key(session, "审批系统", ["business-system"])
        return f"apikey:{key.prefix}"


def _audit(service: TrustService) -> list[tuple[str, str]]:
    with service.session(read_only=True) as session, session.begin():
        rows = session.execute(select(AuditRecord.action, AuditRecord.subject).order_by(AuditRecord.seq))
        return [(a, s) for a, s in rows]


def _verify_audit(service: TrustService) -> int:
    with service.session(read_only=True) as session, session.begin():
        return service.audit.verify(session)


def _contract_seal(service: TrustService, **kwargs: object) -> registry_module.SealDetails:
    return service.seals.create_seal(ORG, ORG_NAME, "contract", actor=ACTOR, **kwargs)  # type: ignore[arg-type]


# --- making seals --------------------------------------------------------------------------------


def test_made_seal_parses_back_equal_to_its_inputs_and_the_maker_signature_verifies(
    pki: TrustService, clock: FakeClock
) -> None:
    made = _contract_seal(pki, validity_days=365)
    record = made.seal
    parsed = ses.parse_seal(record.seal_der, lenient=False)
    now = clock().replace(microsecond=0)

    assert parsed.version == 4 and parsed.header_version == 4 and parsed.vendor_id == "trustsvc"
    assert parsed.es_id == record.es_id
    assert parsed.seal_type == SealKind.CONTRACT == 4
    assert parsed.name == record.name == f"{ORG_NAME}合同专用章"
    assert parsed.cert_list_type == 1
    assert parsed.signer_certs == (made.signers[0].certificate_der,)
    assert parsed.create_date == parsed.valid_start == now == record.valid_start
    assert parsed.valid_end == now + timedelta(days=365) == record.valid_end
    spec = SealPictureSpec.for_kind(SealKind.CONTRACT, ORG_NAME)
    assert parsed.picture.type == "PNG"
    assert parsed.picture.data == render_seal(spec, dpi=DEFAULT_PICTURE_DPI) == made.picture_data
    assert (parsed.picture.width_mm, parsed.picture.height_mm) == (40, 40)
    assert parsed.warnings == ()

    maker = pki.ca.service_certificate(ServiceRole.SEAL_MAKER, "sm2-issuing")
    assert parsed.maker_cert == maker.der
    assert parsed.sign_alg == "1.2.156.10197.1.501"
    assert ses.verify_seal(parsed) == ()
    assert ses.signer_is_listed(parsed, made.signers[0].certificate_der)
    assert record.seal_sm3 == sm3(record.seal_der).hex()
    assert (record.status, record.version, record.org_uscc, record.kind) == (
        SealState.ACTIVE,
        1,
        ORG,
        SealKind.CONTRACT,
    )


def test_a_new_seal_signer_certificate_is_issued_for_a_new_key_in_the_key_store(pki: TrustService) -> None:
    made = _contract_seal(pki, department="法务部")
    signer = made.signers[0]
    assert signer.key_in_store and signer.issued_by_us
    cert = x509.Certificate.load(signer.certificate_der)
    subject = cert.subject.native
    assert subject["organization_name"] == ORG_NAME
    assert subject["organizational_unit_name"] == "法务部"
    assert subject["organization_identifier"] == f"NTRCN-{ORG}"
    assert cert.extended_key_usage_value.native == ["1.3.6.1.5.5.7.3.36"]  # id-kp-documentSigning
    issued = pki.ca.get("sm2-issuing", cert.serial_number)
    assert issued.profile == "seal-signer" and issued.key_id is not None


def test_es_ids_are_region_serial_and_mod_11_2_check_allocated_by_the_database(pki: TrustService) -> None:
    settings = dataclasses.replace(pki.settings, region_code="330100")
    registry = SealRegistry(pki.session, lambda: pki.keystore, pki.ca, pki.audit, pki.clock, settings)
    first = registry.create_seal(ORG, ORG_NAME, SealKind.FINANCE, actor=ACTOR).seal.es_id
    second = registry.create_seal(ORG, ORG_NAME, SealKind.CONTRACT, actor=ACTOR).seal.es_id
    assert first == make_es_id("330100", 1) and second == make_es_id("330100", 2)
    assert first[:6] == "330100" and first[6:14] == "00000001" and len(first) == 15
    assert mod_11_2.is_valid(first) and check_es_id(first) and check_es_id(second)
    # the service's own registry shares the database counter
    third = _contract_seal(pki).seal.es_id
    assert third == make_es_id("000000", 3)


def test_concurrent_creations_get_distinct_consecutive_es_ids(pki: TrustService) -> None:
    given = pki.ca.issue_from_csr(  # a given certificate: no issuance per seal
        "sm2-issuing",
        csr_from_signer(sm2_signer()),
        "seal-signer",
        subject={"organization": ORG_NAME, "uscc": ORG, "common_name": "UKey"},
        actor=ACTOR,
    ).der

    def make(_: int) -> str:
        return pki.seals.create_seal(ORG, ORG_NAME, "business", actor=ACTOR, signer_cert=given).seal.es_id

    with ThreadPoolExecutor(max_workers=4) as pool:
        made = list(pool.map(make, range(8)))
    assert sorted(made) == [make_es_id("000000", n) for n in range(1, 9)]
    assert _verify_audit(pki) == len(_audit(pki))


def test_es_id_check_character_catches_a_changed_digit() -> None:
    es_id = make_es_id("110000", 12345)
    assert check_es_id(es_id)
    changed = es_id[:8] + str((int(es_id[8]) + 1) % 10) + es_id[9:]
    assert not check_es_id(changed)
    assert make_es_id("110000", 123456789)[6:15] == "123456789"  # serials grow beyond 8 digits


def test_certificate_list_type_2_lists_the_sm3_digest_of_the_signer_certificate(pki: TrustService) -> None:
    made = _contract_seal(pki, cert_list_type=2)
    parsed = ses.parse_seal(made.seal.seal_der, lenient=False)
    certificate = made.signers[0].certificate_der
    assert parsed.cert_list_type == 2 and parsed.signer_certs == ()
    assert parsed.signer_cert_digests == (ses.CertDigest("SM3", sm3(certificate)),)
    assert ses.signer_is_listed(parsed, certificate)
    assert ses.verify_seal(parsed) == ()


def test_a_given_signer_certificate_is_listed_and_linked_to_our_certificate_row(pki: TrustService) -> None:
    issued = pki.ca.issue_from_csr(
        "sm2-issuing",
        csr_from_signer(sm2_signer()),
        "seal-signer",
        subject={"organization": ORG_NAME, "uscc": ORG, "common_name": "UKey"},
        actor=ACTOR,
    )
    made = _contract_seal(pki, signer_cert=issued.der)
    signer = made.signers[0]
    assert signer.certificate_der == issued.der
    assert signer.issued_by_us and not signer.key_in_store  # the holder signs with their own key


def test_only_end_entity_signing_certificates_can_be_a_seals_signer(pki: TrustService) -> None:
    """A CA, our OCSP responder or a TLS client certificate in a seal's signer list would be a mistake."""
    tls = pki.ca.issue_from_csr(
        "sm2-issuing",
        csr_from_signer(sm2_signer()),
        "tls-client",
        subject={"organization": ORG_NAME, "uscc": ORG, "common_name": "业务系统"},
        actor=ACTOR,
    )
    refused = {
        "end entity": pki.ca.ca("sm2-issuing").certificate_der,
        "signer profile": pki.ca.service_certificate(ServiceRole.OCSP_RESPONDER, "sm2-issuing").der,
    }
    refused_tls = {"signer profile": tls.der}
    es_id = _contract_seal(pki).seal.es_id
    for rule, der in [*refused.items(), *refused_tls.items()]:
        with pytest.raises(InvalidInput) as caught:
            pki.seals.add_signer(es_id, actor=ACTOR, signer_cert=der)
        assert caught.value.extra.get("rule") == rule, caught.value.detail
        with pytest.raises(InvalidInput):
            _contract_seal(pki, signer_cert=der)
    assert pki.seals.get(es_id).seal.version == 1  # nothing was re-made


def test_a_legal_representative_seal_needs_the_persons_name_for_its_picture(pki: TrustService) -> None:
    with pytest.raises(InvalidInput, match="person's name"):
        pki.seals.create_seal(ORG, ORG_NAME, "legal-representative", actor=ACTOR)
    made = pki.seals.create_seal(ORG, ORG_NAME, 5, "王小明印", actor=ACTOR, picture={"name": "王小明"})
    assert made.seal.name == "王小明印"
    assert (made.picture_width_mm, made.picture_height_mm) == (20, 20)


def test_picture_fields_can_be_overridden(pki: TrustService) -> None:
    made = pki.seals.create_seal(
        ORG, ORG_NAME, "finance", actor=ACTOR, picture={"shape": "oval", "width_mm": 40, "height_mm": 30}
    )
    assert (made.picture_width_mm, made.picture_height_mm) == (40, 30)
    with pytest.raises(InvalidInput, match="unknown picture field"):
        pki.seals.create_seal(ORG, ORG_NAME, "finance", actor=ACTOR, picture={"colour": "blue"})


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"org_uscc": "91110108MA01ABCD2Y"}, "unified social credit code"),
        ({"kind": "stamp"}, "unknown seal kind"),
        ({"cert_list_type": 3}, "cert_list_type"),
        ({"validity_days": 0}, "validity_days"),
        ({"validity_days": 20 * 365}, "outlive the seal-maker certificate"),
        ({"authorised": ["apikey:000000000000"]}, "no active API key"),
        ({"authorised": ["somebody"]}, "a principal is"),
        ({"org_name": " 前后空格 "}, "surrounding spaces"),
    ],
)
def test_bad_inputs_are_refused_before_anything_is_made(
    pki: TrustService, changes: dict[str, object], message: str
) -> None:
    args: dict[str, object] = {"org_uscc": ORG, "org_name": ORG_NAME, "kind": "contract", **changes}
    before = len(pki.ca.list("sm2-issuing"))
    with pytest.raises(InvalidInput, match=message):
        pki.seals.create_seal(actor=ACTOR, **args)  # type: ignore[arg-type]
    assert len(pki.ca.list("sm2-issuing")) == before  # no signer certificate was issued
    assert pki.seals.list() == []


def test_a_signer_certificate_issued_for_a_seal_that_cannot_be_stored_is_revoked(
    pki: TrustService, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object) -> bytes:
        raise InvalidInput("the maker refuses")

    monkeypatch.setattr(registry_module, "make_seal", broken)
    with pytest.raises(InvalidInput, match="the maker refuses"):
        _contract_seal(pki)
    signers = [c for c in pki.ca.list("sm2-issuing") if c.profile == "seal-signer"]
    assert len(signers) == 1
    assert signers[0].status == CertificateStatus.REVOKED.value
    assert signers[0].reason == "cessation_of_operation"
    assert pki.seals.list() == []
    assert ("seal.create", f"seal:{make_es_id('000000', 1)}") not in _audit(pki)


# --- lifecycle -----------------------------------------------------------------------------------


def test_suspend_resume_revoke_change_the_status_and_its_time(pki: TrustService, clock: FakeClock) -> None:
    es_id = _contract_seal(pki).seal.es_id
    created = clock().replace(microsecond=0)
    assert pki.seals.status(es_id).since == created

    t1 = clock.advance(hours=1).replace(microsecond=0)
    suspended = pki.seals.suspend(es_id, "印章保管人离职", actor=ACTOR).seal
    assert (suspended.status, suspended.since, suspended.reason) == (
        SealState.SUSPENDED,
        t1,
        "印章保管人离职",
    )

    t2 = clock.advance(hours=1).replace(microsecond=0)
    resumed = pki.seals.resume(es_id, actor=ACTOR).seal
    assert (resumed.status, resumed.since) == (SealState.ACTIVE, t2)

    t3 = clock.advance(hours=1).replace(microsecond=0)
    revoked = pki.seals.revoke(es_id, "印章遗失", actor=ACTOR).seal
    assert (revoked.status, revoked.since) == (SealState.REVOKED, t3)
    status = pki.seals.status(es_id)
    assert (status.status, status.since, status.reason) == (SealState.REVOKED, t3, "印章遗失")
    events = pki.seals.get(es_id).events
    assert [(e.from_status, e.to_status) for e in events] == [
        (None, "active"),
        ("active", "suspended"),
        ("suspended", "active"),
        ("active", "revoked"),
    ]


def test_revocation_is_final(pki: TrustService) -> None:
    es_id = _contract_seal(pki).seal.es_id
    pki.seals.revoke(es_id, "注销", actor=ACTOR)
    for change in (
        lambda: pki.seals.resume(es_id, actor=ACTOR),
        lambda: pki.seals.suspend(es_id, "x", actor=ACTOR),
        lambda: pki.seals.revoke(es_id, "again", actor=ACTOR),
    ):
        with pytest.raises(InvalidState, match=r"revoked since .*final") as refused:
            change()
        assert refused.value.extra["seal_status"] == "revoked"


def test_resume_only_from_suspended_and_suspend_only_from_active(pki: TrustService) -> None:
    es_id = _contract_seal(pki).seal.es_id
    with pytest.raises(InvalidState, match="is not suspended"):
        pki.seals.resume(es_id, actor=ACTOR)
    pki.seals.suspend(es_id, "调查", actor=ACTOR)
    with pytest.raises(InvalidState, match="already suspended"):
        pki.seals.suspend(es_id, "again", actor=ACTOR)
    with pytest.raises(InvalidInput, match="reason is required"):
        pki.seals.revoke(es_id, " ", actor=ACTOR)
    pki.seals.revoke(es_id, "注销", actor=ACTOR)  # from suspended


def test_unknown_seals_are_not_found(pki: TrustService) -> None:
    for call in (
        lambda: pki.seals.get("110000000000017"),
        lambda: pki.seals.status("nope"),
        lambda: pki.seals.suspend("x" * 300, "r", actor=ACTOR),
    ):
        with pytest.raises(NotFound):
            call()


def test_a_seal_expires_by_date_and_only_revocation_remains(pki: TrustService, clock: FakeClock) -> None:
    record = _contract_seal(pki, validity_days=30).seal
    clock.advance(days=30)
    status = pki.seals.status(record.es_id)
    assert (status.status, status.since) == (SealState.EXPIRED, record.valid_end)
    assert pki.seals.get(record.es_id).seal.stored_status == "active"  # expiry is derived, not stored
    with pytest.raises(InvalidState, match="expired at"):
        pki.seals.suspend(record.es_id, "late", actor=ACTOR)
    assert [s.es_id for s in pki.seals.list(status="expired")] == [record.es_id]
    assert pki.seals.list(status="active") == []
    assert pki.seals.revoke(record.es_id, "注销", actor=ACTOR).seal.status is SealState.REVOKED


def test_list_filters_by_organisation_kind_status_and_principal(pki: TrustService, clerk: str) -> None:
    a = _contract_seal(pki, authorised=[clerk]).seal.es_id
    b = pki.seals.create_seal(OTHER_ORG, "某某大学", "finance", actor=ACTOR).seal.es_id
    pki.seals.suspend(b, "x", actor=ACTOR)
    assert [s.es_id for s in pki.seals.list()] == [b, a]
    assert [s.es_id for s in pki.seals.list(org=ORG)] == [a]
    assert [s.es_id for s in pki.seals.list(kind="finance")] == [b]
    assert [s.es_id for s in pki.seals.list(status="suspended")] == [b]
    assert [s.es_id for s in pki.seals.list(principal=clerk)] == [a]


# --- applying a seal -----------------------------------------------------------------------------


def test_a_granted_principal_gets_the_seal_certificate_and_key_to_sign_with(
    pki: TrustService, clerk: str, clock: FakeClock
) -> None:
    made = _contract_seal(pki, authorised=[clerk])
    seal_der, certificate, signer = pki.seals.signing_key_for(made.seal.es_id, clerk)
    assert seal_der == made.seal.seal_der
    assert certificate == made.signers[0].certificate_der
    signature = ses.make_signature(
        seal_der,
        sm3(b"<ofd:Signature/>"),
        "/Doc_0/Signs/Sign_0/Signature.xml",
        certificate,
        signer,
        time_info=clock(),
    )
    parsed = ses.parse_signature(signature, lenient=False)
    assert ses.verify_signature_value(parsed) == ()
    assert ses.signer_is_listed(parsed.seal, parsed.signer_cert)


def test_signing_is_refused_to_principals_without_a_sign_grant(pki: TrustService, clerk: str) -> None:
    es_id = _contract_seal(pki).seal.es_id
    with pytest.raises(Forbidden, match="may not apply seal"):
        pki.seals.signing_key_for(es_id, clerk)
    pki.seals.grant(es_id, clerk, "view", actor=ACTOR)
    with pytest.raises(Forbidden):
        pki.seals.signing_key_for(es_id, clerk)
    assert pki.seals.is_granted(es_id, clerk, "view") and not pki.seals.is_granted(es_id, clerk, "sign")
    pki.seals.grant(es_id, clerk, "sign", actor=ACTOR)
    assert pki.seals.signing_key_for(es_id, clerk).seal_der
    pki.seals.revoke_grant(es_id, clerk, "sign", actor=ACTOR)
    with pytest.raises(Forbidden):
        pki.seals.signing_key_for(es_id, clerk)
    with pytest.raises(NotFound):
        pki.seals.revoke_grant(es_id, clerk, "sign", actor=ACTOR)
    assert pki.seals.grant(es_id, "user:张三", actor=ACTOR).grants[-1].principal == "user:张三"


@pytest.mark.parametrize("change", ["suspend", "revoke"])
def test_a_suspended_or_revoked_seal_cannot_be_used_to_sign_and_the_error_says_since_when(
    pki: TrustService, clerk: str, clock: FakeClock, change: str
) -> None:
    es_id = _contract_seal(pki, authorised=[clerk]).seal.es_id
    when = clock.advance(minutes=5).replace(microsecond=0)
    getattr(pki.seals, change)(es_id, "印章遗失", actor=ACTOR)
    status = "suspended" if change == "suspend" else "revoked"
    with pytest.raises(InvalidState) as refused:
        pki.seals.signing_key_for(es_id, clerk)
    stamp = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert f"it is {status} since {stamp}" in refused.value.detail
    assert refused.value.extra == {"seal_status": status, "since": stamp}
    assert refused.value.to_problem()["status"] == 409


def test_an_expired_seal_cannot_be_used_to_sign(pki: TrustService, clerk: str, clock: FakeClock) -> None:
    record = _contract_seal(pki, authorised=[clerk], validity_days=10).seal
    clock.advance(days=10, seconds=1)
    with pytest.raises(InvalidState, match="it is expired at") as refused:
        pki.seals.signing_key_for(record.es_id, clerk)
    assert refused.value.extra["seal_status"] == "expired"
    assert refused.value.extra["since"] == record.valid_end.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_a_revoked_signer_certificate_cannot_sign(pki: TrustService, clerk: str) -> None:
    made = _contract_seal(pki, authorised=[clerk])
    pki.ca.revoke("sm2-issuing", int(made.signers[0].serial, 16), "keyCompromise", actor=ACTOR)
    with pytest.raises(InvalidState, match="is revoked"):
        pki.seals.signing_key_for(made.seal.es_id, clerk)


def test_the_service_never_signs_with_a_key_a_caller_merely_points_at(pki: TrustService, clerk: str) -> None:
    # The issuing CA's and the seal maker's certificates are public and their keys are in our store:
    # listing one must never make its key a seal-signing key. They cannot be listed at all.
    maker = pki.ca.service_certificate(ServiceRole.SEAL_MAKER, "sm2-issuing")
    assert maker.key_id is not None
    for der in (pki.ca.ca("sm2-issuing").certificate_der, maker.der):
        with pytest.raises(InvalidInput, match=r"end entity|seal-signer"):
            _contract_seal(pki, signer_cert=der, authorised=[clerk])
    # a seal-signer certificate of ours whose key a holder keeps is listed, and never signed with here
    holders = pki.ca.issue_from_csr(
        "sm2-issuing",
        csr_from_signer(sm2_signer()),
        "seal-signer",
        subject={"organization": ORG_NAME, "uscc": ORG, "common_name": "UKey"},
        actor=ACTOR,
    )
    made = _contract_seal(pki, signer_cert=holders.der, authorised=[clerk])
    assert not made.signers[0].key_in_store
    with pytest.raises(InvalidState, match="no signer whose key is in this service's key store"):
        pki.seals.signing_key_for(made.seal.es_id, clerk)


# --- signers -------------------------------------------------------------------------------------


def test_changing_signers_re_makes_the_seal_under_the_same_es_id_and_keeps_history(
    pki: TrustService, clerk: str, clock: FakeClock
) -> None:
    made = _contract_seal(pki, authorised=[clerk])
    es_id, first = made.seal.es_id, made.signers[0]
    t1 = clock.advance(hours=1).replace(microsecond=0)
    added = pki.seals.add_signer(es_id, actor=ACTOR)
    assert added.seal.es_id == es_id and added.seal.version == 2
    second = added.signers[1]
    v2 = ses.parse_seal(added.seal.seal_der, lenient=False)
    assert v2.signer_certs == (first.certificate_der, second.certificate_der)
    assert v2.create_date == t1 and v2.valid_end == made.seal.valid_end and v2.es_id == es_id
    assert v2.picture == ses.parse_seal(made.seal.seal_der).picture
    assert ses.verify_seal(v2) == ()
    assert [(v.version, v.superseded_at) for v in added.versions] == [(1, t1), (2, None)]
    # the newest signer is the one handed out
    assert pki.seals.signing_key_for(es_id, clerk).certificate_der == second.certificate_der

    clock.advance(hours=1)
    removed = pki.seals.remove_signer(es_id, second.cert_sm3, actor=ACTOR, revoke_certificate=True)
    assert removed.seal.version == 3
    assert ses.parse_seal(removed.seal.seal_der).signer_certs == (first.certificate_der,)
    assert pki.ca.get("sm2-issuing", int(second.serial, 16)).status == "revoked"
    assert pki.seals.signing_key_for(es_id, clerk).certificate_der == first.certificate_der
    with pytest.raises(InvalidState, match="only signer"):
        pki.seals.remove_signer(es_id, first.cert_sm3, actor=ACTOR)
    status = pki.seals.status(es_id)
    assert [v.version for v in status.superseded] == [1, 2]
    assert status.seal_sm3 == sm3(removed.seal.seal_der).hex()


def test_signers_of_a_revoked_seal_cannot_change(pki: TrustService) -> None:
    es_id = _contract_seal(pki).seal.es_id
    pki.seals.revoke(es_id, "注销", actor=ACTOR)
    before = len(pki.ca.list("sm2-issuing"))
    with pytest.raises(InvalidState, match="revoked since"):
        pki.seals.add_signer(es_id, actor=ACTOR)
    assert len(pki.ca.list("sm2-issuing")) == before


# --- status answers ------------------------------------------------------------------------------


def test_the_signed_status_answer_verifies_and_says_status_and_since(
    pki: TrustService, clock: FakeClock
) -> None:
    record = _contract_seal(pki).seal
    when = clock.advance(minutes=1).replace(microsecond=0)
    pki.seals.suspend(record.es_id, "内部原因", actor=ACTOR)
    answer, produced = pki.seals.signed_status(record.es_id, nonce="abc123")
    verified = verify_status_answer(answer, required_purpose=ID_KP_SEAL_MAKING)
    body = verified.statement
    assert body["type"] == "trustsvc.seal-status"
    assert (body["es_id"], body["status"], body["since"]) == (
        record.es_id,
        "suspended",
        when.strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
    assert body["nonce"] == "abc123"
    assert body["produced_at"] == produced.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert body["seal"] == {"version": 1, "sm3": record.seal_sm3}
    assert "reason" not in body and "内部原因" not in answer.decode()  # the free text stays private
    maker = pki.ca.service_certificate(ServiceRole.SEAL_MAKER, "sm2-issuing")
    assert verified.signer_certificate == maker.der == ses.parse_seal(record.seal_der).maker_cert
    assert verified.certificates[1] == pki.ca.ca("sm2-issuing").certificate_der


def test_status_answers_are_reused_until_stale_or_changed(pki: TrustService, clock: FakeClock) -> None:
    es_id = _contract_seal(pki).seal.es_id
    first, _ = pki.seals.signed_status(es_id)
    clock.advance(seconds=30)
    assert pki.seals.signed_status(es_id)[0] == first
    clock.advance(seconds=31)
    second, _ = pki.seals.signed_status(es_id)
    assert second != first
    pki.seals.revoke(es_id, "注销", actor=ACTOR)
    third, _ = pki.seals.signed_status(es_id)
    assert verify_status_answer(third).statement["status"] == "revoked"
    with pytest.raises(InvalidInput, match="nonce"):
        pki.seals.signed_status(es_id, nonce="has space")


def test_a_tampered_status_answer_does_not_verify(pki: TrustService) -> None:
    answer, _ = pki.seals.signed_status(_contract_seal(pki).seal.es_id)
    envelope = json.loads(answer)
    statement = json.loads(base64.b64decode(envelope["payload"]))
    statement["status"] = "active" if statement["status"] != "active" else "revoked"
    envelope["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    with pytest.raises(InvalidSignature):
        verify_status_answer(json.dumps(envelope).encode())
    with pytest.raises(MalformedInput):
        verify_status_answer(b"{}")
    with pytest.raises(InvalidSignature, match="seal-maker"):
        verify_status_answer(answer, required_purpose="1.2.3.4")


# --- audit ---------------------------------------------------------------------------------------


def test_every_change_is_audited_and_the_chain_verifies(pki: TrustService, clerk: str) -> None:
    es_id = _contract_seal(pki).seal.es_id
    pki.seals.grant(es_id, clerk, actor=ACTOR)
    pki.seals.suspend(es_id, "x", actor=ACTOR)
    pki.seals.resume(es_id, "ok", actor=ACTOR)
    added = pki.seals.add_signer(es_id, actor=ACTOR)
    pki.seals.remove_signer(es_id, added.signers[1].cert_sm3, actor=ACTOR)
    pki.seals.revoke_grant(es_id, clerk, actor=ACTOR)
    pki.seals.revoke(es_id, "注销", actor=ACTOR)
    seal_actions = [a for a, s in _audit(pki) if s == f"seal:{es_id}"]
    assert seal_actions == [
        "seal.create",
        "seal.grant",
        "seal.suspend",
        "seal.resume",
        "seal.signer.add",
        "seal.signer.remove",
        "seal.grant.revoke",
        "seal.revoke",
    ]
    assert _verify_audit(pki) == len(_audit(pki))
    with pki.session(read_only=True) as session, session.begin():
        created = session.execute(select(AuditRecord).where(AuditRecord.action == "seal.create")).scalar_one()
        assert created.actor == ACTOR
        assert created.details["org_uscc"] == ORG and created.details["kind"] == 4
        assert (
            session.execute(select(IssuedCertificate).where(IssuedCertificate.profile == "seal-signer"))
            .scalars()
            .all()
        )


# --- small parsers -------------------------------------------------------------------------------


def test_kinds_by_code_or_name_and_principals() -> None:
    assert parse_kind("contract") is parse_kind(4) is parse_kind("4") is SealKind.CONTRACT
    assert parse_kind("legal_representative") is SealKind.LEGAL_REPRESENTATIVE
    with pytest.raises(InvalidInput):
        parse_kind(True)
    assert parse_principal("apikey:0123456789ab") == "apikey:0123456789ab"
    assert parse_principal("user:张三") == "user:张三"
    for bad in ("apikey:xyz", "user:", "user: x", "clerk:1", "user:a\nb"):
        with pytest.raises(InvalidInput):
            parse_principal(bad)
    assert GrantRole("sign") is GrantRole.SIGN
