"""Documents built with trustsvc.ofd.layout: they read back with the text, positions and metadata written,
embed a valid TrueType subset with exactly the glyphs used, keep IDs unique under MaxUnitID, follow the OFD
schema's structure, and come out byte-identical for the same input."""

from __future__ import annotations

import io
import re
from datetime import date

import pytest
from fontTools.ttLib import TTFont
from lxml import etree
from PIL import Image, ImageDraw, ImageFont

from trustsvc.errors import InvalidInput
from trustsvc.fonts import codepoints
from trustsvc.ofd import OFD_NS, DocumentBuilder, OfdPackage, text_width

NS = {"ofd": OFD_NS}
DOC_ID = "4f3c0a1b2c3d4e5f60718293a4b5c6d7"

# The structure of the OFD schema (GB/T 33190-2016 XSD as published in GreenYun/OFD-Schema: OFD.xsd,
# Document.xsd, Page.xsd, Res.xsd, Definitions.xsd, Signatures.xsd), cut down to the elements the builder and
# signing write; element order, cardinality, required attributes and types are the XSD's. Leaving the rest
# out only makes validation stricter. One deliberate change: Signatures.xsd types MaxSignId and Signature/@ID
# as xs:ID (an NCName, which cannot start with a digit), yet every real file and OFDRW write plain numbers
# ("1", "2"); they are xs:string here.
OFD_SCHEMA = b"""<?xml version="1.0" encoding="UTF-8"?>
<xs:schema xmlns="http://www.ofdspec.org/2016" xmlns:xs="http://www.w3.org/2001/XMLSchema"
    targetNamespace="http://www.ofdspec.org/2016" elementFormDefault="qualified"
    attributeFormDefault="unqualified">
  <xs:simpleType name="ST_ID"><xs:restriction base="xs:unsignedInt"/></xs:simpleType>
  <xs:simpleType name="ST_RefID"><xs:restriction base="xs:unsignedInt"/></xs:simpleType>
  <xs:simpleType name="ST_Loc"><xs:restriction base="xs:anyURI"/></xs:simpleType>
  <xs:simpleType name="ST_Array"><xs:restriction base="xs:string"/></xs:simpleType>
  <xs:simpleType name="ST_Box"><xs:restriction base="xs:string"/></xs:simpleType>
  <xs:complexType name="CT_PageArea"><xs:sequence>
    <xs:element name="PhysicalBox" type="ST_Box"/>
    <xs:element name="ApplicationBox" type="ST_Box" minOccurs="0"/>
    <xs:element name="ContentBox" type="ST_Box" minOccurs="0"/>
    <xs:element name="BleedBox" type="ST_Box" minOccurs="0"/>
  </xs:sequence></xs:complexType>

  <xs:element name="OFD"><xs:complexType>
    <xs:sequence><xs:element name="DocBody" maxOccurs="unbounded"><xs:complexType><xs:sequence>
      <xs:element name="DocInfo" type="CT_DocInfo"/>
      <xs:element name="DocRoot" type="ST_Loc"/>
      <xs:element name="Signatures" type="ST_Loc" minOccurs="0"/>
    </xs:sequence></xs:complexType></xs:element></xs:sequence>
    <xs:attribute name="Version" type="xs:string" use="required" fixed="1.0"/>
    <xs:attribute name="DocType" type="xs:string" use="required" fixed="OFD"/>
  </xs:complexType></xs:element>
  <xs:complexType name="CT_DocInfo"><xs:sequence>
    <xs:element name="DocID" type="xs:string"/>
    <xs:element name="Title" type="xs:string" minOccurs="0"/>
    <xs:element name="Author" type="xs:string" minOccurs="0"/>
    <xs:element name="Subject" type="xs:string" minOccurs="0"/>
    <xs:element name="Abstract" type="xs:string" minOccurs="0"/>
    <xs:element name="CreationDate" type="xs:date" minOccurs="0"/>
    <xs:element name="ModDate" type="xs:date" minOccurs="0"/>
    <xs:element name="DocUsage" type="xs:string" minOccurs="0"/>
    <xs:element name="Cover" type="ST_Loc" minOccurs="0"/>
    <xs:element name="Creator" type="xs:string" minOccurs="0"/>
    <xs:element name="CreatorVersion" type="xs:string" minOccurs="0"/>
    <xs:element name="CustomDatas" minOccurs="0"><xs:complexType><xs:sequence>
      <xs:element name="CustomData" maxOccurs="unbounded"><xs:complexType><xs:simpleContent>
        <xs:extension base="xs:string">
          <xs:attribute name="Name" type="xs:string" use="required"/>
        </xs:extension>
      </xs:simpleContent></xs:complexType></xs:element>
    </xs:sequence></xs:complexType></xs:element>
  </xs:sequence></xs:complexType>

  <xs:element name="Document"><xs:complexType><xs:sequence>
    <xs:element name="CommonData"><xs:complexType><xs:sequence>
      <xs:element name="MaxUnitID" type="ST_ID"/>
      <xs:element name="PageArea" type="CT_PageArea"/>
      <xs:element name="PublicRes" type="ST_Loc" minOccurs="0" maxOccurs="unbounded"/>
      <xs:element name="DocumentRes" type="ST_Loc" minOccurs="0" maxOccurs="unbounded"/>
    </xs:sequence></xs:complexType></xs:element>
    <xs:element name="Pages"><xs:complexType><xs:sequence>
      <xs:element name="Page" maxOccurs="unbounded"><xs:complexType>
        <xs:attribute name="ID" type="ST_ID" use="required"/>
        <xs:attribute name="BaseLoc" type="ST_Loc" use="required"/>
      </xs:complexType></xs:element>
    </xs:sequence></xs:complexType></xs:element>
  </xs:sequence></xs:complexType></xs:element>

  <xs:element name="Page"><xs:complexType><xs:sequence>
    <xs:element name="Area" type="CT_PageArea" minOccurs="0"/>
    <xs:element name="Content" minOccurs="0"><xs:complexType><xs:sequence>
      <xs:element name="Layer" maxOccurs="unbounded"><xs:complexType><xs:complexContent>
        <xs:extension base="CT_PageBlock"><xs:attribute name="ID" type="ST_ID" use="required"/></xs:extension>
      </xs:complexContent></xs:complexType></xs:element>
    </xs:sequence></xs:complexType></xs:element>
  </xs:sequence></xs:complexType></xs:element>
  <xs:complexType name="CT_PageBlock"><xs:choice minOccurs="0" maxOccurs="unbounded">
    <xs:element name="TextObject"><xs:complexType><xs:complexContent>
      <xs:extension base="CT_Text"><xs:attribute name="ID" type="ST_ID" use="required"/></xs:extension>
    </xs:complexContent></xs:complexType></xs:element>
    <xs:element name="PathObject"><xs:complexType><xs:complexContent>
      <xs:extension base="CT_Path"><xs:attribute name="ID" type="ST_ID" use="required"/></xs:extension>
    </xs:complexContent></xs:complexType></xs:element>
    <xs:element name="ImageObject"><xs:complexType><xs:complexContent>
      <xs:extension base="CT_Image"><xs:attribute name="ID" type="ST_ID" use="required"/></xs:extension>
    </xs:complexContent></xs:complexType></xs:element>
  </xs:choice></xs:complexType>
  <xs:complexType name="CT_GraphicUnit" abstract="true">
    <xs:attribute name="Boundary" type="ST_Box" use="required"/>
    <xs:attribute name="CTM" type="ST_Array"/>
    <xs:attribute name="LineWidth" type="xs:double"/>
  </xs:complexType>
  <xs:complexType name="CT_Color">
    <xs:attribute name="Value" type="ST_Array"/>
  </xs:complexType>
  <xs:complexType name="CT_Text"><xs:complexContent><xs:extension base="CT_GraphicUnit">
    <xs:sequence>
      <xs:element name="FillColor" type="CT_Color" minOccurs="0"/>
      <xs:element name="StrokeColor" type="CT_Color" minOccurs="0"/>
      <xs:element name="TextCode" maxOccurs="unbounded"><xs:complexType><xs:simpleContent>
        <xs:extension base="xs:string">
          <xs:attribute name="X" type="xs:double"/>
          <xs:attribute name="Y" type="xs:double"/>
          <xs:attribute name="DeltaX" type="ST_Array"/>
          <xs:attribute name="DeltaY" type="ST_Array"/>
        </xs:extension>
      </xs:simpleContent></xs:complexType></xs:element>
    </xs:sequence>
    <xs:attribute name="Font" type="ST_RefID" use="required"/>
    <xs:attribute name="Size" type="xs:double" use="required"/>
  </xs:extension></xs:complexContent></xs:complexType>
  <xs:complexType name="CT_Image"><xs:complexContent><xs:extension base="CT_GraphicUnit">
    <xs:attribute name="ResourceID" type="ST_RefID" use="required"/>
  </xs:extension></xs:complexContent></xs:complexType>
  <xs:complexType name="CT_Path"><xs:complexContent><xs:extension base="CT_GraphicUnit">
    <xs:sequence>
      <xs:element name="StrokeColor" type="CT_Color" minOccurs="0"/>
      <xs:element name="FillColor" type="CT_Color" minOccurs="0"/>
      <xs:element name="AbbreviatedData" type="xs:string"/>
    </xs:sequence>
    <xs:attribute name="Stroke" type="xs:boolean"/>
    <xs:attribute name="Fill" type="xs:boolean"/>
    <xs:attribute name="Rule"><xs:simpleType><xs:restriction base="xs:string">
      <xs:enumeration value="NonZero"/><xs:enumeration value="Even-Odd"/>
    </xs:restriction></xs:simpleType></xs:attribute>
  </xs:extension></xs:complexContent></xs:complexType>

  <xs:element name="Res"><xs:complexType>
    <xs:choice minOccurs="0" maxOccurs="unbounded">
      <xs:element name="Fonts"><xs:complexType><xs:sequence>
        <xs:element name="Font" maxOccurs="unbounded"><xs:complexType>
          <xs:sequence><xs:element name="FontFile" type="ST_Loc" minOccurs="0"/></xs:sequence>
          <xs:attribute name="ID" type="ST_ID" use="required"/>
          <xs:attribute name="FontName" type="xs:string" use="required"/>
          <xs:attribute name="FamilyName" type="xs:string"/>
          <xs:attribute name="Serif" type="xs:boolean"/>
        </xs:complexType></xs:element>
      </xs:sequence></xs:complexType></xs:element>
      <xs:element name="MultiMedias"><xs:complexType><xs:sequence>
        <xs:element name="MultiMedia" maxOccurs="unbounded"><xs:complexType>
          <xs:sequence><xs:element name="MediaFile" type="ST_Loc"/></xs:sequence>
          <xs:attribute name="ID" type="ST_ID" use="required"/>
          <xs:attribute name="Type" use="required"><xs:simpleType><xs:restriction base="xs:string">
            <xs:enumeration value="Image"/><xs:enumeration value="Audio"/><xs:enumeration value="Video"/>
          </xs:restriction></xs:simpleType></xs:attribute>
          <xs:attribute name="Format" type="xs:string"/>
        </xs:complexType></xs:element>
      </xs:sequence></xs:complexType></xs:element>
    </xs:choice>
    <xs:attribute name="BaseLoc" type="ST_Loc" use="required"/>
  </xs:complexType></xs:element>

  <xs:element name="Signatures"><xs:complexType><xs:sequence>
    <xs:element name="MaxSignId" type="xs:string" minOccurs="0"/>
    <xs:element name="Signature" minOccurs="0" maxOccurs="unbounded"><xs:complexType>
      <xs:attribute name="ID" type="xs:string" use="required"/>
      <xs:attribute name="Type" default="Seal"><xs:simpleType><xs:restriction base="xs:string">
        <xs:enumeration value="Seal"/><xs:enumeration value="Sign"/>
      </xs:restriction></xs:simpleType></xs:attribute>
      <xs:attribute name="BaseLoc" type="ST_Loc" use="required"/>
    </xs:complexType></xs:element>
  </xs:sequence></xs:complexType></xs:element>
</xs:schema>
"""

NUMBER = r"-?\d+(\.\d+)?"
BOX = re.compile(rf"^{NUMBER} {NUMBER} {NUMBER} {NUMBER}$")


def png(color: tuple[int, int, int] = (200, 0, 0), size: tuple[int, int] = (16, 8)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, "PNG")
    return buffer.getvalue()


LINES = [
    # (x, y baseline, text, size, face, align)
    (105.0, 40.0, "中华人民共和国营业执照", 8.0, "sans", "center"),
    (30.0, 60.0, "统一社会信用代码 91110000MA01ABCD2X", 4.2, "serif", "left"),
    (190.0, 70.0, "登记机关（盖章）", 4.2, "serif", "right"),
    (30.0, 80.0, "名称：北京天地玄黄科技有限公司 Ltd.", 4.2, "serif", "left"),
]


def build_licence(*, doc_id: str | None = DOC_ID) -> OfdPackage:
    doc = DocumentBuilder(
        page_size_mm=(210, 297), doc_id=doc_id, creation_date=date(2026, 1, 2), title="营业执照"
    )
    doc.metadata({"licence-id": "1.2.156.3005.2.11100000000013127D.0001", "证照类型": "营业执照"})
    page = doc.page()
    page.rect(10, 10, 190, 277, stroke=(180, 0, 0), line_width=0.8)
    for x, y, text, size, face, align in LINES:
        page.text(x, y, text, size, face=face, align=align)  # type: ignore[arg-type]
    page.image(150, 200, 40, 20, png())
    page.image(20, 200, 40, 20, png())  # same picture twice: one resource
    page.line(20, 90, 190, 90, stroke=(0, 0, 255))
    page.path(
        [("M", 100, 230), ("Q", 110, 220, 120, 230), ("B", 125, 235, 130, 240, 140, 230), ("C",)],
        fill=(255, 0, 0),
    )
    second = doc.page((148, 105))
    second.text(10, 20, "第二页", 5, color=(255, 0, 0))
    doc.page()  # an empty page
    return doc.build()


@pytest.fixture(scope="module")
def licence() -> OfdPackage:
    return build_licence()


@pytest.fixture(scope="module")
def reread(licence: OfdPackage) -> OfdPackage:
    return OfdPackage.read(licence.write())


def test_built_document_reads_back_with_pages_and_boxes(reread: OfdPackage) -> None:
    doc = reread.document()
    assert [p.physical_box for p in doc.pages] == [(0, 0, 210, 297), (0, 0, 148, 105), (0, 0, 210, 297)]
    assert [p.index for p in doc.pages] == [0, 1, 2]
    assert len({p.id for p in doc.pages}) == 3
    assert doc.signatures() == []
    assert doc.page_text(2) == []


def test_page_text_reads_back_what_was_written_at_the_written_positions(reread: OfdPackage) -> None:
    runs = reread.document().page_text(0)
    assert [run.text for run in runs] == [text for _, _, text, _, _, _ in LINES]
    for run, (x, y, text, size, face, align) in zip(runs, LINES, strict=True):
        width = text_width(text, size, face)  # type: ignore[arg-type]
        left = {"left": x, "center": x - width / 2, "right": x - width}[align]
        assert run.baseline == pytest.approx(y, abs=1e-3)
        assert run.font_size == pytest.approx(size)
        # every glyph starts where the font's advances put it (DeltaX from hmtx)
        starts = [left + text_width(text[:i], size, face) if i else left for i in range(len(text))]  # type: ignore[arg-type]
        assert [g.x for g in run.glyphs] == pytest.approx(starts, abs=2e-3)
        assert run.x == pytest.approx(left, abs=1e-3)


def test_text_returns_its_box_and_max_width_shrinks_the_size() -> None:
    doc = DocumentBuilder(doc_id=DOC_ID)
    page = doc.page()
    natural = text_width("一二三四五六七八九十", 5, "serif")
    assert natural == pytest.approx(50)
    box = page.text(100, 50, "一二三四五六七八九十", 5, align="right", max_width=25)
    assert box.size_mm == pytest.approx(2.5)
    assert box.w == pytest.approx(25)
    assert box.x == pytest.approx(75)
    assert box.baseline == 50
    assert box.y < 50 < box.y + box.h
    (run,) = OfdPackage.read(doc.build().write()).document().page_text(0)
    assert run.font_size == pytest.approx(2.5)
    assert run.x == pytest.approx(75)


def test_metadata_goes_to_docinfo(reread: OfdPackage) -> None:
    doc = reread.document()
    assert doc.doc_id == DOC_ID
    assert doc.creation_date == "2026-01-02"
    assert doc.custom_datas == {
        "licence-id": "1.2.156.3005.2.11100000000013127D.0001",
        "证照类型": "营业执照",
    }
    assert reread.ofd_xml.findtext("ofd:DocBody/ofd:DocInfo/ofd:Title", namespaces=NS) == "营业执照"


def _font_files(package: OfdPackage) -> dict[int, tuple[str, str]]:
    """Font ID → (FontName, package path of its FontFile)."""
    res = package.xml("Doc_0/PublicRes.xml")
    base = package.resolve("Doc_0", res.get("BaseLoc", ""))
    return {
        int(font.get("ID", "")): (
            font.get("FontName", ""),
            package.resolve(base, font.findtext("ofd:FontFile", namespaces=NS) or ""),
        )
        for font in res.iterfind("ofd:Fonts/ofd:Font", NS)
    }


def _used_text_by_font(package: OfdPackage) -> dict[int, str]:
    used: dict[int, str] = {}
    for page in package.document().pages:
        for obj in package.xml(page.path).iter(f"{{{OFD_NS}}}TextObject"):
            used[int(obj.get("Font", ""))] = used.get(int(obj.get("Font", "")), "") + "".join(obj.itertext())
    return used


def test_embedded_fonts_are_truetype_subsets_with_exactly_the_glyphs_used(reread: OfdPackage) -> None:
    fonts = _font_files(reread)
    used = _used_text_by_font(reread)
    assert set(fonts) == set(used)
    assert sorted(name for name, _ in fonts.values()) == ["Noto Sans SC", "Noto Serif SC"]
    for font_id, (_name, path) in fonts.items():
        font = TTFont(io.BytesIO(reread.files[path]))
        assert "glyf" in font and "CFF " not in font
        cmap = font.getBestCmap()
        assert set(cmap) == {ord(ch) for ch in used[font_id]}
        assert set(font.getGlyphOrder()) == {".notdef"} | {cmap[ord(ch)] for ch in used[font_id]}
        assert any(t.format == 4 and (t.platformID, t.platEncID) == (3, 1) for t in font["cmap"].tables)
        assert font["name"].getDebugName(0)  # copyright notice kept (OFL)


def test_freetype_draws_the_embedded_subsets(reread: OfdPackage) -> None:
    used = _used_text_by_font(reread)
    for font_id, (_, path) in _font_files(reread).items():
        font = ImageFont.truetype(io.BytesIO(reread.files[path]), 48)
        for ch in set(used[font_id]) - {" "}:
            image = Image.new("L", (64, 64), 0)
            ImageDraw.Draw(image).text((4, 4), ch, fill=255, font=font)
            assert image.getbbox() is not None, f"no ink for {ch!r}"


def test_deltax_matches_the_embedded_fonts_advances(reread: OfdPackage) -> None:
    fonts = {
        font_id: TTFont(io.BytesIO(reread.files[path])) for font_id, (_, path) in _font_files(reread).items()
    }
    page = reread.document().pages[0]
    for obj in reread.xml(page.path).iter(f"{{{OFD_NS}}}TextObject"):
        font = fonts[int(obj.get("Font", ""))]
        size = float(obj.get("Size", ""))
        code = obj.find("ofd:TextCode", NS)
        assert code is not None and code.text
        scale = size / font["head"].unitsPerEm
        cmap, hmtx = font.getBestCmap(), font["hmtx"]
        expected = [hmtx[cmap[ord(ch)]][0] * scale for ch in code.text[:-1]]
        tokens = (code.get("DeltaX") or "").split()
        deltas: list[float] = []
        while tokens:
            if tokens[0] == "g":
                deltas += [float(tokens[2])] * int(tokens[1])
                tokens = tokens[3:]
            else:
                deltas.append(float(tokens.pop(0)))
        assert deltas == pytest.approx(expected, abs=1e-4)


def test_ids_are_unique_and_max_unit_id_covers_them(reread: OfdPackage) -> None:
    doc = reread.document()
    ids: list[int] = [page.id for page in doc.pages]
    for name, content in reread.files.items():
        if name.endswith(".xml") and name != "OFD.xml" and name != doc.path:
            ids += [
                int(el.get("ID", "")) for el in etree.fromstring(content).iter() if el.get("ID") is not None
            ]
    assert len(ids) == len(set(ids))
    assert doc.max_unit_id == max(ids)


def test_every_reference_resolves(reread: OfdPackage) -> None:
    doc = reread.document()
    fonts = set(_font_files(reread))
    res = reread.xml("Doc_0/DocumentRes.xml")
    base = reread.resolve("Doc_0", res.get("BaseLoc", ""))
    media = {}
    for item in res.iterfind("ofd:MultiMedias/ofd:MultiMedia", NS):
        media[int(item.get("ID", ""))] = reread.load(
            base, item.findtext("ofd:MediaFile", namespaces=NS) or ""
        )[1]
    assert len(media) == 1  # the same PNG drawn twice is stored once
    assert all(Image.open(io.BytesIO(data)).format == "PNG" for data in media.values())
    for page in doc.pages:
        root = reread.xml(page.path)
        for obj in root.iter(f"{{{OFD_NS}}}TextObject"):
            assert int(obj.get("Font", "")) in fonts
        for obj in root.iter(f"{{{OFD_NS}}}ImageObject"):
            assert int(obj.get("ResourceID", "")) in media
            _x, _y, w, h = (float(v) for v in obj.get("Boundary", "").split())
            assert obj.get("CTM") == f"{w:g} 0 0 {h:g} 0 0"


def test_built_xml_follows_the_ofd_schema(reread: OfdPackage) -> None:
    schema = etree.XMLSchema(etree.fromstring(OFD_SCHEMA))
    xml_files = [name for name in reread.files if name.endswith(".xml")]
    assert len(xml_files) == 7  # OFD, Document, PublicRes, DocumentRes, three pages
    for name in xml_files:
        content = reread.files[name]
        assert content.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
        root = etree.fromstring(content)
        assert schema.validate(root), (name, schema.error_log.last_error)
        for element in root.iter():
            for attribute in ("Boundary",):
                if element.get(attribute) is not None:
                    assert BOX.match(element.get(attribute, "")), (name, element.get(attribute))
        for box in root.iter(f"{{{OFD_NS}}}PhysicalBox"):
            assert BOX.match(box.text or "")


def test_signatures_list_we_add_follows_the_schema(licence: OfdPackage) -> None:
    schema = etree.XMLSchema(etree.fromstring(OFD_SCHEMA))
    doc = licence.document()
    signed = licence.with_signature_entry(doc.next_signature_slot())
    signed = signed.with_signature_entry(signed.document().next_signature_slot(), type="Sign")
    for name in ("OFD.xml", "Doc_0/Signs/Signatures.xml"):
        assert schema.validate(etree.fromstring(signed.files[name])), (name, schema.error_log.last_error)
    entries = signed.document().signatures(check_files=False)
    assert [(e.id, e.type, e.base_loc) for e in entries] == [
        ("1", "Seal", "Sign_0/Signature.xml"),
        ("2", "Sign", "Sign_1/Signature.xml"),
    ]


def test_same_input_gives_the_same_bytes() -> None:
    first = build_licence().write()
    second = build_licence().write()
    assert first == second
    assert OfdPackage.read(first).write() == first


def test_derived_doc_id_is_stable_and_depends_on_content() -> None:
    one = build_licence(doc_id=None).document().doc_id
    again = build_licence(doc_id=None).document().doc_id
    assert one == again
    assert one is not None and re.fullmatch(r"[0-9a-f]{32}", one)
    other = DocumentBuilder()
    other.page().text(10, 10, "别的", 5)
    assert other.build().document().doc_id != one


def test_characters_beyond_the_bmp_are_embedded_with_a_format_12_cmap() -> None:
    wide = min(cp for cp in codepoints("serif") if cp > 0xFFFF)
    doc = DocumentBuilder(doc_id=DOC_ID)
    doc.page().text(10, 20, "张" + chr(wide), 5)
    package = OfdPackage.read(doc.build().write())
    ((_, path),) = _font_files(package).values()
    font = TTFont(io.BytesIO(package.files[path]))
    assert wide in font.getBestCmap()
    assert any(t.format == 12 for t in font["cmap"].tables)
    (run,) = package.document().page_text(0)
    assert run.text == "张" + chr(wide)


# --- refusals --------------------------------------------------------------------------------------------


def test_text_the_font_cannot_draw_is_refused_naming_the_characters() -> None:
    page = DocumentBuilder().page()
    with pytest.raises(InvalidInput) as raised:
        page.text(10, 10, "印章😀", 5)
    assert "U+1F600" in raised.value.detail


@pytest.mark.parametrize("text", ["", "第一行\n第二行", "tab\there", "\x00"])
def test_empty_or_multi_line_or_control_text_is_refused(text: str) -> None:
    with pytest.raises(InvalidInput):
        DocumentBuilder().page().text(10, 10, text, 5)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"face": "mono"},
        {"color": (0, 0, 256)},
        {"color": "red"},
        {"align": "justify"},
        {"max_width": 0},
    ],
)
def test_bad_text_options_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidInput):
        DocumentBuilder().page().text(10, 10, "文字", 5, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("size", [0, -1, float("nan"), float("inf"), True])
def test_bad_sizes_are_refused(size: float) -> None:
    with pytest.raises(InvalidInput):
        DocumentBuilder().page().text(10, 10, "文字", size)


def test_images_must_be_png() -> None:
    page = DocumentBuilder().page()
    jpeg = io.BytesIO()
    Image.new("RGB", (4, 4)).save(jpeg, "JPEG")
    for data in (b"not an image", jpeg.getvalue(), png()[:20]):
        with pytest.raises(InvalidInput):
            page.image(0, 0, 10, 10, data)


def test_paths_are_checked() -> None:
    page = DocumentBuilder().page()
    with pytest.raises(InvalidInput):
        page.path([("L", 1, 1)])  # must start with M
    with pytest.raises(InvalidInput):
        page.path([("M", 1)])
    with pytest.raises(InvalidInput):
        page.path([("M", 1, 1), ("Z",)])
    with pytest.raises(InvalidInput):
        page.path([("M", 1, 1), ("L", 2, 2)], stroke=None, fill=None)


def test_metadata_and_document_are_checked() -> None:
    with pytest.raises(InvalidInput):
        DocumentBuilder().build()  # no pages
    with pytest.raises(InvalidInput):
        DocumentBuilder().metadata({"": "x"})
    with pytest.raises(InvalidInput):
        DocumentBuilder().metadata({"name": "bad \x01 char"})
    with pytest.raises(InvalidInput):
        DocumentBuilder(page_size_mm=(0, 297))
