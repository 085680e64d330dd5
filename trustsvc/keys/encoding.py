"""Key files: load and dump private keys (PKCS#8, SEC1, PKCS#1) and public keys (SPKI), PEM or DER.

SM2 keys go to :mod:`trustsvc.keys.sm2` (system libcrypto); EC P-256 and RSA keys go to ``cryptography``,
which has no SM2. SM2 is recognised by the curve OID 1.2.156.10197.1.301 inside the structure before
``cryptography`` ever sees the bytes. An encrypted PKCS#8 hides its curve: it is offered to ``cryptography``
first and handed to sm2 when ``cryptography`` decrypts it but lacks the curve; one protected with SM4 or
HMAC-SM3 (GM software) goes straight to sm2, so only SM2 keys load that way. Legacy PEM encryption
(Proc-Type/DEK-Info) is read for EC P-256 and RSA only.

We write PKCS#8, encrypted as PBES2 (PBKDF2-HMAC-SHA256, AES-256-CBC) with sm2.py's iteration count for every
key type, so exported files are equally strong whatever the algorithm.

Accepted besides SM2: EC P-256 and RSA of 2048 bits or more. Other key types raise ``UnsupportedAlgorithm``;
bytes that are not a key raise ``MalformedInput``; a missing, unexpected or wrong password raises
``InvalidInput`` (the plain class, so callers can tell it from ``MalformedInput``). No message carries key
material or the password.
"""

from __future__ import annotations

import os
from typing import Literal, TypeAlias

from asn1crypto import algos, core, keys, parser, pem
from cryptography.exceptions import UnsupportedAlgorithm as _CryptographyUnsupported
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.hazmat.primitives.ciphers import Cipher
from cryptography.hazmat.primitives.ciphers.algorithms import AES
from cryptography.hazmat.primitives.ciphers.modes import CBC
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
from cryptography.hazmat.primitives.padding import PKCS7

from trustsvc import errors
from trustsvc.keys.algorithms import KeyAlgorithm
from trustsvc.keys.sm2 import PKCS8_PBKDF2_ITERATIONS, SM2PrivateKey, SM2PublicKey

__all__ = [
    "PrivateKey",
    "PublicKey",
    "dump_private_key",
    "dump_public_key",
    "key_algorithm_of",
    "load_private_key",
    "load_public_key",
]

PrivateKey: TypeAlias = SM2PrivateKey | ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
PublicKey: TypeAlias = SM2PublicKey | ec.EllipticCurvePublicKey | rsa.RSAPublicKey
_Encoding: TypeAlias = Literal["pem", "der"]

_MIN_RSA_BITS = 2048

# PKCS#8 encryption: PBES2 with PBKDF2-HMAC-SHA256 and AES-256-CBC, the same strength as sm2.py writes.
_PBKDF2_ITERATIONS = PKCS8_PBKDF2_ITERATIONS
_PBKDF2_SALT_LENGTH = 16
_MAX_PBKDF2_ITERATIONS = 10_000_000  # a hostile file must not buy minutes of CPU
_HMAC_SM3 = "1.2.156.10197.1.401.2"
_SM4 = "1.2.156.10197.1.104"

_ID_EC_PUBLIC_KEY = "1.2.840.10045.2.1"
_SM2_CURVE = "1.2.156.10197.1.301"

_PRIVATE_KEY_LABELS = frozenset(
    {"PRIVATE KEY", "ENCRYPTED PRIVATE KEY", "EC PRIVATE KEY", "SM2 PRIVATE KEY", "RSA PRIVATE KEY"}
)
# `openssl ecparam -genkey` writes an EC PARAMETERS block before the key.
_SKIPPED_LABELS = frozenset({"EC PARAMETERS", "SM2 PARAMETERS"})

# Shapes of a private-key DER, told apart by their first two elements.
_PKCS8 = "pkcs8"
_ENCRYPTED_PKCS8 = "encrypted-pkcs8"
_SEC1 = "sec1"
_PKCS1 = "pkcs1"

_TAG_INTEGER = 2
_TAG_OCTET_STRING = 4
_TAG_SEQUENCE = 16


# --- private keys --------------------------------------------------------------------------------


def load_private_key(data: bytes, *, password: bytes | None = None) -> PrivateKey:
    """Return the private key in ``data`` (PEM or DER; PKCS#8 plain or encrypted, SEC1, PKCS#1 RSA)."""
    _check_bytes(data, password)
    if pem.detect(data):
        label, headers, der = _unarmor(data, _PRIVATE_KEY_LABELS, "private key")
        if "Proc-Type" in headers:  # legacy OpenSSL PEM encryption (DEK-Info), only meaningful as PEM
            return _load_legacy_encrypted_pem(label, der, headers, password)
    else:
        der = data
    shape = _shape_of(der)
    if shape == _ENCRYPTED_PKCS8:
        return _load_encrypted_pkcs8(der, password)
    if password is not None:
        raise errors.InvalidInput("a password was given but the private key is not encrypted")
    if (shape == _PKCS8 and _pkcs8_is_sm2(der)) or (shape == _SEC1 and _sec1_is_sm2(der)):
        return SM2PrivateKey.from_der(der)
    return _checked_private(_cryptography_load_plain(der))


def dump_private_key(key: PrivateKey, *, encoding: _Encoding = "pem", password: bytes | None = None) -> bytes:
    """Return ``key`` as PKCS#8, encrypted (PBES2, AES-256-CBC) when a password is given."""
    _check_encoding(encoding)
    _check_bytes(b"", password)
    if password is not None and not password:
        raise errors.InvalidInput("the password must not be empty")
    if isinstance(key, SM2PrivateKey):
        if encoding == "pem":
            return key.to_pkcs8_pem(password=password)
        return key.to_pkcs8_der(password=password)
    key = _checked_private(key)
    der = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    if password is None:
        return pem.armor("PRIVATE KEY", der) if encoding == "pem" else der
    der = _encrypt_pkcs8(der, password)
    return pem.armor("ENCRYPTED PRIVATE KEY", der) if encoding == "pem" else der


def _encrypt_pkcs8(plain: bytes, password: bytes) -> bytes:
    # cryptography's BestAvailableEncryption picks its own (low) PBKDF2 count; this matches sm2.py instead.
    salt = os.urandom(_PBKDF2_SALT_LENGTH)
    iv = os.urandom(16)
    kek = PBKDF2HMAC(algorithm=hashes.SHA256(), length=32, salt=salt, iterations=_PBKDF2_ITERATIONS).derive(
        password
    )
    padder = PKCS7(128).padder()
    padded = padder.update(plain) + padder.finalize()
    encryptor = Cipher(AES(kek), CBC(iv)).encryptor()
    encrypted = encryptor.update(padded) + encryptor.finalize()
    pbes2 = {
        "key_derivation_func": {
            "algorithm": "pbkdf2",
            "parameters": {
                "salt": algos.Pbkdf2Salt(name="specified", value=salt),
                "iteration_count": _PBKDF2_ITERATIONS,
                "prf": {"algorithm": "sha256", "parameters": core.Null()},
            },
        },
        "encryption_scheme": {"algorithm": "aes256_cbc", "parameters": iv},
    }
    return keys.EncryptedPrivateKeyInfo(
        {"encryption_algorithm": {"algorithm": "pbes2", "parameters": pbes2}, "encrypted_data": encrypted}
    ).dump()


def _shape_of(der: bytes) -> str:
    try:
        outer_class, _, outer_tag, _, contents, _ = parser.parse(der, strict=True)
        if (outer_class, outer_tag) != (0, _TAG_SEQUENCE):
            raise ValueError("not a SEQUENCE")
        first_class, _, first_tag, _, first_contents, _ = parser.parse(contents)
        second_class, _, second_tag, _, _, _ = parser.parse(contents[parser.peek(contents) :])
    except (ValueError, TypeError, IndexError) as exc:
        raise errors.MalformedInput("not a DER or PEM private key") from exc
    if (first_class, second_class) == (0, 0):
        if first_tag == _TAG_SEQUENCE and second_tag == _TAG_OCTET_STRING:
            return _ENCRYPTED_PKCS8
        if first_tag == _TAG_INTEGER:
            version = int.from_bytes(first_contents, "big", signed=True)
            if version in (0, 1) and second_tag == _TAG_SEQUENCE:
                return _PKCS8  # v1, or v2 (RFC 5958 OneAsymmetricKey)
            if version == 1 and second_tag == _TAG_OCTET_STRING:
                return _SEC1
            if version in (0, 1) and second_tag == _TAG_INTEGER:
                return _PKCS1
    raise errors.MalformedInput("not a PKCS#8, SEC1 or PKCS#1 private key")


def _pkcs8_is_sm2(der: bytes) -> bool:
    try:
        algorithm = keys.PrivateKeyInfo.load(der, strict=True)["private_key_algorithm"]
        if algorithm["algorithm"].dotted == _SM2_CURVE:
            # Some older GM software puts the curve OID where id-ecPublicKey belongs; OpenSSL rejects it.
            raise errors.UnsupportedAlgorithm("SM2 private key with a non-standard algorithm identifier")
        return bool(
            algorithm["algorithm"].dotted == _ID_EC_PUBLIC_KEY and _is_sm2_curve(algorithm["parameters"])
        )
    except (ValueError, TypeError, KeyError) as exc:
        raise errors.MalformedInput("PKCS#8 private key could not be parsed") from exc


def _sec1_is_sm2(der: bytes) -> bool:
    try:
        return _is_sm2_curve(keys.ECPrivateKey.load(der, strict=True)["parameters"])
    except (ValueError, TypeError, KeyError) as exc:
        raise errors.MalformedInput("SEC1 private key could not be parsed") from exc


def _is_sm2_curve(parameters: object) -> bool:
    return (
        isinstance(parameters, keys.ECDomainParameters)
        and parameters.name == "named"
        and parameters.chosen.dotted == _SM2_CURVE
    )


def _load_encrypted_pkcs8(der: bytes, password: bytes | None) -> PrivateKey:
    iterations = 0
    sm_scheme = False
    try:
        algorithm = keys.EncryptedPrivateKeyInfo.load(der, strict=True)["encryption_algorithm"]
        if algorithm["algorithm"].native == "pbes2":
            kdf = algorithm["parameters"]["key_derivation_func"]
            cipher_oid = algorithm["parameters"]["encryption_scheme"]["algorithm"].dotted
            sm_scheme = cipher_oid.startswith(_SM4 + ".")
            if kdf["algorithm"].native == "pbkdf2":
                iterations = kdf["parameters"]["iteration_count"].native
                sm_scheme = sm_scheme or kdf["parameters"]["prf"]["algorithm"].dotted == _HMAC_SM3
    except (ValueError, TypeError, KeyError) as exc:
        raise errors.MalformedInput("encrypted PKCS#8 private key could not be parsed") from exc
    if password is None:
        raise errors.InvalidInput("the private key is encrypted: a password is needed")
    if iterations > _MAX_PBKDF2_ITERATIONS:
        raise errors.UnsupportedAlgorithm(f"PBKDF2 iteration count {iterations} is too high")
    if sm_scheme:
        # SM4 / HMAC-SM3 protection (GM software): only libcrypto decrypts it, so only SM2 keys load this way.
        return _load_sm2_encrypted(der, password)
    try:
        key = serialization.load_der_private_key(der, password)
    except _CryptographyUnsupported:
        # Decrypted, but of a type cryptography lacks: SM2 among them.
        return _load_sm2_encrypted(der, password)
    except (ValueError, TypeError) as exc:
        raise _wrong_password() from exc
    return _checked_private(key)


def _load_sm2_encrypted(der: bytes, password: bytes) -> SM2PrivateKey:
    try:
        return SM2PrivateKey.from_der(der, password=password)
    except errors.UnsupportedAlgorithm as exc:
        raise errors.UnsupportedAlgorithm(
            "private key type or encryption is not supported (SM2, EC P-256 and RSA are)"
        ) from exc
    except errors.MalformedInput as exc:
        raise _wrong_password() from exc


def _wrong_password() -> errors.InvalidInput:
    return errors.InvalidInput(
        "the encrypted private key could not be decrypted: wrong password or corrupt data"
    )


def _load_legacy_encrypted_pem(
    label: str, der: bytes, headers: dict[str, str], password: bytes | None
) -> PrivateKey:
    if password is None:
        raise errors.InvalidInput("the private key is encrypted: a password is needed")
    # OpenSSL labels SEC1 SM2 keys "SM2 PRIVATE KEY"; cryptography reads that structure as "EC PRIVATE KEY".
    block = pem.armor("EC PRIVATE KEY" if label == "SM2 PRIVATE KEY" else label, der, headers=headers)
    try:
        key = serialization.load_pem_private_key(block, password)
    except _CryptographyUnsupported as exc:
        # The password was right (the key decrypted) but the key is SM2 or another curve cryptography lacks;
        # sm2.py reads no legacy PEM encryption, and its MD5-based key derivation is not worth adding.
        raise errors.UnsupportedAlgorithm(
            "legacy PEM encryption (Proc-Type/DEK-Info) is supported for EC P-256 and RSA keys only; "
            "convert the key with `openssl pkcs8 -topk8 -v2 aes-256-cbc`"
        ) from exc
    except (ValueError, TypeError) as exc:
        raise _wrong_password() from exc
    return _checked_private(key)


def _cryptography_load_plain(der: bytes) -> PrivateKeyTypes:
    try:
        return serialization.load_der_private_key(der, None)
    except _CryptographyUnsupported as exc:
        raise errors.UnsupportedAlgorithm(
            "private key type or curve is not supported (SM2, EC P-256 and RSA are)"
        ) from exc
    except (ValueError, TypeError) as exc:
        raise errors.MalformedInput("private key could not be parsed") from exc


def _checked_private(key: object) -> ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        _check_curve(key.curve)
        return key
    if isinstance(key, rsa.RSAPrivateKey):
        _check_rsa_size(key.key_size)
        return key
    raise errors.UnsupportedAlgorithm(
        f"{type(key).__name__} keys are not supported (SM2, EC P-256 and RSA are)"
    )


# --- public keys ---------------------------------------------------------------------------------


def load_public_key(data: bytes) -> PublicKey:
    """Return the public key in a SubjectPublicKeyInfo, PEM (``PUBLIC KEY``) or DER."""
    _check_bytes(data, None)
    der = _unarmor(data, frozenset({"PUBLIC KEY"}), "public key")[2] if pem.detect(data) else data
    oid = "unknown"
    try:
        info = keys.PublicKeyInfo.load(der, strict=True)
        oid = info["algorithm"]["algorithm"].dotted
        is_sm2 = oid == _ID_EC_PUBLIC_KEY and _is_sm2_curve(info["algorithm"]["parameters"])
        canonical = info.dump(force=True) == der
    except KeyError as exc:  # asn1crypto knows no structure for this key algorithm
        raise errors.UnsupportedAlgorithm(f"public key algorithm {oid} is not supported") from exc
    except (ValueError, TypeError) as exc:
        raise errors.MalformedInput("not a DER or PEM SubjectPublicKeyInfo") from exc
    if not canonical:
        raise errors.MalformedInput("SubjectPublicKeyInfo is not DER")
    if is_sm2:
        return SM2PublicKey.from_der(der)
    try:
        key = serialization.load_der_public_key(der)
    except _CryptographyUnsupported as exc:
        raise errors.UnsupportedAlgorithm(
            "public key type or curve is not supported (SM2, EC P-256 and RSA are)"
        ) from exc
    except ValueError as exc:
        raise errors.MalformedInput("SubjectPublicKeyInfo could not be parsed") from exc
    if isinstance(key, ec.EllipticCurvePublicKey):
        _check_curve(key.curve)
        return key
    if isinstance(key, rsa.RSAPublicKey):
        _check_rsa_size(key.key_size)
        return key
    raise errors.UnsupportedAlgorithm(
        f"{type(key).__name__} keys are not supported (SM2, EC P-256 and RSA are)"
    )


def dump_public_key(key: PublicKey, *, encoding: _Encoding = "pem") -> bytes:
    """Return ``key`` as a SubjectPublicKeyInfo."""
    _check_encoding(encoding)
    if isinstance(key, SM2PublicKey):
        return key.to_pem() if encoding == "pem" else key.to_der()
    if not isinstance(key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
        raise errors.UnsupportedAlgorithm(f"{type(key).__name__} keys are not supported")
    return key.public_bytes(_cryptography_encoding(encoding), serialization.PublicFormat.SubjectPublicKeyInfo)


def key_algorithm_of(key: PrivateKey | PublicKey) -> KeyAlgorithm:
    """Return the KeyAlgorithm of a private or public key (any accepted RSA size is ``RSA_3072``)."""
    if isinstance(key, SM2PrivateKey | SM2PublicKey):
        return KeyAlgorithm.SM2
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        _check_curve(key.curve)
        return KeyAlgorithm.ECDSA_P256
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        _check_rsa_size(key.key_size)
        return KeyAlgorithm.RSA_3072
    raise errors.UnsupportedAlgorithm(f"{type(key).__name__} keys are not supported")


# --- shared --------------------------------------------------------------------------------------


def _unarmor(data: bytes, labels: frozenset[str], what: str) -> tuple[str, dict[str, str], bytes]:
    try:
        for label, headers, der in pem.unarmor(data, multiple=True):
            if label in _SKIPPED_LABELS:
                continue
            if label not in labels:
                raise errors.MalformedInput(f"PEM block {label!r} is not a {what}")
            return label, dict(headers), der
    except ValueError as exc:
        raise errors.MalformedInput(f"not a PEM {what}") from exc
    raise errors.MalformedInput(f"no {what} in the PEM data")


def _check_bytes(data: object, password: object) -> None:
    if not isinstance(data, bytes):
        raise errors.InvalidInput(f"key data must be bytes, not {type(data).__name__}")
    if password is not None and not isinstance(password, bytes):
        raise errors.InvalidInput(f"the password must be bytes, not {type(password).__name__}")


def _check_curve(curve: ec.EllipticCurve) -> None:
    if not isinstance(curve, ec.SECP256R1):
        raise errors.UnsupportedAlgorithm(f"EC curve {curve.name} is not supported (SM2 and P-256 are)")


def _check_rsa_size(bits: int) -> None:
    if bits < _MIN_RSA_BITS:
        raise errors.UnsupportedAlgorithm(f"RSA keys of {bits} bits are too short (at least {_MIN_RSA_BITS})")


def _check_encoding(encoding: str) -> None:
    if encoding not in ("pem", "der"):
        raise errors.InvalidInput(f"key encoding must be 'pem' or 'der', not {encoding!r}")


def _cryptography_encoding(encoding: _Encoding) -> serialization.Encoding:
    return serialization.Encoding.PEM if encoding == "pem" else serialization.Encoding.DER
