"""SM2 over libcrypto: known answers, key formats, strict and lenient verification, threads, failing closed.

The known answers come from spec/standards.md §1.5 (GB/T 32918.5 Annex A and the TopsecCA key); everything the
OpenSSL command line can check independently is in tests/interop/test_openssl_sm2.py.
"""

from __future__ import annotations

import copy
import os
import pickle
import subprocess
import sys
import threading
from dataclasses import replace
from pathlib import Path

import pytest
from asn1crypto import keys as asn1_keys
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trustsvc.errors import (
    CryptoBackendUnavailable,
    InvalidInput,
    InvalidSignature,
    MalformedInput,
    TrustsvcError,
    UnsupportedAlgorithm,
)
from trustsvc.keys import sm2
from trustsvc.keys.sm2 import (
    N,
    SM2PrivateKey,
    SM2PublicKey,
    _sign_with_fixed_k,
    decode_signature,
    encode_signature,
    normalize_signature,
)
from trustsvc.keys.sm3 import sm3

REPO = Path(__file__).resolve().parents[1]

# --- GB/T 32918.5-2017 Annex A (spec/standards.md §1.5, vector A) -------------------------------------------
ANNEX_D = 0x3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8
ANNEX_X = 0x09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020
ANNEX_Y = 0xCCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13
ANNEX_MSG = b"message digest"
ANNEX_Z = bytes.fromhex("B2E14C5C79C6DF5B85F4FE7ED8DB7A262B9DA7E07CCB0EA9F4747B8CCDA8A4F3")
ANNEX_E = bytes.fromhex("F0B43E94BA45ACCAACE692ED534382EB17E6AB5A19CE7B31F4486FDFC0D28640")
ANNEX_K = 0x59276E27D506861A16680F3AD9C02DCCEF3CC1FA3CDBE4CE6D54B80DEAC1BC21
ANNEX_X1 = 0x04EBFC718E8D1798620432268E77FEB6415E2EDE0E073C0F4F640ECD2E149A73
ANNEX_R = 0xF5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3
ANNEX_S = 0xB1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA
ANNEX_DER = bytes.fromhex(
    "3046022100F5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3"
    "022100B1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA"
)
# The exact 210-byte Z input for the Annex A key (spec/standards.md §1.3), laid out as GmSSL hard-codes it.
ANNEX_Z_INPUT = bytes.fromhex(
    "0080"
    "31323334353637383132333435363738"
    "FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC"
    "28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93"
    "32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7"
    "BC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0"
    "09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020"
    "CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13"
)
# TopsecCA certificate key (spec/standards.md §1.5), default ID.
TOPSEC_POINT = bytes.fromhex(
    "04"
    "D69C2F1EEC3BFB6B95B30C28085C77B125D77A9C39525D8190768F37D6B205B5"
    "89DCD316BBE7D89A9DC21917F17799E698531F5E6E3E10BD31370B259C3F81C3"
)
TOPSEC_Z = bytes.fromhex("4D38D2958CA7FD2CFAE3AF04486959CF92C8EF48E8B83A05C112E739D5F181D0")

ALICE = b"ALICE123@YAHOO.COM"
SPKI_PREFIX = bytes.fromhex("3059301306072a8648ce3d020106082a811ccf5501822d034200")


@pytest.fixture(scope="module")
def annex_key() -> SM2PrivateKey:
    return SM2PrivateKey.from_private_value(ANNEX_D)


@pytest.fixture(scope="module")
def key() -> SM2PrivateKey:
    return SM2PrivateKey.generate()


def sec1_der(d: int, point: bytes) -> bytes:
    """SEC1 ECPrivateKey { 1, d, [0] sm2p256v1, [1] point } as `openssl ec -outform DER` writes it."""
    return (
        bytes.fromhex("30770201010420")
        + d.to_bytes(32, "big")
        + bytes.fromhex("a00a06082a811ccf5501822da144034200")
        + point
    )


def pem(der: bytes, label: str) -> bytes:
    import base64

    b64 = base64.b64encode(der).decode()
    body = "\n".join(b64[i : i + 64] for i in range(0, len(b64), 64))
    return f"-----BEGIN {label}-----\n{body}\n-----END {label}-----\n".encode()


# === known answers ==========================================================================================


def test_annex_a_public_key_is_d_times_g(annex_key: SM2PrivateKey) -> None:
    pub = annex_key.public_key()
    assert (pub.x, pub.y) == (ANNEX_X, ANNEX_Y)
    assert pub.encoded_point() == b"\x04" + ANNEX_X.to_bytes(32, "big") + ANNEX_Y.to_bytes(32, "big")


def test_annex_a_z_matches_published_value(annex_key: SM2PrivateKey) -> None:
    assert annex_key.public_key().z() == ANNEX_Z
    assert annex_key.public_key().z(uid=b"1234567812345678") == ANNEX_Z


def test_z_is_sm3_of_the_210_byte_layout_from_the_standard(annex_key: SM2PrivateKey) -> None:
    assert len(ANNEX_Z_INPUT) == 210
    assert sm3(ANNEX_Z_INPUT) == ANNEX_Z == annex_key.public_key().z()


def test_annex_a_e_is_sm3_of_z_and_message(annex_key: SM2PrivateKey) -> None:
    assert sm3(annex_key.public_key().z() + ANNEX_MSG) == ANNEX_E


def test_annex_a_published_signature_verifies(annex_key: SM2PrivateKey) -> None:
    assert encode_signature(ANNEX_R, ANNEX_S) == ANNEX_DER
    annex_key.public_key().verify(ANNEX_DER, ANNEX_MSG)
    SM2PublicKey.from_encoded_point(annex_key.public_key().encoded_point()).verify(ANNEX_DER, ANNEX_MSG)


def test_annex_a_signature_is_rejected_under_the_empty_id(annex_key: SM2PrivateKey) -> None:
    with pytest.raises(InvalidSignature):
        annex_key.public_key().verify(ANNEX_DER, ANNEX_MSG, uid=b"")


def test_fixed_k_signature_equals_published_annex_a_r_and_s(annex_key: SM2PrivateKey) -> None:
    # k·G comes from libcrypto as the public point of the key with private value k.
    assert SM2PrivateKey.from_private_value(ANNEX_K).public_key().x == ANNEX_X1
    ours = _sign_with_fixed_k(annex_key, ANNEX_MSG, ANNEX_K)
    assert decode_signature(ours) == (ANNEX_R, ANNEX_S)
    assert ours == ANNEX_DER


def test_fixed_k_signature_depends_on_the_uid(annex_key: SM2PrivateKey) -> None:
    other = _sign_with_fixed_k(annex_key, ANNEX_MSG, ANNEX_K, uid=b"ALICE123@YAHOO.COM")
    assert other != ANNEX_DER
    annex_key.public_key().verify(other, ANNEX_MSG, uid=b"ALICE123@YAHOO.COM")


def test_topsec_ca_key_z_matches_published_value() -> None:
    assert SM2PublicKey.from_encoded_point(TOPSEC_POINT).z() == TOPSEC_Z


def test_z_encodes_the_id_length_in_bits(annex_key: SM2PrivateKey) -> None:
    pub = annex_key.public_key()
    uid = b"x" * 300  # 2400 bits: needs both ENTL bytes
    expected = sm3(b"\x09\x60" + uid + ANNEX_Z_INPUT[18:])
    assert pub.z(uid=uid) == expected
    assert pub.z(uid=b"") == sm3(b"\x00\x00" + ANNEX_Z_INPUT[18:])


# === sign and verify ========================================================================================


def test_generated_key_signs_and_its_public_key_verifies(key: SM2PrivateKey) -> None:
    sig = key.sign(b"hello")
    key.public_key().verify(sig, b"hello")
    assert decode_signature(sig)  # canonical DER
    assert 8 <= len(sig) <= 72


def test_signatures_use_a_fresh_nonce_each_time(key: SM2PrivateKey) -> None:
    sigs = {key.sign(b"same message") for _ in range(5)}
    assert len(sigs) == 5
    r_values = {decode_signature(s)[0] for s in sigs}
    assert len(r_values) == 5


def test_signature_verifies_as_sm2_over_z_and_data(key: SM2PrivateKey) -> None:
    """Our signature satisfies the SM2 verification equation computed without libcrypto's verify."""
    r, s = decode_signature(key.sign(b"independent"))
    e = int.from_bytes(sm3(key.public_key().z() + b"independent"), "big")
    # (x1, y1) = s·G + t·P = (k - r·d)/(1+d)·G + (r + s)·d·G; with d known the x-coordinate of k·G is
    # recomputed through libcrypto from k = s + (r + s)·d mod n.
    d = key._private_value()
    k = (s + (r + s) * d) % N
    x1 = SM2PrivateKey.from_private_value(k).public_key().x
    assert (e + x1) % N == r


def test_generated_private_value_is_in_range_and_matches_public_key(key: SM2PrivateKey) -> None:
    d = key._private_value()
    assert 1 <= d <= N - 2
    assert SM2PrivateKey.from_private_value(d).public_key() == key.public_key()


def test_custom_uid_round_trips_and_other_uid_fails(key: SM2PrivateKey) -> None:
    sig = key.sign(b"data", uid=b"ALICE123@YAHOO.COM")
    key.public_key().verify(sig, b"data", uid=b"ALICE123@YAHOO.COM")
    with pytest.raises(InvalidSignature):
        key.public_key().verify(sig, b"data")


def test_empty_uid_is_a_distinct_id_not_the_default(key: SM2PrivateKey) -> None:
    sig = key.sign(b"data", uid=b"")
    key.public_key().verify(sig, b"data", uid=b"")
    with pytest.raises(InvalidSignature):
        key.public_key().verify(sig, b"data")


def test_uid_longer_than_libcrypto_accepts_is_refused_as_invalid_input(key: SM2PrivateKey) -> None:
    with pytest.raises(InvalidInput):
        key.sign(b"data", uid=b"x" * 8191)
    with pytest.raises(InvalidInput):
        key.public_key().verify(key.sign(b"d"), b"d", uid=b"x" * 8191)
    key.public_key().verify(key.sign(b"d", uid=b"x" * 8190), b"d", uid=b"x" * 8190)


def test_sign_and_verify_accept_bytearray_and_memoryview(key: SM2PrivateKey) -> None:
    # Buffers are accepted on purpose (copied once); the annotations say bytes, as the contract does.
    sig = key.sign(bytearray(b"buffer"))  # type: ignore[arg-type]
    key.public_key().verify(memoryview(sig), memoryview(b"buffer"))  # type: ignore[arg-type]


def test_large_message_round_trips(key: SM2PrivateKey) -> None:
    data = os.urandom(3 * 1024 * 1024)
    key.public_key().verify(key.sign(data), data)


# --- tampering ----------------------------------------------------------------------------------------------


def _tampered(sig: bytes) -> dict[str, bytes]:
    r, s = decode_signature(sig)
    return {
        "r+1": encode_signature(r + 1, s),
        "s+1": encode_signature(r, s + 1),
        "r-s-swapped": encode_signature(s, r),
        "r=0": encode_signature(0, s),
        "s=0": encode_signature(r, 0),
        "r=n": encode_signature(N, s),
        "s=n": encode_signature(r, N),
        "r+n": encode_signature(r + N, s),
        "s+n": encode_signature(r, s + N),
        "r+s=n": encode_signature(r, N - r),
    }


@pytest.mark.parametrize(
    "case", ["r+1", "s+1", "r-s-swapped", "r=0", "s=0", "r=n", "s=n", "r+n", "s+n", "r+s=n"]
)
def test_tampered_signature_value_is_invalid(key: SM2PrivateKey, case: str) -> None:
    sig = key.sign(b"tamper")
    bad = _tampered(sig)[case]
    with pytest.raises(InvalidSignature):
        key.public_key().verify(bad, b"tamper")
    with pytest.raises(InvalidSignature):
        key.public_key().verify_lenient(bad, b"tamper")


@pytest.mark.parametrize("bit", [0, 7, 8 * 5 + 3])
def test_flipped_message_bit_is_invalid(key: SM2PrivateKey, bit: int) -> None:
    msg = bytearray(b"a message of some length")
    sig = key.sign(bytes(msg))
    msg[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(InvalidSignature):
        key.public_key().verify(sig, bytes(msg))


def test_signature_from_another_key_is_invalid(key: SM2PrivateKey) -> None:
    other = SM2PrivateKey.generate()
    with pytest.raises(InvalidSignature):
        key.public_key().verify(other.sign(b"m"), b"m")


def test_signature_under_a_different_uid_is_invalid(key: SM2PrivateKey) -> None:
    sig = key.sign(b"m")
    with pytest.raises(InvalidSignature):
        key.public_key().verify(sig, b"m", uid=b"1234567812345679")


# --- strict versus lenient encodings ------------------------------------------------------------------------


def _sig_with_high_bit(key: SM2PrivateKey, which: int) -> tuple[bytes, int, int]:
    """A signature whose r (which=0) or s (which=1) has its top bit set, so DER needs a 0x00 pad."""
    for _ in range(200):
        sig = key.sign(b"pad")
        rs = decode_signature(sig)
        if rs[which] >> 255:
            return sig, rs[0], rs[1]
    raise AssertionError("no signature with the top bit set in 200 tries")


def _tlv(tag: int, content: bytes, *, long_form: bool = False) -> bytes:
    if long_form:
        return bytes([tag, 0x81, len(content)]) + content
    return bytes([tag, len(content)]) + content


def test_raw_r_s_is_rejected_by_verify_and_repaired_by_verify_lenient(key: SM2PrivateKey) -> None:
    r, s = decode_signature(key.sign(b"raw"))
    raw = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    with pytest.raises(InvalidSignature):
        key.public_key().verify(raw, b"raw")
    warnings = key.public_key().verify_lenient(raw, b"raw")
    assert len(warnings) == 1 and "raw 64-byte r||s" in warnings[0]


def test_raw_r_s_with_wrong_message_is_still_invalid_leniently(key: SM2PrivateKey) -> None:
    r, s = decode_signature(key.sign(b"raw"))
    with pytest.raises(InvalidSignature):
        key.public_key().verify_lenient(r.to_bytes(32, "big") + s.to_bytes(32, "big"), b"RAW")


@pytest.mark.parametrize("which", [0, 1], ids=["r", "s"])
def test_unpadded_integer_der_is_rejected_strictly_and_read_as_unsigned_leniently(
    key: SM2PrivateKey, which: int
) -> None:
    sig, r, s = _sig_with_high_bit(key, which)
    ints = [r.to_bytes(32, "big"), s.to_bytes(32, "big")]  # fixed 32 bytes, no sign pad: what vendors emit
    unpadded = _tlv(0x30, _tlv(0x02, ints[0]) + _tlv(0x02, ints[1]))
    assert unpadded != sig
    with pytest.raises(InvalidSignature):
        key.public_key().verify(unpadded, b"pad")
    warnings = key.public_key().verify_lenient(unpadded, b"pad")
    name = "rs"[which]
    assert any(f"INTEGER {name}" in w and "sign pad" in w for w in warnings), warnings
    assert normalize_signature(unpadded)[0] == sig


def test_long_form_length_is_rejected_strictly_and_repaired_leniently(key: SM2PrivateKey) -> None:
    sig = key.sign(b"long")
    body = sig[2:]
    long_seq = bytes([0x30, 0x81, len(body)]) + body
    with pytest.raises(InvalidSignature):
        key.public_key().verify(long_seq, b"long")
    warnings = key.public_key().verify_lenient(long_seq, b"long")
    assert warnings == ("SEQUENCE length uses a non-minimal long-form encoding",)


def test_redundant_leading_zeros_are_rejected_strictly_and_repaired_leniently(key: SM2PrivateKey) -> None:
    r, s = decode_signature(key.sign(b"zeros"))
    padded_r = b"\x00\x00" + r.to_bytes(32, "big")
    s_der = encode_signature(0, s)[5:]  # the INTEGER s TLV
    weird = _tlv(0x30, _tlv(0x02, padded_r, long_form=True) + s_der)
    with pytest.raises(InvalidSignature):
        key.public_key().verify(weird, b"zeros")
    warnings = key.public_key().verify_lenient(weird, b"zeros")
    assert "INTEGER r has redundant leading zero bytes" in warnings
    assert "INTEGER r length uses a non-minimal long-form encoding" in warnings


def test_trailing_bytes_are_rejected_by_both_paths(key: SM2PrivateKey) -> None:
    sig = key.sign(b"trail") + b"\x00"
    for verify in (key.public_key().verify, key.public_key().verify_lenient):
        with pytest.raises(InvalidSignature):
            verify(sig, b"trail")


def test_canonical_signature_needs_no_repair(key: SM2PrivateKey) -> None:
    sig = key.sign(b"ok")
    assert normalize_signature(sig) == (sig, ())
    assert key.public_key().verify_lenient(sig, b"ok") == ()


@pytest.mark.parametrize(
    "der",
    [
        "300602010102010100",  # trailing byte
        "3081060201010201 01",  # long-form SEQUENCE length
        "300702020001020101",  # INTEGER r with a redundant leading zero
        "3006020181020101",  # INTEGER r negative (no sign pad)
        "3006020101020101"[:-2],  # truncated
        "3080020101020101 0000",  # indefinite length (BER)
        "310602010102010 1",  # SET, not SEQUENCE
        "30050201010200",  # empty INTEGER s
        "3009020101020101020101",  # three INTEGERs
    ],
)
def test_decode_signature_accepts_only_canonical_der(der: str) -> None:
    with pytest.raises(MalformedInput):
        decode_signature(bytes.fromhex(der.replace(" ", "")))


def test_decode_signature_reads_canonical_der() -> None:
    assert decode_signature(bytes.fromhex("3006020101020102")) == (1, 2)
    assert decode_signature(ANNEX_DER) == (ANNEX_R, ANNEX_S)


@pytest.mark.parametrize(
    "garbage",
    [b"", b"\x30", b"\x30\x00", b"\x00" * 71, b"\xff" * 64, b"\x00" * 64, b"not a signature", b"\x30" * 300],
)
def test_garbage_signatures_raise_invalid_signature(key: SM2PrivateKey, garbage: bytes) -> None:
    with pytest.raises(InvalidSignature):
        key.public_key().verify(garbage, b"m")
    with pytest.raises(InvalidSignature):
        key.public_key().verify_lenient(garbage, b"m")


def test_encode_signature_refuses_negative_values() -> None:
    with pytest.raises(InvalidInput):
        encode_signature(-1, 1)


@given(st.integers(0, 2**256 - 1), st.integers(0, 2**256 - 1))
def test_encode_then_decode_round_trips_and_needs_no_repair(r: int, s: int) -> None:
    der = encode_signature(r, s)
    assert decode_signature(der) == (r, s)
    assert normalize_signature(der) == (der, ())


@given(st.integers(1, N - 1), st.integers(1, N - 1))
def test_raw_r_s_normalizes_to_canonical_der(r: int, s: int) -> None:
    raw = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    assert normalize_signature(raw) == (encode_signature(r, s), (sm2._REPAIR_RAW,))


# === keys ===================================================================================================


def test_pkcs8_der_round_trips_and_matches_openssl_layout(key: SM2PrivateKey) -> None:
    der = key.to_pkcs8_der()
    # PKCS#8 { 0, {id-ecPublicKey, sm2p256v1}, SEC1 { 1, d, [1] point } } (spec/sm2-backends.md appendix)
    prefix = bytes.fromhex("308187020100301306072a8648ce3d020106082a811ccf5501822d046d306b0201010420")
    assert der.startswith(prefix) and len(der) == 138
    assert der.endswith(bytes.fromhex("a144034200") + key.public_key().encoded_point())
    assert SM2PrivateKey.from_der(der).public_key() == key.public_key()


def test_pkcs8_pem_round_trips(key: SM2PrivateKey) -> None:
    text = key.to_pkcs8_pem()
    assert text.startswith(b"-----BEGIN PRIVATE KEY-----\n")
    loaded = SM2PrivateKey.from_pem(text)
    loaded.public_key().verify(key.sign(b"x"), b"x")
    key.public_key().verify(loaded.sign(b"y"), b"y")


def test_encrypted_pkcs8_uses_pbes2_aes_256_cbc_and_round_trips(key: SM2PrivateKey) -> None:
    der = key.to_pkcs8_der(password=b"correct horse")
    info = asn1_keys.EncryptedPrivateKeyInfo.load(der)
    algo = info["encryption_algorithm"]
    assert algo["algorithm"].native == "pbes2"
    assert algo.encryption_cipher == "aes" and algo.key_length == 32 and algo.encryption_mode == "cbc"
    assert algo.kdf_iterations == sm2.PKCS8_PBKDF2_ITERATIONS
    assert len(algo.kdf_salt) == 16
    assert key.to_pkcs8_der()[-65:] not in der  # the public key is encrypted too
    assert SM2PrivateKey.from_der(der, password=b"correct horse").public_key() == key.public_key()
    pem_text = key.to_pkcs8_pem(password=b"pw")
    assert pem_text.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----\n")
    assert SM2PrivateKey.from_pem(pem_text, password=b"pw").public_key() == key.public_key()


def test_encrypted_pkcs8_with_wrong_or_missing_password_is_refused(key: SM2PrivateKey) -> None:
    der = key.to_pkcs8_der(password=b"right")
    with pytest.raises(MalformedInput, match="wrong password"):
        SM2PrivateKey.from_der(der, password=b"wrong")
    with pytest.raises(InvalidInput, match="password is needed"):
        SM2PrivateKey.from_der(der)


def test_password_for_a_plain_key_is_refused(key: SM2PrivateKey) -> None:
    with pytest.raises(InvalidInput, match="not encrypted"):
        SM2PrivateKey.from_der(key.to_pkcs8_der(), password=b"pw")


def test_empty_export_password_is_refused(key: SM2PrivateKey) -> None:
    with pytest.raises(InvalidInput):
        key.to_pkcs8_der(password=b"")


def test_encrypted_key_with_absurd_iteration_count_is_refused(key: SM2PrivateKey) -> None:
    info = asn1_keys.EncryptedPrivateKeyInfo.load(key.to_pkcs8_der(password=b"pw"))
    info["encryption_algorithm"]["parameters"]["key_derivation_func"]["parameters"]["iteration_count"] = 2**31
    with pytest.raises(UnsupportedAlgorithm, match="iteration count"):
        SM2PrivateKey.from_der(info.dump(force=True), password=b"pw")


def test_sec1_der_and_pem_load(annex_key: SM2PrivateKey) -> None:
    der = sec1_der(ANNEX_D, annex_key.public_key().encoded_point())
    assert SM2PrivateKey.from_der(der).public_key() == annex_key.public_key()
    for label in ("EC PRIVATE KEY", "SM2 PRIVATE KEY"):
        assert SM2PrivateKey.from_pem(pem(der, label)).public_key() == annex_key.public_key()


def test_pem_skips_other_blocks_before_the_key(annex_key: SM2PrivateKey) -> None:
    params = pem(bytes.fromhex("06082a811ccf5501822d"), "EC PARAMETERS")
    text = b"some text\n" + params + annex_key.to_pkcs8_pem()
    assert SM2PrivateKey.from_pem(text).public_key() == annex_key.public_key()


def test_legacy_encrypted_pem_is_refused_with_advice() -> None:
    legacy = (
        b"-----BEGIN EC PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-256-CBC,00\n\nAAAA\n"
        b"-----END EC PRIVATE KEY-----\n"
    )
    with pytest.raises(InvalidInput, match="pkcs8"):
        SM2PrivateKey.from_pem(legacy)


def test_sec1_whose_public_key_belongs_to_another_key_is_refused(annex_key: SM2PrivateKey) -> None:
    other = SM2PrivateKey.generate().public_key().encoded_point()
    with pytest.raises(MalformedInput, match="does not match"):
        SM2PrivateKey.from_der(sec1_der(ANNEX_D, other))


def test_trailing_bytes_after_a_key_are_refused(key: SM2PrivateKey) -> None:
    with pytest.raises(MalformedInput, match="trailing"):
        SM2PrivateKey.from_der(key.to_pkcs8_der() + b"\x00")
    with pytest.raises(MalformedInput, match="trailing"):
        SM2PublicKey.from_der(key.public_key().to_der() + b"\x00")


@pytest.mark.parametrize("d", [0, N - 1, N, -1])
def test_private_value_outside_1_to_n_minus_2_is_refused(d: int) -> None:
    with pytest.raises(InvalidInput):
        SM2PrivateKey.from_private_value(d)


def test_sec1_with_private_value_n_minus_1_is_refused() -> None:
    # d = n-1 is a valid EC key with public point -G, but (1 + d) has no inverse mod n: SM2 forbids it.
    minus_g = b"\x04" + sm2.GX.to_bytes(32, "big") + (sm2.P - sm2.GY).to_bytes(32, "big")
    with pytest.raises(MalformedInput, match=r"outside \[1, n-2\]"):
        SM2PrivateKey.from_der(sec1_der(N - 1, minus_g))


def test_spki_is_the_fixed_template_and_round_trips(key: SM2PrivateKey) -> None:
    pub = key.public_key()
    der = pub.to_der()
    assert der == SPKI_PREFIX + pub.encoded_point()
    assert SM2PublicKey.from_der(der) == pub
    assert SM2PublicKey.from_pem(pub.to_pem()) == pub
    assert pub.to_pem().startswith(b"-----BEGIN PUBLIC KEY-----\n")
    assert SM2PublicKey.from_encoded_point(pub.encoded_point()) == pub
    assert hash(SM2PublicKey.from_der(der)) == hash(pub)


def test_spki_with_compressed_point_loads_as_the_same_key(key: SM2PrivateKey) -> None:
    pub = key.public_key()
    compressed = bytes([2 + (pub.y & 1)]) + pub.x.to_bytes(32, "big")
    spki = bytes.fromhex("3039301306072a8648ce3d020106082a811ccf5501822d032200") + compressed
    loaded = SM2PublicKey.from_der(spki)
    assert loaded == pub
    loaded.verify(key.sign(b"c"), b"c")


def test_point_off_the_curve_is_refused(key: SM2PrivateKey) -> None:
    point = bytearray(key.public_key().encoded_point())
    point[-1] ^= 1
    with pytest.raises(MalformedInput):
        SM2PublicKey.from_encoded_point(bytes(point))


def test_point_at_infinity_is_refused() -> None:
    with pytest.raises(MalformedInput):
        SM2PublicKey.from_der(bytes.fromhex("3019301306072a8648ce3d020106082a811ccf5501822d03020000"))


@pytest.mark.parametrize(
    "point", [b"", b"\x04" + b"\x00" * 63, b"\x02" + b"\x01" * 32, b"\x05" + b"\x00" * 64]
)
def test_encoded_point_must_be_65_byte_uncompressed(point: bytes) -> None:
    with pytest.raises(MalformedInput):
        SM2PublicKey.from_encoded_point(point)


def test_p256_and_rsa_keys_are_refused_as_not_sm2() -> None:
    p256 = ec.generate_private_key(ec.SECP256R1())
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    for private in (p256, rsa_key):
        der = private.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        with pytest.raises(UnsupportedAlgorithm, match="not an SM2 key"):
            SM2PrivateKey.from_der(der)
        spki = private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        with pytest.raises(UnsupportedAlgorithm, match="not an SM2 key"):
            SM2PublicKey.from_der(spki)
    sec1 = p256.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    with pytest.raises(UnsupportedAlgorithm):
        SM2PrivateKey.from_der(sec1)


def test_public_key_given_as_private_key_is_refused(key: SM2PrivateKey) -> None:
    with pytest.raises(MalformedInput):
        SM2PrivateKey.from_der(key.public_key().to_der())
    with pytest.raises(MalformedInput):
        SM2PrivateKey.from_pem(key.public_key().to_pem())


def test_private_key_repr_shows_no_key_material(annex_key: SM2PrivateKey) -> None:
    d_hex = f"{ANNEX_D:064x}"
    for text in (repr(annex_key), str(annex_key)):
        assert d_hex not in text.lower()
        assert d_hex[:8] not in text.lower()
        assert "SM2PrivateKey" in text


def test_private_key_refuses_pickling(key: SM2PrivateKey) -> None:
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(key)
    assert copy.copy(key) is key and copy.deepcopy(key) is key


def test_public_key_pickles_as_its_spki(key: SM2PrivateKey) -> None:
    assert pickle.loads(pickle.dumps(key.public_key())) == key.public_key()


def test_keys_are_freed_when_dropped() -> None:
    import gc
    import weakref

    k = SM2PrivateKey.generate()
    finalizer = k._key._finalizer
    assert finalizer.alive
    ref = weakref.ref(k)
    del k
    gc.collect()
    assert ref() is None and not finalizer.alive


# --- hostile input never raises anything but the typed errors -----------------------------------------------

_FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@_FUZZ
@given(st.binary(max_size=200))
def test_random_bytes_as_signature_raise_only_invalid_signature(key: SM2PrivateKey, data: bytes) -> None:
    with pytest.raises(InvalidSignature):
        key.public_key().verify(data, b"m")
    with pytest.raises(InvalidSignature):
        key.public_key().verify_lenient(data, b"m")


@_FUZZ
@given(st.data())
def test_mutated_signature_is_rejected_with_invalid_signature(
    annex_key: SM2PrivateKey, data: st.DataObject
) -> None:
    sig = bytearray(ANNEX_DER)  # fixed, so hypothesis can replay and shrink
    i = data.draw(st.integers(0, len(sig) - 1))
    sig[i] ^= data.draw(st.integers(1, 255))
    sig = sig[: data.draw(st.integers(0, len(sig)))]
    with pytest.raises(InvalidSignature):
        annex_key.public_key().verify(bytes(sig), ANNEX_MSG)
    try:
        warnings = annex_key.public_key().verify_lenient(bytes(sig), ANNEX_MSG)
    except InvalidSignature:
        pass
    else:  # only an encoding change can still verify, and then it must say so
        assert warnings


@_FUZZ
@given(st.binary(max_size=300))
def test_random_bytes_as_keys_raise_malformed_input(data: bytes) -> None:
    with pytest.raises(MalformedInput):
        SM2PrivateKey.from_der(data)
    with pytest.raises(MalformedInput):
        SM2PublicKey.from_der(data)
    with pytest.raises(MalformedInput):
        SM2PublicKey.from_encoded_point(data)
    with pytest.raises(MalformedInput):
        SM2PrivateKey.from_pem(data)
    with pytest.raises(MalformedInput):
        SM2PublicKey.from_pem(data)


@_FUZZ
@given(st.binary(min_size=64, max_size=64))
def test_random_points_raise_malformed_input(xy: bytes) -> None:
    with pytest.raises(MalformedInput):
        SM2PublicKey.from_encoded_point(b"\x04" + xy)


@_FUZZ
@given(st.data())
def test_mutated_key_files_load_correctly_or_raise_typed_errors(
    key: SM2PrivateKey, data: st.DataObject
) -> None:
    which = data.draw(st.sampled_from(["pkcs8", "sec1", "spki"]))
    d = key._private_value()
    original = {
        "pkcs8": key.to_pkcs8_der(),
        "sec1": sec1_der(d, key.public_key().encoded_point()),
        "spki": key.public_key().to_der(),
    }[which]
    mutated = bytearray(original)
    i = data.draw(st.integers(0, len(mutated) - 1))
    mutated[i] ^= data.draw(st.integers(1, 255))
    mutated = mutated[: data.draw(st.integers(0, len(mutated)))]
    try:
        if which == "spki":
            loaded_pub = SM2PublicKey.from_der(bytes(mutated))
        else:
            loaded = SM2PrivateKey.from_der(bytes(mutated))
            loaded_pub = loaded.public_key()
            loaded_pub.verify(loaded.sign(b"m"), b"m")
    except InvalidInput:
        return
    # A mutation OpenSSL tolerates (e.g. a version number) must not have changed the key.
    assert loaded_pub == key.public_key()


def test_failures_leave_no_openssl_errors_queued(key: SM2PrivateKey) -> None:
    """A stale OpenSSL error queue would be blamed on the next, unrelated failure in this thread."""
    import ctypes

    libcrypto = ctypes.CDLL("libcrypto.so.3")
    libcrypto.ERR_peek_error.restype = ctypes.c_ulong
    libcrypto.ERR_peek_error.argtypes = []
    failures = [
        lambda: key.public_key().verify(key.sign(b"m"), b"other"),
        lambda: key.public_key().verify(b"\x30\x06\x02\x01\x01\x02\x01\x01", b"m"),
        lambda: SM2PrivateKey.from_der(b"\x30\x03\x02\x01\x00"),
        lambda: SM2PrivateKey.from_der(key.to_pkcs8_der() + b"\x00"),
        lambda: SM2PublicKey.from_der(b"\x30\x00"),
        lambda: SM2PublicKey.from_encoded_point(b"\x04" + bytes(64)),
        lambda: SM2PrivateKey.from_der(
            ec.generate_private_key(ec.SECP256R1()).private_bytes(
                serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        ),
    ]
    for fail in failures:
        with pytest.raises(TrustsvcError):
            fail()
        assert libcrypto.ERR_peek_error() == 0


def test_error_messages_contain_no_openssl_text_or_key_bytes(key: SM2PrivateKey) -> None:
    der = key.to_pkcs8_der(password=b"pw")
    with pytest.raises(TrustsvcError) as info:
        SM2PrivateKey.from_der(der, password=b"nope")
    message = str(info.value)
    assert "error:" not in message and "routines" not in message
    assert der.hex()[:16] not in message


# === threads ================================================================================================


def test_sign_and_verify_from_four_threads_concurrently_give_correct_results() -> None:
    shared = SM2PrivateKey.generate()
    own = [SM2PrivateKey.generate() for _ in range(4)]
    barrier = threading.Barrier(4)
    failures: list[str] = []
    counts = [0] * 4

    def work(n: int) -> None:
        barrier.wait()
        for i in range(60):
            msg = f"thread {n} message {i}".encode()
            for k in (shared, own[n]):
                sig = k.sign(msg, uid=b"uid-%d" % n)
                try:
                    k.public_key().verify(sig, msg, uid=b"uid-%d" % n)
                except InvalidSignature:
                    failures.append(f"{n}/{i}: good signature rejected")
                for bad_msg, bad_uid, bad_key in (
                    (msg + b"!", b"uid-%d" % n, k),
                    (msg, b"uid-%d" % ((n + 1) % 4), k),
                    (msg, b"uid-%d" % n, own[(n + 1) % 4] if k is own[n] else own[n]),
                ):
                    try:
                        bad_key.public_key().verify(sig, bad_msg, uid=bad_uid)
                    except InvalidSignature:
                        continue
                    failures.append(f"{n}/{i}: bad signature accepted")
            counts[n] += 1

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert counts == [60] * 4


# === failing closed =========================================================================================


@pytest.mark.parametrize("field", ["point", "z", "e", "signature", "uid"])
def test_self_test_fails_closed_when_the_known_answer_does_not_reproduce(field: str) -> None:
    good = sm2._ANNEX_A
    alice_z = sm3(b"\x00\x90" + ALICE + ANNEX_Z_INPUT[18:])
    broken = {
        "point": replace(good, point=TOPSEC_POINT),
        "z": replace(good, z=TOPSEC_Z),
        "e": replace(good, e=bytes(32)),
        "signature": replace(good, signature=encode_signature(ANNEX_R, ANNEX_S + 1)),
        # Z and e right for this ID, but the signature was made under the default ID: must not verify.
        "uid": replace(good, uid=ALICE, z=alice_z, e=sm3(alice_z + ANNEX_MSG)),
    }[field]
    sm2._self_test(good)
    with pytest.raises(CryptoBackendUnavailable, match="libssl3"):
        sm2._self_test(broken)


def _import_in_subprocess(env_extra: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRUSTSVC_", "OPENSSL_"))}
    env.update(env_extra)
    return subprocess.run(
        [sys.executable, "-c", "import trustsvc.keys.sm2"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_import_fails_closed_when_libcrypto_has_no_sm2(tmp_path: Path) -> None:
    # Only OpenSSL's "base" provider (encoders/decoders, no algorithms), like a libcrypto built no-sm2/no-sm3.
    conf = tmp_path / "openssl.cnf"
    conf.write_text(
        "openssl_conf = openssl_init\n[openssl_init]\nproviders = provider_sect\n"
        "[provider_sect]\nbase = base_sect\n[base_sect]\nactivate = 1\n"
    )
    result = _import_in_subprocess({"OPENSSL_CONF": str(conf)})
    assert result.returncode != 0
    assert "CryptoBackendUnavailable" in result.stderr
    assert "no SM3" in result.stderr and "libssl3" in result.stderr


def test_import_fails_closed_when_libcrypto_is_missing() -> None:
    result = _import_in_subprocess({"TRUSTSVC_LIBCRYPTO": "/nonexistent/libcrypto.so.3"})
    assert result.returncode != 0
    assert "CryptoBackendUnavailable" in result.stderr and "cannot load" in result.stderr


def test_import_fails_closed_when_the_library_is_not_libcrypto() -> None:
    result = _import_in_subprocess({"TRUSTSVC_LIBCRYPTO": "libc.so.6"})
    assert result.returncode != 0
    assert "not an OpenSSL 3 libcrypto" in result.stderr


def test_import_succeeds_with_the_system_libcrypto() -> None:
    result = _import_in_subprocess({})
    assert result.returncode == 0, result.stderr
    assert sm2.openssl_version().startswith("OpenSSL 3.")
