"""Seals made by the registry and their signed status answers, checked by the `openssl` command line.

* The maker signature of a seal the registry made verifies with ``openssl dgst -sm3 -verify maker_pub.pem
  -sigopt distid:1234567812345678`` over the ``SES_SealInfo`` bytes openssl itself cut from the ``SESeal``
  (``openssl asn1parse``), with the public key openssl took from the maker certificate inside it.
* The public status answer verifies the same way over the decoded ``payload`` bytes, with the key of the
  certificate the answer carries, and that certificate chains to the issuing CA the answer also carries
  (``openssl verify -vfyopt distid:… -partial_chain``).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from asn1crypto import pem

from tests.interop.test_ses_openssl import (
    DISTID,
    OPENSSL,
    SignedPart,
    _openssl_has_sm2,
    asn1_items,
    openssl,
    openssl_verifies,
    signed_part,
    verify_with_openssl,
)
from trustsvc.keys.algorithms import KeyAlgorithm
from trustsvc.seal import ses
from trustsvc.service import TrustService

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(OPENSSL is None, reason="the `openssl` command line tool is not installed"),
    pytest.mark.skipif(OPENSSL is not None and not _openssl_has_sm2(), reason="this `openssl` has no SM2"),
]

ORG = "91110000600037341L"
ORG_NAME = "北京市某某科技有限公司"


@pytest.fixture
def pki(service: TrustService) -> TrustService:
    service.ca.init_pki(KeyAlgorithm.SM2, actor="test")
    return service


@pytest.mark.parametrize("cert_list_type", [1, 2])
def test_a_made_seal_maker_signature_verifies_with_openssl_over_the_seal_info_bytes(
    pki: TrustService, tmp_path: Path, cert_list_type: int
) -> None:
    made = pki.seals.create_seal(ORG, ORG_NAME, "contract", actor="test", cert_list_type=cert_list_type)
    seal_der = made.seal.seal_der
    (tmp_path / "seal.der").write_bytes(seal_der)
    items = asn1_items(tmp_path / "seal.der")
    part = signed_part(seal_der, items, items[0])
    assert part.signed == ses.parse_seal(seal_der, lenient=False).seal_info  # openssl's slice is ours
    assert made.seal.es_id.encode() in part.signed
    assert verify_with_openssl(tmp_path, part, "maker")

    flipped = bytearray(part.signed)
    flipped[40] ^= 0x01
    assert not verify_with_openssl(
        tmp_path, SignedPart(bytes(flipped), part.certificate, part.signature), "bad"
    )


def test_a_re_made_seal_still_verifies_with_openssl(pki: TrustService, tmp_path: Path) -> None:
    es_id = pki.seals.create_seal(ORG, ORG_NAME, "finance", actor="test").seal.es_id
    seal_der = pki.seals.add_signer(es_id, actor="test").seal.seal_der
    (tmp_path / "seal.der").write_bytes(seal_der)
    items = asn1_items(tmp_path / "seal.der")
    assert verify_with_openssl(tmp_path, signed_part(seal_der, items, items[0]), "maker")


def test_the_signed_status_answer_verifies_with_openssl(pki: TrustService, tmp_path: Path) -> None:
    made = pki.seals.create_seal(ORG, ORG_NAME, "contract", actor="test")
    pki.seals.suspend(made.seal.es_id, "调查", actor="test")
    answer, _ = pki.seals.signed_status(made.seal.es_id, nonce="openssl-1")
    envelope = json.loads(answer)
    statement = tmp_path / "statement.json"
    statement.write_bytes(base64.b64decode(envelope["payload"]))
    signature = tmp_path / "signature.der"
    signature.write_bytes(base64.b64decode(envelope["signature"]))
    (tmp_path / "maker.pem").write_text(envelope["certificates"][0])
    (tmp_path / "issuing.pem").write_text(envelope["certificates"][1])
    pub = tmp_path / "maker_pub.pem"
    pub.write_bytes(openssl("x509", "-in", tmp_path / "maker.pem", "-pubkey", "-noout"))

    assert envelope["sm2_user_id"] == DISTID.removeprefix("distid:")
    assert openssl_verifies(pub, signature, statement)
    body = json.loads(statement.read_bytes())
    assert (body["es_id"], body["status"], body["nonce"]) == (made.seal.es_id, "suspended", "openssl-1")

    # the status is signed by the very maker certificate inside the seal, which chains to the issuing CA
    _, _, maker_der = pem.unarmor(envelope["certificates"][0].encode())
    assert maker_der == ses.parse_seal(made.seal.seal_der).maker_cert
    chain = openssl(
        "verify",
        "-vfyopt",
        DISTID,
        "-partial_chain",
        "-CAfile",
        tmp_path / "issuing.pem",
        tmp_path / "maker.pem",
    )
    assert chain.decode().strip().endswith("maker.pem: OK")

    tampered = tmp_path / "tampered.json"
    tampered.write_bytes(statement.read_bytes().replace(b'"suspended"', b'"active"'))
    assert not openssl_verifies(pub, signature, tampered)
