"""Keys by id: the :class:`KeyStore` protocol, the encrypted software store and the PKCS#11 store.

Callers never hold private keys: they ask a store for a :class:`~trustsvc.keys.signer.Signer` by key id.

Software store (:class:`SoftwareKeyStore`, the embedded default)
----------------------------------------------------------------
One directory (``<home>/keys``, mode 0700), shared safely by any number of processes::

    master-key-check.json   written once, when the store is created: the key-check value of the master key
    <key_id>.json           one file per key (mode 0600), never rewritten

A key file is JSON::

    {"format": 1, "key_id": "<32 hex>", "algorithm": "sm2", "label": "...", "created_at": "<ISO 8601 UTC>",
     "cipher": "aes-256-gcm" | "sm4-gcm", "master_key_check": "<hex>", "public_key": "<base64 SPKI DER>",
     "nonce": "<base64, 12 bytes>", "ciphertext": "<base64 of AEAD(PKCS#8 DER) with tag>"}

- The private key is the PKCS#8 DER from :func:`trustsvc.keys.encoding.dump_private_key`, encrypted with
  AES-256-GCM (``cryptography``'s AESGCM) or SM4-GCM under a key derived from the 32-byte master key with
  HKDF-SHA256 (one derived key per cipher, and a separate one for the key-check value, so no key is used for
  two purposes). The nonce is 12 fresh random bytes per write.
- The associated data is every other field of the file except ``master_key_check``: format, key id,
  algorithm, label, creation time, cipher and public key. A file renamed to another id, relabelled to another
  algorithm or given another public key does not decrypt.
- ``master_key_check`` names the master key that encrypted the file (HKDF output, reveals nothing about the
  key), so a failed decryption is reported as :class:`~trustsvc.errors.WrongMasterKey` when the file was
  written under another master key and as a tampered file otherwise.
- Writes go to a temporary file in the same directory, are fsynced, then linked into place (never overwriting
  an existing key); the check file is created the same way, so the first process to create a store wins and
  every later one is checked against it.
- Decrypted keys are cached per store object (so per process): signing pays for decryption once per key. The
  cache is never written anywhere; store objects refuse to be pickled and their repr names only the
  directory.

PKCS#11 store (:class:`Pkcs11KeyStore`, keys in an HSM; SoftHSM2 in tests)
-------------------------------------------------------------------------
ECDSA P-256 and RSA-3072 key pairs are generated in the token; the private key is sensitive, non-extractable
and may only sign. Both halves carry ``CKA_ID`` = the 16 bytes of the key id and ``CKA_LABEL`` = the caller's
label; a private data object (``CKA_APPLICATION`` = ``trustsvc-keystore``, ``CKA_LABEL`` = key id) holds the
rest of :class:`KeyInfo`. Only keys with such a data object are listed: keys made by other tools are ignored.
SM2 is not offered (no standard PKCS#11 mechanism; SoftHSM2 has none): :class:`UnsupportedAlgorithm`.

Sessions and threads: PKCS#11 login state belongs to the process, not to a session, and closing a logged-in
session logs the whole process out. So each process logs in once per token, on one session it keeps open for
its lifetime; store objects for the same module and token in one process share it. python-pkcs11
initialises the module with ``C_Initialize(NULL)``, which promises the module that it is never called
concurrently (SoftHSM2 then switches its own locking off), so every call into one module is serialised by a
per-process lock: threads may share a store, and throughput scales with processes. After ``fork()`` the
child re-initialises the library and logs in again on first use. A session the token has dropped is reopened
and the operation retried once.
"""

from __future__ import annotations

import base64
import binascii
import builtins
import contextlib
import errno
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import stat
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, NoReturn, Protocol, TypeVar, runtime_checkable

import asn1crypto.core
import asn1crypto.keys
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from trustsvc.errors import (
    ConfigurationError,
    InvalidInput,
    KeyNotFound,
    KeyStoreError,
    UnsupportedAlgorithm,
    WrongMasterKey,
)
from trustsvc.keys.algorithms import KeyAlgorithm, SignatureAlgorithm
from trustsvc.keys.encoding import (
    PrivateKey,
    dump_private_key,
    dump_public_key,
    key_algorithm_of,
    load_private_key,
)
from trustsvc.keys.signer import Signer, software_signer
from trustsvc.keys.sm2 import SM2PrivateKey
from trustsvc.keys.sm3 import sm4_gcm_decrypt, sm4_gcm_encrypt

__all__ = [
    "MASTER_KEY_ENV",
    "MASTER_KEY_SIZE",
    "SOFTWARE_CIPHERS",
    "KeyInfo",
    "KeyStore",
    "Pkcs11KeyStore",
    "SoftwareKeyStore",
    "default_signature_algorithm",
    "load_master_key",
]

log = logging.getLogger(__name__)

MASTER_KEY_ENV = "TRUSTSVC_MASTER_KEY"
MASTER_KEY_SIZE = 32
SOFTWARE_CIPHERS = ("aes-256-gcm", "sm4-gcm")

_FORMAT = 1
_NONCE_SIZE = 12
_KEY_ID_RE = re.compile(r"[0-9a-f]{32}")
_KEY_FILE_RE = re.compile(r"([0-9a-f]{32})\.json")
_CHECK_FILE = "master-key-check.json"
_MAX_FILE_SIZE = 1 << 20
_MAX_LABEL_LENGTH = 200
_AAD_PREFIX = b"trustsvc keystore key file\x00"
_HKDF_INFO = b"trustsvc/keystore/v1/"
_CIPHER_KEY_SIZES = {"aes-256-gcm": 32, "sm4-gcm": 16}

# The first entry of each tuple is the default when a caller names no signature algorithm.
_SIGNATURE_ALGORITHMS: dict[KeyAlgorithm, tuple[SignatureAlgorithm, ...]] = {
    KeyAlgorithm.SM2: (SignatureAlgorithm.SM2_SM3,),
    KeyAlgorithm.ECDSA_P256: (SignatureAlgorithm.ECDSA_SHA256,),
    KeyAlgorithm.RSA_3072: (SignatureAlgorithm.RSA_PKCS1_SHA256, SignatureAlgorithm.RSA_PSS_SHA256),
}


# --- the protocol --------------------------------------------------------------------------------


@dataclass(frozen=True)
class KeyInfo:
    """What a store knows about a key, apart from the key itself."""

    key_id: str
    algorithm: KeyAlgorithm
    label: str
    created_at: datetime
    store: str  # "software" | "pkcs11"


@runtime_checkable
class KeyStore(Protocol):
    """Keys by id. Every method raises :class:`KeyNotFound` for an unknown id."""

    def generate(self, algorithm: KeyAlgorithm, *, label: str = "") -> KeyInfo: ...

    def get(self, key_id: str) -> KeyInfo: ...

    def list(self) -> builtins.list[KeyInfo]: ...

    def public_key_info(self, key_id: str) -> asn1crypto.keys.PublicKeyInfo: ...

    def signer(self, key_id: str, algorithm: SignatureAlgorithm | None = None) -> Signer: ...


def default_signature_algorithm(algorithm: KeyAlgorithm) -> SignatureAlgorithm:
    """Return the signature algorithm a key of ``algorithm`` signs with when none is named."""
    return _SIGNATURE_ALGORITHMS[KeyAlgorithm(algorithm)][0]


def _resolve_signature_algorithm(
    key_algorithm: KeyAlgorithm, requested: SignatureAlgorithm | None
) -> SignatureAlgorithm:
    allowed = _SIGNATURE_ALGORITHMS[key_algorithm]
    if requested is None:
        return allowed[0]
    try:
        requested = SignatureAlgorithm(requested)
    except ValueError:
        raise UnsupportedAlgorithm(f"unknown signature algorithm {str(requested)[:40]!r}") from None
    if requested not in allowed:
        raise UnsupportedAlgorithm(
            f"a {key_algorithm.value} key cannot sign with {requested.value}; "
            f"it signs with {', '.join(a.value for a in allowed)}"
        )
    return requested


def _key_algorithm(value: object) -> KeyAlgorithm:
    try:
        return KeyAlgorithm(str(value))
    except ValueError:
        raise UnsupportedAlgorithm(
            f"unknown key algorithm {str(value)[:40]!r}; "
            f"expected one of {', '.join(a.value for a in KeyAlgorithm)}"
        ) from None


def _check_key_id(key_id: object) -> str:
    """Return ``key_id`` if it can name a key; anything else (paths included) is simply not found."""
    if not isinstance(key_id, str) or not _KEY_ID_RE.fullmatch(key_id):
        raise KeyNotFound(f"no key with id {str(key_id)[:80]!r}")
    return key_id


def _check_label(label: object) -> str:
    if not isinstance(label, str):
        raise InvalidInput("a key label must be a string")
    if len(label) > _MAX_LABEL_LENGTH:
        raise InvalidInput(f"a key label is at most {_MAX_LABEL_LENGTH} characters")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in label):
        raise InvalidInput("a key label may not contain control characters")
    return label


def _new_key_id() -> str:
    return secrets.token_hex(16)


def _utcnow() -> datetime:
    return datetime.now(UTC)


class _NoPickle:
    def __reduce__(self) -> NoReturn:
        raise TypeError(f"{type(self).__name__} holds secrets and cannot be pickled")


class _StoreSigner:
    """A signer bound to a key id; delegates to the software or token signer, never shows key material."""

    def __init__(self, key_id: str, inner: Signer) -> None:
        self.key_id = key_id
        self._inner = inner

    @property
    def algorithm(self) -> SignatureAlgorithm:
        return self._inner.algorithm

    @property
    def public_key_info(self) -> asn1crypto.keys.PublicKeyInfo:
        return self._inner.public_key_info

    def sign(self, data: bytes) -> bytes:
        return self._inner.sign(data)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} key_id={self.key_id} algorithm={self.algorithm.value}>"

    def __reduce__(self) -> NoReturn:
        raise TypeError("signers hold keys and cannot be pickled")


# --- master key ----------------------------------------------------------------------------------


def _decode_master_key_text(text: str) -> bytes | None:
    """Return 32 bytes from base64 (standard or URL-safe alphabet) or 64 hex digits, else None."""
    text = text.strip()
    if re.fullmatch(r"[0-9A-Fa-f]{64}", text):
        return bytes.fromhex(text)
    candidate = text.replace("-", "+").replace("_", "/")
    try:
        raw = base64.b64decode(candidate, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) == MASTER_KEY_SIZE else None


def load_master_key(*, env_value: str | None, path: Path, create: bool = False) -> bytes:
    """Return the 32-byte master key of the software key store.

    ``env_value`` (the value of ``TRUSTSVC_MASTER_KEY``), when set and not blank, wins. It is either the
    base64 encoding of exactly 32 bytes (standard or URL-safe alphabet, with padding: 44 characters, e.g.
    ``openssl rand -base64 32``) or 64 hexadecimal digits (``openssl rand -hex 32``).

    Otherwise the key is read from ``path``: a file of exactly 32 raw bytes, or a text file holding one of
    the two encodings above. When the file does not exist and ``create`` is true, it is created atomically
    with mode 0600 and 32 bytes from the operating system's CSPRNG (its directory with 0700 if new); two
    processes racing to create it end up with the same key.

    Raises :class:`ConfigurationError` (never showing the value) when the key is missing or malformed.
    """
    if env_value is not None and env_value.strip():
        key = _decode_master_key_text(env_value)
        if key is None:
            raise ConfigurationError(
                f"{MASTER_KEY_ENV} must be the base64 encoding of exactly {MASTER_KEY_SIZE} bytes "
                f"(44 characters, e.g. from `openssl rand -base64 32`) or {2 * MASTER_KEY_SIZE} hex digits"
            )
        return key

    path = Path(path)
    try:
        data = _read_master_key_file(path)
    except FileNotFoundError:
        if not create:
            raise ConfigurationError(
                f"no master key: {MASTER_KEY_ENV} is not set and {path} does not exist"
            ) from None
        return _create_master_key_file(path)
    key = _decode_master_key_file(data)
    if key is None:
        raise ConfigurationError(
            f"master key file {path} must hold exactly {MASTER_KEY_SIZE} raw bytes, or their base64 "
            f"encoding, or {2 * MASTER_KEY_SIZE} hex digits"
        )
    return key


def _read_master_key_file(path: Path) -> bytes:
    try:
        with open(path, "rb") as f:
            st = os.fstat(f.fileno())
            if not stat.S_ISREG(st.st_mode):
                raise ConfigurationError(f"master key file {path} is not a regular file")
            if st.st_mode & 0o077:
                log.warning("master key file %s is readable by group or others; chmod 600 it", path)
            return f.read(4096)
    except FileNotFoundError:
        raise
    except IsADirectoryError:
        raise ConfigurationError(f"master key file {path} is a directory") from None
    except OSError as exc:
        raise ConfigurationError(f"cannot read master key file {path}: {exc.strerror}") from None


def _decode_master_key_file(data: bytes) -> bytes | None:
    if len(data) == MASTER_KEY_SIZE:
        return data
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        return None
    return _decode_master_key_text(text)


def _create_master_key_file(path: Path) -> bytes:
    try:
        if not path.parent.exists():
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        key = secrets.token_bytes(MASTER_KEY_SIZE)
        try:
            _write_new_file(path.parent, path.name, key)
        except FileExistsError:
            # Another process created it first: use theirs.
            data = _read_master_key_file(path)
            existing = _decode_master_key_file(data)
            if existing is None:
                raise ConfigurationError(f"master key file {path} is malformed") from None
            return existing
    except OSError as exc:
        raise ConfigurationError(f"cannot create master key file {path}: {exc.strerror}") from None
    log.info("created a new master key file %s", path)
    return key


# --- files ---------------------------------------------------------------------------------------

_NO_LINK_ERRNOS = {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK, errno.ENOSYS}


def _fsync_directory(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _write_new_file(directory: Path, name: str, data: bytes) -> None:
    """Create ``directory/name`` (mode 0600) with ``data``, atomically; FileExistsError if it exists.

    The data is written and fsynced to a temporary file first, then hard-linked into place, so readers see
    either no file or the whole file, and an existing file is never replaced.
    """
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), 0o600)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        final = os.path.join(directory, name)
        try:
            os.link(tmp, final)
        except FileExistsError:
            raise
        except OSError as exc:
            # Filesystems without hard links: ids are random, so replace is safe enough there.
            if exc.errno not in _NO_LINK_ERRNOS:
                raise
            if os.path.lexists(final):
                raise FileExistsError(errno.EEXIST, "file exists", final) from None
            os.replace(tmp, final)
        _fsync_directory(directory)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _read_small_file(path: Path) -> bytes:
    with open(path, "rb") as f:
        data = f.read(_MAX_FILE_SIZE + 1)
    if len(data) > _MAX_FILE_SIZE:
        raise KeyStoreError(f"key store file {path.name} is too large")
    return data


def _b64decode(value: object, what: str, key_id: str) -> bytes:
    if not isinstance(value, str):
        raise KeyStoreError(f"key file of {key_id} is corrupt: {what} missing")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise KeyStoreError(f"key file of {key_id} is corrupt: {what} is not base64") from None


# --- software store ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Header:
    """The authenticated, non-secret part of a key file."""

    key_id: str
    algorithm: KeyAlgorithm
    label: str
    created_at: datetime
    cipher: str
    public_key: bytes  # SPKI DER

    def associated_data(self) -> bytes:
        fields = {
            "format": _FORMAT,
            "key_id": self.key_id,
            "algorithm": self.algorithm.value,
            "label": self.label,
            "created_at": self.created_at.isoformat(),
            "cipher": self.cipher,
            "public_key": base64.b64encode(self.public_key).decode("ascii"),
        }
        return _AAD_PREFIX + json.dumps(fields, sort_keys=True, separators=(",", ":")).encode("utf-8")

    def info(self) -> KeyInfo:
        return KeyInfo(self.key_id, self.algorithm, self.label, self.created_at, "software")


@dataclass(frozen=True)
class _LoadedKey:
    header: _Header
    key: PrivateKey

    def __repr__(self) -> str:
        return f"<_LoadedKey key_id={self.header.key_id}>"


class SoftwareKeyStore(_NoPickle):
    """Private keys in files under ``directory``, each encrypted under the master key.

    ``cipher`` ("aes-256-gcm" or "sm4-gcm") is used for keys written by this object; keys written with the
    other cipher are still read. ``clock`` (for tests) gives the creation time of new keys.

    Raises :class:`WrongMasterKey` when the directory was created with another master key,
    :class:`ConfigurationError` for a master key that is not 32 bytes or an unknown cipher.
    """

    def __init__(
        self,
        directory: Path,
        master_key: bytes,
        *,
        cipher: str = "aes-256-gcm",
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        if not isinstance(master_key, bytes | bytearray) or len(master_key) != MASTER_KEY_SIZE:
            raise ConfigurationError(f"the key store master key must be exactly {MASTER_KEY_SIZE} bytes")
        if cipher not in SOFTWARE_CIPHERS:
            raise ConfigurationError(
                f"unknown key store cipher {str(cipher)[:40]!r}; "
                f"expected one of {', '.join(SOFTWARE_CIPHERS)}"
            )
        self.directory = Path(directory)
        self.cipher = cipher
        self._clock = clock or _utcnow
        master = bytes(master_key)
        self._file_keys = {name: _derive(master, name, size) for name, size in _CIPHER_KEY_SIZES.items()}
        self._check_value = _derive(master, "key-check", 32)
        del master
        self._cache: dict[str, _LoadedKey] = {}
        self._lock = threading.Lock()
        self._open_directory()

    def __repr__(self) -> str:
        return f"<SoftwareKeyStore directory={str(self.directory)!r} cipher={self.cipher}>"

    # -- opening --

    def _open_directory(self) -> None:
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            st = self.directory.stat()
            if st.st_mode & 0o077 and st.st_uid == os.getuid():
                os.chmod(self.directory, 0o700)
        except OSError as exc:
            raise ConfigurationError(
                f"cannot use key store directory {self.directory}: {exc.strerror}"
            ) from None
        check_path = self.directory / _CHECK_FILE
        for _attempt in range(2):
            try:
                stored = self._read_check_file(check_path)
            except FileNotFoundError:
                self._verify_against_key_files()
                try:
                    _write_new_file(self.directory, _CHECK_FILE, self._check_file_bytes())
                    return
                except FileExistsError:
                    continue  # another process created the store first: check against theirs
                except OSError as exc:
                    raise KeyStoreError(
                        f"cannot write to key store {self.directory}: {exc.strerror}"
                    ) from None
            if not hmac.compare_digest(stored, self._check_value):
                raise WrongMasterKey(f"the master key does not open the key store at {self.directory}")
            return
        raise KeyStoreError(f"key store check file in {self.directory} keeps disappearing")

    def _check_file_bytes(self) -> bytes:
        doc = {
            "format": _FORMAT,
            "kdf": "hkdf-sha256",
            "master_key_check": self._check_value.hex(),
        }
        return (json.dumps(doc, indent=2) + "\n").encode("ascii")

    def _read_check_file(self, path: Path) -> bytes:
        try:
            doc = json.loads(_read_small_file(path))
            if doc.get("format") != _FORMAT:
                raise KeyStoreError(f"key store {self.directory} has an unsupported format")
            return bytes.fromhex(doc["master_key_check"])
        except FileNotFoundError:
            raise
        except (ValueError, KeyError, TypeError, AttributeError):
            raise KeyStoreError(f"key store check file {path} is corrupt") from None
        except OSError as exc:
            raise KeyStoreError(f"cannot read key store check file {path}: {exc.strerror}") from None

    def _verify_against_key_files(self) -> None:
        """Without a check file, keys already in the directory must have been written under our master key."""
        seen_foreign = False
        for key_id in self._key_ids():
            try:
                doc = self._read_document(key_id)
            except (KeyNotFound, KeyStoreError):
                continue
            check = doc.get("master_key_check")
            if isinstance(check, str) and hmac.compare_digest(check, self._check_value.hex()):
                return
            seen_foreign = True
        if seen_foreign:
            raise WrongMasterKey(f"the master key does not open the keys in {self.directory}")

    # -- reading --

    def _key_ids(self) -> Iterator[str]:
        try:
            names = os.listdir(self.directory)
        except OSError as exc:
            raise KeyStoreError(f"cannot list key store {self.directory}: {exc.strerror}") from None
        for name in sorted(names):
            m = _KEY_FILE_RE.fullmatch(name)
            if m:
                yield m.group(1)

    def _read_document(self, key_id: str) -> dict[str, Any]:
        path = self.directory / f"{key_id}.json"
        try:
            data = _read_small_file(path)
        except FileNotFoundError:
            raise KeyNotFound(f"no key with id {key_id}") from None
        except OSError as exc:
            raise KeyStoreError(f"cannot read key file of {key_id}: {exc.strerror}") from None
        try:
            doc = json.loads(data)
        except ValueError:
            raise KeyStoreError(f"key file of {key_id} is corrupt: not JSON") from None
        if not isinstance(doc, dict):
            raise KeyStoreError(f"key file of {key_id} is corrupt")
        return doc

    def _read_header(self, key_id: str) -> tuple[_Header, dict[str, Any]]:
        doc = self._read_document(key_id)
        if doc.get("format") != _FORMAT:
            raise KeyStoreError(f"key file of {key_id} has an unsupported format")
        stored_id = doc.get("key_id")
        if stored_id != key_id:
            raise KeyStoreError(f"key file {key_id}.json belongs to another key id: renamed or copied")
        try:
            created_at = datetime.fromisoformat(doc["created_at"])
            algorithm = KeyAlgorithm(doc["algorithm"])
            label = doc["label"]
            cipher = doc["cipher"]
        except (KeyError, ValueError, TypeError):
            raise KeyStoreError(f"key file of {key_id} is corrupt") from None
        if not isinstance(label, str) or cipher not in SOFTWARE_CIPHERS:
            raise KeyStoreError(f"key file of {key_id} is corrupt")
        public_key = _b64decode(doc.get("public_key"), "public key", key_id)
        return _Header(key_id, algorithm, label, created_at, cipher, public_key), doc

    def _load(self, key_id: str) -> _LoadedKey:
        """Return the decrypted key, from the cache or from its file."""
        key_id = _check_key_id(key_id)
        loaded = self._cache.get(key_id)
        if loaded is not None:
            return loaded
        header, doc = self._read_header(key_id)
        nonce = _b64decode(doc.get("nonce"), "nonce", key_id)
        ciphertext = _b64decode(doc.get("ciphertext"), "ciphertext", key_id)
        if len(nonce) != _NONCE_SIZE:
            raise KeyStoreError(f"key file of {key_id} is corrupt: bad nonce")
        check = doc.get("master_key_check")
        foreign = not (isinstance(check, str) and hmac.compare_digest(check, self._check_value.hex()))
        try:
            der = self._decrypt(header.cipher, nonce, ciphertext, header.associated_data())
        except InvalidTag:
            if foreign:
                raise WrongMasterKey(f"key {key_id} was encrypted under another master key") from None
            raise KeyStoreError(f"key file of {key_id} failed authentication: tampered or corrupt") from None
        try:
            key = load_private_key(der)
        except Exception:
            raise KeyStoreError(f"key file of {key_id} holds an unreadable private key") from None
        finally:
            del der
        # Defence in depth: the file's clear-text public key and algorithm must be the private key's.
        if key_algorithm_of(key) is not header.algorithm or _spki_der(key) != header.public_key:
            raise KeyStoreError(f"key file of {key_id} is inconsistent: public key does not match")
        loaded = _LoadedKey(header, key)
        with self._lock:
            return self._cache.setdefault(key_id, loaded)

    # -- crypto --

    def _encrypt(self, cipher: str, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
        if cipher == "aes-256-gcm":
            return AESGCM(self._file_keys[cipher]).encrypt(nonce, plaintext, aad)
        return sm4_gcm_encrypt(self._file_keys[cipher], nonce, plaintext, aad)

    def _decrypt(self, cipher: str, nonce: bytes, ciphertext: bytes, aad: bytes) -> bytes:
        if cipher == "aes-256-gcm":
            return AESGCM(self._file_keys[cipher]).decrypt(nonce, ciphertext, aad)
        return sm4_gcm_decrypt(self._file_keys[cipher], nonce, ciphertext, aad)

    # -- writing --

    def _store(self, key: PrivateKey, algorithm: KeyAlgorithm, label: str) -> KeyInfo:
        header = _Header(
            key_id=_new_key_id(),
            algorithm=algorithm,
            label=label,
            created_at=self._clock().astimezone(UTC),
            cipher=self.cipher,
            public_key=_spki_der(key),
        )
        nonce = os.urandom(_NONCE_SIZE)
        der = dump_private_key(key, encoding="der")
        ciphertext = self._encrypt(self.cipher, nonce, der, header.associated_data())
        del der
        doc = {
            "format": _FORMAT,
            "key_id": header.key_id,
            "algorithm": header.algorithm.value,
            "label": header.label,
            "created_at": header.created_at.isoformat(),
            "cipher": header.cipher,
            "master_key_check": self._check_value.hex(),
            "public_key": base64.b64encode(header.public_key).decode("ascii"),
            "nonce": base64.b64encode(nonce).decode("ascii"),
            "ciphertext": base64.b64encode(ciphertext).decode("ascii"),
        }
        data = (json.dumps(doc, indent=2, ensure_ascii=True) + "\n").encode("ascii")
        try:
            _write_new_file(self.directory, f"{header.key_id}.json", data)
        except OSError as exc:
            raise KeyStoreError(f"cannot write key file to {self.directory}: {exc.strerror}") from None
        with self._lock:
            self._cache[header.key_id] = _LoadedKey(header, key)
        log.info("stored %s key %s in software key store %s", algorithm.value, header.key_id, self.directory)
        return header.info()

    # -- KeyStore --

    def generate(self, algorithm: KeyAlgorithm, *, label: str = "") -> KeyInfo:
        """Return the info of a new key of ``algorithm``, generated here and stored encrypted."""
        algorithm = _key_algorithm(algorithm)
        label = _check_label(label)
        key: PrivateKey
        if algorithm is KeyAlgorithm.SM2:
            key = SM2PrivateKey.generate()
        elif algorithm is KeyAlgorithm.ECDSA_P256:
            key = ec.generate_private_key(ec.SECP256R1())
        elif algorithm is KeyAlgorithm.RSA_3072:
            key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
        else:  # pragma: no cover - KeyAlgorithm is closed
            raise UnsupportedAlgorithm(f"cannot generate {algorithm.value} keys")
        return self._store(key, algorithm, label)

    def import_private_key(self, key: PrivateKey, *, label: str = "") -> KeyInfo:
        """Return the info of ``key`` (SM2, EC P-256 or RSA) after storing it encrypted under a new id."""
        label = _check_label(label)
        algorithm = key_algorithm_of(key)
        return self._store(key, algorithm, label)

    def get(self, key_id: str) -> KeyInfo:
        """Return the info of ``key_id`` (from its file's header, without decrypting)."""
        key_id = _check_key_id(key_id)
        loaded = self._cache.get(key_id)
        if loaded is not None:
            return loaded.header.info()
        header, _doc = self._read_header(key_id)
        return header.info()

    def list(self) -> builtins.list[KeyInfo]:
        """Return every key in the directory, oldest first. Unreadable files are logged and skipped."""
        infos: builtins.list[KeyInfo] = []
        for key_id in self._key_ids():
            try:
                infos.append(self.get(key_id))
            except KeyNotFound:
                continue  # vanished between listdir and read
            except KeyStoreError as exc:
                log.warning("skipping key file %s.json in %s: %s", key_id, self.directory, exc.detail)
        infos.sort(key=lambda i: (i.created_at, i.key_id))
        return infos

    def public_key_info(self, key_id: str) -> asn1crypto.keys.PublicKeyInfo:
        """Return the SubjectPublicKeyInfo of ``key_id``, authenticated by decrypting the key file."""
        return asn1crypto.keys.PublicKeyInfo.load(self._load(key_id).header.public_key)

    def signer(self, key_id: str, algorithm: SignatureAlgorithm | None = None) -> Signer:
        """Return a signer for ``key_id`` (decrypting the key once per store object)."""
        loaded = self._load(key_id)
        sig_alg = _resolve_signature_algorithm(loaded.header.algorithm, algorithm)
        return _StoreSigner(loaded.header.key_id, software_signer(loaded.key, sig_alg))


def _derive(master: bytes, purpose: str, length: int) -> bytes:
    hkdf = HKDF(
        algorithm=hashes.SHA256(), length=length, salt=None, info=_HKDF_INFO + purpose.encode("ascii")
    )
    return hkdf.derive(master)


def _spki_der(key: PrivateKey) -> bytes:
    return dump_public_key(key.public_key(), encoding="der")


# --- PKCS#11 store -------------------------------------------------------------------------------

_P11_APPLICATION = "trustsvc-keystore"
_P256_OID = "1.2.840.10045.3.1.7"
_T = TypeVar("_T")


def _pkcs11() -> Any:
    try:
        import pkcs11
    except ImportError:  # pragma: no cover - a declared dependency
        raise ConfigurationError("python-pkcs11 is not installed") from None
    return pkcs11


class _Token(_NoPickle):
    """One logged-in session per (module, token label) per process; see the module docstring."""

    _registry: ClassVar[dict[tuple[str, str], _Token]] = {}
    _module_locks: ClassVar[dict[str, threading.RLock]] = {}
    _registry_lock = threading.Lock()

    @classmethod
    def acquire(cls, module: str, token_label: str, pin: str) -> _Token:
        # The module path exactly as given: python-pkcs11 keeps one library object per path string.
        key = (module, token_label)
        with cls._registry_lock:
            token = cls._registry.get(key)
            if token is None:
                lock = cls._module_locks.setdefault(module, threading.RLock())
                token = cls(module, token_label, pin, lock)
                cls._registry[key] = token
            elif not hmac.compare_digest(token._pin.encode("utf-8"), pin.encode("utf-8")):
                raise ConfigurationError(
                    f"PKCS#11 token {token_label!r} is already logged in in this process with another PIN"
                )
            return token

    def __init__(self, module: str, token_label: str, pin: str, lock: threading.RLock) -> None:
        self.module = module
        self.token_label = token_label
        self._pin = pin
        # python-pkcs11 calls C_Initialize(NULL): the module may assume it is never called concurrently
        # (SoftHSM2 then turns its own locking off), so every call into one module is serialised here.
        self._lock = lock
        self._pid = -1
        self._lib: Any = None
        self._token: Any = None
        self._session: Any = None
        self._objects: dict[str, Any] = {}  # key id -> private key object of the current session
        with self._lock:
            self._connect()

    def __repr__(self) -> str:
        return f"<_Token module={self.module!r} label={self.token_label!r}>"

    def _connect(self) -> None:
        """Load the module, find the token and log in (again, in a forked child)."""
        p11 = _pkcs11()
        if self._lib is not None and self._pid != os.getpid():
            # Forked child: the parent's library state and sessions mean nothing here (PKCS#11 §6.7.1).
            with contextlib.suppress(p11.PKCS11Error):
                self._lib.finalize()
        self._session = None
        self._objects = {}
        try:
            self._lib = p11.lib(self.module)
            self._token = self._lib.get_token(token_label=self.token_label)
        except p11.NoSuchToken:
            raise ConfigurationError(
                f"no PKCS#11 token labelled {self.token_label!r} in {self.module}"
            ) from None
        except p11.MultipleTokensReturned:
            raise ConfigurationError(f"several PKCS#11 tokens labelled {self.token_label!r}") from None
        except (p11.PKCS11Error, OSError) as exc:
            raise ConfigurationError(
                f"cannot load PKCS#11 module {self.module}: {type(exc).__name__} {str(exc)[:200]}".rstrip()
            ) from None
        self._open_session()
        self._pid = os.getpid()

    def _open_session(self) -> None:
        """Open the working session, logging the process in with it.

        Never close a logged-in session: C_Logout would log out every session of the process.
        """
        p11 = _pkcs11()
        self._objects = {}
        try:
            self._session = self._token.open(rw=True, user_pin=self._pin)
            return
        except p11.UserAlreadyLoggedIn:
            # Logged in already (an earlier login of ours, or other code): a plain session shares the login.
            log.debug("PKCS#11 token %r: already logged in", self.token_label)
        except (p11.PinIncorrect, p11.PinInvalid, p11.PinLenRange):
            raise ConfigurationError(f"PKCS#11 token {self.token_label!r} rejected the PIN") from None
        except p11.PinLocked:
            raise ConfigurationError(f"PKCS#11 token {self.token_label!r} has its PIN locked") from None
        except p11.PKCS11Error as exc:
            raise KeyStoreError(
                f"cannot log in to PKCS#11 token {self.token_label!r}: {type(exc).__name__}"
            ) from None
        self._session = self._token.open(rw=True)

    def run(self, operation: Callable[[Any, dict[str, Any]], _T]) -> _T:
        """Return ``operation(session, objects)``, serialised per module; retry once on a lost session."""
        p11 = _pkcs11()
        retryable = (
            p11.SessionHandleInvalid,
            p11.SessionClosed,
            p11.UserNotLoggedIn,
            p11.ObjectHandleInvalid,
        )
        with self._lock:
            if self._pid != os.getpid():
                self._connect()
            try:
                return operation(self._session, self._objects)
            except retryable as exc:
                log.warning(
                    "PKCS#11 token %r: %s; reopening the session", self.token_label, type(exc).__name__
                )
            self._open_session()
            return operation(self._session, self._objects)


class Pkcs11KeyStore(_NoPickle):
    """ECDSA P-256 and RSA-3072 keys in a PKCS#11 token (an HSM; SoftHSM2 in tests).

    ``module`` is the path of the PKCS#11 library, ``token_label`` the token's label, ``pin`` the user PIN.
    A wrong PIN, a missing token or module gives :class:`ConfigurationError` here, not at first use.
    """

    def __init__(self, module: str, token_label: str, pin: str) -> None:
        if not isinstance(pin, str) or not pin:
            raise ConfigurationError("the PKCS#11 user PIN is missing")
        self.module = module
        self.token_label = token_label
        self._token = _Token.acquire(module, token_label, pin)
        self._spki: dict[str, bytes] = {}

    def __repr__(self) -> str:
        return f"<Pkcs11KeyStore module={self.module!r} token={self.token_label!r}>"

    def _run(self, what: str, operation: Callable[[Any, dict[str, Any]], _T]) -> _T:
        p11 = _pkcs11()
        try:
            return self._token.run(operation)
        except (KeyStoreError, InvalidInput):
            raise
        except p11.PKCS11Error as exc:
            raise KeyStoreError(f"PKCS#11 {what} failed: {type(exc).__name__}") from None

    # -- KeyStore --

    def generate(self, algorithm: KeyAlgorithm, *, label: str = "") -> KeyInfo:
        """Return the info of a new key pair of ``algorithm`` generated in the token (never leaves it)."""
        algorithm = _key_algorithm(algorithm)
        label = _check_label(label)
        if algorithm is KeyAlgorithm.SM2:
            raise UnsupportedAlgorithm(
                "SM2 keys cannot be generated in the PKCS#11 key store: PKCS#11 defines no SM2 mechanism and "
                "SoftHSM2 implements none; keep SM2 keys in the software key store"
            )
        key_id = _new_key_id()
        info = KeyInfo(key_id, algorithm, label, _utcnow(), "pkcs11")
        p11 = _pkcs11()
        from pkcs11.util.ec import encode_named_curve_parameters

        attr, key_type, flag = p11.Attribute, p11.KeyType, p11.MechanismFlag
        private_template = {
            attr.TOKEN: True,
            attr.PRIVATE: True,
            attr.SENSITIVE: True,
            attr.EXTRACTABLE: False,
            attr.SIGN: True,
            attr.SIGN_RECOVER: False,
            attr.DECRYPT: False,
            attr.UNWRAP: False,
            attr.DERIVE: False,
        }
        public_template: dict[Any, Any] = {
            attr.TOKEN: True,
            attr.VERIFY: True,
            attr.ENCRYPT: False,
            attr.WRAP: False,
        }
        if algorithm is KeyAlgorithm.ECDSA_P256:
            p11_type, length = key_type.EC, None
            public_template[attr.EC_PARAMS] = encode_named_curve_parameters(_P256_OID)
        else:
            p11_type, length = key_type.RSA, 3072
        metadata = json.dumps(
            {
                "format": _FORMAT,
                "key_id": key_id,
                "algorithm": algorithm.value,
                "label": label,
                "created_at": info.created_at.isoformat(),
            },
            sort_keys=True,
        ).encode("utf-8")

        def operation(session: Any, objects: dict[str, Any]) -> None:
            public, private = session.generate_keypair(
                p11_type,
                length,
                id=bytes.fromhex(key_id),
                label=label,
                store=True,
                capabilities=flag.SIGN | flag.VERIFY,
                public_template=public_template,
                private_template=private_template,
            )
            try:
                session.create_object(
                    {
                        attr.CLASS: p11.ObjectClass.DATA,
                        attr.TOKEN: True,
                        attr.PRIVATE: True,
                        attr.MODIFIABLE: False,
                        attr.APPLICATION: _P11_APPLICATION,
                        attr.LABEL: key_id,
                        attr.VALUE: metadata,
                    }
                )
            except BaseException:
                for obj in (private, public):
                    with contextlib.suppress(Exception):
                        obj.destroy()
                raise
            objects[key_id] = private

        self._run("key generation", operation)
        log.info("generated %s key %s in PKCS#11 token %r", algorithm.value, key_id, self.token_label)
        return info

    def _metadata(self, session: Any, key_id: str | None) -> builtins.list[KeyInfo]:
        p11 = _pkcs11()
        attrs: dict[Any, Any] = {
            p11.Attribute.CLASS: p11.ObjectClass.DATA,
            p11.Attribute.APPLICATION: _P11_APPLICATION,
        }
        if key_id is not None:
            attrs[p11.Attribute.LABEL] = key_id
        infos = []
        for obj in session.get_objects(attrs):
            try:
                doc = json.loads(obj[p11.Attribute.VALUE])
                infos.append(
                    KeyInfo(
                        key_id=_check_key_id(doc["key_id"]),
                        algorithm=KeyAlgorithm(doc["algorithm"]),
                        label=str(doc["label"]),
                        created_at=datetime.fromisoformat(doc["created_at"]),
                        store="pkcs11",
                    )
                )
            except (ValueError, KeyError, TypeError, KeyNotFound):
                log.warning("skipping a malformed trustsvc metadata object in token %r", self.token_label)
        return infos

    def get(self, key_id: str) -> KeyInfo:
        """Return the info of ``key_id``."""
        key_id = _check_key_id(key_id)
        found = self._run("key lookup", lambda session, _objects: self._metadata(session, key_id))
        found = [i for i in found if i.key_id == key_id]
        if not found:
            raise KeyNotFound(f"no key with id {key_id}")
        if len(found) > 1:
            raise KeyStoreError(f"token holds several metadata objects for key {key_id}")
        return found[0]

    def list(self) -> builtins.list[KeyInfo]:
        """Return every trustsvc key in the token, oldest first."""
        infos = self._run("key listing", lambda session, _objects: self._metadata(session, None))
        return sorted(infos, key=lambda i: (i.created_at, i.key_id))

    def _find_key(self, session: Any, key_id: str, object_class: Any) -> Any:
        p11 = _pkcs11()
        try:
            return session.get_key(object_class=object_class, id=bytes.fromhex(key_id))
        except p11.NoSuchKey:
            raise KeyNotFound(f"no key with id {key_id} in token {self.token_label!r}") from None
        except p11.MultipleObjectsReturned:
            raise KeyStoreError(f"token holds several keys with id {key_id}") from None

    def public_key_info(self, key_id: str) -> asn1crypto.keys.PublicKeyInfo:
        """Return the SubjectPublicKeyInfo of ``key_id``, built from the token's public key object."""
        info = self.get(key_id)
        spki = self._spki.get(info.key_id)
        if spki is None:
            p11 = _pkcs11()

            def operation(session: Any, _objects: dict[str, Any]) -> bytes:
                public = self._find_key(session, info.key_id, p11.ObjectClass.PUBLIC_KEY)
                return _spki_from_token(public, info)

            spki = self._run("public key read", operation)
            self._spki[info.key_id] = spki
        return asn1crypto.keys.PublicKeyInfo.load(spki)

    def signer(self, key_id: str, algorithm: SignatureAlgorithm | None = None) -> Signer:
        """Return a signer whose private key operation runs in the token."""
        info = self.get(key_id)
        sig_alg = _resolve_signature_algorithm(info.algorithm, algorithm)
        return _StoreSigner(
            info.key_id, _Pkcs11Signer(self, info.key_id, sig_alg, self.public_key_info(key_id))
        )

    def _sign(self, key_id: str, algorithm: SignatureAlgorithm, data: bytes) -> bytes:
        p11 = _pkcs11()
        from pkcs11.util.ec import encode_ecdsa_signature

        mech = p11.Mechanism

        def operation(session: Any, objects: dict[str, Any]) -> bytes:
            private = objects.get(key_id)
            if private is None:
                private = self._find_key(session, key_id, p11.ObjectClass.PRIVATE_KEY)
                objects[key_id] = private
            if algorithm is SignatureAlgorithm.ECDSA_SHA256:
                # Hash here and use plain CKM_ECDSA: every token has it (SoftHSM2 lacks CKM_ECDSA_SHA256),
                # and only 32 bytes travel to the HSM.
                raw = private.sign(hashlib.sha256(data).digest(), mechanism=mech.ECDSA)
                return bytes(encode_ecdsa_signature(raw))
            if algorithm is SignatureAlgorithm.RSA_PKCS1_SHA256:
                return bytes(private.sign(data, mechanism=mech.SHA256_RSA_PKCS))
            if algorithm is SignatureAlgorithm.RSA_PSS_SHA256:
                params = (mech.SHA256, p11.MGF.SHA256, 32)  # MGF1-SHA256, salt = digest length
                return bytes(private.sign(data, mechanism=mech.SHA256_RSA_PKCS_PSS, mechanism_param=params))
            raise UnsupportedAlgorithm(f"the PKCS#11 key store cannot sign with {algorithm.value}")

        return self._run("signing", operation)


class _Pkcs11Signer:
    def __init__(
        self,
        store: Pkcs11KeyStore,
        key_id: str,
        algorithm: SignatureAlgorithm,
        spki: asn1crypto.keys.PublicKeyInfo,
    ) -> None:
        self._store = store
        self._key_id = key_id
        self._algorithm = algorithm
        self._spki = spki

    @property
    def algorithm(self) -> SignatureAlgorithm:
        return self._algorithm

    @property
    def public_key_info(self) -> asn1crypto.keys.PublicKeyInfo:
        return self._spki

    def sign(self, data: bytes) -> bytes:
        return self._store._sign(self._key_id, self._algorithm, bytes(data))


def _spki_from_token(public: Any, info: KeyInfo) -> bytes:
    """Return the SPKI DER of a token public key object (EC point + params, or RSA modulus + exponent)."""
    p11 = _pkcs11()
    attr = p11.Attribute
    if info.algorithm is KeyAlgorithm.ECDSA_P256:
        if public.key_type != p11.KeyType.EC:
            raise KeyStoreError(f"token key {info.key_id} is not an EC key")
        params = asn1crypto.keys.ECDomainParameters.load(bytes(public[attr.EC_PARAMS]))
        if params.name != "named" or params.chosen.dotted != _P256_OID:
            raise KeyStoreError(f"token key {info.key_id} is not on P-256")
        point = bytes(public[attr.EC_POINT])
        # PKCS#11 says DER OCTET STRING; some tokens give the raw point.
        if not (len(point) == 65 and point[0] == 0x04):
            point = bytes(asn1crypto.core.OctetString.load(point).native)
        if len(point) != 65 or point[0] != 0x04:
            raise KeyStoreError(f"token key {info.key_id} has a malformed EC point")
        spki = asn1crypto.keys.PublicKeyInfo(
            {
                "algorithm": {"algorithm": "ec", "parameters": params},
                "public_key": point,
            }
        )
    elif info.algorithm is KeyAlgorithm.RSA_3072:
        if public.key_type != p11.KeyType.RSA:
            raise KeyStoreError(f"token key {info.key_id} is not an RSA key")
        modulus = int.from_bytes(public[attr.MODULUS], "big")
        exponent = int.from_bytes(public[attr.PUBLIC_EXPONENT], "big")
        if modulus.bit_length() != 3072:
            raise KeyStoreError(f"token key {info.key_id} is not a 3072-bit RSA key")
        spki = asn1crypto.keys.PublicKeyInfo(
            {
                "algorithm": {"algorithm": "rsa", "parameters": asn1crypto.core.Null()},
                "public_key": asn1crypto.keys.RSAPublicKey({"modulus": modulus, "public_exponent": exponent}),
            }
        )
    else:
        raise UnsupportedAlgorithm(f"the PKCS#11 key store holds no {info.algorithm.value} keys")
    return bytes(spki.dump())
