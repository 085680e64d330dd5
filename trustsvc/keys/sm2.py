"""SM2 signatures (GB/T 32918) over the system OpenSSL 3 ``libcrypto``, through a binding this project owns.

Why this shape (spec/sm2-backends.md §1, §6):

* ``libcrypto`` is the only SM2 at hand that is constant-time for the nonce and the private key, patched by
  the distribution, able to take an explicit user ID, able to read and write every key format, and as fast
  as C. ``cryptography`` has no SM2 at all; the pure-Python and GmSSL-based packages are not constant-time.
* ``ctypes.CDLL`` releases the GIL for the duration of a foreign call, so two threads sign on two cores (the
  calls that take no time keep the GIL; see :class:`_Libcrypto`).
* The binding is deliberately small: every foreign function gets explicit ``argtypes``/``restype``, every
  handle is freed in ``finally`` (or by a finalizer for long-lived keys), and the OpenSSL error queue is
  cleared after every failure. Error messages are ours: OpenSSL's error strings can quote input bytes, so
  none reach a caller.
* OpenSSL's default SM2 user ID is *empty*; GM/T 0009 and every real artefact use ``1234567812345678``. Every
  sign and verify here therefore sets the ID explicitly (``EVP_PKEY_CTX_set1_id``), defaulting to
  :data:`DEFAULT_SM2_ID` — never OpenSSL's default.
* At import the module runs the GB/T 32918.5 Annex A known answer and a sign/verify round trip, and refuses to
  load (:class:`~trustsvc.errors.CryptoBackendUnavailable`) if either fails: a libcrypto built without SM2
  (RHEL/Fedora: ``no-sm2``) must fail closed, not sign with something else.

Key types: on OpenSSL 3.0.19 every decoder (``d2i_AutoPrivateKey``, ``d2i_PUBKEY``, ``EVP_PKCS82PKEY``)
returns keys on the SM2 curve as key type ``SM2`` (``EVP_PKEY_is_a(pkey, "SM2")``), whose signature operation
is SM2 — not ``EC``, whose operation would be ECDSA. Every key is checked for exactly that (type ``SM2`` *and*
group ``SM2``) before use, so an ECDSA signature can never be produced or accepted here.

Set ``TRUSTSVC_LIBCRYPTO`` to the path of another ``libcrypto.so.3`` (one built with SM2) to use it instead of
the system one.
"""

from __future__ import annotations

import base64
import binascii
import ctypes
import os
import re
import sys
import weakref
from dataclasses import dataclass
from typing import Any, Final

from trustsvc.errors import (
    CryptoBackendUnavailable,
    InvalidInput,
    InvalidSignature,
    MalformedInput,
    TrustsvcError,
    UnsupportedAlgorithm,
)
from trustsvc.keys.sm3 import sm3

__all__ = [
    "DEFAULT_SM2_ID",
    "PKCS8_PBKDF2_ITERATIONS",
    "SM2PrivateKey",
    "SM2PublicKey",
    "decode_signature",
    "encode_signature",
    "normalize_signature",
    "openssl_version",
]

DEFAULT_SM2_ID: Final = b"1234567812345678"
"""The GM/T 0009-2012 (GB/T 35276) default user ID. Used unless a caller names another one."""

# --- curve sm2p256v1 (GB/T 32918.5; spec/standards.md §1.1) -------------------------------------------------
P: Final = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF
A: Final = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC
B: Final = 0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93
N: Final = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123
GX: Final = 0x32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7
GY: Final = 0xBC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0

_CURVE_FOR_Z: Final = b"".join(v.to_bytes(32, "big") for v in (A, B, GX, GY))
# ENTL is the ID's length in *bits* in two bytes, so 8191 bytes would fit; OpenSSL refuses id_len >= 65535/8.
_MAX_UID_LEN: Final = 8190
_MAX_SIG_LEN: Final = 72  # SEQUENCE{INTEGER 33 bytes, INTEGER 33 bytes}
_MAX_LENIENT_SIG_LEN: Final = 256  # lenient parsing tolerates padding, not unbounded input

# SubjectPublicKeyInfo { {id-ecPublicKey, sm2p256v1}, BIT STRING 04||X||Y }: what OpenSSL writes and reads.
_SPKI_PREFIX: Final = bytes.fromhex("3059301306072a8648ce3d020106082a811ccf5501822d034200")
_SPKI_COMPRESSED_PREFIX: Final = bytes.fromhex("3039301306072a8648ce3d020106082a811ccf5501822d032200")
# PKCS#8 { 0, {id-ecPublicKey, sm2p256v1}, OCTET STRING SEC1 { 1, OCTET STRING d } } without the public key:
# OpenSSL derives d·G when it loads it. Followed by the 32 bytes of d.
_PKCS8_D_ONLY_PREFIX: Final = bytes.fromhex(
    "3041020100301306072a8648ce3d020106082a811ccf5501822d042730250201010420"
)

# Encrypted PKCS#8 exports: PBES2 with PBKDF2-HMAC-SHA256 (OpenSSL's default PRF) and AES-256-CBC. OpenSSL's
# own default of 2 048 iterations is far below today's guidance (OWASP 2023: 600 000 for PBKDF2-SHA256).
PKCS8_PBKDF2_ITERATIONS: Final = 600_000
_PKCS8_SALT_LEN: Final = 16
# Imports refuse absurd iteration counts: a crafted file must not pin a CPU for hours.
_PKCS8_MAX_ITERATIONS: Final = 10_000_000

_ENV_LIBCRYPTO: Final = "TRUSTSVC_LIBCRYPTO"
_INSTALL_HINT: Final = (
    "install Debian's libssl3 (OpenSSL 3 with SM2, SM3 and SM4 in the default provider) or a libcrypto "
    f"built with SM2, and point {_ENV_LIBCRYPTO} at it if it is not the system one"
)


# === the binding ============================================================================================

_VP = ctypes.c_void_p
_UCHAR_P = ctypes.POINTER(ctypes.c_ubyte)
_UCHAR_PP = ctypes.POINTER(_UCHAR_P)
_SIZE_P = ctypes.POINTER(ctypes.c_size_t)
_VP_P = ctypes.POINTER(ctypes.c_void_p)


class _OsslParam(ctypes.Structure):
    """``OSSL_PARAM`` (openssl/core.h): how OpenSSL 3 passes named values, here to build keys from a point."""

    _fields_ = (
        ("key", ctypes.c_char_p),
        ("data_type", ctypes.c_uint),
        ("data", ctypes.c_void_p),
        ("data_size", ctypes.c_size_t),
        ("return_size", ctypes.c_size_t),
    )


_OSSL_PARAM_UTF8_STRING: Final = 4
_OSSL_PARAM_OCTET_STRING: Final = 5
_OSSL_PARAM_UNMODIFIED: Final = ctypes.c_size_t(-1).value
_SELECT_PUBLIC_KEY: Final = 0x86  # EVP_PKEY_PUBLIC_KEY: public key + all parameters
_SELECT_KEYPAIR: Final = 0x87  # EVP_PKEY_KEYPAIR


class _Libcrypto:
    """The libcrypto functions SM2 needs, each declared once with explicit argtypes and restype.

    Function objects are created here, once: looking them up per call would cost more than some calls do.

    Two views of the same library: calls that do real work (EC arithmetic, PBKDF2, OpenSSL's decoder
    framework) go through ``ctypes.CDLL``, which releases the GIL, so threads run them in parallel; calls that
    only allocate, free or set a field (microseconds) go through ``ctypes.PyDLL``, which keeps the GIL.
    Releasing the GIL around those would make two signing threads hand the GIL back and forth several times
    per signature, each hand-over a futex wake-up and a context switch.
    """

    def __init__(self, lib: ctypes.CDLL, held: ctypes.PyDLL) -> None:
        def declare(view: ctypes.CDLL, name: str, restype: Any, argtypes: tuple[Any, ...]) -> Any:
            f = getattr(view, name)  # AttributeError → not an OpenSSL 3 libcrypto
            f.restype = restype
            f.argtypes = list(argtypes)
            return f

        def fn(name: str, restype: Any, *argtypes: Any) -> Any:
            """A quick call: keeps the GIL."""
            return declare(held, name, restype, argtypes)

        def work(name: str, restype: Any, *argtypes: Any) -> Any:
            """A call that computes: releases the GIL."""
            return declare(lib, name, restype, argtypes)

        c_int, c_long, c_char_p = ctypes.c_int, ctypes.c_long, ctypes.c_char_p
        self.OpenSSL_version_num = fn("OpenSSL_version_num", ctypes.c_ulong)
        self.OpenSSL_version = fn("OpenSSL_version", c_char_p, c_int)
        self.ERR_clear_error = fn("ERR_clear_error", None)
        # keys
        self.EVP_PKEY_free = fn("EVP_PKEY_free", None, _VP)
        self.EVP_PKEY_is_a = fn("EVP_PKEY_is_a", c_int, _VP, c_char_p)
        self.EVP_PKEY_get0_type_name = fn("EVP_PKEY_get0_type_name", c_char_p, _VP)
        self.EVP_PKEY_get_group_name = fn(
            "EVP_PKEY_get_group_name", c_int, _VP, c_char_p, ctypes.c_size_t, _SIZE_P
        )
        self.EVP_PKEY_get_bn_param = fn("EVP_PKEY_get_bn_param", c_int, _VP, c_char_p, _VP_P)
        self.BN_bn2binpad = fn("BN_bn2binpad", c_int, _VP, c_char_p, c_int)
        self.BN_clear_free = fn("BN_clear_free", None, _VP)
        self.EVP_PKEY_CTX_new_from_name = fn("EVP_PKEY_CTX_new_from_name", _VP, _VP, c_char_p, c_char_p)
        self.EVP_PKEY_CTX_new_from_pkey = fn("EVP_PKEY_CTX_new_from_pkey", _VP, _VP, _VP, c_char_p)
        self.EVP_PKEY_CTX_free = fn("EVP_PKEY_CTX_free", None, _VP)
        self.EVP_PKEY_keygen_init = fn("EVP_PKEY_keygen_init", c_int, _VP)
        self.EVP_PKEY_keygen = work("EVP_PKEY_keygen", c_int, _VP, _VP_P)
        self.EVP_PKEY_pairwise_check = work("EVP_PKEY_pairwise_check", c_int, _VP)
        self.EVP_PKEY_public_check_quick = fn("EVP_PKEY_public_check_quick", c_int, _VP)
        self.EVP_PKEY_fromdata_init = fn("EVP_PKEY_fromdata_init", c_int, _VP)
        self.EVP_PKEY_fromdata = work(
            "EVP_PKEY_fromdata", c_int, _VP, _VP_P, c_int, ctypes.POINTER(_OsslParam)
        )
        self.OSSL_DECODER_CTX_new_for_pkey = work(
            "OSSL_DECODER_CTX_new_for_pkey", _VP, _VP_P, c_char_p, c_char_p, c_char_p, c_int, _VP, c_char_p
        )
        self.OSSL_DECODER_from_data = work("OSSL_DECODER_from_data", c_int, _VP, _UCHAR_PP, _SIZE_P)
        self.OSSL_DECODER_CTX_free = fn("OSSL_DECODER_CTX_free", None, _VP)
        # key encodings
        self.d2i_AutoPrivateKey = work("d2i_AutoPrivateKey", _VP, _VP_P, _UCHAR_PP, c_long)
        self.d2i_PUBKEY = work("d2i_PUBKEY", _VP, _VP_P, _UCHAR_PP, c_long)
        self.d2i_X509_SIG = fn("d2i_X509_SIG", _VP, _VP_P, _UCHAR_PP, c_long)
        self.i2d_X509_SIG = fn("i2d_X509_SIG", c_int, _VP, _UCHAR_PP)
        self.X509_SIG_free = fn("X509_SIG_free", None, _VP)
        self.PKCS8_decrypt_ex = work("PKCS8_decrypt_ex", _VP, _VP, c_char_p, c_int, _VP, c_char_p)
        self.PKCS8_encrypt_ex = work(
            "PKCS8_encrypt_ex", _VP, c_int, _VP, c_char_p, c_int, c_char_p, c_int, c_int, _VP, _VP, c_char_p
        )
        self.EVP_PKCS82PKEY = work("EVP_PKCS82PKEY", _VP, _VP)
        self.EVP_PKEY2PKCS8 = work("EVP_PKEY2PKCS8", _VP, _VP)
        self.i2d_PKCS8_PRIV_KEY_INFO = fn("i2d_PKCS8_PRIV_KEY_INFO", c_int, _VP, _UCHAR_PP)
        self.PKCS8_PRIV_KEY_INFO_free = fn("PKCS8_PRIV_KEY_INFO_free", None, _VP)
        self.EVP_CIPHER_fetch = fn("EVP_CIPHER_fetch", _VP, _VP, c_char_p, c_char_p)
        self.EVP_CIPHER_free = fn("EVP_CIPHER_free", None, _VP)
        # signatures
        self.EVP_MD_fetch = fn("EVP_MD_fetch", _VP, _VP, c_char_p, c_char_p)
        self.EVP_MD_CTX_new = fn("EVP_MD_CTX_new", _VP)
        self.EVP_MD_CTX_free = fn("EVP_MD_CTX_free", None, _VP)
        self.EVP_PKEY_CTX_set1_id = fn("EVP_PKEY_CTX_set1_id", c_int, _VP, c_char_p, c_int)
        self.EVP_DigestSignInit = fn("EVP_DigestSignInit", c_int, _VP, _VP_P, _VP, _VP, _VP)
        self.EVP_DigestVerifyInit = fn("EVP_DigestVerifyInit", c_int, _VP, _VP_P, _VP, _VP, _VP)
        self.EVP_DigestSign = work("EVP_DigestSign", c_int, _VP, c_char_p, _SIZE_P, c_char_p, ctypes.c_size_t)
        self.EVP_DigestVerify = work(
            "EVP_DigestVerify", c_int, _VP, c_char_p, ctypes.c_size_t, c_char_p, ctypes.c_size_t
        )


def _load_libcrypto() -> tuple[_Libcrypto, int]:
    """Return the binding and the SM3 ``EVP_MD*`` fetched once for the life of the process."""
    override = os.environ.get(_ENV_LIBCRYPTO)
    names = (
        [override]
        if override
        else (["libcrypto.3.dylib"] if sys.platform == "darwin" else ["libcrypto.so.3"])
    )
    lib: ctypes.CDLL | None = None
    held: ctypes.PyDLL | None = None
    for name in names:
        try:
            lib = ctypes.CDLL(name)
            held = ctypes.PyDLL(name)  # the same loaded library, seen through calls that keep the GIL
            break
        except OSError:
            continue
    if lib is None or held is None:
        raise CryptoBackendUnavailable(
            f"cannot load OpenSSL 3 libcrypto ({', '.join(names)}); {_INSTALL_HINT}"
        )
    try:
        binding = _Libcrypto(lib, held)
    except AttributeError:
        raise CryptoBackendUnavailable(
            f"{names[0]} is not an OpenSSL 3 libcrypto (missing functions); {_INSTALL_HINT}"
        ) from None
    if binding.OpenSSL_version_num() < 0x30000000:
        raise CryptoBackendUnavailable(f"{names[0]} is older than OpenSSL 3.0; {_INSTALL_HINT}")
    md = binding.EVP_MD_fetch(None, b"SM3", None)
    if not md:
        binding.ERR_clear_error()
        raise CryptoBackendUnavailable(
            f"this OpenSSL ({_version_text(binding)}) has no SM3 digest, so no SM2; {_INSTALL_HINT}"
        )
    # The EVP_MD is deliberately never freed: one fetch per process instead of one per signature.
    return binding, int(md)


def _version_text(binding: _Libcrypto) -> str:
    raw = binding.OpenSSL_version(0)
    return raw.decode("ascii", "replace") if raw else "unknown version"


_lib, _SM3_MD = _load_libcrypto()


def openssl_version() -> str:
    """Return the version string of the libcrypto in use, e.g. ``OpenSSL 3.0.19 27 Jan 2026``."""
    return _version_text(_lib)


# --- small helpers around the binding -----------------------------------------------------------------------


def _fail(exc: TrustsvcError) -> TrustsvcError:
    """Clear this thread's OpenSSL error queue and hand back ``exc`` to raise.

    A stale queue would make a later, unrelated failure report the wrong cause; and its text may quote input.
    """
    _lib.ERR_clear_error()
    return exc


def _d2i(func: Any, free: Any, data: bytes, what: str) -> int:
    """Decode ``data`` with a ``d2i_*`` function, demanding that it consumes every byte; return the handle.

    ``free`` releases the handle if the decoder stopped short of the end (trailing bytes are refused).
    """
    if not data:
        raise MalformedInput(f"empty {what}")
    buf = ctypes.create_string_buffer(data, len(data))
    try:
        start = ctypes.addressof(buf)
        cursor = ctypes.cast(buf, _UCHAR_P)
        handle = func(None, ctypes.byref(cursor), len(data))
        if not handle:
            raise _fail(MalformedInput(f"not a valid {what}"))
        consumed = ctypes.cast(cursor, _VP).value or start
        if consumed - start != len(data):
            free(handle)
            raise _fail(MalformedInput(f"trailing bytes after the {what}"))
        return int(handle)
    finally:
        ctypes.memset(buf, 0, len(data))  # the copy may hold private key bytes


def _i2d(func: Any, handle: int, what: str) -> bytes:
    """Encode ``handle`` with an ``i2d_*`` function and return the DER bytes."""
    size = func(handle, None)
    if size <= 0:
        raise _fail(CryptoBackendUnavailable(f"libcrypto could not encode the {what}"))
    buf = ctypes.create_string_buffer(size)
    try:
        cursor = ctypes.cast(buf, _UCHAR_P)
        if func(handle, ctypes.byref(cursor)) != size:
            raise _fail(CryptoBackendUnavailable(f"libcrypto could not encode the {what}"))
        return buf.raw
    finally:
        ctypes.memset(buf, 0, size)


def _bn_param(pkey: int, name: bytes) -> int | None:
    """Return the integer key parameter ``name`` ("priv", "qx", "qy") of ``pkey``, or None if it has none."""
    bn = ctypes.c_void_p()
    if _lib.EVP_PKEY_get_bn_param(pkey, name, ctypes.byref(bn)) != 1:
        _lib.ERR_clear_error()
        return None
    buf = ctypes.create_string_buffer(32)
    try:
        if _lib.BN_bn2binpad(bn, buf, 32) != 32:
            raise _fail(MalformedInput("key parameter does not fit in 256 bits"))
        return int.from_bytes(buf.raw, "big")
    finally:
        ctypes.memset(buf, 0, 32)
        _lib.BN_clear_free(bn)


def _require_sm2(pkey: int) -> None:
    """Raise UnsupportedAlgorithm unless ``pkey`` is of key type SM2 on the SM2 curve (so it signs SM2)."""
    group = ctypes.create_string_buffer(64)
    glen = ctypes.c_size_t()
    has_group = _lib.EVP_PKEY_get_group_name(pkey, group, len(group), ctypes.byref(glen)) == 1
    if _lib.EVP_PKEY_is_a(pkey, b"SM2") == 1 and has_group and group.value == b"SM2":
        return
    type_name = _lib.EVP_PKEY_get0_type_name(pkey) or b"unknown"
    curve = group.value.decode("ascii", "replace") if has_group else "none"
    raise _fail(
        UnsupportedAlgorithm(
            f"not an SM2 key (key type {type_name.decode('ascii', 'replace')}, curve {curve})"
        )
    )


def _check(pkey: int, check: Any, what: str) -> None:
    ctx = _lib.EVP_PKEY_CTX_new_from_pkey(None, pkey, None)
    if not ctx:
        raise _fail(CryptoBackendUnavailable("libcrypto could not make a key context"))
    try:
        if check(ctx) != 1:
            raise _fail(MalformedInput(what))
    finally:
        _lib.EVP_PKEY_CTX_free(ctx)


def _point_of(pkey: int) -> bytes:
    """Return the uncompressed public point 04||X||Y of ``pkey``."""
    x, y = _bn_param(pkey, b"qx"), _bn_param(pkey, b"qy")
    if x is None or y is None:
        raise _fail(MalformedInput("the SM2 key has no public point"))
    return b"\x04" + x.to_bytes(32, "big") + y.to_bytes(32, "big")


def _check_uid(uid: bytes) -> None:
    if not isinstance(uid, bytes):
        raise InvalidInput("the SM2 user ID must be bytes")
    if len(uid) > _MAX_UID_LEN:
        raise InvalidInput(f"the SM2 user ID is longer than {_MAX_UID_LEN} bytes")


def _as_bytes(data: bytes) -> bytes:
    # ctypes passes a bytes object's own buffer; other buffers (bytearray, memoryview) need one copy.
    return data if type(data) is bytes else bytes(data)


class _PKey:
    """Owns one ``EVP_PKEY*`` and frees it (OpenSSL wipes private key memory) when the owner goes away."""

    __slots__ = ("__weakref__", "_finalizer", "ptr")

    def __init__(self, ptr: int) -> None:
        self.ptr = ptr
        # weakref.finalize, not __del__: it still runs at interpreter exit while the library is loaded.
        self._finalizer = weakref.finalize(self, _lib.EVP_PKEY_free, ptr)


# --- PEM ----------------------------------------------------------------------------------------------------

_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----", re.DOTALL)
_PRIVATE_LABELS: Final = (b"PRIVATE KEY", b"ENCRYPTED PRIVATE KEY", b"EC PRIVATE KEY", b"SM2 PRIVATE KEY")
_PUBLIC_LABELS: Final = (b"PUBLIC KEY",)


def _pem_decode(data: bytes, labels: tuple[bytes, ...], what: str) -> bytes:
    """Return the DER inside the first PEM block whose label is one of ``labels``.

    Other blocks are skipped, so ``openssl ecparam -genkey`` output (EC PARAMETERS, then EC PRIVATE KEY)
    loads.
    """
    for match in _PEM_BLOCK.finditer(_as_bytes(data)):
        if match.group(1) not in labels:
            continue
        body = match.group(2)
        if b":" in body:
            raise InvalidInput(
                "legacy PEM encryption (Proc-Type/DEK-Info) is not supported; convert the key with "
                "`openssl pkcs8 -topk8 -v2 aes-256-cbc`"
            )
        try:
            return base64.b64decode(b"".join(body.split()), validate=True)
        except (binascii.Error, ValueError):
            raise MalformedInput(f"the PEM {what} is not valid base64") from None
    wanted = ", ".join(label.decode() for label in labels)
    raise MalformedInput(f"no PEM {what} block found (expected one of: {wanted})")


def _pem_encode(der: bytes, label: str) -> bytes:
    b64 = base64.b64encode(der)
    lines = [b64[i : i + 64] for i in range(0, len(b64), 64)]
    head, tail = f"-----BEGIN {label}-----".encode(), f"-----END {label}-----".encode()
    return b"\n".join([head, *lines, tail]) + b"\n"


# --- private key decoding -----------------------------------------------------------------------------------


def _der_first_inner_tag(der: bytes) -> int | None:
    """Return the tag of the first element inside an outer DER SEQUENCE, or None if there is none."""
    if len(der) < 2 or der[0] != 0x30:
        return None
    first = der[1]
    offset = 2 if first < 0x80 else 2 + (first & 0x7F)
    return der[offset] if offset < len(der) else None


def _pkcs8_iterations(der: bytes) -> int:
    """Return the PBKDF2 iteration count of an EncryptedPrivateKeyInfo (refusing non-PBES2 schemes)."""
    from asn1crypto import keys as asn1_keys  # asn1crypto is a project dependency; load it only when needed

    try:
        info = asn1_keys.EncryptedPrivateKeyInfo.load(der, strict=True)
        info["encrypted_data"].native  # noqa: B018 - parses the OCTET STRING: an SPKI has a BIT STRING here
        algo = info["encryption_algorithm"]
        name = algo["algorithm"].native
        if name.startswith(("pbes1_", "pkcs12_")):
            raise UnsupportedAlgorithm("encrypted PKCS#8 keys must use PBES2 (PKCS #5 v2)")
        if name != "pbes2":
            raise MalformedInput("not a private key (neither PKCS#8, encrypted PKCS#8 nor SEC1)")
        return int(algo.kdf_iterations)
    except TrustsvcError:
        raise
    except Exception:  # asn1crypto raises several types on hostile input; all mean the same here
        raise MalformedInput("not a valid encrypted PKCS#8 private key") from None


def _decode_pkcs8_sm2(der: bytes) -> int | None:
    """Return an owned ``EVP_PKEY*`` if ``der`` is exactly one plain PKCS#8 SM2 key, else None.

    A decoder asked for just "PrivateKeyInfo" of type "SM2" is about six times faster than
    ``d2i_AutoPrivateKey``, which tries every decoder in OpenSSL 3.0. Anything it declines (SEC1, other key
    types, garbage, trailing bytes) falls back to ``d2i_AutoPrivateKey`` and its finer error reporting.
    """
    pkey = ctypes.c_void_p()
    ctx = _lib.OSSL_DECODER_CTX_new_for_pkey(
        ctypes.byref(pkey), b"DER", b"PrivateKeyInfo", b"SM2", _SELECT_KEYPAIR, None, None
    )
    if not ctx:
        _lib.ERR_clear_error()
        return None
    buf = ctypes.create_string_buffer(der, len(der))
    try:
        cursor = ctypes.cast(buf, _UCHAR_P)
        left = ctypes.c_size_t(len(der))
        ok = _lib.OSSL_DECODER_from_data(ctx, ctypes.byref(cursor), ctypes.byref(left)) == 1
    finally:
        _lib.OSSL_DECODER_CTX_free(ctx)
        ctypes.memset(buf, 0, len(der))
    if ok and pkey.value and left.value == 0:
        return int(pkey.value)
    if pkey.value:
        _lib.EVP_PKEY_free(pkey)
    _lib.ERR_clear_error()
    return None


def _decode_private_der(der: bytes, password: bytes | None) -> int:
    """Return an owned ``EVP_PKEY*`` from PKCS#8 (plain or encrypted) or SEC1 DER, checked to be SM2."""
    # EncryptedPrivateKeyInfo starts with an AlgorithmIdentifier (a SEQUENCE); the others with an INTEGER.
    if _der_first_inner_tag(der) == 0x30:
        iterations = _pkcs8_iterations(der)
        if password is None:
            raise InvalidInput("the private key is encrypted; a password is needed")
        if iterations > _PKCS8_MAX_ITERATIONS:
            raise UnsupportedAlgorithm(
                f"PBKDF2 iteration count {iterations} is above {_PKCS8_MAX_ITERATIONS}"
            )
        sig = _d2i(_lib.d2i_X509_SIG, _lib.X509_SIG_free, der, "encrypted PKCS#8 private key")
        try:
            p8 = _lib.PKCS8_decrypt_ex(sig, password, len(password), None, None)
            if not p8:
                raise _fail(MalformedInput("cannot decrypt the private key: wrong password or damaged data"))
            try:
                pkey = _lib.EVP_PKCS82PKEY(p8)
            finally:
                _lib.PKCS8_PRIV_KEY_INFO_free(p8)
            if not pkey:
                raise _fail(MalformedInput("the decrypted data is not a valid private key"))
            pkey = int(pkey)
        finally:
            _lib.X509_SIG_free(sig)
    else:
        pkey = _decode_pkcs8_sm2(der) or _d2i(
            _lib.d2i_AutoPrivateKey, _lib.EVP_PKEY_free, der, "private key (PKCS#8 or SEC1)"
        )
        if password is not None:  # checked after decoding, so garbage is reported as garbage
            _lib.EVP_PKEY_free(pkey)
            raise InvalidInput("a password was given but the private key is not encrypted")
    try:
        _require_sm2(pkey)
        d = _bn_param(pkey, b"priv")
        if d is None:
            raise MalformedInput("the key has no private part")
        if not 1 <= d <= N - 2:
            raise MalformedInput("the SM2 private value is outside [1, n-2]")
        # SEC1/PKCS#8 carry the public key beside d; OpenSSL does not check that the two belong together.
        _check(
            pkey, _lib.EVP_PKEY_pairwise_check, "the public key in the file does not match the private key"
        )
    except BaseException:
        _lib.EVP_PKEY_free(pkey)
        raise
    return pkey


def _check_public(pkey: int) -> None:
    """Raise MalformedInput unless the public point is on the curve and not the point at infinity.

    The "quick" check is complete for SM2: the curve has cofactor 1, so every point on it has order n. (The
    full check would add an n·Q multiplication that costs more than a whole verification.)
    """
    try:
        _require_sm2(pkey)
        _check(pkey, _lib.EVP_PKEY_public_check_quick, "the SM2 public key is not a valid curve point")
    except BaseException:
        _lib.EVP_PKEY_free(pkey)
        raise


def _public_from_point(point: bytes) -> int:
    """Return an owned SM2 ``EVP_PKEY*`` for an encoded point (04||X||Y or compressed); checked.

    ``EVP_PKEY_fromdata`` costs about a tenth of ``d2i_PUBKEY`` in OpenSSL 3.0, whose decoder framework tries
    every decoder it has; this is the path every certificate and document verification takes.
    """
    group = ctypes.create_string_buffer(b"SM2")
    octets = ctypes.create_string_buffer(point, len(point))
    params = (_OsslParam * 3)(
        _OsslParam(b"group", _OSSL_PARAM_UTF8_STRING, ctypes.addressof(group), 3, _OSSL_PARAM_UNMODIFIED),
        _OsslParam(
            b"pub", _OSSL_PARAM_OCTET_STRING, ctypes.addressof(octets), len(point), _OSSL_PARAM_UNMODIFIED
        ),
        _OsslParam(None, 0, None, 0, 0),
    )
    ctx = _lib.EVP_PKEY_CTX_new_from_name(None, b"SM2", None)
    if not ctx:
        raise _fail(CryptoBackendUnavailable("libcrypto has no SM2 key management"))
    pkey = ctypes.c_void_p()
    try:
        # fromdata refuses points off the curve (EC_POINT_oct2point checks) and malformed encodings.
        if (
            _lib.EVP_PKEY_fromdata_init(ctx) != 1
            or _lib.EVP_PKEY_fromdata(ctx, ctypes.byref(pkey), _SELECT_PUBLIC_KEY, params) != 1
            or not pkey.value
        ):
            raise _fail(MalformedInput("the SM2 public key is not a valid curve point"))
    finally:
        _lib.EVP_PKEY_CTX_free(ctx)
    _check_public(pkey.value)
    return pkey.value


def _decode_public_der(spki: bytes) -> int:
    """Return an owned, checked SM2 ``EVP_PKEY*`` from a DER SubjectPublicKeyInfo."""
    # Canonical DER of an SM2 SPKI is one fixed prefix plus the point: take the fast path for it.
    if len(spki) == len(_SPKI_PREFIX) + 65 and spki.startswith(_SPKI_PREFIX):
        return _public_from_point(spki[len(_SPKI_PREFIX) :])
    if len(spki) == len(_SPKI_COMPRESSED_PREFIX) + 33 and spki.startswith(_SPKI_COMPRESSED_PREFIX):
        return _public_from_point(spki[len(_SPKI_COMPRESSED_PREFIX) :])
    # Anything else (other key types, explicit curve parameters, garbage) goes through OpenSSL's decoders,
    # which tell a non-SM2 key (UnsupportedAlgorithm) from bytes that are no key at all (MalformedInput).
    pkey = _d2i(_lib.d2i_PUBKEY, _lib.EVP_PKEY_free, spki, "SubjectPublicKeyInfo")
    _check_public(pkey)
    return pkey


# === keys ===================================================================================================


class SM2PublicKey:
    """An SM2 public key: verifies signatures, computes Z_A, exports SubjectPublicKeyInfo."""

    __slots__ = ("__weakref__", "_key", "_point")

    def __init__(self, _pkey: _PKey, _point: bytes) -> None:
        """Internal: use :meth:`from_der`, :meth:`from_pem`, :meth:`from_encoded_point`."""
        self._key = _pkey
        self._point = _point

    @classmethod
    def _from_pkey(cls, ptr: int) -> SM2PublicKey:
        """Take ownership of ``ptr`` (checked by the caller) and read its point back from OpenSSL.

        Reading the point back, rather than keeping the input bytes, normalises compressed points.
        """
        owned = _PKey(ptr)
        return cls(owned, _point_of(ptr))

    @classmethod
    def from_der(cls, spki: bytes) -> SM2PublicKey:
        """Return the key in a DER SubjectPublicKeyInfo (point compressed or not)."""
        return cls._from_pkey(_decode_public_der(_as_bytes(spki)))

    @classmethod
    def from_pem(cls, data: bytes) -> SM2PublicKey:
        """Return the key in a ``-----BEGIN PUBLIC KEY-----`` PEM block."""
        return cls.from_der(_pem_decode(data, _PUBLIC_LABELS, "public key"))

    @classmethod
    def from_encoded_point(cls, point: bytes) -> SM2PublicKey:
        """Return the key whose uncompressed point is ``point`` (65 bytes: 04 || X || Y)."""
        point = _as_bytes(point)
        if len(point) != 65 or point[0] != 0x04:
            raise MalformedInput("an SM2 public point must be 65 bytes: 04 || X || Y")
        return cls(_PKey(_public_from_point(point)), point)

    def to_der(self) -> bytes:
        """Return the DER SubjectPublicKeyInfo (id-ecPublicKey, sm2p256v1, uncompressed point)."""
        return _SPKI_PREFIX + self._point

    def to_pem(self) -> bytes:
        """Return the SubjectPublicKeyInfo as a ``PUBLIC KEY`` PEM block."""
        return _pem_encode(self.to_der(), "PUBLIC KEY")

    def encoded_point(self) -> bytes:
        """Return the uncompressed public point, 65 bytes: 04 || X || Y."""
        return self._point

    @property
    def x(self) -> int:
        """Return the affine x coordinate of the public point."""
        return int.from_bytes(self._point[1:33], "big")

    @property
    def y(self) -> int:
        """Return the affine y coordinate of the public point."""
        return int.from_bytes(self._point[33:], "big")

    def z(self, *, uid: bytes = DEFAULT_SM2_ID) -> bytes:
        """Return Z_A = SM3(ENTL || ID || a || b || xG || yG || xA || yA), 32 bytes (GB/T 32918.2 §5.5).

        Computed in Python with ``cryptography``'s SM3, independently of libcrypto, so the self-test compares
        two implementations.
        """
        _check_uid(uid)
        return sm3((len(uid) * 8).to_bytes(2, "big") + uid + _CURVE_FOR_Z + self._point[1:])

    def verify(self, signature: bytes, data: bytes, *, uid: bytes = DEFAULT_SM2_ID) -> None:
        """Return None if ``signature`` is a valid SM2 signature on ``data`` for ``uid``; else raise.

        Strict: only canonical DER ``SEQUENCE{r, s}`` with r, s in [1, n-1] is accepted, so one signature has
        exactly one encoding (no malleability in stored or compared signatures). Raises
        :class:`~trustsvc.errors.InvalidSignature` for every kind of failure, malformed values included.
        """
        _check_uid(uid)
        signature = _as_bytes(signature)
        try:
            r, s = decode_signature(signature)
        except MalformedInput as exc:
            raise InvalidSignature(f"signature is not canonical DER: {exc.detail}") from None
        self._verify_canonical(signature, r, s, _as_bytes(data), uid)

    def verify_lenient(
        self, signature: bytes, data: bytes, *, uid: bytes = DEFAULT_SM2_ID
    ) -> tuple[str, ...]:
        """Return the repairs made (empty if none) after verifying a possibly mis-encoded signature.

        For the real-world encodings of spec/standards.md §1.4 (raw 64-byte r||s, INTEGERs without their
        sign pad, other non-canonical DER): the value is repaired with :func:`normalize_signature` and the
        canonical form is verified strictly. The signed data and the ID are never relaxed. Raises
        ``InvalidSignature``.
        """
        _check_uid(uid)
        try:
            canonical, repairs = normalize_signature(signature)
            r, s = decode_signature(canonical)
        except InvalidInput as exc:
            raise InvalidSignature(f"signature cannot be read even leniently: {exc.detail}") from None
        self._verify_canonical(canonical, r, s, _as_bytes(data), uid)
        return repairs

    def _verify_canonical(self, der: bytes, r: int, s: int, data: bytes, uid: bytes) -> None:
        if not (1 <= r < N and 1 <= s < N):
            raise InvalidSignature("r or s is outside [1, n-1]")
        mctx = _lib.EVP_MD_CTX_new()
        if not mctx:
            raise MemoryError("EVP_MD_CTX_new")
        try:
            pctx = ctypes.c_void_p()  # owned by mctx
            if (
                _lib.EVP_DigestVerifyInit(mctx, ctypes.byref(pctx), _SM3_MD, None, self._key.ptr) != 1
                or _lib.EVP_PKEY_CTX_set1_id(pctx, uid, len(uid)) != 1
            ):
                raise _fail(CryptoBackendUnavailable("libcrypto could not set up SM2 verification"))
            ok = _lib.EVP_DigestVerify(mctx, der, len(der), data, len(data))
        finally:
            _lib.EVP_MD_CTX_free(mctx)
        if ok != 1:
            raise _fail(InvalidSignature("SM2 signature does not verify"))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SM2PublicKey) and other._point == self._point

    def __hash__(self) -> int:
        return hash(self._point)

    def __repr__(self) -> str:
        return f"<SM2PublicKey {self._point[1:9].hex()}…>"

    def __reduce__(self) -> tuple[Any, tuple[bytes]]:
        # Public keys are not secret: pickle them as their SubjectPublicKeyInfo.
        return (SM2PublicKey.from_der, (self.to_der(),))


class SM2PrivateKey:
    """An SM2 private key held inside libcrypto: signs, exports PKCS#8, gives its public key.

    The private value never becomes a Python object except through the explicit export methods (and the
    test-only ``_private_value``). ``repr`` shows no key material and pickling is refused, so a key cannot
    leak into logs, caches or task queues by accident.
    """

    __slots__ = ("__weakref__", "_key", "_public")

    def __init__(self, _pkey: _PKey) -> None:
        """Internal: use :meth:`generate`, :meth:`from_der`, :meth:`from_pem`, :meth:`from_private_value`."""
        self._key = _pkey
        # A separate public-only EVP_PKEY for verification, built from the point (cheap: _public_from_point).
        point = _point_of(_pkey.ptr)
        self._public = SM2PublicKey(_PKey(_public_from_point(point)), point)

    @classmethod
    def generate(cls) -> SM2PrivateKey:
        """Return a new key pair from OpenSSL's CSPRNG (d in [1, n-2])."""
        ctx = _lib.EVP_PKEY_CTX_new_from_name(None, b"SM2", None)
        if not ctx:
            raise _fail(CryptoBackendUnavailable("libcrypto has no SM2 key generation"))
        pkey = ctypes.c_void_p()
        try:
            if _lib.EVP_PKEY_keygen_init(ctx) != 1 or _lib.EVP_PKEY_keygen(ctx, ctypes.byref(pkey)) != 1:
                raise _fail(CryptoBackendUnavailable("libcrypto failed to generate an SM2 key"))
        finally:
            _lib.EVP_PKEY_CTX_free(ctx)
        owned = _PKey(int(pkey.value or 0))
        _require_sm2(owned.ptr)
        return cls(owned)

    @classmethod
    def from_der(cls, data: bytes, *, password: bytes | None = None) -> SM2PrivateKey:
        """Return the key in PKCS#8 DER (plain, or encrypted with ``password``) or SEC1 DER.

        Raises ``MalformedInput`` for bytes that are not such a key (or a wrong password, or a public key that
        does not match the private one), ``UnsupportedAlgorithm`` for a well-formed non-SM2 key, and
        ``InvalidInput`` for a missing or superfluous password.
        """
        if password is not None and not isinstance(password, bytes):
            raise InvalidInput("the password must be bytes")
        return cls(_PKey(_decode_private_der(_as_bytes(data), password)))

    @classmethod
    def from_pem(cls, data: bytes, *, password: bytes | None = None) -> SM2PrivateKey:
        """Return the key in a PEM block: (ENCRYPTED) PRIVATE KEY, EC PRIVATE KEY or SM2 PRIVATE KEY."""
        return cls.from_der(_pem_decode(data, _PRIVATE_LABELS, "private key"), password=password)

    @classmethod
    def from_private_value(cls, d: int) -> SM2PrivateKey:
        """Return the key with private value ``d`` (1 ≤ d ≤ n-2); libcrypto computes the public point d·G.

        For known-answer tests and for importing keys that arrive as a bare 32-byte scalar.
        """
        if not isinstance(d, int) or not 1 <= d <= N - 2:
            raise InvalidInput("an SM2 private value must be an integer in [1, n-2]")
        # PKCS#8 { ecPublicKey, sm2p256v1, SEC1 { 1, d } } without the public key: OpenSSL derives it.
        return cls.from_der(_PKCS8_D_ONLY_PREFIX + d.to_bytes(32, "big"))

    def to_pkcs8_der(self, *, password: bytes | None = None) -> bytes:
        """Return the key as PKCS#8 DER; with ``password``, EncryptedPrivateKeyInfo (PBES2, AES-256-CBC)."""
        if password is not None and (not isinstance(password, bytes) or not password):
            raise InvalidInput("the password must be non-empty bytes")
        p8 = _lib.EVP_PKEY2PKCS8(self._key.ptr)
        if not p8:
            raise _fail(CryptoBackendUnavailable("libcrypto could not make PKCS#8"))
        try:
            if password is None:
                return _i2d(_lib.i2d_PKCS8_PRIV_KEY_INFO, p8, "private key")
            return self._encrypt_pkcs8(p8, password)
        finally:
            _lib.PKCS8_PRIV_KEY_INFO_free(p8)

    @staticmethod
    def _encrypt_pkcs8(p8: int, password: bytes) -> bytes:
        cipher = _lib.EVP_CIPHER_fetch(None, b"AES-256-CBC", None)
        if not cipher:
            raise _fail(CryptoBackendUnavailable("libcrypto has no AES-256-CBC"))
        try:
            # pbe_nid -1 selects PBES2; salt NULL with a length asks OpenSSL for random salt of that length.
            sig = _lib.PKCS8_encrypt_ex(
                -1,
                cipher,
                password,
                len(password),
                None,
                _PKCS8_SALT_LEN,
                PKCS8_PBKDF2_ITERATIONS,
                p8,
                None,
                None,
            )
            if not sig:
                raise _fail(CryptoBackendUnavailable("libcrypto could not encrypt the private key"))
            try:
                return _i2d(_lib.i2d_X509_SIG, sig, "encrypted private key")
            finally:
                _lib.X509_SIG_free(sig)
        finally:
            _lib.EVP_CIPHER_free(cipher)

    def to_pkcs8_pem(self, *, password: bytes | None = None) -> bytes:
        """Return :meth:`to_pkcs8_der` as a PEM ``PRIVATE KEY`` (or ``ENCRYPTED PRIVATE KEY``) block."""
        label = "PRIVATE KEY" if password is None else "ENCRYPTED PRIVATE KEY"
        return _pem_encode(self.to_pkcs8_der(password=password), label)

    def public_key(self) -> SM2PublicKey:
        """Return the matching public key."""
        return self._public

    def sign(self, data: bytes, *, uid: bytes = DEFAULT_SM2_ID) -> bytes:
        """Return the DER ``SEQUENCE{r, s}`` SM2 signature over SM3(Z_A || data), Z_A from ``uid``.

        The nonce comes from OpenSSL's CSPRNG; the scalar multiplication is OpenSSL's constant-time ladder.
        Thread-safe: each call has its own contexts; the key is only read.
        """
        _check_uid(uid)
        data = _as_bytes(data)
        mctx = _lib.EVP_MD_CTX_new()
        if not mctx:
            raise MemoryError("EVP_MD_CTX_new")
        try:
            pctx = ctypes.c_void_p()  # owned by mctx
            siglen = ctypes.c_size_t(_MAX_SIG_LEN)
            sig = ctypes.create_string_buffer(_MAX_SIG_LEN)
            if (
                _lib.EVP_DigestSignInit(mctx, ctypes.byref(pctx), _SM3_MD, None, self._key.ptr) != 1
                # After init, so the SM2 provider context exists and takes the ID before it computes Z.
                or _lib.EVP_PKEY_CTX_set1_id(pctx, uid, len(uid)) != 1
                or _lib.EVP_DigestSign(mctx, sig, ctypes.byref(siglen), data, len(data)) != 1
            ):
                raise _fail(CryptoBackendUnavailable("libcrypto failed to make an SM2 signature"))
            return sig.raw[: siglen.value]
        finally:
            _lib.EVP_MD_CTX_free(mctx)

    def _private_value(self) -> int:
        """Return d. Test-only (fixed-k KAT): the value then lives in an unwipeable Python int."""
        d = _bn_param(self._key.ptr, b"priv")
        if d is None:
            raise MalformedInput("the key has no private part")
        return d

    def __repr__(self) -> str:
        return f"<SM2PrivateKey public={self._public.encoded_point()[1:9].hex()}…>"

    def __reduce__(self) -> Any:
        raise TypeError("SM2 private keys cannot be pickled; export them with to_pkcs8_der(password=...)")

    def __copy__(self) -> SM2PrivateKey:
        return self  # immutable; sharing is safe and avoids a second copy of the secret

    def __deepcopy__(self, memo: dict[int, Any]) -> SM2PrivateKey:
        return self


# === signature encoding =====================================================================================


def encode_signature(r: int, s: int) -> bytes:
    """Return the canonical DER ``SEQUENCE { INTEGER r, INTEGER s }`` for non-negative r and s."""
    if r < 0 or s < 0:
        raise InvalidInput("r and s must not be negative")
    body = _der_integer(r) + _der_integer(s)
    return b"\x30" + _der_length(len(body)) + body


def _der_integer(value: int) -> bytes:
    content = value.to_bytes(value.bit_length() // 8 + 1, "big")  # +1 byte keeps the sign bit clear
    return b"\x02" + _der_length(len(content)) + content


def _der_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def _read_tlv(data: bytes, pos: int, tag: int, name: str, repairs: list[str]) -> tuple[bytes, int]:
    """Read one TLV with ``tag`` at ``pos``; return its content and the next position; note length repairs."""
    if pos + 2 > len(data) or data[pos] != tag:
        raise MalformedInput(f"expected {name}")
    first = data[pos + 1]
    pos += 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if count == 0 or count > 4 or pos + count > len(data):
            raise MalformedInput(f"{name} has an unreadable length")
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
        if length < 0x80 or data[pos - count] == 0:
            repairs.append(f"{name} length uses a non-minimal long-form encoding")
    if pos + length > len(data):
        raise MalformedInput(f"{name} is truncated")
    return data[pos : pos + length], pos + length


def _parse_signature(sig: bytes) -> tuple[int, int, list[str]]:
    """Return r, s and the repairs a DER-ish ``SEQUENCE{r, s}`` needs; raise MalformedInput if unreadable.

    Integers are read as unsigned: an SM2 r or s is never negative, so a set top bit means a missing sign pad.
    """
    if len(sig) > _MAX_LENIENT_SIG_LEN:
        raise MalformedInput("signature is too long")
    repairs: list[str] = []
    body, end = _read_tlv(sig, 0, 0x30, "SEQUENCE", repairs)
    if end != len(sig):
        raise MalformedInput("trailing bytes after the signature SEQUENCE")
    values: list[int] = []
    pos = 0
    for name in ("r", "s"):
        content, pos = _read_tlv(body, pos, 0x02, f"INTEGER {name}", repairs)
        if not content:
            raise MalformedInput(f"INTEGER {name} is empty")
        if content[0] & 0x80:
            repairs.append(f"INTEGER {name} has no 0x00 sign pad (read as unsigned)")
        elif len(content) > 1 and content[0] == 0 and not content[1] & 0x80:
            repairs.append(f"INTEGER {name} has redundant leading zero bytes")
        values.append(int.from_bytes(content, "big"))
    if pos != len(body):
        raise MalformedInput("extra data inside the signature SEQUENCE")
    return values[0], values[1], repairs


_REPAIR_RAW: Final = "raw 64-byte r||s (no DER) re-encoded as DER SEQUENCE{r, s}"


def decode_signature(der: bytes) -> tuple[int, int]:
    """Return (r, s) from a canonical DER SM2 signature; raise MalformedInput for anything else.

    Canonical means: decoding then re-encoding gives the same bytes (minimal lengths, minimal positive
    INTEGERs, nothing after the SEQUENCE).
    """
    der = _as_bytes(der)
    r, s, repairs = _parse_signature(der)
    if repairs:
        raise MalformedInput("; ".join(repairs))
    if encode_signature(r, s) != der:  # belt and braces: the definition of canonical
        raise MalformedInput("signature is not canonical DER")
    return r, s


def normalize_signature(signature: bytes) -> tuple[bytes, tuple[str, ...]]:
    """Return the canonical DER form of a signature and one warning per repair made (empty if none).

    Repairs what real vendors emit (spec/standards.md §1.4): raw 64-byte r||s; INTEGERs without the 0x00 sign
    pad; long-form or non-minimal lengths and redundant leading zeros. Trailing data and other structures are
    not repaired: they raise MalformedInput.
    """
    signature = _as_bytes(signature)
    try:
        r, s, repairs = _parse_signature(signature)
    except MalformedInput:
        if len(signature) != 64:
            raise
        r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
        repairs = [_REPAIR_RAW]
    return encode_signature(r, s), tuple(repairs)


# === test-only helper =======================================================================================


def _sign_with_fixed_k(
    private_key: SM2PrivateKey, data: bytes, k: int, *, uid: bytes = DEFAULT_SM2_ID
) -> bytes:
    """Return the DER signature GB/T 32918.2 §6.1 gives for nonce ``k``. TEST ONLY.

    Exists so a test can show our Z, e and signing equation reproduce the published Annex A r, s exactly.
    Never use it with a real key: a known or repeated k reveals d, and the Python integer arithmetic here is
    not constant-time. k·G is computed by libcrypto, as the public point of the key whose private value is k.
    """
    if not 1 <= k <= N - 2:
        raise InvalidInput("k must be in [1, n-2]")
    d = private_key._private_value()
    e = int.from_bytes(sm3(private_key.public_key().z(uid=uid) + _as_bytes(data)), "big")
    x1 = SM2PrivateKey.from_private_value(k).public_key().x
    r = (e + x1) % N
    if r == 0 or r + k == N:
        raise InvalidInput("this k gives r = 0 or r + k = n; the standard says pick another k")
    s = pow(1 + d, -1, N) * (k - r * d) % N
    if s == 0:
        raise InvalidInput("this k gives s = 0; the standard says pick another k")
    return encode_signature(r, s)


# === self-test at import ====================================================================================


@dataclass(frozen=True)
class _KnownAnswer:
    d: int
    point: bytes
    uid: bytes
    message: bytes
    z: bytes
    e: bytes
    signature: bytes


_ANNEX_A: Final = _KnownAnswer(
    # GB/T 32918.5-2017 Annex A (spec/standards.md §1.5, vector A)
    d=0x3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8,
    point=bytes.fromhex(
        "04"
        "09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020"
        "CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13"
    ),
    uid=DEFAULT_SM2_ID,
    message=b"message digest",
    z=bytes.fromhex("B2E14C5C79C6DF5B85F4FE7ED8DB7A262B9DA7E07CCB0EA9F4747B8CCDA8A4F3"),
    e=bytes.fromhex("F0B43E94BA45ACCAACE692ED534382EB17E6AB5A19CE7B31F4486FDFC0D28640"),
    signature=bytes.fromhex(
        "3046022100F5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3"
        "022100B1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA"
    ),
)


def _self_test(vector: _KnownAnswer = _ANNEX_A) -> None:
    """Return None if libcrypto's SM2 reproduces ``vector`` and round-trips; raise CryptoBackendUnavailable.

    Checks that d·G, Z and e match, that the published signature verifies, that it does *not* verify for a
    changed message or the empty ID (so verify is not vacuous and the ID reaches OpenSSL), and that a fresh
    signature verifies.
    """
    step = "loading the known-answer key"
    try:
        key = SM2PrivateKey.from_private_value(vector.d)
        pub = key.public_key()
        step = "public key d·G"
        ok = pub.encoded_point() == vector.point
        step = "Z_A"
        ok = ok and pub.z(uid=vector.uid) == vector.z
        step = "e = SM3(Z_A || M)"
        ok = ok and sm3(vector.z + vector.message) == vector.e
        if not ok:
            raise InvalidSignature("known answer differs")
        step = "verifying the published signature"
        pub.verify(vector.signature, vector.message, uid=vector.uid)
        step = "rejecting a changed message and the empty ID"
        for data, uid in ((vector.message + b"!", vector.uid), (vector.message, b"")):
            try:
                pub.verify(vector.signature, data, uid=uid)
            except InvalidSignature:
                continue
            raise InvalidSignature("a wrong signature verified")
        step = "sign/verify round trip"
        fresh = SM2PrivateKey.generate()
        fresh.public_key().verify(fresh.sign(b"trustsvc self-test"), b"trustsvc self-test")
    except TrustsvcError:
        raise CryptoBackendUnavailable(
            f"SM2 self-test failed at '{step}': this OpenSSL ({openssl_version()}) has no working SM2; "
            f"{_INSTALL_HINT}"
        ) from None


_self_test()
