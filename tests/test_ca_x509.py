"""Certificates and CRLs built by trustsvc.ca.x509: contents, encodings, refusals, self-check."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from asn1crypto import crl, keys, parser, x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tests.pki import BASE, LEAF_KINDS, NOW, SM2_SM3_DER, SUBJECTS, Issued, issue, new_signer, spki_sha1
from trustsvc.ca.profiles import (
    DEFAULT_POLICY_OID,
    ID_KP_DOCUMENT_SIGNING,
    ID_KP_SEAL_MAKING,
    ProfileKind,
    get_profile,
)
from trustsvc.ca.x509 import RevocationReason, RevokedEntry, build_certificate, build_crl, new_serial
from trustsvc.errors import InvalidInput, InvalidSignature, UnsupportedAlgorithm
from trustsvc.keys.algorithms import KeyAlgorithm, SignatureAlgorithm
from trustsvc.keys.signer import Signer, software_signer, verify

ALGORITHMS = [KeyAlgorithm.SM2, KeyAlgorithm.ECDSA_P256]


@pytest.fixture(params=ALGORITHMS, ids=lambda a: a.value)
def algorithm(request: pytest.FixtureRequest) -> KeyAlgorithm:
    return KeyAlgorithm(request.param)


@pytest.fixture
def chain(algorithm: KeyAlgorithm) -> tuple[Issued, Issued]:
    root = issue(ProfileKind.ROOT, None, algorithm)
    return root, issue(ProfileKind.ISSUING_CA, root, algorithm)


@pytest.fixture
def ecdsa_chain() -> tuple[Issued, Issued]:
    root = issue(ProfileKind.ROOT, None, KeyAlgorithm.ECDSA_P256)
    return root, issue(ProfileKind.ISSUING_CA, root, KeyAlgorithm.ECDSA_P256)


def extensions_of(certificate: x509.Certificate) -> dict[str, x509.Extension]:
    return {e["extn_id"].native: e for e in certificate["tbs_certificate"]["extensions"]}


# --- serials -------------------------------------------------------------------------------------


def test_serials_are_positive_random_and_fit_twenty_octets() -> None:
    serials = {new_serial() for _ in range(2000)}
    assert len(serials) == 2000
    assert all(1 << 64 < s < 1 << 159 for s in serials)
    assert max(serials).bit_length() >= 150  # top bits are used, i.e. the full 159 bits are random


# --- certificates --------------------------------------------------------------------------------


def test_root_is_self_signed_with_ca_constraints(chain: tuple[Issued, Issued]) -> None:
    root, _ = chain
    cert = root.certificate
    assert cert.self_signed == "maybe" or cert.self_signed == "yes"
    assert cert.issuer.dump() == cert.subject.dump()
    ext = extensions_of(cert)
    assert set(ext) == {"basic_constraints", "key_usage", "key_identifier", "authority_key_identifier"}
    assert ext["basic_constraints"]["critical"].native is True
    assert ext["basic_constraints"]["extn_value"].native == {"ca": True, "path_len_constraint": None}
    assert ext["key_usage"]["critical"].native is True
    assert set(ext["key_usage"]["extn_value"].native) == {"key_cert_sign", "crl_sign"}
    assert cert.key_identifier == spki_sha1(cert) == cert.authority_key_identifier
    verify(cert.public_key, root.signer.algorithm, cert["tbs_certificate"].dump(), cert.signature)


def test_issuing_ca_points_at_root_and_has_path_length_zero(chain: tuple[Issued, Issued]) -> None:
    root, issuing = chain
    cert = issuing.certificate
    ext = extensions_of(cert)
    assert ext["basic_constraints"]["extn_value"].native == {"ca": True, "path_len_constraint": 0}
    assert cert.authority_key_identifier == root.certificate.key_identifier
    assert cert.key_identifier == spki_sha1(cert)
    assert cert.crl_distribution_points[0]["distribution_point"].native == [f"{BASE}/crl/root.crl"]
    aia = {
        a["access_method"].native: a["access_location"].native
        for a in cert.authority_information_access_value
    }
    assert aia == {"ca_issuers": f"{BASE}/ca/root.crt"}  # no OCSP: the root's status is on its CRL
    assert cert.issuer.dump() == root.certificate.subject.dump()
    assert cert.certificate_policies_value.native == [
        {"policy_identifier": DEFAULT_POLICY_OID, "policy_qualifiers": None}
    ]


@pytest.mark.parametrize("kind", LEAF_KINDS, ids=str)
def test_every_leaf_profile_gets_its_extensions(
    chain: tuple[Issued, Issued], algorithm: KeyAlgorithm, kind: ProfileKind
) -> None:
    _, issuing = chain
    leaf = issue(kind, issuing, algorithm)
    cert = leaf.certificate
    ext = extensions_of(cert)
    profile = get_profile(kind)
    assert ext["basic_constraints"]["critical"].native is True
    assert ext["basic_constraints"]["extn_value"].native == {"ca": False, "path_len_constraint": None}
    assert ext["basic_constraints"]["extn_value"].contents == b"\x30\x00"  # cA FALSE is DEFAULT: omitted
    assert ext["key_usage"]["critical"].native is True
    assert set(ext["key_usage"]["extn_value"].native) == set(profile.key_usage)
    eku = ext["extended_key_usage"]
    assert tuple(eku["extn_value"].native) == profile.extended_key_usage
    assert eku["critical"].native is (kind is ProfileKind.TSA)
    assert cert.authority_key_identifier == issuing.certificate.key_identifier
    assert cert.key_identifier == spki_sha1(cert)
    assert cert.crl_distribution_points[0]["distribution_point"].native == [f"{BASE}/crl/issuing.crl"]
    aia = {
        a["access_method"].native: a["access_location"].native
        for a in cert.authority_information_access_value
    }
    expected_aia = {"ca_issuers": f"{BASE}/ca/issuing.crt"}
    if kind is not ProfileKind.OCSP_RESPONDER:
        expected_aia["ocsp"] = f"{BASE}/ocsp"
    assert aia == expected_aia
    assert ("ocsp_no_check" in ext) is (kind is ProfileKind.OCSP_RESPONDER)
    assert cert.issuer.dump() == issuing.certificate.subject.dump()
    assert cert.subject.dump() == get_profile(kind).build_subject(SUBJECTS[kind]).dump()


def test_profile_ekus_are_the_documented_oids(ecdsa_chain: tuple[Issued, Issued]) -> None:
    _, issuing = ecdsa_chain
    dotted = {}
    for kind in LEAF_KINDS:
        certificate = issue(kind, issuing, KeyAlgorithm.ECDSA_P256).certificate
        dotted[kind] = [p.dotted for p in certificate.extended_key_usage_value]
    assert dotted == {
        ProfileKind.SEAL_MAKER: [ID_KP_SEAL_MAKING],
        ProfileKind.SEAL_SIGNER: [ID_KP_DOCUMENT_SIGNING],
        ProfileKind.PERSON_SIGNER: [ID_KP_DOCUMENT_SIGNING],
        ProfileKind.OCSP_RESPONDER: ["1.3.6.1.5.5.7.3.9"],
        ProfileKind.TSA: ["1.3.6.1.5.5.7.3.8"],
        ProfileKind.TLS_CLIENT: ["1.3.6.1.5.5.7.3.2"],
        ProfileKind.TRUST_LIST_SIGNER: ["0.4.0.2231.3.0"],
    }


def test_sm2_certificate_uses_sm2_sm3_without_parameters() -> None:
    root = issue(ProfileKind.ROOT, None, KeyAlgorithm.SM2)
    cert = root.certificate
    assert cert["signature_algorithm"].dump() == SM2_SM3_DER
    assert cert["tbs_certificate"]["signature"].dump() == SM2_SM3_DER
    # SM2 SPKI: id-ecPublicKey with the sm2p256v1 curve, the fixed 27-byte prefix of spec §2.2
    assert cert.public_key.dump().startswith(
        bytes.fromhex("3059301306072a8648ce3d020106082a811ccf5501822d034200")
    )


def test_ecdsa_and_rsa_signature_algorithms() -> None:
    root = issue(ProfileKind.ROOT, None, KeyAlgorithm.ECDSA_P256)
    assert root.certificate["signature_algorithm"]["algorithm"].dotted == "1.2.840.10045.4.3.2"
    assert root.certificate["signature_algorithm"]["parameters"].native is None
    rsa_root = issue(ProfileKind.ROOT, None, KeyAlgorithm.RSA_3072)
    assert rsa_root.certificate["signature_algorithm"].dump() == bytes.fromhex(
        "300d06092a864886f70d01010b0500"
    )
    pss_signer = software_signer(rsa.generate_private_key(65537, 2048), SignatureAlgorithm.RSA_PSS_SHA256)
    pss_root = issue(ProfileKind.ROOT, None, KeyAlgorithm.RSA_3072, subject_signer=pss_signer)
    assert pss_root.certificate["signature_algorithm"]["algorithm"].native == "rsassa_pss"


def test_policy_with_cps_qualifier() -> None:
    root = issue(ProfileKind.ROOT, None, KeyAlgorithm.ECDSA_P256)
    profile = get_profile(
        ProfileKind.TSA, policy_oid="1.3.6.1.4.1.99999.1", cps_uri="http://pki.example.cn/cps"
    )
    signer = new_signer(KeyAlgorithm.ECDSA_P256)
    cert = build_certificate(
        profile,
        profile.build_subject(SUBJECTS[ProfileKind.TSA]),
        signer.public_key_info,
        root.certificate,
        root.signer,
        serial=new_serial(),
        not_before=NOW,
        not_after=NOW + timedelta(days=30),
        base_url=BASE + "/",
        ca_name="root",
    )
    assert cert.certificate_policies_value.native == [
        {
            "policy_identifier": "1.3.6.1.4.1.99999.1",
            "policy_qualifiers": [
                {
                    "policy_qualifier_id": "certification_practice_statement",
                    "qualifier": "http://pki.example.cn/cps",
                }
            ],
        }
    ]
    assert cert.crl_distribution_points[0]["distribution_point"].native == [f"{BASE}/crl/root.crl"]


def test_times_use_utctime_before_2050_and_generalizedtime_after() -> None:
    root = issue(ProfileKind.ROOT, None, KeyAlgorithm.ECDSA_P256, not_before=datetime(2040, 1, 1, tzinfo=UTC))
    validity = root.certificate["tbs_certificate"]["validity"]
    assert validity["not_before"].name == "utc_time"
    assert validity["not_after"].name == "general_time"
    assert validity["not_after"].chosen.dump()[2:] == b"20600101000000Z"
    assert validity["not_before"].chosen.dump()[2:] == b"400101000000Z"


def test_microseconds_are_dropped() -> None:
    root = issue(ProfileKind.ROOT, None, KeyAlgorithm.ECDSA_P256, not_before=NOW.replace(microsecond=654321))
    assert root.certificate.not_valid_before == NOW


def test_output_is_reparsed_der() -> None:
    root = issue(ProfileKind.ROOT, None, KeyAlgorithm.ECDSA_P256)
    der = root.certificate.dump()
    assert x509.Certificate.load(der).dump(force=True) == der


# --- refusals ------------------------------------------------------------------------------------


def _build(
    profile_kind: ProfileKind, issuer: Issued | None, signer: Signer, **over: object
) -> x509.Certificate:
    profile = get_profile(profile_kind)
    subject_signer = new_signer(KeyAlgorithm.ECDSA_P256)
    args: dict[str, object] = {
        "serial": new_serial(),
        "not_before": NOW,
        "not_after": NOW + timedelta(days=365),
        "base_url": BASE,
        "ca_name": "root",
    }
    args.update(over)
    return build_certificate(
        profile,
        profile.build_subject(SUBJECTS[profile_kind]),
        subject_signer.public_key_info,
        issuer.certificate if issuer else None,
        signer,
        **args,  # type: ignore[arg-type]
    )


def test_leaf_without_issuer_is_refused() -> None:
    signer = new_signer(KeyAlgorithm.ECDSA_P256)
    with pytest.raises(InvalidInput, match="needs an issuing CA"):
        _build(ProfileKind.TSA, None, signer)


def test_root_with_issuer_is_refused(ecdsa_chain: tuple[Issued, Issued]) -> None:
    root, _ = ecdsa_chain
    with pytest.raises(InvalidInput, match="self-signed"):
        _build(ProfileKind.ROOT, root, root.signer)


def test_end_entity_cannot_issue(ecdsa_chain: tuple[Issued, Issued]) -> None:
    _, issuing = ecdsa_chain
    tsa = issue(ProfileKind.TSA, issuing, KeyAlgorithm.ECDSA_P256)
    with pytest.raises(InvalidInput, match="not a CA"):
        _build(ProfileKind.TLS_CLIENT, tsa, tsa.signer)


def test_issuing_ca_cannot_issue_a_ca(ecdsa_chain: tuple[Issued, Issued]) -> None:
    _, issuing = ecdsa_chain
    with pytest.raises(InvalidInput, match="pathLenConstraint"):
        _build(ProfileKind.ISSUING_CA, issuing, issuing.signer)


def test_signer_must_hold_the_issuer_key(ecdsa_chain: tuple[Issued, Issued]) -> None:
    root, issuing = ecdsa_chain
    with pytest.raises(InvalidInput, match="signer's key"):
        _build(ProfileKind.TSA, issuing, root.signer)


def test_certificate_may_not_outlive_issuer(ecdsa_chain: tuple[Issued, Issued]) -> None:
    _, issuing = ecdsa_chain
    with pytest.raises(InvalidInput, match="outlive"):
        _build(
            ProfileKind.TSA,
            issuing,
            issuing.signer,
            not_after=issuing.certificate.not_valid_after + timedelta(1),
        )


@pytest.mark.parametrize("serial", [0, -1, 1 << 159])
def test_bad_serials_are_refused(ecdsa_chain: tuple[Issued, Issued], serial: int) -> None:
    _, issuing = ecdsa_chain
    with pytest.raises(InvalidInput, match="serial"):
        _build(ProfileKind.TSA, issuing, issuing.signer, serial=serial)


@pytest.mark.parametrize(
    "over",
    [
        {"not_after": NOW},
        {"not_before": NOW.replace(tzinfo=None)},
        {"base_url": "pki.example.cn"},
        {"base_url": "http://例子.cn"},
        {"ca_name": "../etc"},
        {"ca_name": ""},
    ],
)
def test_bad_arguments_are_refused(ecdsa_chain: tuple[Issued, Issued], over: dict[str, object]) -> None:
    _, issuing = ecdsa_chain
    with pytest.raises(InvalidInput):
        _build(ProfileKind.TSA, issuing, issuing.signer, **over)


def test_keys_trustsvc_does_not_certify_are_refused(ecdsa_chain: tuple[Issued, Issued]) -> None:
    _, issuing = ecdsa_chain
    profile = get_profile(ProfileKind.TLS_CLIENT)
    p384 = keys.PublicKeyInfo.load(
        ec.generate_private_key(ec.SECP384R1())
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(UnsupportedAlgorithm):
        build_certificate(
            profile,
            profile.build_subject(SUBJECTS[ProfileKind.TLS_CLIENT]),
            p384,
            issuing.certificate,
            issuing.signer,
            serial=new_serial(),
            not_before=NOW,
            not_after=NOW + timedelta(days=30),
            base_url=BASE,
            ca_name="issuing",
        )


class _LyingSigner:
    """Claims one key, signs with another: the kind of mistake the self-check is there for."""

    def __init__(self, claimed: Signer, actual: Signer) -> None:
        self.algorithm = claimed.algorithm
        self.public_key_info = claimed.public_key_info
        self._actual = actual

    def sign(self, data: bytes) -> bytes:
        return self._actual.sign(data)


def test_signature_is_checked_before_returning(chain: tuple[Issued, Issued], algorithm: KeyAlgorithm) -> None:
    _, issuing = chain
    liar = _LyingSigner(issuing.signer, new_signer(algorithm))
    with pytest.raises(InvalidSignature, match="does not verify under the issuer's key"):
        _build(ProfileKind.TSA, issuing, liar)


# --- CRLs ----------------------------------------------------------------------------------------


def crl_extensions(cert_list: crl.CertificateList) -> dict[str, crl.TBSCertListExtension]:
    return {e["extn_id"].native: e for e in cert_list["tbs_cert_list"]["crl_extensions"]}


def test_full_crl_lists_entries_with_reasons(chain: tuple[Issued, Issued]) -> None:
    _, issuing = chain
    entries = [
        RevokedEntry(
            0x1234, NOW - timedelta(days=1), RevocationReason.KEY_COMPROMISE, NOW - timedelta(days=3)
        ),
        RevokedEntry(0x0FED, NOW - timedelta(hours=2)),
        RevokedEntry(0x777, NOW - timedelta(hours=1), RevocationReason.UNSPECIFIED),
        RevokedEntry(0x888, NOW - timedelta(hours=1), RevocationReason.CERTIFICATE_HOLD),
    ]
    cert_list = build_crl(
        issuing.certificate,
        issuing.signer,
        entries,
        7,
        NOW,
        NOW + timedelta(days=1),
        base_url=BASE,
        ca_name="issuing",
    )
    tbs = cert_list["tbs_cert_list"]
    assert tbs["version"].native == "v2"
    assert tbs["issuer"].dump() == issuing.certificate.subject.dump()
    assert [r["user_certificate"].native for r in tbs["revoked_certificates"]] == [
        0x777,
        0x888,
        0xFED,
        0x1234,
    ]
    by_serial = {r["user_certificate"].native: r for r in tbs["revoked_certificates"]}
    compromised = by_serial[0x1234]
    assert compromised.crl_reason_value.native == "key_compromise"
    assert compromised.invalidity_date_value.native == NOW - timedelta(days=3)
    assert compromised["crl_entry_extensions"][1]["extn_value"].parsed.tag == 24  # GeneralizedTime
    assert by_serial[0xFED]["crl_entry_extensions"].native is None  # no reason → no extension
    assert by_serial[0x777]["crl_entry_extensions"].native is None  # unspecified is written as absent
    assert by_serial[0x888].crl_reason_value.native == "certificate_hold"
    ext = crl_extensions(cert_list)
    assert ext["crl_number"]["extn_value"].native == 7
    assert (
        ext["authority_key_identifier"]["extn_value"].native["key_identifier"]
        == issuing.certificate.key_identifier
    )
    assert ext["freshest_crl"]["extn_value"].native[0]["distribution_point"] == [
        f"{BASE}/crl/issuing-delta.crl"
    ]
    assert "delta_crl_indicator" not in ext
    assert "issuing_distribution_point" not in ext
    assert tbs["this_update"].native == NOW
    assert tbs["next_update"].native == NOW + timedelta(days=1)
    verify(
        issuing.certificate.public_key,
        issuing.signer.algorithm,
        tbs.dump(),
        cert_list.signature,
    )
    assert cert_list["signature_algorithm"].dump() == tbs["signature"].dump()


def test_empty_crl_omits_revoked_certificates(chain: tuple[Issued, Issued]) -> None:
    root, _ = chain
    cert_list = build_crl(
        root.certificate, root.signer, [], 1, NOW, NOW + timedelta(days=30), base_url=BASE, ca_name="root"
    )
    # version, signature, issuer, thisUpdate, nextUpdate, [0] crlExtensions — no empty SEQUENCE between
    contents = cert_list["tbs_cert_list"].contents
    tags = []
    while contents:
        _, _, tag, header, body, trailer = parser.parse(contents)
        tags.append(tag)
        contents = contents[len(header) + len(body) + len(trailer) :]
    assert tags == [2, 16, 16, 23, 23, 0]


def test_delta_crl_has_critical_indicator_and_may_remove_from_crl(chain: tuple[Issued, Issued]) -> None:
    _, issuing = chain
    entries = [RevokedEntry(0x888, NOW, RevocationReason.REMOVE_FROM_CRL)]
    delta = build_crl(
        issuing.certificate,
        issuing.signer,
        entries,
        9,
        NOW,
        NOW + timedelta(hours=4),
        delta_base=7,
        base_url=BASE,
        ca_name="issuing",
    )
    ext = crl_extensions(delta)
    assert ext["delta_crl_indicator"]["critical"].native is True
    assert ext["delta_crl_indicator"]["extn_value"].native == 7
    assert ext["crl_number"]["extn_value"].native == 9
    assert "freshest_crl" not in ext
    assert delta["tbs_cert_list"]["revoked_certificates"][0].crl_reason_value.native == "remove_from_crl"


def test_crl_refusals(ecdsa_chain: tuple[Issued, Issued]) -> None:
    root, issuing = ecdsa_chain
    later = NOW + timedelta(days=1)

    def crl_of(
        entries: list[RevokedEntry],
        number: int = 1,
        *,
        next_update: datetime = later,
        delta_base: int | None = None,
        issuer: Issued = issuing,
        signer: Signer | None = None,
    ) -> None:
        build_crl(
            issuer.certificate,
            signer or issuer.signer,
            entries,
            number,
            NOW,
            next_update,
            delta_base=delta_base,
            base_url=BASE,
            ca_name="issuing",
        )

    with pytest.raises(InvalidInput, match="removeFromCRL"):
        crl_of([RevokedEntry(5, NOW, RevocationReason.REMOVE_FROM_CRL)])
    with pytest.raises(InvalidInput, match="twice"):
        crl_of([RevokedEntry(5, NOW), RevokedEntry(5, NOW)])
    with pytest.raises(InvalidInput, match="revoked serial"):
        crl_of([RevokedEntry(0, NOW)])
    with pytest.raises(InvalidInput, match="base CRL number"):
        crl_of([], 3, delta_base=3)
    with pytest.raises(InvalidInput, match="nextUpdate"):
        crl_of([], 3, next_update=NOW)
    with pytest.raises(InvalidInput, match="CRL number"):
        crl_of([], -1)
    with pytest.raises(InvalidInput, match="issuer's key"):
        crl_of([], signer=root.signer)
    with pytest.raises(InvalidInput, match="cRLSign"):
        crl_of([], issuer=issue(ProfileKind.TSA, issuing, KeyAlgorithm.ECDSA_P256))


def test_crl_signature_is_checked_before_returning(
    chain: tuple[Issued, Issued], algorithm: KeyAlgorithm
) -> None:
    _, issuing = chain
    liar = _LyingSigner(issuing.signer, new_signer(algorithm))
    with pytest.raises(InvalidSignature):
        build_crl(
            issuing.certificate,
            liar,
            [],
            1,
            NOW,
            NOW + timedelta(days=1),
            base_url=BASE,
            ca_name="issuing",
        )


# --- independent path validation (pyhanko-certvalidator knows ECDSA, not SM2) --------------------


@pytest.mark.parametrize("kind", LEAF_KINDS, ids=str)
def test_pyhanko_certvalidator_validates_every_ecdsa_leaf(
    ecdsa_chain: tuple[Issued, Issued], kind: ProfileKind
) -> None:
    import asyncio

    from pyhanko_certvalidator import CertificateValidator, ValidationContext

    root, issuing = ecdsa_chain
    leaf = issue(kind, issuing, KeyAlgorithm.ECDSA_P256)
    context = ValidationContext(
        trust_roots=[root.certificate],
        other_certs=[issuing.certificate],
        moment=NOW + timedelta(days=1),
        revocation_mode="soft-fail",
        allow_fetching=False,
    )
    validator = CertificateValidator(leaf.certificate, validation_context=context)
    path = asyncio.run(validator.async_validate_path())
    assert path.pkix_len == 2
