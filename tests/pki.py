"""Throw-away PKI builders shared by the tests: subjects for every profile, :func:`issue`, CSRs.

``issue(kind, issuer, algorithm)`` builds one certificate of profile ``kind`` with trustsvc.ca.x509 and a
fresh software key (``Issued`` holds the certificate and its signer); ``issuer=None`` makes a
self-signed root.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from asn1crypto import csr, parser, x509
from cryptography import x509 as cx509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

from trustsvc.ca.profiles import ProfileKind, SubjectInfo, get_profile, pseudonymous_person_id
from trustsvc.ca.x509 import build_certificate, new_serial
from trustsvc.keys.algorithms import KeyAlgorithm, signed_digest_algorithm
from trustsvc.keys.signer import Signer, software_signer

BASE = "http://pki.example.cn"
NOW = datetime(2026, 6, 1, 8, 0, 0, tzinfo=UTC)
SM2_SM3_DER = bytes.fromhex("300a06082a811ccf55018375")  # SEQUENCE { 1.2.156.10197.1.501 }, no NULL

SUBJECTS: dict[ProfileKind, SubjectInfo] = {
    ProfileKind.ROOT: SubjectInfo(
        common_name="某省电子印章根CA", organization="某省数据资源管理局", uscc="11330105002500287C"
    ),
    ProfileKind.ISSUING_CA: SubjectInfo(common_name="某省电子印章签发CA", organization="某省数据资源管理局"),
    ProfileKind.SEAL_MAKER: SubjectInfo(
        common_name="某省电子印章制作系统", organization="某省公安厅", uscc="11430000006122244L"
    ),
    ProfileKind.SEAL_SIGNER: SubjectInfo(
        common_name="某市市场监督管理局行政审批专用章",
        organization="某市市场监督管理局",
        organizational_unit="行政审批科",
        uscc="91110000600037341L",
        state="某省",
        locality="某市",
    ),
    ProfileKind.PERSON_SIGNER: SubjectInfo(
        common_name="张三",
        organization="某市政务服务中心",
        person_pseudonym=pseudonymous_person_id("11010519491231002X", key=b"p" * 32),
    ),
    ProfileKind.OCSP_RESPONDER: SubjectInfo(
        common_name="某省CA OCSP响应器", organization="某省数据资源管理局"
    ),
    ProfileKind.TSA: SubjectInfo(common_name="某省时间戳服务", organization="某省数据资源管理局"),
    ProfileKind.TLS_CLIENT: SubjectInfo(
        common_name="工程建设项目审批系统", organization="某省住房和城乡建设厅", uscc="11100000000013338W"
    ),
    ProfileKind.TRUST_LIST_SIGNER: SubjectInfo(
        common_name="某省电子印章信任列表签名", organization="某省数据资源管理局", uscc="11330105002500287C"
    ),
}
LEAF_KINDS = [k for k in ProfileKind if k not in (ProfileKind.ROOT, ProfileKind.ISSUING_CA)]


@dataclass
class Issued:
    certificate: x509.Certificate
    signer: Signer


def new_signer(algorithm: KeyAlgorithm) -> Signer:
    if algorithm is KeyAlgorithm.SM2:
        from trustsvc.keys.sm2 import SM2PrivateKey

        return software_signer(SM2PrivateKey.generate())
    if algorithm is KeyAlgorithm.ECDSA_P256:
        return software_signer(ec.generate_private_key(ec.SECP256R1()))
    return software_signer(rsa.generate_private_key(65537, 2048))


def issue(
    kind: ProfileKind,
    issuer: Issued | None,
    algorithm: KeyAlgorithm,
    *,
    not_before: datetime = NOW,
    subject_signer: Signer | None = None,
) -> Issued:
    profile = get_profile(kind)
    signer = subject_signer or new_signer(algorithm)
    start, end = profile.validity(
        not_before, issuer_not_after=issuer.certificate.not_valid_after if issuer else None
    )
    certificate = build_certificate(
        profile,
        profile.build_subject(SUBJECTS[kind]),
        signer.public_key_info,
        issuer.certificate if issuer else None,
        issuer.signer if issuer else signer,
        serial=new_serial(),
        not_before=start,
        not_after=end,
        base_url=BASE,
        ca_name="root" if issuer is None or kind is ProfileKind.ISSUING_CA else "issuing",
    )
    return Issued(certificate, signer)


def spki_sha1(certificate: x509.Certificate) -> bytes:
    """RFC 5280 §4.2.1.2 method 1, computed from the raw BIT STRING TLV rather than asn1crypto's view."""
    _, _, tag, _, contents, _ = parser.parse(certificate.public_key["public_key"].dump())
    assert tag == 3  # BIT STRING
    return hashlib.sha1(contents[1:]).digest()


# --- certification requests ----------------------------------------------------------------------

SUBJECT_CN = "工程建设项目审批系统"
SUBJECT_O = "某省住房和城乡建设厅"


def _name() -> x509.Name:
    return x509.Name.build({"country_name": "CN", "organization_name": SUBJECT_O, "common_name": SUBJECT_CN})


def csr_from_signer(
    signer: Signer,
    *,
    subject: x509.Name | None = None,
    extensions: list[dict[str, object]] | None = None,
    tamper: bool = False,
) -> bytes:
    """Return a DER CSR made by ``signer`` (any algorithm, SM2 included); ``tamper`` breaks the POP."""
    attributes = []
    if extensions:
        attributes.append({"type": "extension_request", "values": [extensions]})
    info = csr.CertificationRequestInfo(
        {
            "version": "v1",
            "subject": subject or _name(),
            "subject_pk_info": signer.public_key_info,
            "attributes": attributes,
        }
    )
    signed = info.dump()
    signature = signer.sign(signed + b"x" if tamper else signed)
    request = csr.CertificationRequest(
        {
            "certification_request_info": info,
            "signature_algorithm": signed_digest_algorithm(signer.algorithm),
            "signature": signature,
        }
    )
    return request.dump()


def cryptography_csr(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey, *, pss: bool = False) -> bytes:
    builder = (
        cx509.CertificateSigningRequestBuilder()
        .subject_name(
            cx509.Name(
                [
                    cx509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
                    cx509.NameAttribute(NameOID.ORGANIZATION_NAME, SUBJECT_O),
                    cx509.NameAttribute(NameOID.COMMON_NAME, SUBJECT_CN),
                ]
            )
        )
        .add_extension(cx509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(cx509.SubjectAlternativeName([cx509.DNSName("approval.example.cn")]), critical=False)
    )
    if pss:
        assert isinstance(key, rsa.RSAPrivateKey)
        request = builder.sign(
            key,
            hashes.SHA256(),
            rsa_padding=padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
        )
    else:
        request = builder.sign(key, hashes.SHA256())
    return request.public_bytes(serialization.Encoding.DER)


def sm2_signer(*, uid: bytes | None = None) -> Signer:
    from trustsvc.keys.sm2 import SM2PrivateKey

    key = SM2PrivateKey.generate()
    return software_signer(key) if uid is None else software_signer(key, uid=uid)
