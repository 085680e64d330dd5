"""OFD packages (GB/T 33190): read a ZIP safely, keep every file's bytes exactly, find pages, text and
signatures, write a reproducible ZIP.

An :class:`OfdPackage` is an immutable mapping of package paths to the raw bytes stored in the archive
(``files``). Nothing is ever re-serialised behind the caller's back: a package read and written again holds
the same bytes for every file, which is what signatures need (spec/standards.md §4.4: each ``CheckValue`` and
the signed data are digests of the raw stored bytes). Changes make a new package
(:meth:`OfdPackage.with_files`, :meth:`OfdPackage.with_signature_entry`); only the files named are touched.

Reading (:meth:`OfdPackage.read`) treats the archive as hostile:

* limits (:class:`Limits`) on the archive size, the number of entries (counted in the central directory before
  anything is parsed), each entry's and the total uncompressed size, and the compression ratio; the declared
  sizes are checked first, then decompression stops as soon as an entry produces more than it declared, so a
  lying header cannot expand further;
* entry names: no absolute paths, drive letters, ``.``/``..`` or empty segments, backslashes or control
  characters; no duplicates, compared case-folded and NFC-normalised; no file that is also a directory;
* no symlinks or other special files, no encrypted entries, only STORED and DEFLATE, no overlapping entries,
  local headers that agree with the central directory, and the CRC of every entry.

Each failure is :class:`~trustsvc.errors.PayloadTooLarge` or :class:`~trustsvc.errors.MalformedInput` naming
the entry; no other exception leaves this module for any input bytes.

Above the ZIP: ``OFD.xml`` → ``DocBody/DocRoot`` → :class:`OfdDocument` with its pages (:class:`PageInfo`: the
``ID`` from ``Document.xml/Pages/Page``, which signatures' ``StampAnnot/@PageRef`` refers to, and the
``PhysicalBox`` in mm), the signatures listed in ``DocBody/Signatures`` (:class:`SignatureEntry`) and the text
of a page with approximate glyph boxes (:class:`TextRun`, for finding a keyword to place a seal on). ST_Loc
references are resolved by :meth:`OfdPackage.resolve`, which never leaves the package.
"""

from __future__ import annotations

import contextlib
import copy
import io
import math
import posixpath
import re
import stat
import struct
import unicodedata
import zipfile
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from types import MappingProxyType
from typing import Final, Literal

from lxml import etree

from trustsvc.errors import InvalidInput, MalformedInput, PayloadTooLarge
from trustsvc.ofd.xml import (
    DEFAULT_MAX_XML_BYTES,
    OFD_NS,
    child,
    child_text,
    children,
    local_name,
    parse_xml,
    serialize,
)

__all__ = [
    "OFD_XML",
    "GlyphBox",
    "Limits",
    "OfdDocument",
    "OfdPackage",
    "PageInfo",
    "SignatureEntry",
    "SignatureSlot",
    "SignatureType",
    "TextRun",
]

MiB: Final = 1024 * 1024
OFD_XML: Final = "OFD.xml"
SignatureType = Literal["Seal", "Sign"]

# Reproducible output: every entry gets the same time stamp (the earliest a ZIP can hold) and mode.
_ZIP_EPOCH: Final = (1980, 1, 1, 0, 0, 0)
_ZIP_FILE_MODE: Final = (stat.S_IFREG | 0o644) << 16
# Level 4 (zlib's first lazy-matching level): on our page XML and embedded fonts it is 1.3-3.5x faster than 6
# for output at most 2 % larger (docs/PERFORMANCE.md, OFD record of 2026-11-27, 21:38 UTC).
_DEFLATE_LEVEL: Final = 4
# An entry of at least _SAMPLE_FROM bytes is stored, not deflated, when deflate (level 1) shrinks evenly
# spaced interior windows of it by less than _MIN_SAVING: content that is already compressed (a seal's PNG,
# alone or inside the Seal.esl / SignedValue.dat DER) costs as much to deflate as everything else together
# and gains 2 %. Interior windows, because a DER or font's header and trailer are not what most of it is.
_SAMPLE_FROM: Final = 8 * 1024
_SAMPLE_WINDOWS: Final = 4
_SAMPLE_WINDOW_BYTES: Final = 2 * 1024
_MIN_SAVING: Final = 0.05
_INFLATE_CHUNK: Final = 1 * MiB

_LOCAL_HEADER = struct.Struct("<4s5H3I2H")
_LOCAL_SIGNATURE: Final = b"PK\x03\x04"
_CENTRAL_SIGNATURE: Final = b"PK\x01\x02"
_EOCD_SIGNATURE: Final = b"PK\x05\x06"
_ZIP64_LOCATOR_SIGNATURE: Final = b"PK\x06\x07"
_ZIP64_EOCD_SIGNATURE: Final = b"PK\x06\x06"
_FLAG_ENCRYPTED: Final = 0x0001
_FLAG_STRONG_ENCRYPTION: Final = 0x0040
_FLAG_PATCHED: Final = 0x0020  # "compressed patched data": nothing an OFD producer writes
_FLAG_UTF8: Final = 0x0800

_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_DRIVE = re.compile(r"^[A-Za-z]:")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


@dataclass(frozen=True)
class Limits:
    """Bounds on what :meth:`OfdPackage.read` accepts; sizes in bytes.

    The compression-ratio cap applies to entries larger than ``ratio_floor_bytes`` (a small file that
    compresses well is no threat); DEFLATE cannot exceed about 1032:1, so ``max_ratio`` is what makes a bomb
    of many moderate entries expensive to build rather than cheap.
    """

    max_package_bytes: int = 100 * MiB
    max_entries: int = 10_000
    max_entry_bytes: int = 100 * MiB
    max_total_bytes: int = 100 * MiB
    max_ratio: float = 200.0
    ratio_floor_bytes: int = 1 * MiB
    max_name_bytes: int = 1024
    max_xml_bytes: int = DEFAULT_MAX_XML_BYTES


@dataclass(frozen=True)
class PageInfo:
    """One page of a document: ``id`` is ``Document.xml/Pages/Page/@ID`` (what ``StampAnnot/@PageRef`` names),
    ``index`` its 0-based position, ``path`` its content file, ``physical_box`` ``(x, y, w, h)`` in mm."""

    id: int
    index: int
    path: str
    physical_box: tuple[float, float, float, float]


@dataclass(frozen=True)
class SignatureEntry:
    """One ``Signatures.xml/Signature``: ``base_loc`` as written, ``signature_xml_path`` resolved."""

    id: str
    type: SignatureType
    base_loc: str
    signature_xml_path: str


@dataclass(frozen=True)
class SignatureSlot:
    """Where the next signature of a document goes (see :meth:`OfdDocument.next_signature_slot`).

    ``dir`` is the new ``Sign_N`` directory; ``signature_xml_path`` is ``dir + "/Signature.xml"``;
    ``signatures_path`` is the signature list the entry is added to (existing or to be created).
    """

    id: str
    dir: str
    signature_xml_path: str
    signatures_path: str


@dataclass(frozen=True)
class GlyphBox:
    """An approximate glyph box in page mm (x, y = top-left, y down)."""

    char: str
    x: float
    y: float
    w: float
    h: float


@dataclass(frozen=True)
class TextRun:
    """The text of one ``TextCode`` with its approximate box in page mm (x, y = top-left, y down).

    Positions come from the ``TextObject`` Boundary and CTM, the ``TextCode`` X/Y and DeltaX/DeltaY, so each
    glyph's origin is exact; glyph extents are estimated (full-width characters one em wide, others half an
    em; from 0.8 em above the baseline to 0.2 em below) because the reader does not load fonts.
    ``baseline`` is the page y of the first glyph's baseline; ``font_size`` is in mm after the CTM.
    """

    text: str
    x: float
    y: float
    w: float
    h: float
    font_size: float
    baseline: float
    glyphs: tuple[GlyphBox, ...]
    object_id: int | None
    source: str
    visible: bool = True


# --- names and locations ------------------------------------------------------------------------------------


def _folded(path: str) -> str:
    return unicodedata.normalize("NFC", path).casefold()


def _check_name(name: str, *, max_bytes: int, what: str) -> None:
    """Raise MalformedInput unless ``name`` is a safe relative package path (a trailing '/' marks a dir)."""
    if not name:
        raise MalformedInput(f"{what}: empty name")
    if len(name.encode("utf-8", "surrogatepass")) > max_bytes:
        raise MalformedInput(f"{what} {name[:80]!r}…: name is longer than {max_bytes} bytes")
    if any(unicodedata.category(ch) in ("Cc", "Cs") for ch in name):
        raise MalformedInput(f"{what} {name!r}: control character in name")
    if "\\" in name:
        raise MalformedInput(f"{what} {name!r}: backslash in name")
    if name.startswith("/"):
        raise MalformedInput(f"{what} {name!r}: absolute path")
    if _DRIVE.match(name):
        raise MalformedInput(f"{what} {name!r}: drive letter in name")
    segments = name.split("/")
    if segments[-1] == "":
        segments = segments[:-1]
    for segment in segments:
        if segment in ("", ".", ".."):
            raise MalformedInput(f"{what} {name!r}: empty, '.' or '..' path segment")


def _normalise_loc(loc: str) -> list[str]:
    """Split an ST_Loc into path segments with '.' and '..' applied; raise if it climbs out of the root."""
    out: list[str] = []
    for segment in loc.split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if not out:
                raise MalformedInput(f"location {loc!r} points outside the package")
            out.pop()
        else:
            out.append(segment)
    return out


def _parse_number(text: str, what: str) -> float:
    token = text.strip()
    if not _NUMBER.fullmatch(token):
        raise MalformedInput(f"{what}: {text[:40]!r} is not a number")
    value = float(token)
    if not math.isfinite(value):
        raise MalformedInput(f"{what}: {text[:40]!r} is not a finite number")
    return value


def _parse_numbers(text: str, count: int, what: str) -> tuple[float, ...]:
    tokens = text.split()
    if len(tokens) != count:
        raise MalformedInput(f"{what}: expected {count} numbers, got {text[:80]!r}")
    return tuple(_parse_number(token, what) for token in tokens)


def _parse_box(text: str | None, what: str) -> tuple[float, float, float, float]:
    if text is None:
        raise MalformedInput(f"{what}: missing box")
    x, y, w, h = _parse_numbers(text, 4, what)
    if w < 0 or h < 0:
        raise MalformedInput(f"{what}: negative box size in {text[:80]!r}")
    return (x, y, w, h)


def _parse_id(text: str | None, what: str) -> int:
    token = (text or "").strip()
    if not token.isascii() or not token.isdigit() or len(token) > 10:
        raise MalformedInput(f"{what}: {token[:40]!r} is not an ID (unsigned integer)")
    value = int(token)
    if value > 0xFFFFFFFF:
        raise MalformedInput(f"{what}: {token!r} is larger than an unsigned 32-bit ID")
    return value


def _parse_deltas(text: str | None, needed: int, what: str) -> list[float | None]:
    """Return ``needed`` advances from a DeltaX/DeltaY ST_Array (``g N v`` repeats v N times); None fills the
    positions the array does not cover. Only as many values as needed are expanded."""
    out: list[float | None] = []
    if text:
        tokens = text.split()
        i = 0
        while i < len(tokens) and len(out) < needed:
            if tokens[i] == "g":
                if i + 2 >= len(tokens):
                    raise MalformedInput(f"{what}: truncated 'g N v' repeat in {text[:80]!r}")
                count_token = tokens[i + 1]
                if not count_token.isascii() or not count_token.isdigit() or len(count_token) > 9:
                    raise MalformedInput(f"{what}: bad repeat count {count_token[:20]!r}")
                value = _parse_number(tokens[i + 2], what)
                out.extend([value] * min(int(count_token), needed - len(out)))
                i += 3
            else:
                out.append(_parse_number(tokens[i], what))
                i += 1
    out.extend([None] * (needed - len(out)))
    return out


# --- ZIP reading --------------------------------------------------------------------------------------------


def _check_central_directory_count(data: bytes, limits: Limits) -> None:
    """Count central-directory records without building them; raise PayloadTooLarge over the limit.

    zipfile would build an object per record first (a 100 MiB archive can declare two million), so the count
    is checked here. Structures this cannot make sense of are left to zipfile, which refuses them.
    """
    eocd = data.rfind(_EOCD_SIGNATURE, max(0, len(data) - (22 + 0xFFFF)))
    if eocd < 0 or eocd + 22 > len(data):
        return
    _sig, _disk, _cd_disk, _n_disk, n_total, cd_size, _cd_offset, _comment = struct.unpack_from(
        "<4s4H2LH", data, eocd
    )
    cd_end = eocd
    locator = eocd - 20
    if locator >= 0 and data[locator : locator + 4] == _ZIP64_LOCATOR_SIGNATURE:
        z64 = struct.unpack_from("<Q", data, locator + 8)[0]
        if z64 + 56 <= len(data) and data[z64 : z64 + 4] == _ZIP64_EOCD_SIGNATURE:
            n_total = struct.unpack_from("<Q", data, z64 + 32)[0]
            cd_size = struct.unpack_from("<Q", data, z64 + 40)[0]
            cd_end = z64
    if n_total > limits.max_entries:
        raise PayloadTooLarge(f"archive declares {n_total} entries; the limit is {limits.max_entries}")
    # zipfile reads records until cd_size bytes are consumed, whatever the declared count: count them too.
    pos = cd_end - cd_size
    if pos < 0:
        return
    count = 0
    while pos + 46 <= cd_end and data[pos : pos + 4] == _CENTRAL_SIGNATURE:
        count += 1
        if count > limits.max_entries:
            raise PayloadTooLarge(f"archive has more than {limits.max_entries} entries")
        n, m, k = struct.unpack_from("<3H", data, pos + 28)
        pos += 46 + n + m + k


def _entry_name(info: zipfile.ZipInfo) -> str:
    """Return the entry's name as Unicode: UTF-8 when flagged; otherwise UTF-8 or GB 18030 if the bytes are
    valid in one of them (Chinese producers often omit the flag), else code page 437 as the ZIP spec says."""
    name = info.orig_filename  # before zipfile cuts at a NUL
    if info.flag_bits & _FLAG_UTF8 or name.isascii():
        return name
    try:
        raw = name.encode("cp437")
    except UnicodeEncodeError:
        return name
    for encoding in ("utf-8", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return name


def _raw_name(info: zipfile.ZipInfo) -> bytes:
    name = info.orig_filename
    return name.encode("utf-8" if info.flag_bits & _FLAG_UTF8 else "cp437", "surrogateescape")


def _check_entry(info: zipfile.ZipInfo, name: str, limits: Limits) -> None:
    _check_name(name, max_bytes=limits.max_name_bytes, what="archive entry")
    if info.flag_bits & (_FLAG_ENCRYPTED | _FLAG_STRONG_ENCRYPTION):
        raise MalformedInput(f"archive entry {name!r} is encrypted")
    file_type = stat.S_IFMT(info.external_attr >> 16)
    if file_type == stat.S_IFLNK:
        raise MalformedInput(f"archive entry {name!r} is a symbolic link")
    if file_type not in (0, stat.S_IFREG, stat.S_IFDIR):
        raise MalformedInput(f"archive entry {name!r} is not a regular file (mode {file_type:o})")
    if info.flag_bits & _FLAG_PATCHED:
        raise MalformedInput(f"archive entry {name!r} is compressed patched data (not supported)")
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise MalformedInput(
            f"archive entry {name!r} uses unsupported compression method {info.compress_type}"
        )
    if info.file_size > limits.max_entry_bytes:
        raise PayloadTooLarge(
            f"archive entry {name!r} declares {info.file_size} bytes; the limit is {limits.max_entry_bytes}"
        )
    if info.file_size > limits.ratio_floor_bytes and info.file_size > limits.max_ratio * max(
        info.compress_size, 1
    ):
        raise PayloadTooLarge(
            f"archive entry {name!r} compresses {info.file_size} bytes into {info.compress_size}: "
            f"over the {limits.max_ratio:g}:1 ratio limit"
        )
    if name.endswith("/") and info.file_size:
        raise MalformedInput(f"archive entry {name!r} is a directory with content")


def _check_overlaps(data: bytes, infos: list[zipfile.ZipInfo], names: dict[int, str], cd_start: int) -> None:
    """Refuse entries whose data overlap (the overlapping-files zip bomb) or reach the central directory."""
    ordered = sorted(range(len(infos)), key=lambda i: infos[i].header_offset)
    for position, i in enumerate(ordered):
        info = infos[i]
        offset = info.header_offset
        if offset < 0 or offset + _LOCAL_HEADER.size > len(data):
            raise MalformedInput(f"archive entry {names[i]!r}: local header is outside the archive")
        name_len, extra_len = struct.unpack_from("<2H", data, offset + 26)
        end = offset + _LOCAL_HEADER.size + name_len + extra_len + info.compress_size
        following = infos[ordered[position + 1]].header_offset if position + 1 < len(ordered) else cd_start
        if end > following:
            raise MalformedInput(
                f"archive entry {names[i]!r} overlaps the next entry or the central directory"
            )


def _inflate(data: bytes, info: zipfile.ZipInfo, name: str) -> bytes:
    """Return the entry's uncompressed bytes, checked against its header, its declared size and CRC."""
    offset = info.header_offset
    if offset < 0 or offset + _LOCAL_HEADER.size > len(data):
        raise MalformedInput(f"archive entry {name!r}: local header is outside the archive")
    (signature, _version, flags, method, _time, _date, _crc, _csize, _usize, name_len, extra_len) = (
        _LOCAL_HEADER.unpack_from(data, offset)
    )
    if signature != _LOCAL_SIGNATURE:
        raise MalformedInput(f"archive entry {name!r}: bad local header signature")
    start = offset + _LOCAL_HEADER.size + name_len + extra_len
    if data[offset + _LOCAL_HEADER.size : offset + _LOCAL_HEADER.size + name_len] != _raw_name(info):
        raise MalformedInput(f"archive entry {name!r}: local header names a different file")
    if method != info.compress_type or (flags ^ info.flag_bits) & (_FLAG_ENCRYPTED | _FLAG_STRONG_ENCRYPTION):
        raise MalformedInput(f"archive entry {name!r}: local header disagrees with the central directory")
    if start + info.compress_size > len(data):
        raise MalformedInput(f"archive entry {name!r}: data runs past the end of the archive (truncated?)")
    raw = data[start : start + info.compress_size]
    declared = info.file_size
    if info.compress_type == zipfile.ZIP_STORED:
        if len(raw) != declared:
            raise MalformedInput(f"archive entry {name!r}: stored size differs from its declared size")
        out = raw
    else:
        out = _inflate_stream(raw, name, declared)
    if zlib.crc32(out) != info.CRC:
        raise MalformedInput(f"archive entry {name!r}: CRC-32 mismatch (corrupt data)")
    return out


def _inflate_stream(raw: bytes, name: str, declared: int) -> bytes:
    """Inflate ``raw``, producing at most ``declared`` + 1 bytes: the declared size is already within the
    limits, so an entry whose header lies about its size is caught one byte past it, however far it would
    expand."""
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    parts: list[bytes] = []
    produced = 0
    pending = raw
    try:
        while True:
            budget = min(_INFLATE_CHUNK, declared + 1 - produced)  # always >= 1 (0 would mean unlimited)
            chunk = inflater.decompress(pending, budget)
            pending = inflater.unconsumed_tail
            produced += len(chunk)
            if produced > declared:
                raise MalformedInput(
                    f"archive entry {name!r} inflates to more than its declared {declared} bytes"
                )
            parts.append(chunk)
            if inflater.eof or (not pending and len(chunk) < budget):
                break
    except zlib.error as exc:
        raise MalformedInput(f"archive entry {name!r}: corrupt DEFLATE data ({exc})") from None
    if not inflater.eof:
        raise MalformedInput(f"archive entry {name!r}: DEFLATE stream is truncated")
    if produced != declared:
        raise MalformedInput(
            f"archive entry {name!r} inflates to {produced} bytes, not the declared {declared}"
        )
    return b"".join(parts)


def _read_zip(data: bytes, limits: Limits) -> dict[str, bytes]:
    if len(data) > limits.max_package_bytes:
        raise PayloadTooLarge(
            f"package of {len(data)} bytes is over the {limits.max_package_bytes}-byte limit"
        )
    _check_central_directory_count(data, limits)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
            cd_start = archive.start_dir
    except (zipfile.BadZipFile, zipfile.LargeZipFile) as exc:
        raise MalformedInput(f"not an OFD package (ZIP): {exc}") from None
    except (
        ValueError,
        struct.error,
        EOFError,
        OSError,
        OverflowError,
        IndexError,
        KeyError,
        UnicodeError,
        NotImplementedError,  # e.g. "zip file version 9.9" from a damaged central directory
        RuntimeError,
    ) as exc:
        raise MalformedInput(f"not an OFD package (corrupt ZIP): {exc}") from None
    if len(infos) > limits.max_entries:
        raise PayloadTooLarge(f"archive has {len(infos)} entries; the limit is {limits.max_entries}")

    names: dict[int, str] = {}
    seen: dict[str, str] = {}
    files_folded: set[str] = set()
    dirs_folded: set[str] = set()
    declared_total = 0
    for i, info in enumerate(infos):
        name = _entry_name(info)
        _check_entry(info, name, limits)
        folded = _folded(name.rstrip("/"))
        if folded in seen:
            raise MalformedInput(f"archive entry {name!r} duplicates {seen[folded]!r}")
        seen[folded] = name
        names[i] = name
        if name.endswith("/"):
            dirs_folded.add(folded)
        else:
            files_folded.add(folded)
            declared_total += info.file_size
        parts = folded.split("/")
        dirs_folded.update("/".join(parts[:n]) for n in range(1, len(parts)))
    if declared_total > limits.max_total_bytes:
        raise PayloadTooLarge(
            f"archive declares {declared_total} uncompressed bytes; the limit is {limits.max_total_bytes}"
        )
    clash = files_folded & dirs_folded
    if clash:
        raise MalformedInput(f"archive entry {seen[min(clash)]!r} is both a file and a directory")
    _check_overlaps(data, infos, names, cd_start)

    # Each entry inflates to exactly its declared size or is refused, so the declared total bounds the work.
    return {
        names[i]: _inflate(data, info, names[i]) for i, info in enumerate(infos) if not names[i].endswith("/")
    }


# --- ZIP writing --------------------------------------------------------------------------------------------


def _compress_type(data: bytes) -> int:
    """ZIP_STORED for an entry whose content deflate would barely shrink, else ZIP_DEFLATED.

    Decided from the bytes alone, so the output stays reproducible, by deflating 8 KiB of it (for a 90 KB
    seal a tenth of the cost of deflating it all): see _SAMPLE_FROM. Real producers store too (Baiwang
    stores its PNGs).
    """
    size = len(data)
    if size < _SAMPLE_FROM:
        return zipfile.ZIP_DEFLATED
    sampled = packed = 0
    for k in range(_SAMPLE_WINDOWS):
        centre = (2 * k + 1) * size // (2 * _SAMPLE_WINDOWS)
        start = max(0, centre - _SAMPLE_WINDOW_BYTES // 2)
        window = data[start : start + _SAMPLE_WINDOW_BYTES]
        sampled += len(window)
        packed += len(zlib.compress(window, 1, wbits=-zlib.MAX_WBITS))
    return zipfile.ZIP_STORED if packed > sampled * (1 - _MIN_SAVING) else zipfile.ZIP_DEFLATED


# --- the package --------------------------------------------------------------------------------------------


class OfdPackage:
    """An immutable OFD package: package path → raw bytes, plus the OFD structure read from them.

    Paths are package-relative, '/'-separated, without a leading '/'. XML is parsed lazily with the hardened
    parser and cached; parsed trees handed out (:attr:`ofd_xml`, :meth:`xml`) are copies the caller may
    change.
    """

    def __init__(self, files: Mapping[str, bytes] | None = None, *, limits: Limits | None = None) -> None:
        """Build a package holding ``files`` (see :meth:`with_files` for the rules on paths)."""
        self._limits = limits or Limits()
        self._files: dict[str, bytes] = {}
        self._xml_cache: dict[str, etree._Element] = {}
        if files:
            self._files = self._applied(files)

    # construction

    @classmethod
    def read(cls, data: bytes, *, limits: Limits | None = None) -> OfdPackage:
        """Return the package in the OFD (ZIP) ``data``, checked against ``limits`` (see the module doc)."""
        if not isinstance(data, bytes | bytearray | memoryview):
            raise InvalidInput(f"OFD package must be bytes, got {type(data).__name__}")
        limits = limits or Limits()
        if len(data) > limits.max_package_bytes:  # before copying it
            raise PayloadTooLarge(
                f"package of {len(data)} bytes is over the {limits.max_package_bytes}-byte limit"
            )
        package = cls(limits=limits)
        package._files = _read_zip(bytes(data), limits)
        if OFD_XML not in package._files:
            raise MalformedInput("not an OFD package: no OFD.xml at the package root")
        return package

    @classmethod
    def from_files(cls, files: Mapping[str, bytes], *, limits: Limits | None = None) -> OfdPackage:
        """Return a package holding ``files`` (a leading '/' on a path is dropped); names are checked."""
        return cls(files, limits=limits)

    def with_files(self, changes: Mapping[str, bytes | None]) -> OfdPackage:
        """Return a new package with ``changes`` applied: bytes add or replace a file, None removes it.

        Every other file keeps its exact bytes. Paths may be given with a leading '/' (ST_Loc absolute form).
        Raises :class:`InvalidInput` for unsafe names, a name that differs from an existing one only in case,
        or removing a file that is not there.
        """
        package = type(self)(limits=self._limits)
        package._files = self._applied(changes)
        # parsed XML of unchanged files stays valid (cached trees are never modified)
        package._xml_cache = {
            path: root
            for path, root in self._xml_cache.items()
            if package._files.get(path) is self._files.get(path)
        }
        return package

    def _applied(self, changes: Mapping[str, bytes | None]) -> dict[str, bytes]:
        files = dict(self._files)
        folded = {_folded(name): name for name in files}
        for raw_name, content in changes.items():
            name = self._checked_path(raw_name)
            if content is None:
                if name not in files:
                    raise InvalidInput(f"cannot remove {name!r}: no such file in the package")
                del files[name]
                del folded[_folded(name)]
                continue
            if not isinstance(content, bytes | bytearray | memoryview):
                raise InvalidInput(f"content of {name!r} must be bytes, got {type(content).__name__}")
            existing = folded.get(_folded(name))
            if existing is not None and existing != name:
                raise InvalidInput(f"{name!r} clashes with {existing!r} (names differ only in case)")
            files[name] = content if isinstance(content, bytes) else bytes(content)
            folded[_folded(name)] = name
        return files

    def _checked_path(self, raw_name: str) -> str:
        if not isinstance(raw_name, str):
            raise InvalidInput(f"package path must be a string, got {type(raw_name).__name__}")
        name = raw_name[1:] if raw_name.startswith("/") else raw_name
        try:
            _check_name(name, max_bytes=self._limits.max_name_bytes, what="package path")
        except MalformedInput as exc:
            raise InvalidInput(exc.detail) from None
        if name.endswith("/"):
            raise InvalidInput(f"package path {raw_name!r} names a directory, not a file")
        return name

    # raw content

    @property
    def limits(self) -> Limits:
        return self._limits

    @property
    def files(self) -> Mapping[str, bytes]:
        """Every file's raw bytes as stored, by package path (read-only view)."""
        return MappingProxyType(self._files)

    def file(self, path: str) -> bytes:
        """Return the raw bytes of ``path`` (a leading '/' is allowed); MalformedInput if it is missing."""
        key = path[1:] if path.startswith("/") else path
        try:
            return self._files[key]
        except KeyError:
            raise MalformedInput(f"package has no file {key!r}") from None

    def __contains__(self, path: object) -> bool:
        return isinstance(path, str) and (path[1:] if path.startswith("/") else path) in self._files

    @staticmethod
    def dirname(path: str) -> str:
        """Return the directory of a package path ('' for the root), the base for its relative ST_Locs."""
        return posixpath.dirname(path)

    @staticmethod
    def resolve(base_dir: str, loc: str) -> str:
        """Return the package path an ST_Loc names: ``/…`` from the package root, otherwise relative to
        ``base_dir`` (the directory of the file that holds the reference, '' for the root).

        Raises :class:`MalformedInput` for a location that is empty, has a URL scheme, a backslash or a
        control character, or climbs out of the package with '..'. Whether the file exists is not checked
        here (see :meth:`load`).
        """
        if not isinstance(loc, str) or not isinstance(base_dir, str):
            raise MalformedInput("a location and its base directory must be text")
        text = loc.strip()
        if not text:
            raise MalformedInput("empty location (ST_Loc)")
        # the base is checked like the location: both end up in the path
        for part in (text, base_dir):
            if "\\" in part or any(unicodedata.category(ch) in ("Cc", "Cs") for ch in part):
                raise MalformedInput(f"location {part[:120]!r}: backslash or control character")
            if _SCHEME.match(part) or _DRIVE.match(part):
                raise MalformedInput(f"location {part[:120]!r}: only package paths are allowed, not URLs")
        # '.'/'..' are applied to base and location together, so neither can climb out of the root
        segments = _normalise_loc(text if text.startswith("/") else base_dir + "/" + text)
        if not segments:
            raise MalformedInput(f"location {text[:120]!r} names the package root, not a file")
        path = "/".join(segments)
        if _SCHEME.match(path) or _DRIVE.match(path):
            raise MalformedInput(f"location {text[:120]!r}: resolves to a URL-like path {path[:120]!r}")
        return path

    def load(self, base_dir: str, loc: str) -> tuple[str, bytes]:
        """Return ``(path, raw bytes)`` of the file an ST_Loc names; MalformedInput if it is not there."""
        path = self.resolve(base_dir, loc)
        if path not in self._files:
            raise MalformedInput(
                f"location {loc.strip()[:120]!r} names {path!r}, which is not in the package"
            )
        return path, self._files[path]

    def xml(self, path: str) -> etree._Element:
        """Return a fresh copy of the parsed XML file ``path`` (MalformedInput if missing or not XML)."""
        return copy.deepcopy(self._xml(path))

    def _xml(self, path: str) -> etree._Element:
        cached = self._xml_cache.get(path)
        if cached is None:
            cached = parse_xml(self.file(path), max_bytes=self._limits.max_xml_bytes, name=path)
            self._xml_cache[path] = cached
        return cached

    # OFD structure

    @property
    def ofd_xml(self) -> etree._Element:
        """Return a copy of the parsed ``OFD.xml`` root (``ofd:OFD``)."""
        return copy.deepcopy(self._ofd_root())

    def _ofd_root(self) -> etree._Element:
        if OFD_XML not in self._files:
            raise MalformedInput("not an OFD package: no OFD.xml at the package root")
        root = self._xml(OFD_XML)
        if local_name(root) != "OFD":
            raise MalformedInput(f"OFD.xml: root element is {local_name(root)!r}, not OFD")
        return root

    def _doc_bodies(self) -> list[etree._Element]:
        bodies = list(children(self._ofd_root(), "DocBody"))
        if not bodies:
            raise MalformedInput("OFD.xml has no DocBody")
        return bodies

    @cached_property
    def documents(self) -> list[str]:
        """The ``Document.xml`` path of each ``DocBody/DocRoot``, in order."""
        paths = []
        for i, body in enumerate(self._doc_bodies()):
            loc = child_text(body, "DocRoot")
            if not loc:
                raise MalformedInput(f"OFD.xml: DocBody {i} has no DocRoot")
            paths.append(self.resolve("", loc))
        return paths

    def document(self, index: int = 0) -> OfdDocument:
        """Return document ``index`` (0-based); InvalidInput if there is no such document."""
        documents = self.documents
        if not isinstance(index, int) or not 0 <= index < len(documents):
            raise InvalidInput(f"no document {index!r}; the package has {len(documents)}")
        return OfdDocument(self, index)

    # output

    def write(self) -> bytes:
        """Return the package as an OFD (ZIP) file, byte-for-byte reproducible for the same files.

        Entry order is ``OFD.xml`` first, then by path; every entry has the same time stamp and mode. Each
        entry is DEFLATE (level 4) or, when its content is already compressed, STORED
        (:func:`_compress_type`): both are in every ZIP reader, and neither changes the file bytes that
        signatures digest.
        """
        order = sorted(self._files, key=lambda name: (name != OFD_XML, name))
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name in order:
                data = self._files[name]
                info = zipfile.ZipInfo(name, date_time=_ZIP_EPOCH)
                info.compress_type = _compress_type(data)
                info.create_system = 3
                info.external_attr = _ZIP_FILE_MODE
                archive.writestr(info, data, compresslevel=_DEFLATE_LEVEL)
        return buffer.getvalue()

    # signing support

    def with_signature_entry(
        self, slot: SignatureSlot, *, type: SignatureType = "Seal", document: int = 0
    ) -> OfdPackage:
        """Return a new package with ``slot`` listed as a signature of ``document``.

        Adds ``DocBody/Signatures`` to ``OFD.xml`` when the document has no signature list yet (only then is
        ``OFD.xml`` rewritten), creates or extends ``Signatures.xml`` (``MaxSignId`` raised to the slot's
        ID) and leaves every other file's bytes untouched. The signature's own files (``Signature.xml``,
        ``SignedValue.dat``, ``Seal.esl``) are added by the caller with :meth:`with_files`.
        """
        if type not in ("Seal", "Sign"):
            raise InvalidInput(f"signature type must be 'Seal' or 'Sign', got {type!r}")
        doc = self.document(document)
        changes: dict[str, bytes | None] = {}
        if doc.signatures_path is None:
            root = copy.deepcopy(self._ofd_root())
            body = list(children(root, "DocBody"))[document]
            element = etree.SubElement(body, _sibling_tag(body, "Signatures"))
            element.text = slot.signatures_path
            changes[OFD_XML] = serialize(root)
        elif doc.signatures_path != slot.signatures_path:
            raise InvalidInput(
                f"slot is for {slot.signatures_path!r} but the document lists {doc.signatures_path!r}"
            )
        if slot.signatures_path in self._files:
            listing = copy.deepcopy(self._xml(slot.signatures_path))
            if local_name(listing) != "Signatures":
                raise MalformedInput(f"{slot.signatures_path}: root element is not Signatures")
            if any(entry.get("ID") == slot.id for entry in children(listing, "Signature")):
                raise InvalidInput(f"signature ID {slot.id!r} is already listed")
        else:
            listing = etree.Element(f"{{{OFD_NS}}}Signatures", nsmap={"ofd": OFD_NS})
        max_id = child(listing, "MaxSignId")
        if max_id is None:
            max_id = etree.Element(_sibling_tag(listing, "MaxSignId"))
            listing.insert(0, max_id)
        current = (max_id.text or "").strip()
        if not (
            current.isascii() and current.isdigit() and slot.id.isdigit() and int(current) > int(slot.id)
        ):
            max_id.text = slot.id
        entry = etree.SubElement(listing, _sibling_tag(listing, "Signature"))
        entry.set("ID", slot.id)
        entry.set("Type", type)
        list_dir = posixpath.dirname(slot.signatures_path)
        entry.set("BaseLoc", posixpath.relpath(slot.signature_xml_path, list_dir or "."))
        changes[slot.signatures_path] = serialize(listing)
        return self.with_files(changes)


def _sibling_tag(parent: etree._Element, local: str) -> str:
    """A tag for a new child of ``parent`` in the same namespace as ``parent`` (OFD or none)."""
    tag = parent.tag
    assert isinstance(tag, str)
    return f"{tag.rpartition('}')[0]}}}{local}" if tag.startswith("{") else local


# --- documents ----------------------------------------------------------------------------------------------


class OfdDocument:
    """One document of a package (``DocBody[index]``): pages, signatures and page text."""

    def __init__(self, package: OfdPackage, index: int) -> None:
        self.package = package
        self.index = index
        self.path = package.documents[index]
        self.dir = posixpath.dirname(self.path)

    @cached_property
    def _body(self) -> etree._Element:
        return self.package._doc_bodies()[self.index]

    @cached_property
    def _root(self) -> etree._Element:
        root = self.package._xml(self.package.load("", self.path)[0])
        if local_name(root) != "Document":
            raise MalformedInput(f"{self.path}: root element is {local_name(root)!r}, not Document")
        return root

    @cached_property
    def _common(self) -> etree._Element:
        common = child(self._root, "CommonData")
        if common is None:
            raise MalformedInput(f"{self.path}: no CommonData")
        return common

    # metadata

    @property
    def doc_id(self) -> str | None:
        """``DocInfo/DocID`` of this document's DocBody."""
        info = child(self._body, "DocInfo")
        return None if info is None else child_text(info, "DocID")

    @property
    def creation_date(self) -> str | None:
        """``DocInfo/CreationDate`` as written (xs:date, e.g. ``2026-01-01``)."""
        info = child(self._body, "DocInfo")
        return None if info is None else child_text(info, "CreationDate")

    @property
    def custom_datas(self) -> dict[str, str]:
        """``DocInfo/CustomDatas`` as a name → value mapping (a later duplicate name wins)."""
        info = child(self._body, "DocInfo")
        datas = None if info is None else child(info, "CustomDatas")
        if datas is None:
            return {}
        return {item.get("Name", ""): item.text or "" for item in children(datas, "CustomData")}

    @property
    def max_unit_id(self) -> int:
        """``CommonData/MaxUnitID``."""
        return _parse_id(child_text(self._common, "MaxUnitID"), f"{self.path}: MaxUnitID")

    # pages

    @cached_property
    def default_physical_box(self) -> tuple[float, float, float, float]:
        """``CommonData/PageArea/PhysicalBox``: the page box of pages without their own ``Area``."""
        area = child(self._common, "PageArea")
        return _parse_box(None if area is None else child_text(area, "PhysicalBox"), f"{self.path}: PageArea")

    @cached_property
    def pages(self) -> list[PageInfo]:
        """The document's pages in order, each with its ID, content path and physical box (mm)."""
        pages_element = child(self._root, "Pages")
        if pages_element is None:
            raise MalformedInput(f"{self.path}: no Pages")
        out: list[PageInfo] = []
        seen: set[int] = set()
        for index, page in enumerate(children(pages_element, "Page")):
            page_id = _parse_id(page.get("ID"), f"{self.path}: Page {index} ID")
            if page_id in seen:
                raise MalformedInput(f"{self.path}: page ID {page_id} is used twice")
            seen.add(page_id)
            path, _ = self.package.load(self.dir, page.get("BaseLoc") or "")
            content = self._page_root(path)
            area = child(content, "Area")
            box_text = None if area is None else child_text(area, "PhysicalBox")
            box = _parse_box(box_text, f"{path}: PhysicalBox") if box_text else self.default_physical_box
            if box[2] <= 0 or box[3] <= 0:
                raise MalformedInput(f"{path}: page {page_id} has an empty PhysicalBox")
            out.append(PageInfo(id=page_id, index=index, path=path, physical_box=box))
        if not out:
            raise MalformedInput(f"{self.path}: the document has no pages")
        return out

    def page_by_id(self, page_id: int) -> PageInfo:
        """Return the page whose ``ID`` is ``page_id`` (``StampAnnot/@PageRef``); InvalidInput if none."""
        for page in self.pages:
            if page.id == page_id:
                return page
        raise InvalidInput(f"the document has no page with ID {page_id}")

    def _page_root(self, path: str) -> etree._Element:
        root = self.package._xml(path)
        if local_name(root) != "Page":
            raise MalformedInput(f"{path}: root element is {local_name(root)!r}, not Page")
        return root

    @cached_property
    def _templates(self) -> dict[int, str]:
        templates: dict[int, str] = {}
        for template in children(self._common, "TemplatePage"):
            template_id = _parse_id(template.get("ID"), f"{self.path}: TemplatePage ID")
            templates[template_id] = self.package.load(self.dir, template.get("BaseLoc") or "")[0]
        return templates

    # text

    def page_text(self, page: PageInfo | int, *, include_templates: bool = True) -> list[TextRun]:
        """Return the text runs of ``page`` (a PageInfo or a 0-based index) in drawing order, positions in
        page mm.

        With ``include_templates`` the text of the page's templates is included (background templates first,
        foreground ones last), since it is visible on the page too.
        """
        info = self.pages[page] if isinstance(page, int) else page
        if not isinstance(info, PageInfo) or info not in self.pages:
            raise InvalidInput(f"{page!r} is not a page of this document")
        content = self._page_root(info.path)
        background: list[str] = []
        foreground: list[str] = []
        if include_templates:
            for use in children(content, "Template"):
                template_id = _parse_id(use.get("TemplateID"), f"{info.path}: TemplateID")
                if template_id not in self._templates:
                    raise MalformedInput(f"{info.path}: template {template_id} is not in {self.path}")
                layer = foreground if use.get("ZOrder") == "Foreground" else background
                layer.append(self._templates[template_id])
        runs: list[TextRun] = []
        for path in [*background, info.path, *foreground]:
            runs.extend(_text_runs(self._page_root(path), path))
        return runs

    # signatures

    @property
    def signatures_path(self) -> str | None:
        """The package path of this document's ``Signatures.xml`` (``DocBody/Signatures``), or None."""
        loc = child_text(self._body, "Signatures")
        return self.package.resolve("", loc) if loc else None

    def _signatures_root(self) -> etree._Element | None:
        path = self.signatures_path
        if path is None:
            return None
        root = self.package._xml(self.package.load("", path)[0])
        if local_name(root) != "Signatures":
            raise MalformedInput(f"{path}: root element is {local_name(root)!r}, not Signatures")
        return root

    def signatures(self, *, check_files: bool = True) -> list[SignatureEntry]:
        """Return the signatures listed in ``Signatures.xml`` (empty when the document has no list).

        ``Type`` defaults to ``Seal``. With ``check_files`` each ``Signature.xml`` must be in the package.
        """
        root = self._signatures_root()
        if root is None:
            return []
        assert self.signatures_path is not None
        base = posixpath.dirname(self.signatures_path)
        entries: list[SignatureEntry] = []
        seen: set[str] = set()
        for element in children(root, "Signature"):
            signature_id = (element.get("ID") or "").strip()
            if not signature_id:
                raise MalformedInput(f"{self.signatures_path}: a Signature has no ID")
            if signature_id in seen:
                raise MalformedInput(f"{self.signatures_path}: signature ID {signature_id!r} is used twice")
            seen.add(signature_id)
            kind = (element.get("Type") or "Seal").strip()
            if kind not in ("Seal", "Sign"):
                raise MalformedInput(
                    f"{self.signatures_path}: signature {signature_id!r} has Type {kind[:20]!r}"
                )
            base_loc = element.get("BaseLoc") or ""
            if check_files:
                path = self.package.load(base, base_loc)[0]
            else:
                path = self.package.resolve(base, base_loc)
            entries.append(
                SignatureEntry(
                    id=signature_id,
                    type="Seal" if kind == "Seal" else "Sign",
                    base_loc=base_loc,
                    signature_xml_path=path,
                )
            )
        return entries

    def next_signature_slot(self) -> SignatureSlot:
        """Return where a new signature goes: ID one above ``MaxSignId`` and every listed numeric ID, in the
        first ``Sign_N`` directory (N from 0) that neither holds a file nor is named by a listed signature
        (whose files may not be written yet), next to the signature list (``<doc>/Signs`` when there is none).
        """
        signatures_path = self.signatures_path or (
            f"{self.dir}/Signs/Signatures.xml" if self.dir else "Signs/Signatures.xml"
        )
        signs_dir = posixpath.dirname(signatures_path)
        used = {_folded(name) for name in self.package.files}
        highest = 0
        root = self._signatures_root()
        if root is None and signatures_path in self.package.files:
            # A list file the OFD.xml does not point at (it is about to): its IDs are taken all the same.
            root = self.package._xml(signatures_path)
            if local_name(root) != "Signatures":
                raise MalformedInput(f"{signatures_path}: root element is not Signatures")
        if root is not None:
            candidates = [child_text(root, "MaxSignId") or ""]
            for entry in children(root, "Signature"):
                candidates.append((entry.get("ID") or "").strip())
                # a broken BaseLoc occupies no directory we could pick
                with contextlib.suppress(MalformedInput):
                    used.add(_folded(self.package.resolve(signs_dir, entry.get("BaseLoc") or "")))
            for candidate in candidates:
                if candidate.isascii() and candidate.isdigit() and len(candidate) <= 10:
                    highest = max(highest, int(candidate))
        n = 0
        while True:
            directory = f"{signs_dir}/Sign_{n}" if signs_dir else f"Sign_{n}"
            prefix = _folded(directory) + "/"
            if not any(name.startswith(prefix) for name in used):
                break
            n += 1
        return SignatureSlot(
            id=str(highest + 1),
            dir=directory,
            signature_xml_path=f"{directory}/Signature.xml",
            signatures_path=signatures_path,
        )


# --- text extraction ----------------------------------------------------------------------------------------

_ASCENT: Final = 0.8  # of the font size above the baseline, for estimated glyph boxes
_DESCENT: Final = 0.2
_IDENTITY: Final = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)


def _estimated_advance(ch: str, size: float) -> float:
    return size if unicodedata.east_asian_width(ch) in ("W", "F") else size / 2


def _content_objects(root: etree._Element) -> Iterator[etree._Element]:
    content = child(root, "Content")
    if content is None:
        return
    for element in content.iter():
        if local_name(element) == "TextObject" and isinstance(element.tag, str):
            yield element


def _to_page(ctm: tuple[float, ...], origin: tuple[float, float], x: float, y: float) -> tuple[float, float]:
    """Map object coordinates to page mm: CTM ``a b c d e f`` (x' = ax + cy + e, y' = bx + dy + f), then the
    Boundary origin."""
    a, b, c, d, e, f = ctm
    return (origin[0] + a * x + c * y + e, origin[1] + b * x + d * y + f)


def _glyph_box(
    ch: str,
    ctm: tuple[float, ...],
    origin: tuple[float, float],
    x: float,
    y: float,
    width: float,
    size: float,
) -> GlyphBox:
    corners = [
        _to_page(ctm, origin, x + u, y + v) for u in (0.0, width) for v in (-_ASCENT * size, _DESCENT * size)
    ]
    xs = [p[0] for p in corners]
    ys = [p[1] for p in corners]
    return GlyphBox(ch, min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys))


def _text_runs(root: etree._Element, source: str) -> list[TextRun]:
    runs: list[TextRun] = []
    for text_object in _content_objects(root):
        object_id_text = text_object.get("ID")
        object_id = (
            _parse_id(object_id_text, f"{source}: TextObject ID") if object_id_text is not None else None
        )
        what = f"{source}: TextObject {object_id}"
        bx, by, _bw, _bh = _parse_box(text_object.get("Boundary"), f"{what} Boundary")
        origin = (bx, by)
        size = _parse_number(text_object.get("Size") or "", f"{what} Size")
        ctm_text = text_object.get("CTM")
        ctm = _parse_numbers(ctm_text, 6, f"{what} CTM") if ctm_text else _IDENTITY
        scale = math.sqrt(abs(ctm[0] * ctm[3] - ctm[1] * ctm[2]))
        visible = (text_object.get("Visible") or "true").strip() != "false"
        # A TextCode without X or Y continues where the previous one ended.
        x = 0.0
        y = 0.0
        for code in children(text_object, "TextCode"):
            x_text, y_text = code.get("X"), code.get("Y")
            if x_text is not None:
                x = _parse_number(x_text, f"{what} TextCode X")
            if y_text is not None:
                y = _parse_number(y_text, f"{what} TextCode Y")
            text = code.text or ""
            if not text:
                continue
            dx = _parse_deltas(code.get("DeltaX"), len(text) - 1, f"{what} DeltaX")
            dy = _parse_deltas(code.get("DeltaY"), len(text) - 1, f"{what} DeltaY")
            baseline = _to_page(ctm, origin, x, y)[1]
            glyphs: list[GlyphBox] = []
            for i, ch in enumerate(text):
                estimate = _estimated_advance(ch, size)
                step = dx[i] if i < len(dx) else None
                width = step if step is not None and 0 < step < estimate else estimate
                glyphs.append(_glyph_box(ch, ctm, origin, x, y, width, size))
                x += estimate if step is None else step
                step_y = dy[i] if i < len(dy) else None
                y += 0.0 if step_y is None else step_y
            left = min(g.x for g in glyphs)
            top = min(g.y for g in glyphs)
            right = max(g.x + g.w for g in glyphs)
            bottom = max(g.y + g.h for g in glyphs)
            runs.append(
                TextRun(
                    text=text,
                    x=left,
                    y=top,
                    w=right - left,
                    h=bottom - top,
                    font_size=size * scale,
                    baseline=baseline,
                    glyphs=tuple(glyphs),
                    object_id=object_id,
                    source=source,
                    visible=visible,
                )
            )
    return runs
