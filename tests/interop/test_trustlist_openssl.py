"""The openssl CLI verifies our trust list as another province would: nothing but openssl and the pin.

The envelope is taken apart with ``openssl base64``, the signer's public key read from the pinned
certificate with ``openssl x509``, and the signature checked over the exact payload bytes with
``openssl dgst`` — SM3 with the SM2 distinguishing ID for the default (SM2) list, SHA-256 for the ECDSA
variant. The entries' fingerprints are recomputed by openssl from the certificates they carry.
"""

from __future__ import annotations

import base64
import json

import pytest
from asn1crypto import pem

from tests.test_trustlist import make_pki
from tests.tools import DISTID, OpenSSL
from trustsvc.keys.algorithms import KeyAlgorithm
from trustsvc.service import TrustService

pytestmark = pytest.mark.interop


@pytest.fixture
def published(service: TrustService) -> TrustService:
    return make_pki(service, KeyAlgorithm.SM2, KeyAlgorithm.ECDSA_P256)


def _unpack(openssl: OpenSSL, service: TrustService, hierarchy: str) -> dict[str, str]:
    """Write the envelope's parts as files the way a relying party would, and return their names."""
    document = service.trust.current(hierarchy).document
    envelope = json.loads(document)
    prefix = hierarchy
    openssl.write(f"{prefix}.payload.b64", envelope["payload"].encode())
    openssl.write(f"{prefix}.sig.b64", envelope["signature"].encode())
    # the pin: exchanged out of band; here the operator's export of the signer certificate
    pin = pem.armor("CERTIFICATE", service.trust.signer_certificate(hierarchy))
    openssl.write(f"{prefix}.signer.pem", pin)
    assert envelope["certificates"][0].encode() == pin  # the envelope carries the same certificate
    openssl.ok("base64", "-d", "-A", "-in", f"{prefix}.payload.b64", "-out", f"{prefix}.payload.json")
    openssl.ok("base64", "-d", "-A", "-in", f"{prefix}.sig.b64", "-out", f"{prefix}.sig.der")
    openssl.ok("x509", "-in", f"{prefix}.signer.pem", "-pubkey", "-noout", "-out", f"{prefix}.signer.pub")
    return {
        "payload": f"{prefix}.payload.json",
        "signature": f"{prefix}.sig.der",
        "key": f"{prefix}.signer.pub",
        "certificate": f"{prefix}.signer.pem",
    }


def test_openssl_verifies_the_sm2_list_with_the_distinguishing_id(
    openssl: OpenSSL, published: TrustService
) -> None:
    files = _unpack(openssl, published, "sm2")
    result = openssl.ok(
        "dgst", "-sm3", "-verify", files["key"], "-sigopt", DISTID,
        "-signature", files["signature"], files["payload"],
    )  # fmt: skip
    assert result.stdout.strip() == "Verified OK"
    # OpenSSL's default (empty) ID is not what we sign with
    default_id = openssl.run(
        "dgst", "-sm3", "-verify", files["key"], "-signature", files["signature"], files["payload"]
    )
    assert default_id.returncode != 0 and "Verification failure" in default_id.stdout + default_id.stderr
    # what was verified is the list itself
    payload = json.loads((openssl.workdir / files["payload"]).read_bytes())
    assert payload["format"] == "trustsvc-trust-list/1" and payload["sequence"] == 1


def test_openssl_refuses_a_tampered_sm2_list(openssl: OpenSSL, published: TrustService) -> None:
    files = _unpack(openssl, published, "sm2")
    path = openssl.workdir / files["payload"]
    path.write_bytes(path.read_bytes().replace(b'"sequence":1', b'"sequence":9'))
    result = openssl.run(
        "dgst", "-sm3", "-verify", files["key"], "-sigopt", DISTID,
        "-signature", files["signature"], files["payload"],
    )  # fmt: skip
    assert result.returncode != 0 and "Verification failure" in result.stdout + result.stderr


def test_openssl_verifies_the_ecdsa_list(openssl: OpenSSL, published: TrustService) -> None:
    files = _unpack(openssl, published, "ecdsa")
    result = openssl.ok(
        "dgst", "-sha256", "-verify", files["key"], "-signature", files["signature"], files["payload"]
    )
    assert result.stdout.strip() == "Verified OK"
    sm2 = published.trust.current("sm2").payload
    assert (openssl.workdir / files["payload"]).read_bytes() == sm2  # one payload, two signatures


def test_openssl_sees_the_signer_certificate_chained_and_for_trust_list_signing(
    openssl: OpenSSL, published: TrustService
) -> None:
    for hierarchy in ("sm2", "ecdsa"):
        files = _unpack(openssl, published, hierarchy)
        issuing = published.ca.ca(f"{hierarchy}-issuing").certificate_der
        openssl.write(f"{hierarchy}-issuing.pem", pem.armor("CERTIFICATE", issuing))
        extra = ["-vfyopt", DISTID] if hierarchy == "sm2" else []
        verified = openssl.ok(
            "verify", *extra, "-partial_chain", "-CAfile", f"{hierarchy}-issuing.pem", files["certificate"]
        )
        assert verified.stdout.strip().endswith(": OK")
        text = openssl.ok(
            "x509", "-in", files["certificate"], "-noout", "-ext", "extendedKeyUsage,keyUsage"
        ).stdout
        assert "0.4.0.2231.3.0" in text
        assert "Digital Signature, Non Repudiation" in text


def test_openssl_recomputes_the_entry_fingerprints(openssl: OpenSSL, published: TrustService) -> None:
    payload = json.loads(published.trust.current().payload)
    for index, entry in enumerate(e for e in payload["entries"] if "certificate" in e):
        name = openssl.write(f"entry{index}.der", base64.b64decode(entry["certificate"]))
        sha256 = openssl.ok("x509", "-inform", "DER", "-in", name, "-noout", "-fingerprint", "-sha256").stdout
        assert sha256.strip().split("=", 1)[1].replace(":", "").lower() == entry["sha256"]
        sm3 = openssl.ok("dgst", "-sm3", "-r", name).stdout
        assert sm3.split()[0] == entry["sm3"]
