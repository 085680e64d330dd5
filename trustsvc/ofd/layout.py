"""Build OFD documents page by page: text in the shipped Chinese fonts, PNG images, lines and shapes.

The licence renderer describes each page with a :class:`PageBuilder` and gets an :class:`OfdPackage` back
from :meth:`DocumentBuilder.build`::

    doc = DocumentBuilder(page_size_mm=(210, 297), doc_id="…32 hex…", creation_date=date(2026, 1, 1))
    doc.metadata({"licence-id": "…"})
    page = doc.page()
    page.text(105, 40, "营业执照", 10, face="sans", align="center")
    page.image(150, 20, 40, 40, qr_png)
    page.rect(15, 15, 180, 267, stroke=(180, 0, 0), line_width=0.8)
    package = doc.build()

Coordinates are millimetres from the page's top-left corner, y growing downwards (OFD's own system, spec
§4.8). ``text(x, y, …)`` puts the **baseline** at ``y``; ``x`` is where the text starts (``align="left"``),
its middle (``"center"``) or where it ends (``"right"``).

Text is drawn in the fonts of :mod:`trustsvc.fonts` (``"serif"`` Noto Serif SC for body text, ``"sans"`` Noto
Sans SC for headings). Each face used is embedded once per document as a TrueType subset holding exactly the
glyphs used plus ``.notdef`` (``PublicRes.xml`` ``Font``/``FontFile``), and every glyph advance is written in
``DeltaX`` from the font's ``hmtx``, so a reader places each glyph where we measured it, with or without the
embedded font. Characters the font lacks are refused (:func:`trustsvc.fonts.require_glyphs`).

Subsetting uses fontTools (a runtime dependency of this module only). Each face is prepared once per process
(layout and vertical tables dropped, glyph names stored: ~0.3 s) and then subset per document in 30–60 ms
(glyph outlines are copied, not re-encoded); identical glyph sets are served from a small cache. The same
input gives the same bytes.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import math
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache, lru_cache
from typing import Final, Literal, cast

from lxml import etree
from PIL import Image

from trustsvc.errors import ConfigurationError, InvalidInput
from trustsvc.fonts import FontFace, font_path, require_glyphs
from trustsvc.ofd.package import OfdPackage
from trustsvc.ofd.xml import OFD_NS, q, serialize

__all__ = [
    "Align",
    "Color",
    "DocumentBuilder",
    "PageBuilder",
    "PathCommand",
    "TextBox",
    "text_width",
]

Color = tuple[int, int, int]
Align = Literal["left", "center", "right"]
# ("M", x, y) move, ("L", x, y) line, ("Q", x1, y1, x, y) quadratic, ("B", x1, y1, x2, y2, x, y) cubic Bézier,
# ("C",) close the subpath — page mm, the letters of OFD's AbbreviatedData.
PathCommand = tuple[str | float, ...]

DOC_DIR: Final = "Doc_0"
DEFAULT_LINE_WIDTH: Final = 0.353  # OFD's default (1 pt)
_BLACK: Final = (0, 0, 0)
_MAX_SIZE_MM: Final = 1000.0
_PATH_ARITY: Final = {"M": 2, "L": 2, "Q": 4, "B": 6, "C": 0}
_FAMILY: Final = {"serif": "Noto Serif SC", "sans": "Noto Sans SC"}
# Dropped from the embedded subsets: OFD places every glyph itself (DeltaX), so shaping and vertical layout
# tables are dead weight; DSIG would be invalid after subsetting anyway.
_DROPPED_TABLES: Final = ("GSUB", "GPOS", "GDEF", "BASE", "vhea", "vmtx", "VORG", "DSIG")


# --- fonts --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Face:
    face: str
    family: str
    prepared: bytes  # the font with _DROPPED_TABLES removed and glyph names stored, ready to subset
    units_per_em: int
    ascent: int
    descent: int  # positive, below the baseline
    advances: Mapping[int, int]  # code point → advance width in font units


@cache
def _face(face: FontFace) -> _Face:
    """Load ``face`` once per process: metrics for layout and a copy prepared for fast subsetting."""
    from fontTools.ttLib import TTFont

    path = font_path(face)
    font = TTFont(str(path), recalcTimestamp=False, recalcBBoxes=False)
    cmap = font.getBestCmap()
    if not cmap:
        raise ConfigurationError(f"font {path.name} has no Unicode cmap")
    metrics = font["hmtx"].metrics
    advances = {code: metrics[glyph][0] for code, glyph in cmap.items()}
    units_per_em = int(font["head"].unitsPerEm)
    ascent, descent = int(font["hhea"].ascent), -int(font["hhea"].descent)
    for tag in _DROPPED_TABLES:
        if tag in font:
            del font[tag]
    # One full-coverage subtable is enough as subsetting input (the output cmap is rebuilt); glyph names kept
    # in 'post' spare fontTools deriving them from the cmap on every load, which is most of the subset time.
    font["cmap"].tables = [t for t in font["cmap"].tables if (t.platformID, t.platEncID) == (3, 10)] or [
        max(font["cmap"].tables, key=lambda t: len(t.cmap))
    ]
    post = font["post"]
    post.formatType = 2.0
    post.extraNames = []
    post.mapping = {}
    post.glyphOrder = font.getGlyphOrder()
    buffer = io.BytesIO()
    font.save(buffer, reorderTables=False)
    return _Face(
        face=face,
        family=_FAMILY.get(face, face),
        prepared=buffer.getvalue(),
        units_per_em=units_per_em,
        ascent=ascent,
        descent=descent,
        advances=advances,
    )


@lru_cache(maxsize=64)
def _subset(face: FontFace, codepoints: frozenset[int]) -> bytes:
    """Return a TrueType subset of ``face`` with exactly the glyphs of ``codepoints`` plus .notdef."""
    from fontTools import subset
    from fontTools.ttLib import TTFont
    from fontTools.ttLib.tables._c_m_a_p import CmapSubtable

    # The shipped fonts are unhinted: keeping "hinting" and not recalculating bounding boxes lets each glyph's
    # bytes pass through untouched instead of being decoded and re-encoded (most of the time otherwise).
    font = TTFont(io.BytesIO(_face(face).prepared), lazy=True, recalcTimestamp=False, recalcBBoxes=False)
    options = subset.Options()
    options.layout_features = []
    options.hinting = True
    options.notdef_outline = True
    options.glyph_names = False
    options.name_IDs = ["*"]  # keep the copyright and OFL notices with the embedded font
    options.name_languages = ["*"]
    options.name_legacy = True
    options.recalc_timestamp = False
    options.drop_tables = [*options.drop_tables, *_DROPPED_TABLES]
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=sorted(codepoints))
    subsetter.subset(font)
    # A (3,1) format 4 table for every reader, plus (3,10) format 12 when a character is beyond the BMP.
    mapping = font.getBestCmap() or {}
    bmp = {code: glyph for code, glyph in mapping.items() if code <= 0xFFFF}
    tables = []
    for fmt, encoding, table_map in ((4, 1, bmp), (12, 10, mapping)):
        if fmt == 12 and len(bmp) == len(mapping):
            continue
        table = CmapSubtable.newSubtable(fmt)
        table.platformID, table.platEncID, table.language = 3, encoding, 0
        table.cmap = dict(table_map)
        tables.append(table)
    font["cmap"].tables = tables
    out = io.BytesIO()
    font.save(out)
    return out.getvalue()


def _advances(text: str, size_mm: float, face: FontFace) -> list[float]:
    metrics = _face(face)
    scale = size_mm / metrics.units_per_em
    return [metrics.advances[ord(ch)] * scale for ch in text]


def text_width(text: str, size_mm: float, face: FontFace = "serif") -> float:
    """Return the advance width of ``text`` in mm at ``size_mm`` (the em size), as :meth:`PageBuilder.text`
    lays it out; InvalidInput for characters the face cannot draw."""
    _check_text(text, face, "text")
    return sum(_advances(text, _positive(size_mm, "size_mm"), face))


# --- validation ---------------------------------------------------------------------------------------------


def _finite(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInput(f"{what} must be a finite number, got {value!r}", field=what)
    return float(value)


def _positive(value: object, what: str, *, maximum: float = _MAX_SIZE_MM) -> float:
    number = _finite(value, what)
    if not 0 < number <= maximum:
        raise InvalidInput(f"{what} must be in (0, {maximum:g}], got {value!r}", field=what)
    return number


def _color(value: object, what: str) -> Color:
    if (
        not isinstance(value, tuple | list)
        or len(value) != 3
        or not all(isinstance(c, int) and not isinstance(c, bool) and 0 <= c <= 255 for c in value)
    ):
        raise InvalidInput(f"{what} must be an (r, g, b) tuple of integers 0..255, got {value!r}", field=what)
    return (value[0], value[1], value[2])


def _xml_text(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"{what} must be a string, got {type(value).__name__}", field=what)
    for ch in value:
        if (unicodedata.category(ch) in ("Cc", "Cs") and ch not in "\t\n\r") or ch in "\ufffe\uffff":
            raise InvalidInput(f"{what} contains a character XML cannot carry: U+{ord(ch):04X}", field=what)
    return value


def _check_text(text: object, face: object, what: str) -> str:
    if face not in _FAMILY:
        raise InvalidInput(f"unknown font face {face!r}; expected one of {sorted(_FAMILY)}", field="face")
    if not isinstance(text, str) or not text:
        raise InvalidInput(f"{what} must be a non-empty string", field=what)
    for ch in text:
        if unicodedata.category(ch) in ("Cc", "Cs", "Zl", "Zp"):
            raise InvalidInput(
                f"{what} contains the control or line-break character U+{ord(ch):04X}; "
                "draw each line with its own text() call",
                field=what,
            )
    require_glyphs(text, cast(FontFace, face), field=what)
    return text


# --- numbers in XML -----------------------------------------------------------------------------------------


def _num(value: float) -> str:
    """Format a coordinate: at most 4 decimals (0.1 µm), no trailing zeros, never '-0'."""
    text = f"{round(value, 4):.4f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _nums(values: Iterable[float]) -> str:
    return " ".join(_num(v) for v in values)


def _delta_array(values: Sequence[float]) -> str:
    """An ST_Array for DeltaX with runs of equal values written as ``g N v``."""
    tokens: list[str] = []
    for value, group in itertools.groupby(_num(v) for v in values):
        count = len(list(group))
        tokens.extend(["g", str(count), value] if count > 1 else [value])
    return " ".join(tokens)


# --- page content -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TextBox:
    """Where :meth:`PageBuilder.text` put the text: ``x, y`` top-left, ``w, h`` in mm (from the font's
    ascent to its descent), the ``size_mm`` used (smaller than asked when ``max_width`` shrank it) and the
    ``baseline`` y."""

    x: float
    y: float
    w: float
    h: float
    size_mm: float
    baseline: float


@dataclass(frozen=True)
class _Text:
    left: float
    baseline: float
    text: str
    size: float
    face: FontFace
    color: Color
    advances: tuple[float, ...]


@dataclass(frozen=True)
class _Image:
    x: float
    y: float
    w: float
    h: float
    digest: str


@dataclass(frozen=True)
class _Path:
    commands: tuple[tuple[str, tuple[float, ...]], ...]
    stroke: Color | None
    fill: Color | None
    line_width: float
    even_odd: bool


class PageBuilder:
    """One page being built; get it from :meth:`DocumentBuilder.page`. Objects are drawn in call order."""

    def __init__(self, document: DocumentBuilder, size_mm: tuple[float, float]) -> None:
        self._document = document
        self.size_mm = size_mm
        self._objects: list[_Text | _Image | _Path] = []

    def text(
        self,
        x: float,
        y: float,
        text: str,
        size_mm: float,
        *,
        face: FontFace = "serif",
        color: Color = _BLACK,
        align: Align = "left",
        max_width: float | None = None,
    ) -> TextBox:
        """Draw one line of ``text`` with its baseline at ``y``; return where it went.

        ``x`` is the start, middle or end of the line for ``align`` ``"left"``, ``"center"``, ``"right"``.
        ``size_mm`` is the em size in mm (10.5 pt ≈ 3.7 mm). When ``max_width`` is given and the line is
        wider, the size is reduced until it fits (the baseline stays). Line breaks are the caller's job: use
        :func:`text_width` to measure.
        """
        _check_text(text, face, "text")
        x = _finite(x, "x")
        y = _finite(y, "y")
        size = _positive(size_mm, "size_mm")
        color = _color(color, "color")
        if align not in ("left", "center", "right"):
            raise InvalidInput(f"align must be 'left', 'center' or 'right', got {align!r}", field="align")
        advances = _advances(text, size, face)
        width = sum(advances)
        if max_width is not None:
            limit = _positive(max_width, "max_width", maximum=math.inf)
            if width > limit:
                factor = limit / width
                size *= factor
                advances = [a * factor for a in advances]
                width = sum(advances)
        left = x - (width / 2 if align == "center" else width if align == "right" else 0.0)
        self._objects.append(_Text(left, y, text, size, face, color, tuple(advances)))
        self._document._use_glyphs(face, text)
        metrics = _face(face)
        ascent = metrics.ascent * size / metrics.units_per_em
        descent = metrics.descent * size / metrics.units_per_em
        return TextBox(x=left, y=y - ascent, w=width, h=ascent + descent, size_mm=size, baseline=y)

    def image(self, x: float, y: float, w: float, h: float, png: bytes) -> None:
        """Draw the PNG image ``png`` scaled into the box ``x, y, w, h`` (mm, top-left corner)."""
        box = (_finite(x, "x"), _finite(y, "y"), _positive(w, "w"), _positive(h, "h"))
        digest = self._document._add_image(png)
        self._objects.append(_Image(*box, digest=digest))

    def rect(
        self,
        x: float,
        y: float,
        w: float,
        h: float,
        *,
        stroke: Color | None = _BLACK,
        fill: Color | None = None,
        line_width: float = DEFAULT_LINE_WIDTH,
    ) -> None:
        """Draw a rectangle (top-left ``x, y``), stroked and/or filled."""
        x, y = _finite(x, "x"), _finite(y, "y")
        w, h = _positive(w, "w"), _positive(h, "h")
        commands: list[PathCommand] = [
            ("M", x, y),
            ("L", x + w, y),
            ("L", x + w, y + h),
            ("L", x, y + h),
            ("C",),
        ]
        self.path(commands, stroke=stroke, fill=fill, line_width=line_width)

    def line(
        self,
        x1: float,
        y1: float,
        x2: float,
        y2: float,
        *,
        stroke: Color = _BLACK,
        line_width: float = DEFAULT_LINE_WIDTH,
    ) -> None:
        """Draw a straight line from ``x1, y1`` to ``x2, y2``."""
        self.path([("M", x1, y1), ("L", x2, y2)], stroke=stroke, line_width=line_width)

    def path(
        self,
        commands: Sequence[PathCommand],
        *,
        stroke: Color | None = _BLACK,
        fill: Color | None = None,
        line_width: float = DEFAULT_LINE_WIDTH,
        even_odd: bool = False,
    ) -> None:
        """Draw a path of ``commands`` in page mm (see :data:`PathCommand`), stroked and/or filled.

        ``even_odd`` selects the even-odd fill rule instead of non-zero.
        """
        if stroke is None and fill is None:
            raise InvalidInput("a path needs a stroke or a fill colour", field="stroke")
        parsed: list[tuple[str, tuple[float, ...]]] = []
        for i, command in enumerate(commands):
            if not isinstance(command, tuple | list) or not command or command[0] not in _PATH_ARITY:
                raise InvalidInput(f"path command {i} must start with one of M L Q B C, got {command!r}")
            op = str(command[0])
            if len(command) - 1 != _PATH_ARITY[op]:
                raise InvalidInput(f"path command {i} ({op}) takes {_PATH_ARITY[op]} numbers")
            parsed.append((op, tuple(_finite(v, f"path command {i}") for v in command[1:])))
        if not parsed or parsed[0][0] != "M":
            raise InvalidInput("a path must start with a move (M)")
        self._objects.append(
            _Path(
                commands=tuple(parsed),
                stroke=None if stroke is None else _color(stroke, "stroke"),
                fill=None if fill is None else _color(fill, "fill"),
                line_width=_positive(line_width, "line_width"),
                even_odd=bool(even_odd),
            )
        )


# --- the document -------------------------------------------------------------------------------------------


@dataclass
class _Ids:
    """ST_ID allocation: one counter for the whole document, as the XSD requires."""

    last: int = 0

    def next(self) -> int:
        self.last += 1
        return self.last


class DocumentBuilder:
    """An OFD document being built: pages, metadata, and the embedded fonts and images they use.

    ``doc_id`` (``DocInfo/DocID``) defaults to 32 hex digits derived from the content, so the same input
    gives the same bytes; pass the licence's own ID to tie the file to it. ``creation_date`` is written as
    ``DocInfo/CreationDate`` when given (time comes from the caller, never from the clock here).
    """

    def __init__(
        self,
        page_size_mm: tuple[float, float] = (210, 297),
        *,
        doc_id: str | None = None,
        creation_date: date | None = None,
        title: str | None = None,
        creator: str | None = "trustsvc",
    ) -> None:
        self.page_size_mm = self._page_size(page_size_mm)
        self.doc_id = doc_id
        self.creation_date = creation_date
        self.title = title
        self.creator = creator
        self._custom_datas: dict[str, str] = {}
        self._pages: list[PageBuilder] = []
        self._glyphs: dict[FontFace, set[int]] = {}
        self._images: dict[str, bytes] = {}

    @staticmethod
    def _page_size(size: object) -> tuple[float, float]:
        if not isinstance(size, tuple | list) or len(size) != 2:
            raise InvalidInput(f"page size must be (width, height) in mm, got {size!r}", field="page_size_mm")
        return (
            _positive(size[0], "page width", maximum=10_000),
            _positive(size[1], "page height", maximum=10_000),
        )

    def page(self, size_mm: tuple[float, float] | None = None) -> PageBuilder:
        """Add a page (of ``size_mm``, default the document's page size) and return its builder."""
        page = PageBuilder(self, self.page_size_mm if size_mm is None else self._page_size(size_mm))
        self._pages.append(page)
        return page

    def metadata(self, custom_datas: Mapping[str, str]) -> None:
        """Add ``DocInfo/CustomDatas`` entries (name → value); a name given again replaces its value."""
        for name, value in custom_datas.items():
            if not isinstance(name, str) or not name.strip():
                raise InvalidInput(
                    f"custom data name must be a non-empty string, got {name!r}", field="metadata"
                )
            self._custom_datas[_xml_text(name, "metadata name")] = _xml_text(value, f"metadata {name!r}")

    def _use_glyphs(self, face: FontFace, text: str) -> None:
        self._glyphs.setdefault(face, set()).update(ord(ch) for ch in text)

    def _add_image(self, png: bytes) -> str:
        if not isinstance(png, bytes | bytearray):
            raise InvalidInput(f"image must be PNG bytes, got {type(png).__name__}", field="png")
        data = bytes(png)
        digest = hashlib.sha256(data).hexdigest()
        if digest not in self._images:
            try:
                with Image.open(io.BytesIO(data)) as image:
                    if image.format != "PNG":
                        raise InvalidInput(f"image must be PNG, got {image.format}", field="png")
                    image.verify()
            except InvalidInput:
                raise
            except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
                raise InvalidInput(f"image is not a readable PNG: {exc}", field="png") from None
            self._images[digest] = data
        return digest

    # building

    def build(self) -> OfdPackage:
        """Return the document as an OFD package (write it with :meth:`OfdPackage.write`)."""
        if not self._pages:
            raise InvalidInput("the document has no pages")
        if self.creation_date is not None and not isinstance(self.creation_date, date):
            raise InvalidInput("creation_date must be a date", field="creation_date")
        ids = _Ids()
        page_ids = [ids.next() for _ in self._pages]
        faces: list[FontFace] = [face for face in ("serif", "sans") if face in self._glyphs]  # fixed order
        font_ids = {face: ids.next() for face in faces}
        image_ids = {digest: ids.next() for digest in self._images}
        files: dict[str, bytes] = {}

        for face, font_id in font_ids.items():
            files[f"{DOC_DIR}/Res/font_{font_id}.ttf"] = _subset(face, frozenset(self._glyphs[face]))
        for digest, image_id in image_ids.items():
            files[f"{DOC_DIR}/Res/image_{image_id}.png"] = self._images[digest]
        page_locs = []
        for index, page in enumerate(self._pages):
            loc = f"Pages/Page_{index}/Content.xml"
            files[f"{DOC_DIR}/{loc}"] = serialize(self._page_xml(page, ids, font_ids, image_ids))
            page_locs.append(loc)

        if font_ids:
            files[f"{DOC_DIR}/PublicRes.xml"] = serialize(self._public_res(font_ids))
        if image_ids:
            files[f"{DOC_DIR}/DocumentRes.xml"] = serialize(self._document_res(image_ids))
        files[f"{DOC_DIR}/Document.xml"] = serialize(
            self._document_xml(
                ids.last, list(zip(page_ids, page_locs, strict=True)), bool(font_ids), bool(image_ids)
            )
        )
        doc_id = self.doc_id
        if doc_id is None:
            doc_id = self._derived_doc_id(files)
        files["OFD.xml"] = serialize(self._ofd_xml(doc_id))
        return OfdPackage.from_files(files)

    def _derived_doc_id(self, files: Mapping[str, bytes]) -> str:
        digest = hashlib.sha256()
        for name in sorted(files):
            digest.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
        digest.update(serialize(self._ofd_xml("")))
        return digest.hexdigest()[:32]

    def _ofd_xml(self, doc_id: str) -> etree._Element:
        root = _root("OFD", Version="1.0", DocType="OFD")
        body = _sub(root, "DocBody")
        info = _sub(body, "DocInfo")
        _sub(info, "DocID", text=_xml_text(doc_id, "doc_id"))
        if self.title is not None:
            _sub(info, "Title", text=_xml_text(self.title, "title"))
        if self.creation_date is not None:
            day = (
                self.creation_date.date() if isinstance(self.creation_date, datetime) else self.creation_date
            )
            _sub(info, "CreationDate", text=day.isoformat())
        if self.creator is not None:
            _sub(info, "Creator", text=_xml_text(self.creator, "creator"))
        if self._custom_datas:
            datas = _sub(info, "CustomDatas")
            for name, value in self._custom_datas.items():
                _sub(datas, "CustomData", text=value, Name=name)
        _sub(body, "DocRoot", text=f"{DOC_DIR}/Document.xml")
        return root

    def _document_xml(
        self, max_unit_id: int, pages: list[tuple[int, str]], has_fonts: bool, has_images: bool
    ) -> etree._Element:
        root = _root("Document")
        common = _sub(root, "CommonData")
        _sub(common, "MaxUnitID", text=str(max_unit_id))
        area = _sub(common, "PageArea")
        _sub(area, "PhysicalBox", text=_nums((0, 0, *self.page_size_mm)))
        if has_fonts:
            _sub(common, "PublicRes", text="PublicRes.xml")
        if has_images:
            _sub(common, "DocumentRes", text="DocumentRes.xml")
        pages_element = _sub(root, "Pages")
        for page_id, loc in pages:
            _sub(pages_element, "Page", ID=str(page_id), BaseLoc=loc)
        return root

    def _public_res(self, font_ids: Mapping[FontFace, int]) -> etree._Element:
        root = _root("Res", BaseLoc="Res")
        fonts = _sub(root, "Fonts")
        for face, font_id in font_ids.items():
            family = _face(face).family
            attrs = {"ID": str(font_id), "FontName": family, "FamilyName": family}
            if face == "serif":
                attrs["Serif"] = "true"
            font = _sub(fonts, "Font", **attrs)
            _sub(font, "FontFile", text=f"font_{font_id}.ttf")
        return root

    def _document_res(self, image_ids: Mapping[str, int]) -> etree._Element:
        root = _root("Res", BaseLoc="Res")
        medias = _sub(root, "MultiMedias")
        for image_id in image_ids.values():
            media = _sub(medias, "MultiMedia", ID=str(image_id), Type="Image", Format="PNG")
            _sub(media, "MediaFile", text=f"image_{image_id}.png")
        return root

    def _page_xml(
        self, page: PageBuilder, ids: _Ids, font_ids: Mapping[FontFace, int], image_ids: Mapping[str, int]
    ) -> etree._Element:
        root = _root("Page")
        area = _sub(root, "Area")
        _sub(area, "PhysicalBox", text=_nums((0, 0, *page.size_mm)))
        if not page._objects:
            return root
        content = _sub(root, "Content")
        layer = _sub(content, "Layer", ID=str(ids.next()))
        for obj in page._objects:
            if isinstance(obj, _Text):
                _text_object(layer, obj, ids.next(), font_ids[obj.face])
            elif isinstance(obj, _Image):
                _sub(
                    layer,
                    "ImageObject",
                    ID=str(ids.next()),
                    Boundary=_nums((obj.x, obj.y, obj.w, obj.h)),
                    CTM=_nums((obj.w, 0, 0, obj.h, 0, 0)),
                    ResourceID=str(image_ids[obj.digest]),
                )
            else:
                _path_object(layer, obj, ids.next())
        return root


# --- XML helpers --------------------------------------------------------------------------------------------


def _root(local: str, **attrs: str) -> etree._Element:
    return etree.Element(q(local), attrs, nsmap={"ofd": OFD_NS})


def _sub(parent: etree._Element, local: str, *, text: str | None = None, **attrs: str) -> etree._Element:
    element = etree.SubElement(parent, q(local), attrs)
    if text is not None:
        element.text = text
    return element


def _text_object(layer: etree._Element, text: _Text, object_id: int, font_id: int) -> None:
    metrics = _face(text.face)
    ascent = metrics.ascent * text.size / metrics.units_per_em
    descent = metrics.descent * text.size / metrics.units_per_em
    # A small side margin keeps overhanging glyph outlines inside the Boundary (readers may clip to it).
    margin = 0.1 * text.size
    width = sum(text.advances)
    boundary = (text.left - margin, text.baseline - ascent, width + 2 * margin, ascent + descent)
    element = _sub(layer, "TextObject", ID=str(object_id), Boundary=_nums(boundary), Font=str(font_id))
    element.set("Size", _num(text.size))
    _sub(element, "FillColor", Value=_nums(text.color))
    code = _sub(element, "TextCode", text=text.text, X=_num(margin), Y=_num(ascent))
    if len(text.text) > 1:
        code.set("DeltaX", _delta_array(text.advances[:-1]))


def _path_object(layer: etree._Element, path: _Path, object_id: int) -> None:
    xs = [v for _, args in path.commands for v in args[0::2]]
    ys = [v for _, args in path.commands for v in args[1::2]]
    pad = path.line_width / 2 if path.stroke is not None else 0.0
    left, top = min(xs) - pad, min(ys) - pad
    boundary = (left, top, max(xs) + pad - left, max(ys) + pad - top)
    data = []
    for op, args in path.commands:
        relative = [v - (left if i % 2 == 0 else top) for i, v in enumerate(args)]
        data.append(" ".join([op, *(_num(v) for v in relative)]))
    attrs = {
        "ID": str(object_id),
        "Boundary": _nums(boundary),
        "LineWidth": _num(path.line_width),
        "Stroke": "true" if path.stroke is not None else "false",
        "Fill": "true" if path.fill is not None else "false",
    }
    if path.even_odd:
        attrs["Rule"] = "Even-Odd"
    element = _sub(layer, "PathObject", **attrs)
    if path.stroke is not None:
        _sub(element, "StrokeColor", Value=_nums(path.stroke))
    if path.fill is not None:
        _sub(element, "FillColor", Value=_nums(path.fill))
    _sub(element, "AbbreviatedData", text=" ".join(data))
