"""SM2 interop with the `openssl` command line, both ways: signatures, user IDs and key files.

The CLI is an independent caller of OpenSSL (its own PEM/DER handling, option parsing and defaults), so each
test here checks one claim of ``trustsvc.keys.sm2`` against what another tool actually does.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from trustsvc.errors import InvalidSignature
from trustsvc.keys.sm2 import DEFAULT_SM2_ID, SM2PrivateKey, SM2PublicKey

OPENSSL = shutil.which("openssl")
DISTID = "distid:" + DEFAULT_SM2_ID.decode()


def _openssl_has_sm2() -> bool:
    if OPENSSL is None:
        return False
    out = subprocess.run(
        [OPENSSL, "list", "-signature-algorithms"], capture_output=True, text=True, check=False
    )
    return "SM2" in out.stdout


pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(OPENSSL is None, reason="the `openssl` command line tool is not installed"),
    pytest.mark.skipif(OPENSSL is not None and not _openssl_has_sm2(), reason="this `openssl` has no SM2"),
]


def openssl(*args: str | Path, input: bytes | None = None) -> bytes:
    """Run ``openssl ARGS`` and return stdout; fail the test with OpenSSL's stderr if it fails."""
    assert OPENSSL is not None
    result = subprocess.run(
        [OPENSSL, *map(str, args)], input=input, capture_output=True, check=False, timeout=60
    )
    if result.returncode != 0:
        pytest.fail(f"openssl {' '.join(map(str, args))} failed: {result.stderr.decode(errors='replace')}")
    return result.stdout


def openssl_verify(pub_pem: Path, sig: Path, msg: Path, *, distid: str | None = DISTID) -> bool:
    """True if ``openssl dgst -sm3 -verify`` accepts ``sig`` (with the default ID unless told otherwise)."""
    assert OPENSSL is not None
    opts = ["-sigopt", distid] if distid else []
    result = subprocess.run(
        [OPENSSL, "dgst", "-sm3", "-verify", pub_pem, *opts, "-signature", sig, msg],
        capture_output=True,
        check=False,
        timeout=60,
    )
    return result.returncode == 0 and b"Verified OK" in result.stdout


@pytest.fixture
def openssl_key(tmp_path: Path) -> Path:
    """A key made by `openssl genpkey -algorithm SM2` (PKCS#8 PEM)."""
    path = tmp_path / "k.pem"
    openssl("genpkey", "-algorithm", "SM2", "-out", path)
    return path


def openssl_spki_der(key_file: Path, *extra: str) -> bytes:
    return openssl("pkey", "-in", key_file, *extra, "-pubout", "-outform", "DER")


# --- signatures ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, 32, 1000, 100_000])
def test_our_signature_verifies_with_openssl_dgst(tmp_path: Path, size: int) -> None:
    key = SM2PrivateKey.generate()
    (tmp_path / "pub.pem").write_bytes(key.public_key().to_pem())
    msg = bytes(range(256)) * (size // 256) + bytes(range(size % 256))
    (tmp_path / "msg").write_bytes(msg)
    (tmp_path / "sig").write_bytes(key.sign(msg))
    assert openssl_verify(tmp_path / "pub.pem", tmp_path / "sig", tmp_path / "msg")
    # ...and OpenSSL really checks: not under its own (empty) default ID, not for another message.
    assert not openssl_verify(tmp_path / "pub.pem", tmp_path / "sig", tmp_path / "msg", distid=None)
    (tmp_path / "msg").write_bytes(msg + b"!")
    assert not openssl_verify(tmp_path / "pub.pem", tmp_path / "sig", tmp_path / "msg")


def test_our_signature_with_a_custom_uid_verifies_with_openssl(tmp_path: Path) -> None:
    key = SM2PrivateKey.generate()
    (tmp_path / "pub.pem").write_bytes(key.public_key().to_pem())
    (tmp_path / "msg").write_bytes(b"custom id")
    (tmp_path / "sig").write_bytes(key.sign(b"custom id", uid=b"ALICE123@YAHOO.COM"))
    assert openssl_verify(
        tmp_path / "pub.pem", tmp_path / "sig", tmp_path / "msg", distid="distid:ALICE123@YAHOO.COM"
    )
    assert not openssl_verify(tmp_path / "pub.pem", tmp_path / "sig", tmp_path / "msg")


@pytest.mark.parametrize("round_", range(3))
def test_openssl_signature_verifies_with_ours(tmp_path: Path, openssl_key: Path, round_: int) -> None:
    msg = f"signed by the openssl CLI, round {round_}".encode()
    (tmp_path / "msg").write_bytes(msg)
    sig = openssl("dgst", "-sm3", "-sign", openssl_key, "-sigopt", DISTID, tmp_path / "msg")
    pub = SM2PublicKey.from_der(openssl_spki_der(openssl_key))
    pub.verify(sig, msg)
    with pytest.raises(InvalidSignature):
        pub.verify(sig, msg + b"!")


def test_openssl_signature_with_the_empty_id_is_rejected_under_the_default_id(
    tmp_path: Path, openssl_key: Path
) -> None:
    (tmp_path / "msg").write_bytes(b"no -sigopt")
    sig = openssl("dgst", "-sm3", "-sign", openssl_key, tmp_path / "msg")  # OpenSSL's default: empty ID
    pub = SM2PublicKey.from_der(openssl_spki_der(openssl_key))
    with pytest.raises(InvalidSignature):
        pub.verify(sig, b"no -sigopt")
    with pytest.raises(InvalidSignature):
        pub.verify_lenient(sig, b"no -sigopt")
    pub.verify(sig, b"no -sigopt", uid=b"")  # it is the ID that differs, nothing else


# --- key files ----------------------------------------------------------------------------------------------


def test_our_pkcs8_pem_read_by_openssl_gives_the_same_spki(tmp_path: Path) -> None:
    key = SM2PrivateKey.generate()
    (tmp_path / "ours.pem").write_bytes(key.to_pkcs8_pem())
    assert openssl("pkey", "-in", tmp_path / "ours.pem", "-pubout") == key.public_key().to_pem()
    assert openssl_spki_der(tmp_path / "ours.pem") == key.public_key().to_der()
    # OpenSSL sees a key on the SM2 curve.
    assert b"ASN1 OID: SM2" in openssl("pkey", "-in", tmp_path / "ours.pem", "-text_pub", "-noout")


def test_our_pkcs8_der_and_public_pem_are_read_by_openssl(tmp_path: Path) -> None:
    key = SM2PrivateKey.generate()
    (tmp_path / "ours.der").write_bytes(key.to_pkcs8_der())
    (tmp_path / "pub.pem").write_bytes(key.public_key().to_pem())
    assert (
        openssl("pkey", "-inform", "DER", "-in", tmp_path / "ours.der", "-pubout")
        == key.public_key().to_pem()
    )
    assert (
        openssl("pkey", "-pubin", "-in", tmp_path / "pub.pem", "-outform", "DER") == key.public_key().to_der()
    )


def test_our_encrypted_pkcs8_is_read_by_openssl_with_the_password(tmp_path: Path) -> None:
    key = SM2PrivateKey.generate()
    (tmp_path / "enc.pem").write_bytes(key.to_pkcs8_pem(password=b"s3cret pass"))
    (tmp_path / "enc.der").write_bytes(key.to_pkcs8_der(password=b"s3cret pass"))
    out = openssl("pkey", "-in", tmp_path / "enc.pem", "-passin", "pass:s3cret pass", "-pubout")
    assert out == key.public_key().to_pem()
    out = openssl(
        "pkey", "-inform", "DER", "-in", tmp_path / "enc.der", "-passin", "pass:s3cret pass", "-pubout"
    )
    assert out == key.public_key().to_pem()
    # The file is really encrypted: without the right password OpenSSL cannot read it.
    assert OPENSSL is not None
    wrong = subprocess.run(
        [OPENSSL, "pkey", "-in", tmp_path / "enc.pem", "-passin", "pass:wrong", "-pubout"],
        capture_output=True,
        check=False,
        timeout=60,
    )
    assert wrong.returncode != 0


def test_openssl_genpkey_pem_loads_and_signs_verifiably(tmp_path: Path, openssl_key: Path) -> None:
    key = SM2PrivateKey.from_pem(openssl_key.read_bytes())
    assert key.public_key().to_der() == openssl_spki_der(openssl_key)
    openssl("pkey", "-in", openssl_key, "-pubout", "-out", tmp_path / "pub.pem")
    (tmp_path / "msg").write_bytes(b"signed by us with an openssl key")
    (tmp_path / "sig").write_bytes(key.sign(b"signed by us with an openssl key"))
    assert openssl_verify(tmp_path / "pub.pem", tmp_path / "sig", tmp_path / "msg")


def test_openssl_pkcs8_der_loads_and_signs_verifiably(tmp_path: Path, openssl_key: Path) -> None:
    der = openssl("pkcs8", "-topk8", "-nocrypt", "-in", openssl_key, "-outform", "DER")
    key = SM2PrivateKey.from_der(der)
    assert key.to_pkcs8_der() == der  # same bytes back
    openssl("pkey", "-in", openssl_key, "-pubout", "-out", tmp_path / "pub.pem")
    (tmp_path / "msg").write_bytes(b"der")
    (tmp_path / "sig").write_bytes(key.sign(b"der"))
    assert openssl_verify(tmp_path / "pub.pem", tmp_path / "sig", tmp_path / "msg")


@pytest.mark.parametrize("cipher", ["aes-256-cbc", "sm4-cbc"])
def test_openssl_encrypted_pkcs8_loads_with_the_password(
    tmp_path: Path, openssl_key: Path, cipher: str
) -> None:
    enc = openssl("pkcs8", "-topk8", "-v2", cipher, "-passout", "pass:open sesame", "-in", openssl_key)
    assert enc.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    key = SM2PrivateKey.from_pem(enc, password=b"open sesame")
    assert key.public_key().to_der() == openssl_spki_der(openssl_key)
    openssl("pkey", "-in", openssl_key, "-pubout", "-out", tmp_path / "pub.pem")
    (tmp_path / "msg").write_bytes(b"encrypted")
    (tmp_path / "sig").write_bytes(key.sign(b"encrypted"))
    assert openssl_verify(tmp_path / "pub.pem", tmp_path / "sig", tmp_path / "msg")


def test_openssl_sec1_pem_and_der_load(openssl_key: Path) -> None:
    expected = openssl_spki_der(openssl_key)
    sec1_pem = openssl("ec", "-in", openssl_key)
    # OpenSSL 3.0 labels SEC1 SM2 keys "SM2 PRIVATE KEY" (older tools write "EC PRIVATE KEY"; both load).
    assert sec1_pem.startswith((b"-----BEGIN SM2 PRIVATE KEY-----", b"-----BEGIN EC PRIVATE KEY-----"))
    sec1_der = openssl("ec", "-in", openssl_key, "-outform", "DER")
    assert SM2PrivateKey.from_pem(sec1_pem).public_key().to_der() == expected
    assert SM2PrivateKey.from_der(sec1_der).public_key().to_der() == expected


def test_openssl_compressed_public_key_loads(openssl_key: Path) -> None:
    compressed = openssl("ec", "-in", openssl_key, "-pubout", "-conv_form", "compressed", "-outform", "DER")
    assert len(compressed) < 91
    assert SM2PublicKey.from_der(compressed).to_der() == openssl_spki_der(openssl_key)
