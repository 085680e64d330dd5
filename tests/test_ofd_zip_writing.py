"""How OfdPackage.write compresses: already-compressed content STORED, the rest DEFLATE, same bytes back.

Storing is what keeps sealing cheap (the seal's PNG, alone or inside Seal.esl / SignedValue.dat, does not
deflate); these tests pin down that the choice changes neither the file bytes signatures digest nor what a
reader, ours or an independent one, gets back.
"""

from __future__ import annotations

import base64
import hashlib
import io
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from tests.test_ofd_signing import all_ok, document, make_sealer
from trustsvc.keys.sm3 import sm3
from trustsvc.ofd.package import OfdPackage
from trustsvc.ofd.signing import OfdPlacement

SIGN_0 = "Doc_0/Signs/Sign_0"


def incompressible(size: int, seed: bytes = b"ofd") -> bytes:
    """``size`` bytes that deflate cannot shrink (a SHA-256 stream), the same on every run."""
    blocks = (hashlib.sha256(seed + i.to_bytes(4, "big")).digest() for i in range((size + 31) // 32))
    return b"".join(blocks)[:size]


def methods(ofd: bytes) -> dict[str, int]:
    with zipfile.ZipFile(io.BytesIO(ofd)) as archive:
        return {info.filename: info.compress_type for info in archive.infolist()}


def test_already_compressed_content_is_stored_and_the_rest_deflated() -> None:
    base = OfdPackage.read(document().ofd)
    picture = make_sealer().picture  # a real PNG
    xml = b"<?xml version='1.0'?><a>" + b"<b x='1'>text</b>" * 2000 + b"</a>"
    package = base.with_files(
        {
            "Doc_0/Res/picture.png": picture,
            "Doc_0/Res/noise.dat": incompressible(50_000),
            "Doc_0/Res/big.xml": xml,
            "Doc_0/Res/small-noise.dat": incompressible(8 * 1024 - 1),
        }
    )
    written = methods(package.write())
    assert len(picture) >= 8 * 1024
    assert written["Doc_0/Res/picture.png"] == zipfile.ZIP_STORED
    assert written["Doc_0/Res/noise.dat"] == zipfile.ZIP_STORED
    assert written["Doc_0/Res/big.xml"] == zipfile.ZIP_DEFLATED
    # below the sampling size an entry is deflated without a test (deflate costs little there)
    assert written["Doc_0/Res/small-noise.dat"] == zipfile.ZIP_DEFLATED
    # fonts and page XML of the document compress: deflated
    for name in base.files:
        assert written[name] == zipfile.ZIP_DEFLATED, name


def test_a_mostly_compressed_entry_with_a_compressible_head_is_still_stored() -> None:
    # the shape of Seal.esl: a DER header with certificates, then the PNG
    head = b"0\x82" + b"certificate-like header " * 60
    package = OfdPackage.read(document().ofd).with_files({"Doc_0/x.der": head + incompressible(60_000)})
    assert methods(package.write())["Doc_0/x.der"] == zipfile.ZIP_STORED


def test_written_packages_read_back_byte_for_byte_and_are_reproducible() -> None:
    files = dict(OfdPackage.read(document().ofd).files)
    files["Doc_0/Res/noise.dat"] = incompressible(40_000)
    files["Doc_0/Res/picture.png"] = make_sealer().picture
    written = OfdPackage.from_files(files).write()
    assert dict(OfdPackage.read(written).files) == files
    assert OfdPackage.from_files(dict(reversed(list(files.items())))).write() == written
    assert OfdPackage.read(written).write() == written


def test_a_sealed_ofd_stores_the_seal_files_and_every_reference_digests_the_stored_bytes() -> None:
    sealer = make_sealer()
    sealed = sealer(document().ofd, OfdPlacement.box(1, 20, 30, 42, 42))
    written = methods(sealed)
    assert written[f"{SIGN_0}/Seal.esl"] == zipfile.ZIP_STORED
    assert written[f"{SIGN_0}/SignedValue.dat"] == zipfile.ZIP_STORED
    assert written[f"{SIGN_0}/Signature.xml"] == zipfile.ZIP_DEFLATED
    assert OfdPackage.read(sealed).file(f"{SIGN_0}/Seal.esl") == sealer.seal
    assert all_ok(sealed)
    # the References name the SM3 of each file's content, read through plain zipfile
    with zipfile.ZipFile(io.BytesIO(sealed)) as archive:
        signature_xml = archive.read(f"{SIGN_0}/Signature.xml").decode()
        seal_esl = archive.read(f"{SIGN_0}/Seal.esl")
    assert base64.b64encode(sm3(seal_esl)).decode() in signature_xml
    # a second seal over a file with stored entries keeps the first valid
    twice = sealer(sealed, OfdPlacement.box(1, 100, 30, 42, 42))
    assert all_ok(twice) and len(OfdPackage.read(twice).document().signatures()) == 2


@pytest.mark.skipif(shutil.which("unzip") is None, reason="Info-ZIP unzip is not installed")
def test_info_zip_unzip_accepts_and_extracts_the_same_bytes(tmp_path: Path) -> None:
    sealer = make_sealer()
    sealed = sealer(document().ofd)
    path = tmp_path / "sealed.ofd"
    path.write_bytes(sealed)
    test = subprocess.run(["unzip", "-t", str(path)], capture_output=True, text=True, check=False)
    assert test.returncode == 0, test.stdout + test.stderr
    out = tmp_path / "out"
    subprocess.run(["unzip", "-q", str(path), "-d", str(out)], check=True)
    for name, data in OfdPackage.read(sealed).files.items():
        assert (out / name).read_bytes() == data, name
