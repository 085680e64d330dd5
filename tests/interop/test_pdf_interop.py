"""Sealed PDFs checked by tools that share no code with pyHanko or trustsvc: poppler's pdfsig (NSS) for the
ECDSA/PAdES seals, the openssl CLI for the SM2 SignedData.

pdfsig runs with ``-nocert``: its certificate check asks NSS whether the chain ends in a root of NSS's own
database, which our throw-away root is not (it would print "Certificate issuer isn't Trusted" or "Unknown
issue with Certificate"); what pdfsig is asked here is what it can judge independently — the signature over
the signed attributes, the messageDigest over the ByteRange, and whether that range covers the whole file.
pdfsig (NSS) has no SM2/SM3, so for SM2 it only shows that the structure is read; the SM2 claims are checked
with ``openssl dgst``: the signature over the DER SET OF the signed attributes with the default user ID, and
messageDigest = SM3 of the two byte ranges. The /Contents and /ByteRange are cut out of the file with a
regular expression, not with pyHanko's reader.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from asn1crypto import cms

from tests.test_pdf_sealing import ES_ID, Pki, make_pdf, make_pki, seal
from trustsvc.keys.algorithms import KeyAlgorithm
from trustsvc.keys.sm2 import DEFAULT_SM2_ID
from trustsvc.pdf import SEAL_ATTRIBUTE_OID, SM2_SIGN_OID, Placement

PDFSIG = shutil.which("pdfsig")
OPENSSL = shutil.which("openssl")

pytestmark = pytest.mark.interop
needs_pdfsig = pytest.mark.skipif(PDFSIG is None, reason="poppler's pdfsig is not installed")
needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="the `openssl` command line tool is not installed")

_PKIS: dict[KeyAlgorithm, Pki] = {}


def pki_for(algorithm: KeyAlgorithm) -> Pki:
    if algorithm not in _PKIS:
        _PKIS[algorithm] = make_pki(algorithm)
    return _PKIS[algorithm]


def pdfsig(data: bytes, tmp_path: Path) -> list[list[str]]:
    """Return pdfsig's report, one list of stripped lines per signature."""
    assert PDFSIG is not None
    path = tmp_path / "sealed.pdf"
    path.write_bytes(data)
    result = subprocess.run(
        [PDFSIG, "-nocert", path], capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 0, result.stderr
    blocks = re.split(r"^Signature #\d+:$", result.stdout, flags=re.MULTILINE)[1:]
    return [[line.strip().lstrip("- ") for line in block.splitlines() if line.strip()] for block in blocks]


def openssl(*args: str | Path, input: bytes | None = None) -> bytes:
    assert OPENSSL is not None
    result = subprocess.run(
        [OPENSSL, *map(str, args)], input=input, capture_output=True, check=False, timeout=60
    )
    if result.returncode != 0:
        pytest.fail(f"openssl {' '.join(map(str, args))} failed: {result.stderr.decode(errors='replace')}")
    return result.stdout


# --- pdfsig: ECDSA seals (PAdES) -----------------------------------------------------------------


@needs_pdfsig
@pytest.mark.parametrize("level", ["B-B", "B-T"])
def test_pdfsig_finds_the_ecdsa_seal_valid_and_covering_the_document(tmp_path: Path, level: str) -> None:
    pki = pki_for(KeyAlgorithm.ECDSA_P256)
    timestamper = pki.timestamper() if level == "B-T" else None
    [report] = pdfsig(seal(pki, level=level, timestamper=timestamper), tmp_path)
    assert "Signature Validation: Signature is Valid." in report
    assert "Total document signed" in report
    assert "Signature Type: ETSI.CAdES.detached" in report


@needs_pdfsig
def test_pdfsig_finds_the_b_lt_ecdsa_seal_valid_in_one_revision(tmp_path: Path) -> None:
    pki = pki_for(KeyAlgorithm.ECDSA_P256)
    data = seal(pki, level="B-LT", timestamper=pki.timestamper(), validation_info=pki.validation_data())
    [report] = pdfsig(data, tmp_path)
    assert "Signature Validation: Signature is Valid." in report
    assert "Total document signed" in report  # the DSS went into the signature's own revision


@needs_pdfsig
def test_pdfsig_sees_two_valid_seals_the_first_covering_its_revision(tmp_path: Path) -> None:
    pki = pki_for(KeyAlgorithm.ECDSA_P256)
    first = seal(pki, make_pdf(2))
    both = seal(pki, first, placement=Placement(2, 100, 150, 42, 42))
    one, two = pdfsig(both, tmp_path)
    assert "Signature Validation: Signature is Valid." in one
    assert "Signature Validation: Signature is Valid." in two
    assert "Not total document signed" in one
    assert "Total document signed" in two


@needs_pdfsig
def test_pdfsig_reads_the_sm2_seal_but_cannot_check_sm2(tmp_path: Path) -> None:
    """NSS has neither SM3 nor SM2: pdfsig reads the structure and says it cannot validate. Documented, so a
    poppler that learns SM2 shows up here."""
    [report] = pdfsig(seal(pki_for(KeyAlgorithm.SM2)), tmp_path)
    assert "Signature Type: adbe.pkcs7.detached" in report
    assert "Total document signed" in report
    assert "Signing Hash Algorithm: unknown" in report
    assert "Signature Validation: Signature is Valid." not in report


# --- openssl: the SM2 SignedData -----------------------------------------------------------------


def cut_signature(data: bytes) -> tuple[bytes, cms.SignerInfo]:
    """Return (the bytes the ByteRange covers, the SignerInfo) cut straight out of the file."""
    matches = list(re.finditer(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]", data))
    assert len(matches) == 1
    a, b, c, d = (int(v) for v in matches[0].groups())
    assert a == 0 and c + d == len(data)
    contents = data[a + b : c]
    assert contents.startswith(b"<") and contents.endswith(b">")
    der = bytes.fromhex(contents[1:-1].decode("ascii"))
    content_info = cms.ContentInfo.load(der.rstrip(b"\x00"))  # /Contents is zero-padded after the DER
    return data[a : a + b] + data[c : c + d], content_info["content"]["signer_infos"][0]


@needs_openssl
def test_sm2_signature_verifies_with_openssl_over_the_signed_attributes(tmp_path: Path) -> None:
    pki = pki_for(KeyAlgorithm.SM2)
    _, signer_info = cut_signature(seal(pki))
    assert signer_info["signature_algorithm"]["algorithm"].dotted == SM2_SIGN_OID
    # The [0] IMPLICIT signed attributes re-tagged as SET OF (0x31): what PKCS#7 / CMS sign.
    raw = signer_info["signed_attrs"].dump()
    assert raw[0] == 0xA0
    (tmp_path / "attrs.der").write_bytes(b"\x31" + raw[1:])
    (tmp_path / "sig.der").write_bytes(signer_info["signature"].native)
    (tmp_path / "cert.der").write_bytes(pki.signer.certificate.dump())
    (tmp_path / "pub.pem").write_bytes(
        openssl("x509", "-inform", "DER", "-in", tmp_path / "cert.der", "-pubkey", "-noout")
    )
    out = openssl(
        "dgst",
        "-sm3",
        "-verify",
        tmp_path / "pub.pem",
        "-sigopt",
        "distid:" + DEFAULT_SM2_ID.decode(),
        "-signature",
        tmp_path / "sig.der",
        tmp_path / "attrs.der",
    )
    assert b"Verified OK" in out
    # and not with OpenSSL's own (empty) default ID: the default GM/T 0009 ID is really what was used
    result = subprocess.run(
        [
            OPENSSL,
            "dgst",
            "-sm3",
            "-verify",
            tmp_path / "pub.pem",
            "-signature",
            tmp_path / "sig.der",
            tmp_path / "attrs.der",
        ],
        capture_output=True,
        check=False,
        timeout=60,
    )
    assert b"Verified OK" not in result.stdout


@needs_openssl
def test_sm2_message_digest_is_the_openssl_sm3_of_the_byte_ranges(tmp_path: Path) -> None:
    covered, signer_info = cut_signature(seal(pki_for(KeyAlgorithm.SM2)))
    (tmp_path / "covered.bin").write_bytes(covered)
    digest = openssl("dgst", "-sm3", "-binary", tmp_path / "covered.bin")
    values = [
        a["values"][0].native for a in signer_info["signed_attrs"] if a["type"].native == "message_digest"
    ]
    assert values == [digest]


@needs_openssl
def test_seal_attribute_holds_a_seal_openssl_can_read(tmp_path: Path) -> None:
    _, signer_info = cut_signature(seal(pki_for(KeyAlgorithm.SM2)))
    [attr] = [a for a in signer_info["signed_attrs"] if a["type"].dotted == SEAL_ATTRIBUTE_OID]
    (tmp_path / "seal.der").write_bytes(attr["values"][0].dump())
    text = openssl("asn1parse", "-inform", "DER", "-in", tmp_path / "seal.der").decode()
    assert re.search(r"IA5STRING\s*:ES\b", text)  # SES_Header.ID
    assert f":{ES_ID}" in text  # esID
    assert "1.2.156.10197.1.501" in text or "SM2-with-SM3" in text  # the maker's signAlgID
