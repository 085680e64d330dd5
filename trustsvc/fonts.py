"""The Chinese fonts trustsvc draws with, shipped inside the package (no system font package needed).

Two faces, both subsets of Noto CJK SC (SIL OFL 1.1) with TrueType (``glyf``) outlines, built once by
``tools/build_fonts.py`` (see ``trustsvc/data/fonts/README.md``):

- ``"serif"`` — Noto Serif SC, a Song (宋体) face: licence body text and seal lettering;
- ``"sans"`` — Noto Sans SC, a Hei (黑体) face: headings.

Each covers GB 2312 (all 7445 characters), the 8105 characters of the 通用规范汉字表, ASCII, Latin-1, common
punctuation and full-width forms. Text outside that set cannot be drawn: callers check it first with
:func:`missing_glyphs` / :func:`require_glyphs` and refuse it with an error naming the characters, rather than
printing empty boxes on a licence.

Loading is done once per process: the character map is parsed on first use and the Pillow font objects are
cached per (face, size). reportlab and the OFD writer take the file itself from :func:`font_path`.
"""

from __future__ import annotations

import struct
from functools import cache, lru_cache
from pathlib import Path
from typing import Literal

from PIL import ImageFont

from trustsvc.errors import ConfigurationError, InvalidInput

__all__ = [
    "FONT_DIR",
    "FONT_FILES",
    "FontFace",
    "codepoints",
    "font_path",
    "has_glyphs",
    "missing_glyphs",
    "pil_font",
    "require_glyphs",
]

FontFace = Literal["serif", "sans"]

FONT_DIR = Path(__file__).resolve().parent / "data" / "fonts"
FONT_FILES: dict[str, str] = {
    "serif": "NotoSerifSC-Regular.subset.ttf",
    "sans": "NotoSansSC-Regular.subset.ttf",
}

# Line breaks and tabs are layout, not glyphs: text with them is still drawable.
_LAYOUT_CHARACTERS = frozenset("\n\r\t")


def font_path(face: FontFace = "serif") -> Path:
    """Return the path of the TrueType file for ``face`` (for reportlab ``TTFont`` and OFD embedding)."""
    try:
        name = FONT_FILES[face]
    except KeyError:
        raise InvalidInput(f"unknown font face {face!r}; expected one of {sorted(FONT_FILES)}") from None
    path = FONT_DIR / name
    if not path.is_file():
        raise ConfigurationError(f"font file missing from the installation: {path}")
    return path


@lru_cache(maxsize=128)
def pil_font(size_px: int, face: FontFace = "serif") -> ImageFont.FreeTypeFont:
    """Return the Pillow font for ``face`` at ``size_px`` pixels per em; one object per (size, face).

    The basic layout engine is used on purpose: it is the same on every Pillow build (raqm is optional), so a
    picture drawn from the same input is the same everywhere.
    """
    if not isinstance(size_px, int) or not 1 <= size_px <= 4096:
        raise InvalidInput(f"font size must be an integer number of pixels in 1..4096, got {size_px!r}")
    return ImageFont.truetype(str(font_path(face)), size_px, layout_engine=ImageFont.Layout.BASIC)


@cache
def codepoints(face: FontFace = "serif") -> frozenset[int]:
    """Return the Unicode code points ``face`` has a glyph for (read from its ``cmap`` once per process)."""
    return frozenset(_read_cmap(font_path(face).read_bytes()))


def missing_glyphs(text: str, face: FontFace = "serif") -> str:
    """Return the distinct characters of ``text`` that ``face`` cannot draw, in order of first appearance."""
    available = codepoints(face)
    seen: dict[str, None] = {}
    for ch in text:
        if ch not in _LAYOUT_CHARACTERS and ord(ch) not in available:
            seen.setdefault(ch, None)
    return "".join(seen)


def has_glyphs(text: str, face: FontFace = "serif") -> bool:
    """Return True when ``face`` can draw every character of ``text``."""
    return not missing_glyphs(text, face)


def require_glyphs(text: str, face: FontFace = "serif", *, field: str = "text") -> None:
    """Raise :class:`InvalidInput` naming the characters of ``text`` that ``face`` cannot draw."""
    missing = missing_glyphs(text, face)
    if missing:
        listed = " ".join(f"{ch!r} (U+{ord(ch):04X})" for ch in missing)
        raise InvalidInput(
            f"{field} contains characters the {face} font cannot draw: {listed}",
            field=field,
            characters=[f"U+{ord(ch):04X}" for ch in missing],
        )


# --- cmap ----------------------------------------------------------------------------------------


def _read_cmap(data: bytes) -> set[int]:
    """Return the code points mapped to a glyph other than .notdef by the font's Unicode ``cmap``.

    Reads the sfnt table directory and a format 12 (full Unicode) or format 4 (BMP) subtable — the two that
    fontTools writes for our subsets — so the runtime needs no font library beyond Pillow.
    """
    try:
        num_tables = struct.unpack_from(">H", data, 4)[0]
        cmap_offset = None
        for i in range(num_tables):
            tag, _checksum, offset, _length = struct.unpack_from(">4sIII", data, 12 + 16 * i)
            if tag == b"cmap":
                cmap_offset = offset
                break
        if cmap_offset is None:
            raise ConfigurationError("font has no cmap table")
        _version, count = struct.unpack_from(">HH", data, cmap_offset)
        subtables: dict[tuple[int, int], int] = {}
        for i in range(count):
            platform, encoding, offset = struct.unpack_from(">HHI", data, cmap_offset + 4 + 8 * i)
            subtables[(platform, encoding)] = cmap_offset + offset
        for key in ((3, 10), (0, 4), (0, 6)):
            if key in subtables and struct.unpack_from(">H", data, subtables[key])[0] == 12:
                return _cmap_format12(data, subtables[key])
        for key in ((3, 1), (0, 3)):
            if key in subtables and struct.unpack_from(">H", data, subtables[key])[0] == 4:
                return _cmap_format4(data, subtables[key])
    except struct.error as exc:
        raise ConfigurationError(f"font cmap is truncated: {exc}") from None
    raise ConfigurationError("font has no Unicode cmap subtable of format 4 or 12")


def _cmap_format12(data: bytes, offset: int) -> set[int]:
    n_groups = struct.unpack_from(">I", data, offset + 12)[0]
    out: set[int] = set()
    for i in range(n_groups):
        start, end, glyph = struct.unpack_from(">III", data, offset + 16 + 12 * i)
        # a group that starts at glyph 0 maps its first code point to .notdef
        first = start if glyph != 0 else start + 1
        out.update(range(first, end + 1))
    return out


def _cmap_format4(data: bytes, offset: int) -> set[int]:
    seg_count = struct.unpack_from(">H", data, offset + 6)[0] // 2
    ends_at = offset + 14
    starts_at = ends_at + 2 * seg_count + 2
    deltas_at = starts_at + 2 * seg_count
    range_offsets_at = deltas_at + 2 * seg_count
    out: set[int] = set()
    for i in range(seg_count):
        end = struct.unpack_from(">H", data, ends_at + 2 * i)[0]
        start = struct.unpack_from(">H", data, starts_at + 2 * i)[0]
        delta = struct.unpack_from(">h", data, deltas_at + 2 * i)[0]
        range_offset = struct.unpack_from(">H", data, range_offsets_at + 2 * i)[0]
        for code in range(start, end + 1):
            if code == 0xFFFF:
                continue
            if range_offset == 0:
                glyph = (code + delta) & 0xFFFF
            else:
                at = range_offsets_at + 2 * i + range_offset + 2 * (code - start)
                glyph = struct.unpack_from(">H", data, at)[0]
                if glyph:
                    glyph = (glyph + delta) & 0xFFFF
            if glyph:
                out.add(code)
    return out
