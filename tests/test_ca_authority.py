"""The certificate authority service: embedded PKI, issuance, revocation, hold/release, CRLs, audit."""

from __future__ import annotations

import shutil
import stat
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from asn1crypto import crl, x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from sqlalchemy import func, select

from tests.conftest import FakeClock
from tests.pki import SUBJECT_CN, SUBJECT_O, cryptography_csr, csr_from_signer, sm2_signer
from trustsvc import config
from trustsvc.audit import AuditRecord
from trustsvc.ca import authority as authority_module
from trustsvc.ca.authority import CertificateAuthorityService, parse_reason, reason_name, subject_from_name
from trustsvc.ca.models import CertificateStatus, IssuedCertificate, ServiceRole, parse_serial, serial_hex
from trustsvc.ca.profiles import (
    DEFAULT_POLICY_OID,
    ID_KP_SEAL_MAKING,
    ProfileKind,
    SubjectInfo,
    pseudonymous_person_id,
    uscc_of,
)
from trustsvc.ca.x509 import RevocationReason
from trustsvc.config import Settings
from trustsvc.errors import (
    Conflict,
    InvalidInput,
    InvalidSignature,
    InvalidState,
    KeyStoreError,
    MalformedInput,
    NotFound,
)
from trustsvc.keys.algorithms import KeyAlgorithm, signature_algorithm_of
from trustsvc.keys.signer import verify
from trustsvc.service import TrustService

ACTOR = "test:operator"


@pytest.fixture
def ca(service: TrustService) -> CertificateAuthorityService:
    """The service's CA with the SM2 and ECDSA hierarchies made."""
    service.ca.init_pki(KeyAlgorithm.SM2, actor=ACTOR)
    service.ca.init_pki(KeyAlgorithm.ECDSA_P256, actor=ACTOR)
    return service.ca


@pytest.fixture(scope="module")
def ecdsa_csr() -> bytes:
    return cryptography_csr(ec.generate_private_key(ec.SECP256R1()))


def _actions(service: TrustService) -> list[tuple[str, str]]:
    with service.session(read_only=True) as session, session.begin():
        rows = session.execute(
            select(AuditRecord.action, AuditRecord.subject).order_by(AuditRecord.seq)
        ).all()
    return [(a, s) for a, s in rows]


def _verify_audit(service: TrustService) -> int:
    with service.session(read_only=True) as session, session.begin():
        return service.audit.verify(session)


def _signed_by(child_der: bytes, issuer_der: bytes) -> None:
    child = x509.Certificate.load(child_der)
    issuer = x509.Certificate.load(issuer_der)
    verify(
        issuer.public_key,
        signature_algorithm_of(child["signature_algorithm"]),
        child["tbs_certificate"].dump(),
        child.signature,
    )


def _crl_entries(der: bytes) -> dict[int, dict[str, object]]:
    cert_list = crl.CertificateList.load(der)
    entries = {}
    for revoked in cert_list["tbs_cert_list"]["revoked_certificates"]:
        extensions = {e["extn_id"].native: e["extn_value"].native for e in revoked["crl_entry_extensions"]}
        entries[revoked["user_certificate"].native] = extensions
    return entries


def _crl_number(der: bytes) -> int:
    return int(crl.CertificateList.load(der).crl_number_value.native)


# --- the embedded PKI ----------------------------------------------------------------------------


def test_init_pki_makes_root_issuing_and_service_certificates_once(service: TrustService) -> None:
    first = service.ca.init_pki(KeyAlgorithm.SM2, actor=ACTOR)
    assert first.created == [
        "certificate authority sm2-root",
        "certificate authority sm2-issuing",
        "ocsp-responder certificate of sm2-issuing",
        "tsa certificate of sm2-issuing",
        "seal-maker certificate of sm2-issuing",
    ]
    assert len(first.hierarchy) == 5
    again = service.ca.init_pki(KeyAlgorithm.SM2, actor=ACTOR)
    assert again.created == []
    assert again.hierarchy == first.hierarchy
    # a fresh service object (another process) finds the same PKI in the database
    other = CertificateAuthorityService(
        service.session, lambda: service.keystore, service.audit, service.clock, service.settings
    )
    assert other.init_pki(KeyAlgorithm.SM2, actor=ACTOR).created == []
    assert [info.name for info in service.ca.cas()] == ["sm2-root", "sm2-issuing"]
    assert [a for a, _ in _actions(service)] == ["ca.create", "ca.create"] + ["certificate.issue"] * 3
    assert _verify_audit(service) == 5


def test_sm2_and_ecdsa_hierarchies_coexist(ca: CertificateAuthorityService, service: TrustService) -> None:
    names = {info.name: info for info in ca.cas()}
    assert set(names) == {"sm2-root", "sm2-issuing", "ecdsa-root", "ecdsa-issuing"}
    for prefix, algorithm in (("sm2", KeyAlgorithm.SM2), ("ecdsa", KeyAlgorithm.ECDSA_P256)):
        root, issuing = names[f"{prefix}-root"], names[f"{prefix}-issuing"]
        assert (root.algorithm, issuing.algorithm) == (algorithm, algorithm)
        assert issuing.parent_id == root.id and root.parent_id is None
        _signed_by(root.certificate_der, root.certificate_der)
        _signed_by(issuing.certificate_der, root.certificate_der)
        for role in ServiceRole:
            cert = ca.service_certificate(role, issuing.name)
            assert cert.profile == role.value
            assert cert.key_id is not None
            assert service.keystore.get(cert.key_id).algorithm is algorithm
            parsed = x509.Certificate.load(cert.der)
            assert parsed.public_key.dump() == service.keystore.public_key_info(cert.key_id).dump()
            _signed_by(cert.der, issuing.certificate_der)
    # the issuing CA certificates are listed under their roots, so the roots' CRLs can name them
    assert ca.get("sm2-root", parse_serial(names["sm2-issuing"].serial)).profile == "issuing-ca"


def test_pki_names_the_configured_organisation_in_utf8(tmp_path: Path, clock: FakeClock) -> None:
    settings = Settings.from_env(
        {
            "TRUSTSVC_HOME": str(tmp_path / "home"),
            "TRUSTSVC_ORG_NAME": "浙江省大数据发展管理局",
            "TRUSTSVC_ORG_CODE": "11330105002500287C",
        }
    )
    TrustService.init(settings, pki=["sm2"], clock=clock)
    svc = TrustService.from_settings(settings, clock=clock)
    try:
        root = svc.ca.ca("sm2-root").certificate
        subject = root.subject.native
        assert subject["organization_name"] == "浙江省大数据发展管理局"
        assert subject["common_name"] == "浙江省大数据发展管理局 SM2根CA"
        assert uscc_of(root.subject) == "11330105002500287C"
        cn = root.subject.chosen[-1][0]["value"]
        assert cn.name == "utf8_string"
        seal_maker = x509.Certificate.load(svc.ca.service_certificate("seal-maker", "sm2-issuing").der)
        assert seal_maker.extended_key_usage_value.native == [ID_KP_SEAL_MAKING]
    finally:
        svc.close()


def test_placeholder_organisation_is_valid_and_used_by_default(ca: CertificateAuthorityService) -> None:
    from stdnum.cn import uscc

    assert uscc.is_valid(config.PLACEHOLDER_ORG_USCC)
    root = ca.ca("ecdsa-root").certificate
    assert root.subject.native["organization_name"] == config.PLACEHOLDER_ORG_NAME
    assert uscc_of(root.subject) == config.PLACEHOLDER_ORG_USCC


def test_config_placeholders_are_the_profiles_placeholders() -> None:
    assert config.DEFAULT_CERTIFICATE_POLICY_OID == DEFAULT_POLICY_OID
    assert config.DEFAULT_SEAL_MAKING_OID == ID_KP_SEAL_MAKING
    warnings = config.placeholder_warnings(Settings.build(Path("/nonexistent")))
    assert any("certificate_policy_oid" in w for w in warnings)
    configured = Settings.build(
        Path("/nonexistent"),
        certificate_policy_oid="1.2.3.4",
        seal_making_oid="1.2.3.5",
        tsa_policy_oid="1.2.3.6",
        org_name="x",
        org_code="11330105002500287C",
        region_code="330000",
    )
    assert config.placeholder_warnings(configured) == []


def test_configured_policy_oid_and_cps_go_into_issued_certificates(
    tmp_path: Path, clock: FakeClock, ecdsa_csr: bytes
) -> None:
    settings = Settings.from_env(
        {
            "TRUSTSVC_HOME": str(tmp_path / "home"),
            "TRUSTSVC_CERTIFICATE_POLICY_OID": "1.2.156.999.1",
            "TRUSTSVC_CPS_URI": "https://pki.example.cn/cps",
        }
    )
    TrustService.init(settings, pki=["ecdsa-p256"], clock=clock)
    svc = TrustService.from_settings(settings, clock=clock)
    try:
        issued = svc.ca.issue_from_csr("ecdsa-issuing", ecdsa_csr, "tls-client", actor=ACTOR)
        policies = x509.Certificate.load(issued.der).certificate_policies_value.native
        assert policies[0]["policy_identifier"] == "1.2.156.999.1"
        assert policies[0]["policy_qualifiers"][0]["qualifier"] == "https://pki.example.cn/cps"
    finally:
        svc.close()


@pytest.mark.slow
def test_rsa_hierarchy_is_added_next_to_sm2(service: TrustService) -> None:
    service.ca.init_pki("sm2", actor=ACTOR)
    report = service.ca.init_pki("rsa-3072", actor=ACTOR)
    assert "certificate authority rsa-root" in report.created
    root, issuing = service.ca.ca("rsa-root"), service.ca.ca("rsa-issuing")
    assert root.certificate.public_key.bit_size == 3072
    _signed_by(issuing.certificate_der, root.certificate_der)
    assert {i.name for i in service.ca.cas()} == {"sm2-root", "sm2-issuing", "rsa-root", "rsa-issuing"}


def test_pseudonym_key_is_made_at_init_and_kept_secret(settings: Settings) -> None:
    report = TrustService.init(settings)
    assert f"person pseudonym key file {settings.pseudonym_key_file}" in report.created
    assert stat.S_IMODE(settings.pseudonym_key_file.stat().st_mode) == 0o600
    key = config.load_pseudonym_key(settings)
    assert len(key) == 32
    assert TrustService.init(settings).created == []
    assert config.load_pseudonym_key(settings) == key
    from_env = Settings.build(settings.home, person_pseudonym_key="ab" * 16)
    assert config.load_pseudonym_key(from_env) == b"\xab" * 16
    assert "abab" not in repr(from_env)


# --- issuance from CSRs --------------------------------------------------------------------------


def test_ecdsa_csr_subject_is_taken_but_its_extensions_are_not(
    ca: CertificateAuthorityService, service: TrustService, ecdsa_csr: bytes
) -> None:
    issued = ca.issue_from_csr("ecdsa-issuing", ecdsa_csr, "tls-client", actor=ACTOR)
    certificate = x509.Certificate.load(issued.der)
    assert certificate.subject.native == {
        "country_name": "CN",
        "organization_name": SUBJECT_O,
        "common_name": SUBJECT_CN,
    }
    # the CSR asked for CA:TRUE and a subjectAltName: the profile gives neither
    assert certificate.basic_constraints_value.native == {"ca": False, "path_len_constraint": None}
    assert certificate.subject_alt_name_value is None
    assert certificate.extended_key_usage_value.native == ["client_auth"]
    assert certificate.serial_number == issued.serial_number
    assert certificate.serial_number.bit_length() > 64
    assert issued.status == CertificateStatus.GOOD
    assert issued.subject == f"C=CN, O={SUBJECT_O}, CN={SUBJECT_CN}"
    _signed_by(issued.der, ca.ca("ecdsa-issuing").certificate_der)

    action, subject = _actions(service)[-1]
    assert (action, subject) == ("certificate.issue", f"certificate:ecdsa-issuing/{issued.serial}")
    with service.session(read_only=True) as session:
        record = session.execute(select(AuditRecord).order_by(AuditRecord.seq.desc()).limit(1)).scalar_one()
        assert record.actor == ACTOR
        assert record.details["ignored_requested_extensions"] == ["2.5.29.17", "2.5.29.19"]
        assert record.details["source"] == "csr"


def test_rsa_csr_is_issued(ca: CertificateAuthorityService) -> None:
    issued = ca.issue_from_csr(
        "ecdsa-issuing", cryptography_csr(rsa.generate_private_key(65537, 2048)), "tls-client", actor=ACTOR
    )
    assert issued.key_algorithm == "rsa-3072"  # the RSA family; the key size is whatever the CSR holds
    assert x509.Certificate.load(issued.der).public_key.algorithm == "rsa"


def test_sm2_csr_is_issued_by_the_sm2_ca(ca: CertificateAuthorityService) -> None:
    issued = ca.issue_from_csr("sm2-issuing", csr_from_signer(sm2_signer()), "tls-client", actor=ACTOR)
    assert issued.key_algorithm == "sm2"
    _signed_by(issued.der, ca.ca("sm2-issuing").certificate_der)


@pytest.mark.interop
@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl CLI not installed")
def test_sm2_csr_from_the_openssl_cli_with_distid_is_issued(
    ca: CertificateAuthorityService, tmp_path: Path
) -> None:
    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=tmp_path, check=True, capture_output=True)

    run("genpkey", "-algorithm", "SM2", "-out", "key.pem")
    run(
        "req", "-new", "-key", "key.pem", "-sm3", "-sigopt", "distid:1234567812345678", "-utf8",
        "-subj", "/C=CN/O=某市市场监督管理局/OU=行政审批科/CN=某市市场监督管理局行政审批专用章",
        "-out", "req.pem",
    )  # fmt: skip
    issued = ca.issue_from_csr(
        "sm2-issuing",
        (tmp_path / "req.pem").read_bytes(),
        "seal-signer",
        subject={"uscc": "91110000600037341L"},
        actor=ACTOR,
    )
    certificate = x509.Certificate.load(issued.der)
    assert certificate.subject.native["organizational_unit_name"] == "行政审批科"
    assert uscc_of(certificate.subject) == "91110000600037341L"
    assert issued.org_uscc == "91110000600037341L"
    assert certificate.extended_key_usage_value.native == ["1.3.6.1.5.5.7.3.36"]


def test_csr_whose_proof_of_possession_fails_is_refused_and_nothing_is_stored(
    ca: CertificateAuthorityService, service: TrustService
) -> None:
    before = _actions(service)
    with pytest.raises(InvalidSignature, match="proof of possession"):
        ca.issue_from_csr(
            "sm2-issuing", csr_from_signer(sm2_signer(), tamper=True), "tls-client", actor=ACTOR
        )
    with pytest.raises(InvalidSignature, match="empty SM2 user ID"):
        ca.issue_from_csr("sm2-issuing", csr_from_signer(sm2_signer(uid=b"")), "tls-client", actor=ACTOR)
    assert _actions(service) == before
    assert len(ca.list("sm2-issuing")) == 3  # the service certificates only


@pytest.mark.parametrize("data", [b"", b"garbage", b"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n"])
def test_garbage_csr_is_malformed_input(ca: CertificateAuthorityService, data: bytes) -> None:
    with pytest.raises(MalformedInput):
        ca.issue_from_csr("sm2-issuing", data, "tls-client", actor=ACTOR)


def test_truncated_csr_is_malformed_input(ca: CertificateAuthorityService, ecdsa_csr: bytes) -> None:
    for length in (1, 10, len(ecdsa_csr) // 2, len(ecdsa_csr) - 1):
        with pytest.raises(MalformedInput):
            ca.issue_from_csr("ecdsa-issuing", ecdsa_csr[:length], "tls-client", actor=ACTOR)


def test_subject_overrides_and_profile_checks(ca: CertificateAuthorityService, service: TrustService) -> None:
    csr = csr_from_signer(sm2_signer())
    # seal-signer needs the organisation's USCC, which the CSR lacks
    with pytest.raises(InvalidInput, match="requires subject attribute organization_identifier"):
        ca.issue_from_csr("sm2-issuing", csr, "seal-signer", actor=ACTOR)
    issued = ca.issue_from_csr(
        "sm2-issuing",
        csr,
        "seal-signer",
        subject={"uscc": "91110000600037341L", "common_name": "行政审批专用章", "country": None},
        actor=ACTOR,
    )
    assert (
        issued.subject
        == f"C=CN, O={SUBJECT_O}, organizationIdentifier=NTRCN-91110000600037341L, CN=行政审批专用章"
    )
    with pytest.raises(InvalidInput, match="unknown subject attribute"):
        ca.issue_from_csr("sm2-issuing", csr, "tls-client", subject={"email": "x@example.cn"}, actor=ACTOR)
    with pytest.raises(InvalidInput, match="unified social credit code"):
        ca.issue_from_csr(
            "sm2-issuing", csr, "seal-signer", subject={"uscc": "91110000600037341X"}, actor=ACTOR
        )


def test_person_signer_gets_the_keyed_pseudonym_never_the_citizen_id(
    ca: CertificateAuthorityService, service: TrustService
) -> None:
    issued = ca.issue_from_csr(
        "sm2-issuing",
        csr_from_signer(sm2_signer()),
        "person-signer",
        subject={"common_name": "张三", "citizen_id": "11010519491231002X"},
        actor=ACTOR,
    )
    key = config.load_pseudonym_key(service.settings)
    expected = pseudonymous_person_id("11010519491231002X", key=key)
    assert x509.Certificate.load(issued.der).subject.native["serial_number"] == expected
    assert "11010519491231002X" not in issued.subject


def test_csr_subject_attributes_we_do_not_certify_are_refused() -> None:
    name = x509.Name.build({"common_name": "x", "email_address": "x@example.cn"})
    with pytest.raises(InvalidInput, match="do not contain"):
        subject_from_name(name)
    assert subject_from_name(x509.Name.build({"common_name": "x"})) == SubjectInfo(common_name="x")


def test_only_issuing_cas_issue_and_only_leaf_profiles(
    ca: CertificateAuthorityService, ecdsa_csr: bytes
) -> None:
    with pytest.raises(InvalidInput, match="root CA"):
        ca.issue_from_csr("ecdsa-root", ecdsa_csr, "tls-client", actor=ACTOR)
    with pytest.raises(InvalidInput, match="trustsvc init"):
        ca.issue_from_csr("ecdsa-issuing", ecdsa_csr, "issuing-ca", actor=ACTOR)
    with pytest.raises(InvalidInput, match="unknown certificate profile"):
        ca.issue_from_csr("ecdsa-issuing", ecdsa_csr, "nonsense", actor=ACTOR)
    with pytest.raises(NotFound):
        ca.issue_from_csr("no-such-ca", ecdsa_csr, "tls-client", actor=ACTOR)


def test_issue_for_a_key_generated_in_the_key_store(
    ca: CertificateAuthorityService, service: TrustService
) -> None:
    subject = SubjectInfo(
        common_name="某市政务服务中心", organization="某市政务服务中心", uscc="11430000006122244L"
    )
    issued, key_id = ca.issue_for_new_key("sm2-issuing", ProfileKind.SEAL_SIGNER, subject, "sm2", actor=ACTOR)
    assert issued.key_id == key_id
    assert service.keystore.get(key_id).algorithm is KeyAlgorithm.SM2
    certificate = x509.Certificate.load(issued.der)
    assert certificate.public_key.dump() == service.keystore.public_key_info(key_id).dump()
    assert ca.get("sm2-issuing", issued.serial_number).key_id == key_id


def test_a_serial_collision_is_retried_with_a_new_serial(
    ca: CertificateAuthorityService, monkeypatch: pytest.MonkeyPatch, ecdsa_csr: bytes
) -> None:
    taken = ca.issue_from_csr("ecdsa-issuing", ecdsa_csr, "tls-client", actor=ACTOR).serial_number
    serials = iter([taken, taken, taken + 1])
    monkeypatch.setattr(authority_module, "new_serial", lambda: next(serials))
    issued = ca.issue_from_csr("ecdsa-issuing", ecdsa_csr, "tls-client", actor=ACTOR)
    assert issued.serial_number == taken + 1
    monkeypatch.setattr(authority_module, "new_serial", lambda: taken)
    with pytest.raises(Conflict, match="unique certificate serial"):
        ca.issue_from_csr("ecdsa-issuing", ecdsa_csr, "tls-client", actor=ACTOR)


def test_the_database_refuses_a_duplicate_serial_per_ca_but_not_across_cas(
    ca: CertificateAuthorityService, service: TrustService, ecdsa_csr: bytes
) -> None:
    from sqlalchemy.exc import IntegrityError

    issued = ca.issue_from_csr("ecdsa-issuing", ecdsa_csr, "tls-client", actor=ACTOR)

    def copy(ca_id: int) -> IssuedCertificate:
        return IssuedCertificate(
            ca_id=ca_id,
            serial=issued.serial,
            profile=issued.profile,
            subject=issued.subject,
            key_algorithm=issued.key_algorithm,
            not_before=issued.not_before,
            not_after=issued.not_after,
            der=issued.der,
            issued_at=issued.issued_at,
            status="good",
            status_version=0,
        )

    with pytest.raises(IntegrityError), service.session() as session, session.begin():
        session.add(copy(issued.ca_id))
    with service.session() as session, session.begin():
        session.add(copy(ca.ca("sm2-issuing").id))


# --- revocation and CRLs -------------------------------------------------------------------------


def test_revoked_certificate_is_in_the_next_crl_with_its_reason(
    ca: CertificateAuthorityService, service: TrustService, clock: FakeClock, ecdsa_csr: bytes
) -> None:
    issued = ca.issue_from_csr("ecdsa-issuing", ecdsa_csr, "tls-client", actor=ACTOR)
    before = service.crls.current_crl("ecdsa-issuing")
    assert issued.serial_number not in _crl_entries(before)

    compromised = clock.now - timedelta(days=2)
    revoked = ca.revoke("ecdsa-issuing", issued.serial_number, "keyCompromise", compromised, actor=ACTOR)
    assert (revoked.status, revoked.reason) == ("revoked", "key_compromise")

    after = service.crls.current_crl("ecdsa-issuing")
    assert _crl_number(after) > _crl_number(before)
    entry = _crl_entries(after)[issued.serial_number]
    assert entry["crl_reason"] == "key_compromise"
    assert entry["invalidity_date"] == compromised.replace(microsecond=0)
    delta = crl.CertificateList.load(service.crls.current_crl("ecdsa-issuing", delta=True))
    assert delta.delta_crl_indicator_value.native == _crl_number(before)  # the oldest valid base
    assert issued.serial_number in _crl_entries(delta.dump())

    # the revocation's own audit record, then the CRLs it triggered
    assert [a for a, _ in _actions(service)][-3:] == ["certificate.revoke", "crl.issue", "crl.issue"]
    assert ("certificate.revoke", f"certificate:ecdsa-issuing/{issued.serial}") in _actions(service)
    assert _verify_audit(service) > 0


def test_hold_release_and_remove_from_crl_in_the_delta(
    ca: CertificateAuthorityService, service: TrustService, ecdsa_csr: bytes
) -> None:
    issued = ca.issue_from_csr("ecdsa-issuing", ecdsa_csr, "tls-client", actor=ACTOR)
    serial = issued.serial_number
    service.crls.current("ecdsa-issuing")  # a complete CRL is in circulation before the hold

    held = ca.hold("ecdsa-issuing", serial, actor=ACTOR)
    assert (held.status, held.reason) == ("hold", "certificate_hold")
    on_hold = service.crls.current("ecdsa-issuing")
    assert _crl_entries(on_hold.der)[serial]["crl_reason"] == "certificate_hold"
    assert _crl_entries(service.crls.current_crl("ecdsa-issuing", delta=True))[serial]["crl_reason"] == (
        "certificate_hold"
    )

    released = ca.release("ecdsa-issuing", serial, actor=ACTOR)
    assert (released.status, released.reason, released.revoked_at) == ("good", None, None)
    full = service.crls.current("ecdsa-issuing")
    assert full.crl_number > on_hold.crl_number
    assert serial not in _crl_entries(full.der)
    delta = service.crls.current("ecdsa-issuing", delta=True)
    assert delta.crl_number > full.crl_number
    # the delta's base is the oldest complete CRL still valid, so it also updates the one listing the hold
    assert delta.base_number is not None and delta.base_number <= on_hold.crl_number
    assert _crl_entries(delta.der)[serial]["crl_reason"] == "remove_from_crl"

    actions = [a for a, s in _actions(service) if s == f"certificate:ecdsa-issuing/{issued.serial}"]
    assert actions == ["certificate.issue", "certificate.hold", "certificate.release"]
    assert _verify_audit(service) > 0


def test_delta_base_moves_when_the_oldest_complete_crl_expires(
    ca: CertificateAuthorityService, service: TrustService, clock: FakeClock
) -> None:
    first = service.crls.current("sm2-issuing")
    assert service.crls.current("sm2-issuing", delta=True).base_number == first.crl_number
    clock.advance(hours=2)
    second = service.crls.current("sm2-issuing")
    assert second.crl_number > first.crl_number
    assert service.crls.current("sm2-issuing", delta=True).base_number == first.crl_number
    clock.advance(hours=22, seconds=1)  # first's nextUpdate has passed
    latest = service.crls.current("sm2-issuing")
    delta = service.crls.current("sm2-issuing", delta=True)
    assert delta.base_number == second.crl_number
    assert delta.base_number <= latest.crl_number < delta.crl_number


def test_a_failed_refresh_after_revocation_still_gives_the_revocation_to_the_next_crl(
    ca: CertificateAuthorityService,
    service: TrustService,
    ecdsa_csr: bytes,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    issued = ca.issue_from_csr("ecdsa-issuing", ecdsa_csr, "tls-client", actor=ACTOR)
    before = service.crls.current("ecdsa-issuing")

    def broken(*args: object, **kwargs: object) -> None:
        raise KeyStoreError("the HSM is unreachable")

    monkeypatch.setattr(service.crls, "refresh", broken)
    revoked = ca.revoke("ecdsa-issuing", issued.serial_number, "superseded", actor=ACTOR)
    assert revoked.status == "revoked"
    assert "the HSM is unreachable" in caplog.text
    monkeypatch.undo()
    # no clock movement: the stored CRL is young, but it predates the revocation
    after = service.crls.current("ecdsa-issuing")
    assert after.crl_number > before.crl_number
    assert _crl_entries(after.der)[issued.serial_number]["crl_reason"] == "superseded"


def test_held_certificate_can_be_revoked_for_good(ca: CertificateAuthorityService, ecdsa_csr: bytes) -> None:
    serial = ca.issue_from_csr("ecdsa-issuing", ecdsa_csr, "tls-client", actor=ACTOR).serial_number
    ca.revoke("ecdsa-issuing", serial, "certificateHold", actor=ACTOR)
    assert ca.get("ecdsa-issuing", serial).status == "hold"
    with pytest.raises(InvalidState, match="already on hold"):
        ca.hold("ecdsa-issuing", serial, actor=ACTOR)
    ca.revoke("ecdsa-issuing", serial, "cessationOfOperation", actor=ACTOR)
    assert ca.get("ecdsa-issuing", serial).reason == "cessation_of_operation"
    with pytest.raises(InvalidState, match="final"):
        ca.release("ecdsa-issuing", serial, actor=ACTOR)
    with pytest.raises(InvalidState, match="final"):
        ca.revoke("ecdsa-issuing", serial, "keyCompromise", actor=ACTOR)


def test_status_change_refusals(ca: CertificateAuthorityService, clock: FakeClock, ecdsa_csr: bytes) -> None:
    serial = ca.issue_from_csr("ecdsa-issuing", ecdsa_csr, "tls-client", actor=ACTOR).serial_number
    with pytest.raises(InvalidState, match="not on hold"):
        ca.release("ecdsa-issuing", serial, actor=ACTOR)
    with pytest.raises(InvalidInput, match="removeFromCRL"):
        ca.revoke("ecdsa-issuing", serial, "removeFromCRL", actor=ACTOR)
    with pytest.raises(InvalidInput, match="future"):
        ca.revoke("ecdsa-issuing", serial, "keyCompromise", clock.now + timedelta(days=1), actor=ACTOR)
    with pytest.raises(InvalidInput, match="unknown revocation reason"):
        ca.revoke("ecdsa-issuing", serial, "stolen", actor=ACTOR)
    with pytest.raises(NotFound):
        ca.revoke("ecdsa-issuing", serial + 1, actor=ACTOR)
    root_serial = parse_serial(ca.ca("ecdsa-root").serial)
    with pytest.raises(InvalidState, match="trust lists"):
        ca.revoke("ecdsa-root", root_serial, actor=ACTOR)
    assert ca.get("ecdsa-issuing", serial).status == "good"


def test_revoking_an_issuing_ca_certificate_lists_it_on_the_roots_crl(
    ca: CertificateAuthorityService, service: TrustService
) -> None:
    serial = parse_serial(ca.ca("sm2-issuing").serial)
    ca.revoke("sm2-root", serial, "cACompromise", actor=ACTOR)
    assert _crl_entries(service.crls.current_crl("sm2-root"))[serial]["crl_reason"] == "ca_compromise"


def test_crl_is_refreshed_on_schedule_with_numbers_and_times(
    ca: CertificateAuthorityService, service: TrustService, clock: FakeClock
) -> None:
    first = service.crls.current("sm2-issuing")
    assert service.crls.current("sm2-issuing") == first  # fresh: the stored one
    assert first.next_update - first.this_update == timedelta(hours=24)
    assert first.this_update == clock.now.replace(microsecond=0)

    delta = service.crls.current("sm2-issuing", delta=True)
    assert (delta.base_number, delta.crl_number) == (first.crl_number, first.crl_number + 1)

    clock.advance(minutes=59)
    assert service.crls.current("sm2-issuing") == first
    clock.advance(minutes=1)
    second = service.crls.current("sm2-issuing")
    assert second.crl_number > delta.crl_number
    assert second.this_update == clock.now.replace(microsecond=0)
    assert service.crls.current("sm2-issuing", delta=True).crl_number > second.crl_number

    parsed = crl.CertificateList.load(second.der)
    assert parsed["tbs_cert_list"]["this_update"].native == second.this_update
    assert parsed["tbs_cert_list"]["next_update"].native == second.next_update
    assert parsed.crl_number_value.native == second.crl_number
    cdp = parsed.freshest_crl_value.native[0]["distribution_point"][0]
    assert cdp.endswith("/crl/sm2-issuing-delta.crl")
    _signed_by_crl(second.der, ca.ca("sm2-issuing").certificate_der)

    with service.session(read_only=True) as session, session.begin():
        audited = session.execute(
            select(func.count()).select_from(AuditRecord).where(AuditRecord.action == "crl.issue")
        ).scalar_one()
    assert audited == 4


def _signed_by_crl(der: bytes, issuer_der: bytes) -> None:
    cert_list = crl.CertificateList.load(der)
    verify(
        x509.Certificate.load(issuer_der).public_key,
        signature_algorithm_of(cert_list["signature_algorithm"]),
        cert_list["tbs_cert_list"].dump(),
        cert_list.signature,
    )


def test_crl_of_an_unknown_ca_is_not_found(ca: CertificateAuthorityService, service: TrustService) -> None:
    with pytest.raises(NotFound):
        service.crls.current("nowhere")


def test_get_and_list(ca: CertificateAuthorityService, ecdsa_csr: bytes) -> None:
    issued = ca.issue_from_csr("ecdsa-issuing", ecdsa_csr, "tls-client", actor=ACTOR)
    assert ca.get("ecdsa-issuing", issued.serial_number).der == issued.der
    with pytest.raises(NotFound):
        ca.get("sm2-issuing", issued.serial_number)
    listed = ca.list("ecdsa-issuing")
    assert listed[0].serial == issued.serial  # newest first
    assert len(listed) == 4
    assert [c.serial for c in ca.list("ecdsa-issuing", status="good", limit=1)] == [issued.serial]
    assert ca.list("ecdsa-issuing", status="revoked") == []
    with pytest.raises(InvalidInput):
        ca.list(status="gone")


def test_serials_and_reasons_parse() -> None:
    assert parse_serial("0x00:AB:cd") == 0xABCD
    assert serial_hex(0xABCD) == "abcd"
    for bad in ("", "xyz", "0", "f" * 41):
        with pytest.raises(InvalidInput):
            parse_serial(bad)
    assert parse_reason("keyCompromise") is RevocationReason.KEY_COMPROMISE
    assert parse_reason("key_compromise") is RevocationReason.KEY_COMPROMISE
    assert parse_reason("cACompromise") is RevocationReason.CA_COMPROMISE
    assert reason_name("certificate_hold") == "certificateHold"
    assert reason_name(None) is None
