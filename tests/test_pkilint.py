"""pkilint's RFC 5280 certificate and CRL linters on a certificate of every profile and on our CRLs.

No FATAL or ERROR finding is allowed; anything milder is printed (run with ``-s`` to see it). pkilint's
RFC 5280 linter has no algorithm allow-list (those live in its CA/B Forum and ETSI linters), so SM2 keys
and SM2-with-SM3 signatures are decoded as opaque AlgorithmIdentifiers and linted like any other: the test
asserts that an SM2 certificate gets exactly the findings its ECDSA twin gets.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from pkilint import loader, pkix
from pkilint.pkix import certificate, extension, name
from pkilint.pkix import crl as pkix_crl
from pkilint.validation import ValidationFindingSeverity

from tests.pki import LEAF_KINDS, NOW, Issued, issue
from trustsvc.ca.profiles import ProfileKind
from trustsvc.ca.x509 import RevocationReason, RevokedEntry, build_crl
from trustsvc.keys.algorithms import KeyAlgorithm

ALGORITHMS = [KeyAlgorithm.SM2, KeyAlgorithm.ECDSA_P256]
BASE = "http://pki.example.cn"


@dataclass(frozen=True)
class Finding:
    severity: ValidationFindingSeverity
    code: str
    message: str | None
    path: str

    def __str__(self) -> str:
        return f"{self.severity.name} {self.code} @ {self.path}: {self.message or ''}"


def _certificate_validator() -> object:
    return certificate.create_pkix_certificate_validator_container(
        certificate.create_decoding_validators(name.ATTRIBUTE_TYPE_MAPPINGS, extension.EXTENSION_MAPPINGS),
        [
            certificate.create_issuer_validator_container([]),
            certificate.create_validity_validator_container(),
            certificate.create_subject_validator_container([]),
            certificate.create_extensions_validator_container([]),
            certificate.create_spki_validator_container([]),
        ],
    )


def _crl_validator(crl_type: pkix_crl.CertificateRevocationListType) -> object:
    del crl_type  # the PKIX profile does not depend on it; the CA/B Forum one would
    return pkix_crl.create_pkix_crl_validator_container(
        [
            pkix.create_attribute_decoder(name.ATTRIBUTE_TYPE_MAPPINGS),
            pkix.create_extension_decoder(extension.EXTENSION_MAPPINGS),
        ],
        [
            pkix_crl.create_issuer_validator_container([]),
            pkix_crl.create_validity_validator_container([]),
            pkix_crl.create_extensions_validator_container([]),
        ],
    )


def _findings(validator: object, document: object) -> list[Finding]:
    results = validator.validate(document.root)  # type: ignore[attr-defined]
    return [
        Finding(fd.finding.severity, fd.finding.code, fd.message, str(result.node.path))
        for result in results
        for fd in result.finding_descriptions
    ]


def lint_certificate(der: bytes, label: str) -> list[Finding]:
    document = loader.RFC5280CertificateDocumentLoader().load_der_document(der, label)
    return _findings(_certificate_validator(), document)


def lint_crl(der: bytes, label: str, *, authority: bool) -> list[Finding]:
    crl_type = (
        pkix_crl.CertificateRevocationListType.ARL
        if authority
        else pkix_crl.CertificateRevocationListType.CRL
    )
    document = loader.RFC5280CertificateListDocumentLoader().load_der_document(der, label)
    return _findings(_crl_validator(crl_type), document)


def assert_no_errors(findings: list[Finding], label: str) -> None:
    for finding in findings:
        if finding.severity > ValidationFindingSeverity.ERROR:
            print(f"{label}: {finding}")
    errors = [str(f) for f in findings if f.severity <= ValidationFindingSeverity.ERROR]
    assert not errors, f"{label}: " + "; ".join(errors)


def _codes(findings: list[Finding]) -> set[tuple[str, str]]:
    return {(f.severity.name, f.code) for f in findings}


@pytest.fixture(scope="module")
def pkis() -> dict[KeyAlgorithm, dict[ProfileKind, Issued]]:
    built: dict[KeyAlgorithm, dict[ProfileKind, Issued]] = {}
    for algorithm in ALGORITHMS:
        root = issue(ProfileKind.ROOT, None, algorithm)
        issuing = issue(ProfileKind.ISSUING_CA, root, algorithm)
        certificates = {ProfileKind.ROOT: root, ProfileKind.ISSUING_CA: issuing}
        certificates.update({kind: issue(kind, issuing, algorithm) for kind in LEAF_KINDS})
        built[algorithm] = certificates
    return built


@pytest.mark.parametrize("kind", list(ProfileKind), ids=str)
@pytest.mark.parametrize("algorithm", ALGORITHMS, ids=str)
def test_pkilint_finds_no_errors_in_any_profile(
    pkis: dict[KeyAlgorithm, dict[ProfileKind, Issued]], algorithm: KeyAlgorithm, kind: ProfileKind
) -> None:
    label = f"{algorithm}/{kind}"
    assert_no_errors(lint_certificate(pkis[algorithm][kind].certificate.dump(), label), label)


@pytest.mark.parametrize("kind", list(ProfileKind), ids=str)
def test_sm2_certificates_get_the_same_findings_as_ecdsa(
    pkis: dict[KeyAlgorithm, dict[ProfileKind, Issued]], kind: ProfileKind
) -> None:
    sm2 = lint_certificate(pkis[KeyAlgorithm.SM2][kind].certificate.dump(), "sm2")
    ecdsa = lint_certificate(pkis[KeyAlgorithm.ECDSA_P256][kind].certificate.dump(), "ecdsa")
    assert _codes(sm2) == _codes(ecdsa)
    # what pkilint does say: it recognises our key identifiers as RFC 5280 method 1
    assert ("INFO", "pkix.subject_key_identifier_method_1_identified") in _codes(sm2)


@pytest.mark.parametrize("algorithm", ALGORITHMS, ids=str)
def test_pkilint_finds_no_errors_in_our_crls(
    pkis: dict[KeyAlgorithm, dict[ProfileKind, Issued]], algorithm: KeyAlgorithm
) -> None:
    root, issuing = pkis[algorithm][ProfileKind.ROOT], pkis[algorithm][ProfileKind.ISSUING_CA]
    revoked = pkis[algorithm][ProfileKind.SEAL_SIGNER].certificate.serial_number
    full = build_crl(
        issuing.certificate,
        issuing.signer,
        [
            RevokedEntry(revoked, NOW, RevocationReason.KEY_COMPROMISE, NOW - timedelta(days=1)),
            RevokedEntry(0x1234, NOW, RevocationReason.CERTIFICATE_HOLD),
            RevokedEntry(0x5678, NOW),
        ],
        20,
        NOW,
        NOW + timedelta(days=1),
        base_url=BASE,
        ca_name="issuing",
    )
    delta = build_crl(
        issuing.certificate,
        issuing.signer,
        [RevokedEntry(0x1234, NOW, RevocationReason.REMOVE_FROM_CRL)],
        21,
        NOW,
        NOW + timedelta(hours=4),
        delta_base=20,
        base_url=BASE,
        ca_name="issuing",
    )
    authority = build_crl(
        root.certificate, root.signer, [], 5, NOW, NOW + timedelta(days=30), base_url=BASE, ca_name="root"
    )
    assert_no_errors(lint_crl(full.dump(), f"{algorithm}/full", authority=False), f"{algorithm}/full")
    assert_no_errors(lint_crl(delta.dump(), f"{algorithm}/delta", authority=False), f"{algorithm}/delta")
    assert_no_errors(lint_crl(authority.dump(), f"{algorithm}/arl", authority=True), f"{algorithm}/arl")


def test_pkilint_parses_our_organization_identifier_as_etsi_ntr(
    pkis: dict[KeyAlgorithm, dict[ProfileKind, Issued]],
) -> None:
    """pkilint's ETSI EN 319 412-1 §5.1.4 parser reads ``NTRCN-<USCC>`` as scheme NTR, country CN.

    (pkilint's ETSI linter only applies that check to certificates with an ETSI legal-person QC statement,
    which ours have no reason to carry, so the parser is called directly.)
    """
    from pkilint.common import organization_id

    subject = pkis[KeyAlgorithm.SM2][ProfileKind.SEAL_SIGNER].certificate.subject.native
    parsed = organization_id.parse_organization_identifier(subject["organization_identifier"])
    assert (parsed.scheme, parsed.is_national_scheme, parsed.country) == ("NTR", False, "CN")
    assert parsed.state_province is None
    assert parsed.reference == "91110000600037341L"
    assert parsed.country in organization_id.ISO3166_1_COUNTRY_CODES


def test_pkilint_does_report_errors_here() -> None:
    """The harness is live: a certificate with an empty subject and no SAN is an RFC 5280 error."""
    from asn1crypto import x509

    root = issue(ProfileKind.ROOT, None, KeyAlgorithm.ECDSA_P256)
    tbs = root.certificate["tbs_certificate"]
    broken = x509.Certificate(
        {
            "tbs_certificate": x509.TbsCertificate(
                {
                    "version": "v3",
                    "serial_number": 0,
                    "signature": tbs["signature"],
                    "issuer": tbs["issuer"],
                    "validity": tbs["validity"],
                    "subject": x509.Name.build({}),
                    "subject_public_key_info": tbs["subject_public_key_info"],
                    "extensions": tbs["extensions"],
                }
            ),
            "signature_algorithm": root.certificate["signature_algorithm"],
            "signature_value": root.certificate.signature,
        }
    )
    findings = lint_certificate(broken.dump(force=True), "broken")
    assert any(f.severity <= ValidationFindingSeverity.ERROR for f in findings)
