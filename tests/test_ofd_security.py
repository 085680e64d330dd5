"""Hostile OFD packages and XML: every attack ends in a typed error (PayloadTooLarge or MalformedInput, naming
the entry), never another exception, never reading outside the package, never unbounded work.

Archives are built byte by byte here (:func:`build_zip`), so headers can lie in ways zipfile would not write.
The last section fuzzes real OFD files with hypothesis, at the byte level and inside their XML.
"""

from __future__ import annotations

import re
import stat
import struct
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trustsvc.errors import MalformedInput, PayloadTooLarge
from trustsvc.ofd import Limits, OfdPackage, parse_xml

REAL_OFD = Path("/work/shared/testdata/ofd-real")
REAL_FILES = sorted(REAL_OFD.glob("*.ofd")) if REAL_OFD.is_dir() else []
needs_real_files = pytest.mark.skipif(not REAL_FILES, reason="shared/testdata/ofd-real is missing")
MiB = 1024 * 1024

MINIMAL_OFD = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b'<ofd:OFD xmlns:ofd="http://www.ofdspec.org/2016" Version="1.0" DocType="OFD"><ofd:DocBody>'
    b"<ofd:DocInfo><ofd:DocID>x</ofd:DocID></ofd:DocInfo><ofd:DocRoot>Doc_0/Document.xml</ofd:DocRoot>"
    b"</ofd:DocBody></ofd:OFD>"
)


# --- a ZIP writer that can lie ---------------------------------------------------------------------------


@dataclass
class Raw:
    name: str | bytes
    content: bytes = b""
    method: int = 8  # 0 stored, 8 deflate; anything else: ``payload`` is written as is
    payload: bytes | None = None  # the stored (compressed) bytes, instead of compressing ``content``
    declared: int | None = None  # uncompressed size in the headers, instead of len(content)
    crc: int | None = None
    flags: int = 0
    external_attr: int = (stat.S_IFREG | 0o644) << 16
    create_system: int = 3
    local_name: bytes | None = None
    offset: int | None = None  # central directory's local-header offset, instead of the real one


def deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


def deflated_zeros(size: int) -> bytes:
    """Raw DEFLATE of ``size`` zero bytes, made in chunks (the zeros are never held in memory)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    chunk = bytes(MiB)
    parts = [compressor.compress(chunk) for _ in range(size // MiB)]
    parts.append(compressor.compress(bytes(size % MiB)))
    parts.append(compressor.flush())
    return b"".join(parts)


def build_zip(entries: list[Raw]) -> bytes:
    out = bytearray()
    central = bytearray()
    for entry in entries:
        # a str name is written as flagged UTF-8; bytes are written unflagged, as they are
        name = entry.name.encode("utf-8") if isinstance(entry.name, str) else entry.name
        flags = entry.flags | (0x800 if isinstance(entry.name, str) and not name.isascii() else 0)
        if entry.payload is not None:
            data = entry.payload
        elif entry.method == 8:
            data = deflate(entry.content)
        else:
            data = entry.content
        crc = zlib.crc32(entry.content) if entry.crc is None else entry.crc
        size = len(entry.content) if entry.declared is None else entry.declared
        local_name = name if entry.local_name is None else entry.local_name
        offset = len(out) if entry.offset is None else entry.offset
        if entry.offset is None:
            out += struct.pack(
                "<4s5H3I2H",
                b"PK\x03\x04",
                20,
                flags,
                entry.method,
                0,
                0x21,
                crc,
                len(data),
                size,
                len(local_name),
                0,
            )
            out += local_name + data
        central += struct.pack(
            "<4s6H3I5H2I",
            b"PK\x01\x02",
            (entry.create_system << 8) | 20,
            20,
            flags,
            entry.method,
            0,
            0x21,
            crc,
            len(data),
            size,
            len(name),
            0,
            0,
            0,
            0,
            entry.external_attr,
            offset,
        )
        central += name
    start = len(out)
    out += central
    out += struct.pack("<4s4H2IH", b"PK\x05\x06", 0, 0, len(entries), len(entries), len(central), start, 0)
    return bytes(out)


def minimal(*extra: Raw) -> bytes:
    return build_zip([Raw("OFD.xml", MINIMAL_OFD), *extra])


def test_the_lying_writer_makes_archives_the_reader_accepts() -> None:
    package = OfdPackage.read(minimal(Raw("Doc_0/a.txt", b"hello", method=0), Raw("Doc_0/b.txt", b"x" * 100)))
    assert dict(package.files) == {"OFD.xml": MINIMAL_OFD, "Doc_0/a.txt": b"hello", "Doc_0/b.txt": b"x" * 100}
    assert package.documents == ["Doc_0/Document.xml"]


# --- not an archive --------------------------------------------------------------------------------------


@pytest.mark.parametrize("data", [b"", b"hello", b"%PDF-1.7\n", b"PK\x05\x06" + bytes(18), bytes(100)])
# (an empty ZIP, the fourth case, is a valid archive but holds no OFD.xml)
def test_bytes_that_are_not_a_zip_are_malformed(data: bytes) -> None:
    with pytest.raises(MalformedInput):
        OfdPackage.read(data)


@needs_real_files
@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.9, 0.999])
def test_truncated_real_file_is_malformed(fraction: float) -> None:
    data = REAL_FILES[0].read_bytes()
    with pytest.raises(MalformedInput):
        OfdPackage.read(data[: int(len(data) * fraction)])


def test_archive_without_ofd_xml_is_malformed() -> None:
    with pytest.raises(MalformedInput, match=r"no OFD\.xml"):
        OfdPackage.read(build_zip([Raw("Doc_0/Document.xml", b"<x/>")]))
    package = OfdPackage.from_files({"Doc_0/Document.xml": b"<x/>"})  # built in steps: checked on use
    with pytest.raises(MalformedInput, match=r"no OFD\.xml"):
        _ = package.documents


# --- sizes -----------------------------------------------------------------------------------------------


def test_zip_bomb_with_honest_header_is_refused_before_inflating() -> None:
    bomb = deflated_zeros(101 * MiB)  # ~100 KiB on disk
    started = time.perf_counter()
    with pytest.raises(PayloadTooLarge, match=r"Doc_0/zeros\.bin"):
        OfdPackage.read(minimal(Raw("Doc_0/zeros.bin", payload=bomb, declared=101 * MiB, crc=0)))
    assert time.perf_counter() - started < 1.0


def test_zip_bomb_with_lying_header_stops_at_the_declared_size() -> None:
    bomb = deflated_zeros(200 * MiB)
    started = time.perf_counter()
    with pytest.raises(MalformedInput, match="more than its declared"):
        OfdPackage.read(minimal(Raw("Doc_0/zeros.bin", payload=bomb, declared=1000, crc=0)))
    assert time.perf_counter() - started < 1.0


def test_lying_header_inflates_at_most_one_byte_past_its_declared_size(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    produced: list[int] = []  # bytes produced, per inflater
    real = zlib.decompressobj

    class Counting:
        def __init__(self, wbits: int) -> None:
            self._inner = real(wbits=wbits)
            self._index = len(produced)
            produced.append(0)

        def decompress(self, data: bytes, max_length: int = 0) -> bytes:
            out = self._inner.decompress(data, max_length)
            produced[self._index] += len(out)
            return out

        def __getattr__(self, name: str) -> object:
            return getattr(self._inner, name)

    monkeypatch.setattr(zlib, "decompressobj", Counting)
    with pytest.raises(MalformedInput, match="more than its declared"):
        OfdPackage.read(minimal(Raw("zeros.bin", payload=deflated_zeros(10 * MiB), declared=60_000, crc=0)))
    assert max(produced) == 60_001


def test_entry_over_the_per_entry_limit_is_refused() -> None:
    limits = Limits(max_entry_bytes=MiB)
    with pytest.raises(PayloadTooLarge, match=r"big\.bin"):
        OfdPackage.read(minimal(Raw("big.bin", bytes(MiB + 1))), limits=limits)


def test_entries_over_the_total_limit_are_refused() -> None:
    limits = Limits(max_entry_bytes=MiB, max_total_bytes=MiB)
    entries = [Raw(f"part_{i}.bin", bytes(400 * 1024)) for i in range(3)]
    with pytest.raises(PayloadTooLarge, match="uncompressed bytes"):
        OfdPackage.read(minimal(*entries), limits=limits)


def test_compression_ratio_over_the_cap_is_refused() -> None:
    limits = Limits(ratio_floor_bytes=1000, max_ratio=10)
    with pytest.raises(PayloadTooLarge, match="ratio"):
        OfdPackage.read(minimal(Raw("zeros.bin", bytes(100_000))), limits=limits)
    # a small entry may compress as well as it likes
    OfdPackage.read(minimal(Raw("zeros.bin", bytes(999))), limits=limits)


def test_package_over_the_size_limit_is_refused() -> None:
    data = minimal(Raw("noise.bin", bytes(range(256)) * 20, method=0))
    with pytest.raises(PayloadTooLarge):
        OfdPackage.read(data, limits=Limits(max_package_bytes=len(data) - 1))


def test_too_many_entries_are_refused_before_zipfile_builds_them() -> None:
    entries = [Raw(f"f{i}", method=0) for i in range(10_001)]
    data = minimal(*entries)
    started = time.perf_counter()
    with pytest.raises(PayloadTooLarge, match="entries"):
        OfdPackage.read(data)
    assert time.perf_counter() - started < 0.5


def test_entry_count_hidden_behind_a_small_declared_count_is_still_counted() -> None:
    data = bytearray(minimal(*[Raw(f"f{i}", method=0) for i in range(50)]))
    eocd = data.rfind(b"PK\x05\x06")
    struct.pack_into("<2H", data, eocd + 8, 1, 1)  # claim one entry; zipfile reads by directory size
    with pytest.raises(PayloadTooLarge):
        OfdPackage.read(bytes(data), limits=Limits(max_entries=10))


# --- names -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "../evil",
        "/abs",
        "/etc/passwd",
        "a/../../b",
        "Doc_0/../../x",
        "a\\b",
        "..\\..\\evil",
        "C:/windows/x",
        "./a",
        "a/./b",
        "a//b",
        "x\x00y",
        "x\ny",
        "",
    ],
)
def test_unsafe_entry_names_are_refused(name: str) -> None:
    with pytest.raises(MalformedInput) as raised:
        OfdPackage.read(minimal(Raw(name, b"x")))
    assert "entry" in raised.value.detail


def test_overlong_entry_name_is_refused() -> None:
    with pytest.raises(MalformedInput, match="longer"):
        OfdPackage.read(minimal(Raw("a" * 2000, b"x")))


@pytest.mark.parametrize(
    "names",
    [
        ("Doc_0/a.xml", "Doc_0/a.xml"),
        ("Doc_0/a.xml", "DOC_0/A.XML"),
        ("caf\u00e9.xml", "cafe\u0301.xml"),  # the same name, NFC and NFD
        ("Doc_0/x", "Doc_0/x/y"),  # a file that is also a directory
        ("Doc_0/x/", "doc_0/x/"),
    ],
)
def test_duplicate_names_are_refused(names: tuple[str, str]) -> None:
    with pytest.raises(MalformedInput):
        OfdPackage.read(minimal(*(Raw(name, b"" if name.endswith("/") else b"x") for name in names)))


def test_directory_entries_are_accepted_and_not_files() -> None:
    package = OfdPackage.read(minimal(Raw("Doc_0/", method=0, external_attr=(stat.S_IFDIR | 0o755) << 16)))
    assert set(package.files) == {"OFD.xml"}


def test_non_utf8_flagged_gbk_names_are_read_as_chinese() -> None:
    name = "Doc_0/Attachs/附件.xml".encode("gbk")
    package = OfdPackage.read(minimal(Raw(name, b"<a/>")))
    assert "Doc_0/Attachs/附件.xml" in package.files


# --- entry kinds and framing -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        (stat.S_IFLNK | 0o777, "symbolic link"),
        (stat.S_IFIFO | 0o644, "not a regular"),
        (stat.S_IFCHR, "not a regular"),
    ],
)
def test_symlinks_and_special_files_are_refused(mode: int, message: str) -> None:
    with pytest.raises(MalformedInput, match=message):
        OfdPackage.read(minimal(Raw("Doc_0/link", b"/etc/passwd", method=0, external_attr=mode << 16)))


@pytest.mark.parametrize("flags", [0x1, 0x41])
def test_encrypted_entries_are_refused(flags: int) -> None:
    with pytest.raises(MalformedInput, match="encrypted"):
        OfdPackage.read(minimal(Raw("Doc_0/secret.xml", b"<a/>", flags=flags)))


@pytest.mark.parametrize("method", [12, 14, 99, 1])
def test_compression_methods_other_than_stored_and_deflate_are_refused(method: int) -> None:
    with pytest.raises(MalformedInput, match="compression method"):
        OfdPackage.read(minimal(Raw("Doc_0/a.xml", b"<a/>", method=method, payload=b"\x00" * 8)))


def test_crc_mismatch_is_malformed() -> None:
    with pytest.raises(MalformedInput, match="CRC"):
        OfdPackage.read(minimal(Raw("Doc_0/a.xml", b"<a/>", crc=1234)))


def test_local_header_naming_another_file_is_malformed() -> None:
    with pytest.raises(MalformedInput, match="local header"):
        OfdPackage.read(minimal(Raw("Doc_0/a.xml", b"<a/>", local_name=b"Doc_0/b.xml")))


def test_overlapping_entries_are_malformed() -> None:
    # two directory records sharing one local entry: the 'overlapping files' bomb construction
    first = Raw("Doc_0/a.bin", bytes(1000))
    data = build_zip([first, Raw("Doc_0/b.bin", bytes(1000), offset=0)])
    with pytest.raises(MalformedInput):
        OfdPackage.read(data)


@pytest.mark.parametrize(
    "entry",
    [
        Raw("a.bin", b"abc", method=0, declared=4),  # stored size differs from declared
        Raw("a.bin", bytes(5000), payload=deflate(bytes(5000))[:-3]),  # truncated DEFLATE
        Raw("a.bin", b"abc", payload=b"\xff\xff\xff\xff"),  # not DEFLATE
        Raw("a.bin", bytes(100), declared=200),  # inflates to less than declared
    ],
)
def test_corrupt_entry_data_is_malformed(entry: Raw) -> None:
    with pytest.raises(MalformedInput):
        OfdPackage.read(minimal(entry))


# --- XML -------------------------------------------------------------------------------------------------

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol9 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
]>
<ofd:OFD xmlns:ofd="http://www.ofdspec.org/2016">&lol9;</ofd:OFD>"""


def xxe(path: Path) -> bytes:
    return (
        b'<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY secret SYSTEM "file://'
        + str(path).encode()
        + b'">]>\n<ofd:OFD xmlns:ofd="http://www.ofdspec.org/2016"><ofd:DocBody><ofd:DocInfo><ofd:DocID>&secret;'
        b"</ofd:DocID></ofd:DocInfo><ofd:DocRoot>Doc_0/Document.xml</ofd:DocRoot></ofd:DocBody></ofd:OFD>"
    )


def test_billion_laughs_is_refused() -> None:
    with pytest.raises(MalformedInput, match="DOCTYPE"):
        parse_xml(BILLION_LAUGHS)
    package = OfdPackage.read(build_zip([Raw("OFD.xml", BILLION_LAUGHS)]))
    with pytest.raises(MalformedInput, match="DOCTYPE"):
        _ = package.documents


def test_external_entity_to_a_local_file_is_refused_and_not_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-4711")
    with pytest.raises(MalformedInput) as raised:
        parse_xml(xxe(secret))
    assert "TOP-SECRET" not in str(raised.value)
    package = OfdPackage.read(build_zip([Raw("OFD.xml", xxe(secret))]))
    with pytest.raises(MalformedInput):
        package.document()


@pytest.mark.parametrize(
    "xml",
    [
        b'<!DOCTYPE r SYSTEM "http://127.0.0.1:1/evil.dtd"><r/>',
        b'<!DOCTYPE r [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]><r/>',
        b"<!doctype r><r/>",
        b"<?xml version='1.0'?>\n<!-- c -->\n<!DOCTYPE r []>\n<r/>",
        '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE r [<!ENTITY e "x">]><r>&e;</r>'.encode("utf-16"),
        "<r/>".encode("utf-16-le"),
        b"<r>&undefined;</r>",
    ],
)
def test_dtds_entities_and_non_ascii_compatible_encodings_are_refused(xml: bytes) -> None:
    with pytest.raises(MalformedInput):
        parse_xml(xml)


def test_xinclude_is_not_processed() -> None:
    root = parse_xml(
        b'<r xmlns:xi="http://www.w3.org/2001/XInclude">'
        b'<xi:include href="file:///etc/passwd" parse="text"/></r>'
    )
    assert "root:" not in "".join(root.itertext())


@pytest.mark.parametrize(
    "xml",
    [b"", b"   ", b"<ofd:OFD", b"<a></b>", b"not xml", b"<a/><b/>", b"<a x='1' x='2'/>", b"\xff\xfe\x00"],
)
def test_malformed_xml_is_malformed(xml: bytes) -> None:
    with pytest.raises(MalformedInput):
        parse_xml(xml)


def test_huge_xml_is_refused() -> None:
    with pytest.raises(PayloadTooLarge):
        parse_xml(b"<a>" + b"x" * (17 * MiB) + b"</a>")
    package = OfdPackage.read(minimal(), limits=Limits(max_xml_bytes=100))
    with pytest.raises(PayloadTooLarge, match=r"OFD\.xml"):
        _ = package.documents


def test_deeply_nested_xml_is_refused() -> None:
    with pytest.raises(MalformedInput):
        parse_xml(b"<a>" * 100_000 + b"</a>" * 100_000)


# --- ST_Loc and structure --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("base", "loc"),
    [
        ("Doc_0", "../../x"),
        ("", "../x"),
        ("", "/../x"),
        ("Doc_0/Signs", "/Doc_0/../../etc/passwd"),
        ("Doc_0", "file:///etc/passwd"),
        ("", "http://evil.example/x.xml"),
        ("", "C:/x"),
        ("", "a\\b"),
        ("", ""),
        ("", "   "),
        ("", "/"),
        ("Doc_0", ".."),
        ("", "a/\x00b"),
    ],
)
def test_st_loc_outside_the_package_is_malformed(base: str, loc: str) -> None:
    with pytest.raises(MalformedInput):
        OfdPackage.resolve(base, loc)


def _package(files: dict[str, bytes]) -> OfdPackage:
    return OfdPackage.read(OfdPackage.from_files(files).write())


DOCUMENT = (
    b'<ofd:Document xmlns:ofd="http://www.ofdspec.org/2016"><ofd:CommonData><ofd:MaxUnitID>9</ofd:MaxUnitID>'
    b"<ofd:PageArea><ofd:PhysicalBox>0 0 210 297</ofd:PhysicalBox></ofd:PageArea></ofd:CommonData>"
    b'<ofd:Pages><ofd:Page ID="1" BaseLoc="PAGE"/></ofd:Pages></ofd:Document>'
)
PAGE = (
    b'<ofd:Page xmlns:ofd="http://www.ofdspec.org/2016"><ofd:Content><ofd:Layer ID="2">'
    b'<ofd:TextObject ID="3" Boundary="BOUNDARY" Font="4" Size="5"><ofd:TextCode X="0" Y="4" DeltaX="DELTA">'
    b"TEXT</ofd:TextCode></ofd:TextObject></ofd:Layer></ofd:Content></ofd:Page>"
)


def doc_package(page_loc: bytes = b"Pages/Page_0/Content.xml", **page: bytes) -> OfdPackage:
    content = PAGE
    for key, default in {"BOUNDARY": b"10 10 50 10", "DELTA": b"g 3 5", "TEXT": "证照名称".encode()}.items():
        content = content.replace(key.encode(), page.get(key.lower(), default))
    return _package(
        {
            "OFD.xml": MINIMAL_OFD,
            "Doc_0/Document.xml": DOCUMENT.replace(b"PAGE", page_loc),
            "Doc_0/Pages/Page_0/Content.xml": content,
        }
    )


def test_the_structure_fixture_reads() -> None:
    doc = doc_package().document()
    (run,) = doc.page_text(0)
    assert run.text == "证照名称"
    assert [g.x for g in run.glyphs] == [10, 15, 20, 25]


@pytest.mark.parametrize(
    "loc", [b"../../etc/passwd", b"/../x", b"Pages/Missing.xml", b"file:///etc/passwd", b""]
)
def test_page_location_outside_the_package_or_missing_is_malformed(loc: bytes) -> None:
    with pytest.raises(MalformedInput):
        _ = doc_package(page_loc=loc).document().pages


def test_doc_root_to_a_missing_file_is_malformed() -> None:
    package = _package({"OFD.xml": MINIMAL_OFD})
    with pytest.raises(MalformedInput, match="not in the package"):
        _ = package.document().pages


def test_signature_base_loc_outside_or_missing_is_malformed() -> None:
    ofd = MINIMAL_OFD.replace(
        b"</ofd:DocRoot>", b"</ofd:DocRoot><ofd:Signatures>Doc_0/Signs/S.xml</ofd:Signatures>"
    )
    for base_loc in (b"../../../x.xml", b"Sign_0/Signature.xml"):
        listing = (
            b'<ofd:Signatures xmlns:ofd="http://www.ofdspec.org/2016"><ofd:Signature ID="1" BaseLoc="'
            + base_loc
            + b'"/></ofd:Signatures>'
        )
        package = _package({"OFD.xml": ofd, "Doc_0/Signs/S.xml": listing})
        with pytest.raises(MalformedInput):
            package.document().signatures()


@pytest.mark.parametrize(
    "page",
    [
        {"boundary": b"10 10 nan 10"},
        {"boundary": b"10 10 50"},
        {"boundary": b"1e999 0 1 1"},
        {"boundary": b"10 10 -5 10"},
        {"delta": b"g 2"},
        {"delta": b"g x 1"},
        {"delta": b"1_0"},
        {"delta": b"inf"},
    ],
)
def test_bad_numbers_in_page_content_are_malformed(page: dict[str, bytes]) -> None:
    doc = doc_package(**page).document()
    with pytest.raises(MalformedInput):
        doc.page_text(0)


def test_huge_repeat_count_in_deltax_does_no_huge_work() -> None:
    doc = doc_package(delta=b"g 999999999 5").document()
    started = time.perf_counter()
    (run,) = doc.page_text(0)
    assert time.perf_counter() - started < 0.5
    assert [g.x for g in run.glyphs] == [10, 15, 20, 25]


@pytest.mark.parametrize(
    ("search", "replace"),
    [
        (b'ID="1" BaseLoc', b'ID="one" BaseLoc'),
        (b'ID="1" BaseLoc', b'ID="-1" BaseLoc'),
        (b'ID="1" BaseLoc', b'ID="99999999999" BaseLoc'),
        (
            b"<ofd:Pages>",
            b'<ofd:Pages><ofd:Page ID="1" BaseLoc="Pages/Page_0/Content.xml"/>',
        ),  # ID used twice
        (b"0 0 210 297", b"0 0 0 0"),
        (b"<ofd:Document ", b"<ofd:NotADocument "),
    ],
)
def test_bad_document_structure_is_malformed(search: bytes, replace: bytes) -> None:
    package = doc_package()
    document = package.files["Doc_0/Document.xml"]
    if search == b"<ofd:Document ":
        document = document.replace(search, replace).replace(b"</ofd:Document>", b"</ofd:NotADocument>")
    else:
        document = document.replace(search, replace, 1)
    broken = OfdPackage.read(package.with_files({"Doc_0/Document.xml": document}).write())
    with pytest.raises(MalformedInput):
        _ = broken.document().pages


# --- fuzzing ---------------------------------------------------------------------------------------------


def exercise(data: bytes) -> None:
    """Read ``data`` and walk everything the package layer offers; only typed errors may come out."""
    try:
        package = OfdPackage.read(data)
        for index in range(len(package.documents)):
            doc = package.document(index)
            _ = (doc.doc_id, doc.creation_date, doc.custom_datas, doc.max_unit_id)
            for page in doc.pages:
                doc.page_text(page)
            doc.signatures()
            slot = doc.next_signature_slot()
            package.with_signature_entry(slot, document=index)
    except (MalformedInput, PayloadTooLarge):
        pass


REAL_DATA = [path.read_bytes() for path in REAL_FILES]


@needs_real_files
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    which=st.integers(min_value=0, max_value=max(len(REAL_DATA) - 1, 0)),
    edits=st.lists(
        st.tuples(
            st.sampled_from(["flip", "cut", "insert", "delete"]), st.floats(0, 1), st.binary(max_size=8)
        ),
        min_size=1,
        max_size=4,
    ),
)
def test_fuzz_mutated_real_archives_raise_only_typed_errors(
    which: int, edits: list[tuple[str, float, bytes]]
) -> None:
    data = bytearray(REAL_DATA[which])
    for kind, where, blob in edits:
        at = int(where * (len(data) - 1))
        if kind == "flip":
            data[at] ^= blob[0] if blob and blob[0] else 0xFF
        elif kind == "cut":
            del data[at:]
        elif kind == "insert":
            data[at:at] = blob
        else:
            del data[at : at + 1 + len(blob) * 64]
        if not data:
            break
    exercise(bytes(data))


# The central directory is where byte flips do the most interesting damage (names, sizes, offsets, flags).
@needs_real_files
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    which=st.integers(min_value=0, max_value=max(len(REAL_DATA) - 1, 0)),
    flips=st.lists(st.tuples(st.floats(0, 1), st.integers(1, 255)), min_size=1, max_size=3),
)
def test_fuzz_central_directory_damage_raises_only_typed_errors(
    which: int, flips: list[tuple[float, int]]
) -> None:
    data = bytearray(REAL_DATA[which])
    start = data.find(b"PK\x01\x02")
    for where, mask in flips:
        at = start + int(where * (len(data) - start - 1))
        data[at] ^= mask
    exercise(bytes(data))


INTERESTING = [
    "",
    "-1",
    "0",
    "1e999",
    "nan",
    "g",
    "g 5",
    "g 999999999 1",
    "../../x",
    "/",
    "/Doc_0/../../x",
    "file:///etc/passwd",
    "99999999999",
    "Sign",
    "Foreground",
    "1 2 3",
    "0 0 0 0",
    "\u0663",
    "&amp;",
    "&lt;x&gt;",
]
ATTRIBUTE = re.compile(rb'="[^"]*"')
ELEMENT_TEXT = re.compile(rb">[^<]+<")


@needs_real_files
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_fuzz_mutated_xml_inside_valid_archives_raises_only_typed_errors(data: st.DataObject) -> None:
    package = OfdPackage.read(data.draw(st.sampled_from(REAL_DATA)))
    xml_names = sorted(name for name in package.files if name.endswith(".xml"))
    name = data.draw(st.sampled_from(xml_names))
    content = bytearray(package.files[name])
    for _ in range(data.draw(st.integers(1, 3))):
        kind = data.draw(st.sampled_from(["attribute", "text", "flip", "delete", "insert"]))
        if kind in ("attribute", "text"):
            spans = [m.span() for m in (ATTRIBUTE if kind == "attribute" else ELEMENT_TEXT).finditer(content)]
            if not spans:
                continue
            begin, end = data.draw(st.sampled_from(spans))
            value = (
                data.draw(st.sampled_from(INTERESTING) | st.text(max_size=12))
                .replace('"', "")
                .replace("<", "")
            )
            replacement = f'="{value}"' if kind == "attribute" else f">{value.replace('>', '')}<"
            content[begin:end] = replacement.encode("utf-8", "surrogatepass")
        elif kind == "flip" and content:
            content[data.draw(st.integers(0, len(content) - 1))] ^= data.draw(st.integers(1, 255))
        elif kind == "delete" and content:
            at = data.draw(st.integers(0, len(content) - 1))
            del content[at : at + data.draw(st.integers(1, 40))]
        else:
            at = data.draw(st.integers(0, len(content)))
            content[at:at] = data.draw(st.binary(min_size=1, max_size=16))
    exercise(package.with_files({name: bytes(content)}).write())


@settings(max_examples=500, deadline=None)
@given(base=st.text(max_size=30), loc=st.text(max_size=60))
def test_fuzz_resolve_stays_inside_the_package(base: str, loc: str) -> None:
    try:
        path = OfdPackage.resolve(base, loc)
    except MalformedInput:
        return
    assert path and not path.startswith("/")
    assert ".." not in path.split("/") and "." not in path.split("/") and "" not in path.split("/")
    assert "\\" not in path
    assert not re.match(r"[A-Za-z][A-Za-z0-9+.-]*:", path)  # no URL scheme or drive letter


@needs_real_files
def test_signature_list_not_named_by_ofd_xml_still_gives_a_free_id() -> None:
    """Found by the fuzz test above: OFD.xml lost its Signatures pointer while Signs/Signatures.xml stayed."""
    package = OfdPackage.read(REAL_DATA[0])
    ofd_xml = package.files["OFD.xml"]
    pointer = re.search(rb"<ofd:Signatures>[^<]*</ofd:Signatures>", ofd_xml)
    assert pointer is not None
    unpointed = package.with_files({"OFD.xml": ofd_xml.replace(pointer.group(0), b"")})
    doc = unpointed.document(0)
    listed = package.document(0).signatures()
    slot = doc.next_signature_slot()
    assert int(slot.id) > max(int(entry.id) for entry in listed)
    unpointed.with_signature_entry(slot)
