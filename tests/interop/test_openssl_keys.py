"""The openssl CLI as an independent party: its SM2 certificates, CSRs, keys and signatures against ours.

OpenSSL signs and verifies SM2 with an *empty* user ID unless told otherwise (spec/standards.md §1.6), so
every SM2 command here passes ``distid:1234567812345678`` explicitly, and two tests show the empty ID fails.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from asn1crypto import csr, x509
from asn1crypto import keys as asn1_keys
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tests.tools import DISTID, require_tool
from trustsvc import errors
from trustsvc.keys.algorithms import SignatureAlgorithm, signature_algorithm_of
from trustsvc.keys.encoding import dump_private_key, dump_public_key, load_private_key, load_public_key
from trustsvc.keys.signer import software_signer, verify
from trustsvc.keys.sm2 import SM2PrivateKey

pytestmark = pytest.mark.interop

PASSWORD = "s3cret pass"
DATA = "证照数据 licence payload\n".encode()

GENPKEY = {
    "sm2": ["-algorithm", "SM2"],
    "p256": ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
    "rsa": ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:3072"],
}
DGST = {
    SignatureAlgorithm.SM2_SM3: ["-sm3", "-sigopt", DISTID],
    SignatureAlgorithm.ECDSA_SHA256: ["-sha256"],
    SignatureAlgorithm.RSA_PKCS1_SHA256: ["-sha256"],
    SignatureAlgorithm.RSA_PSS_SHA256: [
        "-sha256",
        "-sigopt",
        "rsa_padding_mode:pss",
        "-sigopt",
        "rsa_pss_saltlen:32",
    ],
}
KIND_OF = {
    SignatureAlgorithm.SM2_SM3: "sm2",
    SignatureAlgorithm.ECDSA_SHA256: "p256",
    SignatureAlgorithm.RSA_PKCS1_SHA256: "rsa",
    SignatureAlgorithm.RSA_PSS_SHA256: "rsa",
}


class OpenSSL:
    """The openssl binary, run in one temporary directory (bytes output, unlike tests.tools.OpenSSL)."""

    def __init__(self, binary: str, workdir: Path) -> None:
        self.binary = binary
        self.workdir = workdir

    def run(self, *args: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run([self.binary, *args], cwd=self.workdir, capture_output=True, check=False)

    def ok(self, *args: str) -> bytes:
        result = self.run(*args)
        assert result.returncode == 0, (
            f"openssl {' '.join(args)} failed: {result.stderr.decode(errors='replace')}"
        )
        return result.stdout

    def write(self, name: str, data: bytes) -> str:
        (self.workdir / name).write_bytes(data)
        return name

    def read(self, name: str) -> bytes:
        return (self.workdir / name).read_bytes()

    def genpkey(self, kind: str, name: str = "key.pem") -> str:
        self.ok("genpkey", *GENPKEY[kind], "-out", name)
        return name

    def spki_der(self, key_file: str, *extra: str) -> bytes:
        return self.ok("pkey", "-in", key_file, *extra, "-pubout", "-outform", "DER")


@pytest.fixture
def openssl(tmp_path: Path) -> OpenSSL:
    """This module's bytes-mode runner; overrides the shared (text-mode) ``openssl`` fixture of conftest."""
    return OpenSSL(require_tool("openssl"), tmp_path)


def _our_key(kind: str):
    if kind == "sm2":
        return SM2PrivateKey.generate()
    if kind == "p256":
        return ec.generate_private_key(ec.SECP256R1())
    return rsa.generate_private_key(public_exponent=65537, key_size=3072)


# --- SM2 certificates and CSRs made by openssl ---------------------------------------------------


def test_openssl_sm2_certificate_parses_with_names_round_trips_and_its_signature_verifies_with_ours(openssl):
    key = openssl.genpkey("sm2")
    openssl.ok(
        "req", "-x509", "-new", "-key", key, "-sm3", "-sigopt", DISTID, "-subj", "/CN=x",
        "-days", "30", "-outform", "DER", "-out", "cert.der",
    )  # fmt: skip
    der = openssl.read("cert.der")
    cert = x509.Certificate.load(der)

    assert cert["signature_algorithm"]["algorithm"].native == "sm2_sm3"
    assert cert["tbs_certificate"]["signature"]["algorithm"].native == "sm2_sm3"
    assert (cert.signature_algo, cert.hash_algo) == ("sm2", "sm3")
    assert cert.public_key.curve == ("named", "sm2p256v1")
    assert cert.public_key.bit_size == 256
    assert cert.dump() == der
    assert x509.Certificate.load(der).dump(force=True) == der  # every field re-encoded, byte-exact

    algorithm = signature_algorithm_of(cert["signature_algorithm"])
    assert algorithm is SignatureAlgorithm.SM2_SM3
    tbs = cert["tbs_certificate"].dump()
    verify(cert.public_key, algorithm, tbs, cert["signature_value"].native)
    with pytest.raises(errors.InvalidSignature):
        verify(cert.public_key, algorithm, tbs + b"\x00", cert["signature_value"].native)
    # The key in the certificate is the key in the file, as we read both.
    assert cert.public_key.dump() == dump_public_key(
        load_private_key(openssl.read(key)).public_key(), encoding="der"
    )


def test_openssl_sm2_certificate_signed_with_its_default_empty_id_fails_under_the_gm_default(openssl):
    key = openssl.genpkey("sm2")
    openssl.ok(
        "req", "-x509", "-new", "-key", key, "-sm3", "-subj", "/CN=x", "-outform", "DER", "-out", "c.der"
    )
    cert = x509.Certificate.load(openssl.read("c.der"))
    tbs, signature = cert["tbs_certificate"].dump(), cert["signature_value"].native
    with pytest.raises(errors.InvalidSignature):
        verify(cert.public_key, SignatureAlgorithm.SM2_SM3, tbs, signature)
    verify(cert.public_key, SignatureAlgorithm.SM2_SM3, tbs, signature, uid=b"")


def test_openssl_sm2_csr_parses_and_its_signature_verifies_with_ours(openssl):
    key = openssl.genpkey("sm2")
    openssl.ok(
        "req", "-new", "-key", key, "-sm3", "-sigopt", DISTID, "-subj", "/CN=seal signer/O=trustsvc",
        "-outform", "DER", "-out", "req.der",
    )  # fmt: skip
    der = openssl.read("req.der")
    request = csr.CertificationRequest.load(der)
    assert request["signature_algorithm"]["algorithm"].native == "sm2_sm3"
    info = request["certification_request_info"]
    assert info["subject_pk_info"].curve == ("named", "sm2p256v1")
    assert request.dump() == der
    algorithm = signature_algorithm_of(request["signature_algorithm"])
    verify(info["subject_pk_info"], algorithm, info.dump(), request["signature"].native)
    with pytest.raises(errors.InvalidSignature):
        verify(info["subject_pk_info"], algorithm, info.dump(), request["signature"].native, uid=b"")


# --- signatures both ways ------------------------------------------------------------------------


@pytest.mark.parametrize("alg", list(SignatureAlgorithm), ids=lambda a: a.value)
def test_openssl_verifies_signatures_made_by_software_signer(openssl, alg):
    key = _our_key(KIND_OF[alg])
    signature = software_signer(key, alg).sign(DATA)
    pub = openssl.write("pub.pem", dump_public_key(key.public_key()))
    openssl.write("data", DATA)
    openssl.write("sig", signature)
    out = openssl.ok("dgst", *DGST[alg], "-verify", pub, "-signature", "sig", "data")
    assert b"Verified OK" in out
    openssl.write("data", DATA + b"!")
    tampered = openssl.run("dgst", *DGST[alg], "-verify", pub, "-signature", "sig", "data")
    assert tampered.returncode != 0
    assert b"Verification failure" in tampered.stdout + tampered.stderr


def test_openssl_rejects_our_sm2_signature_without_the_gm_default_id(openssl):
    key = SM2PrivateKey.generate()
    openssl.write("pub.pem", dump_public_key(key.public_key()))
    openssl.write("data", DATA)
    openssl.write("sig", software_signer(key).sign(DATA))
    result = openssl.run("dgst", "-sm3", "-verify", "pub.pem", "-signature", "sig", "data")
    assert result.returncode != 0


@pytest.mark.parametrize("alg", list(SignatureAlgorithm), ids=lambda a: a.value)
def test_signatures_made_by_openssl_verify_with_ours(openssl, alg):
    key = openssl.genpkey(KIND_OF[alg])
    openssl.write("data", DATA)
    openssl.ok("dgst", *DGST[alg], "-sign", key, "-out", "sig", "data")
    spki = openssl.spki_der(key)
    signature = openssl.read("sig")
    verify(spki, alg, DATA, signature)
    verify(dump_public_key(load_public_key(spki), encoding="der"), alg, DATA, signature)
    with pytest.raises(errors.InvalidSignature):
        verify(spki, alg, DATA + b"!", signature)


# --- key files both ways -------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["sm2", "p256", "rsa"])
def test_openssl_genpkey_pem_loads_as_the_same_key(openssl, kind):
    key_file = openssl.genpkey(kind)
    key = load_private_key(openssl.read(key_file))
    assert dump_public_key(key.public_key(), encoding="der") == openssl.spki_der(key_file)
    assert load_public_key(openssl.ok("pkey", "-in", key_file, "-pubout")) is not None


@pytest.mark.parametrize("kind", ["sm2", "p256", "rsa"])
@pytest.mark.parametrize(
    "variant",
    ["pkey-der", "pkcs8-der", "traditional-pem", "pkcs8-aes-pem", "pkcs8-aes-der"],
)
def test_openssl_key_file_variants_load_as_the_same_key(openssl, kind, variant):
    key_file = openssl.genpkey(kind)
    expected = openssl.spki_der(key_file)
    password = None
    if variant == "pkey-der":  # SEC1 for SM2 and EC, PKCS#1 for RSA
        openssl.ok("pkey", "-in", key_file, "-outform", "DER", "-out", "out")
    elif variant == "pkcs8-der":
        openssl.ok("pkcs8", "-topk8", "-nocrypt", "-in", key_file, "-outform", "DER", "-out", "out")
    elif variant == "traditional-pem":  # SM2 PRIVATE KEY / EC PRIVATE KEY / RSA PRIVATE KEY
        if kind == "rsa":
            openssl.ok("rsa", "-in", key_file, "-traditional", "-out", "out")
        else:
            openssl.ok("ec", "-in", key_file, "-out", "out")
        label = {"sm2": b"SM2 PRIVATE KEY", "p256": b"EC PRIVATE KEY", "rsa": b"RSA PRIVATE KEY"}[kind]
        assert openssl.read("out").startswith(b"-----BEGIN " + label)
    else:
        outform = "DER" if variant.endswith("der") else "PEM"
        openssl.ok(
            "pkcs8", "-topk8", "-v2", "aes-256-cbc", "-in", key_file, "-passout", f"pass:{PASSWORD}",
            "-outform", outform, "-out", "out",
        )  # fmt: skip
        password = PASSWORD.encode()
    key = load_private_key(openssl.read("out"), password=password)
    assert dump_public_key(key.public_key(), encoding="der") == expected


@pytest.mark.parametrize("curve", ["SM2", "prime256v1"])
def test_openssl_ecparam_genkey_output_with_parameters_block_loads(openssl, curve):
    openssl.ok("ecparam", "-name", curve, "-genkey", "-out", "key.pem")
    assert b"PARAMETERS-----" in openssl.read("key.pem")
    key = load_private_key(openssl.read("key.pem"))
    assert dump_public_key(key.public_key(), encoding="der") == openssl.spki_der("key.pem")


def test_openssl_sm4_encrypted_sm2_key_loads_and_a_wrong_password_is_invalid_input(openssl):
    key_file = openssl.genpkey("sm2")
    openssl.ok(
        "pkcs8", "-topk8", "-v2", "sm4-cbc", "-in", key_file, "-passout", f"pass:{PASSWORD}", "-out", "enc"
    )
    data = openssl.read("enc")
    key = load_private_key(data, password=PASSWORD.encode())
    assert dump_public_key(key.public_key(), encoding="der") == openssl.spki_der(key_file)
    with pytest.raises(errors.InvalidInput) as caught:
        load_private_key(data, password=b"not it")
    assert type(caught.value) is errors.InvalidInput
    assert "wrong password" in caught.value.detail


@pytest.mark.parametrize("kind", ["sm2", "p256"])
def test_openssl_legacy_encrypted_pem_loads_for_p256_and_is_refused_as_unsupported_for_sm2(openssl, kind):
    key_file = openssl.genpkey(kind)
    openssl.ok("ec", "-in", key_file, "-aes256", "-passout", f"pass:{PASSWORD}", "-out", "legacy.pem")
    data = openssl.read("legacy.pem")
    assert b"Proc-Type: 4,ENCRYPTED" in data
    with pytest.raises(errors.InvalidInput, match="wrong password"):
        load_private_key(data, password=b"not it")
    if kind == "sm2":
        with pytest.raises(errors.UnsupportedAlgorithm, match="pkcs8 -topk8"):
            load_private_key(data, password=PASSWORD.encode())
    else:
        key = load_private_key(data, password=PASSWORD.encode())
        assert dump_public_key(key.public_key(), encoding="der") == openssl.spki_der(key_file)


@pytest.mark.parametrize("kind", ["sm2", "p256", "rsa"])
def test_openssl_encrypted_pkcs8_with_a_wrong_password_is_invalid_input(openssl, kind):
    key_file = openssl.genpkey(kind)
    openssl.ok(
        "pkcs8", "-topk8", "-v2", "aes-256-cbc", "-in", key_file, "-passout", f"pass:{PASSWORD}", "-out", "e"
    )
    with pytest.raises(errors.InvalidInput) as caught:
        load_private_key(openssl.read("e"), password=b"not it")
    assert type(caught.value) is errors.InvalidInput
    assert "wrong password" in caught.value.detail
    assert "not it" not in str(caught.value)


@pytest.mark.parametrize("kind", ["sm2", "p256", "rsa"])
@pytest.mark.parametrize("encoding", ["pem", "der"])
@pytest.mark.parametrize("encrypted", [False, True], ids=["plain", "encrypted"])
def test_openssl_reads_our_pkcs8_and_derives_the_same_spki(openssl, kind, encoding, encrypted):
    key = _our_key(kind)
    password = PASSWORD.encode() if encrypted else None
    key_file = openssl.write("ours.key", dump_private_key(key, encoding=encoding, password=password))
    extra = ["-inform", encoding.upper()]
    if encrypted:
        extra += ["-passin", f"pass:{PASSWORD}"]
    assert openssl.spki_der(key_file, *extra) == dump_public_key(key.public_key(), encoding="der")
    if encrypted:
        wrong = openssl.run(
            "pkey", "-in", key_file, "-inform", encoding.upper(), "-passin", "pass:nope", "-pubout"
        )
        assert wrong.returncode != 0


@pytest.mark.parametrize("kind", ["sm2", "p256", "rsa"])
def test_openssl_reads_our_spki(openssl, kind):
    key = _our_key(kind)
    openssl.write("pub.pem", dump_public_key(key.public_key()))
    out = openssl.ok("pkey", "-pubin", "-in", "pub.pem", "-pubout", "-outform", "DER")
    assert out == dump_public_key(key.public_key(), encoding="der")


@pytest.mark.parametrize(
    "genpkey",
    [
        ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"],
        ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024"],
        ["-algorithm", "ED25519"],
    ],
    ids=["p384", "rsa1024", "ed25519"],
)
def test_openssl_keys_of_other_types_are_unsupported(openssl, genpkey):
    openssl.ok("genpkey", *genpkey, "-out", "key.pem")
    with pytest.raises(errors.UnsupportedAlgorithm):
        load_private_key(openssl.read("key.pem"))
    with pytest.raises(errors.UnsupportedAlgorithm):
        load_public_key(openssl.spki_der("key.pem"))


# --- the fixed-DER-template SM2 forms (spec/sm2-backends.md appendix) ----------------------------


def test_sm2_keys_in_fixed_template_form_mean_the_same_key_to_openssl_and_to_us(openssl):
    key_file = openssl.genpkey("sm2")
    pkcs8 = openssl.ok("pkcs8", "-topk8", "-nocrypt", "-in", key_file, "-outform", "DER")
    spki = openssl.spki_der(key_file)
    d = asn1_keys.PrivateKeyInfo.load(pkcs8)["private_key"].parsed["private_key"].contents
    point = asn1_keys.PublicKeyInfo.load(spki)["public_key"].native
    prefix = "308187020100301306072a8648ce3d020106082a811ccf5501822d046d306b0201010420"
    template_pkcs8 = bytes.fromhex(prefix) + d + bytes.fromhex("a144034200") + point
    template_spki = bytes.fromhex("3059301306072a8648ce3d020106082a811ccf5501822d034200") + point

    assert spki == template_spki  # OpenSSL writes exactly the template
    openssl.write("template.der", template_pkcs8)
    assert openssl.spki_der("template.der", "-inform", "DER") == spki
    key = load_private_key(template_pkcs8)
    assert dump_public_key(key.public_key(), encoding="der") == spki
    assert dump_public_key(load_public_key(template_spki), encoding="der") == spki
    signature = software_signer(key).sign(DATA)
    openssl.write("data", DATA)
    openssl.write("sig", signature)
    openssl.write("pub.der", spki)
    assert b"Verified OK" in openssl.ok(
        "dgst",
        "-sm3",
        "-sigopt",
        DISTID,
        "-verify",
        "pub.der",
        "-keyform",
        "DER",
        "-signature",
        "sig",
        "data",
    )
