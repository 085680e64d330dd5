"""GB/T 38540 signatures checked by the `openssl` command line, independently of trustsvc.seal.ses.

For each seal and seal signature (ours and the four real vendors' files) openssl itself
* finds the signed structure (``openssl asn1parse``: ``SES_SealInfo`` is the first element of ``SESeal``,
  ``TBS_Sign`` the first of ``SES_Signature``) and the signature value (the BIT STRING after the OID),
* extracts the public key from the certificate carried next to it (``openssl x509 -pubkey``),
* and verifies ``openssl dgst -sm3 -verify … -sigopt distid:1234567812345678`` over those bytes.
So the claims "the maker signed SES_SealInfo's raw TLV" and "the signer signed TBS_Sign's raw TLV" (spec §3.2)
and "our slices are those bytes" are checked by a tool that shares no code with ours.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.test_ses import NOW, PROPERTY_INFO, make_pki, seal_fields
from tests.test_ses_real_files import EXPECTED, REAL_OFD, only_signature
from trustsvc.keys.sm2 import DEFAULT_SM2_ID, normalize_signature
from trustsvc.keys.sm3 import sm3
from trustsvc.seal import ses

OPENSSL = shutil.which("openssl")
DISTID = "distid:" + DEFAULT_SM2_ID.decode()
NOW_TEXT = "20260601080000Z"


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


def openssl(*args: str | Path) -> bytes:
    assert OPENSSL is not None
    result = subprocess.run([OPENSSL, *map(str, args)], capture_output=True, check=False, timeout=120)
    if result.returncode != 0:
        pytest.fail(f"openssl {' '.join(map(str, args))} failed: {result.stderr.decode(errors='replace')}")
    return result.stdout


def openssl_verifies(pub_pem: Path, signature: Path, message: Path) -> bool:
    assert OPENSSL is not None
    result = subprocess.run(
        [OPENSSL, "dgst", "-sm3", "-verify", pub_pem, "-sigopt", DISTID, "-signature", signature, message],
        capture_output=True,
        check=False,
        timeout=120,
    )
    return result.returncode == 0 and b"Verified OK" in result.stdout


@dataclass(frozen=True)
class Item:
    offset: int
    depth: int
    header: int
    length: int
    kind: str

    def tlv(self, der: bytes) -> bytes:
        return der[self.offset : self.offset + self.header + self.length]

    def content(self, der: bytes) -> bytes:
        return der[self.offset + self.header : self.offset + self.header + self.length]


_LINE = re.compile(r"^\s*(\d+):d=(\d+)\s+hl=(\d+)\s+l=\s*(\d+)\s+(?:prim|cons):\s*([A-Z][A-Z0-9 ]*[A-Z0-9])")


def asn1_items(path: Path) -> list[Item]:
    """Every element openssl asn1parse finds in the DER file ``path``, in order."""
    out = openssl("asn1parse", "-inform", "DER", "-in", path).decode("latin-1")
    items = []
    for line in out.splitlines():
        if m := _LINE.match(line):
            items.append(Item(int(m[1]), int(m[2]), int(m[3]), int(m[4]), m[5].strip()))
    return items


def children(items: list[Item], parent: Item) -> list[Item]:
    end = parent.offset + parent.header + parent.length
    return [i for i in items if i.depth == parent.depth + 1 and parent.offset < i.offset < end]


@dataclass(frozen=True)
class SignedPart:
    """What openssl found: the signed TLV, the DER certificate and the signature value next to it."""

    signed: bytes
    certificate: bytes
    signature: bytes


def signed_part(der: bytes, items: list[Item], node: Item) -> SignedPart:
    """Split ``SEQUENCE { signed, cert, alg, value BIT STRING, ... }`` (SESeal, SES_Signature)."""
    signed, cert, alg, value = children(items, node)[:4]
    assert (signed.kind, cert.kind, alg.kind, value.kind) == (
        "SEQUENCE",
        "OCTET STRING",
        "OBJECT",
        "BIT STRING",
    )
    return SignedPart(signed.tlv(der), cert.content(der), value.content(der)[1:])


def verify_with_openssl(tmp_path: Path, part: SignedPart, label: str) -> bool:
    (tmp_path / f"{label}.crt").write_bytes(part.certificate)
    pub = tmp_path / f"{label}_pub.pem"
    pub.write_bytes(openssl("x509", "-inform", "DER", "-in", tmp_path / f"{label}.crt", "-pubkey", "-noout"))
    (tmp_path / f"{label}.der").write_bytes(part.signed)
    (tmp_path / f"{label}.sig").write_bytes(part.signature)
    return openssl_verifies(pub, tmp_path / f"{label}.sig", tmp_path / f"{label}.der")


# --- ours ---------------------------------------------------------------------------------------------------


@pytest.fixture
def made() -> tuple[bytes, bytes]:
    pki = make_pki()
    seal = ses.make_seal(seal_fields(pki), pki.maker_cert, pki.maker.signer)
    signature = ses.make_signature(
        seal, sm3(b"<ofd:Signature/>"), PROPERTY_INFO, pki.signer_cert, pki.signer.signer, time_info=NOW
    )
    return seal, signature


def test_our_seal_maker_signature_verifies_with_openssl_over_seal_info(
    tmp_path: Path, made: tuple[bytes, bytes]
) -> None:
    seal_der, _ = made
    (tmp_path / "seal.der").write_bytes(seal_der)
    items = asn1_items(tmp_path / "seal.der")
    part = signed_part(seal_der, items, items[0])
    assert part.signed == ses.parse_seal(seal_der).seal_info  # openssl's slice is ours
    assert verify_with_openssl(tmp_path, part, "maker")

    flipped = bytearray(part.signed)
    flipped[len(flipped) // 2] ^= 0x01
    assert not verify_with_openssl(
        tmp_path, SignedPart(bytes(flipped), part.certificate, part.signature), "bad"
    )


def test_our_seal_signature_verifies_with_openssl_over_tbs_sign(
    tmp_path: Path, made: tuple[bytes, bytes]
) -> None:
    seal_der, signature_der = made
    (tmp_path / "signature.der").write_bytes(signature_der)
    items = asn1_items(tmp_path / "signature.der")
    part = signed_part(signature_der, items, items[0])
    assert part.signed == ses.parse_signature(signature_der).tbs_sign
    assert seal_der in part.signed  # the seal is embedded byte for byte
    listing = openssl("asn1parse", "-inform", "DER", "-in", tmp_path / "signature.der")
    assert f"GENERALIZEDTIME   :{NOW_TEXT}".encode() in listing
    assert verify_with_openssl(tmp_path, part, "signer")

    flipped = bytearray(part.signed)
    flipped[-3] ^= 0x01  # inside propertyInfo
    assert not verify_with_openssl(
        tmp_path, SignedPart(bytes(flipped), part.certificate, part.signature), "bad"
    )


def test_openssl_reads_our_seal_as_the_standard_structure(tmp_path: Path, made: tuple[bytes, bytes]) -> None:
    seal_der, _ = made
    (tmp_path / "seal.der").write_bytes(seal_der)
    items = asn1_items(tmp_path / "seal.der")
    info = children(items, items[0])[0]
    header, es_id, prop, picture = children(items, info)
    assert [i.kind for i in children(items, header)] == ["IA5STRING", "INTEGER", "IA5STRING"]
    assert es_id.kind == "IA5STRING" and picture.kind == "SEQUENCE"
    assert [i.kind for i in children(items, prop)] == [
        "INTEGER",
        "UTF8STRING",
        "INTEGER",
        "SEQUENCE",
        "GENERALIZEDTIME",
        "GENERALIZEDTIME",
        "GENERALIZEDTIME",
    ]
    assert [i.kind for i in children(items, items[0])] == ["SEQUENCE", "OCTET STRING", "OBJECT", "BIT STRING"]


# --- the real vendors' files --------------------------------------------------------------------------------


@pytest.mark.skipif(not REAL_OFD.is_dir(), reason="shared/testdata/ofd-real is not available")
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_real_signatures_verify_with_openssl_over_seal_info_and_tbs_sign(tmp_path: Path, name: str) -> None:
    """openssl confirms spec §3.2 on vendors' files; only signature value encodings are repaired (§1.4)."""
    der = only_signature(name).signed_value
    (tmp_path / "value.der").write_bytes(der)
    items = asn1_items(tmp_path / "value.der")
    document = signed_part(der, items, items[0])
    tbs = next(i for i in items if i.depth == 1)
    eseal = children(items, tbs)[1]
    maker = signed_part(der, items, eseal)

    parsed = ses.parse_signature(der)
    assert (maker.signed, document.signed) == (parsed.seal.seal_info, parsed.tbs_sign)
    for label, part in (("maker", maker), ("document", document)):
        repaired, _ = normalize_signature(part.signature)
        assert verify_with_openssl(tmp_path, SignedPart(part.signed, part.certificate, repaired), label), (
            label
        )
