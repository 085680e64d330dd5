"""SM2 in pyHanko through trustsvc.pdf.sm2_validation: certvalidator paths, CRLs, OCSP; CMS and PDF."""

from __future__ import annotations

import asyncio
import inspect
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from asn1crypto import cms, core, crl, ocsp, x509
from cryptography.exceptions import InvalidSignature as CryptographyInvalidSignature
from cryptography.exceptions import UnsupportedAlgorithm as CryptographyUnsupportedAlgorithm
from pyhanko.pdf_utils import generic, writer
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import signers
from pyhanko.sign.ades.report import AdESIndeterminate
from pyhanko.sign.validation.generic_cms import async_validate_detached_cms
from pyhanko.sign.validation.pdf_embedded import async_validate_pdf_signature
from pyhanko.sign.validation.utils import DEFAULT_ALGORITHM_USAGE_POLICY
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator.errors import AlgorithmNotSupported, PathValidationError, RevokedError
from pyhanko_certvalidator.revinfo import validate_ocsp
from pyhanko_certvalidator.sig_validate import SignatureValidationContext
from pyhanko_certvalidator.util import get_pyca_cryptography_hash

from tests.pki import NOW, Issued, issue
from trustsvc.ca.profiles import ProfileKind
from trustsvc.ca.x509 import RevocationReason, RevokedEntry, build_crl
from trustsvc.keys.algorithms import KeyAlgorithm, SignatureAlgorithm, signed_digest_algorithm
from trustsvc.keys.signer import software_signer, verify
from trustsvc.keys.sm2 import SM2PrivateKey
from trustsvc.keys.sm3 import sm3
from trustsvc.pdf.signer import PdfCmsSigner
from trustsvc.pdf.sm2_validation import (
    SM2AlgorithmPolicy,
    SM2SignatureValidator,
    sm2_validation_context,
)

BASE = "http://pki.example.cn"
MOMENT = NOW + timedelta(days=1)
SIGNING = {"digital_signature"}
SM2_SM3 = "1.2.156.10197.1.501"
SM2_SIGN = "1.2.156.10197.1.301.1"


@dataclass
class Pki:
    root: Issued
    issuing: Issued
    leaf: Issued
    leaf_key: SM2PrivateKey | None = None


def make_pki(algorithm: KeyAlgorithm = KeyAlgorithm.SM2) -> Pki:
    root = issue(ProfileKind.ROOT, None, algorithm)
    issuing = issue(ProfileKind.ISSUING_CA, root, algorithm)
    if algorithm is KeyAlgorithm.SM2:
        key = SM2PrivateKey.generate()
        leaf = issue(ProfileKind.SEAL_SIGNER, issuing, algorithm, subject_signer=software_signer(key))
        return Pki(root, issuing, leaf, key)
    return Pki(root, issuing, issue(ProfileKind.SEAL_SIGNER, issuing, algorithm))


@pytest.fixture
def pki() -> Pki:
    return make_pki()


def validate(leaf: x509.Certificate, context: ValidationContext) -> Any:
    validator = CertificateValidator(leaf, validation_context=context)
    return asyncio.run(validator.async_validate_usage(SIGNING))


def context_for(pki: Pki, **kwargs: Any) -> ValidationContext:
    kwargs.setdefault("revocation_mode", "none")
    return sm2_validation_context(
        trust_roots=[pki.root.certificate], other_certs=[pki.issuing.certificate], moment=MOMENT, **kwargs
    )


def make_crls(issuer: Issued, revoked: Iterable[x509.Certificate] = ()) -> list[crl.CertificateList]:
    """Return the complete CRL of ``issuer`` listing ``revoked`` and its (empty) delta CRL.

    Our complete CRLs announce the delta through freshestCRL, so certvalidator insists on seeing the delta.
    """
    entries = [
        RevokedEntry(serial=c.serial_number, revoked_at=NOW, reason=RevocationReason.KEY_COMPROMISE)
        for c in revoked
    ]
    ca_name = "root" if issuer.certificate.self_signed != "no" else "issuing"
    this_update, next_update = NOW + timedelta(hours=1), NOW + timedelta(days=7)
    return [
        build_crl(
            issuer.certificate,
            issuer.signer,
            entries,
            number,
            this_update,
            next_update,
            delta_base=delta_base,
            base_url=BASE,
            ca_name=ca_name,
        )
        for number, delta_base in ((1, None), (2, 1))
    ]


def resign(certificate: x509.Certificate, sign: Callable[[bytes], bytes]) -> x509.Certificate:
    """Return ``certificate`` with the same TBS and signature algorithm and a new signature value."""
    tbs = certificate["tbs_certificate"].dump()
    return x509.Certificate.load(
        x509.Certificate(
            {
                "tbs_certificate": x509.TbsCertificate.load(tbs),
                "signature_algorithm": certificate["signature_algorithm"],
                "signature_value": sign(tbs),
            }
        ).dump()
    )


# --- certificates --------------------------------------------------------------------------------


def test_sm2_chain_validates_with_the_plugin(pki: Pki) -> None:
    path = validate(pki.leaf.certificate, context_for(pki))
    assert [c.dump() for c in path] == [c.certificate.dump() for c in (pki.root, pki.issuing, pki.leaf)]


def test_sm2_chain_fails_without_the_plugin(pki: Pki) -> None:
    plain = ValidationContext(
        trust_roots=[pki.root.certificate],
        other_certs=[pki.issuing.certificate],
        moment=MOMENT,
        revocation_mode="none",
    )
    with pytest.raises(CryptographyUnsupportedAlgorithm):
        validate(pki.leaf.certificate, plain)


def test_tampered_issuer_signature_fails(pki: Pki) -> None:
    signature = bytearray(pki.leaf.certificate.signature)
    signature[-1] ^= 0x01  # last byte of s: still DER, no longer the signature
    tampered = resign(pki.leaf.certificate, lambda _tbs: bytes(signature))
    with pytest.raises(PathValidationError, match="could not be verified"):
        validate(tampered, context_for(pki))


def test_chain_signed_with_the_empty_sm2_id_fails() -> None:
    root_key = SM2PrivateKey.generate()
    root = issue(ProfileKind.ROOT, None, KeyAlgorithm.SM2, subject_signer=software_signer(root_key))
    issuing = issue(ProfileKind.ISSUING_CA, root, KeyAlgorithm.SM2)
    leaf = issue(ProfileKind.SEAL_SIGNER, issuing, KeyAlgorithm.SM2)
    # OpenSSL's default: Z_A over an empty ID. The builders refuse to make such a certificate (their
    # self-check uses the default ID), so re-sign the issuing CA's TBS the way `openssl x509 -sm3` would.
    empty_id = resign(issuing.certificate, lambda tbs: root_key.sign(tbs, uid=b""))
    tbs = empty_id["tbs_certificate"].dump()
    verify(root.certificate.public_key, SignatureAlgorithm.SM2_SM3, tbs, empty_id.signature, uid=b"")

    def context(intermediate: x509.Certificate) -> ValidationContext:
        return sm2_validation_context(
            trust_roots=[root.certificate], other_certs=[intermediate], moment=MOMENT, revocation_mode="none"
        )

    with pytest.raises(PathValidationError, match="could not be verified"):
        validate(leaf.certificate, context(empty_id))
    assert validate(leaf.certificate, context(issuing.certificate))  # same TBS, default ID: fine


def test_ecdsa_chain_still_validates_with_the_plugin() -> None:
    pki = make_pki(KeyAlgorithm.ECDSA_P256)
    context = context_for(pki, revocation_mode="hard-fail", crls=make_crls(pki.root) + make_crls(pki.issuing))
    assert len(validate(pki.leaf.certificate, context)) == 3


def test_ecdsa_revoked_leaf_is_still_reported_revoked() -> None:
    pki = make_pki(KeyAlgorithm.ECDSA_P256)
    crls = make_crls(pki.root) + make_crls(pki.issuing, [pki.leaf.certificate])
    with pytest.raises(RevokedError):
        validate(pki.leaf.certificate, context_for(pki, revocation_mode="hard-fail", crls=crls))


# --- CRLs ----------------------------------------------------------------------------------------


def test_sm2_crl_listing_the_leaf_reports_it_revoked(pki: Pki) -> None:
    crls = make_crls(pki.root) + make_crls(pki.issuing, [pki.leaf.certificate])
    with pytest.raises(RevokedError, match="revoked"):
        validate(pki.leaf.certificate, context_for(pki, revocation_mode="hard-fail", crls=crls))


def test_sm2_crl_not_listing_the_leaf_passes(pki: Pki) -> None:
    other = issue(ProfileKind.SEAL_SIGNER, pki.issuing, KeyAlgorithm.SM2)
    crls = make_crls(pki.root) + make_crls(pki.issuing, [other.certificate])
    assert validate(pki.leaf.certificate, context_for(pki, revocation_mode="hard-fail", crls=crls))


def test_hard_fail_without_revocation_information_fails(pki: Pki) -> None:
    with pytest.raises(PathValidationError, match="no revocation information"):
        validate(pki.leaf.certificate, context_for(pki, revocation_mode="hard-fail"))


def test_tampered_sm2_crl_is_not_used(pki: Pki) -> None:
    good, delta = make_crls(pki.issuing)
    signature = bytearray(good.signature)
    signature[-1] ^= 0x01
    tampered = crl.CertificateList(
        {
            "tbs_cert_list": crl.TbsCertList.load(good["tbs_cert_list"].dump()),
            "signature_algorithm": good["signature_algorithm"],
            "signature": bytes(signature),
        }
    )
    crls = [*make_crls(pki.root), tampered, delta]
    with pytest.raises(PathValidationError, match="CRL signature could not be verified"):
        validate(pki.leaf.certificate, context_for(pki, revocation_mode="hard-fail", crls=crls))


# --- OCSP ----------------------------------------------------------------------------------------


def make_ocsp(
    certificate: x509.Certificate, issuer: Issued, responder: Issued, *, revoked: bool = False
) -> ocsp.OCSPResponse:
    """Return a BasicOCSPResponse about ``certificate``, signed by the delegated ``responder``."""
    cert_id = ocsp.CertId(
        {
            "hash_algorithm": {"algorithm": "sha1"},
            "issuer_name_hash": certificate.issuer.sha1,
            "issuer_key_hash": issuer.certificate.public_key.sha1,
            "serial_number": certificate.serial_number,
        }
    )
    if revoked:
        status = ocsp.CertStatus(
            name="revoked",
            value={"revocation_time": NOW + timedelta(minutes=30), "revocation_reason": "key_compromise"},
        )
    else:
        status = ocsp.CertStatus(name="good", value=core.Null())
    produced = NOW + timedelta(hours=1)
    tbs = ocsp.ResponseData(
        {
            "responder_id": ocsp.ResponderId(name="by_key", value=responder.certificate.public_key.sha1),
            "produced_at": produced,
            "responses": [
                {
                    "cert_id": cert_id,
                    "cert_status": status,
                    "this_update": produced,
                    "next_update": produced + timedelta(days=2),
                }
            ],
        }
    )
    tbs_der = tbs.dump()
    basic = ocsp.BasicOCSPResponse(
        {
            "tbs_response_data": ocsp.ResponseData.load(tbs_der),
            "signature_algorithm": signed_digest_algorithm(responder.signer.algorithm),
            "signature": responder.signer.sign(tbs_der),
            "certs": [responder.certificate],
        }
    )
    return ocsp.OCSPResponse.load(
        ocsp.OCSPResponse(
            {
                "response_status": "successful",
                "response_bytes": {"response_type": "basic_ocsp_response", "response": basic},
            }
        ).dump()
    )


@pytest.mark.parametrize("algorithm", [KeyAlgorithm.SM2, KeyAlgorithm.ECDSA_P256], ids=str)
def test_good_ocsp_response_from_delegated_responder_is_accepted(algorithm: KeyAlgorithm) -> None:
    pki = make_pki(algorithm)
    responder = issue(ProfileKind.OCSP_RESPONDER, pki.issuing, algorithm)
    assert responder.certificate.ocsp_no_check_value is not None
    response = make_ocsp(pki.leaf.certificate, pki.issuing, responder)
    # No CRL of the issuing CA: in hard-fail mode the leaf passes only if the OCSP response was used.
    context = context_for(pki, revocation_mode="hard-fail", crls=make_crls(pki.root), ocsps=[response])
    assert validate(pki.leaf.certificate, context)


def test_revoked_ocsp_response_reports_the_leaf_revoked(pki: Pki) -> None:
    responder = issue(ProfileKind.OCSP_RESPONDER, pki.issuing, KeyAlgorithm.SM2)
    response = make_ocsp(pki.leaf.certificate, pki.issuing, responder, revoked=True)
    context = context_for(pki, revocation_mode="hard-fail", crls=make_crls(pki.root), ocsps=[response])
    with pytest.raises(RevokedError, match="OCSP"):
        validate(pki.leaf.certificate, context)


def test_ocsp_response_signed_by_a_stranger_is_not_used(pki: Pki) -> None:
    responder = issue(ProfileKind.OCSP_RESPONDER, pki.issuing, KeyAlgorithm.SM2)
    stranger = Issued(
        responder.certificate, issue(ProfileKind.OCSP_RESPONDER, pki.issuing, KeyAlgorithm.SM2).signer
    )
    response = make_ocsp(pki.leaf.certificate, pki.issuing, stranger)
    context = context_for(pki, revocation_mode="hard-fail", crls=make_crls(pki.root), ocsps=[response])
    with pytest.raises(PathValidationError, match="Unable to verify OCSP response signature"):
        validate(pki.leaf.certificate, context)


# --- CMS (GB/T 35275 style SignedData, as in a PDF /Contents) ------------------------------------

CONTENT = b"%PDF-1.7 ... the bytes a PDF ByteRange covers ..."


def make_signed_data(
    pki: Pki,
    content: bytes,
    *,
    signature_oid: str = SM2_SIGN,
    content_type: str = "data",
    digest: str = "sm3",
) -> cms.SignedData:
    """Return a detached SignedData over ``content``: SM2 (default ID) over the DER SET OF signed attrs."""
    assert pki.leaf_key is not None
    digest_value = sm3(content) if digest == "sm3" else get_digest(digest, content)
    attrs = cms.CMSAttributes(
        [
            {"type": "content_type", "values": [content_type]},
            {"type": "signing_time", "values": [cms.Time(name="utc_time", value=NOW + timedelta(hours=2))]},
            {"type": "message_digest", "values": [digest_value]},
        ]
    )
    signature = pki.leaf_key.sign(attrs.dump())  # the SET OF encoding (tag 0x31), not the [0] IMPLICIT one
    leaf = pki.leaf.certificate
    signer_info = cms.SignerInfo(
        {
            "version": "v1",
            "sid": cms.SignerIdentifier(
                name="issuer_and_serial_number",
                value={"issuer": leaf.issuer, "serial_number": leaf.serial_number},
            ),
            "digest_algorithm": {"algorithm": digest},
            "signed_attrs": attrs,
            "signature_algorithm": {"algorithm": signature_oid},
            "signature": signature,
        }
    )
    signed_data = cms.SignedData(
        {
            "version": "v1",
            "digest_algorithms": [{"algorithm": digest}],
            "encap_content_info": {"content_type": content_type},
            "certificates": [leaf, pki.issuing.certificate],
            "signer_infos": [signer_info],
        }
    )
    return cms.SignedData.load(signed_data.dump())


def get_digest(name: str, data: bytes) -> bytes:
    from cryptography.hazmat.primitives import hashes

    h = hashes.Hash(get_pyca_cryptography_hash(name))
    h.update(data)
    return h.finalize()


def validate_cms(content: bytes, signed_data: cms.SignedData, context: ValidationContext) -> Any:
    return asyncio.run(async_validate_detached_cms(content, signed_data, signer_validation_context=context))


@pytest.mark.parametrize(
    ("signature_oid", "content_type"),
    [(SM2_SIGN, "gm_data"), (SM2_SIGN, "data"), (SM2_SM3, "data")],
    ids=["sm2_sign-gbt35275", "sm2_sign-pkcs7", "sm2_sm3-pkcs7"],
)
def test_sm2_cms_signature_validates(pki: Pki, signature_oid: str, content_type: str) -> None:
    signed_data = make_signed_data(pki, CONTENT, signature_oid=signature_oid, content_type=content_type)
    assert signed_data["signer_infos"][0]["signature_algorithm"]["algorithm"].dotted == signature_oid
    status = validate_cms(CONTENT, signed_data, context_for(pki))
    assert status.intact
    assert status.valid
    assert status.trusted
    assert status.bottom_line
    assert status.md_algorithm == "sm3"
    assert status.signing_cert.dump() == pki.leaf.certificate.dump()


def test_sm2_cms_signature_over_changed_content_fails(pki: Pki) -> None:
    signed_data = make_signed_data(pki, CONTENT)
    changed = bytearray(CONTENT)
    changed[10] ^= 0x01
    status = validate_cms(bytes(changed), signed_data, context_for(pki))
    assert not status.intact
    assert status.valid  # the signed attributes are intact; the content no longer matches messageDigest
    assert not status.bottom_line


def test_sm2_cms_signature_with_tampered_attributes_fails(pki: Pki) -> None:
    signed_data = make_signed_data(pki, CONTENT)
    signature = bytearray(signed_data["signer_infos"][0]["signature"].native)
    signature[-1] ^= 0x01
    signed_data["signer_infos"][0]["signature"] = bytes(signature)
    signed_data = cms.SignedData.load(signed_data.dump(force=True))
    status = validate_cms(CONTENT, signed_data, context_for(pki))
    assert status.intact
    assert not status.valid
    assert not status.bottom_line


def test_sm2_cms_signature_fails_without_the_plugin(pki: Pki) -> None:
    plain = ValidationContext(
        trust_roots=[pki.root.certificate], other_certs=[pki.issuing.certificate], moment=MOMENT
    )
    with pytest.raises(CryptographyUnsupportedAlgorithm):
        validate_cms(CONTENT, make_signed_data(pki, CONTENT), plain)


@pytest.mark.parametrize("signature_oid", [SM2_SIGN, SM2_SM3], ids=["sm2_sign", "sm2_sm3"])
def test_sm2_cms_signature_with_sha256_message_digest_is_refused(pki: Pki, signature_oid: str) -> None:
    signed_data = make_signed_data(pki, CONTENT, signature_oid=signature_oid, digest="sha256")
    status = validate_cms(CONTENT, signed_data, context_for(pki))
    assert status.intact  # SHA-256 of the content matches messageDigest ...
    # ... the policy refuses SM2 with a non-SM3 message digest; for sm2_sign, which names no digest of its
    # own, the validator also refuses to take the SHA-256 named beside it
    assert status.valid is (signature_oid == SM2_SM3)
    assert status.trust_problem_indic is AdESIndeterminate.CRYPTO_CONSTRAINTS_FAILURE
    assert not status.bottom_line


# --- PDF (pyHanko's own signing and validation pipeline) -----------------------------------------


def sm2_signed_pdf(pki: Pki) -> bytes:
    assert pki.leaf_key is not None
    w = writer.PdfFileWriter()
    contents = generic.StreamObject(stream_data=b"BT /F1 12 Tf 72 720 Td (licence text) Tj ET")
    w.insert_page(writer.PageObject(contents=w.add_object(contents), media_box=(0, 0, 595, 842)))
    blank = io.BytesIO()
    w.write(blank)
    blank.seek(0)
    signed = signers.sign_pdf(
        IncrementalPdfFileWriter(blank),
        signers.PdfSignatureMetadata(field_name="Seal1", md_algorithm="sm3"),
        signer=PdfCmsSigner(software_signer(pki.leaf_key), pki.leaf.certificate, [pki.issuing.certificate]),
    )
    return signed.getvalue()


def validate_pdf(data: bytes, context: ValidationContext) -> Any:
    embedded = PdfFileReader(io.BytesIO(data)).embedded_signatures[0]
    return asyncio.run(async_validate_pdf_signature(embedded, signer_validation_context=context))


def test_sm2_pdf_signature_validates(pki: Pki) -> None:
    status = validate_pdf(sm2_signed_pdf(pki), context_for(pki))
    assert (status.intact, status.valid, status.trusted, status.bottom_line) == (True, True, True, True)
    assert (status.md_algorithm, status.pkcs7_signature_mechanism) == ("sm3", "sm2_sign")


def test_sm2_pdf_signature_over_changed_page_fails(pki: Pki) -> None:
    data = bytearray(sm2_signed_pdf(pki))
    data[data.index(b"licence text")] ^= 0x01
    status = validate_pdf(bytes(data), context_for(pki))
    assert not status.intact
    assert not status.bottom_line


# --- the pieces, one by one ----------------------------------------------------------------------


def sm2_algorithm(oid: str, parameters: Any = None) -> Any:
    from asn1crypto import algos

    value: dict[str, Any] = {"algorithm": oid}
    if parameters is not None:
        value["parameters"] = parameters
    return algos.SignedDigestAlgorithm(value)


def test_validator_refuses_prehashed_sm2(pki: Pki) -> None:
    assert pki.leaf_key is not None
    context = SignatureValidationContext(contextual_md_algorithm="sm3", prehashed=True)
    with pytest.raises(AlgorithmNotSupported, match="precomputed digest"):
        SM2SignatureValidator().validate_signature(
            pki.leaf_key.sign(b"x"),
            sm3(b"x"),
            pki.leaf.certificate.public_key,
            sm2_algorithm(SM2_SIGN),
            context,
        )


def test_validator_refuses_sm2_sign_with_another_digest(pki: Pki) -> None:
    assert pki.leaf_key is not None
    context = SignatureValidationContext(contextual_md_algorithm="sha256")
    with pytest.raises(AlgorithmNotSupported, match="SM3"):
        SM2SignatureValidator().validate_signature(
            pki.leaf_key.sign(b"x"), b"x", pki.leaf.certificate.public_key, sm2_algorithm(SM2_SIGN), context
        )


def test_validator_refuses_sm2_with_unexpected_parameters(pki: Pki) -> None:
    assert pki.leaf_key is not None
    with pytest.raises(AlgorithmNotSupported):
        SM2SignatureValidator().validate_signature(
            pki.leaf_key.sign(b"x"),
            b"x",
            pki.leaf.certificate.public_key,
            sm2_algorithm(SM2_SM3, core.Integer(1)),
        )


def test_validator_accepts_null_parameters_and_rejects_wrong_key(pki: Pki) -> None:
    assert pki.leaf_key is not None
    signature = pki.leaf_key.sign(b"x")
    validator = SM2SignatureValidator()
    validator.validate_signature(
        signature, b"x", pki.leaf.certificate.public_key, sm2_algorithm(SM2_SM3, core.Null())
    )
    with pytest.raises(CryptographyInvalidSignature):
        validator.validate_signature(
            signature, b"x", pki.issuing.certificate.public_key, sm2_algorithm(SM2_SM3)
        )
    ecdsa = make_pki(KeyAlgorithm.ECDSA_P256).leaf.certificate.public_key
    with pytest.raises(CryptographyInvalidSignature):
        validator.validate_signature(signature, b"x", ecdsa, sm2_algorithm(SM2_SM3))


def test_policy_allows_sm2_and_sm3_even_when_the_base_policy_would_not() -> None:
    from asn1crypto import algos
    from pyhanko_certvalidator.policy_decl import DisallowWeakAlgorithmsPolicy

    hostile = DisallowWeakAlgorithmsPolicy(weak_hash_algos={"sm3", "sha1"}, weak_signature_algos={"sm2"})
    policy = SM2AlgorithmPolicy(hostile)
    sm3_algo = algos.DigestAlgorithm({"algorithm": "sm3"})
    sha256_algo = algos.DigestAlgorithm({"algorithm": "sha256"})
    assert policy.digest_algorithm_allowed(sm3_algo, None)
    assert not policy.digest_algorithm_allowed(algos.DigestAlgorithm({"algorithm": "sha1"}), None)
    for oid in (SM2_SM3, SM2_SIGN):
        assert policy.signature_algorithm_allowed(sm2_algorithm(oid), None, None)
        assert policy.digest_combination_allowed(sm2_algorithm(oid), sm3_algo, None)
        assert not policy.digest_combination_allowed(sm2_algorithm(oid), sha256_algo, None)
    assert not policy.signature_algorithm_allowed(sm2_algorithm(SM2_SM3, core.Integer(1)), None, None)
    ecdsa = signed_digest_algorithm(SignatureAlgorithm.ECDSA_SHA256)
    assert policy.signature_algorithm_allowed(ecdsa, None, None)
    assert policy.digest_combination_allowed(ecdsa, sha256_algo, None)
    assert not policy.digest_combination_allowed(ecdsa, sm3_algo, None)  # pyHanko's own rule still applies
    # pyHanko's stock policy has no opinion on sm2_sign + SHA-256; ours refuses it.
    assert DEFAULT_ALGORITHM_USAGE_POLICY.digest_combination_allowed(
        sm2_algorithm(SM2_SIGN), sha256_algo, None
    )


def test_pyhanko_hashes_sm3_by_the_registered_oid() -> None:
    from asn1crypto import algos

    name = algos.DigestAlgorithm.load(bytes.fromhex("300a06082a811ccf550183110500"))["algorithm"].native
    assert name == "sm3"
    assert get_digest(name, b"abc").hex() == (
        "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    )


# --- the OCSP responder-context workaround -------------------------------------------------------


def test_ocsp_nocheck_workaround_is_still_needed_and_in_place() -> None:
    """Fails when pyhanko-certvalidator changes the code the workaround relies on (or fixes it upstream)."""
    source = inspect.getsource(validate_ocsp._validate_delegated_ocsp_provenance)
    assert "ocsp_no_check_value" in source
    call = source[source.index("vc = ValidationContext(") :]
    call = call[: call.index(")")]
    assert "signature_validator" not in call, "upstream now passes the validator: drop the workaround"

    patched = validate_ocsp.ValidationContext
    assert patched is not ValidationContext and issubclass(patched, ValidationContext)
    assert isinstance(patched(trust_roots=[]).sig_validator, SM2SignatureValidator)
    own = SM2SignatureValidator()
    assert patched(trust_roots=[], signature_validator=own).sig_validator is own
    # contexts built anywhere else keep pyHanko's default
    assert not isinstance(ValidationContext(trust_roots=[]).sig_validator, SM2SignatureValidator)
