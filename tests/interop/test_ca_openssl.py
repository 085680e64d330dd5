"""The openssl CLI checks what the running CA serves: chains, CRLs from the CDP URL, revocation reasons.

Everything comes out of the Flask app as a relying party would fetch it: the CA certificates from
``/ca/<name>.crt``, the leaf from ``POST /api/v1/certificates``, the CRLs from ``/crl/<name>.crl`` and
``/crl/<name>-delta.crl``. The CA runs on a clock set to the real time, so openssl's validity checks apply.

SM2 and OpenSSL 3.0: ``-vfyopt distid:…`` applies only to the certificate named on the command line (see
tests/interop/test_openssl_chain.py), so every link is checked on its own with ``-partial_chain`` and the
root's self-signature with ``openssl dgst -sm3 -sigopt distid:…`` over its TBS; the SM2 CRL's signature is
checked the same way.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from asn1crypto import crl, pem, x509
from flask.testing import FlaskClient

from tests.conftest import FakeClock
from tests.tools import DISTID, OpenSSL
from tests.tools import hex_serial as _hex_serial
from trustsvc.auth import create_api_key
from trustsvc.keys.algorithms import KeyAlgorithm
from trustsvc.service import TrustService

pytestmark = pytest.mark.interop


@pytest.fixture
def tool(openssl: OpenSSL) -> OpenSSL:
    """The openssl CLI working in a temporary directory (the shared ``openssl`` fixture)."""
    return openssl


@pytest.fixture
def running(service: TrustService, clock: FakeClock) -> TrustService:
    clock.now = datetime.now(UTC)
    service.ca.init_pki(KeyAlgorithm.SM2, actor="test")
    service.ca.init_pki(KeyAlgorithm.ECDSA_P256, actor="test")
    return service


@pytest.fixture
def operator(running: TrustService) -> dict[str, str]:
    with running.session() as session, session.begin():
        _, token = create_api_key(session, "interop", ["ca-operator"])
    return {"Authorization": f"Bearer {token}"}


def _fetch_ca(client: FlaskClient, tool: OpenSSL, name: str, filename: str) -> bytes:
    response = client.get(f"/ca/{name}.crt")
    assert response.status_code == 200
    tool.write(filename, pem.armor("CERTIFICATE", response.data))
    return bytes(response.data)


def _issue(
    client: FlaskClient, headers: dict[str, str], ca: str, profile: str, csr: bytes, **extra: object
) -> dict:
    body = {"ca": ca, "profile": profile, "csr": csr.decode("ascii"), **extra}
    response = client.post("/api/v1/certificates", json=body, headers=headers)
    assert response.status_code == 201, response.get_data(as_text=True)
    result: dict = response.get_json()
    return result


# --- ECDSA hierarchy -----------------------------------------------------------------------------


def test_openssl_verifies_the_ecdsa_chain_and_the_served_crl(
    tool: OpenSSL, client: FlaskClient, operator: dict[str, str]
) -> None:
    _fetch_ca(client, tool, "ecdsa-root", "root.pem")
    _fetch_ca(client, tool, "ecdsa-issuing", "issuing.pem")
    tool.ok("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "key.pem")
    tool.ok(
        "req", "-new", "-key", "key.pem", "-utf8",
        "-subj", "/C=CN/O=某省住房和城乡建设厅/CN=工程建设项目审批系统",
        "-addext", "basicConstraints=critical,CA:TRUE", "-out", "req.pem",
    )  # fmt: skip
    leaf = _issue(client, operator, "ecdsa-issuing", "tls-client", (tool.workdir / "req.pem").read_bytes())
    tool.write("leaf.pem", leaf["certificate"].encode())
    other = _issue(client, operator, "ecdsa-issuing", "tls-client", (tool.workdir / "req.pem").read_bytes())
    tool.write("other.pem", other["certificate"].encode())

    result = tool.ok("verify", "-x509_strict", "-CAfile", "root.pem", "-untrusted", "issuing.pem", "leaf.pem")
    assert result.stdout.strip() == "leaf.pem: OK"
    text = tool.ok("x509", "-in", "leaf.pem", "-noout", "-text").stdout
    assert "CA:FALSE" in text  # the CSR asked for CA:TRUE
    assert "TLS Web Client Authentication" in text

    revoked = client.post(
        f"/api/v1/certificates/ecdsa-issuing/{leaf['serial']}/revoke",
        json={"reason": "keyCompromise"},
        headers=operator,
    )
    assert revoked.status_code == 200

    served = client.get("/crl/ecdsa-issuing.crl")
    assert served.mimetype == "application/pkix-crl"
    tool.write("crl.der", served.data)
    result = tool.ok(
        "crl", "-inform", "DER", "-in", "crl.der", "-CAfile", "issuing.pem", "-verify", "-noout", "-text"
    )
    assert "verify OK" in result.stderr
    entry = result.stdout.split(f"Serial Number: {_hex_serial(int(leaf['serial'], 16))}", 1)
    assert len(entry) == 2, result.stdout
    assert "Key Compromise" in entry[1].split("Serial Number:", 1)[0]
    assert f"Serial Number: {_hex_serial(int(other['serial'], 16))}" not in result.stdout
    assert "X509v3 Freshest CRL" in result.stdout and "/crl/ecdsa-issuing-delta.crl" in result.stdout

    # the CRL as a relying party uses it: the revoked leaf fails, its sibling passes
    tool.write("crl.pem", pem.armor("X509 CRL", served.data))
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
    refused = tool.run(*common, "leaf.pem")
    assert refused.returncode != 0 and "certificate revoked" in refused.stderr
    assert tool.ok(*common, "other.pem").stdout.strip() == "other.pem: OK"


def test_openssl_reads_hold_and_remove_from_crl_in_the_served_delta(
    tool: OpenSSL, client: FlaskClient, operator: dict[str, str]
) -> None:
    _fetch_ca(client, tool, "ecdsa-issuing", "issuing.pem")
    tool.ok("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "key.pem")
    tool.ok("req", "-new", "-key", "key.pem", "-subj", "/C=CN/O=Org/CN=held", "-out", "req.pem")
    leaf = _issue(client, operator, "ecdsa-issuing", "tls-client", (tool.workdir / "req.pem").read_bytes())
    serial = _hex_serial(int(leaf["serial"], 16))
    client.get("/crl/ecdsa-issuing.crl")  # a complete CRL in circulation before the hold

    assert (
        client.post(f"/api/v1/certificates/ecdsa-issuing/{leaf['serial']}/hold", headers=operator).status_code
        == 200
    )
    tool.write("held.der", client.get("/crl/ecdsa-issuing.crl").data)
    text = tool.ok(
        "crl", "-inform", "DER", "-in", "held.der", "-CAfile", "issuing.pem", "-verify", "-noout", "-text"
    )
    assert f"Serial Number: {serial}" in text.stdout and "Certificate Hold" in text.stdout

    assert (
        client.post(
            f"/api/v1/certificates/ecdsa-issuing/{leaf['serial']}/release", headers=operator
        ).status_code
        == 200
    )
    tool.write("delta.der", client.get("/crl/ecdsa-issuing-delta.crl").data)
    result = tool.ok(
        "crl", "-inform", "DER", "-in", "delta.der", "-CAfile", "issuing.pem", "-verify", "-noout", "-text"
    )
    assert "verify OK" in result.stderr
    assert re.search(r"X509v3 Delta CRL Indicator: critical", result.stdout), result.stdout
    assert f"Serial Number: {serial}" in result.stdout and "Remove From CRL" in result.stdout
    tool.write("full.der", client.get("/crl/ecdsa-issuing.crl").data)
    full = tool.ok("crl", "-inform", "DER", "-in", "full.der", "-noout", "-text").stdout
    assert f"Serial Number: {serial}" not in full


# --- SM2 hierarchy -------------------------------------------------------------------------------


def test_openssl_verifies_each_sm2_link_with_the_default_id(
    tool: OpenSSL, client: FlaskClient, operator: dict[str, str]
) -> None:
    root_der = _fetch_ca(client, tool, "sm2-root", "root.pem")
    _fetch_ca(client, tool, "sm2-issuing", "issuing.pem")
    tool.ok("genpkey", "-algorithm", "SM2", "-out", "key.pem")
    tool.ok(
        "req", "-new", "-key", "key.pem", "-sm3", "-sigopt", DISTID, "-utf8",
        "-subj", "/C=CN/O=某市市场监督管理局/CN=某市市场监督管理局行政审批专用章", "-out", "req.pem",
    )  # fmt: skip
    leaf = _issue(
        client,
        operator,
        "sm2-issuing",
        "seal-signer",
        (tool.workdir / "req.pem").read_bytes(),
        subject={"uscc": "91110000600037341L"},
    )
    tool.write("leaf.pem", leaf["certificate"].encode())

    result = tool.ok(
        "verify", "-vfyopt", DISTID, "-x509_strict", "-partial_chain", "-CAfile", "issuing.pem", "leaf.pem"
    )
    assert result.stdout.strip() == "leaf.pem: OK"
    result = tool.ok("verify", "-vfyopt", DISTID, "-x509_strict", "-CAfile", "root.pem", "issuing.pem")
    assert result.stdout.strip() == "issuing.pem: OK"
    # without the ID (OpenSSL's empty default) the leaf's signature does not verify: we really sign with it
    assert tool.run("verify", "-partial_chain", "-CAfile", "issuing.pem", "leaf.pem").returncode != 0

    root = x509.Certificate.load(root_der)
    tool.ok("x509", "-in", "root.pem", "-pubkey", "-noout", "-out", "root-pub.pem")
    _dgst_verifies(tool, "root-pub.pem", root["tbs_certificate"].dump(), root.signature)

    text = tool.ok("x509", "-in", "leaf.pem", "-noout", "-text", "-nameopt", "utf8").stdout
    assert "Signature Algorithm: SM2-with-SM3" in text
    assert "organizationIdentifier=NTRCN-91110000600037341L" in text


def test_sm2_crl_served_lists_the_revoked_serial_and_verifies_with_the_default_id(
    tool: OpenSSL, client: FlaskClient, operator: dict[str, str]
) -> None:
    _fetch_ca(client, tool, "sm2-issuing", "issuing.pem")
    tool.ok("genpkey", "-algorithm", "SM2", "-out", "key.pem")
    tool.ok(
        "req",
        "-new",
        "-key",
        "key.pem",
        "-sm3",
        "-sigopt",
        DISTID,
        "-subj",
        "/C=CN/O=Org/CN=sm2",
        "-out",
        "req.pem",
    )
    leaf = _issue(client, operator, "sm2-issuing", "tls-client", (tool.workdir / "req.pem").read_bytes())
    client.post(
        f"/api/v1/certificates/sm2-issuing/{leaf['serial']}/revoke",
        json={"reason": "superseded"},
        headers=operator,
    )

    der = client.get("/crl/sm2-issuing.crl").data
    tool.write("crl.der", der)
    text = tool.ok("crl", "-inform", "DER", "-in", "crl.der", "-noout", "-text").stdout
    assert f"Serial Number: {_hex_serial(int(leaf['serial'], 16))}" in text and "Superseded" in text
    assert "Signature Algorithm: SM2-with-SM3" in text
    cert_list = crl.CertificateList.load(der)
    tool.ok("x509", "-in", "issuing.pem", "-pubkey", "-noout", "-out", "issuing-pub.pem")
    _dgst_verifies(tool, "issuing-pub.pem", cert_list["tbs_cert_list"].dump(), cert_list.signature)


def _dgst_verifies(tool: OpenSSL, public_key: str, tbs: bytes, signature: bytes) -> None:
    tool.write("tbs.der", tbs)
    tool.write("sig.der", signature)
    result = tool.ok(
        "dgst", "-sm3", "-verify", public_key, "-sigopt", DISTID, "-signature", "sig.der", "tbs.der"
    )
    assert result.stdout.strip() == "Verified OK"


def test_interop_fixture_uses_the_real_time(running: TrustService) -> None:
    not_before = running.ca.ca("sm2-root").not_before
    assert abs((datetime.now(UTC) - not_before).total_seconds()) < 600
