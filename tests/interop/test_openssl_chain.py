"""The openssl CLI as an independent verifier of our chains and CRLs (root → issuing CA → every profile).

SM2 and OpenSSL 3.0: ``openssl verify -vfyopt distid:…`` attaches the distinguishing ID only to the
certificate named on the command line (apps/verify.c calls ``x509_ctrl_string`` on that one certificate),
never to certificates read from ``-CAfile``/``-untrusted``, and libcrypto has no store-wide default ID
(spec/standards.md §1.6). A chain in which every signature uses the GM/T 0009 default ID — ours — therefore
cannot pass the one-shot three-certificate command on OpenSSL 3.0: the issuing CA's signature is checked with
the empty ID and fails. So every SM2 link is checked on its own, the certificate under test being the command
line target and its issuer the trust anchor (``-partial_chain``); the root's self-signature is checked with
``openssl dgst -sm3 -sigopt distid:…`` over its TBS bytes; and the one-shot command is run too, accepting
either success (a fixed OpenSSL) or exactly that known failure.
"""

from __future__ import annotations

import re
import subprocess
from datetime import UTC, datetime, timedelta
from urllib.parse import unquote

import pytest
from asn1crypto import crl, pem, x509

from tests.pki import BASE, LEAF_KINDS, SUBJECTS, issue
from tests.tools import DISTID, OpenSSL
from tests.tools import hex_serial as _hex_serial
from trustsvc.ca.profiles import ProfileKind
from trustsvc.ca.x509 import RevocationReason, RevokedEntry, build_crl
from trustsvc.keys.algorithms import KeyAlgorithm

pytestmark = pytest.mark.interop


class Pki:
    """Root, issuing CA and one leaf of every profile, written as PEM files into the openssl workdir."""

    def __init__(self, openssl: OpenSSL, algorithm: KeyAlgorithm) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
        self.root = issue(ProfileKind.ROOT, None, algorithm, not_before=self.now)
        self.issuing = issue(ProfileKind.ISSUING_CA, self.root, algorithm, not_before=self.now)
        self.leaves = {kind: issue(kind, self.issuing, algorithm, not_before=self.now) for kind in LEAF_KINDS}
        openssl.write("root.pem", _pem(self.root.certificate))
        openssl.write("issuing.pem", _pem(self.issuing.certificate))
        for kind, leaf in self.leaves.items():
            openssl.write(f"{kind}.pem", _pem(leaf.certificate))


def _pem(certificate: x509.Certificate) -> bytes:
    return pem.armor("CERTIFICATE", certificate.dump())


@pytest.fixture
def ecdsa_pki(openssl: OpenSSL) -> Pki:
    return Pki(openssl, KeyAlgorithm.ECDSA_P256)


@pytest.fixture
def sm2_pki(openssl: OpenSSL) -> Pki:
    return Pki(openssl, KeyAlgorithm.SM2)


# --- chains --------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", LEAF_KINDS, ids=str)
def test_openssl_verifies_ecdsa_chain_of_every_profile(
    openssl: OpenSSL, ecdsa_pki: Pki, kind: ProfileKind
) -> None:
    result = openssl.ok(
        "verify",
        "-x509_strict",
        "-check_ss_sig",
        "-CAfile",
        "root.pem",
        "-untrusted",
        "issuing.pem",
        f"{kind}.pem",
    )
    assert result.stdout.strip() == f"{kind}.pem: OK"


def test_openssl_verifies_every_sm2_link_with_the_default_id(openssl: OpenSSL, sm2_pki: Pki) -> None:
    result = openssl.ok("verify", "-vfyopt", DISTID, "-x509_strict", "-CAfile", "root.pem", "issuing.pem")
    assert result.stdout.strip() == "issuing.pem: OK"
    for kind in LEAF_KINDS:
        result = openssl.ok(
            "verify",
            "-vfyopt",
            DISTID,
            "-x509_strict",
            "-partial_chain",
            "-CAfile",
            "issuing.pem",
            f"{kind}.pem",
        )
        assert result.stdout.strip() == f"{kind}.pem: OK"


def test_sm2_root_self_signature_verifies_with_openssl_dgst(openssl: OpenSSL, sm2_pki: Pki) -> None:
    _dgst_verifies(
        openssl, sm2_pki.root.certificate["tbs_certificate"].dump(), sm2_pki.root.certificate.signature
    )
    # and the self-signed root as target: only "self-signed" (18), no signature failure (7)
    result = openssl.run("verify", "-vfyopt", DISTID, "-check_ss_sig", "root.pem")
    assert "error 18 at 0 depth" in result.stderr
    assert "error 7 " not in result.stderr


def test_sm2_links_do_not_verify_with_openssl_default_empty_id(openssl: OpenSSL, sm2_pki: Pki) -> None:
    result = openssl.run("verify", "-CAfile", "root.pem", "issuing.pem")
    assert result.returncode != 0
    assert "certificate signature failure" in result.stderr
    result = openssl.run("verify", "-partial_chain", "-CAfile", "issuing.pem", "seal-signer.pem")
    assert result.returncode != 0


@pytest.mark.parametrize("kind", LEAF_KINDS, ids=str)
def test_openssl_one_shot_sm2_chain_command(openssl: OpenSSL, sm2_pki: Pki, kind: ProfileKind) -> None:
    """The issue's command: passes where OpenSSL applies the ID chain-wide, else fails only above depth 0."""
    result = openssl.run(
        "verify",
        "-vfyopt",
        DISTID,
        "-check_ss_sig",
        "-CAfile",
        "root.pem",
        "-untrusted",
        "issuing.pem",
        f"{kind}.pem",
    )
    if result.returncode == 0:
        assert result.stdout.strip() == f"{kind}.pem: OK"
        return
    # OpenSSL 3.0: the target (depth 0) verified with the ID; the issuing CA (depth 1, from -untrusted) and
    # the root's self-signature (depth 2, -check_ss_sig) were checked with the empty ID.
    errors = re.findall(r"error (\d+) at (\d+) depth lookup", result.stderr)
    assert errors, result.stderr
    assert {code for code, _ in errors} == {"7"}, result.stderr
    assert "0" not in {depth for _, depth in errors}, result.stderr


def test_openssl_purposes_follow_the_ekus(openssl: OpenSSL, ecdsa_pki: Pki) -> None:
    def verify(kind: str, purpose: str) -> subprocess.CompletedProcess[str]:
        return openssl.run(
            "verify", "-purpose", purpose, "-CAfile", "root.pem", "-untrusted", "issuing.pem", f"{kind}.pem"
        )

    assert verify("tls-client", "sslclient").returncode == 0
    assert verify("tsa", "timestampsign").returncode == 0
    for kind in ("seal-signer", "person-signer", "seal-maker", "tsa", "ocsp-responder"):
        refused = verify(kind, "sslclient")
        assert refused.returncode != 0 and "unsuitable certificate purpose" in refused.stderr, kind
    for kind in ("seal-signer", "tls-client"):
        assert verify(kind, "timestampsign").returncode != 0, kind


@pytest.mark.parametrize("algorithm", [KeyAlgorithm.SM2, KeyAlgorithm.ECDSA_P256], ids=str)
def test_openssl_text_shows_chinese_subjects(openssl: OpenSSL, algorithm: KeyAlgorithm) -> None:
    Pki(openssl, algorithm)
    expected = {
        "seal-signer.pem": (
            "Subject: C=CN, ST=某省, L=某市, O=某市市场监督管理局, OU=行政审批科, "
            "organizationIdentifier=NTRCN-91110000600037341L, CN=某市市场监督管理局行政审批专用章"
        ),
        "person-signer.pem": "Subject: C=CN, O=某市政务服务中心, CN=张三, serialNumber=PID-",
        "issuing.pem": (
            "Issuer: C=CN, O=某省数据资源管理局, "
            "organizationIdentifier=NTRCN-11330105002500287C, CN=某省电子印章根CA"
        ),
    }
    for name, line in expected.items():
        text = openssl.ok("x509", "-in", name, "-noout", "-text", "-nameopt", "utf8").stdout
        assert line in text, text
    for kind in LEAF_KINDS:
        text = openssl.ok("x509", "-in", f"{kind}.pem", "-noout", "-text", "-nameopt", "utf8").stdout
        assert SUBJECTS[kind].common_name in text
        # default name printing escapes non-ASCII as \XX octets; they must be the UTF-8 of the same name
        default = openssl.ok("x509", "-in", f"{kind}.pem", "-noout", "-subject").stdout
        octets = re.sub(r"\\([0-9A-F]{2})", lambda m: f"%{m.group(1)}", default)
        assert SUBJECTS[kind].common_name in unquote(octets, encoding="utf-8", errors="strict")
    signature = "SM2-with-SM3" if algorithm is KeyAlgorithm.SM2 else "ecdsa-with-SHA256"
    assert (
        f"Signature Algorithm: {signature}" in openssl.ok("x509", "-in", "tsa.pem", "-noout", "-text").stdout
    )


# --- CRLs ----------------------------------------------------------------------------------------


def _crls(pki: Pki) -> tuple[x509.Certificate, bytes, bytes, int]:
    revoked = pki.leaves[ProfileKind.SEAL_SIGNER].certificate.serial_number
    full = build_crl(
        pki.issuing.certificate,
        pki.issuing.signer,
        [
            RevokedEntry(revoked, pki.now, RevocationReason.KEY_COMPROMISE, pki.now - timedelta(days=2)),
            RevokedEntry(0x0BADC0DE, pki.now, RevocationReason.CERTIFICATE_HOLD),
        ],
        12,
        pki.now,
        pki.now + timedelta(days=2),
        base_url=BASE,
        ca_name="issuing",
    )
    delta = build_crl(
        pki.issuing.certificate,
        pki.issuing.signer,
        [RevokedEntry(0x0BADC0DE, pki.now, RevocationReason.REMOVE_FROM_CRL)],
        13,
        pki.now,
        pki.now + timedelta(hours=6),
        delta_base=12,
        base_url=BASE,
        ca_name="issuing",
    )
    return pki.issuing.certificate, full.dump(), delta.dump(), revoked


def test_openssl_verifies_ecdsa_crl_and_lists_revoked_serial_with_reason(
    openssl: OpenSSL, ecdsa_pki: Pki
) -> None:
    _, full, delta, revoked = _crls(ecdsa_pki)
    openssl.write("crl.pem", pem.armor("X509 CRL", full))
    openssl.write("delta.pem", pem.armor("X509 CRL", delta))
    result = openssl.ok("crl", "-in", "crl.pem", "-CAfile", "issuing.pem", "-verify", "-noout", "-text")
    assert "verify OK" in result.stderr
    text = result.stdout
    entry = text.split(f"Serial Number: {_hex_serial(revoked)}", 1)
    assert len(entry) == 2, text
    assert "Key Compromise" in entry[1].split("Serial Number:", 1)[0]
    assert "Invalidity Date" in entry[1].split("Serial Number:", 1)[0]
    assert "Certificate Hold" in text
    assert re.search(r"X509v3 CRL Number: \n\s+12\b", text), text
    assert "X509v3 Freshest CRL" in text and f"{BASE}/crl/issuing-delta.crl" in text

    result = openssl.ok("crl", "-in", "delta.pem", "-CAfile", "issuing.pem", "-verify", "-noout", "-text")
    assert "verify OK" in result.stderr
    assert re.search(r"X509v3 Delta CRL Indicator: critical\s+12\b", result.stdout), result.stdout
    assert "Remove From CRL" in result.stdout


def test_openssl_crl_check_rejects_the_revoked_ecdsa_leaf(openssl: OpenSSL, ecdsa_pki: Pki) -> None:
    _, full, _, _ = _crls(ecdsa_pki)
    openssl.write("crl.pem", pem.armor("X509 CRL", full))
    common = (
        "verify",
        "-crl_check",
        "-CRLfile",
        "crl.pem",
        "-CAfile",
        "root.pem",
        "-untrusted",
        "issuing.pem",
    )
    revoked = openssl.run(*common, "seal-signer.pem")
    assert revoked.returncode != 0 and "certificate revoked" in revoked.stderr
    assert openssl.ok(*common, "tsa.pem").stdout.strip() == "tsa.pem: OK"


def test_sm2_crl_signature_verifies_with_openssl_dgst_and_distid(openssl: OpenSSL, sm2_pki: Pki) -> None:
    issuer, full, delta, revoked = _crls(sm2_pki)
    openssl.write("issuing.der", issuer.dump())
    openssl.ok("x509", "-in", "issuing.pem", "-pubkey", "-noout", "-out", "pub.pem")
    for der in (full, delta):
        cert_list = crl.CertificateList.load(der)
        _dgst_verifies(openssl, cert_list["tbs_cert_list"].dump(), cert_list.signature)
    openssl.write("crl.der", full)
    text = openssl.ok("crl", "-inform", "DER", "-in", "crl.der", "-noout", "-text").stdout
    assert f"Serial Number: {_hex_serial(revoked)}" in text and "Key Compromise" in text
    assert "Signature Algorithm: SM2-with-SM3" in text


def _dgst_verifies(openssl: OpenSSL, tbs: bytes, signature: bytes) -> None:
    openssl.write("tbs.der", tbs)
    openssl.write("sig.der", signature)
    if not (openssl.workdir / "pub.pem").exists():
        openssl.ok("x509", "-in", "root.pem", "-pubkey", "-noout", "-out", "pub.pem")
    result = openssl.ok(
        "dgst", "-sm3", "-verify", "pub.pem", "-sigopt", DISTID, "-signature", "sig.der", "tbs.der"
    )
    assert result.stdout.strip() == "Verified OK"
    # and the empty ID (OpenSSL's default) does not verify it: the signature really uses the default ID
    assert (
        openssl.run("dgst", "-sm3", "-verify", "pub.pem", "-signature", "sig.der", "tbs.der").returncode != 0
    )
