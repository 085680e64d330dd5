"""software_signer and verify: every algorithm signs and verifies; every failure is InvalidSignature."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from asn1crypto import algos, cms
from asn1crypto import keys as asn1_keys
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from trustsvc import errors
from trustsvc.keys.algorithms import SignatureAlgorithm, signature_algorithm_of
from trustsvc.keys.encoding import dump_public_key
from trustsvc.keys.signer import Signer, software_signer, verify
from trustsvc.keys.sm2 import DEFAULT_SM2_ID, SM2PrivateKey

REAL_OFD = Path("/work/shared/testdata/ofd-real")
DATA = b"to be signed: \xe7\x94\xb5\xe5\xad\x90\xe8\xaf\x81\xe7\x85\xa7"

CASES = [
    ("sm2", SignatureAlgorithm.SM2_SM3),
    ("p256", SignatureAlgorithm.ECDSA_SHA256),
    ("rsa", SignatureAlgorithm.RSA_PKCS1_SHA256),
    ("rsa", SignatureAlgorithm.RSA_PSS_SHA256),
]
CASE_IDS = [alg.value for _, alg in CASES]

# GB/T 32918.5 Annex A: public key, message and DER signature under the default user ID.
ANNEX_A_SPKI = bytes.fromhex(
    "3059301306072a8648ce3d020106082a811ccf5501822d034200"
    "0409F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020"
    "CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13"
)
ANNEX_A_SIGNATURE = bytes.fromhex(
    "3046022100F5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3"
    "022100B1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA"
)


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=3072)


@pytest.fixture
def make_key(rsa_key):
    def make(kind: str, *, fresh: bool = False):
        if kind == "sm2":
            return SM2PrivateKey.generate()
        if kind == "p256":
            return ec.generate_private_key(ec.SECP256R1())
        if fresh:
            return rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return rsa_key

    return make


def _spki(key) -> bytes:
    return dump_public_key(key.public_key(), encoding="der")


def _flip(data: bytes, index: int) -> bytes:
    out = bytearray(data)
    out[index] ^= 0x01
    return bytes(out)


# --- the happy path ------------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "alg"), CASES, ids=CASE_IDS)
def test_signature_made_by_software_signer_verifies(make_key, kind, alg):
    key = make_key(kind)
    signer: Signer = software_signer(key, alg)
    assert signer.algorithm is alg
    assert signer.public_key_info.dump() == _spki(key)
    signature = signer.sign(DATA)
    verify(signer.public_key_info, alg, DATA, signature)
    verify(_spki(key), alg, DATA, signature)


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("sm2", SignatureAlgorithm.SM2_SM3),
        ("p256", SignatureAlgorithm.ECDSA_SHA256),
        ("rsa", SignatureAlgorithm.RSA_PKCS1_SHA256),
    ],
)
def test_software_signer_defaults_to_the_keys_algorithm(make_key, kind, expected):
    assert software_signer(make_key(kind)).algorithm is expected


@pytest.mark.parametrize("kind", ["sm2", "p256"])
def test_sm2_and_ecdsa_signatures_are_canonical_der_sequences(make_key, kind):
    signature = software_signer(make_key(kind)).sign(DATA)
    parsed = algos.DSASignature.load(signature)
    assert parsed.dump(force=True) == signature
    assert set(parsed.native) == {"r", "s"}


def test_rsa_pss_uses_mgf1_sha256_and_a_32_byte_salt(make_key):
    key = make_key("rsa")
    signature = software_signer(key, SignatureAlgorithm.RSA_PSS_SHA256).sign(DATA)
    public_key = key.public_key()
    public_key.verify(signature, DATA, padding.PSS(padding.MGF1(hashes.SHA256()), 32), hashes.SHA256())
    with pytest.raises(InvalidSignature):
        public_key.verify(signature, DATA, padding.PSS(padding.MGF1(hashes.SHA256()), 33), hashes.SHA256())


def test_rsa_pss_signature_with_another_salt_length_is_rejected(make_key):
    key = make_key("rsa")
    other = key.sign(DATA, padding.PSS(padding.MGF1(hashes.SHA256()), 20), hashes.SHA256())
    with pytest.raises(errors.InvalidSignature):
        verify(_spki(key), SignatureAlgorithm.RSA_PSS_SHA256, DATA, other)


def test_sm2_signer_uses_the_given_user_id(make_key):
    key = make_key("sm2")
    signature = software_signer(key, uid=b"alice@example.cn").sign(DATA)
    verify(_spki(key), SignatureAlgorithm.SM2_SM3, DATA, signature, uid=b"alice@example.cn")
    with pytest.raises(errors.InvalidSignature):
        verify(_spki(key), SignatureAlgorithm.SM2_SM3, DATA, signature)


def test_sm2_annex_a_signature_verifies_under_the_default_user_id():
    verify(ANNEX_A_SPKI, SignatureAlgorithm.SM2_SM3, b"message digest", ANNEX_A_SIGNATURE)
    with pytest.raises(errors.InvalidSignature):
        verify(ANNEX_A_SPKI, SignatureAlgorithm.SM2_SM3, b"message digest", ANNEX_A_SIGNATURE, uid=b"")


@settings(max_examples=25, deadline=None)
@given(data=st.binary(max_size=300), bit=st.integers(min_value=0))
def test_sm2_any_message_verifies_and_any_flipped_bit_does_not(data, bit):
    key = SM2PrivateKey.generate()
    signature = software_signer(key).sign(data)
    spki = _spki(key)
    verify(spki, SignatureAlgorithm.SM2_SM3, data, signature)
    tampered = bytearray(data + b"\x00")
    tampered[(bit // 8) % len(tampered)] ^= 1 << (bit % 8)
    with pytest.raises(errors.InvalidSignature):
        verify(spki, SignatureAlgorithm.SM2_SM3, bytes(tampered), signature)


# --- every failure is InvalidSignature -----------------------------------------------------------


@pytest.mark.parametrize(("kind", "alg"), CASES, ids=CASE_IDS)
def test_tampered_data_is_invalid_signature(make_key, kind, alg):
    key = make_key(kind)
    signature = software_signer(key, alg).sign(DATA)
    for tampered in (_flip(DATA, 0), DATA + b"x", DATA[:-1], b""):
        with pytest.raises(errors.InvalidSignature):
            verify(_spki(key), alg, tampered, signature)


@pytest.mark.parametrize(("kind", "alg"), CASES, ids=CASE_IDS)
def test_tampered_signature_is_invalid_signature(make_key, kind, alg):
    key = make_key(kind)
    signature = software_signer(key, alg).sign(DATA)
    for tampered in (_flip(signature, len(signature) - 1), _flip(signature, len(signature) // 2)):
        with pytest.raises(errors.InvalidSignature):
            verify(_spki(key), alg, DATA, tampered)


@pytest.mark.parametrize(("kind", "alg"), CASES, ids=CASE_IDS)
def test_malformed_signature_bytes_are_invalid_signature(make_key, kind, alg):
    key = make_key(kind)
    signature = software_signer(key, alg).sign(DATA)
    for garbage in (b"", b"\x30\x00", b"\x00" * 64, signature + b"\x00", signature[:-1], b"not a signature"):
        with pytest.raises(errors.InvalidSignature):
            verify(_spki(key), alg, DATA, garbage)


@pytest.mark.parametrize(("kind", "alg"), CASES, ids=CASE_IDS)
def test_signature_checked_against_another_key_is_invalid_signature(make_key, kind, alg):
    signature = software_signer(make_key(kind), alg).sign(DATA)
    other = make_key(kind, fresh=True)
    with pytest.raises(errors.InvalidSignature):
        verify(_spki(other), alg, DATA, signature)


def test_rsa_pkcs1_signature_checked_as_pss_and_back_is_invalid_signature(make_key):
    key = make_key("rsa")
    pkcs1 = software_signer(key, SignatureAlgorithm.RSA_PKCS1_SHA256).sign(DATA)
    pss = software_signer(key, SignatureAlgorithm.RSA_PSS_SHA256).sign(DATA)
    with pytest.raises(errors.InvalidSignature):
        verify(_spki(key), SignatureAlgorithm.RSA_PSS_SHA256, DATA, pkcs1)
    with pytest.raises(errors.InvalidSignature):
        verify(_spki(key), SignatureAlgorithm.RSA_PKCS1_SHA256, DATA, pss)


@pytest.mark.parametrize(
    ("kind", "wrong"),
    [
        ("sm2", SignatureAlgorithm.ECDSA_SHA256),
        ("sm2", SignatureAlgorithm.RSA_PKCS1_SHA256),
        ("p256", SignatureAlgorithm.SM2_SM3),
        ("p256", SignatureAlgorithm.RSA_PSS_SHA256),
        ("rsa", SignatureAlgorithm.SM2_SM3),
        ("rsa", SignatureAlgorithm.ECDSA_SHA256),
    ],
)
def test_algorithm_that_does_not_fit_the_key_is_invalid_signature(make_key, kind, wrong):
    key = make_key(kind)
    signature = software_signer(key).sign(DATA)
    with pytest.raises(errors.InvalidSignature, match="does not fit"):
        verify(_spki(key), wrong, DATA, signature)


def test_sm2_signature_presented_as_ecdsa_with_a_p256_key_is_invalid_signature(make_key):
    # Both are DER SEQUENCE{r, s}; the algorithm, not the shape, decides.
    signature = software_signer(make_key("sm2")).sign(DATA)
    with pytest.raises(errors.InvalidSignature):
        verify(_spki(make_key("p256")), SignatureAlgorithm.ECDSA_SHA256, DATA, signature)


@pytest.mark.parametrize(
    "spki",
    [b"", b"\x30\x00", b"garbage", ANNEX_A_SPKI[:-1]],
    ids=["empty", "empty-sequence", "text", "truncated"],
)
def test_unreadable_public_key_is_invalid_signature(spki):
    with pytest.raises(errors.InvalidSignature, match="cannot verify"):
        verify(spki, SignatureAlgorithm.SM2_SM3, b"message digest", ANNEX_A_SIGNATURE)


def test_unsupported_public_key_is_invalid_signature():
    p384 = ec.generate_private_key(ec.SECP384R1())
    signature = p384.sign(DATA, ec.ECDSA(hashes.SHA256()))
    spki = asn1_keys.PublicKeyInfo.load(
        p384.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    with pytest.raises(errors.InvalidSignature):
        verify(spki, SignatureAlgorithm.ECDSA_SHA256, DATA, signature)


def test_unknown_algorithm_name_is_invalid_signature(make_key):
    key = make_key("p256")
    signature = software_signer(key).sign(DATA)
    with pytest.raises(errors.InvalidSignature):
        verify(_spki(key), "ecdsa-sha1", DATA, signature)  # type: ignore[arg-type]


# --- software_signer refuses what it cannot do ---------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "wrong"),
    [
        ("sm2", SignatureAlgorithm.ECDSA_SHA256),
        ("p256", SignatureAlgorithm.RSA_PSS_SHA256),
        ("rsa", SignatureAlgorithm.SM2_SM3),
    ],
)
def test_software_signer_refuses_an_algorithm_that_does_not_fit_the_key(make_key, kind, wrong):
    with pytest.raises(errors.UnsupportedAlgorithm):
        software_signer(make_key(kind), wrong)


def test_software_signer_refuses_unsupported_keys_and_algorithm_names(make_key):
    with pytest.raises(errors.UnsupportedAlgorithm):
        software_signer(ec.generate_private_key(ec.SECP384R1()))
    with pytest.raises(errors.UnsupportedAlgorithm):
        software_signer(ed25519.Ed25519PrivateKey.generate())  # type: ignore[arg-type]
    with pytest.raises(errors.UnsupportedAlgorithm):
        software_signer(make_key("p256"), "ecdsa-sha512")  # type: ignore[arg-type]


def test_signer_repr_shows_no_key_material(make_key):
    assert repr(software_signer(make_key("p256"))) == "<software signer ecdsa-sha256>"


# --- a real GB/T 35275 signature from another vendor ---------------------------------------------


def _railway_parts() -> tuple[cms.SignerInfo, asn1_keys.PublicKeyInfo, bytes]:
    with zipfile.ZipFile(REAL_OFD / "railway_eticket_sign.ofd") as ofd:
        signed_value = ofd.read("Doc_0/Signs/Sign_0/SignedValue.dat")
        signature_xml = ofd.read("Doc_0/Signs/Sign_0/Signature.xml")
    signed_data = cms.ContentInfo.load(signed_value)["content"]
    certificate = signed_data["certificates"][0].chosen
    return signed_data["signer_infos"][0], certificate.public_key, signature_xml


def test_real_rail_e_ticket_signature_verifies_over_its_signed_attributes():
    signer_info, spki, signature_xml = _railway_parts()
    algorithm = signature_algorithm_of(signer_info["signature_algorithm"])
    attrs = {attr["type"].native: attr["values"][0].native for attr in signer_info["signed_attrs"]}
    digest = hashes.Hash(hashes.SM3())
    digest.update(signature_xml)
    assert attrs["message_digest"] == digest.finalize()
    signed_bytes = b"\x31" + signer_info["signed_attrs"].dump()[1:]  # [0] IMPLICIT re-tagged as SET
    verify(spki, algorithm, signed_bytes, signer_info["signature"].native, uid=DEFAULT_SM2_ID)
    with pytest.raises(errors.InvalidSignature):
        verify(spki, algorithm, _flip(signed_bytes, 40), signer_info["signature"].native)
