"""The software key store: encrypted key files, master key, signing, tamper and wrong-key detection."""

from __future__ import annotations

import base64
import json
import logging
import os
import pickle
import secrets
import shutil
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from asn1crypto import keys as asn1_keys
from asn1crypto import pem as asn1_pem
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from tests.tools import require_tool
from trustsvc.errors import (
    ConfigurationError,
    InvalidInput,
    InvalidSignature,
    KeyNotFound,
    KeyStoreError,
    UnsupportedAlgorithm,
    WrongMasterKey,
)
from trustsvc.keys.algorithms import KeyAlgorithm, SignatureAlgorithm
from trustsvc.keys.encoding import PrivateKey, dump_private_key, dump_public_key
from trustsvc.keys.keystore import (
    KeyInfo,
    KeyStore,
    SoftwareKeyStore,
    load_master_key,
)
from trustsvc.keys.signer import verify
from trustsvc.keys.sm2 import DEFAULT_SM2_ID, SM2PrivateKey

DATA = "电子证照 e-licence payload".encode() * 3

# (key algorithm, signature algorithm) for every way a stored key can sign.
SIGNING = [
    (KeyAlgorithm.SM2, SignatureAlgorithm.SM2_SM3),
    (KeyAlgorithm.ECDSA_P256, SignatureAlgorithm.ECDSA_SHA256),
    (KeyAlgorithm.RSA_3072, SignatureAlgorithm.RSA_PKCS1_SHA256),
    (KeyAlgorithm.RSA_3072, SignatureAlgorithm.RSA_PSS_SHA256),
]
SIGNING_IDS = [f"{k.value}/{s.value}" for k, s in SIGNING]


@pytest.fixture
def master_key() -> bytes:
    return secrets.token_bytes(32)


@pytest.fixture
def key_dir(tmp_path: Path) -> Path:
    return tmp_path / "keys"


def _new_private_key(algorithm: KeyAlgorithm) -> PrivateKey:
    if algorithm is KeyAlgorithm.SM2:
        return SM2PrivateKey.generate()
    if algorithm is KeyAlgorithm.ECDSA_P256:
        return ec.generate_private_key(ec.SECP256R1())
    return rsa.generate_private_key(public_exponent=65537, key_size=3072)


def _key_file(directory: Path, key_id: str) -> Path:
    return directory / f"{key_id}.json"


def _rewrite(path: Path, change: dict[str, object]) -> None:
    doc = json.loads(path.read_text())
    doc.update(change)
    path.write_text(json.dumps(doc))


# --- openssl CLI -----------------------------------------------------------------------------------


def openssl_verify(
    tmp: Path, spki_der: bytes, algorithm: SignatureAlgorithm, data: bytes, signature: bytes
) -> subprocess.CompletedProcess[str]:
    """Run `openssl dgst -verify` on ``signature``; return the finished process."""
    openssl = require_tool("openssl")
    tmp.mkdir(parents=True, exist_ok=True)
    pub, msg, sig = tmp / "pub.pem", tmp / "data.bin", tmp / "sig.bin"
    pub.write_bytes(asn1_pem.armor("PUBLIC KEY", spki_der))
    msg.write_bytes(data)
    sig.write_bytes(signature)
    cmd = [openssl, "dgst"]
    if algorithm is SignatureAlgorithm.SM2_SM3:
        cmd += ["-sm3", "-sigopt", "distid:" + DEFAULT_SM2_ID.decode("ascii")]
    else:
        cmd += ["-sha256"]
    if algorithm is SignatureAlgorithm.RSA_PSS_SHA256:
        cmd += [
            "-sigopt",
            "rsa_padding_mode:pss",
            "-sigopt",
            "rsa_pss_saltlen:32",
            "-sigopt",
            "rsa_mgf1_md:sha256",
        ]
    cmd += ["-verify", str(pub), "-signature", str(sig), str(msg)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)


def assert_openssl_verifies(
    tmp: Path, spki_der: bytes, algorithm: SignatureAlgorithm, signature: bytes
) -> None:
    ok = openssl_verify(tmp / "good", spki_der, algorithm, DATA, signature)
    assert ok.returncode == 0 and "Verified OK" in ok.stdout, ok.stdout + ok.stderr
    bad = openssl_verify(tmp / "bad", spki_der, algorithm, DATA + b"!", signature)
    assert bad.returncode != 0 and "Verified OK" not in bad.stdout


# --- signing with every algorithm ----------------------------------------------------------------


@pytest.mark.parametrize(("key_alg", "sig_alg"), SIGNING, ids=SIGNING_IDS)
def test_generated_key_signs_after_reopening_the_store_from_disk(
    key_dir: Path, master_key: bytes, key_alg: KeyAlgorithm, sig_alg: SignatureAlgorithm
) -> None:
    info = SoftwareKeyStore(key_dir, master_key).generate(key_alg, label="issuing org seal")

    reopened = SoftwareKeyStore(key_dir, master_key)
    assert reopened.get(info.key_id) == info
    signer = reopened.signer(info.key_id, sig_alg)
    signature = signer.sign(DATA)

    assert signer.algorithm is sig_alg
    spki = reopened.public_key_info(info.key_id)
    assert signer.public_key_info.dump() == spki.dump()
    verify(spki, sig_alg, DATA, signature)
    with pytest.raises(InvalidSignature):
        verify(spki, sig_alg, DATA + b"x", signature)


@pytest.mark.interop
@pytest.mark.parametrize(("key_alg", "sig_alg"), SIGNING, ids=SIGNING_IDS)
def test_signature_from_reopened_store_verifies_with_openssl_cli(
    tmp_path: Path, master_key: bytes, key_alg: KeyAlgorithm, sig_alg: SignatureAlgorithm
) -> None:
    key_dir = tmp_path / "keys"
    key_id = SoftwareKeyStore(key_dir, master_key).generate(key_alg).key_id
    reopened = SoftwareKeyStore(key_dir, master_key)

    signature = reopened.signer(key_id, sig_alg).sign(DATA)

    assert_openssl_verifies(tmp_path / "openssl", reopened.public_key_info(key_id).dump(), sig_alg, signature)


@pytest.mark.parametrize(
    ("key_alg", "expected"),
    [
        (KeyAlgorithm.SM2, SignatureAlgorithm.SM2_SM3),
        (KeyAlgorithm.ECDSA_P256, SignatureAlgorithm.ECDSA_SHA256),
        (KeyAlgorithm.RSA_3072, SignatureAlgorithm.RSA_PKCS1_SHA256),
    ],
)
def test_signer_without_algorithm_uses_the_keys_default(
    key_dir: Path, master_key: bytes, key_alg: KeyAlgorithm, expected: SignatureAlgorithm
) -> None:
    store = SoftwareKeyStore(key_dir, master_key)
    key_id = store.generate(key_alg).key_id

    signer = store.signer(key_id)

    assert signer.algorithm is expected
    verify(store.public_key_info(key_id), expected, DATA, signer.sign(DATA))


def test_signer_with_an_algorithm_that_does_not_fit_the_key_is_unsupported(
    key_dir: Path, master_key: bytes
) -> None:
    store = SoftwareKeyStore(key_dir, master_key)
    key_id = store.generate(KeyAlgorithm.SM2).key_id

    with pytest.raises(UnsupportedAlgorithm):
        store.signer(key_id, SignatureAlgorithm.RSA_PSS_SHA256)
    with pytest.raises(UnsupportedAlgorithm):
        store.signer(key_id, "dsa-sha1")  # type: ignore[arg-type]


def test_sm4_gcm_store_signs_after_reopening_and_reads_aes_keys(key_dir: Path, master_key: bytes) -> None:
    aes_id = SoftwareKeyStore(key_dir, master_key).generate(KeyAlgorithm.ECDSA_P256).key_id
    sm4_id = SoftwareKeyStore(key_dir, master_key, cipher="sm4-gcm").generate(KeyAlgorithm.SM2).key_id

    assert json.loads(_key_file(key_dir, sm4_id).read_text())["cipher"] == "sm4-gcm"
    assert json.loads(_key_file(key_dir, aes_id).read_text())["cipher"] == "aes-256-gcm"
    for cipher in ("aes-256-gcm", "sm4-gcm"):
        store = SoftwareKeyStore(key_dir, master_key, cipher=cipher)
        for key_id in (aes_id, sm4_id):
            signer = store.signer(key_id)
            verify(store.public_key_info(key_id), signer.algorithm, DATA, signer.sign(DATA))


def test_unknown_cipher_or_short_master_key_is_a_configuration_error(
    key_dir: Path, master_key: bytes
) -> None:
    with pytest.raises(ConfigurationError):
        SoftwareKeyStore(key_dir, master_key, cipher="aes-128-cbc")
    with pytest.raises(ConfigurationError):
        SoftwareKeyStore(key_dir, master_key[:16])


# --- import --------------------------------------------------------------------------------------


@pytest.mark.parametrize("key_alg", list(KeyAlgorithm), ids=[a.value for a in KeyAlgorithm])
def test_imported_key_signs_under_its_own_public_key(
    key_dir: Path, master_key: bytes, key_alg: KeyAlgorithm
) -> None:
    key = _new_private_key(key_alg)
    own_spki = dump_public_key(key.public_key(), encoding="der")

    info = SoftwareKeyStore(key_dir, master_key).import_private_key(key, label="imported")
    reopened = SoftwareKeyStore(key_dir, master_key)
    signer = reopened.signer(info.key_id)

    assert info.algorithm is key_alg and info.label == "imported" and info.store == "software"
    assert reopened.public_key_info(info.key_id).dump() == own_spki
    verify(own_spki, signer.algorithm, DATA, signer.sign(DATA))


def test_import_of_an_unsupported_key_type_is_refused(key_dir: Path, master_key: bytes) -> None:
    store = SoftwareKeyStore(key_dir, master_key)
    with pytest.raises(UnsupportedAlgorithm):
        store.import_private_key(ed25519.Ed25519PrivateKey.generate())  # type: ignore[arg-type]
    with pytest.raises(UnsupportedAlgorithm):
        store.import_private_key(ec.generate_private_key(ec.SECP384R1()))
    assert store.list() == []


# --- no private key in the clear -----------------------------------------------------------------


def _secrets_of(key: PrivateKey) -> dict[str, bytes]:
    """The PKCS#8 DER and the raw private numbers of ``key``."""
    der = dump_private_key(key, encoding="der")
    parsed = asn1_keys.PrivateKeyInfo.load(der)["private_key"].parsed
    found = {"pkcs8": der}
    if isinstance(parsed, asn1_keys.ECPrivateKey):
        found["d"] = parsed["private_key"].native.to_bytes(32, "big")
    else:
        for name in ("private_exponent", "prime1", "prime2"):
            value = parsed[name].native
            found[name] = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return found


def _renderings(secret: bytes) -> Iterator[tuple[str, bytes]]:
    """``secret`` as raw bytes, hex and base64 (both alphabets, at any byte alignment in a longer blob)."""
    yield "raw", secret
    yield "hex", secret.hex().encode()
    yield "HEX", secret.hex().upper().encode()
    for shift in range(3):
        for name, encode in (("base64", base64.b64encode), ("base64url", base64.urlsafe_b64encode)):
            text = encode(b"\0" * shift + secret)
            # The first and last 4 characters depend on the neighbouring bytes; the middle does not.
            yield f"{name}+{shift}", text[4:-4] if shift else text[:-4]


def _directory_bytes(directory: Path) -> bytes:
    blobs = [p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()]
    assert blobs, "the key store wrote nothing"
    return b"\n".join(blobs)


def _assert_no_secret_in(directory: Path, key: PrivateKey) -> None:
    hay = _directory_bytes(directory)
    squeezed = b"".join(hay.split())  # PEM line breaks, JSON indentation
    assert b"PRIVATE KEY" not in hay
    pem_body = b"".join(dump_private_key(key, encoding="pem").splitlines()[1:-1])
    assert pem_body not in squeezed
    for secret_name, secret in _secrets_of(key).items():
        for rendering, needle in _renderings(secret):
            assert needle not in hay, f"{secret_name} found as {rendering}"
            assert needle not in squeezed, f"{secret_name} found as {rendering}"


@pytest.mark.parametrize("key_alg", list(KeyAlgorithm), ids=[a.value for a in KeyAlgorithm])
@pytest.mark.parametrize("cipher", ["aes-256-gcm", "sm4-gcm"])
def test_generated_key_is_not_in_the_clear_in_any_file(
    key_dir: Path, master_key: bytes, key_alg: KeyAlgorithm, cipher: str
) -> None:
    store = SoftwareKeyStore(key_dir, master_key, cipher=cipher)
    key_id = store.generate(key_alg).key_id
    # The key as the store holds it, read back from disk by a fresh store (white-box: no public accessor).
    key = SoftwareKeyStore(key_dir, master_key)._load(key_id).key

    assert key_id.encode() in _directory_bytes(key_dir)
    _assert_no_secret_in(key_dir, key)


@pytest.mark.parametrize("key_alg", list(KeyAlgorithm), ids=[a.value for a in KeyAlgorithm])
def test_imported_key_is_not_in_the_clear_in_any_file(
    key_dir: Path, master_key: bytes, key_alg: KeyAlgorithm
) -> None:
    key = _new_private_key(key_alg)

    SoftwareKeyStore(key_dir, master_key).import_private_key(key)

    _assert_no_secret_in(key_dir, key)


def test_the_secret_scan_finds_a_key_written_in_the_clear(tmp_path: Path) -> None:
    """The scan above can fail: it catches each rendering of a leaked key."""
    key = _new_private_key(KeyAlgorithm.SM2)
    secrets_ = _secrets_of(key)
    for leak in (
        dump_private_key(key, encoding="pem"),
        base64.b64encode(secrets_["pkcs8"]),
        b'{"d": "' + secrets_["d"].hex().encode() + b'"}',
        b"x" + base64.urlsafe_b64encode(b"ab" + secrets_["d"] + b"z"),
    ):
        leaky = tmp_path / secrets.token_hex(4)
        leaky.mkdir()
        (leaky / "key.json").write_bytes(leak)
        with pytest.raises(AssertionError):
            _assert_no_secret_in(leaky, key)


def test_same_key_imported_twice_gets_fresh_ids_nonces_and_ciphertexts(
    key_dir: Path, master_key: bytes
) -> None:
    store = SoftwareKeyStore(key_dir, master_key)
    key = _new_private_key(KeyAlgorithm.ECDSA_P256)

    first, second = store.import_private_key(key), store.import_private_key(key)

    docs = [json.loads(_key_file(key_dir, i.key_id).read_text()) for i in (first, second)]
    assert first.key_id != second.key_id
    assert docs[0]["nonce"] != docs[1]["nonce"]
    assert docs[0]["ciphertext"] != docs[1]["ciphertext"]
    assert len(base64.b64decode(docs[0]["nonce"])) == 12


def test_key_ids_are_random_128_bit_hex(key_dir: Path, master_key: bytes) -> None:
    store = SoftwareKeyStore(key_dir, master_key)
    ids = {store.generate(KeyAlgorithm.ECDSA_P256).key_id for _ in range(20)}

    assert len(ids) == 20
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)


def test_directory_and_files_are_private_to_the_owner(key_dir: Path, master_key: bytes) -> None:
    store = SoftwareKeyStore(key_dir, master_key)
    store.generate(KeyAlgorithm.SM2)

    assert stat.S_IMODE(key_dir.stat().st_mode) == 0o700
    files = list(key_dir.iterdir())
    assert len(files) == 2  # check file + one key, no temporary files left behind
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name


def test_store_tightens_a_group_readable_directory(key_dir: Path, master_key: bytes) -> None:
    key_dir.mkdir(mode=0o755)
    os.chmod(key_dir, 0o755)

    SoftwareKeyStore(key_dir, master_key)

    assert stat.S_IMODE(key_dir.stat().st_mode) == 0o700


def test_repr_pickle_logs_and_errors_show_no_secret(
    key_dir: Path, master_key: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    store = SoftwareKeyStore(key_dir, master_key)
    key_id = store.generate(KeyAlgorithm.SM2).key_id
    signer = store.signer(key_id)
    signer.sign(DATA)
    key = store._load(key_id).key
    with pytest.raises(WrongMasterKey) as wrong:
        SoftwareKeyStore(key_dir, secrets.token_bytes(32))

    texts = [repr(store), repr(signer), str(wrong.value), repr(wrong.value), caplog.text]
    needles = [master_key, master_key.hex().encode(), base64.b64encode(master_key)]
    needles += [needle for secret in _secrets_of(key).values() for _, needle in _renderings(secret)]
    for text in texts:
        for needle in needles:
            assert needle.decode("latin-1") not in text
    assert key_id in repr(signer)
    for obj in (store, signer):
        with pytest.raises(TypeError):
            pickle.dumps(obj)


# --- wrong master key ----------------------------------------------------------------------------


def test_wrong_master_key_is_refused_when_opening_the_store(key_dir: Path, master_key: bytes) -> None:
    SoftwareKeyStore(key_dir, master_key).generate(KeyAlgorithm.SM2)

    with pytest.raises(WrongMasterKey):
        SoftwareKeyStore(key_dir, secrets.token_bytes(32))
    with pytest.raises(WrongMasterKey):
        SoftwareKeyStore(key_dir, secrets.token_bytes(32), cipher="sm4-gcm")


def test_wrong_master_key_is_refused_on_an_empty_store_too(key_dir: Path, master_key: bytes) -> None:
    SoftwareKeyStore(key_dir, master_key)

    with pytest.raises(WrongMasterKey):
        SoftwareKeyStore(key_dir, secrets.token_bytes(32))


@pytest.mark.parametrize("cipher", ["aes-256-gcm", "sm4-gcm"])
def test_key_written_under_another_master_key_raises_wrong_master_key_on_signer_use(
    tmp_path: Path, master_key: bytes, cipher: str
) -> None:
    other_dir = tmp_path / "other"
    foreign_id = (
        SoftwareKeyStore(other_dir, secrets.token_bytes(32), cipher=cipher).generate(KeyAlgorithm.SM2).key_id
    )
    ours = SoftwareKeyStore(tmp_path / "keys", master_key)
    shutil.copy(_key_file(other_dir, foreign_id), _key_file(ours.directory, foreign_id))

    assert ours.get(foreign_id).key_id == foreign_id  # the clear-text header is readable
    with pytest.raises(WrongMasterKey):
        ours.signer(foreign_id)
    with pytest.raises(WrongMasterKey):
        ours.public_key_info(foreign_id)


def test_store_whose_check_file_is_lost_still_detects_a_wrong_master_key(
    key_dir: Path, master_key: bytes
) -> None:
    key_id = SoftwareKeyStore(key_dir, master_key).generate(KeyAlgorithm.ECDSA_P256).key_id
    check_files = [p for p in key_dir.iterdir() if p.name != f"{key_id}.json"]
    assert len(check_files) == 1
    check_files[0].unlink()

    with pytest.raises(WrongMasterKey):
        SoftwareKeyStore(key_dir, secrets.token_bytes(32))
    # The right key re-creates the check file and works.
    store = SoftwareKeyStore(key_dir, master_key)
    store.signer(key_id).sign(DATA)
    assert check_files[0].exists()
    with pytest.raises(WrongMasterKey):
        SoftwareKeyStore(key_dir, secrets.token_bytes(32))


# --- tampering -----------------------------------------------------------------------------------


def _flip_ciphertext_byte(path: Path, index: int) -> None:
    doc = json.loads(path.read_text())
    blob = bytearray(base64.b64decode(doc["ciphertext"]))
    blob[index] ^= 0x01
    doc["ciphertext"] = base64.b64encode(bytes(blob)).decode()
    path.write_text(json.dumps(doc))


@pytest.mark.parametrize("index", [0, 40, -1], ids=["first", "middle", "tag"])
def test_flipped_ciphertext_byte_is_reported_as_tampered_not_as_wrong_key(
    key_dir: Path, master_key: bytes, index: int
) -> None:
    key_id = SoftwareKeyStore(key_dir, master_key).generate(KeyAlgorithm.SM2).key_id
    _flip_ciphertext_byte(_key_file(key_dir, key_id), index)
    store = SoftwareKeyStore(key_dir, master_key)

    with pytest.raises(KeyStoreError, match="tampered") as caught:
        store.signer(key_id)
    assert not isinstance(caught.value, WrongMasterKey)


def test_key_file_renamed_to_another_id_is_refused(key_dir: Path, master_key: bytes) -> None:
    key_id = SoftwareKeyStore(key_dir, master_key).generate(KeyAlgorithm.SM2).key_id
    other_id = secrets.token_hex(16)
    _key_file(key_dir, key_id).rename(_key_file(key_dir, other_id))
    store = SoftwareKeyStore(key_dir, master_key)

    with pytest.raises(KeyStoreError, match="another key id"):
        store.signer(other_id)
    # Editing the id inside the file as well does not help: the id is authenticated.
    _rewrite(_key_file(key_dir, other_id), {"key_id": other_id})
    with pytest.raises(KeyStoreError, match="tampered"):
        store.signer(other_id)
    with pytest.raises(KeyNotFound):
        store.get(key_id)


@pytest.mark.parametrize(
    "change",
    [
        {"algorithm": "rsa-3072"},
        {"label": "someone else's seal"},
        {"created_at": "2001-01-01T00:00:00+00:00"},
        {"format": 2},
        {"cipher": "sm4-gcm"},
        {"nonce": base64.b64encode(b"\0" * 12).decode()},
        {"ciphertext": "not base64!"},
        {"public_key": None},
    ],
    ids=lambda c: next(iter(c)),
)
def test_edited_key_file_field_gives_a_typed_error(
    key_dir: Path, master_key: bytes, change: dict[str, object]
) -> None:
    key_id = SoftwareKeyStore(key_dir, master_key).generate(KeyAlgorithm.SM2).key_id
    _rewrite(_key_file(key_dir, key_id), change)
    store = SoftwareKeyStore(key_dir, master_key)

    with pytest.raises(KeyStoreError):
        store.signer(key_id)


def test_swapped_public_key_is_detected(key_dir: Path, master_key: bytes) -> None:
    store = SoftwareKeyStore(key_dir, master_key)
    key_id = store.generate(KeyAlgorithm.ECDSA_P256).key_id
    attacker = dump_public_key(ec.generate_private_key(ec.SECP256R1()).public_key(), encoding="der")
    _rewrite(_key_file(key_dir, key_id), {"public_key": base64.b64encode(attacker).decode()})

    with pytest.raises(KeyStoreError):
        SoftwareKeyStore(key_dir, master_key).public_key_info(key_id)


@pytest.mark.parametrize("content", [b"", b"{", b"[]", b"\xff\xfe", b'{"format": 1}'])
def test_corrupt_key_file_gives_a_typed_error_and_is_skipped_by_list(
    key_dir: Path, master_key: bytes, content: bytes
) -> None:
    store = SoftwareKeyStore(key_dir, master_key)
    good = store.generate(KeyAlgorithm.SM2)
    bad_id = secrets.token_hex(16)
    _key_file(key_dir, bad_id).write_bytes(content)

    with pytest.raises(KeyStoreError):
        store.signer(bad_id)
    with pytest.raises(KeyStoreError):
        store.get(bad_id)
    assert store.list() == [good]


def test_corrupt_check_file_gives_a_typed_error(key_dir: Path, master_key: bytes) -> None:
    SoftwareKeyStore(key_dir, master_key)
    (check,) = list(key_dir.iterdir())
    check.write_text("garbage")

    with pytest.raises(KeyStoreError):
        SoftwareKeyStore(key_dir, master_key)


# --- ids, listing, sharing -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "key_id",
    ["0" * 32, secrets.token_hex(16), "../../etc/passwd", "master-key-check", "A" * 32, "", 42],
)
def test_unknown_or_malformed_key_id_is_key_not_found(key_dir: Path, master_key: bytes, key_id: str) -> None:
    store = SoftwareKeyStore(key_dir, master_key)

    for call in (store.get, store.public_key_info, store.signer):
        with pytest.raises(KeyNotFound):
            call(key_id)


def test_list_returns_every_key_oldest_first_with_its_info(key_dir: Path, master_key: bytes) -> None:
    times = iter(datetime(2025, 1, 1, tzinfo=UTC) + timedelta(days=d) for d in (3, 1, 2))
    store = SoftwareKeyStore(key_dir, master_key, clock=lambda: next(times))
    made = [store.generate(alg, label=f"key {alg.value}") for alg in KeyAlgorithm]

    listed = SoftwareKeyStore(key_dir, master_key).list()

    assert listed == sorted(made, key=lambda i: i.created_at)
    assert [i.created_at.day for i in listed] == [2, 3, 4]
    assert all(isinstance(i, KeyInfo) and i.store == "software" for i in listed)
    assert {i.label for i in listed} == {f"key {a.value}" for a in KeyAlgorithm}


@pytest.mark.parametrize("label", ["x" * 201, "line\nbreak", 7])
def test_generate_refuses_a_bad_label(key_dir: Path, master_key: bytes, label: str) -> None:
    with pytest.raises(InvalidInput):
        SoftwareKeyStore(key_dir, master_key).generate(KeyAlgorithm.SM2, label=label)


def test_generate_refuses_an_unknown_algorithm(key_dir: Path, master_key: bytes) -> None:
    with pytest.raises(UnsupportedAlgorithm):
        SoftwareKeyStore(key_dir, master_key).generate("dsa-1024")  # type: ignore[arg-type]


def test_two_store_objects_over_one_directory_see_each_others_keys(key_dir: Path, master_key: bytes) -> None:
    first, second = SoftwareKeyStore(key_dir, master_key), SoftwareKeyStore(key_dir, master_key)

    a = first.generate(KeyAlgorithm.SM2)
    b = second.generate(KeyAlgorithm.ECDSA_P256)

    assert {i.key_id for i in first.list()} == {i.key_id for i in second.list()} == {a.key_id, b.key_id}
    for store, key_id in ((first, b.key_id), (second, a.key_id)):
        signer = store.signer(key_id)
        verify(store.public_key_info(key_id), signer.algorithm, DATA, signer.sign(DATA))


def test_key_made_by_another_process_is_usable_here(key_dir: Path, master_key: bytes) -> None:
    SoftwareKeyStore(key_dir, master_key)
    script = (
        "import sys; from pathlib import Path\n"
        "from trustsvc.keys.keystore import SoftwareKeyStore\n"
        "from trustsvc.keys.algorithms import KeyAlgorithm\n"
        "store = SoftwareKeyStore(Path(sys.argv[1]), bytes.fromhex(sys.argv[2]))\n"
        "print(store.generate(KeyAlgorithm.SM2, label='child').key_id)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(key_dir), master_key.hex()],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    key_id = done.stdout.strip()

    store = SoftwareKeyStore(key_dir, master_key)
    assert store.get(key_id).label == "child"
    verify(store.public_key_info(key_id), SignatureAlgorithm.SM2_SM3, DATA, store.signer(key_id).sign(DATA))


def test_concurrent_first_opens_agree_on_one_master_key(tmp_path: Path) -> None:
    keys = [secrets.token_bytes(32), secrets.token_bytes(32)]
    for round_ in range(5):
        directory = tmp_path / f"race{round_}"
        outcome: dict[int, str] = {}
        start = threading.Barrier(8)

        def open_store(
            i: int,
            directory: Path = directory,
            outcome: dict[int, str] = outcome,
            start: threading.Barrier = start,
        ) -> None:
            start.wait()
            try:
                SoftwareKeyStore(directory, keys[i % 2]).generate(KeyAlgorithm.ECDSA_P256)
                outcome[i] = "ok"
            except WrongMasterKey:
                outcome[i] = "wrong"

        threads = [threading.Thread(target=open_store, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

        winners = {i % 2 for i, r in outcome.items() if r == "ok"}
        assert len(outcome) == 8 and len(winners) == 1, outcome
        assert all(r == "wrong" for i, r in outcome.items() if i % 2 not in winners)
        assert len(SoftwareKeyStore(directory, keys[winners.pop()]).list()) == 4


def test_signing_decrypts_each_key_once_per_store(
    key_dir: Path, master_key: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    key_id = SoftwareKeyStore(key_dir, master_key).generate(KeyAlgorithm.SM2).key_id
    store = SoftwareKeyStore(key_dir, master_key)
    calls: list[str] = []
    real = store._decrypt

    def counting_decrypt(cipher: str, nonce: bytes, ciphertext: bytes, aad: bytes) -> bytes:
        calls.append(cipher)
        return real(cipher, nonce, ciphertext, aad)

    monkeypatch.setattr(store, "_decrypt", counting_decrypt)

    for _ in range(5):
        store.signer(key_id).sign(DATA)
    store.public_key_info(key_id)

    assert len(calls) == 1


def test_stores_satisfy_the_keystore_protocol(key_dir: Path, master_key: bytes) -> None:
    assert isinstance(SoftwareKeyStore(key_dir, master_key), KeyStore)


# --- master key ----------------------------------------------------------------------------------


def test_master_key_from_env_accepts_base64_and_hex(tmp_path: Path) -> None:
    key = secrets.token_bytes(32)
    missing = tmp_path / "absent"

    assert load_master_key(env_value=base64.b64encode(key).decode(), path=missing) == key
    assert load_master_key(env_value=base64.urlsafe_b64encode(key).decode(), path=missing) == key
    assert load_master_key(env_value=f"  {key.hex()}\n", path=missing) == key
    assert load_master_key(env_value=key.hex().upper(), path=missing) == key


@pytest.mark.parametrize(
    "value",
    [
        base64.b64encode(b"k" * 31).decode(),
        base64.b64encode(b"k" * 33).decode(),
        "ab" * 31,
        "ab" * 33,
        "not a key at all",
        base64.b64encode(b"k" * 32).decode()[:-1],
    ],
)
def test_malformed_master_key_in_env_is_a_configuration_error_that_hides_the_value(
    tmp_path: Path, value: str
) -> None:
    with pytest.raises(ConfigurationError, match="TRUSTSVC_MASTER_KEY") as caught:
        load_master_key(env_value=value, path=tmp_path / "absent", create=True)
    assert value not in str(caught.value)
    assert not (tmp_path / "absent").exists()


def test_master_key_from_env_wins_over_the_file(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    from_file = load_master_key(env_value=None, path=path, create=True)
    from_env = secrets.token_bytes(32)

    assert load_master_key(env_value=base64.b64encode(from_env).decode(), path=path) == from_env
    assert load_master_key(env_value="", path=path) == from_file
    assert load_master_key(env_value="  ", path=path) == from_file


def test_missing_master_key_file_is_created_private_only_when_asked(tmp_path: Path) -> None:
    path = tmp_path / "home" / "master.key"
    with pytest.raises(ConfigurationError, match="does not exist"):
        load_master_key(env_value=None, path=path)

    key = load_master_key(env_value=None, path=path, create=True)

    assert len(key) == 32 and path.read_bytes() == key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert load_master_key(env_value=None, path=path, create=True) == key
    assert load_master_key(env_value=None, path=path) == key
    assert [p.name for p in path.parent.iterdir()] == ["master.key"]


def test_master_key_file_may_hold_base64_or_hex_text(tmp_path: Path) -> None:
    key = secrets.token_bytes(32)
    b64, hexed = tmp_path / "b64", tmp_path / "hex"
    b64.write_text(base64.b64encode(key).decode() + "\n")
    hexed.write_text(key.hex() + "\n")

    assert load_master_key(env_value=None, path=b64) == key
    assert load_master_key(env_value=None, path=hexed) == key


@pytest.mark.parametrize("content", [b"", b"short", os.urandom(33), os.urandom(64), b"\xff" * 44])
def test_malformed_master_key_file_is_a_configuration_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "master.key"
    path.write_bytes(content)

    with pytest.raises(ConfigurationError, match=str(path)):
        load_master_key(env_value=None, path=path, create=True)
    assert path.read_bytes() == content  # never overwritten


def test_master_key_path_that_is_a_directory_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError):
        load_master_key(env_value=None, path=tmp_path, create=True)


def test_concurrent_creation_of_the_master_key_file_yields_one_key(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    results: list[bytes] = []
    start = threading.Barrier(8)

    def create() -> None:
        start.wait()
        results.append(load_master_key(env_value=None, path=path, create=True))

    threads = [threading.Thread(target=create) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert len(results) == 8 and len(set(results)) == 1 and path.read_bytes() == results[0]
