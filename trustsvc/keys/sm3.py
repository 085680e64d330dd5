"""SM3 hashing and SM4-GCM sealing through pyca/cryptography.

Why `cryptography` and not the system libcrypto (which `sm2.py` binds): its wheels bundle their own OpenSSL
with SM3 and SM4 on every platform, its SM3/SM4 pass the GB/T 32905 / GB/T 32907 / RFC 8998 known answers,
and it needs no binding code of ours (spec/sm2-backends.md §1). It has no SM2, hence `sm2.py`.

SM3 here is also the *independent* SM3 the SM2 module uses to compute Z_A in Python: a self-test that compares
libcrypto's SM2 against the published Z and e then checks two implementations against each other.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from trustsvc.errors import InvalidInput

__all__ = [
    "SM3_DIGEST_SIZE",
    "SM4_GCM_NONCE_SIZE",
    "SM4_GCM_TAG_SIZE",
    "SM4_KEY_SIZE",
    "sm3",
    "sm3_hasher",
    "sm4_gcm_decrypt",
    "sm4_gcm_encrypt",
]

SM3_DIGEST_SIZE = 32
SM4_KEY_SIZE = 16
SM4_GCM_NONCE_SIZE = 12  # RFC 8998 fixes 96-bit nonces; other lengths go through GHASH and are easy to misuse
SM4_GCM_TAG_SIZE = 16

# A fresh hasher that is never updated: copying it skips the digest lookup a new Hash() does, a third of the
# cost of hashing a short audit record. Copying only reads it, so threads can share it.
_EMPTY_SM3 = hashes.Hash(hashes.SM3())


def sm3(data: bytes) -> bytes:
    """Return the 32-byte SM3 digest of ``data`` (GB/T 32905)."""
    h = _EMPTY_SM3.copy()
    h.update(data)
    return h.finalize()


def sm3_hasher() -> hashes.Hash:
    """Return a fresh incremental SM3 hasher (``update`` … ``finalize``), for data that arrives in pieces."""
    return _EMPTY_SM3.copy()


def _check_key_nonce(key: bytes, nonce: bytes) -> None:
    if len(key) != SM4_KEY_SIZE:
        raise InvalidInput(f"SM4 key must be {SM4_KEY_SIZE} bytes")
    if len(nonce) != SM4_GCM_NONCE_SIZE:
        raise InvalidInput(f"SM4-GCM nonce must be {SM4_GCM_NONCE_SIZE} bytes")


def sm4_gcm_encrypt(key: bytes, nonce: bytes, data: bytes, aad: bytes | None = None) -> bytes:
    """Return ``ciphertext || 16-byte tag`` of ``data`` under SM4-GCM (RFC 8998).

    The output layout and argument order match ``cryptography``'s ``AESGCM.encrypt`` so the key store can
    switch between AES-256-GCM and SM4-GCM without special cases. The caller must never reuse a nonce
    under one key.
    """
    _check_key_nonce(key, nonce)
    enc = Cipher(algorithms.SM4(key), modes.GCM(nonce)).encryptor()
    if aad:
        enc.authenticate_additional_data(aad)
    return enc.update(data) + enc.finalize() + enc.tag


def sm4_gcm_decrypt(key: bytes, nonce: bytes, data: bytes, aad: bytes | None = None) -> bytes:
    """Return the plaintext of ``ciphertext || tag`` made by :func:`sm4_gcm_encrypt`.

    Raises ``cryptography.exceptions.InvalidTag`` when the tag does not verify (wrong key, nonce or AAD, or
    tampered data) — the same exception ``AESGCM.decrypt`` raises, so the key store treats both ciphers alike.
    """
    _check_key_nonce(key, nonce)
    if len(data) < SM4_GCM_TAG_SIZE:
        raise InvalidTag()
    ciphertext, tag = data[:-SM4_GCM_TAG_SIZE], data[-SM4_GCM_TAG_SIZE:]
    dec = Cipher(algorithms.SM4(key), modes.GCM(nonce, tag)).decryptor()
    if aad:
        dec.authenticate_additional_data(aad)
    return dec.update(ciphertext) + dec.finalize()
