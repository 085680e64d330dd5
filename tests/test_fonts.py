"""The shipped Chinese fonts: in the package, TrueType, small, covering GB 2312 and 通用规范汉字表."""

from __future__ import annotations

import struct

import pytest

from trustsvc import fonts
from trustsvc.errors import InvalidInput
from trustsvc.fonts import FontFace

FACES: tuple[FontFace, ...] = ("serif", "sans")


def _gb2312() -> set[int]:
    out = set()
    for hi in range(0xA1, 0xF8):
        for lo in range(0xA1, 0xFF):
            try:
                out.add(ord(bytes((hi, lo)).decode("gb2312")))
            except UnicodeDecodeError:
                continue
    return out


def _tables(data: bytes) -> dict[bytes, tuple[int, int]]:
    count = struct.unpack_from(">H", data, 4)[0]
    out = {}
    for i in range(count):
        tag, _sum, offset, length = struct.unpack_from(">4sIII", data, 12 + 16 * i)
        out[tag] = (offset, length)
    return out


@pytest.mark.parametrize("face", FACES)
def test_font_file_is_shipped_inside_the_package_with_truetype_outlines(face: FontFace) -> None:
    path = fonts.font_path(face)
    assert path.is_file()
    assert fonts.FONT_DIR in path.parents
    data = path.read_bytes()
    assert data[:4] == b"\x00\x01\x00\x00"  # TrueType, not "OTTO" (CFF), which reportlab refuses
    tables = _tables(data)
    assert b"glyf" in tables and b"loca" in tables
    assert b"CFF " not in tables
    assert len(data) < 6 * 1024 * 1024


def test_licence_and_readme_ship_with_the_fonts() -> None:
    ofl = (fonts.FONT_DIR / "OFL.txt").read_text(encoding="utf-8")
    assert "SIL OPEN FONT LICENSE Version 1.1" in ofl
    assert "Adobe" in ofl
    readme = (fonts.FONT_DIR / "README.md").read_text(encoding="utf-8")
    assert "tools/build_fonts.py" in readme


@pytest.mark.parametrize("face", FACES)
def test_every_gb2312_character_is_covered(face: FontFace) -> None:
    available = fonts.codepoints(face)
    missing = sorted(_gb2312() - available)
    assert not missing, "".join(map(chr, missing))


@pytest.mark.parametrize("face", FACES)
def test_name_characters_beyond_gb2312_ascii_and_symbols_are_covered(face: FontFace) -> None:
    # 堃 喆 赟 玥 are in the 通用规范汉字表 but not in GB 2312; 𬌗 is one of its characters outside the BMP.
    text = "堃喆赟玥𬌗 ABCxyz0123456789 ★〇·—…“”《》（），。：；！？、￥№℃①"
    assert fonts.has_glyphs(text, face)


def test_missing_glyphs_names_each_character_once_in_order_and_ignores_line_breaks() -> None:
    assert fonts.missing_glyphs("北京\n😀한😀abc") == "😀한"
    assert fonts.missing_glyphs("营业执照\t统一社会信用代码\r\n") == ""
    assert not fonts.has_glyphs("한국")


def test_require_glyphs_raises_invalid_input_naming_the_characters() -> None:
    with pytest.raises(InvalidInput) as info:
        fonts.require_glyphs("某某😀公司", field="name")
    assert "😀" in info.value.detail
    assert "U+1F600" in info.value.detail
    assert info.value.extra["characters"] == ["U+1F600"]
    assert info.value.extra["field"] == "name"
    fonts.require_glyphs("某某公司")  # no error


def test_pil_font_is_loaded_once_per_face_and_size() -> None:
    a = fonts.pil_font(48, "serif")
    assert fonts.pil_font(48, "serif") is a
    assert fonts.pil_font(48, "sans") is not a
    assert fonts.pil_font(49, "serif") is not a
    assert fonts.codepoints("serif") is fonts.codepoints("serif")


def test_pil_font_draws_chinese() -> None:
    left, top, right, bottom = fonts.pil_font(64).getbbox("中")
    assert right - left > 40 and bottom - top > 40


def test_unknown_face_and_bad_size_are_invalid_input() -> None:
    with pytest.raises(InvalidInput):
        fonts.font_path("kai")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        fonts.pil_font(0)


@pytest.mark.parametrize("face", FACES)
def test_cmap_format4_and_format12_subtables_agree(face: FontFace) -> None:
    data = fonts.font_path(face).read_bytes()
    cmap_at = _tables(data)[b"cmap"][0]
    count = struct.unpack_from(">H", data, cmap_at + 2)[0]
    subtables = {}
    for i in range(count):
        platform, encoding, offset = struct.unpack_from(">HHI", data, cmap_at + 4 + 8 * i)
        subtables[(platform, encoding)] = cmap_at + offset
    bmp = fonts._cmap_format4(data, subtables[(3, 1)])
    full = fonts._cmap_format12(data, subtables[(3, 10)])
    assert bmp == {cp for cp in full if cp <= 0xFFFF}
    assert full == fonts.codepoints(face)
