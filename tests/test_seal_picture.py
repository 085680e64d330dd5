"""Seal pictures: physical size, transparent background, red strokes, text and star drawn, reproducible."""

from __future__ import annotations

import io
import itertools
import math
import struct
import zlib
from dataclasses import replace
from functools import cache

import pytest
from PIL import Image

from trustsvc import fonts
from trustsvc.errors import InvalidInput
from trustsvc.seal import picture
from trustsvc.seal.kinds import SealKind, SealShape
from trustsvc.seal.picture import SEAL_RED, SealPictureSpec, render_seal

DPI = 300
ORG = "北京市某某科技有限公司"
NAMES = {SealKind.LEGAL_REPRESENTATIVE: "王小明"}
CODES = {SealKind.ORGANISATION: "1101080012345", SealKind.INVOICE: "91110108MA01ABCD2X"}


def _spec(kind: SealKind, **changes: object) -> SealPictureSpec:
    args: dict[str, object] = {"code": CODES.get(kind, "")}
    args.update(changes)
    name = str(args.pop("name", NAMES.get(kind, ORG)))
    return SealPictureSpec.for_kind(kind, name, **args)  # type: ignore[arg-type]


@cache
def _png(kind: SealKind) -> bytes:
    return render_seal(_spec(kind), dpi=DPI)


def _image(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    img.load()
    return img


def _opaque_count(img: Image.Image) -> int:
    hist = img.getchannel("A").histogram()
    return sum(hist) - hist[0]


def _px(mm: float, dpi: int = DPI) -> int:
    return round(mm / 25.4 * dpi)


def _png_chunks(data: bytes) -> dict[bytes, bytes]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    out, at = {}, 8
    while at < len(data):
        length, tag = struct.unpack_from(">I4s", data, at)
        body = data[at + 8 : at + 8 + length]
        assert struct.unpack_from(">I", data, at + 8 + length)[0] == zlib.crc32(tag + body)
        out[tag] = body
        at += 12 + length
    return out


@pytest.mark.parametrize("kind", list(SealKind))
def test_picture_has_the_physical_size_in_pixels_and_phys(kind: SealKind) -> None:
    info = kind.info
    data = _png(kind)
    img = _image(data)
    assert img.size == (_px(info.width_mm), _px(info.height_mm))
    ppu_x, ppu_y, unit = struct.unpack(">IIB", _png_chunks(data)[b"pHYs"])
    assert unit == 1  # metre
    assert ppu_x == ppu_y == round(DPI / 0.0254)
    assert round(img.info["dpi"][0]) == DPI


def test_default_dpi_is_600_and_sizes_follow_the_dpi() -> None:
    spec = _spec(SealKind.CONTRACT)
    assert _image(render_seal(spec)).size == (_px(40, 600), _px(40, 600))
    assert _image(render_seal(spec, dpi=150)).size == (_px(40, 150), _px(40, 150))


@pytest.mark.parametrize("kind", list(SealKind))
def test_background_is_transparent_and_every_stroke_is_seal_red(kind: SealKind) -> None:
    img = _image(_png(kind))
    assert img.mode == "RGBA"
    w, h = img.size
    alpha = img.getchannel("A")
    if kind.info.shape is not SealShape.SQUARE:
        for corner in ((0, 0), (w - 1, 0), (0, h - 1), (w - 1, h - 1)):
            assert alpha.getpixel(corner) == 0
    # a point between the rim and the lettering
    border = kind.info.border_mm
    if kind.info.shape is SealShape.SQUARE:
        gap = (border + 0.02 * kind.info.width_mm) / 25.4 * DPI
        assert alpha.getpixel((round(gap), round(gap))) == 0
    else:
        gap_mm = border + 0.006 * kind.info.height_mm  # half the rim-to-text gap inside the rim
        assert alpha.getpixel((w // 2, _px(gap_mm))) == 0
    # colour is seal red everywhere; the strokes are in the alpha channel only
    for band, value in zip("RGB", SEAL_RED, strict=True):
        assert img.getchannel(band).getextrema() == (value, value)
    r, g, b = SEAL_RED
    assert r >= 200 and g <= 40 and b <= 40
    opaque = _opaque_count(img)
    assert opaque > 0.08 * w * h
    assert alpha.histogram()[255] > 0.05 * w * h  # solid strokes, not just a haze


@pytest.mark.parametrize("kind", list(SealKind))
def test_the_name_is_really_drawn(kind: SealKind) -> None:
    full = _opaque_count(_image(_png(kind)))
    short = "王一" if kind is SealKind.LEGAL_REPRESENTATIVE else "一一"
    little = _opaque_count(_image(render_seal(_spec(kind, name=short), dpi=DPI)))
    w, h = _image(_png(kind)).size
    assert full - little > 0.03 * w * h


@pytest.mark.parametrize("kind", [k for k in SealKind if k.info.seal_name])
def test_the_seal_name_is_really_drawn(kind: SealKind) -> None:
    with_name = _opaque_count(_image(_png(kind)))
    without = _opaque_count(_image(render_seal(_spec(kind, seal_name=""), dpi=DPI)))
    w, h = _image(_png(kind)).size
    assert with_name - without > 0.01 * w * h


@pytest.mark.parametrize("kind", [k for k in SealKind if k.info.shape is SealShape.ROUND])
def test_round_seals_have_a_star_in_the_centre(kind: SealKind) -> None:
    img = _image(_png(kind))
    w, h = img.size
    alpha = img.getchannel("A")
    assert alpha.getpixel((w // 2, h // 2)) == 255
    # the star's upper point: solid just under it, clear just above it
    tip = kind.info.width_mm / 6
    assert alpha.getpixel((w // 2, h // 2 - _px(tip - 0.8))) == 255
    assert alpha.getpixel((w // 2, h // 2 - _px(tip + 0.5))) == 0
    no_star = _image(render_seal(replace(_spec(kind), star=False), dpi=DPI))
    assert no_star.getchannel("A").getpixel((w // 2, h // 2)) == 0


def test_invoice_seal_has_no_star_and_carries_the_taxpayer_number_across_the_middle() -> None:
    img = _image(_png(SealKind.INVOICE))
    w, h = img.size
    without_code = _image(render_seal(_spec(SealKind.INVOICE, code=""), dpi=DPI))
    assert without_code.getchannel("A").getpixel((w // 2, h // 2)) == 0
    middle = (w // 5, h // 2 - _px(2), 4 * w // 5, h // 2 + _px(2))
    assert _opaque_count(img.crop(middle)) > 4 * _opaque_count(without_code.crop(middle)) + 100


def test_rendering_is_deterministic() -> None:
    for kind in SealKind:
        assert render_seal(_spec(kind), dpi=DPI) == _png(kind)


def test_font_is_loaded_once_not_per_picture() -> None:
    spec = _spec(SealKind.CONTRACT)
    render_seal(spec, dpi=DPI)
    before = fonts.pil_font.cache_info()
    render_seal(spec, dpi=DPI)
    after = fonts.pil_font.cache_info()
    assert after.misses == before.misses
    assert after.hits > before.hits


def test_a_character_the_font_lacks_is_refused_by_name() -> None:
    with pytest.raises(InvalidInput) as info:
        render_seal(SealPictureSpec.for_kind(SealKind.CONTRACT, "北京😀科技有限公司"))
    assert "😀" in info.value.detail and "U+1F600" in info.value.detail
    with pytest.raises(InvalidInput) as info:
        render_seal(SealPictureSpec.for_kind(SealKind.CONTRACT, ORG, seal_name="합동专用章"))
    assert "합" in info.value.detail


def test_empty_or_spaced_names_are_refused() -> None:
    with pytest.raises(InvalidInput, match="must not be empty"):
        SealPictureSpec.for_kind(SealKind.ORGANISATION, "")
    with pytest.raises(InvalidInput, match="spaces"):
        SealPictureSpec.for_kind(SealKind.ORGANISATION, "北京 某某公司")


def test_long_names_are_condensed_up_to_a_limit_then_refused_with_the_limit() -> None:
    long_name = "中国某某集团有限公司北京分公司第一项目管理部"
    render_seal(SealPictureSpec.for_kind(SealKind.ORGANISATION, long_name), dpi=150)
    with pytest.raises(InvalidInput) as info:
        render_seal(SealPictureSpec.for_kind(SealKind.ORGANISATION, "国" * 38), dpi=150)
    limit = info.value.extra["limit"]
    assert 20 < limit < 38
    assert f"at most {limit}" in info.value.detail
    render_seal(SealPictureSpec.for_kind(SealKind.ORGANISATION, "国" * limit), dpi=150)
    with pytest.raises(InvalidInput, match="at most 40"):
        SealPictureSpec.for_kind(SealKind.ORGANISATION, "国" * 41)


def test_other_text_limits_are_refused() -> None:
    with pytest.raises(InvalidInput, match="2 to 4 characters"):
        render_seal(SealPictureSpec.for_kind(SealKind.LEGAL_REPRESENTATIVE, "阿卜杜热合曼"))
    with pytest.raises(InvalidInput, match="seal_name has"):
        render_seal(SealPictureSpec.for_kind(SealKind.CONTRACT, ORG, seal_name="合同专用章" * 4))
    with pytest.raises(InvalidInput, match="seal code"):
        render_seal(SealPictureSpec.for_kind(SealKind.ORGANISATION, "国" * 24, code="1" * 24))
    with pytest.raises(InvalidInput, match="digits or capital letters"):
        SealPictureSpec.for_kind(SealKind.ORGANISATION, ORG, code="12-34")
    with pytest.raises(InvalidInput, match="dpi"):
        render_seal(_spec(SealKind.ORGANISATION), dpi=10)
    with pytest.raises(InvalidInput, match="equal width and height"):
        SealPictureSpec(ORG, width_mm=40, height_mm=30)


def test_name_runs_left_to_right_upright_and_evenly_spaced_on_the_upper_arc() -> None:
    spec = _spec(SealKind.CONTRACT)
    name = [g for g in picture._layout(spec).glyphs if g.box == "em"][: len(ORG)]
    assert "".join(g.char for g in name) == ORG
    xs = [g.x for g in name]
    assert xs[0] < 0 < xs[-1]
    # symmetric about the vertical axis, the middle characters upright at the top
    assert xs[0] == pytest.approx(-xs[-1], abs=0.05)
    # clockwise angle from the top of the seal: the name runs from about -120° to +120°
    clock = [math.degrees(math.atan2(g.x, g.y)) for g in name]
    steps = [b - a for a, b in itertools.pairwise(clock)]
    assert min(steps) > 0
    assert max(steps) - min(steps) < 0.2  # evenly spaced
    assert 200 <= clock[-1] - clock[0] <= 240
    for g, theta in zip(name, clock, strict=True):
        assert g.angle == pytest.approx(-theta, abs=0.05)  # each character's top points outwards


def test_name_seal_reads_right_column_first_with_yin_appended() -> None:
    glyphs = picture._layout(SealPictureSpec.for_kind(SealKind.LEGAL_REPRESENTATIVE, "王小明")).glyphs
    assert "".join(g.char for g in glyphs) == "王小明印"
    first, second, third, _fourth = glyphs
    assert first.x > 0 and first.y > 0  # top right
    assert second.x > 0 and second.y < 0  # bottom right
    assert third.x < 0 and third.y > 0  # top left
    two = picture._layout(SealPictureSpec.for_kind(SealKind.LEGAL_REPRESENTATIVE, "张三")).glyphs
    assert "".join(g.char for g in two) == "张三之印"


def test_kind_codes_and_defaults() -> None:
    assert SealKind.ORGANISATION == 1 and SealKind.INVOICE == 3
    assert SealKind.ORGANISATION.info.width_mm == 42.0 and SealKind.ORGANISATION.info.star
    assert (SealKind.INVOICE.info.shape, SealKind.INVOICE.info.width_mm, SealKind.INVOICE.info.height_mm) == (
        SealShape.OVAL,
        40.0,
        30.0,
    )
    assert not SealKind.INVOICE.info.star
    assert SealKind.CONTRACT.label == "合同专用章"
    assert len({k.value for k in SealKind}) == len(SealKind)
