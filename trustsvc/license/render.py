"""Render a licence: one layout model, drawn to PDF (reportlab) and to OFD (:mod:`trustsvc.ofd.layout`).

:func:`build_layout` turns a licence type's template and the (validated) field values into a :class:`Layout`:
a short list of drawing operations in millimetres, origin at the page's top-left corner, y downwards (as OFD
and the template). Text is measured with the real glyph advances of the shipped fonts
(:func:`trustsvc.ofd.layout.text_width`) and wrapped here, so both writers receive finished lines with their
left edge and baseline already fixed; the PDF writer only flips y. The same inputs give the same bytes in
both formats.

:func:`render_licence` draws the layout twice and returns a :class:`RenderedLicence` with the PDF, the OFD,
the GB/T 36903 core metadata (``ZZMC``, ``ZZBS``, …) embedded in both files, and the seal box — left blank —
where the issuing seal is applied later.

Metadata: OFD ``DocInfo/CustomDatas`` (one ``CustomData`` per code); PDF document information (``Title`` =
ZZMC, ``Author`` = issuing authority, ``Subject``, ``Keywords`` and one custom key per code) and an XMP packet
(catalogue ``/Metadata``) with the codes as properties in the ``urn:trustsvc:licence:1.0`` namespace.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from typing import Any, Final
from xml.sax.saxutils import escape

import segno

from trustsvc.errors import InvalidInput
from trustsvc.fonts import FontFace, font_path
from trustsvc.license.catalog import (
    DoubleBorder,
    FieldType,
    LicenceType,
    Line,
    QrBox,
    Rect,
    SealBox,
    TextBox,
)
from trustsvc.ofd.layout import DocumentBuilder, PageBuilder, text_width

__all__ = [
    "XMP_NAMESPACE",
    "Color",
    "Layout",
    "LineOp",
    "QrOp",
    "RectOp",
    "RenderedLicence",
    "TextOp",
    "build_layout",
    "licence_metadata",
    "render_licence",
]

Color = tuple[int, int, int]

PT_TO_MM: Final = 25.4 / 72
MM_TO_PT: Final = 72 / 25.4
LINE_HEIGHT: Final = 1.3  # line pitch, in em
IDEOGRAPH_ASCENT: Final = 0.88  # the ideographic em box spans 0.88 em above to 0.12 em below the baseline
MIN_SHRINK: Final = 0.3  # wrapped text may shrink to 30 % of its template size to fit its box
QR_QUIET_ZONE: Final = 4  # modules (ISO/IEC 18004)
XMP_NAMESPACE: Final = "urn:trustsvc:licence:1.0"
OPEN_ENDED: Final = "长期"
_PDF_FONTS: Final = {"serif": "TrustsvcNotoSerifSC", "sans": "TrustsvcNotoSansSC"}
# Characters that must not start a line (a simple 禁则): they stay with the previous character.
_NO_LINE_START: Final = frozenset("，。、；：？！）》」』】〕,.;:?!)]}%…—")


# --- the layout model -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TextOp:
    """One line of text: ``x`` its left edge, ``baseline`` its baseline y, ``width`` its advance (mm)."""

    x: float
    baseline: float
    text: str
    size_mm: float
    face: FontFace
    color: Color
    width: float
    source: str  # "field:<key>", "computed:<name>" or "text"

    @property
    def box(self) -> tuple[float, float, float, float]:
        """The ideographic em box of the line: x, y (top), w, h in mm."""
        return (self.x, self.baseline - IDEOGRAPH_ASCENT * self.size_mm, self.width, self.size_mm)


@dataclass(frozen=True)
class RectOp:
    x: float
    y: float
    w: float
    h: float
    stroke: Color | None
    fill: Color | None
    line_width: float


@dataclass(frozen=True)
class LineOp:
    x1: float
    y1: float
    x2: float
    y2: float
    color: Color
    line_width: float


@dataclass(frozen=True)
class QrOp:
    """The verification QR code drawn as filled rectangles (one per horizontal run of dark modules)."""

    x: float
    y: float
    size: float
    matrix: tuple[tuple[bool, ...], ...]  # dark modules, without the quiet zone
    data: str

    @property
    def module(self) -> float:
        return self.size / (len(self.matrix) + 2 * QR_QUIET_ZONE)

    def runs(self) -> list[tuple[float, float, float, float]]:
        """Return the dark runs as x, y, w, h rectangles in page mm."""
        m = self.module
        origin_x, origin_y = self.x + QR_QUIET_ZONE * m, self.y + QR_QUIET_ZONE * m
        out = []
        for row, cells in enumerate(self.matrix):
            col = 0
            while col < len(cells):
                if not cells[col]:
                    col += 1
                    continue
                start = col
                while col < len(cells) and cells[col]:
                    col += 1
                out.append((origin_x + start * m, origin_y + row * m, (col - start) * m, m))
        return out


Op = TextOp | RectOp | LineOp | QrOp


@dataclass(frozen=True)
class Layout:
    width_mm: float
    height_mm: float
    ops: tuple[Op, ...]
    seal_box: tuple[int, float, float, float, float] | None  # page index (0-based), x, y, w, h in mm


@dataclass(frozen=True)
class RenderedLicence:
    pdf: bytes
    ofd: bytes
    metadata: dict[str, str]
    seal_box: tuple[int, float, float, float, float] | None  # page index (0-based), x, y, w, h in mm
    layout: Layout = field(repr=False)


# --- building the layout ----------------------------------------------------------------------------------


def _rgb(color: str) -> Color:
    return (int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16))


def _cn_date(value: date | str) -> str:
    day = date.fromisoformat(value) if isinstance(value, str) else value
    return f"{day.year:04d}年{day.month:02d}月{day.day:02d}日"


def _display(licence_type: LicenceType, key: str, value: Any) -> str:
    spec = licence_type.field(key)
    if spec.type is FieldType.DATE:
        return _cn_date(str(value))
    if spec.type is FieldType.MONEY:
        return f"{value}元"
    return str(value)


@dataclass(frozen=True)
class _Context:
    identifier: str
    issuer_name: str
    issue_date: date
    valid_from: date
    valid_to: date | None

    def computed(self, name: str) -> str:
        if name == "identifier":
            return self.identifier
        if name == "issuer_name":
            return self.issuer_name
        if name == "issue_date":
            return _cn_date(self.issue_date)
        if name == "valid_from":
            return _cn_date(self.valid_from)
        if name == "valid_until":
            return OPEN_ENDED if self.valid_to is None else _cn_date(self.valid_to)
        if name == "validity":
            end = OPEN_ENDED if self.valid_to is None else _cn_date(self.valid_to)
            return f"{_cn_date(self.valid_from)}至{end}"
        # the catalogue only admits known names
        raise InvalidInput(f"unknown computed value {name!r}", field=name)  # pragma: no cover


@cache
def _advance(ch: str, face: FontFace) -> float:
    """Advance of ``ch`` at an em of 1 mm (so multiply by the size in mm)."""
    return text_width(ch, 1.0, face)


def _width(text: str, size_mm: float, face: FontFace) -> float:
    return sum(_advance(ch, face) for ch in text) * size_mm


def _wrap(text: str, size_mm: float, face: FontFace, max_width: float) -> list[str]:
    """Break ``text`` into lines no wider than ``max_width`` (at any character; explicit newlines kept)."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line: list[str] = []
        width = 0.0
        for ch in paragraph:
            advance = _advance(ch, face) * size_mm
            if line and width + advance > max_width + 1e-9:
                carry: list[str] = []
                if ch in _NO_LINE_START and len(line) > 1:
                    carry = [line.pop()]
                lines.append("".join(line))
                line = carry
                width = sum(_advance(c, face) for c in line) * size_mm
            line.append(ch)
            width += advance
        lines.append("".join(line))
    return [line for line in lines if line.strip()] or []


def _text_ops(box: TextBox, text: str, source: str) -> list[TextOp]:
    face: FontFace = "sans" if box.font == "sans" else "serif"
    size = box.size_pt * PT_TO_MM
    if box.wrap:
        lines = _wrap(text, size, face, box.width)
        while len(lines) * LINE_HEIGHT * size > box.height + 1e-9:
            if size * 0.95 < box.size_pt * PT_TO_MM * MIN_SHRINK:
                raise InvalidInput(
                    f"{source}: the text does not fit its {box.width:g}×{box.height:g} mm box",
                    field=source.split(":", 1)[-1],
                    rule="fits box",
                )
            size *= 0.95
            lines = _wrap(text, size, face, box.width)
    else:
        lines = [line for line in text.split("\n") if line.strip()]
        widest = max((_width(line, size, face) for line in lines), default=0.0)
        if widest > box.width:
            size *= box.width / widest  # one line that does not fit is set smaller, as OFD max_width does
    ops = []
    pitch = LINE_HEIGHT * size
    for i, line in enumerate(lines):
        width = _width(line, size, face)
        if box.align == "center":
            left = box.x + (box.width - width) / 2
        elif box.align == "right":
            left = box.x + box.width - width
        else:
            left = box.x
        baseline = box.y + i * pitch + (pitch - size) / 2 + IDEOGRAPH_ASCENT * size
        ops.append(TextOp(left, baseline, line, size, face, _rgb(box.color), width, source))
    return ops


def _qr_matrix(data: str) -> tuple[tuple[bool, ...], ...]:
    qr = segno.make(data, error="m", micro=False, boost_error=False)
    return tuple(tuple(bool(v) for v in row) for row in qr.matrix_iter(scale=1, border=0))


def build_layout(
    licence_type: LicenceType,
    fields: Mapping[str, Any],
    *,
    identifier: str,
    issuer_name: str,
    issue_date: date,
    valid_from: date,
    valid_to: date | None,
    verify_url: str,
) -> Layout:
    """Return the drawing operations of the licence page (mm, top-left origin) for validated ``fields``."""
    context = _Context(identifier, issuer_name, issue_date, valid_from, valid_to)
    template = licence_type.template
    ops: list[Op] = []
    seal_box: tuple[int, float, float, float, float] | None = None
    for element in template.elements:
        if isinstance(element, TextBox):
            if element.field is not None:
                value = fields.get(element.field)
                if value is None or value == "":
                    continue  # an optional field left blank
                ops.extend(
                    _text_ops(element, _display(licence_type, element.field, value), f"field:{element.field}")
                )
            elif element.computed is not None:
                ops.extend(
                    _text_ops(element, context.computed(element.computed), f"computed:{element.computed}")
                )
            else:
                ops.extend(_text_ops(element, element.text or "", "text"))
        elif isinstance(element, QrBox):
            ops.append(QrOp(element.x, element.y, element.size, _qr_matrix(verify_url), verify_url))
        elif isinstance(element, SealBox):
            seal_box = (0, element.x, element.y, element.size, element.size)
        elif isinstance(element, Line):
            ops.append(
                LineOp(element.x1, element.y1, element.x2, element.y2, _rgb(element.color), element.width)
            )
        elif isinstance(element, Rect):
            stroke = _rgb(element.color) if element.stroke_width > 0 else None
            fill = _rgb(element.fill) if element.fill else None
            if stroke is None and fill is None:
                continue
            ops.append(
                RectOp(
                    element.x,
                    element.y,
                    element.width,
                    element.height,
                    stroke,
                    fill,
                    element.stroke_width or 0.1,
                )
            )
        elif isinstance(element, DoubleBorder):
            color = _rgb(element.color)
            for inset, width in (
                (element.margin, element.outer_width),
                (element.margin + element.gap, element.inner_width),
            ):
                ops.append(
                    RectOp(
                        inset,
                        inset,
                        template.width_mm - 2 * inset,
                        template.height_mm - 2 * inset,
                        color,
                        None,
                        width,
                    )
                )
    return Layout(template.width_mm, template.height_mm, tuple(ops), seal_box)


# --- metadata ---------------------------------------------------------------------------------------------


def _holder_name(licence_type: LicenceType, fields: Mapping[str, Any]) -> str:
    """The holder's name: the first text field of the type (名称 / 经营者名称 / 姓名 in the shipped types)."""
    for spec in licence_type.fields:
        if spec.type is FieldType.STRING and spec.key != licence_type.holder_field and fields.get(spec.key):
            return str(fields[spec.key])
    return ""


def _licence_number(licence_type: LicenceType, fields: Mapping[str, Any]) -> str:
    """证照编号: the ``licence_number`` field when the type has one, else the holder's code (a business
    licence is numbered by its USCC, an operations certificate by the citizen ID)."""
    if licence_type.has_field("licence_number") and fields.get("licence_number"):
        return str(fields["licence_number"])
    return str(fields[licence_type.holder_field])


def licence_metadata(
    licence_type: LicenceType,
    fields: Mapping[str, Any],
    *,
    identifier: str,
    issuer_name: str,
    issuer_code: str,
    issue_date: date,
    valid_from: date,
    valid_to: date | None,
) -> dict[str, str]:
    """Return the GB/T 36903 core metadata of a licence (spec/standards.md §6.3), dates as ``YYYY-MM-DD``;
    an open-ended licence has ``ZZYXQJZRQ`` = ``长期``."""
    return {
        "ZZMC": licence_type.name,
        "ZZLXDM": licence_type.type_code,
        "ZZBH": _licence_number(licence_type, fields),
        "ZZBS": identifier,
        "ZZBFJG": issuer_name,
        "ZZBFJGDM": issuer_code,
        "ZZBFRQ": issue_date.isoformat(),
        "CZZT": _holder_name(licence_type, fields),
        "CZZTDM": str(fields[licence_type.holder_field]),
        "CZZTDMLXDM": licence_type.holder_code_type,
        "ZZYXQQSRQ": valid_from.isoformat(),
        "ZZYXQJZRQ": OPEN_ENDED if valid_to is None else valid_to.isoformat(),
    }


# --- OFD --------------------------------------------------------------------------------------------------


def _ofd_path_rects(page: PageBuilder, rects: list[tuple[float, float, float, float]], fill: Color) -> None:
    commands: list[tuple[str | float, ...]] = []
    for x, y, w, h in rects:
        commands += [("M", x, y), ("L", x + w, y), ("L", x + w, y + h), ("L", x, y + h), ("C",)]
    if commands:
        page.path(commands, stroke=None, fill=fill)


def _render_ofd(layout: Layout, metadata: Mapping[str, str], issue_date: date) -> bytes:
    doc = DocumentBuilder(
        (layout.width_mm, layout.height_mm),
        doc_id=hashlib.sha256(metadata["ZZBS"].encode()).hexdigest()[:32],
        creation_date=issue_date,
        title=metadata["ZZMC"],
    )
    doc.metadata(metadata)
    page = doc.page()
    for op in layout.ops:
        if isinstance(op, TextOp):
            page.text(op.x, op.baseline, op.text, op.size_mm, face=op.face, color=op.color, align="left")
        elif isinstance(op, RectOp):
            page.rect(op.x, op.y, op.w, op.h, stroke=op.stroke, fill=op.fill, line_width=op.line_width)
        elif isinstance(op, LineOp):
            page.line(op.x1, op.y1, op.x2, op.y2, stroke=op.color, line_width=op.line_width)
        else:
            _ofd_path_rects(page, op.runs(), (0, 0, 0))
    return doc.build().write()


# --- PDF --------------------------------------------------------------------------------------------------


@cache
def _pdf_font(face: FontFace) -> str:
    """Register ``face`` with reportlab once per process; return its name (embedded as a subset)."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    name = _PDF_FONTS[face]
    pdfmetrics.registerFont(TTFont(name, str(font_path(face))))
    return name


def _xmp(metadata: Mapping[str, str], issue_date: date) -> bytes:
    codes = "".join(f"<zz:{k}>{escape(v)}</zz:{k}>" for k, v in metadata.items())
    stamp = f"{issue_date.isoformat()}T00:00:00+08:00"
    title = escape(metadata["ZZMC"])
    packet = (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about=""'
        ' xmlns:dc="http://purl.org/dc/elements/1.1/"'
        ' xmlns:xmp="http://ns.adobe.com/xap/1.0/"'
        ' xmlns:pdf="http://ns.adobe.com/pdf/1.3/"'
        f' xmlns:zz="{XMP_NAMESPACE}">'
        f'<dc:title><rdf:Alt><rdf:li xml:lang="x-default">{title}</rdf:li></rdf:Alt></dc:title>'
        f"<dc:identifier>{escape(metadata['ZZBS'])}</dc:identifier>"
        f"<xmp:CreateDate>{stamp}</xmp:CreateDate><xmp:ModifyDate>{stamp}</xmp:ModifyDate>"
        "<xmp:CreatorTool>trustsvc</xmp:CreatorTool>"
        f"<pdf:Keywords>{escape(_keywords(metadata))}</pdf:Keywords>"
        f"{codes}"
        "</rdf:Description></rdf:RDF></x:xmpmeta>"
        '<?xpacket end="w"?>'
    )
    return packet.encode("utf-8")


def _keywords(metadata: Mapping[str, str]) -> str:
    return f"电子证照; {metadata['ZZMC']}; {metadata['ZZBS']}; {metadata['ZZBH']}"


def _render_pdf(layout: Layout, metadata: Mapping[str, str], issue_date: date) -> bytes:
    import io

    from reportlab.pdfbase.pdfdoc import PDFDictionary, PDFInfo, PDFName, PDFStream, PDFString
    from reportlab.pdfgen.canvas import Canvas

    class _Info(PDFInfo):
        """Document information with the metadata codes as extra keys."""

        extra: Mapping[str, str] = {}

        def format(self, document: Any) -> bytes:
            base = super().format(document)  # validates and formats the standard keys
            extra = PDFDictionary({k: PDFString(v) for k, v in self.extra.items()}).format(document)
            # merge: "<< standard >>" + "<< extra >>" → one dictionary
            head, tail = base.rstrip(), extra.strip()
            assert head.endswith(b">>") and tail.startswith(b"<<")
            return bytes(head[:-2].rstrip() + b"\n" + tail[2:].lstrip())

    buffer = io.BytesIO()
    height = layout.height_mm
    canvas = Canvas(
        buffer,
        pagesize=(layout.width_mm * MM_TO_PT, height * MM_TO_PT),
        invariant=1,
        initialFontName=_pdf_font("serif"),
    )
    info = _Info()
    info.extra = dict(metadata)
    canvas._doc.info = info
    canvas.setTitle(metadata["ZZMC"])
    canvas.setAuthor(metadata["ZZBFJG"])
    canvas.setSubject(f"{metadata['ZZMC']} {metadata['ZZBS']}")
    canvas.setKeywords(_keywords(metadata))
    canvas.setCreator("trustsvc")
    stamp = issue_date.strftime("D:%Y%m%d000000+08'00'")
    canvas.setDateFormatter(lambda *_: stamp)
    canvas._doc.Catalog.Metadata = PDFStream(
        PDFDictionary({"Type": PDFName("Metadata"), "Subtype": PDFName("XML")}),
        _xmp(metadata, issue_date),
        filters=[],
    )

    def pt(value: float) -> float:
        return value * MM_TO_PT

    for op in layout.ops:
        if isinstance(op, TextOp):
            r, g, b = op.color
            canvas.setFillColorRGB(r / 255, g / 255, b / 255)
            canvas.setFont(_pdf_font(op.face), op.size_mm * MM_TO_PT)
            canvas.drawString(pt(op.x), pt(height - op.baseline), op.text)
        elif isinstance(op, RectOp):
            canvas.setLineWidth(pt(op.line_width))
            if op.stroke is not None:
                canvas.setStrokeColorRGB(*(c / 255 for c in op.stroke))
            if op.fill is not None:
                canvas.setFillColorRGB(*(c / 255 for c in op.fill))
            canvas.rect(
                pt(op.x),
                pt(height - op.y - op.h),
                pt(op.w),
                pt(op.h),
                stroke=int(op.stroke is not None),
                fill=int(op.fill is not None),
            )
        elif isinstance(op, LineOp):
            canvas.setLineWidth(pt(op.line_width))
            canvas.setStrokeColorRGB(*(c / 255 for c in op.color))
            canvas.line(pt(op.x1), pt(height - op.y1), pt(op.x2), pt(height - op.y2))
        else:
            canvas.setFillColorRGB(0, 0, 0)
            path = canvas.beginPath()
            for x, y, w, h in op.runs():
                path.rect(pt(x), pt(height - y - h), pt(w), pt(h))
            canvas.drawPath(path, stroke=0, fill=1)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


# --- entry point ------------------------------------------------------------------------------------------


def render_licence(
    licence_type: LicenceType,
    fields: Mapping[str, Any],
    *,
    identifier: str,
    issuer_name: str,
    issuer_code: str,
    issue_date: date,
    valid_from: date,
    valid_to: date | None,
    verify_url: str,
) -> RenderedLicence:
    """Render a licence of ``licence_type`` with validated ``fields`` (see ``catalog.validate_fields``) to PDF
    and OFD from one layout; ``verify_url`` goes into the QR code. The seal box is left blank."""
    layout = build_layout(
        licence_type,
        fields,
        identifier=identifier,
        issuer_name=issuer_name,
        issue_date=issue_date,
        valid_from=valid_from,
        valid_to=valid_to,
        verify_url=verify_url,
    )
    metadata = licence_metadata(
        licence_type,
        fields,
        identifier=identifier,
        issuer_name=issuer_name,
        issuer_code=issuer_code,
        issue_date=issue_date,
        valid_from=valid_from,
        valid_to=valid_to,
    )
    return RenderedLicence(
        pdf=_render_pdf(layout, metadata, issue_date),
        ofd=_render_ofd(layout, metadata, issue_date),
        metadata=metadata,
        seal_box=layout.seal_box,
        layout=layout,
    )
