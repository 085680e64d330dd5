"""Seal pictures (印章图片): the red round, oval or square impression a person recognises, as a PNG.

:func:`render_seal` draws a :class:`SealPictureSpec` at a physical size: the image is
``round(mm / 25.4 * dpi)`` pixels on each axis and its PNG ``pHYs`` chunk carries the dpi, so a viewer or a
PDF/OFD writer that honours it shows the seal at its real size (GB/T 38540 ``SES_ESPictrueInfo`` also records
the display width and height in mm).

What is drawn, by shape (customary layouts; sizes and sources are in :mod:`trustsvc.seal.kinds`):

- round: a rim; the organisation name along the upper arc, left to right, each character upright relative
  to the circle (its top pointing outwards) and evenly spaced over up to 240°; a five-pointed star in the
  centre; the seal name (合同专用章 …) horizontally below the star; optionally a serial such as (1) under it
  and the seal code (the 13-digit 印章编码) in small digits along the lower arc, tops towards the centre.
- oval (发票专用章, 国家税务总局公告2011年第7号): a rim; the taxpayer's name along the upper arc over up to
  260°; the taxpayer number across the middle; the seal name below; optionally the serial (1), (2) … at the
  bottom. No star unless asked for.
- square (法定代表人名章): a rim and the person's name in 2×2 characters, read right column first;
  two-character names get 之印 and three-character names 印 appended, as is customary.

The lettering is the package's Song face (:mod:`trustsvc.fonts`, Noto Serif SC), the digits its Hei face.
Names are first shrunk and condensed to fit (as seal engravers do); text that still does not fit, or that the
font cannot draw, is refused with :class:`~trustsvc.errors.InvalidInput` naming the limit or the characters.

The picture is pure seal red on a transparent background: every pixel has the seal colour and the strokes are
in the alpha channel, anti-aliased by drawing at 2–4× and averaging down. Keeping the colour under the
transparent pixels avoids dark fringes when a viewer scales the picture. The output is a function of the spec
and the dpi only (no randomness, no timestamps): the same spec gives the same bytes with the same font file
and Pillow version.
"""

from __future__ import annotations

import io
import itertools
import math
import re
from bisect import bisect_left
from dataclasses import dataclass, field
from functools import lru_cache

from PIL import Image, ImageDraw

from trustsvc.errors import InvalidInput
from trustsvc.fonts import FontFace, pil_font, require_glyphs
from trustsvc.seal.kinds import SealKind, SealShape

__all__ = [
    "DEFAULT_DPI",
    "SEAL_RED",
    "SealPictureSpec",
    "render_seal",
]

SEAL_RED = (230, 0, 18)  # #E60012, the red of seal ink pads and of most published seal samples
DEFAULT_DPI = 600
MAX_NAME_CHARS = 40  # hard cap, whatever the size; the real limit (what fits) is usually lower
_CODE_RE = re.compile(r"[0-9A-Z]{1,24}")

_NAME_FACE: FontFace = "serif"
_CODE_FACE: FontFace = "sans"
# Noto CJK's ideographic em box runs from 120 units below the baseline to 880 above (OS/2 sTypoDescender /
# sTypoAscender of 1000 units): a CJK character's cell, which we scale to the wanted character height.
_EM_ASCENT = 0.88
_CODE_REFERENCE = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_SERIAL_REFERENCE = "(0123456789)"


@dataclass(frozen=True)
class SealPictureSpec:
    """What a seal picture shows and how big it is.

    ``name`` is the organisation's name on round and oval seals and the person's name on square name seals.
    ``code`` is the seal code along the lower arc of a round seal, or the taxpayer number across an oval one
    (digits and capital letters). ``serial`` numbers one of several seals of the same kind: (1), (2) …
    Use :meth:`for_kind` for the customary picture of a :class:`~trustsvc.seal.kinds.SealKind`.
    """

    name: str
    seal_name: str = ""
    shape: SealShape = SealShape.ROUND
    width_mm: float = 42.0
    height_mm: float = 42.0
    border_mm: float = 1.2
    star: bool = True
    code: str = ""
    serial: int | None = None
    color: tuple[int, int, int] = field(default=SEAL_RED)

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "shape", SealShape(self.shape))
        except ValueError:
            raise InvalidInput(f"seal shape must be one of {[s.value for s in SealShape]}") from None
        if not (10.0 <= self.width_mm <= 80.0 and 10.0 <= self.height_mm <= 80.0):
            raise InvalidInput("seal width and height must be between 10 and 80 mm")
        if self.shape is not SealShape.OVAL and self.width_mm != self.height_mm:
            raise InvalidInput(f"a {self.shape.value} seal has equal width and height")
        if self.shape is SealShape.OVAL and self.height_mm > self.width_mm:
            raise InvalidInput("an oval seal is wider than it is high")
        if not 0.3 <= self.border_mm <= min(self.width_mm, self.height_mm) / 10:
            raise InvalidInput("seal rim must be between 0.3 mm and a tenth of the seal's height")
        if len(self.color) != 3 or not all(isinstance(c, int) and 0 <= c <= 255 for c in self.color):
            raise InvalidInput("seal colour must be three integers 0..255 (R, G, B)")
        _check_text("seal name (name)", self.name, required=True)
        _check_text("seal_name", self.seal_name, required=False)
        if self.code and not _CODE_RE.fullmatch(self.code):
            raise InvalidInput("seal code must be 1 to 24 digits or capital letters")
        if self.serial is not None and not (isinstance(self.serial, int) and 1 <= self.serial <= 99):
            raise InvalidInput("seal serial must be an integer 1..99")
        if self.shape is SealShape.SQUARE and (self.seal_name or self.code or self.serial or self.star):
            raise InvalidInput(
                "a square name seal shows only the person's name (no seal name, code, serial or star)"
            )

    @classmethod
    def for_kind(
        cls,
        kind: SealKind,
        name: str,
        *,
        code: str = "",
        serial: int | None = None,
        seal_name: str | None = None,
    ) -> SealPictureSpec:
        """Return the customary picture of ``kind`` for ``name`` (organisation, or person for kind 5)."""
        info = SealKind(kind).info
        return cls(
            name=name,
            seal_name=info.seal_name if seal_name is None else seal_name,
            shape=info.shape,
            width_mm=info.width_mm,
            height_mm=info.height_mm,
            border_mm=info.border_mm,
            star=info.star,
            code=code,
            serial=serial,
        )


def _check_text(what: str, text: str, *, required: bool) -> None:
    if not isinstance(text, str):
        raise InvalidInput(f"{what} must be a string")
    if required and not text:
        raise InvalidInput(f"{what} must not be empty")
    if any(ch.isspace() or not ch.isprintable() for ch in text):
        raise InvalidInput(f"{what} must not contain spaces or control characters")
    if len(text) > MAX_NAME_CHARS:
        raise InvalidInput(f"{what} has {len(text)} characters; at most {MAX_NAME_CHARS} are accepted")


# --- layout (millimetres, origin at the centre, y upwards) ---------------------------------------


@dataclass(frozen=True)
class _Glyph:
    char: str  # one character, or the whole "(n)" of a serial
    face: FontFace
    x: float  # centre of the character cell
    y: float
    height: float  # cell height: the em box ("em") or the ink box of digits ("code") or of "(0)" ("serial")
    width_scale: float  # horizontal condensing of the character's advance (1 = natural)
    angle: float  # counter-clockwise rotation in degrees (0 = upright)
    box: str  # "em" | "code" | "serial"
    weight: float = 0.02  # extra stroke width as a fraction of the font size: seal letters are cut bold


@dataclass
class _Layout:
    shape: SealShape
    width: float
    height: float
    border: float
    star_radius: float = 0.0
    glyphs: list[_Glyph] = field(default_factory=list)


def _layout(spec: SealPictureSpec) -> _Layout:
    if spec.shape is SealShape.SQUARE:
        return _square_layout(spec)
    return _arc_layout(spec)


class _Ellipse:
    """The curve the centres of the name's characters run on: ``inset`` mm inside the rim's inner edge.

    Points are found by parameter ``u`` (degrees; 90 = top) of the rim's inner ellipse, moved inwards along
    its normal, so the characters keep the same distance to the rim all the way round an oval.
    """

    STEPS_PER_DEGREE = 4

    def __init__(self, a: float, b: float, inset: float) -> None:
        self.a, self.b, self.inset = a, b, inset
        n = 360 * self.STEPS_PER_DEGREE
        self._us = [-90.0 + i / self.STEPS_PER_DEGREE for i in range(n + 1)]
        pts = [self.point(u) for u in self._us]
        cum = [0.0]
        for (x0, y0), (x1, y1) in itertools.pairwise(pts):
            cum.append(cum[-1] + math.hypot(x1 - x0, y1 - y0))
        self._cum = cum

    def normal_angle(self, u: float) -> float:
        r = math.radians(u)
        return math.degrees(math.atan2(self.a * math.sin(r), self.b * math.cos(r)))

    def point(self, u: float) -> tuple[float, float]:
        r = math.radians(u)
        nx, ny = self.b * math.cos(r), self.a * math.sin(r)
        norm = math.hypot(nx, ny)
        return self.a * math.cos(r) - self.inset * nx / norm, self.b * math.sin(r) - self.inset * ny / norm

    def length_at(self, u: float) -> float:
        """Arc length from u = -90° to ``u`` (linear between the precomputed steps)."""
        pos = (u + 90.0) * self.STEPS_PER_DEGREE
        i = min(max(int(pos), 0), len(self._cum) - 2)
        return self._cum[i] + (self._cum[i + 1] - self._cum[i]) * (pos - i)

    def u_at(self, length: float) -> float:
        i = min(max(bisect_left(self._cum, length), 1), len(self._cum) - 1)
        seg = self._cum[i] - self._cum[i - 1]
        frac = (length - self._cum[i - 1]) / seg if seg else 0.0
        return self._us[i - 1] + frac / self.STEPS_PER_DEGREE

    def span_for_length(self, length: float) -> float:
        """Parameter span (degrees, centred on the top) whose arc is ``length`` long."""
        top = self.length_at(90.0)
        return 2 * (self.u_at(top + length / 2) - 90.0)


@lru_cache(maxsize=256)
def _curve(a: float, b: float, inset: float) -> _Ellipse:
    return _Ellipse(a, b, inset)


@lru_cache(maxsize=4096)
def _advance_ratio(text: str, face: FontFace) -> float:
    """Return the advance width of ``text`` as a fraction of the em (1.0 for one CJK character)."""
    return pil_font(1000, face).getlength(text) / 1000.0


@dataclass(frozen=True)
class _ArcFit:
    height: float
    inset: float
    span: float  # degrees of parameter, centred on the top
    width_scale: float
    us: tuple[float, ...]
    curve: _Ellipse


# The name's characters start at this height (fraction of the seal's height) and may shrink to the smaller
# one; their width may be condensed down to _MIN_CONDENSE of the natural width before a name is refused.
_NAME_HEIGHT = {SealShape.ROUND: (0.16, 0.12), SealShape.OVAL: (0.14, 0.11)}
_MAX_SPAN = {SealShape.ROUND: 240.0, SealShape.OVAL: 260.0}
_MIN_CONDENSE = 0.45
_LETTER_SPACING = 0.15  # natural gap between characters, fraction of their height
_FILL = 0.9  # a character takes at most this fraction of its pitch along the arc


def _min_span(shape: SealShape, n: int) -> float:
    # Short names are spread out rather than bunched at the top, as on real seals; invoice seals run their
    # name over 210-260° (国家税务总局公告2011年第7号).
    return min(180.0 if shape is SealShape.ROUND else 210.0, 40.0 * (n - 1))


def _fit_arc(chars: str, shape: SealShape, a: float, b: float, rim_gap: float) -> _ArcFit | None:
    """Return the placement of ``chars`` along the upper arc, or None when they cannot fit."""
    n = len(chars)
    h_hi, h_lo = (f * 2 * b for f in _NAME_HEIGHT[shape])
    advances = [_advance_ratio(ch, _NAME_FACE) for ch in chars]
    steps = 8
    for i in range(steps + 1):
        h = h_hi - (h_hi - h_lo) * i / steps
        inset = rim_gap + h / 2
        curve = _curve(a, b, inset)
        if n == 1:
            return _ArcFit(h, inset, 0.0, 1.0, (90.0,), curve)
        # natural pitch between neighbouring centres: half of each one's width plus the spacing
        natural = sum((advances[j] + advances[j + 1]) / 2 * h + _LETTER_SPACING * h for j in range(n - 1))
        span = min(max(curve.span_for_length(natural), _min_span(shape, n)), _MAX_SPAN[shape])
        start = curve.length_at(90.0 - span / 2)
        total = curve.length_at(90.0 + span / 2) - start
        pitch = total / (n - 1)
        widest = max((advances[j] + advances[j + 1]) / 2 for j in range(n - 1)) * h
        scale = min(1.0, _FILL * pitch / widest)
        if scale >= _MIN_CONDENSE:
            # left to right = from the larger parameter down to the smaller one
            us = tuple(curve.u_at(start + total - k * pitch) for k in range(n))
            return _ArcFit(h, inset, span, scale, us, curve)
    return None


def _max_fitting(shape: SealShape, a: float, b: float, rim_gap: float, upto: int) -> int:
    for n in range(upto, 0, -1):
        if _fit_arc("国" * n, shape, a, b, rim_gap) is not None:
            return n
    return 0


def _horizontal(
    text: str,
    face: FontFace,
    box: str,
    *,
    y_top: float,
    height: float,
    char_width: float,
    pitch: float,
    max_width: float,
    what: str,
) -> list[_Glyph]:
    """Lay ``text`` out centred on x = 0, tops at ``y_top``; condense it to ``max_width`` or refuse."""
    n = len(text)
    scale = 1.0
    if n * pitch > max_width:
        scale = max_width / (n * pitch)
        if scale < _MIN_CONDENSE:
            fit = int(max_width / (pitch * _MIN_CONDENSE))
            raise InvalidInput(f"{what} has {n} characters; at most {fit} fit on this seal")
    out = []
    x0 = -(n - 1) * pitch * scale / 2
    for i, ch in enumerate(text):
        natural = _advance_ratio(ch, face) * (height if box == "em" else height / _box_ratio(face, box))
        out.append(
            _Glyph(
                ch,
                face,
                x0 + i * pitch * scale,
                y_top - height / 2,
                height,
                char_width * scale / natural if natural else 1.0,
                0.0,
                box,
            )
        )
    return out


def _serial(serial: int, *, y_top: float, height: float, digit_width: float) -> _Glyph:
    """Return the serial "(n)" as one line centred on x = 0, its digits ``digit_width`` wide."""
    digit = _advance_ratio("0", _CODE_FACE) * height / _box_ratio(_CODE_FACE, "serial")
    return _Glyph(
        f"({serial})", _CODE_FACE, 0.0, y_top - height / 2, height, digit_width / digit, 0.0, "serial"
    )


def _arc_layout(spec: SealPictureSpec) -> _Layout:
    w, h, t = spec.width_mm, spec.height_mm, spec.border_mm
    a, b = w / 2 - t, h / 2 - t  # inner edge of the rim
    rim_gap = 0.015 * h if spec.shape is SealShape.ROUND else 0.5 * h / 30  # invoice seals: 0.5 mm
    lay = _Layout(spec.shape, w, h, t)

    fit = _fit_arc(spec.name, spec.shape, a, b, rim_gap)
    if fit is None:
        most = _max_fitting(spec.shape, a, b, rim_gap, len(spec.name) - 1)
        raise InvalidInput(
            f"seal name (name) has {len(spec.name)} characters; at most {most} fit on a "
            f"{_describe(spec)} seal",
            limit=most,
        )
    for ch, u in zip(spec.name, fit.us, strict=True):
        x, y = fit.curve.point(u)
        angle = (fit.curve.normal_angle(u) - 90.0 + 180.0) % 360.0 - 180.0  # top of the letter outwards
        lay.glyphs.append(_Glyph(ch, _NAME_FACE, x, y, fit.height, fit.width_scale, angle, "em"))

    if spec.shape is SealShape.ROUND:
        _round_centre(spec, lay, fit)
    else:
        _oval_centre(spec, lay)
    return lay


def _describe(spec: SealPictureSpec) -> str:
    if spec.shape is SealShape.ROUND:
        return f"{spec.width_mm:g} mm round"
    return f"{spec.width_mm:g}×{spec.height_mm:g} mm {spec.shape.value}"


def _round_centre(spec: SealPictureSpec, lay: _Layout, fit: _ArcFit) -> None:
    d, t = spec.width_mm, spec.border_mm
    if spec.star:
        lay.star_radius = d / 6  # 14 mm tip to tip on a 42 mm seal
    star_bottom = lay.star_radius * math.cos(math.radians(36)) if spec.star else 0.0
    y = -(star_bottom + 0.07 * d) if spec.star else -0.1 * d
    if spec.seal_name:
        hn = 0.11 * d
        lay.glyphs += _horizontal(
            spec.seal_name,
            _NAME_FACE,
            "em",
            y_top=y,
            height=hn,
            char_width=0.75 * hn,
            pitch=0.86 * hn,
            max_width=0.5 * d,
            what="seal_name",
        )
        y -= hn + 0.015 * d
    if spec.serial is not None:
        hs = 0.05 * d
        lay.glyphs.append(_serial(spec.serial, y_top=y, height=hs, digit_width=0.6 * hs))
    if spec.code:
        hc = 0.05 * d
        r = d / 2 - t - 0.015 * d - hc / 2
        pitch = 0.75 * hc
        n = len(spec.code)
        span = math.degrees((n - 1) * pitch / r)
        # what the name leaves free at the bottom, less half a name character at each end and a margin
        name_half = math.degrees(fit.height / 2 / (d / 2 - t - fit.inset)) if fit.span else 0.0
        free = 360.0 - fit.span - 2 * name_half - 2 * math.degrees(pitch / r) - 6.0
        if span > free:
            most = int(free / math.degrees(pitch / r)) + 1
            raise InvalidInput(
                f"seal code has {n} characters; at most {most} fit under this name "
                f"on a {_describe(spec)} seal",
                limit=most,
            )
        for i, ch in enumerate(spec.code):
            phi = 270.0 - span / 2 + (span / (n - 1) * i if n > 1 else span / 2)
            x, y = r * math.cos(math.radians(phi)), r * math.sin(math.radians(phi))
            natural = _advance_ratio(ch, _CODE_FACE) * hc / _box_ratio(_CODE_FACE, "code")
            angle = (phi + 90.0 + 180.0) % 360.0 - 180.0  # top of the digit towards the centre
            lay.glyphs.append(_Glyph(ch, _CODE_FACE, x, y, hc, 0.6 * hc / natural, angle, "code"))


def _oval_centre(spec: SealPictureSpec, lay: _Layout) -> None:
    # 国家税务总局公告2011年第7号, scaled from its 40 × 30 mm: taxpayer number 3.7 mm high, 1.3 mm wide, 18
    # digits over 26 mm; 发票专用章 4.6 mm high, 3 mm wide, its top 4.2 mm under the centre line; serial
    # 2.2 mm high, 1.7 mm wide, its top 10 mm under the centre line.
    w, h = spec.width_mm, spec.height_mm
    if spec.star:
        lay.star_radius = 0.2 * h
    if spec.code:
        hc = 0.123 * h
        pitch = min(26.0 / 18 * w / 40, 0.72 * w / len(spec.code))
        lay.glyphs += _horizontal(
            spec.code,
            _CODE_FACE,
            "code",
            y_top=hc / 2,
            height=hc,
            char_width=0.9 * pitch,
            pitch=pitch,
            max_width=0.8 * w,
            what="seal code",
        )
    if spec.seal_name:
        hn = 0.153 * h
        lay.glyphs += _horizontal(
            spec.seal_name,
            _NAME_FACE,
            "em",
            y_top=-0.14 * h,
            height=hn,
            char_width=0.075 * w,
            pitch=0.095 * w,
            max_width=0.55 * w,
            what="seal_name",
        )
    if spec.serial is not None:
        lay.glyphs.append(_serial(spec.serial, y_top=-0.333 * h, height=0.073 * h, digit_width=0.0425 * w))


def _square_layout(spec: SealPictureSpec) -> _Layout:
    name = spec.name
    if len(name) == 2:
        name += "之印"
    elif len(name) == 3:
        name += "印"
    elif len(name) != 4:
        raise InvalidInput(f"a square name seal holds a name of 2 to 4 characters, got {len(name)}", limit=4)
    s, t = spec.width_mm, spec.border_mm
    lay = _Layout(spec.shape, s, s, t)
    inner = s - 2 * t
    margin = 0.05 * inner
    cell = (inner - 2 * margin) / 2
    # read right column first, top to bottom: 1 3 / 2 4 seen as  3 1 / 4 2
    for i, ch in enumerate(name):
        col = 1 - i // 2
        row = i % 2
        x = -inner / 2 + margin + cell * (col + 0.5)
        y = inner / 2 - margin - cell * (row + 0.5)
        natural = _advance_ratio(ch, _NAME_FACE)
        lay.glyphs.append(
            _Glyph(ch, _NAME_FACE, x, y, cell, (1.0 / natural) if natural else 1.0, 0.0, "em", weight=0.035)
        )
    return lay


# --- drawing -------------------------------------------------------------------------------------


@lru_cache(maxsize=8)
def _box_metrics(face: FontFace, box: str) -> tuple[float, float]:
    """Return (top, bottom) of the reference ink box relative to the baseline, per em (top is negative)."""
    ref = _CODE_REFERENCE if box == "code" else _SERIAL_REFERENCE
    _left, top, _right, bottom = pil_font(1000, face).getbbox(ref, anchor="ls")
    return top / 1000.0, bottom / 1000.0


def _box_ratio(face: FontFace, box: str) -> float:
    top, bottom = _box_metrics(face, box)
    return bottom - top


def _glyph_image(g: _Glyph, k: float) -> Image.Image:
    """Return the glyph as a mask whose centre is the glyph's centre, condensed and rotated."""
    cell = g.height * k
    if g.box == "em":
        size = max(1, round(cell))
        baseline = _EM_ASCENT * size
    else:
        top, _bottom = _box_metrics(g.face, g.box)
        size = max(1, round(cell / _box_ratio(g.face, g.box)))
        baseline = -top * size
    font = pil_font(size, g.face)
    advance = font.getlength(g.char)
    pad = math.ceil(0.15 * size)
    cell_h = max(1, round(cell))
    img = Image.new("L", (max(1, math.ceil(advance)) + 2 * pad, cell_h + 2 * pad), 0)
    stroke = round(g.weight * min(1.0, g.width_scale) * size)  # condensed letters get thinner strokes
    ImageDraw.Draw(img).text(
        (pad, pad + baseline), g.char, font=font, fill=255, anchor="ls", stroke_width=stroke, stroke_fill=255
    )
    if abs(g.width_scale - 1.0) > 1e-3:
        img = img.resize((max(1, round(img.width * g.width_scale)), img.height), Image.Resampling.LANCZOS)
    if abs(g.angle) > 1e-6:
        img = img.rotate(g.angle, resample=Image.Resampling.BICUBIC, expand=True)
    return img


def _star_points(cx: float, cy: float, r_out: float) -> list[tuple[float, float]]:
    r_in = r_out * math.sin(math.radians(18)) / math.sin(math.radians(54))
    pts = []
    for i in range(10):
        r = r_out if i % 2 == 0 else r_in
        phi = math.radians(90 + 36 * i)
        pts.append((cx + r * math.cos(phi), cy - r * math.sin(phi)))
    return pts


def _supersampling(width_px: int, height_px: int) -> int:
    # draw at up to 4x, capped near 4000 px a side, then average down: smooth rims and stars
    return max(2, min(4, 4000 // max(width_px, height_px)))


def _draw_mask(lay: _Layout, width_px: int, height_px: int) -> Image.Image:
    ss = _supersampling(width_px, height_px)
    big_w, big_h = width_px * ss, height_px * ss
    kx, ky = big_w / lay.width, big_h / lay.height
    k = (kx + ky) / 2
    mask = Image.new("L", (big_w, big_h), 0)
    draw = ImageDraw.Draw(mask)

    def px(x: float, y: float) -> tuple[float, float]:
        return (lay.width / 2 + x) * kx, (lay.height / 2 - y) * ky

    t = lay.border
    if lay.shape is SealShape.SQUARE:
        draw.rectangle((0, 0, big_w - 1, big_h - 1), fill=255)
        tx, ty = round(t * kx), round(t * ky)
        draw.rectangle((tx, ty, big_w - 1 - tx, big_h - 1 - ty), fill=0)
    else:
        draw.ellipse((0, 0, big_w - 1, big_h - 1), fill=255)
        draw.ellipse((t * kx, t * ky, big_w - 1 - t * kx, big_h - 1 - t * ky), fill=0)
    if lay.star_radius:
        cx, cy = px(0.0, 0.0)
        draw.polygon(_star_points(cx, cy, lay.star_radius * k), fill=255)
    for g in lay.glyphs:
        img = _glyph_image(g, k)
        cx, cy = px(g.x, g.y)
        mask.paste(255, (round(cx - img.width / 2), round(cy - img.height / 2)), img)
    return mask.reduce(ss)


def render_seal(spec: SealPictureSpec, *, dpi: int = DEFAULT_DPI) -> bytes:
    """Return the seal picture as PNG bytes: RGBA, seal red on transparent, ``pHYs`` = ``dpi``.

    Raises :class:`InvalidInput` when the font cannot draw a character (naming it) or the text does not fit.
    """
    if not isinstance(dpi, int) or not 72 <= dpi <= 1200:
        raise InvalidInput("dpi must be an integer between 72 and 1200")
    require_glyphs(spec.name, _NAME_FACE, field="name")
    require_glyphs(spec.seal_name, _NAME_FACE, field="seal_name")
    lay = _layout(spec)
    width_px = round(spec.width_mm / 25.4 * dpi)
    height_px = round(spec.height_mm / 25.4 * dpi)
    alpha = _draw_mask(lay, width_px, height_px)
    img = Image.new("RGBA", (width_px, height_px), (*spec.color, 0))
    img.putalpha(alpha)
    out = io.BytesIO()
    img.save(out, format="PNG", dpi=(dpi, dpi), optimize=False, compress_level=9)
    return out.getvalue()
