"""PKCS#10 requests: parsing, proof of possession (SM2 default ID, ECDSA, RSA), typed failures."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from asn1crypto import core, csr, pem
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.pki import SUBJECT_CN, SUBJECT_O, cryptography_csr, csr_from_signer, sm2_signer
from trustsvc.ca.csr import MAX_CSR_SIZE, CsrInfo, parse_csr, verify_proof_of_possession
from trustsvc.ca.profiles import ProfileKind, SubjectInfo, get_profile
from trustsvc.ca.x509 import build_certificate, new_serial
from trustsvc.errors import (
    InvalidInput,
    InvalidSignature,
    MalformedInput,
    PayloadTooLarge,
    UnsupportedAlgorithm,
)
from trustsvc.keys.algorithms import KeyAlgorithm, SignatureAlgorithm, signed_digest_algorithm
from trustsvc.keys.signer import software_signer


@pytest.fixture(scope="module")
def ecdsa_csr() -> bytes:
    return cryptography_csr(ec.generate_private_key(ec.SECP256R1()))


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(65537, 2048)


# --- accepted requests ---------------------------------------------------------------------------


def test_ecdsa_csr_is_parsed_and_verified(ecdsa_csr: bytes) -> None:
    info = parse_csr(ecdsa_csr)
    assert info.key_algorithm is KeyAlgorithm.ECDSA_P256
    assert info.signature_algorithm is SignatureAlgorithm.ECDSA_SHA256
    assert info.subject.native == {
        "country_name": "CN",
        "organization_name": SUBJECT_O,
        "common_name": SUBJECT_CN,
    }
    assert info.der == ecdsa_csr


def test_pem_csr_is_accepted_with_either_label(ecdsa_csr: bytes) -> None:
    for label in ("CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST"):
        info = parse_csr(pem.armor(label, ecdsa_csr))
        assert info.der == ecdsa_csr


@pytest.mark.parametrize("pss", [False, True])
def test_rsa_csr_is_verified(rsa_key: rsa.RSAPrivateKey, pss: bool) -> None:
    info = parse_csr(cryptography_csr(rsa_key, pss=pss))
    assert info.key_algorithm is KeyAlgorithm.RSA_3072
    expected = SignatureAlgorithm.RSA_PSS_SHA256 if pss else SignatureAlgorithm.RSA_PKCS1_SHA256
    assert info.signature_algorithm is expected


def test_sm2_csr_with_default_id_is_verified() -> None:
    signer = sm2_signer()
    info = parse_csr(csr_from_signer(signer))
    assert info.key_algorithm is KeyAlgorithm.SM2
    assert info.signature_algorithm is SignatureAlgorithm.SM2_SM3
    assert info.public_key_info.dump() == signer.public_key_info.dump()


def test_sm2_csr_with_null_parameters_in_algorithm_is_accepted() -> None:
    signer = sm2_signer()
    request = csr.CertificationRequest.load(csr_from_signer(signer))
    with_null = csr.CertificationRequest(
        {
            "certification_request_info": request["certification_request_info"],
            "signature_algorithm": {"algorithm": "1.2.156.10197.1.501", "parameters": core.Null()},
            "signature": request["signature"],
        }
    )
    der = with_null.dump(force=True)
    assert bytes.fromhex("300c06082a811ccf550183750500") in der
    assert parse_csr(der).signature_algorithm is SignatureAlgorithm.SM2_SM3


def test_requested_extensions_are_returned_but_not_used(ecdsa_csr: bytes) -> None:
    info = parse_csr(ecdsa_csr)
    requested = {e["extn_id"].native: e["extn_value"].parsed.native for e in info.requested_extensions}
    assert requested["basic_constraints"] == {"ca": True, "path_len_constraint": None}
    assert requested["subject_alt_name"] == ["approval.example.cn"]

    issuer_signer = software_signer(ec.generate_private_key(ec.SECP256R1()))
    root_profile = get_profile(ProfileKind.ROOT)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    root = build_certificate(
        root_profile,
        root_profile.build_subject(SubjectInfo(common_name="根CA", organization="某省数据局")),
        issuer_signer.public_key_info,
        None,
        issuer_signer,
        serial=new_serial(),
        not_before=now,
        not_after=now + timedelta(days=3650),
        base_url="http://pki.example.cn",
        ca_name="root",
    )
    profile = get_profile(ProfileKind.TLS_CLIENT)
    leaf = build_certificate(
        profile,
        profile.build_subject(SubjectInfo(common_name=SUBJECT_CN, organization=SUBJECT_O)),
        info.public_key_info,
        root,
        issuer_signer,
        serial=new_serial(),
        not_before=now,
        not_after=now + timedelta(days=365),
        base_url="http://pki.example.cn",
        ca_name="root",
    )
    assert leaf.basic_constraints_value.native == {"ca": False, "path_len_constraint": None}
    assert leaf.subject_alt_name_value is None


# --- refused requests ----------------------------------------------------------------------------


def test_tampered_csr_fails_proof_of_possession(ecdsa_csr: bytes) -> None:
    position = ecdsa_csr.index(SUBJECT_CN.encode())
    tampered = bytearray(ecdsa_csr)
    tampered[position + 2] ^= 0x01
    with pytest.raises(InvalidSignature, match="proof of possession failed"):
        parse_csr(bytes(tampered))
    info = parse_csr(bytes(tampered), check_pop=False)  # parsing alone still works
    with pytest.raises(InvalidSignature, match="proof of possession failed"):
        verify_proof_of_possession(info)


@pytest.mark.parametrize("algorithm", [KeyAlgorithm.SM2, KeyAlgorithm.ECDSA_P256])
def test_signature_by_other_data_fails_proof_of_possession(algorithm: KeyAlgorithm) -> None:
    signer = (
        sm2_signer()
        if algorithm is KeyAlgorithm.SM2
        else software_signer(ec.generate_private_key(ec.SECP256R1()))
    )
    with pytest.raises(InvalidSignature, match=r"^proof of possession failed$"):
        parse_csr(csr_from_signer(signer, tamper=True))


def test_sm2_csr_with_empty_id_is_refused_with_a_clear_message() -> None:
    with pytest.raises(InvalidSignature, match=r"empty SM2 user ID.*distid:1234567812345678"):
        parse_csr(csr_from_signer(sm2_signer(uid=b"")))


def test_sm2_csr_with_another_id_fails_proof_of_possession() -> None:
    with pytest.raises(InvalidSignature, match=r"^proof of possession failed$"):
        parse_csr(csr_from_signer(sm2_signer(uid=b"alice@example.cn")))


def test_key_and_signature_algorithm_must_match(ecdsa_csr: bytes) -> None:
    request = csr.CertificationRequest.load(ecdsa_csr)
    relabelled = csr.CertificationRequest(
        {
            "certification_request_info": request["certification_request_info"],
            "signature_algorithm": signed_digest_algorithm(SignatureAlgorithm.SM2_SM3),
            "signature": request["signature"],
        }
    )
    with pytest.raises(InvalidSignature, match="proof of possession failed: a ecdsa-p256 key"):
        parse_csr(relabelled.dump(force=True))


def test_unsupported_curve_is_refused() -> None:
    with pytest.raises(UnsupportedAlgorithm):
        parse_csr(cryptography_csr(ec.generate_private_key(ec.SECP384R1())))


def test_short_rsa_key_is_refused() -> None:
    with pytest.raises(UnsupportedAlgorithm):
        parse_csr(cryptography_csr(rsa.generate_private_key(65537, 1024)))


def test_unsupported_signature_algorithm_is_refused(ecdsa_csr: bytes) -> None:
    request = csr.CertificationRequest.load(ecdsa_csr)
    sha384 = csr.CertificationRequest(
        {
            "certification_request_info": request["certification_request_info"],
            "signature_algorithm": {"algorithm": "sha384_ecdsa"},
            "signature": request["signature"],
        }
    )
    with pytest.raises(UnsupportedAlgorithm):
        parse_csr(sha384.dump(force=True))


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x30",
        b"\x30\x00",
        b"\x04\x03abc",
        b"garbage that is not a CSR at all",
        b"-----BEGIN CERTIFICATE REQUEST-----\n!!!!\n-----END CERTIFICATE REQUEST-----\n",
        b"-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n",
    ],
)
def test_garbage_is_malformed(data: bytes) -> None:
    with pytest.raises(MalformedInput):
        parse_csr(data)


def test_truncated_csr_is_malformed_at_every_length(ecdsa_csr: bytes) -> None:
    for length in range(len(ecdsa_csr)):
        with pytest.raises(MalformedInput):
            parse_csr(ecdsa_csr[:length])


def test_trailing_bytes_are_malformed(ecdsa_csr: bytes) -> None:
    with pytest.raises(MalformedInput):
        parse_csr(ecdsa_csr + b"\x00")


def test_certificate_pem_is_not_a_csr(ecdsa_csr: bytes) -> None:
    with pytest.raises(MalformedInput, match="CERTIFICATE REQUEST"):
        parse_csr(pem.armor("CERTIFICATE", ecdsa_csr))


def test_wrong_version_is_malformed() -> None:
    signer = software_signer(ec.generate_private_key(ec.SECP256R1()))
    request = csr.CertificationRequest.load(csr_from_signer(signer))
    info = request["certification_request_info"]
    info["version"] = 1
    with pytest.raises(MalformedInput, match="version"):
        parse_csr(request.dump(force=True))


def test_oversized_input_is_refused() -> None:
    with pytest.raises(PayloadTooLarge):
        parse_csr(b"\x30" * (MAX_CSR_SIZE + 1))


def test_csr_info_is_frozen(ecdsa_csr: bytes) -> None:
    info = parse_csr(ecdsa_csr)
    with pytest.raises(AttributeError):
        info.der = b""  # type: ignore[misc]
    assert isinstance(info, CsrInfo)


# --- fuzzing: only typed errors come out ---------------------------------------------------------

_ALLOWED = (MalformedInput, InvalidSignature, InvalidInput)
_SEED_ECDSA = cryptography_csr(ec.generate_private_key(ec.SECP256R1()))


def _parse_or_typed_error(data: bytes) -> None:
    with contextlib.suppress(*_ALLOWED):
        parse_csr(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=600))
def test_random_bytes_raise_only_typed_errors(data: bytes) -> None:
    _parse_or_typed_error(data)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_csrs_raise_only_typed_errors(data: st.DataObject) -> None:
    seed = bytearray(_SEED_ECDSA)
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(0, len(seed) - 1))
        action = data.draw(st.sampled_from(["flip", "set", "delete", "insert", "truncate"]))
        if action == "flip":
            seed[position] ^= 1 << data.draw(st.integers(0, 7))
        elif action == "set":
            seed[position] = data.draw(st.integers(0, 255))
        elif action == "delete":
            del seed[position]
        elif action == "insert":
            seed.insert(position, data.draw(st.integers(0, 255)))
        else:
            del seed[position:]
        if not seed:
            break
    _parse_or_typed_error(bytes(seed))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 10_000), st.integers(0, 255))
def test_mutated_sm2_csrs_raise_only_typed_errors(position: int, value: int) -> None:
    seed = bytearray(_sm2_seed())
    seed[position % len(seed)] = value
    _parse_or_typed_error(bytes(seed))


_SM2_SEED: list[bytes] = []


def _sm2_seed() -> bytes:
    if not _SM2_SEED:
        _SM2_SEED.append(csr_from_signer(sm2_signer()))
    return _SM2_SEED[0]


# --- CSRs made by the openssl CLI ----------------------------------------------------------------

needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl CLI not installed")


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.mark.interop
@needs_openssl
def test_openssl_sm2_csr_with_distid_is_accepted(tmp_path: Path) -> None:
    _openssl("genpkey", "-algorithm", "SM2", "-out", "key.pem", cwd=tmp_path)
    _openssl(
        "req", "-new", "-key", "key.pem", "-sm3", "-sigopt", "distid:1234567812345678",
        "-subj", f"/C=CN/O={SUBJECT_O}/CN={SUBJECT_CN}", "-utf8", "-out", "req.pem",
        cwd=tmp_path,
    )  # fmt: skip
    info = parse_csr((tmp_path / "req.pem").read_bytes())
    assert info.key_algorithm is KeyAlgorithm.SM2
    assert info.subject.native["common_name"] == SUBJECT_CN


@pytest.mark.interop
@needs_openssl
def test_openssl_sm2_csr_without_distid_is_refused(tmp_path: Path) -> None:
    _openssl("genpkey", "-algorithm", "SM2", "-out", "key.pem", cwd=tmp_path)
    _openssl(
        "req", "-new", "-key", "key.pem", "-sm3", "-subj", "/C=CN/CN=no-distid", "-out", "req.pem",
        cwd=tmp_path,
    )  # fmt: skip
    with pytest.raises(InvalidSignature, match="empty SM2 user ID"):
        parse_csr((tmp_path / "req.pem").read_bytes())


@pytest.mark.interop
@needs_openssl
def test_openssl_ecdsa_csr_is_accepted(tmp_path: Path) -> None:
    _openssl(
        "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "key.pem", cwd=tmp_path
    )
    _openssl(
        "req", "-new", "-key", "key.pem", "-subj", "/C=CN/CN=ecdsa", "-out", "req.der", "-outform", "DER",
        cwd=tmp_path,
    )  # fmt: skip
    assert parse_csr((tmp_path / "req.der").read_bytes()).key_algorithm is KeyAlgorithm.ECDSA_P256
