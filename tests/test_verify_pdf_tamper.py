"""The verification engine's tamper matrix on our own sealed PDF (the OFD matrix is in
tests/test_verify_engine.py): content changed, seal swapped, seal expired at the signing time, signer not
listed in the seal, signature made with the empty SM2 user ID → the verdicts of docs/VERIFY-REPORT.md.

``seal_pdf`` refuses bad seals before signing (GB/T 38540 §7.2), so the documents are signed one level lower:
:class:`~trustsvc.pdf.signer.PdfCmsSigner` with the seal attribute of the test's choice, through pyHanko's
``signers.sign_pdf`` (an invisible field; the engine does not look at the picture). The controls: the same
builder with the right seal, signer and time gives VALID. SM2 throughout; ECDSA P-256 where it is cheap.
The clock stands near the real time, as in tests/test_sealing_service.py: pyHanko reads the system clock.
"""

from __future__ import annotations

import dataclasses
import io
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from asn1crypto import cms, x509
from cryptography.hazmat.primitives.asymmetric import ec
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import signers
from pyhanko.sign.fields import SigSeedSubFilter
from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes

from tests.conftest import FakeClock
from tests.pki import csr_from_signer
from tests.test_pdf_sealing import BODY_TEXT, make_pdf
from tests.test_sealing_service import ORG, ORG_NAME, Setup, make_setup
from trustsvc.ca.profiles import ProfileKind
from trustsvc.keys.algorithms import KeyAlgorithm, SignatureAlgorithm
from trustsvc.keys.signer import Signer, software_signer
from trustsvc.keys.sm2 import SM2PrivateKey
from trustsvc.pdf.signer import SEAL_ATTRIBUTE_OID, PdfCmsSigner, seal_attribute
from trustsvc.service import TrustService
from trustsvc.verify.result import CheckStatus, SubIndication, VerificationResult

OTHER_ORG = "11330105002500287C"  # another organisation (as in tests/test_seal_registry.py)
OTHER_ORG_NAME = "某某大学"
ALGORITHMS = ["sm2", "ecdsa"]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def setup(service: TrustService) -> Setup:
    return make_setup(service)


@pytest.fixture(scope="module")
def pdf() -> bytes:
    return make_pdf(1)


# --- builders ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Holder:
    """A signer certificate, its key and the CA certificates that go into the CMS."""

    cert_der: bytes
    signer: Signer
    chain: tuple[x509.Certificate, ...]


@dataclass(frozen=True)
class Sealer:
    es_id: str
    seal_der: bytes
    holder: Holder


def _chain(service: TrustService, algorithm: str) -> tuple[x509.Certificate, ...]:
    return tuple(service.ca.ca(f"{algorithm}-{n}").certificate for n in ("issuing", "root"))


def our_sealer(setup: Setup, algorithm: str, *, validity_days: int | None = None) -> Sealer:
    """A registered seal of ORG whose listed signer is a key in our key store (SM2 or ECDSA P-256)."""
    service = setup.service
    signer_cert = None
    if algorithm == "ecdsa":
        service.ca.init_pki(KeyAlgorithm.ECDSA_P256, actor="test")
        subject = service.ca.subject_info(
            {"common_name": "合同专用章", "organization": ORG_NAME, "uscc": ORG}
        )
        issued, _ = service.ca.issue_for_new_key(
            "ecdsa-issuing", ProfileKind.SEAL_SIGNER, subject, KeyAlgorithm.ECDSA_P256, actor="test"
        )
        signer_cert = issued.der
    elif validity_days is None:
        material = service.seals.signing_key_for(setup.es_id, setup.principal)
        holder = Holder(material.certificate_der, material.signer, _chain(service, algorithm))
        return Sealer(setup.es_id, material.seal_der, holder)
    made = service.seals.create_seal(
        ORG,
        ORG_NAME,
        "finance",
        actor="test",
        signer_cert=signer_cert,
        validity_days=validity_days,
        authorised=[setup.principal],
    )
    material = service.seals.signing_key_for(made.seal.es_id, setup.principal)
    holder = Holder(material.certificate_der, material.signer, _chain(service, algorithm))
    return Sealer(made.seal.es_id, material.seal_der, holder)


def outside_holder(setup: Setup, algorithm: str, *, key: Any = None, uid: bytes | None = None) -> Holder:
    """A seal-signer certificate from our CA for ``key`` (default: a new one) held here, listed in no seal.

    ``uid`` (SM2 only): the user ID its signer puts into Z_A; default GM/T 0009's ``1234567812345678``."""
    if key is None:
        key = SM2PrivateKey.generate() if algorithm == "sm2" else ec.generate_private_key(ec.SECP256R1())
    good = software_signer(key)
    issued = setup.service.ca.issue_from_csr(
        f"{algorithm}-issuing",
        csr_from_signer(good),
        "seal-signer",
        subject={"common_name": "签章人", "organization": ORG_NAME, "uscc": ORG},
        actor="test",
    )
    signer = good if uid is None else software_signer(key, uid=uid)
    return Holder(issued.der, signer, _chain(setup.service, algorithm))


class _TimedCmsSigner(PdfCmsSigner):
    """PdfCmsSigner whose ``signingTime`` attribute is chosen (None: pyHanko's, the system clock)."""

    def __init__(self, *args: Any, signing_time: datetime | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._signing_time = signing_time

    async def signed_attrs(self, *args: Any, **kwargs: Any) -> cms.CMSAttributes:
        if self._signing_time is not None:
            settings = kwargs.get("attr_settings") or PdfCMSSignedAttributes()
            kwargs["attr_settings"] = dataclasses.replace(settings, signing_time=self._signing_time)
        return await super().signed_attrs(*args, **kwargs)


def sign(data: bytes, holder: Holder, seal_der: bytes, *, signing_time: datetime | None = None) -> bytes:
    """Sign ``data`` as ``seal_pdf`` does (SM2: adbe.pkcs7.detached, else PAdES), unchecked.
    Room is left in /Contents so that a test can put a larger CMS there afterwards."""
    cms_signer = _TimedCmsSigner(
        holder.signer,
        x509.Certificate.load(holder.cert_der),
        holder.chain,
        seal_der=seal_der,
        signing_time=signing_time,
    )
    sm2 = cms_signer.algorithm is SignatureAlgorithm.SM2_SM3
    meta = signers.PdfSignatureMetadata(
        field_name="Seal1",
        md_algorithm=cms_signer.digest_algorithm,
        subfilter=SigSeedSubFilter.ADOBE_PKCS7_DETACHED if sm2 else SigSeedSubFilter.PADES,
    )
    writer = IncrementalPdfFileWriter(io.BytesIO(data))
    reserved = 2 * (len(seal_der) + 8192)
    out: io.BytesIO = signers.sign_pdf(writer, meta, signer=cms_signer, bytes_reserved=reserved)
    return out.getvalue()


def swap_seal_after_signing(signed: bytes, seal_der: bytes) -> bytes:
    """Put ``seal_der`` into the signed seal attribute of the only signature, in place: the ByteRange (so the
    messageDigest) is untouched, the signer's signature over the signed attributes no longer fits."""
    start = signed.index(b"/Contents <") + len(b"/Contents <")
    end = signed.index(b">", start)
    content = cms.ContentInfo.load(bytes.fromhex(signed[start:end].decode()))
    signer_info = content["content"]["signer_infos"][0]
    attrs = [a for a in signer_info["signed_attrs"] if a["type"].dotted != SEAL_ATTRIBUTE_OID]
    signer_info["signed_attrs"] = cms.CMSAttributes([*attrs, seal_attribute(seal_der)])
    new_hex = content.dump(force=True).hex().encode()
    assert len(new_hex) <= end - start, "reserve more room in /Contents"
    return signed[:start] + new_hex.ljust(end - start, b"0") + signed[end:]


def flip_signed_byte(signed: bytes) -> bytes:
    """Change one byte of the page text: inside ByteRange[0], the PDF structure intact."""
    at = signed.index(BODY_TEXT)
    assert at < signed.index(b"/Contents <")
    return signed[:at] + b"L" + signed[at + 1 :]  # "licence text" -> "Licence text"


def verdict(result: VerificationResult) -> tuple[str, SubIndication | None]:
    return result.report, result.sub_indication


def not_passed(result: VerificationResult) -> dict[str, str]:
    (sig,) = result.signatures
    return {c.name: c.status.value for c in sig.checks if c.status is not CheckStatus.PASSED}


# --- the matrix ----------------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_control_the_low_level_builder_makes_a_valid_seal(setup: Setup, pdf: bytes, algorithm: str) -> None:
    sealer = our_sealer(setup, algorithm)
    result = setup.service.verifier.verify(sign(pdf, sealer.holder, sealer.seal_der))
    assert verdict(result) == ("VALID", None), not_passed(result)
    (sig,) = result.signatures
    assert sig.format == "pdf" and sig.type == "seal" and sig.seal_es_id == sealer.es_id
    assert {"message_digest", "signature_value", "coverage", "seal_signature", "signer_listed"} <= {
        c.name for c in sig.checks
    }
    assert {"signer_chain", "signer_revocation", "seal_maker_chain", "seal_validity", "seal_status"} <= {
        c.name for c in sig.checks
    }


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_content_changed_inside_the_byte_range_is_a_hash_failure(
    setup: Setup, pdf: bytes, algorithm: str
) -> None:
    sealer = our_sealer(setup, algorithm)
    tampered = flip_signed_byte(sign(pdf, sealer.holder, sealer.seal_der))
    result = setup.service.verifier.verify(tampered)
    assert verdict(result) == ("INVALID", SubIndication.HASH_FAILURE)
    assert not_passed(result) == {"message_digest": "failed"}
    (sig,) = result.signatures
    assert "signature_value" not in {c.name for c in sig.checks}  # not asked once the digest fails


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_signed_under_another_organisations_seal_is_a_constraints_failure(
    setup: Setup, pdf: bytes, algorithm: str
) -> None:
    sealer = our_sealer(setup, algorithm)
    other = setup.service.seals.create_seal(OTHER_ORG, OTHER_ORG_NAME, "finance", actor="test")
    result = setup.service.verifier.verify(sign(pdf, sealer.holder, other.seal.seal_der))
    assert verdict(result) == ("INVALID", SubIndication.SIG_CONSTRAINTS_FAILURE)
    assert not_passed(result) == {"signer_listed": "failed"}
    assert result.signatures[0].seal_es_id == other.seal.es_id  # the report names the seal actually carried


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_seal_swapped_after_signing_is_a_crypto_failure(setup: Setup, pdf: bytes, algorithm: str) -> None:
    sealer = our_sealer(setup, algorithm)
    other = setup.service.seals.create_seal(OTHER_ORG, OTHER_ORG_NAME, "finance", actor="test")
    swapped = swap_seal_after_signing(sign(pdf, sealer.holder, sealer.seal_der), other.seal.seal_der)
    result = setup.service.verifier.verify(swapped)
    assert verdict(result) == ("INVALID", SubIndication.SIG_CRYPTO_FAILURE)
    # the attribute is signed: the signature no longer verifies, and the signer is not in the other seal
    assert not_passed(result) == {"signature_value": "failed", "signer_listed": "failed"}


def test_seal_expired_at_signing_time_is_a_constraints_failure(
    setup: Setup, pdf: bytes, clock: FakeClock
) -> None:
    short = our_sealer(setup, "sm2", validity_days=1)
    at = clock.now + timedelta(days=2)
    result = setup.service.verifier.verify(sign(pdf, short.holder, short.seal_der, signing_time=at))
    assert verdict(result) == ("INVALID", SubIndication.SIG_CONSTRAINTS_FAILURE)
    assert not_passed(result) == {"seal_validity": "failed"}
    (sig,) = result.signatures
    assert sig.signing_time == at and "not at the signing time" in sig.check("seal_validity").detail  # type: ignore[union-attr]
    # control: the same seal, signed within its validity
    ok = setup.service.verifier.verify(sign(pdf, short.holder, short.seal_der, signing_time=clock.now))
    assert verdict(ok) == ("VALID", None), not_passed(ok)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_signer_not_listed_in_the_seal_is_a_constraints_failure(
    setup: Setup, pdf: bytes, algorithm: str
) -> None:
    sealer = our_sealer(setup, algorithm)
    outsider = outside_holder(setup, algorithm)
    result = setup.service.verifier.verify(sign(pdf, outsider, sealer.seal_der))
    assert verdict(result) == ("INVALID", SubIndication.SIG_CONSTRAINTS_FAILURE)
    assert not_passed(result) == {"signer_listed": "failed"}


def test_signature_with_the_empty_sm2_id_is_a_crypto_failure(setup: Setup, pdf: bytes) -> None:
    key = SM2PrivateKey.generate()
    empty_id = outside_holder(setup, "sm2", key=key, uid=b"")
    details = setup.service.seals.add_signer(setup.es_id, actor="test", signer_cert=empty_id.cert_der)
    result = setup.service.verifier.verify(sign(pdf, empty_id, details.seal.seal_der))
    assert verdict(result) == ("INVALID", SubIndication.SIG_CRYPTO_FAILURE)
    assert not_passed(result) == {"signature_value": "failed"}
    # control: the same key, certificate and seal with the default ID → VALID (only the user ID differs)
    default_id = dataclasses.replace(empty_id, signer=software_signer(key))
    ok = setup.service.verifier.verify(sign(pdf, default_id, details.seal.seal_der))
    assert verdict(ok) == ("VALID", None), not_passed(ok)
