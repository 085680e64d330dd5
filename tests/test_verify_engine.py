"""The verification engine on our own sealed PDF and OFD documents: VALID with our trust store, and the tamper
matrix (content, Signature.xml, swapped seal, expired seal, signer not listed, empty SM2 ID, revocation and
seal suspension before/after signing) → the verdicts of GB/T 38540 §7.3 in ETSI vocabulary.

The clock is pinned far from the real time (tests/licences.py ``pinned_clock``): everything, PDF signing
times included, follows the service clock.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import pytest
from asn1crypto import x509

from tests.conftest import FakeClock
from tests.licences import pinned_clock
from tests.pki import csr_from_signer
from tests.test_ofd_signing import document
from tests.test_pdf_sealing import make_pdf
from tests.test_sealing_service import ORG, ORG_NAME, Setup, make_setup
from trustsvc.errors import UnsupportedMediaType
from trustsvc.keys.signer import Signer, software_signer
from trustsvc.keys.sm2 import SM2PrivateKey
from trustsvc.ofd import signing as ofd_signing
from trustsvc.ofd.signing import OfdPlacement, seal_ofd
from trustsvc.seal import ses
from trustsvc.sealing import SealPlacement
from trustsvc.service import TrustService
from trustsvc.verify.result import SCHEMA_VERSION, CheckStatus, Indication, SubIndication, VerificationResult

BOX = SealPlacement.box(1, 20, 30)


@pytest.fixture
def clock() -> FakeClock:
    """A pinned clock far from the real time (see the module docstring)."""
    return pinned_clock()


@pytest.fixture
def setup(service: TrustService) -> Setup:
    return make_setup(service)


@pytest.fixture(scope="module")
def ofd_doc() -> bytes:
    return document(1).ofd


def files_of(ofd: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(ofd)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def zip_of(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(zipfile.ZipInfo(name), data)
    return buffer.getvalue()


def verdict(result: VerificationResult) -> tuple[str, SubIndication | None]:
    return result.report, result.sub_indication


def failed(result: VerificationResult) -> dict[str, str]:
    (sig,) = result.signatures
    return {c.name: c.status.value for c in sig.checks if c.status is not CheckStatus.PASSED}


@contextmanager
def unchecked_sealing() -> Iterator[None]:
    """Let seal_ofd make what it rightly refuses (tests of the verifier need broken seals)."""
    mp = pytest.MonkeyPatch()
    mp.setattr(ofd_signing, "_usable_seal", lambda seal_der, cert, at: ses.parse_seal(seal_der))
    mp.setattr(ses, "signer_is_listed", lambda seal, cert: True)
    mp.setattr(ses, "verify_signature_value", lambda sig, lenient=None: ())
    try:
        yield
    finally:
        mp.undo()


def raw_seal(
    data: bytes,
    *,
    seal_der: bytes,
    cert_der: bytes,
    signer: Signer,
    at: datetime,
    unchecked: bool = False,
) -> bytes:
    def seal() -> bytes:
        return seal_ofd(
            data,
            seal_der=seal_der,
            signer_cert_der=cert_der,
            signer=signer,
            placement=OfdPlacement.box(1, 20, 30, 40, 40),
            time_info=at,
        )

    if unchecked:
        with unchecked_sealing():
            return seal()
    return seal()


def outside_signer(setup: Setup, *, uid: bytes | None = None) -> tuple[bytes, Signer, Signer]:
    """A seal-signer certificate issued by our CA for a key held here; its signer (default ID) and one with
    ``uid``."""
    key = SM2PrivateKey.generate()
    good = software_signer(key)
    issued = setup.service.ca.issue_from_csr(
        "sm2-issuing",
        csr_from_signer(good),
        "seal-signer",
        subject={"common_name": "签章人", "organization": ORG_NAME, "uscc": ORG},
        actor="test",
    )
    return issued.der, good, software_signer(key, uid=uid if uid is not None else b"")


# --- valid documents -----------------------------------------------------------------------------


def test_our_sealed_ofd_is_valid_with_our_trust_store(setup: Setup, ofd_doc: bytes) -> None:
    sealed = setup.seal(ofd_doc, BOX, level="B-T")
    result = setup.service.verifier.verify(sealed.data)

    assert verdict(result) == ("VALID", None)
    (sig,) = result.signatures
    assert sig.indication is Indication.TOTAL_PASSED and sig.type == "seal" and sig.format == "ofd-seal"
    assert sig.seal_es_id == setup.es_id
    assert sig.timestamp_time == sealed.signed_at  # our TSA stamped it at the service clock
    assert sig.signing_time == sealed.signed_at
    names = {c.name for c in sig.checks}
    assert {
        "references",
        "data_hash",
        "signature_value",
        "seal_signature",
        "signer_listed",
        "signer_chain",
        "signer_revocation",
        "seal_maker_chain",
        "seal_validity",
        "seal_status",
        "timestamp",
    } <= names
    assert all(c.status is CheckStatus.PASSED for c in sig.checks), failed(result)
    assert "database" in sig.check("signer_revocation").detail  # type: ignore[union-attr]
    assert "registry" in sig.check("seal_status").detail  # type: ignore[union-attr]
    assert result.trust_sources == ("database", "own", "registry")


def test_our_sealed_pdf_is_valid_with_our_trust_store(setup: Setup) -> None:
    sealed = setup.seal(make_pdf(1), BOX, level="B-T")
    result = setup.service.verifier.verify(sealed.data)

    assert verdict(result) == ("VALID", None), failed(result)
    (sig,) = result.signatures
    assert sig.format == "pdf" and sig.seal_es_id == setup.es_id and sig.location == "Seal1"
    assert sig.timestamp_time == sealed.signed_at


def test_report_json_is_stable(setup: Setup, ofd_doc: bytes) -> None:
    sealed = setup.seal(ofd_doc, BOX, level="B-B")
    report = setup.service.verifier.verify(sealed.data).to_json()
    json.dumps(report)
    assert report["schema_version"] == SCHEMA_VERSION
    assert report["indication"] == "VALID" and report["etsi_indication"] == "TOTAL_PASSED"
    assert set(report) == {
        "schema_version",
        "document",
        "indication",
        "etsi_indication",
        "sub_indication",
        "verified_at",
        "signatures",
        "warnings",
        "trust_sources",
    }
    assert report["signatures"][0]["seal"]["es_id"] == setup.es_id
    assert report["document"]["format"] == "ofd" and len(report["document"]["sm3"]) == 64


def test_without_our_trust_store_the_chain_is_not_found(setup: Setup, ofd_doc: bytes) -> None:
    from trustsvc.verify.engine import VerificationEngine
    from trustsvc.verify.truststore import TrustStore

    sealed = setup.seal(ofd_doc, BOX, level="B-B")
    result = VerificationEngine(TrustStore([])).verify(sealed.data)
    assert verdict(result) == ("INDETERMINATE", SubIndication.NO_CERTIFICATE_CHAIN_FOUND)


def test_unsupported_input_is_a_typed_error(setup: Setup) -> None:
    with pytest.raises(UnsupportedMediaType):
        setup.service.verifier.verify(b"hello, world")


# --- tamper matrix -------------------------------------------------------------------------------


def test_changed_content_is_a_hash_failure(setup: Setup, ofd_doc: bytes) -> None:
    sealed = setup.seal(ofd_doc, BOX, level="B-B")
    files = files_of(sealed.data)
    page = next(p for p in files if p.endswith("Content.xml") and "Pages" in p)
    files[page] = files[page].replace("名称".encode(), "名字".encode())
    result = setup.service.verifier.verify(zip_of(files))
    assert verdict(result) == ("INVALID", SubIndication.HASH_FAILURE)
    assert failed(result)["references"] == "failed"


def test_changed_pdf_is_a_hash_failure(setup: Setup) -> None:
    sealed = setup.seal(make_pdf(1), BOX, level="B-B").data
    start = sealed.index(b"/Contents <") - 200  # a byte inside the signed range, before the signature
    tampered = sealed[:start] + bytes([sealed[start] ^ 0x01]) + sealed[start + 1 :]
    result = setup.service.verifier.verify(tampered)
    assert result.report == "INVALID"
    assert result.sub_indication in (SubIndication.HASH_FAILURE, SubIndication.FORMAT_FAILURE)


def test_changed_signature_xml_is_invalid(setup: Setup, ofd_doc: bytes) -> None:
    sealed = setup.seal(ofd_doc, BOX, level="B-B")
    files = files_of(sealed.data)
    path = next(p for p in files if p.endswith("Signature.xml"))
    files[path] = files[path].replace(b"trustsvc", b"trustsvX", 1)
    result = setup.service.verifier.verify(zip_of(files))
    assert verdict(result) == ("INVALID", SubIndication.HASH_FAILURE)
    assert failed(result)["data_hash"] == "failed"


def test_seal_swapped_for_another_seal_is_invalid(setup: Setup, ofd_doc: bytes) -> None:
    other = setup.service.seals.create_seal(ORG, ORG_NAME, "finance", actor="test")
    sealed = setup.seal(ofd_doc, BOX, level="B-B")
    files = files_of(sealed.data)
    path = next(p for p in files if p.endswith("SignedValue.dat"))
    value = ses.SES_Signature.load(files[path])
    tbs = ses.TBS_Sign.load(value["toSign"].dump())
    tbs["eseal"] = ses.SESeal.load(other.seal.seal_der)
    value["toSign"] = tbs
    files[path] = value.dump(force=True)
    result = setup.service.verifier.verify(zip_of(files))
    assert result.report == "INVALID"
    # the seal inside TBS_Sign changed: the signer's signature over TBS_Sign no longer verifies, the signer is
    # not listed in the other seal, and the Seal.esl copy in the package is no longer the signed seal
    assert failed(result) == {"signature_value": "failed", "signer_listed": "failed", "seal_file": "failed"}


def test_seal_expired_at_signing_time_is_invalid(setup: Setup, ofd_doc: bytes, clock: FakeClock) -> None:
    short = setup.service.seals.create_seal(
        ORG, ORG_NAME, "finance", actor="test", validity_days=1, authorised=[setup.principal]
    )
    material = setup.service.seals.signing_key_for(short.seal.es_id, setup.principal)
    data = raw_seal(
        ofd_doc,
        seal_der=material.seal_der,
        cert_der=material.certificate_der,
        signer=material.signer,
        at=clock.now + timedelta(days=2),
        unchecked=True,
    )
    result = setup.service.verifier.verify(data)
    assert verdict(result) == ("INVALID", SubIndication.SIG_CONSTRAINTS_FAILURE)
    assert failed(result) == {"seal_validity": "failed"}


def test_signer_not_listed_in_the_seal_is_invalid(setup: Setup, ofd_doc: bytes, clock: FakeClock) -> None:
    cert_der, signer, _ = outside_signer(setup)
    material = setup.service.seals.signing_key_for(setup.es_id, setup.principal)
    data = raw_seal(
        ofd_doc, seal_der=material.seal_der, cert_der=cert_der, signer=signer, at=clock.now, unchecked=True
    )
    result = setup.service.verifier.verify(data)
    assert verdict(result) == ("INVALID", SubIndication.SIG_CONSTRAINTS_FAILURE)
    assert failed(result) == {"signer_listed": "failed"}


def test_signature_with_the_empty_sm2_id_is_a_crypto_failure(
    setup: Setup, ofd_doc: bytes, clock: FakeClock
) -> None:
    cert_der, _, empty_id = outside_signer(setup, uid=b"")
    details = setup.service.seals.add_signer(setup.es_id, actor="test", signer_cert=cert_der)
    data = raw_seal(
        ofd_doc,
        seal_der=details.seal.seal_der,
        cert_der=cert_der,
        signer=empty_id,
        at=clock.now,
        unchecked=True,
    )
    result = setup.service.verifier.verify(data)
    assert verdict(result) == ("INVALID", SubIndication.SIG_CRYPTO_FAILURE)
    assert failed(result) == {"signature_value": "failed"}


def _revoke_signer(setup: Setup, cert_der: bytes) -> None:
    serial = x509.Certificate.load(cert_der).serial_number
    setup.service.ca.revoke("sm2-issuing", serial, "keyCompromise", actor="test")


def test_signer_revoked_after_sealing_stays_valid_with_a_warning(
    setup: Setup, ofd_doc: bytes, clock: FakeClock
) -> None:
    sealed = setup.seal(ofd_doc, BOX, level="B-T")
    material = setup.service.seals.signing_key_for(setup.es_id, setup.principal)
    clock.advance(minutes=10)
    _revoke_signer(setup, material.certificate_der)

    result = setup.service.verifier.verify(sealed.data)
    assert verdict(result) == ("VALID", None)
    (sig,) = result.signatures
    assert any("revoked at" in w and "after the signing time" in w for w in sig.warnings)


def test_signer_revoked_after_signing_without_time_stamp_in_strict_mode_is_revoked_no_poe(
    setup: Setup, ofd_doc: bytes, clock: FakeClock
) -> None:
    sealed = setup.seal(ofd_doc, BOX, level="B-B")
    material = setup.service.seals.signing_key_for(setup.es_id, setup.principal)
    clock.advance(minutes=10)
    _revoke_signer(setup, material.certificate_der)

    result = setup.service.verifier.verify(sealed.data, lenient=False)
    assert verdict(result) == ("INDETERMINATE", SubIndication.REVOKED_NO_POE)
    assert setup.service.verifier.verify(sealed.data).report == "VALID"  # lenient: a warning


def test_signer_revoked_before_signing_is_revoked(setup: Setup, ofd_doc: bytes, clock: FakeClock) -> None:
    material = setup.service.seals.signing_key_for(setup.es_id, setup.principal)
    _revoke_signer(setup, material.certificate_der)
    clock.advance(minutes=10)
    data = raw_seal(
        ofd_doc,
        seal_der=material.seal_der,
        cert_der=material.certificate_der,
        signer=material.signer,
        at=clock.now,
    )
    result = setup.service.verifier.verify(data)
    assert verdict(result) == ("INVALID", SubIndication.REVOKED)


def test_seal_suspended_before_signing_is_invalid(setup: Setup, ofd_doc: bytes, clock: FakeClock) -> None:
    material = setup.service.seals.signing_key_for(setup.es_id, setup.principal)
    setup.service.seals.suspend(setup.es_id, "lost", actor="test")
    clock.advance(minutes=10)
    data = raw_seal(
        ofd_doc,
        seal_der=material.seal_der,
        cert_der=material.certificate_der,
        signer=material.signer,
        at=clock.now,
    )
    result = setup.service.verifier.verify(data)
    assert verdict(result) == ("INVALID", SubIndication.SIG_CONSTRAINTS_FAILURE)
    assert failed(result) == {"seal_status": "failed"}


def test_seal_suspended_after_signing_is_valid_with_a_warning(
    setup: Setup, ofd_doc: bytes, clock: FakeClock
) -> None:
    sealed = setup.seal(ofd_doc, BOX, level="B-B")
    clock.advance(minutes=10)
    setup.service.seals.suspend(setup.es_id, "lost", actor="test")
    result = setup.service.verifier.verify(sealed.data)
    assert verdict(result) == ("VALID", None)
    assert any("suspended" in w for w in result.signatures[0].warnings)


def test_extra_check_hook_is_called(setup: Setup, ofd_doc: bytes) -> None:
    from dataclasses import replace

    from trustsvc.verify.result import CheckResult

    seen: list[Any] = []

    def licence(ctx: Any, at: datetime | None) -> CheckResult:
        seen.append((ctx.seal.es_id, at))
        return CheckResult.failed("licence_status", SubIndication.SIG_CONSTRAINTS_FAILURE, "licence revoked")

    sealed = setup.seal(ofd_doc, BOX, level="B-B")
    engine = setup.service.verifier
    engine.policy = replace(engine.policy, extra_checks=(licence,))
    result = engine.verify(sealed.data)
    assert seen and seen[0][0] == setup.es_id
    assert verdict(result) == ("INVALID", SubIndication.SIG_CONSTRAINTS_FAILURE)
