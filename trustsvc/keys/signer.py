"""One Signer protocol for every key (software, key store, HSM) and one ``verify`` for every algorithm.

Signature values are what X.509, CMS and GB/T 38540 carry: DER ``SEQUENCE {r, s}`` for SM2 and ECDSA, the
raw modulus-sized block for RSA. SM2 hashes SM3(Z_A || data) with Z_A from the user ID (default
1234567812345678); ECDSA and RSA use SHA-256; RSA-PSS uses MGF1-SHA-256 and a 32-byte salt.
"""

from __future__ import annotations

from typing import Protocol

from asn1crypto import keys
from cryptography.exceptions import InvalidSignature as _CryptographyInvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from trustsvc import errors
from trustsvc.keys.algorithms import KeyAlgorithm, SignatureAlgorithm
from trustsvc.keys.encoding import PrivateKey, PublicKey, dump_public_key, key_algorithm_of, load_public_key
from trustsvc.keys.sm2 import DEFAULT_SM2_ID, SM2PrivateKey, SM2PublicKey

__all__ = ["Signer", "software_signer", "verify"]

_PSS_SALT_LENGTH = 32

_DEFAULT_ALGORITHM = {
    KeyAlgorithm.SM2: SignatureAlgorithm.SM2_SM3,
    KeyAlgorithm.ECDSA_P256: SignatureAlgorithm.ECDSA_SHA256,
    KeyAlgorithm.RSA_3072: SignatureAlgorithm.RSA_PKCS1_SHA256,
}


class Signer(Protocol):
    """Something that signs with one key and one algorithm."""

    @property
    def algorithm(self) -> SignatureAlgorithm: ...

    @property
    def public_key_info(self) -> keys.PublicKeyInfo: ...

    def sign(self, data: bytes) -> bytes:
        """Return the DER signature value over ``data`` as it goes into X.509/CMS/SES."""
        ...


class _SoftwareSigner:
    """A Signer over a private key held in memory."""

    __slots__ = ("_algorithm", "_key", "_public_key_info", "_uid")

    def __init__(self, key: PrivateKey, algorithm: SignatureAlgorithm, uid: bytes) -> None:
        self._key = key
        self._algorithm = algorithm
        self._uid = uid
        self._public_key_info = keys.PublicKeyInfo.load(dump_public_key(key.public_key(), encoding="der"))

    @property
    def algorithm(self) -> SignatureAlgorithm:
        return self._algorithm

    @property
    def public_key_info(self) -> keys.PublicKeyInfo:
        return self._public_key_info

    def sign(self, data: bytes) -> bytes:
        key = self._key
        if isinstance(key, SM2PrivateKey):
            return key.sign(data, uid=self._uid)
        if isinstance(key, ec.EllipticCurvePrivateKey):
            return key.sign(data, ec.ECDSA(hashes.SHA256()))
        return key.sign(data, _rsa_padding(self._algorithm), hashes.SHA256())

    def __repr__(self) -> str:
        return f"<software signer {self._algorithm.value}>"


def software_signer(
    key: PrivateKey, algorithm: SignatureAlgorithm | None = None, *, uid: bytes = DEFAULT_SM2_ID
) -> Signer:
    """Return a Signer over ``key``; the algorithm defaults to the key's (SM2-SM3, ECDSA-SHA256, RSA-PKCS1).

    ``uid`` is the SM2 user ID that goes into Z_A; other algorithms ignore it.
    Raises ``UnsupportedAlgorithm`` when ``algorithm`` does not fit the key.
    """
    if not isinstance(key, SM2PrivateKey | ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise errors.UnsupportedAlgorithm(f"{type(key).__name__} is not a private key trustsvc can sign with")
    key_algorithm = key_algorithm_of(key)  # also rejects curves other than P-256 and short RSA keys
    default = _DEFAULT_ALGORITHM[key_algorithm]
    try:
        chosen = default if algorithm is None else SignatureAlgorithm(algorithm)
    except ValueError as exc:
        raise errors.UnsupportedAlgorithm(f"unknown signature algorithm {algorithm!r}") from exc
    if not _fits(key, chosen):
        raise errors.UnsupportedAlgorithm(f"{chosen.value} cannot be used with a {key_algorithm.value} key")
    if not isinstance(uid, bytes):
        raise errors.InvalidInput("the SM2 user ID must be bytes")
    return _SoftwareSigner(key, chosen, uid)


def verify(
    spki: keys.PublicKeyInfo | bytes,
    algorithm: SignatureAlgorithm,
    data: bytes,
    signature: bytes,
    *,
    uid: bytes = DEFAULT_SM2_ID,
) -> None:
    """Return if ``signature`` is ``algorithm`` over ``data`` by the key in ``spki``; else InvalidSignature.

    Every failure is InvalidSignature: wrong key, data, user ID or algorithm, malformed or non-DER signature
    value, and a key that cannot be read or does not fit the algorithm.
    """
    try:
        chosen = SignatureAlgorithm(algorithm)
        public_key = load_public_key(spki.dump() if isinstance(spki, keys.PublicKeyInfo) else spki)
    except (ValueError, TypeError, errors.TrustsvcError) as exc:
        raise errors.InvalidSignature(f"cannot verify: {_reason(exc)}") from exc
    if not _fits(public_key, chosen):
        raise errors.InvalidSignature(f"{chosen.value} does not fit the public key")
    try:
        if isinstance(public_key, SM2PublicKey):
            public_key.verify(signature, data, uid=uid)
        elif isinstance(public_key, ec.EllipticCurvePublicKey):
            public_key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
        else:
            public_key.verify(signature, data, _rsa_padding(chosen), hashes.SHA256())
    except errors.InvalidSignature:
        raise
    except (_CryptographyInvalidSignature, ValueError, TypeError, errors.TrustsvcError) as exc:
        raise errors.InvalidSignature(f"{chosen.value} signature does not verify") from exc


def _fits(key: PrivateKey | PublicKey, algorithm: SignatureAlgorithm) -> bool:
    if isinstance(key, SM2PrivateKey | SM2PublicKey):
        return algorithm is SignatureAlgorithm.SM2_SM3
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        return algorithm is SignatureAlgorithm.ECDSA_SHA256
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        return algorithm in (SignatureAlgorithm.RSA_PKCS1_SHA256, SignatureAlgorithm.RSA_PSS_SHA256)
    return False


def _rsa_padding(algorithm: SignatureAlgorithm) -> padding.AsymmetricPadding:
    if algorithm is SignatureAlgorithm.RSA_PSS_SHA256:
        return padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=_PSS_SALT_LENGTH)
    return padding.PKCS1v15()


def _reason(exc: BaseException) -> str:
    if isinstance(exc, errors.TrustsvcError):
        return exc.detail
    return "unknown signature algorithm"
