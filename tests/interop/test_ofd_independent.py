"""Our sealed OFDs verified along a path that shares no code with trustsvc's verifier.

The path: ``zipfile`` opens the package; ``lxml`` (a plain parser, not trustsvc.ofd.xml) reads ``OFD.xml``,
``Signatures.xml`` and each ``Signature.xml``; ``cryptography``'s SM3 recomputes every ``Reference`` over the
raw stored bytes and is compared with the base64 ``CheckValue``; ``asn1crypto.parser`` (generic TLV parsing,
no GB/T 38540 schema) splits the ``SES_Signature``: ``dataHash`` must be SM3 of the raw ``Signature.xml``, and
the ``openssl`` command line verifies the signer's SM2 signature over the ``TBS_Sign`` TLV and the seal
maker's over the ``SES_SealInfo`` TLV (``openssl dgst -sm3 -verify … -sigopt distid:1234567812345678``), with
public keys ``openssl x509 -pubkey`` takes from the certificates carried next to them.

The same path is run over two real vendor files in strict DER, to show that it is a faithful verifier and not
one shaped after our output.
"""

from __future__ import annotations

import base64
import io
import posixpath
import shutil
import subprocess
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from asn1crypto import parser
from cryptography.hazmat.primitives import hashes
from lxml import etree

from tests.test_ofd_signing import Doc, Sealer, document, make_sealer
from tests.tools import DISTID
from trustsvc.ofd.package import OfdPackage
from trustsvc.ofd.signing import OfdPlacement
from trustsvc.ofd.verification import check_ofd_signatures

OPENSSL = shutil.which("openssl")
NS = {"ofd": "http://www.ofdspec.org/2016"}
SM3_NAMES = {"sm3", "1.2.156.10197.1.401"}
REAL_OFD = Path("/work/shared/testdata/ofd-real")


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


# --- the independent verifier -------------------------------------------------------------------------------


def sm3(data: bytes) -> bytes:
    digest = hashes.Hash(hashes.SM3())
    digest.update(data)
    return digest.finalize()


def resolve(base: str, loc: str) -> str:
    loc = loc.strip()
    return posixpath.normpath(loc[1:] if loc.startswith("/") else posixpath.join(base, loc))


@dataclass(frozen=True)
class Tlv:
    tag: int
    constructed: bool
    tlv: bytes
    contents: bytes


def tlv(data: bytes) -> Tlv:
    _class, method, tag, header, contents, trailer = parser.parse(data, strict=True)
    return Tlv(tag, method == 1, header + contents + trailer, contents)


def kids(node: Tlv) -> list[Tlv]:
    out, rest = [], node.contents
    while rest:
        n = parser.peek(rest)
        out.append(tlv(rest[:n]))
        rest = rest[n:]
    return out


def openssl_verifies(tmp: Path, label: str, cert_der: bytes, signature: bytes, message: bytes) -> bool:
    assert OPENSSL is not None
    (tmp / f"{label}.crt").write_bytes(cert_der)
    pub = subprocess.run(
        [OPENSSL, "x509", "-inform", "DER", "-in", tmp / f"{label}.crt", "-pubkey", "-noout"],
        capture_output=True,
        check=True,
    ).stdout
    (tmp / f"{label}.pub").write_bytes(pub)
    (tmp / f"{label}.sig").write_bytes(signature)
    (tmp / f"{label}.msg").write_bytes(message)
    result = subprocess.run(
        [
            OPENSSL,
            "dgst",
            "-sm3",
            "-verify",
            tmp / f"{label}.pub",
            "-sigopt",
            DISTID,
            "-signature",
            tmp / f"{label}.sig",
            tmp / f"{label}.msg",
        ],
        capture_output=True,
        check=False,
    )
    return result.returncode == 0 and b"Verified OK" in result.stdout


@dataclass
class Independent:
    signature_xml_path: str
    references: dict[str, bool]  # package path → CheckValue matches
    data_hash_ok: bool
    signature_ok: bool
    seal_ok: bool
    property_info: str
    stamp_annots: list[dict[str, str]]

    @property
    def ok(self) -> bool:
        return all(self.references.values()) and self.data_hash_ok and self.signature_ok and self.seal_ok


def independent_check(ofd: bytes, tmp: Path) -> list[Independent]:
    with zipfile.ZipFile(io.BytesIO(ofd)) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    ofd_root = etree.fromstring(files["OFD.xml"])
    listing_path = resolve("", ofd_root.findtext("ofd:DocBody/ofd:Signatures", namespaces=NS) or "")
    listing = etree.fromstring(files[listing_path])
    results = []
    for n, entry in enumerate(listing.findall("ofd:Signature", NS)):
        assert entry.get("Type", "Seal") == "Seal"
        xml_path = resolve(posixpath.dirname(listing_path), entry.get("BaseLoc", ""))
        here = posixpath.dirname(xml_path)
        signature_xml = files[xml_path]
        root = etree.fromstring(signature_xml)
        refs = root.find("ofd:SignedInfo/ofd:References", NS)
        assert refs is not None and refs.get("CheckMethod", "").lower() in SM3_NAMES
        references = {}
        for ref in refs.findall("ofd:Reference", NS):
            path = resolve(here, ref.get("FileRef", ""))
            expected = (ref.findtext("ofd:CheckValue", namespaces=NS) or "").strip()
            references[path] = path in files and base64.b64encode(sm3(files[path])).decode() == expected
        value = files[resolve(here, root.findtext("ofd:SignedValue", namespaces=NS) or "")]

        # SES_Signature ::= SEQUENCE { toSign TBS_Sign, cert, signatureAlgID, signature BIT STRING, ... }
        tbs, signer_cert, _alg, signature = kids(tlv(value))[:4]
        assert (tbs.tag, signer_cert.tag, signature.tag) == (16, 4, 3)
        # TBS_Sign ::= SEQUENCE { version, eseal SESeal, timeInfo, dataHash BIT STRING, propertyInfo, ... }
        _version, eseal, _time, data_hash, property_info = kids(tbs)[:5]
        # SESeal ::= SEQUENCE { eSealInfo SES_SealInfo, cert, signAlgID, signedValue BIT STRING }
        seal_info, maker_cert, _seal_alg, seal_signature = kids(eseal)[:4]
        # the octets after the unused-bits count (one vendor declares 3 unused bits on its 32 whole octets)
        assert seal_signature.contents[0] == 0 and signature.contents[0] == 0
        results.append(
            Independent(
                signature_xml_path=xml_path,
                references=references,
                data_hash_ok=data_hash.contents[1:] == sm3(signature_xml),
                signature_ok=openssl_verifies(
                    tmp, f"signer{n}", signer_cert.contents, signature.contents[1:], tbs.tlv
                ),
                seal_ok=openssl_verifies(
                    tmp, f"maker{n}", maker_cert.contents, seal_signature.contents[1:], seal_info.tlv
                ),
                property_info=property_info.contents.decode("ascii"),
                stamp_annots=[dict(a.attrib) for a in root.findall("ofd:SignedInfo/ofd:StampAnnot", NS)],
            )
        )
    return results


# --- fixtures -----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sealer() -> Sealer:
    return make_sealer()


@pytest.fixture(scope="module")
def doc() -> Doc:
    return document(2)


def numbers(text: str) -> list[float]:
    return [float(v) for v in text.split()]


# --- our seals ----------------------------------------------------------------------------------------------


def test_our_seal_verifies_independently_with_the_requested_appearance(
    tmp_path: Path, sealer: Sealer, doc: Doc
) -> None:
    sealed = sealer(doc.ofd, OfdPlacement.box(2, 120.5, 200, 42, 42))
    (result,) = independent_check(sealed, tmp_path)
    assert result.ok, result
    assert result.signature_xml_path == "Doc_0/Signs/Sign_0/Signature.xml"
    assert result.property_info == "/Doc_0/Signs/Sign_0/Signature.xml"
    with zipfile.ZipFile(io.BytesIO(sealed)) as archive:
        expected = set(archive.namelist()) - {
            "Doc_0/Signs/Sign_0/Signature.xml",
            "Doc_0/Signs/Sign_0/SignedValue.dat",
            "Doc_0/Signs/Signatures.xml",
        }
    assert set(result.references) == expected
    (annot,) = result.stamp_annots
    assert annot["PageRef"] == "2"  # Document.xml's Page ID of the second page
    assert numbers(annot["Boundary"]) == [120.5, 200, 42, 42]


def test_two_seals_both_verify_independently(tmp_path: Path, sealer: Sealer, doc: Doc) -> None:
    first = sealer(doc.ofd)
    second = sealer(first, OfdPlacement.box(2, 10, 10, 42, 42))
    results = independent_check(second, tmp_path)
    assert [r.signature_xml_path for r in results] == [
        "Doc_0/Signs/Sign_0/Signature.xml",
        "Doc_0/Signs/Sign_1/Signature.xml",
    ]
    assert all(r.ok for r in results), results
    assert "Doc_0/Signs/Sign_0/SignedValue.dat" in results[1].references
    assert all(r.ok for r in check_ofd_signatures(second))


@pytest.mark.parametrize("target", ["Doc_0/Pages/Page_0/Content.xml", "Doc_0/Signs/Sign_0/Signature.xml"])
def test_a_changed_page_or_signature_xml_fails_independently_and_in_ours(
    tmp_path: Path, sealer: Sealer, doc: Doc, target: str
) -> None:
    sealed = sealer(doc.ofd)
    package = OfdPackage.read(sealed)
    data = package.file(target)
    # change one visible character: a digit of a coordinate, or a letter of the provider name
    at = data.index(b"trustsvc") if target.endswith("Signature.xml") else data.index(b'Boundary="') + 10
    changed = data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]
    tampered = package.with_files({target: changed}).write()

    (independent,) = independent_check(tampered, tmp_path)
    (ours,) = check_ofd_signatures(tampered)
    assert not independent.ok and not ours.ok
    if target.endswith("Signature.xml"):
        assert not independent.data_hash_ok and all(independent.references.values())
        assert {c.name for c in ours.failures} == {"data_hash"}
    else:
        assert independent.references[target] is False and independent.data_hash_ok
        assert {c.name for c in ours.failures} == {"references"}
    assert independent.signature_ok and independent.seal_ok  # the signatures themselves are intact


def test_keyword_placement_lands_on_the_keyword(tmp_path: Path, sealer: Sealer, doc: Doc) -> None:
    sealed = sealer(doc.ofd, OfdPlacement.on_keyword("盖章处"))
    (result,) = independent_check(sealed, tmp_path)
    assert result.ok
    (annot,) = result.stamp_annots
    x, y, w, h = numbers(annot["Boundary"])
    box = doc.boxes["keyword"]  # where the layout builder put the text, from the font's metrics
    assert annot["PageRef"] == "1"
    assert x + w / 2 == pytest.approx(box.x + box.w / 2, abs=0.01)
    assert y + h / 2 == pytest.approx(box.y + box.h / 2, abs=0.3 * box.size_mm)


def test_seal_across_pages_has_one_stamp_annot_per_page(tmp_path: Path, sealer: Sealer) -> None:
    sealed = sealer(document(4).ofd, OfdPlacement.across())
    (result,) = independent_check(sealed, tmp_path)
    assert result.ok
    assert [a["PageRef"] for a in result.stamp_annots] == ["1", "2", "3", "4"]
    for i, annot in enumerate(result.stamp_annots):
        x, _y, w, _h = numbers(annot["Boundary"])
        cx, _cy, cw, _ch = numbers(annot["Clip"])
        assert w == 42 and cw == pytest.approx(42 / 4, abs=1e-3) and cx == pytest.approx(i * 42 / 4, abs=1e-3)
        assert x + cx + cw == pytest.approx(210, abs=1e-3)  # each slice ends at the right page edge


# --- the independent path is a faithful verifier ------------------------------------------------------------


@pytest.mark.skipif(not REAL_OFD.is_dir(), reason="shared/testdata/ofd-real is not available")
@pytest.mark.parametrize("name", ["suwell_bank_receipt_b.ofd", "baiwang_einvoice.ofd"])
def test_the_independent_path_verifies_real_vendor_files(tmp_path: Path, name: str) -> None:
    (result,) = independent_check((REAL_OFD / name).read_bytes(), tmp_path)
    assert result.ok, result
