"""SM3 and SM4 through `cryptography`: the published known answers, incremental hashing, SM4-GCM sealing."""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import given
from hypothesis import strategies as st

from trustsvc.errors import InvalidInput
from trustsvc.keys.sm3 import sm3, sm3_hasher, sm4_gcm_decrypt, sm4_gcm_encrypt

# GB/T 32905 examples (spec/standards.md §1.5); the empty-string value is [V-run], not from a published table.
SM3_ABC = "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
SM3_ABCD16 = "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"
SM3_EMPTY = "1ab21d8355cfa17f8e61194831e81a8f22bec8c728fefb747ed035eb5082aa2b"

# GB/T 32907-2016 Appendix A: key = plaintext; Example 1 encrypts once, Example 2 a million times.
SM4_KEY = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
SM4_EXAMPLE_1 = bytes.fromhex("681EDF34D206965E86B3E94F536E4246")
SM4_EXAMPLE_2 = bytes.fromhex("595298C7C6FD271F0402F804C33D3F66")

# RFC 8998 Appendix A.1 (SM4-GCM).
GCM_NONCE = bytes.fromhex("00001234567800000000ABCD")
GCM_AAD = bytes.fromhex("FEEDFACEDEADBEEFFEEDFACEDEADBEEFABADDAD2")
GCM_PLAINTEXT = bytes.fromhex(
    "AAAAAAAAAAAAAAAABBBBBBBBBBBBBBBBCCCCCCCCCCCCCCCCDDDDDDDDDDDDDDDD"
    "EEEEEEEEEEEEEEEEFFFFFFFFFFFFFFFFEEEEEEEEEEEEEEEEAAAAAAAAAAAAAAAA"
)
GCM_CIPHERTEXT = bytes.fromhex(
    "17F399F08C67D5EE19D0DC9969C4BB7D5FD46FD3756489069157B282BB200735"
    "D82710CA5C22F0CCFA7CBF93D496AC15A56834CBCF98C397B4024A2691233B8D"
)
GCM_TAG = bytes.fromhex("83DE3541E4C2B58177E065A9BF7B62EC")


# --- SM3 ----------------------------------------------------------------------------------------------------


def test_sm3_of_abc_matches_gbt_32905_example_1() -> None:
    assert sm3(b"abc").hex() == SM3_ABC


def test_sm3_of_abcd_times_16_matches_gbt_32905_example_2() -> None:
    assert sm3(b"abcd" * 16).hex() == SM3_ABCD16


def test_sm3_of_empty_input_matches_known_value() -> None:
    assert sm3(b"").hex() == SM3_EMPTY


def test_sm3_digest_is_32_bytes_and_accepts_buffers() -> None:
    assert len(sm3(b"x" * 1000)) == 32
    assert sm3(bytearray(b"abc")) == bytes.fromhex(SM3_ABC)  # type: ignore[arg-type]
    assert sm3(memoryview(b"abc")) == bytes.fromhex(SM3_ABC)  # type: ignore[arg-type]


def test_sm3_hasher_fed_in_pieces_equals_one_shot() -> None:
    h = sm3_hasher()
    for piece in (b"ab", b"", b"c"):
        h.update(piece)
    assert h.finalize().hex() == SM3_ABC


def test_each_sm3_hasher_is_independent() -> None:
    a, b = sm3_hasher(), sm3_hasher()
    a.update(b"abc")
    b.update(b"abcd" * 16)
    assert (a.finalize().hex(), b.finalize().hex()) == (SM3_ABC, SM3_ABCD16)


def test_using_a_hasher_does_not_disturb_later_digests() -> None:
    h = sm3_hasher()
    h.update(b"something else entirely")
    assert sm3(b"abc").hex() == SM3_ABC
    assert sm3_hasher().finalize().hex() == SM3_EMPTY


def test_sm3_from_four_threads_gives_correct_digests() -> None:
    inputs = [bytes([i]) * (i * 97) for i in range(64)]
    expected = [sm3(d) for d in inputs]
    with ThreadPoolExecutor(max_workers=4) as pool:
        for _ in range(20):
            assert list(pool.map(sm3, inputs)) == expected


@given(st.binary(max_size=4096), st.lists(st.integers(0, 4096), max_size=5))
def test_sm3_incremental_equals_one_shot_for_any_split(data: bytes, cuts: list[int]) -> None:
    h = sm3_hasher()
    start = 0
    for cut in sorted(c % (len(data) + 1) for c in cuts):
        h.update(data[start:cut])
        start = cut
    h.update(data[start:])
    assert h.finalize() == sm3(data)


@pytest.mark.skipif("sm3" not in hashlib.algorithms_available, reason="this Python's OpenSSL has no SM3")
@given(st.binary(max_size=2048))
def test_sm3_agrees_with_the_system_openssl(data: bytes) -> None:
    assert sm3(data) == hashlib.new("sm3", data).digest()


# --- SM4 ----------------------------------------------------------------------------------------------------


def test_sm4_ecb_matches_gbt_32907_example_1() -> None:
    enc = Cipher(algorithms.SM4(SM4_KEY), modes.ECB()).encryptor()
    assert enc.update(SM4_KEY) + enc.finalize() == SM4_EXAMPLE_1
    dec = Cipher(algorithms.SM4(SM4_KEY), modes.ECB()).decryptor()
    assert dec.update(SM4_EXAMPLE_1) + dec.finalize() == SM4_KEY


def test_sm4_ecb_a_million_times_matches_gbt_32907_example_2() -> None:
    enc = Cipher(algorithms.SM4(SM4_KEY), modes.ECB()).encryptor()
    block = SM4_KEY
    for _ in range(1_000_000):
        block = enc.update(block)
    assert block == SM4_EXAMPLE_2


def test_sm4_gcm_matches_rfc_8998_vector() -> None:
    sealed = sm4_gcm_encrypt(SM4_KEY, GCM_NONCE, GCM_PLAINTEXT, GCM_AAD)
    assert sealed == GCM_CIPHERTEXT + GCM_TAG
    assert sm4_gcm_decrypt(SM4_KEY, GCM_NONCE, sealed, GCM_AAD) == GCM_PLAINTEXT


@pytest.mark.parametrize("index", [0, 63, 64, 79])
def test_sm4_gcm_rejects_a_flipped_ciphertext_or_tag_bit(index: int) -> None:
    damaged = bytearray(GCM_CIPHERTEXT + GCM_TAG)
    damaged[index] ^= 1
    with pytest.raises(InvalidTag):
        sm4_gcm_decrypt(SM4_KEY, GCM_NONCE, bytes(damaged), GCM_AAD)


def test_sm4_gcm_rejects_wrong_aad_nonce_or_key() -> None:
    sealed = GCM_CIPHERTEXT + GCM_TAG
    with pytest.raises(InvalidTag):
        sm4_gcm_decrypt(SM4_KEY, GCM_NONCE, sealed, GCM_AAD + b"x")
    with pytest.raises(InvalidTag):
        sm4_gcm_decrypt(SM4_KEY, GCM_NONCE, sealed, None)
    with pytest.raises(InvalidTag):
        sm4_gcm_decrypt(SM4_KEY, bytes(12), sealed, GCM_AAD)
    with pytest.raises(InvalidTag):
        sm4_gcm_decrypt(bytes(16), GCM_NONCE, sealed, GCM_AAD)


def test_sm4_gcm_rejects_data_shorter_than_the_tag() -> None:
    with pytest.raises(InvalidTag):
        sm4_gcm_decrypt(SM4_KEY, GCM_NONCE, GCM_TAG[:15])


@pytest.mark.parametrize(
    ("key", "nonce"), [(bytes(15), bytes(12)), (bytes(32), bytes(12)), (bytes(16), bytes(16))]
)
def test_sm4_gcm_refuses_wrong_key_or_nonce_length(key: bytes, nonce: bytes) -> None:
    with pytest.raises(InvalidInput):
        sm4_gcm_encrypt(key, nonce, b"data")
    with pytest.raises(InvalidInput):
        sm4_gcm_decrypt(key, nonce, bytes(32))


@given(
    st.binary(min_size=16, max_size=16),
    st.binary(min_size=12, max_size=12),
    st.binary(max_size=300),
    st.binary(max_size=50),
)
def test_sm4_gcm_round_trips(key: bytes, nonce: bytes, data: bytes, aad: bytes) -> None:
    sealed = sm4_gcm_encrypt(key, nonce, data, aad)
    assert len(sealed) == len(data) + 16
    assert sm4_gcm_decrypt(key, nonce, sealed, aad) == data
